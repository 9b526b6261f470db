/* The edge link (xmpp/edge.h): one XEP-0114 component stream per served domain on the libuv
 * loop. libuv owns the socket (TCP connect, reads, writes); OpenSSL (xmpp/edge_tls.c, memory
 * BIOs) encrypts when tls is on; expat (xmpp/edge_xml.c) parses with our handlers and
 * limits; xmpp/edge_inbound.c handles the stanzas, xmpp/edge_delivery.c the output and the
 * delivery barrier.
 *
 * Each connection attempt is an edge_conn with its own uv_tcp_t; when the link lets go of
 * it (down, stream error, stop) it is shut down and closed in the background and freed by
 * its last close callback, while a new attempt may already run. */
#include "xmpp/edge.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "translate/log.h"
#include "translate/text.h"
#include "xmpp/edge_internal.h"

#define TICK_MS 250
#define CONNECT_LIMIT_MS 5000  /* TCP connect */
#define ATTEMPT_LIMIT_MS 15000 /* TCP, TLS and component handshake together */
#define STOP_WAIT_MS 2000      /* after our </stream:stream>, for the server's */
#define LINGER_MS 2000         /* a closing connection's shutdown, then it is closed */
#define FAST_RETRY_WINDOW_MS 10000
#define FAST_RETRY_CAP_MS 1000
#define MAX_WRITE_QUEUE (32u << 20) /* bytes the server has not read: it is not reading */

typedef enum {
  DOWN_ATTEMPT, /* the attempt failed before the handshake was accepted */
  DOWN_SESSION, /* an up session ended (closed, dead, the server's stream error) */
  DOWN_HOSTILE, /* we ended the session with a stream error */
  DOWN_FATAL,   /* conflict / not-authorized */
} down_kind;

/* ---- helpers ---------------------------------------------------------------------------- */

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static uint32_t rnd(sx_edge *e) {
  /* xorshift64*: jitter only, no security use */
  uint64_t x = e->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  e->rng = x;
  return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

static unsigned long long unix_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (unsigned long long)tv.tv_sec * 1000ULL + (unsigned long long)tv.tv_usec / 1000ULL;
}

static void set_error(sx_edge *e, const char *why) {
  snprintf(e->stats.last_error, sizeof e->stats.last_error, "%s", why);
}

static void on_handle_closed(uv_handle_t *h);
static void schedule_retry(sx_edge *e, unsigned delay);
static void link_down(sx_edge *e, down_kind kind, const char *why);

/* ---- connections: socket, TLS, shutdown ------------------------------------------------- */

void edge_destroy(sx_edge *e);

static void conn_handle_closed(uv_handle_t *h) {
  edge_conn *c = h->data;
  sx_edge *e = c->e;
  /* The edge counts its connections' handles too: sx_edge_is_closed / sx_edge_free wait. */
  e->handles_open--;
  if (--c->open_handles == 0) {
    for (edge_conn **pp = &e->old; *pp; pp = &(*pp)->next_old)
      if (*pp == c) {
        *pp = c->next_old;
        break;
      }
    sx_tls_free(c->tls);
    free(c);
  }
  if (e->free_pending && e->handles_open == 0) edge_destroy(e);
}

static void conn_force_close(edge_conn *c) {
  if (c->tcp_inited && !uv_is_closing((uv_handle_t *)&c->tcp))
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
  if (!uv_is_closing((uv_handle_t *)&c->linger))
    uv_close((uv_handle_t *)&c->linger, conn_handle_closed);
}

static void on_linger(uv_timer_t *t) { conn_force_close(t->data); }

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  conn_force_close(req->data);
}

/* Lets go of the connection: the link no longer reads from it; what was written still
 * leaves (shutdown waits for it, LINGER_MS at most), then the socket is closed. */
