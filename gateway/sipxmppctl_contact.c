/* sipxmppctl contact add|remove|list and check: the users' contact entries, and the
 * decision of SPEC §5 computed from the store exactly as the daemon computes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/sipxmppctl.h"
#include "translate/relation_fsm.h"

static const char USAGE[] =
    "usage: sipxmppctl contact add USER CONTACT\n"
    "       sipxmppctl contact remove USER CONTACT\n"
    "       sipxmppctl contact list [USER] [--json]\n"
    "USER is the internal user's SIP URI; CONTACT the external bare JID (carol@fabrikam.com).\n";

static const char CHECK_USAGE[] =
    "usage: sipxmppctl check USER CONTACT [--inbound|--outbound]\n"
    "                        [--im|--subscribe|--presence|--probe] [--json]\n"
    "Prints the decision the daemon would take (default: outbound IM) and why; sends nothing.\n"
    "--subscribe and --inbound --probe also print what the daemon does with the stored\n"
    "relation (its state machine). Exit status 0 allow, 1 deny or pending; for --inbound\n"
    "--probe 0 only when the daemon answers with the user's presence.\n";

/* "active", or "suspended" when the policy in snap stops the relation (user not enabled,
 * domain not a partner): the daemon keeps it but relays nothing. */
static const char *policy_state(const sx_policy_snap *snap, const sx_contact_rec *r) {
  const char *at = strrchr(r->contact, '@');
  return sx_rel_allowed(snap, r->user, at ? at + 1 : r->contact) ? "active" : "suspended";
}

static cJSON *contact_json(const sx_contact_rec *r, const sx_policy_snap *snap) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "user", r->user);
  cJSON_AddStringToObject(o, "contact", r->contact);
  cJSON_AddStringToObject(o, "state", sx_rel_summary(r->rel));
  cJSON_AddBoolToObject(o, "added", r->rel.added);
  cJSON_AddStringToObject(o, "subscription_out", sx_sub_out_name((sx_sub_out)r->rel.out));
  cJSON_AddStringToObject(o, "subscription_in", sx_sub_in_name((sx_sub_in)r->rel.in));
  cJSON_AddStringToObject(o, "policy", policy_state(snap, r));
  cJSON_AddNumberToObject(o, "updated", (double)r->updated);
  return o;
}

/* Parses USER and CONTACT into canonical keys; CTL_OK or CTL_REFUSED. */
static int two_keys(const ctl_args *a, char **user, char **contact) {
  *user = ctl_key("user", a->pos[0]);
  if (!*user) return CTL_REFUSED;
  *contact = ctl_key("contact", a->pos[1]);
  if (!*contact) {
    free(*user);
    *user = NULL;
    return CTL_REFUSED;
  }
  return CTL_OK;
}

static int cmd_addremove(ctl_ctx *c, int add, int argc, char **argv) {
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, ctl_no_opts, &a, USAGE, 2, 2,
                       "contact %s: expected USER and CONTACT", add ? "add" : "remove");
  if (rc) return rc;
  char *user, *contact;
  if ((rc = two_keys(&a, &user, &contact))) return rc;
  if ((rc = ctl_open(c))) goto out;
  char err[1024];
  int pending = 0;
  sx_st st = add ? sx_store_contact_add(c->st, user, contact, &pending, err, sizeof err)
                 : sx_store_contact_remove(c->st, user, contact, err, sizeof err);
  rc = ctl_st(st, err);
  if (st == SX_ST_OK && !c->json) {
    printf("%s %s %s\n", user, add ? "added contact" : "removed contact", contact);
    if (pending)
      printf("the pending subscription request from %s will be approved by sipxmppd\n",
             contact);
  }
out:
  free(user);
  free(contact);
  return rc;
}

static int cmd_list(ctl_ctx *c, int argc, char **argv) {
  ctl_args a;
  char *user;
  int rc = ctl_parse_n(argc, argv, ctl_no_opts, &a, USAGE, 0, 1, "contact list: at most one USER");
  if (rc || (rc = ctl_open_key(c, "user", a.npos ? a.pos[0] : NULL, &user))) return rc;
  char err[1024];
  sx_contact_rec *v;
  size_t n;
  sx_st st = sx_store_contact_list(c->st, user, &v, &n, err, sizeof err);
  free(user);
  if (st) return ctl_st(st, err);
  sx_policy_snap *snap = sx_store_snapshot(c->st, err, sizeof err);
  if (!snap) {
    sx_contact_list_free(v, n);
    return ctl_st(SX_ST_ERROR, err);
  }
  if (c->json) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) ctl_json_push(&arr, contact_json(&v[i], snap));
    rc = ctl_json_out(arr);
  } else {
    printf("%-32s %-32s %-14s %-11s %-9s %s\n", "USER", "CONTACT", "STATE", "SUB-OUT", "SUB-IN",
           "POLICY");
    for (size_t i = 0; i < n; i++)
      printf("%-32s %-32s %-14s %-11s %-9s %s\n", v[i].user, v[i].contact,
             sx_rel_summary(v[i].rel), sx_sub_out_name((sx_sub_out)v[i].rel.out),
             sx_sub_in_name((sx_sub_in)v[i].rel.in), policy_state(snap, &v[i]));
  }
  sx_snap_free(snap);
  sx_contact_list_free(v, n);
  return rc;
}

