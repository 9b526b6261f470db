/* The relation model (translate/relation.h): names, parsing, summaries. */
#include "check.h"
#include "translate/relation.h"

int main(void) {
  static const struct {
    sx_rel r;
    const char *summary;
    int empty;
  } rows[] = {
      {{0, 0, 0, 0}, "none", 1},
      {{0, 0, 0, 1}, "none", 1},
      {{SX_OUT_PENDING, 0, 0, 0}, "pending_out", 0},
      {{SX_OUT_SUBSCRIBED, 0, 0, 0}, "subscribed_out", 0},
      {{SX_OUT_SUBSCRIBED, SX_IN_PENDING, 0, 0}, "pending_in", 0},
      {{0, SX_IN_APPROVED, 0, 0}, "approved_in", 0},
      {{0, SX_IN_PENDING, 1, 0}, "added", 0},
      {{0, 0, 1, 0}, "added", 0},
      {{3, 0, 0, 0}, "?", 0},
      {{0, 3, 0, 0}, "?", 0},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char ctx[32];
    snprintf(ctx, sizeof ctx, "row %zu", i);
    CHECK_STR(sx_rel_summary(rows[i].r), rows[i].summary, ctx);
    CHECK_INT(sx_rel_is_empty(rows[i].r), rows[i].empty, ctx);
  }
  sx_rel a = {SX_OUT_PENDING, SX_IN_NONE, 1, 0}, b = a;
  b.suspended = 1;
  CHECK_INT(sx_rel_persisted_differs(a, b), 0, "suspended is not persisted");
  b.in = SX_IN_APPROVED;
  CHECK_INT(sx_rel_persisted_differs(a, b), 1, "in differs");
  for (int i = 0; i < 3; i++) {
    sx_sub_out o = (sx_sub_out)9;
    sx_sub_in n = (sx_sub_in)9;
    CHECK_INT(sx_sub_out_parse(sx_sub_out_name((sx_sub_out)i), &o), 0, "out round trip");
    CHECK_INT(o, i, "out value");
    CHECK_INT(sx_sub_in_parse(sx_sub_in_name((sx_sub_in)i), &n), 0, "in round trip");
    CHECK_INT(n, i, "in value");
  }
  sx_sub_out o = SX_OUT_PENDING;
  CHECK_INT(sx_sub_out_parse("approved", &o), -1, "approved is not an out state");
  CHECK_INT(o, SX_OUT_PENDING, "unchanged on failure");
  sx_sub_in n = SX_IN_NONE;
  CHECK_INT(sx_sub_in_parse("subscribed", &n), -1, "subscribed is not an in state");
  CHECK_INT(sx_sub_in_parse(NULL, &n), -1, "NULL");
  CHECK_STR(sx_sub_out_name((sx_sub_out)7), "?", "unknown out");
  CHECK_STR(sx_sub_in_name(SX_IN_APPROVED), "approved", "approved");

  /* Unanswered requests: (relation, pending for ms, SIP dialogs) → actions, interval 1000. */
  static const struct {
    sx_rel r;
    uint64_t age;
    unsigned dialogs;
    unsigned want;
  } exp[] = {
      {{0, SX_IN_PENDING, 0, 0}, 999, 0, 0},
      {{0, SX_IN_PENDING, 0, 0}, 1000, 0, SX_REXP_DROP_IN},
      {{0, SX_IN_PENDING, 0, 1}, 5000, 0, 0}, /* suspended: kept as it is */
      {{SX_OUT_PENDING, 0, 0, 0}, 1000, 0, SX_REXP_DROP_OUT},
      {{SX_OUT_PENDING, 0, 1, 0}, 1000, 2, SX_REXP_REASK_OUT},
      {{SX_OUT_PENDING, SX_IN_PENDING, 0, 0}, 1000, 1, SX_REXP_REASK_OUT | SX_REXP_DROP_IN},
      {{SX_OUT_SUBSCRIBED, SX_IN_APPROVED, 1, 0}, 99999, 0, 0},
      {{SX_OUT_SUBSCRIBED, SX_IN_PENDING, 0, 0}, 1000, 1, SX_REXP_DROP_IN},
      {{0, 0, 0, 0}, 99999, 0, 0},
  };
  for (size_t i = 0; i < sizeof exp / sizeof exp[0]; i++) {
    char ctx[32];
    snprintf(ctx, sizeof ctx, "expiry row %zu", i);
    CHECK_INT(sx_rel_expiry(exp[i].r, 5000, 5000 + exp[i].age, 1000, exp[i].dialogs),
              exp[i].want, ctx);
  }
  CHECK_INT(sx_rel_expiry((sx_rel){0, SX_IN_PENDING, 0, 0}, 9000, 5000, 1000, 0), 0,
            "a clock before since: nothing");
  return check_done();
}
