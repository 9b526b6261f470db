/* Inbound stanzas on the edge link (xmpp/edge.h), as element trees from the link's parser
 * (xmpp/edge_xml.h): checks of from/to (malformed or spoofed addresses are dropped),
 * <message/> turned into an sx_xmsg for the on_message callback, <iq/> answered here
 * (disco#info, ping, service-unavailable; our own barrier and keepalive pings recognised),
 * <presence/> converted by edge_presence.c for on_presence.
 * Stanza → plain struct conversions live here; the accessors are sx_xel_name/ns/attr/child/
 * first/next/text. Only children in the stanza's own namespace are its body, subject,
 * thread and error. */
#include "xmpp/edge_internal.h"

#include <stdlib.h>
#include <string.h>

#include "translate/address.h"
#include "translate/log.h"
#include "translate/text.h"
#include "translate/xmsg.h"
#include "xmpp/edge_presence.h"

#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_RECEIPTS "urn:xmpp:receipts"
#define NS_CHATSTATES "http://jabber.org/protocol/chatstates"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

static void send_iq_error(sx_edge *e, const char *from, const char *to, const char *id,
                          const char *cond, const char *type) {
  sx_buf b = {0};
  sx_buf_puts(&b, "<iq type='error'");
  edge_put_attr(&b, "from", from);
  edge_put_attr(&b, "to", to);
  edge_put_attr(&b, "id", id);
  sx_buf_printf(&b, "><error type='%s'><%s xmlns='" NS_STANZAS "'/></error></iq>", type, cond);
  edge_send_buf(e, &b);
  e->stats.refused++;
}

static int is_served(const sx_edge *e, const char *domain) {
  if (sx_domain_eq(domain, e->domain)) return 1;
  for (size_t i = 0; i < e->n_served; i++)
    if (e->served[i] && sx_domain_eq(domain, e->served[i])) return 1;
  return 0;
}

typedef enum { IN_OK, IN_DROP, IN_WRONG_DOMAIN, IN_BAD_TO } in_check;

/* Parses and checks from/to. On IN_OK and IN_WRONG_DOMAIN both JIDs are filled (caller frees);
 * on IN_BAD_TO (a valid sender, a missing or malformed `to`: the sender gets jid-malformed)
 * only `from`; on IN_DROP nothing is left allocated. */
static in_check check_addresses(sx_edge *e, const sx_xel *st, const char *kind, sx_jid *from,
                                sx_jid *to) {
  const char *f = sx_xel_attr(st, "from"), *t = sx_xel_attr(st, "to");
  const char *id = sx_xel_attr(st, "id");

  memset(from, 0, sizeof *from);
  memset(to, 0, sizeof *to);
  if (!f || sx_jid_parse(f, from) != SX_ADDR_OK) {
    sx_warn("edge", "%s dropped %s id=%s: missing or malformed from", e->domain, kind,
            id ? id : "-");
    e->stats.dropped_malformed++;
    if (e->cbs.on_drop) e->cbs.on_drop(e->ud, e, "malformed_address");
    sx_jid_free(from);
    return IN_DROP;
  }
  if (is_served(e, from->domain)) {
    sx_warn("edge", "%s dropped spoofed %s id=%s: from %s is a served domain", e->domain, kind,
            id ? id : "-", from->domain);
    e->stats.dropped_spoofed++;
    if (e->cbs.on_drop) e->cbs.on_drop(e->ud, e, "spoofed_from");
    sx_jid_free(from);
    return IN_DROP;
  }
  if (!t || sx_jid_parse(t, to) != SX_ADDR_OK) {
    sx_warn("edge", "%s refused %s id=%s: missing or malformed to", e->domain, kind,
            id ? id : "-");
    e->stats.dropped_malformed++;
    if (e->cbs.on_drop) e->cbs.on_drop(e->ud, e, "malformed_address");
    sx_jid_free(to);
    return IN_BAD_TO;
  }
  if (!sx_domain_eq(to->domain, e->domain)) return IN_WRONG_DOMAIN;
  return IN_OK;
}

/* The address an error reply comes from: the original `to` when it is in a served domain,
 * else this edge's domain. Returns malloc'd text. */
static char *reply_from(const sx_edge *e, const sx_jid *to) {
  if (is_served(e, to->domain)) return sx_jid_to_text(to, 1);
  return strdup(e->domain);
}

