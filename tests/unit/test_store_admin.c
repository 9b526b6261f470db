/* Console administrators in the store (conf/store_admin.c): names, password rules, salted
 * hashes (never the password), verification, replacement, removal, and no change-counter
 * bump. On SQLite, or with SX_TEST_PG set (tests/lib/pgcluster.py) on that PostgreSQL
 * database (emptied first). */
#include "conf/store.h"

#include "conf/db.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "store_target.h"

static char dir[256];

/* The stored hash of `name`, read past the store API (caller frees), or NULL. */
static char *stored_hash(const char *path, const char *name) {
  sx_db *db;
  char err[256], *out = NULL;
  if (sxdb_open(path, &db, err, sizeof err)) return NULL;
  sx_dbq *st = sxdb_prepare(db, "SELECT hash FROM admins WHERE name = ?");
  if (st) {
    sxdb_bind_text(st, 1, name);
    if (sxdb_step(st) == SXDB_ROW && sxdb_text(st, 0)) out = strdup(sxdb_text(st, 0));
    sxdb_finalize(st);
  }
  sxdb_close(db);
  return out;
}

int main(void) {
  char path[600], err[512];
  int pg;
  if (store_target_setup("sx-test-admin", "s.db", dir, sizeof dir, path, sizeof path, &pg))
    return 1;
  sx_store *s = NULL;
  CHECK_INT(sx_store_open(path, &s, err, sizeof err), SX_ST_OK, err);
  if (!s) return check_done();
  int64_t gen = sx_store_generation(s);

  /* rules */
  CHECK_INT(sx_store_admin_passwd(s, "bad name", "password1", NULL, err, sizeof err),
            SX_ST_INVALID, "space in name");
  CHECK(strstr(err, "use only letters") != NULL, "name message [%s]", err);
  CHECK_INT(sx_store_admin_passwd(s, "", "password1", NULL, err, sizeof err), SX_ST_INVALID,
            "empty name");
  CHECK_INT(sx_store_admin_passwd(s, "root", "short", NULL, err, sizeof err), SX_ST_INVALID,
            "short password");
  CHECK(strstr(err, "8..1024 bytes") != NULL, "password message [%s]", err);

  /* create, verify */
  int created = -1;
  CHECK_INT(sx_store_admin_passwd(s, "root", "correct horse", &created, err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(created, 1, "created");
  char *h1 = stored_hash(path, "root");
  CHECK(h1 && strncmp(h1, "scrypt$16384$8$1$", 17) == 0, "stored form [%s]", h1 ? h1 : "");
  CHECK(h1 && !strstr(h1, "correct horse"), "password not stored");
  CHECK_INT(sx_store_admin_verify(s, "root", "correct horse", err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_admin_verify(s, "ROOT", "correct horse", err, sizeof err), SX_ST_OK,
            "name case-insensitive");
  CHECK_INT(sx_store_admin_verify(s, "root", "correct horsE", err, sizeof err), SX_ST_INVALID,
            "wrong password");
  CHECK_STR(err, "wrong name or password", "wrong password message");
  CHECK_INT(sx_store_admin_verify(s, "nobody", "correct horse", err, sizeof err), SX_ST_INVALID,
            "unknown name");
  CHECK_STR(err, "wrong name or password", "unknown name: same message");
  CHECK_INT(sx_store_admin_verify(s, "root", "", err, sizeof err), SX_ST_INVALID, "empty");

  /* replace: a new salt, the old password no longer works */
  CHECK_INT(sx_store_admin_passwd(s, "root", "battery staple", &created, err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(created, 0, "replaced");
  char *h2 = stored_hash(path, "root");
  CHECK(h1 && h2 && strcmp(h1, h2) != 0, "new hash");
  free(h1);
  free(h2);
  CHECK_INT(sx_store_admin_verify(s, "root", "correct horse", err, sizeof err), SX_ST_INVALID,
            "old password refused");
  CHECK_INT(sx_store_admin_verify(s, "root", "battery staple", err, sizeof err), SX_ST_OK, err);

  /* two admins with one password: different salts, different hashes */
  CHECK_INT(sx_store_admin_passwd(s, "ops@contoso", "battery staple", NULL, err, sizeof err),
            SX_ST_OK, err);
  char *a = stored_hash(path, "root"), *b = stored_hash(path, "ops@contoso");
  CHECK(a && b && strcmp(a, b) != 0, "salted");
  free(a);
  free(b);

  char **names;
  size_t n;
  CHECK_INT(sx_store_admin_list(s, &names, &n, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(n, 2, "two admins");
  if (n == 2) {
    CHECK_STR(names[0], "ops@contoso", "sorted 0");
    CHECK_STR(names[1], "root", "sorted 1");
  }
  sx_admin_list_free(names, n);

  int64_t upd = 0;
  CHECK_INT(sx_store_admin_updated(s, "OPS@contoso", &upd, err, sizeof err), SX_ST_OK, err);
  CHECK(upd > 1700000000, "updated is a unix time (%lld)", (long long)upd);
  CHECK_INT(sx_store_admin_remove(s, "ops@contoso", err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_admin_updated(s, "ops@contoso", &upd, err, sizeof err), SX_ST_NOTFOUND,
            "updated of a removed admin");
  CHECK_INT(sx_store_admin_remove(s, "ops@contoso", err, sizeof err), SX_ST_NOTFOUND, "gone");
  CHECK_INT(sx_store_admin_verify(s, "ops@contoso", "battery staple", err, sizeof err),
            SX_ST_INVALID, "removed admin refused");
  CHECK_INT(sx_store_generation(s), gen, "admins do not bump the change counter");

  sx_store_close(s);
  store_target_cleanup(dir);
  return check_done();
}
