/* sipxmppctl doctor: checks an installation the way an admin would, one line per check,
 * ok / warn / fail with what to do. Exit 0 when no check fails, 1 otherwise (3 when the
 * config cannot be read at all: nothing else can be checked).
 *
 * Checks, in order: the config parses; the store opens and its schema is current; the secret
 * (secret_file, or the config holding an inline secret) is not world-readable; the edge
 * server answers on [edge] host:port and — when the daemon is not running — accepts the
 * component handshake for every served domain, or — when it is — the daemon's links are up
 * (from /status); with [edge] tls = on, the CA, client certificate and key load and match
 * and the edge's certificate verifies for server_name (xmpp/edge_tls.c, as the daemon does),
 * with its subject and expiry (warn under 30 days), and the handshake runs over TLS; the
 * registrar ([sip] outbound_proxy) answers OPTIONS; the gateway's SIP listeners answer OPTIONS; policy sanity (somebody may federate, a partner
 * exists); a DNS SRV record _xmpp-server._tcp for every served domain (warn when DNS cannot
 * be asked). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "conf/db.h"
#include "gateway/sipxmppctl.h"
#include "gateway/sipxmppctl_probe.h"
#include "xmpp/edge_tls.h"

#define PROBE_MS 2000
#define SAMPLE_SECRET "change-me-demo-secret" /* conf/sipxmppd.conf's */

static const char DOCTOR_USAGE[] =
    "usage: sipxmppctl [--config FILE] doctor [--json] [--dns ADDR[:PORT]]\n";
static const ctl_optdef doctor_opts[] = {{"dns", OPT_VALUE}, {NULL, 0}};

typedef enum { CK_OK, CK_WARN, CK_FAIL } result;
static const char *const result_names[] = {"ok", "warn", "fail"};

typedef struct {
  int json;
  cJSON *arr;
  int counts[3];
} report;

