/* The store's instance heartbeats, named leases and notifications (see store.h). Single statements in
 * autocommit (or inside the caller's transaction); they do not bump the generation. */
#include "conf/store.h"

#include "conf/store_internal.h"

#include <stdlib.h>
#include <string.h>

void sx_instance_list_free(sx_instance_rec *v, size_t count) {
  if (!v) return;
  for (size_t i = 0; i < count; i++) {
    free(v[i].id);
    free(v[i].host);
    free(v[i].http);
  }
  free(v);
}

void sx_lease_list_free(sx_lease_rec *v, size_t count) {
  if (!v) return;
  for (size_t i = 0; i < count; i++) {
    free(v[i].name);
    free(v[i].holder);
  }
  free(v);
}

static sx_st check_name(const char *v, const char *what, char *err, size_t n) {
  if (!v || !*v || strlen(v) > 255)
    return sxs_fail(SX_ST_INVALID, err, n, "%s must be 1 to 255 characters", what);
  return SX_ST_OK;
}

sx_st sx_store_instance_beat(sx_store *s, const char *id, const char *host, long pid,
                             const char *http, int64_t now_ms, char *err, size_t n) {
  sx_st r = check_name(id, "instance id", err, n);
  if (r || (r = check_name(host, "host name", err, n))) return r;
  sx_dbq *st = sxs_q(s,
                     "INSERT INTO instances(id, host, pid, http, started, heartbeat)"
                     " VALUES(?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT(id) DO UPDATE SET"
                     " host = excluded.host, pid = excluded.pid, http = excluded.http,"
                     " heartbeat = excluded.heartbeat",
                     err, n);
  if (!st) return SX_ST_ERROR;
  sxs_bind_text(st, 1, id);
  sxs_bind_text(st, 2, host);
  sxdb_bind_int64(st, 3, pid);
  sxs_bind_text(st, 4, http);
  sxdb_bind_int64(st, 5, now_ms);
  return sxs_step_done(s, st, err, n, "instance heartbeat");
}

sx_st sx_store_instance_remove(sx_store *s, const char *id, char *err, size_t n) {
  sx_dbq *st = sxs_q(s, "DELETE FROM leases WHERE holder = ?", err, n);
  if (!st) return SX_ST_ERROR;
  sxs_bind_text(st, 1, id);
  sx_st r = sxs_step_done(s, st, err, n, "instance leases");
  if (r) return r;
  if (!(st = sxs_q(s, "DELETE FROM instances WHERE id = ?", err, n))) return SX_ST_ERROR;
  sxs_bind_text(st, 1, id);
  if ((r = sxs_step_done(s, st, err, n, "instance remove"))) return r;
  if (sxdb_changes(s->db) == 0)
    return sxs_fail(SX_ST_NOTFOUND, err, n, "no instance %s in the store", id ? id : "");
  return SX_ST_OK;
}

sx_st sx_store_instance_list(sx_store *s, int64_t now_ms, sx_instance_rec **out,
                             size_t *count, char *err, size_t n) {
  *out = NULL;
  *count = 0;
  sx_dbq *st = sxs_q(s,
                     "SELECT i.id, i.host, i.pid, i.http, i.started, i.heartbeat,"
                     " (SELECT COUNT(*) FROM leases l WHERE l.holder = i.id AND l.expires > ?1)"
                     " FROM instances i ORDER BY i.id",
                     err, n);
  if (!st) return SX_ST_ERROR;
  sxdb_bind_int64(st, 1, now_ms);
  sx_instance_rec *v = NULL;
  size_t cnt = 0, cap = 0;
  int rc;
  while ((rc = sxdb_step(st)) == SXDB_ROW) {
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 8;
      sx_instance_rec *nv = realloc(v, nc * sizeof *v);
      if (!nv) goto nomem;
      v = nv;
      cap = nc;
    }
    sx_instance_rec *r = &v[cnt];
    memset(r, 0, sizeof *r);
    cnt++;
    r->id = sxs_col_dup(st, 0);
    r->host = sxs_col_dup(st, 1);
    r->pid = (long)sxdb_int64(st, 2);
    r->http = sxs_col_dup(st, 3);
    r->started = sxdb_int64(st, 4);
    r->heartbeat = sxdb_int64(st, 5);
    r->leases = (long)sxdb_int64(st, 6);
    if (!r->id || !r->host || (!sxdb_isnull(st, 3) && !r->http)) goto nomem;
  }
  sxdb_reset(st);
  if (rc != SXDB_DONE) {
    sx_instance_list_free(v, cnt);
    return sxs_dberr(s, err, n, "instance list");
  }
  *out = v;
  *count = cnt;
  return SX_ST_OK;
