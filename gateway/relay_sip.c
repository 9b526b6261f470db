/* SIP → XMPP: a MESSAGE from an internal user becomes a <message/> on the edge link. Every
 * request gets one honest final answer: 202 once the stanza is handed to the link, or the
 * refusal with its reason (SPEC §3, §5, §6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/access.h"
#include "gateway/gateway.h"
#include "gateway/metrics.h"
#include "gateway/presence.h"
#include "gateway/msglog.h"
#include "translate/log.h"

/* Stanzas handed to one edge link and not yet confirmed by the server: past this the link
 * is not keeping up and new messages get 503 instead of a growing queue (each one waiting
 * holds its SIP request). */
#define MAX_UNCONFIRMED 2048

static void refuse(sx_gw *gw, sx_sip_txn *txn, const sx_sip_request *rq, int status,
                   const char *reason, const char *code, int with_warning, int with_accept) {
  char warning[1200];
  sx_sip_reply_hdrs h = {0};
  if (with_warning) {
    /* A Warning's text is a quoted-string: no quotes or backslashes inside. */
    char text[1024];
    size_t i, j = 0;
    for (i = 0; reason[i] && j + 1 < sizeof text; i++)
      text[j++] = (reason[i] == '"' || reason[i] == '\\') ? '\'' : reason[i];
    text[j] = '\0';
    snprintf(warning, sizeof warning, "399 %s \"%s\"", gw->warn_agent, text);
    h.warning = warning;
  }
  if (with_accept) h.accept = SX_IM_ACCEPT;
  sx_sip_reply(gw->sip, txn, status, NULL, &h);
  sx_metric_msg(SX_DIR_SIP_TO_XMPP, status == 503 ? SX_RES_REJECTED_BUSY : SX_RES_REFUSED);
  sx_metric_refusal(SX_DIR_SIP_TO_XMPP, code);
  {
    char detail[1200];
    snprintf(detail, sizeof detail, "%s: %s (from %s)", code, reason, rq->src_text);
    sx_msglog_done(SX_DIR_SIP_TO_XMPP, rq->call_id, rq->from_uri, rq->request_uri, status,
                   status == 503 ? "busy" : "refused", detail, 0);
  }
}

/* 503 because the edge link is down (edge may be NULL): Retry-After is when the link tries
 * to reconnect. */
static void reply_link_down(sx_gw *gw, sx_sip_txn *txn, const sx_edge *edge) {
  char secs[16];
  unsigned ms = edge ? sx_edge_retry_in_ms(edge) : 0;
  sx_sip_reply_hdrs h = {.retry_after = secs};
  snprintf(secs, sizeof secs, "%u", ms ? (ms + 999) / 1000 : 1);
  sx_sip_reply(gw->sip, txn, 503, "XMPP Edge Link Down", &h);
  sx_metric_msg(SX_DIR_SIP_TO_XMPP, SX_RES_REJECTED_BUSY);
  sx_metric_refusal(SX_DIR_SIP_TO_XMPP, "link_down");
}

int sx_relay_sip_trusted(void *ud, int family, const void *addr) {
  sx_gw *gw = ud;
  return sx_config_trusted(&gw->cfg, family, addr);
}

