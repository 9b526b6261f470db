/* Sofia-SIP nta adapter: see sip.h. */
#include "sip/sip.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/nta_stateless.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_time.h>
#include <sofia-sip/tport_tag.h>
#include <sofia-sip/url.h>

#include "sip/seen.h"
#include "sip/sip_internal.h"
#include "translate/log.h"

/* Retransmission table: 2^20 entries (16 MiB) answer for 64×T1. */
#define SEEN_CAPACITY (1u << 20)
#define SEEN_TTL_MS 32000
/* Messages queued per transport connection before Sofia answers 503 itself. */
#define SEND_QUEUE 1024
/* T4 bounds how long a completed outgoing UDP transaction (~4.7 KB of RSS) is kept to absorb
 * retransmitted responses (Timer K, RFC 3261 default 5 s: 560 MB at 12k msg/s). A duplicate
 * response comes back within a round trip of a retransmitted request; one that arrives later
 * reaches the stateless request callback and is dropped there, so nothing is delivered twice
 * whatever the value. 100 ms keeps ~0.5 MB per 1,000 msg/s. */
#define SIP_T4_MS 100
/* In-flight outgoing requests from which the heap is trimmed once they have all completed. */
#define TRIM_AFTER 1024
/* Bytes of header section a request may carry (513 beyond). */
#define HEADER_MAX 65536
/* A stream connection on which nothing at all is received for this long is closed. */
#define IDLE_MS 300000
/* While requests go out over a stream transport, connections to the outbound proxy are
 * looked for (and their receive buffer bounded) at most this often. */
#define OUT_SCAN_MS 1000
/* SO_RCVBUF of the connections to the outbound proxy. The kernel doubles it, so a backlog
 * never exceeds 96 KiB: below Sofia's maximum message size (max_message_bytes + 2 ×
 * HEADER_MAX), which it counts a whole read against. Smaller is slow to drain: with 8 KiB a
 * full window reopened only ~16 KiB per 200 ms on loopback (4,000 answers took > 10 s). */
#define PROXY_RCVBUF (48 * 1024)
/* Connections to the outbound proxy that a batch of sends corks (more are left alone). */
#define PROXY_FDS 8
/* Requests held corked at most: the first of a batch waits for no more than this many. */
#define CORK_MAX 16

typedef struct out_req {
  struct out_req *next, **prev;
  sx_sip *s;
  void *ud;
  nta_outgoing_t *orq;
} out_req;

struct sx_sip {
  su_home_t home[1];
  nta_agent_t *agent;
  nta_leg_t *leg;
  url_t *proxy;
  sx_sip_cbs cbs;
  void *ud;
  int replied;     /* status of the reply made in the current callback */
  int deferred;    /* the current callback deferred its reply */
  struct sx_sip_txn *deferred_list;
  sx_seen *seen;
  uint32_t cseq;
  uint64_t tag_counter;
  out_req *out;
  size_t n_out;
  su_root_t *root;
  /* In-dialog requests (sip/presence.h): gets SUBSCRIBE and NOTIFY before anything else. */
  sx_sip_dialog_hook dlg_hook;
  void *dlg_ud;
  unsigned long events; /* requests and responses handed to the gateway */
  size_t peak_out;      /* most outgoing requests in flight since the heap was last trimmed */
  su_timer_t *trim_timer;
  /* The outbound proxy over a stream transport: the receive buffer of Sofia's connections to
   * it is bounded (see bound_proxy_connections). */
  int out_stream;
  unsigned short proxy_port;             /* network order */
  int proxy_family;                      /* 0: the proxy is a host name (port match only) */
  unsigned char proxy_addr[16];
  uint64_t out_scan_ms;                  /* last look for connections to the proxy */
  /* The connections to the proxy found by the last look, corked (TCP_CORK) while a batch of
   * sends is open (sx_sip_batch): one segment per batch instead of one per request. */
  int proxy_fd[PROXY_FDS];
  size_t n_proxy_fd;
  int batch;  /* a batch is open: the first send corks */
  int corked; /* the proxy_fd are corked */
  unsigned n_corked; /* requests sent since they were corked */
  /* The last Content-Type of an outgoing request, as given and parsed (in home). */
  char *ct_text;
  sip_content_type_t *ct;
};

