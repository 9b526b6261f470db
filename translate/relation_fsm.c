/* The presence relation state machine (translate/relation_fsm.h). One function per event;
 * each reads like a row group of the table in tests/unit/test_relation_fsm.c. */
#include "translate/relation_fsm.h"

#include <string.h>

static const char *const EVENT_NAMES[SX_REV_COUNT] = {
    [SX_REV_SIP_SUBSCRIBE] = "sip_subscribe",
    [SX_REV_SIP_LAST_DIALOG_END] = "sip_last_dialog_end",
    [SX_REV_XMPP_SUBSCRIBED] = "xmpp_subscribed",
    [SX_REV_XMPP_UNSUBSCRIBED] = "xmpp_unsubscribed",
    [SX_REV_XMPP_SUBSCRIBE] = "xmpp_subscribe",
    [SX_REV_XMPP_UNSUBSCRIBE] = "xmpp_unsubscribe",
    [SX_REV_XMPP_PROBE] = "xmpp_probe",
    [SX_REV_XMPP_PRESENCE] = "xmpp_presence",
    [SX_REV_ADMIN_ADD] = "admin_add",
    [SX_REV_ADMIN_REMOVE] = "admin_remove",
    [SX_REV_POLICY_REVOKED] = "policy_revoked",
    [SX_REV_POLICY_RESTORED] = "policy_restored",
    [SX_REV_RESYNC] = "resync",
    [SX_REV_SHUTDOWN] = "shutdown",
    [SX_REV_SIP_REFRESH] = "sip_refresh",
    [SX_REV_SIP_FETCH] = "sip_fetch",
};

const char *sx_rel_event_name(sx_rel_event ev) {
  return (unsigned)ev < SX_REV_COUNT ? EVENT_NAMES[ev] : "?";
}

const char *sx_rel_action_name(unsigned action) {
  static const char *const names[] = {
      "refuse",        "store_write",       "xmpp_subscribe",   "xmpp_subscribed",
      "xmpp_unsubscribe", "xmpp_unsubscribed", "xmpp_probe",    "xmpp_unavailable",
      "xmpp_presence", "notify_pending",    "notify_active",    "notify_terminated",
      "fanout_join",   "fanout_leave",
  };
  for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
    if (action == 1u << i) return names[i];
  return NULL;
}

const char *sx_notify_reason_name(sx_notify_reason r) {
  switch (r) {
  case SX_NR_REJECTED: return "rejected";
  case SX_NR_DEACTIVATED: return "deactivated";
  case SX_NR_TIMEOUT: return "timeout";
  case SX_NR_NORESOURCE: return "noresource";
  case SX_NR_NONE: break;
  }
  return NULL;
}

int sx_rel_allowed(const sx_policy_snap *s, const char *user_key, const char *ext_domain) {
  sx_decision d;
  /* outbound presence is allowed exactly when steps 1-2 pass */
  sx_decide_with_relation(s, user_key, ext_domain, SX_REL_NONE, SX_DIR_OUT, SX_KIND_PRESENCE,
                          &d);
  return d.verdict == SX_ALLOW;
}

int sx_rel_admin_events(sx_rel before, sx_rel after, sx_rel_event ev[2]) {
  int n = 0;
  int removed = (before.added && !after.added) ||
                (before.out != SX_OUT_NONE && after.out == SX_OUT_NONE) ||
                (before.in != SX_IN_NONE && after.in == SX_IN_NONE);
  if (removed) ev[n++] = SX_REV_ADMIN_REMOVE;
  if (after.added && (!before.added || removed)) ev[n++] = SX_REV_ADMIN_ADD;
  return n;
}

/* The inbound side is (or becomes) approved: tell the contact, send the user's presence at
 * once (RFC 6121 §3.1.5) and count it as a watcher of the fan-out — or, on a suspended
 * relation, unavailable and nothing more. */
static void approve_in(sx_rel *n, sx_rel_result *r) {
  n->in = SX_IN_APPROVED;
  r->actions |= SX_RA_XMPP_SUBSCRIBED;
  if (n->suspended)
    r->actions |= SX_RA_XMPP_UNAVAILABLE;
  else
    r->actions |= SX_RA_XMPP_PRESENCE | SX_RA_FANOUT_JOIN;
}

