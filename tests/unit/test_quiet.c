/* The quiet table: deadlines, replacement, expiry, the capacity bound. */
#include <stdio.h>

#include "check.h"
#include "translate/quiet.h"

int main(void) {
  CHECK(sx_quiet_new(0) == NULL, "capacity 0 refused");
  sx_quiet *q = sx_quiet_new(3);
  CHECK(q != NULL, "new");
  CHECK_INT(sx_quiet_check(q, "bob@contoso.example", 0), 0, "unknown key");
  CHECK_INT(sx_quiet_add(q, "bob@contoso.example", 1000, 0), 0, "add");
  CHECK_INT(sx_quiet_check(q, "bob@contoso.example", 999), 1, "quiet before the deadline");
  CHECK_INT(sx_quiet_check(q, "alice@contoso.example", 999), 0, "another key");
  CHECK_INT(sx_quiet_add(q, "bob@contoso.example", 500, 0), 0, "earlier deadline");
  CHECK_INT(sx_quiet_check(q, "bob@contoso.example", 800), 1, "the later deadline is kept");
  CHECK_INT(sx_quiet_add(q, "bob@contoso.example", 2000, 0), 0, "later deadline");
  CHECK_INT(sx_quiet_check(q, "bob@contoso.example", 1500), 1, "extended");
  CHECK_INT(sx_quiet_check(q, "bob@contoso.example", 2000), 0, "expired at the deadline");
  CHECK_INT(sx_quiet_count(q), 0, "expired key forgotten");
  /* capacity: full of live keys refuses; expired ones make room */
  CHECK_INT(sx_quiet_add(q, "a", 100, 0), 0, "a");
  CHECK_INT(sx_quiet_add(q, "b", 100, 0), 0, "b");
  CHECK_INT(sx_quiet_add(q, "c", 300, 0), 0, "c");
  CHECK_INT(sx_quiet_add(q, "d", 300, 50), -1, "full");
  CHECK_INT(sx_quiet_count(q), 3, "three held");
  CHECK_INT(sx_quiet_add(q, "d", 300, 100), 0, "room after expiry");
  CHECK_INT(sx_quiet_count(q), 2, "a and b dropped, d added");
  CHECK_INT(sx_quiet_check(q, "d", 200), 1, "d quiet");
  CHECK_INT(sx_quiet_check(q, "c", 200), 1, "c kept");
  for (int i = 0; i < 1000; i++) {
    char k[32];
    snprintf(k, sizeof k, "user%d@x", i);
    sx_quiet_add(q, k, 10000, 200);
  }
  CHECK(sx_quiet_count(q) <= 3, "bounded: %zu", sx_quiet_count(q));
  sx_quiet_free(q);
  sx_quiet_free(NULL);
  return check_done();
}
