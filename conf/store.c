/* The SQLite store (see store.h). */
#include "conf/store.h"

#include "translate/address.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- schema -------------------------------------------------------------------------- */

/* Migration i (1-based) takes the schema from version i-1 to i. Never edit a released
 * migration; append a new one and raise SX_STORE_SCHEMA_VERSION. */
static const char *const MIGRATIONS[SX_STORE_SCHEMA_VERSION] = {
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
};

/* ---- handle, errors, statements ------------------------------------------------------ */

#define STMT_CACHE 64

struct sx_store {
  sqlite3 *db;
  char *path;
  int version;
  struct {
    const char *sql;
    sqlite3_stmt *st;
  } cache[STMT_CACHE];
  int ncache;
};

static void seterr(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t n, const char *fmt, ...) {
  if (!err || !n) return;
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(err, n, fmt, ap);
  va_end(ap);
  if (r >= 0 && (size_t)r >= n && n > 4) memcpy(err + n - 4, "...", 4);
}

static sx_st fail(sx_st st, char *err, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static sx_st fail(sx_st st, char *err, size_t n, const char *fmt, ...) {
  if (err && n) {
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(err, n, fmt, ap);
    va_end(ap);
    if (r >= 0 && (size_t)r >= n && n > 4) memcpy(err + n - 4, "...", 4);
  }
  return st;
}

/* SX_ST_ERROR with the SQLite message and the store path. */
static sx_st dberr(sx_store *s, char *err, size_t n, const char *what) {
  int code = sqlite3_errcode(s->db);
  const char *hint = "";
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
    hint = " (another process kept the store locked for more than 5 s; retry)";
  else if (code == SQLITE_READONLY)
    hint = " (no write permission on the store file or its directory)";
  else if (code == SQLITE_FULL)
    hint = " (disk full)";
  return fail(SX_ST_ERROR, err, n, "store %s: %s: %s%s", s->path, what, sqlite3_errmsg(s->db),
              hint);
}

/* A cached prepared statement, reset and unbound; NULL on error (err set). */
static sqlite3_stmt *Q(sx_store *s, const char *sql, char *err, size_t n) {
  for (int i = 0; i < s->ncache; i++)
    if (s->cache[i].sql == sql) {
      sqlite3_reset(s->cache[i].st);
      sqlite3_clear_bindings(s->cache[i].st);
      return s->cache[i].st;
    }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
    dberr(s, err, n, "prepare");
    return NULL;
  }
  if (s->ncache < STMT_CACHE) {
    s->cache[s->ncache].sql = sql;
    s->cache[s->ncache].st = st;
    s->ncache++;
  } else {
    /* cache full: cannot happen with the fixed set of statements below */
    sqlite3_finalize(st);
    seterr(err, n, "store %s: statement cache full", s->path);
    return NULL;
  }
  return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
  if (v)
    sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

static char *col_dup(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? strdup((const char *)t) : NULL;
}

static char *xstrdup(const char *v) { return v ? strdup(v) : NULL; }

/* Runs a statement that returns no rows (after binding). */
static sx_st step_done(sx_store *s, sqlite3_stmt *st, char *err, size_t n, const char *what) {
  int rc = sqlite3_step(st);
  sx_st r = rc == SQLITE_DONE ? SX_ST_OK : dberr(s, err, n, what);
  sqlite3_reset(st);
  return r;
}

/* ---- transactions -------------------------------------------------------------------- */

typedef enum { TX_TOP, TX_SAVEPOINT } txkind;

static sx_st wbegin(sx_store *s, txkind *k, char *err, size_t n) {
  if (sqlite3_get_autocommit(s->db)) {
    *k = TX_TOP;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
      return dberr(s, err, n, "begin");
  } else {
    *k = TX_SAVEPOINT;
    if (sqlite3_exec(s->db, "SAVEPOINT sxw", NULL, NULL, NULL) != SQLITE_OK)
      return dberr(s, err, n, "savepoint");
  }
  return SX_ST_OK;
}

static void wabort(sx_store *s, txkind k) {
  if (k == TX_TOP)
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  else
    sqlite3_exec(s->db, "ROLLBACK TO sxw; RELEASE sxw", NULL, NULL, NULL);
}

/* Ends a write: on st == OK bumps the generation and commits; otherwise rolls back.
 * Returns the final status. */
static sx_st wend(sx_store *s, txkind k, sx_st st, char *err, size_t n) {
  if (st != SX_ST_OK) {
    wabort(s, k);
    return st;
  }
  sqlite3_stmt *q = Q(s, "UPDATE meta SET value = value + 1 WHERE key = 'generation'", err, n);
  if (!q || step_done(s, q, err, n, "bump generation") != SX_ST_OK) {
    wabort(s, k);
    return SX_ST_ERROR;
  }
  const char *sql = k == TX_TOP ? "COMMIT" : "RELEASE sxw";
  if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
    sx_st r = dberr(s, err, n, "commit");
    wabort(s, k);
    return r;
  }
  return SX_ST_OK;
}

sx_st sx_store_begin(sx_store *s, char *err, size_t n) {
  if (!sqlite3_get_autocommit(s->db))
    return fail(SX_ST_ERROR, err, n, "store %s: a transaction is already open", s->path);
  if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return dberr(s, err, n, "begin");
  return SX_ST_OK;
}

sx_st sx_store_commit(sx_store *s, char *err, size_t n) {
  if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    sx_st r = dberr(s, err, n, "commit");
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
  }
  return SX_ST_OK;
}

void sx_store_rollback(sx_store *s) {
  if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- open / migrate ------------------------------------------------------------------ */

static int read_version(sx_store *s, int *version, int *has_table, int *other_tables) {
  sqlite3_stmt *st = NULL;
  *has_table = 0;
  *other_tables = 0;
  *version = 0;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &st,
                         NULL) != SQLITE_OK)
    return -1;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *nm = (const char *)sqlite3_column_text(st, 0);
    if (nm && strcmp(nm, "schema_version") == 0)
      *has_table = 1;
    else
      (*other_tables)++;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return -1;
  if (!*has_table) return 0;
  if (sqlite3_prepare_v2(s->db, "SELECT MAX(version) FROM schema_version", -1, &st, NULL) !=
      SQLITE_OK)
    return -1;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? 0 : -1;
}

static sx_st migrate(sx_store *s, char *err, size_t n) {
  int v, has, others;
  if (read_version(s, &v, &has, &others)) return dberr(s, err, n, "read schema version");
  if (has && v == SX_STORE_SCHEMA_VERSION) {
    s->version = v;
    return SX_ST_OK;
  }
  if (v > SX_STORE_SCHEMA_VERSION)
    return fail(SX_ST_ERROR, err, n,
                "store %s has schema version %d, newer than this build of sipxmpp understands "
                "(%d): it was written by a newer sipxmpp; upgrade sipxmppd and sipxmppctl, or "
                "use a store made by this version",
                s->path, v, SX_STORE_SCHEMA_VERSION);
  if (!has && others)
    return fail(SX_ST_ERROR, err, n,
                "store %s is an SQLite database but not a sipxmpp store (it has tables and no "
                "schema_version); point [gateway] store at a new or sipxmpp file",
                s->path);
  if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return dberr(s, err, n, "begin migration");
  /* another process may have migrated meanwhile */
  if (read_version(s, &v, &has, &others)) goto dbfail;
  if (v > SX_STORE_SCHEMA_VERSION) {
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return migrate(s, err, n);
  }
  if (!has) {
    if (sqlite3_exec(s->db,
                     "CREATE TABLE schema_version(version INTEGER NOT NULL);"
                     "INSERT INTO schema_version(version) VALUES(0);",
                     NULL, NULL, NULL) != SQLITE_OK)
      goto dbfail;
    v = 0;
  }
  for (int i = v; i < SX_STORE_SCHEMA_VERSION; i++) {
    char *emsg = NULL;
    if (sqlite3_exec(s->db, MIGRATIONS[i], NULL, NULL, &emsg) != SQLITE_OK) {
      seterr(err, n, "store %s: migration %d failed: %s", s->path, i + 1,
             emsg ? emsg : sqlite3_errmsg(s->db));
      sqlite3_free(emsg);
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      return SX_ST_ERROR;
    }
    char sql[80];
    snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %d", i + 1);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) goto dbfail;
  }
  if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) goto dbfail;
  s->version = SX_STORE_SCHEMA_VERSION;
  return SX_ST_OK;
