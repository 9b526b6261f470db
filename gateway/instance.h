/* This daemon's row in the store's instances table: a heartbeat every 2 s (written on a
 * libuv worker thread with the instance's own store handle, so a slow database never stalls
 * the loop), removed with its leases at a clean stop. `sipxmppctl status` lists the rows.
 * Ownership: the gateway owns the handle (sx_instance_stop frees it). */
#ifndef SX_GATEWAY_INSTANCE_H
#define SX_GATEWAY_INSTANCE_H
#include <stddef.h>
#include <uv.h>

#include "conf/config.h"

#define SX_INSTANCE_BEAT_MS 2000

typedef struct sx_instance sx_instance;

/* Opens the store, writes the first heartbeat and starts the timer. NULL with err set. */
sx_instance *sx_instance_start(uv_loop_t *loop, const sx_config *cfg, char *err, size_t n);
/* The instance id: [gateway] instance_id, or "HOST:SIP-PORT". */
const char *sx_instance_id(const sx_instance *in);
/* Stops the heartbeat, removes the row (and the leases it held) and frees. Runs the loop
 * until a heartbeat in progress has finished. */
void sx_instance_stop(sx_instance *in);

#endif
