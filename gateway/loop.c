#include "gateway/loop.h"

#include <poll.h>
#include <string.h>
#include <time.h>

#include <sofia-sip/su.h>

#include "translate/log.h"

#define SOFIA_BATCH 16

/* libuv has I/O ready: run it after this step. */
static int uv_ready(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg) {
  (void)magic;
  (void)w;
  ((sx_loop *)arg)->uv_pending = 1;
  return 0;
}

int sx_loop_init(sx_loop *l) {
  memset(l, 0, sizeof *l);
  if (su_init() != 0) return -1;
  if (uv_loop_init(&l->uv) != 0) return -1;
  l->root = su_root_create(NULL);
  if (!l->root) return -1;
  su_root_threading(l->root, 0);
  if (su_wait_create(&l->uv_wait, uv_backend_fd(&l->uv), SU_WAIT_IN) != 0) return -1;
  l->uv_wait_index =
      su_root_register(l->root, &l->uv_wait, uv_ready, (su_wakeup_arg_t *)l, 0);
  if (l->uv_wait_index < 0) return -1;
  return 0;
}

/* Waits up to SX_LOOP_NAP_US, or until libuv has work. */
static void nap(sx_loop *l) {
  struct pollfd p = {.fd = uv_backend_fd(&l->uv), .events = POLLIN};
  struct timespec ts = {0, SX_LOOP_NAP_US * 1000L};
  l->naps++;
  if (ppoll(&p, 1, &ts, NULL) > 0) l->uv_pending = 1;
}

void sx_loop_turn(sx_loop *l, long max_wait_ms) {
  long t;
  /* libuv runs when its fd was ready in the last step or it has work due (timers, idle
   * handles, closing handles); otherwise a SIP-only turn costs no libuv poll. */
  uv_update_time(&l->uv);
  if (l->uv_pending || uv_backend_timeout(&l->uv) == 0) {
    l->uv_pending = 0;
    if (l->batch) l->batch(l->batch_ud, 1);
    uv_run(&l->uv, UV_RUN_NOWAIT);
    if (l->batch) l->batch(l->batch_ud, 0);
  }
  t = uv_backend_timeout(&l->uv);
  if (t < 0 || t > max_wait_ms) t = max_wait_ms;
  /* Sofia handles one ready datagram per step: while it keeps finding work, let it take a
   * few more before libuv runs, so that what they hand to the edge goes out in one write. */
  unsigned long w = l->progress ? l->progress(l->progress_ud) : 0;
  if (su_root_step(l->root, t) != 0) return;
  for (int i = 0; i <= SOFIA_BATCH; i++) {
    if (l->progress) {
      unsigned long n = l->progress(l->progress_ud);
      if (n == w) {
        /* Nothing handled, and Sofia did not wait: a timer is due in under 1 ms. */
        if (!l->uv_pending && uv_backend_timeout(&l->uv) != 0) nap(l);
        return;
      }
      w = n;
    }
    if (i == SOFIA_BATCH || su_root_step(l->root, 0) != 0) return;
  }
}

void sx_loop_set_progress(sx_loop *l, unsigned long (*progress)(void *ud), void *ud) {
  l->progress = progress;
  l->progress_ud = ud;
}

void sx_loop_set_batch(sx_loop *l, void (*batch)(void *ud, int open), void *ud) {
  l->batch = batch;
  l->batch_ud = ud;
}

void sx_loop_run(sx_loop *l) {
  while (!l->stopping) sx_loop_turn(l, 1000);
}

void sx_loop_stop(sx_loop *l) { l->stopping = 1; }

void sx_loop_close(sx_loop *l) {
  int i;
  /* Let libuv finish close callbacks. */
  for (i = 0; i < 100 && uv_loop_alive(&l->uv); i++) uv_run(&l->uv, UV_RUN_NOWAIT);
  if (l->root) {
    su_root_deregister(l->root, l->uv_wait_index);
    su_root_destroy(l->root);
    l->root = NULL;
  }
  if (uv_loop_close(&l->uv) != 0) sx_warn("loop", "libuv handles still open at exit");
  su_deinit();
}
