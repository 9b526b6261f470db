/* XMPP → PIDF (RFC 3863) with RPID (RFC 4480), as SPEC §4 and issue 6 item 3 define it:
 *
 *   - one <tuple id="ID-<resource>"> per available resource, <status><basic>open</basic>;
 *     no resource available → one tuple id="ID-offline" with basic closed;
 *   - <contact priority="p/127"> (three decimals) from a non-negative priority (negative or
 *     none: no priority attribute; the contact is the entity);
 *   - the XMPP show as <show xmlns='jabber:client'> inside the tuple's <status>;
 *   - <note xml:lang="..."> per status (lang inherited from the stanza);
 *   - one <dm:person id="p"> with the RPID activity of the most available resource
 *     (sx_agg_best): away → <rpid:away/>, xa → <rpid:away/> + <rpid:user-input>idle
 *     </rpid:user-input>, dnd → <rpid:busy/>, chat/none → no activity.
 *
 * The tuple id is an XML ID (NCName): resource bytes outside [A-Za-z0-9._-] are written as
 * "_XX" (upper-case hex), "_" itself as "_5F".
 *
 * Ownership: returns malloc'd text the caller frees; reads the aggregate only. */
#ifndef SX_TRANSLATE_PIDF_RENDER_H
#define SX_TRANSLATE_PIDF_RENDER_H
#include <stddef.h>

#include "translate/presence_agg.h"

#define SX_PIDF_CONTENT_TYPE "application/pidf+xml"

/* Renders a as a PIDF document for `entity`, the contact's SIP URI (sx_jid_to_sip() of its
 * bare JID, translate/address.h). strip_notes: write no <note/> (partners that may not see
 * notes; unused for the SIP side today, kept for symmetry). Returns the document and its
 * length, or NULL when entity is NULL/empty or out of memory. */
char *sx_pidf_render(const sx_pres_agg *a, const char *entity, int strip_notes, size_t *len);

#endif
