/* The daemon's state, shared by its parts: main (lifecycle), relay_sip (SIP → XMPP),
 * relay_xmpp (XMPP → SIP), access (the policy snapshot). Only gateway/ knows every library. */
#ifndef SX_GATEWAY_GATEWAY_H
#define SX_GATEWAY_GATEWAY_H
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "gateway/loop.h"
#include "sip/sip.h"
#include "gateway/stanza_id.h"
#include "translate/im.h"
#include "translate/policy.h"
#include "translate/quiet.h"
#include "xmpp/edge.h"

typedef struct sx_access sx_access;
typedef struct sx_http sx_http;
typedef struct sx_instance sx_instance;
typedef struct sx_admin sx_admin;
typedef struct sx_pres_gw sx_pres_gw;
typedef struct xq_item xq_item;

typedef struct sx_gw {
  sx_config cfg;
  sx_loop loop;
  sx_sip *sip;
  sx_edge **edges; /* one per served domain, same order as cfg.domains */
  size_t n_edges;
  sx_stanza_ids *ids; /* stanza ids of messages sent to XMPP → their SIP senders */
  sx_access *access;
  sx_instance *instance; /* heartbeat row in the store (gateway/instance.h) */
  sx_quiet *chat_quiet; /* SIP users who refused typing notifications, until when */
  sx_http *http;
  sx_admin *admin; /* the web console ([admin] listen), or NULL */
  sx_pres_gw *pres; /* presence (gateway/presence.h) */
  char *warn_agent; /* warn-agent of our Warning headers */
  uv_signal_t sig_term, sig_int, sig_hup;
  /* XMPP → SIP messages waiting for a transaction slot (FIFO). */
  xq_item *xq_head, *xq_tail;
  size_t xq_len;
} sx_gw;

/* Milliseconds of the loop clock. */
uint64_t sx_gw_now(sx_gw *gw);
/* The edge link serving `domain` (served domain, any case), or NULL. */
sx_edge *sx_gw_edge(sx_gw *gw, const char *domain);

/* SIP → XMPP: the on_request callback of the SIP adapter. */
void sx_relay_sip_request(void *ud, const sx_sip_request *rq, sx_sip_txn *txn);
/* The adapter's trusted callback: the source is inside [sip] trusted_peers. */
int sx_relay_sip_trusted(void *ud, int family, const void *addr);
/* The edge confirmed (or lost) a stanza sent for a MESSAGE: answer 202 (or 503). */
void sx_relay_sip_confirm(void *ud, sx_edge *edge, void *token, int ok);
/* Sends a notice MESSAGE (delivery-failure text, IMDN) to a SIP user; its outcome is logged.
 * in_reply_to (may be NULL): the Call-ID of the message the notice is about. */
void sx_relay_sip_notice(sx_gw *gw, const char *from, const char *to_uri,
                         const char *content_type, const char *body, const char *in_reply_to);

/* XMPP → SIP: the on_message callback of the edge links, and SIP responses. */
void sx_relay_xmpp_message(void *ud, sx_edge *edge, const sx_xmsg *m);
void sx_relay_sip_response(void *ud, void *req_ud, int status, const char *phrase,
                           const char *warning);
/* Drops queued XMPP → SIP messages at shutdown, answering each sender. */
void sx_relay_xmpp_drain(sx_gw *gw);

#endif
