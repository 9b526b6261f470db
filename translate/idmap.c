#include "translate/idmap.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
  uint64_t seq;     /* 0: empty */
  uint32_t nonce;
  uint64_t expires;
  sx_idmap_entry e;
} slot;

struct sx_idmap {
  slot *slots;
  size_t cap;
  uint64_t ttl, next_seq;
  uint32_t rng;
};

static uint32_t next_rand(sx_idmap *m) {
  /* xorshift32: ids only need to be unguessable by accident, not cryptographically. */
  uint32_t x = m->rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return m->rng = x;
}

sx_idmap *sx_idmap_new(size_t capacity, uint64_t ttl_ms) {
  sx_idmap *m = calloc(1, sizeof *m);
  if (!m || capacity == 0) {
    free(m);
    return NULL;
  }
  m->slots = calloc(capacity, sizeof *m->slots);
  if (!m->slots) {
    free(m);
    return NULL;
  }
  m->cap = capacity;
  m->ttl = ttl_ms;
  m->next_seq = 1;
  m->rng = (uint32_t)((uintptr_t)m ^ 0x9e3779b9u) | 1u;
  return m;
}

void sx_idmap_entry_free(sx_idmap_entry *e) {
  free(e->sender);
  free(e->target);
  free(e->call_id);
  free(e->imdn_id);
  free(e->imdn_datetime);
  memset(e, 0, sizeof *e);
}

void sx_idmap_free(sx_idmap *m) {
  size_t i;
  if (!m) return;
  for (i = 0; i < m->cap; i++) sx_idmap_entry_free(&m->slots[i].e);
  free(m->slots);
  free(m);
}

static char *dup_or_null(const char *s, int *oom) {
  char *d;
  if (!s) return NULL;
  d = strdup(s);
  if (!d) *oom = 1;
  return d;
}

int sx_idmap_put(sx_idmap *m, uint64_t now_ms, const char *sender, const char *target,
                 const char *call_id, char *id, size_t idlen) {
  sx_idmap_entry e = {.sender = (char *)sender, .target = (char *)target,
                      .call_id = (char *)call_id};
  return sx_idmap_put_entry(m, now_ms, &e, id, idlen);
}

int sx_idmap_put_entry(sx_idmap *m, uint64_t now_ms, const sx_idmap_entry *src, char *id,
                       size_t idlen) {
  slot *sl;
  sx_idmap_entry e;
  int oom = 0, n;
  uint64_t seq = m->next_seq;

  e.sender = dup_or_null(src->sender, &oom);
  e.target = dup_or_null(src->target, &oom);
  e.call_id = dup_or_null(src->call_id, &oom);
  e.imdn_id = dup_or_null(src->imdn_id, &oom);
  e.imdn_datetime = dup_or_null(src->imdn_datetime, &oom);
  e.imdn_flags = src->imdn_flags;
  if (oom) {
    sx_idmap_entry_free(&e);
    return -1;
  }
  sl = &m->slots[seq % m->cap];
  sx_idmap_entry_free(&sl->e);
  sl->seq = seq;
  sl->nonce = next_rand(m);
  sl->expires = now_ms + m->ttl;
  sl->e = e;
  m->next_seq++;
  n = snprintf(id, idlen, "sx-%" PRIx64 "-%08" PRIx32, seq, sl->nonce);
  if (n < 0 || (size_t)n >= idlen) {
    sx_idmap_entry_free(&sl->e);
    sl->seq = 0;
    return -1;
  }
  return 0;
}

/* Lower-case hex digits at *p, as many as are there but at most max; 0 when none, more than
 * max, or a leading zero in a number of several digits when canonical is set. */
static size_t hex_run(const char *p, size_t max, int canonical, uint64_t *v) {
  size_t n = 0;
  uint64_t x = 0;
  for (;; n++) {
    char c = p[n];
    unsigned d;
    if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
    else break;
    if (n == max) return 0;
    x = x << 4 | d;
  }
  if (n == 0 || (canonical && n > 1 && p[0] == '0')) return 0;
  *v = x;
  return n;
}

/* Parses an id exactly as sx_idmap_put writes it: "sx-" seq (lower-case hex, no leading
 * zero, non-zero) "-" nonce (8 lower-case hex digits), nothing after. */
static int parse_id(const char *id, uint64_t *seq, uint32_t *nonce) {
  uint64_t n;
  size_t k;
  if (!id || strncmp(id, "sx-", 3) != 0) return -1;
  id += 3;
  k = hex_run(id, 16, 1, seq);
  if (!k || *seq == 0 || id[k] != '-') return -1;
  id += k + 1;
  if (hex_run(id, 8, 0, &n) != 8 || id[8] != '\0') return -1;
  *nonce = (uint32_t)n;
  return 0;
}

int sx_idmap_take(sx_idmap *m, uint64_t now_ms, const char *id, sx_idmap_entry *e) {
  uint64_t seq;
  uint32_t nonce;
  slot *sl;

  if (parse_id(id, &seq, &nonce) != 0) return -1;
  sl = &m->slots[seq % m->cap];
  if (sl->seq != seq || sl->nonce != nonce) return -1;
  sl->seq = 0;
  if (sl->expires < now_ms) {
    sx_idmap_entry_free(&sl->e);
    return -1;
  }
  *e = sl->e;
  memset(&sl->e, 0, sizeof sl->e);
  return 0;
}
