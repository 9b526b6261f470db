#include "gateway/stanza_id.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "translate/log.h"

struct sx_stanza_ids {
  unsigned char key[32];
  sx_idmap *local;
  uint64_t ttl_ms;
};

static size_t hmac_sha256(void *ctx, const unsigned char *msg, size_t len, unsigned char *out) {
  const sx_stanza_ids *s = ctx;
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), s->key, sizeof s->key, msg, len, out, &n)) return 0;
  return n;
}

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

sx_stanza_ids *sx_stanza_ids_new(const char *secret, size_t capacity, uint64_t ttl_ms) {
  static const char label[] = "sipxmpp stanza id v1";
  if (!secret || !*secret) return NULL;
  sx_stanza_ids *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)label,
            sizeof label - 1, s->key, &n) ||
      n != sizeof s->key || !(s->local = sx_idmap_new(capacity, ttl_ms))) {
    free(s);
    return NULL;
  }
  s->ttl_ms = ttl_ms;
  return s;
}

void sx_stanza_ids_free(sx_stanza_ids *s) {
  if (!s) return;
  sx_idmap_free(s->local);
  memset(s->key, 0, sizeof s->key);
  free(s);
}

int sx_stanza_ids_put(sx_stanza_ids *s, uint64_t mono_ms, const sx_idmap_entry *e, char *id,
                      size_t idlen) {
  int r = sx_idtok_encode(e, wall_ms() + s->ttl_ms, hmac_sha256, s, id, idlen);
  if (r == 0) return 0;
  if (r == -1) return -1;
  /* too large for a token: only this instance can answer an error for it */
  sx_debug("im", "stanza id: entry too large for a token, kept locally");
  return sx_idmap_put_entry(s->local, mono_ms, e, id, idlen);
}

int sx_stanza_ids_take(sx_stanza_ids *s, uint64_t mono_ms, const char *id, sx_idmap_entry *e) {
  if (!id) return -1;
  if (!sx_idtok_is_token(id)) return sx_idmap_take(s->local, mono_ms, id, e);
  int r = sx_idtok_decode(id, wall_ms(), hmac_sha256, s, e);
  if (r == -1) sx_warn("im", "stanza id that is not ours or was altered: ignored");
  return r == 0 ? 0 : -1;
}