static void conn_release(sx_edge *e, edge_conn *c) {
  if (!c || c->closing) return;
  c->closing = 1;
  if (e->conn == c) e->conn = NULL;
  c->next_old = e->old;
  e->old = c;
  if (c->resolving) { /* on_resolved closes it */
    uv_cancel((uv_req_t *)&c->gai);
    return;
  }
  if (!c->tcp_inited) {
    conn_force_close(c);
    return;
  }
  uv_read_stop((uv_stream_t *)&c->tcp);
  uv_timer_start(&c->linger, on_linger, LINGER_MS, 0);
  c->sreq.data = c;
  if (e->free_pending || e->phase == HS_TCP ||
      uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
    conn_force_close(c);
}

static void on_written(uv_write_t *req, int status) {
  edge_conn *c = req->data;
  free(req);
  if (status < 0 && status != UV_ECANCELED && c->e && c->e->conn == c && !c->closing) {
    char why[128];
    snprintf(why, sizeof why, "write failed: %s", uv_strerror(status));
    link_down(c->e, c->e->state == LS_UP ? DOWN_SESSION : DOWN_ATTEMPT, why);
  }
}

/* Ciphertext (or plaintext without TLS) to the socket. */
static void raw_write(void *ud, const char *data, size_t len) {
  edge_conn *c = ud;
  uv_write_t *req;
  uv_buf_t b;
  if (!c->tcp_inited || c->closing || !len) return;
  req = malloc(sizeof *req + len);
  if (!req) {
    if (c->e) sx_err("edge", "%s out of memory writing", c->e->domain);
    return;
  }
  memcpy(req + 1, data, len);
  req->data = c;
  b = uv_buf_init((char *)(req + 1), (unsigned)len);
  if (uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) free(req);
}

void edge_conn_write(sx_edge *e, const char *data, size_t len) {
  edge_conn *c = e->conn;
  if (!c || c->closing) return;
  if (c->tls) {
    if (sx_tls_write(c->tls, data, len) != 0)
      sx_err("edge", "%s TLS write failed", e->domain);
  } else {
    raw_write(c, data, len);
  }
}

static void send_ping(sx_edge *e) {
  sx_buf b = {0};
  e->ping_seq++;
  sx_buf_printf(&b, "<iq type='get' id='" KA_PING_PREFIX "%lu'", e->ping_seq);
  edge_put_attr(&b, "from", e->domain);
  edge_put_attr(&b, "to", e->domain);
  sx_buf_puts(&b, "><ping xmlns='" NS_PING "'/></iq>");
  edge_send_buf(e, &b);
  e->last_ping = now_ms(e);
}

/* ---- link state ------------------------------------------------------------------------- */

static void finish_stop(sx_edge *e) {
  e->state = LS_STOPPED;
  if (e->timers_closing) return;
  e->timers_closing = 1;
  uv_timer_stop(&e->tick);
  uv_timer_stop(&e->retry);
  uv_idle_stop(&e->flush);
  edge_fail_tracked(e);
  uv_close((uv_handle_t *)&e->tick, on_handle_closed);
  uv_close((uv_handle_t *)&e->retry, on_handle_closed);
  uv_close((uv_handle_t *)&e->flush, on_handle_closed);
}

static unsigned jitter(sx_edge *e, unsigned d) {
  unsigned half = d / 2;
  return half + (half ? rnd(e) % (half + 1) : 0); /* equal jitter: [d/2, d] */
}

static void next_backoff(sx_edge *e) {
  unsigned cap = e->backoff_max_ms;
  if (now_ms(e) < e->fast_until) {
    cap = FAST_RETRY_CAP_MS > e->backoff_min_ms ? FAST_RETRY_CAP_MS : e->backoff_min_ms;
    if (cap > e->backoff_max_ms) cap = e->backoff_max_ms;
  }
  e->backoff_ms = e->backoff_ms >= cap / 2 ? cap : e->backoff_ms * 2;
}

/* The current connection is over: release it, fail what is in flight, tell the gateway and
 * schedule the next attempt by the kind of ending. */
static void link_down(sx_edge *e, down_kind kind, const char *why) {
  int was_up = e->state == LS_UP;
  uint64_t now = now_ms(e);
  unsigned delay;

  if (e->conn) {
    /* A session we end ourselves closes its stream first (the server's stream is over
     * when it ended it, or sent </stream:stream>, or the socket broke). */
    if (e->phase != HS_TCP && !e->closed_stream && kind == DOWN_HOSTILE) {
      edge_conn_write(e, "</stream:stream>", 16);
      e->closed_stream = 1;
    }
    if (e->conn->tls) sx_tls_close(e->conn->tls);
    conn_release(e, e->conn);
  }
  if (e->in_feed) { /* expat is running: edge_input frees the parser when it returns */
    if (e->xs) e->xs_done = e->xs;
  } else {
    sx_xstream_free(e->xs);
  }
  e->xs = NULL;
  e->state = LS_IDLE;
  e->phase = HS_TCP;
  e->out.len = 0;
  e->stats.tls_up = 0;
  e->stats.tls_session[0] = '\0';
  e->stats.since_unix_ms = was_up ? unix_ms() : e->stats.since_unix_ms;
  set_error(e, why);
  if (was_up) {
    e->stats.disconnects++;
    edge_fail_tracked(e);
    if (e->cbs.on_state) e->cbs.on_state(e->ud, e, 0);
  }
  if (e->stopping) {
    sx_info("edge", "%s down (%s); stopped", e->domain, why);
    finish_stop(e);
    return;
  }
  switch (kind) {
  case DOWN_FATAL:
    delay = e->backoff_max_ms;
    sx_err("edge", "%s %s (%s); the server refuses this component, retry in %u ms", e->domain,
           was_up ? "down" : "rejected", why, delay);
    break;
  case DOWN_SESSION:
    /* The server accepted us a moment ago: it is worth trying again at once. */
    e->backoff_ms = e->backoff_min_ms;
    e->fast_until = now + FAST_RETRY_WINDOW_MS;
    delay = jitter(e, e->backoff_min_ms);
    next_backoff(e);
    sx_warn("edge", "%s down (%s); reconnecting in %u ms", e->domain, why, delay);
    break;
  case DOWN_HOSTILE:
  case DOWN_ATTEMPT:
  default:
    delay = jitter(e, e->backoff_ms);
    next_backoff(e);
    if (was_up)
      sx_warn("edge", "%s down (%s); reconnecting in %u ms", e->domain, why, delay);
    else
      sx_warn("edge", "%s connection to %s:%u failed (%s); retry in %u ms", e->domain, e->host,
              e->port, why, delay);
    break;
  }
  schedule_retry(e, delay);
}

/* We end the stream: <stream:error/>, </stream:stream>, close, reconnect. */
static void stream_error(sx_edge *e, const char *cond, const char *detail) {
  char why[256];
  sx_buf b = {0};
  e->stats.stream_errors_sent++;
  sx_warn("edge", "%s stream error %s sent: %s", e->domain, cond, detail);
  sx_buf_printf(&b, "<stream:error><%s xmlns='" SX_NS_STREAM_ERRORS "'/></stream:error>", cond);
  if (!b.oom) edge_conn_write(e, b.data, b.len);
  sx_buf_free(&b);
  snprintf(why, sizeof why, "stream error %s sent: %s", cond, detail);
  link_down(e, DOWN_HOSTILE, why);
}

/* ---- stream and handshake --------------------------------------------------------------- */

static void send_stream_header(sx_edge *e) {
  sx_buf b = {0};
  sx_buf_puts(&b, "<?xml version='1.0'?><stream:stream xmlns='" SX_NS_COMPONENT
                  "' xmlns:stream='" SX_NS_STREAMS "'");
  edge_put_attr(&b, "to", e->domain);
  sx_buf_puts(&b, ">");
  if (!b.oom) edge_conn_write(e, b.data, b.len);
  sx_buf_free(&b);
  e->phase = HS_HEADER;
}

static void on_x_header(void *ud, const char *id, const char *from) {
  sx_edge *e = ud;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  sx_buf in = {0}, out = {0};
  (void)from;

  if (e->phase != HS_HEADER) return;
  if (!id || !*id) {
    if (e->conn) link_down(e, DOWN_ATTEMPT, "the server's stream header has no id");
    return;
  }
  /* XEP-0114: hex SHA-1 of the stream id followed by the secret. */
  sx_buf_puts(&in, id);
  sx_buf_puts(&in, e->secret);
  if (in.oom || EVP_Digest(in.data, in.len, md, &mdlen, EVP_sha1(), NULL) != 1) {
    explicit_bzero(in.data, in.len);
    sx_buf_free(&in);
    link_down(e, DOWN_ATTEMPT, "cannot compute the handshake");
    return;
  }
  explicit_bzero(in.data, in.len);
  sx_buf_free(&in);
  sx_buf_puts(&out, "<handshake>");
  for (unsigned i = 0; i < mdlen; i++) sx_buf_printf(&out, "%02x", md[i]);
  sx_buf_puts(&out, "</handshake>");
  if (!out.oom) edge_conn_write(e, out.data, out.len);
  sx_buf_free(&out);
  e->phase = HS_HANDSHAKE;
}

static void link_up(sx_edge *e) {
  uint64_t now = now_ms(e);
  e->phase = HS_DONE;
  e->state = LS_UP;
  e->up_since = e->last_read = e->last_write = e->last_ws = e->last_ping = now;
  e->stats.connects++;
  e->stats.since_unix_ms = unix_ms();
  e->stats.tls_up = e->conn && e->conn->tls && sx_tls_ready(e->conn->tls);
  if (e->stats.tls_up)
    sx_tls_describe(e->conn->tls, e->stats.tls_session, sizeof e->stats.tls_session);
  else
    e->stats.tls_session[0] = '\0';
  sx_info("edge", "%s up: component accepted by %s:%u (%s%s)", e->domain, e->host, e->port,
          e->stats.tls_up ? "verified " : "plaintext", e->stats.tls_session);
  if (e->cbs.on_state) e->cbs.on_state(e->ud, e, 1);
}

static void on_x_stanza(void *ud, const sx_xel *st) {
  sx_edge *e = ud;
  const char *name = sx_xel_name(st), *ns = sx_xel_ns(st);

  if (!e->xs) return; /* the connection ended earlier in this read */
  if (!strcmp(ns, SX_NS_STREAMS) && !strcmp(name, "error")) {
    const char *cond = "undefined-condition", *text = NULL;
    char why[256];
    for (sx_xel *c = sx_xel_first(st); c; c = sx_xel_next(c)) {
      if (strcmp(sx_xel_ns(c), SX_NS_STREAM_ERRORS) != 0) continue;
      if (!strcmp(sx_xel_name(c), "text")) text = sx_xel_text(c);
      else cond = sx_xel_name(c);
    }
    e->stats.stream_errors_received++;
    snprintf(why, sizeof why, "stream error %s%s%s", cond, text ? ": " : "", text ? text : "");
    /* The server's stream is over: close ours too. */
    edge_conn_write(e, "</stream:stream>", 16);
    e->closed_stream = 1;
    link_down(e,
              (!strcmp(cond, "conflict") || !strcmp(cond, "not-authorized")) ? DOWN_FATAL
              : e->state == LS_UP                                           ? DOWN_SESSION
                                                                            : DOWN_ATTEMPT,
              why);
    return;
  }
  if (e->phase == HS_HANDSHAKE) {
    if (!strcmp(name, "handshake") && !strcmp(ns, SX_NS_COMPONENT)) link_up(e);
    else stream_error(e, "not-authorized", "a stanza before the handshake was accepted");
    return;
  }
  if (e->state != LS_UP) return;
  e->last_read = now_ms(e);
  edge_inbound_stanza(e, st);
}

static void on_x_end(void *ud) {
  sx_edge *e = ud;
  if (!e->conn || !e->xs) return;
  if (!e->closed_stream) {
    edge_conn_write(e, "</stream:stream>", 16);
    e->closed_stream = 1;
  }
  link_down(e, e->state == LS_UP ? DOWN_SESSION : DOWN_ATTEMPT, "the server closed the stream");
}

static int new_parser(sx_edge *e) {
  sx_xstream_cbs xc = {.on_header = on_x_header, .on_stanza = on_x_stanza, .on_end = on_x_end};
  sx_xstream_free(e->xs);
  e->xs = sx_xstream_new(e->max_stanza_bytes, &xc, e);
  return e->xs ? 0 : -1;
}

/* Feeds data (NULL: what the parser held back) and handles a stream error. */
static void feed(sx_edge *e, const char *data, size_t len) {
  sx_xstream *xs = e->xs;
  int rc;
  if (!xs) return;
  e->in_feed = 1;
  rc = data ? sx_xstream_feed(xs, data, len) : sx_xstream_flush(xs);
  e->in_feed = 0;
  if (e->xs_done) { /* a handler ended the connection: the rest of the bytes are moot */
    sx_xstream_free(e->xs_done);
    e->xs_done = NULL;
    return;
  }
  if (rc != 0) stream_error(e, sx_xstream_error(xs), sx_xstream_error_detail(xs));
}

void edge_input(sx_edge *e, const char *data, size_t len) {
  if (!len) return;
  e->last_read = now_ms(e);
  feed(e, data, len);
}

void edge_input_flush(sx_edge *e) {
  if (e->xs && sx_xstream_held(e->xs)) feed(e, NULL, 0);
}

/* ---- socket callbacks ------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  edge_conn *c = h->data;
  (void)suggested;
  if (!c->e) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  *buf = uv_buf_init(c->e->rbuf, sizeof c->e->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  edge_conn *c = s->data;
  sx_edge *e = c->e;
  if (!e || e->conn != c || c->closing) return;
  if (n < 0) {
    char why[128];
    snprintf(why, sizeof why, "%s", n == UV_EOF ? "closed by the server" : uv_strerror((int)n));
    link_down(e, e->state == LS_UP ? DOWN_SESSION : DOWN_ATTEMPT, why);
    return;
  }
  if (n == 0) return;
  if (!c->tls) {
    edge_input(e, buf->base, (size_t)n);
    return;
  }
  char *plain = NULL, err[256] = "";
  size_t plen = 0;
  int rc = sx_tls_input(c->tls, buf->base, (size_t)n, &plain, &plen, err, sizeof err);
  if (rc < 0) {
    free(plain);
    sx_err("edge", "%s %s", e->domain, err);
    link_down(e, e->state == LS_UP ? DOWN_SESSION : DOWN_ATTEMPT, err);
    return;
  }
  if (plen) edge_input(e, plain, plen);
  free(plain);
  if (rc == 1 && e->conn == c)
    link_down(e, e->state == LS_UP ? DOWN_SESSION : DOWN_ATTEMPT, "TLS closed by the server");
}

static void on_connected(uv_connect_t *req, int status) {
  edge_conn *c = req->data;
  sx_edge *e = c->e;
  if (!e || e->conn != c || c->closing) return;
  if (status < 0) {
    link_down(e, DOWN_ATTEMPT, uv_strerror(status));
    return;
  }
  e->phase = HS_HEADER;
  if (new_parser(e) != 0) {
    link_down(e, DOWN_ATTEMPT, "out of memory");
    return;
  }
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
    link_down(e, DOWN_ATTEMPT, "cannot read the socket");
    return;
  }
  if (e->tls) {
    c->tls = sx_tls_new(e->tls_ctx, e->server_name);
    if (!c->tls || sx_tls_start(c->tls, raw_write, c) != 0) {
      link_down(e, DOWN_ATTEMPT, "TLS set-up failed");
      return;
    }
  }
  sx_debug("edge", "%s tcp connected%s, opening the stream", e->domain,
           e->tls ? " (TLS)" : "");
  send_stream_header(e);
}

static void conn_connect(sx_edge *e, edge_conn *c, const struct sockaddr *sa) {
  int rc = uv_tcp_init(e->loop, &c->tcp);
  if (rc != 0) {
    link_down(e, DOWN_ATTEMPT, uv_strerror(rc));
    return;
  }
  c->tcp_inited = 1;
  c->open_handles++;
  e->handles_open++;
  c->tcp.data = c;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_tcp_keepalive(&c->tcp, 1, 60);
  c->creq.data = c;
  rc = uv_tcp_connect(&c->creq, &c->tcp, sa, on_connected);
  if (rc != 0) link_down(e, DOWN_ATTEMPT, uv_strerror(rc));
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  edge_conn *c = req->data;
  sx_edge *e = c->e;
  c->resolving = 0;
  if (c->closing || e->conn != c) {
    if (res) uv_freeaddrinfo(res);
    conn_force_close(c); /* the edge let go of it while resolving */
    return;
  }
  if (status < 0 || !res) {
    char why[160];
    snprintf(why, sizeof why, "cannot resolve %s: %s", e->host, uv_strerror(status));
    if (res) uv_freeaddrinfo(res);
    link_down(e, DOWN_ATTEMPT, why);
    return;
  }
  conn_connect(e, c, res->ai_addr);
  uv_freeaddrinfo(res);
}

