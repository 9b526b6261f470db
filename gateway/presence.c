/* Presence in the daemon: lifecycle, per-user objects, the state machine's actions, resync,
 * policy changes and shutdown (see gateway/presence.h). */
#include "gateway/presence_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/access.h"
#include "gateway/metrics.h"
#include "translate/address.h"
#include "translate/log.h"

#define POLL_MS 200

/* ---- per-user objects --------------------------------------------------------------- */

static uint64_t str_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h;
}

puser *pres_user_find(sx_pres_gw *P, const char *key) {
  puser *u;
  if (!P->unb) return NULL;
  for (u = P->ub[str_hash(key) & (P->unb - 1)]; u; u = u->next)
    if (strcmp(u->key, key) == 0) return u;
  return NULL;
}

static int users_grow(sx_pres_gw *P) {
  size_t nb = P->unb ? P->unb * 2 : 256, i;
  puser **b = calloc(nb, sizeof *b);
  if (!b) return -1;
  for (i = 0; i < P->unb; i++) {
    puser *u = P->ub[i], *next;
    for (; u; u = next) {
      next = u->next;
      u->next = b[str_hash(u->key) & (nb - 1)];
      b[str_hash(u->key) & (nb - 1)] = u;
    }
  }
  free(P->ub);
  P->ub = b;
  P->unb = nb;
  return 0;
}

puser *pres_user(sx_pres_gw *P, const char *key) {
  puser *u = pres_user_find(P, key);
  size_t h;
  if (u) return u;
  if (P->un + 1 > P->unb && users_grow(P) != 0) return NULL;
  u = calloc(1, sizeof *u);
  if (!u || !(u->key = strdup(key)) || !(u->domain = strdup(pres_domain_of(key)))) {
    if (u) free(u->key);
    free(u);
    return NULL;
  }
  h = str_hash(key) & (P->unb - 1);
  u->next = P->ub[h];
  P->ub[h] = u;
  P->un++;
  return u;
}

static void users_free(sx_pres_gw *P) {
  size_t i;
  for (i = 0; i < P->unb; i++) {
    puser *u = P->ub[i], *next;
    for (; u; u = next) {
      next = u->next;
      if (u->fo) sx_sip_fanout_free(u->fo);
      sx_presence_free(&u->cur);
      pres_act_free_user(u);
      free(u->lease_name);
      free(u->key);
      free(u->domain);
      free(u);
    }
  }
  free(P->ub);
  P->ub = NULL;
  P->unb = P->un = 0;
}

/* ---- helpers ------------------------------------------------------------------------ */

const char *pres_domain_of(const char *bare_key) {
  const char *at = strchr(bare_key, '@');
  return at ? at + 1 : bare_key;
}

relx *pres_relx(sx_relent *e) {
  if (!e->data) e->data = calloc(1, sizeof(relx));
  return e->data;
}

void pres_decide(sx_pres_gw *P, sx_relent *e, sx_pdir dir, sx_kind kind, sx_decision *d) {
  sx_decide_with_relation(sx_access_snap(P->gw->access), e->user, pres_domain_of(e->contact),
                          e->rel, dir, kind, d);
}

int pres_send(sx_pres_gw *P, const sx_presence *p) {
  sx_edge *edge = sx_gw_edge(P->gw, pres_domain_of(p->from));
  size_t len;
  char *xml = sx_presence_serialize(p, &len);
  int rc = -1;
  if (!xml) {
    sx_warn("presence", "cannot serialise presence %s from %s to %s",
            sx_pres_type_name(p->type), p->from, p->to);
  } else if (!edge || sx_edge_send(edge, xml, len) != 0) {
    sx_debug("presence", "presence %s from %s to %s not sent: edge link down",
             sx_pres_type_name(p->type), p->from, p->to);
  } else {
    rc = 0;
  }
  sx_metric_inc(rc == 0 ? "presence_stanzas_sent_total" : "presence_stanzas_failed_total");
  free(xml);
  return rc;
}

