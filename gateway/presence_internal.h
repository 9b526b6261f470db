/* Shared by the gateway's presence files (see gateway/presence.h). */
#ifndef SX_GATEWAY_PRESENCE_INTERNAL_H
#define SX_GATEWAY_PRESENCE_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "gateway/gateway.h"
#include "gateway/presence.h"
#include "sip/presence.h"
#include "translate/presence.h"
#include "translate/presence_agg.h"
#include "translate/relation_fsm.h"
#include "translate/reltab.h"

/* Per relation (sx_relent.data): the user's SIP dialogs watching the contact and the
 * contact's presence as last seen. */
typedef struct relx {
  sx_sip_watch **w;
  size_t nw, cap;
  sx_sip_watch **fetch; /* Expires: 0 dialogs waiting for a probe's answer */
  size_t nfetch, fetch_cap;
  uint64_t fetch_deadline;
  sx_pres_agg agg;
  int joined; /* counted in the user's fan-out watchers */
  uint64_t pending_since; /* loop ms when the relation became pending; 0 not pending */
  /* A SIP dialog of the relation lived on this instance while it was pending: with several
   * instances, only such an instance forgets the gateway's own unanswered request (the
   * others cannot tell whether its watchers still want it; presence_expiry.c). */
  int watched;
} relx;

/* Per internal user: the outbound (SIP watchers) side lives in its relations; the inbound
 * side (XMPP watchers of this user) is the fan-out and the user's presence as the presence
 * server last told it. */
typedef struct puser {
  struct puser *next; /* hash chain */
  char *key;          /* canonical bare key, also the user's bare JID */
  char *domain;
  sx_sip_fanout *fo;
  unsigned watchers;  /* joined relations */
  sx_presence cur;    /* type/show/priority/statuses from the last NOTIFY */
  int cur_known;
  int lease;          /* PRES_LEASE_*: the fan-out's lease (PostgreSQL store only) */
  char *lease_name;   /* "fanout:<key>", set when first wanted */
  /* shared changes (presence_act.c): what this instance owes while it does not hold the
   * lease; until when it keeps the lease after acting (loop ms, 0: not kept) */
  struct pres_owed *owed;
  uint64_t act_until;
  struct puser *act_next; /* P->acting */
  int act_listed;
} puser;

enum { PRES_LEASE_NONE = 0, PRES_LEASE_ACQUIRING, PRES_LEASE_HELD };
/* A lease lives PRES_LEASE_TTL_MS after its last renewal; renewals and acquisition attempts
 * run every PRES_LEASE_TICK_MS: another instance takes a fan-out over at most
 * TTL + TICK (8 s) after its holder stopped. */
#define PRES_LEASE_TTL_MS 6000
#define PRES_LEASE_TICK_MS 2000
/* Stanzas of a shared change are owed by an instance without the lease for
 * PRES_ACT_OWED_MS (TTL + TICK, within which a lapsed lease is taken over, and room for a
 * slow store); the acting instance keeps the lease PRES_ACT_GRACE_MS after acting
 * (> OWED_MS + the snapshots' lag), so an instance that still owes them never takes the
 * lease from one that acted. */
#define PRES_ACT_OWED_MS 15000
#define PRES_ACT_GRACE_MS 20000

typedef struct pres_leases pres_leases;
typedef struct pres_forward pres_forward;

typedef struct store_job store_job;

