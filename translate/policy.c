/* The policy snapshot and the decision of SPEC §5 (see policy.h); the admin's input is
 * checked in policy_input.c. */
#include "translate/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- names of the decision's values ------------------------------------------------ */

const char *sx_verdict_name(sx_verdict v) {
  switch (v) {
  case SX_ALLOW: return "allow";
  case SX_DENY: return "deny";
  case SX_PENDING: return "pending";
  }
  return "?";
}
const char *sx_pdir_name(sx_pdir d) { return d == SX_DIR_IN ? "inbound" : "outbound"; }
const char *sx_kind_name(sx_kind k) {
  switch (k) {
  case SX_KIND_MESSAGE: return "message";
  case SX_KIND_SUBSCRIBE: return "subscribe";
  case SX_KIND_PRESENCE: return "presence";
  case SX_KIND_PROBE: return "probe";
  }
  return "?";
}

/* ---- arena and hash tables ----------------------------------------------------------- */

typedef struct chunk {
  struct chunk *next;
  size_t used, cap;
  char data[];
} chunk;

static char *arena_dup(chunk **head, const char *s, size_t len) {
  chunk *c = *head;
  if (!c || c->cap - c->used < len + 1) {
    size_t cap = len + 1 > 65536 - sizeof(chunk) ? len + 1 : 65536 - sizeof(chunk);
    c = malloc(sizeof(chunk) + cap);
    if (!c) return NULL;
    c->next = *head;
    c->used = 0;
    c->cap = cap;
    *head = c;
  }
  char *p = c->data + c->used;
  memcpy(p, s, len);
  p[len] = '\0';
  c->used += len + 1;
  return p;
}

#define FNV_BASIS 1469598103934665603ull

/* FNV-1a over len bytes of s, continuing from h; `fold` lower-cases ASCII. */
static uint64_t fnv_add(uint64_t h, const char *s, size_t len, int fold) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (fold && c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

/* The final mix of an FNV-1a state, folded to 32 bits. */
static uint32_t fnv_mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return (uint32_t)h;
}

/* FNV-1a with a final mix; `fold` lower-cases ASCII and ignores one trailing dot. */
static uint32_t hash_str(const char *s, int fold) {
  size_t len = strlen(s);
  if (fold && len && s[len - 1] == '.') len--;
  return fnv_mix(fnv_add(FNV_BASIS, s, len, fold));
}

/* "site:" + name hashed as one case-folded string, without building it. */
static uint32_t hash_site_policy(const char *site) {
  size_t len = strlen(site);
  if (len && site[len - 1] == '.') len--; /* as hash_str(..., 1) does for the policy name */
  return fnv_mix(fnv_add(fnv_add(FNV_BASIS, "site:", 5, 0), site, len, 1));
}

static uint32_t hash_pair(uint32_t a, uint32_t b) {
  uint64_t h = ((uint64_t)a << 32 | b) * 0x9e3779b97f4a7c15ull;
  return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

/* Domain equality: case-insensitive ASCII, one trailing dot on either side ignored. */
static int dom_eq(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la && a[la - 1] == '.') la--;
  if (lb && b[lb - 1] == '.') lb--;
  return la == lb && strncasecmp(a, b, la) == 0;
}

typedef struct {
  uint32_t hash;
  uint32_t idx1; /* item index + 1; 0 = empty */
} slot;

typedef struct {
  slot *slots;
  uint32_t mask; /* capacity - 1; capacity is a power of two */
  uint32_t n;
} htab;

/* Puts item idx1 under hash h in the first free slot of its probe chain; the table must
 * have a free slot. */
static void ht_insert(htab *t, uint32_t h, uint32_t idx1) {
  uint32_t i = h & t->mask;
  while (t->slots[i].idx1) i = (i + 1) & t->mask;
  t->slots[i].hash = h;
  t->slots[i].idx1 = idx1;
  t->n++;
}

