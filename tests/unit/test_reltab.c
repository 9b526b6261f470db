/* The daemon's relation table (translate/reltab.h): lookups, write tickets, reconcile against
 * snapshots (the daemon's own writes versus sipxmppctl's), walks and stats. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "translate/relation_fsm.h"
#include "translate/reltab.h"

#define REL(o, i, a) ((sx_rel){(o), (i), (a), 0})

static sx_policy_snap *snap_with(int64_t gen, const char *const *keys, const sx_rel *rels,
                                 size_t n) {
  sx_policy_snap *s = sx_snap_new();
  for (size_t i = 0; i < n; i++) sx_snap_add_relation(s, keys[2 * i], keys[2 * i + 1], rels[i]);
  sx_snap_set_generation(s, gen);
  return s;
}

typedef struct {
  int calls;
  char last[128];
  sx_rel before, after;
} rec;

static void on_change(void *arg, sx_relent *e, sx_rel before, sx_rel after) {
  rec *r = arg;
  r->calls++;
  snprintf(r->last, sizeof r->last, "%s %s", e->user, e->contact);
  r->before = before;
  r->after = after;
  CHECK(!sx_rel_persisted_differs(e->rel, before), "entry still before during the call");
}

static void test_basics(void) {
  sx_reltab *t = sx_reltab_new();
  CHECK(t != NULL, "new");
  CHECK(sx_reltab_find(t, "bob@c.com", "carol@f.com") == NULL, "absent");
  sx_relent *e = sx_reltab_get(t, "bob@c.com", "carol@f.com");
  CHECK(e != NULL && sx_rel_is_empty(e->rel), "created empty");
  CHECK_STR(e->user, "bob@c.com", "user key");
  CHECK_STR(e->contact, "carol@f.com", "contact key");
  CHECK(sx_reltab_get(t, "bob@c.com", "carol@f.com") == e, "same entry");
  CHECK(sx_reltab_find(t, "bob@c.com", "CAROL@f.com") == NULL, "keys are canonical already");
  /* tickets only when persisted parts change */
  sx_rel r = REL(SX_OUT_PENDING, 0, 1);
  uint64_t t1 = sx_reltab_set(t, e, r);
  CHECK(t1 > 0, "ticket");
  r.suspended = 1;
  CHECK_INT(sx_reltab_set(t, e, r), 0, "suspended alone: no write");
  CHECK_INT(e->rel.suspended, 1, "but kept");
  r.out = SX_OUT_SUBSCRIBED;
  uint64_t t2 = sx_reltab_set(t, e, r);
  CHECK(t2 > t1, "newer ticket");
  sx_reltab_stats st;
  sx_reltab_get_stats(t, &st);
  CHECK_INT(st.unwritten, 1, "one unwritten");
  sx_reltab_written(t, "bob@c.com", "carol@f.com", t1, 5); /* stale */
  sx_reltab_get_stats(t, &st);
  CHECK_INT(st.unwritten, 1, "stale ack ignored");
  sx_reltab_written(t, "bob@c.com", "carol@f.com", t2, -1); /* failed */
  CHECK(e->done != t2, "failed write stays unwritten");
  sx_reltab_written(t, "bob@c.com", "carol@f.com", t2, 7);
  CHECK(e->done == t2 && e->written_gen == 7, "acknowledged");
  sx_reltab_written(t, "nobody@c.com", "x@f.com", 1, 7); /* unknown: ignored */
  /* many entries: lookups survive growth, pointers stay valid */
  char u[32], c[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(u, sizeof u, "u%d@c.com", i % 100);
    snprintf(c, sizeof c, "c%d@f.com", i);
    sx_relent *x = sx_reltab_get(t, u, c);
    CHECK(x != NULL, "add %d", i);
    if (x) sx_reltab_set(t, x, REL(0, SX_IN_APPROVED, 0));
  }
  CHECK(sx_reltab_find(t, "bob@c.com", "carol@f.com") == e, "pointer stable after growth");
  CHECK(sx_reltab_find(t, "u7@c.com", "c4907@f.com") != NULL, "found after growth");
  sx_reltab_get_stats(t, &st);
  CHECK_INT(st.entries, 5001, "entries");
  CHECK_INT(st.relations, 5001, "relations");
  CHECK_INT(st.in_approved, 5000, "approved");
  CHECK_INT(st.out_subscribed, 1, "subscribed");
  CHECK_INT(st.suspended, 1, "suspended");
  CHECK(st.bytes > 5001 * sizeof(sx_relent), "bytes");
  /* an entry whose relation became empty stays, and is no longer a relation */
  sx_reltab_set(t, sx_reltab_find(t, "u7@c.com", "c4907@f.com"), REL(0, SX_IN_NONE, 0));
  sx_reltab_get_stats(t, &st);
  CHECK_INT(st.entries, 5001, "entries after emptying one");
  CHECK_INT(st.relations, 5000, "relations after emptying one");
  sx_reltab_free(t);
}

