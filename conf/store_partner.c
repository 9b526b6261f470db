/* The store's XMPP partners and their additional domains (see store.h). */
#include "conf/store.h"

#include "conf/store_internal.h"

#include "translate/address.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- partners ------------------------------------------------------------------------ */

int sx_partner_rec_init(sx_partner_rec *p, const char *domain) {
  memset(p, 0, sizeof *p);
  p->type = SX_PT_PUBLIC_UNVERIFIED;
  p->tls = SX_NEGO_REQUIRED;
  p->sasl = SX_NEGO_REQUIRED;
  p->dialback = 1;
  p->keepalive = 1;
  p->connection_limit = 0;
  p->domain = sxs_xstrdup(domain);
  p->description = strdup("");
  if ((domain && !p->domain) || !p->description) {
    sx_partner_rec_free(p);
    return -1;
  }
  return 0;
}

void sx_partner_rec_free(sx_partner_rec *p) {
  if (!p) return;
  free(p->domain);
  for (size_t i = 0; i < p->n_additional; i++) free(p->additional[i]);
  free(p->additional);
  free(p->description);
  free(p->proxy_fqdn);
  memset(p, 0, sizeof *p);
}

void sx_partner_list_free(sx_partner_rec *v, size_t count) {
  if (!v) return;
  for (size_t i = 0; i < count; i++) sx_partner_rec_free(&v[i]);
  free(v);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Normalised copies of a record's domains, checked. */
typedef struct {
  char primary[SX_JID_PART_MAX + 1];
  char **extra;
  size_t n_extra;
  char proxy[SX_JID_PART_MAX + 1];
} norm_t;

static void norm_free(norm_t *nm) {
  for (size_t i = 0; i < nm->n_extra; i++) free(nm->extra[i]);
  free(nm->extra);
}

static sx_st partner_check(const sx_partner_rec *p, norm_t *nm, char *warn, size_t wn,
                           char *err, size_t n) {
  char msg[512];
  memset(nm, 0, sizeof *nm);
  if (warn && wn) warn[0] = '\0';
  if (sx_domain_normalize(p->domain, nm->primary, sizeof nm->primary, msg, sizeof msg))
    return sxs_fail(SX_ST_INVALID, err, n, "partner domain: %s", msg);
  if ((unsigned)p->type > 2 || (unsigned)p->tls > 2 || (unsigned)p->sasl > 2)
    return sxs_fail(SX_ST_INVALID, err, n, "partner %s: unknown type or negotiation value",
                    nm->primary);
  if (p->connection_limit < 0)
    return sxs_fail(SX_ST_INVALID, err, n,
                    "partner %s: ConnectionLimit must be 0 (no limit) or a positive number",
                    nm->primary);
  if (p->proxy_fqdn && *p->proxy_fqdn &&
      sx_domain_normalize(p->proxy_fqdn, nm->proxy, sizeof nm->proxy, msg, sizeof msg))
    return sxs_fail(SX_ST_INVALID, err, n, "partner %s: ProxyFqdn: %s", nm->primary, msg);
  int v = sx_partner_validate(p->tls, p->sasl, p->dialback, msg, sizeof msg);
  if (v < 0) return sxs_fail(SX_ST_INVALID, err, n, "partner %s: %s", nm->primary, msg);
  if (v > 0 && warn) sxs_seterr(warn, wn, "partner %s: %s", nm->primary, msg);
  if (p->n_additional) {
    nm->extra = calloc(p->n_additional, sizeof(char *));
    if (!nm->extra) return sxs_fail(SX_ST_ERROR, err, n, "out of memory");
  }
  for (size_t i = 0; i < p->n_additional; i++) {
    char buf[SX_JID_PART_MAX + 1];
    if (sx_domain_normalize(p->additional[i], buf, sizeof buf, msg, sizeof msg)) {
      norm_free(nm);
      return sxs_fail(SX_ST_INVALID, err, n, "partner %s: additional domain: %s", nm->primary, msg);
    }
    if (strcmp(buf, nm->primary) == 0) {
      norm_free(nm);
      return sxs_fail(SX_ST_INVALID, err, n,
                      "partner %s: the primary domain cannot also be an additional domain",
                      nm->primary);
    }
    if (!(nm->extra[i] = strdup(buf))) {
      norm_free(nm);
      return sxs_fail(SX_ST_ERROR, err, n, "out of memory");
    }
    nm->n_extra++;
  }
  if (nm->n_extra > 1) qsort(nm->extra, nm->n_extra, sizeof(char *), cmp_str);
  for (size_t i = 1; i < nm->n_extra; i++)
    if (strcmp(nm->extra[i - 1], nm->extra[i]) == 0) {
      sx_st r = sxs_fail(SX_ST_INVALID, err, n, "partner %s: additional domain %s listed twice",
                         nm->primary, nm->extra[i]);
      norm_free(nm);
      return r;
    }
  return SX_ST_OK;
}

/* The primary domain of the partner owning `domain` (primary or additional) into owner, and
 * whether it is the primary. NOTFOUND if none. */
static sx_st domain_owner(sx_store *s, const char *domain, char *owner, size_t on,
                          int *is_primary, char *err, size_t n) {
  sx_dbq *st = sxs_q(s,
                           "SELECT domain, 1 FROM partners WHERE domain = ?1 UNION ALL"
                           " SELECT partner, 0 FROM partner_domains WHERE domain = ?1",
                           err, n);
  if (!st) return SX_ST_ERROR;
  sxs_bind_text(st, 1, domain);
  int rc = sxdb_step(st);
  sx_st r;
  if (rc == SXDB_ROW) {
    snprintf(owner, on, "%s", COLS(st, 0));
    if (is_primary) *is_primary = (int)sxdb_int64(st, 1);
    r = SX_ST_OK;
  } else if (rc == SXDB_DONE) {
    r = SX_ST_NOTFOUND;
  } else {
    r = sxs_dberr(s, err, n, "partner lookup");
  }
  sxdb_reset(st);
  return r;
}

static sx_st partner_write(sx_store *s, int create, const sx_partner_rec *p, char *warn,
                           size_t wn, char *err, size_t n) {
  norm_t nm;
  sx_st r = partner_check(p, &nm, warn, wn, err, n);
  if (r) return r;
  txkind k;
  if ((r = sxs_wbegin(s, &k, err, n))) {
    norm_free(&nm);
    return r;
  }
  char owner[SX_JID_PART_MAX + 1];
  int prim = 0;
  r = domain_owner(s, nm.primary, owner, sizeof owner, &prim, err, n);
  if (r == SX_ST_ERROR) goto done;
  if (r == SX_ST_OK && !prim) {
    r = sxs_fail(SX_ST_INVALID, err, n,
                 "%s is already an additional domain of partner %s; remove it there first "
                 "(partner set %s --remove-domain %s)",
                 nm.primary, owner, owner, nm.primary);
    goto done;
  }
  if (create && r == SX_ST_OK) {
    r = sxs_fail(SX_ST_EXISTS, err, n, "partner %s already exists; change it with: partner set",
                 nm.primary);
    goto done;
  }
  if (!create && r == SX_ST_NOTFOUND) {
    r = sxs_fail(SX_ST_NOTFOUND, err, n, "no partner %s; create it with: partner new %s",
                 nm.primary, nm.primary);
    goto done;
  }
  for (size_t i = 0; i < nm.n_extra; i++) {
    r = domain_owner(s, nm.extra[i], owner, sizeof owner, &prim, err, n);
    if (r == SX_ST_ERROR) goto done;
    if (r == SX_ST_OK && strcmp(owner, nm.primary) != 0) {
      r = sxs_fail(SX_ST_INVALID, err, n, "%s already belongs to partner %s (as its %s domain)",
                   nm.extra[i], owner, prim ? "primary" : "additional");
      goto done;
    }
  }
  sx_dbq *st =
      sxs_q(s,
            "INSERT INTO partners(domain, description, type, tls, sasl, dialback,"
            " keepalive, connection_limit, proxy_fqdn) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)"
            " ON CONFLICT(domain) DO UPDATE SET description = excluded.description,"
            " type = excluded.type, tls = excluded.tls, sasl = excluded.sasl,"
            " dialback = excluded.dialback, keepalive = excluded.keepalive,"
            " connection_limit = excluded.connection_limit,"
            " proxy_fqdn = excluded.proxy_fqdn",
            err, n);
  if (!st) {
    r = SX_ST_ERROR;
    goto done;
  }
  sxs_bind_text(st, 1, nm.primary);
  sxs_bind_text(st, 2, p->description ? p->description : "");
  sxs_bind_text(st, 3, sx_ptype_name(p->type));
  sxs_bind_text(st, 4, sx_nego_name(p->tls));
  sxs_bind_text(st, 5, sx_nego_name(p->sasl));
  sxdb_bind_int64(st, 6, !!p->dialback);
  sxdb_bind_int64(st, 7, !!p->keepalive);
  sxdb_bind_int64(st, 8, p->connection_limit);
  sxs_bind_text(st, 9, nm.proxy[0] ? nm.proxy : NULL);
  if ((r = sxs_step_done(s, st, err, n, "partner write"))) goto done;
  if (!(st = sxs_q(s, "DELETE FROM partner_domains WHERE partner = ?", err, n))) {
    r = SX_ST_ERROR;
    goto done;
  }
  sxs_bind_text(st, 1, nm.primary);
  if ((r = sxs_step_done(s, st, err, n, "partner write"))) goto done;
  for (size_t i = 0; i < nm.n_extra; i++) {
    if (!(st = sxs_q(s, "INSERT INTO partner_domains(domain, partner) VALUES(?, ?)", err, n))) {
      r = SX_ST_ERROR;
      goto done;
    }
    sxs_bind_text(st, 1, nm.extra[i]);
    sxs_bind_text(st, 2, nm.primary);
    if ((r = sxs_step_done(s, st, err, n, "partner write"))) goto done;
  }
  r = SX_ST_OK;
done:
  norm_free(&nm);
  return sxs_wend(s, k, r, err, n);
}

sx_st sx_store_partner_new(sx_store *s, const sx_partner_rec *p, char *warn, size_t wn,
                           char *err, size_t n) {
  return partner_write(s, 1, p, warn, wn, err, n);
}

sx_st sx_store_partner_update(sx_store *s, const sx_partner_rec *p, char *warn, size_t wn,
                              char *err, size_t n) {
  return partner_write(s, 0, p, warn, wn, err, n);
}

static sx_st partner_fill(sx_store *s, sx_dbq *row, sx_partner_rec *p, char *err,
                          size_t n) {
  memset(p, 0, sizeof *p);
  p->domain = sxs_col_dup(row, 0);
  p->description = sxs_col_dup(row, 1);
  if (!p->description) p->description = strdup("");
  p->type = sxs_ptype_of(COLS(row, 2));
  p->tls = sxs_nego_of(COLS(row, 3));
  p->sasl = sxs_nego_of(COLS(row, 4));
  p->dialback = (int)sxdb_int64(row, 5);
  p->keepalive = (int)sxdb_int64(row, 6);
  p->connection_limit = (long)sxdb_int64(row, 7);
  p->proxy_fqdn = sxs_col_dup(row, 8);
  if (!p->domain || !p->description) {
    sx_partner_rec_free(p);
    return sxs_fail(SX_ST_ERROR, err, n, "out of memory");
  }
  sx_dbq *st =
      sxs_q(s, "SELECT domain FROM partner_domains WHERE partner = ? ORDER BY domain", err, n);
  if (!st) {
    sx_partner_rec_free(p);
    return SX_ST_ERROR;
  }
  sxs_bind_text(st, 1, p->domain);
  size_t cap = 0;
  int rc;
  while ((rc = sxdb_step(st)) == SXDB_ROW) {
    if (p->n_additional == cap) {
      size_t nc = cap ? cap * 2 : 4;
      char **nv = realloc(p->additional, nc * sizeof(char *));
      if (!nv) goto nomem;
      p->additional = nv;
      cap = nc;
    }
    if (!(p->additional[p->n_additional] = sxs_col_dup(st, 0))) goto nomem;
    p->n_additional++;
  }
  sxdb_reset(st);
  if (rc != SXDB_DONE) {
    sx_partner_rec_free(p);
    return sxs_dberr(s, err, n, "partner domains");
  }
  return SX_ST_OK;
nomem:
  sxdb_reset(st);
  sx_partner_rec_free(p);
  return sxs_fail(SX_ST_ERROR, err, n, "out of memory");
}

#define PARTNER_COLS \
  "domain, description, type, tls, sasl, dialback, keepalive, connection_limit, proxy_fqdn"

sx_st sx_store_partner_get(sx_store *s, const char *domain, sx_partner_rec *out, char *err,
                           size_t n) {
  memset(out, 0, sizeof *out);
  char nd[SX_JID_PART_MAX + 1], msg[512], owner[SX_JID_PART_MAX + 1];
  if (sx_domain_normalize(domain, nd, sizeof nd, msg, sizeof msg))
    return sxs_fail(SX_ST_INVALID, err, n, "%s", msg);
  sx_st r = domain_owner(s, nd, owner, sizeof owner, NULL, err, n);
  if (r == SX_ST_NOTFOUND)
    return sxs_fail(r, err, n, "%s is not an XMPP partner (see: partner list)", nd);
  if (r) return r;
  sx_dbq *st = sxs_q(s, "SELECT " PARTNER_COLS " FROM partners WHERE domain = ?", err, n);
  if (!st) return SX_ST_ERROR;
  sxs_bind_text(st, 1, owner);
  int rc = sxdb_step(st);
  if (rc != SXDB_ROW) {
    sxdb_reset(st);
    return rc == SXDB_DONE ? sxs_fail(SX_ST_NOTFOUND, err, n, "%s is not an XMPP partner", nd)
                             : sxs_dberr(s, err, n, "partner show");
  }
  /* partner_fill uses another statement; this row stays valid until reset */
  r = partner_fill(s, st, out, err, n);
  sxdb_reset(st);
  return r;
}

sx_st sx_store_partner_list(sx_store *s, sx_partner_rec **out, size_t *count, char *err,
                            size_t n) {
  *out = NULL;
  *count = 0;
  sx_dbq *st = sxs_q(s, "SELECT " PARTNER_COLS " FROM partners ORDER BY domain", err, n);
  if (!st) return SX_ST_ERROR;
  sx_partner_rec *v = NULL;
  size_t cnt = 0, cap = 0;
  int rc;
  sx_st r = SX_ST_OK;
  while ((rc = sxdb_step(st)) == SXDB_ROW) {
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 16;
      sx_partner_rec *nv = realloc(v, nc * sizeof *v);
      if (!nv) {
        r = sxs_fail(SX_ST_ERROR, err, n, "out of memory");
        break;
      }
      v = nv;
      cap = nc;
    }
    if ((r = partner_fill(s, st, &v[cnt], err, n))) break;
    cnt++;
  }
  sxdb_reset(st);
  if (r == SX_ST_OK && rc != SXDB_DONE) r = sxs_dberr(s, err, n, "partner list");
  if (r) {
    sx_partner_list_free(v, cnt);
    return r;
  }
  *out = v;
  *count = cnt;
  return SX_ST_OK;
}

