/* SIP watchers of XMPP contacts (SPEC §4, issue 6 item 1): a SUBSCRIBE from an internal user
 * to sip:carol@partner becomes the user's XMPP subscription to carol; carol's presence
 * stanzas become NOTIFYs (PIDF, translate/pidf_render.h) in every dialog of that user
 * watching her. */
#include "gateway/presence_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/metrics.h"
#include "translate/address.h"
#include "translate/log.h"
#include "translate/pidf_render.h"

#define FETCH_WAIT_MS 1000

/* ---- the relation's dialogs ---------------------------------------------------------- */

static int list_add(sx_sip_watch ***v, size_t *n, size_t *cap, sx_sip_watch *w) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 2;
    sx_sip_watch **nv = realloc(*v, nc * sizeof *nv);
    if (!nv) return -1;
    *v = nv;
    *cap = nc;
  }
  (*v)[(*n)++] = w;
  return 0;
}

static int list_del(sx_sip_watch **v, size_t *n, sx_sip_watch *w) {
  for (size_t i = 0; i < *n; i++) {
    if (v[i] == w) {
      v[i] = v[--*n];
      return 1;
    }
  }
  return 0;
}

/* The contact's presence as a PIDF document (closed when nothing is known). */
static char *render(sx_relent *e, size_t *len) {
  relx *x = e->data;
  sx_jid j;
  char *entity = NULL, *doc = NULL;
  sx_pres_agg empty;
  if (sx_jid_parse(e->contact, &j) != SX_ADDR_OK) return NULL;
  entity = sx_jid_to_sip(&j, 0);
  sx_jid_free(&j);
  if (!entity) return NULL;
  sx_agg_init(&empty);
  doc = sx_pidf_render(x ? &x->agg : &empty, entity, 0, len);
  free(entity);
  return doc;
}

static void notify_one(sx_sip_watch *w, const char *state, const char *body) {
  if (sx_sip_watch_notify(w, state, body ? SX_PIDF_CONTENT_TYPE : NULL, body) != 0)
    sx_warn("presence", "NOTIFY (%s) not queued: out of memory", state);
}

/* The state a dialog of this relation is in right now. */
static const char *current_state(const sx_relent *e) {
  return e->rel.out == SX_OUT_SUBSCRIBED ? "active" : "pending";
}

void pres_watch_notify_all(sx_pres_gw *P, sx_relent *e, const char *state) {
  relx *x = e->data;
  char *body = NULL;
  size_t len, i;
  if (!x || !x->nw) return;
  if (strcmp(state, "active") == 0 && !(body = render(e, &len))) {
    sx_err("presence", "cannot render PIDF for %s", e->contact);
    return;
  }
  if (P->notify_only) {
    /* A new dialog of a user already watching: the others have this state already. */
    notify_one(P->notify_only, state, body);
  } else {
    for (i = 0; i < x->nw; i++) notify_one(x->w[i], state, body);
  }
  free(body);
}

void pres_watch_terminate_all(sx_pres_gw *P, sx_relent *e, const char *reason) {
  relx *x = e->data;
  char state[64];
  (void)P;
  if (!x) return;
  snprintf(state, sizeof state, "terminated;reason=%s", reason);
  while (x->nw) notify_one(x->w[--x->nw], state, NULL);
  while (x->nfetch) notify_one(x->fetch[--x->nfetch], state, NULL);
}

/* Ends one dialog with the relation's current state (Expires: 0, expiry, fetch). */
static void finish(sx_relent *e, sx_sip_watch *w) {
  char *body = NULL;
  size_t len;
  if (e->rel.out == SX_OUT_SUBSCRIBED && !e->rel.suspended) body = render(e, &len);
  notify_one(w, "terminated;reason=timeout", body);
  free(body);
}

/* ---- fetches ------------------------------------------------------------------------- */

static void fetch_answer(sx_pres_gw *P, sx_relent *e) {
  relx *x = e->data;
  size_t i;
  if (!x || !x->nfetch) return;
  while (x->nfetch) finish(e, x->fetch[--x->nfetch]);
  for (i = 0; i < P->nfetching; i++) {
    if (P->fetching[i] == e) {
      P->fetching[i] = P->fetching[--P->nfetching];
      break;
    }
  }
}