static int ht_grow(htab *t) {
  uint32_t cap = t->slots ? (t->mask + 1) * 2 : 16;
  htab nt = {calloc(cap, sizeof(slot)), cap - 1, 0};
  if (!nt.slots) return -1;
  for (uint32_t i = 0; t->slots && i <= t->mask; i++)
    if (t->slots[i].idx1) ht_insert(&nt, t->slots[i].hash, t->slots[i].idx1);
  free(t->slots);
  *t = nt;
  return 0;
}

/* Walks the probe chain of hash h: returns the index of the next item whose stored hash
 * is h, or -1 at the end of the chain. *pos starts as h and is advanced by each call. */
static long ht_next(const htab *t, uint32_t h, uint32_t *pos) {
  if (!t->slots) return -1;
  for (uint32_t i = *pos & t->mask; t->slots[i].idx1; i = (i + 1) & t->mask) {
    if (t->slots[i].hash == h) {
      *pos = i + 1;
      return t->slots[i].idx1 - 1;
    }
  }
  return -1;
}

/* ---- the snapshot -------------------------------------------------------------------- */

typedef struct {
  const char *name;
  sx_scope scope;
  unsigned flags;
} pol_t;

typedef struct {
  const char *key;
  const char *site; /* NULL if none */
  const char *tag;  /* NULL if none */
  uint32_t site_hash, tag_hash;
} usr_t;

typedef struct {
  const char *domain;
  sx_ptype type;
} part_t;

typedef struct {
  const char *domain;
  uint32_t partner; /* index into parts */
} dom_t;

typedef struct {
  const char *user, *contact;
  sx_rel rel;
} ct_t;

#define VEC(T) struct { T *v; size_t n, cap; }

struct sx_policy_snap {
  chunk *arena;
  VEC(pol_t) pols;
  VEC(usr_t) users;
  VEC(part_t) parts;
  VEC(dom_t) doms;
  VEC(ct_t) cts;
  htab hpol, husr, hdom, hct;
  int64_t generation;
  int broken; /* an allocation failed while building */
};

/* Room for element n; marks the snapshot broken when out of memory. */
static int vec_reserve(sx_policy_snap *s, void **v, size_t *cap, size_t n, size_t elem) {
  if (n < *cap) return 0;
  size_t nc = *cap ? *cap * 2 : 64;
  void *nv = realloc(*v, nc * elem);
  if (!nv) {
    s->broken = 1;
    return -1;
  }
  *v = nv;
  *cap = nc;
  return 0;
}
/* A new element at the end of a snapshot vector, or NULL (snapshot broken). */
#define VEC_PUSH(s, vec)                                                            \
  (vec_reserve((s), (void **)&(vec).v, &(vec).cap, (vec).n, sizeof(*(vec).v)) \
       ? NULL                                                                  \
       : &(vec).v[(vec).n++])

sx_policy_snap *sx_snap_new(void) { return calloc(1, sizeof(sx_policy_snap)); }

void sx_snap_free(sx_policy_snap *s) {
  if (!s) return;
  for (chunk *c = s->arena, *n; c; c = n) {
    n = c->next;
    free(c);
  }
  free(s->pols.v);
  free(s->users.v);
  free(s->parts.v);
  free(s->doms.v);
  free(s->cts.v);
  free(s->hpol.slots);
  free(s->husr.slots);
  free(s->hdom.slots);
  free(s->hct.slots);
  free(s);
}

void sx_snap_set_generation(sx_policy_snap *s, int64_t g) {
  if (s) s->generation = g;
}
int64_t sx_snap_generation(const sx_policy_snap *s) { return s ? s->generation : 0; }

void sx_snap_get_counts(const sx_policy_snap *s, sx_snap_counts *out) {
  memset(out, 0, sizeof *out);
  if (!s) return;
  out->policies = s->pols.n;
  out->users = s->users.n;
  out->partners = s->parts.n;
  out->domains = s->doms.n;
  out->contacts = s->cts.n;
}

static char *sdup(sx_policy_snap *s, const char *str) {
  if (!str) return NULL;
  char *p = arena_dup(&s->arena, str, strlen(str));
  if (!p) s->broken = 1;
  return p;
}

