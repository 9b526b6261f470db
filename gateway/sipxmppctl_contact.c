/* sipxmppctl contact add|remove|list and check: the users' contact entries, and the
 * decision of SPEC §5 computed from the store exactly as the daemon computes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/sipxmppctl.h"

static const char USAGE[] =
    "usage: sipxmppctl contact add USER CONTACT\n"
    "       sipxmppctl contact remove USER CONTACT\n"
    "       sipxmppctl contact list [USER] [--json]\n"
    "USER is the internal user's SIP URI; CONTACT the external bare JID (carol@fabrikam.com).\n";

static const char CHECK_USAGE[] =
    "usage: sipxmppctl check USER CONTACT [--inbound|--outbound]\n"
    "                        [--im|--subscribe|--presence|--probe] [--json]\n"
    "Prints the decision the daemon would take (default: outbound IM) and why; sends nothing.\n"
    "Exit status 0 allow, 1 deny or pending.\n";

static const char *const SUB_OUT[] = {"none", "pending", "subscribed"};
static const char *const SUB_IN[] = {"none", "pending", "approved"};

static cJSON *contact_json(const sx_contact_rec *r) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "user", r->user);
  cJSON_AddStringToObject(o, "contact", r->contact);
  cJSON_AddStringToObject(o, "state", sx_contact_rec_state(r));
  cJSON_AddBoolToObject(o, "added", r->added);
  cJSON_AddStringToObject(o, "subscription_out", SUB_OUT[r->sub_out]);
  cJSON_AddStringToObject(o, "subscription_in", SUB_IN[r->sub_in]);
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
  int approved = 0;
  sx_st st = add ? sx_store_contact_add(c->st, user, contact, &approved, err, sizeof err)
                 : sx_store_contact_remove(c->st, user, contact, err, sizeof err);
  rc = ctl_st(st, err);
  if (st == SX_ST_OK && !c->json) {
    printf("%s %s %s\n", user, add ? "added contact" : "removed contact", contact);
    if (approved)
      printf("the pending subscription request from %s is now approved\n", contact);
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
  if (c->json) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) ctl_json_push(&arr, contact_json(&v[i]));
    rc = ctl_json_out(arr);
  } else {
    printf("%-32s %-32s %-12s %-11s %s\n", "USER", "CONTACT", "STATE", "SUB-OUT", "SUB-IN");
    for (size_t i = 0; i < n; i++)
      printf("%-32s %-32s %-12s %-11s %s\n", v[i].user, v[i].contact,
             sx_contact_rec_state(&v[i]), SUB_OUT[v[i].sub_out], SUB_IN[v[i].sub_in]);
  }
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
  sx_contact_state cs = sx_snap_contact(snap, user, contact);
  const char *cs_name = cs == SX_CONTACT_ADDED ? "added"
                        : cs == SX_CONTACT_PENDING_IN ? "pending_in"
                                                      : "none";
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
      ctl_json_str(o, "xmpp_condition", d.xmpp_condition);
      if (d.sip_status)
        cJSON_AddNumberToObject(o, "sip_status", d.sip_status);
      else
        cJSON_AddNullToObject(o, "sip_status");
      cJSON_AddBoolToObject(o, "strip_status_notes", d.strip_status_notes);
    }
    rc = ctl_json_out(o);
    if (rc == CTL_OK) rc = d.verdict == SX_ALLOW ? CTL_OK : CTL_REFUSED;
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
    printf("  contact entry: %s\n", cs_name);
    if (d.verdict == SX_DENY)
      printf("  refusal: SIP %d, XMPP %s\n", d.sip_status, d.xmpp_condition);
    if (d.verdict == SX_ALLOW && dir == SX_DIR_OUT && kind == SX_KIND_SUBSCRIBE &&
        cs != SX_CONTACT_ADDED)
      printf("  note: the daemon adds %s to %s's contacts when the SUBSCRIBE is sent\n",
             contact, user);
    rc = d.verdict == SX_ALLOW ? CTL_OK : CTL_REFUSED;
  }
  sx_snap_free(snap);
out:
  free(user);
  free(contact);
  return rc;
}