void pres_watch_fetch_timeouts(sx_pres_gw *P, uint64_t now) {
  size_t i = 0;
  while (i < P->nfetching) {
    sx_relent *e = P->fetching[i];
    relx *x = e->data;
    if (x && x->fetch_deadline > now) {
      i++;
      continue;
    }
    fetch_answer(P, e); /* removes P->fetching[i] */
  }
}

static void fetch_wait(sx_pres_gw *P, sx_relent *e, sx_sip_watch *w) {
  relx *x = e->data;
  size_t i;
  if (list_add(&x->fetch, &x->nfetch, &x->fetch_cap, w) != 0) {
    finish(e, w);
    return;
  }
  x->fetch_deadline = sx_gw_now(P->gw) + FETCH_WAIT_MS;
  for (i = 0; i < P->nfetching; i++)
    if (P->fetching[i] == e) return;
  if (P->nfetching == P->fetching_cap) {
    size_t nc = P->fetching_cap ? P->fetching_cap * 2 : 16;
    sx_relent **nv = realloc(P->fetching, nc * sizeof *nv);
    if (!nv) {
      list_del(x->fetch, &x->nfetch, w);
      finish(e, w);
      return;
    }
    P->fetching = nv;
    P->fetching_cap = nc;
  }
  P->fetching[P->nfetching++] = e;
  pres_send_type(P, e->user, e->contact, SX_PRES_PROBE);
}

/* ---- SUBSCRIBE ----------------------------------------------------------------------- */

static void refuse(sx_pres_gw *P, sx_sip_txn *txn, const sx_sip_request *rq, int status,
                   const char *reason, const char *code) {
  char warning[1200], text[1024];
  size_t i, j = 0;
  sx_sip_reply_hdrs h = {0};
  for (i = 0; reason[i] && j + 1 < sizeof text; i++)
    text[j++] = (reason[i] == '"' || reason[i] == '\\') ? '\'' : reason[i];
  text[j] = '\0';
  snprintf(warning, sizeof warning, "399 %s \"%s\"", P->gw->warn_agent, text);
  h.warning = warning;
  sx_sip_reply(P->gw->sip, txn, status, NULL, &h);
  sx_metric_refusal(SX_DIR_SIP_TO_XMPP, code);
  sx_info("presence", "SUBSCRIBE refused %d (%s): Call-ID %s from %s to %s: %s", status, code,
          rq->call_id, rq->from_uri, rq->request_uri, reason);
}