void pres_send_type(sx_pres_gw *P, const char *user, const char *contact, sx_pres_type t) {
  sx_presence p;
  memset(&p, 0, sizeof p);
  p.from = (char *)user;
  p.to = (char *)contact;
  p.type = t;
  sx_debug("presence", "%s -> %s: %s", user, contact, sx_pres_type_name(t));
  pres_send(P, &p);
}

void pres_send_error(sx_pres_gw *P, const char *user, const char *contact,
                     const char *condition) {
  sx_presence p;
  memset(&p, 0, sizeof p);
  p.from = (char *)user;
  p.to = (char *)contact;
  p.type = SX_PRES_ERROR;
  p.error_condition = (char *)(condition ? condition : "service-unavailable");
  sx_info("presence", "%s -> %s: presence error %s", user, contact, p.error_condition);
  pres_send(P, &p);
}

/* ---- the state machine -------------------------------------------------------------- */

/* XMPP stanzas every instance would send for a change they all see in the store (an
 * admin's add or remove, a policy change): sent by the user's lease holder only. */
#define SHARED_STANZAS                                                                   \
  (SX_RA_XMPP_SUBSCRIBE | SX_RA_XMPP_SUBSCRIBED | SX_RA_XMPP_UNSUBSCRIBE |             \
   SX_RA_XMPP_UNSUBSCRIBED | SX_RA_XMPP_UNAVAILABLE)

static int shared_change(sx_rel_event ev) {
  return ev == SX_REV_ADMIN_ADD || ev == SX_REV_ADMIN_REMOVE || ev == SX_REV_POLICY_REVOKED ||
         ev == SX_REV_POLICY_RESTORED;
}

unsigned pres_step(sx_pres_gw *P, sx_relent *e, sx_rel_event ev, const sx_decision *d,
                   sx_verdict verdict) {
  relx *x = pres_relx(e);
  sx_rel_ctx ctx = {.sip_dialogs = x && x->nw > P->exclude_dialogs
                                        ? (unsigned)(x->nw - P->exclude_dialogs)
                                        : 0,
                    .cached = x ? x->agg.known : 0};
  sx_rel_result r;
  uint64_t ticket;
  unsigned a;
  (void)d;

  sx_rel before = e->rel;
  sx_rel_step(e->rel, ev, verdict, &ctx, &r);
  a = r.actions;
  ticket = sx_reltab_set(P->rt, e, r.next);
  pres_expiry_note(P, e, before);
  if (ticket && P->store_ent == e && !sx_rel_persisted_differs(*P->store_row, r.next)) {
    sx_reltab_written(P->rt, e->user, e->contact, ticket, P->snap_gen);
    ticket = 0;
  }
  if (ticket) pres_store_write(P, e, ticket);
  if (P->leases && (a & SHARED_STANZAS) && shared_change(ev)) {
    puser *u = pres_user(P, e->user);
    if (pres_lease_holds(P, u)) {
      pres_act_done(P, u);
    } else {
      pres_act_owe_stanzas(P, e, a & SHARED_STANZAS);
      a &= ~(unsigned)SHARED_STANZAS;
    }
  }
  if (a || ticket)
    sx_info("presence", "%s / %s: %s -> out %s in %s added %d%s (%s)", e->user, e->contact,
            sx_rel_event_name(ev), sx_sub_out_name(r.next.out), sx_sub_in_name(r.next.in),
            r.next.added, r.next.suspended ? " suspended" : "", r.why ? r.why : "-");
  if (a & SX_RA_XMPP_SUBSCRIBE) pres_send_type(P, e->user, e->contact, SX_PRES_SUBSCRIBE);
  if (a & SX_RA_XMPP_SUBSCRIBED) pres_send_type(P, e->user, e->contact, SX_PRES_SUBSCRIBED);
  if (a & SX_RA_XMPP_UNSUBSCRIBE) pres_send_type(P, e->user, e->contact, SX_PRES_UNSUBSCRIBE);
  if (a & SX_RA_XMPP_UNSUBSCRIBED)
    pres_send_type(P, e->user, e->contact, SX_PRES_UNSUBSCRIBED);
  if (a & SX_RA_XMPP_PROBE) pres_send_type(P, e->user, e->contact, SX_PRES_PROBE);
  /* At a stop, only the instance holding the user's fan-out speaks for the user. */
  if ((a & SX_RA_XMPP_UNAVAILABLE) &&
      (ev != SX_REV_SHUTDOWN || pres_lease_holds(P, pres_user_find(P, e->user))))
    pres_send_type(P, e->user, e->contact, SX_PRES_UNAVAILABLE);
  if (a & SX_RA_XMPP_PRESENCE) pres_fanout_send_current(P, e, -1);
  if (a & SX_RA_NOTIFY_PENDING) pres_watch_notify_all(P, e, "pending");
  if (a & SX_RA_NOTIFY_ACTIVE) pres_watch_notify_all(P, e, "active");
  if (a & SX_RA_NOTIFY_TERMINATED) {
    const char *why = sx_notify_reason_name(r.reason);
    pres_watch_terminate_all(P, e, why ? why : "rejected");
  }
  if (a & SX_RA_FANOUT_JOIN) pres_fanout_join(P, e);
  if (a & SX_RA_FANOUT_LEAVE) pres_fanout_leave(P, e);
  return a;
}

