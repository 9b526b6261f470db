/* Every key of the configuration file: its section and name, how its value is checked, and
 * where it is stored in sx_config (see conf/config_internal.h). */
#include "conf/config_internal.h"
#include "conf/netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>

const char *const sxc_section_names[SEC_COUNT] = {"gateway",    "sip",   "edge",    "http",
                                                  "federation", "admin", "presence"};

const sxc_key sxc_keys[K_COUNT] = {
    [K_DOMAINS] = {SEC_GATEWAY, "domains", "gateway.domains"},
    [K_STORE] = {SEC_GATEWAY, "store", "gateway.store"},
    [K_INSTANCE_ID] = {SEC_GATEWAY, "instance_id", "gateway.instance_id"},
    [K_LOG_LEVEL] = {SEC_GATEWAY, "log_level", "gateway.log_level"},
    [K_MESSAGE_TYPE] = {SEC_GATEWAY, "message_type", "gateway.message_type"},
    [K_LOG_FORMAT] = {SEC_GATEWAY, "log_format", "gateway.log_format"},
    [K_SIP_LISTEN] = {SEC_SIP, "listen", "sip.listen"},
    [K_OUTBOUND_PROXY] = {SEC_SIP, "outbound_proxy", "sip.outbound_proxy"},
    [K_TRUSTED_PEERS] = {SEC_SIP, "trusted_peers", "sip.trusted_peers"},
    [K_MAX_MESSAGE_BYTES] = {SEC_SIP, "max_message_bytes", "sip.max_message_bytes"},
    [K_MAX_IN_FLIGHT] = {SEC_SIP, "max_in_flight", "sip.max_in_flight"},
    [K_MAX_QUEUED] = {SEC_SIP, "max_queued", "sip.max_queued"},
    [K_INCOMPLETE_TIMEOUT] = {SEC_SIP, "incomplete_timeout_s", "sip.incomplete_timeout_s"},
    [K_CHAT_STATE_BACKOFF] = {SEC_SIP, "chat_state_backoff_s", "sip.chat_state_backoff_s"},
    [K_SERVICE_USER] = {SEC_SIP, "service_user", "sip.service_user"},
    [K_EDGE_HOST] = {SEC_EDGE, "host", "edge.host"},
    [K_EDGE_PORT] = {SEC_EDGE, "port", "edge.port"},
    [K_SECRET] = {SEC_EDGE, "secret", "edge.secret"},
    [K_SECRET_FILE] = {SEC_EDGE, "secret_file", "edge.secret_file"},
    [K_BACKOFF_MIN] = {SEC_EDGE, "backoff_min_ms", "edge.backoff_min_ms"},
    [K_BACKOFF_MAX] = {SEC_EDGE, "backoff_max_ms", "edge.backoff_max_ms"},
    [K_KEEPALIVE] = {SEC_EDGE, "keepalive_s", "edge.keepalive_s"},
    [K_DEAD_AFTER] = {SEC_EDGE, "dead_after_s", "edge.dead_after_s"},
    [K_EDGE_TLS] = {SEC_EDGE, "tls", "edge.tls"},
    [K_EDGE_CA_FILE] = {SEC_EDGE, "ca_file", "edge.ca_file"},
    [K_EDGE_SERVER_NAME] = {SEC_EDGE, "server_name", "edge.server_name"},
    [K_EDGE_CERT_FILE] = {SEC_EDGE, "cert_file", "edge.cert_file"},
    [K_EDGE_KEY_FILE] = {SEC_EDGE, "key_file", "edge.key_file"},
    [K_EDGE_MAX_STANZA] = {SEC_EDGE, "max_stanza_bytes", "edge.max_stanza_bytes"},
    [K_HTTP_LISTEN] = {SEC_HTTP, "listen", "http.listen"},
    [K_FED_CONNECTION_LIMIT] = {SEC_FEDERATION, "connection_limit", "federation.connection_limit"},
    [K_FED_PARTNER_CONNECTION_LIMIT] = {SEC_FEDERATION, "partner_connection_limit",
                                        "federation.partner_connection_limit"},
    [K_FED_KEEPALIVE] = {SEC_FEDERATION, "keepalive_interval_s", "federation.keepalive_interval_s"},
    [K_FED_ESTABLISH] = {SEC_FEDERATION, "stream_establishment_timeout_s",
                         "federation.stream_establishment_timeout_s"},
    [K_FED_INACTIVITY] = {SEC_FEDERATION, "stream_inactivity_timeout_s",
                          "federation.stream_inactivity_timeout_s"},
    [K_FED_DIALBACK] = {SEC_FEDERATION, "dialback_passphrase", "federation.dialback_passphrase"},
    [K_FED_SUB_REFRESH] = {SEC_FEDERATION, "subscription_refresh_s",
                           "federation.subscription_refresh_s"},
    [K_FED_LOG_BODIES] = {SEC_FEDERATION, "log_message_bodies", "federation.log_message_bodies"},
    [K_FED_AUDIT_LOG] = {SEC_FEDERATION, "audit_log", "federation.audit_log"},
    [K_ADMIN_LISTEN] = {SEC_ADMIN, "listen", "admin.listen"},
    [K_ADMIN_CERT] = {SEC_ADMIN, "cert_file", "admin.cert_file"},
    [K_ADMIN_KEY] = {SEC_ADMIN, "key_file", "admin.key_file"},
    [K_ADMIN_IDLE] = {SEC_ADMIN, "session_idle_s", "admin.session_idle_s"},
    [K_PRES_MIN_EXPIRES] = {SEC_PRESENCE, "min_expires", "presence.min_expires"},
    [K_PRES_MAX_EXPIRES] = {SEC_PRESENCE, "max_expires", "presence.max_expires"},
    [K_PRES_WATCHER_URI] = {SEC_PRESENCE, "watcher_uri", "presence.watcher_uri"},
    [K_PRES_FANOUT_EXPIRES] = {SEC_PRESENCE, "fanout_expires", "presence.fanout_expires"},
    [K_PRES_MAX_NOTIFY] = {SEC_PRESENCE, "max_notify_in_flight",
                           "presence.max_notify_in_flight"},
    [K_PRES_TRANSPORT] = {SEC_PRESENCE, "transport", "presence.transport"},
};

