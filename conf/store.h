/* The store (SPEC §5, §8): external access policies, users, XMPP partners and the
 * per-user contact entries, shared by sipxmppd and sipxmppctl.
 *
 * Two engines behind one API (conf/db.h): an SQLite file in WAL mode (the embedded
 * default), or a PostgreSQL database named by a "postgresql://" URI, shared by several
 * sipxmppd instances. Both have the same tables and the same numbered schema migrations (table schema_version) are applied by
 * sx_store_open(); a file whose schema is newer than this build knows is refused. Every
 * write runs in a transaction and bumps a generation counter, so the daemon can poll
 * sx_store_generation() cheaply and rebuild its in-memory snapshot
 * (sx_store_snapshot()) only when something changed.
 *
 * Keys: users and contacts are stored by their canonical bare key ("bob@contoso.com", see
 * sx_canon_key() in translate/policy.h); the store does not canonicalise, callers do.
 * Partner domains are normalised by the store (sx_domain_normalize()). Policy names are
 * compared case-insensitively.
 *
 * Errors: functions return sx_st; on anything but SX_ST_OK they write one line saying what
 * went wrong and how to fix it into err (when err is not NULL and n > 0).
 *
 * Ownership: records filled by the store hold malloc'd strings released by the matching
 * *_free() function; lists are arrays released by the matching *_list_free().
 *
 * A sx_store handle is used by one thread at a time. */
#ifndef SX_CONF_STORE_H
#define SX_CONF_STORE_H
#include <stddef.h>
#include <stdint.h>

#include "translate/policy.h"

/* The schema version this build creates and understands. */
#define SX_STORE_SCHEMA_VERSION 4

typedef struct sx_store sx_store;

typedef enum {
  SX_ST_OK = 0,
  SX_ST_INVALID,  /* a value breaks a rule (bad name, invalid partner settings, ...) */
  SX_ST_NOTFOUND, /* no such policy / user / partner / contact */
  SX_ST_EXISTS,   /* already exists */
  SX_ST_INUSE,    /* refused because something still refers to it */
  SX_ST_ERROR,    /* database or I/O failure, busy beyond the timeout, newer schema */
} sx_st;

/* Opens and migrates the store. path is an SQLite file (created if needed, not its
 * directory; WAL mode, foreign keys on, a busy timeout of 5 s) or a PostgreSQL URI
 * ("postgresql://user:password@host:port/dbname?...", the database must exist; messages show
 * it without the password). Returns SX_ST_OK and *out, or SX_ST_ERROR with a
 * message naming the path (and, for a newer schema, both version numbers). */
sx_st sx_store_open(const char *path, sx_store **out, char *err, size_t n);
void sx_store_close(sx_store *s);

/* The schema version of the open file (== SX_STORE_SCHEMA_VERSION after a successful open). */
int sx_store_schema_version(sx_store *s);

/* The change counter: bumped by every committed write made through this API (by any
 * process). Cheap (one indexed read); -1 on error. */
int64_t sx_store_generation(sx_store *s);

/* Builds a snapshot of policies, users, partners (with additional domains) and contact
 * entries from one consistent read; its generation is set. NULL on failure (err says why).
 * The caller frees it with sx_snap_free(). */
sx_policy_snap *sx_store_snapshot(sx_store *s, char *err, size_t n);

/* Explicit transactions, for several changes that must land together (e.g. a CSV import).
 * Every write function also works inside one (it then uses a savepoint, so a failed call
 * undoes only its own changes). begin takes the write lock at once (BEGIN IMMEDIATE). */
sx_st sx_store_begin(sx_store *s, char *err, size_t n);
sx_st sx_store_commit(sx_store *s, char *err, size_t n);
void sx_store_rollback(sx_store *s);

/* ---- policies ------------------------------------------------------------------------ */

typedef struct {
  char *name;        /* "global", "site:redmond", or the tag */
  sx_scope scope;
  unsigned flags;    /* SX_POL_* */
  char *description; /* never NULL ("" when none) */
  long users;        /* users it is granted to (tags), users of the site (site policies),
                        0 for global */
} sx_policy_rec;

void sx_policy_rec_free(sx_policy_rec *p);
void sx_policy_list_free(sx_policy_rec *v, size_t count);

/* name as accepted by sx_policy_name_check(); "global" always exists (EXISTS). */
sx_st sx_store_policy_new(sx_store *s, const char *name, unsigned flags,
                          const char *description, char *err, size_t n);
