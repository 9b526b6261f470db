/* The presence relation state machine (SPEC §4, issue 6): pure, decided by one table.
 *
 *   (relation state, event, policy verdict, context) → (new state, actions)
 *
 * The daemon owns the state (translate/reltab.h), computes the verdict with the policy
 * decision (translate/policy.h) for the operation named under each event below, calls
 * sx_rel_step(), then carries out the actions in the order of the SX_RA_* bits (low bit
 * first) and, when SX_RA_STORE_WRITE is set, stores the new state (conf/store.h
 * sx_store_relation_put(), off the loop) after recording it in its table.
 *
 * Ownership: plain values; every string in a result is static. No allocation, no state. */
#ifndef SX_TRANSLATE_RELATION_FSM_H
#define SX_TRANSLATE_RELATION_FSM_H
#include "translate/policy.h"
#include "translate/relation.h"

/* Events, for one (internal user, external bare JID). The verdict each expects (argument
 * `verdict` of sx_rel_step) is given as the sx_decide() arguments (direction, kind); "—"
 * means the verdict is ignored (pass SX_ALLOW). */
typedef enum {
  /* A SUBSCRIBE creating a dialog (Expires > 0) from the user to the contact. The SIP layer
   * steps it before answering: SX_RA_REFUSE → 403 + Warning and no dialog; otherwise 200
   * and the NOTIFY the actions name. Refreshes are SX_REV_SIP_REFRESH, fetches
   * SX_REV_SIP_FETCH. Verdict: (OUT, SUBSCRIBE). */
  SX_REV_SIP_SUBSCRIBE = 0,
  /* The user's last SIP dialog watching the contact ended (Expires: 0, expiry, 481,
   * timeout). —. */
  SX_REV_SIP_LAST_DIALOG_END,
  /* XMPP from the contact to the user's bare JID: */
  SX_REV_XMPP_SUBSCRIBED,   /* —  */
  SX_REV_XMPP_UNSUBSCRIBED, /* —  */
  SX_REV_XMPP_SUBSCRIBE,    /* (IN, SUBSCRIBE) */
  SX_REV_XMPP_UNSUBSCRIBE,  /* —  */
  SX_REV_XMPP_PROBE,        /* (IN, PROBE) */
  SX_REV_XMPP_PRESENCE,     /* available or unavailable from the contact; (IN, PRESENCE).
                               The daemon updates the contact's cache before the call. */
  /* The admin (sipxmppctl contact add/remove, seen by sx_reltab_reconcile()). ADD: the
   * contact entry now exists; verdict (IN, SUBSCRIBE) computed with the contact added.
   * REMOVE: the relation ends for good; —. */
  SX_REV_ADMIN_ADD,
  SX_REV_ADMIN_REMOVE,
  /* The relation's policy changed (after a snapshot swap): steps 1–2 of SPEC §5 now fail
   * (REVOKED) or pass again (RESTORED). —; the daemon decides which event with
   * sx_rel_allowed(). */
  SX_REV_POLICY_REVOKED,
  SX_REV_POLICY_RESTORED,
  /* Daemon start (after loading the table) or the edge link coming back. Verdict: steps 1–2
   * (sx_rel_allowed() as a verdict: SX_ALLOW or SX_DENY); sets or clears suspended. */
  SX_REV_RESYNC,
  /* SIGTERM: tell everyone the gateway goes away. —. State unchanged. */
  SX_REV_SHUTDOWN,
  /* A refresh SUBSCRIBE on an existing dialog (Expires > 0): the NOTIFY with the cached
   * state (pending while the XMPP subscription is not answered, else active). Verdict:
   * (OUT, SUBSCRIBE); a refusal ends the dialog (terminated;reason=rejected). State
   * unchanged. */
  SX_REV_SIP_REFRESH,
  /* A fetch (Expires: 0 in a new dialog). Verdict: (OUT, PROBE). With the contact's presence
   * cached: one NOTIFY terminated;reason=timeout carrying it. Otherwise an XMPP probe; the
   * SIP layer sends that NOTIFY with the answer, or closed after 1 s. State unchanged. */
  SX_REV_SIP_FETCH,
  SX_REV_COUNT
} sx_rel_event;

/* Actions, carried out low bit first. "The contact" is the external bare JID, "the user"
 * the internal user's bare JID (always the stanza's from). NOTIFY actions go to every SIP
 * dialog of this (user, contact) — none is fine. */
