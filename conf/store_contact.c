/* The store's per-user contact entries and XMPP subscription state (see store.h). */
#include "conf/store.h"

#include "conf/store_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- contacts: presence relations ---------------------------------------------------- */

void sx_contact_rec_free(sx_contact_rec *c) {
  if (!c) return;
  free(c->user);
  free(c->contact);
  memset(c, 0, sizeof *c);
}

void sx_contact_list_free(sx_contact_rec *v, size_t count) {
  if (!v) return;
  for (size_t i = 0; i < count; i++) sx_contact_rec_free(&v[i]);
  free(v);
}

static int contact_from_row(sx_dbq *st, sx_contact_rec *c) {
  memset(c, 0, sizeof *c);
  c->user = sxs_col_dup(st, 0);
  c->contact = sxs_col_dup(st, 1);
  c->rel.added = (int)sxdb_int64(st, 2) ? 1 : 0;
  sx_sub_out o = SX_OUT_NONE;
  sx_sub_in i = SX_IN_NONE;
  /* the table's CHECK constraints admit only the known names */
  (void)sx_sub_out_parse(COLS(st, 3), &o);
  (void)sx_sub_in_parse(COLS(st, 4), &i);
  c->rel.out = (uint8_t)o;
  c->rel.in = (uint8_t)i;
  c->updated = sxdb_int64(st, 5);
  if (!c->user || !c->contact) {
    sx_contact_rec_free(c);
    return -1;
  }
  return 0;
}

#define CONTACT_COLS "\"user\", contact, added, sub_out, sub_in, updated"

sx_st sx_store_contact_get(sx_store *s, const char *user, const char *contact,
                           sx_contact_rec *out, char *err, size_t n) {
  memset(out, 0, sizeof *out);
  sx_dbq *st =
      sxs_q(s, "SELECT " CONTACT_COLS " FROM contacts WHERE \"user\" = ? AND contact = ?", err, n);
  if (!st) return SX_ST_ERROR;
  sxs_bind_text(st, 1, user);
  sxs_bind_text(st, 2, contact);
  int rc = sxdb_step(st);
  sx_st r;
  if (rc == SXDB_ROW)
    r = contact_from_row(st, out) ? sxs_fail(SX_ST_ERROR, err, n, "out of memory") : SX_ST_OK;
  else if (rc == SXDB_DONE)
    r = sxs_fail(SX_ST_NOTFOUND, err, n, "%s has no contact entry for %s", user ? user : "",
             contact ? contact : "");
  else
    r = sxs_dberr(s, err, n, "contact show");
  sxdb_reset(st);
  return r;
}

sx_st sx_store_contact_add(sx_store *s, const char *user, const char *contact,
                           int *pending_in, char *err, size_t n) {
  if (pending_in) *pending_in = 0;
  sx_st r = sxs_check_key(user, "user", err, n);
  if (r || (r = sxs_check_key(contact, "contact", err, n))) return r;
  txkind k;
  if ((r = sxs_wbegin(s, &k, err, n))) return r;
  sx_contact_rec cur;
  r = sx_store_contact_get(s, user, contact, &cur, err, n);
  if (r == SX_ST_ERROR) return sxs_wend(s, k, r, err, n);
  int was_pending = r == SX_ST_OK && cur.rel.in == SX_IN_PENDING;
  if (r == SX_ST_OK) sx_contact_rec_free(&cur);
  sx_dbq *st = sxs_q(s,
                       "INSERT INTO contacts(\"user\", contact, added, updated) VALUES(?1, ?2, 1, ?3)"
                       " ON CONFLICT(\"user\", contact) DO UPDATE SET added = 1,"
                       " updated = CASE contacts.added WHEN 1 THEN contacts.updated ELSE excluded.updated END",
                       err, n);
  if (!st) return sxs_wend(s, k, SX_ST_ERROR, err, n);
  sxs_bind_text(st, 1, user);
  sxs_bind_text(st, 2, contact);
  sxdb_bind_int64(st, 3, (int64_t)time(NULL));
  r = sxs_step_done(s, st, err, n, "contact add");
  if (r == SX_ST_OK && pending_in) *pending_in = was_pending;
  return sxs_wend(s, k, r, err, n);
}

