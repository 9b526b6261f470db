/* The web console's sessions and login throttle (see admin_session.h). */
#include "gateway/admin_session.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void sx_sessions_init(sx_admin_sessions *ss, uint64_t idle_ms) {
  memset(ss, 0, sizeof *ss);
  ss->idle_ms = idle_ms;
}

static int random_hex(char out[SX_ADMIN_TOKEN_HEX + 1]) {
  static const char digits[] = "0123456789abcdef";
  unsigned char b[SX_ADMIN_TOKEN_HEX / 2];
  if (RAND_bytes(b, sizeof b) != 1) return -1;
  for (size_t i = 0; i < sizeof b; i++) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  out[SX_ADMIN_TOKEN_HEX] = 0;
  OPENSSL_cleanse(b, sizeof b);
  return 0;
}

static int expired(const sx_admin_sessions *ss, const sx_admin_session *s, uint64_t now) {
  return now >= s->last_ms && now - s->last_ms > ss->idle_ms;
}

sx_admin_session *sx_sessions_create(sx_admin_sessions *ss, const char *user, uint64_t now) {
  sx_admin_session *slot = NULL;
  for (int i = 0; i < SX_ADMIN_MAX_SESSIONS; i++) {
    sx_admin_session *s = &ss->s[i];
    if (!s->used || expired(ss, s, now)) {
      slot = s;
      break;
    }
    if (!slot || s->last_ms < slot->last_ms) slot = s; /* least recently used */
  }
  memset(slot, 0, sizeof *slot);
  if (random_hex(slot->id) || random_hex(slot->csrf)) {
    memset(slot, 0, sizeof *slot);
    return NULL;
  }
  snprintf(slot->user, sizeof slot->user, "%s", user);
  slot->last_ms = now;
  slot->created = (int64_t)time(NULL);
  slot->used = 1;
  return slot;
}

static int token_eq(const char *a, const char *b) {
  return a && b && strlen(b) == SX_ADMIN_TOKEN_HEX && strlen(a) == SX_ADMIN_TOKEN_HEX &&
         CRYPTO_memcmp(a, b, SX_ADMIN_TOKEN_HEX) == 0;
}

sx_admin_session *sx_sessions_find(sx_admin_sessions *ss, const char *id, uint64_t now) {
  if (!id || strlen(id) != SX_ADMIN_TOKEN_HEX) return NULL;
  for (int i = 0; i < SX_ADMIN_MAX_SESSIONS; i++) {
    sx_admin_session *s = &ss->s[i];
    if (!s->used || !token_eq(s->id, id)) continue;
    if (expired(ss, s, now)) {
      sx_sessions_end(ss, s);
      return NULL;
    }
    s->last_ms = now;
    return s;
  }
  return NULL;
}

void sx_sessions_end(sx_admin_sessions *ss, sx_admin_session *s) {
  (void)ss;
  if (s) OPENSSL_cleanse(s, sizeof *s);
}

int sx_session_csrf_ok(const sx_admin_session *s, const char *token) {
  return s && token_eq(s->csrf, token);
}

void sx_session_flash(sx_admin_session *s, int error, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(s->flash, sizeof s->flash, fmt, ap);
  va_end(ap);
  if (r >= 0 && (size_t)r >= sizeof s->flash) memcpy(s->flash + sizeof s->flash - 4, "...", 4);
  s->flash_error = error;
}

/* ---- login throttle ------------------------------------------------------------------ */

static sx_throttle_row *row(sx_admin_sessions *ss, const char *addr, uint64_t now, int create) {
  sx_throttle_row *free_row = NULL, *oldest = NULL;
  for (int i = 0; i < SX_THROTTLE_ADDRS; i++) {
    sx_throttle_row *r = &ss->t[i];
    if (r->start_ms && now - r->start_ms >= SX_THROTTLE_WINDOW_MS) r->start_ms = 0;
    if (r->start_ms && strcmp(r->addr, addr) == 0) return r;
    if (!r->start_ms && !free_row) free_row = r;
    if (r->start_ms && (!oldest || r->start_ms < oldest->start_ms)) oldest = r;
  }
  if (!create) return NULL;
  sx_throttle_row *r = free_row ? free_row : oldest;
  memset(r, 0, sizeof *r);
  snprintf(r->addr, sizeof r->addr, "%s", addr);
  r->start_ms = now ? now : 1;
  return r;
}

int sx_throttle_allowed(sx_admin_sessions *ss, const char *addr, uint64_t now,
                        unsigned *retry_s) {
  uint64_t until = 0;
  if (ss->global_start_ms && now - ss->global_start_ms >= SX_THROTTLE_WINDOW_MS) {
    ss->global_start_ms = 0;
    ss->global_fails = 0;
  }
  if (ss->global_fails >= SX_THROTTLE_GLOBAL) until = ss->global_start_ms + SX_THROTTLE_WINDOW_MS;
  sx_throttle_row *r = row(ss, addr, now, 0);
  if (r && r->fails >= SX_THROTTLE_PER_ADDR && r->start_ms + SX_THROTTLE_WINDOW_MS > until)
    until = r->start_ms + SX_THROTTLE_WINDOW_MS;
  if (!until || until <= now) return 1;
  if (retry_s) *retry_s = (unsigned)((until - now + 999) / 1000);
  return 0;
}

void sx_throttle_failed(sx_admin_sessions *ss, const char *addr, uint64_t now) {
  sx_throttle_row *r = row(ss, addr, now, 1);
  r->fails++;
  if (!ss->global_start_ms) ss->global_start_ms = now ? now : 1;
  ss->global_fails++;
}

void sx_throttle_succeeded(sx_admin_sessions *ss, const char *addr) {
  for (int i = 0; i < SX_THROTTLE_ADDRS; i++)
    if (ss->t[i].start_ms && strcmp(ss->t[i].addr, addr) == 0) memset(&ss->t[i], 0, sizeof ss->t[i]);
}
