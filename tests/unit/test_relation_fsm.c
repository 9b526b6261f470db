/* The presence relation state machine (translate/relation_fsm.h), row by row: every event
 * of SPEC §4 and issue 6 in the states where it matters, with the verdict the policy
 * decision gives. States are written OIAS: out N/P/S (none, pending, subscribed), in N/P/A
 * (none, pending, approved), added 0/1, suspended 0/1. Actions are listed low bit first. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "translate/relation_fsm.h"

static sx_rel st(const char *c) {
  sx_rel r = SX_REL_NONE;
  r.out = c[0] == 'S' ? SX_OUT_SUBSCRIBED : c[0] == 'P' ? SX_OUT_PENDING : SX_OUT_NONE;
  r.in = c[1] == 'A' ? SX_IN_APPROVED : c[1] == 'P' ? SX_IN_PENDING : SX_IN_NONE;
  r.added = c[2] == '1';
  r.suspended = c[3] == '1';
  return r;
}

static void st_str(sx_rel r, char out[5]) {
  out[0] = "NPS"[r.out];
  out[1] = "NPA"[r.in];
  out[2] = (char)('0' + r.added);
  out[3] = (char)('0' + r.suspended);
  out[4] = '\0';
}

static void acts_str(unsigned a, char *out, size_t n) {
  out[0] = '\0';
  for (unsigned b = 1; b && b <= SX_RA_FANOUT_LEAVE; b <<= 1)
    if (a & b) {
      if (out[0]) strncat(out, " ", n - strlen(out) - 1);
      strncat(out, sx_rel_action_name(b), n - strlen(out) - 1);
    }
}

#define A SX_ALLOW
#define D SX_DENY
#define P SX_PENDING

static const struct row {
  const char *state;
  sx_rel_event ev;
  sx_verdict v;
  unsigned dialogs;
  int cached;
  const char *next;
  const char *actions;
  const char *reason; /* NOTIFY terminated reason or NULL */
} ROWS[] = {
    /* ---- internal SIP watcher → external contact ---- */
    /* first watcher: contact added, XMPP subscribe, NOTIFY pending */
    {"NN00", SX_REV_SIP_SUBSCRIBE, A, 0, 0, "PN10",
     "store_write xmpp_subscribe notify_pending", NULL},
    /* refused by policy (not a partner, user not enabled): nothing changes */
    {"NN00", SX_REV_SIP_SUBSCRIBE, D, 0, 0, "NN00", "refuse", NULL},
    {"SA10", SX_REV_SIP_SUBSCRIBE, D, 1, 1, "SA10", "refuse", NULL},
    /* a second watcher while unanswered: not asked again */
    {"PN10", SX_REV_SIP_SUBSCRIBE, A, 1, 0, "PN10", "notify_pending", NULL},
    /* the subscription stands: active with the cached state, no new subscribe */
    {"SN10", SX_REV_SIP_SUBSCRIBE, A, 1, 1, "SN10", "notify_active", NULL},
    /* after a restart: stands but nothing cached → probe, pending until it answers */
    {"SN10", SX_REV_SIP_SUBSCRIBE, A, 0, 0, "SN10", "xmpp_probe notify_pending", NULL},
    /* the subscription stood without the contact entry (e.g. added removed by hand) */
    {"SN00", SX_REV_SIP_SUBSCRIBE, A, 0, 1, "SN10", "store_write notify_active", NULL},
    /* the contact asked first (PublicUnverified, pending): the user's SUBSCRIBE adds and
     * approves it (SPEC §5 step 4) */
    {"NP00", SX_REV_SIP_SUBSCRIBE, A, 0, 0, "PA10",
     "store_write xmpp_subscribe xmpp_subscribed xmpp_presence notify_pending fanout_join",
     NULL},
    /* answers from the contact */
    {"PN10", SX_REV_XMPP_SUBSCRIBED, A, 1, 0, "SN10", "store_write notify_active", NULL},
    {"SN10", SX_REV_XMPP_SUBSCRIBED, A, 1, 1, "SN10", "", NULL},
    {"NN10", SX_REV_XMPP_SUBSCRIBED, A, 0, 0, "NN10", "", NULL},
    {"PN11", SX_REV_XMPP_SUBSCRIBED, A, 0, 0, "SN11", "store_write", NULL},
    {"PN10", SX_REV_XMPP_UNSUBSCRIBED, A, 1, 0, "NN10", "store_write notify_terminated",
     "rejected"},
    {"SN10", SX_REV_XMPP_UNSUBSCRIBED, A, 2, 1, "NN10", "store_write notify_terminated",
     "rejected"},
    {"NA10", SX_REV_XMPP_UNSUBSCRIBED, A, 0, 0, "NA10", "", NULL},
    /* presence from the contact → NOTIFY every dialog */
    {"SN10", SX_REV_XMPP_PRESENCE, A, 2, 1, "SN10", "notify_active", NULL},
    {"PN10", SX_REV_XMPP_PRESENCE, A, 1, 1, "PN10", "", NULL},
    {"NN10", SX_REV_XMPP_PRESENCE, A, 0, 1, "NN10", "", NULL},
    {"SN11", SX_REV_XMPP_PRESENCE, A, 0, 1, "SN11", "", NULL},
    {"SN10", SX_REV_XMPP_PRESENCE, D, 1, 1, "SN10", "", NULL},
    /* the last dialog ends: directed unavailable, never unsubscribe */
    {"SN10", SX_REV_SIP_LAST_DIALOG_END, A, 0, 1, "SN10", "xmpp_unavailable", NULL},
    {"PN10", SX_REV_SIP_LAST_DIALOG_END, A, 0, 0, "PN10", "xmpp_unavailable", NULL},
    {"NN10", SX_REV_SIP_LAST_DIALOG_END, A, 0, 0, "NN10", "", NULL},
    {"SN11", SX_REV_SIP_LAST_DIALOG_END, A, 0, 0, "SN11", "", NULL},

    /* ---- external XMPP watcher → internal user ---- */
    /* Federated / PublicVerified: approved at once, current presence, fan-out */
    {"NN00", SX_REV_XMPP_SUBSCRIBE, A, 0, 0, "NA00",
     "store_write xmpp_subscribed xmpp_presence fanout_join", NULL},
    /* PublicUnverified, not added: held */
    {"NN00", SX_REV_XMPP_SUBSCRIBE, P, 0, 0, "NP00", "store_write", NULL},
    {"NP00", SX_REV_XMPP_SUBSCRIBE, P, 0, 0, "NP00", "", NULL},
    /* PublicUnverified, added: approved */
    {"SN10", SX_REV_XMPP_SUBSCRIBE, A, 0, 0, "SA10",
     "store_write xmpp_subscribed xmpp_presence fanout_join", NULL},
    /* non-partner → service-unavailable, user not enabled → forbidden: refuse (the decision
     * carries the condition) */
    {"NN00", SX_REV_XMPP_SUBSCRIBE, D, 0, 0, "NN00", "refuse", NULL},
    {"NA00", SX_REV_XMPP_SUBSCRIBE, D, 0, 0, "NA00", "refuse", NULL},
    /* asked again when already approved: subscribed again */
    {"NA00", SX_REV_XMPP_SUBSCRIBE, A, 0, 0, "NA00",
     "xmpp_subscribed xmpp_presence fanout_join", NULL},
    {"NA00", SX_REV_XMPP_SUBSCRIBE, P, 0, 0, "NA00",
     "xmpp_subscribed xmpp_presence fanout_join", NULL},
    /* on a suspended relation the answer carries no presence */
    {"NA01", SX_REV_XMPP_SUBSCRIBE, A, 0, 0, "NA01", "xmpp_subscribed xmpp_unavailable", NULL},
    /* the user adds the contact (sipxmppctl contact add): the pending request is approved */
    {"NP00", SX_REV_ADMIN_ADD, A, 0, 0, "NA10",
     "store_write xmpp_subscribed xmpp_presence fanout_join", NULL},
    {"NN00", SX_REV_ADMIN_ADD, A, 0, 0, "NN10", "store_write", NULL},
    {"NP00", SX_REV_ADMIN_ADD, D, 0, 0, "NP10", "store_write", NULL},
    {"NP01", SX_REV_ADMIN_ADD, A, 0, 0, "NP11", "store_write", NULL},
    /* probes */
    {"NA00", SX_REV_XMPP_PROBE, A, 0, 0, "NA00", "xmpp_presence", NULL},
    {"NA01", SX_REV_XMPP_PROBE, A, 0, 0, "NA01", "xmpp_unavailable", NULL},
    {"NA00", SX_REV_XMPP_PROBE, D, 0, 0, "NA00", "xmpp_unavailable", NULL},
    {"NP00", SX_REV_XMPP_PROBE, A, 0, 0, "NP00", "xmpp_unsubscribed", NULL},
    {"NN00", SX_REV_XMPP_PROBE, A, 0, 0, "NN00", "xmpp_unsubscribed", NULL},
    {"NN00", SX_REV_XMPP_PROBE, D, 0, 0, "NN00", "xmpp_unsubscribed", NULL},
    {"SN10", SX_REV_XMPP_PROBE, A, 0, 0, "SN10", "xmpp_unsubscribed", NULL},
    /* unsubscribe: watcher removed, unsubscribed sent */
    {"NA00", SX_REV_XMPP_UNSUBSCRIBE, A, 0, 0, "NN00",
     "store_write xmpp_unsubscribed fanout_leave", NULL},
    {"SA10", SX_REV_XMPP_UNSUBSCRIBE, A, 0, 0, "SN10",
     "store_write xmpp_unsubscribed fanout_leave", NULL},
    {"NA01", SX_REV_XMPP_UNSUBSCRIBE, A, 0, 0, "NN01", "store_write xmpp_unsubscribed", NULL},
    {"NP00", SX_REV_XMPP_UNSUBSCRIBE, A, 0, 0, "NN00", "store_write xmpp_unsubscribed", NULL},
    {"NN00", SX_REV_XMPP_UNSUBSCRIBE, A, 0, 0, "NN00", "xmpp_unsubscribed", NULL},

    /* ---- the admin removes the relation for good ---- */
    {"SA10", SX_REV_ADMIN_REMOVE, A, 1, 1, "NN00",
     "store_write xmpp_unsubscribe xmpp_unsubscribed notify_terminated fanout_leave",
     "rejected"},
    {"PP10", SX_REV_ADMIN_REMOVE, A, 0, 0, "NN00",
     "store_write xmpp_unsubscribe xmpp_unsubscribed notify_terminated", "rejected"},
    {"NN10", SX_REV_ADMIN_REMOVE, A, 0, 0, "NN00", "store_write notify_terminated", "rejected"},

    /* ---- policy revoked / restored: suspended, relation kept, nothing stored ---- */
    {"SA10", SX_REV_POLICY_REVOKED, A, 2, 1, "SA11",
     "xmpp_unavailable notify_terminated fanout_leave", "rejected"},
    {"SN10", SX_REV_POLICY_REVOKED, A, 1, 1, "SN11", "notify_terminated", "rejected"},
    {"SA11", SX_REV_POLICY_REVOKED, A, 0, 0, "SA11", "", NULL},
    /* restored: resumes with no new request from anyone */
    {"SA11", SX_REV_POLICY_RESTORED, A, 0, 0, "SA10", "xmpp_presence fanout_join", NULL},
    {"SA11", SX_REV_POLICY_RESTORED, A, 1, 0, "SA10",
     "xmpp_probe xmpp_presence fanout_join", NULL},
    {"NP01", SX_REV_POLICY_RESTORED, A, 0, 0, "NP00", "", NULL},
    {"SA10", SX_REV_POLICY_RESTORED, A, 0, 0, "SA10", "", NULL},

    /* ---- restart / edge reconnect ---- */
    {"SA10", SX_REV_RESYNC, A, 0, 0, "SA10", "xmpp_presence fanout_join", NULL},
    {"SA10", SX_REV_RESYNC, A, 2, 1, "SA10", "xmpp_probe xmpp_presence fanout_join", NULL},
    {"SN10", SX_REV_RESYNC, A, 1, 0, "SN10", "xmpp_probe", NULL},
    {"PN10", SX_REV_RESYNC, A, 1, 0, "PN10", "", NULL},
    /* added while the daemon was down: the held request is approved now */
    {"NP10", SX_REV_RESYNC, A, 0, 0, "NA10",
     "store_write xmpp_subscribed xmpp_presence fanout_join", NULL},
    {"NP00", SX_REV_RESYNC, A, 0, 0, "NP00", "", NULL},
    /* the policy changed while down: suspended, nothing sent at start */
    {"SA10", SX_REV_RESYNC, D, 0, 0, "SA11", "fanout_leave", NULL},
    {"SA10", SX_REV_RESYNC, D, 1, 0, "SA11", "notify_terminated fanout_leave", "rejected"},
    {"SA11", SX_REV_RESYNC, D, 1, 0, "SA11", "", NULL},
    {"SA11", SX_REV_RESYNC, A, 0, 0, "SA10", "xmpp_presence fanout_join", NULL},

    /* ---- refresh and fetch (no state change) ---- */
    {"SN10", SX_REV_SIP_REFRESH, A, 1, 1, "SN10", "notify_active", NULL},
    {"SN10", SX_REV_SIP_REFRESH, A, 1, 0, "SN10", "notify_pending", NULL},
    {"PN10", SX_REV_SIP_REFRESH, A, 1, 1, "PN10", "notify_pending", NULL},
    {"SN10", SX_REV_SIP_REFRESH, D, 1, 1, "SN10", "notify_terminated", "rejected"},
    {"SN11", SX_REV_SIP_REFRESH, A, 1, 1, "SN11", "notify_terminated", "rejected"},
    {"SN10", SX_REV_SIP_FETCH, A, 1, 1, "SN10", "notify_terminated", "timeout"},
    {"NN00", SX_REV_SIP_FETCH, A, 0, 0, "NN00", "xmpp_probe", NULL},
    {"NN00", SX_REV_SIP_FETCH, D, 0, 0, "NN00", "refuse", NULL},

    /* ---- SIGTERM ---- */
    {"SA10", SX_REV_SHUTDOWN, A, 1, 1, "SA10",
     "xmpp_unavailable notify_terminated fanout_leave", "deactivated"},
    {"SN10", SX_REV_SHUTDOWN, A, 1, 1, "SN10", "notify_terminated", "deactivated"},
    {"SA11", SX_REV_SHUTDOWN, A, 0, 0, "SA11", "notify_terminated", "deactivated"},
};