static void sofia_logger(void *stream, char const *fmt, va_list ap) {
  char line[1024];
  size_t n;
  (void)stream;
  vsnprintf(line, sizeof line, fmt, ap);
  n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
  if (n) sx_debug("sofia", "%s", line);
}

static const char *addr_text(const su_sockaddr_t *su, char *buf, size_t n) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (su->su_family == AF_INET) {
    inet_ntop(AF_INET, &su->su_sin.sin_addr, host, sizeof host);
    port = ntohs(su->su_sin.sin_port);
  } else if (su->su_family == AF_INET6) {
    inet_ntop(AF_INET6, &su->su_sin6.sin6_addr, host, sizeof host);
    port = ntohs(su->su_sin6.sin6_port);
  }
  snprintf(buf, n, "%s:%u", host, port);
  return buf;
}

/* Sofia's stream transport reads everything queued on a connection at once and copies the
 * unparsed remainder once per message it extracts, so a large backlog (after a stall) costs
 * time and memory quadratic in its size. Bounding the kernel receive buffer bounds the
 * backlog Sofia can see in one read; the rest stays with the sender through TCP flow
 * control. Accepted connections inherit the listening socket's SO_RCVBUF, and Sofia does not
 * expose its sockets, so the listening sockets are found by what they are bound to. */
static void bound_stream_listeners(int rcvbuf) {
  int fd, val;
  socklen_t len;
  if (rcvbuf <= 0) return;
  for (fd = 0; fd < 1024; fd++) {
    len = sizeof val;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) != 0 || !val) continue;
    len = sizeof val;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &val, &len) != 0 || val != SOCK_STREAM) continue;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0)
      sx_warn("sip", "cannot bound the receive buffer of listening socket %d: %s", fd,
              strerror(errno));
    else
      sx_debug("sip", "listening socket %d: receive buffer %d bytes", fd, rcvbuf);
  }
}

/* A bound on the connections Sofia opens to the outbound proxy (PROXY_RCVBUF): they are not
 * accepted, so they inherit nothing from the listeners, and the answers to a burst of
 * requests (a proxy that stalled, then answers everything at once) would otherwise pile up
 * in an autotuned receive buffer (hundreds of KiB). Sofia reads such a backlog into one
 * message buffer, counts it against its maximum message size, and on "too large" stops
 * reading the connection for good while still sending on it: every request in flight then
 * waits for Timer F (408 after 32 s, its transaction and message held meanwhile) although
 * the proxy answered it. Sofia does not expose its sockets, so they are found by their peer:
 * the proxy's port, and its address when the URI gives one (a host name: the port only). */
static void bound_proxy_connections(sx_sip *s) {
  DIR *d;
  struct dirent *e;
  int val, want = PROXY_RCVBUF;
  socklen_t len;
  d = opendir("/proc/self/fd");
  if (!d) return;
  s->n_proxy_fd = 0;
  while ((e = readdir(d))) {
    char *end;
    long fd = strtol(e->d_name, &end, 10);
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    if (*end || end == e->d_name || fd < 0 || fd == dirfd(d)) continue;
    len = sizeof val;
    if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &val, &len) != 0 || val != SOCK_STREAM)
      continue;
    if (getpeername((int)fd, (struct sockaddr *)&peer, &plen) != 0) continue;
    if (peer.ss_family == AF_INET) {
      const struct sockaddr_in *a = (const struct sockaddr_in *)&peer;
      if (a->sin_port != s->proxy_port) continue;
      if (s->proxy_family == AF_INET && memcmp(&a->sin_addr, s->proxy_addr, 4) != 0) continue;
      if (s->proxy_family == AF_INET6) continue;
    } else if (peer.ss_family == AF_INET6) {
      const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&peer;
      if (a->sin6_port != s->proxy_port) continue;
      if (s->proxy_family == AF_INET6 && memcmp(&a->sin6_addr, s->proxy_addr, 16) != 0)
        continue;
      if (s->proxy_family == AF_INET) continue;
    } else {
      continue;
    }
    if (s->n_proxy_fd < PROXY_FDS) s->proxy_fd[s->n_proxy_fd++] = (int)fd;
    /* The kernel reports twice the value set: already bounded. */
    len = sizeof val;
    if (getsockopt((int)fd, SOL_SOCKET, SO_RCVBUF, &val, &len) == 0 && val <= 2 * want)
      continue;
    if (setsockopt((int)fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want) != 0)
      sx_warn("sip", "cannot bound the receive buffer of the connection to the proxy "
              "(fd %ld): %s", fd, strerror(errno));
    else
      sx_debug("sip", "connection to the proxy (fd %ld): receive buffer %d bytes", fd, want);
  }
  closedir(d);
}