void sx_pres_sip_subscribe(sx_gw *gw, const sx_sip_request *rq, sx_sip_txn *txn) {
  sx_pres_gw *P = gw->pres;
  sx_jid sender = {0}, target = {0};
  char *ukey = NULL, *ckey = NULL;
  unsigned expires;
  sx_relent *e;
  relx *x;
  sx_decision d;
  sx_sip_watch *w;
  sx_addr_rc rc;

  if (!P || P->shutting_down) {
    sx_sip_reply_hdrs h = {.retry_after = "5"};
    sx_sip_reply(gw->sip, txn, 503, "Shutting Down", &h);
    return;
  }
  if (!sx_config_trusted(&gw->cfg, rq->src_family, rq->src_addr)) {
    refuse(P, txn, rq, 403, "requests are accepted from trusted peers only", "untrusted_peer");
    return;
  }
  if (sx_sip_watch_check(P->sp, txn, &expires) != 0) return;
  if (sx_sip_to_jid(rq->from_uri, &sender) != SX_ADDR_OK ||
      !sx_config_serves(&gw->cfg, sender.domain)) {
    refuse(P, txn, rq, 403, "the watcher is not in a domain this gateway serves",
           "from_not_served");
    goto out;
  }
  if ((rc = sx_sip_to_jid(rq->request_uri, &target)) != SX_ADDR_OK) {
    refuse(P, txn, rq, sx_addr_sip_status(rc), sx_addr_reason(rc), "bad_address");
    goto out;
  }
  if (sx_config_serves(&gw->cfg, target.domain)) {
    refuse(P, txn, rq, 404, "the target is an internal user, not an XMPP contact",
           "internal_target");
    goto out;
  }
  free(target.resource);
  target.resource = NULL;
  ukey = sx_jid_key(&sender);
  ckey = sx_jid_key(&target);
  if (!ukey || !ckey || !(e = sx_reltab_get(P->rt, ukey, ckey)) || !(x = pres_relx(e))) {
    sx_sip_reply(gw->sip, txn, 500, "Out of memory", NULL);
    goto out;
  }
  pres_decide(P, e, SX_DIR_OUT, SX_KIND_SUBSCRIBE, &d);
  if (d.verdict == SX_DENY) {
    refuse(P, txn, rq, d.sip_status ? d.sip_status : 403, d.reason, d.reason_code);
    goto out;
  }
  if (expires == 0) { /* a fetch: one NOTIFY with what is known, or a probe first */
    sx_rel_ctx ctx = {.sip_dialogs = (unsigned)x->nw, .cached = x->agg.known};
    sx_rel_result r;
    sx_decision fd;
    pres_decide(P, e, SX_DIR_OUT, SX_KIND_PROBE, &fd);
    sx_rel_step(e->rel, SX_REV_SIP_FETCH, fd.verdict, &ctx, &r);
    if (r.actions & SX_RA_REFUSE) {
      refuse(P, txn, rq, fd.sip_status ? fd.sip_status : 403, fd.reason, fd.reason_code);
      goto out;
    }
    if (!(w = sx_sip_watch_accept(P->sp, txn, 0, e))) goto out;
    sx_metric_inc("presence_sip_fetches_total");
    if ((r.actions & SX_RA_XMPP_PROBE) && sx_gw_edge(gw, sender.domain) &&
        sx_edge_is_up(sx_gw_edge(gw, sender.domain)))
      fetch_wait(P, e, w);
    else
      finish(e, w);
    goto out;
  }
  {
    sx_rel_ctx ctx = {.sip_dialogs = (unsigned)x->nw, .cached = x->agg.known};
    sx_rel_result r;
    sx_rel_step(e->rel, SX_REV_SIP_SUBSCRIBE, d.verdict, &ctx, &r);
    if (r.actions & SX_RA_REFUSE) {
      refuse(P, txn, rq, d.sip_status ? d.sip_status : 403, d.reason, d.reason_code);
      goto out;
    }
  }
  if (!(w = sx_sip_watch_accept(P->sp, txn, expires, e))) goto out;
  if (list_add(&x->w, &x->nw, &x->cap, w) != 0) {
    notify_one(w, "terminated;reason=noresource", NULL);
    goto out;
  }
  x->watched = 1;
  sx_metric_inc("presence_sip_dialogs_total");
  sx_info("presence", "SIP watcher %s of %s: dialog %s, Expires %u", ukey, ckey, rq->call_id,
          expires);
  {
    unsigned a;
    P->exclude_dialogs = 1; /* the new dialog is the trigger */
    P->notify_only = w;
    a = pres_step(P, e, SX_REV_SIP_SUBSCRIBE, &d, d.verdict);
    P->exclude_dialogs = 0;
    P->notify_only = NULL;
    /* RFC 6665: a NOTIFY at once in the new dialog, whatever the machine asked for. */
    if (!(a & (SX_RA_NOTIFY_PENDING | SX_RA_NOTIFY_ACTIVE | SX_RA_NOTIFY_TERMINATED))) {
      const char *st = current_state(e);
      if (strcmp(st, "active") == 0) {
        size_t len;
        char *body = render(e, &len);
        notify_one(w, st, body);
        free(body);
      } else {
        notify_one(w, st, NULL);
      }
    }
  }
out:
  free(ukey);
  free(ckey);
  sx_jid_free(&sender);
  sx_jid_free(&target);
}

/* ---- dialog callbacks ---------------------------------------------------------------- */

void pres_watch_on_refresh(void *ud, sx_sip_watch *w, void *watch_ud, unsigned expires) {
  sx_pres_gw *P = ud;
  sx_relent *e = watch_ud;
  relx *x = e->data;
  sx_decision d;
  sx_rel_ctx ctx = {.sip_dialogs = x ? (unsigned)x->nw : 0, .cached = x ? x->agg.known : 0};
  sx_rel_result r;
  (void)expires;
  pres_decide(P, e, SX_DIR_OUT, SX_KIND_SUBSCRIBE, &d);
  sx_rel_step(e->rel, SX_REV_SIP_REFRESH, d.verdict, &ctx, &r);
  if (r.actions & SX_RA_NOTIFY_TERMINATED) {
    char state[64];
    const char *why = sx_notify_reason_name(r.reason);
    if (x) list_del(x->w, &x->nw, w);
    snprintf(state, sizeof state, "terminated;reason=%s", why ? why : "rejected");
    notify_one(w, state, NULL);
    if (x && x->nw == 0) pres_step(P, e, SX_REV_SIP_LAST_DIALOG_END, NULL, SX_ALLOW);
  } else if (r.actions & SX_RA_NOTIFY_ACTIVE) {
    size_t len;
    char *body = render(e, &len);
    notify_one(w, "active", body);
    free(body);
  } else {
    notify_one(w, "pending", NULL);
  }
}