nomem:
  sxdb_reset(st);
  sx_instance_list_free(v, cnt);
  return sxs_fail(SX_ST_ERROR, err, n, "out of memory");
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static sx_st lease_args(const char *name, const char *holder, int64_t ttl_ms, char *err,
                        size_t n) {
  sx_st r = check_name(name, "lease name", err, n);
  if (r || (r = check_name(holder, "lease holder", err, n))) return r;
  if (ttl_ms <= 0) return sxs_fail(SX_ST_INVALID, err, n, "lease time must be positive");
  return SX_ST_OK;
}

sx_st sx_store_lease_acquire(sx_store *s, const char *name, const char *holder, int64_t now_ms,
                             int64_t ttl_ms, char **current, char *err, size_t n) {
  if (current) *current = NULL;
  sx_st r = lease_args(name, holder, ttl_ms, err, n);
  if (r) return r;
  sx_dbq *st = sxs_q(s,
                     "INSERT INTO leases(name, holder, expires) VALUES(?1, ?2, ?3)"
                     " ON CONFLICT(name) DO UPDATE SET holder = excluded.holder,"
                     " expires = excluded.expires"
                     " WHERE leases.holder = excluded.holder OR leases.expires <= ?4",
                     err, n);
  if (!st) return SX_ST_ERROR;
  sxs_bind_text(st, 1, name);
  sxs_bind_text(st, 2, holder);
  sxdb_bind_int64(st, 3, now_ms + ttl_ms);
  sxdb_bind_int64(st, 4, now_ms);
  if ((r = sxs_step_done(s, st, err, n, "lease acquire"))) return r;
  if (sxdb_changes(s->db) == 1) return SX_ST_OK;
  if (current && (st = sxs_q(s, "SELECT holder FROM leases WHERE name = ?", err, n))) {
    sxs_bind_text(st, 1, name);
    if (sxdb_step(st) == SXDB_ROW) *current = sxs_col_dup(st, 0);
    sxdb_reset(st);
  }
  return sxs_fail(SX_ST_EXISTS, err, n, "lease %s is held by another instance", name);
}

sx_st sx_store_lease_renew(sx_store *s, const char *name, const char *holder, int64_t now_ms,
                           int64_t ttl_ms, char *err, size_t n) {
  sx_st r = lease_args(name, holder, ttl_ms, err, n);
  if (r) return r;
  sx_dbq *st = sxs_q(s,
                     "UPDATE leases SET expires = ?3 WHERE name = ?1 AND holder = ?2"
                     " AND expires > ?4",
                     err, n);
  if (!st) return SX_ST_ERROR;
  sxs_bind_text(st, 1, name);
  sxs_bind_text(st, 2, holder);
  sxdb_bind_int64(st, 3, now_ms + ttl_ms);
  sxdb_bind_int64(st, 4, now_ms);
  if ((r = sxs_step_done(s, st, err, n, "lease renew"))) return r;
  if (sxdb_changes(s->db) == 0)
    return sxs_fail(SX_ST_NOTFOUND, err, n, "lease %s is no longer held by %s", name, holder);
  return SX_ST_OK;
}

sx_st sx_store_lease_renew_all(sx_store *s, const char *holder, const char *prefix,
                               int64_t now_ms, int64_t ttl_ms, char ***names, size_t *count,
                               char *err, size_t n) {
  *names = NULL;
  *count = 0;
  sx_st r = lease_args("-", holder, ttl_ms, err, n);
  if (r) return r;
  if (prefix && strlen(prefix) > 255)
    return sxs_fail(SX_ST_INVALID, err, n, "lease prefix must be at most 255 characters");
  /* substr() rather than LIKE: a prefix is matched literally, whatever it holds. */
  sx_dbq *st = sxs_q(s,
                     "UPDATE leases SET expires = ?2 WHERE holder = ?1 AND expires > ?3"
                     " AND substr(name, 1, length(?4)) = ?4 RETURNING name",
                     err, n);
  if (!st) return SX_ST_ERROR;
  sxs_bind_text(st, 1, holder);
  sxdb_bind_int64(st, 2, now_ms + ttl_ms);
  sxdb_bind_int64(st, 3, now_ms);
  sxs_bind_text(st, 4, prefix ? prefix : "");
  char **v = NULL;
  size_t cnt = 0, cap = 0;
  int rc;
  while ((rc = sxdb_step(st)) == SXDB_ROW) {
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 16;
      char **nv = realloc(v, nc * sizeof *v);
      if (!nv) goto nomem;
      v = nv;
      cap = nc;
    }
    if (!(v[cnt] = sxs_col_dup(st, 0))) goto nomem;
    cnt++;
  }
  sxdb_reset(st);
  if (rc != SXDB_DONE) {
    sx_admin_list_free(v, cnt);
    return sxs_dberr(s, err, n, "lease renew");
  }
  if (cnt > 1) qsort(v, cnt, sizeof *v, cmp_str);
  *names = v;
  *count = cnt;
  return SX_ST_OK;
