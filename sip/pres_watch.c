/* Watcher dialogs (UAS side of SUBSCRIBE, RFC 6665 §4.2): see sip/presence.h. */
#include "sip/pres_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>

#include "translate/log.h"

struct sx_sip_watch {
  pres_node node; /* key: Call-ID + the watcher's From tag */
  sx_sip_pres *p;
  void *ud;
  char *call_id, *remote_tag, *local_tag;
  char *local_hdr;  /* our side (From of our NOTIFYs): the SUBSCRIBE's To with our tag */
  char *remote_hdr; /* the watcher (To of our NOTIFYs): the SUBSCRIBE's From */
  char *remote_target, *route;
  uint32_t local_cseq, remote_cseq;
  int last_status;  /* the answer to the request with remote_cseq (for retransmissions) */
  unsigned granted; /* Expires of the last accepted (re-)SUBSCRIBE */
  uint64_t expires_at;
  su_timer_t *timer;
  /* NOTIFY: one in flight, one waiting (newest state). */
  nta_outgoing_t *orq;
  int pending;
  char *pend_state, *pend_ctype, *pend_body;
  sx_sip_watch *wait_next;
  int waiting;
  int released; /* the gateway let go (terminated sent): free once idle */
  int gone;     /* the dialog failed: no more NOTIFYs */
};

static void watch_free(sx_sip_watch *w) {
  sx_sip_pres *p = w->p;
  if (w->timer) su_timer_destroy(w->timer);
  if (w->orq) {
    nta_outgoing_destroy(w->orq);
    p->notify_in_flight--;
  }
  if (w->waiting) {
    sx_sip_watch **pp = &p->wait_head, *prev = NULL;
    for (; *pp; prev = *pp, pp = &(*pp)->wait_next) {
      if (*pp == w) {
        *pp = w->wait_next;
        if (p->wait_tail == w) p->wait_tail = prev;
        p->waiting--;
        break;
      }
    }
  }
  pres_table_del(&p->watches, &w->node);
  free(w->call_id);
  free(w->remote_tag);
  free(w->local_tag);
  free(w->local_hdr);
  free(w->remote_hdr);
  free(w->remote_target);
  free(w->route);
  free(w->pend_state);
  free(w->pend_ctype);
  free(w->pend_body);
  free(w);
}

void pres_watch_free_all(sx_sip_pres *p) {
  size_t i;
  for (i = 0; i < p->watches.nb; i++)
    while (p->watches.b && p->watches.b[i])
      watch_free((sx_sip_watch *)p->watches.b[i]);
}

unsigned sx_sip_watch_remaining(const sx_sip_watch *w) {
  uint64_t now = pres_now_ms();
  return w->expires_at > now ? (unsigned)((w->expires_at - now + 999) / 1000) : 0;
}

void sx_sip_watch_set_ud(sx_sip_watch *w, void *watch_ud) { w->ud = watch_ud; }

/* ---- expiry ------------------------------------------------------------------------- */

static void on_expiry(su_root_magic_t *rm, su_timer_t *t, su_timer_arg_t *arg) {
  sx_sip_watch *w = (sx_sip_watch *)arg;
  (void)rm;
  (void)t;
  if (w->released || w->gone) return;
  sx_debug("presence", "watch %s expired", w->call_id);
  w->p->cbs.on_watch_end(w->p->ud, w, w->ud, SX_WATCH_EXPIRED);
}

static void arm_expiry(sx_sip_watch *w, unsigned secs) {
  w->granted = secs;
  w->expires_at = pres_now_ms() + (uint64_t)secs * 1000;
  if (!w->timer) w->timer = su_timer_create(su_root_task(w->p->root), 0);
  if (w->timer) {
    su_timer_reset(w->timer);
    if (secs) su_timer_set_interval(w->timer, on_expiry, (su_timer_arg_t *)w, secs * 1000);
  }
}

/* ---- checking and accepting --------------------------------------------------------- */

/* -1 absent, else the requested seconds. */
static long requested_expires(sip_t const *sip) {
  if (!sip->sip_expires) return -1;
  return (long)sip->sip_expires->ex_delta;
}

