/* Remembers, for a bounded time and count, which SIP sender each stanza id sent to XMPP
 * came from, so that an error stanza coming back can be traced to that sender (SPEC §3).
 *
 * Ids are made by the map itself ("sx-<seq>-<nonce>") and locate their slot directly: no
 * hashing, no search. The oldest entry is overwritten when the map is full.
 * Ownership: the map owns copies of the strings it stores; sx_idmap_take hands them to the
 * caller (free()). */
#ifndef SX_TRANSLATE_IDMAP_H
#define SX_TRANSLATE_IDMAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct sx_idmap sx_idmap;

typedef struct sx_idmap_entry {
  char *sender;   /* SIP URI of the original sender */
  char *target;   /* JID the message was sent to */
  char *call_id;
  char *imdn_id;  /* RFC 5438 Message-ID the sender gave, or NULL */
  char *imdn_datetime;
  int imdn_flags; /* SX_IMDN_POSITIVE | SX_IMDN_NEGATIVE */
} sx_idmap_entry;

sx_idmap *sx_idmap_new(size_t capacity, uint64_t ttl_ms);
void sx_idmap_free(sx_idmap *m);

/* Stores copies of the strings and writes the new id (NUL-terminated) into id[idlen]
 * (idlen >= 40). Returns 0, or -1 on allocation failure. */
int sx_idmap_put(sx_idmap *m, uint64_t now_ms, const char *sender, const char *target,
                 const char *call_id, char *id, size_t idlen);

/* As sx_idmap_put, storing copies of every field of e. */
int sx_idmap_put_entry(sx_idmap *m, uint64_t now_ms, const sx_idmap_entry *e, char *id,
                       size_t idlen);

/* Removes the entry for id and moves its strings into e. Returns 0 if found and not expired,
 * -1 otherwise (e untouched). */
int sx_idmap_take(sx_idmap *m, uint64_t now_ms, const char *id, sx_idmap_entry *e);
void sx_idmap_entry_free(sx_idmap_entry *e);

#endif