dbfail : {
  sx_st r = dberr(s, err, n, "migrate");
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return r;
}
}

sx_st sx_store_open(const char *path, sx_store **out, char *err, size_t n) {
  *out = NULL;
  if (!path || !*path) return fail(SX_ST_ERROR, err, n, "no store path configured");
  sx_store *s = calloc(1, sizeof *s);
  if (!s || !(s->path = strdup(path))) {
    free(s);
    return fail(SX_ST_ERROR, err, n, "out of memory");
  }
  int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc != SQLITE_OK) {
    seterr(err, n, "cannot open store %s: %s (does the directory exist and is it writable?)",
           path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
    sx_store_close(s);
    return SX_ST_ERROR;
  }
  sqlite3_extended_result_codes(s->db, 0);
  sqlite3_busy_timeout(s->db, 5000);
  /* journal_mode returns the resulting mode: "wal", or "memory" for ":memory:" */
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
      sqlite3_step(st) != SQLITE_ROW) {
    seterr(err, n, "cannot open store %s: %s", path, sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    sx_store_close(s);
    return SX_ST_ERROR;
  }
  const char *mode = (const char *)sqlite3_column_text(st, 0);
  int ok = mode && (strcasecmp(mode, "wal") == 0 || strcasecmp(mode, "memory") == 0);
  char modebuf[32];
  snprintf(modebuf, sizeof modebuf, "%s", mode ? mode : "?");
  sqlite3_finalize(st);
  if (!ok) {
    seterr(err, n, "store %s: cannot switch to WAL mode (journal mode is %s)", path, modebuf);
    sx_store_close(s);
    return SX_ST_ERROR;
  }
  if (sqlite3_exec(s->db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;", NULL, NULL,
                   NULL) != SQLITE_OK) {
    dberr(s, err, n, "pragma");
    sx_store_close(s);
    return SX_ST_ERROR;
  }
  sx_st r = migrate(s, err, n);
  if (r != SX_ST_OK) {
    sx_store_close(s);
    return r;
  }
  *out = s;
  return SX_ST_OK;
}

void sx_store_close(sx_store *s) {
  if (!s) return;
  for (int i = 0; i < s->ncache; i++) sqlite3_finalize(s->cache[i].st);
  if (s->db) sqlite3_close(s->db);
  free(s->path);
  free(s);
}

int sx_store_schema_version(sx_store *s) { return s ? s->version : 0; }

int64_t sx_store_generation(sx_store *s) {
  sqlite3_stmt *st = Q(s, "SELECT value FROM meta WHERE key = 'generation'", NULL, 0);
  if (!st) return -1;
  int64_t g = -1;
  if (sqlite3_step(st) == SQLITE_ROW) g = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return g;
}

/* ---- snapshot ------------------------------------------------------------------------ */

static unsigned row_flags(sqlite3_stmt *st, int first) {
  unsigned f = 0;
  if (sqlite3_column_int(st, first)) f |= SX_POL_XMPP;
  if (sqlite3_column_int(st, first + 1)) f |= SX_POL_FEDERATION;
  if (sqlite3_column_int(st, first + 2)) f |= SX_POL_PUBLIC_CLOUD;
  if (sqlite3_column_int(st, first + 3)) f |= SX_POL_OUTSIDE;
  return f;
}

static sx_ptype ptype_of(const char *t) {
  sx_ptype v = SX_PT_PUBLIC_UNVERIFIED;
  if (t) sx_ptype_parse(t, &v);
  return v;
}

static sx_nego nego_of(const char *t) {
  sx_nego v = SX_NEGO_REQUIRED;
  if (t) sx_nego_parse(t, &v);
  return v;
}

#define COLS(st, i) ((const char *)sqlite3_column_text((st), (i)))

sx_policy_snap *sx_store_snapshot(sx_store *s, char *err, size_t n) {
  int own = sqlite3_get_autocommit(s->db);
  if (own && sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    dberr(s, err, n, "snapshot");
    return NULL;
  }
  sx_policy_snap *snap = sx_snap_new();
  const char *what = "snapshot";
  int rc = SQLITE_DONE;
  sqlite3_stmt *st = NULL;
  if (!snap) {
    seterr(err, n, "out of memory");
    goto out_fail_quiet;
  }
  what = "read generation";
  if (!(st = Q(s, "SELECT value FROM meta WHERE key = 'generation'", err, n))) goto out_fail_quiet;
  if (sqlite3_step(st) == SQLITE_ROW) sx_snap_set_generation(snap, sqlite3_column_int64(st, 0));
  sqlite3_reset(st);

  what = "read policies";
  if (!(st = Q(s, "SELECT name, xmpp, federation, public_cloud, outside FROM policies", err, n)))
    goto out_fail_quiet;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    if (sx_snap_add_policy(snap, COLS(st, 0), row_flags(st, 1))) goto out_nomem;
  if (rc != SQLITE_DONE) goto out_fail;
  sqlite3_reset(st);

  what = "read users";
  if (!(st = Q(s, "SELECT uri, site, policy FROM users", err, n))) goto out_fail_quiet;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    if (sx_snap_add_user(snap, COLS(st, 0), COLS(st, 1), COLS(st, 2))) goto out_nomem;
  if (rc != SQLITE_DONE) goto out_fail;
  sqlite3_reset(st);

  what = "read partners";
  if (!(st = Q(s, "SELECT domain, type FROM partners", err, n))) goto out_fail_quiet;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    if (sx_snap_add_partner(snap, COLS(st, 0), ptype_of(COLS(st, 1)))) goto out_nomem;
  if (rc != SQLITE_DONE) goto out_fail;
  sqlite3_reset(st);

  what = "read partner domains";
  if (!(st = Q(s, "SELECT partner, domain FROM partner_domains", err, n))) goto out_fail_quiet;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    if (sx_snap_add_partner_domain(snap, COLS(st, 0), COLS(st, 1))) goto out_nomem;
  if (rc != SQLITE_DONE) goto out_fail;
  sqlite3_reset(st);

  what = "read contacts";
  if (!(st = Q(s,
               "SELECT user, contact, added FROM contacts WHERE added = 1 OR sub_in = 'pending'",
               err, n)))
    goto out_fail_quiet;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    if (sx_snap_add_contact(snap, COLS(st, 0), COLS(st, 1),
                            sqlite3_column_int(st, 2) ? SX_CONTACT_ADDED
                                                      : SX_CONTACT_PENDING_IN))
      goto out_nomem;
  if (rc != SQLITE_DONE) goto out_fail;
  sqlite3_reset(st);

  if (own) sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
  return snap;

out_nomem:
  seterr(err, n, "store %s: %s: out of memory building the snapshot", s->path, what);
  goto out_fail_quiet;
out_fail:
  dberr(s, err, n, what);
out_fail_quiet:
  if (st) sqlite3_reset(st);
  if (own) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  sx_snap_free(snap);
  return NULL;
}

