/* The store (see store.h), on SQLite or PostgreSQL through conf/db.h: opening and schema migrations, the change counter,
 * transactions and the snapshot builder, plus the helpers the other conf/store*.c files
 * share (see store_internal.h). */
#include "conf/store.h"

#include "conf/store_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- schema -------------------------------------------------------------------------- */

/* Migration i (1-based) takes the schema from version i-1 to i. Never edit a released
 * migration; append a new one to both arrays (the same text where both engines accept it,
 * as migration 4 does) and raise SX_STORE_SCHEMA_VERSION. */
/* 4: the instances sharing the store (heartbeats) and named leases; written outside the
 * change counter (they change every few seconds and are not part of the snapshot). */
#define MIGRATION_4                                                                     \
  "CREATE TABLE instances("                                                             \
  "  id TEXT PRIMARY KEY,"                                                              \
  "  host TEXT NOT NULL,"                                                               \
  "  pid BIGINT NOT NULL DEFAULT 0,"                                                    \
  "  http TEXT,"                                                                        \
  "  started BIGINT NOT NULL,"                                                          \
  "  heartbeat BIGINT NOT NULL);"                                                       \
  "CREATE TABLE leases("                                                                \
  "  name TEXT PRIMARY KEY,"                                                            \
  "  holder TEXT NOT NULL,"                                                             \
  "  expires BIGINT NOT NULL);"                                                         \
  "CREATE INDEX leases_holder ON leases(holder);"

static const char *const MIGRATIONS_LITE[SX_STORE_SCHEMA_VERSION] = {
    /* 1: policies, users, partners */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT INTO meta(key, value) VALUES('generation', 0);"
    "CREATE TABLE policies("
    "  name TEXT PRIMARY KEY COLLATE NOCASE,"
    "  scope TEXT NOT NULL CHECK(scope IN ('global','site','tag')),"
    "  xmpp INTEGER NOT NULL DEFAULT 0 CHECK(xmpp IN (0,1)),"
    "  federation INTEGER NOT NULL DEFAULT 0 CHECK(federation IN (0,1)),"
    "  public_cloud INTEGER NOT NULL DEFAULT 0 CHECK(public_cloud IN (0,1)),"
    "  outside INTEGER NOT NULL DEFAULT 0 CHECK(outside IN (0,1)),"
    "  description TEXT NOT NULL DEFAULT '');"
    "INSERT INTO policies(name, scope) VALUES('global', 'global');"
    "CREATE TABLE users("
    "  uri TEXT PRIMARY KEY,"
    "  site TEXT COLLATE NOCASE,"
    "  policy TEXT COLLATE NOCASE REFERENCES policies(name));"
    "CREATE INDEX users_site ON users(site);"
    "CREATE INDEX users_policy ON users(policy);"
    "CREATE TABLE partners("
    "  domain TEXT PRIMARY KEY,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  type TEXT NOT NULL DEFAULT 'PublicUnverified'"
    "    CHECK(type IN ('Federated','PublicVerified','PublicUnverified')),"
    "  tls TEXT NOT NULL DEFAULT 'Required' CHECK(tls IN ('Required','Optional','NotSupported')),"
    "  sasl TEXT NOT NULL DEFAULT 'Required' CHECK(sasl IN ('Required','Optional','NotSupported')),"
    "  dialback INTEGER NOT NULL DEFAULT 1 CHECK(dialback IN (0,1)),"
    "  keepalive INTEGER NOT NULL DEFAULT 1 CHECK(keepalive IN (0,1)),"
    "  connection_limit INTEGER NOT NULL DEFAULT 0 CHECK(connection_limit >= 0),"
    "  proxy_fqdn TEXT);"
    "CREATE TABLE partner_domains("
    "  domain TEXT PRIMARY KEY,"
    "  partner TEXT NOT NULL REFERENCES partners(domain) ON DELETE CASCADE ON UPDATE CASCADE);"
    "CREATE INDEX partner_domains_partner ON partner_domains(partner);",

    /* 2: per-user contact entries and XMPP subscription state */
    "CREATE TABLE contacts("
    "  user TEXT NOT NULL,"
    "  contact TEXT NOT NULL,"
    "  added INTEGER NOT NULL DEFAULT 0 CHECK(added IN (0,1)),"
    "  sub_out TEXT NOT NULL DEFAULT 'none' CHECK(sub_out IN ('none','pending','subscribed')),"
    "  sub_in TEXT NOT NULL DEFAULT 'none' CHECK(sub_in IN ('none','pending','approved')),"
    "  updated INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(user, contact)) WITHOUT ROWID;",

    /* 3: administrators of the web console (conf/store_admin.c) */
    "CREATE TABLE admins("
    "  name TEXT PRIMARY KEY COLLATE NOCASE,"
    "  hash TEXT NOT NULL,"
    "  updated INTEGER NOT NULL DEFAULT 0);",

    MIGRATION_4,
};

