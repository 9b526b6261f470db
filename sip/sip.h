/* The SIP adapter: Sofia-SIP's transaction layer (nta) on the daemon's su_root.
 *
 * Incoming requests are turned into a plain sx_sip_request (borrowed: valid only during the
 * callback) and answered with sx_sip_reply(). Outgoing MESSAGEs are built from a plain
 * sx_sip_out and their final response reported through on_response.
 *
 * Ownership: sx_sip_new copies what it keeps from its arguments; sx_sip_free releases it.
 * Every string in the callback structs is borrowed from Sofia's message and dies with it. */
#ifndef SX_SIP_SIP_H
#define SX_SIP_SIP_H
#include <stddef.h>
#include <stdint.h>

#include <sofia-sip/su_wait.h>

typedef struct sx_sip sx_sip;
typedef struct sx_sip_txn sx_sip_txn; /* an incoming transaction awaiting sx_sip_reply */

typedef struct sx_sip_request {
  const char *method;           /* "MESSAGE" */
  const char *request_uri;      /* as text */
  const char *from_uri;         /* From URI as text (no display name, no tag) */
  const char *to_uri;
  const char *call_id;
  const char *subject;          /* first Subject or NULL */
  const char *content_type;     /* media type "type/subtype" as received, or NULL */
  const char *charset;          /* Content-Type charset parameter value, or NULL */
  const char *content_language; /* first Content-Language tag, or NULL */
  const char *body;             /* not NUL-terminated; NULL when empty */
  size_t body_len;
  int src_family;               /* AF_INET / AF_INET6 */
  uint8_t src_addr[16];         /* network byte order */
  const char *src_text;         /* "addr:port" for logs */
} sx_sip_request;

/* Extra headers of a reply; NULL members are omitted. */
typedef struct sx_sip_reply_hdrs {
  const char *warning;     /* full Warning value: 399 host "text" */
  const char *retry_after; /* seconds */
  const char *accept;
  const char *allow;
  /* Dialog-creating answers (sip/presence.h): a To tag to add, Contact, Expires,
   * Min-Expires (423). */
  const char *to_tag;
  const char *contact;
  const char *expires;
  const char *min_expires;
} sx_sip_reply_hdrs;

typedef struct sx_sip_out {
  const char *request_uri; /* required */
  const char *from;        /* From URI, required; the adapter adds a tag */
  const char *to;          /* To URI; defaults to request_uri */
  const char *call_id;     /* NULL → generated */
  const char *subject;
  const char *content_type; /* full value, e.g. "text/plain;charset=UTF-8" */
  const char *content_language;
  const char *body;        /* NUL-terminated */
  const char *in_reply_to; /* In-Reply-To: the Call-ID a notice is about, or NULL */
} sx_sip_out;

typedef struct sx_sip_cbs {
  /* An incoming request other than ACK/CANCEL/OPTIONS (answered by the adapter). The callee
   * must call sx_sip_reply exactly once: within the callback, or later after sx_sip_defer. */
  void (*on_request)(void *ud, const sx_sip_request *rq, sx_sip_txn *txn);
  /* The final response to sx_sip_send_message's request `req_ud`; warning may be NULL. */
  void (*on_response)(void *ud, void *req_ud, int status, const char *phrase,
                      const char *warning);
  /* Whether a request from this source (AF_INET/AF_INET6, network byte order) may reach an
   * existing dialog (in-dialog SUBSCRIBE and NOTIFY, sip/presence.h). An untrusted one goes
   * to on_request like a new request, which refuses it. NULL: every source may. */
  int (*trusted)(void *ud, int family, const void *addr);
} sx_sip_cbs;

typedef struct sx_sip_params {
  char *const *listen;     /* SIP URIs to bind */
  size_t n_listen;
  const char *outbound_proxy; /* every outgoing request goes through it */
  size_t max_message_bytes;   /* bodies larger are refused (413); a header section over
                                 64 KiB gets 513; past both Sofia answers 413 and closes */
  int debug;                  /* Sofia's own log at level 3+ */
  int tcp_rcvbuf;             /* SO_RCVBUF of accepted TCP connections (0: kernel default) */
  unsigned incomplete_timeout_ms; /* a stream connection whose request makes no progress for
                                     this long is closed (0: 32 s) */
} sx_sip_params;

/* Transport and parser counters of the SIP side (monotonic). */
typedef struct sx_sip_stats {
  uint64_t bad_messages; /* datagrams or stream bytes that did not parse as SIP: dropped */
  uint64_t bad_requests; /* requests with a header Sofia could not parse */
  uint64_t dropped;      /* requests nta dropped (overload, queue full) */
} sx_sip_stats;

void sx_sip_get_stats(const sx_sip *s, sx_sip_stats *out);

sx_sip *sx_sip_new(su_root_t *root, const sx_sip_params *p, const sx_sip_cbs *cbs, void *ud,
                   char *err, size_t errlen);
int sx_sip_reply(sx_sip *s, sx_sip_txn *txn, int status, const char *phrase,
                 const sx_sip_reply_hdrs *hdrs);
/* Within on_request: the reply comes later. Returns the transaction to pass to sx_sip_reply
 * from a later callback (the one given to on_request dies with the callback), or NULL when
 * out of memory (then reply at once). Retransmissions meanwhile are absorbed. */
sx_sip_txn *sx_sip_defer(sx_sip *s, sx_sip_txn *txn);
/* Returns 0 when the request was created, -1 otherwise (then no callback follows). */
int sx_sip_send_message(sx_sip *s, const sx_sip_out *m, void *req_ud);
/* Opens (open = 1) or closes (0) a batch of sends. While one is open, requests over a stream
 * transport to the outbound proxy are held in the kernel (TCP_CORK) and leave together, in as
 * few segments as fit, when it closes. The event loop opens one around the work of a turn
 * that never waits (libuv's callbacks: the edge's stanzas) and must close it before it
 * waits. */
void sx_sip_batch(sx_sip *s, int open);
/* Outgoing transactions still waiting for their final response. */
size_t sx_sip_in_flight(const sx_sip *s);
/* A counter that grows with every request and response handed to the callbacks (the event
 * loop uses it to tell a step that did work from one that only polled). */
unsigned long sx_sip_events(const sx_sip *s);
/* Stops listening (closes transports); pending outgoing transactions are abandoned with a
 * 503 reported through on_response. */
void sx_sip_free(sx_sip *s);

#endif
