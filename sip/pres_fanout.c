/* Fan-out subscriptions (UAC side of SUBSCRIBE, RFC 6665 §4.1): see sip/presence.h.
 * A fan-out owns its dialog (while one exists), its timer (refresh or retry) and its
 * SUBSCRIBE transaction; every re-establishment starts a new dialog (new Call-ID and tag). */
#include "sip/pres_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_alloc.h>

#include "translate/log.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000

struct sx_sip_fanout {
  pres_node node; /* key: Call-ID + our tag, while in_table */
  int in_table;
  sx_sip_pres *p;
  void *ud;
  char *target, *from;
  unsigned want;     /* Expires asked for */
  char *call_id, *local_tag, *remote_tag;
  char *remote_target, *route;
  uint32_t cseq;
  nta_outgoing_t *orq; /* SUBSCRIBE in flight */
  su_timer_t *timer;
  unsigned backoff_ms;
  int active; /* a 2xx was received for the current dialog */
};

static void dialog_drop(sx_sip_fanout *f) {
  if (f->in_table) pres_table_del(&f->p->fanouts, &f->node);
  f->in_table = 0;
  if (f->orq) nta_outgoing_destroy(f->orq);
  f->orq = NULL;
  free(f->call_id);
  free(f->local_tag);
  free(f->remote_tag);
  free(f->remote_target);
  free(f->route);
  f->call_id = f->local_tag = f->remote_tag = f->remote_target = f->route = NULL;
  f->active = 0;
}

static int send_subscribe(sx_sip_fanout *f, unsigned expires);
static void on_timer(su_root_magic_t *rm, su_timer_t *t, su_timer_arg_t *arg);

static void arm(sx_sip_fanout *f, unsigned ms) {
  if (!f->timer) f->timer = su_timer_create(su_root_task(f->p->root), 0);
  if (!f->timer) return;
  su_timer_reset(f->timer);
  su_timer_set_interval(f->timer, on_timer, (su_timer_arg_t *)f, ms ? ms : 1);
}

/* Schedules a new dialog after the backoff (doubling, with ±25 % jitter). */
static unsigned retry_later(sx_sip_fanout *f) {
  unsigned ms;
  dialog_drop(f);
  f->backoff_ms = f->backoff_ms ? f->backoff_ms * 2 : BACKOFF_MIN_MS;
  if (f->backoff_ms > BACKOFF_MAX_MS) f->backoff_ms = BACKOFF_MAX_MS;
  ms = f->backoff_ms * 3 / 4 + (unsigned)(random() % (f->backoff_ms / 2 + 1));
  arm(f, ms);
  return ms;
}

static int start_dialog(sx_sip_fanout *f) {
  dialog_drop(f);
  f->call_id = pres_new_call_id(f->p);
  f->local_tag = pres_new_tag(f->p);
  if (!f->call_id || !f->local_tag) return -1;
  f->node.call_id = f->call_id;
  f->node.tag = f->local_tag;
  if (pres_table_add(&f->p->fanouts, &f->node) != 0) return -1;
  f->in_table = 1;
  f->cseq = (uint32_t)(random() & 0xffff) + 1;
  return send_subscribe(f, f->want);
}

static void on_timer(su_root_magic_t *rm, su_timer_t *t, su_timer_arg_t *arg) {
  sx_sip_fanout *f = (sx_sip_fanout *)arg;
  (void)rm;
  (void)t;
  if (f->orq) return;
  if (f->active && f->remote_tag) {
    sx_debug("presence", "fan-out %s: refresh", f->target);
    if (send_subscribe(f, f->want) != 0) retry_later(f);
    return;
  }
  f->p->resubscribes++;
  sx_info("presence", "fan-out %s: subscribing again", f->target);
  if (start_dialog(f) != 0) retry_later(f);
}

static char *contact_uri_of(sip_t const *sip) {
  su_home_t home[1] = {SU_HOME_INIT(home)};
  char *t = NULL, *r;
  if (sip->sip_contact) t = url_as_string(home, sip->sip_contact->m_url);
  r = t ? strdup(t) : NULL;
  su_home_deinit(home);
  return r;
}

/* Learns the dialog from a 2xx or from a NOTIFY that came first. */
static void learn_dialog(sx_sip_fanout *f, sip_t const *sip, const char *remote_tag,
                         int reverse_route) {
  if (f->remote_tag || !remote_tag) return;
  if (pres_route_count(sip) > PRES_MAX_ROUTES)
    sx_warn("presence", "fan-out %s: more than %d Record-Route entries; sending to the "
            "Contact", f->target, PRES_MAX_ROUTES);
  f->remote_tag = strdup(remote_tag);
  f->route = pres_route_of(sip, reverse_route);
  f->remote_target = contact_uri_of(sip);
}

