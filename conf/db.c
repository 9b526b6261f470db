/* The store's statement layer over SQLite and PostgreSQL (see db.h). */
#include "conf/db.h"

#include <ctype.h>
#include <errno.h>
#include <strings.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_TEXT_OID 25
#define PG_INT8_OID 20
/* Any constant: the key of the advisory lock that serialises the store's writers. */
#define PG_WRITE_LOCK 0x73697078LL

struct sx_db {
  sx_dbkind kind;
  sqlite3 *lite;
  PGconn *pg;
  char err[512];
  sx_dberr errclass;
  long changes;
};

struct sx_dbq {
  sx_db *db;
  sqlite3_stmt *lite;
  /* PostgreSQL */
  char *sql;
  int nparams;
  char *vals[SXDB_MAX_PARAMS];
  Oid types[SXDB_MAX_PARAMS];
  PGresult *res;
  int row, nrows, ran;
};

static void set_err(sx_db *db, sx_dberr cls, const char *msg) {
  snprintf(db->err, sizeof db->err, "%s", msg ? msg : "unknown error");
  size_t l = strlen(db->err);
  while (l && (db->err[l - 1] == '\n' || db->err[l - 1] == ' ')) db->err[--l] = '\0';
  for (size_t i = 0; i < l; i++) /* PostgreSQL's messages have several lines: keep one */
    if (db->err[i] == '\n') db->err[i] = ' ';
  db->errclass = cls;
}

static void lite_err(sx_db *db) {
  int c = sqlite3_errcode(db->lite);
  sx_dberr cls = c == SQLITE_BUSY || c == SQLITE_LOCKED ? SXDB_E_BUSY
                 : c == SQLITE_READONLY                 ? SXDB_E_READONLY
                 : c == SQLITE_FULL                     ? SXDB_E_FULL
                                                        : SXDB_E_OTHER;
  set_err(db, cls, sqlite3_errmsg(db->lite));
}

static void pg_err(sx_db *db, const PGresult *r) {
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  sx_dberr cls = SXDB_E_OTHER;
  if (state && (strncmp(state, "40", 2) == 0 || strcmp(state, "55P03") == 0)) cls = SXDB_E_BUSY;
  if (state && strcmp(state, "25006") == 0) cls = SXDB_E_READONLY;
  if (state && strncmp(state, "53", 2) == 0) cls = SXDB_E_FULL;
  const char *m = r ? PQresultErrorMessage(r) : NULL;
  set_err(db, cls, m && *m ? m : PQerrorMessage(db->pg));
}

int sxdb_is_pg(const char *t) {
  return t && (strncmp(t, "postgresql://", 13) == 0 || strncmp(t, "postgres://", 11) == 0);
}

char *sxdb_display(const char *t) {
  if (!sxdb_is_pg(t)) return strdup(t);
  const char *scheme_end = strstr(t, "://") + 3;
  const char *at = strchr(scheme_end, '@');
  const char *slash = strchr(scheme_end, '/');
  const char *colon = strchr(scheme_end, ':');
  if (!at || (slash && at > slash) || !colon || colon > at) return strdup(t);
  size_t head = (size_t)(colon - t);
  size_t len = head + strlen(":***") + strlen(at) + 1;
  char *o = malloc(len);
  if (o) snprintf(o, len, "%.*s:***%s", (int)head, t, at);
  return o;
}

static int open_lite(sx_db *db, const char *path, char *err, size_t n) {
  if (sqlite3_open_v2(path, &db->lite, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
      SQLITE_OK) {
    snprintf(err, n, "%s (does the directory exist and is it writable?)",
             db->lite ? sqlite3_errmsg(db->lite) : "out of memory");
    return -1;
  }
  sqlite3_extended_result_codes(db->lite, 0);
  sqlite3_busy_timeout(db->lite, 5000);
  /* journal_mode returns the resulting mode: "wal", or "memory" for ":memory:" */
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db->lite, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
      sqlite3_step(st) != SQLITE_ROW) {
    snprintf(err, n, "%s", sqlite3_errmsg(db->lite));
    sqlite3_finalize(st);
    return -1;
  }
  const char *mode = (const char *)sqlite3_column_text(st, 0);
  int ok = mode && (strcasecmp(mode, "wal") == 0 || strcasecmp(mode, "memory") == 0);
  if (!ok) snprintf(err, n, "cannot switch to WAL mode (journal mode is %s)", mode ? mode : "?");
  sqlite3_finalize(st);
  if (!ok) return -1;
  if (sqlite3_exec(db->lite, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;", NULL, NULL,
                   NULL) != SQLITE_OK) {
    snprintf(err, n, "%s", sqlite3_errmsg(db->lite));
    return -1;
  }
  return 0;
}