nomem:
  sxdb_reset(st);
  sx_admin_list_free(v, cnt);
  return sxs_fail(SX_ST_ERROR, err, n, "out of memory");
}

sx_st sx_store_lease_release(sx_store *s, const char *name, const char *holder, char *err,
                             size_t n) {
  sx_dbq *st = sxs_q(s, "DELETE FROM leases WHERE name = ?1 AND holder = ?2", err, n);
  if (!st) return SX_ST_ERROR;
  sxs_bind_text(st, 1, name);
  sxs_bind_text(st, 2, holder);
  sx_st r = sxs_step_done(s, st, err, n, "lease release");
  if (r) return r;
  if (sxdb_changes(s->db) == 0)
    return sxs_fail(SX_ST_NOTFOUND, err, n, "lease %s is not held by %s", name ? name : "",
                    holder ? holder : "");
  return SX_ST_OK;
}

sx_st sx_store_lease_list(sx_store *s, const char *holder, int with_expired, int64_t now_ms,
                          sx_lease_rec **out, size_t *count, char *err, size_t n) {
  *out = NULL;
  *count = 0;
  sx_dbq *st = sxs_q(s,
                     "SELECT name, holder, expires FROM leases WHERE (?1 IS NULL OR holder = ?1)"
                     " AND (?2 = 1 OR expires > ?3) ORDER BY name",
                     err, n);
  if (!st) return SX_ST_ERROR;
  sxs_bind_text(st, 1, holder);
  sxdb_bind_int64(st, 2, with_expired ? 1 : 0);
  sxdb_bind_int64(st, 3, now_ms);
  sx_lease_rec *v = NULL;
  size_t cnt = 0, cap = 0;
  int rc;
  while ((rc = sxdb_step(st)) == SXDB_ROW) {
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 16;
      sx_lease_rec *nv = realloc(v, nc * sizeof *v);
      if (!nv) goto nomem;
      v = nv;
      cap = nc;
    }
    sx_lease_rec *r = &v[cnt++];
    r->name = sxs_col_dup(st, 0);
    r->holder = sxs_col_dup(st, 1);
    r->expires = sxdb_int64(st, 2);
    if (!r->name || !r->holder) goto nomem;
  }
  sxdb_reset(st);
  if (rc != SXDB_DONE) {
    sx_lease_list_free(v, cnt);
    return sxs_dberr(s, err, n, "lease list");
  }
  *out = v;
  *count = cnt;
  return SX_ST_OK;
nomem:
  sxdb_reset(st);
  sx_lease_list_free(v, cnt);
  return sxs_fail(SX_ST_ERROR, err, n, "out of memory");
}

sx_st sx_store_listen(sx_store *s, const char *channel, char *err, size_t n) {
  return sxdb_listen(s->db, channel) ? sxs_dberr(s, err, n, "listen") : SX_ST_OK;
}

sx_st sx_store_notify(sx_store *s, const char *channel, const char *payload, char *err,
                      size_t n) {
  return sxdb_notify(s->db, channel, payload) ? sxs_dberr(s, err, n, "notify") : SX_ST_OK;
}

int sx_store_notify_fd(sx_store *s) { return sxdb_socket(s->db); }

int sx_store_next_notice(sx_store *s, char **channel, char **payload, char *err, size_t n) {
  int r = sxdb_next_notice(s->db, channel, payload);
  if (r < 0) sxs_dberr(s, err, n, "notification");
  return r;
}
