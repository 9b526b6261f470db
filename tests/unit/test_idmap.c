/* Stanza id → SIP sender map (translate/idmap.h, SPEC §3). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* CHECK_INT evaluates its argument again to report a failure: call the function once. */
#define CHECK_RC(expr, want, ctx)                                                   \
  do {                                                                              \
    long rc_ = (long)(expr);                                                        \
    CHECK_INT(rc_, (want), (ctx));                                                  \
  } while (0)
#include "translate/idmap.h"

#define T0 1000000u

/* Splits an id "sx-<seq>-<nonce>" made by the map into its parts (for forging variants). */
static int split_id(const char *id, char *seq, size_t seqlen, char *nonce, size_t noncelen) {
  const char *a = strchr(id, '-'), *b = a ? strchr(a + 1, '-') : NULL;
  if (!a || !b || (size_t)(b - a - 1) >= seqlen || strlen(b + 1) >= noncelen) return -1;
  memcpy(seq, a + 1, (size_t)(b - a - 1));
  seq[b - a - 1] = '\0';
  strcpy(nonce, b + 1);
  return 0;
}

static void test_round_trip(void) {
  sx_idmap *m = sx_idmap_new(8, 60000);
  char id1[40], id2[40];
  sx_idmap_entry e;
  CHECK(m != NULL, "new");
  if (!m) return;
  CHECK_RC(sx_idmap_put(m, T0, "sip:alice@example.com;gr=x", "bob@xmpp.example.org",
                         "call-1@host", id1, sizeof id1),
            0, "put 1");
  CHECK_RC(sx_idmap_put(m, T0, "sip:carol@example.com", "dave@xmpp.example.org", NULL, id2,
                         sizeof id2),
            0, "put 2 without call-id");
  CHECK(strncmp(id1, "sx-", 3) == 0, "id form [%s]", id1);
  CHECK(strcmp(id1, id2) != 0, "ids differ [%s] [%s]", id1, id2);

  /* taken in the other order */
  CHECK_RC(sx_idmap_take(m, T0 + 10, id2, &e), 0, "take 2");
  CHECK_STR(e.sender, "sip:carol@example.com", "take 2 sender");
  CHECK_STR(e.target, "dave@xmpp.example.org", "take 2 target");
  CHECK_STR(e.call_id, NULL, "take 2 call-id");
  sx_idmap_entry_free(&e);
  CHECK(!e.sender && !e.target && !e.call_id, "entry_free resets");

  CHECK_RC(sx_idmap_take(m, T0 + 10, id1, &e), 0, "take 1");
  CHECK_STR(e.sender, "sip:alice@example.com;gr=x", "take 1 sender");
  CHECK_STR(e.target, "bob@xmpp.example.org", "take 1 target");
  CHECK_STR(e.call_id, "call-1@host", "take 1 call-id");
  sx_idmap_entry_free(&e);

  /* take twice fails, and leaves e untouched */
  sx_idmap_entry sentinel = {.sender = (char *)"s", .target = (char *)"t", .call_id = (char *)"c"};
  e = sentinel;
  CHECK_RC(sx_idmap_take(m, T0 + 10, id1, &e), -1, "take 1 again");
  CHECK_RC(sx_idmap_take(m, T0 + 10, id2, &e), -1, "take 2 again");
  CHECK(e.sender == sentinel.sender && e.target == sentinel.target &&
            e.call_id == sentinel.call_id,
        "failed take leaves e untouched");
  sx_idmap_free(m);
}

static void test_unique(void) {
  enum { N = 2000 };
  sx_idmap *m = sx_idmap_new(N, 60000);
  static char ids[N][40];
  int dup = 0;
  if (!m) return;
  for (int i = 0; i < N; i++)
    CHECK_RC(sx_idmap_put(m, T0, "sip:a@x", "b@y", NULL, ids[i], sizeof ids[i]), 0, "put");
  for (int i = 0; i < N && !dup; i++)
    for (int j = i + 1; j < N; j++)
      if (!strcmp(ids[i], ids[j])) {
        dup = 1;
        break;
      }
  CHECK(!dup, "all ids distinct");
  /* every one is found once */
  int found = 0;
  for (int i = 0; i < N; i++) {
    sx_idmap_entry e;
    if (sx_idmap_take(m, T0, ids[i], &e) == 0) {
      found++;
      sx_idmap_entry_free(&e);
    }
  }
  CHECK_INT(found, N, "all found");
  /* two maps do not share ids by accident: same seq, but a different nonce stream */
  sx_idmap *m2 = sx_idmap_new(N, 60000);
  char other[40];
  if (m2) {
    CHECK_RC(sx_idmap_put(m2, T0, "sip:a@x", "b@y", NULL, other, sizeof other), 0, "put m2");
    CHECK(strcmp(other, ids[0]) != 0, "second map id [%s] differs from [%s]", other, ids[0]);
    sx_idmap_free(m2);
  }
  sx_idmap_free(m);
}

