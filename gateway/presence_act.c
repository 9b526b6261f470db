/* One instance acts on a shared change (PostgreSQL store, several instances): an admin's
 * `contact add` that approves a waiting request, a `contact remove`, a policy that revokes or
 * restores a relation. Every instance sees the change in the store and keeps its own part
 * (its SIP dialogs, its watcher counts); the XMPP stanzas to the contact are sent by the
 * instance holding the user's lease "fanout:<user>" only (the lease is also taken for this
 * when the user has no watcher). An instance that does not hold it owes the stanzas and asks
 * for the lease:
 *   - an approval is owed as long as the relation in the store still waits for it (added,
 *     request pending, allowed): the holder's write of the approval ends it; an instance that
 *     takes the lease over from a holder that died first approves it;
 *   - the stanzas of a removal or a policy change are owed for PRES_ACT_OWED_MS: longer than
 *     a lapsed lease takes to be taken over, shorter than PRES_ACT_GRACE_MS, the time the
 *     acting instance keeps the lease after acting. So an instance taking the lease within
 *     the owed time took it from a holder that stopped before acting (and acts); one that
 *     finds it held leaves the stanzas to the holder.
 * With one instance (SQLite store, no leases) the instance always holds: nothing is owed. */
#include "gateway/presence_internal.h"

#include <stdlib.h>
#include <string.h>

#include "gateway/access.h"
#include "translate/log.h"

/* owed: the XMPP stanza bits of a step (SX_RA_XMPP_*), or the approval */
#define OWED_APPROVAL (1u << 31)

struct pres_owed {
  struct pres_owed *next;
  char *contact;
  unsigned what;
  uint64_t until; /* loop ms; 0: while the store row waits for the approval */
};

#define STANZA_BITS                                                                      \
  (SX_RA_XMPP_SUBSCRIBE | SX_RA_XMPP_SUBSCRIBED | SX_RA_XMPP_UNSUBSCRIBE |             \
   SX_RA_XMPP_UNSUBSCRIBED | SX_RA_XMPP_UNAVAILABLE)

static void act_list_add(sx_pres_gw *P, puser *u) {
  if (u->act_listed) return;
  u->act_listed = 1;
  u->act_next = P->acting;
  P->acting = u;
}

static void owed_free(struct pres_owed *o) {
  free(o->contact);
  free(o);
}

static int approval_waits(sx_pres_gw *P, const sx_relent *e) {
  sx_decision d;
  if (!e || !e->rel.added || e->rel.in != SX_IN_PENDING || e->rel.suspended) return 0;
  sx_decide_with_relation(sx_access_snap(P->gw->access), e->user, pres_domain_of(e->contact),
                          e->rel, SX_DIR_IN, SX_KIND_SUBSCRIBE, &d);
  return d.verdict == SX_ALLOW;
}

static void owe(sx_pres_gw *P, sx_relent *e, unsigned what, uint64_t until) {
  puser *u = pres_user(P, e->user);
  struct pres_owed *o;
  if (!u) {
    sx_err("presence", "out of memory: %s / %s left to the other instances", e->user,
           e->contact);
    return;
  }
  for (o = u->owed; o; o = o->next)
    if (strcmp(o->contact, e->contact) == 0 &&
        (o->what & OWED_APPROVAL) == (what & OWED_APPROVAL))
      break;
  if (o) {
    o->what |= what;
    if (o->until && until > o->until) o->until = until;
  } else {
    if (!(o = calloc(1, sizeof *o)) || !(o->contact = strdup(e->contact))) {
      free(o);
      sx_err("presence", "out of memory: %s / %s left to the other instances", e->user,
             e->contact);
      return;
    }
    o->what = what;
    o->until = until;
    o->next = u->owed;
    u->owed = o;
  }
  sx_debug("presence", "%s / %s: %s owed until this instance holds the user's lease", e->user,
           e->contact, (what & OWED_APPROVAL) ? "approval" : "stanzas");
  act_list_add(P, u);
  pres_lease_want(P, u);
}

void pres_act_owe_approval(sx_pres_gw *P, sx_relent *e) { owe(P, e, OWED_APPROVAL, 0); }

