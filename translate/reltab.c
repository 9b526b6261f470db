/* The daemon's relation table (translate/reltab.h): two chained hash tables over the same
 * nodes — by (user, contact) and by user — and a vector of every node for walks that stay
 * valid while entries are added. */
#include "translate/reltab.h"

#include <stdlib.h>
#include <string.h>

typedef struct node {
  sx_relent e; /* first: a sx_relent * is a node * */
  struct node *next_pair, *next_user;
  uint32_t hpair, huser;
  char keys[]; /* "user\0contact\0" */
} node;

struct sx_reltab {
  node **pair_b, **user_b; /* buckets, nb each (a power of two) */
  size_t nb;
  node **all; /* every node, in creation order */
  size_t n, cap;
  size_t key_bytes;
  uint64_t seq;
};

/* FNV-1a */
static uint32_t hash_str(const char *s, uint32_t h) {
  if (!h) h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static uint32_t hash_pair(const char *user, const char *contact) {
  return hash_str(contact, hash_str("\x01", hash_str(user, 0)));
}

sx_reltab *sx_reltab_new(void) {
  sx_reltab *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->nb = 64;
  t->pair_b = calloc(t->nb, sizeof *t->pair_b);
  t->user_b = calloc(t->nb, sizeof *t->user_b);
  if (!t->pair_b || !t->user_b) {
    sx_reltab_free(t);
    return NULL;
  }
  return t;
}

void sx_reltab_free(sx_reltab *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n; i++) free(t->all[i]);
  free(t->all);
  free(t->pair_b);
  free(t->user_b);
  free(t);
}

static int grow(sx_reltab *t) {
  size_t nb = t->nb * 2;
  node **pb = calloc(nb, sizeof *pb), **ub = calloc(nb, sizeof *ub);
  if (!pb || !ub) {
    free(pb);
    free(ub);
    return -1;
  }
  for (size_t i = 0; i < t->n; i++) {
    node *x = t->all[i];
    x->next_pair = pb[x->hpair & (nb - 1)];
    pb[x->hpair & (nb - 1)] = x;
    x->next_user = ub[x->huser & (nb - 1)];
    ub[x->huser & (nb - 1)] = x;
  }
  free(t->pair_b);
  free(t->user_b);
  t->pair_b = pb;
  t->user_b = ub;
  t->nb = nb;
  return 0;
}

static node *find(const sx_reltab *t, const char *user, const char *contact, uint32_t h) {
  for (node *x = t->pair_b[h & (t->nb - 1)]; x; x = x->next_pair)
    if (x->hpair == h && strcmp(x->e.user, user) == 0 && strcmp(x->e.contact, contact) == 0)
      return x;
  return NULL;
}

sx_relent *sx_reltab_find(const sx_reltab *t, const char *user, const char *contact) {
  if (!t || !user || !contact) return NULL;
  node *x = find(t, user, contact, hash_pair(user, contact));
  return x ? &x->e : NULL;
}

static node *add(sx_reltab *t, const char *user, const char *contact, uint32_t h) {
  if (t->n >= t->nb && grow(t)) return NULL;
  if (t->n == t->cap) {
    size_t nc = t->cap ? t->cap * 2 : 64;
    node **v = realloc(t->all, nc * sizeof *v);
    if (!v) return NULL;
    t->all = v;
    t->cap = nc;
  }
  size_t ul = strlen(user), cl = strlen(contact);
  node *x = calloc(1, sizeof *x + ul + cl + 2);
  if (!x) return NULL;
  memcpy(x->keys, user, ul + 1);
  memcpy(x->keys + ul + 1, contact, cl + 1);
  x->e.user = x->keys;
  x->e.contact = x->keys + ul + 1;
  x->hpair = h;
  x->huser = hash_str(user, 0);
  x->next_pair = t->pair_b[h & (t->nb - 1)];
  t->pair_b[h & (t->nb - 1)] = x;
  x->next_user = t->user_b[x->huser & (t->nb - 1)];
  t->user_b[x->huser & (t->nb - 1)] = x;
  t->all[t->n++] = x;
  t->key_bytes += ul + cl + 2;
  return x;
}

sx_relent *sx_reltab_get(sx_reltab *t, const char *user, const char *contact) {
  if (!t || !user || !contact) return NULL;
  uint32_t h = hash_pair(user, contact);
  node *x = find(t, user, contact, h);
  if (!x) x = add(t, user, contact, h);
  return x ? &x->e : NULL;
}