/* The proxy's port and, when the URI names it by address, the address. */
static void proxy_peer(sx_sip *s) {
  const url_t *u = s->proxy;
  const char *host = u->url_host;
  char h[INET6_ADDRSTRLEN + 2], tbuf[16] = "";
  unsigned long port = u->url_port ? strtoul(u->url_port, NULL, 10) : 5060;
  isize_t t = url_param(u->url_params, "transport", tbuf, sizeof tbuf);
  if (t > 0 && (size_t)t <= sizeof tbuf)
    s->out_stream = !strcasecmp(tbuf, "tcp") || !strcasecmp(tbuf, "tls") ||
                    !strcasecmp(tbuf, "sctp");
  if (port == 0 || port > 65535) s->out_stream = 0;
  s->proxy_port = htons((unsigned short)port);
  if (!host) return;
  if (host[0] == '[') {
    size_t n = strlen(host);
    if (n < 3 || n - 2 >= sizeof h) return;
    memcpy(h, host + 1, n - 2);
    h[n - 2] = '\0';
    if (inet_pton(AF_INET6, h, s->proxy_addr) == 1) s->proxy_family = AF_INET6;
  } else if (inet_pton(AF_INET, host, s->proxy_addr) == 1) {
    s->proxy_family = AF_INET;
  }
}

/* A request being answered: the request message (owned until the reply consumes it) and its
 * key in the retransmission table. Lives on the stack during on_request, on the heap once
 * deferred. */
struct sx_sip_txn {
  struct sx_sip_txn *next, **prev; /* deferred list */
  msg_t *msg;
  uint64_t key;
  int heap;
};

/* A Request-URI host is a host name (letters, digits, '-', '.'), an IPv4 address or a
 * bracketed IPv6 reference; a port is 1..65535. */
static int uri_host_port_ok(const url_t *u) {
  const char *h = u->url_host, *p = u->url_port;
  if (!h || !*h) return 0;
  if (h[0] == '[') {
    size_t n = strlen(h);
    if (n < 4 || h[n - 1] != ']') return 0;
    for (size_t i = 1; i + 1 < n; i++)
      if (!strchr("0123456789abcdefABCDEF:.", h[i])) return 0;
  } else {
    for (; *h; h++)
      if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
            *h == '-' || *h == '.'))
        return 0;
  }
  if (p) {
    unsigned long v = 0;
    if (!*p) return 0;
    for (; *p; p++) {
      if (*p < '0' || *p > '9' || (v = v * 10 + (unsigned long)(*p - '0')) > 65535) return 0;
    }
    if (v == 0) return 0;
  }
  return 1;
}

/* The source of msg, in the form of sx_sip_request (family 0 when unknown). */
static void msg_source(msg_t *msg, int *family, uint8_t addr[16], su_sockaddr_t **out) {
  su_addrinfo_t *ai = msg_addrinfo(msg);
  *family = 0;
  if (out) *out = NULL;
  if (!ai || !ai->ai_addr) return;
  su_sockaddr_t *su = (su_sockaddr_t *)ai->ai_addr;
  *family = su->su_family;
  if (su->su_family == AF_INET) memcpy(addr, &su->su_sin.sin_addr, 4);
  else if (su->su_family == AF_INET6) memcpy(addr, &su->su_sin6.sin6_addr, 16);
  if (out) *out = su;
}

static int source_trusted(sx_sip *s, msg_t *msg) {
  int family;
  uint8_t addr[16] = {0};
  if (!s->cbs.trusted) return 1;
  msg_source(msg, &family, addr, NULL);
  return s->cbs.trusted(s->ud, family, addr);
}

static uint64_t now_ms(void) {
  su_time_t t = su_now();
  return (uint64_t)t.tv_sec * 1000 + t.tv_usec / 1000;
}

/* Requests are handled statelessly (see sip/seen.h): the agent gives every request to this
 * callback with its message, which the callback owns. */
