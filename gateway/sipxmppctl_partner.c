/* sipxmppctl partner new|set|show|list|remove: XMPP allowed partners (SPEC §5). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/check.h"
#include "gateway/sipxmppctl.h"

static const char USAGE[] =
    "usage: sipxmppctl partner new DOMAIN [--type federated|public-verified|public-unverified]\n"
    "                  [--additional-domains D1,D2] [--tls required|optional|not-supported]\n"
    "                  [--sasl required|optional|not-supported] [--dialback on|off]\n"
    "                  [--keepalive on|off] [--connection-limit N] [--proxy-fqdn FQDN]\n"
    "                  [--description TEXT]\n"
    "       sipxmppctl partner set DOMAIN [the same options] [--add-domain D1,D2]\n"
    "                  [--remove-domain D1,D2]      (--additional-domains replaces the list)\n"
    "       sipxmppctl partner show DOMAIN [--json]\n"
    "       sipxmppctl partner list [--json]\n"
    "       sipxmppctl partner remove DOMAIN\n"
    "Defaults: type PublicUnverified, TLS and SASL Required, dialback and keepalive on.\n";

static void print_partner(const sx_partner_rec *p) {
  printf("domain: %s\nAdditionalDomains: ", p->domain);
  for (size_t i = 0; i < p->n_additional; i++)
    printf("%s%s", i ? ", " : "", p->additional[i]);
  printf("\nDescription: %s\n", p->description ? p->description : "");
  printf("PartnerType: %s\n", sx_ptype_name(p->type));
  printf("TlsNegotiation: %s\n", sx_nego_name(p->tls));
  printf("SaslNegotiation: %s\n", sx_nego_name(p->sasl));
  printf("SupportDialbackNegotiation: %s\n", p->dialback ? "true" : "false");
  printf("EnableKeepAlive: %s\n", p->keepalive ? "true" : "false");
  printf("ConnectionLimit: %ld\n", p->connection_limit);
  printf("ProxyFqdn: %s\n", p->proxy_fqdn ? p->proxy_fqdn : "");
}

static int show_one(ctl_ctx *c, const char *domain) {
  char err[1024];
  sx_partner_rec p;
  sx_st st = sx_store_partner_get(c->st, domain, &p, err, sizeof err);
  if (st) return ctl_st(st, err);
  int rc = CTL_OK;
  if (c->json)
    rc = ctl_json_out(sx_json_partner(&p));
  else
    print_partner(&p);
  sx_partner_rec_free(&p);
  return rc;
}

enum {
  O_TYPE,
  O_ADDITIONAL,
  O_ADD,
  O_REMOVE,
  O_TLS,
  O_SASL,
  O_DIALBACK,
  O_KEEPALIVE,
  O_LIMIT,
  O_PROXY,
  O_DESC,
};
static const ctl_optdef WRITE_OPTS[] = {
    [O_TYPE] = {"type", OPT_VALUE},
    [O_ADDITIONAL] = {"additional-domains", OPT_VALUE},
    [O_ADD] = {"add-domain", OPT_VALUE},
    [O_REMOVE] = {"remove-domain", OPT_VALUE},
    [O_TLS] = {"tls", OPT_VALUE},
    [O_SASL] = {"sasl", OPT_VALUE},
    [O_DIALBACK] = {"dialback", OPT_BOOL},
    [O_KEEPALIVE] = {"keepalive", OPT_BOOL},
    [O_LIMIT] = {"connection-limit", OPT_VALUE},
    [O_PROXY] = {"proxy-fqdn", OPT_VALUE},
    [O_DESC] = {"description", OPT_VALUE},
    {NULL, 0},
};

/* Splits "a, b,c" into p->additional (appending). -1 on ENOMEM. */
static int add_list(sx_partner_rec *p, const char *list) {
  const char *s = list;
  while (*s) {
    while (*s == ',' || *s == ' ' || *s == '\t') s++;
    if (!*s) break;
    const char *e = s;
    while (*e && *e != ',' && *e != ' ' && *e != '\t') e++;
    char **nv = realloc(p->additional, (p->n_additional + 1) * sizeof(char *));
    if (!nv) return -1;
    p->additional = nv;
    if (!(p->additional[p->n_additional] = strndup(s, (size_t)(e - s)))) return -1;
    p->n_additional++;
    s = e;
  }
  return 0;
}

static void clear_list(sx_partner_rec *p) {
  for (size_t i = 0; i < p->n_additional; i++) free(p->additional[i]);
  free(p->additional);
  p->additional = NULL;
  p->n_additional = 0;
}

