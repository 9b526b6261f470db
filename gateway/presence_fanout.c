/* XMPP watchers of SIP users (SPEC §4, issue 6 item 2): subscribe/unsubscribe/probe from
 * external contacts, decided by partner type; the approved watchers of one internal user
 * share one SIP subscription to the user's presence (the fan-out), whose NOTIFYs become
 * presence stanzas to each of them (notes removed for partners that may not see them). */
#include "gateway/presence_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/metrics.h"
#include "translate/address.h"
#include "translate/log.h"
#include "translate/pidf_parse.h"

/* The fan-out's From: [presence] watcher_uri, else sip:<service_user>@<user's domain>. */
static char *watcher_uri(sx_pres_gw *P, const puser *u) {
  const sx_config *c = &P->gw->cfg;
  char *out;
  size_t n;
  if (c->pres_watcher_uri) return strdup(c->pres_watcher_uri);
  n = strlen(c->service_user) + strlen(u->domain) + 6;
  out = malloc(n);
  if (out) snprintf(out, n, "sip:%s@%s", c->service_user, u->domain);
  return out;
}

static char *user_sip_uri(const char *key) {
  sx_jid j;
  char *uri;
  if (sx_jid_parse(key, &j) != SX_ADDR_OK) return NULL;
  uri = sx_jid_to_sip(&j, 0);
  sx_jid_free(&j);
  return uri;
}

void pres_fanout_start(sx_pres_gw *P, puser *u) {
  char *from = watcher_uri(P, u), *target = user_sip_uri(u->key);
  if (from && target) {
    u->fo = sx_sip_fanout_new(P->sp, target, from, P->gw->cfg.pres_fanout_expires, u);
    if (u->fo) {
      sx_info("presence", "fan-out for %s: SUBSCRIBE %s from %s", u->key, target, from);
      sx_metric_inc("presence_fanouts_started_total");
    }
  }
  if (!u->fo) sx_err("presence", "cannot start the fan-out for %s: out of memory", u->key);
  free(from);
  free(target);
}

void pres_fanout_join(sx_pres_gw *P, sx_relent *e) {
  relx *x = pres_relx(e);
  puser *u;
  if (!x || x->joined) return;
  if (!(u = pres_user(P, e->user))) {
    sx_err("presence", "out of memory: %s not added as a watcher of %s", e->contact, e->user);
    return;
  }
  x->joined = 1;
  u->watchers++;
  if (u->fo || P->shutting_down) return;
  if (pres_lease_holds(P, u))
    pres_fanout_start(P, u);
  else
    pres_lease_want(P, u); /* started once the lease is taken */
}

void pres_fanout_stop(sx_pres_gw *P, puser *u) {
  (void)P;
  if (u->fo) {
    sx_sip_fanout_free(u->fo); /* Expires: 0 */
    u->fo = NULL;
  }
  sx_presence_free(&u->cur);
  memset(&u->cur, 0, sizeof u->cur);
  u->cur_known = 0;
}

void pres_fanout_leave(sx_pres_gw *P, sx_relent *e) {
  relx *x = e->data;
  puser *u;
  if (!x || !x->joined) return;
  x->joined = 0;
  if (!(u = pres_user_find(P, e->user))) return;
  if (u->watchers) u->watchers--;
  if (u->watchers == 0 && u->fo) {
    sx_info("presence", "fan-out for %s ends: no watcher left", u->key);
    pres_fanout_stop(P, u);
  }
  if (u->watchers == 0 && !pres_act_wanted(P, u)) pres_lease_release(P, u);
}

void pres_fanout_restart_all(sx_pres_gw *P, const char *domain) {
  size_t i;
  for (i = 0; i < P->unb; i++)
    for (puser *u = P->ub[i]; u; u = u->next)
      if (u->fo && sx_domain_eq(u->domain, domain)) {
        /* The new subscription's first NOTIFY brings the state to every watcher (once;
         * the resync that follows skips users whose state is being fetched). */
        sx_presence_free(&u->cur);
        memset(&u->cur, 0, sizeof u->cur);
        u->cur_known = 0;
        sx_sip_fanout_restart(u->fo);
      }
}

/* The user's presence to one watcher: the fan-out's last NOTIFY, or unavailable. strip < 0:
 * decided here. */
void pres_fanout_send_current(sx_pres_gw *P, sx_relent *e, int strip) {
  puser *u = pres_user_find(P, e->user);
  sx_presence p;
  if (strip < 0) {
    sx_decision d;
    pres_decide(P, e, SX_DIR_IN, SX_KIND_PRESENCE, &d);
    strip = d.strip_status_notes;
  }
  if (u && !u->cur_known && u->fo && P->resyncing && !e->rel.suspended)
    return; /* after a restart: the fan-out's first NOTIFY brings the current state */
  if (!e->rel.suspended && !pres_lease_holds(P, u)) {
    /* Another instance holds the fan-out (or will, once the lease is taken: its first
     * NOTIFY reaches every watcher). A probe is handed to it; anything else it learns
     * from the store (an approval: sx_reltab_reconcile) or already did (a resync). */
    if (P->forward_probe) pres_forward_probe(P, e->user, e->contact);
    return;
  }
  if (!u || !u->cur_known || e->rel.suspended) {
    pres_send_type(P, e->user, e->contact, SX_PRES_UNAVAILABLE);
    return;
  }
  if (sx_presence_copy(&p, &u->cur) != 0) {
    sx_err("presence", "out of memory: presence of %s not sent", e->user);
    return;
  }
  free(p.from);
  free(p.to);
  p.from = strdup(e->user);
  p.to = strdup(e->contact);
  if (strip) sx_presence_strip_statuses(&p);
  if (p.from && p.to) pres_send(P, &p);
  sx_presence_free(&p);
}