/* ---- presence stanzas from external contacts ---------------------------------------- */

/* With several instances (P->forward set), a `subscribe` for a relation this instance does
 * not know may be for one another instance created moments ago (its write is in the store,
 * the snapshot here lags up to ~0.5 s): stepping it on an empty relation would overwrite
 * the stored one. It waits DEFER_MS (the snapshot then has it) and is handled then. */
#define DEFER_MS 1000
#define DEFER_MAX 10000

typedef struct deferred_pres {
  struct deferred_pres *next;
  sx_presence p;
  uint64_t due;
} deferred_pres;

static int defer(sx_pres_gw *P, const sx_presence *p) {
  deferred_pres *d;
  if (P->ndeferred >= DEFER_MAX || !(d = calloc(1, sizeof *d))) return -1;
  if (sx_presence_copy(&d->p, p) != 0) {
    free(d);
    return -1;
  }
  d->due = sx_gw_now(P->gw) + DEFER_MS;
  if (!P->deferred_tail) P->deferred_tail = &P->deferred;
  *P->deferred_tail = d;
  P->deferred_tail = &d->next;
  P->ndeferred++;
  return 0;
}

/* Handles the deferred stanzas that are due (all when flush). */
static void replay_deferred(sx_pres_gw *P, int flush) {
  uint64_t now = sx_gw_now(P->gw);
  while (P->deferred && (flush || P->deferred->due <= now)) {
    deferred_pres *d = P->deferred;
    P->deferred = d->next;
    if (!P->deferred) P->deferred_tail = &P->deferred;
    P->ndeferred--;
    if (!flush && !P->shutting_down) {
      P->replaying = 1;
      sx_pres_on_presence(P->gw, NULL, &d->p);
      P->replaying = 0;
    }
    sx_presence_free(&d->p);
    free(d);
  }
}