/* The expiry to grant, or -1 after answering 423 (or 489) through reply(). */
static long grant_expires(sx_sip_pres *p, sip_t const *sip, int *status) {
  long req = requested_expires(sip);
  *status = 0;
  if (!sip->sip_event || strcasecmp(sip->sip_event->o_type, "presence") != 0) {
    *status = 489;
    return -1;
  }
  if (req < 0) return p->prm.max_expires;
  if (req == 0) return 0;
  if ((unsigned long)req < p->prm.min_expires) {
    *status = 423;
    return -1;
  }
  return (unsigned long)req > p->prm.max_expires ? (long)p->prm.max_expires : req;
}

int sx_sip_watch_check(sx_sip_pres *p, sx_sip_txn *txn, unsigned *expires) {
  sip_t const *sip = sx_sip_txn_sip(txn);
  char minexp[16];
  sx_sip_reply_hdrs h = {0};
  int status;
  long e;
  if (!sip) return -1;
  e = grant_expires(p, sip, &status);
  if (e >= 0) {
    *expires = (unsigned)e;
    return 0;
  }
  if (status == 423) {
    snprintf(minexp, sizeof minexp, "%u", p->prm.min_expires);
    h.min_expires = minexp;
    sx_sip_reply(p->sip, txn, 423, "Interval Too Brief", &h);
  } else {
    sx_sip_reply(p->sip, txn, 489, "Bad Event", NULL);
  }
  return -1;
}

static char *header_text(su_home_t *home, const sip_header_t *h) {
  char *t = sip_header_as_string(home, h);
  return t ? strdup(t) : NULL;
}

static char *contact_uri(su_home_t *home, sip_t const *sip) {
  char *t;
  if (!sip->sip_contact) return NULL;
  t = url_as_string(home, sip->sip_contact->m_url);
  return t ? strdup(t) : NULL;
}

sx_sip_watch *sx_sip_watch_accept(sx_sip_pres *p, sx_sip_txn *txn, unsigned expires,
                                  void *watch_ud) {
  su_home_t home[1] = {SU_HOME_INIT(home)};
  sip_t const *sip = sx_sip_txn_sip(txn);
  sx_sip_watch *w = NULL;
  sip_to_t *to;
  char exp[16];
  sx_sip_reply_hdrs h = {0};

  if (!sip || !sip->sip_from->a_tag) {
    sx_sip_reply(p->sip, txn, 400, "Missing From tag", NULL);
    goto fail;
  }
  if (pres_route_count(sip) > PRES_MAX_ROUTES) {
    sx_sip_reply(p->sip, txn, 400, "Too Many Record-Route Entries", NULL);
    goto fail;
  }
  w = calloc(1, sizeof *w);
  if (!w) goto oom;
  w->p = p;
  w->ud = watch_ud;
  w->call_id = strdup(sip->sip_call_id->i_id);
  w->remote_tag = strdup(sip->sip_from->a_tag);
  w->local_tag = pres_new_tag(p);
  to = sip_to_dup(home, sip->sip_to);
  if (!w->call_id || !w->remote_tag || !w->local_tag || !to ||
      sip_to_tag(home, to, w->local_tag) < 0)
    goto oom;
  w->local_hdr = header_text(home, (sip_header_t *)to);
  w->remote_hdr = header_text(home, (sip_header_t *)sip->sip_from);
  w->remote_target = contact_uri(home, sip);
  w->route = pres_route_of(sip, 0);
  if (!w->local_hdr || !w->remote_hdr) goto oom;
  if (!w->remote_target) {
    sx_sip_reply(p->sip, txn, 400, "Missing Contact", NULL);
    goto fail;
  }
  w->remote_cseq = sip->sip_cseq->cs_seq;
  w->local_cseq = (uint32_t)(random() & 0xffff) + 1;
  w->node.call_id = w->call_id;
  w->node.tag = w->remote_tag;
  if (pres_table_add(&p->watches, &w->node) != 0) goto oom;
  arm_expiry(w, expires);
  w->last_status = 200;
  snprintf(exp, sizeof exp, "%u", expires);
  h.to_tag = w->local_tag;
  h.contact = p->contact;
  h.expires = exp;
  sx_sip_reply(p->sip, txn, 200, NULL, &h);
  su_home_deinit(home);
  return w;
oom:
  sx_sip_reply(p->sip, txn, 500, "Out of memory", NULL);
fail:
  if (w) {
    if (w->node.call_id) pres_table_del(&p->watches, &w->node);
    w->node.call_id = NULL;
    watch_free(w);
  }
  su_home_deinit(home);
  return NULL;
}

/* ---- in-dialog SUBSCRIBE ------------------------------------------------------------ */

