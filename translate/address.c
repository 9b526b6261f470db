/* Address mapping between SIP URIs and XMPP JIDs (RFC 7247 §6, XEP-0106, SPEC §2). */
#include "translate/address.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stringprep.h>

#include "translate/text.h"

/* ---- small helpers ------------------------------------------------------------------ */

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static char *dup_range(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* Applies a stringprep profile (libidn: "Nodeprep", "Resourceprep", "Nameprep" — the XMPP
 * profiles of RFC 3920 appendix A/B and RFC 3491, as the edge applies them; unassigned code
 * points allowed, as Prosody's non-strict prep does) to valid UTF-8 s[0..n). On success *out
 * is a new malloc'd, NUL-terminated string. Returns SX_ADDR_PREP when the profile refuses the
 * text (prohibited or bidi-invalid output, or an embedded NUL). */
static sx_addr_rc prep(const char *profile, const char *s, size_t n, char **out) {
  *out = NULL;
  if (memchr(s, '\0', n)) return SX_ADDR_PREP;
  char *in = dup_range(s, n);
  if (!in) return SX_ADDR_NOMEM;
  char *res = NULL;
  int rc = stringprep_profile(in, &res, profile, (Stringprep_profile_flags)0);
  free(in);
  if (rc == STRINGPREP_MALLOC_ERROR) return SX_ADDR_NOMEM;
  if (rc != STRINGPREP_OK || !res) {
    free(res);
    return SX_ADDR_PREP;
  }
  *out = res;
  return SX_ADDR_OK;
}

/* Percent-decodes s[0..n) into a new string; *out_len gets its length (it may hold NUL
 * bytes, which the callers reject). Returns SX_ADDR_MALFORMED on a bad %xx. */
static sx_addr_rc pct_decode(const char *s, size_t n, char **out, size_t *out_len) {
  char *d = malloc(n + 1);
  if (!d) return SX_ADDR_NOMEM;
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%') {
      if (i + 2 >= n) { /* fewer than two characters follow */
        free(d);
        return SX_ADDR_MALFORMED;
      }
      int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
      if (hi < 0 || lo < 0) {
        free(d);
        return SX_ADDR_MALFORMED;
      }
      d[j++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      d[j++] = s[i];
    }
  }
  d[j] = '\0';
  *out = d;
  *out_len = j;
  return SX_ADDR_OK;
}

/* A byte that may never appear in a localpart (RFC 7622 §3.3.1 plus spaces and controls). */
static int local_forbidden(unsigned char c) {
  return c < 0x20 || c == 0x7f || c == ' ' || c == '"' || c == '&' || c == '\'' || c == '/' ||
         c == ':' || c == '<' || c == '>' || c == '@';
}

static int is_ascii(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] >= 0x80) return 0;
  return 1;
}

/* Prepares a resourcepart (already decoded) with Resourceprep: non-empty before and after,
 * UTF-8, no controls, at most SX_JID_PART_MAX bytes. On ASCII input Resourceprep maps nothing
 * and refuses only controls, so that case skips the library. *out gets a new string. */
static sx_addr_rc prep_resource(const char *r, size_t n, char **out) {
  *out = NULL;
  if (n == 0) return SX_ADDR_MALFORMED;
  if (!sx_utf8_valid(r, n)) return SX_ADDR_BAD_UTF8;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)r[i];
    if (c < 0x20 || c == 0x7f) return SX_ADDR_MALFORMED;
  }
  char *d;
  if (is_ascii(r, n)) {
    if (n > SX_JID_PART_MAX) return SX_ADDR_TOO_LONG;
    d = dup_range(r, n);
    if (!d) return SX_ADDR_NOMEM;
  } else {
    sx_addr_rc rc = prep("Resourceprep", r, n, &d);
    if (rc) return rc;
    size_t m = strlen(d);
    if (m == 0) rc = SX_ADDR_PREP;
    else if (m > SX_JID_PART_MAX) rc = SX_ADDR_TOO_LONG;
    if (rc) {
      free(d);
      return rc;
    }
  }
  *out = d;
  return SX_ADDR_OK;
}

/* Prepares a localpart with Nodeprep: UTF-8 in, no byte local_forbidden() names out,
 * non-empty, at most SX_JID_PART_MAX bytes. On ASCII input Nodeprep lower-cases and refuses
 * exactly what local_forbidden() names, so that case skips the library. */
