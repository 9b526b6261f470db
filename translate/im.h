/* Instant-message mapping between SIP MESSAGE and XMPP <message/> (RFC 7572, SPEC §3),
 * without any library type: the SIP side arrives as plain strings, the XMPP side is an
 * sx_xmsg. Checks addresses, content type, charset, size and CPIM identity; the gateway adds
 * the checks that need configuration (trusted peers, served domains, policy).
 *
 * Ownership: outputs are filled with malloc'd strings the caller owns (sx_xmsg_free,
 * sx_jid_free, sx_im_sip_free). sx_im_fail holds static strings only. */
#ifndef SX_TRANSLATE_IM_H
#define SX_TRANSLATE_IM_H
#include <stddef.h>

#include "translate/address.h"
#include "translate/xmsg.h"

#define SX_IM_ACCEPT "text/plain, message/cpim, application/im-iscomposing+xml"

typedef struct sx_im_fail {
  int status;          /* SIP status for the refusal */
  const char *reason;  /* short human text, also used as Warning text */
  const char *code;    /* snake_case reason for metrics: "bad_address", "sips_target", ... */
  int warn;            /* 1: send the reason as a Warning header */
  int accept;          /* 1: add Accept: SX_IM_ACCEPT (415) */
} sx_im_fail;

typedef struct sx_im_sip_in {
  const char *from_uri, *request_uri, *call_id, *subject;
  const char *content_type, *charset, *content_language;
  const char *body;
  size_t body_len;
} sx_im_sip_in;

typedef struct sx_im_opts {
  size_t max_body;      /* bytes of UTF-8 text */
  const char *msg_type; /* "chat" or "normal" */
} sx_im_opts;

/* What a message/cpim sender asked for (RFC 5438); strings malloc'd, NULL when absent. */
typedef struct sx_im_imdn {
  int flags;      /* SX_IMDN_POSITIVE | SX_IMDN_NEGATIVE (translate/imdn.h) */
  char *id;       /* imdn.Message-ID */
  char *datetime; /* DateTime */
} sx_im_imdn;
void sx_im_imdn_free(sx_im_imdn *i);

/* As sx_im_from_sip, and reports the IMDN request (zeroed when none) in imdn when not NULL.
 * A positive-delivery request also sets out->receipt_request (XEP-0184). */
int sx_im_from_sip_ex(const sx_im_sip_in *in, const sx_im_opts *o, sx_xmsg *out,
                      sx_jid *sender, sx_jid *target, sx_im_imdn *imdn, sx_im_fail *fail);

/* SIP MESSAGE → <message/>. On success returns 0 and fills out (from, to, type, body or chat
 * state, subject, thread, lang; not id), sender (From as JID, gr → resource) and target
 * (Request-URI as JID). On refusal returns -1 with fail set and nothing to free. */
int sx_im_from_sip(const sx_im_sip_in *in, const sx_im_opts *o, sx_xmsg *out, sx_jid *sender,
                   sx_jid *target, sx_im_fail *fail);

typedef struct sx_im_sip_out {
  char *request_uri, *from, *to, *call_id, *subject, *content_type, *content_language, *body;
} sx_im_sip_out;

/* <message/> (not type=error) → SIP MESSAGE. On success returns 0 and fills out (call_id may
 * be NULL: let the SIP side make one). Returns 1 when the stanza carries nothing to deliver
 * (no body, no chat state: e.g. a bare receipt) — nothing filled. Returns -1 with *condition
 * (and *text) set to the XMPP error to send back. */
int sx_im_to_sip(const sx_xmsg *m, size_t max_body, sx_im_sip_out *out,
                 const char **condition, const char **text);
/* The same with the stanza's sender and recipient already parsed (m->from, m->to as
 * sx_jid_parse gave them; borrowed, not freed): the relay parses them once for its policy
 * decision and the request. */
int sx_im_to_sip_jids(const sx_xmsg *m, const sx_jid *from, const sx_jid *to,
                      size_t max_body, sx_im_sip_out *out, const char **condition,
                      const char **text);
void sx_im_sip_free(sx_im_sip_out *o);

/* The text of a delivery-failure notice for a message to `to` that failed with the XMPP
 * condition (and optional server text). malloc'd. */
char *sx_im_failure_text(const char *to, const char *condition, const char *text);

#endif
