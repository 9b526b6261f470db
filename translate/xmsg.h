/* A plain XMPP <message/> stanza, as the adapters hand it to the core and the core hands
 * it back for sending. No library types: xmpp/ fills it from a parsed stanza; the
 * core serialises it with sx_xmsg_serialize().
 *
 * Ownership: every char * is malloc'd and owned by the struct (sx_xmsg_free releases them).
 * The xmpp adapter passes a borrowed const sx_xmsg * to its callback: copy what outlives it. */
#ifndef SX_TRANSLATE_XMSG_H
#define SX_TRANSLATE_XMSG_H
#include <stddef.h>

typedef enum {
  SX_CHAT_NONE = 0,
  SX_CHAT_ACTIVE,
  SX_CHAT_COMPOSING,
  SX_CHAT_PAUSED,
  SX_CHAT_INACTIVE,
  SX_CHAT_GONE,
} sx_chat_state;

typedef struct sx_xmsg {
  char *from, *to;    /* JIDs as text (escaped form), required */
  char *id;           /* stanza id or NULL */
  char *type;         /* "chat", "normal", "error", "groupchat", "headline"; NULL = normal */
  char *lang;         /* xml:lang or NULL */
  char *body;         /* UTF-8 text or NULL */
  char *subject;
  char *thread;
  sx_chat_state chat_state;
  int receipt_request; /* <request xmlns='urn:xmpp:receipts'/> */
  char *receipt_for;   /* <received id='...'/>: the id it acknowledges */
  /* type='error' only: */
  char *error_condition; /* e.g. "service-unavailable" */
  char *error_type;      /* "cancel", ... */
  char *error_text;
} sx_xmsg;

/* Serialises m as one <message/> element (xmlns not written: the component stream's default
 * namespace applies). Every attribute and text is XML-escaped. Returns malloc'd text and its
 * length, or NULL on allocation failure or when from or to is missing. */
char *sx_xmsg_serialize(const sx_xmsg *m, size_t *len);

/* An error reply to `orig` (to/from swapped, same id and type='error') carrying condition,
 * its type from the error table, and optional text. Returns malloc'd XML. */
char *sx_xmsg_error_reply(const char *orig_from, const char *orig_to, const char *id,
                          const char *condition, const char *text, size_t *len);

void sx_xmsg_free(sx_xmsg *m);

#endif
