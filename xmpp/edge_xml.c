/* The edge link's XML stream parser (xmpp/edge_xml.h): expat in namespace mode, fed in
 * small slices so that no more than max_stanza_bytes + SLICE bytes of one stanza are ever
 * buffered, with handlers that refuse everything RFC 6120 §11.1 forbids before expat acts on
 * it (XML_StopParser from the handler), and element trees built only for stanzas. */
#include "xmpp/edge_xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Debian builds expat with DTD support (the billion-laughs protection API below); the
 * header declares that API only under XML_DTD. */
#ifndef XML_DTD
#define XML_DTD
#endif
#include <expat.h>

#define NS_SEP '|'
#define SLICE 4096
#define NS_XML "http://www.w3.org/XML/1998/namespace"

struct sx_xel {
  char *name, *ns;
  char **attrs; /* name, value, name, value, ..., NULL */
  char *text;
  size_t tlen, tcap;
  sx_xel *parent, *first, *last, *next;
};

struct sx_xstream {
  XML_Parser p;
  size_t max_bytes;
  sx_xstream_cbs cbs;
  void *ud;
  unsigned depth;      /* 0 outside the root, 1 inside the root between stanzas */
  unsigned pending_ns; /* namespace declarations of the element about to start */
  int root_default_ok; /* the root declared xmlns='jabber:component:accept' */
  int root_seen, ended;
  size_t nodes;
  sx_xel *stanza, *cur;
  uint64_t fed;        /* bytes given to expat so far */
  uint64_t boundary;   /* stream offset where the current stanza (or header) began */
  uint64_t progress;   /* stream offset up to which expat reported events */
  char *pend;          /* bytes held back (see should_parse) */
  size_t pend_len, pend_cap;
  const char *err, *detail;
};

/* ---- element trees ---------------------------------------------------------------------- */

static void xel_free(sx_xel *el) {
  while (el) {
    sx_xel *next = el->next;
    xel_free(el->first); /* depth is bounded by SX_XEL_MAX_DEPTH */
    if (el->attrs)
      for (char **a = el->attrs; *a; a++) free(*a);
    free(el->attrs);
    free(el->name);
    free(el->text);
    free(el);
    el = next;
  }
}

const char *sx_xel_name(const sx_xel *el) { return el ? el->name : NULL; }
const char *sx_xel_ns(const sx_xel *el) { return el ? (el->ns ? el->ns : "") : NULL; }
const char *sx_xel_text(const sx_xel *el) { return el ? (el->text ? el->text : "") : NULL; }
sx_xel *sx_xel_first(const sx_xel *el) { return el ? el->first : NULL; }
sx_xel *sx_xel_next(const sx_xel *el) { return el ? el->next : NULL; }

const char *sx_xel_attr(const sx_xel *el, const char *name) {
  if (!el || !el->attrs || !name) return NULL;
  for (char **a = el->attrs; a[0]; a += 2)
    if (strcmp(a[0], name) == 0) return a[1];
  return NULL;
}

sx_xel *sx_xel_child(const sx_xel *el, const char *name, const char *ns) {
  for (sx_xel *c = el ? el->first : NULL; c; c = c->next)
    if (strcmp(c->name, name) == 0 && (!ns || strcmp(sx_xel_ns(c), ns) == 0)) return c;
  return NULL;
}

/* ---- errors ----------------------------------------------------------------------------- */

static void fail(sx_xstream *x, const char *cond, const char *detail) {
  if (x->err) return;
  x->err = cond;
  x->detail = detail;
  XML_StopParser(x->p, XML_FALSE);
}

/* Expanded names arrive as "URI|local" (or "local" without a namespace). name points into
 * s (the local part); *ns_len is the URI's length (0 for none). */
static const char *split_name(const char *s, size_t *ns_len) {
  const char *bar = strrchr(s, NS_SEP);
  if (!bar) {
    *ns_len = 0;
    return s;
  }
  *ns_len = (size_t)(bar - s);
  return bar + 1;
}

static int ns_is(const char *full, const char *ns, const char *local) {
  size_t nl;
  const char *l = split_name(full, &nl);
  return nl == strlen(ns) && strncmp(full, ns, nl) == 0 && strcmp(l, local) == 0;
}

/* ---- expat handlers --------------------------------------------------------------------- */

