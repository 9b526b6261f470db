/* Network probes of `sipxmppctl doctor`. The component handshake parses the server's stream
 * with expat and hashes with OpenSSL's SHA-1 (XEP-0114 §3); SRV records come from libresolv. */
#include "gateway/sipxmppctl_probe.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <resolv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf/netaddr.h"
#include "xmpp/edge_tls.h"

#define MAX_READ (64 * 1024) /* bytes read from a probed server, at most */

static void say(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *buf, size_t n, const char *fmt, ...) {
  va_list ap;
  if (!n) return;
  va_start(ap, fmt);
  int w = vsnprintf(buf, n, fmt, ap);
  va_end(ap);
  if (w >= 0 && (size_t)w >= n && n > 4) memcpy(buf + n - 4, "...", 4);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for `events` until the deadline: 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, long long deadline) {
  for (;;) {
    long long left = deadline - now_ms();
    if (left <= 0) return 0;
    struct pollfd p = {.fd = fd, .events = events};
    int r = poll(&p, 1, (int)left);
    if (r < 0 && errno == EINTR) continue;
    return r < 0 ? -1 : r > 0;
  }
}

int probe_tcp(const char *host, unsigned port, int timeout_ms, char *why, size_t n) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  char ps[8];
  snprintf(ps, sizeof ps, "%u", port);
  int gai = getaddrinfo(host, ps, &hints, &res);
  if (gai) {
    say(why, n, "cannot resolve %s: %s", host, gai_strerror(gai));
    return -1;
  }
  long long deadline = now_ms() + timeout_ms;
  int fd = -1, err = ETIMEDOUT;
  for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = errno;
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      err = errno;
      close(fd);
      fd = -1;
      continue;
    }
    int r = wait_fd(fd, POLLOUT, deadline);
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (r == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) break;
    err = r == 1 ? (soerr ? soerr : EIO) : ETIMEDOUT;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) say(why, n, "%s", strerror(err));
  return fd;
}

static int send_all(int fd, const char *s, size_t len, long long deadline) {
  size_t off = 0;
  while (off < len) {
    if (wait_fd(fd, POLLOUT, deadline) != 1) return -1;
    ssize_t w = send(fd, s + off, len - off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    off += (size_t)w;
  }
  return 0;
}

/* ---- XEP-0114 ---------------------------------------------------------------------------- */

#define NS_STREAMS "http://etherx.jabber.org/streams"
#define NS_ERRORS "urn:ietf:params:xml:ns:xmpp-streams"
#define NS_ACCEPT "jabber:component:accept"

typedef struct {
  int depth;
  char id[256];
  int have_id;
  int handshake_ok;  /* <handshake/> came back */
  int in_error;      /* inside <stream:error> */
  char error[64];    /* its condition */
  int closed;        /* </stream:stream> */
  int bad;           /* not a component stream */
} hs_state;

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts) {
  hs_state *s = ud;
  s->depth++;
  if (s->depth == 1) {
    if (strcmp(name, NS_STREAMS " stream")) s->bad = 1;
    for (int i = 0; atts[i]; i += 2) {
      if (!strcmp(atts[i], "id") && strlen(atts[i + 1]) < sizeof s->id) {
        strcpy(s->id, atts[i + 1]);
        s->have_id = 1;
      }
    }
  } else if (s->depth == 2) {
    if (!strcmp(name, NS_STREAMS " error")) s->in_error = 1;
  } else if (s->depth == 3 && s->in_error && !s->error[0]) {
    const char *sp = strchr(name, ' ');
    if (sp && !strncmp(name, NS_ERRORS, (size_t)(sp - name)) && strcmp(sp + 1, "text"))
      snprintf(s->error, sizeof s->error, "%s", sp + 1);
  }
}

static void XMLCALL on_end(void *ud, const XML_Char *name) {
  hs_state *s = ud;
  if (s->depth == 2 && !strcmp(name, NS_ACCEPT " handshake")) s->handshake_ok = 1;
  if (s->depth == 2 && s->in_error && !s->error[0]) snprintf(s->error, sizeof s->error, "undefined-condition");
  if (s->depth == 1) s->closed = 1;
  s->depth--;
}