static void test_expiry(void) {
  static const struct {
    uint64_t ttl, at; /* take at T0 + at */
    int rc;
  } cases[] = {
      {1000, 0, 0},    {1000, 999, 0},  {1000, 1000, 0}, /* the boundary is still valid */
      {1000, 1001, -1}, {1000, 50000, -1}, {0, 0, 0},     {0, 1, -1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sx_idmap *m = sx_idmap_new(4, cases[i].ttl);
    char id[40], ctx[64];
    sx_idmap_entry e;
    if (!m) continue;
    snprintf(ctx, sizeof ctx, "ttl %llu take at +%llu", (unsigned long long)cases[i].ttl,
             (unsigned long long)cases[i].at);
    CHECK_RC(sx_idmap_put(m, T0, "sip:a@x", "b@y", "c", id, sizeof id), 0, ctx);
    int rc = sx_idmap_take(m, T0 + cases[i].at, id, &e);
    CHECK_INT(rc, cases[i].rc, ctx);
    if (rc == 0) sx_idmap_entry_free(&e);
    /* an expired entry is gone for good, even if asked again "earlier" */
    CHECK_RC(sx_idmap_take(m, T0, id, &e), -1, ctx);
    sx_idmap_free(m);
  }
}

static void test_capacity(void) {
  enum { CAP = 4, N = 11 };
  sx_idmap *m = sx_idmap_new(CAP, 60000);
  char ids[N][40], sender[32];
  sx_idmap_entry e;
  if (!m) return;
  for (int i = 0; i < N; i++) {
    snprintf(sender, sizeof sender, "sip:u%d@x", i);
    CHECK_RC(sx_idmap_put(m, T0 + (uint64_t)i, sender, "b@y", NULL, ids[i], sizeof ids[i]), 0,
              "put");
  }
  /* the oldest N - CAP were evicted, the newest CAP are still there */
  for (int i = 0; i < N; i++) {
    char ctx[32];
    snprintf(ctx, sizeof ctx, "entry %d", i);
    int rc = sx_idmap_take(m, T0 + N, ids[i], &e);
    CHECK_INT(rc, i < N - CAP ? -1 : 0, ctx);
    if (rc == 0) {
      snprintf(sender, sizeof sender, "sip:u%d@x", i);
      CHECK_STR(e.sender, sender, ctx);
      sx_idmap_entry_free(&e);
    }
  }
  /* one more put after takes: the newest entries still survive, the oldest goes */
  char a[40], b[40], c[40];
  CHECK_RC(sx_idmap_put(m, T0, "sip:a@x", "t", NULL, a, sizeof a), 0, "put a");
  CHECK_RC(sx_idmap_put(m, T0, "sip:b@x", "t", NULL, b, sizeof b), 0, "put b");
  for (int i = 0; i < CAP - 1; i++) {
    char x[40];
    CHECK_RC(sx_idmap_put(m, T0, "sip:f@x", "t", NULL, x, sizeof x), 0, "fill");
  }
  CHECK_RC(sx_idmap_put(m, T0, "sip:c@x", "t", NULL, c, sizeof c), 0, "put c");
  CHECK_RC(sx_idmap_take(m, T0, a, &e), -1, "a evicted");
  CHECK_RC(sx_idmap_take(m, T0, b, &e), -1, "b evicted");
  CHECK_RC(sx_idmap_take(m, T0, c, &e), 0, "c found");
  CHECK_STR(e.sender, "sip:c@x", "c sender");
  sx_idmap_entry_free(&e);
  sx_idmap_free(m); /* frees the remaining entries: ASan checks for leaks */
}

static void test_forged(void) {
  sx_idmap *m = sx_idmap_new(16, 60000);
  char id[40], seq[24], nonce[24], forged[80];
  sx_idmap_entry e;
  if (!m) return;
  /* entries 1..3; the forgeries aim at entry 2 */
  CHECK_RC(sx_idmap_put(m, T0, "sip:a@x", "b@y", NULL, forged, sizeof forged), 0, "put 1");
  CHECK_RC(sx_idmap_put(m, T0, "sip:a@x", "b@y", NULL, id, sizeof id), 0, "put 2");
  CHECK_RC(sx_idmap_put(m, T0, "sip:a@x", "b@y", NULL, forged, sizeof forged), 0, "put 3");
  CHECK_INT(split_id(id, seq, sizeof seq, nonce, sizeof nonce), 0, "split");
  CHECK_STR(seq, "2", "second seq");
  CHECK_INT(strlen(nonce), 8, "nonce digits");

  unsigned long nv = strtoul(nonce, NULL, 16);
  char wrong_nonce[16], upper[16];
  snprintf(wrong_nonce, sizeof wrong_nonce, "%08lx", (nv + 1) & 0xffffffffUL);
  for (size_t i = 0; nonce[i]; i++)
    upper[i] = (nonce[i] >= 'a' && nonce[i] <= 'f') ? (char)(nonce[i] - 32) : nonce[i];
  upper[8] = '\0';
  int has_letter = strcmp(upper, nonce) != 0;

  const char *fmts[][2] = {
      /* format, and the nonce (or variant) it is given */
      {"sx-2-%s", wrong_nonce},
      {"sx-2-%sx", nonce},          /* trailing garbage */
      {"sx-2-%s ", nonce},          /* trailing blank */
      {"sx-2-%s-", nonce},
      {"sx-0-%s", nonce},           /* seq 0 */
      {"sx-02-%s", nonce},          /* leading zero */
      {"sx-0x2-%s", nonce},         /* hex prefix */
      {"sx-+2-%s", nonce},          /* sign */
      {"sx- 2-%s", nonce},          /* blank */
      {"sx-2- %s", nonce},
      {"SX-2-%s", nonce},
      {"sx-2-0%s", nonce},          /* 9 nonce digits */
      {"sx-10000000000000002-%s", nonce}, /* seq wider than 64 bits */
      {"sx-fffffffffffffffff-%s", nonce},
      {"sx--2-%s", nonce},
      {"xx-2-%s", nonce},
      {"sx2-%s", nonce},
  };
  for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
    snprintf(forged, sizeof forged, fmts[i][0], fmts[i][1]);
    CHECK_RC(sx_idmap_take(m, T0, forged, &e), -1, forged);
  }
  /* a 7-digit nonce: the real one without its last digit */
  snprintf(forged, sizeof forged, "sx-2-%.7s", nonce);
  CHECK_RC(sx_idmap_take(m, T0, forged, &e), -1, forged);
  if (has_letter) {
    snprintf(forged, sizeof forged, "sx-2-%s", upper);
    CHECK_RC(sx_idmap_take(m, T0, forged, &e), -1, forged);
  }
  static const char *junk[] = {"", "sx-", "sx-2", "sx-2-", "hello", "sx-g-12345678",
                               "sx-2-1234567z", "sx-2-zzzzzzzz", "-", "sx-1-"};
  for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
    CHECK_RC(sx_idmap_take(m, T0, junk[i], &e), -1, junk[i]);
  CHECK_RC(sx_idmap_take(m, T0, NULL, &e), -1, "NULL id");

  /* none of the forgeries consumed entry 2 */
  CHECK_RC(sx_idmap_take(m, T0, id, &e), 0, "genuine id still works");
  if (e.sender) sx_idmap_entry_free(&e);
  sx_idmap_free(m);
}

