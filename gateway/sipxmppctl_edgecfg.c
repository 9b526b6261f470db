/* sipxmppctl edge-config prosody|ejabberd [--output FILE]: the edge XMPP server's
 * configuration for what the config and the store say — one XEP-0114 component per served
 * domain on [edge] host:port with the secret, server-to-server federation limited to the
 * partners' primary and additional domains, the partners' TLS/SASL/dialback settings and the
 * [federation] settings the edge enforces, each as far as the server can express it. What a
 * server cannot express is said in a comment where the option would be (README: "Edge
 * configuration").
 *
 * The file is meant to be included: Prosody 0.12 (Debian's prosody.cfg.lua includes
 * conf.d/ (*.cfg.lua); an included file starts in the global section) and ejabberd 23.01
 * (include_config_file: its listen, acl, access_rules and modules are merged into the main
 * file's). --output writes FILE.tmp with mode 0640 and renames it over FILE.
 *
 * With [edge] tls = on the component takes TLS from the first byte: Prosody through
 * mod_net_multiplex's ssl_ports (and, when the gateway presents a client certificate, one
 * required from [edge] ca_file), ejabberd with `tls: true`; the edge's own certificate and
 * key are --tls-cert/--tls-key, or a path under /etc named after [edge] server_name. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/netaddr.h"
#include "gateway/sipxmppctl.h"
#include "sx_version.h"

static const char EDGE_USAGE[] =
    "usage: sipxmppctl [--config FILE] edge-config prosody|ejabberd [--output FILE]\n"
    "                  [--tls-cert FILE] [--tls-key FILE]\n"
    "  --tls-cert/--tls-key: the edge server's certificate and key for [edge] tls = on\n"
    "  (ejabberd: --tls-cert is one PEM with both)\n";

static const ctl_optdef edge_opts[] = {
    {"output", OPT_VALUE}, {"tls-cert", OPT_VALUE}, {"tls-key", OPT_VALUE}, {NULL, 0}};

typedef struct {
  const sx_config *cfg;
  const char *tls_cert, *tls_key; /* --tls-cert, --tls-key; NULL: a path under /etc */
  const sx_partner_rec *p;
  size_t np;
  long long generation;
} edge_in;

/* ---- quoting ------------------------------------------------------------------------- */

