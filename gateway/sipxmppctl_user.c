/* sipxmppctl user add|set|remove|show|list|import: internal users, their site and granted
 * policy (SPEC §5). Users are stored by canonical key, so any spelling of a URI finds them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/user_import.h"
#include "gateway/sipxmppctl.h"
#include "translate/address.h"

static const char USAGE[] =
    "usage: sipxmppctl user add URI [--site SITE] [--policy TAG]\n"
    "       sipxmppctl user set URI [--site SITE] [--policy TAG]   (an empty value clears it)\n"
    "       sipxmppctl user remove URI\n"
    "       sipxmppctl user show URI [--json]\n"
    "       sipxmppctl user list [--site SITE] [--policy TAG] [--json]\n"
    "       sipxmppctl user import FILE.csv [--skip-bad]   (FILE '-' reads stdin)\n"
    "CSV lines: uri,site,policy (site and policy may be empty; a header line 'uri,...' and\n"
    "lines starting with '#' are skipped). Nothing is saved if a line is bad, unless\n"
    "--skip-bad.\n";

static int show_key(ctl_ctx *c, const char *key) {
  char err[1024];
  sx_user_rec u;
  sx_st st = sx_store_user_get(c->st, key, &u, err, sizeof err);
  if (st == SX_ST_NOTFOUND) {
    sx_policy_rec p;
    const char *scope;
    if (ctl_effective(c, key, &p, &scope) == 0) {
      ctl_error("no user %s in the store (as an unknown user it gets the global policy '%s', "
                "EnableXmppAccess %s)",
                key, p.name, p.flags & SX_POL_XMPP ? "true" : "false");
      sx_policy_rec_free(&p);
      return CTL_REFUSED;
    }
  }
  if (st) return ctl_st(st, err);
  int rc = CTL_OK;
  if (c->json) {
    rc = ctl_json_out(sx_json_user(c->st, &u));
  } else {
    char *sip = sx_json_sip_form(u.key);
    printf("user: %s\nuri: %s\nsite: %s\npolicy: %s\n", u.key, sip ? sip : u.key,
           u.site ? u.site : "", u.policy ? u.policy : "");
    free(sip);
    sx_policy_rec p;
    const char *scope;
    if (ctl_effective(c, u.key, &p, &scope) == 0) {
      printf("effective policy: %s (%s), EnableXmppAccess %s\n", p.name, scope,
             p.flags & SX_POL_XMPP ? "true" : "false");
      sx_policy_rec_free(&p);
    }
  }
  sx_user_rec_free(&u);
  return rc;
}

/* Warns when a user's domain is not one the gateway serves. */
static void check_served(ctl_ctx *c, const char *key) {
  const char *at = strrchr(key, '@');
  if (c->have_cfg && at && !sx_config_serves(&c->cfg, at + 1))
    ctl_warn("%s is not in a domain this gateway serves; the daemon will not treat it as an "
             "internal user",
             at + 1);
}

static int cmd_addset(ctl_ctx *c, int create, int argc, char **argv) {
  static const ctl_optdef opts[] = {{"site", OPT_VALUE}, {"policy", OPT_VALUE}, {NULL, 0}};
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, opts, &a, USAGE, 1, 1, "user %s: expected one URI",
                       create ? "add" : "set");
  if (rc) return rc;
  if (!create && !a.seen[0] && !a.seen[1])
    return ctl_usage_fail(USAGE, "user set: nothing to change (give --site or --policy)");
  char *key;
  if ((rc = ctl_open_key(c, "user", a.pos[0], &key))) return rc;
  char err[1024];
  sx_st st = create ? sx_store_user_add(c->st, key, a.val[0], a.val[1], err, sizeof err)
                    : sx_store_user_set(c->st, key, a.val[0], a.val[1], err, sizeof err);
  if (st) {
    free(key);
    return ctl_st(st, err);
  }
  check_served(c, key);
  if (c->json)
    rc = show_key(c, key);
  else
    printf("%s user %s\n", create ? "added" : "changed", key);
  free(key);
  return rc;
}

static int cmd_remove(ctl_ctx *c, int argc, char **argv) {
  ctl_args a;
  char *key;
  int rc = ctl_parse_n(argc, argv, ctl_no_opts, &a, USAGE, 1, 1, "user remove: expected one URI");
  if (rc || (rc = ctl_open_key(c, "user", a.pos[0], &key))) return rc;
  char err[1024];
  sx_st st = sx_store_user_remove(c->st, key, err, sizeof err);
  if (!st && !c->json) printf("removed user %s\n", key);
  free(key);
  return ctl_st(st, err);
}

