/* XMPP → SIP: a <message/> for an internal user becomes a MESSAGE through the outbound proxy.
 * The SIP outcome goes back to the XMPP sender: an error stanza by the SPEC §6 table, or a
 * XEP-0184 receipt for a 2xx when one was asked for. At most max_in_flight transactions run
 * at once; the rest wait in a bounded FIFO, and past it the sender gets resource-constraint.
 * Error stanzas for messages the gateway sent become delivery-failure notices to the SIP
 * sender. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/access.h"
#include "gateway/gateway.h"
#include "gateway/metrics.h"
#include "gateway/msglog.h"
#include "translate/errors.h"
#include "translate/imdn.h"
#include "translate/log.h"

enum { REQ_RELAY, REQ_NOTICE };

struct xq_item {
  xq_item *next;
  int kind;
  char *domain;          /* served domain whose edge link carries the answer */
  char *xfrom, *xto, *id; /* the original stanza (REQ_RELAY) */
  int receipt;
  int chat_state;        /* a body-less chat-state notification (isComposing) */
  char *user_key;        /* the SIP user's key (chat states only) */
  char *in_reply_to;     /* REQ_NOTICE: the Call-ID of the message it is about */
  sx_im_sip_out out;
};

static void item_free(xq_item *it) {
  free(it->domain);
  free(it->xfrom);
  free(it->xto);
  free(it->id);
  free(it->user_key);
  free(it->in_reply_to);
  sx_im_sip_free(&it->out);
  free(it);
}

static void send_stanza(sx_gw *gw, const char *domain, char *xml, size_t len, const char *what) {
  sx_edge *edge = sx_gw_edge(gw, domain);
  if (!xml) {
    sx_err("im", "cannot build %s: out of memory", what);
    return;
  }
  if (!edge || sx_edge_send(edge, xml, len) != 0)
    sx_warn("im", "%s not sent: edge link for %s is down", what, domain);
  free(xml);
}

/* An error stanza to an external sender: its <text/> is the neutral one for the condition
 * (sx_err_partner_text); the internal detail `text` goes to the log only. */
static void send_error(sx_gw *gw, const char *domain, const char *xfrom, const char *xto,
                       const char *id, const char *condition, const char *text) {
  size_t len = 0;
  char *xml = sx_xmsg_error_reply(xfrom, xto, id, condition, sx_err_partner_text(condition), &len);
  sx_debug("im", "xmpp->sip error %s to %s (id %s)%s%s", condition, xfrom, id ? id : "-",
           text ? ": " : "", text ? text : "");
  send_stanza(gw, domain, xml, len, "error stanza");
}

/* An RFC 5438 delivery notification to the SIP sender of entry e, from the recipient. */
static void send_imdn(sx_gw *gw, const sx_idmap_entry *e, const char *status) {
  sx_jid j;
  char *from = NULL, *doc = NULL, new_id[48];
  if (sx_jid_parse(e->target, &j) != SX_ADDR_OK) return;
  from = sx_jid_to_sip(&j, 0);
  sx_jid_free(&j);
  snprintf(new_id, sizeof new_id, "%08lx%08lx", random(), random());
  if (from) doc = sx_imdn_build(from, e->sender, e->imdn_id, e->imdn_datetime, status, new_id);
  if (doc) sx_relay_sip_notice(gw, from, e->sender, "message/cpim", doc, e->call_id);
  else sx_err("im", "IMDN for %s could not be built", e->imdn_id);
  free(from);
  free(doc);
}

/* An error stanza for a message the gateway sent: tell the SIP sender (an IMDN when it asked
 * for negative delivery notifications, else a text notice from the service address). */