static int agent_message(nta_agent_magic_t *magic, nta_agent_t *agent, msg_t *msg, sip_t *sip) {
  sx_sip *s = (sx_sip *)magic;
  su_home_t home[1] = {SU_HOME_INIT(home)};
  sx_sip_request rq;
  sx_sip_txn txn = {0};
  char src[80] = "?", cseq[16];
  const char *parts[5];
  int seen;

  s->events++;
  if (!sip || !sip->sip_request) { /* a stray response */
    msg_destroy(msg);
    return 0;
  }
  switch (sip->sip_request->rq_method) {
  case sip_method_ack:
  case sip_method_cancel:
    msg_destroy(msg);
    return 0;
  default:
    break;
  }
  /* RFC 3261 §8.2.2: the Request-URI first (416 for a scheme the gateway does not serve,
   * 400 for a host or port that is not one), then extensions (420: none is supported). */
  {
    const url_t *ru = sip->sip_request->rq_url;
    if (ru->url_type != url_sip && ru->url_type != url_sips) {
      nta_msg_treply(agent, msg, SIP_416_UNSUPPORTED_URI, TAG_END());
      return 0;
    }
    if (!uri_host_port_ok(ru)) {
      nta_msg_treply(agent, msg, 400, "Bad Request-URI", TAG_END());
      return 0;
    }
  }
  if (sip->sip_require) {
    nta_msg_treply(agent, msg, SIP_420_BAD_EXTENSION, SIPTAG_UNSUPPORTED(sip->sip_require),
                   TAG_END());
    return 0;
  }
  switch (sip->sip_request->rq_method) {
  case sip_method_options:
    nta_msg_treply(agent, msg, SIP_200_OK,
                   SIPTAG_ALLOW_STR("MESSAGE, OPTIONS, SUBSCRIBE, NOTIFY"),
                   SIPTAG_ACCEPT_STR("text/plain, message/cpim, application/im-iscomposing+xml"),
                   TAG_END());
    return 0;
  default:
    break;
  }
  /* A header section over HEADER_MAX: 513 (the body has its own limit and 413). Beyond
   * Sofia's own maximum (body limit + 2 × HEADER_MAX) Sofia answers 413 and closes. */
  {
    usize_t total = msg_size(msg), body = sip->sip_payload ? sip->sip_payload->pl_len : 0;
    if (total > body && total - body > HEADER_MAX) {
      nta_msg_treply(agent, msg, SIP_513_MESSAGE_TOO_LARGE, TAG_END());
      return 0;
    }
  }
  if (!sip->sip_from || !sip->sip_to || !sip->sip_call_id || !sip->sip_cseq || !sip->sip_via) {
    nta_msg_treply(agent, msg, 400, "Missing From, To, Call-ID, CSeq or Via", TAG_END());
    return 0;
  }

  /* Requests of a dialog (and retransmissions of the one that created it) go to it, when
   * their source is trusted. */
  if (s->dlg_hook &&
      (sip->sip_request->rq_method == sip_method_subscribe ||
       sip->sip_request->rq_method == sip_method_notify) &&
      source_trusted(s, msg) && s->dlg_hook(s->dlg_ud, msg, sip))
    return 0;

  /* A retransmission gets the answer the request got, or nothing while it is pending. */
  snprintf(cseq, sizeof cseq, "%u", (unsigned)sip->sip_cseq->cs_seq);
  parts[0] = sip->sip_via->v_branch;
  parts[1] = sip->sip_call_id->i_id;
  parts[2] = cseq;
  parts[3] = sip->sip_request->rq_method_name;
  parts[4] = sip->sip_from->a_tag;
  txn.key = sx_seen_key(parts, 5);
  seen = sx_seen_check(s->seen, txn.key, now_ms());
  if (seen == 0) {
    msg_destroy(msg);
    return 0;
  }
  if (seen > 0) {
    nta_msg_treply(agent, msg, seen, NULL, TAG_END());
    return 0;
  }
  /* The strings in rq point into msg: hold a reference until on_request returns, whatever
   * sx_sip_reply does with the transaction's own. */
  txn.msg = msg_ref_create(msg);

  memset(&rq, 0, sizeof rq);
  rq.method = sip->sip_request->rq_method_name;
  rq.request_uri = url_as_string(home, sip->sip_request->rq_url);
  rq.from_uri = url_as_string(home, sip->sip_from->a_url);
  rq.to_uri = url_as_string(home, sip->sip_to->a_url);
  rq.call_id = sip->sip_call_id->i_id;
  if (sip->sip_subject) rq.subject = sip->sip_subject->g_value;
  if (sip->sip_content_type) {
    rq.content_type = sip->sip_content_type->c_type;
    rq.charset = msg_params_find(sip->sip_content_type->c_params, "charset=");
  }
  if (sip->sip_content_language && sip->sip_content_language->k_items)
    rq.content_language = sip->sip_content_language->k_items[0];
  if (sip->sip_payload && sip->sip_payload->pl_len) {
    rq.body = sip->sip_payload->pl_data;
    rq.body_len = sip->sip_payload->pl_len;
  }
  {
    su_sockaddr_t *su;
    msg_source(msg, &rq.src_family, rq.src_addr, &su);
    if (su) addr_text(su, src, sizeof src);
  }
  rq.src_text = src;

  if (!rq.request_uri || !rq.from_uri || !rq.to_uri) {
    sx_sip_reply(s, &txn, 500, NULL, NULL);
  } else {
    s->replied = 0;
    s->deferred = 0;
    s->cbs.on_request(s->ud, &rq, &txn);
    if (!s->replied && !s->deferred) {
      sx_err("sip", "request %s Call-ID %s left unanswered; answering 500", rq.method,
             rq.call_id);
      sx_sip_reply(s, &txn, 500, NULL, NULL);
    }
  }
  su_home_deinit(home);
  msg_destroy(msg);
  return 0;
}