static void mark_progress(sx_xstream *x) {
  x->progress =
      (uint64_t)XML_GetCurrentByteIndex(x->p) + (uint64_t)XML_GetCurrentByteCount(x->p);
}

static void XMLCALL on_ns_decl(void *ud, const XML_Char *prefix, const XML_Char *uri) {
  sx_xstream *x = ud;
  if (x->err) return;
  if (++x->pending_ns > SX_XEL_MAX_ATTRS) {
    fail(x, "policy-violation", "too many namespace declarations on one element");
    return;
  }
  if (x->depth == 0 && !x->root_seen && !prefix)
    x->root_default_ok = uri && strcmp(uri, SX_NS_COMPONENT) == 0;
}

static char *dup_attr_name(const char *full) {
  size_t nl;
  const char *l = split_name(full, &nl);
  char *r;
  if (nl == sizeof NS_XML - 1 && strncmp(full, NS_XML, nl) == 0) {
    r = malloc(4 + strlen(l) + 1);
    if (r) {
      memcpy(r, "xml:", 4);
      strcpy(r + 4, l);
    }
    return r;
  }
  return strdup(full);
}

static void root_start(sx_xstream *x, const XML_Char *name, const XML_Char **atts) {
  const char *id = NULL, *from = NULL;
  x->root_seen = 1;
  if (!ns_is(name, SX_NS_STREAMS, "stream")) {
    fail(x, "invalid-namespace", "the root element is not <stream> in the streams namespace");
    return;
  }
  if (!x->root_default_ok) {
    fail(x, "invalid-namespace", "the stream's default namespace is not " SX_NS_COMPONENT);
    return;
  }
  for (const XML_Char **a = atts; a[0]; a += 2) {
    if (strcmp(a[0], "id") == 0) id = a[1];
    else if (strcmp(a[0], "from") == 0) from = a[1];
  }
  x->depth = 1;
  x->boundary = (uint64_t)XML_GetCurrentByteIndex(x->p) + (uint64_t)XML_GetCurrentByteCount(x->p);
  if (x->cbs.on_header) x->cbs.on_header(x->ud, id, from);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts) {
  sx_xstream *x = ud;
  size_t n = 0, nl;
  sx_xel *el;

  if (x->err) return;
  mark_progress(x);
  for (const XML_Char **a = atts; a[0]; a += 2) n++;
  if (n > SX_XEL_MAX_ATTRS) {
    fail(x, "policy-violation", "too many attributes on one element");
    return;
  }
  x->pending_ns = 0;
  if (x->depth == 0) {
    root_start(x, name, atts);
    return;
  }
  if (x->depth == 1) {
    if (ns_is(name, SX_NS_STREAMS, "stream")) {
      fail(x, "unsupported-stanza-type", "a second stream header inside the stream");
      return;
    }
    x->nodes = 0;
  }
  if (x->depth - 1 >= SX_XEL_MAX_DEPTH) {
    fail(x, "policy-violation", "elements nested too deep");
    return;
  }
  if (++x->nodes > SX_XEL_MAX_NODES) {
    fail(x, "policy-violation", "too many elements in one stanza");
    return;
  }
  el = calloc(1, sizeof *el);
  if (!el) goto oom;
  const char *local = split_name(name, &nl);
  /* One allocation: "local\0uri\0". */
  el->name = malloc(strlen(local) + 1 + nl + 1);
  el->attrs = calloc(2 * n + 1, sizeof *el->attrs);
  if (!el->name || !el->attrs) {
    free(el->name);
    free(el->attrs);
    free(el);
    goto oom;
  }
  strcpy(el->name, local);
  el->ns = el->name + strlen(local) + 1;
  memcpy(el->ns, name, nl);
  el->ns[nl] = '\0';
  if (x->cur) {
    el->parent = x->cur;
    if (x->cur->last) x->cur->last->next = el;
    else x->cur->first = el;
    x->cur->last = el;
  } else {
    x->stanza = el;
  }
  x->cur = el;
  for (size_t i = 0; i < n; i++) {
    el->attrs[2 * i] = dup_attr_name(atts[2 * i]);
    el->attrs[2 * i + 1] = strdup(atts[2 * i + 1]);
    if (!el->attrs[2 * i] || !el->attrs[2 * i + 1]) goto oom;
  }
  x->depth++;
  return;
oom:
  fail(x, "resource-constraint", "out of memory");
}