static void add(report *r, result res, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add(report *r, result res, const char *check, const char *fmt, ...) {
  char *msg = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  va_end(ap);
  r->counts[res]++;
  if (r->json) {
    cJSON *o = cJSON_CreateObject();
    if (o) {
      cJSON_AddStringToObject(o, "check", check);
      cJSON_AddStringToObject(o, "result", result_names[res]);
      cJSON_AddStringToObject(o, "detail", msg ? msg : "out of memory");
    }
    ctl_json_push(&r->arr, o);
  } else {
    printf("%-4s  %-10s %s\n", result_names[res], check, msg ? msg : "out of memory");
    fflush(stdout);
  }
  free(msg);
}

/* ---- store --------------------------------------------------------------------------- */

/* The schema version of an existing store file, read without changing it; -1 with why. */
static int schema_of(const char *path, char *why, size_t n) {
  sx_db *db = NULL;
  int v = -1;
  if (sxdb_open_readonly(path, &db, why, n)) return -1;
  sx_dbq *st = sxdb_prepare(db, "SELECT MAX(version) FROM schema_version");
  if (!st || sxdb_step(st) != SXDB_ROW)
    snprintf(why, n, "not a sipxmpp store (%s)", sxdb_errmsg(db));
  else
    v = (int)sxdb_int64(st, 0);
  sxdb_finalize(st);
  sxdb_close(db);
  return v;
}

/* The schema version of a PostgreSQL store, read without changing it; -1 with why. */
static int pg_schema_of(const char *uri, char *why, size_t n) {
  sx_db *db = NULL;
  if (sxdb_open(uri, &db, why, n)) return -1;
  int v = -1;
  sx_dbq *st = sxdb_prepare(db, "SELECT COUNT(*) FROM pg_tables WHERE schemaname ="
                                " current_schema() AND tablename = 'schema_version'");
  if (!st || sxdb_step(st) != SXDB_ROW) {
    snprintf(why, n, "%s", sxdb_errmsg(db));
  } else if (sxdb_int64(st, 0) == 0) {
    v = 0; /* an empty database: the store is created at the first start */
  } else {
    sxdb_finalize(st);
    st = sxdb_prepare(db, "SELECT MAX(version) FROM schema_version");
    if (!st || sxdb_step(st) != SXDB_ROW)
      snprintf(why, n, "not a sipxmpp store (%s)", sxdb_errmsg(db));
    else
      v = (int)sxdb_int64(st, 0);
  }
  sxdb_finalize(st);
  sxdb_close(db);
  return v;
}

/* A PostgreSQL store: reachable, schema current. */
static int check_pg_store(report *r, const char *uri) {
  char why[512];
  char *shown = sxdb_display(uri);
  const char *name = shown ? shown : "the PostgreSQL store";
  int v = pg_schema_of(uri, why, sizeof why), ok = 0;
  if (v < 0)
    add(r, CK_FAIL, "store", "%s: %s", name, why);
  else if (v > SX_STORE_SCHEMA_VERSION)
    add(r, CK_FAIL, "store",
        "%s has schema %d, newer than this sipxmpp understands (%d): install the newer sipxmpp",
        name, v, SX_STORE_SCHEMA_VERSION);
  else if (v == 0)
    add(r, CK_WARN, "store",
        "%s has no sipxmpp tables yet: sipxmppd creates them at start, or create them now "
        "with `sipxmppctl policy set global --xmpp`",
        name);
  else if (v < SX_STORE_SCHEMA_VERSION)
    add(r, CK_WARN, "store", "%s has schema %d; sipxmppd migrates it to %d at its next start",
        name, v, SX_STORE_SCHEMA_VERSION);
  else {
    add(r, CK_OK, "store", "%s opens, schema %d is current", name, v);
    ok = 1;
  }
  free(shown);
  return ok;
}

/* Returns 1 when the store can be opened for the policy checks. */
static int check_store(report *r, ctl_ctx *c) {
  const char *path = c->cfg.store;
  if (sxdb_is_pg(path)) return check_pg_store(r, path);
  char why[512];
  struct stat sb;
  if (stat(path, &sb) != 0) {
    add(r, CK_WARN, "store",
        "%s does not exist yet: sipxmppd creates it at start, or create it now with "
        "`sipxmppctl policy set global --xmpp` (as the service user)",
        path);
    return 0;
  }
  int v = schema_of(path, why, sizeof why);
  if (v < 0) {
    add(r, CK_FAIL, "store", "%s: %s; point [gateway] store at a sipxmpp store", path, why);
    return 0;
  }
  if (v > SX_STORE_SCHEMA_VERSION) {
    add(r, CK_FAIL, "store",
        "%s has schema %d, newer than this sipxmpp understands (%d): install the newer sipxmpp",
        path, v, SX_STORE_SCHEMA_VERSION);
    return 0;
  }
  if (v < SX_STORE_SCHEMA_VERSION) {
    add(r, CK_WARN, "store",
        "%s has schema %d; sipxmppd migrates it to %d at its next start", path, v,
        SX_STORE_SCHEMA_VERSION);
    return 0;
  }
  if (access(path, R_OK | W_OK) != 0) {
    add(r, CK_FAIL, "store", "%s is not writable by this user: %s", path, strerror(errno));
    return 0;
  }
  add(r, CK_OK, "store", "%s opens, schema %d is current", path, v);
  return 1;
}

/* ---- secret -------------------------------------------------------------------------- */

static void check_secret(report *r, const sx_config *cfg) {
  struct stat sb;
  const char *file = cfg->edge_secret_file ? cfg->edge_secret_file : cfg->path;
  if (stat(file, &sb) != 0) {
    add(r, CK_FAIL, "secret", "cannot stat %s: %s", file, strerror(errno));
    return;
  }
  if (sb.st_mode & S_IROTH) {
    add(r, CK_FAIL, "secret",
        "%s holds the edge secret and is world-readable (mode %03o): chmod o-rwx %s", file,
        (unsigned)(sb.st_mode & 0777), file);
    return;
  }
  if (!strcmp(cfg->edge_secret, SAMPLE_SECRET)) {
    add(r, CK_WARN, "secret",
        "the edge secret is still the sample's: set a long random one (openssl rand -hex 24) "
        "in %s and in the edge server (sipxmppctl edge-config)",
        file);
    return;
  }
  add(r, CK_OK, "secret", "%s (mode %03o) is not world-readable%s", file,
      (unsigned)(sb.st_mode & 0777), cfg->edge_secret_file ? "" : " ([edge] secret inline)");
}

/* ---- the daemon ----------------------------------------------------------------------- */

/* The daemon's /status document when it answers, else NULL. */
static cJSON *daemon_status(const sx_config *cfg) {
  if (!cfg->http_listen) return NULL;
  char *body = NULL, err[256];
  long http = 0;
  if (ctl_http_get(cfg->http_host, cfg->http_port, "/status", 1500, &body, &http, err,
                   sizeof err) != 0 ||
      http != 200) {
    free(body);
    return NULL;
  }
  cJSON *doc = cJSON_Parse(body);
  free(body);
  if (!cJSON_IsObject(doc)) {
    cJSON_Delete(doc);
    return NULL;
  }
  return doc;
}

static probe_tls_opts tls_opts(const sx_config *cfg) {
  probe_tls_opts o = {cfg->edge_ca_file, cfg->edge_server_name, cfg->edge_cert_file,
                      cfg->edge_key_file};
  return o;
}

/* What to do about a refused edge certificate, in plain words. */
static const char *verify_advice(long v, const char **what) {
  switch (v) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
    *what = "the edge's certificate has expired";
    return "renew the edge server's certificate";
  case X509_V_ERR_CERT_NOT_YET_VALID:
    *what = "the edge's certificate is not valid yet";
    return "check the clocks, or the certificate's dates";
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
    *what = "name mismatch";
    return "set [edge] server_name to a name in the edge's certificate, or issue the "
           "certificate for that name";
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
  case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    *what = "wrong CA: the certificate is not signed by a CA in [edge] ca_file";
    return "point [edge] ca_file at the CA that issued the edge's certificate";
  default:
    *what = NULL;
    return "see the reason above";
  }
}

