/* Internals of the edge link shared by xmpp/edge.c (the link: libstrophe/libuv driving,
 * connect and backoff, keepalive, output flush, delivery barrier, public API) and
 * xmpp/edge_inbound.c (inbound stanzas: address checks, <message/>, <iq/>, presence).
 * Single-threaded like the rest of the edge: everything runs on the loop's thread. */
#ifndef SX_XMPP_EDGE_INTERNAL_H
#define SX_XMPP_EDGE_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include <strophe.h>
#include <uv.h>

#include "translate/text.h"
#include "xmpp/edge.h"

#define NS_PING "urn:xmpp:ping"

#define KA_PING_PREFIX "sx-ka-"
#define BARRIER_PREFIX "sx-b-"

/* Tracked stanzas sent before one barrier iq, oldest batch first. */
typedef struct batch {
  struct batch *next;
  unsigned long seq;
  size_t n;
  void *tok[];
} batch;

typedef enum {
  LS_IDLE,       /* no socket; a retry may be scheduled */
  LS_CONNECTING, /* TCP connect or component handshake in progress */
  LS_UP,         /* handshake accepted */
  LS_STOPPED,    /* sx_edge_stop finished; timers closing or closed */
} link_state;

struct sx_edge {
  uv_loop_t *loop;
  char *domain, *host, *secret;
  unsigned port, backoff_min_ms, backoff_max_ms, keepalive_s, dead_after_s;
  size_t max_message_bytes;
  char *const *served;
  size_t n_served;
  sx_edge_cbs cbs;
  void *ud;

  xmpp_log_t slog;
  xmpp_ctx_t *ctx;
  xmpp_conn_t *conn;

  uv_timer_t tick, retry;
  uv_idle_t flush;   /* hands the turn's output to libstrophe in the next libuv run */
  int flush_armed;
  sx_buf out;        /* stanzas written during this turn, in order */
  void **open_tok;    /* tracked since the last barrier */
  size_t open_n, open_cap;
  batch *b_head, *b_tail;
  unsigned long barrier_seq;
  unsigned long barrier_tag; /* random, in every barrier id: several instances of one
                                component share the domain, and the server routes an iq to
                                it over any of their streams */
  size_t unconfirmed;
  uv_poll_t *poll;  /* per connection; freed by its close callback */
  int poll_fd;      /* our duplicate of the socket */
  int poll_events;
  int sock_fd;      /* libstrophe's socket (closed by libstrophe) */
  int reserve_fd;   /* a low fd held open to move a socket ≥ FD_SETSIZE onto */

  link_state state;
  int tcp_connected;
  const char *forced; /* why the edge itself broke the socket, for the DISCONNECT log */
  int stopping, free_pending, in_drive;
  int handles_open;
  int timers_closing;

  uint64_t up_since, last_read, last_write, last_ws, last_ping, retry_at, attempt_at;
  unsigned backoff_ms;
  unsigned long ping_seq;
  uint64_t rng;
  sx_edge_stats stats;
};

static inline uint64_t now_ms(const sx_edge *e) { return uv_now(e->loop); }

/* Appends ` name='v'` (v XML-escaped) to b; nothing when v is NULL. */
void edge_put_attr(sx_buf *b, const char *name, const char *v);

/* Queues len bytes of xml for this turn's single write (see on_flush in edge.c) and arms the
 * flush. 0, or -1 when out of memory (logged). The caller checks that the link is up. */
int edge_send_text(sx_edge *e, const char *xml, size_t len);

/* Takes b's content (b is left empty) and queues it with edge_send_text when the link is up;
 * otherwise drops it. Logs when b ran out of memory. */
void edge_send_buf(sx_edge *e, sx_buf *b);

/* The barrier iq `id` (BARRIER_PREFIX and a sequence number) came back: confirms every
 * tracked batch up to it as routed. Ignores an id with trailing garbage. */
void edge_barrier_returned(sx_edge *e, const char *id);

/* Registers the inbound <message/>, <presence/> and <iq/> handlers (edge_inbound.c) on
 * e->conn, with e as their user data. */
void edge_inbound_attach(sx_edge *e);

#endif