static int sha1_hex(const char *a, const char *b, char out[41]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  if (!c) return -1;
  int ok = EVP_DigestInit_ex(c, EVP_sha1(), NULL) && EVP_DigestUpdate(c, a, strlen(a)) &&
           EVP_DigestUpdate(c, b, strlen(b)) && EVP_DigestFinal_ex(c, md, &len);
  EVP_MD_CTX_free(c);
  if (!ok || len != 20) return -1;
  for (unsigned i = 0; i < len; i++) sprintf(out + 2 * i, "%02x", md[i]);
  return 0;
}

/* ---- a connection, plain or TLS (the daemon's xmpp/edge_tls.c, so doctor verifies the
 * edge's certificate exactly as the daemon does) ------------------------------------------ */

typedef struct {
  int fd;
  sx_tls_ctx *ctx;
  sx_tls *tls;
  long long deadline;
  int werr;
  size_t total; /* bytes read, bounded by MAX_READ */
  char *left;   /* plaintext decrypted along with the end of the handshake */
  size_t left_len;
} conn;

static void conn_close(conn *c) {
  sx_tls_free(c->tls);
  sx_tls_ctx_free(c->ctx);
  free(c->left);
  if (c->fd >= 0) close(c->fd);
  memset(c, 0, sizeof *c);
  c->fd = -1;
}

static void tls_out(void *ud, const char *d, size_t len) {
  conn *c = ud;
  if (send_all(c->fd, d, len, c->deadline) != 0) c->werr = 1;
}

static int conn_send(conn *c, const char *s, size_t len) {
  if (!c->tls) return send_all(c->fd, s, len, c->deadline);
  return sx_tls_write(c->tls, s, len) != 0 || c->werr ? -1 : 0;
}

/* Plaintext into *out (malloc'd, *len bytes, maybe 0 while TLS records are incomplete).
 * 0; 1 when the peer closed; -1 on timeout, too much, or a TLS failure (err). */
static int conn_recv(conn *c, char **out, size_t *len, char *err, size_t errlen) {
  char buf[4096];
  *out = NULL;
  *len = 0;
  if (c->left) {
    *out = c->left;
    *len = c->left_len;
    c->left = NULL;
    return 0;
  }
  for (;;) {
    int w = wait_fd(c->fd, POLLIN, c->deadline);
    if (w != 1) {
      snprintf(err, errlen, "%s", w == 0 ? "timed out" : strerror(errno));
      return -1;
    }
    ssize_t r = recv(c->fd, buf, sizeof buf, 0);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r < 0) { /* a reset can discard an alert the server sent before closing */
      snprintf(err, errlen, "%s", strerror(errno));
      return -1;
    }
    if (r == 0) return 1;
    c->total += (size_t)r;
    if (c->total > MAX_READ) {
      snprintf(err, errlen, "more than %d bytes from the server", MAX_READ);
      return -1;
    }
    if (!c->tls) {
      *out = malloc((size_t)r);
      if (!*out) return -1;
      memcpy(*out, buf, (size_t)r);
      *len = (size_t)r;
      return 0;
    }
    int t = sx_tls_input(c->tls, buf, (size_t)r, out, len, err, errlen);
    if (t < 0) return -1;
    if (c->werr) {
      snprintf(err, errlen, "cannot write to the server");
      return -1;
    }
    return t == 1 ? 1 : 0;
  }
}

/* Connects, and with TLS completes the handshake (the certificate verified). 0; 1 when the
 * TLS handshake fails (why); -1 when the server cannot be reached or the files do not load. */