static sx_addr_rc prep_local(const char *l, size_t n, char **out) {
  *out = NULL;
  if (n == 0) return SX_ADDR_NO_USER;
  if (!sx_utf8_valid(l, n)) return SX_ADDR_BAD_UTF8;
  char *d;
  if (is_ascii(l, n)) {
    for (size_t i = 0; i < n; i++)
      if (local_forbidden((unsigned char)l[i])) return SX_ADDR_MALFORMED;
    if (n > SX_JID_PART_MAX) return SX_ADDR_TOO_LONG;
    d = dup_range(l, n);
    if (!d) return SX_ADDR_NOMEM;
    for (size_t i = 0; i < n; i++) d[i] = lower_ascii(d[i]);
  } else {
    sx_addr_rc rc = prep("Nodeprep", l, n, &d);
    if (rc) return rc;
    size_t m = strlen(d);
    if (m == 0) rc = SX_ADDR_PREP;
    for (size_t i = 0; i < m && !rc; i++)
      if (local_forbidden((unsigned char)d[i])) rc = SX_ADDR_PREP;
    if (!rc && m > SX_JID_PART_MAX) rc = SX_ADDR_TOO_LONG;
    if (rc) {
      free(d);
      return rc;
    }
  }
  *out = d;
  return SX_ADDR_OK;
}

/* Validates and normalises a domain: lower-case ASCII, one trailing dot stripped, LDH labels
 * or a bracketed IPv6 literal. Returns a new string in *out. */
static sx_addr_rc make_domain_ascii(const char *s, size_t n, char **out);

/* A domain in any form the edge takes as the same one: non-ASCII text (fullwidth letters,
 * compatibility forms, ideographic full stops after NFKC) goes through Nameprep first; the
 * result must be an ASCII host name (IDNs in Unicode form are not served or partnered). */
static sx_addr_rc make_domain(const char *s, size_t n, char **out) {
  if (is_ascii(s, n)) return make_domain_ascii(s, n, out);
  if (!sx_utf8_valid(s, n)) return SX_ADDR_BAD_UTF8;
  char *p;
  sx_addr_rc rc = prep("Nameprep", s, n, &p);
  if (rc) return rc;
  rc = is_ascii(p, strlen(p)) ? make_domain_ascii(p, strlen(p), out) : SX_ADDR_MALFORMED;
  free(p);
  return rc;
}

static sx_addr_rc make_domain_ascii(const char *s, size_t n, char **out) {
  if (n > 0 && s[0] != '[' && s[n - 1] == '.') n--;
  if (n == 0) return SX_ADDR_MALFORMED;
  if (s[0] == '[') {
    if (n < 3 || s[n - 1] != ']') return SX_ADDR_MALFORMED;
    int colon = 0;
    for (size_t i = 1; i + 1 < n; i++) {
      unsigned char c = (unsigned char)s[i];
      if (c == ':') colon = 1;
      else if (!(hexval(c) >= 0 || c == '.')) return SX_ADDR_MALFORMED;
    }
    if (!colon) return SX_ADDR_MALFORMED;
  } else {
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)s[i];
      if (c == '.') {
        if (label == 0) return SX_ADDR_MALFORMED; /* empty label */
        label = 0;
      } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-') {
        label++;
      } else {
        return SX_ADDR_MALFORMED;
      }
    }
    if (label == 0) return SX_ADDR_MALFORMED;
  }
  if (n > SX_JID_PART_MAX) return SX_ADDR_TOO_LONG;
  char *d = dup_range(s, n);
  if (!d) return SX_ADDR_NOMEM;
  for (size_t i = 0; i < n; i++) d[i] = lower_ascii(d[i]);
  *out = d;
  return SX_ADDR_OK;
}

/* 1 if s[i..] starts with one of the XEP-0106 escapes this gateway uses (\26 \27 \2f). */
static int is_gw_escape(const char *s, size_t n, size_t i) {
  if (i + 3 > n || s[i] != '\\' || s[i + 1] != '2') return 0;
  char c = lower_ascii(s[i + 2]);
  return c == '6' || c == '7' || c == 'f';
}