/* ---- policies ------------------------------------------------------------------------ */

void sx_policy_rec_free(sx_policy_rec *p) {
  if (!p) return;
  free(p->name);
  free(p->description);
  memset(p, 0, sizeof *p);
}

void sx_policy_list_free(sx_policy_rec *v, size_t count) {
  if (!v) return;
  for (size_t i = 0; i < count; i++) sx_policy_rec_free(&v[i]);
  free(v);
}

#define POLICY_COLS                                                                   \
  "name, scope, xmpp, federation, public_cloud, outside, description,"                \
  " CASE scope WHEN 'tag' THEN (SELECT COUNT(*) FROM users u WHERE u.policy = p.name)" \
  " WHEN 'site' THEN (SELECT COUNT(*) FROM users u WHERE u.site = substr(p.name, 6))" \
  " ELSE 0 END"

static int policy_from_row(sqlite3_stmt *st, sx_policy_rec *p) {
  memset(p, 0, sizeof *p);
  const char *sc = COLS(st, 1);
  p->scope = !sc || strcmp(sc, "global") == 0 ? SX_SCOPE_GLOBAL
             : strcmp(sc, "site") == 0        ? SX_SCOPE_SITE
                                              : SX_SCOPE_TAG;
  p->flags = row_flags(st, 2);
  p->name = col_dup(st, 0);
  p->description = col_dup(st, 6);
  if (!p->description) p->description = strdup("");
  p->users = (long)sqlite3_column_int64(st, 7);
  if (!p->name || !p->description) {
    sx_policy_rec_free(p);
    return -1;
  }
  return 0;
}

/* Checks a name; canon receives the stored form. */
static sx_st policy_name(const char *name, sx_scope *scope, char *canon, size_t cn, char *err,
                         size_t n) {
  char msg[512];
  if (sx_policy_name_check(name, scope, canon, cn, msg, sizeof msg))
    return fail(SX_ST_INVALID, err, n, "%s", msg);
  return SX_ST_OK;
}

sx_st sx_store_policy_new(sx_store *s, const char *name, unsigned flags,
                          const char *description, char *err, size_t n) {
  char canon[256];
  sx_scope scope;
  sx_st r = policy_name(name, &scope, canon, sizeof canon, err, n);
  if (r) return r;
  if (scope == SX_SCOPE_GLOBAL)
    return fail(SX_ST_EXISTS, err, n,
                "the global policy always exists; change it with: policy set global ...");
  txkind k;
  if ((r = wbegin(s, &k, err, n))) return r;
  sqlite3_stmt *st = Q(s, "SELECT name FROM policies WHERE name = ?", err, n);
  if (!st) return wend(s, k, SX_ST_ERROR, err, n);
  bind_text(st, 1, canon);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    fail(SX_ST_EXISTS, err, n, "policy '%s' already exists (as '%s'); change it with: policy set",
         canon, COLS(st, 0));
    sqlite3_reset(st);
    return wend(s, k, SX_ST_EXISTS, err, n);
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return wend(s, k, dberr(s, err, n, "policy new"), err, n);
  st = Q(s,
         "INSERT INTO policies(name, scope, xmpp, federation, public_cloud, outside, description)"
         " VALUES(?, ?, ?, ?, ?, ?, ?)",
         err, n);
  if (!st) return wend(s, k, SX_ST_ERROR, err, n);
  bind_text(st, 1, canon);
  bind_text(st, 2, sx_scope_name(scope));
  sqlite3_bind_int(st, 3, !!(flags & SX_POL_XMPP));
  sqlite3_bind_int(st, 4, !!(flags & SX_POL_FEDERATION));
  sqlite3_bind_int(st, 5, !!(flags & SX_POL_PUBLIC_CLOUD));
  sqlite3_bind_int(st, 6, !!(flags & SX_POL_OUTSIDE));
  bind_text(st, 7, description ? description : "");
  return wend(s, k, step_done(s, st, err, n, "policy new"), err, n);
}

sx_st sx_store_policy_get(sx_store *s, const char *name, sx_policy_rec *out, char *err,
                          size_t n) {
  memset(out, 0, sizeof *out);
  char canon[256];
  sx_st r = policy_name(name, NULL, canon, sizeof canon, err, n);
  if (r) return r;
  sqlite3_stmt *st = Q(s, "SELECT " POLICY_COLS " FROM policies p WHERE name = ?", err, n);
  if (!st) return SX_ST_ERROR;
  bind_text(st, 1, canon);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    r = policy_from_row(st, out) ? fail(SX_ST_ERROR, err, n, "out of memory") : SX_ST_OK;
  } else if (rc == SQLITE_DONE) {
    r = fail(SX_ST_NOTFOUND, err, n, "no policy named '%s' (see: policy list)", canon);
  } else {
    r = dberr(s, err, n, "policy show");
  }
  sqlite3_reset(st);
  return r;
}

sx_st sx_store_policy_set(sx_store *s, const char *name, unsigned mask, unsigned flags,
                          const char *description, char *err, size_t n) {
  char canon[256];
  sx_scope scope;
  sx_st r = policy_name(name, &scope, canon, sizeof canon, err, n);
  if (r) return r;
  txkind k;
  if ((r = wbegin(s, &k, err, n))) return r;
  sx_policy_rec cur;
  r = sx_store_policy_get(s, canon, &cur, err, n);
  if (r == SX_ST_NOTFOUND)
    fail(r, err, n, "no policy named '%s'; create it with: policy new %s ...", canon, canon);
  if (r) return wend(s, k, r, err, n);
  unsigned nf = (cur.flags & ~mask) | (flags & mask);
  sqlite3_stmt *st = Q(s,
                       "UPDATE policies SET xmpp = ?, federation = ?, public_cloud = ?,"
                       " outside = ?, description = ? WHERE name = ?",
                       err, n);
  if (!st) {
    sx_policy_rec_free(&cur);
    return wend(s, k, SX_ST_ERROR, err, n);
  }
  sqlite3_bind_int(st, 1, !!(nf & SX_POL_XMPP));
  sqlite3_bind_int(st, 2, !!(nf & SX_POL_FEDERATION));
  sqlite3_bind_int(st, 3, !!(nf & SX_POL_PUBLIC_CLOUD));
  sqlite3_bind_int(st, 4, !!(nf & SX_POL_OUTSIDE));
  bind_text(st, 5, description ? description : cur.description);
  bind_text(st, 6, canon);
  sx_policy_rec_free(&cur);
  return wend(s, k, step_done(s, st, err, n, "policy set"), err, n);
}

