/* The edge link: one XEP-0114 component stream to the edge XMPP server per served domain
 * (SPEC §7) on the daemon's libuv loop: libuv TCP, OpenSSL when tls is on (from the first
 * byte, verified), expat with restricted, bounded XML (xmpp/edge_xml.h).
 *
 * - Reconnects: after a session that authenticated, within backoff_min_ms (jittered between
 *   half and all of it); while attempts themselves fail (refused, timed out, TLS or
 *   handshake refused) the delay doubles, capped at 1 s for the first 10 s after an
 *   authenticated session ended and at backoff_max_ms after that; after a stream error
 *   `conflict` or `not-authorized` it waits the maximum; a session the gateway ended with a
 *   stream error (hostile input) counts as a failed attempt. Never a tight loop.
 * - Any stream error (ours or the server's): </stream:stream>, TCP close, reconnect; tracked
 *   stanzas are failed (on_confirm ok=0) so SIP work in flight is answered.
 * - Whitespace keepalive when nothing was written for keepalive_s; the link is declared dead
 *   and reconnected when nothing has been read for dead_after_s (0 disables either), or
 *   when 32 MiB written are still unread by the server. An attempt is abandoned when the
 *   TCP connect takes 5 s or the whole handshake (TCP, TLS, component) 15 s.
 * - TCP_NODELAY and SO_KEEPALIVE on the socket.
 * - Inbound stanzas whose `from` is missing, malformed or in a served domain (a spoof), or
 *   whose `to` is missing or malformed, are dropped and logged without a reply (there is no
 *   one to answer). A message or iq get/set for another domain is answered with
 *   service-unavailable. None of these reach the callbacks. A <presence/> for a JID of
 *   this domain goes to on_presence (xmpp/edge_presence.c); one with an unknown type or
 *   show, or a bad priority or status, is dropped and logged.
 * - iq: answers XEP-0030 disco#info (identity gateway/sip for the domain, account/registered
 *   for a user JID; features disco#info, ping, receipts, chatstates), XEP-0199 ping, and
 *   service-unavailable for every other get/set itself; results and errors are consumed.
 * - Outbound: sx_edge_send() only accepts a stanza while the stream is up; it never queues
 *   while down (the caller answers 503 instead).
 * - Liveness: besides the whitespace, when nothing was read for keepalive_s the edge sends an
 *   XEP-0199 ping from its domain to its own domain; the server routes it back over the same
 *   stream, so its arrival proves the server still routes for the component. Any inbound
 *   byte counts as life.
 * - sx_edge_new sets SIGPIPE to SIG_IGN when it is still at its default disposition.
 * - Single-threaded: every function runs on the loop's thread. Callbacks may call
 *   sx_edge_send and sx_edge_stop, never sx_edge_free.
 *
 * Ownership: sx_edge objects are created by sx_edge_new and released by sx_edge_free (after
 * sx_edge_stop). Callbacks get borrowed pointers valid only during the call. */
#ifndef SX_XMPP_EDGE_H
#define SX_XMPP_EDGE_H
#include <stddef.h>
#include <uv.h>

#include "translate/presence.h"
#include "translate/xmsg.h"

typedef struct sx_edge sx_edge;

typedef struct sx_edge_params {
  const char *domain;    /* the component's JID: a served domain */
  const char *host;
  unsigned port;
  const char *secret;
  unsigned backoff_min_ms, backoff_max_ms;
  unsigned keepalive_s, dead_after_s;
  /* All served domains (for the spoofing check). Borrowed; must outlive the edge. */
  char *const *served;
  size_t n_served;
  /* The configured body limit. Informational only: the edge hands every structurally valid
   * message to on_message whatever its size; the callback applies the limit (SPEC §3). */
  size_t max_message_bytes;
  /* Bytes of one inbound stanza (or of the stream header); more ends the stream with
   * policy-violation. 0 = 512 KiB. */
  size_t max_stanza_bytes;
  /* TLS from the first byte. Verification is always on: the chain against ca_file (NULL:
   * the system store), the name against server_name (NULL: host; also sent as SNI).
   * cert_file + key_file: a client certificate for mutual TLS (both or neither). */
  int tls;
  const char *ca_file, *server_name, *cert_file, *key_file;
} sx_edge_params;

