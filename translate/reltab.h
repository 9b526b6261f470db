/* The daemon's relation table: the loop's own view of every presence relation
 * (translate/relation.h), so that its writes are visible to its next decision at once,
 * before the store has them and long before the next policy snapshot does.
 *
 * Use in the daemon (one loop thread):
 *   1. at start: sx_reltab_load(t, snap) with the first snapshot, then one SX_REV_RESYNC
 *      step per entry (sx_reltab_each());
 *   2. for each event: e = sx_reltab_get(t, user, contact) (NULL on ENOMEM), decide with
 *      sx_decide_with_relation(snap, user, domain, e->rel, ...), sx_rel_step(e->rel, ...),
 *      then ticket = sx_reltab_set(t, e, result.next); when ticket != 0 hand
 *      (user, contact, result.next, ticket) to the store writer thread, which calls
 *      sx_store_relation_put() and posts (ticket, generation or -1) back to the loop, which
 *      calls sx_reltab_written();
 *   3. after every snapshot swap: sx_reltab_reconcile(t, new_snap, cb, arg) reports what
 *      changed in the store behind the daemon's back (sipxmppctl contact add/remove) as
 *      (before, after) pairs; sx_rel_admin_events(before, after) names the events to step
 *      (SX_REV_ADMIN_REMOVE, SX_REV_ADMIN_ADD). Then, for policy changes, compare
 *      sx_rel_allowed() with e->rel.suspended for every entry (POLICY_REVOKED /
 *      POLICY_RESTORED).
 *
 * Ownership: the table owns its entries and their key strings; an sx_relent pointer stays
 * valid until sx_reltab_free() (entries are never removed while the table lives; an entry
 * whose relation became empty stays, empty, and is reused). e->data belongs to the daemon:
 * the table never reads or frees it (free it before sx_reltab_free(), e.g. with
 * sx_reltab_each()). Not thread-safe: the loop thread only. */
#ifndef SX_TRANSLATE_RELTAB_H
#define SX_TRANSLATE_RELTAB_H
#include <stddef.h>
#include <stdint.h>

#include "translate/policy.h"
#include "translate/relation.h"

typedef struct sx_relent {
  const char *user;    /* canonical key of the internal user (owned by the table) */
  const char *contact; /* canonical bare key of the external contact (owned by the table) */
  sx_rel rel;          /* the loop's current state; change it only with sx_reltab_set() */
  void *data;          /* the daemon's per-relation data (dialogs, presence cache) */
  /* bookkeeping of the write-through, read-only for callers: */
  uint64_t ticket;      /* last write handed out (0: none) */
  uint64_t done;        /* last write acknowledged by sx_reltab_written() */
  int64_t written_gen;  /* store generation that write committed at */
} sx_relent;

typedef struct sx_reltab sx_reltab;

sx_reltab *sx_reltab_new(void); /* NULL when out of memory */
void sx_reltab_free(sx_reltab *t);

/* Adds every relation in the snapshot (suspended 0), replacing nothing already there. -1
 * when out of memory. */
int sx_reltab_load(sx_reltab *t, const sx_policy_snap *snap);

/* The entry for (user, contact), or NULL. */
sx_relent *sx_reltab_find(const sx_reltab *t, const char *user, const char *contact);
/* The entry, created empty (SX_REL_NONE) when absent; NULL when out of memory. */
sx_relent *sx_reltab_get(sx_reltab *t, const char *user, const char *contact);

/* Sets e->rel = next. Returns the write ticket (> 0) when the persisted parts changed, which
 * the caller must hand to the store writer, or 0 when nothing needs writing. */
uint64_t sx_reltab_set(sx_reltab *t, sx_relent *e, sx_rel next);

/* The store writer finished the write with this ticket: gen is the store generation after
 * its commit, or -1 when it failed (the entry then counts as unwritten until a later write
 * succeeds; the daemon logs and may retry with the entry's current state). Unknown entries
 * and stale tickets are ignored. */
void sx_reltab_written(sx_reltab *t, const char *user, const char *contact, uint64_t ticket,
                       int64_t gen);

/* Reports the differences between the table and snapshot `snap` that are not the daemon's
 * own (pending or newer) writes: for each, cb(arg, e, before, after) with `after` the
 * snapshot's persisted parts and e->rel's suspended; e->rel is still `before` during the
 * call (the callback runs the state machine and calls sx_reltab_set()). Entries whose write
 * is pending (ticket != done) or committed after the snapshot was read
 * (written_gen > sx_snap_generation(snap)) are skipped. Relations only in the snapshot get a
 * new entry first. When the callback hands out no new write (sx_reltab_set() returned 0 or
 * was not called), the entry adopts `after` on return; when it set exactly `after`'s
 * persisted parts, that write counts as done (the store holds it already; acknowledging it
 * later is harmless). cb may be NULL (adopt silently). The callback must not add entries.
 * Returns the number of differences reported, -1 when out of memory. */
typedef void (*sx_reltab_change_fn)(void *arg, sx_relent *e, sx_rel before, sx_rel after);
long sx_reltab_reconcile(sx_reltab *t, const sx_policy_snap *snap, sx_reltab_change_fn cb,
                         void *arg);

/* Calls fn for every entry (any order) / for every entry of one user. Entries must not be
 * added during the walk. */
typedef void (*sx_reltab_each_fn)(void *arg, sx_relent *e);
void sx_reltab_each(sx_reltab *t, sx_reltab_each_fn fn, void *arg);
void sx_reltab_each_of_user(sx_reltab *t, const char *user, sx_reltab_each_fn fn, void *arg);

typedef struct {
  size_t entries;      /* all entries, empty ones included */
  size_t relations;    /* entries whose relation is not empty */
  size_t out_pending, out_subscribed;
  size_t in_pending, in_approved;
  size_t added, suspended;
  size_t unwritten;    /* writes handed out and not acknowledged */
  size_t bytes;        /* heap bytes held by the table (not e->data) */
} sx_reltab_stats;
void sx_reltab_get_stats(const sx_reltab *t, sx_reltab_stats *out);

#endif