/* PostgreSQL: the same tables. Case-insensitive names use a nondeterministic ICU collation
 * (SQLite's NOCASE); "user" is a reserved word there. */
static const char *const MIGRATIONS_PG[SX_STORE_SCHEMA_VERSION] = {
    /* 1: policies, users, partners */
    "CREATE COLLATION IF NOT EXISTS sx_nocase"
    "  (provider = icu, locale = 'und-u-ks-level2', deterministic = false);"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BIGINT NOT NULL);"
    "INSERT INTO meta(key, value) VALUES('generation', 0);"
    "CREATE TABLE policies("
    "  name TEXT COLLATE sx_nocase PRIMARY KEY,"
    "  scope TEXT NOT NULL CHECK(scope IN ('global','site','tag')),"
    "  xmpp INTEGER NOT NULL DEFAULT 0 CHECK(xmpp IN (0,1)),"
    "  federation INTEGER NOT NULL DEFAULT 0 CHECK(federation IN (0,1)),"
    "  public_cloud INTEGER NOT NULL DEFAULT 0 CHECK(public_cloud IN (0,1)),"
    "  outside INTEGER NOT NULL DEFAULT 0 CHECK(outside IN (0,1)),"
    "  description TEXT NOT NULL DEFAULT '');"
    "INSERT INTO policies(name, scope) VALUES('global', 'global');"
    "CREATE TABLE users("
    "  uri TEXT PRIMARY KEY,"
    "  site TEXT COLLATE sx_nocase,"
    "  policy TEXT COLLATE sx_nocase REFERENCES policies(name));"
    "CREATE INDEX users_site ON users(site);"
    "CREATE INDEX users_policy ON users(policy);"
    "CREATE TABLE partners("
    "  domain TEXT PRIMARY KEY,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  type TEXT NOT NULL DEFAULT 'PublicUnverified'"
    "    CHECK(type IN ('Federated','PublicVerified','PublicUnverified')),"
    "  tls TEXT NOT NULL DEFAULT 'Required' CHECK(tls IN ('Required','Optional','NotSupported')),"
    "  sasl TEXT NOT NULL DEFAULT 'Required' CHECK(sasl IN ('Required','Optional','NotSupported')),"
    "  dialback INTEGER NOT NULL DEFAULT 1 CHECK(dialback IN (0,1)),"
    "  keepalive INTEGER NOT NULL DEFAULT 1 CHECK(keepalive IN (0,1)),"
    "  connection_limit BIGINT NOT NULL DEFAULT 0 CHECK(connection_limit >= 0),"
    "  proxy_fqdn TEXT);"
    "CREATE TABLE partner_domains("
    "  domain TEXT PRIMARY KEY,"
    "  partner TEXT NOT NULL REFERENCES partners(domain) ON DELETE CASCADE ON UPDATE CASCADE);"
    "CREATE INDEX partner_domains_partner ON partner_domains(partner);",

    /* 2: per-user contact entries and XMPP subscription state */
    "CREATE TABLE contacts("
    "  \"user\" TEXT NOT NULL,"
    "  contact TEXT NOT NULL,"
    "  added INTEGER NOT NULL DEFAULT 0 CHECK(added IN (0,1)),"
    "  sub_out TEXT NOT NULL DEFAULT 'none' CHECK(sub_out IN ('none','pending','subscribed')),"
    "  sub_in TEXT NOT NULL DEFAULT 'none' CHECK(sub_in IN ('none','pending','approved')),"
    "  updated BIGINT NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(\"user\", contact));",

    /* 3: administrators of the web console (conf/store_admin.c) */
    "CREATE TABLE admins("
    "  name TEXT COLLATE sx_nocase PRIMARY KEY,"
    "  hash TEXT NOT NULL,"
    "  updated BIGINT NOT NULL DEFAULT 0);",

    MIGRATION_4,
};