/* Sets the flags in mask to the values in flags; description NULL leaves it unchanged. */
sx_st sx_store_policy_set(sx_store *s, const char *name, unsigned mask, unsigned flags,
                          const char *description, char *err, size_t n);
sx_st sx_store_policy_get(sx_store *s, const char *name, sx_policy_rec *out, char *err,
                          size_t n);
/* global first, then site policies, then tags, each by name. */
sx_st sx_store_policy_list(sx_store *s, sx_policy_rec **out, size_t *count, char *err,
                           size_t n);
/* global is refused (INVALID). A tag still granted to users is refused (INUSE) unless
 * force, which first removes the grants (those users fall back to site/global). */
sx_st sx_store_policy_remove(sx_store *s, const char *name, int force, char *err, size_t n);
/* Grants tag (NULL: removes the grant) to user_key, or to every user in the store when
 * user_key is NULL. A user not yet in the store is added (no site) when granting. Only tag
 * policies can be granted (INVALID otherwise). *changed (may be NULL) gets the number of
 * users whose grant changed. */
sx_st sx_store_policy_grant(sx_store *s, const char *tag, const char *user_key, long *changed,
                            char *err, size_t n);

/* ---- users --------------------------------------------------------------------------- */

typedef struct {
  char *key;    /* canonical bare key */
  char *site;   /* NULL when none */
  char *policy; /* granted tag, NULL when none */
} sx_user_rec;

void sx_user_rec_free(sx_user_rec *u);
void sx_user_list_free(sx_user_rec *v, size_t count);

/* site/policy may be NULL or "" (none). policy must be an existing tag (INVALID otherwise). */
sx_st sx_store_user_add(sx_store *s, const char *key, const char *site, const char *policy,
                        char *err, size_t n);
/* NULL leaves a field unchanged, "" clears it. */
sx_st sx_store_user_set(sx_store *s, const char *key, const char *site, const char *policy,
                        char *err, size_t n);
/* Adds or replaces both fields; *added (may be NULL) is 1 when the user was new. */
sx_st sx_store_user_put(sx_store *s, const char *key, const char *site, const char *policy,
                        int *added, char *err, size_t n);
sx_st sx_store_user_remove(sx_store *s, const char *key, char *err, size_t n);
sx_st sx_store_user_get(sx_store *s, const char *key, sx_user_rec *out, char *err, size_t n);
/* Sorted by key; site / policy filters (case-insensitive) may be NULL. */
sx_st sx_store_user_list(sx_store *s, const char *site, const char *policy, sx_user_rec **out,
                         size_t *count, char *err, size_t n);

/* ---- partners ------------------------------------------------------------------------ */

typedef struct {
  char *domain;            /* primary domain, normalised */
  char **additional;       /* additional domains, normalised, sorted */
  size_t n_additional;
  char *description;       /* never NULL in records the store fills */
  sx_ptype type;           /* default SX_PT_PUBLIC_UNVERIFIED */
  sx_nego tls, sasl;       /* default SX_NEGO_REQUIRED */
  int dialback;            /* SupportDialbackNegotiation, default 1 */
  int keepalive;           /* EnableKeepAlive, default 1 */
  long connection_limit;   /* ConnectionLimit, default 0 (no limit set) */
  char *proxy_fqdn;        /* ProxyFqdn, NULL when none */
} sx_partner_rec;

/* Fills p with SPEC §5's defaults for `domain` (copied; not validated here). -1 on ENOMEM. */
int sx_partner_rec_init(sx_partner_rec *p, const char *domain);
void sx_partner_rec_free(sx_partner_rec *p);
void sx_partner_list_free(sx_partner_rec *v, size_t count);

/* Creates (new) or replaces every field of an existing partner (update). Validates first
 * with sx_partner_validate() and the domain rules (every domain, primary or additional,
 * belongs to one partner only); nothing is saved on failure (INVALID, EXISTS, NOTFOUND).
 * A warning (valid but questionable settings) is written into warn (empty otherwise). */
sx_st sx_store_partner_new(sx_store *s, const sx_partner_rec *p, char *warn, size_t wn,
                           char *err, size_t n);
sx_st sx_store_partner_update(sx_store *s, const sx_partner_rec *p, char *warn, size_t wn,
                              char *err, size_t n);
/* domain: the primary or any additional domain. */
sx_st sx_store_partner_get(sx_store *s, const char *domain, sx_partner_rec *out, char *err,
                           size_t n);
