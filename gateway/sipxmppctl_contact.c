/* sipxmppctl contact add|remove|list and check: the users' contact entries, and the
 * decision of SPEC §5 computed from the store exactly as the daemon computes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/check.h"
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
    for (size_t i = 0; arr && i < n; i++) ctl_json_push(&arr, sx_json_contact(&v[i], snap));
    rc = ctl_json_out(arr);
  } else {
    printf("%-32s %-32s %-14s %-11s %-9s %s\n", "USER", "CONTACT", "STATE", "SUB-OUT", "SUB-IN",
           "POLICY");
    for (size_t i = 0; i < n; i++)
      printf("%-32s %-32s %-14s %-11s %-9s %s\n", v[i].user, v[i].contact,
             sx_rel_summary(v[i].rel), sx_sub_out_name((sx_sub_out)v[i].rel.out),
             sx_sub_in_name((sx_sub_in)v[i].rel.in), sx_relation_policy_state(snap, v[i].user, v[i].contact));
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
  char *warn = sx_check_warnings(c->have_cfg ? &c->cfg : NULL, user, contact);
  for (char *line = warn, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
    *nl = 0;
    ctl_warn("%s", line);
  }
  free(warn);
  char err[1024];
  sx_check_result r;
  sx_st st = sx_check_run(c->st, user, contact, dir, kind, &r, err, sizeof err);
  if (st) {
    rc = ctl_st(st, err);
    goto out;
  }
  if (c->json) {
    rc = ctl_json_out(sx_json_check(&r, user, contact, dir, kind));
    if (rc == CTL_OK) rc = r.ok ? CTL_OK : CTL_REFUSED;
  } else {
    char *text = sx_check_text(&r, user, contact, dir, kind);
    if (text) fputs(text, stdout);
    free(text);
    rc = !text ? CTL_STORE : r.ok ? CTL_OK : CTL_REFUSED;
  }
  sx_check_result_free(&r);
out:
  free(user);
  free(contact);
  return rc;
}