typedef struct sx_pres_gw {
  sx_gw *gw;
  sx_sip_pres *sp;
  sx_reltab *rt;
  puser **ub;
  size_t unb, un;
  uv_timer_t poll; /* snapshot changes, fetch deadlines */
  int64_t snap_gen;
  /* while a change read from the store is stepped: the store's row (a step that ends in it
   * writes nothing back, so a later change by someone else is not overwritten) */
  const sx_rel *store_row;
  const sx_relent *store_ent; /* the relation store_row is of */
  int shutting_down;
  int resyncing;            /* a RESYNC walk is running */
  unsigned exclude_dialogs; /* dialogs of the triggering request, not counted by pres_step */
  sx_sip_watch *notify_only; /* set: NOTIFY actions go to this new dialog only */
  /* relations with fetches waiting for a probe's answer */
  sx_relent **fetching;
  size_t nfetching, fetching_cap;
  /* store writer */
  void *writer;
  pres_leases *leases;   /* NULL: no leases (SQLite store, one instance) */
  pres_forward *forward; /* NULL: nothing forwarded (SQLite store) */
  int forward_probe;     /* set while a probe is stepped: a non-holder forwards it */
  /* subscribes for relations not known here, held until the snapshot has caught up */
  struct deferred_pres *deferred, **deferred_tail;
  size_t ndeferred;
  int replaying;
  puser *acting; /* users owing or keeping their lease for a shared change (presence_act.c) */
  uint64_t next_sweep; /* loop ms of the next sweep of unanswered requests */
} sx_pres_gw;

/* gateway/presence.c */
relx *pres_relx(sx_relent *e);                /* e->data, created; NULL on ENOMEM */
puser *pres_user(sx_pres_gw *P, const char *user_key); /* created; NULL on ENOMEM */
puser *pres_user_find(sx_pres_gw *P, const char *user_key);
const char *pres_domain_of(const char *bare_key);
void pres_decide(sx_pres_gw *P, sx_relent *e, sx_pdir dir, sx_kind kind, sx_decision *d);
/* Runs one state machine step and carries out its actions (SIP refusal excepted: the
 * caller does it when SX_RA_REFUSE is set). Returns the actions. */
unsigned pres_step(sx_pres_gw *P, sx_relent *e, sx_rel_event ev, const sx_decision *d,
                   sx_verdict verdict);
/* A presence stanza of type t from the user's bare JID to the contact. */
void pres_send_type(sx_pres_gw *P, const char *user, const char *contact, sx_pres_type t);
void pres_send_error(sx_pres_gw *P, const char *user, const char *contact,
                     const char *condition);
/* Sends p (from/to filled by the caller) on the user's edge; 0 sent, -1 not. */
int pres_send(sx_pres_gw *P, const sx_presence *p);

/* gateway/presence_sip_watch.c */
void pres_watch_notify_all(sx_pres_gw *P, sx_relent *e, const char *state);
void pres_watch_terminate_all(sx_pres_gw *P, sx_relent *e, const char *reason);
void pres_watch_contact_presence(sx_pres_gw *P, sx_relent *e, const sx_presence *p,
                                 const char *resource);
void pres_watch_fetch_timeouts(sx_pres_gw *P, uint64_t now);
void pres_watch_on_refresh(void *ud, sx_sip_watch *w, void *watch_ud, unsigned expires);
void pres_watch_on_end(void *ud, sx_sip_watch *w, void *watch_ud, sx_watch_end why);
/* A contact's available/unavailable handled by another instance: this instance's dialogs
 * of the relation (if any) get the new state; no state machine step. */
void pres_watch_remote_presence(sx_pres_gw *P, sx_relent *e, const sx_presence *p,
                                const char *resource);

/* gateway/presence_fanout.c */
void pres_fanout_join(sx_pres_gw *P, sx_relent *e);
void pres_fanout_leave(sx_pres_gw *P, sx_relent *e);
void pres_fanout_send_current(sx_pres_gw *P, sx_relent *e, int strip);
void pres_fanout_inbound(sx_pres_gw *P, sx_relent *e, const sx_presence *p);
int pres_fanout_on_notify(void *ud, sx_sip_fanout *f, void *fanout_ud,
                          const sx_sip_notify_in *n);
void pres_fanout_on_answer(void *ud, sx_sip_fanout *f, void *fanout_ud, int status,
                           unsigned retry_ms);
