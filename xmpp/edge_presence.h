/* Inbound <presence/> → a plain sx_presence (translate/presence.h), for the edge's
 * on_presence callback. Reads the element tree of the link's parser (xmpp/edge_xml.h). */
#ifndef SX_XMPP_EDGE_PRESENCE_H
#define SX_XMPP_EDGE_PRESENCE_H
#include "translate/presence.h"
#include "xmpp/edge_xml.h"

typedef enum {
  EP_OK = 0,
  EP_BAD,   /* unknown type or show, bad priority, too many or invalid statuses */
  EP_NOMEM,
} edge_pres_rc;

/* Fills out (zeroed first) from st (borrowed for the call). from/to: the checked addresses
 * in text form, taken over by out (also on failure: sx_presence_free(out) releases them).
 * Only children in the stanza's own namespace are its show, priority and status; the
 * error condition is the child of <error/> in the stanzas namespace. */
edge_pres_rc edge_presence_extract(const sx_xel *st, char *from, char *to, sx_presence *out);

#endif
