/* Bounded key → deadline table (see quiet.h): chained hash, FNV-1a. */
#include "translate/quiet.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
  struct entry *next;
  uint64_t until;
  char key[];
} entry;

struct sx_quiet {
  entry **buckets;
  size_t n_buckets, count, capacity;
};

static size_t hash(const char *s, size_t n_buckets) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return (size_t)(h % n_buckets);
}

sx_quiet *sx_quiet_new(size_t capacity) {
  if (capacity == 0) return NULL;
  sx_quiet *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  q->capacity = capacity;
  q->n_buckets = capacity < 1024 ? capacity : 1024 + capacity / 4;
  q->buckets = calloc(q->n_buckets, sizeof *q->buckets);
  if (!q->buckets) {
    free(q);
    return NULL;
  }
  return q;
}

void sx_quiet_free(sx_quiet *q) {
  if (!q) return;
  for (size_t i = 0; i < q->n_buckets; i++) {
    entry *e = q->buckets[i];
    while (e) {
      entry *n = e->next;
      free(e);
      e = n;
    }
  }
  free(q->buckets);
  free(q);
}

static void prune(sx_quiet *q, uint64_t now) {
  for (size_t i = 0; i < q->n_buckets; i++) {
    entry **pp = &q->buckets[i];
    while (*pp) {
      entry *e = *pp;
      if (e->until <= now) {
        *pp = e->next;
        free(e);
        q->count--;
      } else {
        pp = &e->next;
      }
    }
  }
}

int sx_quiet_add(sx_quiet *q, const char *key, uint64_t until_ms, uint64_t now_ms) {
  if (!q || !key) return -1;
  size_t b = hash(key, q->n_buckets);
  for (entry *e = q->buckets[b]; e; e = e->next) {
    if (!strcmp(e->key, key)) {
      if (until_ms > e->until) e->until = until_ms;
      return 0;
    }
  }
  if (q->count >= q->capacity) prune(q, now_ms);
  if (q->count >= q->capacity) return -1;
  size_t n = strlen(key);
  entry *e = malloc(sizeof *e + n + 1);
  if (!e) return -1;
  memcpy(e->key, key, n + 1);
  e->until = until_ms;
  e->next = q->buckets[b];
  q->buckets[b] = e;
  q->count++;
  return 0;
}

int sx_quiet_check(sx_quiet *q, const char *key, uint64_t now_ms) {
  if (!q || !key) return 0;
  entry **pp = &q->buckets[hash(key, q->n_buckets)];
  for (; *pp; pp = &(*pp)->next) {
    entry *e = *pp;
    if (strcmp(e->key, key)) continue;
    if (e->until > now_ms) return 1;
    *pp = e->next;
    free(e);
    q->count--;
    return 0;
  }
  return 0;
}

size_t sx_quiet_count(const sx_quiet *q) { return q ? q->count : 0; }
