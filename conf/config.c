/* The gateway's INI configuration (SPEC §8): parsing with inih, validation of every value,
 * and the lookups the daemon makes against it (served domains, trusted peers).
 *
 * inih is driven through ini_parse_stream() with a reader of our own. The reader
 *  - counts lines, so every error names the line of the offending key;
 *  - strips leading blanks, so an indented line is an ordinary line (inih would otherwise
 *    take it as a continuation of the previous value);
 *  - checks [section] headers as they pass (unknown sections are errors even when empty);
 *  - refuses lines longer than inih's line buffer instead of letting them be split. */
#include "conf/config_internal.h"
#include "conf/netaddr.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define DEFAULT_STORE "/var/lib/sipxmpp/sipxmpp.db"
#define DEFAULT_LISTEN "sip:127.0.0.1:5070;transport=udp, sip:127.0.0.1:5070;transport=tcp"
#define DEFAULT_TRUSTED "127.0.0.1/32, ::1/128"
#define DEFAULT_AUDIT_LOG "/var/lib/sipxmpp/audit.log"

/* ---- inih callbacks ----------------------------------------------------------------- */

static int is_blank(int c) { return c == ' ' || c == '\t'; }

static int find_section(const char *name) {
  for (int i = 0; i < SEC_COUNT; i++)
    if (!strcasecmp(name, sxc_section_names[i])) return i;
  return -1;
}

static int handler(void *user, const char *section, const char *name, const char *value) {
  parse_state *st = user;
  int line = st->lineno;
  if (st->failed) return 0;
  if (!name || !value) return 1;
  if (!*section) {
    sxc_fail(st, line, name, "key outside any section; put it under [gateway], [sip], [edge], "
                         "[http], [federation], [admin] or [presence]");
    return 0;
  }
  int sec = find_section(section);
  if (sec < 0) { /* the reader reports these first; kept as a guard */
    sxc_fail(st, line, section, "unknown section");
    return 0;
  }
  if (!*name) {
    sxc_fail(st, line, sxc_section_names[sec], "a key name is missing before '='");
    return 0;
  }
  key_id k = K_COUNT;
  for (int i = 0; i < K_COUNT; i++) {
    if (sxc_keys[i].section == sec && !strcasecmp(sxc_keys[i].name, name)) {
      k = (key_id)i;
      break;
    }
  }
  if (k == K_COUNT) {
    char label[160];
    snprintf(label, sizeof label, "%s.%s", sxc_section_names[sec], name);
    sxc_fail(st, line, label, "unknown key");
    return 0;
  }
  if (st->key_line[k]) {
    sxc_fail(st, line, sxc_keys[k].label, "duplicate key (first set on line %d)", st->key_line[k]);
    return 0;
  }
  sxc_apply_key(st, k, value, line);
  st->key_line[k] = line;
  return st->failed ? 0 : 1;
}

static char *reader(char *buf, int num, void *stream) {
  parse_state *st = stream;
  if (st->failed) return NULL;
  errno = 0;
  ssize_t n = getline(&st->line, &st->line_cap, st->f);
  if (n < 0) {
    if (errno && !feof(st->f)) {
      int e = errno;
      sxc_fail(st, 0, NULL, "cannot read: %s", strerror(e));
    }
    return NULL;
  }
  st->lineno++;
  if (strlen(st->line) != (size_t)n) {
    sxc_fail(st, st->lineno, "(line)", "contains a NUL byte");
    return NULL;
  }
  char *p = st->line;
  /* Leading blanks go: inih would read an indented line as a continuation value. The UTF-8
   * byte order mark is left for inih to skip. */
  while (is_blank((unsigned char)*p)) p++;
  size_t len = (size_t)n - (size_t)(p - st->line);
  size_t content = len;
  while (content && (p[content - 1] == '\n' || p[content - 1] == '\r')) content--;
  if (num < 3 || content > (size_t)num - 3 || len + 1 > (size_t)num) {
    sxc_fail(st, st->lineno, "(line)", "longer than %d bytes", num < 3 ? 0 : num - 3);
    return NULL;
  }
  if (*p == '[') {
    /* The section name as inih takes it: up to the first ']'. */
    char *close = strchr(p, ']');
    if (close) {
      char name[64];
      size_t nl = (size_t)(close - p - 1);
      int known = 0;
      if (nl < sizeof name) {
        memcpy(name, p + 1, nl);
        name[nl] = 0;
        known = find_section(name) >= 0;
      }
      if (!known) {
        char shown[80];
        snprintf(shown, sizeof shown, "[%.*s]", (int)(nl < 64 ? nl : 64), p + 1);
        sxc_fail(st, st->lineno, shown,
             "unknown section (known: gateway, sip, edge, http, federation, admin, presence)");
        return NULL;
      }
    }
  }
  memcpy(buf, p, len + 1);
  return buf;
}