static void test_copies(void) {
  sx_idmap *m = sx_idmap_new(2, 60000);
  char s[32] = "sip:alice@example.com", t[32] = "bob@xmpp.example.org", c[32] = "cid-1";
  char id[40];
  sx_idmap_entry e;
  if (!m) return;
  CHECK_RC(sx_idmap_put(m, T0, s, t, c, id, sizeof id), 0, "put");
  memset(s, 'X', sizeof s - 1);
  memset(t, 'Y', sizeof t - 1);
  strcpy(c, "changed");
  CHECK_RC(sx_idmap_take(m, T0, id, &e), 0, "take");
  CHECK_STR(e.sender, "sip:alice@example.com", "sender copied");
  CHECK_STR(e.target, "bob@xmpp.example.org", "target copied");
  CHECK_STR(e.call_id, "cid-1", "call-id copied");
  sx_idmap_entry_free(&e);

  /* the id buffer itself may be reused by the caller once put returned */
  char id2[40];
  CHECK_RC(sx_idmap_put(m, T0, "a", "b", "c", id2, sizeof id2), 0, "put 2");
  char copy[40];
  strcpy(copy, id2);
  memset(id2, 0, sizeof id2);
  CHECK_RC(sx_idmap_take(m, T0, copy, &e), 0, "take by copy of the id");
  sx_idmap_entry_free(&e);
  sx_idmap_free(m);
}

static void test_misc(void) {
  CHECK(sx_idmap_new(0, 1000) == NULL, "capacity 0 refused");
  sx_idmap_free(NULL);
  /* an id buffer too small for the id: refused, nothing leaks */
  sx_idmap *m = sx_idmap_new(2, 1000);
  if (!m) return;
  char small[6];
  CHECK_RC(sx_idmap_put(m, T0, "sip:a@x", "b@y", "c", small, sizeof small), -1, "small id buf");
  char id[40];
  sx_idmap_entry e;
  CHECK_RC(sx_idmap_put(m, T0, "sip:a@x", "b@y", "c", id, sizeof id), 0, "put after failure");
  CHECK_RC(sx_idmap_take(m, T0, id, &e), 0, "take after failure");
  sx_idmap_entry_free(&e);
  /* many laps round a small map */
  for (int i = 0; i < 1000; i++) {
    CHECK_RC(sx_idmap_put(m, T0 + (uint64_t)i, "sip:a@x", "b@y", NULL, id, sizeof id), 0,
              "lap put");
    if (i % 3 == 0) {
      CHECK_RC(sx_idmap_take(m, T0 + (uint64_t)i, id, &e), 0, "lap take");
      sx_idmap_entry_free(&e);
    }
  }
  sx_idmap_free(m);
}

int main(void) {
  test_round_trip();
  test_unique();
  test_expiry();
  test_capacity();
  test_forged();
  test_copies();
  test_misc();
  return check_done();
}
