/* PIDF with RPID → one XMPP presence (translate/pidf_parse.h), parsed with expat. */
#include "translate/pidf_parse.h"

#include <expat.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "translate/text.h"

/* expat reports namespaced names as "URI<SEP>local" */
#define SEP ' '
#define NS_PIDF "urn:ietf:params:xml:ns:pidf"
#define NS_DM "urn:ietf:params:xml:ns:pidf:data-model"
#define NS_RPID "urn:ietf:params:xml:ns:pidf:rpid"
#define NS_CLIENT "jabber:client"
#define NS_XML "http://www.w3.org/XML/1998/namespace"

#define MAX_ATTRS 32      /* attributes on one element */
#define MAX_SHORT_TEXT 64 /* <basic>, <show>, <user-input> */

typedef enum { CAP_NONE = 0, CAP_BASIC, CAP_SHOW, CAP_USER_INPUT, CAP_NOTE } capture;

typedef struct {
  XML_Parser xp;
  sx_pidf_limits lim;
  sx_pidf_rc rc;
  char *err;
  size_t errn;

  unsigned depth, elements;
  char (*lang)[SX_PRES_MAX_LANG + 1]; /* xml:lang in effect at each depth */

  /* what the document says */
  int any_open;
  sx_show show_xmpp;     /* a jabber:client show (wins) */
  sx_show show_activity; /* the first RPID activity that maps */
  int have_priority;
  double best_priority; /* highest contact priority of an open tuple */

  /* the tuple being read */
  int in_tuple, tuple_open, tuple_has_prio;
  double tuple_prio;
  unsigned activities_depth; /* depth of an open <rpid:activities>, 0 when none */

  /* character data being captured */
  capture cap;
  unsigned cap_depth;
  size_t cap_max;
  sx_buf text;

  sx_presence *out;
} pstate;

static void fail(pstate *s, sx_pidf_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(pstate *s, sx_pidf_rc rc, const char *fmt, ...) {
  if (s->rc != SX_PIDF_OK) return;
  s->rc = rc;
  if (s->err && s->errn) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, s->errn, fmt, ap);
    va_end(ap);
  }
  XML_StopParser(s->xp, XML_FALSE);
}

/* "URI local" split: 1 when name is in namespace ns with local part local. */
static int is(const char *name, const char *ns, const char *local) {
  size_t n = strlen(ns);
  return strncmp(name, ns, n) == 0 && name[n] == SEP && strcmp(name + n + 1, local) == 0;
}

static const char *local_in(const char *name, const char *ns) {
  size_t n = strlen(ns);
  return strncmp(name, ns, n) == 0 && name[n] == SEP ? name + n + 1 : NULL;
}

static sx_show activity_show(const char *local) {
  static const char *const dnd[] = {"busy",        "on-the-phone", "meeting",
                                    "appointment", "performance",  "presentation"};
  static const char *const away[] = {"away", "meal", "steering", "travel", "sleeping"};
  static const char *const xa[] = {"vacation", "holiday", "permanent-absence"};
  for (size_t i = 0; i < sizeof dnd / sizeof dnd[0]; i++)
    if (strcmp(local, dnd[i]) == 0) return SX_SHOW_DND;
  for (size_t i = 0; i < sizeof away / sizeof away[0]; i++)
    if (strcmp(local, away[i]) == 0) return SX_SHOW_AWAY;
  for (size_t i = 0; i < sizeof xa / sizeof xa[0]; i++)
    if (strcmp(local, xa[i]) == 0) return SX_SHOW_XA;
  return SX_SHOW_NONE;
}

static void start_capture(pstate *s, capture c, size_t max) {
  s->cap = c;
  s->cap_depth = s->depth;
  s->cap_max = max;
  sx_buf_free(&s->text);
}