static void count_cb(void *arg, sx_relent *e) {
  (void)e;
  (*(int *)arg)++;
}

static void test_walks(void) {
  sx_reltab *t = sx_reltab_new();
  sx_reltab_get(t, "bob@c.com", "a@f.com");
  sx_reltab_get(t, "bob@c.com", "b@f.com");
  sx_reltab_get(t, "alice@c.com", "a@f.com");
  int n = 0;
  sx_reltab_each_of_user(t, "bob@c.com", count_cb, &n);
  CHECK_INT(n, 2, "bob's relations");
  n = 0;
  sx_reltab_each_of_user(t, "nobody@c.com", count_cb, &n);
  CHECK_INT(n, 0, "nobody's");
  n = 0;
  sx_reltab_each(t, count_cb, &n);
  CHECK_INT(n, 3, "all");
  sx_reltab_free(t);
}

static void test_reconcile(void) {
  static const char *const k1[] = {"bob@c.com", "carol@f.com", "bob@c.com", "dave@p.com"};
  const sx_rel r1[] = {REL(SX_OUT_SUBSCRIBED, 0, 1), REL(0, SX_IN_PENDING, 0)};
  sx_policy_snap *s1 = snap_with(10, k1, r1, 2);
  sx_reltab *t = sx_reltab_new();
  CHECK_INT(sx_reltab_load(t, s1), 0, "load");
  sx_relent *carol = sx_reltab_find(t, "bob@c.com", "carol@f.com");
  sx_relent *dave = sx_reltab_find(t, "bob@c.com", "dave@p.com");
  CHECK(carol && dave, "loaded");
  if (!carol || !dave) return;
  CHECK(carol->rel.out == SX_OUT_SUBSCRIBED && carol->rel.added && !carol->rel.suspended,
        "loaded state");
  rec r = {0};
  CHECK_INT(sx_reltab_reconcile(t, s1, on_change, &r), 0, "same snapshot: no change");

  /* the daemon's own write: in flight → ignored even if a snapshot shows the old state */
  uint64_t tk = sx_reltab_set(t, carol, REL(SX_OUT_NONE, 0, 1));
  CHECK_INT(sx_reltab_reconcile(t, s1, on_change, &r), 0, "own write in flight");
  CHECK_INT(carol->rel.out, SX_OUT_NONE, "kept the loop's state");
  /* committed at generation 11; a snapshot read before it (gen 10) is older: ignored */
  sx_reltab_written(t, "bob@c.com", "carol@f.com", tk, 11);
  CHECK_INT(sx_reltab_reconcile(t, s1, on_change, &r), 0, "older snapshot");
  CHECK_INT(carol->rel.out, SX_OUT_NONE, "still the loop's state");
  /* a snapshot that includes the write: no difference */
  const sx_rel r2[] = {REL(SX_OUT_NONE, 0, 1), REL(0, SX_IN_PENDING, 0)};
  sx_policy_snap *s2 = snap_with(11, k1, r2, 2);
  CHECK_INT(sx_reltab_reconcile(t, s2, on_change, &r), 0, "own write seen");

  /* sipxmppctl contact add dave (gen 12) and remove carol; a new relation from the store */
  static const char *const k3[] = {"bob@c.com", "dave@p.com", "alice@c.com", "erin@f.com"};
  const sx_rel r3[] = {REL(0, SX_IN_PENDING, 1), REL(0, 0, 1)};
  sx_policy_snap *s3 = snap_with(12, k3, r3, 2);
  carol->rel.suspended = 1;
  r.calls = 0;
  CHECK_INT(sx_reltab_reconcile(t, s3, on_change, &r), 3, "three changes");
  CHECK_INT(r.calls, 3, "three callbacks");
  CHECK(dave->rel.added == 1 && dave->rel.in == SX_IN_PENDING, "dave adopted");
  CHECK(sx_rel_is_empty(carol->rel) && carol->rel.suspended, "carol removed, suspended kept");
  sx_relent *erin = sx_reltab_find(t, "alice@c.com", "erin@f.com");
  CHECK(erin && erin->rel.added, "erin added from the store");
  CHECK_INT(sx_reltab_reconcile(t, s3, on_change, &r), 0, "settled");

  /* a callback may be NULL: the store's state is adopted */
  static const char *const k4[] = {"bob@c.com", "dave@p.com"};
  const sx_rel r4[] = {REL(0, SX_IN_PENDING, 0)};
  sx_policy_snap *s4 = snap_with(13, k4, r4, 1);
  long ch = sx_reltab_reconcile(t, s4, NULL, NULL);
  CHECK_INT(ch, 2, "NULL callback adopts (dave changed, erin gone)");
  CHECK(dave->rel.added == 0, "dave not added any more");
  static const char *const k5[] = {"bob@c.com", "dave@p.com"};
  const sx_rel r5[] = {REL(0, SX_IN_PENDING, 1)};
  sx_policy_snap *s5 = snap_with(14, k5, r5, 1);
  r.calls = 0;
  ch = sx_reltab_reconcile(t, s5, on_change, &r);
  CHECK_INT(ch, 1, "one change");
  CHECK(r.before.added == 0 && r.after.added == 1, "before/after");
  sx_reltab_stats st;
  sx_reltab_get_stats(t, &st);
  CHECK_INT(st.unwritten, 0, "nothing unwritten");
  sx_snap_free(s1);
  sx_snap_free(s2);
  sx_snap_free(s3);
  sx_snap_free(s4);
  sx_snap_free(s5);
  sx_reltab_free(t);
}