/* Removes the domains in list (normalised comparison); CTL_REFUSED when one is absent. */
static int remove_list(sx_partner_rec *p, const char *list) {
  sx_partner_rec tmp;
  memset(&tmp, 0, sizeof tmp);
  if (add_list(&tmp, list)) {
    clear_list(&tmp);
    ctl_error("out of memory");
    return CTL_STORE;
  }
  int rc = CTL_OK;
  for (size_t i = 0; i < tmp.n_additional; i++) {
    char want[SX_JID_PART_MAX + 1], have[SX_JID_PART_MAX + 1], msg[256];
    if (sx_domain_normalize(tmp.additional[i], want, sizeof want, msg, sizeof msg)) {
      ctl_error("--remove-domain: %s", msg);
      rc = CTL_REFUSED;
      break;
    }
    size_t j;
    for (j = 0; j < p->n_additional; j++)
      if (sx_domain_normalize(p->additional[j], have, sizeof have, NULL, 0) == 0 &&
          strcmp(have, want) == 0)
        break;
    if (j == p->n_additional) {
      ctl_error("%s is not an additional domain of partner %s", want, p->domain);
      rc = CTL_REFUSED;
      break;
    }
    free(p->additional[j]);
    memmove(&p->additional[j], &p->additional[j + 1],
            (p->n_additional - j - 1) * sizeof(char *));
    p->n_additional--;
  }
  clear_list(&tmp);
  return rc;
}

/* Applies the options to p. Returns CTL_OK, CTL_USAGE, CTL_REFUSED or CTL_STORE. */
static int apply(sx_partner_rec *p, const ctl_args *a) {
  if (a->seen[O_TYPE] && sx_ptype_parse(a->val[O_TYPE], &p->type)) {
    ctl_error("--type '%s': use federated, public-verified or public-unverified", a->val[O_TYPE]);
    return CTL_USAGE;
  }
  if (a->seen[O_TLS] && sx_nego_parse(a->val[O_TLS], &p->tls)) {
    ctl_error("--tls '%s': use required, optional or not-supported", a->val[O_TLS]);
    return CTL_USAGE;
  }
  if (a->seen[O_SASL] && sx_nego_parse(a->val[O_SASL], &p->sasl)) {
    ctl_error("--sasl '%s': use required, optional or not-supported", a->val[O_SASL]);
    return CTL_USAGE;
  }
  if (a->seen[O_DIALBACK]) p->dialback = strcmp(a->val[O_DIALBACK], "on") == 0;
  if (a->seen[O_KEEPALIVE]) p->keepalive = strcmp(a->val[O_KEEPALIVE], "on") == 0;
  if (a->seen[O_LIMIT]) {
    const char *v = a->val[O_LIMIT];
    char *end;
    errno = 0;
    long l = strtol(v, &end, 10);
    if (!*v || *end || errno || l < 0) {
      ctl_error("--connection-limit '%s': use 0 (no limit) or a positive number", v);
      return CTL_USAGE;
    }
    p->connection_limit = l;
  }
  if (a->seen[O_PROXY]) {
    free(p->proxy_fqdn);
    p->proxy_fqdn = *a->val[O_PROXY] ? strdup(a->val[O_PROXY]) : NULL;
    if (*a->val[O_PROXY] && !p->proxy_fqdn) return CTL_STORE;
  }
  if (a->seen[O_DESC]) {
    free(p->description);
    if (!(p->description = strdup(a->val[O_DESC]))) return CTL_STORE;
  }
  if (a->seen[O_ADDITIONAL]) {
    clear_list(p);
    if (add_list(p, a->val[O_ADDITIONAL])) return CTL_STORE;
  }
  if (a->seen[O_ADD] && add_list(p, a->val[O_ADD])) return CTL_STORE;
  if (a->seen[O_REMOVE]) return remove_list(p, a->val[O_REMOVE]);
  return CTL_OK;
}

