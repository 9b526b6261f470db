/* sipxmppctl policy new|set|show|list|remove|grant: external access policies (SPEC §5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/sipxmppctl.h"

static const char USAGE[] =
    "usage: sipxmppctl policy new NAME [--xmpp[=on|off]] [--federation[=on|off]]\n"
    "                         [--public-cloud[=on|off]] [--outside[=on|off]] [--description TEXT]\n"
    "       sipxmppctl policy set NAME [the same options]\n"
    "       sipxmppctl policy show NAME [--json]\n"
    "       sipxmppctl policy list [--json]\n"
    "       sipxmppctl policy remove NAME [--force]\n"
    "       sipxmppctl policy grant TAG (--user URI | --all)\n"
    "       sipxmppctl policy grant --none (--user URI | --all)\n"
    "NAME is 'global', 'site:SITE' or a tag (granted to users).\n";


static void print_policy(const sx_policy_rec *p) {
  printf("name: %s\nscope: %s\n", p->name, sx_scope_name(p->scope));
  for (size_t i = 0; i < SX_POL_NFLAGS; i++)
    printf("%s: %s\n", SX_POL_FLAGS[i].lync,
           (p->flags & SX_POL_FLAGS[i].flag) ? "true" : "false");
  printf("Description: %s\n", p->description ? p->description : "");
  if (p->scope == SX_SCOPE_TAG)
    printf("granted to: %ld user(s)\n", p->users);
  else if (p->scope == SX_SCOPE_SITE)
    printf("users of the site: %ld\n", p->users);
}

static int show_one(ctl_ctx *c, const char *name) {
  char err[1024];
  sx_policy_rec p;
  sx_st st = sx_store_policy_get(c->st, name, &p, err, sizeof err);
  if (st) return ctl_st(st, err);
  int rc = CTL_OK;
  if (c->json)
    rc = ctl_json_out(sx_json_policy(&p));
  else
    print_policy(&p);
  sx_policy_rec_free(&p);
  return rc;
}

static const ctl_optdef WRITE_OPTS[] = {
    {"xmpp", OPT_BOOL},     {"federation", OPT_BOOL},    {"public-cloud", OPT_BOOL},
    {"outside", OPT_BOOL},  {"description", OPT_VALUE},  {NULL, 0},
};

static int cmd_write(ctl_ctx *c, int create, int argc, char **argv) {
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, WRITE_OPTS, &a, USAGE, 1, 1,
                       "policy %s: expected one policy NAME", create ? "new" : "set");
  if (rc) return rc;
  unsigned mask = 0, flags = 0;
  for (size_t i = 0; i < SX_POL_NFLAGS; i++) {
    int idx = ctl_opt(WRITE_OPTS, SX_POL_FLAGS[i].opt);
    if (!a.seen[idx]) continue;
    mask |= SX_POL_FLAGS[i].flag;
    if (strcmp(a.val[idx], "on") == 0) flags |= SX_POL_FLAGS[i].flag;
  }
  const char *desc = a.val[ctl_opt(WRITE_OPTS, "description")];
  if (!create && !mask && !desc)
    return ctl_usage_fail(USAGE, "policy set: nothing to change (give --xmpp, --federation, "
                                 "--public-cloud, --outside or --description)");
  if ((rc = ctl_open(c))) return rc;
  char err[1024];
  sx_st st = create ? sx_store_policy_new(c->st, a.pos[0], flags, desc, err, sizeof err)
                    : sx_store_policy_set(c->st, a.pos[0], mask, flags, desc, err, sizeof err);
  if (st) return ctl_st(st, err);
  if (!c->json) {
    sx_policy_rec p;
    if (sx_store_policy_get(c->st, a.pos[0], &p, err, sizeof err) == SX_ST_OK) {
      printf("%s policy '%s' (%s):", create ? "created" : "changed", p.name,
             sx_scope_name(p.scope));
      for (size_t i = 0; i < SX_POL_NFLAGS; i++)
        printf(" %s=%s", SX_POL_FLAGS[i].lync,
               (p.flags & SX_POL_FLAGS[i].flag) ? "true" : "false");
      putchar('\n');
      sx_policy_rec_free(&p);
    }
    return CTL_OK;
  }
  return show_one(c, a.pos[0]);
}

static int cmd_show(ctl_ctx *c, int argc, char **argv) {
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, ctl_no_opts, &a, USAGE, 1, 1,
                       "policy show: expected one policy NAME");
  if (rc || (rc = ctl_open(c))) return rc;
  return show_one(c, a.pos[0]);
}

static int cmd_list(ctl_ctx *c, int argc, char **argv) {
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, ctl_no_opts, &a, USAGE, 0, 0, "policy list takes no arguments");
  if (rc || (rc = ctl_open(c))) return rc;
  char err[1024];
  sx_policy_rec *v;
  size_t n;
  sx_st st = sx_store_policy_list(c->st, &v, &n, err, sizeof err);
  if (st) return ctl_st(st, err);
  if (c->json) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) ctl_json_push(&arr, sx_json_policy(&v[i]));
    rc = ctl_json_out(arr);
  } else {
    printf("%-24s %-7s %-5s %-10s %-12s %-7s %-6s %s\n", "NAME", "SCOPE", "XMPP", "FEDERATION",
           "PUBLIC-CLOUD", "OUTSIDE", "USERS", "DESCRIPTION");
    for (size_t i = 0; i < n; i++) {
      const sx_policy_rec *p = &v[i];
      char users[32];
      if (p->scope == SX_SCOPE_GLOBAL)
        snprintf(users, sizeof users, "-");
      else
        snprintf(users, sizeof users, "%ld", p->users);
      printf("%-24s %-7s %-5s %-10s %-12s %-7s %-6s %s\n", p->name, sx_scope_name(p->scope),
             p->flags & SX_POL_XMPP ? "on" : "off", p->flags & SX_POL_FEDERATION ? "on" : "off",
             p->flags & SX_POL_PUBLIC_CLOUD ? "on" : "off", p->flags & SX_POL_OUTSIDE ? "on" : "off",
             users, p->description);
    }
  }
  sx_policy_list_free(v, n);
  return rc;
}

static int cmd_remove(ctl_ctx *c, int argc, char **argv) {
  static const ctl_optdef opts[] = {{"force", OPT_FLAG}, {NULL, 0}};
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, opts, &a, USAGE, 1, 1,
                       "policy remove: expected one policy NAME");
  if (rc || (rc = ctl_open(c))) return rc;
  char err[1024];
  sx_st st = sx_store_policy_remove(c->st, a.pos[0], a.seen[0], err, sizeof err);
  if (st) return ctl_st(st, err);
  if (!c->json) printf("removed policy '%s'\n", a.pos[0]);
  return CTL_OK;
}

static int cmd_grant(ctl_ctx *c, int argc, char **argv) {
  static const ctl_optdef opts[] = {
      {"user", OPT_VALUE}, {"all", OPT_FLAG}, {"none", OPT_FLAG}, {NULL, 0}};
  ctl_args a;
  int rc = ctl_parse(argc, argv, opts, &a, USAGE);
  if (rc) return rc;
  int none = a.seen[2], all = a.seen[1];
  const char *user = a.val[0];
  if ((none && a.npos != 0) || (!none && a.npos != 1))
    return ctl_usage_fail(USAGE,
                          "policy grant: give a TAG to grant, or --none to remove the grant");
  if (!!user == !!all)
    return ctl_usage_fail(USAGE, "policy grant: give exactly one of --user URI or --all");
  char *key;
  if ((rc = ctl_open_key(c, "user", user, &key))) return rc;
  char err[1024];
  long changed = 0;
  const char *tag = none ? NULL : a.pos[0];
  sx_st st = sx_store_policy_grant(c->st, tag, key, &changed, err, sizeof err);
  if (st) {
    free(key);
    return ctl_st(st, err);
  }
  if (!c->json) {
    if (key && tag)
      printf("granted policy '%s' to %s\n", tag, key);
    else if (key)
      printf("removed the policy grant from %s (site or global policy applies)\n", key);
    else if (tag)
      printf("granted policy '%s' to all users in the store (%ld changed)\n", tag, changed);
    else
      printf("removed the policy grants from all users (%ld changed)\n", changed);
  }
  if (all && tag && changed == 0) {
    size_t n = 0;
    sx_user_rec *v = NULL;
    if (sx_store_user_list(c->st, NULL, NULL, &v, &n, err, sizeof err) == SX_ST_OK && n == 0)
      ctl_warn("the store has no users, so nothing was granted; users not in the store get "
               "their site policy or the global policy (to enable everyone: policy set global "
               "--xmpp, or add users with user add / user import first)");
    sx_user_list_free(v, n);
  }
  free(key);
  return CTL_OK;
}

int ctl_policy(ctl_ctx *c, int argc, char **argv) {
  const char *sub = argv[0];
  if (strcmp(sub, "new") == 0) return cmd_write(c, 1, argc - 1, argv + 1);
  if (strcmp(sub, "set") == 0) return cmd_write(c, 0, argc - 1, argv + 1);
  if (strcmp(sub, "show") == 0) return cmd_show(c, argc - 1, argv + 1);
  if (strcmp(sub, "list") == 0) return cmd_list(c, argc - 1, argv + 1);
  if (strcmp(sub, "remove") == 0) return cmd_remove(c, argc - 1, argv + 1);
  if (strcmp(sub, "grant") == 0) return cmd_grant(c, argc - 1, argv + 1);
  return ctl_usage_fail(USAGE, "policy: unknown subcommand '%s'", sub);
}