/* Malloc'd copy of the element's text; "" for an empty element. */
static char *elem_text(const sx_xel *el) { return strdup(sx_xel_text(el)); }

static int ns_is(const sx_xel *el, const char *ns) { return strcmp(sx_xel_ns(el), ns) == 0; }

static sx_chat_state chat_state_of(const char *name) {
  static const struct { const char *n; sx_chat_state s; } t[] = {
      {"active", SX_CHAT_ACTIVE},     {"composing", SX_CHAT_COMPOSING},
      {"paused", SX_CHAT_PAUSED},     {"inactive", SX_CHAT_INACTIVE},
      {"gone", SX_CHAT_GONE},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcmp(name, t[i].n) == 0) return t[i].s;
  return SX_CHAT_NONE;
}

/* Fills m from a <message/>; from/to are given in normalised text form. 0 or -1 (no memory). */
static int extract_message(const sx_xel *st, char *from, char *to, sx_xmsg *m) {
  const char *id = sx_xel_attr(st, "id"), *type = sx_xel_attr(st, "type");
  const char *lang = sx_xel_attr(st, "xml:lang"), *sns = sx_xel_ns(st);
  int oom = 0;

  memset(m, 0, sizeof *m);
  m->from = from;
  m->to = to;
  if (id && !(m->id = strdup(id))) oom = 1;
  if (type && !(m->type = strdup(type))) oom = 1;
  if (lang && !(m->lang = strdup(lang))) oom = 1;

  for (const sx_xel *c = sx_xel_first(st); c; c = sx_xel_next(c)) {
    const char *name = sx_xel_name(c);
    if (ns_is(c, NS_CHATSTATES)) {
      sx_chat_state cs = chat_state_of(name);
      if (cs != SX_CHAT_NONE && m->chat_state == SX_CHAT_NONE) m->chat_state = cs;
    } else if (ns_is(c, NS_RECEIPTS)) {
      if (strcmp(name, "request") == 0) {
        m->receipt_request = 1;
      } else if (strcmp(name, "received") == 0 && !m->receipt_for) {
        /* Early XEP-0184 versions put the acknowledged id on the message itself. */
        const char *rid = sx_xel_attr(c, "id");
        if (!rid) rid = id;
        if (rid && !(m->receipt_for = strdup(rid))) oom = 1;
      }
    } else if (!ns_is(c, sns)) {
      continue; /* a <body/> of another namespace is not the message's body */
    } else if (strcmp(name, "body") == 0 && !m->body) {
      if (!(m->body = elem_text(c))) oom = 1;
    } else if (strcmp(name, "subject") == 0 && !m->subject) {
      if (!(m->subject = elem_text(c))) oom = 1;
    } else if (strcmp(name, "thread") == 0 && !m->thread) {
      if (!(m->thread = elem_text(c))) oom = 1;
    } else if (strcmp(name, "error") == 0 && type && strcmp(type, "error") == 0 &&
               !m->error_condition) {
      const char *et = sx_xel_attr(c, "type");
      if (et && !m->error_type && !(m->error_type = strdup(et))) oom = 1;
      for (const sx_xel *g = sx_xel_first(c); g; g = sx_xel_next(g)) {
        const char *gn = sx_xel_name(g);
        if (!ns_is(g, NS_STANZAS)) continue;
        if (strcmp(gn, "text") == 0) {
          if (!m->error_text && !(m->error_text = elem_text(g))) oom = 1;
        } else if (!m->error_condition && !(m->error_condition = strdup(gn))) {
          oom = 1;
        }
      }
    }
  }
  return oom ? -1 : 0;
}

