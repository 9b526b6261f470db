/* One store handle for libuv's thread pool and one job at a time on it (store_job.h). */
#include "gateway/store_job.h"

#include <stdio.h>
#include <stdlib.h>

struct sx_store_job {
  uv_loop_t *loop;
  uv_work_t work;
  sx_store *store;
  sx_store_job_fn fn;
  sx_store_job_done_fn done;
  void *arg;
  int busy;    /* fn queued or running */
  int in_done; /* the done callback runs */
  int closing; /* sx_store_job_close was called: free once idle */
};

static void job_free(sx_store_job *j) {
  sx_store_close(j->store);
  free(j);
}

static void work_cb(uv_work_t *w) {
  sx_store_job *j = w->data;
  j->fn(j->store, j->arg);
}

static void after_cb(uv_work_t *w, int status) {
  sx_store_job *j = w->data;
  sx_store_job_done_fn done = j->done;
  void *arg = j->arg;
  j->busy = 0;
  j->fn = NULL;
  j->done = NULL;
  j->arg = NULL;
  if (done) {
    j->in_done = 1;
    done(arg, status);
    j->in_done = 0;
  }
  if (j->closing && !j->busy) job_free(j);
}

sx_store_job *sx_store_job_open(uv_loop_t *loop, const char *path, char *err, size_t n) {
  sx_store_job *j = calloc(1, sizeof *j);
  if (!j) {
    snprintf(err, n, "out of memory");
    return NULL;
  }
  if (sx_store_open(path, &j->store, err, n) != SX_ST_OK) {
    free(j);
    return NULL;
  }
  j->loop = loop;
  j->work.data = j;
  return j;
}

int sx_store_job_run(sx_store_job *j, sx_store_job_fn fn, sx_store_job_done_fn done, void *arg) {
  if (!j || j->busy || j->closing || !fn) return -1;
  j->fn = fn;
  j->done = done;
  j->arg = arg;
  j->busy = 1;
  if (uv_queue_work(j->loop, &j->work, work_cb, after_cb) != 0) {
    j->busy = 0;
    j->fn = NULL;
    j->done = NULL;
    j->arg = NULL;
    return -1;
  }
  return 0;
}

int sx_store_job_busy(const sx_store_job *j) { return j && j->busy; }

sx_store *sx_store_job_store(sx_store_job *j) { return j && !j->busy ? j->store : NULL; }

void sx_store_job_close(sx_store_job *j) {
  if (!j) return;
  j->closing = 1;
  if (!j->busy && !j->in_done) job_free(j);
}
