/* sipxmppctl user add|set|remove|show|list|import: internal users, their site and granted
 * policy (SPEC §5). Users are stored by canonical key, so any spelling of a URI finds them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* "sip:" form of a key for display (malloc'd), or a copy of the key. */
static char *sip_form(const char *key) {
  sx_jid j;
  if (sx_jid_parse(key, &j) == SX_ADDR_OK) {
    char *s = sx_jid_to_sip(&j, 0);
    sx_jid_free(&j);
    if (s) return s;
  }
  return strdup(key);
}

static cJSON *user_json(ctl_ctx *c, const sx_user_rec *u, int with_effective) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "user", u->key);
  char *sip = sip_form(u->key);
  ctl_json_str(o, "uri", sip);
  free(sip);
  ctl_json_str(o, "site", u->site);
  ctl_json_str(o, "policy", u->policy);
  if (with_effective) {
    sx_policy_rec p;
    const char *scope;
    if (ctl_effective(c, u->key, &p, &scope) == 0) {
      cJSON_AddStringToObject(o, "effective_policy", p.name);
      cJSON_AddStringToObject(o, "effective_scope", scope);
      cJSON_AddBoolToObject(o, "EnableXmppAccess", (p.flags & SX_POL_XMPP) != 0);
      sx_policy_rec_free(&p);
    }
  }
  return o;
}

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
    rc = ctl_json_out(user_json(c, &u, 1));
  } else {
    char *sip = sip_form(u.key);
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
    for (size_t i = 0; arr && i < n; i++) ctl_json_push(&arr, user_json(c, &v[i], 0));
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

/* Splits one CSV line into at most `max` fields (double quotes with "" escapes allowed;
 * blanks around fields trimmed). Returns the field count, or -1 on a quoting error. The
 * fields point into `line`, which is modified. */
static int csv_split(char *line, char **f, int max) {
  int n = 0;
  char *p = line;
  for (;;) {
    while (*p == ' ' || *p == '\t') p++;
    if (n == max) return max + 1;
    char *out = p, *start = p;
    if (*p == '"') {
      p++;
      for (;;) {
        if (!*p) return -1;
        if (*p == '"') {
          if (p[1] == '"') {
            *out++ = '"';
            p += 2;
            continue;
          }
          p++;
          break;
        }
        *out++ = *p++;
      }
      while (*p == ' ' || *p == '\t') p++;
      if (*p && *p != ',') return -1;
    } else {
      while (*p && *p != ',') *out++ = *p++;
      while (out > start && (out[-1] == ' ' || out[-1] == '\t')) out--;
    }
    char sep = *p;
    *out = '\0';
    f[n++] = start;
    if (sep != ',') break;
    p++;
  }
  return n;
}

/* Keys already imported from the file, with their line (open addressing). */
typedef struct {
  long line;
  char *key;
} seen_t;

typedef struct {
  seen_t *v;
  size_t cap, n; /* cap is a power of two */
} seenset;

static size_t seen_hash(const char *k) {
  size_t h = 5381;
  for (; *k; k++) h = h * 33 + (unsigned char)*k;
  return h;
}

/* The line where key was seen, or 0. */
static long seen_find(const seenset *s, const char *key) {
  if (!s->cap) return 0;
  for (size_t i = seen_hash(key) & (s->cap - 1); s->v[i].key; i = (i + 1) & (s->cap - 1))
    if (strcmp(s->v[i].key, key) == 0) return s->v[i].line;
  return 0;
}

/* Takes ownership of key; -1 when out of memory (key freed). */
static int seen_add(seenset *s, char *key, long line) {
  if ((s->n + 1) * 2 > s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 1024;
    seen_t *nv = calloc(nc, sizeof *nv);
    if (!nv) {
      free(key);
      return -1;
    }
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->v[i].key) continue;
      size_t j = seen_hash(s->v[i].key) & (nc - 1);
      while (nv[j].key) j = (j + 1) & (nc - 1);
      nv[j] = s->v[i];
    }
    free(s->v);
    s->v = nv;
    s->cap = nc;
  }
  size_t j = seen_hash(key) & (s->cap - 1);
  while (s->v[j].key) j = (j + 1) & (s->cap - 1);
  s->v[j].key = key;
  s->v[j].line = line;
  s->n++;
  return 0;
}