static int ht_prepare(sx_policy_snap *s, htab *t) {
  if (!t->slots || (t->n + 1) * 2 > t->mask + 1) {
    if (ht_grow(t)) {
      s->broken = 1;
      return -1;
    }
  }
  return 0;
}

static long pol_find(const sx_policy_snap *s, const char *name, uint32_t h) {
  uint32_t pos = h;
  for (long idx; (idx = ht_next(&s->hpol, h, &pos)) >= 0;)
    if (strcasecmp(s->pols.v[idx].name, name) == 0) return idx;
  return -1;
}

/* The policy "site:<site>" without building the name. */
static long site_pol_find(const sx_policy_snap *s, const char *site, uint32_t h) {
  uint32_t pos = h;
  for (long idx; (idx = ht_next(&s->hpol, h, &pos)) >= 0;) {
    const char *nm = s->pols.v[idx].name;
    if (strncasecmp(nm, "site:", 5) == 0 && strcasecmp(nm + 5, site) == 0) return idx;
  }
  return -1;
}

int sx_snap_add_policy(sx_policy_snap *s, const char *name, unsigned flags) {
  if (!s || s->broken || !name) return -1;
  sx_scope scope;
  char canon[256];
  if (sx_policy_name_check(name, &scope, canon, sizeof canon, NULL, 0) != 0) return -1;
  uint32_t h = hash_str(canon, 1);
  long at = pol_find(s, canon, h);
  if (at >= 0) {
    s->pols.v[at].flags = flags & SX_POL_ALL;
    return 0;
  }
  if (ht_prepare(s, &s->hpol)) return -1;
  pol_t *p = VEC_PUSH(s, s->pols);
  if (!p) return -1;
  p->name = sdup(s, canon);
  p->scope = scope;
  p->flags = flags & SX_POL_ALL;
  if (!p->name) return -1;
  ht_insert(&s->hpol, h, (uint32_t)s->pols.n);
  return 0;
}

static long usr_find(const sx_policy_snap *s, const char *key, uint32_t h) {
  uint32_t pos = h;
  for (long idx; (idx = ht_next(&s->husr, h, &pos)) >= 0;)
    if (strcmp(s->users.v[idx].key, key) == 0) return idx;
  return -1;
}

int sx_snap_add_user(sx_policy_snap *s, const char *user_key, const char *site,
                     const char *tag) {
  if (!s || s->broken || !user_key || !*user_key) return -1;
  if (site && !*site) site = NULL;
  if (tag && !*tag) tag = NULL;
  if (tag && strncasecmp(tag, "tag:", 4) == 0) tag += 4;
  uint32_t h = hash_str(user_key, 0);
  long at = usr_find(s, user_key, h);
  usr_t *u;
  if (at >= 0) {
    u = &s->users.v[at];
  } else {
    if (ht_prepare(s, &s->husr)) return -1;
    u = VEC_PUSH(s, s->users);
    if (!u) return -1;
    u->key = sdup(s, user_key);
    if (!u->key) return -1;
    ht_insert(&s->husr, h, (uint32_t)s->users.n);
  }
  u->site = site ? sdup(s, site) : NULL;
  u->tag = tag ? sdup(s, tag) : NULL;
  if ((site && !u->site) || (tag && !u->tag)) return -1;
  u->site_hash = site ? hash_site_policy(site) : 0;
  u->tag_hash = tag ? hash_str(tag, 1) : 0;
  return 0;
}

static long dom_find(const sx_policy_snap *s, const char *domain, uint32_t h) {
  uint32_t pos = h;
  for (long idx; (idx = ht_next(&s->hdom, h, &pos)) >= 0;)
    if (dom_eq(s->doms.v[idx].domain, domain)) return idx;
  return -1;
}

static int dom_put(sx_policy_snap *s, const char *domain, uint32_t partner) {
  uint32_t h = hash_str(domain, 1);
  long at = dom_find(s, domain, h);
  if (at >= 0) {
    s->doms.v[at].partner = partner;
    return 0;
  }
  if (ht_prepare(s, &s->hdom)) return -1;
  dom_t *d = VEC_PUSH(s, s->doms);
  if (!d) return -1;
  d->domain = sdup(s, domain);
  d->partner = partner;
  if (!d->domain) return -1;
  ht_insert(&s->hdom, h, (uint32_t)s->doms.n);
  return 0;
}