static int conn_open(conn *c, const char *host, unsigned port, const probe_tls_opts *o,
                     int timeout_ms, char *why, size_t n) {
  char err[512];
  memset(c, 0, sizeof *c);
  c->fd = -1;
  c->deadline = now_ms() + timeout_ms;
  if (o) {
    c->ctx = sx_tls_ctx_new(o->ca_file, o->cert_file, o->key_file, err, sizeof err);
    if (!c->ctx) {
      say(why, n, "%s", err);
      return -1;
    }
  }
  c->fd = probe_tcp(host, port, timeout_ms, err, sizeof err);
  if (c->fd < 0) {
    say(why, n, "%s", err);
    return -1;
  }
  if (!o) return 0;
  c->tls = sx_tls_new(c->ctx, o->server_name && *o->server_name ? o->server_name : host);
  if (!c->tls || sx_tls_start(c->tls, tls_out, c) != 0 || c->werr) {
    say(why, n, "cannot start TLS");
    return 1;
  }
  while (!sx_tls_ready(c->tls)) {
    char *p = NULL;
    size_t len = 0;
    err[0] = 0;
    int r = conn_recv(c, &p, &len, err, sizeof err);
    if (r == 0 && len) {
      free(c->left);
      c->left = p;
      c->left_len = len;
      p = NULL;
    }
    free(p);
    if (r == 1) {
      say(why, n, "the server closed the connection during the TLS handshake (not a TLS port?)");
      return 1;
    }
    if (r < 0) {
      say(why, n, "%s", err[0] ? err : "TLS handshake failed");
      return 1;
    }
  }
  return 0;
}

int probe_tls(const char *host, unsigned port, const probe_tls_opts *o, int timeout_ms,
              probe_tls_result *res, char *why, size_t n) {
  conn c;
  memset(res, 0, sizeof *res);
  int rc = conn_open(&c, host, port, o, timeout_ms, why, n);
  if (c.tls) {
    res->have_cert = sx_tls_peer_cert(c.tls, res->subject, sizeof res->subject, res->issuer,
                                      sizeof res->issuer, &res->not_after) == 0;
    res->verify_error = sx_tls_verify_result(c.tls);
    sx_tls_describe(c.tls, res->session, sizeof res->session);
    if (rc == 0) sx_tls_close(c.tls);
  }
  conn_close(&c);
  return rc;
}

/* Reads and parses until the stream header (or the handshake's answer) came; 0, or -1
 * (closed, timeout, too much, not XML). */
static int read_until(conn *c, XML_Parser p, hs_state *s, int want_handshake, char *err,
                      size_t errlen) {
  while (!(want_handshake ? (s->handshake_ok || s->error[0] || s->closed)
                          : (s->have_id || s->error[0] || s->closed || s->bad))) {
    char *buf = NULL;
    size_t len = 0;
    if (conn_recv(c, &buf, &len, err, errlen) != 0) {
      free(buf);
      return -1;
    }
    int ok = XML_Parse(p, buf ? buf : "", (int)len, 0) == XML_STATUS_OK;
    free(buf);
    if (!ok) return -1;
  }
  return 0;
}