static void start_connect(sx_edge *e) {
  edge_conn *c;
  struct sockaddr_storage ss;

  if (e->stopping || e->state != LS_IDLE) return;
  e->stats.attempts++;
  e->attempt_at = now_ms(e);
  e->closed_stream = 0;
  e->phase = HS_TCP;
  c = calloc(1, sizeof *c);
  if (!c) {
    schedule_retry(e, e->backoff_max_ms);
    return;
  }
  c->e = e;
  uv_timer_init(e->loop, &c->linger);
  c->linger.data = c;
  c->open_handles = 1;
  e->handles_open++;
  e->conn = c;
  e->state = LS_CONNECTING;
  sx_info("edge", "%s connecting to %s:%u%s", e->domain, e->host, e->port,
          e->tls ? " (TLS)" : "");

  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, e->host, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)e->port);
    conn_connect(e, c, (struct sockaddr *)s4);
  } else if (inet_pton(AF_INET6, e->host, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)e->port);
    conn_connect(e, c, (struct sockaddr *)s6);
  } else {
    struct addrinfo hints;
    char port[8];
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof port, "%u", e->port);
    c->gai.data = c;
    c->resolving = 1;
    if (uv_getaddrinfo(e->loop, &c->gai, on_resolved, e->host, port, &hints) != 0) {
      c->resolving = 0;
      link_down(e, DOWN_ATTEMPT, "cannot resolve the host");
    }
  }
}