void pres_fanout_inbound(sx_pres_gw *P, sx_relent *e, const sx_presence *p) {
  sx_decision d;
  unsigned a;
  switch (p->type) {
  case SX_PRES_SUBSCRIBE:
    pres_decide(P, e, SX_DIR_IN, SX_KIND_SUBSCRIBE, &d);
    if (d.verdict != SX_ALLOW)
      sx_info("presence", "subscribe from %s to %s: %s (%s)", e->contact, e->user,
              sx_verdict_name(d.verdict), d.reason);
    a = pres_step(P, e, SX_REV_XMPP_SUBSCRIBE, &d, d.verdict);
    if (a & SX_RA_REFUSE) {
      pres_send_error(P, e->user, e->contact, d.xmpp_condition);
      sx_metric_refusal(SX_DIR_XMPP_TO_SIP, d.reason_code);
    }
    break;
  case SX_PRES_UNSUBSCRIBE:
    pres_step(P, e, SX_REV_XMPP_UNSUBSCRIBE, NULL, SX_ALLOW);
    break;
  case SX_PRES_PROBE:
    pres_decide(P, e, SX_DIR_IN, SX_KIND_PROBE, &d);
    P->forward_probe = 1;
    a = pres_step(P, e, SX_REV_XMPP_PROBE, &d, d.verdict);
    P->forward_probe = 0;
    if (a & SX_RA_REFUSE) pres_send_type(P, e->user, e->contact, SX_PRES_UNSUBSCRIBED);
    break;
  default:
    break;
  }
}

/* ---- the fan-out's NOTIFYs ----------------------------------------------------------- */

typedef struct {
  sx_pres_gw *P;
  unsigned sent;
} send_arg;

static void send_to_watcher(void *arg, sx_relent *e) {
  send_arg *s = arg;
  relx *x = e->data;
  if (!x || !x->joined || e->rel.suspended || e->rel.in != SX_IN_APPROVED) return;
  pres_fanout_send_current(s->P, e, -1);
  s->sent++;
}

int pres_fanout_on_notify(void *ud, sx_sip_fanout *f, void *fanout_ud,
                          const sx_sip_notify_in *n) {
  sx_pres_gw *P = ud;
  puser *u = fanout_ud;
  sx_presence p;
  send_arg s = {.P = P};
  char err[256];
  (void)f;

  if (strcmp(n->state, "active") != 0) return 200; /* pending, terminated: nothing to say */
  memset(&p, 0, sizeof p);
  if (!n->body || !n->body_len) {
    p.type = SX_PRES_UNAVAILABLE;
  } else if (!n->content_type || strcasecmp(n->content_type, "application/pidf+xml") != 0) {
    sx_info("presence", "fan-out NOTIFY for %s: content type %s refused", u->key,
            n->content_type ? n->content_type : "-");
    sx_metric_inc("presence_notify_bad_bodies_total");
    return 415;
  } else {
    sx_pidf_rc rc = sx_pidf_parse(n->body, n->body_len, NULL, &p, err, sizeof err);
    if (rc != SX_PIDF_OK) {
      sx_info("presence", "fan-out NOTIFY for %s: bad PIDF (%s): %s", u->key,
              sx_pidf_rc_name(rc), err);
      sx_metric_inc("presence_notify_bad_bodies_total");
      return 400;
    }
  }
  sx_presence_free(&u->cur);
  u->cur = p;
  u->cur_known = 1;
  sx_debug("presence", "%s is %s/%s", u->key, sx_pres_type_name(p.type), sx_show_name(p.show));
  sx_reltab_each_of_user(P->rt, u->key, send_to_watcher, &s);
  return 200;
}

void pres_fanout_on_answer(void *ud, sx_sip_fanout *f, void *fanout_ud, int status,
                           unsigned retry_ms) {
  puser *u = fanout_ud;
  (void)ud;
  (void)f;
  if (status >= 300) {
    sx_metric_inc("presence_fanout_failures_total");
    sx_info("presence", "fan-out for %s answered %d; again in %u ms", u->key, status, retry_ms);
  }
}

void pres_fanout_remote_probe(sx_pres_gw *P, const char *user, const char *contact) {
  puser *u = pres_user_find(P, user);
  sx_relent *e;
  if (!u || !u->fo || !P->leases || !pres_lease_holds(P, u)) return;
  if (!(e = sx_reltab_find(P->rt, user, contact))) return;
  if (e->rel.in != SX_IN_APPROVED || e->rel.suspended) return;
  sx_debug("presence", "probe of %s by %s forwarded: current presence", user, contact);
  pres_fanout_send_current(P, e, -1);
}
