/* Self-contained stanza ids (translate/idtoken.h): round trip, tampering, a wrong key,
 * expiry, NULL fields, the size bound and malformed input. The MAC here is a toy keyed hash
 * (translate/ has no cryptography; gateway/stanza_id.c passes HMAC-SHA256). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "translate/idtoken.h"

#define CHECK_RC(expr, want, ctx)  \
  do {                             \
    long rc_ = (long)(expr);       \
    CHECK_INT(rc_, (want), (ctx)); \
  } while (0)

/* FNV-1a over key || msg, stretched to 32 bytes. Not a MAC, only distinct per key. */
static size_t toy_mac(void *ctx, const unsigned char *msg, size_t len, unsigned char *out) {
  const char *key = ctx;
  for (int r = 0; r < 4; r++) {
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)r;
    for (const char *k = key; *k; k++) h = (h ^ (unsigned char)*k) * 1099511628211ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ msg[i]) * 1099511628211ULL;
    for (int i = 0; i < 8; i++) out[r * 8 + i] = (unsigned char)(h >> (8 * i));
  }
  return 32;
}

static size_t bad_mac(void *ctx, const unsigned char *msg, size_t len, unsigned char *out) {
  (void)ctx, (void)msg, (void)len, (void)out;
  return 0;
}

static void test_round_trip(void) {
  sx_idmap_entry e = {.sender = "sip:bob@contoso.com",
                      .target = "carol@fabrikam.com/phone",
                      .call_id = "a84b4c76e66710@pc33",
                      .imdn_id = "34jk324j",
                      .imdn_datetime = "2026-12-04T17:00:00Z",
                      .imdn_flags = 3};
  char id[SX_IDTOK_MAX + 1];
  CHECK_RC(sx_idtok_encode(&e, 5000, toy_mac, "k1", id, sizeof id), 0, "encode");
  CHECK(sx_idtok_is_token(id), "prefix [%s]", id);
  CHECK(strlen(id) <= SX_IDTOK_MAX, "bounded");
  for (const char *c = id; *c; c++)
    CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.", *c),
          "XML- and URI-safe character %c", *c);
  sx_idmap_entry d;
  CHECK_RC(sx_idtok_decode(id, 4999, toy_mac, "k1", &d), 0, "decode");
  CHECK_STR(d.sender, e.sender, "sender");
  CHECK_STR(d.target, e.target, "target");
  CHECK_STR(d.call_id, e.call_id, "call_id");
  CHECK_STR(d.imdn_id, e.imdn_id, "imdn_id");
  CHECK_STR(d.imdn_datetime, e.imdn_datetime, "imdn_datetime");
  CHECK_INT(d.imdn_flags, 3, "flags");
  sx_idmap_entry_free(&d);
  /* stateless: the same id decodes again (another instance, or a receipt then an error) */
  CHECK_RC(sx_idtok_decode(id, 1000, toy_mac, "k1", &d), 0, "decode twice");
  sx_idmap_entry_free(&d);
  /* expired */
  memset(&d, 0, sizeof d);
  CHECK_RC(sx_idtok_decode(id, 5000, toy_mac, "k1", &d), -2, "expired");
  CHECK(d.sender == NULL, "untouched on failure");
  /* another key: refused */
  CHECK_RC(sx_idtok_decode(id, 1000, toy_mac, "k2", &d), -1, "other key");
  /* any changed character: refused */
  size_t len = strlen(id);
  int refused = 0;
  for (size_t i = 4; i < len; i++) {
    char t[SX_IDTOK_MAX + 1];
    memcpy(t, id, len + 1);
    if (t[i] == '.') continue;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    if (sx_idtok_decode(t, 1000, toy_mac, "k1", &d) == -1)
      refused++;
    else
      sx_idmap_entry_free(&d);
  }
  CHECK_INT(refused, (long)len - 5, "every tampered id refused");
  /* truncated */
  id[len - 3] = '\0';
  CHECK_RC(sx_idtok_decode(id, 1000, toy_mac, "k1", &d), -1, "truncated tag");
  /* MAC failure */
  CHECK_RC(sx_idtok_encode(&e, 5000, bad_mac, NULL, id, sizeof id), -1, "mac failure");
}