static void on_retry(uv_timer_t *t) { start_connect(t->data); }

static void schedule_retry(sx_edge *e, unsigned delay) {
  e->retry_at = now_ms(e) + delay;
  uv_timer_start(&e->retry, on_retry, delay, 0);
}

static void on_tick(uv_timer_t *t) {
  sx_edge *e = t->data;
  uint64_t now = now_ms(e);

  edge_input_flush(e); /* bytes the parser held back (one long token arriving slowly) */
  if (e->stopping) {
    if (e->conn && now - e->stop_at >= STOP_WAIT_MS)
      link_down(e, DOWN_SESSION, "the server did not close its stream");
    return;
  }
  if (e->state == LS_CONNECTING && e->conn) {
    uint64_t limit = e->phase == HS_TCP ? CONNECT_LIMIT_MS : ATTEMPT_LIMIT_MS;
    if (now - e->attempt_at >= limit) {
      sx_warn("edge", "%s no %s from %s:%u after %llu s; abandoning the attempt", e->domain,
              e->phase == HS_TCP ? "connection" : "accepted handshake", e->host, e->port,
              (unsigned long long)limit / 1000);
      link_down(e, DOWN_ATTEMPT, e->phase == HS_TCP ? "connect timed out" : "handshake timed out");
    }
    return;
  }
  if (e->state != LS_UP) return;
  if (e->conn && e->conn->tcp_inited &&
      uv_stream_get_write_queue_size((uv_stream_t *)&e->conn->tcp) > MAX_WRITE_QUEUE) {
    sx_warn("edge", "%s the server does not read (%zu bytes unwritten); closing", e->domain,
            uv_stream_get_write_queue_size((uv_stream_t *)&e->conn->tcp));
    link_down(e, DOWN_SESSION, "the server does not read");
    return;
  }
  if (e->dead_after_s && now - e->last_read >= (uint64_t)e->dead_after_s * 1000) {
    sx_warn("edge", "%s dead: nothing read for %u s; closing", e->domain, e->dead_after_s);
    link_down(e, DOWN_SESSION, "dead link");
    return;
  }
  /* The self-ping keeps an idle link from looking dead; without a keepalive interval it
   * still runs, at a third of dead_after_s. */
  uint64_t ka = (uint64_t)e->keepalive_s * 1000, pi = ka;
  if (!pi && e->dead_after_s) pi = (uint64_t)e->dead_after_s * 1000 / 3;
  if (pi && now - e->last_read >= pi && now - e->last_ping >= pi) send_ping(e);
  if (ka && now - e->last_write >= ka && now - e->last_ws >= ka) {
    edge_send_text(e, " ", 1);
    e->last_ws = now;
  }
}

