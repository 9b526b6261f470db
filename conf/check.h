/* Decisions and rules shared by sipxmppctl and the web console, computed from the store:
 * the `check` decision with its explanation, a user's effective policy, and the served-domain
 * rule for partners. Both front ends call these, so their answers and messages are the same.
 *
 * Ownership: sx_check_result holds the snapshot its decision points into; release it with
 * sx_check_result_free(). Returned text is malloc'd (caller frees). */
#ifndef SX_CONF_CHECK_H
#define SX_CONF_CHECK_H
#include <stddef.h>

#include "conf/config.h"
#include "conf/store.h"
#include "translate/policy.h"
#include "translate/relation.h"
#include "translate/relation_fsm.h"

typedef struct {
  sx_policy_snap *snap;   /* owned: the strings in d point into it */
  sx_decision d;
  sx_rel rel;             /* the stored relation; suspended set when policy stops it */
  const char *contact_state; /* sx_rel_summary(rel) (static) */
  /* What the daemon's relation state machine does with rel: for an outbound or inbound
   * subscribe and an inbound probe (have_step 1); the other kinds have no step. */
  int have_step;
  sx_rel_event ev;
  sx_rel_result step;
  /* 1 when `check` exits 0: the verdict is allow — for an inbound probe, only when the
   * daemon answers with the user's presence. */
  int ok;
} sx_check_result;

/* The decision the daemon would take now for user_key and contact_key (canonical keys) in
 * direction dir for kind: one consistent snapshot of the store, then sx_decide(). */
sx_st sx_check_run(sx_store *s, const char *user_key, const char *contact_key, sx_pdir dir,
                   sx_kind kind, sx_check_result *out, char *err, size_t n);
void sx_check_result_free(sx_check_result *r);

/* The explanation `sipxmppctl check` prints: "allow: reason\n  outbound message, a -> b\n..."
 * (several lines, each ending in a newline), with the contact entry's state both ways and,
 * when have_step, the daemon's step. NULL when out of memory. */
char *sx_check_text(const sx_check_result *r, const char *user_key, const char *contact_key,
                    sx_pdir dir, sx_kind kind);

/* Warnings about the pair for a gateway serving cfg's domains (cfg may be NULL: none): the
 * user outside the served domains, the contact inside them. Each line ends in a newline;
 * "" when none; NULL when out of memory. */
char *sx_check_warnings(const sx_config *cfg, const char *user_key, const char *contact_key);

/* The effective policy of a user from the store: the granted tag, else the site policy,
 * else global; *scope is "per-user", "site" or "global". 0, or -1 when none could be read. */
int sx_store_effective_policy(sx_store *s, const char *user_key, sx_policy_rec *out,
                              const char **scope);

/* "active", or "suspended" when the policy in snap stops the relation of user_key and
 * contact_key (user not enabled, domain not a partner): the daemon keeps it but relays
 * nothing. Static text. */
const char *sx_relation_policy_state(const sx_policy_snap *snap, const char *user_key,
                                     const char *contact_key);

/* A served domain can never be a partner. INVALID with the message naming the domain and
 * the config file when p's primary or an additional domain is served; OK otherwise. */
sx_st sx_partner_check_served(const sx_config *cfg, const sx_partner_rec *p, char *err,
                              size_t n);

#endif
