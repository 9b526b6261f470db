/* The policy snapshot the hot path decides against (SPEC §5, §8). The store's change
 * counter is read every 250 ms (one indexed read) in libuv's thread pool, so a store that
 * hangs never stalls the loop; a change (or SIGHUP) has the snapshot rebuilt there too,
 * with its own store handle, and swapped in on the loop. Deciding never touches the store.
 * The pool is the daemon's only other thread (UV_THREADPOOL_SIZE=1 unless set). */
#ifndef SX_GATEWAY_ACCESS_H
#define SX_GATEWAY_ACCESS_H
#include <uv.h>

#include "translate/policy.h"

typedef struct sx_access sx_access;

/* Opens the store (creating and migrating it) and builds the first snapshot synchronously.
 * NULL with err set on failure. */
sx_access *sx_access_new(uv_loop_t *loop, const char *store_path, char *err, size_t n);
void sx_access_reload(sx_access *a);
/* The current snapshot; valid until control returns to the loop. */
const sx_policy_snap *sx_access_snap(const sx_access *a);
/* Stops polling; frees once pending work finished (call before the loop drains). */
void sx_access_close(sx_access *a);

#endif