sx_sip_txn *sx_sip_defer(sx_sip *s, sx_sip_txn *txn) {
  sx_sip_txn *h = malloc(sizeof *h);
  if (!h) return NULL;
  *h = *txn;
  h->heap = 1;
  txn->msg = NULL;
  h->next = s->deferred_list;
  if (h->next) h->next->prev = &h->next;
  h->prev = &s->deferred_list;
  s->deferred_list = h;
  s->deferred = 1;
  return h;
}

int sx_sip_reply(sx_sip *s, sx_sip_txn *txn, int status, const char *phrase,
                 const sx_sip_reply_hdrs *h) {
  const sx_sip_reply_hdrs none = {0};
  int rc = -1;
  if (!h) h = &none;
  if (!phrase) phrase = sip_status_phrase(status);
  if (!phrase) phrase = "Unknown";
  if (txn->msg) {
    su_home_t home[1] = {SU_HOME_INIT(home)};
    sip_t const *rsip = sip_object(txn->msg);
    sip_to_t *to = NULL;
    if (h->to_tag && rsip && rsip->sip_to) {
      to = sip_to_dup(home, rsip->sip_to);
      if (to && sip_to_tag(home, to, h->to_tag) < 0) to = NULL;
    }
    rc = nta_msg_treply(s->agent, txn->msg, status, phrase, TAG_IF(to, SIPTAG_TO(to)),
                        TAG_IF(h->contact, SIPTAG_CONTACT_STR(h->contact)),
                        TAG_IF(h->expires, SIPTAG_EXPIRES_STR(h->expires)),
                        TAG_IF(h->min_expires, SIPTAG_MIN_EXPIRES_STR(h->min_expires)),
                        TAG_IF(h->warning, SIPTAG_WARNING_STR(h->warning)),
                        TAG_IF(h->retry_after, SIPTAG_RETRY_AFTER_STR(h->retry_after)),
                        TAG_IF(h->accept, SIPTAG_ACCEPT_STR(h->accept)),
                        TAG_IF(h->allow, SIPTAG_ALLOW_STR(h->allow)), TAG_END());
    txn->msg = NULL; /* nta_msg_treply took it */
    su_home_deinit(home);
  }
  if (status >= 200) sx_seen_answer(s->seen, txn->key, status, now_ms());
  if (txn->heap) {
    *txn->prev = txn->next;
    if (txn->next) txn->next->prev = txn->prev;
    free(txn);
  } else {
    s->replied = status;
  }
  return rc;
}

static void out_unlink(out_req *r) {
  if (r->prev) {
    *r->prev = r->next;
    if (r->next) r->next->prev = r->prev;
    r->prev = NULL;
    r->s->n_out--;
  }
}

static void on_trim(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg) {
  (void)magic;
  (void)t;
  (void)arg;
  malloc_trim(0);
}

/* After a burst (TRIM_AFTER or more requests in flight at once) has fully drained, the heap
 * the transactions used goes back to the system once nta has freed them too (T4 after their
 * completion over UDP): glibc keeps freed memory otherwise. */