static int subscribe_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq,
                              sip_t const *sip) {
  sx_sip_fanout *f = (sx_sip_fanout *)magic;
  sx_sip_pres *p = f->p;
  int status = sip && sip->sip_status ? sip->sip_status->st_status : nta_outgoing_status(orq);
  unsigned granted, retry = 0;

  if (status < 200) return 0;
  f->orq = NULL; /* destroyed at the end: sip lives in its response */
  if (status < 300) {
    granted = sip && sip->sip_expires ? (unsigned)sip->sip_expires->ex_delta : f->want;
    if (sip && sip->sip_to) learn_dialog(f, sip, sip->sip_to->a_tag, 1);
    if (granted == 0) {
      retry = retry_later(f);
    } else {
      f->active = 1;
      f->backoff_ms = 0;
      /* Refresh at 80 % of what was granted. */
      arm(f, (unsigned)((uint64_t)granted * 800));
    }
  } else if (status == 423 && sip && sip->sip_min_expires &&
             sip->sip_min_expires->me_delta > f->want) {
    f->want = (unsigned)sip->sip_min_expires->me_delta;
    if (f->remote_tag ? send_subscribe(f, f->want) : start_dialog(f)) retry = retry_later(f);
  } else {
    /* 481, 408, 5xx, a timeout or any other refusal: a new dialog after the backoff. */
    retry = retry_later(f);
    sx_info("presence", "fan-out %s: SUBSCRIBE answered %d; again in %u ms", f->target,
            status, retry);
  }
  nta_outgoing_destroy(orq);
  if (p->cbs.on_fanout_answer) p->cbs.on_fanout_answer(p->ud, f, f->ud, status, retry);
  return 0;
}

static int send_subscribe(sx_sip_fanout *f, unsigned expires) {
  sx_sip_pres *p = f->p;
  su_home_t home[1] = {SU_HOME_INIT(home)};
  char cseq[32], exp[16], *from, *to;
  url_string_t *hop;
  const char *ruri = f->target;

  from = su_sprintf(home, "<%s>;tag=%s", f->from, f->local_tag);
  if (f->remote_tag) {
    to = su_sprintf(home, "<%s>;tag=%s", f->target, f->remote_tag);
    if (f->remote_target) ruri = f->remote_target;
    hop = pres_next_hop(p, home, f->route, ruri);
  } else {
    to = su_sprintf(home, "<%s>", f->target);
    hop = pres_proxy_hop(p, home);
  }
  if (!from || !to) {
    su_home_deinit(home);
    return -1;
  }
  snprintf(cseq, sizeof cseq, "%u SUBSCRIBE", ++f->cseq);
  snprintf(exp, sizeof exp, "%u", expires);
  f->orq = nta_outgoing_tcreate(
      sx_sip_default_leg(p->sip), subscribe_response, (nta_outgoing_magic_t *)f, hop,
      SIP_METHOD_SUBSCRIBE, URL_STRING_MAKE(ruri), SIPTAG_FROM_STR(from), SIPTAG_TO_STR(to),
      SIPTAG_CALL_ID_STR(f->call_id), SIPTAG_CSEQ_STR(cseq),
      TAG_IF(f->remote_tag && f->route, SIPTAG_ROUTE_STR(f->route)),
      SIPTAG_CONTACT_STR(p->contact), SIPTAG_EVENT_STR("presence"),
      SIPTAG_ACCEPT_STR("application/pidf+xml"), SIPTAG_EXPIRES_STR(exp),
      SIPTAG_MAX_FORWARDS_STR("70"), TAG_END());
  su_home_deinit(home);
  return f->orq ? 0 : -1;
}

sx_sip_fanout *sx_sip_fanout_new(sx_sip_pres *p, const char *target, const char *from,
                                 unsigned expires, void *fanout_ud) {
  sx_sip_fanout *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->p = p;
  f->ud = fanout_ud;
  f->want = expires ? expires : 3600;
  f->target = strdup(target);
  f->from = strdup(from);
  if (!f->target || !f->from) {
    free(f->target);
    free(f->from);
    free(f);
    return NULL;
  }
  p->n_fanouts++;
  if (start_dialog(f) != 0) retry_later(f);
  return f;
}

void sx_sip_fanout_restart(sx_sip_fanout *f) {
  if (f->orq && !f->active) return; /* an initial SUBSCRIBE is already out */
  f->backoff_ms = 0;
  f->p->resubscribes++;
  if (start_dialog(f) != 0) retry_later(f);
}

int sx_sip_fanout_active(const sx_sip_fanout *f) { return f->active; }

static void fanout_release(sx_sip_fanout *f) {
  f->p->n_fanouts--;
  dialog_drop(f);
  if (f->timer) su_timer_destroy(f->timer);
  free(f->target);
  free(f->from);
  free(f);
}