void sxc_fail(parse_state *st, int line, const char *key, const char *fmt, ...) {
  if (st->failed) return; /* the first error is the one reported */
  st->failed = line > 0 ? line : -1;
  if (!st->err || !st->errlen) return;
  int n = key ? snprintf(st->err, st->errlen, "%s:%d: %s: ", st->path, line, key)
              : snprintf(st->err, st->errlen, "%s:%d: ", st->path, line);
  if (n < 0 || (size_t)n >= st->errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st->err + n, st->errlen - (size_t)n, fmt, ap);
  va_end(ap);
}

/* ---- small helpers ----------------------------------------------------------------- */

void sxc_free_list(char **v, size_t n) {
  if (!v) return;
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

static int is_blank(int c) { return c == ' ' || c == '\t'; }

/* Splits a comma-separated list into trimmed, non-empty items (malloc'd). Returns 0, or -1
 * with *why set ("empty item" or allocation failure). */
static int split_list(const char *value, char ***out, size_t *n_out, const char **why) {
  char **v = NULL;
  size_t n = 0;
  const char *p = value;
  *why = NULL;
  if (!*value) {
    *why = "must not be empty";
    return -1;
  }
  for (;;) {
    const char *end = strchr(p, ',');
    if (!end) end = p + strlen(p);
    const char *a = p, *b = end;
    while (a < b && is_blank((unsigned char)*a)) a++;
    while (b > a && is_blank((unsigned char)b[-1])) b--;
    if (a == b) {
      *why = "the list has an empty item";
      goto fail;
    }
    char **nv = realloc(v, (n + 1) * sizeof *v);
    if (!nv) goto oom;
    v = nv;
    v[n] = strndup(a, (size_t)(b - a));
    if (!v[n]) goto oom;
    n++;
    if (!*end) break;
    p = end + 1;
  }
  *out = v;
  *n_out = n;
  return 0;
oom:
  *why = "out of memory";
fail:
  sxc_free_list(v, n);
  return -1;
}

int sxc_set_trusted(sx_config *cfg, const char *value, const char **why, char **bad) {
  char **items;
  size_t n;
  *bad = NULL;
  if (split_list(value, &items, &n, why)) return -1;
  sx_cidr *v = calloc(n, sizeof *v);
  if (!v) {
    sxc_free_list(items, n);
    *why = "out of memory";
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    if (sx_parse_cidr(items[i], &v[i])) {
      *why = "is not an IPv4/IPv6 address or CIDR block";
      *bad = items[i];
      items[i] = NULL;
      free(v);
      sxc_free_list(items, n);
      return -1;
    }
  }
  sxc_free_list(items, n);
  free(cfg->trusted);
  cfg->trusted = v;
  cfg->n_trusted = n;
  return 0;
}

int sxc_set_listen(sx_config *cfg, const char *value, const char **why, char **bad) {
  char **items;
  size_t n;
  *bad = NULL;
  if (split_list(value, &items, &n, why)) return -1;
  for (size_t i = 0; i < n; i++) {
    const char *w = sx_check_sip_uri(items[i], 1);
    if (w) {
      *why = w;
      *bad = items[i];
      items[i] = NULL;
      sxc_free_list(items, n);
      return -1;
    }
  }
  sxc_free_list(cfg->listen, cfg->n_listen);
  cfg->listen = items;
  cfg->n_listen = n;
  return 0;
}

int sxc_set_str(char **dst, const char *value) {
  char *s = strdup(value);
  if (!s) return -1;
  free(*dst);
  *dst = s;
  return 0;
}

/* Frees a secret after overwriting it (explicit_bzero: not optimised away). */
static void clear_secret(char *s) {
  if (!s) return;
  explicit_bzero(s, strlen(s));
  free(s);
}

/* First line of a file, trailing newline (and CR) removed. Returns a malloc'd string, or
 * NULL with errno set (0 when the line is empty). */
static char *read_first_line(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, f);
  int e = errno;
  int eof = feof(f);
  fclose(f);
  if (n < 0) {
    free(line);
    errno = eof ? 0 : e;
    return NULL;
  }
  if (n > 0 && line[n - 1] == '\n') line[--n] = 0;
  if (n > 0 && line[n - 1] == '\r') line[--n] = 0;
  if (n == 0 || strlen(line) != (size_t)n) {
    free(line);
    errno = 0;
    return NULL;
  }
  return line;
}

