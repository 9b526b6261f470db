/* Address mapping between SIP URIs and XMPP JIDs (RFC 7247 §6, XEP-0106), and the one
 * canonical key form used for identity and policy.
 *
 * One identity per spelling: every JID these functions produce is prepared with the XMPP
 * stringprep profiles the edge applies (RFC 3920 Nodeprep for the localpart, Nameprep for the
 * domain, Resourceprep for the resource; libidn, unassigned code points allowed as in
 * Prosody's non-strict prep). Case, width, compatibility forms, zero-width characters, a
 * trailing dot and percent-encoding all reach the same parts; a part the profile refuses is
 * SX_ADDR_PREP. Everything downstream (policy and store keys, stanza `from`, SIP From) is built
 * from these parts.
 *
 * Ownership: every char * in an sx_jid is malloc'd and owned by the struct; release with
 * sx_jid_free(). Functions returning char * return a malloc'd string the caller frees.
 * Nothing here keeps static state. */
#ifndef SX_TRANSLATE_ADDRESS_H
#define SX_TRANSLATE_ADDRESS_H
#include <stddef.h>

#define SX_JID_PART_MAX 1023 /* bytes, per RFC 7622 */

typedef enum {
  SX_ADDR_OK = 0,
  SX_ADDR_SCHEME,    /* tel:, mailto:, im:, ... not mappable        → SIP 416           */
  SX_ADDR_SIPS,      /* sips: is never forwarded to XMPP           → SIP 403 + Warning  */
  SX_ADDR_MALFORMED, /* syntax: '@' or '/' misplaced, bad escape     → 400 / jid-malformed */
  SX_ADDR_NO_USER,   /* empty or missing localpart                 → 484 / jid-malformed */
  SX_ADDR_TOO_LONG,  /* a part over SX_JID_PART_MAX bytes          → 400 / jid-malformed */
  SX_ADDR_BAD_UTF8,  /* a decoded part is not valid UTF-8          → 400 / jid-malformed */
  SX_ADDR_PREP,      /* a part fails its stringprep profile, or is
                        empty after it                             → 400 / jid-malformed */
  SX_ADDR_NOMEM,
} sx_addr_rc;

typedef struct sx_jid {
  char *local;    /* XEP-0106 escaped localpart as it goes on the wire; NULL for a domain JID */
  char *domain;   /* lower-case, no trailing dot */
  char *resource; /* NULL when absent */
} sx_jid;

/* "sip:user@host;gr=x?hdr" → JID. Percent-decodes the user part, checks UTF-8, escapes
 * & ' / as \26 \27 \2f and applies Nodeprep, applies Nameprep to the domain (lower-case ASCII, trailing
 * dot stripped); `gr` becomes the Resourceprep'd resource; other parameters and headers are
 * dropped. A user part is required. */
sx_addr_rc sx_sip_to_jid(const char *uri, sx_jid *out);

/* Parses a JID in text form ("l@d/r", "d", "d/r") with RFC 7622 part checks; each part is
 * prepared with its profile. */
sx_addr_rc sx_jid_parse(const char *text, sx_jid *out);

/* JID → "sip:user@domain" (+ ";gr=resource" if present and with_gr): unescapes \26 \27 \2f
 * (other \hh stay), percent-encodes # % [ \ ] ^ ` { | } space, controls and non-ASCII. */
char *sx_jid_to_sip(const sx_jid *jid, int with_gr);

/* JID → text: "local@domain" or, with with_resource and a resource, "local@domain/res". */
char *sx_jid_to_text(const sx_jid *jid, int with_resource);

/* The canonical key of the bare JID: the prepared "local@domain". sip:BOB@Contoso.COM.,
 * sip:b%6Fb@contoso.com, sip:%EF%BD%82ob@contoso.com (fullwidth b) and bob@contoso.com all
 * yield "bob@contoso.com". */
char *sx_jid_key(const sx_jid *jid);

/* Deep copy; returns SX_ADDR_NOMEM on allocation failure (dst then zeroed). */
sx_addr_rc sx_jid_copy(sx_jid *dst, const sx_jid *src);

void sx_jid_free(sx_jid *jid);

/* The SIP status that refuses a request whose target failed with rc (416, 403, 400, 484),
 * and a short reason text (static string). */
int sx_addr_sip_status(sx_addr_rc rc);
const char *sx_addr_reason(sx_addr_rc rc);

/* Domain comparison as the policy does it: case-insensitive, ignoring one trailing dot. */
int sx_domain_eq(const char *a, const char *b);

#endif
