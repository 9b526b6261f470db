/* The write-through of relation changes (translate/reltab.h): the loop hands every change
 * (user, contact, new relation, ticket) to this writer, which stores batches in libuv's
 * thread pool with its own store handle (store_job.h) and reports each commit back to the
 * table on the loop. Only relation changes are written, never presence state. */
#include "gateway/presence_internal.h"

#include <stdlib.h>
#include <string.h>

#include "conf/store.h"
#include "gateway/metrics.h"
#include "gateway/store_job.h"
#include "translate/log.h"

struct store_job {
  store_job *next;
  char *user, *contact;
  sx_rel rel;
  uint64_t ticket;
  int64_t gen; /* result: generation, or -1 */
};

typedef struct writer {
  sx_pres_gw *P;
  sx_store_job *job; /* the writer's store handle, in the pool */
  store_job *pending, **pending_tail; /* waiting for the next batch */
  store_job *batch;                   /* being written by the pool thread */
} writer;

static void job_free(store_job *j) {
  free(j->user);
  free(j->contact);
  free(j);
}

static void write_batch(sx_store *st, void *arg) {
  writer *w = arg;
  char err[256];
  for (store_job *j = w->batch; j; j = j->next) {
    if (sx_store_relation_put(st, j->user, j->contact, j->rel, &j->gen, err,
                              sizeof err) != SX_ST_OK) {
      j->gen = -1;
      sx_err("presence", "store: relation %s / %s not written: %s", j->user, j->contact, err);
    }
  }
}

static void kick(writer *w);

static void after_cb(void *arg, int status) {
  writer *w = arg;
  store_job *j, *next;
  (void)status;
  for (j = w->batch; j; j = next) {
    next = j->next;
    if (w->P->rt) sx_reltab_written(w->P->rt, j->user, j->contact, j->ticket, j->gen);
    sx_metric_inc(j->gen >= 0 ? "presence_store_writes_total"
                              : "presence_store_write_failures_total");
    job_free(j);
  }
  w->batch = NULL;
  kick(w);
}

static void kick(writer *w) {
  if (sx_store_job_busy(w->job) || !w->pending) return;
  w->batch = w->pending;
  w->pending = NULL;
  w->pending_tail = &w->pending;
  if (sx_store_job_run(w->job, write_batch, after_cb, w) != 0) {
    /* No pool: write on the loop rather than lose the change. */
    write_batch(sx_store_job_store(w->job), w);
    after_cb(w, 0);
  }
}

int pres_store_start(sx_pres_gw *P, const char *path) {
  char err[256];
  writer *w = calloc(1, sizeof *w);
  if (!w) return -1;
  if (!(w->job = sx_store_job_open(&P->gw->loop.uv, path, err, sizeof err))) {
    sx_err("presence", "store: %s", err);
    free(w);
    return -1;
  }
  w->P = P;
  w->pending_tail = &w->pending;
  P->writer = w;
  return 0;
}

void pres_store_write(sx_pres_gw *P, sx_relent *e, uint64_t ticket) {
  writer *w = P->writer;
  store_job *j;
  if (!w) return;
  j = calloc(1, sizeof *j);
  if (!j || !(j->user = strdup(e->user)) || !(j->contact = strdup(e->contact))) {
    if (j) job_free(j);
    sx_err("presence", "out of memory: relation %s / %s not written", e->user, e->contact);
    return;
  }
  j->rel = e->rel;
  j->ticket = ticket;
  *w->pending_tail = j;
  w->pending_tail = &j->next;
  kick(w);
}

void pres_store_stop(sx_pres_gw *P) {
  writer *w = P->writer;
  uint64_t until;
  if (!w) return;
  until = sx_gw_now(P->gw) + 3000;
  while (sx_store_job_busy(w->job) && sx_gw_now(P->gw) < until) sx_loop_turn(&P->gw->loop, 20);
  if (sx_store_job_busy(w->job)) {
    sx_err("presence", "store writer still busy at shutdown");
    return; /* the pool thread still uses it: leak rather than race */
  }
  if (w->pending) { /* the rest, on the loop: nothing else runs any more */
    w->batch = w->pending;
    w->pending = NULL;
    w->pending_tail = &w->pending;
    write_batch(sx_store_job_store(w->job), w);
    after_cb(w, 0);
  }
  sx_store_job_close(w->job);
  free(w);
  P->writer = NULL;
}