static void reply_in_dialog(sx_sip_pres *p, sx_sip_watch *w, msg_t *msg, int status,
                            unsigned expires, const char *min_expires) {
  su_home_t home[1] = {SU_HOME_INIT(home)};
  sip_t const *sip = sip_object(msg);
  sip_to_t *to = sip_to_dup(home, sip->sip_to);
  char exp[16];
  snprintf(exp, sizeof exp, "%u", expires);
  if (to && !to->a_tag) sip_to_tag(home, to, w->local_tag);
  nta_msg_treply(p->agent, msg, status, sip_status_phrase(status), TAG_IF(to, SIPTAG_TO(to)),
                 TAG_IF(status < 300, SIPTAG_CONTACT_STR(p->contact)),
                 TAG_IF(status < 300, SIPTAG_EXPIRES_STR(exp)),
                 TAG_IF(min_expires, SIPTAG_MIN_EXPIRES_STR(min_expires)), TAG_END());
  su_home_deinit(home);
}

int pres_watch_incoming(sx_sip_pres *p, msg_t *msg, sip_t const *sip) {
  su_home_t home[1] = {SU_HOME_INIT(home)};
  const char *to_tag = sip->sip_to ? sip->sip_to->a_tag : NULL;
  sx_sip_watch *w;
  pres_node *n;
  int status;
  long e;
  char minexp[16];

  if (!sip->sip_from || !sip->sip_to || !sip->sip_call_id || !sip->sip_cseq ||
      !sip->sip_via)
    return 0; /* the ordinary path answers 400 */
  n = pres_table_find(&p->watches, sip->sip_call_id->i_id, sip->sip_from->a_tag);
  w = (sx_sip_watch *)n;
  if (w && to_tag && strcmp(to_tag, w->local_tag) != 0) w = NULL;
  if (!w) {
    if (!to_tag) return 0; /* a new subscription: on_request decides */
    nta_msg_treply(p->agent, msg, 481, "Subscription Does Not Exist", TAG_END());
    return 1;
  }
  if (w->released || w->gone) {
    nta_msg_treply(p->agent, msg, 481, "Subscription Does Not Exist", TAG_END());
    return 1;
  }
  if (sip->sip_cseq->cs_seq == w->remote_cseq) { /* a retransmission */
    reply_in_dialog(p, w, msg, w->last_status, sx_sip_watch_remaining(w), NULL);
    return 1;
  }
  if (sip->sip_cseq->cs_seq < w->remote_cseq) {
    nta_msg_treply(p->agent, msg, 500, "CSeq Out of Order", TAG_END());
    return 1;
  }
  w->remote_cseq = sip->sip_cseq->cs_seq;
  e = grant_expires(p, sip, &status);
  if (e < 0) {
    w->last_status = status;
    snprintf(minexp, sizeof minexp, "%u", p->prm.min_expires);
    reply_in_dialog(p, w, msg, status, 0, status == 423 ? minexp : NULL);
    return 1;
  }
  if (sip->sip_contact) { /* a target refresh */
    char *t = contact_uri(home, sip);
    if (t) {
      free(w->remote_target);
      w->remote_target = t;
    }
  }
  su_home_deinit(home);
  w->last_status = 200;
  arm_expiry(w, (unsigned)e);
  reply_in_dialog(p, w, msg, 200, (unsigned)e, NULL);
  if (e == 0)
    p->cbs.on_watch_end(p->ud, w, w->ud, SX_WATCH_UNSUBSCRIBED);
  else
    p->cbs.on_watch_refresh(p->ud, w, w->ud, (unsigned)e);
  return 1;
}

/* ---- NOTIFY ------------------------------------------------------------------------- */

static int send_now(sx_sip_watch *w);

static int notify_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq,
                           sip_t const *sip) {
  sx_sip_watch *w = (sx_sip_watch *)magic;
  sx_sip_pres *p = w->p;
  int status = sip && sip->sip_status ? sip->sip_status->st_status : nta_outgoing_status(orq);
  if (status < 200) return 0;
  nta_outgoing_destroy(orq);
  w->orq = NULL;
  p->notify_in_flight--;
  if (status < 300) {
    p->notify_ok++;
  } else {
    p->notify_failed++;
    sx_info("presence", "NOTIFY in %s answered %d", w->call_id, status);
  }
  if (status == 481 || status == 408) {
    /* RFC 6665 §4.2.2: the subscription is gone. */
    if (!w->released && !w->gone) {
      w->gone = 1;
      p->cbs.on_watch_end(p->ud, w, w->ud, SX_WATCH_GONE);
    }
    watch_free(w);
  } else if (w->pending) {
    send_now(w);
  } else if (w->released) {
    watch_free(w);
  }
  pres_watch_pump(p);
  return 0;
}

