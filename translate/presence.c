/* The plain <presence/> stanza and its serialisation (translate/presence.h). */
#include "translate/presence.h"

#include <stdlib.h>
#include <string.h>

#include "translate/errors.h"
#include "translate/text.h"

#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

static const char *const TYPE_NAMES[] = {"available",   "unavailable", "subscribe",
                                         "subscribed",  "unsubscribe", "unsubscribed",
                                         "probe",       "error"};
static const char *const SHOW_NAMES[] = {"none", "chat", "away", "xa", "dnd"};

const char *sx_pres_type_name(sx_pres_type t) {
  return (unsigned)t < sizeof TYPE_NAMES / sizeof TYPE_NAMES[0] ? TYPE_NAMES[t] : "?";
}

const char *sx_show_name(sx_show s) {
  return (unsigned)s < sizeof SHOW_NAMES / sizeof SHOW_NAMES[0] ? SHOW_NAMES[s] : "?";
}

int sx_pres_type_parse(const char *text, sx_pres_type *out) {
  if (!text) {
    *out = SX_PRES_AVAILABLE;
    return 0;
  }
  /* "available" is not a wire value (RFC 6121 §4.7.1): index 0 is skipped */
  for (size_t i = 1; i < sizeof TYPE_NAMES / sizeof TYPE_NAMES[0]; i++)
    if (strcmp(text, TYPE_NAMES[i]) == 0) {
      *out = (sx_pres_type)i;
      return 0;
    }
  return -1;
}

int sx_show_parse(const char *text, sx_show *out) {
  if (!text) {
    *out = SX_SHOW_NONE;
    return 0;
  }
  for (size_t i = 1; i < sizeof SHOW_NAMES / sizeof SHOW_NAMES[0]; i++)
    if (strcmp(text, SHOW_NAMES[i]) == 0) {
      *out = (sx_show)i;
      return 0;
    }
  return -1;
}

static int text_ok(const char *s, size_t max) {
  size_t n = strlen(s);
  return n <= max && sx_utf8_valid(s, n);
}

int sx_presence_add_status(sx_presence *p, const char *lang, const char *text) {
  if (!p || !text || p->n_statuses >= SX_PRES_MAX_STATUSES || !text_ok(text, SX_PRES_MAX_TEXT) ||
      (lang && !text_ok(lang, SX_PRES_MAX_LANG)))
    return -1;
  sx_pres_status *v = realloc(p->statuses, (p->n_statuses + 1) * sizeof *v);
  if (!v) return -1;
  p->statuses = v;
  char *t = strdup(text), *l = lang ? strdup(lang) : NULL;
  if (!t || (lang && !l)) {
    free(t);
    free(l);
    return -1;
  }
  v[p->n_statuses].text = t;
  v[p->n_statuses].lang = l;
  p->n_statuses++;
  return 0;
}

void sx_presence_strip_statuses(sx_presence *p) {
  if (!p) return;
  for (size_t i = 0; i < p->n_statuses; i++) {
    free(p->statuses[i].text);
    free(p->statuses[i].lang);
  }
  free(p->statuses);
  p->statuses = NULL;
  p->n_statuses = 0;
}

static int dup_field(char **dst, const char *src) {
  *dst = NULL;
  if (!src) return 0;
  *dst = strdup(src);
  return *dst ? 0 : -1;
}

int sx_presence_copy(sx_presence *dst, const sx_presence *src) {
  memset(dst, 0, sizeof *dst);
  if (!src) return 0;
  dst->type = src->type;
  dst->show = src->show;
  dst->has_priority = src->has_priority;
  dst->priority = src->priority;
  if (dup_field(&dst->from, src->from) || dup_field(&dst->to, src->to) ||
      dup_field(&dst->id, src->id) || dup_field(&dst->lang, src->lang) ||
      dup_field(&dst->error_condition, src->error_condition) ||
      dup_field(&dst->error_type, src->error_type) ||
      dup_field(&dst->error_text, src->error_text))
    goto fail;
  if (src->n_statuses) {
    dst->statuses = calloc(src->n_statuses, sizeof *dst->statuses);
    if (!dst->statuses) goto fail;
    for (size_t i = 0; i < src->n_statuses; i++) {
      dst->n_statuses = i + 1;
      if (dup_field(&dst->statuses[i].text, src->statuses[i].text) ||
          dup_field(&dst->statuses[i].lang, src->statuses[i].lang))
        goto fail;
    }
  }
  return 0;
fail:
  sx_presence_free(dst);
  return -1;
}