static void fmt_date(long long t, char *buf, size_t n) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!t || !gmtime_r(&tt, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M UTC", &tm))
    snprintf(buf, n, "unknown");
}

/* [edge] tls = on: the files load and match, and the edge's certificate verifies as the
 * daemon verifies it. Returns 1 when the TLS link can be made. */
static int check_tls(report *r, const sx_config *cfg) {
  if (!cfg->edge_tls) {
    add(r, CK_OK, "tls", "the edge link does not use TLS ([edge] tls = off): keep it on "
                        "loopback or a trusted network");
    return 1;
  }
  char err[1024];
  sx_tls_ctx *ctx = sx_tls_ctx_new(cfg->edge_ca_file, cfg->edge_cert_file, cfg->edge_key_file,
                                   err, sizeof err);
  if (!ctx) {
    if (strstr(err, "key values mismatch") || strstr(err, "does not match"))
      add(r, CK_FAIL, "tls-files",
          "key_file %s does not match cert_file %s (%s): set key_file to the certificate's "
          "own key",
          cfg->edge_key_file, cfg->edge_cert_file, err);
    else
      add(r, CK_FAIL, "tls-files", "%s; fix [edge] ca_file, cert_file and key_file", err);
    return 0;
  }
  sx_tls_ctx_free(ctx);
  if (cfg->edge_cert_file)
    add(r, CK_OK, "tls-files", "%s loads; client certificate %s matches key %s",
        cfg->edge_ca_file ? cfg->edge_ca_file : "the system CA store", cfg->edge_cert_file,
        cfg->edge_key_file);
  else
    add(r, CK_OK, "tls-files", "%s loads; no client certificate (cert_file, key_file unset)",
        cfg->edge_ca_file ? cfg->edge_ca_file : "the system CA store");

  probe_tls_opts o = tls_opts(cfg);
  probe_tls_result res;
  const char *name = cfg->edge_server_name ? cfg->edge_server_name : cfg->edge_host;
  int rc = probe_tls(cfg->edge_host, cfg->edge_port, &o, PROBE_MS * 2, &res, err, sizeof err);
  char date[64];
  fmt_date(res.not_after, date, sizeof date);
  if (rc < 0) {
    add(r, CK_FAIL, "tls", "%s:%u: %s", cfg->edge_host, cfg->edge_port, err);
    return 0;
  }
  if (rc == 1) {
    const char *what = NULL;
    const char *todo = verify_advice(res.verify_error, &what);
    if (res.verify_error != X509_V_OK && res.have_cert)
      add(r, CK_FAIL, "tls",
          "%s:%u presents %s (issuer %s, expires %s), refused for server_name %s: %s; %s",
          cfg->edge_host, cfg->edge_port, res.subject, res.issuer, date, name,
          what ? what : X509_verify_cert_error_string(res.verify_error), todo);
    else
      add(r, CK_FAIL, "tls",
          "%s:%u: %s; is this the edge's TLS port (Prosody: ssl_ports of mod_net_multiplex, "
          "ejabberd: tls: true on the component listener)? does it accept the client "
          "certificate?",
          cfg->edge_host, cfg->edge_port, err);
    return 0;
  }
  long long left = res.not_after ? res.not_after - (long long)time(NULL) : 0;
  long long days = left / 86400;
  if (res.not_after && left < 30LL * 86400)
    add(r, CK_WARN, "tls",
        "%s verified for %s (issuer %s, %s), but it expires %s, in %lld day(s): renew it",
        res.subject, name, res.issuer, res.session, date, days);
  else
    add(r, CK_OK, "tls", "%s verified for %s (issuer %s, %s), expires %s (%lld days)",
        res.subject, name, res.issuer, res.session, date, days);
  return 1;
}