sx_st sx_store_contact_remove(sx_store *s, const char *user, const char *contact, char *err,
                              size_t n) {
  txkind k;
  sx_st r = sxs_wbegin(s, &k, err, n);
  if (r) return r;
  sx_dbq *st = sxs_q(s, "DELETE FROM contacts WHERE \"user\" = ? AND contact = ?", err, n);
  if (!st) return sxs_wend(s, k, SX_ST_ERROR, err, n);
  sxs_bind_text(st, 1, user);
  sxs_bind_text(st, 2, contact);
  if ((r = sxs_step_done(s, st, err, n, "contact remove"))) return sxs_wend(s, k, r, err, n);
  if (sxdb_changes(s->db) == 0)
    r = sxs_fail(SX_ST_NOTFOUND, err, n, "%s has no contact entry for %s", user ? user : "",
             contact ? contact : "");
  return sxs_wend(s, k, r, err, n);
}

sx_st sx_store_relation_put(sx_store *s, const char *user, const char *contact, sx_rel rel,
                            int64_t *generation, char *err, size_t n) {
  sx_st r = sxs_check_key(user, "user", err, n);
  if (r || (r = sxs_check_key(contact, "contact", err, n))) return r;
  if (rel.out > SX_OUT_SUBSCRIBED || rel.in > SX_IN_APPROVED || rel.added > 1)
    return sxs_fail(SX_ST_INVALID, err, n, "unknown relation state");
  txkind k;
  if ((r = sxs_wbegin(s, &k, err, n))) return r;
  sx_dbq *st;
  if (sx_rel_is_empty(rel)) {
    st = sxs_q(s, "DELETE FROM contacts WHERE \"user\" = ? AND contact = ?", err, n);
    if (!st) return sxs_wend(s, k, SX_ST_ERROR, err, n);
    sxs_bind_text(st, 1, user);
    sxs_bind_text(st, 2, contact);
  } else {
    st = sxs_q(s,
           "INSERT INTO contacts(\"user\", contact, added, sub_out, sub_in, updated)"
           " VALUES(?1, ?2, ?3, ?4, ?5, ?6)"
           " ON CONFLICT(\"user\", contact) DO UPDATE SET added = excluded.added,"
           " sub_out = excluded.sub_out, sub_in = excluded.sub_in, updated = excluded.updated",
           err, n);
    if (!st) return sxs_wend(s, k, SX_ST_ERROR, err, n);
    sxs_bind_text(st, 1, user);
    sxs_bind_text(st, 2, contact);
    sxdb_bind_int64(st, 3, rel.added);
    sxs_bind_text(st, 4, sx_sub_out_name((sx_sub_out)rel.out));
    sxs_bind_text(st, 5, sx_sub_in_name((sx_sub_in)rel.in));
    sxdb_bind_int64(st, 6, (int64_t)time(NULL));
  }
  if ((r = sxs_step_done(s, st, err, n, "relation write"))) return sxs_wend(s, k, r, err, n);
  /* the write lock is held: the generation after the commit is the current one plus one */
  int64_t g = sx_store_generation(s);
  if (g < 0) return sxs_wend(s, k, sxs_dberr(s, err, n, "read generation"), err, n);
  r = sxs_wend(s, k, SX_ST_OK, err, n);
  if (r == SX_ST_OK && generation) *generation = g + 1;
  return r;
}

sx_st sx_store_contact_list(sx_store *s, const char *user, sx_contact_rec **out,
                            size_t *count, char *err, size_t n) {
  *out = NULL;
  *count = 0;
  sx_dbq *st = sxs_q(s,
                       "SELECT " CONTACT_COLS " FROM contacts WHERE ?1 IS NULL OR \"user\" = ?1"
                       " ORDER BY \"user\", contact",
                       err, n);
  if (!st) return SX_ST_ERROR;
  sxs_bind_text(st, 1, user);
  sx_contact_rec *v = NULL;
  size_t cnt = 0, cap = 0;
  int rc;
  while ((rc = sxdb_step(st)) == SXDB_ROW) {
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 16;
      sx_contact_rec *nv = realloc(v, nc * sizeof *v);
      if (!nv) goto nomem;
      v = nv;
      cap = nc;
    }
    if (contact_from_row(st, &v[cnt])) goto nomem;
    cnt++;
  }
  sxdb_reset(st);
  if (rc != SXDB_DONE) {
    sx_contact_list_free(v, cnt);
    return sxs_dberr(s, err, n, "contact list");
  }
  *out = v;
  *count = cnt;
  return SX_ST_OK;
nomem:
  sxdb_reset(st);
  sx_contact_list_free(v, cnt);
  return sxs_fail(SX_ST_ERROR, err, n, "out of memory");
}
