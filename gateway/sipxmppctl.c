/* sipxmppctl: the admin command line (SPEC §5, §8). Works on the store directly, so an
 * admin can set policies and partners before the daemon first starts; the running daemon
 * notices every change through the store's generation counter.
 *
 * This file: global options, dispatch and the helpers the command files share. */
#include "gateway/sipxmppctl.h"
#include "sx_version.h"

#include "conf/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char USAGE[] =
    "usage: sipxmppctl [--config FILE | --store PATH] [--json] COMMAND ...\n"
    "\n"
    "  policy new NAME [--xmpp[=on|off]] [--federation] [--public-cloud] [--outside]\n"
    "                  [--description TEXT]          NAME: global, site:SITE or a tag\n"
    "  policy set NAME [same options]\n"
    "  policy show NAME | policy list\n"
    "  policy remove NAME [--force]\n"
    "  policy grant TAG (--user URI | --all)  |  policy grant --none (--user URI | --all)\n"
    "  partner new DOMAIN [--type federated|public-verified|public-unverified]\n"
    "                     [--additional-domains D1,D2] [--tls required|optional|not-supported]\n"
    "                     [--sasl ...] [--dialback on|off] [--keepalive on|off]\n"
    "                     [--connection-limit N] [--proxy-fqdn FQDN] [--description TEXT]\n"
    "  partner set DOMAIN [same options] [--add-domain D1,D2] [--remove-domain D1,D2]\n"
    "  partner show DOMAIN | partner list | partner remove DOMAIN\n"
    "  user add URI [--site SITE] [--policy TAG]\n"
    "  user set URI [--site SITE] [--policy TAG]    (an empty value clears it)\n"
    "  user remove URI | user show URI | user list [--site SITE] [--policy TAG]\n"
    "  user import FILE.csv [--skip-bad]            (lines: uri,site,policy)\n"
    "  contact add USER CONTACT | contact remove USER CONTACT | contact list [USER]\n"
    "  check USER CONTACT [--inbound|--outbound] [--im|--subscribe|--presence|--probe]\n"
    "  status                 the running daemon: edge links, SIP, counters (exit 0 all up,\n"
    "                         1 something down, 3 daemon unreachable)\n"
    "  doctor [--dns ADDR[:PORT]]\n"
    "                         check the installation: one line per check (exit 0: no fail;\n"
    "                         --dns asks that DNS server for the SRV records)\n"
    "  edge-config prosody|ejabberd [--output FILE]\n"
    "                         the edge XMPP server's configuration for the served domains\n"
    "                         and the partners\n"
    "  --version              print the version\n"
    "  admin passwd NAME | admin list | admin remove NAME   (web console logins)\n"
    "\n"
    "Options: --config FILE (default " CTL_DEFAULT_CONFIG "), --store PATH (use this store\n"
    "file instead of the config's [gateway] store), --json (JSON on stdout).\n"
    "Exit status: 0 ok (check: allow), 1 refused or invalid (check: deny or pending),\n"
    "2 usage, 3 store or config error. Errors and warnings go to stderr.\n";

/* Prints prefix, the formatted message and a newline on stderr. */
static void vmsg(const char *prefix, const char *fmt, va_list ap) {
  fputs(prefix, stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void ctl_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vmsg("warning: ", fmt, ap);
  va_end(ap);
}

void ctl_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vmsg("error: ", fmt, ap);
  va_end(ap);
}

/* Prints "error: " and the message, then usage (when not NULL), on stderr; CTL_USAGE. */
static int vusage_fail(const char *usage, const char *fmt, va_list ap) {
  vmsg("error: ", fmt, ap);
  if (usage) fputs(usage, stderr);
  return CTL_USAGE;
}

int ctl_usage_fail(const char *usage, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vusage_fail(usage, fmt, ap);
  va_end(ap);
  return rc;
}

int ctl_bool(const char *t, int *out) {
  static const char *const yes[] = {"on", "yes", "true", "1"};
  static const char *const no[] = {"off", "no", "false", "0"};
  if (!t) return -1;
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(t, yes[i]) == 0) {
      *out = 1;
      return 0;
    }
    if (strcasecmp(t, no[i]) == 0) {
      *out = 0;
      return 0;
    }
  }
  return -1;
}

int ctl_opt(const ctl_optdef *defs, const char *name) {
  for (int i = 0; defs[i].name; i++)
    if (strcmp(defs[i].name, name) == 0) return i;
  return -1;
}

const ctl_optdef ctl_no_opts[] = {{NULL, 0}};