/* ---- errors, statements ------------------------------------------------------------- */

void sxs_seterr(char *err, size_t n, const char *fmt, ...) {
  if (!err || !n) return;
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(err, n, fmt, ap);
  va_end(ap);
  if (r >= 0 && (size_t)r >= n && n > 4) memcpy(err + n - 4, "...", 4);
}

sx_st sxs_fail(sx_st st, char *err, size_t n, const char *fmt, ...) {
  if (err && n) {
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(err, n, fmt, ap);
    va_end(ap);
    if (r >= 0 && (size_t)r >= n && n > 4) memcpy(err + n - 4, "...", 4);
  }
  return st;
}

sx_st sxs_dberr(sx_store *s, char *err, size_t n, const char *what) {
  sx_dberr code = sxdb_errclass(s->db);
  int pg = sxdb_kind(s->db) == SXDB_PG;
  const char *hint = "";
  if (code == SXDB_E_BUSY)
    hint = pg ? " (a concurrent transaction conflicted; retry)"
              : " (another process kept the store locked for more than 5 s; retry)";
  else if (code == SXDB_E_READONLY)
    hint = pg ? " (the database is read-only)"
              : " (no write permission on the store file or its directory)";
  else if (code == SXDB_E_FULL)
    hint = " (disk full)";
  return sxs_fail(SX_ST_ERROR, err, n, "store %s: %s: %s%s", s->path, what, sxdb_errmsg(s->db),
                  hint);
}

sx_dbq *sxs_q(sx_store *s, const char *sql, char *err, size_t n) {
  for (int i = 0; i < s->ncache; i++)
    if (s->cache[i].sql == sql) {
      sxdb_reset(s->cache[i].st);
      return s->cache[i].st;
    }
  sx_dbq *st = sxdb_prepare(s->db, sql);
  if (!st) {
    sxs_dberr(s, err, n, "prepare");
    return NULL;
  }
  if (s->ncache < STMT_CACHE) {
    s->cache[s->ncache].sql = sql;
    s->cache[s->ncache].st = st;
    s->ncache++;
  } else {
    /* cache full: cannot happen with the fixed set of statements in conf/store*.c */
    sxdb_finalize(st);
    sxs_seterr(err, n, "store %s: statement cache full", s->path);
    return NULL;
  }
  return st;
}

void sxs_bind_text(sx_dbq *st, int i, const char *v) { sxdb_bind_text(st, i, v); }

char *sxs_col_dup(sx_dbq *st, int i) {
  const char *t = sxdb_text(st, i);
  return t ? strdup(t) : NULL;
}

char *sxs_xstrdup(const char *v) { return v ? strdup(v) : NULL; }

sx_st sxs_step_done(sx_store *s, sx_dbq *st, char *err, size_t n, const char *what) {
  int rc = sxdb_step(st);
  sx_st r = rc == SXDB_DONE ? SX_ST_OK : sxs_dberr(s, err, n, what);
  sxdb_reset(st);
  return r;
}

sx_st sxs_check_key(const char *key, const char *what, char *err, size_t n) {
  if (!key || !*key || !strchr(key, '@'))
    return sxs_fail(SX_ST_INVALID, err, n, "%s '%s' is not a canonical user@domain key", what,
                    key ? key : "");
  return SX_ST_OK;
}

/* ---- row decoding ------------------------------------------------------------------- */

unsigned sxs_row_flags(sx_dbq *st, int first) {
  unsigned f = 0;
  if (sxdb_int64(st, first)) f |= SX_POL_XMPP;
  if (sxdb_int64(st, first + 1)) f |= SX_POL_FEDERATION;
  if (sxdb_int64(st, first + 2)) f |= SX_POL_PUBLIC_CLOUD;
  if (sxdb_int64(st, first + 3)) f |= SX_POL_OUTSIDE;
  return f;
}

sx_ptype sxs_ptype_of(const char *t) {
  sx_ptype v = SX_PT_PUBLIC_UNVERIFIED;
  if (t) sx_ptype_parse(t, &v);
  return v;
}

