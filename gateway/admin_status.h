/* The console's live status: edge links (up/down, since when, reconnects), SIP listeners,
 * messages per second by direction over the last minute, refusals by reason, and the
 * presence figures (zero until presence is built). A 1 s timer on the loop samples the
 * counters into a 60-slot ring.
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

/* {"links":[{"domain","up","since","reconnects","attempts","tls","unconfirmed"}],
 *  "sip":{"listening","listen":[...],"in_flight"},
 *  "rates":{"sip_to_xmpp":{"per_second","last_minute":[60]},"xmpp_to_sip":{...}},
 *  "messages":{"sip_to_xmpp":{"accepted",...},...},
 *  "refusals":[{"direction","reason","count"}],
 *  "presence":{"available":false,"relations":0,"dialogs":0},
 *  "edge":{"host","port","secret":"set"}, "domains":[...], "uptime_s", "time"} */
cJSON *sx_admin_status_json(sx_admin_status *st);

#endif