/* What a SIP watcher sees of an outbound subscription that stands or is asked for. */
static void notify_out_state(const sx_rel *n, const sx_rel_ctx *ctx, sx_rel_result *r) {
  if (n->out == SX_OUT_SUBSCRIBED) {
    if (ctx->cached)
      r->actions |= SX_RA_NOTIFY_ACTIVE;
    else
      r->actions |= SX_RA_XMPP_PROBE | SX_RA_NOTIFY_PENDING;
  } else {
    r->actions |= SX_RA_NOTIFY_PENDING;
  }
}

static void ev_sip_subscribe(sx_rel c, sx_verdict v, const sx_rel_ctx *ctx, sx_rel_result *r) {
  if (v == SX_DENY) {
    r->actions = SX_RA_REFUSE;
    r->why = "SIP subscribe refused by policy";
    return;
  }
  sx_rel *n = &r->next;
  n->added = 1;
  n->suspended = 0; /* allowed now; the dialog layer answered 200 */
  if (c.in == SX_IN_PENDING) approve_in(n, r); /* SPEC §5 step 4 */
  if (n->out == SX_OUT_NONE) {
    n->out = SX_OUT_PENDING;
    r->actions |= SX_RA_XMPP_SUBSCRIBE | SX_RA_NOTIFY_PENDING;
    r->why = "first watcher: XMPP subscribe sent";
  } else {
    notify_out_state(n, ctx, r);
    r->why = n->out == SX_OUT_SUBSCRIBED
                 ? (ctx->cached ? "subscription stands: cached state"
                                : "subscription stands, nothing cached: probe")
                 : "subscription still pending";
  }
  if (c.in == SX_IN_PENDING) r->why = "contact added: pending request approved";
}

static void ev_last_dialog_end(sx_rel c, sx_rel_result *r) {
  if (c.out != SX_OUT_NONE && !c.suspended) {
    r->actions = SX_RA_XMPP_UNAVAILABLE;
    r->why = "last SIP watcher gone: directed unavailable";
  }
}

static void ev_xmpp_subscribed(sx_rel c, sx_rel_result *r) {
  if (c.out != SX_OUT_PENDING) {
    r->why = c.out == SX_OUT_SUBSCRIBED ? "already subscribed" : "unsolicited subscribed ignored";
    return;
  }
  r->next.out = SX_OUT_SUBSCRIBED;
  if (!c.suspended) r->actions = SX_RA_NOTIFY_ACTIVE;
  r->why = "contact approved the subscription";
}

static void ev_xmpp_unsubscribed(sx_rel c, sx_rel_result *r) {
  if (c.out == SX_OUT_NONE) {
    r->why = "no outbound subscription";
    return;
  }
  r->next.out = SX_OUT_NONE;
  r->actions = SX_RA_NOTIFY_TERMINATED;
  r->reason = SX_NR_REJECTED;
  r->why = c.out == SX_OUT_PENDING ? "contact refused the subscription"
                                   : "contact cancelled the subscription";
}

static void ev_xmpp_subscribe(sx_rel c, sx_verdict v, sx_rel_result *r) {
  sx_rel *n = &r->next;
  if (v == SX_DENY) {
    r->actions = SX_RA_REFUSE;
    r->why = "XMPP subscribe refused by policy";
    return;
  }
  if (c.in == SX_IN_APPROVED) {
    /* RFC 6121 §3.1.3: already approved, answer again */
    approve_in(n, r);
    r->why = "already approved: subscribed again";
    return;
  }
  if (v == SX_PENDING) {
    if (c.in == SX_IN_NONE) {
      n->in = SX_IN_PENDING;
      r->why = "subscribe held until the user adds the contact";
    } else {
      r->why = "subscribe still held";
    }
    return;
  }
  approve_in(n, r);
  r->why = "subscribe approved";
}

static void ev_xmpp_unsubscribe(sx_rel c, sx_rel_result *r) {
  r->actions = SX_RA_XMPP_UNSUBSCRIBED;
  if (c.in == SX_IN_NONE) {
    r->why = "no inbound subscription: unsubscribed";
    return;
  }
  r->next.in = SX_IN_NONE;
  if (c.in == SX_IN_APPROVED && !c.suspended) r->actions |= SX_RA_FANOUT_LEAVE;
  r->why = "watcher removed";
}