void pres_watch_on_end(void *ud, sx_sip_watch *w, void *watch_ud, sx_watch_end why) {
  sx_pres_gw *P = ud;
  sx_relent *e = watch_ud;
  relx *x = e->data;
  int was_dialog = x && list_del(x->w, &x->nw, w);
  if (x && !was_dialog) list_del(x->fetch, &x->nfetch, w);
  sx_info("presence", "SIP watcher %s of %s: dialog ends (%s)", e->user, e->contact,
          why == SX_WATCH_GONE ? "NOTIFY failed" : why == SX_WATCH_EXPIRED ? "expired"
                                                                          : "unsubscribed");
  if (why != SX_WATCH_GONE) finish(e, w);
  if (was_dialog && x->nw == 0 && !P->shutting_down)
    pres_step(P, e, SX_REV_SIP_LAST_DIALOG_END, NULL, SX_ALLOW);
}

/* ---- presence from the contact ------------------------------------------------------- */

void pres_watch_contact_presence(sx_pres_gw *P, sx_relent *e, const sx_presence *p,
                                 const char *resource) {
  relx *x = pres_relx(e);
  sx_decision d;
  if (!x) return;
  switch (p->type) {
  case SX_PRES_SUBSCRIBED:
    pres_step(P, e, SX_REV_XMPP_SUBSCRIBED, NULL, SX_ALLOW);
    break;
  case SX_PRES_UNSUBSCRIBED:
    pres_step(P, e, SX_REV_XMPP_UNSUBSCRIBED, NULL, SX_ALLOW);
    break;
  case SX_PRES_AVAILABLE:
  case SX_PRES_UNAVAILABLE: {
    sx_agg_rc rc = sx_agg_update(&x->agg, resource, p);
    if (rc == SX_AGG_TOO_MANY || rc == SX_AGG_NOMEM) {
      sx_warn("presence", "presence of %s/%s not kept: %s", e->contact, resource ? resource : "",
              rc == SX_AGG_TOO_MANY ? "too many resources" : "out of memory");
      return;
    }
    pres_decide(P, e, SX_DIR_IN, SX_KIND_PRESENCE, &d);
    pres_step(P, e, SX_REV_XMPP_PRESENCE, &d, d.verdict);
    fetch_answer(P, e);
    break;
  }
  case SX_PRES_ERROR:
    sx_info("presence", "presence error %s from %s to %s",
            p->error_condition ? p->error_condition : "-", e->contact, e->user);
    break;
  default:
    break;
  }
}

void pres_watch_remote_presence(sx_pres_gw *P, sx_relent *e, const sx_presence *p,
                                const char *resource) {
  relx *x = e->data;
  sx_decision d;
  sx_agg_rc rc;
  if (!x || (!x->nw && !x->nfetch)) return; /* no dialog of this relation here */
  if (p->type != SX_PRES_AVAILABLE && p->type != SX_PRES_UNAVAILABLE) return;
  rc = sx_agg_update(&x->agg, resource, p);
  if (rc == SX_AGG_TOO_MANY || rc == SX_AGG_NOMEM) {
    sx_warn("presence", "presence of %s/%s not kept: %s", e->contact, resource ? resource : "",
            rc == SX_AGG_TOO_MANY ? "too many resources" : "out of memory");
    return;
  }
  pres_decide(P, e, SX_DIR_IN, SX_KIND_PRESENCE, &d);
  if (e->rel.out == SX_OUT_SUBSCRIBED && !e->rel.suspended && d.verdict == SX_ALLOW)
    pres_watch_notify_all(P, e, "active");
  fetch_answer(P, e);
}
