/* Internals of the edge link shared by xmpp/edge.c (the link: sockets, TLS, handshake,
 * backoff, keepalive, public API), xmpp/edge_delivery.c (output flush, delivery barrier,
 * sx_edge_send*), xmpp/edge_inbound.c
 * (inbound stanzas: address checks, <message/>, <iq/>, presence) and tests/fuzz/fuzz_edge.c.
 * Single-threaded like the rest of the edge: everything runs on the loop's thread. */
#ifndef SX_XMPP_EDGE_INTERNAL_H
#define SX_XMPP_EDGE_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "translate/text.h"
#include "xmpp/edge.h"
#include "xmpp/edge_tls.h"
#include "xmpp/edge_xml.h"

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
  LS_CONNECTING, /* TCP connect, TLS or component handshake in progress */
  LS_UP,         /* handshake accepted */
  LS_STOPPED,    /* sx_edge_stop finished; timers closing or closed */
} link_state;

typedef enum {
  HS_TCP,       /* TCP connect in progress */
  HS_HEADER,    /* our stream header sent, waiting for the server's */
  HS_HANDSHAKE, /* <handshake/> sent, waiting for the answer */
  HS_DONE,      /* up */
} hs_phase;

/* One connection attempt: its socket, TLS session and parser. Freed when both its handles
 * are closed; e == NULL once the edge has let go of it. */
typedef struct edge_conn {
  struct sx_edge *e;
  struct edge_conn *next_old; /* in e->old while closing */
  uv_tcp_t tcp;
  uv_timer_t linger; /* forces the close when a shutdown does not finish */
  uv_connect_t creq;
  uv_shutdown_t sreq;
  uv_getaddrinfo_t gai;
  int open_handles;
  int tcp_inited, closing, resolving;
  sx_tls *tls;
} edge_conn;

struct sx_edge {
  uv_loop_t *loop;
  char *domain, *host, *secret;
  unsigned port, backoff_min_ms, backoff_max_ms, keepalive_s, dead_after_s;
  size_t max_message_bytes;
  char *const *served;
  size_t n_served;
  sx_edge_cbs cbs;
  void *ud;

  size_t max_stanza_bytes;
  int tls;
  char *server_name;
  sx_tls_ctx *tls_ctx;
  edge_conn *conn;  /* the current connection, NULL while idle */
  edge_conn *old;   /* released connections still closing */
  sx_xstream *xs;   /* the current connection's parser */
  sx_xstream *xs_done; /* a parser whose connection ended inside its own callback */
  int in_feed;
  hs_phase phase;
  int closed_stream; /* our </stream:stream> was written on this connection */
  char rbuf[65536];  /* libuv read buffer (one read at a time on one thread) */

  uv_timer_t tick, retry;
  uv_idle_t flush;   /* writes the turn's output in the next libuv run */
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
  link_state state;
  int stopping, free_pending;
  int handles_open; /* the edge's timers and idle, and every connection's handles */
  int timers_closing;

  uint64_t up_since, last_read, last_write, last_ws, last_ping, retry_at, attempt_at;
  uint64_t stop_at;    /* when sx_edge_stop sent </stream:stream> */
  uint64_t fast_until; /* failed attempts retry within 1 s until then */
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

/* Writes bytes to the current connection (through TLS when on); nothing without one. */
void edge_conn_write(sx_edge *e, const char *data, size_t len);

/* Every tracked stanza not yet confirmed fails (on_confirm ok=0): the link went down. */
void edge_fail_tracked(sx_edge *e);

/* The barrier iq `id` ("sx-b-TAG-SEQ-HOPS": TAG this link's barrier_tag in hex, SEQ the
 * batch, HOPS how often another instance passed it on) came back. Ours: confirms every
 * tracked batch up to SEQ as routed. Another instance's: sent on to the domain with HOPS+1,
 * dropped after 64 hops. Ignores a malformed id. */
void edge_barrier_returned(sx_edge *e, const char *id);

/* One inbound first-level element of an up stream (edge_inbound.c): <message/>, <presence/>
 * and <iq/> in the stream's namespace are handled, anything else is ignored. */
void edge_inbound_stanza(sx_edge *e, const sx_xel *st);

/* Parses plaintext bytes from the server as the socket delivered them (edge.c). On a
 * stream error the edge answers it, closes the connection and schedules a reconnect. */
void edge_input(sx_edge *e, const char *data, size_t len);
/* Parses what the parser held back (see sx_xstream_held); the tick calls it. */
void edge_input_flush(sx_edge *e);

/* For tests/fuzz/fuzz_edge.c: an edge that never connects; its parser waits for the
 * server's stream header as after a connect, and its output is discarded. */
sx_edge *edge_new_detached(uv_loop_t *loop, const sx_edge_params *p, const sx_edge_cbs *cbs,
                           void *ud);

#endif