int ctl_parse(int argc, char **argv, const ctl_optdef *defs, ctl_args *a, const char *usage) {
  memset(a, 0, sizeof *a);
  int only_pos = 0;
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    if (only_pos || arg[0] != '-' || arg[1] == '\0') {
      if (a->npos == CTL_MAX_POS) return ctl_usage_fail(usage, "too many arguments");
      a->pos[a->npos++] = arg;
      continue;
    }
    if (strcmp(arg, "--") == 0) {
      only_pos = 1;
      continue;
    }
    if (arg[1] != '-') return ctl_usage_fail(usage, "unknown option %s", arg);
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t nl = eq ? (size_t)(eq - name) : strlen(name);
    int idx = -1;
    for (int j = 0; defs[j].name; j++)
      if (strlen(defs[j].name) == nl && strncmp(defs[j].name, name, nl) == 0) idx = j;
    if (idx < 0) return ctl_usage_fail(usage, "unknown option --%.*s", (int)nl, name);
    const char *v = NULL;
    switch (defs[idx].kind) {
    case OPT_FLAG:
      if (eq) return ctl_usage_fail(usage, "option --%s takes no value", defs[idx].name);
      v = "on";
      break;
    case OPT_VALUE:
      if (eq)
        v = eq + 1;
      else if (i + 1 < argc)
        v = argv[++i];
      else
        return ctl_usage_fail(usage, "option --%s needs a value", defs[idx].name);
      break;
    case OPT_BOOL: {
      int b = 1;
      if (eq) {
        if (ctl_bool(eq + 1, &b))
          return ctl_usage_fail(usage, "option --%s: '%s' is not on or off", defs[idx].name,
                                eq + 1);
      } else if (i + 1 < argc && ctl_bool(argv[i + 1], &b) == 0) {
        i++;
      } else {
        b = 1;
      }
      v = b ? "on" : "off";
      break;
    }
    }
    a->seen[idx] = 1;
    a->val[idx] = v;
  }
  return 0;
}

int ctl_parse_n(int argc, char **argv, const ctl_optdef *defs, ctl_args *a, const char *usage,
                int min_pos, int max_pos, const char *fmt, ...) {
  int rc = ctl_parse(argc, argv, defs, a, usage);
  if (rc || (a->npos >= min_pos && a->npos <= max_pos)) return rc;
  va_list ap;
  va_start(ap, fmt);
  rc = vusage_fail(usage, fmt, ap);
  va_end(ap);
  return rc;
}

int ctl_st(sx_st st, const char *err) {
  if (st == SX_ST_OK) return CTL_OK;
  ctl_error("%s", err && *err ? err : "failed");
  return st == SX_ST_ERROR ? CTL_STORE : CTL_REFUSED;
}

int ctl_load_config(ctl_ctx *c) {
  char err[1024];
  if (c->have_cfg) return CTL_OK;
  if (sx_config_load(c->config_path, &c->cfg, err, sizeof err) != 0) {
    ctl_error("%s", err);
    return CTL_STORE;
  }
  c->have_cfg = 1;
  return CTL_OK;
}

int ctl_open(ctl_ctx *c) {
  char err[1024];
  const char *path = c->store_path;
  if (!path) {
    if (!c->have_cfg && sx_config_load(c->config_path, &c->cfg, err, sizeof err) != 0) {
      ctl_error("%s", err);
      fprintf(stderr, "(use --config FILE for another config, or --store PATH to name the "
                      "store file directly)\n");
      return CTL_STORE;
    }
    c->have_cfg = 1;
    path = c->cfg.store;
  }
  if (sx_store_open(path, &c->st, err, sizeof err) != SX_ST_OK) {
    ctl_error("%s", err);
    return CTL_STORE;
  }
  return CTL_OK;
}

char *ctl_key(const char *what, const char *arg) {
  const char *msg = NULL;
  char *k = sx_canon_key(arg, &msg, NULL);
  if (!k) ctl_error("%s '%s': %s", what, arg, msg ? msg : "invalid address");
  return k;
}

int ctl_open_key(ctl_ctx *c, const char *what, const char *arg, char **key) {
  *key = NULL;
  if (arg && !(*key = ctl_key(what, arg))) return CTL_REFUSED;
  int rc = ctl_open(c);
  if (rc) {
    free(*key);
    *key = NULL;
  }
  return rc;
}

