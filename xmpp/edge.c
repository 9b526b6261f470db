/* The edge link (xmpp/edge.h): one libstrophe component connection per served domain, driven
 * from the libuv loop.
 *
 * How libstrophe is driven without its own loop:
 * - The socket is created inside xmpp_connect_component(); the sockopt callback is the only
 *   place it is visible. There it is moved below FD_SETSIZE when needed (xmpp_run_once uses
 *   select()), given TCP_NODELAY, SO_KEEPALIVE and FD_CLOEXEC, and its number recorded.
 * - libuv watches a dup() of that socket: libstrophe closes its own fd inside xmpp_run_once
 *   on disconnect, and libuv must never poll a closed fd. The duplicate is stopped and closed
 *   in the DISCONNECT handler.
 * - Readable (and writable while connecting or while output is queued) → xmpp_run_once(ctx, 0)
 *   in a bounded batch; a 1 s timer runs it too, for libstrophe's timers (connect timeout,
 *   handshake timeout, disconnect cleanup) and the keepalive / dead-link checks.
 * One xmpp_ctx_t per edge, so xmpp_run_once only ever serves this edge's connection. */
#include "xmpp/edge.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <strophe.h>

#include "translate/log.h"
#include "translate/text.h"
#include "xmpp/edge_internal.h"

#define TICK_MS 1000
#define RUN_BATCH_MAX 64      /* xmpp_run_once calls per event (each reads ≤ 4096 bytes) */
#define STABLE_UP_MS 10000    /* a link up this long resets the backoff */
/* An attempt not accepted within this time is abandoned. libstrophe times out the TCP connect
 * (5 s) and the wait for <handshake/> (15 s), but not a server that accepted the TCP
 * connection and never opens its stream. */
#define ATTEMPT_LIMIT_MS 20000

/* The sockopt callback gets no user data; the edge being connected is known here because
 * xmpp_connect_component() calls it synchronously on this (the only) thread. */
static sx_edge *connecting_edge;
static unsigned lib_users;

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

static void strophe_log(void *ud, xmpp_log_level_t level, const char *area, const char *msg) {
  sx_edge *e = ud;
  if (level == XMPP_LEVEL_ERROR)
    sx_warn("edge", "%s libstrophe %s: %s", e->domain, area, msg);
  else if (level != XMPP_LEVEL_DEBUG || getenv("SX_STROPHE_DEBUG"))
    sx_debug("edge", "%s libstrophe %s: %s", e->domain, area, msg);
}

static void reserve_low_fd(sx_edge *e) {
  if (e->reserve_fd >= 0) return;
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (fd >= FD_SETSIZE) {
    close(fd);
    return;
  }
  e->reserve_fd = fd;
}