sx_st sx_store_policy_list(sx_store *s, sx_policy_rec **out, size_t *count, char *err,
                           size_t n) {
  *out = NULL;
  *count = 0;
  sqlite3_stmt *st = Q(s,
                       "SELECT " POLICY_COLS " FROM policies p ORDER BY"
                       " CASE scope WHEN 'global' THEN 0 WHEN 'site' THEN 1 ELSE 2 END, name",
                       err, n);
  if (!st) return SX_ST_ERROR;
  sx_policy_rec *v = NULL;
  size_t cnt = 0, cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 16;
      sx_policy_rec *nv = realloc(v, nc * sizeof *v);
      if (!nv) goto nomem;
      v = nv;
      cap = nc;
    }
    if (policy_from_row(st, &v[cnt])) goto nomem;
    cnt++;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    sx_policy_list_free(v, cnt);
    return dberr(s, err, n, "policy list");
  }
  *out = v;
  *count = cnt;
  return SX_ST_OK;
nomem:
  sqlite3_reset(st);
  sx_policy_list_free(v, cnt);
  return fail(SX_ST_ERROR, err, n, "out of memory");
}

sx_st sx_store_policy_remove(sx_store *s, const char *name, int force, char *err, size_t n) {
  char canon[256];
  sx_scope scope;
  sx_st r = policy_name(name, &scope, canon, sizeof canon, err, n);
  if (r) return r;
  if (scope == SX_SCOPE_GLOBAL)
    return fail(SX_ST_INVALID, err, n,
                "the global policy cannot be removed; change it instead, e.g. policy set global "
                "--xmpp=off");
  txkind k;
  if ((r = wbegin(s, &k, err, n))) return r;
  sx_policy_rec cur;
  if ((r = sx_store_policy_get(s, canon, &cur, err, n))) return wend(s, k, r, err, n);
  long users = cur.users;
  sx_policy_rec_free(&cur);
  if (scope == SX_SCOPE_TAG && users > 0) {
    if (!force) {
      fail(SX_ST_INUSE, err, n,
           "policy '%s' is granted to %ld user(s); remove the grants first (policy grant --none "
           "--user URI) or use --force (those users then get their site or the global policy)",
           canon, users);
      return wend(s, k, SX_ST_INUSE, err, n);
    }
    sqlite3_stmt *st = Q(s, "UPDATE users SET policy = NULL WHERE policy = ?", err, n);
    if (!st) return wend(s, k, SX_ST_ERROR, err, n);
    bind_text(st, 1, canon);
    if ((r = step_done(s, st, err, n, "policy remove"))) return wend(s, k, r, err, n);
  }
  sqlite3_stmt *st = Q(s, "DELETE FROM policies WHERE name = ?", err, n);
  if (!st) return wend(s, k, SX_ST_ERROR, err, n);
  bind_text(st, 1, canon);
  return wend(s, k, step_done(s, st, err, n, "policy remove"), err, n);
}

/* Resolves a grantable policy name to its stored form (a tag that exists). */
static sx_st tag_lookup(sx_store *s, const char *tag, char *stored, size_t sn, char *err,
                        size_t n) {
  char canon[256];
  sx_scope scope;
  sx_st r = policy_name(tag, &scope, canon, sizeof canon, err, n);
  if (r) return r;
  if (scope == SX_SCOPE_GLOBAL)
    return fail(SX_ST_INVALID, err, n,
                "the global policy cannot be granted: it applies to every user without a "
                "per-user or site policy");
  if (scope == SX_SCOPE_SITE)
    return fail(SX_ST_INVALID, err, n,
                "'%s' is a site policy: it applies to users of that site (set it with: user set "
                "URI --site %s), it cannot be granted",
                canon, canon + 5);
  sqlite3_stmt *st = Q(s, "SELECT name FROM policies WHERE name = ? AND scope = 'tag'", err, n);
  if (!st) return SX_ST_ERROR;
  bind_text(st, 1, canon);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    snprintf(stored, sn, "%s", COLS(st, 0));
    r = SX_ST_OK;
  } else if (rc == SQLITE_DONE) {
    r = fail(SX_ST_INVALID, err, n, "no policy named '%s'; create it first: policy new %s --xmpp",
             canon, canon);
  } else {
    r = dberr(s, err, n, "policy lookup");
  }
  sqlite3_reset(st);
  return r;
}

static sx_st check_key(const char *key, const char *what, char *err, size_t n) {
  if (!key || !*key || !strchr(key, '@'))
    return fail(SX_ST_INVALID, err, n, "%s '%s' is not a canonical user@domain key", what,
                key ? key : "");
  return SX_ST_OK;
}

sx_st sx_store_policy_grant(sx_store *s, const char *tag, const char *user_key, long *changed,
                            char *err, size_t n) {
  if (changed) *changed = 0;
  char stored[256] = "";
  sx_st r;
  if (user_key && (r = check_key(user_key, "user", err, n))) return r;
  txkind k;
  if ((r = wbegin(s, &k, err, n))) return r;
  if (tag && (r = tag_lookup(s, tag, stored, sizeof stored, err, n))) return wend(s, k, r, err, n);
  sqlite3_stmt *st;
  if (user_key && tag) {
    st = Q(s,
           "INSERT INTO users(uri, policy) VALUES(?1, ?2) ON CONFLICT(uri) DO UPDATE SET"
           " policy = excluded.policy WHERE policy IS NOT excluded.policy",
           err, n);
    if (!st) return wend(s, k, SX_ST_ERROR, err, n);
    bind_text(st, 1, user_key);
    bind_text(st, 2, stored);
  } else if (user_key) {
    sx_user_rec u;
    r = sx_store_user_get(s, user_key, &u, err, n);
    if (r) return wend(s, k, r, err, n);
    sx_user_rec_free(&u);
    st = Q(s, "UPDATE users SET policy = NULL WHERE uri = ? AND policy IS NOT NULL", err, n);
    if (!st) return wend(s, k, SX_ST_ERROR, err, n);
    bind_text(st, 1, user_key);
  } else if (tag) {
    st = Q(s, "UPDATE users SET policy = ?1 WHERE policy IS NOT ?1", err, n);
    if (!st) return wend(s, k, SX_ST_ERROR, err, n);
    bind_text(st, 1, stored);
  } else {
    st = Q(s, "UPDATE users SET policy = NULL WHERE policy IS NOT NULL", err, n);
    if (!st) return wend(s, k, SX_ST_ERROR, err, n);
  }
  if ((r = step_done(s, st, err, n, "policy grant"))) return wend(s, k, r, err, n);
  if (changed) *changed = sqlite3_changes(s->db);
  return wend(s, k, SX_ST_OK, err, n);
}

/* ---- users --------------------------------------------------------------------------- */

void sx_user_rec_free(sx_user_rec *u) {
  if (!u) return;
  free(u->key);
  free(u->site);
  free(u->policy);
  memset(u, 0, sizeof *u);
}

void sx_user_list_free(sx_user_rec *v, size_t count) {
  if (!v) return;
  for (size_t i = 0; i < count; i++) sx_user_rec_free(&v[i]);
  free(v);
}

static int user_from_row(sqlite3_stmt *st, sx_user_rec *u) {
  u->key = col_dup(st, 0);
  u->site = col_dup(st, 1);
  u->policy = col_dup(st, 2);
  if (!u->key || (sqlite3_column_type(st, 1) != SQLITE_NULL && !u->site) ||
      (sqlite3_column_type(st, 2) != SQLITE_NULL && !u->policy)) {
    sx_user_rec_free(u);
    return -1;
  }
  return 0;
}

