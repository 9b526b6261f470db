/* Per-message log lines and the audit log of message bodies (SPEC §8, issue 8 item 5/7).
 *
 * Every message the gateway handles ends in exactly one info line:
 *   text: sip->xmpp Call-ID 7f3a id sx5c2e sip:bob@contoso.example -> alice@fabrikam.example:
 *         202 accepted (3.1 ms)
 *   json: {"time":...,"level":"info","subsys":"msg","msg":"<the text line>","dir":"sip_to_xmpp",
 *          "id":"7f3a","stanza_id":"sx5c2e","from":...,"to":...,"status":202,
 *          "result":"accepted","ms_x10":31}
 * "ms_x10" is tenths of milliseconds from the moment the gateway took the message on to its
 * outcome. Bodies never appear in these lines.
 *
 * The audit log ([federation] log_message_bodies = on) is a separate file, one JSON object
 * per message with its body: {"time","dir","id","from","to","body"}. It is opened (mode 0600,
 * append) by sx_msglog_open and never written to stderr.
 *
 * Single-threaded: every function runs on the loop thread. Strings passed in are copied
 * where they are kept (sx_msglog_hold); nothing here keeps a caller's pointer except the
 * hold token, which is only compared, never dereferenced. */
#ifndef SX_GATEWAY_MSGLOG_H
#define SX_GATEWAY_MSGLOG_H
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "gateway/metrics.h"

/* Sets the log format from cfg and opens the audit log when cfg enables it. Returns 0, or
 * -1 with a message naming the file in err. */
int sx_msglog_open(const sx_config *cfg, char *err, size_t errlen);
/* Closes the audit log and forgets held messages. */
void sx_msglog_close(void);

/* Marks the start of handling one incoming message; returns the monotonic clock (ns). A
 * later sx_msglog_done or sx_msglog_hold with t0 = 0 measures from this mark. */
uint64_t sx_msglog_begin(void);

/* The outcome of a message known now. id: SIP Call-ID (sip->xmpp) or stanza id (xmpp->sip);
 * status: the SIP status given or received (0 when none); result: a short word ("accepted",
 * "delivered", "refused", "failed", "busy"); detail: a reason code or text, or NULL. */
void sx_msglog_done(sx_dir dir, const char *id, const char *from, const char *to, int status,
                    const char *result, const char *detail, uint64_t t0);

/* A message whose outcome comes later, keyed by `token` (any pointer unique while held):
 * the line is written by sx_msglog_release. stanza_id may be NULL. */
void sx_msglog_hold(const void *token, sx_dir dir, const char *id, const char *stanza_id,
                    const char *from, const char *to, uint64_t t0);
/* Writes the line of a held message and forgets it. Returns 1, or 0 (nothing written) for a
 * token not held. */
int sx_msglog_release(const void *token, int status, const char *result, const char *detail);
/* Held messages (for tests and status). */
size_t sx_msglog_held(void);

/* Appends one message body to the audit log when it is on; otherwise does nothing. */
void sx_msglog_audit(sx_dir dir, const char *id, const char *from, const char *to,
                     const char *body);

#endif