int probe_component(const char *host, unsigned port, const char *domain, const char *secret,
                    const probe_tls_opts *tls, int timeout_ms, char *why, size_t n) {
  conn c;
  char err[512];
  int o = conn_open(&c, host, port, tls, timeout_ms, err, sizeof err);
  if (o != 0) {
    say(why, n, "%s%s", tls && o == 1 ? "TLS: " : "", err);
    conn_close(&c);
    return -1;
  }
  hs_state s;
  memset(&s, 0, sizeof s);
  XML_Parser p = XML_ParserCreateNS(NULL, ' ');
  int rc = -1;
  char *open = NULL;
  if (!p) {
    say(why, n, "out of memory");
    goto out;
  }
  XML_SetUserData(p, &s);
  XML_SetElementHandler(p, on_start, on_end);
  if (asprintf(&open, "<?xml version='1.0'?><stream:stream xmlns='" NS_ACCEPT
                      "' xmlns:stream='" NS_STREAMS "' to='%s'>",
               domain) < 0) {
    open = NULL;
    say(why, n, "out of memory");
    goto out;
  }
  err[0] = 0;
  if (conn_send(&c, open, strlen(open)) != 0 || read_until(&c, p, &s, 0, err, sizeof err) != 0) {
    if (c.tls && strstr(err, "TLS"))
      say(why, n, "%s (does the edge accept the client certificate?)", err);
    else if (c.tls && tls->cert_file) /* TLS 1.3: the server's verdict comes after the
                                         handshake, as an alert or a closed connection */
      say(why, n, "TLS: the edge ended the connection after the handshake (%s; does the "
                  "edge accept the client certificate?)",
          err[0] ? err : "closed");
    else
      say(why, n, "no XEP-0114 stream header from %s:%u (not a component port?)", host, port);
    goto out;
  }
  if (s.bad) {
    say(why, n, "%s:%u does not speak XEP-0114", host, port);
    goto out;
  }
  if (s.error[0] || !s.have_id) {
    say(why, n, "%s", s.error[0] ? s.error : "stream closed before the handshake");
    rc = 1;
    goto out;
  }
  char hex[41], hs[64];
  if (sha1_hex(s.id, secret, hex) != 0) {
    say(why, n, "SHA-1 unavailable");
    goto out;
  }
  snprintf(hs, sizeof hs, "<handshake>%s</handshake>", hex);
  if (conn_send(&c, hs, strlen(hs)) != 0 || read_until(&c, p, &s, 1, err, sizeof err) != 0) {
    if (s.error[0]) {
      say(why, n, "%s", s.error);
      rc = 1;
    } else {
      say(why, n, "no answer to the handshake within %d ms", timeout_ms);
    }
    goto out;
  }
  if (s.handshake_ok) {
    rc = 0;
    conn_send(&c, "</stream:stream>", 16);
    if (c.tls) sx_tls_close(c.tls);
  } else {
    say(why, n, "%s", s.error[0] ? s.error : "stream closed after the handshake");
    rc = 1;
  }
out:
  free(open);
  if (p) XML_ParserFree(p);
  conn_close(&c);
  return rc;
}

/* ---- SIP OPTIONS ------------------------------------------------------------------------- */