static void handle_message(sx_edge *e, const sx_xel *st) {
  sx_jid from, to;
  const char *type = sx_xel_attr(st, "type"), *id = sx_xel_attr(st, "id");
  int is_error = type && strcmp(type, "error") == 0;
  in_check c;

  c = check_addresses(e, st, "message", &from, &to);
  if (c == IN_DROP) return;
  if (c == IN_BAD_TO) {
    char *f = sx_jid_to_text(&from, 1), *x = NULL;
    size_t len;
    if (!is_error && f) x = sx_xmsg_error_reply(f, e->domain, id, "jid-malformed", NULL, &len);
    if (x && e->state == LS_UP) edge_send_text(e, x, len);
    free(x);
    free(f);
    sx_jid_free(&from);
    return;
  }
  if (c == IN_WRONG_DOMAIN) {
    sx_warn("edge", "%s refused message id=%s for domain %s", e->domain, id ? id : "-",
            to.domain);
    if (!is_error) {
      char *rf = reply_from(e, &to), *f = sx_jid_to_text(&from, 1), *x;
      size_t len;
      x = (rf && f) ? sx_xmsg_error_reply(f, rf, id, "service-unavailable", NULL, &len) : NULL;
      if (x && e->state == LS_UP) edge_send_text(e, x, len);
      e->stats.refused++;
      free(x);
      free(rf);
      free(f);
    }
    sx_jid_free(&from);
    sx_jid_free(&to);
    return;
  }

  sx_xmsg m;
  char *f = sx_jid_to_text(&from, 1), *t = sx_jid_to_text(&to, 1);
  sx_jid_free(&from);
  sx_jid_free(&to);
  if (!f || !t || extract_message(st, f, t, &m) != 0) {
    if (f && t) sx_xmsg_free(&m);
    else {
      free(f);
      free(t);
    }
    sx_err("edge", "%s out of memory: dropped message id=%s", e->domain, id ? id : "-");
    return;
  }
  sx_debug("edge", "%s message id=%s type=%s from=%s to=%s", e->domain, id ? id : "-",
           type ? type : "normal", m.from, m.to);
  e->stats.in_messages++;
  if (e->cbs.on_message) e->cbs.on_message(e->ud, e, &m);
  sx_xmsg_free(&m);
  return;
}

/* Presence: addresses checked like every stanza, then converted (edge_presence.c) for
 * on_presence. */
static void handle_presence(sx_edge *e, const sx_xel *st) {
  sx_jid from, to;
  const char *type = sx_xel_attr(st, "type");

  in_check pc = check_addresses(e, st, "presence", &from, &to);
  if (pc == IN_DROP) return;
  if (pc == IN_BAD_TO) {
    sx_jid_free(&from);
    return;
  }
  if (pc == IN_OK && e->cbs.on_presence) {
    sx_presence p;
    char *f = sx_jid_to_text(&from, 1), *t = sx_jid_to_text(&to, 1);
    edge_pres_rc rc = f && t ? edge_presence_extract(st, f, t, &p) : EP_NOMEM;
    if (!f || !t) {
      free(f);
      free(t);
    } else if (rc == EP_OK) {
      e->cbs.on_presence(e->ud, e, &p);
    } else {
      sx_info("edge", "%s dropped presence type=%s from %s: %s", e->domain,
              type ? type : "available", f, rc == EP_BAD ? "invalid" : "out of memory");
    }
    if (f && t) sx_presence_free(&p);
  } else {
    sx_debug("edge", "%s presence type=%s from %s@%s for another domain ignored", e->domain,
             type ? type : "available", from.local ? from.local : "", from.domain);
  }
  sx_jid_free(&from);
  sx_jid_free(&to);
  return;
}

static void answer_disco_info(sx_edge *e, const char *from, const char *to, const char *id,
                              const sx_jid *target) {
  sx_buf b = {0};
  sx_buf_puts(&b, "<iq type='result'");
  edge_put_attr(&b, "from", from);
  edge_put_attr(&b, "to", to);
  edge_put_attr(&b, "id", id);
  sx_buf_puts(&b, "><query xmlns='" NS_DISCO_INFO "'>");
  if (target->local)
    sx_buf_puts(&b, "<identity category='account' type='registered'/>");
  else
    sx_buf_puts(&b, "<identity category='gateway' type='sip' name='sipxmpp'/>");
  sx_buf_puts(&b, "<feature var='" NS_DISCO_INFO "'/><feature var='" NS_PING "'/>"
                  "<feature var='" NS_RECEIPTS "'/><feature var='" NS_CHATSTATES "'/>"
                  "</query></iq>");
  edge_send_buf(e, &b);
  e->stats.in_iq_answered++;
}

static void answer_empty_result(sx_edge *e, const char *from, const char *to, const char *id) {
  sx_buf b = {0};
  sx_buf_puts(&b, "<iq type='result'");
  edge_put_attr(&b, "from", from);
  edge_put_attr(&b, "to", to);
  edge_put_attr(&b, "id", id);
  sx_buf_puts(&b, "/>");
  edge_send_buf(e, &b);
  e->stats.in_iq_answered++;
}

