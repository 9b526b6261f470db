/* A plain XMPP <presence/> stanza (RFC 6121), as the adapters hand it to the core and the
 * core hands it back for sending. No library types: xmpp/ fills it from a libstrophe
 * stanza; the core serialises it with sx_presence_serialize(), whose output can never break
 * the stream (every attribute and text escaped, text checked to be XML-safe UTF-8, closed
 * sets for type, show and error condition).
 *
 * Ownership: every char * (and the statuses array with its strings) is malloc'd and owned by
 * the struct; sx_presence_free() releases them. The xmpp adapter passes a borrowed
 * const sx_presence * to its callback: copy what outlives it (sx_presence_copy()). */
#ifndef SX_TRANSLATE_PRESENCE_H
#define SX_TRANSLATE_PRESENCE_H
#include <stddef.h>

typedef enum {
  SX_PRES_AVAILABLE = 0, /* no type attribute */
  SX_PRES_UNAVAILABLE,
  SX_PRES_SUBSCRIBE,
  SX_PRES_SUBSCRIBED,
  SX_PRES_UNSUBSCRIBE,
  SX_PRES_UNSUBSCRIBED,
  SX_PRES_PROBE,
  SX_PRES_ERROR,
} sx_pres_type;

/* <show/>; SX_SHOW_NONE is plain available (no <show/>). */
typedef enum {
  SX_SHOW_NONE = 0,
  SX_SHOW_CHAT,
  SX_SHOW_AWAY,
  SX_SHOW_XA,
  SX_SHOW_DND,
} sx_show;

/* Bounds checked by every function that adds statuses (network input is bounded too). */
#define SX_PRES_MAX_STATUSES 16
#define SX_PRES_MAX_TEXT 8192 /* bytes of one <status/> */
#define SX_PRES_MAX_LANG 64   /* bytes of an xml:lang value */

typedef struct sx_pres_status {
  char *lang; /* xml:lang of the <status/>; NULL: inherited from the stanza */
  char *text; /* UTF-8, never NULL */
} sx_pres_status;

typedef struct sx_presence {
  char *from; /* JID text (escaped form); must be a served-domain JID when sent */
  char *to;   /* JID text; required when sent */
  char *id;   /* stanza id or NULL */
  char *lang; /* the stanza's xml:lang or NULL */
  sx_pres_type type;
  sx_show show;     /* available only */
  int has_priority; /* 1: <priority/> present */
  int priority;     /* -128..127 */
  sx_pres_status *statuses;
  size_t n_statuses;
  /* type error only: */
  char *error_condition; /* e.g. "service-unavailable", "forbidden" */
  char *error_type;      /* "cancel", ...; NULL: from the error table */
  char *error_text;
} sx_presence;

/* Appends a status (both strings copied; lang may be NULL). -1 when text is NULL, over the
 * bounds above, not valid UTF-8, or out of memory (nothing added). */
int sx_presence_add_status(sx_presence *p, const char *lang, const char *text);

/* Removes every status (for partners that may not see notes, SPEC §5). */
void sx_presence_strip_statuses(sx_presence *p);

/* Deep copy into dst (zeroed first). -1 when out of memory (dst then empty). */
int sx_presence_copy(sx_presence *dst, const sx_presence *src);

/* Serialises p as one <presence/> element (xmlns not written: the component stream's default
 * namespace applies). from and to are required. show, priority and statuses are written for
 * available and unavailable presence only; an error condition for type error only (one
 * outside RFC 6120's set becomes undefined-condition). Text with characters XML cannot
 * carry is cleaned (controls removed) and invalid UTF-8 refused. Returns malloc'd text and
 * its length, or NULL when from or to is missing, a text is not valid UTF-8, the priority is
 * outside -128..127, or out of memory. */
char *sx_presence_serialize(const sx_presence *p, size_t *len);

void sx_presence_free(sx_presence *p);

/* "available" (for SX_PRES_AVAILABLE, which has no type attribute on the wire),
 * "unavailable", "subscribe", ...; "none", "chat", "away", "xa", "dnd" (static). */
const char *sx_pres_type_name(sx_pres_type t);
const char *sx_show_name(sx_show s);

/* Parses a type attribute (NULL or absent → available) or a <show/> text (NULL → none).
 * 0 ok, -1 unknown (RFC 6121: the stanza is then refused with bad-request). */
int sx_pres_type_parse(const char *text, sx_pres_type *out);
int sx_show_parse(const char *text, sx_show *out);

#endif