/* A callback that runs the state machine and writes keeps the loop's state. */
typedef struct {
  sx_reltab *t;
  uint64_t ticket;
} approve_ctx;

static void approve_cb(void *arg, sx_relent *e, sx_rel before, sx_rel after) {
  approve_ctx *a = arg;
  sx_rel_result res;
  sx_rel cur = before;
  (void)after;
  sx_rel_step(cur, SX_REV_ADMIN_ADD, SX_ALLOW, NULL, &res);
  CHECK(res.actions & SX_RA_XMPP_SUBSCRIBED, "admin add approves");
  a->ticket = sx_reltab_set(a->t, e, res.next);
}

static void test_reconcile_write(void) {
  static const char *const k[] = {"bob@c.com", "dave@p.com"};
  const sx_rel r0[] = {REL(0, SX_IN_PENDING, 0)};
  const sx_rel r1[] = {REL(0, SX_IN_PENDING, 1)};
  sx_policy_snap *s0 = snap_with(1, k, r0, 1), *s1 = snap_with(2, k, r1, 1);
  sx_reltab *t = sx_reltab_new();
  sx_reltab_load(t, s0);
  approve_ctx a = {t, 0};
  CHECK_INT(sx_reltab_reconcile(t, s1, approve_cb, &a), 1, "admin add seen");
  sx_relent *e = sx_reltab_find(t, "bob@c.com", "dave@p.com");
  CHECK(a.ticket > 0 && e && e->rel.in == SX_IN_APPROVED && e->rel.added, "approved, to write");
  CHECK_INT(sx_reltab_reconcile(t, s1, approve_cb, &a), 0, "write in flight: not again");
  sx_snap_free(s0);
  sx_snap_free(s1);
  sx_reltab_free(t);
}

/* A callback that sets the store's state itself (with a ticket) does not leave the entry
 * waiting for an acknowledgement that never comes. */
static void adopt_cb(void *arg, sx_relent *e, sx_rel before, sx_rel after) {
  (void)before;
  after.suspended = e->rel.suspended;
  *(uint64_t *)arg = sx_reltab_set(NULL, e, after) + 1; /* NULL table: no ticket */
}

static void set_cb(void *arg, sx_relent *e, sx_rel before, sx_rel after) {
  sx_reltab *t = arg;
  (void)before;
  after.suspended = e->rel.suspended;
  CHECK(sx_reltab_set(t, e, after) > 0, "a ticket");
}

static void test_reconcile_self_adopt(void) {
  static const char *const k[] = {"bob@c.com", "erin@f.com"};
  const sx_rel r0[] = {REL(0, 0, 1)}, r1[] = {REL(SX_OUT_SUBSCRIBED, 0, 1)},
               r2[] = {REL(SX_OUT_SUBSCRIBED, SX_IN_APPROVED, 1)};
  sx_policy_snap *s0 = snap_with(1, k, r0, 1), *s1 = snap_with(2, k, r1, 1),
                 *s2 = snap_with(3, k, r2, 1);
  sx_reltab *t = sx_reltab_new();
  sx_reltab_load(t, s0);
  CHECK_INT(sx_reltab_reconcile(t, s1, set_cb, t), 1, "change seen");
  sx_relent *e = sx_reltab_find(t, "bob@c.com", "erin@f.com");
  CHECK(e && e->ticket == e->done, "set to the store's state: nothing in flight");
  CHECK_INT(sx_reltab_reconcile(t, s2, set_cb, t), 1, "the next change is seen too");
  sx_reltab_written(t, "bob@c.com", "erin@f.com", e ? e->ticket : 0, 4); /* late ack */
  CHECK(e && e->ticket == e->done && e->written_gen == 4, "late ack harmless");
  uint64_t x = 0;
  const sx_rel r3[] = {REL(0, 0, 1)};
  sx_policy_snap *s3 = snap_with(5, k, r3, 1);
  CHECK_INT(sx_reltab_reconcile(t, s3, adopt_cb, &x), 1, "adopted");
  CHECK(x == 1 && e && e->rel.out == SX_OUT_NONE, "adopted without a table");
  sx_snap_free(s0);
  sx_snap_free(s1);
  sx_snap_free(s2);
  sx_snap_free(s3);
  sx_reltab_free(t);
}

int main(void) {
  test_reconcile_self_adopt();
  test_basics();
  test_walks();
  test_reconcile();
  test_reconcile_write();
  return check_done();
}
