/* Inbound <presence/> → a plain sx_presence (translate/presence.h), for the edge's
 * on_presence callback. Kept to a handful of element-tree calls (name, attribute, child by
 * name and namespace, text) so that it moves to another XML parser unchanged in shape. */
#ifndef SX_XMPP_EDGE_PRESENCE_H
#define SX_XMPP_EDGE_PRESENCE_H
#include <strophe.h>

#include "translate/presence.h"

typedef enum {
  EP_OK = 0,
  EP_BAD,   /* unknown type or show, bad priority, too many or invalid statuses */
  EP_NOMEM,
} edge_pres_rc;

/* Fills out (zeroed first) from st. from/to: the checked addresses in text form, taken over
 * by out (also on failure: sx_presence_free(out) releases them). */
edge_pres_rc edge_presence_extract(xmpp_ctx_t *ctx, xmpp_stanza_t *st, char *from, char *to,
                                   sx_presence *out);

#endif
