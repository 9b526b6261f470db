/* Presence both ways (SPEC §4, issue 6), wired into the daemon: the loop-owned relation
 * table (translate/reltab.h) decided by the core's state machine (translate/relation_fsm.h)
 * against the policy snapshot (gateway/access.h), the SIP dialogs of sip/presence.h, and
 * presence stanzas on the edge links.
 *
 *   gateway/presence.c            lifecycle, the per-user objects, carrying out the state
 *                                 machine's actions, resync, policy changes, shutdown
 *   gateway/presence_sip_watch.c  SIP watchers of XMPP contacts (SUBSCRIBE → XMPP
 *                                 subscription, contact presence → NOTIFY)
 *   gateway/presence_fanout.c     XMPP watchers of SIP users (subscribe/probe/unsubscribe,
 *                                 one fan-out SUBSCRIBE per user, NOTIFY → presence)
 *   gateway/presence_store.c      the write-through of relation changes, off the loop
 *   gateway/presence_lease.c      (PostgreSQL store) each fan-out under a lease in the store
 *   gateway/presence_forward.c    (PostgreSQL store) presence between instances over
 *                                 LISTEN/NOTIFY
 *
 * Ownership: gw->pres belongs to the daemon (sx_pres_start / sx_pres_free). Everything runs
 * on the loop thread except the store's statements (relation writes, leases, notices sent),
 * which run in libuv's pool, each part with its own store handle. */
#ifndef SX_GATEWAY_PRESENCE_H
#define SX_GATEWAY_PRESENCE_H
#include "gateway/gateway.h"

/* After SIP, the access snapshot and the edges exist: loads the relations, takes the SIP
 * presence dialogs over. 0, or -1 (logged). */
int sx_pres_start(sx_gw *gw);
/* SIGTERM: `unavailable` from every internal user to its approved watchers, NOTIFY
 * terminated;reason=deactivated to every SIP dialog, Expires: 0 on every fan-out. The
 * caller then turns the loop so they leave, and closes the links. */
void sx_pres_shutdown(sx_gw *gw);
/* 1 once no NOTIFY is in flight or waiting (after sx_pres_shutdown). */
int sx_pres_flushed(sx_gw *gw);
/* Releases everything (before sx_sip_free). Pending store writes are finished first. */
void sx_pres_free(sx_gw *gw);

/* For the status document: relations in the loop's table, and SIP presence dialogs now
 * (watchers' dialogs and fan-out subscriptions). Zeros before sx_pres_start. */
void sx_pres_counts(sx_gw *gw, size_t *relations, size_t *dialogs);
/* Fan-out leases this instance holds now (PostgreSQL store), -1 without leases (SQLite). */
long sx_pres_leases_held(sx_gw *gw);

/* A SUBSCRIBE reached on_request (a new dialog; in-dialog ones never do). */
void sx_pres_sip_subscribe(sx_gw *gw, const sx_sip_request *rq, sx_sip_txn *txn);
/* The edge's on_presence callback. */
void sx_pres_on_presence(void *ud, sx_edge *edge, const sx_presence *p);
/* An edge link came up (resync) or went down. */
void sx_pres_edge_state(sx_gw *gw, sx_edge *edge, int up);

#endif