void sx_pres_on_presence(void *ud, sx_edge *edge, const sx_presence *p) {
  sx_gw *gw = ud;
  sx_pres_gw *P = gw->pres;
  sx_jid from = {0}, to = {0};
  char *ukey = NULL, *ckey = NULL;
  sx_relent *e;
  (void)edge;

  if (!P || P->shutting_down) return;
  if (sx_jid_parse(p->from, &from) != SX_ADDR_OK || sx_jid_parse(p->to, &to) != SX_ADDR_OK ||
      !to.local)
    goto out; /* to the component itself: nothing to do */
  ukey = sx_jid_key(&to);
  ckey = sx_jid_key(&from); /* the bare JID */
  if (!ukey || !ckey) goto out;
  e = sx_reltab_find(P->rt, ukey, ckey);
  /* Other instances may hold SIP dialogs of this relation (or know it already, when it is
   * not known here yet): the contact's presence goes to them too. */
  if (P->forward &&
      (((p->type == SX_PRES_AVAILABLE || p->type == SX_PRES_UNAVAILABLE) &&
        (!e || e->rel.out != SX_OUT_NONE)) ||
       (!e && (p->type == SX_PRES_SUBSCRIBED || p->type == SX_PRES_UNSUBSCRIBED))))
    pres_forward_contact_presence(P, ukey, p);
  if (!e) {
    /* No relation yet: only a subscribe may start one (a refused one leaves nothing). */
    sx_decision d;
    if (p->type == SX_PRES_SUBSCRIBE && P->forward && !P->replaying && defer(P, p) == 0) {
      sx_debug("presence", "subscribe from %s to %s: relation not known here, handled in %d ms",
               ckey, ukey, DEFER_MS);
      goto out;
    }
    if (p->type == SX_PRES_PROBE) {
      /* With several instances the relation may exist already and not be known here yet
       * (the snapshot lags up to ~0.5 s): the fan-out's holder answers if it knows it
       * approved; nobody answers otherwise. One instance: `unsubscribed` at once. */
      if (P->forward)
        pres_forward_probe(P, ukey, ckey);
      else
        pres_send_type(P, ukey, ckey, SX_PRES_UNSUBSCRIBED);
      goto out;
    }
    if (p->type != SX_PRES_SUBSCRIBE) {
      sx_debug("presence", "%s from %s to %s without a relation: ignored",
               sx_pres_type_name(p->type), ckey, ukey);
      goto out;
    }
    sx_decide(sx_access_snap(gw->access), ukey, from.domain, ckey, SX_DIR_IN,
              SX_KIND_SUBSCRIBE, &d);
    if (d.verdict == SX_DENY) {
      sx_info("presence", "subscribe from %s to %s refused: %s", ckey, ukey, d.reason);
      pres_send_error(P, ukey, ckey, d.xmpp_condition);
      sx_metric_refusal(SX_DIR_XMPP_TO_SIP, d.reason_code);
      goto out;
    }
    if (!(e = sx_reltab_get(P->rt, ukey, ckey))) goto out;
  }
  switch (p->type) {
  case SX_PRES_SUBSCRIBE:
  case SX_PRES_UNSUBSCRIBE:
  case SX_PRES_PROBE:
    pres_fanout_inbound(P, e, p);
    break;
  default:
    pres_watch_contact_presence(P, e, p, from.resource);
    break;
  }
out:
  free(ukey);
  free(ckey);
  sx_jid_free(&from);
  sx_jid_free(&to);
}

/* ---- resync, policy changes --------------------------------------------------------- */

typedef struct {
  sx_pres_gw *P;
  const char *domain; /* NULL: all */
  sx_rel_event ev;
} walk_arg;

static void resync_one(void *arg, sx_relent *e) {
  walk_arg *w = arg;
  const sx_policy_snap *snap = sx_access_snap(w->P->gw->access);
  int allowed;
  if (w->domain && !sx_domain_eq(pres_domain_of(e->user), w->domain)) return;
  allowed = sx_rel_allowed(snap, e->user, pres_domain_of(e->contact));
  if (w->P->leases && allowed && e->rel.added && e->rel.in == SX_IN_PENDING &&
      !pres_lease_holds(w->P, pres_user_find(w->P, e->user))) {
    /* an approval due (added while no instance ran): the lease holder's */
    sx_rel r = e->rel;
    r.suspended = 0;
    sx_reltab_set(w->P->rt, e, r);
    pres_act_owe_approval(w->P, e);
    return;
  }
  pres_step(w->P, e, w->ev, NULL, allowed ? SX_ALLOW : SX_DENY);
}