static void check_edge(report *r, const sx_config *cfg, const cJSON *status, int sip_running) {
  char why[512];
  int fd = probe_tcp(cfg->edge_host, cfg->edge_port, PROBE_MS, why, sizeof why);
  if (fd < 0) {
    add(r, CK_FAIL, "edge",
        "nothing answers on %s:%u ([edge] host and port): %s; start the XMPP server and "
        "configure the component (sipxmppctl edge-config prosody|ejabberd)",
        cfg->edge_host, cfg->edge_port, why);
    return;
  }
  close(fd);
  add(r, CK_OK, "edge", "the edge server answers on %s:%u", cfg->edge_host, cfg->edge_port);
  int tls_ok = check_tls(r, cfg);

  if (status) {
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(status, "edge")) {
      const char *dom = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "domain"));
      const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "state"));
      int up = state && !strcmp(state, "up");
      if (up)
        add(r, CK_OK, "component", "%s: the daemon's link is up", dom ? dom : "?");
      else
        add(r, CK_FAIL, "component",
            "%s: the daemon's link is down; see its log (journalctl -u sipxmppd) for the edge "
            "server's answer, and check the component's secret there",
            dom ? dom : "?");
    }
    return;
  }
  if (sip_running) {
    add(r, CK_WARN, "component",
        "sipxmppd is running but has no [http] listen, so its links cannot be asked (and a "
        "test handshake could displace them): set [http] listen to see them");
    return;
  }
  if (!tls_ok) {
    add(r, CK_FAIL, "component", "not tried: the TLS link to the edge cannot be made (above)");
    return;
  }
  probe_tls_opts o = tls_opts(cfg);
  for (size_t i = 0; i < cfg->n_domains; i++) {
    int rc = probe_component(cfg->edge_host, cfg->edge_port, cfg->domains[i], cfg->edge_secret,
                             cfg->edge_tls ? &o : NULL, PROBE_MS * 2, why, sizeof why);
    if (rc == 0)
      add(r, CK_OK, "component", "%s: the edge server accepts the handshake with the secret%s",
          cfg->domains[i], cfg->edge_tls ? " over TLS" : "");
    else if (rc == 1)
      add(r, CK_FAIL, "component",
          "%s: the edge server refuses the component (%s): %s", cfg->domains[i], why,
          !strcmp(why, "not-authorized")
              ? "the secret differs from the server's component secret"
              : !strcmp(why, "host-unknown") || !strcmp(why, "improper-addressing")
                    ? "the server has no component for this domain (sipxmppctl edge-config)"
                    : "see the server's log");
    else
      add(r, CK_FAIL, "component", "%s: %s", cfg->domains[i], why);
  }
}