static void pg_notice(void *arg, const char *msg) {
  (void)arg;
  (void)msg; /* NOTICEs (e.g. "relation exists, skipping") are not errors */
}

static int open_pg(sx_db *db, const char *uri, char *err, size_t n) {
  /* Defaults that bound how long a vanished server can stall a caller; later keys
   * override the URI's, so each is added only when the URI does not set it. */
  static const char *const defaults[][2] = {
      {"connect_timeout", "5"}, {"keepalives_idle", "10"}, {"keepalives_interval", "2"},
      {"keepalives_count", "3"}, {"tcp_user_timeout", "10000"}};
  const char *keys[7] = {"dbname"}, *vals[7] = {uri};
  size_t k = 1;
  for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
    char probe[40];
    snprintf(probe, sizeof probe, "%s=", defaults[i][0]);
    if (strstr(uri, probe)) continue;
    keys[k] = defaults[i][0];
    vals[k++] = defaults[i][1];
  }
  keys[k] = vals[k] = NULL;
  db->pg = PQconnectdbParams(keys, vals, 1);
  if (!db->pg || PQstatus(db->pg) != CONNECTION_OK) {
    snprintf(err, n, "%s", db->pg ? PQerrorMessage(db->pg) : "out of memory");
    size_t l = strlen(err);
    while (l && (err[l - 1] == '\n' || err[l - 1] == ' ')) err[--l] = '\0';
    for (size_t i = 0; i < l; i++) /* libpq's message has several lines: keep one */
      if (err[i] == '\n' || err[i] == '\t') err[i] = ' ';
    return -1;
  }
  PQsetNoticeProcessor(db->pg, pg_notice, NULL);
  return 0;
}

int sxdb_open(const char *target, sx_db **out, char *err, size_t n) {
  *out = NULL;
  sx_db *db = calloc(1, sizeof *db);
  if (!db) {
    snprintf(err, n, "out of memory");
    return -1;
  }
  db->kind = sxdb_is_pg(target) ? SXDB_PG : SXDB_SQLITE;
  int r = db->kind == SXDB_PG ? open_pg(db, target, err, n) : open_lite(db, target, err, n);
  if (r) {
    sxdb_close(db);
    return -1;
  }
  *out = db;
  return 0;
}

int sxdb_open_readonly(const char *target, sx_db **out, char *err, size_t n) {
  if (sxdb_is_pg(target)) return sxdb_open(target, out, err, n);
  *out = NULL;
  sx_db *db = calloc(1, sizeof *db);
  if (!db) {
    snprintf(err, n, "out of memory");
    return -1;
  }
  db->kind = SXDB_SQLITE;
  if (sqlite3_open_v2(target, &db->lite, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    snprintf(err, n, "%s", db->lite ? sqlite3_errmsg(db->lite) : "cannot open");
    sxdb_close(db);
    return -1;
  }
  sqlite3_extended_result_codes(db->lite, 0);
  sqlite3_busy_timeout(db->lite, 2000);
  *out = db;
  return 0;
}

void sxdb_close(sx_db *db) {
  if (!db) return;
  if (db->lite) sqlite3_close(db->lite);
  if (db->pg) PQfinish(db->pg);
  free(db);
}

sx_dbkind sxdb_kind(const sx_db *db) { return db->kind; }
const char *sxdb_errmsg(sx_db *db) { return db->err; }
sx_dberr sxdb_errclass(sx_db *db) { return db->errclass; }
long sxdb_changes(sx_db *db) { return db->changes; }

/* A connection the server dropped (restart, failover) is re-opened before the next
 * statement; the statement that saw the failure has already returned its error. */
static void pg_ensure(sx_db *db) {
  if (PQstatus(db->pg) == CONNECTION_BAD) PQreset(db->pg);
}

int sxdb_exec(sx_db *db, const char *sql) {
  if (db->kind == SXDB_SQLITE) {
    char *emsg = NULL;
    if (sqlite3_exec(db->lite, sql, NULL, NULL, &emsg) != SQLITE_OK) {
      lite_err(db);
      if (emsg) set_err(db, db->errclass, emsg);
      sqlite3_free(emsg);
      return -1;
    }
    return 0;
  }
  pg_ensure(db);
  PGresult *r = PQexec(db->pg, sql);
  ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  int ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
  if (!ok) pg_err(db, r);
  PQclear(r);
  return ok ? 0 : -1;
}

int sxdb_in_tx(sx_db *db) {
  if (db->kind == SXDB_SQLITE) return !sqlite3_get_autocommit(db->lite);
  return PQtransactionStatus(db->pg) != PQTRANS_IDLE;
}

int sxdb_begin_write(sx_db *db) {
  if (db->kind == SXDB_SQLITE) return sxdb_exec(db, "BEGIN IMMEDIATE");
  char sql[96];
  snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld)", PG_WRITE_LOCK);
  if (sxdb_exec(db, sql) == 0) return 0;
  if (sxdb_in_tx(db)) (void)PQclear(PQexec(db->pg, "ROLLBACK"));
  return -1;
}