static void policy_one(void *arg, sx_relent *e) {
  walk_arg *w = arg;
  int allowed = sx_rel_allowed(sx_access_snap(w->P->gw->access), e->user,
                               pres_domain_of(e->contact));
  if (!allowed && !e->rel.suspended)
    pres_step(w->P, e, SX_REV_POLICY_REVOKED, NULL, SX_ALLOW);
  else if (allowed && e->rel.suspended)
    pres_step(w->P, e, SX_REV_POLICY_RESTORED, NULL, SX_ALLOW);
}

/* The admin events of a store change (sx_rel_admin_events). With several instances
 * (leases on) the store also changes because another instance stepped the relation: only a
 * relation gone from the store (`contact remove`, a user removed) is a removal, and only a
 * contact added while its request waits needs an instance to approve it (the one holding
 * the user's lease: reconcile_one). */
static int store_events(const sx_pres_gw *P, sx_rel before, sx_rel after, sx_rel_event ev[2]) {
  int gone = after.out == SX_OUT_NONE && after.in == SX_IN_NONE && !after.added;
  int n = 0;
  if (!P->leases) return sx_rel_admin_events(before, after, ev);
  if (gone && (before.out != SX_OUT_NONE || before.in != SX_IN_NONE || before.added))
    ev[n++] = SX_REV_ADMIN_REMOVE;
  else if (after.added && !before.added && after.in == SX_IN_PENDING)
    ev[n++] = SX_REV_ADMIN_ADD;
  return n;
}

/* Another instance's change adopted: this instance's part of it (its fan-out's watchers,
 * its SIP dialogs of the relation). */
static void adopted(sx_pres_gw *P, sx_relent *e, sx_rel before) {
  int was = before.in == SX_IN_APPROVED && !before.suspended;
  int now = e->rel.in == SX_IN_APPROVED && !e->rel.suspended;
  relx *x;
  if (!was && now) {
    pres_fanout_join(P, e);
    /* sent by the instance holding the fan-out (pres_fanout_send_current decides) */
    pres_fanout_send_current(P, e, -1);
  } else if (was && !now) {
    pres_fanout_leave(P, e);
  }
  x = e->data;
  if (!x || !x->nw || before.out == e->rel.out || e->rel.suspended) return;
  if (e->rel.out == SX_OUT_SUBSCRIBED)
    pres_watch_notify_all(P, e, "active");
  else if (e->rel.out == SX_OUT_NONE)
    pres_watch_terminate_all(P, e, "rejected");
}

/* A change in the store made by sipxmppctl (contact add/remove), or by another instance. */
static void reconcile_one(void *arg, sx_relent *e, sx_rel before, sx_rel after) {
  sx_pres_gw *P = arg;
  sx_rel_event ev[2];
  int n = store_events(P, before, after, ev), i;
  if (n == 0) {
    after.suspended = before.suspended;
    sx_reltab_set(P->rt, e, after);
    if (P->leases) adopted(P, e, before);
    return;
  }
  P->store_row = &after;
  P->store_ent = e;
  for (i = 0; i < n; i++) {
    if (ev[i] == SX_REV_ADMIN_ADD) {
      sx_decision d;
      sx_rel with;
      if (P->leases) {
        /* With several instances the store's subscription states are other instances'
         * steps (a request another one took while this one's snapshot lagged): taken
         * first, then the add is stepped on them — not on a relation this instance did
         * not know yet, which would write the request away. */
        sx_rel base = after;
        base.added = e->rel.added;
        base.suspended = e->rel.suspended;
        if (sx_rel_persisted_differs(e->rel, base)) sx_reltab_set(P->rt, e, base);
      }
      with = e->rel;
      with.added = 1;
      sx_decide_with_relation(sx_access_snap(P->gw->access), e->user,
                              pres_domain_of(e->contact), with, SX_DIR_IN, SX_KIND_SUBSCRIBE,
                              &d);
      if (P->leases && e->rel.in == SX_IN_PENDING && d.verdict == SX_ALLOW &&
          !e->rel.suspended && !pres_lease_holds(P, pres_user_find(P, e->user))) {
        /* Every instance sees the add; the approval (its write and its stanzas) is the
         * lease holder's. Here the store's row is taken as it is, and the approval owed
         * while the row waits for it (an instance taking the lease over does it). */
        after.suspended = e->rel.suspended;
        sx_reltab_set(P->rt, e, after);
        pres_act_owe_approval(P, e);
        continue;
      }
      pres_step(P, e, ev[i], &d, d.verdict);
    } else {
      pres_step(P, e, ev[i], NULL, SX_ALLOW);
    }
  }
  P->store_row = NULL;
  P->store_ent = NULL;
}