static sx_st check_site(const char *site, char *err, size_t n) {
  if (!site || !*site) return SX_ST_OK;
  char msg[512], canon[256];
  char name[300];
  if (strlen(site) > 128)
    return fail(SX_ST_INVALID, err, n, "site name longer than 128 characters");
  snprintf(name, sizeof name, "site:%s", site);
  if (sx_policy_name_check(name, NULL, canon, sizeof canon, msg, sizeof msg))
    return fail(SX_ST_INVALID, err, n,
                "site '%s': only letters, digits, '_', '.' and '-' are allowed", site);
  return SX_ST_OK;
}

sx_st sx_store_user_get(sx_store *s, const char *key, sx_user_rec *out, char *err, size_t n) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = Q(s, "SELECT uri, site, policy FROM users WHERE uri = ?", err, n);
  if (!st) return SX_ST_ERROR;
  bind_text(st, 1, key);
  int rc = sqlite3_step(st);
  sx_st r;
  if (rc == SQLITE_ROW)
    r = user_from_row(st, out) ? fail(SX_ST_ERROR, err, n, "out of memory") : SX_ST_OK;
  else if (rc == SQLITE_DONE)
    r = fail(SX_ST_NOTFOUND, err, n, "no user %s in the store", key ? key : "");
  else
    r = dberr(s, err, n, "user show");
  sqlite3_reset(st);
  return r;
}

/* Writes one user row: mode 0 insert (EXISTS if present), 1 update given fields (NOTFOUND
 * if absent), 2 upsert both fields. */
static sx_st user_write(sx_store *s, int mode, const char *key, const char *site,
                        const char *policy, int *added, char *err, size_t n) {
  if (added) *added = 0;
  sx_st r = check_key(key, "user", err, n);
  if (r || (r = check_site(site, err, n))) return r;
  txkind k;
  if ((r = wbegin(s, &k, err, n))) return r;
  char stored[256] = "";
  if (policy && *policy && (r = tag_lookup(s, policy, stored, sizeof stored, err, n)))
    return wend(s, k, r, err, n);
  sx_user_rec cur;
  r = sx_store_user_get(s, key, &cur, err, n);
  if (r == SX_ST_ERROR) return wend(s, k, r, err, n);
  int exists = r == SX_ST_OK;
  if (exists && mode == 0) {
    sx_user_rec_free(&cur);
    return wend(s, k,
                fail(SX_ST_EXISTS, err, n, "user %s already exists; change it with: user set",
                     key),
                err, n);
  }
  if (!exists && mode == 1)
    return wend(s, k, fail(SX_ST_NOTFOUND, err, n, "no user %s; add it with: user add", key),
                err, n);
  const char *nsite = site, *npol = policy && *policy ? stored : policy;
  if (mode == 1) {
    if (!site) nsite = cur.site;
    if (!policy) npol = cur.policy;
  }
  if (nsite && !*nsite) nsite = NULL;
  if (npol && !*npol) npol = NULL;
  sqlite3_stmt *st = Q(s,
                       "INSERT INTO users(uri, site, policy) VALUES(?1, ?2, ?3) ON CONFLICT(uri)"
                       " DO UPDATE SET site = excluded.site, policy = excluded.policy",
                       err, n);
  if (st) {
    bind_text(st, 1, key);
    bind_text(st, 2, nsite);
    bind_text(st, 3, npol);
    r = step_done(s, st, err, n, "user write");
  } else {
    r = SX_ST_ERROR;
  }
  if (exists) sx_user_rec_free(&cur);
  if (r == SX_ST_OK && added) *added = !exists;
  return wend(s, k, r, err, n);
}

sx_st sx_store_user_add(sx_store *s, const char *key, const char *site, const char *policy,
                        char *err, size_t n) {
  return user_write(s, 0, key, site, policy, NULL, err, n);
}

sx_st sx_store_user_set(sx_store *s, const char *key, const char *site, const char *policy,
                        char *err, size_t n) {
  return user_write(s, 1, key, site, policy, NULL, err, n);
}

sx_st sx_store_user_put(sx_store *s, const char *key, const char *site, const char *policy,
                        int *added, char *err, size_t n) {
  return user_write(s, 2, key, site, policy, added, err, n);
}

sx_st sx_store_user_remove(sx_store *s, const char *key, char *err, size_t n) {
  txkind k;
  sx_st r = wbegin(s, &k, err, n);
  if (r) return r;
  sqlite3_stmt *st = Q(s, "DELETE FROM users WHERE uri = ?", err, n);
  if (!st) return wend(s, k, SX_ST_ERROR, err, n);
  bind_text(st, 1, key);
  if ((r = step_done(s, st, err, n, "user remove"))) return wend(s, k, r, err, n);
  if (sqlite3_changes(s->db) == 0)
    return wend(s, k, fail(SX_ST_NOTFOUND, err, n, "no user %s in the store", key), err, n);
  return wend(s, k, SX_ST_OK, err, n);
}

sx_st sx_store_user_list(sx_store *s, const char *site, const char *policy, sx_user_rec **out,
                         size_t *count, char *err, size_t n) {
  *out = NULL;
  *count = 0;
  sqlite3_stmt *st = Q(s,
                       "SELECT uri, site, policy FROM users WHERE (?1 IS NULL OR site = ?1)"
                       " AND (?2 IS NULL OR policy = ?2) ORDER BY uri",
                       err, n);
  if (!st) return SX_ST_ERROR;
  bind_text(st, 1, site);
  bind_text(st, 2, policy && strncasecmp(policy, "tag:", 4) == 0 ? policy + 4 : policy);
  sx_user_rec *v = NULL;
  size_t cnt = 0, cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 64;
      sx_user_rec *nv = realloc(v, nc * sizeof *v);
      if (!nv) goto nomem;
      v = nv;
      cap = nc;
    }
    memset(&v[cnt], 0, sizeof v[cnt]);
    if (user_from_row(st, &v[cnt])) goto nomem;
    cnt++;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    sx_user_list_free(v, cnt);
    return dberr(s, err, n, "user list");
  }
  *out = v;
  *count = cnt;
  return SX_ST_OK;
nomem:
  sqlite3_reset(st);
  sx_user_list_free(v, cnt);
  return fail(SX_ST_ERROR, err, n, "out of memory");
}

/* ---- partners ------------------------------------------------------------------------ */

int sx_partner_rec_init(sx_partner_rec *p, const char *domain) {
  memset(p, 0, sizeof *p);
  p->type = SX_PT_PUBLIC_UNVERIFIED;
  p->tls = SX_NEGO_REQUIRED;
  p->sasl = SX_NEGO_REQUIRED;
  p->dialback = 1;
  p->keepalive = 1;
  p->connection_limit = 0;
  p->domain = xstrdup(domain);
  p->description = strdup("");
  if ((domain && !p->domain) || !p->description) {
    sx_partner_rec_free(p);
    return -1;
  }
  return 0;
}

void sx_partner_rec_free(sx_partner_rec *p) {
  if (!p) return;
  free(p->domain);
  for (size_t i = 0; i < p->n_additional; i++) free(p->additional[i]);
  free(p->additional);
  free(p->description);
  free(p->proxy_fqdn);
  memset(p, 0, sizeof *p);
}