/* A PIDF priority "0.5", "1", "0.394" (RFC 3863: 0 <= q <= 1, up to three decimals). */
static int parse_priority(const char *v, double *out) {
  if (!v || !*v || strlen(v) > 8) return -1;
  char *end;
  double d = strtod(v, &end);
  if (*end || !(d >= 0.0 && d <= 1.0)) return -1;
  *out = d;
  return 0;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts) {
  pstate *s = ud;
  if (s->rc != SX_PIDF_OK) return;
  if (++s->elements > s->lim.max_elements) {
    fail(s, SX_PIDF_TOO_MANY, "more than %u elements", s->lim.max_elements);
    return;
  }
  if (s->depth + 1 > s->lim.max_depth) {
    fail(s, SX_PIDF_TOO_DEEP, "elements nested deeper than %u", s->lim.max_depth);
    return;
  }
  if (s->depth == 0 && !is(name, NS_PIDF, "presence")) {
    fail(s, SX_PIDF_NOT_PIDF, "the root element is not a PIDF <presence>");
    return;
  }
  if (s->cap != CAP_NONE) {
    /* mixed content inside a captured text element: not PIDF's */
    fail(s, SX_PIDF_MALFORMED, "element inside a text element");
    return;
  }
  s->depth++;
  /* xml:lang in effect: own, else the parent's */
  memcpy(s->lang[s->depth], s->lang[s->depth - 1], sizeof s->lang[0]);
  const char *prio = NULL;
  int nattr = 0;
  for (const XML_Char **a = atts; a[0]; a += 2) {
    if (++nattr > MAX_ATTRS) {
      fail(s, SX_PIDF_TOO_MANY, "more than %d attributes on one element", MAX_ATTRS);
      return;
    }
    if (is(a[0], NS_XML, "lang")) {
      if (strlen(a[1]) > SX_PRES_MAX_LANG) {
        fail(s, SX_PIDF_TOO_MANY, "xml:lang longer than %d bytes", SX_PRES_MAX_LANG);
        return;
      }
      strcpy(s->lang[s->depth], a[1]);
    } else if (strcmp(a[0], "priority") == 0) {
      prio = a[1];
    }
  }

  const char *rl;
  if (is(name, NS_PIDF, "tuple")) {
    s->in_tuple = 1;
    s->tuple_open = 0;
    s->tuple_has_prio = 0;
  } else if (is(name, NS_PIDF, "basic")) {
    start_capture(s, CAP_BASIC, MAX_SHORT_TEXT);
  } else if (is(name, NS_PIDF, "contact") && s->in_tuple) {
    double p;
    if (prio && parse_priority(prio, &p) == 0) {
      s->tuple_has_prio = 1;
      s->tuple_prio = p;
    }
  } else if (is(name, NS_PIDF, "note") || is(name, NS_DM, "note")) {
    start_capture(s, CAP_NOTE, SX_PRES_MAX_TEXT);
  } else if (is(name, NS_CLIENT, "show")) {
    start_capture(s, CAP_SHOW, MAX_SHORT_TEXT);
  } else if (is(name, NS_RPID, "activities")) {
    s->activities_depth = s->depth;
  } else if (is(name, NS_RPID, "user-input")) {
    start_capture(s, CAP_USER_INPUT, MAX_SHORT_TEXT);
  } else if (s->activities_depth && s->depth == s->activities_depth + 1 &&
             (rl = local_in(name, NS_RPID)) != NULL) {
    sx_show sh = activity_show(rl);
    if (sh != SX_SHOW_NONE && s->show_activity == SX_SHOW_NONE) s->show_activity = sh;
  }
}

/* Adds a note as a status unless the same text and lang is there already. */
static void add_note(pstate *s, const char *text, const char *lang) {
  if (!*text) return;
  for (size_t i = 0; i < s->out->n_statuses; i++) {
    const sx_pres_status *st = &s->out->statuses[i];
    const char *l = st->lang ? st->lang : "";
    if (strcmp(st->text, text) == 0 && strcmp(l, lang) == 0) return;
  }
  if (s->out->n_statuses >= SX_PRES_MAX_STATUSES) {
    fail(s, SX_PIDF_TOO_MANY, "more than %d distinct notes", SX_PRES_MAX_STATUSES);
    return;
  }
  if (sx_presence_add_status(s->out, *lang ? lang : NULL, text))
    fail(s, SX_PIDF_NOMEM, "out of memory");
}