static void handle_error(sx_gw *gw, sx_edge *edge, const sx_xmsg *m) {
  sx_idmap_entry e;
  char *text, from[1100];
  if (!m->id || sx_stanza_ids_take(gw->ids, sx_gw_now(gw), m->id, &e) != 0) {
    sx_debug("im", "error stanza from %s (id %s) matches no message we sent", m->from,
             m->id ? m->id : "-");
    sx_metric_inc("xmpp_errors_unmatched_total");
    return;
  }
  sx_metric_msg(SX_DIR_SIP_TO_XMPP, SX_RES_FAILED);
  sx_info("im", "sip->xmpp failed: id %s Call-ID %s to %s: %s", m->id, e.call_id, e.target,
          m->error_condition ? m->error_condition : "undefined-condition");
  if (e.imdn_id && (e.imdn_flags & SX_IMDN_NEGATIVE)) {
    send_imdn(gw, &e, "failed");
  } else {
    text = sx_im_failure_text(e.target, m->error_condition, m->error_text);
    snprintf(from, sizeof from, "sip:%s@%s", gw->cfg.service_user, sx_edge_domain(edge));
    if (text)
      sx_relay_sip_notice(gw, from, e.sender, "text/plain;charset=UTF-8", text, e.call_id);
    free(text);
  }
  sx_idmap_entry_free(&e);
}

/* A XEP-0184 receipt for a message the gateway sent: an IMDN "delivered" when the SIP sender
 * asked for positive delivery notifications. */
static void handle_receipt(sx_gw *gw, const sx_xmsg *m) {
  sx_idmap_entry e;
  if (sx_stanza_ids_take(gw->ids, sx_gw_now(gw), m->receipt_for, &e) != 0) {
    sx_debug("im", "receipt from %s for %s matches no message we sent", m->from,
             m->receipt_for);
    return;
  }
  sx_metric_msg(SX_DIR_SIP_TO_XMPP, SX_RES_DELIVERED);
  if (e.imdn_id && (e.imdn_flags & SX_IMDN_POSITIVE)) send_imdn(gw, &e, "delivered");
  sx_idmap_entry_free(&e);
}

static int send_item(sx_gw *gw, xq_item *it) {
  sx_sip_out o = {.request_uri = it->out.request_uri,
                  .from = it->out.from,
                  .to = it->out.to,
                  .call_id = it->out.call_id,
                  .subject = it->out.subject,
                  .content_type = it->out.content_type,
                  .content_language = it->out.content_language,
                  .body = it->out.body,
                  .in_reply_to = it->in_reply_to};
  return sx_sip_send_message(gw->sip, &o, it);
}

static void pump(sx_gw *gw) {
  while (gw->xq_head && sx_sip_in_flight(gw->sip) < gw->cfg.max_in_flight) {
    xq_item *it = gw->xq_head;
    gw->xq_head = it->next;
    if (!gw->xq_head) gw->xq_tail = NULL;
    gw->xq_len--;
    it->next = NULL;
    if (send_item(gw, it) != 0) {
      sx_msglog_release(it, 0, "failed", "internal-server-error: the SIP request could not be created");
      send_error(gw, it->domain, it->xfrom, it->xto, it->id, "internal-server-error",
                 "the SIP request could not be created");
      sx_metric_msg(SX_DIR_XMPP_TO_SIP, SX_RES_FAILED);
      item_free(it);
    }
  }
}