void sx_partner_list_free(sx_partner_rec *v, size_t count) {
  if (!v) return;
  for (size_t i = 0; i < count; i++) sx_partner_rec_free(&v[i]);
  free(v);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Normalised copies of a record's domains, checked. */
typedef struct {
  char primary[SX_JID_PART_MAX + 1];
  char **extra;
  size_t n_extra;
  char proxy[SX_JID_PART_MAX + 1];
} norm_t;

static void norm_free(norm_t *nm) {
  for (size_t i = 0; i < nm->n_extra; i++) free(nm->extra[i]);
  free(nm->extra);
}

static sx_st partner_check(const sx_partner_rec *p, norm_t *nm, char *warn, size_t wn,
                           char *err, size_t n) {
  char msg[512];
  memset(nm, 0, sizeof *nm);
  if (warn && wn) warn[0] = '\0';
  if (sx_domain_normalize(p->domain, nm->primary, sizeof nm->primary, msg, sizeof msg))
    return fail(SX_ST_INVALID, err, n, "partner domain: %s", msg);
  if ((unsigned)p->type > 2 || (unsigned)p->tls > 2 || (unsigned)p->sasl > 2)
    return fail(SX_ST_INVALID, err, n, "partner %s: unknown type or negotiation value",
                nm->primary);
  if (p->connection_limit < 0)
    return fail(SX_ST_INVALID, err, n,
                "partner %s: ConnectionLimit must be 0 (no limit) or a positive number",
                nm->primary);
  if (p->proxy_fqdn && *p->proxy_fqdn &&
      sx_domain_normalize(p->proxy_fqdn, nm->proxy, sizeof nm->proxy, msg, sizeof msg))
    return fail(SX_ST_INVALID, err, n, "partner %s: ProxyFqdn: %s", nm->primary, msg);
  int v = sx_partner_validate(p->tls, p->sasl, p->dialback, msg, sizeof msg);
  if (v < 0) return fail(SX_ST_INVALID, err, n, "partner %s: %s", nm->primary, msg);
  if (v > 0 && warn) seterr(warn, wn, "partner %s: %s", nm->primary, msg);
  if (p->n_additional) {
    nm->extra = calloc(p->n_additional, sizeof(char *));
    if (!nm->extra) return fail(SX_ST_ERROR, err, n, "out of memory");
  }
  for (size_t i = 0; i < p->n_additional; i++) {
    char buf[SX_JID_PART_MAX + 1];
    if (sx_domain_normalize(p->additional[i], buf, sizeof buf, msg, sizeof msg)) {
      norm_free(nm);
      return fail(SX_ST_INVALID, err, n, "partner %s: additional domain: %s", nm->primary, msg);
    }
    if (strcmp(buf, nm->primary) == 0) {
      norm_free(nm);
      return fail(SX_ST_INVALID, err, n,
                  "partner %s: the primary domain cannot also be an additional domain",
                  nm->primary);
    }
    if (!(nm->extra[i] = strdup(buf))) {
      norm_free(nm);
      return fail(SX_ST_ERROR, err, n, "out of memory");
    }
    nm->n_extra++;
  }
  if (nm->n_extra > 1) qsort(nm->extra, nm->n_extra, sizeof(char *), cmp_str);
  for (size_t i = 1; i < nm->n_extra; i++)
    if (strcmp(nm->extra[i - 1], nm->extra[i]) == 0) {
      sx_st r = fail(SX_ST_INVALID, err, n, "partner %s: additional domain %s listed twice",
                     nm->primary, nm->extra[i]);
      norm_free(nm);
      return r;
    }
  return SX_ST_OK;
}

/* The primary domain of the partner owning `domain` (primary or additional) into owner, and
 * whether it is the primary. NOTFOUND if none. */
static sx_st domain_owner(sx_store *s, const char *domain, char *owner, size_t on,
                          int *is_primary, char *err, size_t n) {
  sqlite3_stmt *st = Q(s,
                       "SELECT domain, 1 FROM partners WHERE domain = ?1 UNION ALL"
                       " SELECT partner, 0 FROM partner_domains WHERE domain = ?1",
                       err, n);
  if (!st) return SX_ST_ERROR;
  bind_text(st, 1, domain);
  int rc = sqlite3_step(st);
  sx_st r;
  if (rc == SQLITE_ROW) {
    snprintf(owner, on, "%s", COLS(st, 0));
    if (is_primary) *is_primary = sqlite3_column_int(st, 1);
    r = SX_ST_OK;
  } else if (rc == SQLITE_DONE) {
    r = SX_ST_NOTFOUND;
  } else {
    r = dberr(s, err, n, "partner lookup");
  }
  sqlite3_reset(st);
  return r;
}

static sx_st partner_write(sx_store *s, int create, const sx_partner_rec *p, char *warn,
                           size_t wn, char *err, size_t n) {
  norm_t nm;
  sx_st r = partner_check(p, &nm, warn, wn, err, n);
  if (r) return r;
  txkind k;
  if ((r = wbegin(s, &k, err, n))) {
    norm_free(&nm);
    return r;
  }
  char owner[SX_JID_PART_MAX + 1];
  int prim = 0;
  r = domain_owner(s, nm.primary, owner, sizeof owner, &prim, err, n);
  if (r == SX_ST_ERROR) goto done;
  if (r == SX_ST_OK && !prim) {
    r = fail(SX_ST_INVALID, err, n,
             "%s is already an additional domain of partner %s; remove it there first "
             "(partner set %s --remove-domain %s)",
             nm.primary, owner, owner, nm.primary);
    goto done;
  }
  if (create && r == SX_ST_OK) {
    r = fail(SX_ST_EXISTS, err, n, "partner %s already exists; change it with: partner set",
             nm.primary);
    goto done;
  }
  if (!create && r == SX_ST_NOTFOUND) {
    r = fail(SX_ST_NOTFOUND, err, n, "no partner %s; create it with: partner new %s",
             nm.primary, nm.primary);
    goto done;
  }
  for (size_t i = 0; i < nm.n_extra; i++) {
    r = domain_owner(s, nm.extra[i], owner, sizeof owner, &prim, err, n);
    if (r == SX_ST_ERROR) goto done;
    if (r == SX_ST_OK && strcmp(owner, nm.primary) != 0) {
      r = fail(SX_ST_INVALID, err, n, "%s already belongs to partner %s (as its %s domain)",
               nm.extra[i], owner, prim ? "primary" : "additional");
      goto done;
    }
  }
  sqlite3_stmt *st = Q(s,
                       "INSERT INTO partners(domain, description, type, tls, sasl, dialback,"
                       " keepalive, connection_limit, proxy_fqdn) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)"
                       " ON CONFLICT(domain) DO UPDATE SET description = excluded.description,"
                       " type = excluded.type, tls = excluded.tls, sasl = excluded.sasl,"
                       " dialback = excluded.dialback, keepalive = excluded.keepalive,"
                       " connection_limit = excluded.connection_limit,"
                       " proxy_fqdn = excluded.proxy_fqdn",
                       err, n);
  if (!st) {
    r = SX_ST_ERROR;
    goto done;
  }
  bind_text(st, 1, nm.primary);
  bind_text(st, 2, p->description ? p->description : "");
  bind_text(st, 3, sx_ptype_name(p->type));
  bind_text(st, 4, sx_nego_name(p->tls));
  bind_text(st, 5, sx_nego_name(p->sasl));
  sqlite3_bind_int(st, 6, !!p->dialback);
  sqlite3_bind_int(st, 7, !!p->keepalive);
  sqlite3_bind_int64(st, 8, p->connection_limit);
  bind_text(st, 9, nm.proxy[0] ? nm.proxy : NULL);
  if ((r = step_done(s, st, err, n, "partner write"))) goto done;
  if (!(st = Q(s, "DELETE FROM partner_domains WHERE partner = ?", err, n))) {
    r = SX_ST_ERROR;
    goto done;
  }
  bind_text(st, 1, nm.primary);
  if ((r = step_done(s, st, err, n, "partner write"))) goto done;
  for (size_t i = 0; i < nm.n_extra; i++) {
    if (!(st = Q(s, "INSERT INTO partner_domains(domain, partner) VALUES(?, ?)", err, n))) {
      r = SX_ST_ERROR;
      goto done;
    }
    bind_text(st, 1, nm.extra[i]);
    bind_text(st, 2, nm.primary);
    if ((r = step_done(s, st, err, n, "partner write"))) goto done;
  }
  r = SX_ST_OK;
done:
  norm_free(&nm);
  return wend(s, k, r, err, n);
}

sx_st sx_store_partner_new(sx_store *s, const sx_partner_rec *p, char *warn, size_t wn,
                           char *err, size_t n) {
  return partner_write(s, 1, p, warn, wn, err, n);
}

sx_st sx_store_partner_update(sx_store *s, const sx_partner_rec *p, char *warn, size_t wn,
                              char *err, size_t n) {
  return partner_write(s, 0, p, warn, wn, err, n);
}

static sx_st partner_fill(sx_store *s, sqlite3_stmt *row, sx_partner_rec *p, char *err,
                          size_t n) {
  memset(p, 0, sizeof *p);
  p->domain = col_dup(row, 0);
  p->description = col_dup(row, 1);
  if (!p->description) p->description = strdup("");
  p->type = ptype_of(COLS(row, 2));
  p->tls = nego_of(COLS(row, 3));
  p->sasl = nego_of(COLS(row, 4));
  p->dialback = sqlite3_column_int(row, 5);
  p->keepalive = sqlite3_column_int(row, 6);
  p->connection_limit = (long)sqlite3_column_int64(row, 7);
  p->proxy_fqdn = col_dup(row, 8);
  if (!p->domain || !p->description) {
    sx_partner_rec_free(p);
    return fail(SX_ST_ERROR, err, n, "out of memory");
  }
  sqlite3_stmt *st =
      Q(s, "SELECT domain FROM partner_domains WHERE partner = ? ORDER BY domain", err, n);
  if (!st) {
    sx_partner_rec_free(p);
    return SX_ST_ERROR;
  }
  bind_text(st, 1, p->domain);
  size_t cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (p->n_additional == cap) {
      size_t nc = cap ? cap * 2 : 4;
      char **nv = realloc(p->additional, nc * sizeof(char *));
      if (!nv) goto nomem;
      p->additional = nv;
      cap = nc;
    }
    if (!(p->additional[p->n_additional] = col_dup(st, 0))) goto nomem;
    p->n_additional++;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    sx_partner_rec_free(p);
    return dberr(s, err, n, "partner domains");
  }
  return SX_ST_OK;
nomem:
  sqlite3_reset(st);
  sx_partner_rec_free(p);
  return fail(SX_ST_ERROR, err, n, "out of memory");
}