/* Surrounding whitespace of a short token removed, in place. */
static char *trim(char *t) {
  while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r') t++;
  size_t n = strlen(t);
  while (n && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\n' || t[n - 1] == '\r'))
    t[--n] = '\0';
  return t;
}

static void end_capture(pstate *s) {
  if (s->text.oom) {
    fail(s, SX_PIDF_NOMEM, "out of memory");
    return;
  }
  char *t = s->text.data ? s->text.data : "";
  switch (s->cap) {
  case CAP_BASIC:
    if (strcmp(trim(t), "open") == 0) {
      s->any_open = 1;
      if (s->in_tuple) s->tuple_open = 1;
    }
    break;
  case CAP_SHOW: {
    sx_show sh;
    if (s->show_xmpp == SX_SHOW_NONE && sx_show_parse(trim(t), &sh) == 0) s->show_xmpp = sh;
    break;
  }
  case CAP_USER_INPUT:
    if (strcmp(trim(t), "idle") == 0 && s->show_activity == SX_SHOW_NONE)
      s->show_activity = SX_SHOW_AWAY;
    break;
  case CAP_NOTE: add_note(s, t, s->lang[s->depth]); break;
  case CAP_NONE: break;
  }
  s->cap = CAP_NONE;
  sx_buf_free(&s->text);
}

static void XMLCALL on_end(void *ud, const XML_Char *name) {
  pstate *s = ud;
  if (s->rc != SX_PIDF_OK) return;
  if (s->cap != CAP_NONE && s->depth == s->cap_depth) end_capture(s);
  if (is(name, NS_PIDF, "tuple")) {
    if (s->tuple_open && s->tuple_has_prio &&
        (!s->have_priority || s->tuple_prio > s->best_priority)) {
      s->have_priority = 1;
      s->best_priority = s->tuple_prio;
    }
    s->in_tuple = 0;
  }
  if (s->activities_depth == s->depth) s->activities_depth = 0;
  s->depth--;
}

static void XMLCALL on_text(void *ud, const XML_Char *t, int len) {
  pstate *s = ud;
  if (s->rc != SX_PIDF_OK || s->cap == CAP_NONE) return;
  if (s->text.len + (size_t)len > s->cap_max) {
    fail(s, SX_PIDF_TOO_MANY, "a %s longer than %zu bytes",
         s->cap == CAP_NOTE ? "note" : "token", s->cap_max);
    return;
  }
  sx_buf_put(&s->text, t, (size_t)len);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset) {
  (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
  fail(ud, SX_PIDF_FORBIDDEN, "DOCTYPE is not allowed");
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param,
                              const XML_Char *value, int value_len, const XML_Char *base,
                              const XML_Char *sysid, const XML_Char *pubid,
                              const XML_Char *notation) {
  (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid,
      (void)pubid, (void)notation;
  fail(ud, SX_PIDF_FORBIDDEN, "entity declarations are not allowed");
}

static void XMLCALL on_pi(void *ud, const XML_Char *target, const XML_Char *data) {
  (void)target, (void)data;
  fail(ud, SX_PIDF_FORBIDDEN, "processing instructions are not allowed");
}

const char *sx_pidf_rc_name(sx_pidf_rc rc) {
  static const char *const names[] = {"ok",       "malformed", "too_big",  "too_deep",
                                      "too_many", "forbidden", "not_pidf", "nomem"};
  return (unsigned)rc < sizeof names / sizeof names[0] ? names[rc] : "?";
}

static int blank(const char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (b[i] != ' ' && b[i] != '\t' && b[i] != '\r' && b[i] != '\n') return 0;
  return 1;
}

sx_pidf_rc sx_pidf_parse(const char *body, size_t len, const sx_pidf_limits *lim,
                         sx_presence *out, char *err, size_t n) {
  memset(out, 0, sizeof *out);
  if (err && n) err[0] = '\0';
  sx_pidf_limits L = lim ? *lim : SX_PIDF_LIMITS_DEFAULT;
  if (len > L.max_bytes) {
    if (err && n) snprintf(err, n, "body of %zu bytes over the limit of %zu", len, L.max_bytes);
    return SX_PIDF_TOO_BIG;
  }
  out->type = SX_PRES_UNAVAILABLE;
  if (!body || blank(body, len)) return SX_PIDF_OK; /* empty body: unavailable */
  if (len > (size_t)INT_MAX || L.max_depth == 0) {
    if (err && n) snprintf(err, n, "limits out of range");
    return SX_PIDF_TOO_BIG;
  }

  pstate s;
  memset(&s, 0, sizeof s);
  s.lim = L;
  s.err = err;
  s.errn = n;
  s.out = out;
  s.lang = calloc((size_t)L.max_depth + 1, sizeof *s.lang);
  s.xp = XML_ParserCreateNS(NULL, SEP);
  if (!s.lang || !s.xp) {
    free(s.lang);
    if (s.xp) XML_ParserFree(s.xp);
    if (err && n) snprintf(err, n, "out of memory");
    return SX_PIDF_NOMEM;
  }
  XML_SetUserData(s.xp, &s);
  XML_SetElementHandler(s.xp, on_start, on_end);
  XML_SetCharacterDataHandler(s.xp, on_text);
  XML_SetStartDoctypeDeclHandler(s.xp, on_doctype);
  XML_SetEntityDeclHandler(s.xp, on_entity);
  XML_SetProcessingInstructionHandler(s.xp, on_pi);
  XML_SetParamEntityParsing(s.xp, XML_PARAM_ENTITY_PARSING_NEVER);

  if (XML_Parse(s.xp, body, (int)len, XML_TRUE) == XML_STATUS_ERROR && s.rc == SX_PIDF_OK) {
    enum XML_Error e = XML_GetErrorCode(s.xp);
    s.rc = e == XML_ERROR_NO_MEMORY ? SX_PIDF_NOMEM : SX_PIDF_MALFORMED;
    if (err && n)
      snprintf(err, n, "not well-formed XML: %s at line %lu column %lu", XML_ErrorString(e),
               (unsigned long)XML_GetCurrentLineNumber(s.xp),
               (unsigned long)XML_GetCurrentColumnNumber(s.xp));
  }
  XML_ParserFree(s.xp);
  free(s.lang);
  sx_buf_free(&s.text);
  if (s.rc != SX_PIDF_OK) {
    sx_presence_free(out);
    return s.rc;
  }
  if (s.any_open) {
    out->type = SX_PRES_AVAILABLE;
    out->show = s.show_xmpp != SX_SHOW_NONE ? s.show_xmpp : s.show_activity;
    if (s.have_priority) {
      out->has_priority = 1;
      out->priority = (int)(s.best_priority * 127.0 + 0.5); /* 0 <= p <= 1 */
    }
  }
  return SX_PIDF_OK;
}
