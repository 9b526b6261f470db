/* Process-wide counters and their Prometheus text exposition (served at /metrics).
 *
 * The daemon is single-threaded: every function here must be called from the loop thread.
 * Counting is a plain increment (after a short table scan for labelled counters); nothing
 * allocates on the hot path except the first sighting of a new domain or counter name.
 *
 * Strings passed in are copied (up to SX_METRIC_NAME_MAX-1 bytes; a longer name or reason
 * is counted under "other"), so callers may pass any string, not only literals. */
#ifndef SX_GATEWAY_METRICS_H
#define SX_GATEWAY_METRICS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SX_METRIC_NAME_MAX 64

typedef enum {
  SX_DIR_SIP_TO_XMPP = 0,
  SX_DIR_XMPP_TO_SIP,
  SX_DIR_COUNT,
} sx_dir;

typedef enum {
  SX_RES_ACCEPTED = 0, /* taken on (SIP 202 given / stanza accepted for delivery) */
  SX_RES_DELIVERED,    /* the far side confirmed (SIP 2xx for XMPP→SIP) */
  SX_RES_REFUSED,      /* refused by policy or address rules (see refusals by reason) */
  SX_RES_FAILED,       /* accepted, then failed downstream (SIP failure, XMPP error) */
  SX_RES_REJECTED_BUSY, /* refused for lack of capacity: link down, queue full */
  SX_RES_COUNT,
} sx_result;

/* Label values: "sip_to_xmpp", "xmpp_to_sip"; "accepted", "delivered", ... (static). */
const char *sx_dir_name(sx_dir dir);
const char *sx_result_name(sx_result res);

/* Messages by direction and result. Out-of-range values are ignored. */
void sx_metric_msg(sx_dir dir, sx_result res);

/* Refusals by direction and reason. `reason` is a short snake_case word such as
 * "not_partner", "user_not_enabled", "not_in_contacts", "untrusted_peer", "from_not_served",
 * "sips_target", "bad_address", "too_large", "unsupported_type", "spoofed_from",
 * "link_down", or an XMPP condition ("jid-malformed" is counted as "jid_malformed"). Up to 64
 * distinct reasons are kept; further ones, and reasons that are not [a-z0-9_-] words, are
 * counted as "other". */
void sx_metric_refusal(sx_dir dir, const char *reason);

/* Edge link state per served domain (1 up, 0 down) and reconnect attempts. Up to 256
 * domains; further ones are not tracked. */
void sx_metric_link(const char *domain, int up);
void sx_metric_reconnect(const char *domain);

/* Named event counters, exposed as sipxmpp_<name>. Names are [a-z0-9_] words ending in
 * "_total", e.g. "sip_bad_requests_total", "xmpp_bad_stanzas_total",
 * "sip_torture_rejected_total". Up to 64 names; an invalid name or one beyond the limit is
 * counted as "other_events_total". */
void sx_metric_inc(const char *name);
void sx_metric_add(const char *name, uint64_t n);
/* Sets a named counter to a value kept elsewhere (a library's own monotonic count). */
void sx_metric_set(const char *name, uint64_t v);
/* fn(ud) runs at the start of every sx_metrics_render (to sx_metric_set counters kept
 * elsewhere); NULL removes it. One collector. */
void sx_metrics_set_collector(void (*fn)(void *ud), void *ud);

/* Read accessors (0, or -1 for sx_metric_get_link, when never recorded). */
uint64_t sx_metric_get_msg(sx_dir dir, sx_result res);
uint64_t sx_metric_get_refusal(sx_dir dir, const char *reason);
int sx_metric_get_link(const char *domain);
uint64_t sx_metric_get_reconnects(const char *domain);
uint64_t sx_metric_get(const char *name);
/* Calls fn for every refusal counter that is not zero, in first-seen order ("other" last). */
typedef void (*sx_refusal_fn)(void *ud, sx_dir dir, const char *reason, uint64_t count);
void sx_metric_each_refusal(sx_refusal_fn fn, void *ud);

/* The Prometheus text exposition format (version 0.0.4) of every counter, plus
 * process_resident_memory_bytes. Returns malloc'd text (caller frees) and its length in
 * *len (may be NULL), or NULL on allocation failure. */
char *sx_metrics_render(size_t *len);

/* A part of the daemon that renders its own families (gauges it computes on demand) into
 * the exposition, after the counters. One at a time; NULL removes it. */
typedef void (*sx_metrics_extra_fn)(void *ud, FILE *f);
void sx_metrics_set_extra(sx_metrics_extra_fn fn, void *ud);

/* Forgets every counter and frees the tables (tests; shutdown). */
void sx_metrics_reset(void);

#endif
