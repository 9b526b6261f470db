/* The web console's administrators (store.h, "console administrators"): names and salted
 * scrypt password hashes (OpenSSL's EVP_PBE_scrypt) in the admins table.
 *
 * Stored form: "scrypt$N$r$p$SALT$HASH" (SALT 16 bytes, HASH 32 bytes, both hex). Verifying
 * reads the parameters from the stored form, so stronger settings later keep old hashes
 * valid. Changing an administrator does not bump the change counter: the policy snapshot
 * does not depend on it. */
#include "conf/store.h"

#include "conf/store_internal.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCRYPT_N 16384u /* 16 MiB of memory with r = 8 */
#define SCRYPT_R 8u
#define SCRYPT_P 1u
#define SCRYPT_MAXMEM (64u * 1024 * 1024)
#define SALT_LEN 16
#define HASH_LEN 32

static void hex(const unsigned char *b, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  out[2 * n] = 0;
}

static int unhex(const char *s, size_t len, unsigned char *out, size_t n) {
  if (len != 2 * n) return -1;
  for (size_t i = 0; i < n; i++) {
    int v = 0;
    for (int j = 0; j < 2; j++) {
      char c = s[2 * i + j];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    out[i] = (unsigned char)v;
  }
  return 0;
}

static int derive(const char *pw, const unsigned char *salt, uint64_t N, uint64_t r, uint64_t p,
                  unsigned char *out) {
  return EVP_PBE_scrypt(pw, strlen(pw), salt, SALT_LEN, N, r, p, SCRYPT_MAXMEM, out, HASH_LEN) ==
                 1
             ? 0
             : -1;
}

int sx_admin_name_check(const char *name, char *err, size_t n) {
  size_t len = name ? strlen(name) : 0;
  if (len == 0 || len > SX_ADMIN_NAME_MAX) {
    sxs_seterr(err, n, "admin name must be 1..%d characters", SX_ADMIN_NAME_MAX);
    return -1;
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    if (!(c < 0x80 && (isalnum(c) || c == '.' || c == '_' || c == '-' || c == '@'))) {
      sxs_seterr(err, n, "admin name '%s': use only letters, digits, '.', '_', '-' and '@'",
                 name);
      return -1;
    }
  }
  return 0;
}

sx_st sx_store_admin_passwd(sx_store *s, const char *name, const char *password, int *created,
                            char *err, size_t n) {
  if (sx_admin_name_check(name, err, n)) return SX_ST_INVALID;
  size_t pl = password ? strlen(password) : 0;
  if (pl < SX_ADMIN_PASSWORD_MIN || pl > SX_ADMIN_PASSWORD_MAX)
    return sxs_fail(SX_ST_INVALID, err, n, "the password must be %d..%d bytes long",
                    SX_ADMIN_PASSWORD_MIN, SX_ADMIN_PASSWORD_MAX);
  unsigned char salt[SALT_LEN], key[HASH_LEN];
  if (RAND_bytes(salt, sizeof salt) != 1)
    return sxs_fail(SX_ST_ERROR, err, n, "no random bytes for the salt");
  if (derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, key))
    return sxs_fail(SX_ST_ERROR, err, n, "scrypt failed");
  char sh[2 * SALT_LEN + 1], kh[2 * HASH_LEN + 1], stored[200];
  hex(salt, sizeof salt, sh);
  hex(key, sizeof key, kh);
  OPENSSL_cleanse(key, sizeof key);
  snprintf(stored, sizeof stored, "scrypt$%u$%u$%u$%s$%s", SCRYPT_N, SCRYPT_R, SCRYPT_P, sh, kh);

  sx_dbq *q = sxs_q(s, "SELECT 1 FROM admins WHERE name = ?", err, n);
  if (!q) return SX_ST_ERROR;
  sxdb_bind_text(q, 1, name);
  int exists = sxdb_step(q) == SXDB_ROW;
  sxdb_reset(q);
  q = sxs_q(s,
            "INSERT INTO admins(name, hash, updated) VALUES(?1, ?2, ?3) "
            "ON CONFLICT(name) DO UPDATE SET hash = ?2, updated = ?3",
            err, n);
  if (!q) return SX_ST_ERROR;
  sxdb_bind_text(q, 1, name);
  sxdb_bind_text(q, 2, stored);
  sxdb_bind_int64(q, 3, (int64_t)time(NULL));
  sx_st st = sxs_step_done(s, q, err, n, "save admin");
  if (st == SX_ST_OK && created) *created = !exists;
  return st;
}

