/* The daemon's single thread: libuv is the event loop every part of the gateway schedules on
 * (timers, the edge sockets, HTTP, signals), and Sofia-SIP's su_root is driven from it.
 *
 * Integration, with public APIs only: libuv's backend fd (uv_backend_fd(), an epoll fd that
 * is readable whenever any libuv watcher has work) is registered as a wait object in the
 * su_root. Each turn runs libuv without blocking (UV_RUN_NOWAIT) when it has anything to do,
 * then lets Sofia wait with su_root_step() for at most uv_backend_timeout(): Sofia's own
 * sockets and timers and every libuv watcher wake that single wait. Sofia processes its
 * queued messages before it waits, so a reply made from a libuv callback is sent in the very
 * next step. Work a Sofia callback leaves for libuv is scheduled with an idle handle, which
 * makes the next turn run libuv. Sofia handles one ready datagram per step, so a turn lets
 * it take up to 16 more while it keeps finding work: their stanzas leave in one edge write.
 *
 * Sofia computes its wait in whole milliseconds: with a timer due in under 1 ms (nta's
 * transaction timers, one per outgoing request, are due every fraction of a millisecond at
 * a few thousand messages per second) su_root_step() polls without waiting and returns at
 * once, so the thread would spin until the timer is due. With a progress counter set
 * (sx_loop_set_progress: requests and responses Sofia handed to the gateway), a step that
 * returned 0 having handled nothing is taken as that case: the turn then waits up to
 * SX_LOOP_NAP_US on libuv's fd (edge input wakes it at once; SIP input waits at most that). */
#ifndef SX_GATEWAY_LOOP_H
#define SX_GATEWAY_LOOP_H
#include <sofia-sip/su_wait.h>
#include <uv.h>

typedef struct sx_loop {
  uv_loop_t uv;
  su_root_t *root;
  su_wait_t uv_wait;
  int uv_wait_index;
  int uv_pending; /* libuv's fd was ready in the last Sofia step */
  int stopping;
  unsigned long (*progress)(void *ud); /* optional; see sx_loop_set_progress */
  void *progress_ud;
  unsigned long naps; /* sub-millisecond waits taken instead of spinning */
  void (*batch)(void *ud, int open); /* optional; see sx_loop_set_batch */
  void *batch_ud;
} sx_loop;

#define SX_LOOP_NAP_US 200

int sx_loop_init(sx_loop *l);
/* Turns until sx_loop_stop(). */
void sx_loop_run(sx_loop *l);
void sx_loop_stop(sx_loop *l);
/* One turn with a bounded wait (used while draining at shutdown). */
void sx_loop_turn(sx_loop *l, long max_wait_ms);
void sx_loop_close(sx_loop *l);
/* `progress(ud)` returns a counter that grows whenever Sofia hands the gateway work (a request
 * or a response); ud is borrowed and must outlive the loop's turns. */
void sx_loop_set_progress(sx_loop *l, unsigned long (*progress)(void *ud), void *ud);
/* `batch(ud, 1)` before libuv's callbacks of a turn run and `batch(ud, 0)` after them, before
 * the turn waits (the SIP adapter corks its connection to the proxy meanwhile: the stanzas of
 * one edge read leave as one write); ud is borrowed and must outlive the loop's turns. */
void sx_loop_set_batch(sx_loop *l, void (*batch)(void *ud, int open), void *ud);

#endif
