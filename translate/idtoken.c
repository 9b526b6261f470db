#include "translate/idtoken.h"

#include <stdlib.h>
#include <string.h>

#define TAG_LEN 16
#define VERSION 1
#define NFIELDS 5
#define PAYLOAD_MAX ((SX_IDTOK_MAX - 5 - 22) * 3 / 4) /* prefix, dot, tag text */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding; returns the characters written (out must hold 4*ceil(n/3)). */
static size_t b64_enc(const unsigned char *in, size_t n, char *out) {
  size_t o = 0, i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = B64[v >> 18 & 63];
    out[o++] = B64[v >> 12 & 63];
    out[o++] = B64[v >> 6 & 63];
    out[o++] = B64[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = B64[v >> 18 & 63];
    out[o++] = B64[v >> 12 & 63];
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = B64[v >> 18 & 63];
    out[o++] = B64[v >> 12 & 63];
    out[o++] = B64[v >> 6 & 63];
  }
  return o;
}

static int b64_val(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

/* Decodes n characters into out[cap]; returns the bytes, or -1 when malformed or too long. */
static long b64_dec(const char *in, size_t n, unsigned char *out, size_t cap) {
  if (n % 4 == 1) return -1;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64_val(in[i]);
    if (v < 0) return -1;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o >= cap) return -1;
      out[o++] = (unsigned char)(acc >> bits & 0xff);
    }
  }
  if (bits && (acc & ((1u << bits) - 1))) return -1; /* non-canonical trailing bits */
  return (long)o;
}

int sx_idtok_is_token(const char *id) {
  return id && strncmp(id, SX_IDTOK_PREFIX, strlen(SX_IDTOK_PREFIX)) == 0;
}

static int tag_of(sx_idtok_mac_fn mac, void *ctx, const char *text, size_t len,
                  unsigned char tag[TAG_LEN]) {
  unsigned char full[64];
  size_t n = mac(ctx, (const unsigned char *)text, len, full);
  if (n < TAG_LEN || n > sizeof full) return -1;
  memcpy(tag, full, TAG_LEN);
  return 0;
}

int sx_idtok_encode(const sx_idmap_entry *e, uint64_t expires_ms, sx_idtok_mac_fn mac,
                    void *ctx, char *id, size_t idlen) {
  const char *f[NFIELDS] = {e->sender, e->target, e->call_id, e->imdn_id, e->imdn_datetime};
  unsigned char p[PAYLOAD_MAX];
  size_t n = 0;
  if (n + 10 > sizeof p) return -2;
  p[n++] = VERSION;
  for (int i = 7; i >= 0; i--) p[n++] = (unsigned char)(expires_ms >> (8 * i));
  p[n++] = (unsigned char)(e->imdn_flags & 0xff);
  for (int i = 0; i < NFIELDS; i++) {
    /* 0xffff marks a NULL field */
    size_t l = f[i] ? strlen(f[i]) : 0;
    if (f[i] && l >= 0xffff) return -2;
    if (n + 2 + l > sizeof p) return -2;
    unsigned v = f[i] ? (unsigned)l : 0xffffu;
    p[n++] = (unsigned char)(v >> 8);
    p[n++] = (unsigned char)(v & 0xff);
    if (l) memcpy(p + n, f[i], l);
    n += l;
  }
  size_t pre = strlen(SX_IDTOK_PREFIX);
  size_t need = pre + (n * 4 + 2) / 3 + 1 + (TAG_LEN * 4 + 2) / 3;
  if (need > SX_IDTOK_MAX || need + 1 > idlen) return -2;
  memcpy(id, SX_IDTOK_PREFIX, pre);
  size_t o = pre + b64_enc(p, n, id + pre);
  unsigned char tag[TAG_LEN];
  if (tag_of(mac, ctx, id, o, tag)) return -1;
  id[o++] = '.';
  o += b64_enc(tag, TAG_LEN, id + o);
  id[o] = '\0';
  return 0;
}

int sx_idtok_decode(const char *id, uint64_t now_ms, sx_idtok_mac_fn mac, void *ctx,
                    sx_idmap_entry *out) {
  if (!sx_idtok_is_token(id)) return -1;
  size_t len = strnlen(id, SX_IDTOK_MAX + 1);
  if (len > SX_IDTOK_MAX) return -1;
  const char *dot = memchr(id + 4, '.', len - 4);
  if (!dot) return -1;
  size_t text_len = (size_t)(dot - id);
  unsigned char tag[TAG_LEN + 2], want[TAG_LEN];
  if (b64_dec(dot + 1, len - text_len - 1, tag, sizeof tag) != TAG_LEN) return -1;
  if (tag_of(mac, ctx, id, text_len, want)) return -1;
  unsigned diff = 0;
  for (int i = 0; i < TAG_LEN; i++) diff |= (unsigned)(tag[i] ^ want[i]);
  if (diff) return -1;
  unsigned char p[PAYLOAD_MAX + 3];
  long n = b64_dec(id + 4, text_len - 4, p, sizeof p);
  if (n < 10 || p[0] != VERSION) return -1;
  uint64_t exp = 0;
  for (int i = 1; i <= 8; i++) exp = exp << 8 | p[i];
  sx_idmap_entry e = {0};
  e.imdn_flags = p[9];
  char **dst[NFIELDS] = {&e.sender, &e.target, &e.call_id, &e.imdn_id, &e.imdn_datetime};
  size_t at = 10;
  for (int i = 0; i < NFIELDS; i++) {
    if (at + 2 > (size_t)n) goto bad;
    unsigned v = (unsigned)p[at] << 8 | p[at + 1];
    at += 2;
    if (v == 0xffffu) continue;
    if (at + v > (size_t)n || memchr(p + at, '\0', v)) goto bad;
    if (!(*dst[i] = malloc(v + 1))) goto bad;
    memcpy(*dst[i], p + at, v);
    (*dst[i])[v] = '\0';
    at += v;
  }
  if (at != (size_t)n || !e.sender || !e.target || !e.call_id) goto bad;
  if (now_ms >= exp) {
    sx_idmap_entry_free(&e);
    return -2;
  }
  *out = e;
  return 0;
bad:
  sx_idmap_entry_free(&e);
  return -1;
}