int sx_snap_add_partner(sx_policy_snap *s, const char *domain, sx_ptype type) {
  if (!s || s->broken || !domain || !*domain || (unsigned)type > 2) return -1;
  long at = dom_find(s, domain, hash_str(domain, 1));
  if (at >= 0 && dom_eq(s->parts.v[s->doms.v[at].partner].domain, domain)) {
    s->parts.v[s->doms.v[at].partner].type = type;
    return 0;
  }
  part_t *p = VEC_PUSH(s, s->parts);
  if (!p) return -1;
  p->domain = sdup(s, domain);
  p->type = type;
  if (!p->domain) return -1;
  return dom_put(s, domain, (uint32_t)(s->parts.n - 1));
}

int sx_snap_add_partner_domain(sx_policy_snap *s, const char *primary, const char *domain) {
  if (!s || s->broken || !primary || !domain || !*domain) return -1;
  long at = dom_find(s, primary, hash_str(primary, 1));
  if (at < 0) return -1;
  uint32_t partner = s->doms.v[at].partner;
  if (!dom_eq(s->parts.v[partner].domain, primary)) return -1; /* not a primary */
  return dom_put(s, domain, partner);
}

static long ct_find(const sx_policy_snap *s, const char *user, const char *contact,
                    uint32_t h) {
  uint32_t pos = h;
  for (long idx; (idx = ht_next(&s->hct, h, &pos)) >= 0;)
    if (strcmp(s->cts.v[idx].user, user) == 0 && strcmp(s->cts.v[idx].contact, contact) == 0)
      return idx;
  return -1;
}

int sx_snap_add_relation(sx_policy_snap *s, const char *user_key, const char *contact_key,
                         sx_rel rel) {
  if (!s || s->broken || !user_key || !contact_key || rel.out > SX_OUT_SUBSCRIBED ||
      rel.in > SX_IN_APPROVED || rel.added > 1)
    return -1;
  rel.suspended = 0;
  uint32_t h = hash_pair(hash_str(user_key, 0), hash_str(contact_key, 0));
  long at = ct_find(s, user_key, contact_key, h);
  if (at >= 0) {
    s->cts.v[at].rel = rel;
    return 0;
  }
  if (sx_rel_is_empty(rel)) return 0;
  if (ht_prepare(s, &s->hct)) return -1;
  ct_t *c = VEC_PUSH(s, s->cts);
  if (!c) return -1;
  c->user = sdup(s, user_key);
  c->contact = sdup(s, contact_key);
  c->rel = rel;
  if (!c->user || !c->contact) return -1;
  ht_insert(&s->hct, h, (uint32_t)s->cts.n);
  return 0;
}

sx_rel sx_snap_relation(const sx_policy_snap *s, const char *user_key,
                        const char *contact_key) {
  if (!s || !user_key || !contact_key) return SX_REL_NONE;
  long at = ct_find(s, user_key, contact_key,
                    hash_pair(hash_str(user_key, 0), hash_str(contact_key, 0)));
  return at >= 0 ? s->cts.v[at].rel : SX_REL_NONE;
}

size_t sx_snap_relation_count(const sx_policy_snap *s) { return s ? s->cts.n : 0; }

int sx_snap_relation_at(const sx_policy_snap *s, size_t i, const char **user,
                        const char **contact, sx_rel *rel) {
  if (!s || i >= s->cts.n) return -1;
  if (user) *user = s->cts.v[i].user;
  if (contact) *contact = s->cts.v[i].contact;
  if (rel) *rel = s->cts.v[i].rel;
  return 0;
}