void sx_sip_fanout_free(sx_sip_fanout *f) {
  sx_sip_pres *p;
  if (!f) return;
  p = f->p;
  if (f->remote_tag) {
    su_home_t home[1] = {SU_HOME_INIT(home)};
    char cseq[32];
    const char *ruri = f->remote_target ? f->remote_target : f->target;
    char *from = su_sprintf(home, "<%s>;tag=%s", f->from, f->local_tag);
    char *to = su_sprintf(home, "<%s>;tag=%s", f->target, f->remote_tag);
    snprintf(cseq, sizeof cseq, "%u SUBSCRIBE", ++f->cseq);
    if (!from || !to ||
        pres_send_orphan(p, pres_next_hop(p, home, f->route, ruri), SIP_METHOD_SUBSCRIBE,
                         URL_STRING_MAKE(ruri), SIPTAG_FROM_STR(from), SIPTAG_TO_STR(to),
                         SIPTAG_CALL_ID_STR(f->call_id), SIPTAG_CSEQ_STR(cseq),
                         TAG_IF(f->route, SIPTAG_ROUTE_STR(f->route)),
                         SIPTAG_CONTACT_STR(p->contact), SIPTAG_EVENT_STR("presence"),
                         SIPTAG_EXPIRES_STR("0"), SIPTAG_MAX_FORWARDS_STR("70"),
                         TAG_END()) != 0)
      sx_warn("presence", "fan-out %s: cannot send Expires: 0", f->target);
    su_home_deinit(home);
  }
  fanout_release(f);
}

void pres_fanout_free_all(sx_sip_pres *p) {
  size_t i;
  for (i = 0; i < p->fanouts.nb; i++)
    while (p->fanouts.b && p->fanouts.b[i]) fanout_release((sx_sip_fanout *)p->fanouts.b[i]);
}

/* ---- NOTIFY in a fan-out dialog ----------------------------------------------------- */

static void parse_state(sip_t const *sip, sx_sip_notify_in *n, char *state, size_t ns,
                        char *reason, size_t nr) {
  const sip_subscription_state_t *ss = sip->sip_subscription_state;
  state[0] = reason[0] = '\0';
  n->state = state;
  n->reason = NULL;
  n->expires = 0;
  if (!ss || !ss->ss_substate) return;
  snprintf(state, ns, "%s", ss->ss_substate);
  for (char *c = state; *c; c++)
    if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
  if (ss->ss_reason) {
    snprintf(reason, nr, "%s", ss->ss_reason);
    n->reason = reason;
  }
  if (ss->ss_expires) n->expires = (unsigned)strtoul(ss->ss_expires, NULL, 10);
}

int pres_fanout_incoming(sx_sip_pres *p, msg_t *msg, sip_t const *sip) {
  sx_sip_fanout *f;
  sx_sip_notify_in n;
  char state[32], reason[64], ctype[128];
  int status;

  if (!sip->sip_from || !sip->sip_to || !sip->sip_call_id || !sip->sip_cseq ||
      !sip->sip_via)
    return 0;
  f = (sx_sip_fanout *)pres_table_find(&p->fanouts, sip->sip_call_id->i_id,
                                        sip->sip_to->a_tag);
  if (!f) {
    nta_msg_treply(p->agent, msg, 481, "Subscription Does Not Exist", TAG_END());
    return 1;
  }
  if (!sip->sip_event || strcasecmp(sip->sip_event->o_type, "presence") != 0) {
    nta_msg_treply(p->agent, msg, 489, "Bad Event", TAG_END());
    return 1;
  }
  if (f->remote_tag && sip->sip_from->a_tag && strcmp(f->remote_tag, sip->sip_from->a_tag)) {
    /* A second dialog from a forked SUBSCRIBE: only one is kept. */
    nta_msg_treply(p->agent, msg, 481, "Subscription Does Not Exist", TAG_END());
    return 1;
  }
  learn_dialog(f, sip, sip->sip_from->a_tag, 0);
  memset(&n, 0, sizeof n);
  parse_state(sip, &n, state, sizeof state, reason, sizeof reason);
  if (sip->sip_content_type && sip->sip_content_type->c_type) {
    snprintf(ctype, sizeof ctype, "%s", sip->sip_content_type->c_type);
    n.content_type = ctype;
  }
  if (sip->sip_payload && sip->sip_payload->pl_len) {
    n.body = sip->sip_payload->pl_data;
    n.body_len = sip->sip_payload->pl_len;
  }
  status = p->cbs.on_fanout_notify(p->ud, f, f->ud, &n);
  if (status < 200 || status > 699) status = 500;
  nta_msg_treply(p->agent, msg, status, sip_status_phrase(status), TAG_END());
  if (strcmp(state, "terminated") == 0) {
    /* The presence server ended it: subscribe again (at once after a timeout). */
    sx_info("presence", "fan-out %s: terminated (%s)", f->target, reason[0] ? reason : "-");
    if (n.reason && (strcmp(n.reason, "timeout") == 0 || strcmp(n.reason, "deactivated") == 0)) {
      dialog_drop(f);
      arm(f, 10);
    } else {
      retry_later(f);
    }
  }
  return 1;
}
