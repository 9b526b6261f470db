/* The console's sessions and login throttle (gateway/admin_session.c, compiled in): random
 * ids and CSRF tokens, idle expiry, the session limit, per-address and global throttling. */
#include "gateway/admin_session.c"

#include "check.h"

int main(void) {
  static sx_admin_sessions ss;
  sx_sessions_init(&ss, 1000);
  sx_admin_session *a = sx_sessions_create(&ss, "root", 10);
  CHECK(a != NULL, "created");
  if (!a) return check_done();
  char id[SX_ADMIN_TOKEN_HEX + 1], csrf[SX_ADMIN_TOKEN_HEX + 1];
  strcpy(id, a->id);
  strcpy(csrf, a->csrf);
  CHECK_INT(strlen(id), 64, "id length");
  CHECK(strcmp(id, csrf) != 0, "csrf differs from id");
  sx_admin_session *b = sx_sessions_create(&ss, "ops", 10);
  CHECK(b && strcmp(b->id, id) != 0, "ids differ");
  CHECK(sx_sessions_find(&ss, id, 500) == a, "found");
  CHECK(sx_sessions_find(&ss, "", 500) == NULL, "empty id");
  char wrong[SX_ADMIN_TOKEN_HEX + 1];
  strcpy(wrong, id);
  wrong[5] = wrong[5] == 'a' ? 'b' : 'a';
  CHECK(sx_sessions_find(&ss, wrong, 500) == NULL, "one digit off");
  CHECK(sx_session_csrf_ok(a, csrf), "csrf ok");
  CHECK(!sx_session_csrf_ok(a, id), "id is not the csrf token");
  CHECK(!sx_session_csrf_ok(a, NULL), "no token");
  CHECK(!sx_session_csrf_ok(a, "short"), "short token");
  /* idle: used at 500, still alive at 1500, gone after 1501 without use */
  CHECK(sx_sessions_find(&ss, id, 1500) == a, "alive within idle time");
  CHECK(sx_sessions_find(&ss, id, 2501) == NULL, "expired");
  CHECK(sx_sessions_find(&ss, id, 2502) == NULL, "stays expired");
  /* logout */
  sx_admin_session *c = sx_sessions_create(&ss, "root", 3000);
  strcpy(id, c->id);
  sx_sessions_end(&ss, c);
  CHECK(sx_sessions_find(&ss, id, 3001) == NULL, "ended");
  /* the limit: the least recently used goes */
  sx_sessions_init(&ss, 1000000);
  char first[SX_ADMIN_TOKEN_HEX + 1];
  strcpy(first, sx_sessions_create(&ss, "u0", 1)->id);
  for (int i = 1; i < SX_ADMIN_MAX_SESSIONS; i++) sx_sessions_create(&ss, "u", 10 + (uint64_t)i);
  CHECK(sx_sessions_find(&ss, first, 100) != NULL, "all 64 alive (first used at 100)");
  sx_admin_session *n = sx_sessions_create(&ss, "new", 200);
  CHECK(n != NULL && sx_sessions_find(&ss, first, 201) != NULL, "first kept (recently used)");
  /* flash */
  sx_session_flash(n, 1, "bad %s", "thing");
  CHECK_STR(n->flash, "bad thing", "flash");

  /* throttle: 5 failures block the address, not another one */
  unsigned retry = 0;
  for (int i = 0; i < SX_THROTTLE_PER_ADDR; i++) {
    CHECK(sx_throttle_allowed(&ss, "192.0.2.1", 1000, &retry), "allowed before %d", i);
    sx_throttle_failed(&ss, "192.0.2.1", 1000);
  }
  CHECK(!sx_throttle_allowed(&ss, "192.0.2.1", 2000, &retry), "blocked");
  CHECK_INT(retry, 299, "retry after the window");
  CHECK(sx_throttle_allowed(&ss, "192.0.2.2", 2000, &retry), "other address allowed");
  CHECK(sx_throttle_allowed(&ss, "192.0.2.1", 1000 + SX_THROTTLE_WINDOW_MS, &retry),
        "allowed after the window");
  /* success clears */
  sx_throttle_failed(&ss, "192.0.2.3", 5000);
  sx_throttle_succeeded(&ss, "192.0.2.3");
  for (int i = 0; i < SX_THROTTLE_PER_ADDR - 1; i++) sx_throttle_failed(&ss, "192.0.2.3", 5000);
  CHECK(sx_throttle_allowed(&ss, "192.0.2.3", 5000, &retry), "cleared by success");
  /* global: many addresses */
  sx_sessions_init(&ss, 1000);
  for (int i = 0; i < SX_THROTTLE_GLOBAL; i++) {
    char addr[32];
    snprintf(addr, sizeof addr, "198.51.100.%d", i);
    sx_throttle_failed(&ss, addr, 100);
  }
  CHECK(!sx_throttle_allowed(&ss, "203.0.113.9", 200, &retry), "global limit");
  CHECK(sx_throttle_allowed(&ss, "203.0.113.9", 100 + SX_THROTTLE_WINDOW_MS, &retry),
        "global window over");
  return check_done();
}