/* ---- one key ------------------------------------------------------------------------ */

#define OOM(st, line, label) sxc_fail((st), (line), (label), "out of memory")

static int set_uint_key(parse_state *st, int line, const char *label, const char *value,
                        unsigned long long min, unsigned long long max,
                        unsigned long long *out) {
  if (sx_parse_uint(value, min, max, out)) {
    sxc_fail(st, line, label, "must be an integer %llu..%llu, got '%s'", min, max, value);
    return -1;
  }
  return 0;
}

/* A HOST:PORT listener key: sets *listen (the text), *host and *port, replacing what they
 * held. */
static void set_listen_key(parse_state *st, int line, const char *label, const char *value,
                           char **listen, char **host, unsigned *port) {
  const char *h;
  size_t hl;
  unsigned p;
  const char *why = sx_parse_hostport(value, strlen(value), 1, 0, &h, &hl, &p);
  if (why) {
    sxc_fail(st, line, label, "must be HOST:PORT or [IPV6]:PORT (%s), got '%s'", why, value);
    return;
  }
  char *nh = strndup(h, hl);
  char *nl = strdup(value);
  if (!nh || !nl) {
    free(nh);
    free(nl);
    OOM(st, line, label);
    return;
  }
  free(*host);
  free(*listen);
  *host = nh;
  *listen = nl;
  *port = p;
}