int sxdb_begin_read(sx_db *db) {
  return sxdb_exec(db, db->kind == SXDB_SQLITE ? "BEGIN"
                                               : "BEGIN ISOLATION LEVEL REPEATABLE READ");
}

/* ---- notifications -------------------------------------------------------------------- */

static int channel_ok(const char *c) {
  size_t n = c ? strlen(c) : 0;
  if (n == 0 || n > 63) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= '0' && c[i] <= '9') || c[i] == '_'))
      return 0;
  return 1;
}

int sxdb_listen(sx_db *db, const char *channel) {
  if (!channel_ok(channel)) {
    set_err(db, SXDB_E_OTHER, "bad notification channel name");
    return -1;
  }
  if (db->kind == SXDB_SQLITE) return 0;
  char sql[80];
  snprintf(sql, sizeof sql, "LISTEN %s", channel); /* checked: [a-z0-9_] only */
  return sxdb_exec(db, sql);
}

int sxdb_notify(sx_db *db, const char *channel, const char *payload) {
  if (!channel_ok(channel) || (payload && strlen(payload) > 7999)) {
    set_err(db, SXDB_E_OTHER, "bad notification channel name or payload over 7999 bytes");
    return -1;
  }
  if (db->kind == SXDB_SQLITE) return 0;
  const char *vals[2] = {channel, payload ? payload : ""};
  pg_ensure(db);
  PGresult *r = PQexecParams(db->pg, "SELECT pg_notify($1, $2)", 2, NULL, vals, NULL, NULL, 0);
  int ok = r && PQresultStatus(r) == PGRES_TUPLES_OK;
  if (!ok) pg_err(db, r);
  PQclear(r);
  return ok ? 0 : -1;
}

int sxdb_socket(sx_db *db) { return db->kind == SXDB_PG ? PQsocket(db->pg) : -1; }

int sxdb_next_notice(sx_db *db, char **channel, char **payload) {
  *channel = *payload = NULL;
  if (db->kind == SXDB_SQLITE) return 0;
  if (!PQconsumeInput(db->pg)) {
    pg_err(db, NULL);
    return -1;
  }
  PGnotify *nf = PQnotifies(db->pg);
  if (!nf) return 0;
  *channel = strdup(nf->relname);
  *payload = strdup(nf->extra ? nf->extra : "");
  PQfreemem(nf);
  if (!*channel || !*payload) {
    free(*channel);
    free(*payload);
    *channel = *payload = NULL;
    return -1;
  }
  return 1;
}

/* ---- statements ---------------------------------------------------------------------- */

/* `?N` → `$N`, `?` → `$k` (k counting), outside quoted strings and identifiers; counts
 * the parameters. NULL on ENOMEM or too many parameters. */
static char *pg_sql(const char *sql, int *nparams) {
  size_t len = strlen(sql);
  char *o = malloc(len * 2 + 8);
  if (!o) return NULL;
  size_t j = 0;
  int k = 0, maxp = 0;
  char quote = 0;
  for (size_t i = 0; i < len; i++) {
    char c = sql[i];
    if (quote) {
      if (c == quote) quote = 0;
      o[j++] = c;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      o[j++] = c;
      continue;
    }
    if (c != '?') {
      o[j++] = c;
      continue;
    }
    int num;
    if (isdigit((unsigned char)sql[i + 1])) {
      num = 0;
      while (isdigit((unsigned char)sql[i + 1]) && num < 1000) num = num * 10 + (sql[++i] - '0');
    } else {
      num = ++k;
    }
    if (num > maxp) maxp = num;
    j += (size_t)sprintf(o + j, "$%d", num);
  }
  o[j] = '\0';
  if (maxp > SXDB_MAX_PARAMS) {
    free(o);
    return NULL;
  }
  *nparams = maxp;
  return o;
}