void edge_destroy(sx_edge *e) {
  while (e->b_head) {
    batch *b = e->b_head;
    e->b_head = b->next;
    free(b);
  }
  sx_xstream_free(e->xs);
  sx_tls_ctx_free(e->tls_ctx);
  free(e->open_tok);
  sx_buf_free(&e->out);
  free(e->domain);
  free(e->host);
  free(e->server_name);
  if (e->secret) {
    explicit_bzero(e->secret, strlen(e->secret));
    free(e->secret);
  }
  free(e);
}

static void on_handle_closed(uv_handle_t *h) {
  sx_edge *e = h->data;
  e->handles_open--;
  if (e->free_pending && e->handles_open == 0) edge_destroy(e);
}

/* ---- public API ------------------------------------------------------------------------- */

static sx_edge *edge_alloc(uv_loop_t *loop, const sx_edge_params *p, const sx_edge_cbs *cbs,
                           void *ud) {
  sx_edge *e;
  if (!loop || !p || !p->domain || !*p->domain || !p->host || !*p->host || !p->port ||
      p->port > 65535 || !p->secret)
    return NULL;
  e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->loop = loop;
  e->domain = xstrdup(p->domain);
  e->host = xstrdup(p->host);
  e->secret = xstrdup(p->secret);
  e->server_name = xstrdup(p->server_name && *p->server_name ? p->server_name : p->host);
  e->port = p->port;
  e->backoff_min_ms = p->backoff_min_ms ? p->backoff_min_ms : 500;
  e->backoff_max_ms = p->backoff_max_ms >= e->backoff_min_ms ? p->backoff_max_ms : 30000;
  if (e->backoff_max_ms < e->backoff_min_ms) e->backoff_max_ms = e->backoff_min_ms;
  e->backoff_ms = e->backoff_min_ms;
  e->keepalive_s = p->keepalive_s;
  e->dead_after_s = p->dead_after_s;
  e->max_message_bytes = p->max_message_bytes;
  e->max_stanza_bytes = p->max_stanza_bytes ? p->max_stanza_bytes : 512 * 1024;
  e->tls = p->tls ? 1 : 0;
  e->stats.tls = e->tls;
  e->served = p->served;
  e->n_served = p->served ? p->n_served : 0;
  if (cbs) e->cbs = *cbs;
  e->ud = ud;
  e->rng = uv_hrtime() ^ ((uint64_t)(uintptr_t)e << 16) ^ (uint64_t)getpid();
  if (!e->rng) e->rng = 0x9E3779B97F4A7C15ULL;
  /* 32 random bits, never 0: barrier ids of instances sharing the domain differ. */
  e->barrier_tag = (unsigned long)(((e->rng * 0x9E3779B97F4A7C15ULL) >> 32) | 1u);
  if (!e->domain || !e->host || !e->secret || !e->server_name) {
    edge_destroy(e);
    return NULL;
  }
  if (e->tls) {
    char err[512];
    if ((p->cert_file && *p->cert_file) != (p->key_file && *p->key_file)) {
      sx_err("edge", "%s cert_file and key_file go together", e->domain);
      edge_destroy(e);
      return NULL;
    }
    e->tls_ctx = sx_tls_ctx_new(p->ca_file, p->cert_file, p->key_file, err, sizeof err);
    if (!e->tls_ctx) {
      sx_err("edge", "%s TLS: %s", e->domain, err);
      edge_destroy(e);
      return NULL;
    }
  }
  uv_timer_init(loop, &e->tick);
  uv_timer_init(loop, &e->retry);
  uv_idle_init(loop, &e->flush);
  e->tick.data = e->retry.data = e->flush.data = e;
  e->handles_open = 3;
  return e;
}