/* [admin]: the web console's listener, its TLS files and the session idle timeout. */
static void apply_admin_key(parse_state *st, key_id k, const char *value, int line) {
  sx_config *cfg = st->cfg;
  const char *label = sxc_keys[k].label;
  unsigned long long u;
  if (k == K_ADMIN_IDLE) {
    if (!set_uint_key(st, line, label, value, 60, 86400, &u)) cfg->admin_idle_s = (unsigned)u;
    return;
  }
  if (k == K_ADMIN_CERT || k == K_ADMIN_KEY) {
    if (!*value) {
      sxc_fail(st, line, label, "must not be empty");
      return;
    }
    FILE *f = fopen(value, "r");
    if (!f) {
      sxc_fail(st, line, label, "cannot read '%s': %s", value, strerror(errno));
      return;
    }
    fclose(f);
    if (sxc_set_str(k == K_ADMIN_CERT ? &cfg->admin_cert_file : &cfg->admin_key_file, value))
      OOM(st, line, label);
    return;
  }
  set_listen_key(st, line, label, value, &cfg->admin_listen, &cfg->admin_host,
                 &cfg->admin_port);
}

void sxc_apply_key(parse_state *st, key_id k, const char *value, int line) {
  sx_config *cfg = st->cfg;
  const char *label = sxc_keys[k].label;
  const char *why = NULL;
  char *bad = NULL;
  unsigned long long u;

  switch (k) {
  case K_DOMAINS: {
    char **items;
    size_t n;
    if (split_list(value, &items, &n, &why)) {
      sxc_fail(st, line, label, "%s", why);
      return;
    }
    for (size_t i = 0; i < n; i++) {
      size_t len = strlen(items[i]);
      if (!sx_valid_dns_name(items[i], len)) {
        sxc_fail(st, line, label, "'%s' is not a valid DNS name", items[i]);
        sxc_free_list(items, n);
        return;
      }
      if (items[i][len - 1] == '.') items[i][len - 1] = 0;
      for (char *p = items[i]; *p; p++) *p = (char)tolower((unsigned char)*p);
      for (size_t j = 0; j < i; j++) {
        if (!strcmp(items[i], items[j])) {
          sxc_fail(st, line, label, "'%s' is listed twice", items[i]);
          sxc_free_list(items, n);
          return;
        }
      }
    }
    sxc_free_list(cfg->domains, cfg->n_domains);
    cfg->domains = items;
    cfg->n_domains = n;
    return;
  }
  case K_STORE:
    if (!*value) {
      sxc_fail(st, line, label, "must not be empty");
      return;
    }
    if (sxc_set_str(&cfg->store, value)) OOM(st, line, label);
    return;
  case K_INSTANCE_ID:
    if (!*value || strlen(value) > 128) {
      sxc_fail(st, line, label, "must be 1 to 128 characters");
      return;
    }
    if (sxc_set_str(&cfg->instance_id, value)) OOM(st, line, label);
    return;
  case K_LOG_LEVEL: {
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
      if (!strcasecmp(value, levels[i])) {
        cfg->log_level = i;
        return;
      }
    }
    sxc_fail(st, line, label, "must be error, warn, info or debug, got '%s'", value);
    return;
  }
  case K_MESSAGE_TYPE:
    if (strcasecmp(value, "chat") && strcasecmp(value, "normal")) {
      sxc_fail(st, line, label, "must be chat or normal, got '%s'", value);
      return;
    }
    if (sxc_set_str(&cfg->message_type, strcasecmp(value, "chat") ? "normal" : "chat"))
      OOM(st, line, label);
    return;
  case K_LOG_FORMAT:
    if (!strcasecmp(value, "text"))
      cfg->log_json = 0;
    else if (!strcasecmp(value, "json"))
      cfg->log_json = 1;
    else
      sxc_fail(st, line, label, "must be text or json, got '%s'", value);
    return;
  case K_SIP_LISTEN:
    if (sxc_set_listen(cfg, value, &why, &bad)) {
      if (bad)
        sxc_fail(st, line, label, "'%s': %s", bad, why);
      else
        sxc_fail(st, line, label, "%s", why);
      free(bad);
    }
    return;
  case K_OUTBOUND_PROXY:
    if (strchr(value, ',')) {
      sxc_fail(st, line, label, "must be a single SIP URI, got '%s'", value);
      return;
    }
    why = sx_check_sip_uri(value, 0);
    if (why) {
      sxc_fail(st, line, label, "'%s': %s", value, why);
      return;
    }
    if (sxc_set_str(&cfg->outbound_proxy, value)) OOM(st, line, label);
    return;
  case K_TRUSTED_PEERS:
    if (sxc_set_trusted(cfg, value, &why, &bad)) {
      if (bad)
        sxc_fail(st, line, label, "'%s' %s", bad, why);
      else
        sxc_fail(st, line, label, "%s", why);
      free(bad);
    }
    return;
  case K_MAX_MESSAGE_BYTES:
    if (!set_uint_key(st, line, label, value, 1, 16777216, &u)) cfg->max_message_bytes = (size_t)u;
    return;
  case K_MAX_IN_FLIGHT:
    if (!set_uint_key(st, line, label, value, 1, 100000, &u)) cfg->max_in_flight = (unsigned)u;
    return;
  case K_MAX_QUEUED:
    if (!set_uint_key(st, line, label, value, 0, 1000000, &u)) cfg->max_queued = (unsigned)u;
    return;
  case K_INCOMPLETE_TIMEOUT:
    if (!set_uint_key(st, line, label, value, 1, 3600, &u)) cfg->incomplete_timeout_s = (unsigned)u;
    return;
  case K_CHAT_STATE_BACKOFF:
    if (!set_uint_key(st, line, label, value, 0, 604800, &u)) cfg->chat_state_backoff_s = (unsigned)u;
    return;
  case K_SERVICE_USER: {
    size_t n = strlen(value);
    if (n == 0 || n > 64) {
      sxc_fail(st, line, label, "must be 1..64 characters, got '%s'", value);
      return;
    }
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)value[i];
      if (!(c < 0x80 && (isalnum(c) || c == '.' || c == '_' || c == '-'))) {
        sxc_fail(st, line, label, "may contain only letters, digits, '.', '_' and '-', got '%s'",
             value);
        return;
      }
    }
    if (sxc_set_str(&cfg->service_user, value)) {
      OOM(st, line, label);
      return;
    }
    for (char *p = cfg->service_user; *p; p++) *p = (char)tolower((unsigned char)*p);
    return;
  }
  case K_EDGE_HOST: {
    size_t n = strlen(value);
    if (!sx_valid_ipv4(value, n) && !sx_valid_ipv6(value, n) && !sx_valid_dns_name(value, n)) {
      sxc_fail(st, line, label, "must be an IPv4 address, IPv6 address or DNS name, got '%s'",
           value);
      return;
    }
    if (sxc_set_str(&cfg->edge_host, value)) OOM(st, line, label);
    return;
  }
  case K_EDGE_PORT:
    if (!set_uint_key(st, line, label, value, 1, 65535, &u)) cfg->edge_port = (unsigned)u;
    return;
  case K_SECRET:
  case K_SECRET_FILE: {
    key_id other = k == K_SECRET ? K_SECRET_FILE : K_SECRET;
    if (st->key_line[other]) {
      sxc_fail(st, line, label, "%s is already set on line %d; set only one of them",
           sxc_keys[other].label, st->key_line[other]);
      return;
    }
    if (!*value) {
      sxc_fail(st, line, label, "must not be empty");
      return;
    }
    if (k == K_SECRET) {
      char *secret = strdup(value);
      if (!secret) {
        OOM(st, line, label);
        return;
      }
      clear_secret(cfg->edge_secret);
      cfg->edge_secret = secret;
      return;
    }
    errno = 0;
    char *secret = read_first_line(value);
    if (!secret) {
      if (errno)
        sxc_fail(st, line, label, "cannot read '%s': %s", value, strerror(errno));
      else
        sxc_fail(st, line, label, "the first line of '%s' is empty", value);
      return;
    }
    clear_secret(cfg->edge_secret);
    cfg->edge_secret = secret;
    if (sxc_set_str(&cfg->edge_secret_file, value)) OOM(st, line, label);
    return;
  }
  case K_BACKOFF_MIN:
    if (!set_uint_key(st, line, label, value, 1, 3600000, &u)) cfg->backoff_min_ms = (unsigned)u;
    return;
  case K_BACKOFF_MAX:
    if (!set_uint_key(st, line, label, value, 1, 3600000, &u)) cfg->backoff_max_ms = (unsigned)u;
    return;
  case K_KEEPALIVE:
    if (!set_uint_key(st, line, label, value, 1, 3600, &u)) cfg->keepalive_s = (unsigned)u;
    return;
  case K_DEAD_AFTER:
    if (!set_uint_key(st, line, label, value, 2, 86400, &u)) cfg->dead_after_s = (unsigned)u;
    return;
  case K_EDGE_TLS:
    if (!strcmp(value, "on")) cfg->edge_tls = 1;
    else if (!strcmp(value, "off")) cfg->edge_tls = 0;
    else sxc_fail(st, line, label, "must be on or off, got '%s'", value);
    return;
  case K_EDGE_CA_FILE:
  case K_EDGE_CERT_FILE:
  case K_EDGE_KEY_FILE: {
    char **dst = k == K_EDGE_CA_FILE     ? &cfg->edge_ca_file
                 : k == K_EDGE_CERT_FILE ? &cfg->edge_cert_file
                                         : &cfg->edge_key_file;
    FILE *f;
    if (!*value) {
      sxc_fail(st, line, label, "must not be empty");
      return;
    }
    if (!(f = fopen(value, "r"))) {
      sxc_fail(st, line, label, "cannot read '%s': %s", value, strerror(errno));
      return;
    }
    fclose(f);
    if (sxc_set_str(dst, value)) OOM(st, line, label);
    return;
  }
  case K_EDGE_SERVER_NAME: {
    size_t n = strlen(value);
    if (!sx_valid_ipv4(value, n) && !sx_valid_ipv6(value, n) && !sx_valid_dns_name(value, n)) {
      sxc_fail(st, line, label, "must be a DNS name or an IP address, got '%s'", value);
      return;
    }
    if (sxc_set_str(&cfg->edge_server_name, value)) OOM(st, line, label);
    return;
  }
  case K_EDGE_MAX_STANZA:
    if (!set_uint_key(st, line, label, value, 4096, 67108864, &u))
      cfg->max_stanza_bytes = (size_t)u;
    return;
  case K_PRES_MIN_EXPIRES:
    if (!set_uint_key(st, line, label, value, 0, 86400, &u)) cfg->pres_min_expires = (unsigned)u;
    return;
  case K_PRES_MAX_EXPIRES:
    if (!set_uint_key(st, line, label, value, 1, 86400, &u)) cfg->pres_max_expires = (unsigned)u;
    return;
  case K_PRES_FANOUT_EXPIRES:
    if (!set_uint_key(st, line, label, value, 10, 86400, &u))
      cfg->pres_fanout_expires = (unsigned)u;
    return;
  case K_PRES_MAX_NOTIFY:
    if (!set_uint_key(st, line, label, value, 1, 100000, &u))
      cfg->pres_max_notify = (unsigned)u;
    return;
  case K_PRES_TRANSPORT:
    if (!strcasecmp(value, "tcp")) {
      cfg->pres_tcp = 1;
    } else if (!strcasecmp(value, "proxy")) {
      cfg->pres_tcp = 0;
    } else {
      sxc_fail(st, line, label, "must be tcp or proxy, got '%s'", value);
    }
    return;
  case K_PRES_WATCHER_URI: {
    size_t n = strlen(value);
    if (n < 5 || n > 512 || strncasecmp(value, "sip:", 4) != 0 || !strchr(value, '@') ||
        strpbrk(value, " \t<>\"")) {
      sxc_fail(st, line, label, "must be a sip:user@domain URI, got '%s'", value);
      return;
    }
    if (sxc_set_str(&cfg->pres_watcher_uri, value)) sxc_fail(st, line, label, "out of memory");
    return;
  }
  case K_HTTP_LISTEN:
    set_listen_key(st, line, label, value, &cfg->http_listen, &cfg->http_host, &cfg->http_port);
    return;
  case K_FED_CONNECTION_LIMIT:
    if (!set_uint_key(st, line, label, value, 1, 1000000, &u)) cfg->fed_connection_limit = (unsigned)u;
    return;
  case K_FED_PARTNER_CONNECTION_LIMIT:
    if (!set_uint_key(st, line, label, value, 1, 1000000, &u))
      cfg->fed_partner_connection_limit = (unsigned)u;
    return;
  case K_FED_KEEPALIVE:
    if (!set_uint_key(st, line, label, value, 1, 86400, &u)) cfg->fed_keepalive_interval_s = (unsigned)u;
    return;
  case K_FED_ESTABLISH:
    if (!set_uint_key(st, line, label, value, 1, 3600, &u))
      cfg->fed_stream_establishment_timeout_s = (unsigned)u;
    return;
  case K_FED_INACTIVITY:
    if (!set_uint_key(st, line, label, value, 1, 86400, &u))
      cfg->fed_stream_inactivity_timeout_s = (unsigned)u;
    return;
  case K_FED_DIALBACK: {
    size_t n = strlen(value);
    if (n < 8 || n > 256) {
      sxc_fail(st, line, label, "must be 8..256 characters (got %zu)", n);
      return;
    }
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)value[i];
      if (c < 0x21 || c > 0x7e || c == '"' || c == '\\' || c == '\'') {
        sxc_fail(st, line, label, "may contain only printable ASCII without blanks or quotes");
        return;
      }
    }
    if (sxc_set_str(&cfg->fed_dialback_passphrase, value)) OOM(st, line, label);
    return;
  }
  case K_FED_SUB_REFRESH:
    if (!set_uint_key(st, line, label, value, 10, 604800, &u))
      cfg->fed_subscription_refresh_s = (unsigned)u;
    return;
  case K_FED_LOG_BODIES: {
    static const char *const yes[] = {"on", "yes", "true", "1"};
    static const char *const no[] = {"off", "no", "false", "0"};
    for (int i = 0; i < 4; i++) {
      if (!strcasecmp(value, yes[i]) || !strcasecmp(value, no[i])) {
        cfg->fed_log_message_bodies = !strcasecmp(value, yes[i]);
        return;
      }
    }
    sxc_fail(st, line, label, "must be on or off, got '%s'", value);
    return;
  }
  case K_FED_AUDIT_LOG:
    if (value[0] != '/') {
      sxc_fail(st, line, label, "must be an absolute path, got '%s'", value);
      return;
    }
    if (sxc_set_str(&cfg->fed_audit_log, value)) OOM(st, line, label);
    return;
  case K_ADMIN_LISTEN:
  case K_ADMIN_CERT:
  case K_ADMIN_KEY:
  case K_ADMIN_IDLE:
    apply_admin_key(st, k, value, line);
    return;
  case K_COUNT:
    break;
  }
}

