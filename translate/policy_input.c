/* The admin's input to the policy, checked and parsed (see policy_input.h). */
#include "translate/policy_input.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "translate/address.h"

/* ---- names --------------------------------------------------------------------------- */

const sx_pol_flag SX_POL_FLAGS[SX_POL_NFLAGS] = {
    {SX_POL_XMPP, "xmpp", "EnableXmppAccess", "XMPP"},
    {SX_POL_FEDERATION, "federation", "EnableFederationAccess", "Federation"},
    {SX_POL_PUBLIC_CLOUD, "public-cloud", "EnablePublicCloudAccess", "Public cloud"},
    {SX_POL_OUTSIDE, "outside", "EnableOutsideAccess", "Outside"},
};

static const char *const PTYPE_NAMES[] = {"Federated", "PublicVerified", "PublicUnverified"};
static const char *const NEGO_NAMES[] = {"Required", "Optional", "NotSupported"};

const char *sx_ptype_name(sx_ptype t) {
  return (unsigned)t < 3 ? PTYPE_NAMES[t] : "?";
}
const char *sx_nego_name(sx_nego v) { return (unsigned)v < 3 ? NEGO_NAMES[v] : "?"; }
const char *sx_scope_name(sx_scope s) {
  switch (s) {
  case SX_SCOPE_GLOBAL: return "global";
  case SX_SCOPE_SITE: return "site";
  case SX_SCOPE_TAG: return "tag";
  }
  return "?";
}
/* Compares ignoring case and any '-', '_' or ' '. */
static int loose_eq(const char *text, const char *name) {
  const char *a = text, *b = name;
  for (;;) {
    while (*a == '-' || *a == '_' || *a == ' ') a++;
    if (!*a || !*b) return !*a && !*b;
    char ca = *a, cb = *b;
    if (ca >= 'A' && ca <= 'Z') ca = (char)(ca - 'A' + 'a');
    if (cb >= 'A' && cb <= 'Z') cb = (char)(cb - 'A' + 'a');
    if (ca != cb) return 0;
    a++;
    b++;
  }
}

/* Index of text among the three names (loose_eq), or -1. */
static int name_index(const char *text, const char *const names[3]) {
  if (!text) return -1;
  for (int i = 0; i < 3; i++)
    if (loose_eq(text, names[i])) return i;
  return -1;
}

int sx_ptype_parse(const char *text, sx_ptype *out) {
  int i = name_index(text, PTYPE_NAMES);
  if (i < 0) return -1;
  *out = (sx_ptype)i;
  return 0;
}

int sx_nego_parse(const char *text, sx_nego *out) {
  int i = name_index(text, NEGO_NAMES);
  if (i < 0) return -1;
  *out = (sx_nego)i;
  return 0;
}

static void putmsg(char *msg, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void putmsg(char *msg, size_t n, const char *fmt, ...) {
  if (!msg || !n) return;
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(msg, n, fmt, ap);
  va_end(ap);
  if (r >= 0 && (size_t)r >= n && n > 4) memcpy(msg + n - 4, "...", 4);
}

static int tag_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '.' || c == '-';
}

int sx_policy_name_check(const char *name, sx_scope *scope, char *canon, size_t canon_n,
                         char *msg, size_t n) {
  if (msg && n) msg[0] = '\0';
  if (!name || !*name) {
    putmsg(msg, n, "empty policy name");
    return -1;
  }
  const char *rest = name;
  sx_scope sc;
  const char *prefix = "";
  if (strcasecmp(name, "global") == 0) {
    sc = SX_SCOPE_GLOBAL;
    rest = NULL;
  } else if (strncasecmp(name, "site:", 5) == 0) {
    sc = SX_SCOPE_SITE;
    rest = name + 5;
    prefix = "site:";
  } else if (strncasecmp(name, "tag:", 4) == 0) {
    sc = SX_SCOPE_TAG;
    rest = name + 4;
  } else {
    sc = SX_SCOPE_TAG;
  }
  if (rest) {
    size_t len = strlen(rest);
    if (len == 0 || len > 128) {
      putmsg(msg, n, "policy name '%s': the name after the scope must be 1 to 128 characters",
             name);
      return -1;
    }
    for (size_t i = 0; i < len; i++)
      if (!tag_char((unsigned char)rest[i])) {
        putmsg(msg, n,
               "policy name '%s': only letters, digits, '_', '.' and '-' are allowed "
               "(use 'global', 'site:NAME' or a tag NAME)",
               name);
        return -1;
      }
    if (sc == SX_SCOPE_TAG && strcasecmp(rest, "global") == 0) {
      putmsg(msg, n, "policy name '%s': 'global' is reserved for the global policy", name);
      return -1;
    }
  }
  if (scope) *scope = sc;
  if (canon) {
    const char *c = sc == SX_SCOPE_GLOBAL ? "global" : rest;
    size_t need = strlen(prefix) + strlen(c) + 1;
    if (canon_n < need) {
      putmsg(msg, n, "policy name '%s' is too long", name);
      return -1;
    }
    snprintf(canon, canon_n, "%s%s", prefix, c);
  }
  return 0;
}