static void test_table(void) {
  for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
    const struct row *r = &ROWS[i];
    char ctx[160], got_st[5], got_acts[512];
    snprintf(ctx, sizeof ctx, "row %zu: %s %s %s", i, r->state, sx_rel_event_name(r->ev),
             sx_verdict_name(r->v));
    sx_rel cur = st(r->state);
    sx_rel_ctx c = {r->dialogs, r->cached};
    sx_rel_result res;
    sx_rel_step(cur, r->ev, r->v, &c, &res);
    st_str(res.next, got_st);
    acts_str(res.actions, got_acts, sizeof got_acts);
    CHECK_STR(got_st, r->next, ctx);
    CHECK_STR(got_acts, r->actions, ctx);
    CHECK_STR(sx_notify_reason_name(res.reason), r->reason, ctx);
    CHECK(res.why && *res.why, "%s: why", ctx);
    /* store_write exactly when a persisted part changed */
    CHECK_INT(!!(res.actions & SX_RA_STORE_WRITE), sx_rel_persisted_differs(cur, res.next), ctx);
  }
}

/* Properties over every state × event × verdict: suspended relations never relay, a refusal
 * changes nothing, NULL ctx works, every name exists. */
static void test_properties(void) {
  int n = 0;
  for (int o = 0; o < 3; o++)
    for (int in = 0; in < 3; in++)
      for (int ad = 0; ad < 2; ad++)
        for (int su = 0; su < 2; su++)
          for (int ev = 0; ev < SX_REV_COUNT; ev++)
            for (int v = 0; v < 3; v++) {
              sx_rel cur = {(uint8_t)o, (uint8_t)in, (uint8_t)ad, (uint8_t)su};
              sx_rel_result res;
              char ctx[96];
              snprintf(ctx, sizeof ctx, "%d%d%d%d %s %s", o, in, ad, su,
                       sx_rel_event_name((sx_rel_event)ev), sx_verdict_name((sx_verdict)v));
              sx_rel_step(cur, (sx_rel_event)ev, (sx_verdict)v, NULL, &res);
              n++;
              if (res.actions & SX_RA_REFUSE)
                CHECK(res.actions == SX_RA_REFUSE && !sx_rel_persisted_differs(cur, res.next),
                      "%s: refusal changes nothing", ctx);
              if (su && ev != SX_REV_POLICY_RESTORED && ev != SX_REV_RESYNC &&
                  ev != SX_REV_SIP_SUBSCRIBE && ev != SX_REV_SIP_FETCH)
                CHECK(!(res.actions & (SX_RA_NOTIFY_ACTIVE | SX_RA_XMPP_PRESENCE |
                                       SX_RA_FANOUT_JOIN)),
                      "%s: suspended relays nothing", ctx);
              if (ev != SX_REV_ADMIN_REMOVE && ev != SX_REV_XMPP_UNSUBSCRIBE &&
                  ev != SX_REV_SHUTDOWN && ev != SX_REV_SIP_LAST_DIALOG_END)
                CHECK(!(res.actions & SX_RA_XMPP_UNSUBSCRIBE), "%s: never unsubscribe", ctx);
              CHECK(res.next.out <= SX_OUT_SUBSCRIBED && res.next.in <= SX_IN_APPROVED &&
                        res.next.added <= 1 && res.next.suspended <= 1,
                    "%s: valid state", ctx);
              if (res.actions & SX_RA_NOTIFY_TERMINATED)
                CHECK(res.reason != SX_NR_NONE, "%s: a reason", ctx);
              if (res.actions & SX_RA_FANOUT_JOIN)
                CHECK(res.next.in == SX_IN_APPROVED && !res.next.suspended, "%s: join", ctx);
            }
  CHECK_INT(n, 3 * 3 * 2 * 2 * SX_REV_COUNT * 3, "combinations");
  for (int ev = 0; ev < SX_REV_COUNT; ev++)
    CHECK(strcmp(sx_rel_event_name((sx_rel_event)ev), "?") != 0, "event %d named", ev);
  CHECK_STR(sx_rel_event_name(SX_REV_COUNT), "?", "unknown event");
  CHECK_STR(sx_rel_action_name(SX_RA_FANOUT_LEAVE), "fanout_leave", "action name");
  CHECK_STR(sx_rel_action_name(3), NULL, "two bits");
  CHECK_STR(sx_notify_reason_name(SX_NR_TIMEOUT), "timeout", "timeout");
  CHECK_STR(sx_notify_reason_name(SX_NR_NONE), NULL, "none");
}