/* Decoded SIP user → escaped (XEP-0106 \\26 \\27 \\2f for & ' /) and Nodeprep'd localpart. */
static sx_addr_rc escape_local(const char *u, size_t n, char **out) {
  *out = NULL;
  if (n == 0) return SX_ADDR_NO_USER;
  if (!sx_utf8_valid(u, n)) return SX_ADDR_BAD_UTF8;
  size_t need = 0, escapes = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)u[i];
    /* A literal "\26", "\27" or "\2f" would unescape to a different SIP user on the way
     * back and collide with the escaped form of & ' /: refused to keep the mapping 1:1. */
    if (is_gw_escape(u, n, i)) return SX_ADDR_MALFORMED;
    if (c == '&' || c == '\'' || c == '/') {
      need += 3;
      escapes++;
    } else if (local_forbidden(c)) {
      return SX_ADDR_MALFORMED;
    } else {
      need++;
    }
  }
  if (need > 4 * (size_t)SX_JID_PART_MAX) return SX_ADDR_TOO_LONG;
  char *d = malloc(need + 1), *p = d;
  if (!d) return SX_ADDR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    switch (u[i]) {
    case '&': memcpy(p, "\\26", 3), p += 3; break;
    case '\'': memcpy(p, "\\27", 3), p += 3; break;
    case '/': memcpy(p, "\\2f", 3), p += 3; break;
    default: *p++ = u[i];
    }
  }
  *p = '\0';
  char *prepped;
  sx_addr_rc rc = prep_local(d, need, &prepped);
  free(d);
  if (rc) return rc == SX_ADDR_NO_USER ? SX_ADDR_PREP : rc;
  /* Normalisation must not make a new escape (a fullwidth backslash before "26" becomes
   * "\26" under NFKC), or two SIP users would share one JID. */
  size_t m = strlen(prepped), found = 0;
  for (size_t i = 0; i < m; i++)
    if (is_gw_escape(prepped, m, i)) found++;
  if (found != escapes) {
    free(prepped);
    return SX_ADDR_MALFORMED;
  }
  *out = prepped;
  return SX_ADDR_OK;
}

void sx_jid_free(sx_jid *jid) {
  if (!jid) return;
  free(jid->local);
  free(jid->domain);
  free(jid->resource);
  jid->local = jid->domain = jid->resource = NULL;
}

/* ---- SIP → JID ------------------------------------------------------------------------ */

/* Finds the gr parameter in params[0..n) (";a=b;gr=x;c"), decodes and checks it. */
static sx_addr_rc gr_param(const char *params, size_t n, char **out) {
  size_t i = 0;
  *out = NULL;
  while (i < n) {
    if (params[i] != ';') return SX_ADDR_MALFORMED;
    size_t start = ++i;
    while (i < n && params[i] != ';') i++;
    const char *p = params + start;
    size_t plen = i - start, nlen = 0;
    while (nlen < plen && p[nlen] != '=') nlen++;
    if (nlen == 2 && strncasecmp(p, "gr", 2) == 0 && nlen < plen && !*out) {
      char *dec;
      size_t dlen;
      sx_addr_rc rc = pct_decode(p + 3, plen - 3, &dec, &dlen);
      if (rc) return rc;
      if (dlen == 0) { /* ";gr=" carries no resource */
        free(dec);
        continue;
      }
      char *res;
      rc = prep_resource(dec, dlen, &res);
      free(dec);
      if (rc) return rc;
      *out = res;
    }
  }
  return SX_ADDR_OK;
}

