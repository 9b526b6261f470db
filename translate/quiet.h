/* A bounded set of keys that stay "quiet" until a deadline: the SIP users who refused typing
 * notifications (application/im-iscomposing+xml answered 415/488/501), so none is sent to
 * them for a while.
 *
 * Ownership: sx_quiet_new returns a table the caller releases with sx_quiet_free; keys are
 * copied. Times are milliseconds of any monotonic clock the caller uses consistently. */
#ifndef SX_TRANSLATE_QUIET_H
#define SX_TRANSLATE_QUIET_H
#include <stddef.h>
#include <stdint.h>

typedef struct sx_quiet sx_quiet;

/* At most `capacity` keys (>= 1). NULL when out of memory. */
sx_quiet *sx_quiet_new(size_t capacity);
void sx_quiet_free(sx_quiet *q);

/* Keeps `key` quiet until `until_ms` (a later deadline replaces an earlier one). When the
 * table is full, expired keys are dropped first; if none is, the key is not added and -1 is
 * returned (the caller then simply keeps sending). 0 on success. */
int sx_quiet_add(sx_quiet *q, const char *key, uint64_t until_ms, uint64_t now_ms);

/* 1 while `key` is quiet at now_ms, else 0 (an expired key is forgotten). */
int sx_quiet_check(sx_quiet *q, const char *key, uint64_t now_ms);

/* Keys currently held (expired ones included until dropped). */
size_t sx_quiet_count(const sx_quiet *q);

#endif