/* A Lua double-quoted string. */
static void lua_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20 || c == 0x7f)
      fprintf(f, "\\%03u", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

/* A YAML double-quoted scalar. */
static void yaml_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20 || c == 0x7f)
      fprintf(f, "\\x%02x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

/* ---- what the partners need ---------------------------------------------------------- */

static int all_tls(const edge_in *in, sx_nego v) {
  for (size_t i = 0; i < in->np; i++)
    if (in->p[i].tls != v) return 0;
  return in->np > 0;
}

static int any_tls(const edge_in *in, sx_nego v) {
  for (size_t i = 0; i < in->np; i++)
    if (in->p[i].tls == v) return 1;
  return 0;
}

/* Certificate (SASL EXTERNAL) authentication is the only way in: SASL Required, or dialback
 * off (then SASL is the only method left). */
static int needs_cert(const sx_partner_rec *p) {
  return p->sasl == SX_NEGO_REQUIRED || !p->dialback;
}

static void each_domain(const sx_partner_rec *p, void (*fn)(FILE *, const char *, void *),
                        FILE *f, void *ud) {
  fn(f, p->domain, ud);
  for (size_t i = 0; i < p->n_additional; i++) fn(f, p->additional[i], ud);
}

static void header(FILE *f, const char *cmt, const char *server, const edge_in *in) {
  fprintf(f, "%s sipxmpp edge configuration for %s, written by sipxmppctl %s\n", cmt, server,
          SX_VERSION_FULL);
  fprintf(f, "%s (`sipxmppctl edge-config`) from %s and the store %s (generation %lld).\n", cmt,
          in->cfg->path, in->cfg->store, in->generation);
  fprintf(f, "%s Render it again after every partner change. It holds the component secret:\n"
             "%s keep it readable by the edge server only (mode 0640, group of the server).\n",
          cmt, cmt);
}

static void partner_comment(FILE *f, const char *cmt, const sx_partner_rec *p) {
  fprintf(f, "%s   %s (%s", cmt, p->domain, sx_ptype_name(p->type));
  if (p->n_additional) {
    fprintf(f, "; also");
    for (size_t i = 0; i < p->n_additional; i++) fprintf(f, " %s", p->additional[i]);
  }
  fprintf(f, "): TLS %s, SASL %s, dialback %s, keepalive %s, connection limit %ld%s%s\n",
          sx_nego_name(p->tls), sx_nego_name(p->sasl), p->dialback ? "on" : "off",
          p->keepalive ? "on" : "off", p->connection_limit, p->proxy_fqdn ? ", proxy " : "",
          p->proxy_fqdn ? p->proxy_fqdn : "");
}

/* The component listener's address: an IP literal as configured, else every interface. */
static const char *listen_ip(const sx_config *cfg) {
  size_t n = strlen(cfg->edge_host);
  if (sx_valid_ipv4(cfg->edge_host, n) || sx_valid_ipv6(cfg->edge_host, n)) return cfg->edge_host;
  return NULL;
}

/* ---- Prosody ------------------------------------------------------------------------- */

/* [edge] tls = on. Prosody 0.12's component port has no TLS of its own: mod_net_multiplex's
 * multiplex_ssl service takes TLS from the first byte on ssl_ports and hands the
 * jabber:component:accept stream to the component. */
static void prosody_tls(FILE *f, const edge_in *in, const char *ip) {
  const sx_config *cfg = in->cfg;
  const char *name = cfg->edge_server_name ? cfg->edge_server_name : cfg->edge_host;
  char *crt = NULL, *key = NULL;
  fprintf(f, "-- [edge] tls = on: TLS from the first byte on port %u, through mod_net_multiplex's\n"
             "-- multiplex_ssl service (the component port of Prosody 0.12 has no TLS of its\n"
             "-- own). Add \"net_multiplex\" to modules_enabled in prosody.cfg.lua (Prosody has\n"
             "-- one modules_enabled list, which this file would replace). The plaintext\n"
             "-- component port is closed.\n",
          cfg->edge_port);
  fprintf(f, "component_ports = { }\nssl_ports = { %u }\nssl_interfaces = { ", cfg->edge_port);
  lua_str(f, ip ? ip : "*");
  fprintf(f, " }%s\n", ip ? "" : " -- [edge] host is a name: every interface");
  if (!in->tls_cert && asprintf(&crt, "/etc/prosody/certs/%s.crt", name) < 0) crt = NULL;
  if (!in->tls_key && asprintf(&key, "/etc/prosody/certs/%s.key", name) < 0) key = NULL;
  fprintf(f, "-- The edge's certificate must be valid for %s ([edge] server_name) and issued\n"
             "-- by a CA in %s ([edge] ca_file).\n",
          name, cfg->edge_ca_file ? cfg->edge_ca_file : "the gateway's system CA store");
  fprintf(f, "ssl = {\n    certificate = ");
  lua_str(f, in->tls_cert ? in->tls_cert : crt ? crt : "");
  fprintf(f, ";\n    key = ");
  lua_str(f, in->tls_key ? in->tls_key : key ? key : "");
  fprintf(f, ";\n");
  if (cfg->edge_cert_file) {
    fprintf(f, "    -- The gateway presents a client certificate ([edge] cert_file): require one\n"
               "    -- from this CA (the one that issued %s; [edge] ca_file here, change it if\n"
               "    -- another CA issued the gateway's). lsec_continue = false: Prosody would\n"
               "    -- otherwise let a failed verification through.\n"
               "    cafile = ",
            cfg->edge_cert_file);
    lua_str(f, cfg->edge_ca_file ? cfg->edge_ca_file : "/etc/ssl/certs/ca-certificates.crt");
    fprintf(f, ";\n    verify = { \"peer\", \"fail_if_no_peer_cert\" };\n"
               "    verifyext = { lsec_continue = false };\n");
  } else {
    fprintf(f, "    -- No client certificate ([edge] cert_file unset): the component secret alone\n"
               "    -- authenticates the gateway.\n");
  }
  fprintf(f, "}\n");
  free(crt);
  free(key);
}

/* [edge] tls = on for ejabberd_service: `tls: true` with a certfile. */
static void ejabberd_tls(FILE *f, const edge_in *in) {
  const sx_config *cfg = in->cfg;
  const char *name = cfg->edge_server_name ? cfg->edge_server_name : cfg->edge_host;
  char *pem = NULL;
  if (!in->tls_cert && asprintf(&pem, "/etc/ejabberd/%s.pem", name) < 0) pem = NULL;
  fprintf(f, "    # [edge] tls = on: TLS from the first byte. certfile holds the certificate (valid\n"
             "    # for %s, [edge] server_name, from a CA in [edge] ca_file) and its key.\n"
             "    tls: true\n    certfile: ",
          name);
  yaml_str(f, in->tls_cert ? in->tls_cert : pem ? pem : "");
  fprintf(f, "\n");
  if (cfg->edge_cert_file)
    fprintf(f, "    # ejabberd 23.01 does not verify the client certificate the gateway presents\n"
               "    # ([edge] cert_file): it has no option to require or check one on this\n"
               "    # listener, so the component secret alone authenticates the gateway.\n");
  free(pem);
}


static void lua_item(FILE *f, const char *d, void *ud) {
  int *first = ud;
  fprintf(f, "%s", *first ? " " : ", ");
  lua_str(f, d);
  *first = 0;
}

static void render_prosody(FILE *f, const edge_in *in) {
  const sx_config *cfg = in->cfg;
  header(f, "--", "Prosody 0.12", in);
  fprintf(f, "-- Install: /etc/prosody/conf.d/sipxmpp.cfg.lua (Debian's prosody.cfg.lua includes\n"
             "-- conf.d/*.cfg.lua); the options below are global and replace the same options of\n"
             "-- prosody.cfg.lua. Then: prosodyctl check config && prosodyctl reload\n\n");

  fprintf(f, "-- The gateway's XEP-0114 components ([edge] host and port). Prosody accepts one\n"
             "-- connection per component (a second gets `conflict`): one sipxmppd; to run\n"
             "-- several for one domain, use ejabberd (sipxmppctl edge-config ejabberd).\n");
  const char *ip = listen_ip(cfg);
  if (cfg->edge_tls) {
    prosody_tls(f, in, ip);
  } else {
    fprintf(f, "component_ports = { %u }\n", cfg->edge_port);
    fprintf(f, "component_interfaces = { ");
    lua_str(f, ip ? ip : "*");
    fprintf(f, " }%s\n", ip ? "" : " -- [edge] host is a name: every interface");
  }

  fprintf(f, "\n-- Federation with the partners (sipxmppctl partner list):\n");
  if (!in->np) fprintf(f, "--   none: every external domain is refused by the gateway.\n");
  for (size_t i = 0; i < in->np; i++) partner_comment(f, "--", &in->p[i]);
  fprintf(f, "-- Prosody 0.12 cannot limit server-to-server traffic to these domains (it has no\n"
             "-- allow-list of remote domains; the community module mod_s2s_whitelist adds one).\n"
             "-- The gateway refuses every other domain itself (not_partner).\n");

  fprintf(f, "\n-- TLS (TlsNegotiation). Prosody has one switch for every remote domain.\n");
  if (all_tls(in, SX_NEGO_REQUIRED) || !in->np) {
    fprintf(f, "s2s_require_encryption = true%s\n",
            in->np ? " -- every partner has TLS Required" : "");
  } else {
    fprintf(f, "-- Not every partner has TLS Required, so encryption is offered but not required\n"
               "-- for any of them.%s\n"
               "s2s_require_encryption = false\n",
            any_tls(in, SX_NEGO_NOT_SUPPORTED)
                ? " TLS NotSupported cannot be expressed: Prosody always offers\n"
                  "-- TLS; a partner that does not support it simply does not start it."
                : "");
  }

  fprintf(f, "\n-- Authentication (SaslNegotiation, SupportDialbackNegotiation). Certificate\n"
             "-- authentication (SASL EXTERNAL) is required for partners with SASL Required or\n"
             "-- dialback off; the others may use a certificate or dialback.\n"
             "s2s_secure_auth = false\n"
             "s2s_secure_domains = {");
  int first = 1;
  for (size_t i = 0; i < in->np; i++)
    if (needs_cert(&in->p[i])) each_domain(&in->p[i], lua_item, f, &first);
  fprintf(f, "%s}\n", first ? "" : " ");
  for (size_t i = 0; i < in->np; i++)
    if (in->p[i].sasl == SX_NEGO_NOT_SUPPORTED)
      fprintf(f, "-- %s: SASL NotSupported cannot be expressed; Prosody uses a valid certificate\n"
                 "-- when the partner presents one, dialback otherwise.\n",
              in->p[i].domain);

  fprintf(f, "\n-- [federation] settings (Set-CsXmppGatewayConfiguration):\n");
  fprintf(f, "s2s_timeout = %u -- StreamEstablishmentTimeout\n",
          cfg->fed_stream_establishment_timeout_s);
  fprintf(f, "-- KeepAliveInterval: Prosody sends a whitespace keepalive on a stream idle for\n"
             "-- read_timeout seconds (this also applies to client and component streams, and\n"
             "-- replaces network_settings of prosody.cfg.lua: merge other settings by hand).\n"
             "network_settings = { read_timeout = %u }\n",
          cfg->fed_keepalive_interval_s);
  if (cfg->fed_dialback_passphrase) {
    fprintf(f, "dialback_secret = ");
    lua_str(f, cfg->fed_dialback_passphrase);
    fprintf(f, " -- DialbackPassphrase\n");
  } else {
    fprintf(f, "-- DialbackPassphrase not set: Prosody picks a random dialback secret at start.\n");
  }
  fprintf(f, "-- Not expressible in Prosody 0.12, enforce elsewhere if needed:\n"
             "--   ConnectionLimit %u: no limit on server-to-server connections (use the\n"
             "--     firewall, e.g. nftables ct count, on port 5269).\n"
             "--   PartnerConnectionLimit %u: Prosody opens one outgoing stream per domain pair.\n"
             "--   StreamInactivityTimeout %u s: idle streams are kept (only whitespace keepalives).\n"
             "--   Per-partner EnableKeepAlive and ProxyFqdn: keepalives are global; the\n"
             "--     partner's server is found through DNS SRV (_xmpp-server._tcp).\n",
          cfg->fed_connection_limit, cfg->fed_partner_connection_limit,
          cfg->fed_stream_inactivity_timeout_s);

  for (size_t i = 0; i < cfg->n_domains; i++) {
    fprintf(f, "\nComponent ");
    lua_str(f, cfg->domains[i]);
    fprintf(f, "\n    component_secret = ");
    lua_str(f, cfg->edge_secret);
    fprintf(f, "\n");
    if (cfg->edge_secret_file)
      fprintf(f, "    -- the first line of %s ([edge] secret_file)\n", cfg->edge_secret_file);
  }
}

/* ---- ejabberd ------------------------------------------------------------------------ */

static void yaml_item(FILE *f, const char *d, void *ud) {
  (void)ud;
  fprintf(f, "      - ");
  yaml_str(f, d);
  fprintf(f, "\n");
}

static void render_ejabberd(FILE *f, const edge_in *in) {
  const sx_config *cfg = in->cfg;
  header(f, "#", "ejabberd 23.01", in);
  fprintf(f, "# Install: /etc/ejabberd/sipxmpp.yml, and in ejabberd.yml:\n"
             "#   include_config_file: /etc/ejabberd/sipxmpp.yml\n"
             "# (its listen, acl, access_rules and modules are merged into ejabberd.yml's; the\n"
             "# other options replace the same options there). Then: ejabberdctl reload_config\n\n");

  fprintf(f, "# The gateway's XEP-0114 components ([edge] host and port).\n"
             "# Scaling out: several sipxmppd with this same config (and a PostgreSQL store)\n"
             "# connect here as the same component; ejabberd spreads stanzas over their\n"
             "# connections and stops using one the moment it closes. Keep ejabberd's default\n"
             "# routing: do not set domain_balancing for these domains. In an ejabberd cluster\n"
             "# (ejabberdctl join_cluster) put this file on every node; each node prefers the\n"
             "# instances connected to it and uses the others' when it has none.\n"
             "listen:\n  -\n"
             "    port: %u\n",
          cfg->edge_port);
  const char *ip = listen_ip(cfg);
  fprintf(f, "    ip: ");
  yaml_str(f, ip ? ip : "::");
  fprintf(f, "%s\n    module: ejabberd_service\n    hosts:\n",
          ip ? "" : "  # [edge] host is a name: every interface");
  for (size_t i = 0; i < cfg->n_domains; i++) {
    fprintf(f, "      ");
    yaml_str(f, cfg->domains[i]);
    fprintf(f, ":\n        password: ");
    yaml_str(f, cfg->edge_secret);
    fprintf(f, "\n");
  }
  if (cfg->edge_secret_file)
    fprintf(f, "    # password: the first line of %s ([edge] secret_file)\n", cfg->edge_secret_file);
  if (cfg->edge_tls) ejabberd_tls(f, in);

  fprintf(f, "\n# Federation with the partners (sipxmppctl partner list):\n");
  if (!in->np) fprintf(f, "#   none: no server-to-server traffic is allowed.\n");
  for (size_t i = 0; i < in->np; i++) partner_comment(f, "#", &in->p[i]);
  int any_cert = 0;
  for (size_t i = 0; i < in->np; i++) any_cert |= !in->p[i].dialback;
  fprintf(f, "acl:\n  sipxmpp_partners:\n    server:\n");
  if (!in->np) fprintf(f, "      - \"sipxmpp-no-partner.invalid\"\n");
  for (size_t i = 0; i < in->np; i++) each_domain(&in->p[i], yaml_item, f, NULL);
  if (any_cert) {
    fprintf(f, "  sipxmpp_no_dialback:\n    server:\n");
    for (size_t i = 0; i < in->np; i++)
      if (!in->p[i].dialback) each_domain(&in->p[i], yaml_item, f, NULL);
  }
  fprintf(f, "access_rules:\n  sipxmpp_s2s:\n    allow: sipxmpp_partners\n");
  fprintf(f, "  sipxmpp_dialback:\n");
  if (any_cert) fprintf(f, "    - deny: sipxmpp_no_dialback\n");
  fprintf(f, "    - allow: all\n");
  fprintf(f, "s2s_access: sipxmpp_s2s\n");

  fprintf(f, "\n# TLS and authentication (TlsNegotiation, SaslNegotiation): ejabberd has one\n"
             "# setting for every remote domain.\n");
  const char *tls;
  int all_sasl = in->np > 0;
  for (size_t i = 0; i < in->np; i++) all_sasl &= in->p[i].sasl == SX_NEGO_REQUIRED;
  if (all_tls(in, SX_NEGO_REQUIRED) && all_sasl)
    tls = "required_trusted # every partner: TLS and SASL Required (a valid certificate)";
  else if (all_tls(in, SX_NEGO_REQUIRED) || !in->np)
    tls = "required";
  else if (all_tls(in, SX_NEGO_NOT_SUPPORTED))
    tls = "false # every partner: TLS NotSupported";
  else
    tls = "optional # not every partner has TLS Required";
  fprintf(f, "s2s_use_starttls: %s\n", tls);
  if (!all_sasl && in->np)
    fprintf(f, "# SaslNegotiation per partner cannot be expressed: ejabberd uses a valid\n"
               "# certificate when there is one and dialback otherwise; partners with dialback\n"
               "# off are denied dialback below, so they must present a valid certificate.\n");
  fprintf(f, "modules:\n  mod_s2s_dialback:\n    access: sipxmpp_dialback\n");

  fprintf(f, "\n# [federation] settings (Set-CsXmppGatewayConfiguration):\n");
  fprintf(f, "negotiation_timeout: %u # StreamEstablishmentTimeout, seconds (also for clients)\n",
          cfg->fed_stream_establishment_timeout_s);
  fprintf(f, "s2s_timeout: %u # StreamInactivityTimeout: idle server-to-server streams close\n",
          cfg->fed_stream_inactivity_timeout_s);
  fprintf(f, "# Not expressible in ejabberd 23.01, enforce elsewhere if needed:\n"
             "#   ConnectionLimit %u: no limit on server-to-server connections (use the\n"
             "#     firewall, e.g. nftables ct count, on port 5269).\n"
             "#   PartnerConnectionLimit %u: max_s2s_connections is how many outgoing streams\n"
             "#     ejabberd opens per domain pair (default 1), not a limit; left at 1.\n"
             "#   KeepAliveInterval %u s and per-partner EnableKeepAlive: ejabberd sends no\n"
             "#     whitespace keepalives on server-to-server streams.\n"
             "#   DialbackPassphrase%s: ejabberd derives dialback keys from its own secret.\n"
             "#   ProxyFqdn: the partner's server is found through DNS SRV (_xmpp-server._tcp).\n",
          cfg->fed_connection_limit, cfg->fed_partner_connection_limit,
          cfg->fed_keepalive_interval_s, cfg->fed_dialback_passphrase ? " (set)" : "");
}

/* ---- the command --------------------------------------------------------------------- */

static int write_file(const char *path, const char *text, size_t len) {
  char *tmp;
  if (asprintf(&tmp, "%s.tmp", path) < 0) {
    ctl_error("out of memory");
    return CTL_STORE;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) {
    ctl_error("cannot write %s: %s", tmp, strerror(errno));
    free(tmp);
    return CTL_STORE;
  }
  fchmod(fd, 0640);
  size_t off = 0;
  while (off < len) {
    ssize_t n = write(fd, text + off, len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    off += (size_t)n;
  }
  int ok = off == len && fsync(fd) == 0;
  int e = errno;
  if (close(fd) != 0) ok = 0;
  if (!ok || rename(tmp, path) != 0) {
    if (ok) e = errno;
    ctl_error("cannot write %s: %s", path, strerror(e));
    unlink(tmp);
    free(tmp);
    return CTL_STORE;
  }
  free(tmp);
  return CTL_OK;
}

int ctl_edge_config(ctl_ctx *c, int argc, char **argv) {
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, edge_opts, &a, EDGE_USAGE, 1, 1,
                       "edge-config needs the server: prosody or ejabberd");
  if (rc) return rc;
  int prosody = !strcmp(a.pos[0], "prosody");
  if (!prosody && strcmp(a.pos[0], "ejabberd"))
    return ctl_usage_fail(EDGE_USAGE, "unknown edge server '%s' (prosody or ejabberd)", a.pos[0]);
  if ((rc = ctl_load_config(c)) || (rc = ctl_open(c))) return rc;

  char err[512];
  sx_partner_rec *p = NULL;
  size_t np = 0;
  if (sx_store_partner_list(c->st, &p, &np, err, sizeof err) != SX_ST_OK) {
    ctl_error("%s", err);
    return CTL_STORE;
  }
  edge_in in = {.cfg = &c->cfg, .p = p, .np = np,
                .tls_cert = a.val[ctl_opt(edge_opts, "tls-cert")],
                .tls_key = a.val[ctl_opt(edge_opts, "tls-key")],
                .generation = (long long)sx_store_generation(c->st)};
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) {
    sx_partner_list_free(p, np);
    ctl_error("out of memory");
    return CTL_STORE;
  }
  if (prosody)
    render_prosody(f, &in);
  else
    render_ejabberd(f, &in);
  int bad = ferror(f);
  if (fclose(f) != 0 || bad || !text) {
    free(text);
    sx_partner_list_free(p, np);
    ctl_error("out of memory");
    return CTL_STORE;
  }
  const char *out = a.val[ctl_opt(edge_opts, "output")];
  if (out) {
    rc = write_file(out, text, len);
    if (rc == CTL_OK)
      fprintf(stderr, "wrote %s: %zu component(s), %zu partner(s); it holds the component "
                      "secret (mode 0640)\n",
              out, c->cfg.n_domains, np);
  } else {
    fwrite(text, 1, len, stdout);
  }
  free(text);
  sx_partner_list_free(p, np);
  return rc;
}
