/* Inbound <presence/> → sx_presence: see xmpp/edge_presence.h. */
#include "xmpp/edge_presence.h"

#include <stdlib.h>
#include <string.h>

#define NS_CLIENT "jabber:client"
#define NS_COMPONENT "jabber:component:accept"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

/* Malloc'd text of el ("" when empty), NULL when out of memory. */
static char *text_of(xmpp_ctx_t *ctx, xmpp_stanza_t *el) {
  char *t = xmpp_stanza_get_text(el), *r = strdup(t ? t : "");
  if (t) xmpp_free(ctx, t);
  return r;
}

/* xml:lang: libstrophe's parser drops attribute namespaces, so it arrives as "lang". */
static const char *lang_of(xmpp_stanza_t *el) {
  const char *l = xmpp_stanza_get_attribute(el, "xml:lang");
  return l ? l : xmpp_stanza_get_attribute(el, "lang");
}

/* A child of the stanza's own namespace (the component stream's, or jabber:client as some
 * servers route it). */
static int stanza_ns(xmpp_stanza_t *el) {
  const char *ns = xmpp_stanza_get_ns(el);
  return !ns || strcmp(ns, NS_COMPONENT) == 0 || strcmp(ns, NS_CLIENT) == 0;
}

edge_pres_rc edge_presence_extract(xmpp_ctx_t *ctx, xmpp_stanza_t *st, char *from, char *to,
                                   sx_presence *out) {
  const char *id = xmpp_stanza_get_id(st), *lang = lang_of(st);
  xmpp_stanza_t *c;
  edge_pres_rc rc = EP_OK;
  int have_show = 0, have_prio = 0;

  memset(out, 0, sizeof *out);
  out->from = from;
  out->to = to;
  if (sx_pres_type_parse(xmpp_stanza_get_type(st), &out->type) != 0) return EP_BAD;
  if ((id && !(out->id = strdup(id))) || (lang && !(out->lang = strdup(lang))))
    return EP_NOMEM;

  for (c = xmpp_stanza_get_children(st); c && rc == EP_OK; c = xmpp_stanza_get_next(c)) {
    const char *name = xmpp_stanza_is_tag(c) ? xmpp_stanza_get_name(c) : NULL;
    char *t;
    if (!name) continue;
    if (strcmp(name, "error") == 0 && out->type == SX_PRES_ERROR && !out->error_condition) {
      const char *et = xmpp_stanza_get_attribute(c, "type");
      if (et && !(out->error_type = strdup(et))) return EP_NOMEM;
      for (xmpp_stanza_t *g = xmpp_stanza_get_children(c); g; g = xmpp_stanza_get_next(g)) {
        const char *gn = xmpp_stanza_is_tag(g) ? xmpp_stanza_get_name(g) : NULL;
        const char *gns = gn ? xmpp_stanza_get_ns(g) : NULL;
        if (!gn || !gns || strcmp(gns, NS_STANZAS) != 0 || strcmp(gn, "text") == 0) continue;
        if (!(out->error_condition = strdup(gn))) return EP_NOMEM;
        break;
      }
      continue;
    }
    if (!stanza_ns(c)) continue; /* extensions (caps, vcard-update, ...) */
    if (strcmp(name, "show") == 0 && !have_show) {
      have_show = 1;
      if (!(t = text_of(ctx, c))) return EP_NOMEM;
      if (sx_show_parse(t, &out->show) != 0) rc = EP_BAD;
      free(t);
    } else if (strcmp(name, "priority") == 0 && !have_prio) {
      char *end;
      long v;
      have_prio = 1;
      if (!(t = text_of(ctx, c))) return EP_NOMEM;
      v = strtol(t, &end, 10);
      if (end == t || *end || v < -128 || v > 127) rc = EP_BAD;
      out->has_priority = 1;
      out->priority = (int)v;
      free(t);
    } else if (strcmp(name, "status") == 0) {
      if (!(t = text_of(ctx, c))) return EP_NOMEM;
      if (sx_presence_add_status(out, lang_of(c), t) != 0) rc = EP_BAD;
      free(t);
    }
  }
  return rc;
}
