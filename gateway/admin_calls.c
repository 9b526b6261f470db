/* The console's store work off the loop (admin_internal.h): every operation of a request
 * (op_*) runs in libuv's thread pool with the console's own store handle (store_job.h), one
 * at a time for the whole console, in the order asked for; a request waits, its connection
 * suspended, while its operation waits or runs, and is then handled again from the start
 * with the results so far (a page that reads twice is handled three times).
 *
 * Ownership: an admin_calls belongs to its request's state (admin_http.c); an admin_job to
 * the console's queue while it waits or runs, and it owns copies of its arguments and its
 * result until done_cb hands the result to the request's admin_calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/admin_internal.h"
#include "translate/log.h"

#define STOP_WAIT_MS 3000

struct admin_calls {
  op_out *done;   /* the results of the request's operations so far, in order */
  op_kind *kinds; /* and which operation each was */
  size_t ndone, cap;
  admin_job *job; /* the operation waiting or running for the request, or NULL */
  int cancelled;  /* the console stopped while the request waited */
};

struct admin_job {
  admin_job *next; /* in the queue */
  sx_admin *a;     /* NULL once the console stopped */
  admin_calls *calls; /* NULL once the request ended */
  struct MHD_Connection *c;
  const sx_config *cfg;
  op_call call;    /* pointing into the copies below */
  char *s[4];
  cJSON *in;
  char *text;
  op_out out;
  int changed;
};

static void job_free(admin_job *j) {
  for (size_t i = 0; i < 4; i++)
    if (j->s[i]) { /* a password among them */
      explicit_bzero(j->s[i], strlen(j->s[i]));
      free(j->s[i]);
    }
  cJSON_Delete(j->in);
  free(j->text);
  op_out_free(&j->out);
  free(j);
}

/* A job with copies of c's arguments; NULL when out of memory. */
static admin_job *job_new(const op_call *c) {
  admin_job *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  j->call.kind = c->kind;
  j->call.num = c->num;
  j->call.len = c->len;
  for (size_t i = 0; i < 4; i++)
    if (c->s[i] && !(j->call.s[i] = j->s[i] = strdup(c->s[i]))) goto oom;
  if (c->in && !(j->call.in = j->in = cJSON_Duplicate(c->in, 1))) goto oom;
  if (c->text) {
    if (!(j->text = malloc(c->len + 1))) goto oom;
    memcpy(j->text, c->text, c->len);
    j->text[c->len] = '\0';
    j->call.text = j->text;
  }
  return j;
oom:
  job_free(j);
  return NULL;
}

static void pending(op_out *o) {
  memset(o, 0, sizeof *o);
  o->status = 503;
  o->st = SX_ST_ERROR;
  snprintf(o->err, sizeof o->err, "waiting for the store");
}

static void kick(sx_admin *a);

static void work_cb(sx_store *st, void *arg) {
  admin_job *j = arg;
  op_env e = {.st = st, .cfg = j->cfg};
  admin_op_exec(&e, &j->call, &j->out);
  j->changed = e.changed;
}

/* The result goes to the request's admin_calls; 0, or -1 when out of memory. */
static int keep(admin_calls *m, admin_job *j) {
  if (m->ndone == m->cap) {
    size_t nc = m->cap ? m->cap * 2 : 4;
    op_out *nd = realloc(m->done, nc * sizeof *nd);
    if (nd) m->done = nd;
    op_kind *nk = nd ? realloc(m->kinds, nc * sizeof *nk) : NULL;
    if (!nk) return -1;
    m->kinds = nk;
    m->cap = nc;
  }
  m->done[m->ndone] = j->out;
  m->kinds[m->ndone++] = j->call.kind;
  memset(&j->out, 0, sizeof j->out);
  return 0;
}

static void done_cb(void *arg, int status) {
  admin_job *j = arg;
  sx_admin *a = j->a;
  if (status != 0) {
    op_out_free(&j->out);
    pending(&j->out);
    j->out.status = 500;
    snprintf(j->out.err, sizeof j->out.err, "the store work was cancelled");
  }
  if (!a) { /* the console stopped */
    job_free(j);
    return;
  }
  a->running = NULL;
  if (j->changed) admin_changed(a);
  if (j->calls) {
    admin_calls *m = j->calls;
    m->job = NULL;
    if (keep(m, j) != 0) m->cancelled = 1; /* the request is closed */
    MHD_resume_connection(j->c);
    sx_mhd_kick(a->mhd);
  }
  job_free(j);
  kick(a);
}