/* The effective policy and the scope it came from ("user", "site", "global"). */
static const pol_t *effective(const sx_policy_snap *s, const char *user_key,
                              const char **scope_out, const usr_t **user_out) {
  const usr_t *u = NULL;
  if (s && user_key) {
    long at = usr_find(s, user_key, hash_str(user_key, 0));
    if (at >= 0) u = &s->users.v[at];
  }
  if (user_out) *user_out = u;
  if (!s) return NULL;
  if (u && u->tag) {
    long p = pol_find(s, u->tag, u->tag_hash);
    if (p >= 0 && s->pols.v[p].scope == SX_SCOPE_TAG) {
      *scope_out = "user";
      return &s->pols.v[p];
    }
  }
  if (u && u->site) {
    long p = site_pol_find(s, u->site, u->site_hash);
    if (p >= 0) {
      *scope_out = "site";
      return &s->pols.v[p];
    }
  }
  static const char global[] = "global";
  long p = pol_find(s, global, hash_str(global, 1));
  *scope_out = "global";
  return p >= 0 ? &s->pols.v[p] : NULL;
}

unsigned sx_snap_effective(const sx_policy_snap *s, const char *user_key, const char **name,
                           sx_scope *scope) {
  const char *sc = "global";
  const pol_t *p = effective(s, user_key, &sc, NULL);
  if (name) *name = p ? p->name : NULL;
  if (scope) *scope = p ? p->scope : SX_SCOPE_GLOBAL;
  return p ? p->flags : 0;
}

int sx_snap_partner(const sx_policy_snap *s, const char *domain, const char **primary,
                    sx_ptype *type) {
  if (!s || !domain) return 0;
  long at = dom_find(s, domain, hash_str(domain, 1));
  if (at < 0) return 0;
  const part_t *p = &s->parts.v[s->doms.v[at].partner];
  if (primary) *primary = p->domain;
  if (type) *type = p->type;
  return 1;
}

/* ---- the decision -------------------------------------------------------------------- */

