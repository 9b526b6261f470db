/* The presence relation between one internal user and one external bare JID (SPEC §4, §5):
 * the one model the store (conf/store.h), the policy snapshot and decision
 * (translate/policy.h), the state machine (translate/relation_fsm.h), the daemon's relation
 * table (translate/reltab.h) and sipxmppctl share.
 *
 * Persisted: out, in, added (the store's contacts table). Not persisted: suspended, which is
 * recomputed from the policy after every start (a relation whose user is not enabled or
 * whose partner is gone is suspended; see relation_fsm.h).
 *
 * Ownership: plain values, no pointers. Name functions return static strings. */
#ifndef SX_TRANSLATE_RELATION_H
#define SX_TRANSLATE_RELATION_H
#include <stdint.h>

/* The user's XMPP subscription to the contact's presence (user → contact). */
typedef enum {
  SX_OUT_NONE = 0,
  SX_OUT_PENDING,    /* `subscribe` sent, no answer yet */
  SX_OUT_SUBSCRIBED, /* the contact answered `subscribed` */
} sx_sub_out;

/* The contact's subscription to the user's presence (contact → user). */
typedef enum {
  SX_IN_NONE = 0,
  SX_IN_PENDING,  /* the contact asked (`subscribe`); held until the user adds the contact */
  SX_IN_APPROVED, /* `subscribed` sent: the contact is an approved watcher of the user */
} sx_sub_in;

typedef struct sx_rel {
  uint8_t out;       /* sx_sub_out */
  uint8_t in;        /* sx_sub_in */
  uint8_t added;     /* 1: the user added the contact (the contact list SPEC §5 consults) */
  uint8_t suspended; /* 1: policy revoked (user not enabled or partner removed); not stored */
} sx_rel;

/* The empty relation: no entry. */
#define SX_REL_NONE ((sx_rel){0, 0, 0, 0})

/* 1 when nothing is persisted for r (not added, both directions none): the store keeps no
 * row for it. */
int sx_rel_is_empty(sx_rel r);

/* 1 when the persisted parts (out, in, added) of a and b differ; suspended is ignored. */
int sx_rel_persisted_differs(sx_rel a, sx_rel b);

/* Names as stored and printed:
 *   out: "none", "pending", "subscribed"     in: "none", "pending", "approved"
 * sx_rel_summary: one word for lists and `sipxmppctl check`: "added" (the user added the
 *   contact), "pending_in" (a request from the contact waits), "approved_in" (the contact
 *   sees the user, not added), "subscribed_out"/"pending_out" (only the outbound side
 *   stands), "none". Unknown values give "?". */
const char *sx_sub_out_name(sx_sub_out s);
const char *sx_sub_in_name(sx_sub_in s);
const char *sx_rel_summary(sx_rel r);

/* Parses the stored names above. 0 ok, -1 unknown (value unchanged). */
int sx_sub_out_parse(const char *text, sx_sub_out *out);
int sx_sub_in_parse(const char *text, sx_sub_in *out);

/* Pending requests left unanswered ([federation] subscription_refresh_s): what to do with
 * relation r, pending since since_ms, at now_ms (one clock), given the user's live SIP
 * dialogs watching the contact. Nothing while r is suspended or younger than interval_ms;
 * else a bitmask:
 *   SX_REXP_DROP_IN    the contact's request (in pending) is no longer kept: in → none
 *                      (the contact must ask again);
 *   SX_REXP_REASK_OUT  our `subscribe` (out pending) is sent again, because SIP watchers
 *                      still want the contact's presence;
 *   SX_REXP_DROP_OUT   our unanswered `subscribe` is forgotten (no SIP watcher): out → none. */
enum {
  SX_REXP_DROP_IN = 1u << 0,
  SX_REXP_REASK_OUT = 1u << 1,
  SX_REXP_DROP_OUT = 1u << 2,
};
unsigned sx_rel_expiry(sx_rel r, uint64_t since_ms, uint64_t now_ms, uint64_t interval_ms,
                       unsigned sip_dialogs);

#endif
