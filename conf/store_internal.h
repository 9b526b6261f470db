/* Internals shared by the store's source files (conf/store*.c): the handle, error
 * reporting, cached prepared statements, write transactions and row decoding. Not part of
 * the public API (see store.h). */
#ifndef SX_CONF_STORE_INTERNAL_H
#define SX_CONF_STORE_INTERNAL_H
#include "conf/store.h"

#include "conf/db.h"

#include <stddef.h>

/* ---- handle -------------------------------------------------------------------------- */

#define STMT_CACHE 64

struct sx_store {
  sx_db *db;
  char *path; /* the configured target; PostgreSQL URIs are shown without a password */
  int version;
  struct {
    const char *sql;
    sx_dbq *st;
  } cache[STMT_CACHE];
  int ncache;
};

/* ---- errors -------------------------------------------------------------------------- */

/* Formats one line into err (when err is not NULL and n > 0); a message that does not fit
 * ends in "...". */
void sxs_seterr(char *err, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* sxs_seterr(), then returns st. */
sx_st sxs_fail(sx_st st, char *err, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* SX_ST_ERROR with the database message and the store path. */
sx_st sxs_dberr(sx_store *s, char *err, size_t n, const char *what);

/* INVALID unless key looks like a canonical user@domain key; what names it in the message. */
sx_st sxs_check_key(const char *key, const char *what, char *err, size_t n);

/* ---- statements ---------------------------------------------------------------------- */

/* A cached prepared statement, reset and unbound; NULL on error (err set). Statements are
 * cached by the address of sql, so sql must be a string literal (or otherwise live as long
 * as the handle). The statement belongs to the handle: never finalise it. */
sx_dbq *sxs_q(sx_store *s, const char *sql, char *err, size_t n);
/* Binds v as text, or NULL when v is NULL. */
void sxs_bind_text(sx_dbq *st, int i, const char *v);
/* A malloc'd copy of column i (caller frees); NULL when the column is NULL or on ENOMEM. */
char *sxs_col_dup(sx_dbq *st, int i);
/* strdup() that passes NULL through (caller frees). */
char *sxs_xstrdup(const char *v);
/* Runs a statement that returns no rows (after binding). */
sx_st sxs_step_done(sx_store *s, sx_dbq *st, char *err, size_t n, const char *what);

#define COLS(st, i) sxdb_text((st), (i))

/* ---- row decoding -------------------------------------------------------------------- */

/* SX_POL_* from the four 0/1 columns xmpp, federation, public_cloud, outside starting at
 * column first. */
unsigned sxs_row_flags(sx_dbq *st, int first);
/* Stored partner type / negotiation names; NULL or unknown gives the default. */
sx_ptype sxs_ptype_of(const char *t);
sx_nego sxs_nego_of(const char *t);

/* ---- write transactions -------------------------------------------------------------- */

typedef enum { TX_TOP, TX_SAVEPOINT } txkind;

/* Starts a write: sxdb_begin_write(), or a savepoint inside an open transaction (*k says
 * which). Every successful sxs_wbegin() is ended by exactly one sxs_wend(). */
sx_st sxs_wbegin(sx_store *s, txkind *k, char *err, size_t n);
/* Ends a write: on st == OK bumps the generation and commits; otherwise rolls back.
 * Returns the final status. */
sx_st sxs_wend(sx_store *s, txkind k, sx_st st, char *err, size_t n);

/* ---- policies (store_policy.c) ------------------------------------------------------- */

/* Resolves a grantable policy name to its stored form (a tag that exists) into stored. */
sx_st sxs_tag_lookup(sx_store *s, const char *tag, char *stored, size_t sn, char *err,
                     size_t n);

#endif
