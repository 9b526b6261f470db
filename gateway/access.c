#include "gateway/access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/store.h"
#include "gateway/store_job.h"
#include "translate/log.h"

struct sx_access {
  uv_timer_t poll;
  sx_store_job *build;   /* rebuilds the snapshot in the pool */
  sx_store_job *poller;  /* reads the change counter only, in the pool */
  int64_t polled;        /* the poll's result: the counter, or -1 */
  sx_policy_snap *snap;  /* current, owned */
  sx_policy_snap *built; /* result of the work thread */
  int64_t generation;
  int want_force, closing, poll_closed;
  char err[256];
};

static void start_build(sx_access *a);

static void build_work(sx_store *st, void *arg) {
  sx_access *a = arg;
  a->err[0] = '\0';
  a->built = sx_store_snapshot(st, a->err, sizeof a->err);
}

static void maybe_free(sx_access *a) {
  if (a->closing && !sx_store_job_busy(a->build) && !sx_store_job_busy(a->poller) &&
      a->poll_closed) {
    sx_store_job_close(a->build);
    sx_store_job_close(a->poller);
    sx_snap_free(a->snap);
    free(a);
  }
}

static void build_done(void *arg, int status) {
  sx_access *a = arg;
  if (status == 0 && a->built) {
    sx_snap_counts c;
    sx_snap_free(a->snap);
    a->snap = a->built;
    a->generation = sx_snap_generation(a->snap);
    sx_snap_get_counts(a->snap, &c);
    sx_info("policy", "snapshot generation %lld loaded: %zu policies, %zu users, %zu partners",
            (long long)a->generation, c.policies, c.users, c.partners);
  } else if (a->err[0]) {
    sx_err("policy", "snapshot not rebuilt, keeping generation %lld: %s",
           (long long)a->generation, a->err);
  }
  a->built = NULL;
  if (a->want_force) start_build(a);
  maybe_free(a);
}

static void start_build(sx_access *a) {
  if (sx_store_job_busy(a->build) || a->closing) return;
  a->want_force = 0;
  sx_store_job_run(a->build, build_work, build_done, a);
}

/* One indexed read every 250 ms, in libuv's pool (a store that hangs never stalls the
 * loop: the next poll waits for this one); the rebuild runs there too. */
static void poll_work(sx_store *st, void *arg) {
  sx_access *a = arg;
  a->polled = sx_store_generation(st);
}

static void poll_done(void *arg, int status) {
  sx_access *a = arg;
  if (status == 0 && !a->closing) {
    if (a->polled < 0)
      sx_warn("policy", "cannot read the store's change counter");
    else if (a->polled != a->generation)
      start_build(a);
  }
  maybe_free(a);
}

static void on_poll(uv_timer_t *t) {
  sx_access *a = t->data;
  if (a->closing) return;
  sx_store_job_run(a->poller, poll_work, poll_done, a); /* -1 while the last poll runs */
}

sx_access *sx_access_new(uv_loop_t *loop, const char *store_path, char *err, size_t n) {
  sx_access *a = calloc(1, sizeof *a);
  if (!a) {
    snprintf(err, n, "out of memory");
    return NULL;
  }
  if (!(a->build = sx_store_job_open(loop, store_path, err, n))) {
    free(a);
    return NULL;
  }
  if (!(a->poller = sx_store_job_open(loop, store_path, err, n))) {
    sx_store_job_close(a->build);
    free(a);
    return NULL;
  }
  a->snap = sx_store_snapshot(sx_store_job_store(a->build), err, n);
  if (!a->snap) {
    sx_store_job_close(a->build);
    sx_store_job_close(a->poller);
    free(a);
    return NULL;
  }
  a->generation = sx_snap_generation(a->snap);
  uv_timer_init(loop, &a->poll);
  a->poll.data = a;
  uv_timer_start(&a->poll, on_poll, 250, 250);
  return a;
}

void sx_access_reload(sx_access *a) {
  a->want_force = 1;
  start_build(a);
}

const sx_policy_snap *sx_access_snap(const sx_access *a) { return a->snap; }

static void poll_closed(uv_handle_t *h) {
  sx_access *a = h->data;
  a->poll_closed = 1;
  maybe_free(a);
}

void sx_access_close(sx_access *a) {
  if (!a) return;
  a->closing = 1;
  uv_close((uv_handle_t *)&a->poll, poll_closed);
}
