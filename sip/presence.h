/* SIP presence dialogs (RFC 6665, RFC 3856) behind plain structs.
 *
 * Watcher dialogs (UAS): a SUBSCRIBE reaches the gateway's on_request like any request; the
 * gateway checks it with sx_sip_watch_check (Event, Expires: 489, 423 + Min-Expires), decides,
 * and accepts it with sx_sip_watch_accept (200 with a To tag, Contact and the granted
 * Expires — never 202), then sends the first NOTIFY at once. Everything later in that
 * dialog is handled here: a retransmitted SUBSCRIBE gets the same answer again, a refresh is
 * answered 200 and reported through on_watch_refresh (the gateway sends a NOTIFY with the
 * state it has), Expires: 0 and expiry are reported through on_watch_end (the gateway sends
 * the final NOTIFY with sx_sip_watch_notify(..., terminated)), a NOTIFY answered 481 or not
 * answered ends the dialog (on_watch_end with SX_WATCH_GONE; no NOTIFY may follow).
 * NOTIFYs travel the SUBSCRIBE's Record-Route set, else its Contact. At most one NOTIFY per
 * dialog is in flight; a newer state replaces one still waiting, and at most
 * max_notify_in_flight NOTIFYs of all dialogs are in flight at once (the rest wait in order).
 *
 * Fan-out subscriptions (UAC): sx_sip_fanout_new subscribes From `from` to `target`'s
 * presence through the outbound proxy, refreshes at 80 % of the granted Expires,
 * re-subscribes with backoff and jitter after 481, 408, 5xx, a transaction timeout or a
 * terminated NOTIFY, and hands every NOTIFY of its dialog to on_fanout_notify (answered with
 * the status that callback returns). sx_sip_fanout_free ends it with Expires: 0.
 *
 * Ownership: sx_sip_watch and sx_sip_fanout objects belong to this module. A watch is valid
 * until on_watch_end with SX_WATCH_GONE returns or sx_sip_watch_notify with a terminated
 * state returns; a fan-out until sx_sip_fanout_free. Strings in the callback structs are
 * borrowed for the call. Single-threaded: everything runs on the loop's thread. */
#ifndef SX_SIP_PRESENCE_H
#define SX_SIP_PRESENCE_H
#include <stddef.h>

#include "sip/sip.h"

typedef struct sx_sip_pres sx_sip_pres;
typedef struct sx_sip_watch sx_sip_watch;
typedef struct sx_sip_fanout sx_sip_fanout;

typedef enum {
  SX_WATCH_UNSUBSCRIBED = 0, /* Expires: 0 in the dialog: send the final NOTIFY */
  SX_WATCH_EXPIRED,          /* not refreshed in time: send the final NOTIFY */
  SX_WATCH_GONE,             /* NOTIFY answered 481 / timed out: the dialog is gone */
} sx_watch_end;

typedef struct sx_sip_pres_params {
  unsigned min_expires, max_expires; /* [presence] min_expires / max_expires */
  size_t max_notify_in_flight;       /* NOTIFYs of all dialogs in flight at once */
  const char *contact;               /* our Contact URI for dialogs (copied) */
  int tcp_to_proxy;                  /* requests through the outbound proxy use TCP */
} sx_sip_pres_params;

/* A NOTIFY received in a fan-out dialog. */
typedef struct sx_sip_notify_in {
  const char *state;  /* "active", "pending", "terminated" (lower case) or "" */
  const char *reason; /* terminated's reason or NULL */
  unsigned expires;   /* Subscription-State expires (0 when absent) */
  const char *content_type; /* "type/subtype" or NULL */
  const char *body;   /* not NUL-terminated; NULL when empty */
  size_t body_len;
} sx_sip_notify_in;

typedef struct sx_sip_pres_cbs {
  void (*on_watch_refresh)(void *ud, sx_sip_watch *w, void *watch_ud, unsigned expires);
  void (*on_watch_end)(void *ud, sx_sip_watch *w, void *watch_ud, sx_watch_end why);
  /* Returns the status to answer the NOTIFY with (200, or 400 for a bad body). */
  int (*on_fanout_notify)(void *ud, sx_sip_fanout *f, void *fanout_ud,
                          const sx_sip_notify_in *n);
  /* A (re-)SUBSCRIBE of the fan-out was answered: status 2xx, or the failure (a retry is
   * scheduled; retry_ms says when). */
  void (*on_fanout_answer)(void *ud, sx_sip_fanout *f, void *fanout_ud, int status,
                           unsigned retry_ms);
} sx_sip_pres_cbs;

typedef struct sx_sip_pres_stats {
  size_t watches, fanouts, notify_in_flight, notify_waiting;
  unsigned long notify_ok, notify_failed, resubscribes;
} sx_sip_pres_stats;

/* Sets presence up on an adapter (copies p and cbs): SUBSCRIBE and NOTIFY of its dialogs
 * are taken over from then on. NULL when out of memory. */
sx_sip_pres *sx_sip_pres_new(sx_sip *s, const sx_sip_pres_params *p,
                             const sx_sip_pres_cbs *cbs, void *ud);
/* Releases every watch and abandons the transactions still out, without sending anything
 * (send the final NOTIFYs first and let the loop turn). The owner frees its fan-outs
 * (sx_sip_fanout_free) before this. Before sx_sip_free. */
void sx_sip_pres_free(sx_sip_pres *p);
void sx_sip_pres_get_stats(const sx_sip_pres *p, sx_sip_pres_stats *out);

/* --- watcher dialogs (UAS) --- */

/* Within on_request for a SUBSCRIBE: checks Event (presence, else 489) and Expires (below
 * min_expires but not 0: 423 + Min-Expires; capped at max_expires; absent: max_expires).
 * Returns 0 with *expires set (0: a fetch), or -1 when it already answered. */
int sx_sip_watch_check(sx_sip_pres *p, sx_sip_txn *txn, unsigned *expires);
/* Answers 200 (To tag, Contact, Expires) and creates the dialog; NULL when out of memory
 * (then answered 500). watch_ud is handed back in the callbacks. With expires 0 the
 * gateway must end the dialog with one terminated NOTIFY. */
sx_sip_watch *sx_sip_watch_accept(sx_sip_pres *p, sx_sip_txn *txn, unsigned expires,
                                  void *watch_ud);
void sx_sip_watch_set_ud(sx_sip_watch *w, void *watch_ud);
/* Sends (or queues) a NOTIFY. state: "active", "pending" or "terminated;reason=X" (then the
 * dialog is released after this call, w becomes invalid). content_type/body may be NULL
 * (no body). 0, or -1 when out of memory. */
int sx_sip_watch_notify(sx_sip_watch *w, const char *state, const char *content_type,
                        const char *body);
/* Seconds left before the dialog expires. */
unsigned sx_sip_watch_remaining(const sx_sip_watch *w);

/* --- fan-out subscriptions (UAC) --- */

/* Subscribes From `from` to `target` (SIP URIs) with `expires`. NULL when out of memory. */
sx_sip_fanout *sx_sip_fanout_new(sx_sip_pres *p, const char *target, const char *from,
                                 unsigned expires, void *fanout_ud);
/* Drops the dialog and subscribes again now (after an edge reconnect). */
void sx_sip_fanout_restart(sx_sip_fanout *f);
/* Ends the subscription with Expires: 0 (when a dialog exists) and releases f. */
void sx_sip_fanout_free(sx_sip_fanout *f);
int sx_sip_fanout_active(const sx_sip_fanout *f);

#endif