static void trim_after_burst(sx_sip *s) {
  if (s->n_out == 0 && s->peak_out >= TRIM_AFTER) {
    s->peak_out = 0;
    if (s->trim_timer) su_timer_set_interval(s->trim_timer, on_trim, NULL, 2 * SIP_T4_MS);
  }
}

static int out_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq, sip_t const *sip) {
  out_req *r = (out_req *)magic;
  sx_sip *s = r->s;
  int status = sip && sip->sip_status ? sip->sip_status->st_status : nta_outgoing_status(orq);
  const char *phrase = sip && sip->sip_status ? sip->sip_status->st_phrase : NULL;
  const char *warning = sip && sip->sip_warning ? sip->sip_warning->w_text : NULL;

  s->events++;
  if (status < 200) return 0;
  if (!phrase) phrase = sip_status_phrase(status);
  out_unlink(r);
  nta_outgoing_destroy(orq);
  s->cbs.on_response(s->ud, r->ud, status, phrase ? phrase : "", warning);
  free(r);
  trim_after_burst(s);
  return 0;
}

/* TCP_CORK on the known connections to the proxy. A number found by an older look that is no
 * longer such a connection fails (not a socket, not TCP) or is uncorked again when the batch
 * closes: nothing is held past it. */
static void proxy_cork(sx_sip *s, int on) {
  for (size_t i = 0; i < s->n_proxy_fd; i++)
    (void)setsockopt(s->proxy_fd[i], IPPROTO_TCP, TCP_CORK, &on, sizeof on);
  s->corked = on;
}

void sx_sip_batch(sx_sip *s, int open) {
  if (!s) return;
  s->batch = open;
  if (!open && s->corked) proxy_cork(s, 0);
}

/* The Content-Type header of `value`, parsed once and kept while the same value comes back (one
 * or two values in practice: text/plain;charset=UTF-8, isComposing); a copy in `home`. */
static sip_content_type_t *content_type_for(sx_sip *s, su_home_t *home, const char *value) {
  if (!s->ct_text || strcmp(s->ct_text, value)) {
    sip_content_type_t *c = sip_content_type_make(s->home, value);
    char *t = c ? su_strdup(s->home, value) : NULL;
    if (!t) {
      su_free(s->home, c);
      return NULL;
    }
    su_free(s->home, s->ct);
    su_free(s->home, s->ct_text);
    s->ct = c;
    s->ct_text = t;
  }
  return sip_content_type_dup(home, s->ct);
}

/* Writes v in lowercase hex at p, at least `width` digits (zero-padded); returns the end. At
 * most 16 digits: the caller's buffer has room for them. */
static char *hex_put(char *p, uint64_t v, int width) {
  char d[16];
  int n = 0;
  do {
    d[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v && n < 16);
  while (n < width && n < 16) d[n++] = '0';
  while (n) *p++ = d[--n];
  return p;
}

/* Adds h to msg; h NULL (out of memory, or a value that does not parse) fails. */
static int add_header(msg_t *msg, sip_t *sip, void *h) {
  return h && msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)h) >= 0 ? 0 : -1;
}

/* The request is built as header objects in the message's own home: the addresses are parsed
 * as URIs, the rest made without parsing text (CSeq, payload) or copied from a header parsed
 * once (Content-Type); Max-Forwards is nta's default (70). */