sx_edge *sx_edge_new(uv_loop_t *loop, const sx_edge_params *p, const sx_edge_cbs *cbs,
                     void *ud) {
  struct sigaction sa;
  sx_edge *e = edge_alloc(loop, p, cbs, ud);
  if (!e) return NULL;
  /* A write to a socket the server closed must be an error, not a signal. */
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL &&
      !(sa.sa_flags & SA_SIGINFO))
    signal(SIGPIPE, SIG_IGN);
  uv_timer_start(&e->tick, on_tick, TICK_MS, TICK_MS);
  start_connect(e);
  return e;
}

sx_edge *edge_new_detached(uv_loop_t *loop, const sx_edge_params *p, const sx_edge_cbs *cbs,
                           void *ud) {
  sx_edge *e = edge_alloc(loop, p, cbs, ud);
  if (!e) return NULL;
  e->stopping = 0;
  e->state = LS_CONNECTING;
  if (new_parser(e) != 0) {
    sx_edge_free(e);
    return NULL;
  }
  e->phase = HS_HEADER;
  return e;
}

int sx_edge_is_up(const sx_edge *e) { return e && e->state == LS_UP && !e->stopping; }

const char *sx_edge_domain(const sx_edge *e) { return e ? e->domain : NULL; }

unsigned sx_edge_retry_in_ms(const sx_edge *e) {
  uint64_t now;
  if (!e || e->state == LS_UP) return 0;
  now = now_ms(e);
  if (e->state == LS_IDLE && e->retry_at > now + 1000) return (unsigned)(e->retry_at - now);
  return 1000;
}

