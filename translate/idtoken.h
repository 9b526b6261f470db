/* Self-contained stanza ids: everything the gateway needs to answer a later error stanza or
 * receipt (the SIP sender, target, Call-ID and IMDN fields of an idmap entry) travels inside
 * the id of the stanza it sends, authenticated with a MAC under a key shared by every
 * instance. Any instance behind the same XMPP server can then turn an error for a message
 * another instance sent into the notice for its SIP sender, with no shared state.
 *
 * Format: "sx1." base64url(payload) "." base64url(tag), no padding, where payload is
 * version 1, the expiry (unix ms, 8 bytes big-endian), the IMDN flags (1 byte) and five
 * length-prefixed (2 bytes) fields; tag is the first 16 bytes of mac("sx1." payload-text).
 * Ids are at most SX_IDTOK_MAX characters; an entry too large gives -2 (the caller falls back
 * to its local idmap).
 *
 * No cryptography here: the MAC is a function the caller passes (gateway/stanza_id.c uses
 * HMAC-SHA256). Ownership: decoded entries hold malloc'd strings (sx_idmap_entry_free). */
#ifndef SX_TRANSLATE_IDTOKEN_H
#define SX_TRANSLATE_IDTOKEN_H
#include <stddef.h>
#include <stdint.h>

#include "translate/idmap.h"

#define SX_IDTOK_MAX 1400 /* characters, without the NUL */
#define SX_IDTOK_PREFIX "sx1."

/* Writes a MAC of msg[len] into out (at least 16 bytes, up to 64) and returns its length,
 * or 0 on failure. */
typedef size_t (*sx_idtok_mac_fn)(void *ctx, const unsigned char *msg, size_t len,
                                  unsigned char *out);

/* 1 when id has the token prefix (decode it rather than look it up). */
int sx_idtok_is_token(const char *id);

/* Encodes e with expiry expires_ms into id[idlen] (idlen > SX_IDTOK_MAX is always enough).
 * 0; -2 when the entry does not fit in SX_IDTOK_MAX or idlen; -1 on MAC failure. */
int sx_idtok_encode(const sx_idmap_entry *e, uint64_t expires_ms, sx_idtok_mac_fn mac,
                    void *ctx, char *id, size_t idlen);

/* Verifies and decodes id. 0 and e filled (strings malloc'd; sender, target and call_id never
 * NULL); -1 when malformed, longer than SX_IDTOK_MAX, forged (tag mismatch) or out of memory;
 * -2 when expired at now_ms (e untouched on any failure). */
int sx_idtok_decode(const char *id, uint64_t now_ms, sx_idtok_mac_fn mac, void *ctx,
                    sx_idmap_entry *e);

#endif