static msg_t *build_message(sx_sip *s, const sx_sip_out *m) {
  const char *to = m->to ? m->to : m->request_uri;
  char tag[48], callid[64];
  msg_t *msg = nta_msg_create(s->agent, 0);
  sip_t *sip = sip_object(msg);
  su_home_t *home;
  sip_from_t *from;
  sip_to_t *to_h;
  int bad;

  if (!msg || !sip) {
    if (msg) msg_destroy(msg);
    return NULL;
  }
  home = msg_home(msg);
  /* tag "sx<counter><random>", Call-ID "<random><random>-<counter>@sipxmpp" (hex) */
  {
    char *p = tag;
    *p++ = 's';
    *p++ = 'x';
    p = hex_put(p, ++s->tag_counter, 0);
    p = hex_put(p, (uint32_t)random(), 8);
    *p = '\0';
    if (!m->call_id) {
      p = hex_put(callid, (uint32_t)random(), 8);
      p = hex_put(p, (uint32_t)random(), 8);
      *p++ = '-';
      p = hex_put(p, s->tag_counter, 0);
      memcpy(p, "@sipxmpp", sizeof "@sipxmpp");
    }
  }
  if (++s->cseq == 0) s->cseq = 1;
  from = sip_from_create(home, URL_STRING_MAKE(m->from));
  to_h = sip_to_create(home, URL_STRING_MAKE(to));
  /* An empty display name: the address goes out in angle brackets, as name-addr. */
  if (from) from->a_display = "";
  if (to_h) to_h->a_display = "";
  bad = add_header(msg, sip, sip_request_create(home, SIP_METHOD_MESSAGE,
                                                URL_STRING_MAKE(m->request_uri), NULL)) ||
        !from || sip_from_tag(home, from, tag) < 0 || add_header(msg, sip, from) ||
        add_header(msg, sip, to_h) ||
        add_header(msg, sip, sip_call_id_make(home, m->call_id ? m->call_id : callid)) ||
        add_header(msg, sip, sip_cseq_create(home, s->cseq, SIP_METHOD_MESSAGE)) ||
        (m->subject && add_header(msg, sip, sip_subject_make(home, m->subject))) ||
        (m->in_reply_to && add_header(msg, sip, sip_in_reply_to_make(home, m->in_reply_to))) ||
        (m->content_language &&
         add_header(msg, sip, sip_content_language_make(home, m->content_language))) ||
        (m->content_type && add_header(msg, sip, content_type_for(s, home, m->content_type))) ||
        (m->body && add_header(msg, sip, sip_payload_create(home, m->body, strlen(m->body)))) ||
        nta_msg_request_complete(msg, s->leg, SIP_METHOD_MESSAGE, NULL) < 0;
  if (bad) {
    msg_destroy(msg);
    return NULL;
  }
  return msg;
}

int sx_sip_send_message(sx_sip *s, const sx_sip_out *m, void *req_ud) {
  out_req *r;
  msg_t *msg;

  r = calloc(1, sizeof *r);
  if (!r) return -1;
  r->s = s;
  r->ud = req_ud;
  msg = build_message(s, m);
  if (!msg) {
    free(r);
    return -1;
  }
  if (s->batch && s->n_proxy_fd) {
    if (s->corked && s->n_corked >= CORK_MAX) proxy_cork(s, 0); /* pushes those held */
    if (!s->corked) {
      proxy_cork(s, 1);
      s->n_corked = 0;
    }
    s->n_corked++;
  }
  r->orq = nta_outgoing_mcreate(s->agent, out_response, (nta_outgoing_magic_t *)r,
                                (url_string_t *)s->proxy, msg, TAG_END());
  if (!r->orq) msg_destroy(msg);
  if (!r->orq) {
    free(r);
    return -1;
  }
  r->next = s->out;
  if (r->next) r->next->prev = &r->next;
  r->prev = &s->out;
  s->out = r;
  if (++s->n_out > s->peak_out) s->peak_out = s->n_out;
  if (s->out_stream) {
    uint64_t now = now_ms();
    if (now - s->out_scan_ms >= OUT_SCAN_MS) {
      s->out_scan_ms = now;
      bound_proxy_connections(s);
    }
  }
  return 0;
}

size_t sx_sip_in_flight(const sx_sip *s) { return s->n_out; }

nta_agent_t *sx_sip_agent(sx_sip *s) { return s->agent; }
nta_leg_t *sx_sip_default_leg(sx_sip *s) { return s->leg; }
su_root_t *sx_sip_root(sx_sip *s) { return s->root; }
const url_t *sx_sip_proxy(const sx_sip *s) { return s->proxy; }
sip_t const *sx_sip_txn_sip(const sx_sip_txn *txn) {
  return txn->msg ? sip_object(txn->msg) : NULL;
}
void sx_sip_set_dialog_hook(sx_sip *s, sx_sip_dialog_hook hook, void *ud) {
  s->dlg_hook = hook;
  s->dlg_ud = ud;
}
unsigned long sx_sip_events(const sx_sip *s) { return s->events; }

void sx_sip_get_stats(const sx_sip *s, sx_sip_stats *out) {
  usize_t bad_msg = 0, bad_req = 0, drop = 0;
  memset(out, 0, sizeof *out);
  if (!s || !s->agent) return;
  nta_agent_get_stats(s->agent, NTATAG_S_BAD_MESSAGE_REF(bad_msg),
                      NTATAG_S_BAD_REQUEST_REF(bad_req), NTATAG_S_DROP_REQUEST_REF(drop),
                      TAG_END());
  out->bad_messages = bad_msg;
  out->bad_requests = bad_req;
  out->dropped = drop;
}