typedef struct sx_edge_stats {
  unsigned long connects;      /* handshakes completed */
  unsigned long disconnects;   /* an up stream went down */
  unsigned long attempts;      /* connection attempts */
  unsigned long in_messages;   /* messages handed to on_message */
  unsigned long in_iq_answered;
  unsigned long dropped_spoofed;   /* from in a served domain */
  unsigned long dropped_malformed; /* from/to missing or malformed, iq without id */
  unsigned long refused;       /* answered with an error (wrong domain, unserved iq) */
  unsigned long out_stanzas;   /* accepted by sx_edge_send */
  unsigned long stream_errors_sent;     /* the gateway ended the stream (hostile input) */
  unsigned long stream_errors_received; /* the server ended the stream with an error */
  /* Link state for status pages. */
  int tls;                 /* [edge] tls on */
  int tls_up;              /* the current session runs over verified TLS */
  char tls_session[64];    /* e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384"; "" when none */
  unsigned long long since_unix_ms; /* when the link last came up or went down; 0 never */
  char last_error[256];    /* why the link last went down or an attempt failed; "" none */
} sx_edge_stats;

typedef struct sx_edge_cbs {
  /* The stream came up (up=1) or went down (up=0). */
  void (*on_state)(void *ud, sx_edge *edge, int up);
  /* A <message/> for a JID of this domain, already checked: from/to present and valid. */
  void (*on_message)(void *ud, sx_edge *edge, const sx_xmsg *msg);
  /* A <presence/> for a JID of this domain, already checked like messages. */
  void (*on_presence)(void *ud, sx_edge *edge, const sx_presence *p);
  /* A stanza sent with sx_edge_send_tracked was routed by the server (ok=1), or the link
   * went down before that was known (ok=0). Called once per token. */
  void (*on_confirm)(void *ud, sx_edge *edge, void *token, int ok);
  /* An inbound stanza was dropped; reason is static snake_case ("spoofed_from",
   * "malformed_address", ...). */
  void (*on_drop)(void *ud, sx_edge *edge, const char *reason);
} sx_edge_cbs;

/* Creates the link and starts connecting. The strings in p are copied. NULL on failure
 * (logged; with TLS also an unreadable CA, certificate or key). */
sx_edge *sx_edge_new(uv_loop_t *loop, const sx_edge_params *p, const sx_edge_cbs *cbs,
                     void *ud);

/* Sends one serialised stanza (from sx_xmsg_serialize or similar). The text is copied.
 * Returns 0 if handed to the stream, -1 if the link is not up. */
int sx_edge_send(sx_edge *edge, const char *xml, size_t len);

/* As sx_edge_send, and tracks the stanza: XEP-0114 has no acknowledgements, so at the end of
 * a loop turn in which tracked stanzas were sent the link sends an iq from its domain to its
 * own domain (one at a time: stanzas sent while one is out wait for the next). The server
 * handles a stream's stanzas in order, so when that iq is routed back every stanza before
 * it has been routed on; on_confirm(token, 1) then fires for each.
 * If the link goes down first, on_confirm(token, 0). Returns 0, or -1 (not sent, no
 * callback) when the link is not up. */
int sx_edge_send_tracked(sx_edge *edge, const char *xml, size_t len, void *token);
/* Tracked stanzas not yet confirmed. */
size_t sx_edge_unconfirmed(const sx_edge *edge);

int sx_edge_is_up(const sx_edge *edge);
const char *sx_edge_domain(const sx_edge *edge);

/* While the link is down: milliseconds until the next connection attempt (at least 1000, for
 * a SIP Retry-After); 0 while up. */
unsigned sx_edge_retry_in_ms(const sx_edge *edge);

void sx_edge_get_stats(const sx_edge *edge, sx_edge_stats *out);

/* Closes the stream cleanly (</stream:stream>) and stops reconnecting. Asynchronous: the
 * stream ends when the server closes it, at most ~2 s later; on_state(up=0) is called then
 * if it was up. */
void sx_edge_stop(sx_edge *edge);
/* 1 once sx_edge_stop has finished: stream down, all of the edge's libuv handles closed. */
int sx_edge_is_closed(const sx_edge *edge);
/* Releases everything. Normally called once sx_edge_is_closed(); if the edge is not closed
 * yet it is torn down at once (socket shut down, no further callbacks) and the memory is
 * released by the last libuv close callback, so the loop must run once more (as it must
 * anyway before uv_loop_close). */
void sx_edge_free(sx_edge *edge);

#endif
