/* The console's live status: the daemon's /status document (gateway/status.c: edge links,
 * SIP listeners, counters, refusals, presence) plus the messages per second by direction
 * over the last minute, which a 1 s timer on the loop samples into a 60-slot ring.
 *
 * Ownership: created and freed by the console (admin_http.c) on the loop thread;
 * sx_admin_status_json() returns a new cJSON object owned by the caller. */
#ifndef SX_GATEWAY_ADMIN_STATUS_H
#define SX_GATEWAY_ADMIN_STATUS_H
#include <cjson/cJSON.h>
#include <stdint.h>

#include "gateway/gateway.h"

#define SX_STATUS_SECONDS 60

typedef struct sx_admin_status sx_admin_status;

sx_admin_status *sx_admin_status_new(sx_gw *gw);
/* Stops the timer; the memory goes once libuv closed it (the loop must run once more). */
void sx_admin_status_free(sx_admin_status *st);

/* sx_status_doc() (status.h) plus
 *  "rates":{"sip_to_xmpp":{"per_second","last_minute":[60, oldest first]},"xmpp_to_sip":{...}},
 *  "domains":[...], "edge_server":{"host","port","secret":"set"|"not set"} (never the secret),
 *  "time" (unix). */
cJSON *sx_admin_status_json(sx_admin_status *st);

#endif