static void reason(sx_decision *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reason(sx_decision *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(d->reason, sizeof d->reason, fmt, ap);
  va_end(ap);
  if (r < 0) {
    snprintf(d->reason, sizeof d->reason, "%s (reason text could not be formatted)",
             d->reason_code);
    d->reason_truncated = 1;
  } else if ((size_t)r >= sizeof d->reason) {
    memcpy(d->reason + sizeof d->reason - 4, "...", 4);
    d->reason_truncated = 1;
  }
}

static void allow(sx_decision *d) {
  d->verdict = SX_ALLOW;
  d->reason_code = "allowed";
}

static void deny(sx_decision *d, const char *code, const char *cond, int sip) {
  d->verdict = SX_DENY;
  d->reason_code = code;
  d->xmpp_condition = cond;
  d->sip_status = sip;
}

/* "policy 'FedPic' granted to the user", "site policy 'site:redmond'", "global policy". */
static const char *scope_words(const char *scope) {
  if (!scope) return "no";
  if (scope[0] == 'u') return "per-user";
  if (scope[0] == 's') return "site";
  return "global";
}

static void decide(const sx_policy_snap *s, const char *user_key, const char *ext_domain,
                   const char *ext_bare_key, int have_rel, sx_rel rel,
                   sx_pdir dir, sx_kind kind, sx_decision *out) {
  out->verdict = SX_DENY;
  out->reason_code = NULL;
  out->reason[0] = '\0';
  out->reason_truncated = 0;
  out->xmpp_condition = NULL;
  out->sip_status = 0;
  out->strip_status_notes = 1;
  out->policy_name = NULL;
  out->policy_scope = NULL;
  out->partner_domain = NULL;
  out->partner_type = SX_PT_PUBLIC_UNVERIFIED;

  const char *kname = sx_kind_name(kind), *dname = sx_pdir_name(dir);
  if (!user_key || !*user_key || !ext_domain || !*ext_domain) {
    deny(out, "bad_address", "jid-malformed", 400);
    reason(out, "%s %s refused: %s", dname, kname,
           !user_key || !*user_key ? "no internal user address" : "no external domain");
    return;
  }

  /* 1. the external domain must be a partner's primary or additional domain */
  long at = s ? dom_find(s, ext_domain, hash_str(ext_domain, 1)) : -1;
  if (at < 0) {
    deny(out, "not_partner", "service-unavailable", 403);
    reason(out, "%s is not an XMPP partner", ext_domain);
    return;
  }
  const part_t *part = &s->parts.v[s->doms.v[at].partner];
  out->partner_domain = part->domain;
  out->partner_type = part->type;
  out->strip_status_notes = part->type != SX_PT_FEDERATED;
  int via_additional = !dom_eq(part->domain, ext_domain);

  /* 2. the internal user's effective policy must enable XMPP */
  const char *scope = NULL;
  const pol_t *pol = effective(s, user_key, &scope, NULL);
  out->policy_name = pol ? pol->name : NULL;
  out->policy_scope = pol ? scope : NULL;
  if (!pol || !(pol->flags & SX_POL_XMPP)) {
    deny(out, "user_not_enabled", "forbidden", 403);
    if (pol)
      reason(out, "%s is not enabled for XMPP: %s policy '%s' has EnableXmppAccess off",
             user_key, scope_words(scope), pol->name);
    else
      reason(out, "%s is not enabled for XMPP: no policy applies (no global policy)",
             user_key);
    return;
  }

  char pdesc[64];
  snprintf(pdesc, sizeof pdesc, "%s partner", sx_ptype_name(part->type));

  /* 4. outbound to a partner: allowed for an enabled user */
  if (dir == SX_DIR_OUT) {
    allow(out);
    reason(out, "outbound %s allowed: %s partner %s%s%s%s, %s enabled by %s policy '%s'", kname,
           sx_ptype_name(part->type), part->domain, via_additional ? " (via additional domain " : "",
           via_additional ? ext_domain : "", via_additional ? ")" : "", user_key,
           scope_words(scope), pol->name);
    return;
  }

  /* 3. inbound, by partner type */
  if (part->type != SX_PT_PUBLIC_UNVERIFIED) {
    allow(out);
    reason(out,
           "inbound %s allowed: %s %s%s%s%s (%s), %s enabled by %s policy '%s'", kname, pdesc,
           part->domain, via_additional ? " (via additional domain " : "",
           via_additional ? ext_domain : "", via_additional ? ")" : "",
           kind == SX_KIND_SUBSCRIBE ? "subscriptions approved without asking"
           : part->type == SX_PT_FEDERATED ? "sees status notes"
                                           : "status notes removed",
           user_key, scope_words(scope), pol->name);
    return;
  }
  sx_rel cs = have_rel ? rel : sx_snap_relation(s, user_key, ext_bare_key);
  const char *who = ext_bare_key && *ext_bare_key ? ext_bare_key : ext_domain;
  if (cs.added) {
    allow(out);
    reason(out,
           "inbound %s allowed: %s is a PublicUnverified partner and %s added %s as a "
           "contact; %s enabled by %s policy '%s'",
           kname, part->domain, user_key, who, user_key, scope_words(scope), pol->name);
    return;
  }
  if (kind == SX_KIND_SUBSCRIBE) {
    out->verdict = SX_PENDING;
    out->reason_code = "pending_contact";
    reason(out,
           "inbound subscribe pending: %s is a PublicUnverified partner; held until %s adds %s "
           "as a contact",
           part->domain, user_key, who);
    return;
  }
  deny(out, "not_in_contacts", "forbidden", 403);
  reason(out,
         "inbound %s refused: %s is a PublicUnverified partner and %s has not added %s as a "
         "contact",
         kname, part->domain, user_key, who);
}

void sx_decide(const sx_policy_snap *s, const char *user_key, const char *ext_domain,
               const char *ext_bare_key, sx_pdir dir, sx_kind kind, sx_decision *out) {
  decide(s, user_key, ext_domain, ext_bare_key, 0, SX_REL_NONE, dir, kind, out);
}

void sx_decide_with_relation(const sx_policy_snap *s, const char *user_key,
                             const char *ext_domain, sx_rel rel, sx_pdir dir, sx_kind kind,
                             sx_decision *out) {
  decide(s, user_key, ext_domain, NULL, 1, rel, dir, kind, out);
}