sx_addr_rc sx_sip_to_jid(const char *uri, sx_jid *out) {
  memset(out, 0, sizeof *out);
  if (!uri) return SX_ADDR_MALFORMED;
  const char *colon = strchr(uri, ':');
  if (!colon || colon == uri) return SX_ADDR_MALFORMED;
  size_t slen = (size_t)(colon - uri);
  for (size_t i = 0; i < slen; i++) {
    char c = uri[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
    if (!ok) return SX_ADDR_MALFORMED;
  }
  if (slen == 4 && strncasecmp(uri, "sips", 4) == 0) return SX_ADDR_SIPS;
  if (!(slen == 3 && strncasecmp(uri, "sip", 3) == 0)) return SX_ADDR_SCHEME;

  const char *rest = colon + 1;
  const char *at = strchr(rest, '@');
  if (!at) return SX_ADDR_NO_USER;
  const char *userinfo_end = at;
  const char *pw = memchr(rest, ':', (size_t)(at - rest));
  if (pw) userinfo_end = pw; /* the password is dropped */
  size_t ulen = (size_t)(userinfo_end - rest);
  if (ulen == 0) return SX_ADDR_NO_USER;

  /* host[:port][;params][?headers] */
  const char *h = at + 1, *hend;
  if (*h == '[') {
    hend = strchr(h, ']');
    if (!hend) return SX_ADDR_MALFORMED;
    hend++;
  } else {
    hend = h + strcspn(h, ":;?");
  }
  const char *p = hend;
  if (*p == ':') {
    p++;
    const char *ds = p;
    while (*p >= '0' && *p <= '9') p++;
    if (p == ds || (size_t)(p - ds) > 5) return SX_ADDR_MALFORMED;
  }
  const char *params = p;
  const char *pend = p + strcspn(p, "?");
  if (*p != '\0' && *p != ';' && *p != '?') return SX_ADDR_MALFORMED;

  char *user = NULL, *domain = NULL, *res = NULL, *local = NULL;
  size_t dlen;
  sx_addr_rc rc = pct_decode(rest, ulen, &user, &dlen);
  if (rc) goto fail;
  rc = escape_local(user, dlen, &local);
  if (rc) goto fail;
  rc = make_domain(h, (size_t)(hend - h), &domain);
  if (rc) goto fail;
  rc = gr_param(params, (size_t)(pend - params), &res);
  if (rc) goto fail;
  free(user);
  out->local = local;
  out->domain = domain;
  out->resource = res;
  return SX_ADDR_OK;
fail:
  free(user);
  free(local);
  free(domain);
  free(res);
  return rc;
}

/* ---- JID text ------------------------------------------------------------------------- */

sx_addr_rc sx_jid_parse(const char *text, sx_jid *out) {
  memset(out, 0, sizeof *out);
  if (!text) return SX_ADDR_MALFORMED;
  size_t n = strlen(text);
  const char *slash = memchr(text, '/', n);
  size_t bare_len = slash ? (size_t)(slash - text) : n;
  const char *at = memchr(text, '@', bare_len);
  const char *dom = text;
  size_t dom_len = bare_len;
  char *local = NULL, *domain = NULL, *res = NULL;
  sx_addr_rc rc;
  if (at) {
    size_t llen = (size_t)(at - text);
    dom = at + 1;
    dom_len = bare_len - llen - 1;
    if (memchr(dom, '@', dom_len)) return SX_ADDR_MALFORMED;
    rc = prep_local(text, llen, &local);
    if (rc) return rc;
  }
  if (!sx_utf8_valid(dom, dom_len)) {
    rc = SX_ADDR_BAD_UTF8;
    goto fail;
  }
  rc = make_domain(dom, dom_len, &domain);
  if (rc) goto fail;
  if (slash) {
    size_t rlen = n - bare_len - 1;
    rc = prep_resource(slash + 1, rlen, &res);
    if (rc) goto fail;
  }
  out->local = local;
  out->domain = domain;
  out->resource = res;
  return SX_ADDR_OK;
fail:
  free(local);
  free(domain);
  free(res);
  return rc;
}

char *sx_jid_to_text(const sx_jid *jid, int with_resource) {
  if (!jid || !jid->domain) return NULL;
  sx_buf b = {0};
  if (jid->local) {
    sx_buf_puts(&b, jid->local);
    sx_buf_put(&b, "@", 1);
  }
  sx_buf_puts(&b, jid->domain);
  if (with_resource && jid->resource) {
    sx_buf_put(&b, "/", 1);
    sx_buf_puts(&b, jid->resource);
  }
  return sx_buf_take(&b, NULL);
}

/* ---- JID → SIP ------------------------------------------------------------------------ */

/* Characters RFC 3261 allows unescaped in a user part (unreserved / user-unreserved). */
static int sip_user_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  return c != 0 && strchr("-_.!~*'()&=+$,;?/", c) != NULL;
}

/* Characters left unescaped in the gr parameter value. */
static int sip_param_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  return c != 0 && strchr("-_.!~*'():+$", c) != NULL;
}

static void put_pct(sx_buf *b, unsigned char c) {
  static const char hex[] = "0123456789ABCDEF";
  char e[3] = {'%', hex[c >> 4], hex[c & 15]};
  sx_buf_put(b, e, 3);
}