static void seen_free(seenset *s) {
  for (size_t i = 0; i < s->cap; i++) free(s->v[i].key);
  free(s->v);
}

static int cmd_import(ctl_ctx *c, int argc, char **argv) {
  static const ctl_optdef opts[] = {{"skip-bad", OPT_FLAG}, {NULL, 0}};
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, opts, &a, USAGE, 1, 1,
                       "user import: expected one FILE (or - for stdin)");
  if (rc) return rc;
  int skip_bad = a.seen[0];
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
  sx_st st = sx_store_begin(c->st, err, sizeof err);
  if (st) {
    if (f != stdin) fclose(f);
    return ctl_st(st, err);
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  long lineno = 0, bad = 0, added = 0, updated = 0;
  seenset seen = {NULL, 0, 0};
  int fatal = 0;
  while ((len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (lineno == 1 && len >= 3 && (unsigned char)line[0] == 0xef &&
        (unsigned char)line[1] == 0xbb && (unsigned char)line[2] == 0xbf)
      memmove(line, line + 3, (size_t)(len -= 3) + 1); /* UTF-8 byte order mark */
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || *p == '#') continue;
    char *fld[3] = {NULL, NULL, NULL};
    int nf = csv_split(p, fld, 3);
    if (nf < 0 || nf > 3) {
      fprintf(stderr, "%s:%ld: %s\n", fname, lineno,
              nf < 0 ? "bad quoting" : "too many fields (expected uri,site,policy)");
      bad++;
      continue;
    }
    if (lineno == 1 && strcasecmp(fld[0], "uri") == 0) continue; /* header */
    if (!*fld[0]) {
      fprintf(stderr, "%s:%ld: empty uri\n", fname, lineno);
      bad++;
      continue;
    }
    const char *msg = NULL;
    char *key = sx_canon_key(fld[0], &msg, NULL);
    if (!key) {
      fprintf(stderr, "%s:%ld: uri '%s': %s\n", fname, lineno, fld[0], msg ? msg : "invalid");
      bad++;
      continue;
    }
    long dup = seen_find(&seen, key);
    if (dup) {
      fprintf(stderr, "%s:%ld: %s is already on line %ld\n", fname, lineno, key, dup);
      free(key);
      bad++;
      continue;
    }
    const char *site = nf > 1 ? fld[1] : NULL, *pol = nf > 2 ? fld[2] : NULL;
    int was_new = 0;
    st = sx_store_user_put(c->st, key, site, pol, &was_new, err, sizeof err);
    if (st == SX_ST_ERROR) {
      fprintf(stderr, "%s:%ld: %s\n", fname, lineno, err);
      free(key);
      fatal = 1;
      break;
    }
    if (st) {
      fprintf(stderr, "%s:%ld: %s\n", fname, lineno, err);
      free(key);
      bad++;
      continue;
    }
    if (seen_add(&seen, key, lineno)) {
      ctl_error("out of memory");
      fatal = 1;
      break;
    }
    if (was_new)
      added++;
    else
      updated++;
  }
  int read_err = ferror(f);
  free(line);
  if (f != stdin) fclose(f);
  seen_free(&seen);
  if (fatal || read_err) {
    sx_store_rollback(c->st);
    if (read_err) ctl_error("error reading %s", fname);
    ctl_error("nothing imported");
    return fatal ? CTL_STORE : CTL_REFUSED;
  }
  if (bad && !skip_bad) {
    sx_store_rollback(c->st);
    ctl_error("%ld bad line(s) in %s; nothing imported (fix them, or use --skip-bad)", bad,
              fname);
    return CTL_REFUSED;
  }
  if ((st = sx_store_commit(c->st, err, sizeof err))) return ctl_st(st, err);
  if (bad) ctl_warn("%ld bad line(s) skipped", bad);
  if (c->json) {
    cJSON *o = cJSON_CreateObject();
    if (o) {
      cJSON_AddNumberToObject(o, "added", (double)added);
      cJSON_AddNumberToObject(o, "updated", (double)updated);
      cJSON_AddNumberToObject(o, "skipped", (double)bad);
    }
    return ctl_json_out(o);
  }
  printf("imported %ld user(s): %ld added, %ld updated, %ld bad line(s) skipped\n",
         added + updated, added, updated, bad);
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