int ctl_json_out(cJSON *v) {
  if (!v) {
    ctl_error("out of memory");
    return CTL_STORE;
  }
  char *s = cJSON_Print(v);
  cJSON_Delete(v);
  if (!s) {
    ctl_error("out of memory");
    return CTL_STORE;
  }
  puts(s);
  cJSON_free(s);
  return CTL_OK;
}

void ctl_json_push(cJSON **arr, cJSON *item) {
  if (!*arr) {
    cJSON_Delete(item);
    return;
  }
  if (item) {
    cJSON_AddItemToArray(*arr, item);
  } else {
    cJSON_Delete(*arr);
    *arr = NULL;
  }
}

void ctl_json_str(cJSON *o, const char *name, const char *v) {
  if (v)
    cJSON_AddStringToObject(o, name, v);
  else
    cJSON_AddNullToObject(o, name);
}

int ctl_effective(ctl_ctx *c, const char *key, sx_policy_rec *out, const char **scope) {
  return sx_store_effective_policy(c->st, key, out, scope);
}

/* Removes the global options from argv (anywhere before "--"), filling c. */
static int take_globals(ctl_ctx *c, int *argc, char **argv) {
  int out = 0, only_pos = 0;
  for (int i = 0; i < *argc; i++) {
    const char *a = argv[i];
    if (!only_pos && strcmp(a, "--") == 0) only_pos = 1;
    if (!only_pos && strcmp(a, "--json") == 0) {
      c->json = 1;
      continue;
    }
    const char **slot = NULL;
    const char *name = NULL;
    if (!only_pos && strncmp(a, "--config", 8) == 0 && (a[8] == '\0' || a[8] == '=')) {
      slot = &c->config_path;
      name = "--config";
    } else if (!only_pos && strncmp(a, "--store", 7) == 0 && (a[7] == '\0' || a[7] == '=')) {
      slot = &c->store_path;
      name = "--store";
    }
    if (slot) {
      const char *eq = strchr(a, '=');
      if (eq) {
        *slot = eq + 1;
      } else if (i + 1 < *argc) {
        *slot = argv[++i];
      } else {
        ctl_error("%s needs a value", name);
        return CTL_USAGE;
      }
      if (!**slot) {
        ctl_error("%s needs a non-empty value", name);
        return CTL_USAGE;
      }
      continue;
    }
    argv[out++] = argv[i];
  }
  *argc = out;
  return 0;
}

int main(int argc, char **argv) {
  ctl_ctx c;
  memset(&c, 0, sizeof c);
  c.prog = argv[0];
  c.config_path = CTL_DEFAULT_CONFIG;
  argc--;
  argv++;
  int rc = take_globals(&c, &argc, argv);
  if (rc) return rc;
  if (argc == 0) {
    fputs(USAGE, stderr);
    return CTL_USAGE;
  }
  const char *cmd = argv[0];
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    printf("sipxmppctl %s\n", SX_VERSION_FULL);
    return CTL_OK;
  }
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    printf("%s", USAGE);
    return CTL_OK;
  }
  int (*fn)(ctl_ctx *, int, char **) = NULL;
  if (strcmp(cmd, "policy") == 0)
    fn = ctl_policy;
  else if (strcmp(cmd, "partner") == 0)
    fn = ctl_partner;
  else if (strcmp(cmd, "user") == 0)
    fn = ctl_user;
  else if (strcmp(cmd, "contact") == 0)
    fn = ctl_contact;
  else if (strcmp(cmd, "check") == 0)
    fn = ctl_check;
  else if (strcmp(cmd, "admin") == 0)
    fn = ctl_admin;
  else if (strcmp(cmd, "status") == 0)
    fn = ctl_status;
  else if (strcmp(cmd, "doctor") == 0)
    fn = ctl_doctor;
  else if (strcmp(cmd, "edge-config") == 0)
    fn = ctl_edge_config;
  if (!fn) return ctl_usage_fail(USAGE, "unknown command '%s'", cmd);
  if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
    printf("%s", USAGE);
    return CTL_OK;
  }
  /* check and the operations commands take their arguments directly; the others a
   * subcommand first */
  int direct = fn == ctl_check || fn == ctl_status || fn == ctl_doctor || fn == ctl_edge_config;
  if (!direct && argc < 2) return ctl_usage_fail(USAGE, "%s: missing subcommand", cmd);
  rc = fn(&c, argc - 1, argv + 1);
  if (c.st) sx_store_close(c.st);
  if (c.have_cfg) sx_config_free(&c.cfg);
  return rc;
}

const char *ctl_usage(void) { return USAGE; }