static void ev_xmpp_probe(sx_rel c, sx_verdict v, sx_rel_result *r) {
  if (c.in != SX_IN_APPROVED) {
    r->actions = SX_RA_XMPP_UNSUBSCRIBED;
    r->why = "probe from a contact that is not an approved watcher";
  } else if (c.suspended || v != SX_ALLOW) {
    r->actions = SX_RA_XMPP_UNAVAILABLE;
    r->why = "probe on a suspended relation: unavailable";
  } else {
    r->actions = SX_RA_XMPP_PRESENCE;
    r->why = "probe: current presence";
  }
}

static void ev_xmpp_presence(sx_rel c, sx_verdict v, sx_rel_result *r) {
  if (c.out != SX_OUT_SUBSCRIBED) {
    r->why = "presence without a standing subscription not relayed";
  } else if (c.suspended || v != SX_ALLOW) {
    r->why = "presence on a suspended relation not relayed";
  } else {
    r->actions = SX_RA_NOTIFY_ACTIVE;
    r->why = "presence relayed";
  }
}

static void ev_admin_add(sx_rel c, sx_verdict v, sx_rel_result *r) {
  r->next.added = 1;
  if (c.in == SX_IN_PENDING && v == SX_ALLOW && !c.suspended) {
    approve_in(&r->next, r);
    r->why = "contact added: pending request approved";
  } else {
    r->why = "contact added";
  }
}

static void ev_admin_remove(sx_rel c, sx_rel_result *r) {
  if (c.out != SX_OUT_NONE) r->actions |= SX_RA_XMPP_UNSUBSCRIBE;
  if (c.in != SX_IN_NONE) r->actions |= SX_RA_XMPP_UNSUBSCRIBED;
  if (c.in == SX_IN_APPROVED && !c.suspended) r->actions |= SX_RA_FANOUT_LEAVE;
  r->actions |= SX_RA_NOTIFY_TERMINATED;
  r->reason = SX_NR_REJECTED;
  r->next = SX_REL_NONE;
  r->next.suspended = c.suspended;
  r->why = "relation removed by the admin";
}

static void ev_revoked(sx_rel c, sx_rel_result *r) {
  if (c.suspended) {
    r->why = "already suspended";
    return;
  }
  r->next.suspended = 1;
  r->actions = SX_RA_NOTIFY_TERMINATED;
  r->reason = SX_NR_REJECTED;
  if (c.in == SX_IN_APPROVED) r->actions |= SX_RA_XMPP_UNAVAILABLE | SX_RA_FANOUT_LEAVE;
  r->why = "policy revoked: relation suspended";
}

static void ev_restored(sx_rel c, const sx_rel_ctx *ctx, sx_rel_result *r) {
  if (!c.suspended) {
    r->why = "not suspended";
    return;
  }
  r->next.suspended = 0;
  if (c.in == SX_IN_APPROVED) r->actions |= SX_RA_XMPP_PRESENCE | SX_RA_FANOUT_JOIN;
  if (c.out == SX_OUT_SUBSCRIBED && ctx->sip_dialogs) r->actions |= SX_RA_XMPP_PROBE;
  r->why = "policy restored: relation resumed";
}

static void ev_resync(sx_rel c, sx_verdict v, const sx_rel_ctx *ctx, sx_rel_result *r) {
  if (v != SX_ALLOW) {
    r->next.suspended = 1;
    if (!c.suspended) {
      /* the policy changed while the daemon or the link was down */
      if (ctx->sip_dialogs) {
        r->actions |= SX_RA_NOTIFY_TERMINATED;
        r->reason = SX_NR_REJECTED;
      }
      if (c.in == SX_IN_APPROVED) r->actions |= SX_RA_FANOUT_LEAVE;
    }
    r->why = "resync: relation suspended by policy";
    return;
  }
  r->next.suspended = 0;
  if (c.in == SX_IN_PENDING && c.added) {
    approve_in(&r->next, r); /* added while the daemon was down */
    r->why = "resync: pending request of an added contact approved";
  } else if (c.in == SX_IN_APPROVED) {
    r->actions |= SX_RA_XMPP_PRESENCE | SX_RA_FANOUT_JOIN;
    r->why = "resync: current presence to the watcher";
  } else {
    r->why = "resync";
  }
  if (c.out == SX_OUT_SUBSCRIBED && ctx->sip_dialogs) r->actions |= SX_RA_XMPP_PROBE;
}