#define PARTNER_COLS \
  "domain, description, type, tls, sasl, dialback, keepalive, connection_limit, proxy_fqdn"

sx_st sx_store_partner_get(sx_store *s, const char *domain, sx_partner_rec *out, char *err,
                           size_t n) {
  memset(out, 0, sizeof *out);
  char nd[SX_JID_PART_MAX + 1], msg[512], owner[SX_JID_PART_MAX + 1];
  if (sx_domain_normalize(domain, nd, sizeof nd, msg, sizeof msg))
    return fail(SX_ST_INVALID, err, n, "%s", msg);
  sx_st r = domain_owner(s, nd, owner, sizeof owner, NULL, err, n);
  if (r == SX_ST_NOTFOUND)
    return fail(r, err, n, "%s is not an XMPP partner (see: partner list)", nd);
  if (r) return r;
  sqlite3_stmt *st = Q(s, "SELECT " PARTNER_COLS " FROM partners WHERE domain = ?", err, n);
  if (!st) return SX_ST_ERROR;
  bind_text(st, 1, owner);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? fail(SX_ST_NOTFOUND, err, n, "%s is not an XMPP partner", nd)
                             : dberr(s, err, n, "partner show");
  }
  /* partner_fill uses another statement; this row stays valid until reset */
  r = partner_fill(s, st, out, err, n);
  sqlite3_reset(st);
  return r;
}

sx_st sx_store_partner_list(sx_store *s, sx_partner_rec **out, size_t *count, char *err,
                            size_t n) {
  *out = NULL;
  *count = 0;
  sqlite3_stmt *st = Q(s, "SELECT " PARTNER_COLS " FROM partners ORDER BY domain", err, n);
  if (!st) return SX_ST_ERROR;
  sx_partner_rec *v = NULL;
  size_t cnt = 0, cap = 0;
  int rc;
  sx_st r = SX_ST_OK;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 16;
      sx_partner_rec *nv = realloc(v, nc * sizeof *v);
      if (!nv) {
        r = fail(SX_ST_ERROR, err, n, "out of memory");
        break;
      }
      v = nv;
      cap = nc;
    }
    if ((r = partner_fill(s, st, &v[cnt], err, n))) break;
    cnt++;
  }
  sqlite3_reset(st);
  if (r == SX_ST_OK && rc != SQLITE_DONE) r = dberr(s, err, n, "partner list");
  if (r) {
    sx_partner_list_free(v, cnt);
    return r;
  }
  *out = v;
  *count = cnt;
  return SX_ST_OK;
}

sx_st sx_store_partner_remove(sx_store *s, const char *domain, char *err, size_t n) {
  char nd[SX_JID_PART_MAX + 1], msg[512], owner[SX_JID_PART_MAX + 1];
  if (sx_domain_normalize(domain, nd, sizeof nd, msg, sizeof msg))
    return fail(SX_ST_INVALID, err, n, "%s", msg);
  txkind k;
  sx_st r = wbegin(s, &k, err, n);
  if (r) return r;
  int prim = 0;
  r = domain_owner(s, nd, owner, sizeof owner, &prim, err, n);
  if (r == SX_ST_NOTFOUND)
    fail(r, err, n, "%s is not an XMPP partner (see: partner list)", nd);
  else if (r == SX_ST_OK && !prim)
    r = fail(SX_ST_INVALID, err, n,
             "%s is an additional domain of partner %s; remove it with: partner set %s "
             "--remove-domain %s (or remove the partner %s)",
             nd, owner, owner, nd, owner);
  if (r) return wend(s, k, r, err, n);
  sqlite3_stmt *st = Q(s, "DELETE FROM partners WHERE domain = ?", err, n);
  if (!st) return wend(s, k, SX_ST_ERROR, err, n);
  bind_text(st, 1, nd);
  return wend(s, k, step_done(s, st, err, n, "partner remove"), err, n);
}

/* ---- contacts ------------------------------------------------------------------------ */

static const char *const SUB_OUT[] = {"none", "pending", "subscribed"};
static const char *const SUB_IN[] = {"none", "pending", "approved"};

static sx_sub sub_of(const char *t) {
  if (!t || strcmp(t, "none") == 0) return SX_SUB_NONE;
  if (strcmp(t, "pending") == 0) return SX_SUB_PENDING;
  return SX_SUB_YES;
}