sx_dbq *sxdb_prepare(sx_db *db, const char *sql) {
  sx_dbq *q = calloc(1, sizeof *q);
  if (!q) {
    set_err(db, SXDB_E_OTHER, "out of memory");
    return NULL;
  }
  q->db = db;
  if (db->kind == SXDB_SQLITE) {
    if (sqlite3_prepare_v3(db->lite, sql, -1, SQLITE_PREPARE_PERSISTENT, &q->lite, NULL) !=
        SQLITE_OK) {
      lite_err(db);
      free(q);
      return NULL;
    }
    return q;
  }
  if (!(q->sql = pg_sql(sql, &q->nparams))) {
    set_err(db, SXDB_E_OTHER, "out of memory or too many parameters");
    free(q);
    return NULL;
  }
  for (int i = 0; i < SXDB_MAX_PARAMS; i++) q->types[i] = PG_TEXT_OID;
  return q;
}

void sxdb_reset(sx_dbq *q) {
  if (q->lite) {
    sqlite3_reset(q->lite);
    sqlite3_clear_bindings(q->lite);
    return;
  }
  PQclear(q->res);
  q->res = NULL;
  q->ran = q->row = q->nrows = 0;
  for (int i = 0; i < SXDB_MAX_PARAMS; i++) {
    free(q->vals[i]);
    q->vals[i] = NULL;
    q->types[i] = PG_TEXT_OID;
  }
}

void sxdb_finalize(sx_dbq *q) {
  if (!q) return;
  if (q->lite) {
    sqlite3_finalize(q->lite);
  } else {
    sxdb_reset(q);
    free(q->sql);
  }
  free(q);
}

void sxdb_bind_text(sx_dbq *q, int i, const char *v) {
  if (q->lite) {
    if (v)
      sqlite3_bind_text(q->lite, i, v, -1, SQLITE_TRANSIENT);
    else
      sqlite3_bind_null(q->lite, i);
    return;
  }
  if (i < 1 || i > SXDB_MAX_PARAMS) return;
  free(q->vals[i - 1]);
  q->vals[i - 1] = v ? strdup(v) : NULL; /* ENOMEM binds NULL; NOT NULL columns refuse it */
  q->types[i - 1] = PG_TEXT_OID;
}

void sxdb_bind_int64(sx_dbq *q, int i, int64_t v) {
  if (q->lite) {
    sqlite3_bind_int64(q->lite, i, v);
    return;
  }
  if (i < 1 || i > SXDB_MAX_PARAMS) return;
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRId64, v);
  free(q->vals[i - 1]);
  q->vals[i - 1] = strdup(buf);
  q->types[i - 1] = PG_INT8_OID;
}

int sxdb_step(sx_dbq *q) {
  sx_db *db = q->db;
  if (q->lite) {
    int rc = sqlite3_step(q->lite);
    if (rc == SQLITE_ROW) return SXDB_ROW;
    if (rc == SQLITE_DONE) {
      db->changes = sqlite3_changes(db->lite);
      return SXDB_DONE;
    }
    lite_err(db);
    return SXDB_ERR;
  }
  if (!q->ran) {
    q->ran = 1;
    pg_ensure(db);
    q->res = PQexecParams(db->pg, q->sql, q->nparams, q->types, (const char *const *)q->vals,
                          NULL, NULL, 0);
    ExecStatusType s = q->res ? PQresultStatus(q->res) : PGRES_FATAL_ERROR;
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
      pg_err(db, q->res);
      PQclear(q->res);
      q->res = NULL;
      q->nrows = 0;
      return SXDB_ERR;
    }
    q->nrows = PQntuples(q->res);
    q->row = -1;
    const char *ct = PQcmdTuples(q->res);
    db->changes = ct && *ct ? strtol(ct, NULL, 10) : 0;
  }
  if (!q->res) return SXDB_ERR;
  if (q->row + 1 < q->nrows) {
    q->row++;
    return SXDB_ROW;
  }
  q->row = q->nrows;
  return SXDB_DONE;
}

int sxdb_isnull(sx_dbq *q, int i) {
  if (q->lite) return sqlite3_column_type(q->lite, i) == SQLITE_NULL;
  if (!q->res || q->row < 0 || q->row >= q->nrows || i >= PQnfields(q->res)) return 1;
  return PQgetisnull(q->res, q->row, i);
}

const char *sxdb_text(sx_dbq *q, int i) {
  if (q->lite) return (const char *)sqlite3_column_text(q->lite, i);
  if (sxdb_isnull(q, i)) return NULL;
  return PQgetvalue(q->res, q->row, i);
}

int64_t sxdb_int64(sx_dbq *q, int i) {
  if (q->lite) return sqlite3_column_int64(q->lite, i);
  const char *t = sxdb_text(q, i);
  if (!t) return 0;
  if (strcmp(t, "t") == 0) return 1; /* boolean results */
  return strtoll(t, NULL, 10);
}
