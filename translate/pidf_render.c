/* XMPP → PIDF with RPID (translate/pidf_render.h). */
#include "translate/pidf_render.h"

#include <string.h>

#include "translate/text.h"

#define NS_PIDF "urn:ietf:params:xml:ns:pidf"
#define NS_DM "urn:ietf:params:xml:ns:pidf:data-model"
#define NS_RPID "urn:ietf:params:xml:ns:pidf:rpid"
#define NS_CLIENT "jabber:client"

static void put_attr(sx_buf *b, const char *name, const char *value) {
  sx_buf_puts(b, " ");
  sx_buf_puts(b, name);
  sx_buf_puts(b, "='");
  sx_buf_puts_xml(b, value);
  sx_buf_puts(b, "'");
}

/* "ID-" + the resource as an NCName: [A-Za-z0-9.-] kept, every other byte "_XX". */
static void put_tuple_id(sx_buf *b, const char *resource) {
  static const char hex[] = "0123456789ABCDEF";
  sx_buf_puts(b, " id='ID-");
  for (const unsigned char *p = (const unsigned char *)resource; *p; p++) {
    unsigned char c = *p;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
        c == '-') {
      sx_buf_put(b, (const char *)p, 1);
    } else {
      char e[3] = {'_', hex[c >> 4], hex[c & 15]};
      sx_buf_put(b, e, 3);
    }
  }
  sx_buf_puts(b, "'");
}

static void put_notes(sx_buf *b, const sx_pres_status *st, size_t n) {
  for (size_t i = 0; i < n; i++) {
    sx_buf_puts(b, "<note");
    if (st[i].lang) put_attr(b, "xml:lang", st[i].lang);
    sx_buf_puts(b, ">");
    sx_buf_puts_xml(b, st[i].text);
    sx_buf_puts(b, "</note>");
  }
}

static void put_tuple(sx_buf *b, const sx_pres_res *r, const char *entity, int strip_notes) {
  sx_buf_puts(b, "<tuple");
  put_tuple_id(b, r->resource);
  sx_buf_puts(b, "><status><basic>open</basic>");
  if (r->show != SX_SHOW_NONE)
    sx_buf_printf(b, "<show xmlns='" NS_CLIENT "'>%s</show>", sx_show_name(r->show));
  sx_buf_puts(b, "</status><contact");
  if (r->has_priority && r->priority >= 0) {
    int p = r->priority > 127 ? 127 : r->priority;
    /* p/127 with three decimals, computed in integers: round(p * 1000 / 127) */
    int milli = (p * 1000 + 63) / 127;
    sx_buf_printf(b, " priority='%d.%03d'", milli / 1000, milli % 1000);
  }
  sx_buf_puts(b, ">");
  sx_buf_puts_xml(b, entity);
  sx_buf_puts(b, "</contact>");
  if (!strip_notes) put_notes(b, r->statuses, r->n_statuses);
  sx_buf_puts(b, "</tuple>");
}

char *sx_pidf_render(const sx_pres_agg *a, const char *entity, int strip_notes, size_t *len) {
  if (len) *len = 0;
  if (!entity || !*entity || !sx_utf8_valid(entity, strlen(entity))) return NULL;
  sx_buf b = {0};
  sx_buf_puts(&b, "<?xml version='1.0' encoding='UTF-8'?>\n<presence xmlns='" NS_PIDF
                  "' xmlns:dm='" NS_DM "' xmlns:rpid='" NS_RPID "'");
  put_attr(&b, "entity", entity);
  sx_buf_puts(&b, ">");
  size_t n = a ? a->n : 0;
  for (size_t i = 0; i < n; i++) put_tuple(&b, &a->res[i], entity, strip_notes);
  if (!n) {
    sx_buf_puts(&b, "<tuple id='ID-offline'><status><basic>closed</basic></status><contact>");
    sx_buf_puts_xml(&b, entity);
    sx_buf_puts(&b, "</contact></tuple>");
  }
  const sx_pres_res *best = sx_agg_best(a);
  if (best && (best->show == SX_SHOW_AWAY || best->show == SX_SHOW_XA ||
               best->show == SX_SHOW_DND)) {
    sx_buf_puts(&b, "<dm:person id='p'><rpid:activities>");
    sx_buf_puts(&b, best->show == SX_SHOW_DND ? "<rpid:busy/>" : "<rpid:away/>");
    sx_buf_puts(&b, "</rpid:activities>");
    if (best->show == SX_SHOW_XA) sx_buf_puts(&b, "<rpid:user-input>idle</rpid:user-input>");
    sx_buf_puts(&b, "</dm:person>");
  }
  sx_buf_puts(&b, "</presence>\n");
  return sx_buf_take(&b, len);
}