static int sockopt_cb(xmpp_conn_t *conn, void *sockp) {
  sx_edge *e = connecting_edge;
  int *fdp = sockp;
  int fd = *fdp, one = 1;
  (void)conn;

  if (!e) return 0;
  if (fd >= FD_SETSIZE) {
    /* select() in xmpp_run_once cannot watch it: move it onto the reserved low fd. */
    if (e->reserve_fd < 0 || dup2(fd, e->reserve_fd) < 0) {
      sx_err("edge", "%s socket fd %d is >= FD_SETSIZE and no low fd is free", e->domain, fd);
      return -1;
    }
    close(fd);
    sx_debug("edge", "%s socket fd %d moved to fd %d (FD_SETSIZE)", e->domain, fd,
             e->reserve_fd);
    fd = e->reserve_fd;
    e->reserve_fd = -1;
    *fdp = fd;
  }
  (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
    sx_warn("edge", "%s TCP_NODELAY: %s", e->domain, strerror(errno));
  (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  e->sock_fd = fd;
  return 0;
}

static int pending_bytes(const sx_edge *e) {
  int n = 0;
  if (e->poll_fd < 0 || ioctl(e->poll_fd, FIONREAD, &n) != 0) return -1;
  return n;
}


static void on_handle_closed(uv_handle_t *h);
static void on_poll(uv_poll_t *h, int status, int events);
static void drive(sx_edge *e);
static void schedule_retry(sx_edge *e, unsigned delay);

static void update_poll(sx_edge *e) {
  int ev = UV_READABLE;
  if (!e->poll) return;
  /* libstrophe counts only our stanzas in its queue length; its own stream header and
   * handshake are written while the link is not up yet. */
  if (e->state != LS_UP || xmpp_conn_send_queue_len(e->conn) > 0) ev |= UV_WRITABLE;
  if (ev != e->poll_events) {
    uv_poll_start(e->poll, ev, on_poll);
    e->poll_events = ev;
  }
}

static void close_poll(sx_edge *e) {
  if (!e->poll) return;
  uv_poll_stop(e->poll);
  uv_close((uv_handle_t *)e->poll, on_handle_closed);
  e->poll = NULL;
  e->poll_events = 0;
  if (e->poll_fd >= 0) close(e->poll_fd);
  e->poll_fd = -1;
}

/* Makes libstrophe see the socket fail, so that it disconnects (and fires DISCONNECT) in the
 * next xmpp_run_once. Works on the shared socket through our duplicate. */
static void break_socket(sx_edge *e) {
  if (e->poll_fd < 0) return;
  if (xmpp_conn_is_connecting(e->conn)) {
    struct sockaddr sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_family = AF_UNSPEC; /* dissolves a pending TCP connect */
    (void)connect(e->poll_fd, &sa, sizeof sa);
  } else {
    (void)shutdown(e->poll_fd, SHUT_RDWR);
  }
}

static void on_flush(uv_idle_t *h);

static void arm_flush(sx_edge *e) {
  if (e->flush_armed) return;
  uv_idle_start(&e->flush, on_flush);
  e->flush_armed = 1;
}

/* Stanzas go out in one write per loop turn (on_flush), not one each. */
int edge_send_text(sx_edge *e, const char *xml, size_t len) {
  sx_buf_put(&e->out, xml, len);
  if (e->out.oom) {
    sx_err("edge", "%s out of memory queueing output", e->domain);
    return -1;
  }
  e->last_write = now_ms(e);
  arm_flush(e);
  return 0;
}

/* ---- outbound stanzas the edge makes itself --------------------------------------------- */

void edge_put_attr(sx_buf *b, const char *name, const char *v) {
  if (!v) return;
  sx_buf_printf(b, " %s='", name);
  sx_buf_puts_xml(b, v);
  sx_buf_puts(b, "'");
}

void edge_send_buf(sx_edge *e, sx_buf *b) {
  size_t len;
  char *s = sx_buf_take(b, &len);
  if (!s) {
    sx_err("edge", "%s out of memory building a reply", e->domain);
    return;
  }
  if (e->state == LS_UP) edge_send_text(e, s, len);
  free(s);
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

/* ---- delivery confirmation -------------------------------------------------------------- */

static void confirm(sx_edge *e, void *tok, int ok) {
  e->unconfirmed--;
  if (e->cbs.on_confirm) e->cbs.on_confirm(e->ud, e, tok, ok);
}

/* Everything tracked fails: the link went down before the server confirmed it. */
static void fail_tracked(sx_edge *e) {
  while (e->b_head) {
    batch *b = e->b_head;
    e->b_head = b->next;
    for (size_t i = 0; i < b->n; i++) confirm(e, b->tok[i], 0);
    free(b);
  }
  e->b_tail = NULL;
  for (size_t i = 0; i < e->open_n; i++) confirm(e, e->open_tok[i], 0);
  e->open_n = 0;
}

/* Closes the batch of tracked stanzas with a barrier iq (appended to the output). */
static void add_barrier(sx_edge *e) {
  batch *b;
  sx_buf x = {0};

  if (!e->open_n) return;
  b = malloc(sizeof *b + e->open_n * sizeof(void *));
  if (!b) return;
  b->next = NULL;
  b->seq = ++e->barrier_seq;
  b->n = e->open_n;
  memcpy(b->tok, e->open_tok, e->open_n * sizeof(void *));
  e->open_n = 0;
  if (e->b_tail) e->b_tail->next = b;
  else e->b_head = b;
  e->b_tail = b;
  sx_buf_printf(&x, "<iq type='get' id='" BARRIER_PREFIX "%lx-%lu-0'", e->barrier_tag, b->seq);
  edge_put_attr(&x, "from", e->domain);
  edge_put_attr(&x, "to", e->domain);
  sx_buf_puts(&x, "><ping xmlns='" NS_PING "'/></iq>");
  edge_send_buf(e, &x);
}

static void on_flush(uv_idle_t *h) {
  sx_edge *e = h->data;
  if (e->state != LS_UP) {
    uv_idle_stop(h);
    e->flush_armed = 0;
    e->out.len = 0;
    return;
  }
  /* One barrier outstanding at a time: at low rates each stanza gets its own, under load
   * they cover everything sent during one round trip. */
  if (!e->b_head) add_barrier(e); /* still armed: its own write is part of this flush */
  uv_idle_stop(h);
  e->flush_armed = 0;
  if (e->open_n && !e->b_head) arm_flush(e); /* the barrier could not be made; next turn */
  if (e->out.len) {
    xmpp_send_raw(e->conn, e->out.data, e->out.len);
    e->out.len = 0;
    drive(e); /* write it now */
  }
}

/* Hops a barrier of another instance is passed on before it is dropped. With N instances
 * it reaches its own after N hops on average; (1 - 1/N)^64 is negligible for small N. */
#define BARRIER_MAX_HOPS 64

/* A barrier iq "<prefix><tag>-<seq>-<hops>" came back. Ours: every batch up to seq was
 * routed. Another instance's (the server picked our stream for the shared domain): sent on
 * toward the domain again, so that it reaches the instance waiting for it. */
void edge_barrier_returned(sx_edge *e, const char *id) {
  char *end;
  unsigned long tag = strtoul(id + sizeof BARRIER_PREFIX - 1, &end, 16);
  if (*end != '-') return;
  unsigned long seq = strtoul(end + 1, &end, 10);
  if (*end != '-') return;
  unsigned long hops = strtoul(end + 1, &end, 10);
  if (*end) return;
  if (tag != e->barrier_tag) {
    if (hops >= BARRIER_MAX_HOPS) return;
    sx_buf x = {0};
    sx_buf_printf(&x, "<iq type='get' id='" BARRIER_PREFIX "%lx-%lu-%lu'", tag, seq, hops + 1);
    edge_put_attr(&x, "from", e->domain);
    edge_put_attr(&x, "to", e->domain);
    sx_buf_puts(&x, "><ping xmlns='" NS_PING "'/></iq>");
    if (x.data) sx_edge_send(e, x.data, x.len);
    free(x.data);
    return;
  }
  while (e->b_head && e->b_head->seq <= seq) {
    batch *b = e->b_head;
    e->b_head = b->next;
    if (!e->b_head) e->b_tail = NULL;
    for (size_t i = 0; i < b->n; i++) confirm(e, b->tok[i], 1);
    free(b);
  }
  if (e->open_n) arm_flush(e); /* what was sent meanwhile gets the next barrier */
}

/* ---- connection state ------------------------------------------------------------------- */

static const char *stream_error_name(const xmpp_stream_error_t *se) {
  if (!se) return NULL;
  if (se->stanza)
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(se->stanza); c;
         c = xmpp_stanza_get_next(c)) {
      const char *n = xmpp_stanza_is_tag(c) ? xmpp_stanza_get_name(c) : NULL;
      if (n && strcmp(n, "text") != 0) return n;
    }
  return "undefined-condition";
}

static void finish_stop(sx_edge *e) {
  e->state = LS_STOPPED;
  if (e->timers_closing) return;
  e->timers_closing = 1;
  uv_timer_stop(&e->tick);
  uv_timer_stop(&e->retry);
  uv_idle_stop(&e->flush);
  fail_tracked(e);
  uv_close((uv_handle_t *)&e->tick, on_handle_closed);
  uv_close((uv_handle_t *)&e->retry, on_handle_closed);
  uv_close((uv_handle_t *)&e->flush, on_handle_closed);
}

static void conn_handler(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error,
                         xmpp_stream_error_t *se, void *ud) {
  sx_edge *e = ud;
  uint64_t now = now_ms(e);
  (void)conn;

  if (ev == XMPP_CONN_CONNECT) {
    e->state = LS_UP;
    e->tcp_connected = 1;
    e->up_since = e->last_read = e->last_write = e->last_ws = e->last_ping = now;
    e->stats.connects++;
    sx_info("edge", "%s up: component accepted by %s:%u", e->domain, e->host, e->port);
    if (e->stopping) {
      xmpp_disconnect(e->conn);
      return;
    }
    if (e->cbs.on_state) e->cbs.on_state(e->ud, e, 1);
    return;
  }
  if (ev != XMPP_CONN_DISCONNECT) return;

  int was_up = e->state == LS_UP, tcp = e->tcp_connected;
  const char *sen = stream_error_name(se);
  int fatal = se && (se->type == XMPP_SE_CONFLICT || se->type == XMPP_SE_NOT_AUTHORIZED);

  close_poll(e);
  e->sock_fd = -1;
  reserve_low_fd(e); /* the socket's (low) number was just freed */
  e->state = LS_IDLE;
  e->tcp_connected = 0;
  if (was_up) {
    e->stats.disconnects++;
    fail_tracked(e);
    if (e->cbs.on_state) e->cbs.on_state(e->ud, e, 0);
  }

  char why[160];
  if (e->forced)
    snprintf(why, sizeof why, "%s", e->forced);
  else if (sen)
    snprintf(why, sizeof why, "stream error %s%s%s", sen, (se && se->text) ? ": " : "",
             (se && se->text) ? se->text : "");
  else if (error)
    snprintf(why, sizeof why, "%s", strerror(error));
  else
    snprintf(why, sizeof why, "%s", tcp ? "closed" : "connection failed");
  e->forced = NULL;

  if (e->stopping) {
    sx_info("edge", "%s down (%s); stopped", e->domain, why);
    finish_stop(e);
    return;
  }

  unsigned delay;
  if (was_up && now - e->up_since >= STABLE_UP_MS) e->backoff_ms = e->backoff_min_ms;
  if (fatal) {
    delay = e->backoff_max_ms;
  } else {
    unsigned d = e->backoff_ms, half = d / 2;
    delay = half + (half ? rnd(e) % (half + 1) : 0); /* equal jitter */
    e->backoff_ms = d >= e->backoff_max_ms / 2 ? e->backoff_max_ms : d * 2;
  }
  if (fatal)
    sx_err("edge", "%s %s (%s); the server refuses this component, retry in %u ms", e->domain,
           was_up ? "down" : "rejected", why, delay);
  else if (was_up)
    sx_warn("edge", "%s down (%s); reconnecting in %u ms", e->domain, why, delay);
  else
    sx_warn("edge", "%s %s to %s:%u failed (%s); retry in %u ms", e->domain,
            tcp ? "handshake" : "connect", e->host, e->port, why, delay);
  schedule_retry(e, delay);
}

static void start_connect(sx_edge *e) {
  int rc, fd;

  if (e->stopping || e->state != LS_IDLE) return;
  e->stats.attempts++;
  e->attempt_at = now_ms(e);
  e->forced = NULL;
  e->sock_fd = -1;
  e->tcp_connected = 0;
  connecting_edge = e;
  rc = xmpp_connect_component(e->conn, e->host, (unsigned short)e->port, conn_handler, e);
  connecting_edge = NULL;
  reserve_low_fd(e); /* a failed attempt may have consumed it */
  if (rc != 0 || e->sock_fd < 0) {
    unsigned d = e->backoff_ms;
    e->backoff_ms = d >= e->backoff_max_ms / 2 ? e->backoff_max_ms : d * 2;
    sx_warn("edge", "%s connect to %s:%u failed at once (%d); retry in %u ms", e->domain,
            e->host, e->port, rc, d);
    schedule_retry(e, d);
    return;
  }
  /* Our copy for libuv, placed high so it does not use up fds select() can watch. */
  fd = fcntl(e->sock_fd, F_DUPFD_CLOEXEC, FD_SETSIZE);
  if (fd < 0) fd = fcntl(e->sock_fd, F_DUPFD_CLOEXEC, 3);
  e->poll = fd >= 0 ? malloc(sizeof *e->poll) : NULL;
  if (!e->poll || uv_poll_init(e->loop, e->poll, fd) != 0) {
    sx_err("edge", "%s cannot watch the socket: %s", e->domain,
           fd < 0 ? strerror(errno) : "uv_poll_init failed");
    free(e->poll);
    e->poll = NULL;
    if (fd >= 0) close(fd);
    /* Let libstrophe's connect timeout end the attempt; the tick keeps running it. */
    e->state = LS_CONNECTING;
    return;
  }
  e->handles_open++;
  e->poll->data = e;
  e->poll_fd = fd;
  e->poll_events = 0;
  e->state = LS_CONNECTING;
  sx_info("edge", "%s connecting to %s:%u", e->domain, e->host, e->port);
  update_poll(e);
}

static void on_retry(uv_timer_t *t) { start_connect(t->data); }

static void schedule_retry(sx_edge *e, unsigned delay) {
  e->retry_at = now_ms(e) + delay;
  uv_timer_start(&e->retry, on_retry, delay, 0);
}

/* Runs libstrophe while the socket has input, then once more: every xmpp_run_once writes its
 * send queue before it reads, so what the handlers of one pass queued (our replies, and its
 * own stream header and <handshake/>) goes out in the next. Each pass reads at most 4096
 * bytes; bounded, the poll or the tick resumes. */
static void drive(sx_edge *e) {
  if (e->in_drive) return;
  e->in_drive = 1;
  for (int i = 0; i < RUN_BATCH_MAX; i++) {
    int was_tcp = e->tcp_connected, avail = pending_bytes(e);
    if (avail > 0) e->last_read = now_ms(e);
    xmpp_run_once(e->ctx, 0);
    if (!e->poll) break; /* disconnected */
    if (!e->tcp_connected && xmpp_conn_is_connected(e->conn)) {
      e->tcp_connected = 1;
      sx_debug("edge", "%s tcp connected, handshaking", e->domain);
    }
    if (avail <= 0 && e->tcp_connected == was_tcp) break;
  }
  e->in_drive = 0;
  update_poll(e);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  sx_edge *e = h->data;
  (void)status;
  (void)events;
  drive(e);
}

static void on_tick(uv_timer_t *t) {
  sx_edge *e = t->data;
  uint64_t now;

  if (e->poll || e->state == LS_CONNECTING) drive(e);
  now = now_ms(e);
  if (e->state == LS_CONNECTING && e->poll && now - e->attempt_at >= ATTEMPT_LIMIT_MS) {
    sx_warn("edge", "%s no stream from %s:%u after %u s; abandoning the attempt", e->domain,
            e->host, e->port, ATTEMPT_LIMIT_MS / 1000);
    e->forced = "no stream from the server";
    break_socket(e);
    drive(e);
    return;
  }
  if (e->state != LS_UP || e->stopping) return;
  if (e->dead_after_s && now - e->last_read >= (uint64_t)e->dead_after_s * 1000) {
    sx_warn("edge", "%s dead: nothing read for %u s; closing", e->domain, e->dead_after_s);
    e->forced = "dead link";
    break_socket(e);
    drive(e);
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

static void destroy(sx_edge *e) {
  if (e->conn) {
    /* Still connected only when freed before the stream ended: xmpp_conn_release then closes
     * the socket itself and fires DISCONNECT (handled: no handles left, callbacks cleared). */
    xmpp_conn_release(e->conn);
  }
  if (e->ctx) xmpp_ctx_free(e->ctx);
  if (e->reserve_fd >= 0) close(e->reserve_fd);
  if (e->poll_fd >= 0) close(e->poll_fd);
  while (e->b_head) {
    batch *b = e->b_head;
    e->b_head = b->next;
    free(b);
  }
  free(e->open_tok);
  sx_buf_free(&e->out);
  free(e->domain);
  free(e->host);
  if (e->secret) {
    memset(e->secret, 0, strlen(e->secret));
    free(e->secret);
  }
  free(e);
  if (lib_users && --lib_users == 0) xmpp_shutdown();
}

static void on_handle_closed(uv_handle_t *h) {
  sx_edge *e = h->data;
  if (h->type == UV_POLL) free(h);
  e->handles_open--;
  if (e->free_pending && e->handles_open == 0) destroy(e);
}

/* ---- public API ------------------------------------------------------------------------- */

sx_edge *sx_edge_new(uv_loop_t *loop, const sx_edge_params *p, const sx_edge_cbs *cbs,
                     void *ud) {
  sx_edge *e;
  struct sigaction sa;

  if (!loop || !p || !p->domain || !*p->domain || !p->host || !*p->host || !p->port ||
      p->port > 65535 || !p->secret)
    return NULL;
  e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->loop = loop;
  e->domain = xstrdup(p->domain);
  e->host = xstrdup(p->host);
  e->secret = xstrdup(p->secret);
  e->port = p->port;
  e->backoff_min_ms = p->backoff_min_ms ? p->backoff_min_ms : 500;
  e->backoff_max_ms = p->backoff_max_ms >= e->backoff_min_ms ? p->backoff_max_ms : 30000;
  if (e->backoff_max_ms < e->backoff_min_ms) e->backoff_max_ms = e->backoff_min_ms;
  e->backoff_ms = e->backoff_min_ms;
  e->keepalive_s = p->keepalive_s;
  e->dead_after_s = p->dead_after_s;
  e->max_message_bytes = p->max_message_bytes;
  e->served = p->served;
  e->n_served = p->served ? p->n_served : 0;
  if (cbs) e->cbs = *cbs;
  e->ud = ud;
  e->poll_fd = e->sock_fd = e->reserve_fd = -1;
  e->rng = uv_hrtime() ^ ((uint64_t)(uintptr_t)e << 16) ^ (uint64_t)getpid();
  if (!e->rng) e->rng = 0x9E3779B97F4A7C15ULL;
  e->barrier_tag = (unsigned long)((e->rng * 0x9E3779B97F4A7C15ULL) >> 32) | 1u;
  if (!e->domain || !e->host || !e->secret) goto fail_early;

  /* libstrophe writes with send() without MSG_NOSIGNAL. */
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL &&
      !(sa.sa_flags & SA_SIGINFO))
    signal(SIGPIPE, SIG_IGN);

  if (lib_users++ == 0) xmpp_initialize();
  e->slog.handler = strophe_log;
  e->slog.userdata = e;
  e->ctx = xmpp_ctx_new(NULL, &e->slog);
  e->conn = e->ctx ? xmpp_conn_new(e->ctx) : NULL;
  if (!e->conn) goto fail;

  /* libstrophe 0.12.2 allocates the connection's stream-management state only in
   * xmpp_connect_client(), yet dereferences it for every connection type: the stanza
   * dispatcher, the send path and conn_disconnect() would crash on a component connection.
   * xmpp_connect_client() allocates it before it resolves anything, so one call with an
   * empty host makes it allocate the state and then fail in getaddrinfo("") (no socket, no
   * DNS query), leaving the connection DISCONNECTED. The state then lives until
   * xmpp_conn_release() frees it and survives reconnects. */
  xmpp_conn_set_jid(e->conn, e->domain);
  if (xmpp_connect_client(e->conn, "", 1, conn_handler, e) == 0 ||
      !xmpp_conn_is_disconnected(e->conn)) {
    sx_err("edge", "%s libstrophe did not behave as 0.12.2 does; refusing to run", e->domain);
    goto fail;
  }
  xmpp_conn_set_pass(e->conn, e->secret);
  xmpp_conn_set_sockopt_callback(e->conn, sockopt_cb);
  edge_inbound_attach(e);

  reserve_low_fd(e);
  uv_timer_init(loop, &e->tick);
  uv_timer_init(loop, &e->retry);
  uv_idle_init(loop, &e->flush);
  e->tick.data = e->retry.data = e->flush.data = e;
  e->handles_open = 3;
  uv_timer_start(&e->tick, on_tick, TICK_MS, TICK_MS);
  start_connect(e);
  return e;

fail:
  if (e->conn) xmpp_conn_release(e->conn);
  if (e->ctx) xmpp_ctx_free(e->ctx);
  if (--lib_users == 0) xmpp_shutdown();
fail_early:
  free(e->domain);
  free(e->host);
  free(e->secret);
  free(e);
  return NULL;
}

int sx_edge_send(sx_edge *e, const char *xml, size_t len) {
  if (!e || e->state != LS_UP || e->stopping || !xml || len == 0 || xml[0] != '<') return -1;
  edge_send_text(e, xml, len);
  e->stats.out_stanzas++;
  return 0;
}

int sx_edge_send_tracked(sx_edge *e, const char *xml, size_t len, void *token) {
  if (!e || e->state != LS_UP || e->stopping) return -1;
  if (e->open_n == e->open_cap) {
    size_t cap = e->open_cap ? e->open_cap * 2 : 64;
    void **t = realloc(e->open_tok, cap * sizeof *t);
    if (!t) return -1;
    e->open_tok = t;
    e->open_cap = cap;
  }
  if (sx_edge_send(e, xml, len) != 0) return -1;
  e->open_tok[e->open_n++] = token;
  e->unconfirmed++;
  arm_flush(e);
  return 0;
}

size_t sx_edge_unconfirmed(const sx_edge *e) { return e ? e->unconfirmed : 0; }

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
  if (!e->poll && e->state != LS_CONNECTING) {
    sx_info("edge", "%s stopped", e->domain);
    finish_stop(e);
    return;
  }
  if (xmpp_conn_is_connected(e->conn)) {
    sx_info("edge", "%s closing the stream", e->domain);
    xmpp_disconnect(e->conn); /* </stream:stream>; libstrophe forces the close after 2 s */
  } else {
    break_socket(e); /* still connecting: abandon the attempt */
  }
  drive(e);
}

int sx_edge_is_closed(const sx_edge *e) {
  return e && e->state == LS_STOPPED && e->handles_open == 0;
}

void sx_edge_free(sx_edge *e) {
  if (!e) return;
  memset(&e->cbs, 0, sizeof e->cbs);
  if (!e->stopping) sx_edge_stop(e);
  for (int i = 0; i < 4 && e->poll; i++) { /* tear down now */
    break_socket(e);
    drive(e);
  }
  if (e->poll) close_poll(e);
  if (e->state != LS_STOPPED) finish_stop(e);
  e->free_pending = 1;
  if (e->handles_open == 0) destroy(e);
}