static int cmd_show(ctl_ctx *c, int argc, char **argv) {
  ctl_args a;
  char *key;
  int rc = ctl_parse_n(argc, argv, ctl_no_opts, &a, USAGE, 1, 1, "user show: expected one URI");
  if (rc || (rc = ctl_open_key(c, "user", a.pos[0], &key))) return rc;
  rc = show_key(c, key);
  free(key);
  return rc;
}

static int cmd_list(ctl_ctx *c, int argc, char **argv) {
  static const ctl_optdef opts[] = {{"site", OPT_VALUE}, {"policy", OPT_VALUE}, {NULL, 0}};
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, opts, &a, USAGE, 0, 0,
                       "user list takes no arguments (filters: --site, --policy)");
  if (rc || (rc = ctl_open(c))) return rc;
  char err[1024];
  sx_user_rec *v;
  size_t n;
  sx_st st = sx_store_user_list(c->st, a.val[0], a.val[1], &v, &n, err, sizeof err);
  if (st) return ctl_st(st, err);
  if (c->json) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) ctl_json_push(&arr, sx_json_user(NULL, &v[i]));
    rc = ctl_json_out(arr);
  } else {
    printf("%-40s %-20s %s\n", "USER", "SITE", "POLICY");
    for (size_t i = 0; i < n; i++)
      printf("%-40s %-20s %s\n", v[i].key, v[i].site ? v[i].site : "-",
             v[i].policy ? v[i].policy : "-");
  }
  sx_user_list_free(v, n);
  return rc;
}

/* ---- import -------------------------------------------------------------------------- */

static void print_bad(void *ud, long line, const char *reason) {
  fprintf(stderr, "%s:%ld: %s\n", (const char *)ud, line, reason);
}

static int cmd_import(ctl_ctx *c, int argc, char **argv) {
  static const ctl_optdef opts[] = {{"skip-bad", OPT_FLAG}, {NULL, 0}};
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, opts, &a, USAGE, 1, 1,
                       "user import: expected one FILE (or - for stdin)");
  if (rc) return rc;
  const char *fname = a.pos[0];
  FILE *f = strcmp(fname, "-") == 0 ? stdin : fopen(fname, "r");
  if (!f) {
    ctl_error("cannot read %s: %s", fname, strerror(errno));
    return CTL_REFUSED;
  }
  if ((rc = ctl_open(c))) {
    if (f != stdin) fclose(f);
    return rc;
  }
  char err[1024];
  sx_import_counts n;
  sx_st st = sx_user_import(c->st, f, fname, a.seen[0], print_bad, (void *)fname, &n, err,
                            sizeof err);
  if (f != stdin) fclose(f);
  if (st == SX_ST_ERROR) {
    ctl_error("%s", err);
    ctl_error("nothing imported");
    return CTL_STORE;
  }
  if (st) return ctl_st(st, err);
  if (n.bad) ctl_warn("%ld bad line(s) skipped", n.bad);
  if (c->json) {
    cJSON *o = cJSON_CreateObject();
    if (o) {
      cJSON_AddNumberToObject(o, "added", (double)n.added);
      cJSON_AddNumberToObject(o, "updated", (double)n.updated);
      cJSON_AddNumberToObject(o, "skipped", (double)n.bad);
    }
    return ctl_json_out(o);
  }
  printf("imported %ld user(s): %ld added, %ld updated, %ld bad line(s) skipped\n",
         n.added + n.updated, n.added, n.updated, n.bad);
  return CTL_OK;
}

int ctl_user(ctl_ctx *c, int argc, char **argv) {
  const char *sub = argv[0];
  if (strcmp(sub, "add") == 0) return cmd_addset(c, 1, argc - 1, argv + 1);
  if (strcmp(sub, "set") == 0) return cmd_addset(c, 0, argc - 1, argv + 1);
  if (strcmp(sub, "remove") == 0) return cmd_remove(c, argc - 1, argv + 1);
  if (strcmp(sub, "show") == 0) return cmd_show(c, argc - 1, argv + 1);
  if (strcmp(sub, "list") == 0) return cmd_list(c, argc - 1, argv + 1);
  if (strcmp(sub, "import") == 0) return cmd_import(c, argc - 1, argv + 1);
  return ctl_usage_fail(USAGE, "user: unknown subcommand '%s'", sub);
}