static void XMLCALL on_end(void *ud, const XML_Char *name) {
  sx_xstream *x = ud;
  (void)name;
  if (x->err) return;
  mark_progress(x);
  if (x->depth == 1) { /* </stream:stream> */
    x->depth = 0;
    x->ended = 1;
    if (x->cbs.on_end) x->cbs.on_end(x->ud);
    return;
  }
  x->depth--;
  x->cur = x->cur ? x->cur->parent : NULL;
  if (x->depth == 1) {
    sx_xel *st = x->stanza;
    x->stanza = x->cur = NULL;
    x->boundary =
        (uint64_t)XML_GetCurrentByteIndex(x->p) + (uint64_t)XML_GetCurrentByteCount(x->p);
    if (x->cbs.on_stanza) x->cbs.on_stanza(x->ud, st);
    xel_free(st);
  }
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len) {
  sx_xstream *x = ud;
  sx_xel *el = x->cur;
  if (x->err || len <= 0) return;
  mark_progress(x);
  if (!el) { /* whitespace between stanzas (keepalives) belongs to no stanza */
    x->boundary =
        (uint64_t)XML_GetCurrentByteIndex(x->p) + (uint64_t)XML_GetCurrentByteCount(x->p);
    return;
  }
  if (el->tlen + (size_t)len + 1 > el->tcap) {
    size_t cap = el->tcap ? el->tcap : 64;
    while (cap < el->tlen + (size_t)len + 1) cap *= 2;
    char *t = realloc(el->text, cap);
    if (!t) {
      fail(x, "resource-constraint", "out of memory");
      return;
    }
    el->text = t;
    el->tcap = cap;
  }
  memcpy(el->text + el->tlen, s, (size_t)len);
  el->tlen += (size_t)len;
  el->text[el->tlen] = '\0';
}

static void XMLCALL on_comment(void *ud, const XML_Char *data) {
  (void)data;
  fail(ud, "restricted-xml", "a comment");
}

