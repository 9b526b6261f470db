#include "sip/seen.h"

#include <stdlib.h>

#define PROBE 8

typedef struct slot {
  uint64_t key;      /* 0: empty */
  uint32_t expires;  /* seconds of the table clock */
  int32_t status;
} slot;

struct sx_seen {
  slot *slots;
  size_t mask;
  uint32_t ttl_s;
};

sx_seen *sx_seen_new(size_t capacity, uint32_t ttl_ms) {
  sx_seen *t = calloc(1, sizeof *t);
  size_t n = 1;
  if (!t) return NULL;
  while (n < capacity) n <<= 1;
  t->slots = calloc(n, sizeof *t->slots);
  if (!t->slots) {
    free(t);
    return NULL;
  }
  t->mask = n - 1;
  t->ttl_s = (ttl_ms + 999) / 1000;
  return t;
}

void sx_seen_free(sx_seen *t) {
  if (!t) return;
  free(t->slots);
  free(t);
}

static slot *find(sx_seen *t, uint64_t key, uint32_t now) {
  size_t i, at = (size_t)key & t->mask;
  for (i = 0; i < PROBE; i++) {
    slot *s = &t->slots[(at + i) & t->mask];
    if (s->key == key && s->expires >= now) return s;
  }
  return NULL;
}

int sx_seen_check(sx_seen *t, uint64_t key, uint64_t now_ms) {
  uint32_t now = (uint32_t)(now_ms / 1000);
  size_t i, at = (size_t)key & t->mask;
  slot *s = find(t, key, now), *victim = NULL;
  if (s) return s->status;
  for (i = 0; i < PROBE; i++) {
    s = &t->slots[(at + i) & t->mask];
    if (!s->key || s->expires < now) {
      victim = s;
      break;
    }
    if (!victim || s->expires < victim->expires) victim = s;
  }
  victim->key = key;
  victim->expires = now + t->ttl_s;
  victim->status = 0;
  return -1;
}

void sx_seen_answer(sx_seen *t, uint64_t key, int status, uint64_t now_ms) {
  slot *s = find(t, key, (uint32_t)(now_ms / 1000));
  if (s) s->status = status;
}

uint64_t sx_seen_key(const char *const *parts, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  size_t i;
  for (i = 0; i < n; i++) {
    const unsigned char *p = (const unsigned char *)(parts[i] ? parts[i] : "");
    for (; *p; p++) h = (h ^ *p) * 0x100000001b3ULL;
    h = (h ^ 0xff) * 0x100000001b3ULL;
  }
  return h ? h : 1;
}