sx_nego sxs_nego_of(const char *t) {
  sx_nego v = SX_NEGO_REQUIRED;
  if (t) sx_nego_parse(t, &v);
  return v;
}

/* ---- transactions -------------------------------------------------------------------- */

sx_st sxs_wbegin(sx_store *s, txkind *k, char *err, size_t n) {
  if (!sxdb_in_tx(s->db)) {
    *k = TX_TOP;
    if (sxdb_begin_write(s->db)) return sxs_dberr(s, err, n, "begin");
  } else {
    *k = TX_SAVEPOINT;
    if (sxdb_exec(s->db, "SAVEPOINT sxw")) return sxs_dberr(s, err, n, "savepoint");
  }
  return SX_ST_OK;
}

static void wabort(sx_store *s, txkind k) {
  if (k == TX_TOP)
    sxdb_exec(s->db, "ROLLBACK");
  else
    sxdb_exec(s->db, "ROLLBACK TO SAVEPOINT sxw; RELEASE SAVEPOINT sxw");
}

sx_st sxs_wend(sx_store *s, txkind k, sx_st st, char *err, size_t n) {
  if (st != SX_ST_OK) {
    wabort(s, k);
    return st;
  }
  sx_dbq *q = sxs_q(s, "UPDATE meta SET value = value + 1 WHERE key = 'generation'", err, n);
  if (!q || sxs_step_done(s, q, err, n, "bump generation") != SX_ST_OK) {
    wabort(s, k);
    return SX_ST_ERROR;
  }
  /* PostgreSQL: LISTENers hear of the change at the (outermost) commit; identical
   * notifications of one transaction are delivered once */
  if (sxdb_kind(s->db) == SXDB_PG && sxdb_exec(s->db, "NOTIFY sipxmpp_store")) {
    sx_st r = sxs_dberr(s, err, n, "notify");
    wabort(s, k);
    return r;
  }
  const char *sql = k == TX_TOP ? "COMMIT" : "RELEASE SAVEPOINT sxw";
  if (sxdb_exec(s->db, sql)) {
    sx_st r = sxs_dberr(s, err, n, "commit");
    wabort(s, k);
    return r;
  }
  return SX_ST_OK;
}

sx_st sx_store_begin(sx_store *s, char *err, size_t n) {
  if (sxdb_in_tx(s->db))
    return sxs_fail(SX_ST_ERROR, err, n, "store %s: a transaction is already open", s->path);
  if (sxdb_begin_write(s->db)) return sxs_dberr(s, err, n, "begin");
  return SX_ST_OK;
}

sx_st sx_store_commit(sx_store *s, char *err, size_t n) {
  if (sxdb_exec(s->db, "COMMIT")) {
    sx_st r = sxs_dberr(s, err, n, "commit");
    sxdb_exec(s->db, "ROLLBACK");
    return r;
  }
  return SX_ST_OK;
}

void sx_store_rollback(sx_store *s) {
  if (sxdb_in_tx(s->db)) sxdb_exec(s->db, "ROLLBACK");
}

/* ---- open / migrate ------------------------------------------------------------------ */

