/* CSV import of users (uri,site,policy), shared by `sipxmppctl user import` and the web
 * console, so both report bad lines with the same line-numbered messages.
 *
 * Format: one user per line, `uri,site,policy` (site and policy may be empty; fields may be
 * double-quoted with "" escapes; a first line whose uri is "uri" and lines starting with '#'
 * are skipped; a UTF-8 byte order mark is ignored). Every line is checked; a key that appears
 * twice is a bad line. Bounds: lines of any length are read, but at most
 * SX_IMPORT_MAX_LINES lines.
 *
 * Ownership: the caller owns f (read to its end, not closed) and the store handle. */
#ifndef SX_CONF_USER_IMPORT_H
#define SX_CONF_USER_IMPORT_H
#include <stdio.h>

#include "conf/store.h"

#define SX_IMPORT_MAX_LINES 10000000L

/* Called for every bad line: line number (1-based) and the reason (valid during the call). */
typedef void (*sx_import_bad_fn)(void *ud, long line, const char *reason);

typedef struct {
  long added, updated, bad;
} sx_import_counts;

/* Imports the lines of f into the store in one transaction: with bad lines and !skip_bad
 * nothing is saved (INVALID, err says how many and how to proceed); otherwise the good lines
 * are committed. ERROR when the store or the reader fails (nothing saved). Fills *counts in
 * every case. `source` names the file in err ("users.csv", "-"). */
sx_st sx_user_import(sx_store *s, FILE *f, const char *source, int skip_bad,
                     sx_import_bad_fn bad, void *ud, sx_import_counts *counts, char *err,
                     size_t n);

#endif
