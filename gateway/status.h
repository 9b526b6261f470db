/* The daemon's status document, served as GET /status on [http] listen and read by
 * `sipxmppctl status` (SPEC §8):
 *
 *   {"version", "started" (UTC), "uptime_s", "ok" (SIP listening and every link up),
 *    "edge": [{"domain", "host", "port", "state" up|down, "since" (UTC), "since_s",
 *              "reconnects", "attempts", "tls", "last_error",
 *              "unconfirmed" (stanzas sent and not yet confirmed by the edge)}],
 *    "sip": {"listening", "listen": [URI...], "outbound_proxy", "in_flight", "queued"},
 *    "messages": {"sip_to_xmpp": {"accepted", "delivered", "refused", "failed",
 *                                 "rejected_busy"}, "xmpp_to_sip": {...}},
 *    "refusals": {"sip_to_xmpp": {REASON: N}, "xmpp_to_sip": {...}},
 *    "presence": {"relations", "dialogs"},
 *    "store": {"path", "generation"}}
 *
 * The one builder of these facts: the web console's status (admin_status.c) is this
 * document plus its message rates. Single-threaded: called on the loop thread. */
#ifndef SX_GATEWAY_STATUS_H
#define SX_GATEWAY_STATUS_H
#include <stddef.h>

#include <cjson/cJSON.h>

#include "gateway/gateway.h"

/* Records the start time. Call once before the loop runs. */
void sx_status_init(void);
/* A link came up or went down (from the edge's on_state callback): its "since". */
void sx_status_link(const char *domain, int up);
/* The document as a new cJSON object (caller deletes), or NULL when out of memory. */
cJSON *sx_status_doc(sx_gw *gw);
/* The document as a malloc'd JSON string (caller frees), or NULL when out of memory.
 * Matches sx_status_fn (ud is the sx_gw). */
char *sx_status_json(void *gw, size_t *len);
/* Forgets the link table (shutdown). */
void sx_status_reset(void);

#endif