void sx_relay_sip_request(void *ud, const sx_sip_request *rq, sx_sip_txn *txn) {
  sx_gw *gw = ud;
  sx_im_sip_in in;
  sx_im_opts opts;
  sx_im_fail fail;
  sx_xmsg x;
  sx_jid sender, target;
  sx_decision d;
  sx_im_imdn imdn;
  sx_edge *edge;
  sx_sip_txn *deferred;
  char id[SX_STANZA_ID_MAX], *xml, *user_key = NULL, *ext_key = NULL;
  size_t len;

  if (strcmp(rq->method, "SUBSCRIBE") == 0) {
    sx_pres_sip_subscribe(gw, rq, txn);
    return;
  }
  sx_msglog_begin();
  if (strcmp(rq->method, "NOTIFY") == 0 &&
      !sx_config_trusted(&gw->cfg, rq->src_family, rq->src_addr)) {
    sx_sip_reply(gw->sip, txn, 403, "requests are accepted from trusted peers only", NULL);
    sx_debug("sip", "NOTIFY from untrusted %s answered 403", rq->src_text);
    return;
  }
  if (strcmp(rq->method, "MESSAGE") != 0) {
    sx_sip_reply_hdrs h = {.allow = "MESSAGE, OPTIONS, SUBSCRIBE, NOTIFY"};
    sx_sip_reply(gw->sip, txn, 405, NULL, &h);
    sx_debug("sip", "%s from %s answered 405", rq->method, rq->src_text);
    return;
  }
  if (!sx_config_trusted(&gw->cfg, rq->src_family, rq->src_addr)) {
    refuse(gw, txn, rq, 403, "requests are accepted from trusted peers only", "untrusted_peer",
           1, 0);
    return;
  }

  in = (sx_im_sip_in){.from_uri = rq->from_uri,
                      .request_uri = rq->request_uri,
                      .call_id = rq->call_id,
                      .subject = rq->subject,
                      .content_type = rq->content_type,
                      .charset = rq->charset,
                      .content_language = rq->content_language,
                      .body = rq->body,
                      .body_len = rq->body_len};
  opts = (sx_im_opts){.max_body = gw->cfg.max_message_bytes, .msg_type = gw->cfg.message_type};
  if (sx_im_from_sip_ex(&in, &opts, &x, &sender, &target, &imdn, &fail) != 0) {
    refuse(gw, txn, rq, fail.status, fail.reason, fail.code, fail.warn, fail.accept);
    return;
  }
  if (!sx_config_serves(&gw->cfg, sender.domain)) {
    refuse(gw, txn, rq, 403, "the sender is not in a domain this gateway serves",
           "from_not_served", 1, 0);
    goto out;
  }
  if (sx_config_serves(&gw->cfg, target.domain)) {
    refuse(gw, txn, rq, 404, "the target is an internal user, not an XMPP contact",
           "internal_target", 1, 0);
    goto out;
  }

  user_key = sx_jid_key(&sender);
  ext_key = sx_jid_key(&target);
  if (!user_key || !ext_key) {
    refuse(gw, txn, rq, 500, "out of memory", "internal", 0, 0);
    goto out;
  }
  sx_decide(sx_access_snap(gw->access), user_key, target.domain, ext_key, SX_DIR_OUT,
            SX_KIND_MESSAGE, &d);
  if (d.verdict != SX_ALLOW) {
    refuse(gw, txn, rq, d.sip_status ? d.sip_status : 403, d.reason, d.reason_code, 1, 0);
    goto out;
  }

  edge = sx_gw_edge(gw, sender.domain);
  if (!edge || !sx_edge_is_up(edge)) {
    reply_link_down(gw, txn, edge);
    sx_msglog_done(SX_DIR_SIP_TO_XMPP, rq->call_id, rq->from_uri, rq->request_uri, 503, "busy",
                   "link_down: the edge link is down", 0);
    goto out;
  }
  if (sx_edge_unconfirmed(edge) >= MAX_UNCONFIRMED) {
    sx_sip_reply_hdrs h = {.retry_after = "1"};
    sx_sip_reply(gw->sip, txn, 503, "XMPP Edge Link Busy", &h);
    sx_metric_msg(SX_DIR_SIP_TO_XMPP, SX_RES_REJECTED_BUSY);
    sx_metric_refusal(SX_DIR_SIP_TO_XMPP, "link_busy");
    sx_msglog_done(SX_DIR_SIP_TO_XMPP, rq->call_id, rq->from_uri, rq->request_uri, 503, "busy",
                   "link_busy: too many stanzas unconfirmed", 0);
    goto out;
  }
  {
    sx_idmap_entry e = {.sender = (char *)rq->from_uri,
                        .target = x.to,
                        .call_id = (char *)rq->call_id,
                        .imdn_id = imdn.id,
                        .imdn_datetime = imdn.datetime,
                        .imdn_flags = imdn.flags};
    if (sx_stanza_ids_put(gw->ids, sx_gw_now(gw), &e, id, sizeof id) != 0) {
      refuse(gw, txn, rq, 500, "out of memory", "internal", 0, 0);
      goto out;
    }
  }
  if (!(x.id = strdup(id)) || !(xml = sx_xmsg_serialize(&x, &len))) {
    refuse(gw, txn, rq, 500, "out of memory", "internal", 0, 0);
    goto out;
  }
  /* 202 once the edge server has routed the stanza (sx_relay_sip_confirm). */
  deferred = sx_sip_defer(gw->sip, txn);
  if (!deferred) {
    refuse(gw, txn, rq, 500, "out of memory", "internal", 0, 0);
  } else if (sx_edge_send_tracked(edge, xml, len, deferred) != 0) {
    reply_link_down(gw, deferred, edge);
    sx_msglog_done(SX_DIR_SIP_TO_XMPP, rq->call_id, rq->from_uri, x.to, 503, "busy",
                   "link_down: the edge link is down", 0);
  } else {
    sx_msglog_hold(deferred, SX_DIR_SIP_TO_XMPP, rq->call_id, id, rq->from_uri, x.to, 0);
    sx_msglog_audit(SX_DIR_SIP_TO_XMPP, rq->call_id, x.from, x.to, x.body);
  }
  free(xml);
out:
  free(user_key);
  free(ext_key);
  sx_im_imdn_free(&imdn);
  sx_xmsg_free(&x);
  sx_jid_free(&sender);
  sx_jid_free(&target);
}

void sx_relay_sip_confirm(void *ud, sx_edge *edge, void *token, int ok) {
  sx_gw *gw = ud;
  sx_sip_txn *txn = token;
  if (!gw->sip) return; /* never: the links are released before the SIP side (main.c) */
  if (ok) {
    sx_sip_reply(gw->sip, txn, 202, NULL, NULL);
    sx_metric_msg(SX_DIR_SIP_TO_XMPP, SX_RES_ACCEPTED);
    sx_msglog_release(token, 202, "accepted", NULL);
  } else {
    /* The link went down before the server confirmed the stanza: the sender learns it was
     * not taken, and may send again. */
    reply_link_down(gw, txn, edge);
    sx_msglog_release(token, 503, "busy", "link_down: the edge link went down before the server confirmed");
  }
}