char *sx_jid_to_sip(const sx_jid *jid, int with_gr) {
  if (!jid || !jid->domain) return NULL;
  sx_buf b = {0};
  sx_buf_put(&b, "sip:", 4);
  if (jid->local) {
    const char *l = jid->local;
    size_t n = strlen(l);
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)l[i];
      if (is_gw_escape(l, n, i)) {
        char x = lower_ascii(l[i + 2]);
        c = x == '6' ? '&' : x == '7' ? '\'' : '/';
        i += 2;
      }
      if (sip_user_char(c)) sx_buf_put(&b, (const char *)&c, 1);
      else put_pct(&b, c);
    }
    sx_buf_put(&b, "@", 1);
  }
  sx_buf_puts(&b, jid->domain);
  if (with_gr && jid->resource && jid->resource[0]) {
    sx_buf_put(&b, ";gr=", 4);
    for (const unsigned char *r = (const unsigned char *)jid->resource; *r; r++) {
      if (sip_param_char(*r)) sx_buf_put(&b, (const char *)r, 1);
      else put_pct(&b, *r);
    }
  }
  return sx_buf_take(&b, NULL);
}

/* ---- canonical key -------------------------------------------------------------------- */

char *sx_jid_key(const sx_jid *jid) {
  if (!jid || !jid->domain) return NULL;
  sx_buf b = {0};
  if (jid->local) {
    sx_buf_puts(&b, jid->local);
    sx_buf_put(&b, "@", 1);
  }
  size_t dn = strlen(jid->domain);
  if (dn > 1 && jid->domain[dn - 1] == '.') dn--;
  for (size_t i = 0; i < dn; i++) {
    char c = lower_ascii(jid->domain[i]);
    sx_buf_put(&b, &c, 1);
  }
  return sx_buf_take(&b, NULL);
}

sx_addr_rc sx_jid_copy(sx_jid *dst, const sx_jid *src) {
  memset(dst, 0, sizeof *dst);
  if (!src) return SX_ADDR_OK;
  if ((src->local && !(dst->local = strdup(src->local))) ||
      (src->domain && !(dst->domain = strdup(src->domain))) ||
      (src->resource && !(dst->resource = strdup(src->resource)))) {
    sx_jid_free(dst);
    return SX_ADDR_NOMEM;
  }
  return SX_ADDR_OK;
}

/* ---- status and reasons --------------------------------------------------------------- */

int sx_addr_sip_status(sx_addr_rc rc) {
  switch (rc) {
  case SX_ADDR_OK: return 200;
  case SX_ADDR_SCHEME: return 416;
  case SX_ADDR_SIPS: return 403;
  case SX_ADDR_MALFORMED: return 400;
  case SX_ADDR_NO_USER: return 484;
  case SX_ADDR_TOO_LONG: return 400;
  case SX_ADDR_BAD_UTF8: return 400;
  case SX_ADDR_PREP: return 400;
  case SX_ADDR_NOMEM: return 500;
  }
  return 500;
}

const char *sx_addr_reason(sx_addr_rc rc) {
  switch (rc) {
  case SX_ADDR_OK: return "address maps to XMPP";
  case SX_ADDR_SCHEME: return "only sip: addresses can be mapped to XMPP";
  case SX_ADDR_SIPS: return "sips: targets are never forwarded to XMPP (no end-to-end TLS there)";
  case SX_ADDR_MALFORMED: return "address cannot be mapped to an XMPP address";
  case SX_ADDR_NO_USER: return "address has no user part";
  case SX_ADDR_TOO_LONG: return "address part longer than 1023 bytes";
  case SX_ADDR_BAD_UTF8: return "address is not valid UTF-8";
  case SX_ADDR_PREP: return "address fails XMPP string preparation (nodeprep, nameprep or resourceprep)";
  case SX_ADDR_NOMEM: return "out of memory";
  }
  return "unknown address error";
}

int sx_domain_eq(const char *a, const char *b) {
  if (!a || !b) return 0;
  size_t na = strlen(a), nb = strlen(b);
  if (na > 1 && a[na - 1] == '.') na--;
  if (nb > 1 && b[nb - 1] == '.') nb--;
  return na == nb && strncasecmp(a, b, na) == 0;
}