sx_st sx_store_partner_remove(sx_store *s, const char *domain, char *err, size_t n) {
  char nd[SX_JID_PART_MAX + 1], msg[512], owner[SX_JID_PART_MAX + 1];
  if (sx_domain_normalize(domain, nd, sizeof nd, msg, sizeof msg))
    return sxs_fail(SX_ST_INVALID, err, n, "%s", msg);
  txkind k;
  sx_st r = sxs_wbegin(s, &k, err, n);
  if (r) return r;
  int prim = 0;
  r = domain_owner(s, nd, owner, sizeof owner, &prim, err, n);
  if (r == SX_ST_NOTFOUND)
    sxs_fail(r, err, n, "%s is not an XMPP partner (see: partner list)", nd);
  else if (r == SX_ST_OK && !prim)
    r = sxs_fail(SX_ST_INVALID, err, n,
                 "%s is an additional domain of partner %s; remove it with: partner set %s "
                 "--remove-domain %s (or remove the partner %s)",
                 nd, owner, owner, nd, owner);
  if (r) return sxs_wend(s, k, r, err, n);
  sx_dbq *st = sxs_q(s, "DELETE FROM partners WHERE domain = ?", err, n);
  if (!st) return sxs_wend(s, k, SX_ST_ERROR, err, n);
  sxs_bind_text(st, 1, nd);
  return sxs_wend(s, k, sxs_step_done(s, st, err, n, "partner remove"), err, n);
}