/* Parses a stored hash; 0 ok. */
static int parse_stored(const char *h, uint64_t *N, uint64_t *r, uint64_t *p,
                        unsigned char *salt, unsigned char *key) {
  unsigned long long a, b, c;
  int off = 0;
  if (sscanf(h, "scrypt$%llu$%llu$%llu$%n", &a, &b, &c, &off) != 3 || !off) return -1;
  if (a < 2 || a > (1u << 20) || (a & (a - 1)) || b < 1 || b > 32 || c < 1 || c > 16) return -1;
  const char *salt_h = h + off, *dollar = strchr(salt_h, '$');
  if (!dollar) return -1;
  if (unhex(salt_h, (size_t)(dollar - salt_h), salt, SALT_LEN)) return -1;
  if (unhex(dollar + 1, strlen(dollar + 1), key, HASH_LEN)) return -1;
  *N = a;
  *r = b;
  *p = c;
  return 0;
}

sx_st sx_store_admin_verify(sx_store *s, const char *name, const char *password, char *err,
                            size_t n) {
  static const char FAIL[] = "wrong name or password";
  char *stored = NULL;
  size_t pl = password ? strlen(password) : 0;
  if (name && sx_admin_name_check(name, NULL, 0) == 0 && pl <= SX_ADMIN_PASSWORD_MAX) {
    sx_dbq *q = sxs_q(s, "SELECT hash FROM admins WHERE name = ?", err, n);
    if (!q) return SX_ST_ERROR;
    sxdb_bind_text(q, 1, name);
    int rc = sxdb_step(q);
    if (rc == SXDB_ROW) {
      stored = sxs_col_dup(q, 0);
    } else if (rc != SXDB_DONE) {
      sxdb_reset(q);
      return sxs_dberr(s, err, n, "read admin");
    }
    sxdb_reset(q);
  }
  uint64_t N = SCRYPT_N, r = SCRYPT_R, p = SCRYPT_P;
  unsigned char salt[SALT_LEN] = {0}, want[HASH_LEN] = {0}, got[HASH_LEN];
  int usable = stored && parse_stored(stored, &N, &r, &p, salt, want) == 0;
  free(stored);
  /* An unknown name costs the same hash as a known one. */
  int ok = derive(password ? password : "", salt, N, r, p, got) == 0 && usable &&
           CRYPTO_memcmp(got, want, HASH_LEN) == 0;
  OPENSSL_cleanse(got, sizeof got);
  if (ok) return SX_ST_OK;
  return sxs_fail(SX_ST_INVALID, err, n, "%s", FAIL);
}

sx_st sx_store_admin_updated(sx_store *s, const char *name, int64_t *updated, char *err,
                             size_t n) {
  sx_dbq *q = sxs_q(s, "SELECT updated FROM admins WHERE name = ?", err, n);
  if (!q) return SX_ST_ERROR;
  sxdb_bind_text(q, 1, name ? name : "");
  int rc = sxdb_step(q);
  sx_st st = SX_ST_OK;
  if (rc == SXDB_ROW)
    *updated = sxdb_int64(q, 0);
  else if (rc == SXDB_DONE)
    st = sxs_fail(SX_ST_NOTFOUND, err, n, "no admin '%s'", name ? name : "");
  else
    st = sxs_dberr(s, err, n, "read admin");
  sxdb_reset(q);
  return st;
}

sx_st sx_store_admin_remove(sx_store *s, const char *name, char *err, size_t n) {
  sx_dbq *q = sxs_q(s, "DELETE FROM admins WHERE name = ?", err, n);
  if (!q) return SX_ST_ERROR;
  sxdb_bind_text(q, 1, name ? name : "");
  sx_st st = sxs_step_done(s, q, err, n, "remove admin");
  if (st == SX_ST_OK && sxdb_changes(s->db) == 0)
    return sxs_fail(SX_ST_NOTFOUND, err, n, "no admin '%s'", name ? name : "");
  return st;
}

sx_st sx_store_admin_list(sx_store *s, char ***names, size_t *count, char *err, size_t n) {
  *names = NULL;
  *count = 0;
  sx_dbq *q = sxs_q(s, "SELECT name FROM admins ORDER BY name", err, n);
  if (!q) return SX_ST_ERROR;
  char **v = NULL;
  size_t c = 0;
  int rc;
  while ((rc = sxdb_step(q)) == SXDB_ROW) {
    char **nv = realloc(v, (c + 1) * sizeof *v);
    if (!nv || !(nv[c] = sxs_col_dup(q, 0))) {
      if (nv) v = nv;
      sxdb_reset(q);
      sx_admin_list_free(v, c);
      return sxs_fail(SX_ST_ERROR, err, n, "out of memory");
    }
    v = nv;
    c++;
  }
  sxdb_reset(q);
  if (rc != SXDB_DONE) {
    sx_admin_list_free(v, c);
    return sxs_dberr(s, err, n, "list admins");
  }
  *names = v;
  *count = c;
  return SX_ST_OK;
}

void sx_admin_list_free(char **v, size_t count) {
  for (size_t i = 0; i < count; i++) free(v[i]);
  free(v);
}
