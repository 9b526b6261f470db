/* A small statement layer over the store's two engines: SQLite (a file path, the embedded
 * default) and PostgreSQL (a "postgresql://" or "postgres://" URI, through libpq). The
 * store's SQL is written once with `?` or `?N` parameters (rewritten to `$N` for
 * PostgreSQL); the few places where the dialects differ ask sxdb_kind().
 *
 * Values are text or 64-bit integers. A statement is prepared once and run many times:
 * reset, bind, step until SXDB_DONE. On PostgreSQL a step runs the whole query on its first
 * call (text results, parameters typed text/int8) and then walks the rows.
 *
 * Ownership: sx_db and sx_dbq belong to their creator (sxdb_close / sxdb_finalize). Strings
 * returned by sxdb_text() and sxdb_errmsg() belong to the statement / handle and stay valid
 * until its next step, reset or finalize (for the handle: its next call). Bound text is
 * copied. A handle is used by one thread at a time. */
#ifndef SX_CONF_DB_H
#define SX_CONF_DB_H
#include <stddef.h>
#include <stdint.h>

typedef struct sx_db sx_db;
typedef struct sx_dbq sx_dbq;

typedef enum { SXDB_SQLITE, SXDB_PG } sx_dbkind;

/* sxdb_step() results */
enum { SXDB_ERR = -1, SXDB_DONE = 0, SXDB_ROW = 1 };

/* Error classes of the last failure, for hints. */
typedef enum { SXDB_E_OTHER, SXDB_E_BUSY, SXDB_E_READONLY, SXDB_E_FULL } sx_dberr;

/* At most this many parameters per statement. */
#define SXDB_MAX_PARAMS 16

/* 1 when target names a PostgreSQL database (postgresql:// or postgres://). */
int sxdb_is_pg(const char *target);

/* A malloc'd copy of target to show in messages (caller frees): a PostgreSQL URI's password
 * is replaced by "***". NULL on ENOMEM. */
char *sxdb_display(const char *target);

/* Opens target (a file path, created if missing, or a PostgreSQL URI). SQLite: WAL mode,
 * foreign keys on, synchronous=NORMAL, a busy timeout of 5 s. PostgreSQL: unless the URI sets
 * them, connect_timeout 5 s and TCP keepalives / tcp_user_timeout that drop a vanished
 * server within ~10-16 s; server NOTICEs are ignored. 0, or -1 with err set. */
int sxdb_open(const char *target, sx_db **out, char *err, size_t n);
/* Opens target to read only: a SQLite file that exists (never created, no pragma written,
 * busy timeout 2 s); a PostgreSQL URI as sxdb_open() does. 0, or -1 with err set. */
int sxdb_open_readonly(const char *target, sx_db **out, char *err, size_t n);
void sxdb_close(sx_db *db);
sx_dbkind sxdb_kind(const sx_db *db);

/* Runs SQL without parameters or results (may hold several statements). 0 or -1. */
int sxdb_exec(sx_db *db, const char *sql);
/* 1 while a transaction is open. */
int sxdb_in_tx(sx_db *db);
/* Starts a transaction that will write (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN and a
 * transaction-scoped advisory lock, so writers queue as they do on SQLite). 0 or -1. */
int sxdb_begin_write(sx_db *db);
/* Starts a read transaction that sees one consistent state (PostgreSQL: REPEATABLE READ). */
int sxdb_begin_read(sx_db *db);

/* The last error's message (never NULL) and class. */
const char *sxdb_errmsg(sx_db *db);
sx_dberr sxdb_errclass(sx_db *db);
/* Rows changed by the last INSERT/UPDATE/DELETE run through a statement. */
long sxdb_changes(sx_db *db);

/* ---- notifications (PostgreSQL LISTEN/NOTIFY; nothing on SQLite) -------------------- */

/* channel: 1 to 63 of [a-z0-9_]. 0, or -1 (bad channel or database error). SQLite: 0, no-op. */
int sxdb_listen(sx_db *db, const char *channel);
/* Sends payload (at most 7999 bytes) on channel, delivered at commit. SQLite: 0, no-op. */
int sxdb_notify(sx_db *db, const char *channel, const char *payload);
/* The connection's socket, readable when notifications may have arrived; -1 on SQLite. */
int sxdb_socket(sx_db *db);
/* Takes one notification that arrived: 1 with *channel and *payload malloc'd (caller frees),
 * 0 when none waits, -1 on a connection error or ENOMEM. Never blocks. */
int sxdb_next_notice(sx_db *db, char **channel, char **payload);

/* Prepares sql (copied as needed). NULL with sxdb_errmsg() set. */
sx_dbq *sxdb_prepare(sx_db *db, const char *sql);
void sxdb_finalize(sx_dbq *q);
/* Ends the current run and clears the bindings. */
void sxdb_reset(sx_dbq *q);
/* i is 1-based. Text NULL binds SQL NULL. */
void sxdb_bind_text(sx_dbq *q, int i, const char *v);
void sxdb_bind_int64(sx_dbq *q, int i, int64_t v);
/* SXDB_ROW, SXDB_DONE or SXDB_ERR. */
int sxdb_step(sx_dbq *q);
/* Column i (0-based) of the current row: NULL for SQL NULL. */
const char *sxdb_text(sx_dbq *q, int i);
int64_t sxdb_int64(sx_dbq *q, int i);
int sxdb_isnull(sx_dbq *q, int i);

#endif
