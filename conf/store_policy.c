/* The store's external access policies and their grants to users (see store.h). */
#include "conf/store.h"

#include "conf/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int policy_from_row(sx_dbq *st, sx_policy_rec *p) {
  memset(p, 0, sizeof *p);
  const char *sc = COLS(st, 1);
  p->scope = !sc || strcmp(sc, "global") == 0 ? SX_SCOPE_GLOBAL
             : strcmp(sc, "site") == 0        ? SX_SCOPE_SITE
                                              : SX_SCOPE_TAG;
  p->flags = sxs_row_flags(st, 2);
  p->name = sxs_col_dup(st, 0);
  p->description = sxs_col_dup(st, 6);
  if (!p->description) p->description = strdup("");
  p->users = (long)sxdb_int64(st, 7);
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
    return sxs_fail(SX_ST_INVALID, err, n, "%s", msg);
  return SX_ST_OK;
}

sx_st sx_store_policy_new(sx_store *s, const char *name, unsigned flags,
                          const char *description, char *err, size_t n) {
  char canon[256];
  sx_scope scope;
  sx_st r = policy_name(name, &scope, canon, sizeof canon, err, n);
  if (r) return r;
  if (scope == SX_SCOPE_GLOBAL)
    return sxs_fail(SX_ST_EXISTS, err, n,
                    "the global policy always exists; change it with: policy set global ...");
  txkind k;
  if ((r = sxs_wbegin(s, &k, err, n))) return r;
  sx_dbq *st = sxs_q(s, "SELECT name FROM policies WHERE name = ?", err, n);
  if (!st) return sxs_wend(s, k, SX_ST_ERROR, err, n);
  sxs_bind_text(st, 1, canon);
  int rc = sxdb_step(st);
  if (rc == SXDB_ROW) {
    sxs_fail(SX_ST_EXISTS, err, n,
             "policy '%s' already exists (as '%s'); change it with: policy set", canon,
             COLS(st, 0));
    sxdb_reset(st);
    return sxs_wend(s, k, SX_ST_EXISTS, err, n);
  }
  sxdb_reset(st);
  if (rc != SXDB_DONE) return sxs_wend(s, k, sxs_dberr(s, err, n, "policy new"), err, n);
  st = sxs_q(
      s,
      "INSERT INTO policies(name, scope, xmpp, federation, public_cloud, outside, description)"
      " VALUES(?, ?, ?, ?, ?, ?, ?)",
      err, n);
  if (!st) return sxs_wend(s, k, SX_ST_ERROR, err, n);
  sxs_bind_text(st, 1, canon);
  sxs_bind_text(st, 2, sx_scope_name(scope));
  sxdb_bind_int64(st, 3, !!(flags & SX_POL_XMPP));
  sxdb_bind_int64(st, 4, !!(flags & SX_POL_FEDERATION));
  sxdb_bind_int64(st, 5, !!(flags & SX_POL_PUBLIC_CLOUD));
  sxdb_bind_int64(st, 6, !!(flags & SX_POL_OUTSIDE));
  sxs_bind_text(st, 7, description ? description : "");
  return sxs_wend(s, k, sxs_step_done(s, st, err, n, "policy new"), err, n);
}

sx_st sx_store_policy_get(sx_store *s, const char *name, sx_policy_rec *out, char *err,
                          size_t n) {
  memset(out, 0, sizeof *out);
  char canon[256];
  sx_st r = policy_name(name, NULL, canon, sizeof canon, err, n);
  if (r) return r;
  sx_dbq *st = sxs_q(s, "SELECT " POLICY_COLS " FROM policies p WHERE name = ?", err, n);
  if (!st) return SX_ST_ERROR;
  sxs_bind_text(st, 1, canon);
  int rc = sxdb_step(st);
  if (rc == SXDB_ROW) {
    r = policy_from_row(st, out) ? sxs_fail(SX_ST_ERROR, err, n, "out of memory") : SX_ST_OK;
  } else if (rc == SXDB_DONE) {
    r = sxs_fail(SX_ST_NOTFOUND, err, n, "no policy named '%s' (see: policy list)", canon);
  } else {
    r = sxs_dberr(s, err, n, "policy show");
  }
  sxdb_reset(st);
  return r;
}

