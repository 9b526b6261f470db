/* Inbound <presence/> → sx_presence: see xmpp/edge_presence.h. */
#include "xmpp/edge_presence.h"

#include <stdlib.h>
#include <string.h>

#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

edge_pres_rc edge_presence_extract(const sx_xel *st, char *from, char *to, sx_presence *out) {
  const char *id = sx_xel_attr(st, "id"), *lang = sx_xel_attr(st, "xml:lang");
  const char *sns = sx_xel_ns(st);
  int have_show = 0, have_prio = 0;

  memset(out, 0, sizeof *out);
  out->from = from;
  out->to = to;
  if (sx_pres_type_parse(sx_xel_attr(st, "type"), &out->type) != 0) return EP_BAD;
  if ((id && !(out->id = strdup(id))) || (lang && !(out->lang = strdup(lang))))
    return EP_NOMEM;

  for (const sx_xel *c = sx_xel_first(st); c; c = sx_xel_next(c)) {
    const char *name = sx_xel_name(c);
    if (strcmp(sx_xel_ns(c), sns) != 0) continue; /* extensions (caps, vcard-update, ...) */
    if (strcmp(name, "error") == 0) {
      if (out->type != SX_PRES_ERROR || out->error_condition) continue;
      const char *et = sx_xel_attr(c, "type");
      if (et && !(out->error_type = strdup(et))) return EP_NOMEM;
      for (const sx_xel *g = sx_xel_first(c); g; g = sx_xel_next(g)) {
        if (strcmp(sx_xel_ns(g), NS_STANZAS) != 0 || strcmp(sx_xel_name(g), "text") == 0)
          continue;
        if (!(out->error_condition = strdup(sx_xel_name(g)))) return EP_NOMEM;
        break;
      }
    } else if (strcmp(name, "show") == 0 && !have_show) {
      have_show = 1;
      if (sx_show_parse(sx_xel_text(c), &out->show) != 0) return EP_BAD;
    } else if (strcmp(name, "priority") == 0 && !have_prio) {
      const char *t = sx_xel_text(c);
      char *end;
      long v = strtol(t, &end, 10);
      have_prio = 1;
      if (end == t || *end || v < -128 || v > 127) return EP_BAD;
      out->has_priority = 1;
      out->priority = (int)v;
    } else if (strcmp(name, "status") == 0) {
      if (sx_presence_add_status(out, sx_xel_attr(c, "xml:lang"), sx_xel_text(c)) != 0)
        return EP_BAD;
    }
  }
  return EP_OK;
}