static void XMLCALL on_pi(void *ud, const XML_Char *target, const XML_Char *data) {
  (void)target;
  (void)data;
  fail(ud, "restricted-xml", "a processing instruction");
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset) {
  (void)name;
  (void)sysid;
  (void)pubid;
  (void)has_internal_subset;
  fail(ud, "restricted-xml", "a DOCTYPE");
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation) {
  (void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid;
  (void)pubid, (void)notation;
  fail(ud, "restricted-xml", "an entity declaration");
}

static void XMLCALL on_skipped_entity(void *ud, const XML_Char *name, int is_param) {
  (void)name;
  (void)is_param;
  fail(ud, "restricted-xml", "an entity reference");
}

static void XMLCALL on_xml_decl(void *ud, const XML_Char *version, const XML_Char *encoding,
                                int standalone) {
  (void)version;
  (void)standalone;
  if (encoding && strcasecmp(encoding, "UTF-8") != 0)
    fail(ud, "unsupported-encoding", "an encoding other than UTF-8 declared");
}

/* ---- public API ------------------------------------------------------------------------- */

sx_xstream *sx_xstream_new(size_t max_stanza_bytes, const sx_xstream_cbs *cbs, void *ud) {
  sx_xstream *x = calloc(1, sizeof *x);
  if (!x) return NULL;
  /* The encoding given here overrides any declaration; on_xml_decl refuses other ones. */
  x->p = XML_ParserCreateNS("UTF-8", NS_SEP);
  if (!x->p) {
    free(x);
    return NULL;
  }
  x->max_bytes = max_stanza_bytes ? max_stanza_bytes : 512 * 1024;
  if (cbs) x->cbs = *cbs;
  x->ud = ud;
  XML_SetUserData(x->p, x);
  XML_SetElementHandler(x->p, on_start, on_end);
  XML_SetCharacterDataHandler(x->p, on_text);
  XML_SetStartNamespaceDeclHandler(x->p, on_ns_decl);
  XML_SetCommentHandler(x->p, on_comment);
  XML_SetProcessingInstructionHandler(x->p, on_pi);
  XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
  XML_SetEntityDeclHandler(x->p, on_entity_decl);
  XML_SetSkippedEntityHandler(x->p, on_skipped_entity);
  XML_SetXmlDeclHandler(x->p, on_xml_decl);
  XML_SetParamEntityParsing(x->p, XML_PARAM_ENTITY_PARSING_NEVER);
#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 4)
  /* Never reached (a DOCTYPE stops the parser first); a second line of defence. */
  XML_SetBillionLaughsAttackProtectionMaximumAmplification(x->p, 2.0f);
  XML_SetBillionLaughsAttackProtectionActivationThreshold(x->p, 64 * 1024);
#endif
  return x;
}

void sx_xstream_free(sx_xstream *x) {
  if (!x) return;
  free(x->pend);
  xel_free(x->stanza);
  XML_ParserFree(x->p);
  free(x);
}

static const char *map_expat_error(enum XML_Error e) {
  switch (e) {
  case XML_ERROR_UNKNOWN_ENCODING:
  case XML_ERROR_INCORRECT_ENCODING:
    return "unsupported-encoding";
  case XML_ERROR_NO_MEMORY:
    return "resource-constraint";
  default:
    return "not-well-formed";
  }
}

/* Gives bytes to expat in slices, checking the stanza bound after each. */
static int parse(sx_xstream *x, const char *data, size_t len) {
  while (len > 0) {
    size_t n = len < SLICE ? len : SLICE;
    enum XML_Status st = XML_Parse(x->p, data, (int)n, XML_FALSE);
    x->fed += n;
    if (st == XML_STATUS_ERROR) {
      if (!x->err) {
        enum XML_Error code = XML_GetErrorCode(x->p);
        x->err = map_expat_error(code);
        x->detail = XML_ErrorString(code);
      }
      return -1;
    }
    if (x->err) return -1;
    if (x->fed - x->boundary > x->max_bytes) {
      x->err = "policy-violation";
      x->detail = "stanza larger than max_stanza_bytes";
      XML_StopParser(x->p, XML_FALSE);
      return -1;
    }
    data += n;
    len -= n;
  }
  return 0;
}

/* Expat 2.5 re-scans an unfinished token from its start at every XML_Parse call, so one
 * long start tag delivered a few bytes at a time would cost quadratic time. While expat
 * has reported nothing for a while (unparsed bytes pile up), new bytes are held back until
 * they amount to half of what is pending: the re-scans then add up to a few times the
 * stanza's size. sx_xstream_flush hands held-back bytes over regardless. */
static int should_parse(const sx_xstream *x, size_t new_len) {
  uint64_t unparsed = x->fed - (x->progress > x->boundary ? x->progress : x->boundary);
  return unparsed < 4096 || new_len >= unparsed / 2;
}

static int hold(sx_xstream *x, const char *data, size_t len) {
  if (x->pend_len + len > x->pend_cap) {
    size_t cap = x->pend_cap ? x->pend_cap : 4096;
    while (cap < x->pend_len + len) cap *= 2;
    char *p = realloc(x->pend, cap);
    if (!p) {
      x->err = "resource-constraint";
      x->detail = "out of memory";
      return -1;
    }
    x->pend = p;
    x->pend_cap = cap;
  }
  memcpy(x->pend + x->pend_len, data, len);
  x->pend_len += len;
  if (x->fed + x->pend_len - x->boundary > x->max_bytes + SLICE) {
    x->err = "policy-violation";
    x->detail = "stanza larger than max_stanza_bytes";
    return -1;
  }
  return 0;
}

int sx_xstream_flush(sx_xstream *x) {
  int rc;
  if (x->err) return -1;
  if (!x->pend_len) return 0;
  rc = parse(x, x->pend, x->pend_len);
  x->pend_len = 0;
  return rc;
}

size_t sx_xstream_held(const sx_xstream *x) { return x ? x->pend_len : 0; }

int sx_xstream_feed(sx_xstream *x, const char *data, size_t len) {
  if (x->err) return -1;
  if (!len) return 0;
  if (!should_parse(x, x->pend_len + len)) return hold(x, data, len);
  if (x->pend_len) {
    if (hold(x, data, len) != 0) return -1;
    return sx_xstream_flush(x);
  }
  return parse(x, data, len);
}

const char *sx_xstream_error(const sx_xstream *x) { return x ? x->err : NULL; }

const char *sx_xstream_error_detail(const sx_xstream *x) {
  return x && x->detail ? x->detail : "";
}
