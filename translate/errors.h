/* The RFC 7247 §7 error tables (SPEC §6): one table, used in both directions.
 * All returned strings are static. */
#ifndef SX_TRANSLATE_ERRORS_H
#define SX_TRANSLATE_ERRORS_H

/* SIP final status (300..699) → XMPP defined condition ("item-not-found", ...). Unlisted codes
 * fall back by class: 3xx redirect, 4xx bad-request, 5xx internal-server-error,
 * 6xx recipient-unavailable. Returns NULL for codes outside 300..699. */
const char *sx_err_sip_to_xmpp(int status);

/* XMPP condition → SIP status. full_jid: the XMPP target was a full JID (affects
 * feature-not-implemented 405/501 and the 4xx/6xx pairs: forbidden 403/603, item-not-found
 * 404/604, not-acceptable 406/606, recipient-unavailable 480/600 — the 6xx form is used for
 * a bare JID, the 4xx form for a full JID). has_new_address: `gone` carried a new address (301,
 * else 410). Unknown conditions → 400 (undefined-condition). */
int sx_err_xmpp_to_sip(const char *condition, int full_jid, int has_new_address);

/* The stanza error type for a condition (RFC 6120 §8.3.3): "cancel", "modify", "auth" or "wait". */
const char *sx_err_type(const char *condition);

/* 1 if condition is one of the RFC 6120 §8.3.3 defined conditions. */
int sx_err_is_condition(const char *condition);

/* The <text/> of an error sent to an external (partner) party for a condition: neutral, it
 * names no policy, site, user setting or internal host ("not permitted by the recipient's
 * organisation"). The detail stays in the logs, /metrics, `check` and internal Warnings. */
const char *sx_err_partner_text(const char *condition);

/* The standard SIP reason phrase for a status ("Not Found"), or "Unknown". */
const char *sx_sip_phrase(int status);

#endif
