/* Requests recently seen, for answering retransmissions without a transaction per request.
 *
 * The SIP adapter handles requests statelessly: a stateful server transaction keeps the whole
 * request and response (~10 KB) for 64×T1 (32 s) after the final response, which at thousands
 * of UDP messages per second is gigabytes. This table keeps 16 bytes per request instead: a
 * hash of the transaction's identity, when it expires, and its final status (0 while the
 * answer is pending). It has a fixed capacity; when a neighbourhood is full the entry closest
 * to expiry is replaced, so memory stays bounded whatever the rate. */
#ifndef SX_SIP_SEEN_H
#define SX_SIP_SEEN_H
#include <stddef.h>
#include <stdint.h>

typedef struct sx_seen sx_seen;

/* capacity is rounded up to a power of two; ttl_ms is how long an entry answers. */
sx_seen *sx_seen_new(size_t capacity, uint32_t ttl_ms);
void sx_seen_free(sx_seen *t);

/* Looks key up at time now_ms. Returns -1 if unknown (and records it as pending), else the
 * recorded status (0: still pending). key must not be 0. */
int sx_seen_check(sx_seen *t, uint64_t key, uint64_t now_ms);
/* Records the final status sent for key. */
void sx_seen_answer(sx_seen *t, uint64_t key, int status, uint64_t now_ms);

/* FNV-1a over parts (NUL-separated), never 0. */
uint64_t sx_seen_key(const char *const *parts, size_t n);

#endif