/* name='escaped value' — nothing when value is NULL. */
static void put_attr(sx_buf *b, const char *name, const char *value) {
  if (!value) return;
  sx_buf_puts(b, " ");
  sx_buf_puts(b, name);
  sx_buf_puts(b, "='");
  sx_buf_puts_xml(b, value);
  sx_buf_puts(b, "'");
}

static const char *safe_error_type(const char *type, const char *cond) {
  static const char *const types[] = {"auth", "cancel", "continue", "modify", "wait"};
  if (type)
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
      if (strcmp(type, types[i]) == 0) return types[i];
  return sx_err_type(cond);
}

/* Every text that goes on the wire must be valid UTF-8 (sx_buf_put_xml removes what XML
 * cannot carry but does not repair encodings). */
static int all_utf8(const sx_presence *p) {
  const char *f[] = {p->from, p->to, p->id, p->lang, p->error_text, p->error_type};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    if (f[i] && !sx_utf8_valid(f[i], strlen(f[i]))) return 0;
  for (size_t i = 0; i < p->n_statuses; i++) {
    const sx_pres_status *s = &p->statuses[i];
    if (!s->text || !sx_utf8_valid(s->text, strlen(s->text))) return 0;
    if (s->lang && !sx_utf8_valid(s->lang, strlen(s->lang))) return 0;
  }
  return 1;
}

char *sx_presence_serialize(const sx_presence *p, size_t *len) {
  if (len) *len = 0;
  if (!p || !p->from || !p->to || !*p->from || !*p->to) return NULL;
  if ((unsigned)p->type > SX_PRES_ERROR || (unsigned)p->show > SX_SHOW_DND) return NULL;
  if (p->has_priority && (p->priority < -128 || p->priority > 127)) return NULL;
  if (!all_utf8(p)) return NULL;

  sx_buf b = {0};
  sx_buf_puts(&b, "<presence");
  put_attr(&b, "from", p->from);
  put_attr(&b, "to", p->to);
  put_attr(&b, "id", p->id);
  if (p->type != SX_PRES_AVAILABLE) put_attr(&b, "type", TYPE_NAMES[p->type]);
  put_attr(&b, "xml:lang", p->lang);

  int body = p->type == SX_PRES_AVAILABLE || p->type == SX_PRES_UNAVAILABLE;
  int has_children = (body && ((p->type == SX_PRES_AVAILABLE && p->show != SX_SHOW_NONE) ||
                               p->n_statuses || p->has_priority)) ||
                     p->type == SX_PRES_ERROR;
  if (!has_children) {
    sx_buf_puts(&b, "/>");
    return sx_buf_take(&b, len);
  }
  sx_buf_puts(&b, ">");
  if (body) {
    if (p->type == SX_PRES_AVAILABLE && p->show != SX_SHOW_NONE)
      sx_buf_printf(&b, "<show>%s</show>", SHOW_NAMES[p->show]);
    for (size_t i = 0; i < p->n_statuses; i++) {
      sx_buf_puts(&b, "<status");
      put_attr(&b, "xml:lang", p->statuses[i].lang);
      sx_buf_puts(&b, ">");
      sx_buf_puts_xml(&b, p->statuses[i].text);
      sx_buf_puts(&b, "</status>");
    }
    if (p->has_priority) sx_buf_printf(&b, "<priority>%d</priority>", p->priority);
  } else {
    /* the condition is written as an element name: only a defined one may appear */
    const char *cond = p->error_condition && sx_err_is_condition(p->error_condition)
                           ? p->error_condition
                           : "undefined-condition";
    sx_buf_printf(&b, "<error type='%s'><%s xmlns='" NS_STANZAS "'/>",
                  safe_error_type(p->error_type, cond), cond);
    if (p->error_text) {
      sx_buf_puts(&b, "<text xmlns='" NS_STANZAS "'>");
      sx_buf_puts_xml(&b, p->error_text);
      sx_buf_puts(&b, "</text>");
    }
    sx_buf_puts(&b, "</error>");
  }
  sx_buf_puts(&b, "</presence>");
  return sx_buf_take(&b, len);
}

void sx_presence_free(sx_presence *p) {
  if (!p) return;
  free(p->from);
  free(p->to);
  free(p->id);
  free(p->lang);
  sx_presence_strip_statuses(p);
  free(p->error_condition);
  free(p->error_type);
  free(p->error_text);
  memset(p, 0, sizeof *p);
}
