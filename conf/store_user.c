/* The store's users (see store.h). */
#include "conf/store.h"

#include "conf/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static int user_from_row(sx_dbq *st, sx_user_rec *u) {
  u->key = sxs_col_dup(st, 0);
  u->site = sxs_col_dup(st, 1);
  u->policy = sxs_col_dup(st, 2);
  if (!u->key || (!sxdb_isnull(st, 1) && !u->site) ||
      (!sxdb_isnull(st, 2) && !u->policy)) {
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
    return sxs_fail(SX_ST_INVALID, err, n, "site name longer than 128 characters");
  snprintf(name, sizeof name, "site:%s", site);
  if (sx_policy_name_check(name, NULL, canon, sizeof canon, msg, sizeof msg))
    return sxs_fail(SX_ST_INVALID, err, n,
                    "site '%s': only letters, digits, '_', '.' and '-' are allowed", site);
  return SX_ST_OK;
}

sx_st sx_store_user_get(sx_store *s, const char *key, sx_user_rec *out, char *err, size_t n) {
  memset(out, 0, sizeof *out);
  sx_dbq *st = sxs_q(s, "SELECT uri, site, policy FROM users WHERE uri = ?", err, n);
  if (!st) return SX_ST_ERROR;
  sxs_bind_text(st, 1, key);
  int rc = sxdb_step(st);
  sx_st r;
  if (rc == SXDB_ROW)
    r = user_from_row(st, out) ? sxs_fail(SX_ST_ERROR, err, n, "out of memory") : SX_ST_OK;
  else if (rc == SXDB_DONE)
    r = sxs_fail(SX_ST_NOTFOUND, err, n, "no user %s in the store", key ? key : "");
  else
    r = sxs_dberr(s, err, n, "user show");
  sxdb_reset(st);
  return r;
}

/* Writes one user row: mode 0 insert (EXISTS if present), 1 update given fields (NOTFOUND
 * if absent), 2 upsert both fields. */
static sx_st user_write(sx_store *s, int mode, const char *key, const char *site,
                        const char *policy, int *added, char *err, size_t n) {
  if (added) *added = 0;
  sx_st r = sxs_check_key(key, "user", err, n);
  if (r || (r = check_site(site, err, n))) return r;
  txkind k;
  if ((r = sxs_wbegin(s, &k, err, n))) return r;
  char stored[256] = "";
  if (policy && *policy && (r = sxs_tag_lookup(s, policy, stored, sizeof stored, err, n)))
    return sxs_wend(s, k, r, err, n);
  sx_user_rec cur;
  r = sx_store_user_get(s, key, &cur, err, n);
  if (r == SX_ST_ERROR) return sxs_wend(s, k, r, err, n);
  int exists = r == SX_ST_OK;
  if (exists && mode == 0) {
    sx_user_rec_free(&cur);
    return sxs_wend(
        s, k,
        sxs_fail(SX_ST_EXISTS, err, n, "user %s already exists; change it with: user set", key),
        err, n);
  }
  if (!exists && mode == 1)
    return sxs_wend(
        s, k, sxs_fail(SX_ST_NOTFOUND, err, n, "no user %s; add it with: user add", key), err, n);
  const char *nsite = site, *npol = policy && *policy ? stored : policy;
  if (mode == 1) {
    if (!site) nsite = cur.site;
    if (!policy) npol = cur.policy;
  }
  if (nsite && !*nsite) nsite = NULL;
  if (npol && !*npol) npol = NULL;
  sx_dbq *st =
      sxs_q(s,
            "INSERT INTO users(uri, site, policy) VALUES(?1, ?2, ?3) ON CONFLICT(uri)"
            " DO UPDATE SET site = excluded.site, policy = excluded.policy",
            err, n);
  if (st) {
    sxs_bind_text(st, 1, key);
    sxs_bind_text(st, 2, nsite);
    sxs_bind_text(st, 3, npol);
    r = sxs_step_done(s, st, err, n, "user write");
  } else {
    r = SX_ST_ERROR;
  }
  if (exists) sx_user_rec_free(&cur);
  if (r == SX_ST_OK && added) *added = !exists;
  return sxs_wend(s, k, r, err, n);
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
  sx_st r = sxs_wbegin(s, &k, err, n);
  if (r) return r;
  sx_dbq *st = sxs_q(s, "DELETE FROM users WHERE uri = ?", err, n);
  if (!st) return sxs_wend(s, k, SX_ST_ERROR, err, n);
  sxs_bind_text(st, 1, key);
  if ((r = sxs_step_done(s, st, err, n, "user remove"))) return sxs_wend(s, k, r, err, n);
  if (sxdb_changes(s->db) == 0)
    return sxs_wend(s, k, sxs_fail(SX_ST_NOTFOUND, err, n, "no user %s in the store", key), err, n);
  return sxs_wend(s, k, SX_ST_OK, err, n);
}

sx_st sx_store_user_list(sx_store *s, const char *site, const char *policy, sx_user_rec **out,
                         size_t *count, char *err, size_t n) {
  *out = NULL;
  *count = 0;
  sx_dbq *st = sxs_q(s,
                           "SELECT uri, site, policy FROM users WHERE (?1 IS NULL OR site = ?1)"
                           " AND (?2 IS NULL OR policy = ?2) ORDER BY uri",
                           err, n);
  if (!st) return SX_ST_ERROR;
  sxs_bind_text(st, 1, site);
  sxs_bind_text(st, 2, policy && strncasecmp(policy, "tag:", 4) == 0 ? policy + 4 : policy);
  sx_user_rec *v = NULL;
  size_t cnt = 0, cap = 0;
  int rc;
  while ((rc = sxdb_step(st)) == SXDB_ROW) {
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
  sxdb_reset(st);
  if (rc != SXDB_DONE) {
    sx_user_list_free(v, cnt);
    return sxs_dberr(s, err, n, "user list");
  }
  *out = v;
  *count = cnt;
  return SX_ST_OK;
nomem:
  sxdb_reset(st);
  sx_user_list_free(v, cnt);
  return sxs_fail(SX_ST_ERROR, err, n, "out of memory");
}