void sx_contact_rec_free(sx_contact_rec *c) {
  if (!c) return;
  free(c->user);
  free(c->contact);
  memset(c, 0, sizeof *c);
}

void sx_contact_list_free(sx_contact_rec *v, size_t count) {
  if (!v) return;
  for (size_t i = 0; i < count; i++) sx_contact_rec_free(&v[i]);
  free(v);
}

const char *sx_contact_rec_state(const sx_contact_rec *c) {
  if (c->added) return "added";
  if (c->sub_in == SX_SUB_PENDING) return "pending_in";
  if (c->sub_in == SX_SUB_YES) return "approved_in";
  return "none";
}

static int contact_from_row(sqlite3_stmt *st, sx_contact_rec *c) {
  memset(c, 0, sizeof *c);
  c->user = col_dup(st, 0);
  c->contact = col_dup(st, 1);
  c->added = sqlite3_column_int(st, 2);
  c->sub_out = sub_of(COLS(st, 3));
  c->sub_in = sub_of(COLS(st, 4));
  c->updated = sqlite3_column_int64(st, 5);
  if (!c->user || !c->contact) {
    sx_contact_rec_free(c);
    return -1;
  }
  return 0;
}

#define CONTACT_COLS "user, contact, added, sub_out, sub_in, updated"

sx_st sx_store_contact_get(sx_store *s, const char *user, const char *contact,
                           sx_contact_rec *out, char *err, size_t n) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st =
      Q(s, "SELECT " CONTACT_COLS " FROM contacts WHERE user = ? AND contact = ?", err, n);
  if (!st) return SX_ST_ERROR;
  bind_text(st, 1, user);
  bind_text(st, 2, contact);
  int rc = sqlite3_step(st);
  sx_st r;
  if (rc == SQLITE_ROW)
    r = contact_from_row(st, out) ? fail(SX_ST_ERROR, err, n, "out of memory") : SX_ST_OK;
  else if (rc == SQLITE_DONE)
    r = fail(SX_ST_NOTFOUND, err, n, "%s has no contact entry for %s", user ? user : "",
             contact ? contact : "");
  else
    r = dberr(s, err, n, "contact show");
  sqlite3_reset(st);
  return r;
}

sx_st sx_store_contact_add(sx_store *s, const char *user, const char *contact,
                           int *approved_pending, char *err, size_t n) {
  if (approved_pending) *approved_pending = 0;
  sx_st r = check_key(user, "user", err, n);
  if (r || (r = check_key(contact, "contact", err, n))) return r;
  txkind k;
  if ((r = wbegin(s, &k, err, n))) return r;
  sx_contact_rec cur;
  r = sx_store_contact_get(s, user, contact, &cur, err, n);
  if (r == SX_ST_ERROR) return wend(s, k, r, err, n);
  int was_pending = r == SX_ST_OK && cur.sub_in == SX_SUB_PENDING;
  if (r == SX_ST_OK) sx_contact_rec_free(&cur);
  sqlite3_stmt *st = Q(s,
                       "INSERT INTO contacts(user, contact, added, updated) VALUES(?1, ?2, 1, ?3)"
                       " ON CONFLICT(user, contact) DO UPDATE SET added = 1,"
                       " sub_in = CASE sub_in WHEN 'pending' THEN 'approved' ELSE sub_in END,"
                       " updated = excluded.updated",
                       err, n);
  if (!st) return wend(s, k, SX_ST_ERROR, err, n);
  bind_text(st, 1, user);
  bind_text(st, 2, contact);
  sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
  r = step_done(s, st, err, n, "contact add");
  if (r == SX_ST_OK && approved_pending) *approved_pending = was_pending;
  return wend(s, k, r, err, n);
}

sx_st sx_store_contact_remove(sx_store *s, const char *user, const char *contact, char *err,
                              size_t n) {
  txkind k;
  sx_st r = wbegin(s, &k, err, n);
  if (r) return r;
  sqlite3_stmt *st = Q(s, "DELETE FROM contacts WHERE user = ? AND contact = ?", err, n);
  if (!st) return wend(s, k, SX_ST_ERROR, err, n);
  bind_text(st, 1, user);
  bind_text(st, 2, contact);
  if ((r = step_done(s, st, err, n, "contact remove"))) return wend(s, k, r, err, n);
  if (sqlite3_changes(s->db) == 0)
    r = fail(SX_ST_NOTFOUND, err, n, "%s has no contact entry for %s", user ? user : "",
             contact ? contact : "");
  return wend(s, k, r, err, n);
}

sx_st sx_store_contact_set_sub(sx_store *s, const char *user, const char *contact,
                               int outbound, sx_sub state, char *err, size_t n) {
  sx_st r = check_key(user, "user", err, n);
  if (r || (r = check_key(contact, "contact", err, n))) return r;
  if ((unsigned)state > 2) return fail(SX_ST_INVALID, err, n, "unknown subscription state");
  txkind k;
  if ((r = wbegin(s, &k, err, n))) return r;
  sqlite3_stmt *st =
      outbound ? Q(s,
                   "INSERT INTO contacts(user, contact, sub_out, updated) VALUES(?1, ?2, ?3, ?4)"
                   " ON CONFLICT(user, contact) DO UPDATE SET sub_out = excluded.sub_out,"
                   " updated = excluded.updated",
                   err, n)
               : Q(s,
                   "INSERT INTO contacts(user, contact, sub_in, updated) VALUES(?1, ?2, ?3, ?4)"
                   " ON CONFLICT(user, contact) DO UPDATE SET sub_in = excluded.sub_in,"
                   " updated = excluded.updated",
                   err, n);
  if (!st) return wend(s, k, SX_ST_ERROR, err, n);
  bind_text(st, 1, user);
  bind_text(st, 2, contact);
  bind_text(st, 3, outbound ? SUB_OUT[state] : SUB_IN[state]);
  sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
  if ((r = step_done(s, st, err, n, "contact state"))) return wend(s, k, r, err, n);
  st = Q(s,
         "DELETE FROM contacts WHERE user = ? AND contact = ? AND added = 0"
         " AND sub_out = 'none' AND sub_in = 'none'",
         err, n);
  if (!st) return wend(s, k, SX_ST_ERROR, err, n);
  bind_text(st, 1, user);
  bind_text(st, 2, contact);
  return wend(s, k, step_done(s, st, err, n, "contact state"), err, n);
}

sx_st sx_store_contact_list(sx_store *s, const char *user, sx_contact_rec **out,
                            size_t *count, char *err, size_t n) {
  *out = NULL;
  *count = 0;
  sqlite3_stmt *st = Q(s,
                       "SELECT " CONTACT_COLS " FROM contacts WHERE ?1 IS NULL OR user = ?1"
                       " ORDER BY user, contact",
                       err, n);
  if (!st) return SX_ST_ERROR;
  bind_text(st, 1, user);
  sx_contact_rec *v = NULL;
  size_t cnt = 0, cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 16;
      sx_contact_rec *nv = realloc(v, nc * sizeof *v);
      if (!nv) goto nomem;
      v = nv;
      cap = nc;
    }
    if (contact_from_row(st, &v[cnt])) goto nomem;
    cnt++;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    sx_contact_list_free(v, cnt);
    return dberr(s, err, n, "contact list");
  }
  *out = v;
  *count = cnt;
  return SX_ST_OK;
nomem:
  sqlite3_reset(st);
  sx_contact_list_free(v, cnt);
  return fail(SX_ST_ERROR, err, n, "out of memory");
}
