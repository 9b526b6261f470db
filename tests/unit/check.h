/* A minimal table-test harness: CHECK records a failure and continues; main returns
 * check_done(), which prints "N passed, N failed" and the exit status for ctest. */
#ifndef SX_TEST_CHECK_H
#define SX_TEST_CHECK_H
#include <stdio.h>
#include <string.h>

static int check_pass_, check_fail_;

#define CHECK(cond, ...)                                                        \
  do {                                                                          \
    if (cond) {                                                                 \
      check_pass_++;                                                            \
    } else {                                                                    \
      check_fail_++;                                                            \
      fprintf(stderr, "%s:%d: FAILED: %s: ", __FILE__, __LINE__, #cond);       \
      fprintf(stderr, __VA_ARGS__);                                             \
      fputc('\n', stderr);                                                      \
    }                                                                           \
  } while (0)

/* String equality where either side may be NULL. */
static inline int check_streq_(const char *a, const char *b) {
  if (!a || !b) return a == b;
  return strcmp(a, b) == 0;
}
static inline const char *check_s_(const char *s) { return s ? s : "(null)"; }
#define CHECK_STR(got, want, ctx)                                               \
  CHECK(check_streq_((got), (want)), "%s: got [%s] want [%s]", (ctx),          \
        check_s_(got), check_s_(want))
#define CHECK_INT(got, want, ctx)                                               \
  CHECK((long)(got) == (long)(want), "%s: got %ld want %ld", (ctx), (long)(got), \
        (long)(want))

static inline int check_done(void) {
  printf("%d passed, %d failed\n", check_pass_, check_fail_);
  return check_fail_ ? 1 : 0;
}
#endif