void sx_relay_xmpp_message(void *ud, sx_edge *edge, const sx_xmsg *m) {
  sx_gw *gw = ud;
  const char *domain = sx_edge_domain(edge), *cond = NULL, *text = NULL;
  sx_jid from, to;
  sx_decision d;
  char *user_key = NULL, *ext_key = NULL;
  char *pfrom = NULL, *pto = NULL; /* the addresses as prepared (stringprep) */
  xq_item *it = NULL;
  int rc;

  sx_msglog_begin();
  if (m->type && !strcmp(m->type, "error")) {
    handle_error(gw, edge, m);
    return;
  }
  if (m->receipt_for && !m->body) {
    handle_receipt(gw, m);
    return;
  }
  memset(&from, 0, sizeof from);
  memset(&to, 0, sizeof to);
  if (sx_jid_parse(m->from, &from) != SX_ADDR_OK || sx_jid_parse(m->to, &to) != SX_ADDR_OK) {
    cond = "jid-malformed";
    goto refuse;
  }
  pfrom = sx_jid_to_text(&from, 1);
  pto = sx_jid_to_text(&to, 1);
  if (!pfrom || !pto) {
    cond = "resource-constraint";
    goto refuse;
  }
  if (to.local) {
    user_key = sx_jid_key(&to);
    ext_key = sx_jid_key(&from);
    if (!user_key || !ext_key) {
      cond = "resource-constraint";
      goto refuse;
    }
    sx_decide(sx_access_snap(gw->access), user_key, from.domain, ext_key, SX_DIR_IN,
              SX_KIND_MESSAGE, &d);
    if (d.verdict != SX_ALLOW) {
      sx_metric_refusal(SX_DIR_XMPP_TO_SIP, d.reason_code);
      cond = d.xmpp_condition ? d.xmpp_condition : "forbidden";
      text = d.reason;
      goto refuse;
    }
  }
  it = calloc(1, sizeof *it);
  if (!it) {
    cond = "resource-constraint";
    goto refuse;
  }
  rc = sx_im_to_sip_jids(m, &from, &to, gw->cfg.max_message_bytes, &it->out, &cond, &text);
  if (rc == 1) {
    sx_debug("im", "xmpp->sip: nothing to deliver in stanza from %s (id %s)", m->from,
             m->id ? m->id : "-");
    goto done;
  }
  if (rc != 0) {
    sx_metric_refusal(SX_DIR_XMPP_TO_SIP, cond);
    goto refuse;
  }
  it->kind = REQ_RELAY;
  it->receipt = m->receipt_request;
  if (!m->body && m->chat_state != SX_CHAT_NONE && user_key) {
    /* A SIP user who refused typing notifications gets none for a while. */
    if (sx_quiet_check(gw->chat_quiet, user_key, sx_gw_now(gw))) {
      sx_metric_inc("chat_states_suppressed_total");
      goto done;
    }
    it->chat_state = 1;
    it->user_key = strdup(user_key);
    if (!it->user_key) {
      cond = "resource-constraint";
      goto refuse;
    }
  }
  it->domain = strdup(domain);
  it->xfrom = strdup(pfrom);
  it->xto = strdup(pto);
  it->id = m->id ? strdup(m->id) : NULL;
  if (!it->domain || !it->xfrom || !it->xto || (m->id && !it->id)) {
    cond = "resource-constraint";
    goto refuse;
  }
  /* Held before sending: a SIP answer may come back within sx_sip_send_message. */
  sx_msglog_hold(it, SX_DIR_XMPP_TO_SIP, m->id, NULL, m->from, m->to, 0);
  if (sx_sip_in_flight(gw->sip) < gw->cfg.max_in_flight && !gw->xq_head) {
    if (send_item(gw, it) != 0) {
      cond = "internal-server-error";
      text = "the SIP request could not be created";
      goto refuse;
    }
  } else if (gw->xq_len < gw->cfg.max_queued) {
    if (gw->xq_tail) gw->xq_tail->next = it;
    else gw->xq_head = it;
    gw->xq_tail = it;
    gw->xq_len++;
  } else {
    sx_metric_msg(SX_DIR_XMPP_TO_SIP, SX_RES_REJECTED_BUSY);
    sx_metric_refusal(SX_DIR_XMPP_TO_SIP, "queue_full");
    send_error(gw, domain, m->from, pto, m->id, "resource-constraint",
               "too many messages waiting for delivery; try again later");
    sx_msglog_release(it, 0, "busy", "queue_full: resource-constraint");
    goto done;
  }
  sx_metric_msg(SX_DIR_XMPP_TO_SIP, SX_RES_ACCEPTED);
  sx_msglog_audit(SX_DIR_XMPP_TO_SIP, m->id, m->from, m->to, m->body);
  it = NULL;
  goto done;
refuse:
  sx_metric_msg(SX_DIR_XMPP_TO_SIP, SX_RES_REFUSED);
  {
    char detail[1100];
    snprintf(detail, sizeof detail, "%s%s%s", cond, text ? ": " : "", text ? text : "");
    if (!it || !sx_msglog_release(it, 0, "refused", detail))
      sx_msglog_done(SX_DIR_XMPP_TO_SIP, m->id, m->from, m->to, 0, "refused", detail, 0);
  }
  if (!m->body && m->chat_state != SX_CHAT_NONE) /* never an error for a typing notice */
    sx_debug("im", "xmpp->sip chat state from %s refused silently: %s", m->from, cond);
  else
    send_error(gw, domain, m->from, pto ? pto : m->to, m->id, cond, text);
done:
  if (it) item_free(it);
  free(pfrom);
  free(pto);
  free(user_key);
  free(ext_key);
  sx_jid_free(&from);
  sx_jid_free(&to);
}

