/* The retransmission table of the SIP adapter (sip/seen.c, plain C). */
#include "check.h"
#include "sip/seen.c"

int main(void) {
  sx_seen *t = sx_seen_new(1000, 32000);
  const char *a[] = {"z9hG4bK1", "call@h", "1", "MESSAGE", "tag1"};
  const char *b[] = {"z9hG4bK2", "call@h", "1", "MESSAGE", "tag1"};
  const char *c[] = {"z9hG4bK1", "call@h", "2", "MESSAGE", "tag1"};
  uint64_t ka = sx_seen_key(a, 5), kb = sx_seen_key(b, 5), kc = sx_seen_key(c, 5);
  size_t i, misses = 0;

  CHECK(t != NULL, "table");
  CHECK(ka && kb && kc && ka != kb && ka != kc && kb != kc, "keys differ by branch and CSeq");
  CHECK(sx_seen_key(a, 5) == ka, "keys are stable");
  CHECK_INT(sx_seen_check(t, ka, 1000), -1, "first sight is new");
  CHECK_INT(sx_seen_check(t, ka, 1500), 0, "retransmission while pending");
  sx_seen_answer(t, ka, 202, 1600);
  CHECK_INT(sx_seen_check(t, ka, 2000), 202, "retransmission after the answer");
  CHECK_INT(sx_seen_check(t, kb, 2000), -1, "another branch is new");
  int rc = sx_seen_check(t, ka, 1000 + 31000);
  CHECK_INT(rc, 202, "still answered within the TTL");
  rc = sx_seen_check(t, ka, 1000 + 40000);
  CHECK_INT(rc, -1, "new again after the TTL");

  /* Bounded: far more keys than slots never fails, and recent ones are still known. */
  for (i = 1; i <= 100000; i++) sx_seen_check(t, i * 0x9E3779B97F4A7C15ULL | 1, 50000);
  for (i = 99900; i <= 100000; i++)
    if (sx_seen_check(t, i * 0x9E3779B97F4A7C15ULL | 1, 50000) != 0) misses++;
  CHECK(misses < 20, "recent keys mostly kept under pressure (%zu of 101 lost)", misses);
  sx_seen_free(t);
  return check_done();
}
