/* Instant Message Disposition Notifications (RFC 5438): what a SIP sender asked for in its
 * message/cpim, and the notification documents the gateway sends back for XEP-0184 receipts
 * (delivered) and XMPP errors (failed). */
#ifndef SX_TRANSLATE_IMDN_H
#define SX_TRANSLATE_IMDN_H
#include <stddef.h>

enum { SX_IMDN_POSITIVE = 1, SX_IMDN_NEGATIVE = 2 };

/* Flags (SX_IMDN_*) from an imdn.Disposition-Notification value
 * ("positive-delivery, negative-delivery, display"). */
int sx_imdn_parse_request(const char *value);

/* The body of an IMDN MESSAGE (Content-Type message/cpim): CPIM headers from `from` (the
 * recipient) to `to` (the original sender), a new Message-ID, and a message/imdn+xml
 * delivery-notification for orig_id with status "delivered" or "failed". orig_datetime may be
 * NULL. Returns malloc'd text (caller frees), NULL on allocation failure. */
char *sx_imdn_build(const char *from, const char *to, const char *orig_id,
                    const char *orig_datetime, const char *status, const char *new_id);

#endif