void sx_edge_get_stats(const sx_edge *e, sx_edge_stats *out) {
  if (!out) return;
  if (e) *out = e->stats;
  else memset(out, 0, sizeof *out);
}

void sx_edge_stop(sx_edge *e) {
  if (!e || e->stopping) return;
  e->stopping = 1;
  uv_timer_stop(&e->retry);
  if (!e->conn) {
    sx_info("edge", "%s stopped", e->domain);
    finish_stop(e);
    return;
  }
  if (e->state == LS_UP || e->phase == HS_HANDSHAKE || e->phase == HS_HEADER) {
    sx_info("edge", "%s closing the stream", e->domain);
    if (e->state == LS_UP && e->out.len) { /* what this turn queued still goes out */
      edge_conn_write(e, e->out.data, e->out.len);
      e->out.len = 0;
    }
    edge_conn_write(e, "</stream:stream>", 16);
    e->closed_stream = 1;
    e->stop_at = now_ms(e);
    return; /* the server's </stream:stream>, EOF or the tick ends it */
  }
  link_down(e, DOWN_ATTEMPT, "stopped while connecting");
}

int sx_edge_is_closed(const sx_edge *e) {
  return e && e->state == LS_STOPPED && e->handles_open == 0;
}

void sx_edge_free(sx_edge *e) {
  if (!e) return;
  memset(&e->cbs, 0, sizeof e->cbs);
  e->stopping = 1;
  e->free_pending = 1; /* connections close now, without waiting for their writes */
  if (e->conn) link_down(e, DOWN_ATTEMPT, "freed");
  for (edge_conn *c = e->old; c; c = c->next_old)
    if (!c->resolving) conn_force_close(c);
  if (e->state != LS_STOPPED) finish_stop(e);
  if (e->handles_open == 0) edge_destroy(e);
}
