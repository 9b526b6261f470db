/* Unanswered subscription requests ([federation] subscription_refresh_s, Lync's
 * SubscriptionRefreshInterval): a relation pending for longer than the interval is not kept
 * as it is (translate/relation.h sx_rel_expiry()). The pending time is counted on the loop
 * from when the daemon saw the relation become pending (or, for relations loaded at start,
 * from the first sweep after the start), so a request is kept at least the interval and at
 * most the interval plus one sweep period.
 *
 * With several instances (a PostgreSQL store) every instance counts the age of a pending
 * relation it sees in the store. A contact's unanswered request is dropped by whichever
 * counts out first (the same write from each). The gateway's own unanswered `subscribe` is
 * asked again by each instance that has SIP watchers of it, and forgotten only by one whose
 * watchers wanted it and are gone (relx.watched): an instance that never had a watcher of
 * the relation cannot tell whether another one has, and forgetting it there would end those
 * watchers' dialogs. A request whose watchers' instance stopped is kept until a watcher
 * subscribes again (and is then asked again, or forgotten once that watcher leaves). */
#include <inttypes.h>

#include "gateway/presence_internal.h"
#include "translate/log.h"

/* Sweep period: a quarter of the interval, between 1 s and 60 s. */
static uint64_t period_ms(const sx_pres_gw *P) {
  uint64_t q = (uint64_t)P->gw->cfg.fed_subscription_refresh_s * 1000 / 4;
  return q < 1000 ? 1000 : q > 60000 ? 60000 : q;
}

static int is_pending(sx_rel r) { return r.in == SX_IN_PENDING || r.out == SX_OUT_PENDING; }

void pres_expiry_note(sx_pres_gw *P, sx_relent *e, sx_rel before) {
  relx *x = e->data;
  int now_pending = is_pending(e->rel);
  if (!x) return;
  if (!now_pending)
    x->pending_since = 0;
  else if (!is_pending(before) || before.in != e->rel.in || before.out != e->rel.out)
    x->pending_since = sx_gw_now(P->gw);
  if (e->rel.out != SX_OUT_PENDING)
    x->watched = 0;
  else if (before.out != SX_OUT_PENDING)
    x->watched = x->nw > 0;
}

static void sweep_one(void *arg, sx_relent *e) {
  sx_pres_gw *P = arg;
  uint64_t now = sx_gw_now(P->gw);
  uint64_t interval = (uint64_t)P->gw->cfg.fed_subscription_refresh_s * 1000;
  relx *x = e->data;

  if (x && e->rel.out != SX_OUT_PENDING) x->watched = 0;
  if (!is_pending(e->rel)) {
    if (x) x->pending_since = 0;
    return;
  }
  if (!x && !(x = pres_relx(e))) return;
  if (x->nw) x->watched = 1;
  if (!x->pending_since) { /* loaded at start, or adopted from the store */
    x->pending_since = now;
    return;
  }
  unsigned a = sx_rel_expiry(e->rel, x->pending_since, now, interval, (unsigned)x->nw);
  if (P->leases && !x->watched) a &= ~(unsigned)SX_REXP_DROP_OUT;
  if (!a) return;
  sx_rel next = e->rel;
  if (a & SX_REXP_DROP_IN) next.in = SX_IN_NONE;
  if (a & SX_REXP_DROP_OUT) next.out = SX_OUT_NONE;
  if (a & SX_REXP_REASK_OUT) pres_send_type(P, e->user, e->contact, SX_PRES_SUBSCRIBE);
  sx_info("presence", "%s / %s: unanswered for %" PRIu64 " s:%s%s%s", e->user, e->contact,
          (now - x->pending_since) / 1000,
          a & SX_REXP_DROP_IN ? " the contact's request dropped" : "",
          a & SX_REXP_REASK_OUT ? " subscribe sent again" : "",
          a & SX_REXP_DROP_OUT ? " our subscribe forgotten" : "");
  x->pending_since = is_pending(next) ? now : 0;
  uint64_t ticket = sx_reltab_set(P->rt, e, next);
  if (ticket) pres_store_write(P, e, ticket);
}

void pres_expiry_sweep(sx_pres_gw *P) {
  uint64_t now = sx_gw_now(P->gw);
  if (now < P->next_sweep) return;
  P->next_sweep = now + period_ms(P);
  sx_reltab_each(P->rt, sweep_one, P);
}