enum {
  SX_RA_REFUSE = 1u << 0,            /* refuse the triggering request as the decision says:
                                        SIP → decision.sip_status + Warning (the dialog is not
                                        created); XMPP → <presence type='error'> with
                                        decision.xmpp_condition, to the contact */
  SX_RA_STORE_WRITE = 1u << 1,       /* persisted parts changed: store result.next */
  SX_RA_XMPP_SUBSCRIBE = 1u << 2,    /* <presence type='subscribe'/> user → contact */
  SX_RA_XMPP_SUBSCRIBED = 1u << 3,   /* <presence type='subscribed'/> user → contact */
  SX_RA_XMPP_UNSUBSCRIBE = 1u << 4,  /* <presence type='unsubscribe'/> user → contact */
  SX_RA_XMPP_UNSUBSCRIBED = 1u << 5, /* <presence type='unsubscribed'/> user → contact */
  SX_RA_XMPP_PROBE = 1u << 6,        /* <presence type='probe'/> user → contact */
  SX_RA_XMPP_UNAVAILABLE = 1u << 7,  /* <presence type='unavailable'/> user → contact */
  SX_RA_XMPP_PRESENCE = 1u << 8,     /* the user's current presence (the fan-out's cache,
                                        <status/> stripped per the decision; unavailable when
                                        nothing is known) user → contact */
  SX_RA_NOTIFY_PENDING = 1u << 9,    /* NOTIFY Subscription-State: pending, no body */
  SX_RA_NOTIFY_ACTIVE = 1u << 10,    /* NOTIFY active with the contact's cached presence
                                        (PIDF of the aggregate; closed when nothing cached) */
  SX_RA_NOTIFY_TERMINATED = 1u << 11, /* NOTIFY terminated;reason=<result.reason>, dialogs end */
  SX_RA_FANOUT_JOIN = 1u << 12,      /* the contact is now an active approved watcher of the
                                        user: add it to the user's watcher set (idempotent);
                                        the first one establishes the fan-out subscription */
  SX_RA_FANOUT_LEAVE = 1u << 13,     /* no longer an active watcher: remove it (idempotent);
                                        the last one ends the fan-out (Expires: 0) */
};

typedef enum {
  SX_NR_NONE = 0,
  SX_NR_REJECTED,    /* "rejected" */
  SX_NR_DEACTIVATED, /* "deactivated" */
  SX_NR_TIMEOUT,     /* "timeout" (a fetch's NOTIFY; also the SIP layer's own on expiry) */
  SX_NR_NORESOURCE,  /* "noresource" (not emitted by the machine) */
} sx_notify_reason;

/* Facts about the daemon's other state the machine needs. */
typedef struct {
  unsigned sip_dialogs; /* live SIP dialogs of this (user, contact), the triggering one not
                           counted */
  int cached;           /* 1: the contact's presence is known (an available or unavailable
                           stanza arrived since the subscription stood or since start) */
} sx_rel_ctx;

typedef struct {
  sx_rel next;             /* the new state (== the old one when nothing changes) */
  unsigned actions;        /* SX_RA_* */
  sx_notify_reason reason; /* for SX_RA_NOTIFY_TERMINATED */
  const char *why;         /* static, for logs: "subscribe approved (partner type)", ... */
} sx_rel_result;

/* One step. ctx may be NULL (no dialogs, nothing cached). Never fails: an event that does
 * not apply in a state yields no action and the same state. */
void sx_rel_step(sx_rel cur, sx_rel_event ev, sx_verdict verdict, const sx_rel_ctx *ctx,
                 sx_rel_result *out);

/* The admin events a store change reported by sx_reltab_reconcile() (before: the daemon's
 * state, after: the store's) stands for, in the order to step them, written to ev; returns
 * their number (0..2):
 *   - SX_REV_ADMIN_REMOVE when the relation lost what only `contact remove` takes away (the
 *     row is gone, the added mark or a subscription state was dropped);
 *   - SX_REV_ADMIN_ADD when the contact is added in the store and was not (or was removed
 *     and added again between two snapshots: REMOVE, then ADD on REMOVE's result).
 * 0: nothing the daemon must act on (the table adopts the store's state). */
int sx_rel_admin_events(sx_rel before, sx_rel after, sx_rel_event ev[2]);

/* Steps 1–2 of SPEC §5 for a relation: 1 when the contact's domain is a partner and the user
 * is enabled for XMPP in snapshot s (the relation is not suspended), else 0. ext_domain: the
 * contact's domain. */
int sx_rel_allowed(const sx_policy_snap *s, const char *user_key, const char *ext_domain);

/* "sip_subscribe", "sip_last_dialog_end", "xmpp_subscribed", ..., "shutdown",
 * "sip_refresh", "sip_fetch";
 * "rejected", "deactivated", "timeout", "noresource", NULL for SX_NR_NONE (static). */
const char *sx_rel_event_name(sx_rel_event ev);
/* "refuse", "store_write", "xmpp_subscribe", "xmpp_subscribed", "xmpp_unsubscribe",
 * "xmpp_unsubscribed", "xmpp_probe", "xmpp_unavailable", "xmpp_presence", "notify_pending",
 * "notify_active", "notify_terminated", "fanout_join", "fanout_leave" for one SX_RA_* bit;
 * NULL for anything else (static). */
const char *sx_rel_action_name(unsigned action);
const char *sx_notify_reason_name(sx_notify_reason r);

#endif