/* Starts the next operation of the queue when none runs. */
static void kick(sx_admin *a) {
  while (!a->running && a->queue) {
    admin_job *j = a->queue;
    if (!(a->queue = j->next)) a->queue_tail = &a->queue;
    j->next = NULL;
    a->running = j;
    if (sx_store_job_run(a->job, work_cb, done_cb, j) == 0) return;
    pending(&j->out);
    j->out.status = 500;
    snprintf(j->out.err, sizeof j->out.err, "the store work could not start");
    sx_err("admin", "the console's store work could not start");
    done_cb(j, 0); /* resumes the request, with the error */
  }
}

int admin_call_ready(const admin_req *q) {
  return q->calls && q->ncalls < q->calls->ndone;
}

void admin_call(admin_req *q, const op_call *c, op_out *o) {
  sx_admin *a = q->a;
  admin_calls *m = q->calls;
  size_t i = q->ncalls++;
  if (m && i < m->ndone) {
    *o = m->done[i];
    o->data = m->done[i].data ? cJSON_Duplicate(m->done[i].data, 1) : NULL;
    if (m->kinds[i] != c->kind || (m->done[i].data && !o->data)) {
      op_out_free(o);
      pending(o);
      o->status = 500;
      snprintf(o->err, sizeof o->err, "%s", m->kinds[i] != c->kind
                                               ? "the request took another way the second time"
                                               : "out of memory");
    }
    return;
  }
  pending(o);
  if (q->pending) return; /* one operation starts per pass */
  admin_job *j = NULL;
  if (!m || a->stopping || !a->job || !(j = job_new(c))) {
    o->status = 500;
    snprintf(o->err, sizeof o->err, "%s",
             a->stopping ? "the console is stopping" : "out of memory");
    return;
  }
  j->a = a;
  j->calls = m;
  j->c = q->c;
  j->cfg = &a->gw->cfg;
  m->job = j;
  *a->queue_tail = j;
  a->queue_tail = &j->next;
  q->pending = 1;
  MHD_suspend_connection(q->c);
  kick(a);
}

admin_calls *admin_calls_new(void) { return calloc(1, sizeof(admin_calls)); }

void admin_calls_free(admin_calls *m) {
  if (!m) return;
  if (m->job) m->job->calls = NULL; /* it finishes; its result is dropped */
  for (size_t i = 0; i < m->ndone; i++) op_out_free(&m->done[i]);
  free(m->done);
  free(m->kinds);
  free(m);
}

int admin_calls_waiting(const admin_calls *m) { return m && (m->job || m->cancelled); }

void admin_calls_stop(sx_admin *a) {
  a->stopping = 1;
  /* libmicrohttpd must not stop with suspended connections: resume them (they are closed) */
  admin_job *j = a->queue;
  a->queue = NULL;
  a->queue_tail = &a->queue;
  while (j) {
    admin_job *next = j->next;
    if (j->calls) {
      j->calls->job = NULL;
      j->calls->cancelled = 1;
      MHD_resume_connection(j->c);
    }
    job_free(j);
    j = next;
  }
  if ((j = a->running)) { /* it finishes in the pool; done_cb frees it */
    j->a = NULL;
    if (j->calls) {
      j->calls->job = NULL;
      j->calls->cancelled = 1;
      j->calls = NULL;
      MHD_resume_connection(j->c);
    }
    a->running = NULL;
  }
}

void admin_calls_close(sx_admin *a) {
  if (!a->job) return;
  uint64_t until = sx_gw_now(a->gw) + STOP_WAIT_MS;
  while (sx_store_job_busy(a->job) && sx_gw_now(a->gw) < until) sx_loop_turn(&a->gw->loop, 20);
  if (sx_store_job_busy(a->job))
    sx_err("admin", "the console's store work still runs at shutdown");
  sx_store_job_close(a->job); /* closes the handle once that work is done */
  a->job = NULL;
}