/* ---- load / free -------------------------------------------------------------------- */

static int set_defaults(sx_config *cfg) {
  const char *why;
  char *bad;
  if (!cfg->store && sxc_set_str(&cfg->store, DEFAULT_STORE)) return -1;
  if (!cfg->message_type && sxc_set_str(&cfg->message_type, "chat")) return -1;
  if (!cfg->service_user && sxc_set_str(&cfg->service_user, "gateway")) return -1;
  if (!cfg->edge_host && sxc_set_str(&cfg->edge_host, "127.0.0.1")) return -1;
  if (!cfg->fed_audit_log && sxc_set_str(&cfg->fed_audit_log, DEFAULT_AUDIT_LOG)) return -1;
  if (!cfg->listen && sxc_set_listen(cfg, DEFAULT_LISTEN, &why, &bad)) {
    free(bad);
    return -1;
  }
  if (!cfg->trusted && sxc_set_trusted(cfg, DEFAULT_TRUSTED, &why, &bad)) {
    free(bad);
    return -1;
  }
  return 0;
}

int sx_config_load(const char *path, sx_config *cfg, char *err, size_t errlen) {
  parse_state st;
  memset(&st, 0, sizeof st);
  memset(cfg, 0, sizeof *cfg);
  if (err && errlen) err[0] = 0;
  st.cfg = cfg;
  st.path = path;
  st.err = err;
  st.errlen = errlen;

  cfg->log_level = 2;
  cfg->max_message_bytes = 65536;
  cfg->max_in_flight = 256;
  cfg->max_queued = 4096;
  cfg->incomplete_timeout_s = 32;
  cfg->chat_state_backoff_s = 3600;
  cfg->edge_port = 23456;
  cfg->backoff_min_ms = 500;
  cfg->backoff_max_ms = 30000;
  cfg->keepalive_s = 30;
  cfg->dead_after_s = 90;
  cfg->fed_connection_limit = 1000;
  cfg->fed_partner_connection_limit = 20;
  cfg->fed_keepalive_interval_s = 300;
  cfg->fed_stream_establishment_timeout_s = 60;
  cfg->fed_stream_inactivity_timeout_s = 600;
  cfg->fed_subscription_refresh_s = 28800;
  cfg->admin_idle_s = 900;
  cfg->max_stanza_bytes = 512 * 1024;
  cfg->pres_min_expires = 60;
  cfg->pres_max_expires = 3600;
  cfg->pres_fanout_expires = 3600;
  cfg->pres_max_notify = 256;
  cfg->pres_tcp = 1;

  st.f = fopen(path, "r");
  struct stat sb;
  if (st.f && fstat(fileno(st.f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
    fclose(st.f);
    st.f = NULL;
    errno = EISDIR;
  }
  if (!st.f) {
    if (err && errlen) snprintf(err, errlen, "%s:0: cannot open: %s", path, strerror(errno));
    return -1;
  }
  int rc = ini_parse_stream(reader, &st, handler, &st);
  fclose(st.f);
  free(st.line);

  if (rc > 0 && (!st.failed || (st.failed > 0 && rc < st.failed))) {
    st.failed = 0;
    sxc_fail(&st, rc, "(syntax)", "expected '[section]' or 'key = value'");
  } else if (rc < 0 && !st.failed) {
    sxc_fail(&st, 0, NULL, "cannot parse: out of memory");
  }

  if (!st.failed) {
    if (!st.key_line[K_DOMAINS]) sxc_fail(&st, 0, sxc_keys[K_DOMAINS].label, "required key is missing");
    if (!st.key_line[K_OUTBOUND_PROXY])
      sxc_fail(&st, 0, sxc_keys[K_OUTBOUND_PROXY].label, "required key is missing");
    if (!st.key_line[K_SECRET] && !st.key_line[K_SECRET_FILE])
      sxc_fail(&st, 0, sxc_keys[K_SECRET].label,
           "required key is missing (set edge.secret or edge.secret_file)");
  }
  if (!st.failed && cfg->backoff_max_ms < cfg->backoff_min_ms) {
    key_id k = st.key_line[K_BACKOFF_MAX] ? K_BACKOFF_MAX : K_BACKOFF_MIN;
    sxc_fail(&st, st.key_line[k], sxc_keys[k].label,
         "edge.backoff_max_ms (%u) must be at least edge.backoff_min_ms (%u)",
         cfg->backoff_max_ms, cfg->backoff_min_ms);
  }
  if (!st.failed && cfg->pres_max_expires < cfg->pres_min_expires) {
    key_id k = st.key_line[K_PRES_MAX_EXPIRES] ? K_PRES_MAX_EXPIRES : K_PRES_MIN_EXPIRES;
    sxc_fail(&st, st.key_line[k], sxc_keys[k].label,
         "presence.max_expires (%u) must be at least presence.min_expires (%u)",
         cfg->pres_max_expires, cfg->pres_min_expires);
  }
  if (!st.failed && cfg->dead_after_s <= cfg->keepalive_s) {
    key_id k = st.key_line[K_DEAD_AFTER] ? K_DEAD_AFTER : K_KEEPALIVE;
    sxc_fail(&st, st.key_line[k], sxc_keys[k].label,
         "edge.dead_after_s (%u) must be greater than edge.keepalive_s (%u)",
         cfg->dead_after_s, cfg->keepalive_s);
  }
  if (!st.failed && !cfg->admin_cert_file != !cfg->admin_key_file) {
    key_id k = cfg->admin_cert_file ? K_ADMIN_CERT : K_ADMIN_KEY;
    sxc_fail(&st, st.key_line[k], sxc_keys[k].label,
         "admin.cert_file and admin.key_file must be set together (HTTPS needs both)");
  }
  if (!st.failed && !cfg->edge_tls) {
    static const key_id tls_only[] = {K_EDGE_CA_FILE, K_EDGE_SERVER_NAME, K_EDGE_CERT_FILE,
                                      K_EDGE_KEY_FILE};
    for (size_t i = 0; i < sizeof tls_only / sizeof tls_only[0] && !st.failed; i++)
      if (st.key_line[tls_only[i]])
        sxc_fail(&st, st.key_line[tls_only[i]], sxc_keys[tls_only[i]].label,
             "takes effect only with edge.tls = on (the link would be plaintext)");
  }
  if (!st.failed && !st.key_line[K_EDGE_CERT_FILE] != !st.key_line[K_EDGE_KEY_FILE]) {
    key_id k = st.key_line[K_EDGE_CERT_FILE] ? K_EDGE_CERT_FILE : K_EDGE_KEY_FILE;
    sxc_fail(&st, st.key_line[k], sxc_keys[k].label,
         "edge.cert_file and edge.key_file go together (a client certificate needs both)");
  }
  if (!st.failed && (set_defaults(cfg) || !(cfg->path = strdup(path))))
    sxc_fail(&st, 0, NULL, "out of memory");

  if (st.failed) {
    sx_config_free(cfg);
    return -1;
  }
  return 0;
}

void sx_config_free(sx_config *cfg) {
  if (!cfg) return;
  free(cfg->path);
  sxc_free_list(cfg->domains, cfg->n_domains);
  free(cfg->store);
  free(cfg->instance_id);
  free(cfg->message_type);
  sxc_free_list(cfg->listen, cfg->n_listen);
  free(cfg->outbound_proxy);
  free(cfg->trusted);
  free(cfg->service_user);
  free(cfg->edge_host);
  free(cfg->edge_ca_file);
  free(cfg->edge_server_name);
  free(cfg->edge_cert_file);
  free(cfg->edge_key_file);
  if (cfg->edge_secret) {
    /* explicit_bzero is not optimised away, unlike a plain memset before free. */
    explicit_bzero(cfg->edge_secret, strlen(cfg->edge_secret));
    free(cfg->edge_secret);
  }
  free(cfg->edge_secret_file);
  if (cfg->fed_dialback_passphrase) {
    explicit_bzero(cfg->fed_dialback_passphrase, strlen(cfg->fed_dialback_passphrase));
    free(cfg->fed_dialback_passphrase);
  }
  free(cfg->fed_audit_log);
  free(cfg->http_listen);
  free(cfg->pres_watcher_uri);
  free(cfg->http_host);
  free(cfg->admin_listen);
  free(cfg->admin_host);
  free(cfg->admin_cert_file);
  free(cfg->admin_key_file);
  memset(cfg, 0, sizeof *cfg);
}

/* ---- lookups ------------------------------------------------------------------------ */

int sx_config_trusted(const sx_config *cfg, int family, const void *addr) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  const uint8_t *a = addr;
  if (!cfg || !addr) return 0;
  if (family == AF_INET6 && !memcmp(a, mapped, 12)) {
    family = AF_INET;
    a += 12;
  }
  if (family != AF_INET && family != AF_INET6) return 0;
  for (size_t i = 0; i < cfg->n_trusted; i++) {
    const sx_cidr *c = &cfg->trusted[i];
    if (c->family == family && sx_prefix_match(a, c->addr, c->prefix)) return 1;
  }
  return 0;
}

int sx_config_serves(const sx_config *cfg, const char *domain) {
  if (!cfg || !domain) return 0;
  size_t n = strlen(domain);
  if (n && domain[n - 1] == '.') n--;
  if (!n) return 0;
  for (size_t i = 0; i < cfg->n_domains; i++) {
    if (strlen(cfg->domains[i]) == n && !strncasecmp(cfg->domains[i], domain, n)) return 1;
  }
  return 0;
}