int probe_sip_options(const char *uri, int timeout_ms, int *status, char *why, size_t n) {
  *status = 0;
  int tcp = 0;
  const char *hp;
  if (!strncasecmp(uri, "sips:", 5)) {
    say(why, n, "%s is a sips: (TLS) URI, which doctor does not probe", uri);
    return -1;
  }
  if (strncasecmp(uri, "sip:", 4)) {
    say(why, n, "%s is not a sip: URI", uri);
    return -1;
  }
  hp = uri + 4;
  const char *at = strchr(hp, '@');
  const char *semi = strchr(hp, ';');
  if (at && (!semi || at < semi)) hp = at + 1;
  semi = strchr(hp, ';');
  size_t hl = semi ? (size_t)(semi - hp) : strlen(hp);
  if (semi && strcasestr(semi, ";transport=tcp")) tcp = 1;
  const char *h;
  size_t hlen;
  unsigned port;
  const char *bad = sx_parse_hostport(hp, hl, 0, 1, &h, &hlen, &port);
  if (bad) {
    say(why, n, "%s: %s", uri, bad);
    return -1;
  }
  if (!port) port = 5060;
  char host[256];
  if (hlen >= sizeof host) {
    say(why, n, "%s: host too long", uri);
    return -1;
  }
  memcpy(host, h, hlen);
  host[hlen] = 0;
  if (!strcmp(host, "*") || !strcmp(host, "0.0.0.0")) strcpy(host, "127.0.0.1");
  if (!strcmp(host, "::")) strcpy(host, "::1");

  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM},
                  *res = NULL;
  char ps[8];
  snprintf(ps, sizeof ps, "%u", port);
  int gai = getaddrinfo(host, ps, &hints, &res);
  if (gai) {
    say(why, n, "cannot resolve %s: %s", host, gai_strerror(gai));
    return -1;
  }
  int fd;
  char err[256];
  if (tcp) {
    freeaddrinfo(res);
    res = NULL;
    fd = probe_tcp(host, port, timeout_ms, err, sizeof err);
    if (fd < 0) {
      say(why, n, "TCP %s:%u: %s", host, port, err);
      return -1;
    }
  } else {
    fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
      say(why, n, "UDP %s:%u: %s", host, port, strerror(errno));
      if (fd >= 0) close(fd);
      freeaddrinfo(res);
      return -1;
    }
    freeaddrinfo(res);
  }
  struct sockaddr_storage ls;
  socklen_t ll = sizeof ls;
  char lhost[INET6_ADDRSTRLEN] = "127.0.0.1";
  unsigned lport = 0;
  if (getsockname(fd, (struct sockaddr *)&ls, &ll) == 0) {
    if (ls.ss_family == AF_INET) {
      inet_ntop(AF_INET, &((struct sockaddr_in *)&ls)->sin_addr, lhost, sizeof lhost);
      lport = ntohs(((struct sockaddr_in *)&ls)->sin_port);
    } else if (ls.ss_family == AF_INET6) {
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ls)->sin6_addr, lhost + 1, sizeof lhost - 2);
      lhost[0] = '[';
      strcat(lhost, "]");
      lport = ntohs(((struct sockaddr_in6 *)&ls)->sin6_port);
    }
  }
  unsigned long r1 = (unsigned long)random(), r2 = (unsigned long)random();
  char req[1024];
  int len = snprintf(req, sizeof req,
                     "OPTIONS sip:%s%s%s:%u SIP/2.0\r\n"
                     "Via: SIP/2.0/%s %s:%u;branch=z9hG4bKdoctor%lx;rport\r\n"
                     "Max-Forwards: 70\r\n"
                     "From: <sip:doctor@%s>;tag=%lx\r\n"
                     "To: <sip:%s%s%s:%u>\r\n"
                     "Call-ID: doctor-%lx-%lx@%s\r\n"
                     "CSeq: 1 OPTIONS\r\n"
                     "Accept: application/sdp\r\n"
                     "Content-Length: 0\r\n\r\n",
                     strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port,
                     tcp ? "TCP" : "UDP", lhost, lport, r1, lhost, r2,
                     strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port, r1,
                     r2, lhost);
  long long deadline = now_ms() + timeout_ms;
  long long next_send = 0;
  int interval = 500, rc = -1;
  char buf[4096];
  size_t have = 0, total = 0;
  if (tcp && send_all(fd, req, (size_t)len, deadline) != 0) {
    say(why, n, "TCP %s:%u: cannot send", host, port);
    close(fd);
    return -1;
  }
  for (;;) {
    if (!tcp && now_ms() >= next_send) {
      send(fd, req, (size_t)len, MSG_NOSIGNAL); /* UDP: retransmitted until answered */
      next_send = now_ms() + interval;
      interval *= 2;
    }
    long long until = tcp ? deadline : (next_send < deadline ? next_send : deadline);
    int w = wait_fd(fd, POLLIN, until);
    if (w < 0) break;
    if (w == 0) {
      if (now_ms() >= deadline) break;
      continue;
    }
    ssize_t r = recv(fd, buf + have, sizeof buf - 1 - have, 0);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r <= 0) {
      if (!tcp && r < 0 && errno == ECONNREFUSED) {
        say(why, n, "UDP %s:%u: nothing listens (ICMP port unreachable)", host, port);
        close(fd);
        return -1;
      }
      break;
    }
    total += (size_t)r;
    have = tcp ? have + (size_t)r : (size_t)r;
    buf[have] = 0;
    int code;
    if (sscanf(buf, "SIP/2.0 %3d", &code) == 1 && code >= 200) {
      *status = code;
      rc = 0;
      break;
    }
    if (tcp && (have >= sizeof buf - 1 || total > MAX_READ)) break;
    if (tcp && strstr(buf, "\r\n\r\n")) have = 0; /* a provisional response: the next one */
  }
  close(fd);
  if (rc) say(why, n, "no answer to OPTIONS from %s:%u over %s within %d ms", host, port,
              tcp ? "TCP" : "UDP", timeout_ms);
  return rc;
}