static void test_null_fields_and_bounds(void) {
  sx_idmap_entry e = {.sender = "sip:a@b", .target = "c@d", .call_id = ""};
  char id[SX_IDTOK_MAX + 1];
  CHECK_RC(sx_idtok_encode(&e, 9, toy_mac, "k", id, sizeof id), 0, "minimal");
  sx_idmap_entry d;
  CHECK_RC(sx_idtok_decode(id, 1, toy_mac, "k", &d), 0, "decode minimal");
  CHECK(d.imdn_id == NULL && d.imdn_datetime == NULL, "NULL fields stay NULL");
  CHECK_STR(d.call_id, "", "empty call_id");
  sx_idmap_entry_free(&d);
  /* too small a buffer, too large an entry: -2 (caller falls back to its local map) */
  char small[20];
  CHECK_RC(sx_idtok_encode(&e, 9, toy_mac, "k", small, sizeof small), -2, "small buffer");
  char big[1200];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  sx_idmap_entry l = {.sender = "sip:a@b", .target = "c@d", .call_id = big};
  CHECK_RC(sx_idtok_encode(&l, 9, toy_mac, "k", id, sizeof id), -2, "too large");
  /* the largest that fits is within the bound */
  big[900] = '\0';
  CHECK_RC(sx_idtok_encode(&l, 9, toy_mac, "k", id, sizeof id), 0, "large fits");
  CHECK(strlen(id) <= SX_IDTOK_MAX, "large bounded: %zu", strlen(id));
  /* malformed */
  const char *bad[] = {"", "sx1.", "sx1..", "sx1.AAAA", "sx1.AAAA.", "sx1.A.AAAAAAAAAAAAAAAAAAAAAA",
                       "sx1.!!!!.AAAAAAAAAAAAAAAAAAAAAA", "sx-1-2", NULL};
  for (int i = 0; bad[i]; i++)
    CHECK_RC(sx_idtok_decode(bad[i], 1, toy_mac, "k", &d), -1, bad[i]);
  char longid[SX_IDTOK_MAX + 10];
  memcpy(longid, "sx1.", 4);
  memset(longid + 4, 'A', sizeof longid - 5);
  longid[sizeof longid - 1] = '\0';
  CHECK_RC(sx_idtok_decode(longid, 1, toy_mac, "k", &d), -1, "over the bound");
  CHECK(!sx_idtok_is_token("sx-12-abc") && !sx_idtok_is_token(NULL), "local ids are not tokens");
}

/* A correctly tagged payload whose fields lie about their lengths is refused. */
static void test_forged_structure(void) {
  /* payload: version, expiry 0x..ff, flags, sender length 0x0100 but no bytes */
  const unsigned char p[] = {1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0x01, 0x00};
  char id[200] = "sx1.";
  static const char B[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t o = 4;
  for (size_t i = 0; i < sizeof p; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    id[o++] = B[v >> 18 & 63];
    id[o++] = B[v >> 12 & 63];
    id[o++] = B[v >> 6 & 63];
    id[o++] = B[v & 63];
  }
  unsigned char tag[32];
  toy_mac("k", (const unsigned char *)id, o, tag);
  id[o++] = '.';
  for (size_t i = 0; i < 15; i += 3) {
    uint32_t v = (uint32_t)tag[i] << 16 | (uint32_t)tag[i + 1] << 8 | tag[i + 2];
    id[o++] = B[v >> 18 & 63];
    id[o++] = B[v >> 12 & 63];
    id[o++] = B[v >> 6 & 63];
    id[o++] = B[v & 63];
  }
  uint32_t v = (uint32_t)tag[15] << 16;
  id[o++] = B[v >> 18 & 63];
  id[o++] = B[v >> 12 & 63];
  id[o] = '\0';
  sx_idmap_entry d;
  CHECK_RC(sx_idtok_decode(id, 1, toy_mac, "k", &d), -1, "lying length refused");
}

int main(void) {
  test_round_trip();
  test_null_fields_and_bounds();
  test_forged_structure();
  return check_done();
}