static void handle_iq(sx_edge *e, const sx_xel *st) {
  const char *type = sx_xel_attr(st, "type"), *id = sx_xel_attr(st, "id");
  const char *f = sx_xel_attr(st, "from");
  int is_get, is_set;
  sx_jid from, to;
  in_check c;

  /* Our own barrier, routed back to us: everything sent before it was routed. */
  if (id && f && strncmp(id, BARRIER_PREFIX, sizeof BARRIER_PREFIX - 1) == 0 &&
      sx_domain_eq(f, e->domain)) {
    if (type && !strcmp(type, "get")) edge_barrier_returned(e, id);
    return;
  }
  /* Our own keepalive ping, routed back to us by the server (or its answer). */
  if (id && f && strncmp(id, KA_PING_PREFIX, sizeof KA_PING_PREFIX - 1) == 0 &&
      sx_domain_eq(f, e->domain)) {
    sx_debug("edge", "%s keepalive %s %s", e->domain, type ? type : "-", id);
    return;
  }
  is_get = type && strcmp(type, "get") == 0;
  is_set = type && strcmp(type, "set") == 0;

  c = check_addresses(e, st, "iq", &from, &to);
  if (c == IN_DROP) return;
  if (c == IN_BAD_TO) {
    char *rt = sx_jid_to_text(&from, 1);
    if ((is_get || is_set) && id && rt)
      send_iq_error(e, e->domain, rt, id, "jid-malformed", "modify");
    free(rt);
    sx_jid_free(&from);
    return;
  }
  if (!is_get && !is_set) { /* result / error: nothing of ours waits for one */
    sx_debug("edge", "%s iq %s id=%s consumed", e->domain, type ? type : "-", id ? id : "-");
    goto done;
  }
  if (!id) {
    sx_warn("edge", "%s dropped iq %s without id", e->domain, type);
    e->stats.dropped_malformed++;
    goto done;
  }

  char *rf = reply_from(e, &to), *rt = sx_jid_to_text(&from, 1);
  if (!rf || !rt) {
    sx_err("edge", "%s out of memory answering iq id=%s", e->domain, id);
  } else if (c == IN_WRONG_DOMAIN) {
    sx_warn("edge", "%s refused iq id=%s for domain %s", e->domain, id, to.domain);
    send_iq_error(e, rf, rt, id, "service-unavailable", "cancel");
  } else {
    const sx_xel *q = sx_xel_first(st);
    const char *qn = q ? sx_xel_name(q) : NULL;
    if (is_get && qn && strcmp(qn, "query") == 0 && ns_is(q, NS_DISCO_INFO)) {
      if (sx_xel_attr(q, "node"))
        send_iq_error(e, rf, rt, id, "item-not-found", "cancel");
      else
        answer_disco_info(e, rf, rt, id, &to);
    } else if (is_get && qn && strcmp(qn, "ping") == 0 && ns_is(q, NS_PING)) {
      answer_empty_result(e, rf, rt, id);
    } else {
      sx_debug("edge", "%s iq %s id=%s <%s xmlns='%s'> not served", e->domain, type, id,
               qn ? qn : "", q ? sx_xel_ns(q) : "");
      send_iq_error(e, rf, rt, id, "service-unavailable", "cancel");
    }
  }
  free(rf);
  free(rt);
done:
  sx_jid_free(&from);
  sx_jid_free(&to);
  return;
}

/* Stanzas of the component stream's namespace; jabber:client and jabber:server are accepted
 * too (a server may route a client's stanza with its original namespace). */
static int stanza_ns(const char *ns) {
  return !strcmp(ns, SX_NS_COMPONENT) || !strcmp(ns, "jabber:client") ||
         !strcmp(ns, "jabber:server");
}

void edge_inbound_stanza(sx_edge *e, const sx_xel *st) {
  const char *name = sx_xel_name(st);
  if (!stanza_ns(sx_xel_ns(st))) {
    sx_debug("edge", "%s ignored <%s xmlns='%s'>", e->domain, name, sx_xel_ns(st));
    return;
  }
  if (!strcmp(name, "message")) handle_message(e, st);
  else if (!strcmp(name, "presence")) handle_presence(e, st);
  else if (!strcmp(name, "iq")) handle_iq(e, st);
  else sx_debug("edge", "%s ignored <%s/>", e->domain, name);
}
