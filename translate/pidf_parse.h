/* PIDF (RFC 3863) with RPID (RFC 4480) → one XMPP presence, as SPEC §4 and issue 6 item 3
 * define it:
 *
 *   - basic open in any tuple → available, else unavailable; an empty body → unavailable;
 *   - activity from any <dm:person> (several may come: Kamailio merges one per device,
 *     newest first; the first that maps wins) or from a tuple: busy, on-the-phone, meeting,
 *     appointment, performance, presentation → dnd; away, meal, steering, travel, sleeping,
 *     <rpid:user-input>idle</rpid:user-input> → away; vacation, holiday, permanent-absence →
 *     xa; a <show xmlns='jabber:client'> (inside a tuple's status) wins over RPID;
 *   - every <note> (of the presence, its tuples and persons; duplicates of the same text and
 *     lang once) → a status with its xml:lang (inherited from ancestors);
 *   - the highest <contact priority> of an open tuple → <priority/> (round(p * 127)).
 *
 * Parsed with expat under limits: body size, element depth, element count, attribute
 * count, note count and size; DOCTYPE (and so any entity declaration) is refused, never
 * expanded. A bad body is an error: the caller answers the NOTIFY 400 and changes nothing.
 *
 * Ownership: fills a caller-owned sx_presence (zeroed first; only type, show, priority and
 * statuses are set; from/to/id are the caller's); release with sx_presence_free(). */
#ifndef SX_TRANSLATE_PIDF_PARSE_H
#define SX_TRANSLATE_PIDF_PARSE_H
#include <stddef.h>

#include "translate/presence.h"

typedef struct {
  size_t max_bytes;      /* body size */
  unsigned max_depth;    /* element nesting */
  unsigned max_elements; /* elements in the document */
} sx_pidf_limits;

/* 64 KiB, depth 32, 4096 elements. */
#define SX_PIDF_LIMITS_DEFAULT ((sx_pidf_limits){65536, 32, 4096})

typedef enum {
  SX_PIDF_OK = 0,
  SX_PIDF_MALFORMED, /* not well-formed XML, bad UTF-8 */
  SX_PIDF_TOO_BIG,   /* over max_bytes */
  SX_PIDF_TOO_DEEP,  /* over max_depth */
  SX_PIDF_TOO_MANY,  /* over max_elements, or too many attributes/notes, a note too long */
  SX_PIDF_FORBIDDEN, /* DOCTYPE, entity declaration, processing instruction */
  SX_PIDF_NOT_PIDF,  /* the root is not urn:ietf:params:xml:ns:pidf <presence> */
  SX_PIDF_NOMEM,
} sx_pidf_rc;

/* Parses body[0..len). lim NULL: SX_PIDF_LIMITS_DEFAULT. On failure out is empty and err
 * (when n > 0) says what is wrong, for the log and the 400's reason. */
sx_pidf_rc sx_pidf_parse(const char *body, size_t len, const sx_pidf_limits *lim,
                         sx_presence *out, char *err, size_t n);

/* "ok", "malformed", "too_big", "too_deep", "too_many", "forbidden", "not_pidf", "nomem"
 * (static; also metrics labels). */
const char *sx_pidf_rc_name(sx_pidf_rc rc);

#endif