/* Sorted by primary domain. */
sx_st sx_store_partner_list(sx_store *s, sx_partner_rec **out, size_t *count, char *err,
                            size_t n);
/* domain: the primary domain (an additional domain is refused with a hint). */
sx_st sx_store_partner_remove(sx_store *s, const char *domain, char *err, size_t n);

/* ---- contacts: presence relations ---------------------------------------------------- */

/* One row per (internal user, external bare JID) with a non-empty relation
 * (translate/relation.h: out, in, added; suspended is never stored). */
typedef struct {
  char *user;      /* canonical key of the internal user */
  char *contact;   /* canonical bare key of the external contact */
  sx_rel rel;      /* suspended always 0 here */
  int64_t updated; /* unix time of the last change */
} sx_contact_rec;

void sx_contact_rec_free(sx_contact_rec *c);
void sx_contact_list_free(sx_contact_rec *v, size_t count);

/* The admin adds the contact (idempotent): sets added and nothing else. A pending request
 * from the contact stays pending in the store; the running daemon sees the change
 * (sx_reltab_reconcile(), SX_REV_ADMIN_ADD), approves the request, sends `subscribed` and
 * stores the approval — or does so at its next start (SX_REV_RESYNC). *pending_in (may be
 * NULL) is set to 1 when such a request waits, so the caller can say it will be approved. */
sx_st sx_store_contact_add(sx_store *s, const char *user, const char *contact,
                           int *pending_in, char *err, size_t n);
/* Forgets the relation (NOTFOUND when absent). The running daemon sees it
 * (SX_REV_ADMIN_REMOVE) and sends `unsubscribe`/`unsubscribed` to the contact; a relation
 * removed while no daemon runs is forgotten without telling the contact. */
sx_st sx_store_contact_remove(sx_store *s, const char *user, const char *contact, char *err,
                              size_t n);
sx_st sx_store_contact_get(sx_store *s, const char *user, const char *contact,
                           sx_contact_rec *out, char *err, size_t n);
/* user NULL: every entry. Sorted by user, contact. */
sx_st sx_store_contact_list(sx_store *s, const char *user, sx_contact_rec **out,
                            size_t *count, char *err, size_t n);

/* The daemon's write-through (called on its store writer thread, with that thread's own
 * handle): stores rel's persisted parts for (user, contact) in one transaction — an empty
 * relation deletes the row — and sets *generation (may be NULL) to the store generation
 * after the commit (for sx_reltab_written()). INVALID for bad keys or values. */
sx_st sx_store_relation_put(sx_store *s, const char *user, const char *contact, sx_rel rel,
                            int64_t *generation, char *err, size_t n);

/* ---- instances and leases ------------------------------------------------------------
 * Several sipxmppd sharing one store each keep a heartbeat row; named leases give one live
 * instance a piece of work (e.g. a user's presence subscriptions) until it stops renewing.
 * Times are unix milliseconds passed by the caller (instances sharing a store keep their
 * clocks in sync, e.g. NTP). These rows are not part of the snapshot and do not bump the
 * generation. */

typedef struct {
  char *id;          /* instance id ([gateway] instance_id, or host:pid) */
  char *host;        /* host name */
  long pid;
  char *http;        /* its [http] listen address, NULL when none */
  int64_t started;   /* ms */
  int64_t heartbeat; /* ms of the last heartbeat */
  long leases;       /* unexpired leases it holds */
} sx_instance_rec;

void sx_instance_list_free(sx_instance_rec *v, size_t count);

/* Inserts or refreshes id's row (started is kept from the first beat after a removal). */
sx_st sx_store_instance_beat(sx_store *s, const char *id, const char *host, long pid,
                             const char *http, int64_t now_ms, char *err, size_t n);
/* Removes id's row and releases every lease it holds (a clean stop). NOTFOUND when absent. */
sx_st sx_store_instance_remove(sx_store *s, const char *id, char *err, size_t n);
/* Every instance row, by id, with the leases each holds unexpired at now_ms. */
sx_st sx_store_instance_list(sx_store *s, int64_t now_ms, sx_instance_rec **out,
                             size_t *count, char *err, size_t n);

typedef struct {
  char *name;
  char *holder;
  int64_t expires; /* ms */
} sx_lease_rec;

void sx_lease_list_free(sx_lease_rec *v, size_t count);

