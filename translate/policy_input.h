/* The admin's input to the external access policy (SPEC §5), checked and parsed: policy
 * names and scopes, partner types and negotiation settings, partner domains, and the
 * canonical key of a user or contact. Pure C, no allocation except sx_canon_key's result.
 * translate/policy.h includes this header. */
#ifndef SX_TRANSLATE_POLICY_INPUT_H
#define SX_TRANSLATE_POLICY_INPUT_H
#include <stddef.h>

/* ---- policies ------------------------------------------------------------------------ */

/* Flags of an external access policy (all default to off). Only SX_POL_XMPP gates traffic. */
enum {
  SX_POL_XMPP = 1u << 0,         /* EnableXmppAccess */
  SX_POL_FEDERATION = 1u << 1,   /* EnableFederationAccess */
  SX_POL_PUBLIC_CLOUD = 1u << 2, /* EnablePublicCloudAccess */
  SX_POL_OUTSIDE = 1u << 3,      /* EnableOutsideAccess */
  SX_POL_ALL = 0xfu,
};

/* The four flags in the order above, each with its command-line option ("xmpp"), its SPEC §5
 * (Lync) name ("EnableXmppAccess") and a short label for people ("XMPP"). */
typedef struct {
  unsigned flag;
  const char *opt, *lync, *label;
} sx_pol_flag;
#define SX_POL_NFLAGS 4
extern const sx_pol_flag SX_POL_FLAGS[SX_POL_NFLAGS];

typedef enum {
  SX_SCOPE_GLOBAL = 0, /* the policy named "global" */
  SX_SCOPE_SITE,       /* "site:<site>": users of that site */
  SX_SCOPE_TAG,        /* any other name: applies to users it is granted to */
} sx_scope;

/* Checks a policy name and tells its scope. Accepted: "global" (any case), "site:NAME",
 * "tag:NAME" or "NAME", where NAME is 1..128 of [A-Za-z0-9_.-]. On success returns 0, sets
 * *scope and, when canon is not NULL, copies the name to store into canon (the "tag:" prefix
 * removed, "global" lower-cased, "site:" prefix lower-cased; canon_n >= strlen(name) + 1).
 * On failure returns -1 with a message saying what is wrong in msg. */
int sx_policy_name_check(const char *name, sx_scope *scope, char *canon, size_t canon_n,
                         char *msg, size_t n);

/* "global", "site", "tag" (static). */
const char *sx_scope_name(sx_scope scope);

/* ---- partners ------------------------------------------------------------------------ */

typedef enum {
  SX_PT_FEDERATED = 0,
  SX_PT_PUBLIC_VERIFIED,
  SX_PT_PUBLIC_UNVERIFIED, /* the default */
} sx_ptype;

typedef enum {
  SX_NEGO_REQUIRED = 0, /* the default for TLS and SASL */
  SX_NEGO_OPTIONAL,
  SX_NEGO_NOT_SUPPORTED,
} sx_nego;

/* Canonical names: "Federated", "PublicVerified", "PublicUnverified"; "Required",
 * "Optional", "NotSupported" (static). */
const char *sx_ptype_name(sx_ptype t);
const char *sx_nego_name(sx_nego v);

/* Parses a name case-insensitively, with or without '-' / '_' between words
 * ("public-verified", "PublicVerified", "not_supported"). 0 ok, -1 unknown. */
int sx_ptype_parse(const char *text, sx_ptype *out);
int sx_nego_parse(const char *text, sx_nego *out);

/* Validates a partner's negotiation settings (SPEC §5). Returns 0 when fine, 1 when valid
 * but worth a warning (msg says why), -1 when invalid (msg names the broken rule and how to
 * fix it). msg is always NUL-terminated when n > 0 (empty for 0). */
int sx_partner_validate(sx_nego tls, sx_nego sasl, int dialback, char *msg, size_t n);

/* Normalises a domain for use as a partner key: lower-case ASCII, one trailing dot removed
 * (non-ASCII input goes through Nameprep and must give an ASCII host name).
 * Checks 1..1023 bytes, no '@', '/', ':', ',', whitespace, control characters, no empty
 * label. Writes into out (out_n >= strlen(in) + 1). 0 ok, -1 invalid (msg says why). */
int sx_domain_normalize(const char *in, char *out, size_t out_n, char *msg, size_t n);

/* Canonical key of a user or contact given as "sip:…" URI or bare/full JID text ("bob@x",
 * "xmpp:bob@x" also accepted). A localpart is required. Returns a malloc'd key the caller
 * frees, or NULL with *msg (static) saying why; *status (may be NULL) gets the SIP status
 * that refuses such an address (400/403/416/484). */
char *sx_canon_key(const char *text, const char **msg, int *status);

#endif
