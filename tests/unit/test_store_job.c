/* gateway/store_job.h on a real libuv loop and pool with an SQLite store: a job runs in the
 * pool with the handle (the loop's accessor says NULL meanwhile), a second job is refused
 * while one runs, done may start the next job or close the object, and closing with a job in
 * progress lets it finish (done included) before the handle is closed. Leaks and
 * use-after-free show under ASan. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "gateway/store_job.h"

typedef struct {
  sx_store_job *j;
  int ran, done, status, chain, close_in_done;
  sx_st st;
  unsigned sleep_us;
  char key[64];
} ctx;

static void add_user(sx_store *st, void *arg) {
  ctx *c = arg;
  char err[256];
  if (c->sleep_us) usleep(c->sleep_us);
  c->ran++;
  c->st = st ? sx_store_user_add(st, c->key, NULL, NULL, err, sizeof err) : SX_ST_ERROR;
}

static void on_done(void *arg, int status) {
  ctx *c = arg;
  c->done++;
  c->status = status;
  if (c->chain) {
    c->chain--;
    snprintf(c->key, sizeof c->key, "chain%d@contoso.com", c->chain);
    CHECK_INT(sx_store_job_busy(c->j), 0, "idle in done");
    CHECK_INT(sx_store_job_run(c->j, add_user, on_done, c), 0, "next job from done");
  } else if (c->close_in_done) {
    sx_store_job_close(c->j);
  }
}

int main(void) {
  char dir[] = "/tmp/sx-test-store-job-XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  char path[256], err[512];
  snprintf(path, sizeof path, "%s/sipxmpp.db", dir);
  uv_loop_t loop;
  uv_loop_init(&loop);

  CHECK(sx_store_job_open(&loop, "/nonexistent-dir/x/sipxmpp.db", err, sizeof err) == NULL,
        "a store that cannot be opened");
  CHECK(err[0] != '\0', "with a message");

  /* one job: the handle is the pool's meanwhile; a second job is refused */
  ctx c = {.sleep_us = 50000};
  snprintf(c.key, sizeof c.key, "one@contoso.com");
  c.j = sx_store_job_open(&loop, path, err, sizeof err);
  CHECK(c.j != NULL, "open: %s", err);
  if (!c.j) return check_done();
  CHECK(sx_store_job_store(c.j) != NULL, "the loop's handle while idle");
  CHECK_INT(sx_store_job_run(c.j, add_user, on_done, &c), 0, "run");
  CHECK_INT(sx_store_job_busy(c.j), 1, "busy");
  CHECK(sx_store_job_store(c.j) == NULL, "no handle for the loop while busy");
  CHECK_INT(sx_store_job_run(c.j, add_user, on_done, &c), -1, "second job refused");
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(c.ran, 1, "ran once");
  CHECK_INT(c.done, 1, "done once");
  CHECK_INT(c.status, 0, "status");
  CHECK_INT(c.st, SX_ST_OK, "written in the pool");
  CHECK_INT(sx_store_job_busy(c.j), 0, "idle again");
  sx_user_rec u;
  CHECK_INT(sx_store_user_get(sx_store_job_store(c.j), "one@contoso.com", &u, err, sizeof err),
            SX_ST_OK, err);
  sx_user_rec_free(&u);

  /* done starts the next job */
  memset(&c.ran, 0, sizeof c - offsetof(ctx, ran));
  c.chain = 2;
  snprintf(c.key, sizeof c.key, "chain2@contoso.com");
  CHECK_INT(sx_store_job_run(c.j, add_user, on_done, &c), 0, "run");
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(c.ran, 3, "three jobs chained");
  CHECK_INT(c.done, 3, "three done");
  CHECK_INT(c.st, SX_ST_OK, "the last one written");

  /* closed with a job in progress: the job and its done still run, then the handle closes */
  memset(&c.ran, 0, sizeof c - offsetof(ctx, ran));
  c.sleep_us = 100000;
  snprintf(c.key, sizeof c.key, "late@contoso.com");
  CHECK_INT(sx_store_job_run(c.j, add_user, on_done, &c), 0, "run");
  sx_store_job_close(c.j);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(c.ran, 1, "the job ran to its end");
  CHECK_INT(c.done, 1, "done called after close");
  CHECK_INT(c.st, SX_ST_OK, "written");

  /* closed from its own done callback */
  ctx d = {.close_in_done = 1};
  snprintf(d.key, sizeof d.key, "last@contoso.com");
  d.j = sx_store_job_open(&loop, path, err, sizeof err);
  CHECK(d.j != NULL, "open: %s", err);
  if (d.j) {
    CHECK_INT(sx_store_job_run(d.j, add_user, on_done, &d), 0, "run");
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(d.done, 1, "done");
  }

  /* closed while idle; NULL ignored */
  sx_store_job *e = sx_store_job_open(&loop, path, err, sizeof err);
  CHECK(e != NULL, "open: %s", err);
  sx_store_job_close(e);
  sx_store_job_close(NULL);

  /* every write arrived */
  sx_store *s = NULL;
  CHECK_INT(sx_store_open(path, &s, err, sizeof err), SX_ST_OK, err);
  if (s) {
    const char *keys[] = {"chain0@contoso.com", "chain1@contoso.com", "chain2@contoso.com",
                          "late@contoso.com", "last@contoso.com"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
      sx_st r = sx_store_user_get(s, keys[i], &u, err, sizeof err);
      CHECK_INT(r, SX_ST_OK, keys[i]);
      if (r == SX_ST_OK) sx_user_rec_free(&u);
    }
    sx_store_close(s);
  }
  CHECK_INT(uv_loop_close(&loop), 0, "no handle left on the loop");
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return check_done();
}