/* Takes lease `name` for holder until now_ms + ttl_ms if it is free, expired or already
 * holder's (then it is renewed). OK when held now; EXISTS when another holder has it
 * unexpired (*current, may be NULL, gets a malloc'd copy of that holder's id). One
 * statement: two instances racing for a lease never both get it. */
sx_st sx_store_lease_acquire(sx_store *s, const char *name, const char *holder, int64_t now_ms,
                             int64_t ttl_ms, char **current, char *err, size_t n);
/* Extends a lease holder still holds unexpired; NOTFOUND when it lapsed or was taken. */
sx_st sx_store_lease_renew(sx_store *s, const char *name, const char *holder, int64_t now_ms,
                           int64_t ttl_ms, char *err, size_t n);
/* Extends every lease holder still holds unexpired whose name starts with prefix (NULL or
 * "": all), in one statement, and lists the names extended (sorted; *names malloc'd, free
 * with sx_admin_list_free()). A lease that lapsed or was taken is not listed: its holder
 * has lost it. */
sx_st sx_store_lease_renew_all(sx_store *s, const char *holder, const char *prefix,
                               int64_t now_ms, int64_t ttl_ms, char ***names, size_t *count,
                               char *err, size_t n);
/* Gives the lease up (NOTFOUND when holder does not hold it). */
sx_st sx_store_lease_release(sx_store *s, const char *name, const char *holder, char *err,
                             size_t n);
/* Leases by name; holder NULL for all; expired ones are listed only when with_expired. */
sx_st sx_store_lease_list(sx_store *s, const char *holder, int with_expired, int64_t now_ms,
                          sx_lease_rec **out, size_t *count, char *err, size_t n);

/* Notifications between instances through the database (PostgreSQL LISTEN/NOTIFY), e.g. to
 * hand a stanza to the instance holding a lease. On SQLite (one instance) they do nothing:
 * listen and notify succeed, the socket is -1, nothing arrives. Every write through this API
 * also notifies channel "sipxmpp_store" (empty payload) on PostgreSQL.
 * channel: 1 to 63 of [a-z0-9_]; payload: at most 7999 bytes. A notification sent inside a
 * transaction (sx_store_begin) is delivered at its commit. Use a handle of its own for
 * listening: the socket is that handle's connection. */
sx_st sx_store_listen(sx_store *s, const char *channel, char *err, size_t n);
sx_st sx_store_notify(sx_store *s, const char *channel, const char *payload, char *err,
                      size_t n);
/* The socket to watch for readability (uv_poll), -1 on SQLite. */
int sx_store_notify_fd(sx_store *s);
/* One notification that arrived: 1 with *channel and *payload malloc'd (caller frees), 0 when
 * none waits, -1 on error (err set). Never blocks: call until 0 when the socket is readable. */
int sx_store_next_notice(sx_store *s, char **channel, char **payload, char *err, size_t n);

/* ---- console administrators (store_admin.c) ------------------------------------------- */

#define SX_ADMIN_NAME_MAX 64
#define SX_ADMIN_PASSWORD_MIN 8
#define SX_ADMIN_PASSWORD_MAX 1024

/* 0 when name is 1..64 of [A-Za-z0-9._@-]; -1 with a message in err otherwise. */
int sx_admin_name_check(const char *name, char *err, size_t n);
/* Creates the administrator or replaces its password (a salted scrypt hash is stored, never
 * the password). *created (may be NULL) is 1 for a new name. INVALID for a bad name or a
 * password outside 8..1024 bytes. */
sx_st sx_store_admin_passwd(sx_store *s, const char *name, const char *password, int *created,
                            char *err, size_t n);
/* OK when name and password match; INVALID ("wrong name or password", the same for an
 * unknown name, which costs the same time); ERROR when the store fails. */
sx_st sx_store_admin_verify(sx_store *s, const char *name, const char *password, char *err,
                            size_t n);
/* When the administrator's password was last set (unix time); NOTFOUND when there is no
 * such administrator. */
sx_st sx_store_admin_updated(sx_store *s, const char *name, int64_t *updated, char *err,
                             size_t n);
sx_st sx_store_admin_remove(sx_store *s, const char *name, char *err, size_t n);
/* Names sorted; released with sx_admin_list_free(). */
sx_st sx_store_admin_list(sx_store *s, char ***names, size_t *count, char *err, size_t n);
void sx_admin_list_free(char **v, size_t count);

#endif