sx_st sx_store_policy_set(sx_store *s, const char *name, unsigned mask, unsigned flags,
                          const char *description, char *err, size_t n) {
  char canon[256];
  sx_scope scope;
  sx_st r = policy_name(name, &scope, canon, sizeof canon, err, n);
  if (r) return r;
  txkind k;
  if ((r = sxs_wbegin(s, &k, err, n))) return r;
  sx_policy_rec cur;
  r = sx_store_policy_get(s, canon, &cur, err, n);
  if (r == SX_ST_NOTFOUND)
    sxs_fail(r, err, n, "no policy named '%s'; create it with: policy new %s ...", canon, canon);
  if (r) return sxs_wend(s, k, r, err, n);
  unsigned nf = (cur.flags & ~mask) | (flags & mask);
  sx_dbq *st = sxs_q(s,
                           "UPDATE policies SET xmpp = ?, federation = ?, public_cloud = ?,"
                           " outside = ?, description = ? WHERE name = ?",
                           err, n);
  if (!st) {
    sx_policy_rec_free(&cur);
    return sxs_wend(s, k, SX_ST_ERROR, err, n);
  }
  sxdb_bind_int64(st, 1, !!(nf & SX_POL_XMPP));
  sxdb_bind_int64(st, 2, !!(nf & SX_POL_FEDERATION));
  sxdb_bind_int64(st, 3, !!(nf & SX_POL_PUBLIC_CLOUD));
  sxdb_bind_int64(st, 4, !!(nf & SX_POL_OUTSIDE));
  sxs_bind_text(st, 5, description ? description : cur.description);
  sxs_bind_text(st, 6, canon);
  sx_policy_rec_free(&cur);
  return sxs_wend(s, k, sxs_step_done(s, st, err, n, "policy set"), err, n);
}