/* Sends the waiting state now. 0, or -1 (the dialog is then released if it was the last). */
static int send_now(sx_sip_watch *w) {
  sx_sip_pres *p = w->p;
  su_home_t home[1] = {SU_HOME_INIT(home)};
  char cseq[32], state[160];
  url_string_t *hop;
  int terminated = strncmp(w->pend_state, "terminated", 10) == 0;

  if (terminated)
    snprintf(state, sizeof state, "%s", w->pend_state);
  else
    snprintf(state, sizeof state, "%s;expires=%u", w->pend_state, sx_sip_watch_remaining(w));
  snprintf(cseq, sizeof cseq, "%u NOTIFY", ++w->local_cseq);
  hop = pres_next_hop(p, home, w->route, w->remote_target);
  w->orq = nta_outgoing_tcreate(
      sx_sip_default_leg(p->sip), notify_response, (nta_outgoing_magic_t *)w, hop,
      SIP_METHOD_NOTIFY, URL_STRING_MAKE(w->remote_target), SIPTAG_FROM_STR(w->local_hdr),
      SIPTAG_TO_STR(w->remote_hdr), SIPTAG_CALL_ID_STR(w->call_id), SIPTAG_CSEQ_STR(cseq),
      TAG_IF(w->route, SIPTAG_ROUTE_STR(w->route)), SIPTAG_CONTACT_STR(p->contact),
      SIPTAG_EVENT_STR("presence"), SIPTAG_SUBSCRIPTION_STATE_STR(state),
      SIPTAG_MAX_FORWARDS_STR("70"),
      TAG_IF(w->pend_ctype, SIPTAG_CONTENT_TYPE_STR(w->pend_ctype)),
      TAG_IF(w->pend_body, SIPTAG_PAYLOAD_STR(w->pend_body)), TAG_END());
  su_home_deinit(home);
  w->pending = 0;
  free(w->pend_state);
  free(w->pend_ctype);
  free(w->pend_body);
  w->pend_state = w->pend_ctype = w->pend_body = NULL;
  if (!w->orq) {
    p->notify_failed++;
    sx_warn("presence", "cannot send NOTIFY in %s", w->call_id);
    if (w->released) watch_free(w);
    return -1;
  }
  p->notify_in_flight++;
  return 0;
}

void pres_watch_pump(sx_sip_pres *p) {
  while (p->wait_head && p->notify_in_flight < p->prm.max_notify_in_flight) {
    sx_sip_watch *w = p->wait_head;
    p->wait_head = w->wait_next;
    if (!p->wait_head) p->wait_tail = NULL;
    w->wait_next = NULL;
    w->waiting = 0;
    p->waiting--;
    if (w->pending && !w->orq) send_now(w);
  }
}

int sx_sip_watch_notify(sx_sip_watch *w, const char *state, const char *content_type,
                        const char *body) {
  sx_sip_pres *p = w->p;
  char *s = strdup(state), *c = pres_strdup(body ? content_type : NULL);
  char *b = pres_strdup(body);
  if (!s || (body && (!b || (content_type && !c)))) {
    free(s);
    free(c);
    free(b);
    return -1;
  }
  free(w->pend_state);
  free(w->pend_ctype);
  free(w->pend_body);
  w->pend_state = s;
  w->pend_ctype = c;
  w->pend_body = b;
  w->pending = 1;
  if (strncmp(state, "terminated", 10) == 0) {
    w->released = 1;
    if (w->timer) su_timer_reset(w->timer);
  }
  if (w->gone) {
    if (w->released && !w->orq) watch_free(w);
    return 0;
  }
  if (w->orq) return 0; /* sent when the one in flight is answered */
  if (p->notify_in_flight < p->prm.max_notify_in_flight) {
    send_now(w); /* a failure is counted and logged; the next state tries again */
    return 0;
  }
  if (!w->waiting) {
    w->waiting = 1;
    if (p->wait_tail) p->wait_tail->wait_next = w;
    else p->wait_head = w;
    p->wait_tail = w;
    p->waiting++;
  }
  return 0;
}