void pres_act_owe_stanzas(sx_pres_gw *P, sx_relent *e, unsigned stanzas) {
  owe(P, e, stanzas & STANZA_BITS, sx_gw_now(P->gw) + PRES_ACT_OWED_MS);
}

void pres_act_done(sx_pres_gw *P, puser *u) {
  if (!P->leases || !u) return;
  u->act_until = sx_gw_now(P->gw) + PRES_ACT_GRACE_MS;
  act_list_add(P, u);
}

int pres_act_wanted(const sx_pres_gw *P, const puser *u) {
  return u && (u->owed || (u->act_until && u->act_until > sx_gw_now(P->gw)));
}

static void send_owed(sx_pres_gw *P, const char *user, const char *contact, unsigned a) {
  if (a & SX_RA_XMPP_SUBSCRIBE) pres_send_type(P, user, contact, SX_PRES_SUBSCRIBE);
  if (a & SX_RA_XMPP_SUBSCRIBED) pres_send_type(P, user, contact, SX_PRES_SUBSCRIBED);
  if (a & SX_RA_XMPP_UNSUBSCRIBE) pres_send_type(P, user, contact, SX_PRES_UNSUBSCRIBE);
  if (a & SX_RA_XMPP_UNSUBSCRIBED) pres_send_type(P, user, contact, SX_PRES_UNSUBSCRIBED);
  if (a & SX_RA_XMPP_UNAVAILABLE) pres_send_type(P, user, contact, SX_PRES_UNAVAILABLE);
}

void pres_act_acquired(sx_pres_gw *P, puser *u) {
  struct pres_owed *o = u->owed, *next;
  uint64_t now = sx_gw_now(P->gw);
  u->owed = NULL;
  for (; o; o = next) {
    next = o->next;
    if (o->what & OWED_APPROVAL) {
      sx_relent *e = sx_reltab_find(P->rt, u->key, o->contact);
      if (approval_waits(P, e)) {
        sx_decision d;
        sx_rel with = e->rel;
        with.added = 1;
        sx_decide_with_relation(sx_access_snap(P->gw->access), e->user,
                                pres_domain_of(e->contact), with, SX_DIR_IN,
                                SX_KIND_SUBSCRIBE, &d);
        sx_info("presence", "%s / %s: approval taken over with the user's lease", u->key,
                o->contact);
        pres_step(P, e, SX_REV_ADMIN_ADD, &d, d.verdict); /* holds now: acts */
      }
    } else if (o->until > now) {
      sx_info("presence", "%s / %s: stanzas of a change taken over with the user's lease",
              u->key, o->contact);
      send_owed(P, u->key, o->contact, o->what);
      pres_act_done(P, u);
    }
    owed_free(o);
  }
}

/* Drops what is no longer owed and gives up leases kept only for acting. */
void pres_act_sweep(sx_pres_gw *P) {
  uint64_t now = sx_gw_now(P->gw);
  puser **pp = &P->acting;
  while (*pp) {
    puser *u = *pp;
    struct pres_owed **op = &u->owed;
    while (*op) {
      struct pres_owed *o = *op;
      int drop;
      if (o->what & OWED_APPROVAL)
        drop = !approval_waits(P, sx_reltab_find(P->rt, u->key, o->contact));
      else
        drop = o->until <= now;
      if (drop) {
        sx_debug("presence", "%s / %s: no longer owed here", u->key, o->contact);
        *op = o->next;
        owed_free(o);
      } else {
        op = &o->next;
      }
    }
    if (u->act_until && u->act_until <= now) u->act_until = 0;
    if (u->owed || u->act_until) {
      pp = &u->act_next;
      continue;
    }
    *pp = u->act_next;
    u->act_next = NULL;
    u->act_listed = 0;
    if (!u->watchers) pres_lease_release(P, u); /* kept for acting only */
  }
}

void pres_act_free_user(puser *u) {
  struct pres_owed *o, *next;
  for (o = u->owed; o; o = next) {
    next = o->next;
    owed_free(o);
  }
  u->owed = NULL;
}