void sx_relay_sip_response(void *ud, void *req_ud, int status, const char *phrase,
                           const char *warning) {
  sx_gw *gw = ud;
  xq_item *it = req_ud;

  if (it->kind == REQ_NOTICE) {
    if (status >= 300)
      sx_warn("im", "delivery-failure notice to %s failed: %d %s", it->out.request_uri, status,
              phrase);
  } else if (status < 300) {
    sx_metric_msg(SX_DIR_XMPP_TO_SIP, SX_RES_DELIVERED);
    sx_msglog_release(it, status, "delivered", NULL);
    if (it->receipt && it->id) {
      sx_xmsg r = {.from = it->xto, .to = it->xfrom, .receipt_for = it->id};
      size_t len = 0;
      char *xml = sx_xmsg_serialize(&r, &len);
      send_stanza(gw, it->domain, xml, len, "receipt");
    }
  } else if (it->chat_state) {
    /* A phone that does not take isComposing: no error stanza, not a failed message, and
     * no more typing notifications to that user for a while. */
    if (status == 415 || status == 488 || status == 501) {
      sx_metric_inc("chat_states_refused_total");
      if (gw->cfg.chat_state_backoff_s)
        sx_quiet_add(gw->chat_quiet, it->user_key,
                     sx_gw_now(gw) + (uint64_t)gw->cfg.chat_state_backoff_s * 1000,
                     sx_gw_now(gw));
      sx_info("im", "xmpp->sip: %s refused typing notifications (%d); none sent for %u s",
              it->out.request_uri, status, gw->cfg.chat_state_backoff_s);
    } else {
      sx_debug("im", "xmpp->sip chat state to %s not delivered: %d %s", it->out.request_uri,
               status, phrase);
    }
  } else {
    const char *cond = sx_err_sip_to_xmpp(status);
    sx_metric_msg(SX_DIR_XMPP_TO_SIP, SX_RES_FAILED);
    sx_msglog_release(it, status, "failed", cond ? cond : "internal-server-error");
    send_error(gw, it->domain, it->xfrom, it->xto, it->id,
               cond ? cond : "internal-server-error", warning ? warning : phrase);
  }
  item_free(it);
  pump(gw);
}

void sx_relay_sip_notice(sx_gw *gw, const char *from, const char *to_uri,
                         const char *content_type, const char *body, const char *in_reply_to) {
  xq_item *it = calloc(1, sizeof *it);
  if (!it) return;
  it->kind = REQ_NOTICE;
  it->out.request_uri = strdup(to_uri);
  it->out.from = strdup(from);
  it->out.content_type = strdup(content_type);
  it->out.body = strdup(body);
  it->in_reply_to = in_reply_to ? strdup(in_reply_to) : NULL;
  if (!it->out.request_uri || !it->out.from || !it->out.content_type || !it->out.body ||
      (in_reply_to && !it->in_reply_to) ||
      send_item(gw, it) != 0) {
    sx_err("im", "delivery-failure notice to %s could not be sent", to_uri);
    item_free(it);
  }
}

void sx_relay_xmpp_drain(sx_gw *gw) {
  while (gw->xq_head) {
    xq_item *it = gw->xq_head;
    gw->xq_head = it->next;
    sx_msglog_release(it, 0, "failed", "service-unavailable: the gateway is shutting down");
    send_error(gw, it->domain, it->xfrom, it->xto, it->id, "service-unavailable",
               "the gateway is shutting down");
    sx_metric_msg(SX_DIR_XMPP_TO_SIP, SX_RES_FAILED);
    item_free(it);
  }
  gw->xq_tail = NULL;
  gw->xq_len = 0;
}