int ctl_contact(ctl_ctx *c, int argc, char **argv) {
  const char *sub = argv[0];
  if (strcmp(sub, "add") == 0) return cmd_addremove(c, 1, argc - 1, argv + 1);
  if (strcmp(sub, "remove") == 0) return cmd_addremove(c, 0, argc - 1, argv + 1);
  if (strcmp(sub, "list") == 0) return cmd_list(c, argc - 1, argv + 1);
  return ctl_usage_fail(USAGE, "contact: unknown subcommand '%s'", sub);
}

/* ---- check --------------------------------------------------------------------------- */

int ctl_check(ctl_ctx *c, int argc, char **argv) {
  enum { O_IN, O_OUT, O_IM, O_SUB, O_PRES, O_PROBE };
  static const ctl_optdef opts[] = {
      [O_IN] = {"inbound", OPT_FLAG},     [O_OUT] = {"outbound", OPT_FLAG},
      [O_IM] = {"im", OPT_FLAG},          [O_SUB] = {"subscribe", OPT_FLAG},
      [O_PRES] = {"presence", OPT_FLAG},  [O_PROBE] = {"probe", OPT_FLAG},
      {NULL, 0},
  };
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, opts, &a, CHECK_USAGE, 2, 2, "check: expected USER and CONTACT");
  if (rc) return rc;
  if (a.seen[O_IN] && a.seen[O_OUT]) {
    ctl_error("check: give --inbound or --outbound, not both");
    return CTL_USAGE;
  }
  if (a.seen[O_IM] + a.seen[O_SUB] + a.seen[O_PRES] + a.seen[O_PROBE] > 1) {
    ctl_error("check: give one of --im, --subscribe, --presence, --probe");
    return CTL_USAGE;
  }
  sx_pdir dir = a.seen[O_IN] ? SX_DIR_IN : SX_DIR_OUT;
  sx_kind kind = a.seen[O_SUB]    ? SX_KIND_SUBSCRIBE
                 : a.seen[O_PRES] ? SX_KIND_PRESENCE
                 : a.seen[O_PROBE] ? SX_KIND_PROBE
                                   : SX_KIND_MESSAGE;
  char *user, *contact;
  if ((rc = two_keys(&a, &user, &contact))) return rc;
  if ((rc = ctl_open(c))) goto out;
  const char *at = strrchr(user, '@');
  if (c->have_cfg && at && !sx_config_serves(&c->cfg, at + 1))
    ctl_warn("%s is not in a domain this gateway serves; the daemon would not treat it as an "
             "internal user",
             at + 1);
  const char *cat = strrchr(contact, '@');
  const char *ext_domain = cat ? cat + 1 : contact;
  if (c->have_cfg && sx_config_serves(&c->cfg, ext_domain))
    ctl_warn("%s is a domain this gateway serves; the daemon never sends its traffic to XMPP",
             ext_domain);
  char err[1024];
  sx_policy_snap *snap = sx_store_snapshot(c->st, err, sizeof err);
  if (!snap) {
    rc = ctl_st(SX_ST_ERROR, err);
    goto out;
  }
  sx_decision d;
  sx_decide(snap, user, ext_domain, contact, dir, kind, &d);
  sx_rel cs = sx_snap_relation(snap, user, contact);
  cs.suspended = !sx_rel_allowed(snap, user, ext_domain);
  const char *cs_name = sx_rel_summary(cs);
  /* what the daemon's state machine does with the stored relation */
  int have_step = 1;
  sx_rel_event ev = SX_REV_SIP_SUBSCRIBE;
  if (kind == SX_KIND_SUBSCRIBE)
    ev = dir == SX_DIR_OUT ? SX_REV_SIP_SUBSCRIBE : SX_REV_XMPP_SUBSCRIBE;
  else if (kind == SX_KIND_PROBE && dir == SX_DIR_IN)
    ev = SX_REV_XMPP_PROBE;
  else
    have_step = 0;
  sx_rel_result step;
  if (have_step) sx_rel_step(cs, ev, d.verdict, NULL, &step);
  int ok = d.verdict == SX_ALLOW;
  if (have_step && ev == SX_REV_XMPP_PROBE) ok = (step.actions & SX_RA_XMPP_PRESENCE) != 0;
  if (c->json) {
    cJSON *o = cJSON_CreateObject();
    if (o) {
      cJSON_AddStringToObject(o, "decision", sx_verdict_name(d.verdict));
      cJSON_AddStringToObject(o, "reason", d.reason);
      cJSON_AddStringToObject(o, "reason_code", d.reason_code);
      cJSON_AddStringToObject(o, "user", user);
      cJSON_AddStringToObject(o, "contact", contact);
      cJSON_AddStringToObject(o, "direction", sx_pdir_name(dir));
      cJSON_AddStringToObject(o, "kind", sx_kind_name(kind));
      ctl_json_str(o, "policy", d.policy_name);
      ctl_json_str(o, "policy_scope", d.policy_scope);
      ctl_json_str(o, "partner", d.partner_domain);
      ctl_json_str(o, "partner_type", d.partner_domain ? sx_ptype_name(d.partner_type) : NULL);
      cJSON_AddStringToObject(o, "contact_state", cs_name);
      cJSON *rel = cJSON_AddObjectToObject(o, "relation");
      if (rel) {
        cJSON_AddStringToObject(rel, "subscription_out", sx_sub_out_name((sx_sub_out)cs.out));
        cJSON_AddStringToObject(rel, "subscription_in", sx_sub_in_name((sx_sub_in)cs.in));
        cJSON_AddBoolToObject(rel, "added", cs.added);
        cJSON_AddBoolToObject(rel, "suspended", cs.suspended);
      }
      if (have_step) {
        cJSON *dm = cJSON_AddObjectToObject(o, "daemon");
        if (dm) {
          cJSON_AddStringToObject(dm, "event", sx_rel_event_name(ev));
          cJSON *acts = cJSON_AddArrayToObject(dm, "actions");
          for (unsigned b = 1; acts && b && b <= SX_RA_FANOUT_LEAVE; b <<= 1)
            if (step.actions & b)
              cJSON_AddItemToArray(acts, cJSON_CreateString(sx_rel_action_name(b)));
          cJSON_AddStringToObject(dm, "subscription_out",
                                  sx_sub_out_name((sx_sub_out)step.next.out));
          cJSON_AddStringToObject(dm, "subscription_in", sx_sub_in_name((sx_sub_in)step.next.in));
          cJSON_AddBoolToObject(dm, "added", step.next.added);
          cJSON_AddStringToObject(dm, "why", step.why);
        }
      }
      ctl_json_str(o, "xmpp_condition", d.xmpp_condition);
      if (d.sip_status)
        cJSON_AddNumberToObject(o, "sip_status", d.sip_status);
      else
        cJSON_AddNullToObject(o, "sip_status");
      cJSON_AddBoolToObject(o, "strip_status_notes", d.strip_status_notes);
    }
    rc = ctl_json_out(o);
    if (rc == CTL_OK) rc = ok ? CTL_OK : CTL_REFUSED;
  } else {
    printf("%s: %s\n", sx_verdict_name(d.verdict), d.reason);
    printf("  %s %s, %s %s %s\n", sx_pdir_name(dir), sx_kind_name(kind), user,
           dir == SX_DIR_OUT ? "->" : "<-", contact);
    if (d.policy_name)
      printf("  policy: %s (%s)\n", d.policy_name,
             strcmp(d.policy_scope, "user") == 0 ? "granted to the user"
             : strcmp(d.policy_scope, "site") == 0 ? "the user's site policy"
                                                   : "global policy");
    if (d.partner_domain)
      printf("  partner: %s (%s)%s\n", d.partner_domain, sx_ptype_name(d.partner_type),
             d.strip_status_notes ? ", status notes removed" : "");
    printf("  contact entry: %s (out %s, in %s%s)\n", cs_name,
           sx_sub_out_name((sx_sub_out)cs.out), sx_sub_in_name((sx_sub_in)cs.in),
           cs.suspended ? ", suspended by policy" : "");
    if (d.verdict == SX_DENY)
      printf("  refusal: SIP %d, XMPP %s\n", d.sip_status, d.xmpp_condition);
    if (d.verdict == SX_ALLOW && dir == SX_DIR_OUT && kind == SX_KIND_SUBSCRIBE && !cs.added)
      printf("  note: the daemon adds %s to %s's contacts when the SUBSCRIBE is sent\n",
             contact, user);
    if (have_step) {
      printf("  daemon: %s:", step.why);
      for (unsigned b = 1; b && b <= SX_RA_FANOUT_LEAVE; b <<= 1)
        if (step.actions & b) printf(" %s", sx_rel_action_name(b));
      printf("%s\n", step.actions ? "" : " nothing sent");
    }
    rc = ok ? CTL_OK : CTL_REFUSED;
  }
  sx_snap_free(snap);
out:
  free(user);
  free(contact);
  return rc;
}
