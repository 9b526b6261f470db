/* External access policy, XMPP partners and the per-message decision (SPEC §5).
 *
 * Pure C: no SQLite here. The store (conf/store.h) reads its tables into an immutable
 * in-memory snapshot (sx_policy_snap); the daemon decides every message and presence
 * operation against the current snapshot with sx_decide(), which does a handful of hash
 * lookups and one snprintf and never allocates.
 *
 * Ownership: a snapshot owns copies of every string given to its builders; strings inside
 * an sx_decision point into the snapshot (policy_name, partner_domain) or are static
 * (reason_code, xmpp_condition, policy_scope), so a decision stays valid as long as the
 * snapshot it came from. A snapshot is built by one thread and afterwards only read; any
 * number of threads may call sx_decide() on it at once. */
#ifndef SX_TRANSLATE_POLICY_H
#define SX_TRANSLATE_POLICY_H
#include <stddef.h>
#include <stdint.h>

#include "translate/relation.h"

/* ---- policies ------------------------------------------------------------------------ */

/* Flags of an external access policy (all default to off). Only SX_POL_XMPP gates traffic. */
enum {
  SX_POL_XMPP = 1u << 0,         /* EnableXmppAccess */
  SX_POL_FEDERATION = 1u << 1,   /* EnableFederationAccess */
  SX_POL_PUBLIC_CLOUD = 1u << 2, /* EnablePublicCloudAccess */
  SX_POL_OUTSIDE = 1u << 3,      /* EnableOutsideAccess */
  SX_POL_ALL = 0xfu,
};

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

/* ---- the snapshot -------------------------------------------------------------------- */

typedef struct sx_policy_snap sx_policy_snap;

/* A new empty snapshot, or NULL when out of memory. */
sx_policy_snap *sx_snap_new(void);
void sx_snap_free(sx_policy_snap *s);

/* Builders. Keys are copied. A later add with the same key replaces the earlier one.
 * Return 0 on success, -1 on bad arguments or when out of memory (the snapshot is then
 * unusable except for sx_snap_free).
 *
 * add_policy: name as accepted by sx_policy_name_check (compared case-insensitively);
 *   flags SX_POL_*.
 * add_user: user_key is the canonical bare key ("bob@contoso.com"); site and tag may be
 *   NULL. The tag is looked up when deciding, so users may be added before policies.
 * add_partner: primary domain (matched case-insensitively, trailing dot ignored).
 * add_partner_domain: an additional domain of an already added primary; -1 if the primary
 *   is unknown.
 * add_relation: (user key, contact bare key) → relation (translate/relation.h); an empty
 *   relation is not kept. */
int sx_snap_add_policy(sx_policy_snap *s, const char *name, unsigned flags);
int sx_snap_add_user(sx_policy_snap *s, const char *user_key, const char *site,
                     const char *tag);
int sx_snap_add_partner(sx_policy_snap *s, const char *domain, sx_ptype type);
int sx_snap_add_partner_domain(sx_policy_snap *s, const char *primary, const char *domain);
int sx_snap_add_relation(sx_policy_snap *s, const char *user_key, const char *contact_key,
                         sx_rel rel);

/* The store generation the snapshot was built from (0 unless set). */
void sx_snap_set_generation(sx_policy_snap *s, int64_t generation);
int64_t sx_snap_generation(const sx_policy_snap *s);

typedef struct {
  size_t policies, users, partners, domains, contacts; /* contacts: relations */
} sx_snap_counts;
void sx_snap_get_counts(const sx_policy_snap *s, sx_snap_counts *out);

/* Effective policy of a user (granted tag, else site:<site>, else global). Returns the
 * policy's flags, or 0 when no policy applies (no global in the snapshot); *name (may be
 * NULL) gets the policy name inside the snapshot or NULL, *scope its scope. */
unsigned sx_snap_effective(const sx_policy_snap *s, const char *user_key, const char **name,
                           sx_scope *scope);

/* Partner lookup by primary or additional domain. 1 found (*primary, *type set; either may
 * be NULL), 0 not a partner. */
int sx_snap_partner(const sx_policy_snap *s, const char *domain, const char **primary,
                    sx_ptype *type);

/* The stored relation of (user, contact); SX_REL_NONE when there is none. */
sx_rel sx_snap_relation(const sx_policy_snap *s, const char *user_key, const char *contact_key);