/* ---- DNS SRV ----------------------------------------------------------------------------- */

int probe_srv(const char *domain, const char *server, char *out, size_t n) {
  struct __res_state rs;
  memset(&rs, 0, sizeof rs);
  if (res_ninit(&rs) != 0) {
    say(out, n, "cannot initialise the resolver");
    return -1;
  }
  rs.retrans = 2;
  rs.retry = 1;
  if (server) {
    char addr[64];
    unsigned port = 53;
    const char *colon = strchr(server, ':');
    size_t al = colon ? (size_t)(colon - server) : strlen(server);
    struct in_addr ia;
    if (al >= sizeof addr || (colon && sscanf(colon + 1, "%u", &port) != 1) || port > 65535) {
      say(out, n, "bad DNS server '%s' (ADDR or ADDR:PORT)", server);
      res_nclose(&rs);
      return -1;
    }
    memcpy(addr, server, al);
    addr[al] = 0;
    if (inet_pton(AF_INET, addr, &ia) != 1) {
      say(out, n, "bad DNS server '%s' (an IPv4 address)", server);
      res_nclose(&rs);
      return -1;
    }
    rs.nscount = 1;
    rs.nsaddr_list[0].sin_family = AF_INET;
    rs.nsaddr_list[0].sin_addr = ia;
    rs.nsaddr_list[0].sin_port = htons((uint16_t)port);
  }
  char name[300];
  snprintf(name, sizeof name, "_xmpp-server._tcp.%s", domain);
  unsigned char ans[4096];
  int len = res_nquery(&rs, name, ns_c_in, ns_t_srv, ans, sizeof ans);
  int herr = rs.res_h_errno;
  if (len < 0 && (herr == HOST_NOT_FOUND || herr == NO_DATA)) {
    /* Is the domain itself in DNS? NODATA for its SOA still means the name exists. */
    unsigned char soa[1024];
    int sl = res_nquery(&rs, domain, ns_c_in, ns_t_soa, soa, sizeof soa);
    int serr = rs.res_h_errno;
    res_nclose(&rs);
    if (sl < 0 && serr == HOST_NOT_FOUND) {
      say(out, n, "%s is not in DNS", domain);
      return 2;
    }
    say(out, n, "%s has no SRV record", name);
    return 1;
  }
  res_nclose(&rs);
  if (len < 0) {
    say(out, n, "DNS not reachable for %s (%s)", name, hstrerror(herr));
    return -1;
  }
  /* res_nquery returns the full answer's length even when it did not fit the buffer. */
  if (len > (int)sizeof ans) len = (int)sizeof ans;
  ns_msg msg;
  if (ns_initparse(ans, len, &msg) != 0) {
    say(out, n, "DNS answer for %s does not parse", name);
    return -1;
  }
  size_t pos = 0;
  out[0] = 0;
  int found = 0;
  for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_srv) continue;
    const unsigned char *rd = ns_rr_rdata(rr);
    if (ns_rr_rdlen(rr) < 7) continue;
    unsigned prio = ns_get16(rd), weight = ns_get16(rd + 2), port = ns_get16(rd + 4);
    char target[NS_MAXDNAME];
    if (dn_expand(ans, ans + len, rd + 6, target, sizeof target) < 0) continue;
    int w = snprintf(out + pos, pos < n ? n - pos : 0, "%s%s:%u (priority %u, weight %u)",
                     found ? ", " : "", target, port, prio, weight);
    if (w > 0) pos += (size_t)w;
    found++;
  }
  if (pos >= n && n > 4) memcpy(out + n - 4, "...", 4);
  if (!found) {
    say(out, n, "%s has no SRV record", name);
    return 1;
  }
  return 0;
}