/* Returns 1 when at least one gateway SIP listener answered. */
static int check_sip(report *r, const sx_config *cfg, int *any_listener) {
  char why[512];
  int status = 0, answered = 0;
  if (probe_sip_options(cfg->outbound_proxy, PROBE_MS, &status, why, sizeof why) == 0)
    add(r, CK_OK, "registrar", "%s answers OPTIONS (%d)", cfg->outbound_proxy, status);
  else
    add(r, CK_FAIL, "registrar", "%s ([sip] outbound_proxy): %s; start the registrar or fix the URI",
        cfg->outbound_proxy, why);
  for (size_t i = 0; i < cfg->n_listen; i++) {
    if (probe_sip_options(cfg->listen[i], PROBE_MS, &status, why, sizeof why) == 0) {
      add(r, CK_OK, "sip", "the gateway answers OPTIONS on %s (%d)", cfg->listen[i], status);
      answered++;
    } else {
      add(r, CK_FAIL, "sip", "%s ([sip] listen): %s; is sipxmppd running? (systemctl status "
                            "sipxmppd)",
          cfg->listen[i], why);
    }
  }
  *any_listener = answered > 0;
  return answered;
}

static void check_policy(report *r, ctl_ctx *c, int store_ok) {
  if (!store_ok) {
    add(r, CK_WARN, "policy", "nobody can federate: no store yet (sipxmppctl policy set global --xmpp)");
    add(r, CK_WARN, "partners", "no partner: every external domain is refused (sipxmppctl partner new DOMAIN)");
    return;
  }
  if (ctl_open(c) != CTL_OK) {
    add(r, CK_FAIL, "policy", "the store cannot be opened");
    return;
  }
  char err[512];
  sx_policy_rec *p = NULL;
  size_t np = 0;
  if (sx_store_policy_list(c->st, &p, &np, err, sizeof err) != SX_ST_OK) {
    add(r, CK_FAIL, "policy", "%s", err);
    return;
  }
  const char *who = NULL;
  char buf[300];
  for (size_t i = 0; i < np && !who; i++) {
    if (!(p[i].flags & SX_POL_XMPP)) continue;
    if (p[i].scope == SX_SCOPE_GLOBAL) {
      who = "everyone without a site or per-user policy (global)";
    } else if (p[i].users > 0) {
      snprintf(buf, sizeof buf, "%ld user(s) through policy '%s'", p[i].users, p[i].name);
      who = buf;
    }
  }
  if (who)
    add(r, CK_OK, "policy", "XMPP is enabled for %s", who);
  else
    add(r, CK_WARN, "policy",
        "nobody can federate: no policy enables XMPP for anyone (sipxmppctl policy set "
        "global --xmpp, or grant a policy with --xmpp to users)");
  sx_policy_list_free(p, np);

  sx_partner_rec *pt = NULL;
  size_t npt = 0;
  if (sx_store_partner_list(c->st, &pt, &npt, err, sizeof err) != SX_ST_OK) {
    add(r, CK_FAIL, "partners", "%s", err);
    return;
  }
  if (npt)
    add(r, CK_OK, "partners", "%zu partner(s), first %s", npt, pt[0].domain);
  else
    add(r, CK_WARN, "partners",
        "no partner: every external domain is refused (sipxmppctl partner new DOMAIN)");
  sx_partner_list_free(pt, npt);
}