sx_st sx_store_policy_list(sx_store *s, sx_policy_rec **out, size_t *count, char *err,
                           size_t n) {
  *out = NULL;
  *count = 0;
  sx_dbq *st = sxs_q(s,
                           "SELECT " POLICY_COLS
                           " FROM policies p ORDER BY"
                           " CASE scope WHEN 'global' THEN 0 WHEN 'site' THEN 1 ELSE 2 END, name",
                           err, n);
  if (!st) return SX_ST_ERROR;
  sx_policy_rec *v = NULL;
  size_t cnt = 0, cap = 0;
  int rc;
  while ((rc = sxdb_step(st)) == SXDB_ROW) {
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
  sxdb_reset(st);
  if (rc != SXDB_DONE) {
    sx_policy_list_free(v, cnt);
    return sxs_dberr(s, err, n, "policy list");
  }
  *out = v;
  *count = cnt;
  return SX_ST_OK;
nomem:
  sxdb_reset(st);
  sx_policy_list_free(v, cnt);
  return sxs_fail(SX_ST_ERROR, err, n, "out of memory");
}

sx_st sx_store_policy_remove(sx_store *s, const char *name, int force, char *err, size_t n) {
  char canon[256];
  sx_scope scope;
  sx_st r = policy_name(name, &scope, canon, sizeof canon, err, n);
  if (r) return r;
  if (scope == SX_SCOPE_GLOBAL)
    return sxs_fail(
        SX_ST_INVALID, err, n,
        "the global policy cannot be removed; change it instead, e.g. policy set global "
        "--xmpp=off");
  txkind k;
  if ((r = sxs_wbegin(s, &k, err, n))) return r;
  sx_policy_rec cur;
  if ((r = sx_store_policy_get(s, canon, &cur, err, n))) return sxs_wend(s, k, r, err, n);
  long users = cur.users;
  sx_policy_rec_free(&cur);
  if (scope == SX_SCOPE_TAG && users > 0) {
    if (!force) {
      sxs_fail(
          SX_ST_INUSE, err, n,
          "policy '%s' is granted to %ld user(s); remove the grants first (policy grant --none "
          "--user URI) or use --force (those users then get their site or the global policy)",
          canon, users);
      return sxs_wend(s, k, SX_ST_INUSE, err, n);
    }
    sx_dbq *st = sxs_q(s, "UPDATE users SET policy = NULL WHERE policy = ?", err, n);
    if (!st) return sxs_wend(s, k, SX_ST_ERROR, err, n);
    sxs_bind_text(st, 1, canon);
    if ((r = sxs_step_done(s, st, err, n, "policy remove"))) return sxs_wend(s, k, r, err, n);
  }
  sx_dbq *st = sxs_q(s, "DELETE FROM policies WHERE name = ?", err, n);
  if (!st) return sxs_wend(s, k, SX_ST_ERROR, err, n);
  sxs_bind_text(st, 1, canon);
  return sxs_wend(s, k, sxs_step_done(s, st, err, n, "policy remove"), err, n);
}

sx_st sxs_tag_lookup(sx_store *s, const char *tag, char *stored, size_t sn, char *err,
                        size_t n) {
  char canon[256];
  sx_scope scope;
  sx_st r = policy_name(tag, &scope, canon, sizeof canon, err, n);
  if (r) return r;
  if (scope == SX_SCOPE_GLOBAL)
    return sxs_fail(SX_ST_INVALID, err, n,
                    "the global policy cannot be granted: it applies to every user without a "
                    "per-user or site policy");
  if (scope == SX_SCOPE_SITE)
    return sxs_fail(
        SX_ST_INVALID, err, n,
        "'%s' is a site policy: it applies to users of that site (set it with: user set "
        "URI --site %s), it cannot be granted",
        canon, canon + 5);
  sx_dbq *st = sxs_q(s, "SELECT name FROM policies WHERE name = ? AND scope = 'tag'", err, n);
  if (!st) return SX_ST_ERROR;
  sxs_bind_text(st, 1, canon);
  int rc = sxdb_step(st);
  if (rc == SXDB_ROW) {
    snprintf(stored, sn, "%s", COLS(st, 0));
    r = SX_ST_OK;
  } else if (rc == SXDB_DONE) {
    r = sxs_fail(SX_ST_INVALID, err, n,
                 "no policy named '%s'; create it first: policy new %s --xmpp", canon, canon);
  } else {
    r = sxs_dberr(s, err, n, "policy lookup");
  }
  sxdb_reset(st);
  return r;
}

sx_st sx_store_policy_grant(sx_store *s, const char *tag, const char *user_key, long *changed,
                            char *err, size_t n) {
  if (changed) *changed = 0;
  char stored[256] = "";
  sx_st r;
  if (user_key && (r = sxs_check_key(user_key, "user", err, n))) return r;
  txkind k;
  if ((r = sxs_wbegin(s, &k, err, n))) return r;
  if (tag && (r = sxs_tag_lookup(s, tag, stored, sizeof stored, err, n)))
    return sxs_wend(s, k, r, err, n);
  sx_dbq *st;
  if (user_key && tag) {
    st = sxs_q(s,
               "INSERT INTO users(uri, policy) VALUES(?1, ?2) ON CONFLICT(uri) DO UPDATE SET"
               " policy = excluded.policy WHERE users.policy IS DISTINCT FROM excluded.policy",
               err, n);
    if (!st) return sxs_wend(s, k, SX_ST_ERROR, err, n);
    sxs_bind_text(st, 1, user_key);
    sxs_bind_text(st, 2, stored);
  } else if (user_key) {
    sx_user_rec u;
    r = sx_store_user_get(s, user_key, &u, err, n);
    if (r) return sxs_wend(s, k, r, err, n);
    sx_user_rec_free(&u);
    st = sxs_q(s, "UPDATE users SET policy = NULL WHERE uri = ? AND policy IS NOT NULL", err, n);
    if (!st) return sxs_wend(s, k, SX_ST_ERROR, err, n);
    sxs_bind_text(st, 1, user_key);
  } else if (tag) {
    st = sxs_q(s, "UPDATE users SET policy = ?1 WHERE policy IS DISTINCT FROM ?1", err, n);
    if (!st) return sxs_wend(s, k, SX_ST_ERROR, err, n);
    sxs_bind_text(st, 1, stored);
  } else {
    st = sxs_q(s, "UPDATE users SET policy = NULL WHERE policy IS NOT NULL", err, n);
    if (!st) return sxs_wend(s, k, SX_ST_ERROR, err, n);
  }
  if ((r = sxs_step_done(s, st, err, n, "policy grant"))) return sxs_wend(s, k, r, err, n);
  if (changed) *changed = sxdb_changes(s->db);
  return sxs_wend(s, k, SX_ST_OK, err, n);
}