/* Relations in insertion order: i in 0..count-1; *user and *contact point into the snapshot.
 * -1 when i is out of range. */
size_t sx_snap_relation_count(const sx_policy_snap *s);
int sx_snap_relation_at(const sx_policy_snap *s, size_t i, const char **user,
                        const char **contact, sx_rel *rel);

/* ---- the decision -------------------------------------------------------------------- */

typedef enum {
  SX_DIR_OUT = 0, /* internal user → external contact */
  SX_DIR_IN,      /* external contact → internal user */
} sx_pdir;

typedef enum {
  SX_KIND_MESSAGE = 0, /* an IM */
  SX_KIND_SUBSCRIBE,   /* a presence subscription request */
  SX_KIND_PRESENCE,    /* a presence update along an existing subscription */
  SX_KIND_PROBE,       /* a request for current presence */
} sx_kind;

typedef enum { SX_ALLOW = 0, SX_DENY, SX_PENDING } sx_verdict;

#define SX_REASON_MAX 1024

typedef struct {
  sx_verdict verdict;
  /* static snake_case code, also the metrics label:
   *   allow:   "allowed"
   *   deny:    "bad_address", "not_partner", "user_not_enabled", "not_in_contacts"
   *   pending: "pending_contact" */
  const char *reason_code;
  /* One line for logs, Warning headers and `sipxmppctl check`: which policy from which
   * scope, which partner, which rule. Never cut silently: if the inputs are too long to fit,
   * the text ends in "..." and reason_truncated is 1. */
  char reason[SX_REASON_MAX];
  int reason_truncated;
  const char *xmpp_condition; /* refusal: "service-unavailable", "forbidden", "jid-malformed";
                                 NULL when allowed or pending */
  int sip_status;             /* refusal: 403 (400 for bad_address); 0 otherwise */
  int strip_status_notes;     /* 1: remove <status/> / PIDF notes sent to this partner */
  const char *policy_name;    /* effective policy (in the snapshot), NULL if not reached */
  const char *policy_scope;   /* "global", "site", "user" (a granted tag), or NULL */
  const char *partner_domain; /* primary domain of the matching partner, or NULL */
  sx_ptype partner_type;      /* valid when partner_domain != NULL */
} sx_decision;

/* SPEC §5 steps 1–4 for one operation. user_key: canonical key of the internal user;
 * ext_domain: the external party's domain; ext_bare_key: canonical bare key of the external
 * party (for the contact lookup; may be NULL when there is none, e.g. a domain JID). Never
 * fails: every input yields a verdict with a reason.
 *
 * Inbound rules by partner type (outbound is allowed for an enabled user):
 *   Federated, PublicVerified: every kind allowed.
 *   PublicUnverified: allowed when the user added the contact (relation.added); otherwise
 *     SUBSCRIBE is pending (held until the user adds the contact) and MESSAGE, PRESENCE,
 *     PROBE denied.
 * strip_status_notes is 1 for every partner type other than Federated. */
void sx_decide(const sx_policy_snap *s, const char *user_key, const char *ext_domain,
               const char *ext_bare_key, sx_pdir dir, sx_kind kind, sx_decision *out);

/* As sx_decide(), with the relation supplied by the caller instead of looked up in the
 * snapshot: the daemon passes its own current state (translate/reltab.h), so its writes
 * count at once. */
void sx_decide_with_relation(const sx_policy_snap *s, const char *user_key,
                             const char *ext_domain, sx_rel rel, sx_pdir dir, sx_kind kind,
                             sx_decision *out);

/* "allow", "deny", "pending"; "outbound", "inbound"; "message", "subscribe", "presence",
 * "probe" (static). */
const char *sx_verdict_name(sx_verdict v);
const char *sx_pdir_name(sx_pdir d);
const char *sx_kind_name(sx_kind k);

/* Canonical key of a user or contact given as "sip:…" URI or bare/full JID text ("bob@x",
 * "xmpp:bob@x" also accepted). A localpart is required. Returns a malloc'd key the caller
 * frees, or NULL with *msg (static) saying why; *status (may be NULL) gets the SIP status
 * that refuses such an address (400/403/416/484). */
char *sx_canon_key(const char *text, const char **msg, int *status);

#endif