void pres_fanout_restart_all(sx_pres_gw *P, const char *domain);
/* Starts the user's fan-out (the lease, if any, is held) / ends it (Expires: 0) and forgets
 * the user's presence. */
void pres_fanout_start(sx_pres_gw *P, puser *u);
void pres_fanout_stop(sx_pres_gw *P, puser *u);
/* A probe forwarded by another instance: the current presence to the contact if this
 * instance holds the user's fan-out and the contact is an approved watcher. */
void pres_fanout_remote_probe(sx_pres_gw *P, const char *user, const char *contact);

/* gateway/presence_lease.c: fan-out leases (PostgreSQL store). start: 0 (P->leases NULL on
 * SQLite) or -1. want: the user needs its fan-out (acquired at once, then every tick while
 * held elsewhere). release: the user's last watcher left. holds: 1 when this instance may
 * run the user's fan-out (always without leases). stop: before the users are freed. */
int pres_lease_start(sx_pres_gw *P);
void pres_lease_want(sx_pres_gw *P, puser *u);
void pres_lease_release(sx_pres_gw *P, puser *u);
int pres_lease_holds(const sx_pres_gw *P, const puser *u);
void pres_lease_counts(const sx_pres_gw *P, size_t *held, unsigned long *acquired,
                       unsigned long *lost);
void pres_lease_stop(sx_pres_gw *P);

/* gateway/presence_forward.c: presence between instances over the database's notification
 * channel (PostgreSQL LISTEN/NOTIFY; P->forward NULL on SQLite). contact_presence: a
 * contact's available/unavailable (or, when this instance has no relation for it,
 * subscribed/unsubscribed) for the instances holding SIP dialogs of that relation; probe:
 * for the instance holding the user's fan-out. */
int pres_forward_start(sx_pres_gw *P);
void pres_forward_contact_presence(sx_pres_gw *P, const char *user, const sx_presence *p);
void pres_forward_probe(sx_pres_gw *P, const char *user, const char *contact);
void pres_forward_counts(const sx_pres_gw *P, unsigned long *sent, unsigned long *received);
void pres_forward_stop(sx_pres_gw *P);

/* gateway/presence_act.c: shared changes acted on by the lease holder only (see the file).
 * owe_approval / owe_stanzas: this instance does not hold the user's lease; the
 * approval (while due) / the stanza bits (SX_RA_XMPP_*, for PRES_ACT_OWED_MS) are carried out
 * if it takes the lease. done: this instance acted (it keeps the lease for
 * PRES_ACT_GRACE_MS). wanted: the lease is wanted for acting. acquired: the lease was just
 * taken: what is owed is carried out. sweep: from the poll timer. free_user: at the end. */
void pres_act_owe_approval(sx_pres_gw *P, sx_relent *e);
void pres_act_owe_stanzas(sx_pres_gw *P, sx_relent *e, unsigned stanzas);
void pres_act_done(sx_pres_gw *P, puser *u);
int pres_act_wanted(const sx_pres_gw *P, const puser *u);
void pres_act_acquired(sx_pres_gw *P, puser *u);
void pres_act_sweep(sx_pres_gw *P);
void pres_act_free_user(puser *u);

/* gateway/presence_metrics.c: the exposition hook (sx_metrics_set_extra) */
void pres_metrics_render(void *ud, FILE *f);

/* gateway/presence_store.c */
int pres_store_start(sx_pres_gw *P, const char *path);

/* presence_expiry.c: unanswered requests ([federation] subscription_refresh_s). note: after
 * e->rel changed from `before` (restarts the pending time); sweep: from the poll timer. */
void pres_expiry_note(sx_pres_gw *P, sx_relent *e, sx_rel before);
void pres_expiry_sweep(sx_pres_gw *P);
void pres_store_write(sx_pres_gw *P, sx_relent *e, uint64_t ticket);
void pres_store_stop(sx_pres_gw *P);

#endif
