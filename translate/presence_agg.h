/* The presence of one external contact as seen by one internal user: the last available
 * presence of each of the contact's resources (RFC 6121 §4), from which the PIDF of every
 * NOTIFY is rendered (translate/pidf_render.h). Presence state is never stored: this lives
 * in memory only.
 *
 * Ownership: the aggregate owns copies of everything it keeps; sx_agg_clear() releases them
 * (the struct itself belongs to the caller, e.g. the relation's data in the daemon's table).
 * One aggregate is used by one thread at a time. */
#ifndef SX_TRANSLATE_PRESENCE_AGG_H
#define SX_TRANSLATE_PRESENCE_AGG_H
#include <stddef.h>
#include <stdint.h>

#include "translate/presence.h"

#define SX_AGG_MAX_RESOURCES 32 /* more available resources than this: the update is refused */

typedef struct sx_pres_res {
  char *resource; /* the full JID's resource; "" for presence from the bare JID */
  sx_show show;
  int has_priority;
  int priority;             /* -128..127 */
  sx_pres_status *statuses; /* every lang resolved: a status without xml:lang gets the
                               stanza's (NULL only when the stanza had none either) */
  size_t n_statuses;
  uint64_t seq; /* update order (higher is more recent), for ties */
} sx_pres_res;

typedef struct sx_pres_agg {
  sx_pres_res *res; /* available resources, in arrival order */
  size_t n, cap;
  uint64_t seq;
  int known; /* 1 once any available or unavailable presence was applied: the cache holds
                the contact's current state (an empty res then means offline) */
} sx_pres_agg;

/* A zeroed struct is a valid empty aggregate; sx_agg_init() makes one. */
void sx_agg_init(sx_pres_agg *a);
/* Releases everything and leaves an empty aggregate (known = 0). */
void sx_agg_clear(sx_pres_agg *a);

typedef enum {
  SX_AGG_OK = 0,
  SX_AGG_IGNORED,  /* not an available/unavailable presence: nothing changed */
  SX_AGG_TOO_MANY, /* a new resource beyond SX_AGG_MAX_RESOURCES, or statuses beyond the
                      bounds of translate/presence.h: nothing changed */
  SX_AGG_INVALID,  /* a resource or status that is not valid UTF-8: nothing changed */
  SX_AGG_NOMEM,    /* nothing changed */
} sx_agg_rc;

/* Applies p, which came from the contact's full JID with `resource` (NULL or "": the bare
 * JID). available: replaces that resource's entry; unavailable: removes it, and an
 * unavailable from the bare JID removes every resource. Sets known. */
sx_agg_rc sx_agg_update(sx_pres_agg *a, const char *resource, const sx_presence *p);

/* The most available resource: highest priority (a missing priority counts as 0), the most
 * recent update on a tie. NULL when none is available. */
const sx_pres_res *sx_agg_best(const sx_pres_agg *a);

/* Heap bytes held by the aggregate (for the benchmark and metrics). */
size_t sx_agg_bytes(const sx_pres_agg *a);

#endif
