/* The database a store test runs on: with SX_TEST_PG set (tests/lib/pgcluster.py), that
 * PostgreSQL database, emptied first; otherwise an SQLite file in a fresh temporary
 * directory. Include after check.h. */
#ifndef SX_TEST_STORE_TARGET_H
#define SX_TEST_STORE_TARGET_H
#include <stdio.h>
#include <stdlib.h>

#include "conf/db.h"

/* Raw SQL on the store's database, through the statement layer (either engine); 0 when it
 * succeeded. */
static inline int store_sql(const char *target, const char *stmt) {
  sx_db *db;
  char err[256];
  if (sxdb_open(target, &db, err, sizeof err)) return -1;
  int rc = sxdb_exec(db, stmt);
  sxdb_close(db);
  return rc ? -1 : 0;
}

/* Makes /tmp/<prefix>-XXXXXX in dir[dn] and picks the database in path[pn]: the file `file`
 * there on SQLite, or the PostgreSQL URI, emptied first (*pg set to 1). Returns 0, or -1
 * when the directory cannot be made or a path does not fit. */
static inline int store_target_setup(const char *prefix, const char *file, char *dir,
                                     size_t dn, char *path, size_t pn, int *pg) {
  int n = snprintf(dir, dn, "/tmp/%s-XXXXXX", prefix);
  if (n < 0 || (size_t)n >= dn || !mkdtemp(dir)) {
    perror("mkdtemp");
    return -1;
  }
  const char *pgu = getenv("SX_TEST_PG");
  *pg = pgu && *pgu;
  n = *pg ? snprintf(path, pn, "%s", pgu) : snprintf(path, pn, "%s/%s", dir, file);
  if (n < 0 || (size_t)n >= pn) {
    fprintf(stderr, "store path too long\n");
    return -1;
  }
  if (*pg)
    CHECK_INT(store_sql(path, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"
                              " DROP COLLATION IF EXISTS sx_nocase"),
              0, "empty the test database");
  return 0;
}

/* Removes the temporary directory dir. */
static inline void store_target_cleanup(const char *dir) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

#endif
