/* A store handle opened for libuv's thread pool, and the one job at a time that uses it: the
 * loop starts a job (a function run in the pool with the handle), the job's done callback
 * runs on the loop afterwards, and closing lets a job in progress finish before the handle
 * is closed. The pool is the daemon's only other thread (UV_THREADPOOL_SIZE=1 unless set),
 * so the jobs of every sx_store_job run one after the other.
 *
 * Ownership: the caller owns the sx_store_job until sx_store_job_close; the sx_store_job
 * owns its store handle. The handle is the pool's while a job runs (sx_store_job_busy) and
 * the loop thread's otherwise (sx_store_job_store). A job's arg is borrowed: it must stay
 * valid until its done callback has returned. Every function here is called on the loop
 * thread. */
#ifndef SX_GATEWAY_STORE_JOB_H
#define SX_GATEWAY_STORE_JOB_H
#include <stddef.h>
#include <uv.h>

#include "conf/store.h"

typedef struct sx_store_job sx_store_job;

/* Runs in the pool with the job's handle. */
typedef void (*sx_store_job_fn)(sx_store *st, void *arg);
/* Runs on the loop once fn has returned (status 0), or without fn having run when libuv
 * cancelled the work (status UV_ECANCELED). The sx_store_job is idle again: done may start
 * the next job, or close it. */
typedef void (*sx_store_job_done_fn)(void *arg, int status);

/* Opens the store at `path` (creating and migrating it as sx_store_open does). NULL with err
 * set on failure. */
sx_store_job *sx_store_job_open(uv_loop_t *loop, const char *path, char *err, size_t n);
/* Starts fn(handle, arg) in the pool, then done(arg, status) on the loop. 0; -1 when a job
 * runs already, the job was closed, or libuv refused the work (neither fn nor done is called
 * then: the caller may run fn itself with sx_store_job_store). done may be NULL. */
int sx_store_job_run(sx_store_job *j, sx_store_job_fn fn, sx_store_job_done_fn done, void *arg);
/* 1 while a job runs (from sx_store_job_run until just before its done callback). */
int sx_store_job_busy(const sx_store_job *j);
/* The handle, for statements on the loop thread (start-up, shutdown, the fallback when no
 * job could start); NULL while a job runs. Borrowed: valid until sx_store_job_close. */
sx_store *sx_store_job_store(sx_store_job *j);
/* Takes no further job. Idle: closes the handle and frees j now. With a job in progress
 * (or called from a done callback): that job finishes as usual, its done callback included,
 * and the handle is closed and j freed right after. j must not be used after this call.
 * NULL is ignored. */
void sx_store_job_close(sx_store_job *j);

#endif