int sx_reltab_load(sx_reltab *t, const sx_policy_snap *snap) {
  if (!t) return -1;
  size_t n = sx_snap_relation_count(snap);
  int64_t gen = sx_snap_generation(snap);
  for (size_t i = 0; i < n; i++) {
    const char *u, *c;
    sx_rel r;
    if (sx_snap_relation_at(snap, i, &u, &c, &r)) continue;
    uint32_t h = hash_pair(u, c);
    if (find(t, u, c, h)) continue;
    node *x = add(t, u, c, h);
    if (!x) return -1;
    r.suspended = 0;
    x->e.rel = r;
    x->e.written_gen = gen;
  }
  return 0;
}

uint64_t sx_reltab_set(sx_reltab *t, sx_relent *e, sx_rel next) {
  if (!t || !e) return 0;
  int differs = sx_rel_persisted_differs(e->rel, next);
  e->rel = next;
  if (!differs) return 0;
  e->ticket = ++t->seq;
  return e->ticket;
}

void sx_reltab_written(sx_reltab *t, const char *user, const char *contact, uint64_t ticket,
                       int64_t gen) {
  sx_relent *e = sx_reltab_find(t, user, contact);
  if (!e || ticket == 0 || ticket != e->ticket || gen < 0) return;
  e->done = ticket;
  e->written_gen = gen;
}

long sx_reltab_reconcile(sx_reltab *t, const sx_policy_snap *snap, sx_reltab_change_fn cb,
                         void *arg) {
  if (!t) return -1;
  int64_t gen = sx_snap_generation(snap);
  long changes = 0;
  /* relations only in the snapshot get an (empty) entry first */
  size_t ns = sx_snap_relation_count(snap);
  for (size_t i = 0; i < ns; i++) {
    const char *u, *c;
    if (sx_snap_relation_at(snap, i, &u, &c, NULL)) continue;
    uint32_t h = hash_pair(u, c);
    if (!find(t, u, c, h) && !add(t, u, c, h)) return -1;
  }
  size_t n = t->n; /* entries the callback might add are not walked */
  for (size_t i = 0; i < n; i++) {
    sx_relent *e = &t->all[i]->e;
    if (e->ticket != e->done || e->written_gen > gen) continue; /* our own write in flight */
    sx_rel after = sx_snap_relation(snap, e->user, e->contact);
    if (!sx_rel_persisted_differs(e->rel, after)) continue;
    after.suspended = e->rel.suspended;
    changes++;
    uint64_t ticket = e->ticket;
    if (cb) cb(arg, e, e->rel, after);
    if (e->ticket == ticket) {
      /* a callback that wrote nothing adopts the store's state */
      after.suspended = e->rel.suspended;
      e->rel = after;
    } else if (!sx_rel_persisted_differs(e->rel, after)) {
      /* it set exactly what the store holds: nothing is in flight that matters */
      e->done = e->ticket;
      if (e->written_gen < gen) e->written_gen = gen;
    }
  }
  return changes;
}

void sx_reltab_each(sx_reltab *t, sx_reltab_each_fn fn, void *arg) {
  if (!t || !fn) return;
  size_t n = t->n;
  for (size_t i = 0; i < n; i++) fn(arg, &t->all[i]->e);
}

void sx_reltab_each_of_user(sx_reltab *t, const char *user, sx_reltab_each_fn fn, void *arg) {
  if (!t || !user || !fn) return;
  uint32_t h = hash_str(user, 0);
  for (node *x = t->user_b[h & (t->nb - 1)]; x; x = x->next_user)
    if (x->huser == h && strcmp(x->e.user, user) == 0) fn(arg, &x->e);
}

void sx_reltab_get_stats(const sx_reltab *t, sx_reltab_stats *out) {
  memset(out, 0, sizeof *out);
  if (!t) return;
  out->entries = t->n;
  for (size_t i = 0; i < t->n; i++) {
    const sx_relent *e = &t->all[i]->e;
    out->relations += !sx_rel_is_empty(e->rel);
    out->out_pending += e->rel.out == SX_OUT_PENDING;
    out->out_subscribed += e->rel.out == SX_OUT_SUBSCRIBED;
    out->in_pending += e->rel.in == SX_IN_PENDING;
    out->in_approved += e->rel.in == SX_IN_APPROVED;
    out->added += e->rel.added;
    out->suspended += e->rel.suspended;
    out->unwritten += e->ticket != e->done;
  }
  out->bytes = sizeof *t + 2 * t->nb * sizeof(node *) + t->cap * sizeof(node *) +
               t->n * sizeof(node) + t->key_bytes;
}