static void on_poll(uv_timer_t *t) {
  sx_pres_gw *P = t->data;
  const sx_policy_snap *snap = sx_access_snap(P->gw->access);
  int64_t gen = sx_snap_generation(snap);
  if (P->shutting_down) return;
  if (gen != P->snap_gen) {
    walk_arg w = {.P = P};
    P->snap_gen = gen;
    if (sx_reltab_reconcile(P->rt, snap, reconcile_one, P) < 0)
      sx_err("presence", "out of memory reconciling relations");
    sx_reltab_each(P->rt, policy_one, &w);
  }
  pres_watch_fetch_timeouts(P, sx_gw_now(P->gw));
  if (P->acting) pres_act_sweep(P);
  pres_expiry_sweep(P);
  replay_deferred(P, 0);
}

void sx_pres_edge_state(sx_gw *gw, sx_edge *edge, int up) {
  sx_pres_gw *P = gw->pres;
  sx_edge_stats st;
  walk_arg w;
  if (!P || !up || P->shutting_down) return;
  sx_edge_get_stats(edge, &st);
  w = (walk_arg){.P = P, .domain = sx_edge_domain(edge), .ev = SX_REV_RESYNC};
  sx_info("presence", "edge %s up: resynchronising presence", w.domain);
  /* After a reconnect the fan-outs start over too (their NOTIFYs may have been lost). */
  if (st.connects > 1) pres_fanout_restart_all(P, w.domain);
  P->resyncing = 1;
  sx_reltab_each(P->rt, resync_one, &w);
  P->resyncing = 0;
}

/* ---- lifecycle ---------------------------------------------------------------------- */

static char *contact_uri(sx_gw *gw) {
  /* Our Contact for presence dialogs: the first listen URI's host and port, TCP when the
   * presence requests go over TCP. */
  const char *l = gw->cfg.listen[0];
  const char *hp = strchr(l, ':');
  size_t n;
  char *out;
  if (!hp) return NULL;
  hp++;
  n = strcspn(hp, ";");
  out = malloc(n + 32);
  if (!out) return NULL;
  snprintf(out, n + 32, "<sip:%.*s%s>", (int)n, hp, gw->cfg.pres_tcp ? ";transport=tcp" : "");
  return out;
}

int sx_pres_start(sx_gw *gw) {
  sx_pres_gw *P = calloc(1, sizeof *P);
  sx_sip_pres_params prm;
  sx_sip_pres_cbs cbs = {.on_watch_refresh = pres_watch_on_refresh,
                         .on_watch_end = pres_watch_on_end,
                         .on_fanout_notify = pres_fanout_on_notify,
                         .on_fanout_answer = pres_fanout_on_answer};
  char *contact = contact_uri(gw);
  walk_arg w;

  if (!P || !contact) goto oom;
  P->gw = gw;
  gw->pres = P;
  prm = (sx_sip_pres_params){.min_expires = gw->cfg.pres_min_expires,
                             .max_expires = gw->cfg.pres_max_expires,
                             .max_notify_in_flight = gw->cfg.pres_max_notify,
                             .contact = contact,
                             .tcp_to_proxy = gw->cfg.pres_tcp};
  P->sp = sx_sip_pres_new(gw->sip, &prm, &cbs, P);
  P->rt = sx_reltab_new();
  if (!P->sp || !P->rt) goto oom;
  if (sx_reltab_load(P->rt, sx_access_snap(gw->access)) != 0) goto oom;
  P->snap_gen = sx_snap_generation(sx_access_snap(gw->access));
  if (pres_store_start(P, gw->cfg.store) != 0 || pres_lease_start(P) != 0 ||
      pres_forward_start(P) != 0) {
    free(contact);
    return -1;
  }
  uv_timer_init(&gw->loop.uv, &P->poll);
  P->poll.data = P;
  uv_timer_start(&P->poll, on_poll, POLL_MS, POLL_MS);
  sx_metrics_set_extra(pres_metrics_render, P);
  free(contact);
  /* Suspension from the policy, and the fan-outs of users with approved watchers. */
  w = (walk_arg){.P = P, .ev = SX_REV_RESYNC};
  P->resyncing = 1;
  sx_reltab_each(P->rt, resync_one, &w);
  P->resyncing = 0;
  return 0;
oom:
  free(contact);
  sx_err("presence", "out of memory starting presence");
  return -1;
}