int sx_partner_validate(sx_nego tls, sx_nego sasl, int dialback, char *msg, size_t n) {
  if (msg && n) msg[0] = '\0';
  if ((unsigned)tls > 2 || (unsigned)sasl > 2) {
    putmsg(msg, n, "unknown negotiation value");
    return -1;
  }
  if (sasl != SX_NEGO_NOT_SUPPORTED && tls == SX_NEGO_NOT_SUPPORTED) {
    putmsg(msg, n,
           "invalid: SaslNegotiation %s requires TLS, but TlsNegotiation is NotSupported "
           "(SASL runs inside TLS); fix: --tls required|optional, or --sasl not-supported",
           sx_nego_name(sasl));
    return -1;
  }
  if (!dialback && (tls == SX_NEGO_NOT_SUPPORTED || sasl == SX_NEGO_NOT_SUPPORTED)) {
    putmsg(msg, n,
           "invalid: with SupportDialbackNegotiation false, %s NotSupported leaves no way to "
           "authenticate the partner's server; fix: --dialback on, or %s",
           tls == SX_NEGO_NOT_SUPPORTED ? "TlsNegotiation" : "SaslNegotiation",
           tls == SX_NEGO_NOT_SUPPORTED ? "--tls required|optional with --sasl required|optional"
                                        : "--sasl required|optional");
    return -1;
  }
  if (tls == SX_NEGO_REQUIRED && sasl == SX_NEGO_REQUIRED && dialback) {
    putmsg(msg, n,
           "TlsNegotiation and SaslNegotiation are both Required, so dialback can never be "
           "used (SupportDialbackNegotiation true has no effect); use --dialback off, or make "
           "TLS or SASL optional");
    return 1;
  }
  if (sasl == SX_NEGO_REQUIRED && tls == SX_NEGO_OPTIONAL) {
    putmsg(msg, n,
           "SaslNegotiation Required with TlsNegotiation Optional: a server that does not "
           "offer TLS cannot do SASL and will be refused; consider --tls required or --sasl "
           "optional");
    return 1;
  }
  return 0;
}

int sx_domain_normalize(const char *in, char *out, size_t out_n, char *msg, size_t n) {
  if (msg && n) msg[0] = '\0';
  if (!in) {
    putmsg(msg, n, "no domain");
    return -1;
  }
  for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
    if (*p < 0x80) continue;
    /* Non-ASCII: the domain the edge would see, by Nameprep (fullwidth letters and the like
     * fold to ASCII; an IDN in Unicode form is refused as it is never served or matched). */
    sx_jid j;
    if (strchr(in, '@') || strchr(in, '/') || sx_jid_parse(in, &j) != SX_ADDR_OK) {
      putmsg(msg, n, "'%s' is not a domain name (not an ASCII host name after nameprep)", in);
      return -1;
    }
    int rc = strlen(j.domain) < out_n ? sx_domain_normalize(j.domain, out, out_n, msg, n) : -1;
    if (rc && msg && n && !msg[0]) putmsg(msg, n, "domain too long");
    sx_jid_free(&j);
    return rc;
  }
  size_t len = strlen(in);
  if (len && in[len - 1] == '.') len--;
  if (len == 0) {
    putmsg(msg, n, "empty domain");
    return -1;
  }
  if (len > SX_JID_PART_MAX) {
    putmsg(msg, n, "domain longer than %d bytes", SX_JID_PART_MAX);
    return -1;
  }
  if (out_n < len + 1) {
    putmsg(msg, n, "domain too long");
    return -1;
  }
  size_t label = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)in[i];
    if (c <= 0x20 || c == 0x7f || c == '@' || c == '/' || c == ':' || c == ',' || c == '\\' ||
        c == '"' || c == '\'' || c == '<' || c == '>') {
      putmsg(msg, n, "'%s' is not a domain name (character %zu is not allowed)", in, i + 1);
      return -1;
    }
    if (c == '.') {
      if (label == 0) {
        putmsg(msg, n, "'%s' is not a domain name (empty label)", in);
        return -1;
      }
      label = 0;
    } else {
      label++;
    }
    out[i] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  }
  out[len] = '\0';
  return 0;
}

char *sx_canon_key(const char *text, const char **msg, int *status) {
  sx_jid j = {0};
  sx_addr_rc rc;
  const char *m = NULL;
  int st = 0;
  if (!text || !*text) {
    m = "empty address";
    st = 400;
    goto fail;
  }
  if (strncasecmp(text, "xmpp:", 5) == 0) {
    rc = sx_jid_parse(text + 5, &j);
  } else if (strchr(text, ':') && strchr(text, ':') < (strchr(text, '@') ? strchr(text, '@')
                                                                          : text + strlen(text))) {
    rc = sx_sip_to_jid(text, &j); /* sip:, sips:, tel:, ... */
  } else {
    rc = sx_jid_parse(text, &j);
  }
  if (rc != SX_ADDR_OK) {
    m = sx_addr_reason(rc);
    st = sx_addr_sip_status(rc);
    goto fail;
  }
  if (!j.local || !*j.local) {
    sx_jid_free(&j);
    m = sx_addr_reason(SX_ADDR_NO_USER);
    st = sx_addr_sip_status(SX_ADDR_NO_USER);
    goto fail;
  }
  char *key = sx_jid_key(&j);
  sx_jid_free(&j);
  if (!key) {
    m = "out of memory";
    st = 500;
    goto fail;
  }
  if (msg) *msg = NULL;
  if (status) *status = 0;
  return key;
fail:
  if (msg) *msg = m;
  if (status) *status = st;
  return NULL;
}
