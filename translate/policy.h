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

#include "translate/policy_input.h"
#include "translate/relation.h"

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

#endif