static void ev_sip_refresh(sx_rel c, sx_verdict v, const sx_rel_ctx *ctx, sx_rel_result *r) {
  if (v == SX_DENY || c.suspended) {
    r->actions = SX_RA_NOTIFY_TERMINATED;
    r->reason = SX_NR_REJECTED;
    r->why = "refresh refused by policy";
  } else if (c.out == SX_OUT_SUBSCRIBED && ctx->cached) {
    r->actions = SX_RA_NOTIFY_ACTIVE;
    r->why = "refresh: cached state";
  } else {
    r->actions = SX_RA_NOTIFY_PENDING;
    r->why = "refresh: still pending";
  }
}

static void ev_sip_fetch(sx_verdict v, const sx_rel_ctx *ctx, sx_rel_result *r) {
  if (v == SX_DENY) {
    r->actions = SX_RA_REFUSE;
    r->why = "fetch refused by policy";
  } else if (ctx->cached) {
    r->actions = SX_RA_NOTIFY_TERMINATED;
    r->reason = SX_NR_TIMEOUT;
    r->why = "fetch: cached state";
  } else {
    r->actions = SX_RA_XMPP_PROBE;
    r->why = "fetch: nothing cached, probe first";
  }
}

static void ev_shutdown(sx_rel c, sx_rel_result *r) {
  r->actions = SX_RA_NOTIFY_TERMINATED;
  r->reason = SX_NR_DEACTIVATED;
  if (c.in == SX_IN_APPROVED && !c.suspended)
    r->actions |= SX_RA_XMPP_UNAVAILABLE | SX_RA_FANOUT_LEAVE;
  r->why = "shutdown";
}

void sx_rel_step(sx_rel cur, sx_rel_event ev, sx_verdict verdict, const sx_rel_ctx *ctx,
                 sx_rel_result *out) {
  static const sx_rel_ctx none = {0, 0};
  if (!ctx) ctx = &none;
  memset(out, 0, sizeof *out);
  out->next = cur;
  out->why = "no change";
  switch (ev) {
  case SX_REV_SIP_SUBSCRIBE: ev_sip_subscribe(cur, verdict, ctx, out); break;
  case SX_REV_SIP_LAST_DIALOG_END: ev_last_dialog_end(cur, out); break;
  case SX_REV_XMPP_SUBSCRIBED: ev_xmpp_subscribed(cur, out); break;
  case SX_REV_XMPP_UNSUBSCRIBED: ev_xmpp_unsubscribed(cur, out); break;
  case SX_REV_XMPP_SUBSCRIBE: ev_xmpp_subscribe(cur, verdict, out); break;
  case SX_REV_XMPP_UNSUBSCRIBE: ev_xmpp_unsubscribe(cur, out); break;
  case SX_REV_XMPP_PROBE: ev_xmpp_probe(cur, verdict, out); break;
  case SX_REV_XMPP_PRESENCE: ev_xmpp_presence(cur, verdict, out); break;
  case SX_REV_ADMIN_ADD: ev_admin_add(cur, verdict, out); break;
  case SX_REV_ADMIN_REMOVE: ev_admin_remove(cur, out); break;
  case SX_REV_POLICY_REVOKED: ev_revoked(cur, out); break;
  case SX_REV_POLICY_RESTORED: ev_restored(cur, ctx, out); break;
  case SX_REV_RESYNC: ev_resync(cur, verdict, ctx, out); break;
  case SX_REV_SHUTDOWN: ev_shutdown(cur, out); break;
  case SX_REV_SIP_REFRESH: ev_sip_refresh(cur, verdict, ctx, out); break;
  case SX_REV_SIP_FETCH: ev_sip_fetch(verdict, ctx, out); break;
  case SX_REV_COUNT: break;
  }
  if (sx_rel_persisted_differs(cur, out->next)) out->actions |= SX_RA_STORE_WRITE;
}