static void check_dns(report *r, const sx_config *cfg, const char *server) {
  for (size_t i = 0; i < cfg->n_domains; i++) {
    char out[1024];
    int rc = probe_srv(cfg->domains[i], server, out, sizeof out);
    if (rc == 0)
      add(r, CK_OK, "dns", "_xmpp-server._tcp.%s -> %s", cfg->domains[i], out);
    else if (rc == 1)
      add(r, CK_FAIL, "dns",
          "%s: partners cannot find the edge server; publish _xmpp-server._tcp.%s SRV 0 5 "
          "5269 <edge server's public name>",
          out, cfg->domains[i]);
    else if (rc == 2)
      add(r, CK_WARN, "dns",
          "%s: partners on the Internet cannot find the edge server (fine for a private or "
          "test domain); publish _xmpp-server._tcp.%s SRV 0 5 5269 <edge server's name>",
          out, cfg->domains[i]);
    else
      add(r, CK_WARN, "dns", "%s: cannot check the SRV record from here", out);
  }
}

int ctl_doctor(ctl_ctx *c, int argc, char **argv) {
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, doctor_opts, &a, DOCTOR_USAGE, 0, 0,
                       "doctor takes no arguments");
  if (rc) return rc;
  report r = {.json = c->json, .arr = c->json ? cJSON_CreateArray() : NULL};
  char err[1024];
  if (sx_config_load(c->config_path, &c->cfg, err, sizeof err) != 0) {
    add(&r, CK_FAIL, "config", "%s", err);
  } else {
    c->have_cfg = 1;
    add(&r, CK_OK, "config", "%s parses", c->config_path);
    int store_ok = check_store(&r, c);
    check_secret(&r, &c->cfg);
    cJSON *status = daemon_status(&c->cfg);
    int any_listener = 0;
    /* SIP first: whether the daemon runs decides how the component is checked. */
    report sip_r = {.json = 1, .arr = cJSON_CreateArray()};
    int sip_running = check_sip(&sip_r, &c->cfg, &any_listener) > 0;
    check_edge(&r, &c->cfg, status, sip_running || status != NULL);
    const cJSON *item;
    cJSON_ArrayForEach(item, sip_r.arr) {
      const char *res = cJSON_GetStringValue(cJSON_GetObjectItem(item, "result"));
      result rr = !strcmp(res, "ok") ? CK_OK : !strcmp(res, "warn") ? CK_WARN : CK_FAIL;
      add(&r, rr, cJSON_GetStringValue(cJSON_GetObjectItem(item, "check")), "%s",
          cJSON_GetStringValue(cJSON_GetObjectItem(item, "detail")));
    }
    cJSON_Delete(sip_r.arr);
    cJSON_Delete(status);
    check_policy(&r, c, store_ok);
    check_dns(&r, &c->cfg, a.val[ctl_opt(doctor_opts, "dns")]);
  }
  int failed = r.counts[CK_FAIL];
  if (r.json) {
    cJSON *o = cJSON_CreateObject();
    if (o && r.arr) {
      cJSON_AddItemToObject(o, "checks", r.arr);
      cJSON_AddNumberToObject(o, "ok", r.counts[CK_OK]);
      cJSON_AddNumberToObject(o, "warn", r.counts[CK_WARN]);
      cJSON_AddNumberToObject(o, "fail", r.counts[CK_FAIL]);
    } else {
      cJSON_Delete(r.arr);
    }
    if (ctl_json_out(o) != CTL_OK) return CTL_STORE;
  } else {
    printf("%d ok, %d warn, %d fail\n", r.counts[CK_OK], r.counts[CK_WARN], r.counts[CK_FAIL]);
  }
  if (!c->have_cfg) return CTL_STORE;
  return failed ? CTL_REFUSED : CTL_OK;
}
