/* The store's instance rows, leases and notifications (conf/store.h): heartbeats, lease
 * acquire / renew / take-over / release, LISTEN/NOTIFY between two handles, and on
 * PostgreSQL a dropped connection re-opened. Runs on SQLite, or on PostgreSQL with
 * SX_TEST_PG set (tests/lib/pgcluster.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "store_target.h"
#include "conf/db.h"
#include "conf/store.h"

static char dir[256];
static char path[512]; /* the SQLite file, or the PostgreSQL URI (SX_TEST_PG) */
static int pg;

static void test_instances_leases(sx_store *s) {
  char err[1024];
  const int64_t t = 1700000000000LL;
  /* heartbeats */
  CHECK_INT(sx_store_instance_beat(s, "gw-a", "host1", 11, "127.0.0.1:8070", t, err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_instance_beat(s, "gw-b", "host2", 22, NULL, t + 10, err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_instance_beat(s, "gw-a", "host1", 12, "127.0.0.1:8071", t + 2000, err,
                                   sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_instance_beat(s, "", "host1", 1, NULL, t, err, sizeof err), SX_ST_INVALID,
            "empty id");
  /* leases: one holder at a time, renew, expiry, take-over, release */
  char *cur = NULL;
  CHECK_INT(sx_store_lease_acquire(s, "pres:bob@contoso.com", "gw-a", t, 10000, &cur, err,
                                   sizeof err),
            SX_ST_OK, err);
  CHECK(cur == NULL, "no current holder on success");
  CHECK_INT(sx_store_lease_acquire(s, "pres:bob@contoso.com", "gw-b", t + 1000, 10000, &cur, err,
                                   sizeof err),
            SX_ST_EXISTS, "held by another");
  CHECK_STR(cur, "gw-a", "current holder named");
  free(cur);
  cur = NULL;
  CHECK_INT(sx_store_lease_acquire(s, "pres:bob@contoso.com", "gw-a", t + 1000, 10000, NULL, err,
                                   sizeof err),
            SX_ST_OK, "re-acquire by holder renews");
  CHECK_INT(sx_store_lease_renew(s, "pres:bob@contoso.com", "gw-a", t + 5000, 10000, err,
                                 sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_lease_renew(s, "pres:bob@contoso.com", "gw-b", t + 5000, 10000, err,
                                 sizeof err),
            SX_ST_NOTFOUND, "renew by non-holder");
  CHECK_INT(sx_store_lease_acquire(s, "pres:eve@contoso.com", "gw-a", t, 3000, NULL, err,
                                   sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_lease_acquire(s, "pres:amy@contoso.com", "gw-b", t, 3000, NULL, err,
                                   sizeof err),
            SX_ST_OK, err);
  sx_lease_rec *lv;
  size_t ln;
  /* renew_all: every live lease of one holder under a prefix, in one statement */
  char **rn;
  size_t rc;
  CHECK_INT(sx_store_lease_acquire(s, "other:x", "gw-a", t, 2000, NULL, err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_lease_renew_all(s, "gw-a", "pres:", t + 1000, 4000, &rn, &rc, err,
                                     sizeof err),
            SX_ST_OK, err);
  CHECK_INT(rc, 2, "gw-a's two pres: leases");
  if (rc == 2) {
    CHECK_STR(rn[0], "pres:bob@contoso.com", "sorted");
    CHECK_STR(rn[1], "pres:eve@contoso.com", "sorted");
  }
  sx_admin_list_free(rn, rc);
  CHECK_INT(sx_store_lease_renew_all(s, "gw-a", "%", t + 1000, 4000, &rn, &rc, err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(rc, 0, "a prefix is literal, not a pattern");
  sx_admin_list_free(rn, rc);
  CHECK_INT(sx_store_lease_renew_all(s, "gw-a", NULL, t + 2500, 10000, &rn, &rc, err,
                                     sizeof err),
            SX_ST_OK, err);
  CHECK_INT(rc, 2, "other:x lapsed at t+2000: not renewed");
  sx_admin_list_free(rn, rc);
  CHECK_INT(sx_store_lease_renew_all(s, "gw-b", NULL, t + 2500, 10000, &rn, &rc, err,
                                     sizeof err),
            SX_ST_OK, err);
  CHECK_INT(rc, 1, "gw-b holds amy's");
  sx_admin_list_free(rn, rc);
  CHECK_INT(sx_store_lease_renew_all(s, "gw-b", NULL, t, 0, &rn, &rc, err, sizeof err),
            SX_ST_INVALID, "zero ttl");
  CHECK_INT(sx_store_lease_release(s, "other:x", "gw-a", err, sizeof err), SX_ST_OK, err);
  /* back to the leases' times below */
  CHECK_INT(sx_store_lease_renew_all(s, "gw-a", "pres:", t - 1000, 4000, &rn, &rc, err,
                                     sizeof err),
            SX_ST_OK, err);
  sx_admin_list_free(rn, rc);
  CHECK_INT(sx_store_lease_renew_all(s, "gw-b", "pres:", t - 1000, 4000, &rn, &rc, err,
                                     sizeof err),
            SX_ST_OK, err);
  sx_admin_list_free(rn, rc);
  CHECK_INT(sx_store_lease_acquire(s, "pres:bob@contoso.com", "gw-a", t + 5000, 10000, NULL,
                                   err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_lease_list(s, NULL, 0, t + 1000, &lv, &ln, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(ln, 3, "three live leases");
  if (ln == 3) {
    CHECK_STR(lv[0].name, "pres:amy@contoso.com", "sorted by name");
    CHECK_STR(lv[1].holder, "gw-a", "bob's holder");
    CHECK_INT(lv[1].expires, t + 15000, "renewed expiry");
  }
  sx_lease_list_free(lv, ln);
  /* instance list counts unexpired leases only */
  sx_instance_rec *iv;
  size_t in;
  CHECK_INT(sx_store_instance_list(s, t + 4000, &iv, &in, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(in, 2, "two instances");
  if (in == 2) {
    CHECK_STR(iv[0].id, "gw-a", "sorted by id");
    CHECK_STR(iv[0].host, "host1", "host");
    CHECK_INT(iv[0].pid, 12, "pid refreshed");
    CHECK_STR(iv[0].http, "127.0.0.1:8071", "http refreshed");
    CHECK_INT(iv[0].started, t, "started kept");
    CHECK_INT(iv[0].heartbeat, t + 2000, "last heartbeat");
    CHECK_INT(iv[0].leases, 1, "gw-a: eve's lease expired, bob's live");
    CHECK(iv[1].http == NULL, "no http");
    CHECK_INT(iv[1].leases, 0, "gw-b: amy's lease expired");
  }
  sx_instance_list_free(iv, in);
  /* an expired lease is taken over by another instance; the old holder cannot renew it */
  CHECK_INT(sx_store_lease_acquire(s, "pres:eve@contoso.com", "gw-b", t + 3000, 10000, NULL, err,
                                   sizeof err),
            SX_ST_OK, "take-over at expiry");
  CHECK_INT(sx_store_lease_renew(s, "pres:eve@contoso.com", "gw-a", t + 3000, 10000, err,
                                 sizeof err),
            SX_ST_NOTFOUND, "old holder lost it");
  CHECK_INT(sx_store_lease_list(s, "gw-b", 1, t + 100000, &lv, &ln, err, sizeof err), SX_ST_OK,
            err);
  CHECK_INT(ln, 2, "gw-b's leases with expired ones");
  sx_lease_list_free(lv, ln);
  CHECK_INT(sx_store_lease_list(s, "gw-b", 0, t + 100000, &lv, &ln, err, sizeof err), SX_ST_OK,
            err);
  CHECK_INT(ln, 0, "none live much later");
  sx_lease_list_free(lv, ln);
  CHECK_INT(sx_store_lease_release(s, "pres:eve@contoso.com", "gw-a", err, sizeof err),
            SX_ST_NOTFOUND, "release by non-holder");
  CHECK_INT(sx_store_lease_release(s, "pres:eve@contoso.com", "gw-b", err, sizeof err), SX_ST_OK,
            err);
  CHECK_INT(sx_store_lease_acquire(s, "x", "gw-a", t, 0, NULL, err, sizeof err), SX_ST_INVALID,
            "zero ttl");
  /* rows here do not bump the generation */
  int64_t g = sx_store_generation(s);
  CHECK_INT(sx_store_instance_beat(s, "gw-b", "host2", 22, NULL, t + 20, err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_generation(s), g, "heartbeat leaves the generation");
  /* a clean stop removes the row and its leases */
  CHECK_INT(sx_store_instance_remove(s, "gw-a", err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_instance_remove(s, "gw-a", err, sizeof err), SX_ST_NOTFOUND, "gone");
  CHECK_INT(sx_store_lease_list(s, "gw-a", 1, t, &lv, &ln, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(ln, 0, "gw-a's leases released");
  sx_lease_list_free(lv, ln);
  CHECK_INT(sx_store_instance_remove(s, "gw-b", err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_lease_release(s, "pres:bob@contoso.com", "gw-a", err, sizeof err),
            SX_ST_NOTFOUND, "released with the instance");
  CHECK_INT(sx_store_lease_release(s, "pres:amy@contoso.com", "gw-b", err, sizeof err),
            SX_ST_NOTFOUND, "released with the instance");
}

/* Notifications: delivered between two handles on PostgreSQL, after commit; no-ops on
 * SQLite; bad channel names refused. */
static void test_notifications(void) {
  char err[1024];
  sx_store *a = NULL, *b = NULL;
  CHECK_INT(sx_store_open(path, &a, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_open(path, &b, err, sizeof err), SX_ST_OK, err);
  if (!a || !b) {
    sx_store_close(a);
    sx_store_close(b);
    return;
  }
  CHECK_INT(sx_store_listen(a, "Bad-Name", err, sizeof err), SX_ST_ERROR, "bad channel");
  CHECK_INT(sx_store_listen(a, "sx_test", err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_listen(a, "sipxmpp_store", err, sizeof err), SX_ST_OK, err);
  char *ch = NULL, *pl = NULL;
  if (!pg) {
    CHECK_INT(sx_store_notify_fd(a), -1, "no socket on SQLite");
    CHECK_INT(sx_store_notify(b, "sx_test", "x", err, sizeof err), SX_ST_OK, err);
    CHECK_INT(sx_store_next_notice(a, &ch, &pl, err, sizeof err), 0, "nothing on SQLite");
  } else {
    CHECK(sx_store_notify_fd(a) >= 0, "socket");
    /* inside a transaction: nothing before the commit */
    CHECK_INT(sx_store_begin(b, err, sizeof err), SX_ST_OK, err);
    CHECK_INT(sx_store_notify(b, "sx_test", "hello \xc3\xa9", err, sizeof err), SX_ST_OK, err);
    usleep(200000);
    CHECK_INT(sx_store_next_notice(a, &ch, &pl, err, sizeof err), 0, "not before commit");
    CHECK_INT(sx_store_commit(b, err, sizeof err), SX_ST_OK, err);
    /* a store write notifies sipxmpp_store */
    CHECK_INT(sx_store_policy_set(b, "global", SX_POL_OUTSIDE, 0, NULL, err, sizeof err),
              SX_ST_OK, err);
    int got_test = 0, got_store = 0;
    for (int i = 0; i < 40 && !(got_test && got_store); i++) {
      int r;
      while ((r = sx_store_next_notice(a, &ch, &pl, err, sizeof err)) == 1) {
        if (strcmp(ch, "sx_test") == 0 && strcmp(pl, "hello \xc3\xa9") == 0) got_test++;
        if (strcmp(ch, "sipxmpp_store") == 0) got_store++;
        free(ch);
        free(pl);
      }
      CHECK(r == 0, "next notice: %s", err);
      usleep(50000);
    }
    CHECK_INT(got_test, 1, "payload delivered once");
    CHECK(got_store >= 1, "store write notified");
    char big[8100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_INT(sx_store_notify(b, "sx_test", big, err, sizeof err), SX_ST_ERROR, "payload bound");
  }
  sx_store_close(a);
  sx_store_close(b);
}

/* PostgreSQL: a connection the server dropped is re-opened by the next statement. */
static void test_pg_reconnect(void) {
  char err[1024];
  sx_store *s = NULL;
  CHECK_INT(sx_store_open(path, &s, err, sizeof err), SX_ST_OK, err);
  if (!s) return;
  int64_t g = sx_store_generation(s);
  CHECK(g >= 0, "generation before");
  CHECK_INT(store_sql(path, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE datname = current_database() AND pid <> pg_backend_pid()"),
            0, "terminate the other sessions");
  int64_t first = sx_store_generation(s); /* may fail: it finds the connection gone */
  int64_t second = sx_store_generation(s);
  CHECK(second == g, "generation after reconnect: %lld then %lld, want %lld", (long long)first,
        (long long)second, (long long)g);
  CHECK_INT(sx_store_user_add(s, "re@contoso.com", NULL, NULL, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_user_remove(s, "re@contoso.com", err, sizeof err), SX_ST_OK, err);
  sx_store_close(s);
}

/* With SX_TEST_PG set (tests/lib/pgcluster.py), every test runs on that PostgreSQL database
 * (emptied first); otherwise on an SQLite file in a temporary directory. */
int main(void) {
  if (store_target_setup("sx-test-store-instance", "sipxmpp.db", dir, sizeof dir, path,
                         sizeof path, &pg))
    return 1;
  char err[1024];
  sx_store *s = NULL;
  CHECK_INT(sx_store_open(path, &s, err, sizeof err), SX_ST_OK, err);
  if (s) {
    test_instances_leases(s);
    sx_store_close(s);
  }
  test_notifications();
  if (pg) test_pg_reconnect();
  store_target_cleanup(dir);
  return check_done();
}