static int read_version(sx_store *s, int *version, int *has_table, int *other_tables) {
  *has_table = 0;
  *other_tables = 0;
  *version = 0;
  sx_dbq *st = sxdb_prepare(
      s->db, sxdb_kind(s->db) == SXDB_PG
                 ? "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                 : "SELECT name FROM sqlite_master WHERE type = 'table'");
  if (!st) return -1;
  int rc;
  while ((rc = sxdb_step(st)) == SXDB_ROW) {
    const char *nm = sxdb_text(st, 0);
    if (nm && strcmp(nm, "schema_version") == 0)
      *has_table = 1;
    else
      (*other_tables)++;
  }
  sxdb_finalize(st);
  if (rc != SXDB_DONE) return -1;
  if (!*has_table) return 0;
  if (!(st = sxdb_prepare(s->db, "SELECT MAX(version) FROM schema_version"))) return -1;
  rc = sxdb_step(st);
  if (rc == SXDB_ROW) *version = (int)sxdb_int64(st, 0);
  sxdb_finalize(st);
  return rc == SXDB_ROW ? 0 : -1;
}

static sx_st migrate(sx_store *s, int depth, char *err, size_t n) {
  int v, has, others;
  if (read_version(s, &v, &has, &others)) return sxs_dberr(s, err, n, "read schema version");
  if (has && v == SX_STORE_SCHEMA_VERSION) {
    s->version = v;
    return SX_ST_OK;
  }
  if (v > SX_STORE_SCHEMA_VERSION)
    return sxs_fail(SX_ST_ERROR, err, n,
                    "store %s has schema version %d, newer than this build of sipxmpp understands "
                    "(%d): it was written by a newer sipxmpp; upgrade sipxmppd and sipxmppctl, or "
                    "use a store made by this version",
                    s->path, v, SX_STORE_SCHEMA_VERSION);
  if (!has && others)
    return sxs_fail(SX_ST_ERROR, err, n,
                    "store %s is a database but not a sipxmpp store (it has tables and no "
                    "schema_version); point [gateway] store at a new or sipxmpp one",
                    s->path);
  if (depth > 1) return sxs_fail(SX_ST_ERROR, err, n, "store %s: migration raced", s->path);
  if (sxdb_begin_write(s->db)) return sxs_dberr(s, err, n, "begin migration");
  /* another process may have migrated meanwhile */
  if (read_version(s, &v, &has, &others)) goto dbfail;
  if (v > SX_STORE_SCHEMA_VERSION || (has && v == SX_STORE_SCHEMA_VERSION)) {
    sxdb_exec(s->db, "ROLLBACK");
    return migrate(s, depth + 1, err, n);
  }
  if (!has) {
    if (sxdb_exec(s->db, "CREATE TABLE schema_version(version INTEGER NOT NULL);"
                         "INSERT INTO schema_version(version) VALUES(0);"))
      goto dbfail;
    v = 0;
  }
  const char *const *mig = sxdb_kind(s->db) == SXDB_PG ? MIGRATIONS_PG : MIGRATIONS_LITE;
  for (int i = v; i < SX_STORE_SCHEMA_VERSION; i++) {
    if (sxdb_exec(s->db, mig[i])) {
      sxs_seterr(err, n, "store %s: migration %d failed: %s", s->path, i + 1,
                 sxdb_errmsg(s->db));
      sxdb_exec(s->db, "ROLLBACK");
      return SX_ST_ERROR;
    }
    char sql[80];
    snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %d", i + 1);
    if (sxdb_exec(s->db, sql)) goto dbfail;
  }
  if (sxdb_exec(s->db, "COMMIT")) goto dbfail;
  s->version = SX_STORE_SCHEMA_VERSION;
  return SX_ST_OK;
dbfail : {
  sx_st r = sxs_dberr(s, err, n, "migrate");
  sxdb_exec(s->db, "ROLLBACK");
  return r;
}
}

sx_st sx_store_open(const char *path, sx_store **out, char *err, size_t n) {
  *out = NULL;
  if (!path || !*path) return sxs_fail(SX_ST_ERROR, err, n, "no store path configured");
  sx_store *s = calloc(1, sizeof *s);
  if (!s || !(s->path = sxdb_display(path))) {
    free(s);
    return sxs_fail(SX_ST_ERROR, err, n, "out of memory");
  }
  char why[512];
  if (sxdb_open(path, &s->db, why, sizeof why)) {
    sxs_seterr(err, n, "cannot open store %s: %s", s->path, why);
    sx_store_close(s);
    return SX_ST_ERROR;
  }
  sx_st r = migrate(s, 0, err, n);
  if (r != SX_ST_OK) {
    sx_store_close(s);
    return r;
  }
  *out = s;
  return SX_ST_OK;
}

void sx_store_close(sx_store *s) {
  if (!s) return;
  for (int i = 0; i < s->ncache; i++) sxdb_finalize(s->cache[i].st);
  sxdb_close(s->db);
  free(s->path);
  free(s);
}

int sx_store_schema_version(sx_store *s) { return s ? s->version : 0; }

int64_t sx_store_generation(sx_store *s) {
  sx_dbq *st = sxs_q(s, "SELECT value FROM meta WHERE key = 'generation'", NULL, 0);
  if (!st) return -1;
  int64_t g = -1;
  if (sxdb_step(st) == SXDB_ROW) g = sxdb_int64(st, 0);
  sxdb_reset(st);
  return g;
}

/* ---- snapshot ------------------------------------------------------------------------ */

sx_policy_snap *sx_store_snapshot(sx_store *s, char *err, size_t n) {
  int own = !sxdb_in_tx(s->db);
  if (own && sxdb_begin_read(s->db)) {
    sxs_dberr(s, err, n, "snapshot");
    return NULL;
  }
  sx_policy_snap *snap = sx_snap_new();
  const char *what = "snapshot";
  int rc = SXDB_DONE;
  sx_dbq *st = NULL;
  if (!snap) {
    sxs_seterr(err, n, "out of memory");
    goto out_fail_quiet;
  }
  what = "read generation";
  if (!(st = sxs_q(s, "SELECT value FROM meta WHERE key = 'generation'", err, n)))
    goto out_fail_quiet;
  if (sxdb_step(st) == SXDB_ROW) sx_snap_set_generation(snap, sxdb_int64(st, 0));
  sxdb_reset(st);

  what = "read policies";
  if (!(st =
            sxs_q(s, "SELECT name, xmpp, federation, public_cloud, outside FROM policies", err, n)))
    goto out_fail_quiet;
  while ((rc = sxdb_step(st)) == SXDB_ROW)
    if (sx_snap_add_policy(snap, COLS(st, 0), sxs_row_flags(st, 1))) goto out_nomem;
  if (rc != SXDB_DONE) goto out_fail;
  sxdb_reset(st);

  what = "read users";
  if (!(st = sxs_q(s, "SELECT uri, site, policy FROM users", err, n))) goto out_fail_quiet;
  while ((rc = sxdb_step(st)) == SXDB_ROW)
    if (sx_snap_add_user(snap, COLS(st, 0), COLS(st, 1), COLS(st, 2))) goto out_nomem;
  if (rc != SXDB_DONE) goto out_fail;
  sxdb_reset(st);

  what = "read partners";
  if (!(st = sxs_q(s, "SELECT domain, type FROM partners", err, n))) goto out_fail_quiet;
  while ((rc = sxdb_step(st)) == SXDB_ROW)
    if (sx_snap_add_partner(snap, COLS(st, 0), sxs_ptype_of(COLS(st, 1)))) goto out_nomem;
  if (rc != SXDB_DONE) goto out_fail;
  sxdb_reset(st);

  what = "read partner domains";
  if (!(st = sxs_q(s, "SELECT partner, domain FROM partner_domains", err, n))) goto out_fail_quiet;
  while ((rc = sxdb_step(st)) == SXDB_ROW)
    if (sx_snap_add_partner_domain(snap, COLS(st, 0), COLS(st, 1))) goto out_nomem;
  if (rc != SXDB_DONE) goto out_fail;
  sxdb_reset(st);

  what = "read contacts";
  if (!(st = sxs_q(s, "SELECT \"user\", contact, added, sub_out, sub_in FROM contacts", err, n)))
    goto out_fail_quiet;
  while ((rc = sxdb_step(st)) == SXDB_ROW) {
    sx_sub_out o = SX_OUT_NONE;
    sx_sub_in i = SX_IN_NONE;
    (void)sx_sub_out_parse(COLS(st, 3), &o); /* CHECK constraints admit known names only */
    (void)sx_sub_in_parse(COLS(st, 4), &i);
    sx_rel rel = {(uint8_t)o, (uint8_t)i, (uint8_t)(sxdb_int64(st, 2) ? 1 : 0), 0};
    if (sx_snap_add_relation(snap, COLS(st, 0), COLS(st, 1), rel)) goto out_nomem;
  }
  if (rc != SXDB_DONE) goto out_fail;
  sxdb_reset(st);

  if (own) sxdb_exec(s->db, "COMMIT");
  return snap;

out_nomem:
  sxs_seterr(err, n, "store %s: %s: out of memory building the snapshot", s->path, what);
  goto out_fail_quiet;
out_fail:
  sxs_dberr(s, err, n, what);
out_fail_quiet:
  if (st) sxdb_reset(st);
  if (own) sxdb_exec(s->db, "ROLLBACK");
  sx_snap_free(snap);
  return NULL;
}
