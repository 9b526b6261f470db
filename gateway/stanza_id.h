/* Stanza ids for messages sent to XMPP: self-contained, HMAC-authenticated tokens
 * (translate/idtoken.h) under a key every instance derives from the shared edge secret, so
 * that an error stanza or receipt reaching any instance finds the SIP sender; an entry too
 * large for a token falls back to this instance's in-memory idmap.
 * Ownership: the caller owns the set (sx_stanza_ids_free); entries taken are the caller's
 * (sx_idmap_entry_free). */
#ifndef SX_GATEWAY_STANZA_ID_H
#define SX_GATEWAY_STANZA_ID_H
#include <stddef.h>
#include <stdint.h>

#include "translate/idmap.h"
#include "translate/idtoken.h"

typedef struct sx_stanza_ids sx_stanza_ids;

/* Room for any id made here, with its NUL. */
#define SX_STANZA_ID_MAX (SX_IDTOK_MAX + 1)

/* secret: [edge] secret (the key is HMAC-SHA256(secret, "sipxmpp stanza id v1")); capacity
 * and ttl_ms size the local fallback map; ids expire after ttl_ms. NULL on failure. */
sx_stanza_ids *sx_stanza_ids_new(const char *secret, size_t capacity, uint64_t ttl_ms);
void sx_stanza_ids_free(sx_stanza_ids *s);

/* Makes the id for a stanza carrying e into id[idlen] (idlen >= SX_STANZA_ID_MAX).
 * mono_ms is the loop clock (for the local map). 0, or -1 on failure. */
int sx_stanza_ids_put(sx_stanza_ids *s, uint64_t mono_ms, const sx_idmap_entry *e, char *id,
                      size_t idlen);
/* The entry an id stands for: 0 and e filled, or -1 (unknown, forged, expired). */
int sx_stanza_ids_take(sx_stanza_ids *s, uint64_t mono_ms, const char *id, sx_idmap_entry *e);

#endif