sx_sip *sx_sip_new(su_root_t *root, const sx_sip_params *p, const sx_sip_cbs *cbs, void *ud,
                   char *err, size_t errlen) {
  sx_sip *s;
  size_t i;

  if (!p->n_listen) {
    snprintf(err, errlen, "sip.listen: no address to listen on");
    return NULL;
  }
  s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  su_home_init(s->home);
  s->root = root;
  unsigned timeout_ms = p->incomplete_timeout_ms ? p->incomplete_timeout_ms : 32000;
  s->cbs = *cbs;
  s->ud = ud;

  su_log_redirect(su_log_default, sofia_logger, NULL);
  su_log_set_level(su_log_default, p->debug ? 3 : 0);

  s->proxy = url_hdup(s->home, (url_t *)url_make(s->home, p->outbound_proxy));
  if (!s->proxy || s->proxy->url_type != url_sip) {
    snprintf(err, errlen, "sip.outbound_proxy: not a sip: URI: %s", p->outbound_proxy);
    goto fail;
  }
  /* Room for the headers on top of the largest body we accept: anything beyond is answered
   * 413 by nta itself, also on TCP. */
  s->seen = sx_seen_new(SEEN_CAPACITY, SEEN_TTL_MS);
  if (!s->seen) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  s->agent = nta_agent_create(root, URL_STRING_MAKE(p->listen[0]), agent_message,
                              (nta_agent_magic_t *)s, NTATAG_STATELESS(1),
                              NTATAG_MAXSIZE(p->max_message_bytes + 2 * HEADER_MAX),
                              NTATAG_UA(1),
                              /* Responses go back to where the request came from (RFC 3581 rport
                               * even when not asked): a forged Via cannot aim them at a third
                               * party. */
                              NTATAG_SERVER_RPORT(2), NTATAG_TIMEOUT_408(1),
                              NTATAG_SIP_T4(SIP_T4_MS),
                              TPTAG_QUEUESIZE(SEND_QUEUE),
                              /* An incomplete request with no progress for this long is
                               * given up and its connection closed (slow-loris bound). */
                              TPTAG_TIMEOUT(timeout_ms),
                              /* A connection that carries nothing at all goes too. */
                              TPTAG_IDLE(timeout_ms > IDLE_MS ? timeout_ms : IDLE_MS),
                              TAG_END());
  if (!s->agent) {
    snprintf(err, errlen,
             "sip.listen: cannot listen on %s (address in use, or not an address of this host)",
             p->listen[0]);
    goto fail;
  }
  for (i = 1; i < p->n_listen; i++) {
    if (nta_agent_add_tport(s->agent, URL_STRING_MAKE(p->listen[i]), TAG_END()) < 0) {
      snprintf(err, errlen,
               "sip.listen: cannot listen on %s (address in use, or not an address of this "
               "host)",
               p->listen[i]);
      goto fail;
    }
  }
  bound_stream_listeners(p->tcp_rcvbuf);
  proxy_peer(s);
  s->trim_timer = su_timer_create(su_root_task(root), 0);
  /* The default leg carries outgoing requests; incoming ones never reach it (stateless). */
  s->leg = nta_leg_tcreate(s->agent, NULL, NULL, NTATAG_NO_DIALOG(1), TAG_END());
  if (!s->leg) {
    snprintf(err, errlen, "sip: cannot create the default leg");
    goto fail;
  }
  return s;
fail:
  sx_sip_free(s);
  return NULL;
}

void sx_sip_free(sx_sip *s) {
  if (!s) return;
  sx_sip_batch(s, 0);
  while (s->out) {
    out_req *r = s->out;
    out_unlink(r);
    nta_outgoing_destroy(r->orq);
    s->cbs.on_response(s->ud, r->ud, 503, "Gateway shutting down", NULL);
    free(r);
  }
  while (s->deferred_list) sx_sip_reply(s, s->deferred_list, 503, "Gateway shutting down", NULL);
  if (s->trim_timer) su_timer_destroy(s->trim_timer);
  if (s->leg) nta_leg_destroy(s->leg);
  if (s->agent) nta_agent_destroy(s->agent);
  sx_seen_free(s->seen);
  su_home_deinit(s->home);
  free(s);
}