static void shutdown_one(void *arg, sx_relent *e) {
  walk_arg *w = arg;
  pres_step(w->P, e, SX_REV_SHUTDOWN, NULL, SX_ALLOW);
}

void sx_pres_shutdown(sx_gw *gw) {
  sx_pres_gw *P = gw->pres;
  walk_arg w;
  size_t i;
  if (!P || P->shutting_down) return;
  w = (walk_arg){.P = P};
  sx_reltab_each(P->rt, shutdown_one, &w);
  P->shutting_down = 1;
  for (i = 0; i < P->unb; i++)
    for (puser *u = P->ub[i]; u; u = u->next)
      if (u->fo) {
        sx_sip_fanout_free(u->fo);
        u->fo = NULL;
      }
  if (uv_is_active((uv_handle_t *)&P->poll)) uv_timer_stop(&P->poll);
}

void sx_pres_counts(sx_gw *gw, size_t *relations, size_t *dialogs) {
  sx_sip_pres_stats ps;
  sx_reltab_stats rs;
  *relations = *dialogs = 0;
  if (!gw->pres || !gw->pres->sp || !gw->pres->rt) return;
  sx_sip_pres_get_stats(gw->pres->sp, &ps);
  sx_reltab_get_stats(gw->pres->rt, &rs);
  *relations = rs.relations;
  *dialogs = ps.watches + ps.fanouts;
}

long sx_pres_leases_held(sx_gw *gw) {
  size_t held;
  unsigned long acquired, lost;
  if (!gw->pres || !gw->pres->leases) return -1;
  pres_lease_counts(gw->pres, &held, &acquired, &lost);
  return (long)held;
}

int sx_pres_flushed(sx_gw *gw) {
  sx_sip_pres_stats st;
  if (!gw->pres || !gw->pres->sp) return 1;
  sx_sip_pres_get_stats(gw->pres->sp, &st);
  return st.notify_in_flight == 0 && st.notify_waiting == 0;
}

static void relx_free_one(void *arg, sx_relent *e) {
  relx *x = e->data;
  (void)arg;
  if (!x) return;
  sx_agg_clear(&x->agg);
  free(x->w);
  free(x->fetch);
  free(x);
  e->data = NULL;
}

static void poll_closed(uv_handle_t *h) { free(h->data); }

void sx_pres_free(sx_gw *gw) {
  sx_pres_gw *P = gw->pres;
  if (!P) return;
  sx_metrics_set_extra(NULL, NULL);
  replay_deferred(P, 1);
  pres_forward_stop(P);
  pres_lease_stop(P);
  pres_store_stop(P);
  users_free(P);
  if (P->sp) sx_sip_pres_free(P->sp);
  if (P->rt) {
    sx_reltab_each(P->rt, relx_free_one, NULL);
    sx_reltab_free(P->rt);
  }
  free(P->fetching);
  gw->pres = NULL;
  if (P->poll.loop) {
    P->poll.data = P;
    uv_close((uv_handle_t *)&P->poll, poll_closed);
  } else {
    free(P);
  }
}