static int cmd_write(ctl_ctx *c, int create, int argc, char **argv) {
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, WRITE_OPTS, &a, USAGE, 1, 1, "partner %s: expected one DOMAIN",
                       create ? "new" : "set");
  if (rc) return rc;
  if (create && (a.seen[O_ADD] || a.seen[O_REMOVE])) {
    ctl_error("partner new: use --additional-domains (--add-domain and --remove-domain are for "
              "partner set)");
    return CTL_USAGE;
  }
  int any = 0;
  for (int i = 0; WRITE_OPTS[i].name; i++) any |= a.seen[i];
  if (!create && !any) return ctl_usage_fail(USAGE, "partner set: nothing to change");
  if ((rc = ctl_open(c))) return rc;
  char err[1024], warn[1024];
  sx_partner_rec p;
  if (create) {
    if (sx_partner_rec_init(&p, a.pos[0])) {
      ctl_error("out of memory");
      return CTL_STORE;
    }
  } else {
    sx_st st = sx_store_partner_get(c->st, a.pos[0], &p, err, sizeof err);
    if (st) return ctl_st(st, err);
    char nd[SX_JID_PART_MAX + 1];
    if (sx_domain_normalize(a.pos[0], nd, sizeof nd, NULL, 0) == 0 && strcmp(nd, p.domain)) {
      ctl_error("%s is an additional domain of partner %s; use: partner set %s ...", nd,
                p.domain, p.domain);
      sx_partner_rec_free(&p);
      return CTL_REFUSED;
    }
  }
  if ((rc = apply(&p, &a))) {
    sx_partner_rec_free(&p);
    if (rc == CTL_USAGE) fputs(USAGE, stderr);
    return rc;
  }
  /* a served domain can never be a partner: its stanzas come to the gateway itself */
  if (c->have_cfg && sx_partner_check_served(&c->cfg, &p, err, sizeof err)) {
    ctl_error("%s", err);
    sx_partner_rec_free(&p);
    return CTL_REFUSED;
  }
  sx_st st = create ? sx_store_partner_new(c->st, &p, warn, sizeof warn, err, sizeof err)
                    : sx_store_partner_update(c->st, &p, warn, sizeof warn, err, sizeof err);
  if (st) {
    sx_partner_rec_free(&p);
    return ctl_st(st, err);
  }
  if (warn[0]) ctl_warn("%s", warn);
  char nd[SX_JID_PART_MAX + 1];
  int ok = sx_domain_normalize(p.domain, nd, sizeof nd, NULL, 0) == 0;
  sx_partner_rec_free(&p);
  if (!ok) return CTL_OK;
  if (c->json) return show_one(c, nd);
  printf("%s partner %s\n", create ? "created" : "changed", nd);
  return CTL_OK;
}

static int cmd_show(ctl_ctx *c, int argc, char **argv) {
  ctl_args a;
  int rc =
      ctl_parse_n(argc, argv, ctl_no_opts, &a, USAGE, 1, 1, "partner show: expected one DOMAIN");
  if (rc || (rc = ctl_open(c))) return rc;
  return show_one(c, a.pos[0]);
}

static int cmd_list(ctl_ctx *c, int argc, char **argv) {
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, ctl_no_opts, &a, USAGE, 0, 0, "partner list takes no arguments");
  if (rc || (rc = ctl_open(c))) return rc;
  char err[1024];
  sx_partner_rec *v;
  size_t n;
  sx_st st = sx_store_partner_list(c->st, &v, &n, err, sizeof err);
  if (st) return ctl_st(st, err);
  if (c->json) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) ctl_json_push(&arr, sx_json_partner(&v[i]));
    rc = ctl_json_out(arr);
  } else {
    printf("%-28s %-16s %-12s %-12s %-8s %-9s %-5s %s\n", "DOMAIN", "TYPE", "TLS", "SASL",
           "DIALBACK", "KEEPALIVE", "LIMIT", "ADDITIONAL DOMAINS");
    for (size_t i = 0; i < n; i++) {
      const sx_partner_rec *p = &v[i];
      printf("%-28s %-16s %-12s %-12s %-8s %-9s %-5ld ", p->domain, sx_ptype_name(p->type),
             sx_nego_name(p->tls), sx_nego_name(p->sasl), p->dialback ? "on" : "off",
             p->keepalive ? "on" : "off", p->connection_limit);
      for (size_t j = 0; j < p->n_additional; j++)
        printf("%s%s", j ? "," : "", p->additional[j]);
      putchar('\n');
    }
  }
  sx_partner_list_free(v, n);
  return rc;
}

static int cmd_remove(ctl_ctx *c, int argc, char **argv) {
  ctl_args a;
  int rc =
      ctl_parse_n(argc, argv, ctl_no_opts, &a, USAGE, 1, 1, "partner remove: expected one DOMAIN");
  if (rc || (rc = ctl_open(c))) return rc;
  char err[1024];
  sx_st st = sx_store_partner_remove(c->st, a.pos[0], err, sizeof err);
  if (st) return ctl_st(st, err);
  if (!c->json) printf("removed partner %s\n", a.pos[0]);
  return CTL_OK;
}

int ctl_partner(ctl_ctx *c, int argc, char **argv) {
  const char *sub = argv[0];
  if (strcmp(sub, "new") == 0) return cmd_write(c, 1, argc - 1, argv + 1);
  if (strcmp(sub, "set") == 0) return cmd_write(c, 0, argc - 1, argv + 1);
  if (strcmp(sub, "show") == 0) return cmd_show(c, argc - 1, argv + 1);
  if (strcmp(sub, "list") == 0) return cmd_list(c, argc - 1, argv + 1);
  if (strcmp(sub, "remove") == 0) return cmd_remove(c, argc - 1, argv + 1);
  return ctl_usage_fail(USAGE, "partner: unknown subcommand '%s'", sub);
}