/* sx_rel_allowed: steps 1-2 of SPEC §5 only. */
static void test_allowed(void) {
  sx_policy_snap *s = sx_snap_new();
  CHECK(s != NULL, "snap");
  if (!s) return;
  sx_snap_add_policy(s, "global", 0);
  sx_snap_add_policy(s, "On", SX_POL_XMPP);
  sx_snap_add_user(s, "bob@contoso.com", NULL, "On");
  sx_snap_add_partner(s, "pu.example", SX_PT_PUBLIC_UNVERIFIED);
  CHECK_INT(sx_rel_allowed(s, "bob@contoso.com", "pu.example"), 1, "enabled, partner");
  CHECK_INT(sx_rel_allowed(s, "bob@contoso.com", "PU.example."), 1, "domain spelling");
  CHECK_INT(sx_rel_allowed(s, "alice@contoso.com", "pu.example"), 0, "not enabled");
  CHECK_INT(sx_rel_allowed(s, "bob@contoso.com", "other.example"), 0, "not a partner");
  CHECK_INT(sx_rel_allowed(NULL, "bob@contoso.com", "pu.example"), 0, "no snapshot");
  sx_snap_free(s);
}

/* What a store change seen by the reconcile stands for. */
static void test_admin_events(void) {
  static const struct {
    const char *before, *after, *events;
  } rows[] = {
      {"NN00", "NN10", "admin_add"},                    /* contact add */
      {"NP00", "NP10", "admin_add"},                    /* contact add, a request waits */
      {"SA10", "NN00", "admin_remove"},                 /* contact remove */
      {"NA00", "NN00", "admin_remove"},
      {"SA10", "NN10", "admin_remove admin_add"},       /* removed and added again */
      {"SN10", "SN10", ""},                             /* no change */
      {"PN10", "SN10", ""},                             /* another writer's progress: adopt */
      {"NP00", "NA00", ""},
      {"NN10", "NN00", "admin_remove"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    sx_rel_event ev[2];
    int n = sx_rel_admin_events(st(rows[i].before), st(rows[i].after), ev);
    char got[64] = "";
    for (int k = 0; k < n; k++) {
      if (k) strcat(got, " ");
      strcat(got, sx_rel_event_name(ev[k]));
    }
    char ctx[64];
    snprintf(ctx, sizeof ctx, "%s -> %s", rows[i].before, rows[i].after);
    CHECK_STR(got, rows[i].events, ctx);
  }
}

int main(void) {
  test_admin_events();
  test_table();
  test_properties();
  test_allowed();
  return check_done();
}
