/* Process-wide counters and their Prometheus text exposition. Single-threaded: plain
 * integers in fixed tables, scanned linearly (a handful of entries each). */
#include "gateway/metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_REASONS 64
#define MAX_NAMES 64
#define MAX_DOMAINS 256
#define DOMAIN_MAX 254 /* 253 bytes and the terminator */

typedef struct {
  char reason[SX_METRIC_NAME_MAX];
  uint64_t count[SX_DIR_COUNT];
} reason_row;

typedef struct {
  char name[SX_METRIC_NAME_MAX];
  uint64_t count;
} named_row;

typedef struct {
  char domain[DOMAIN_MAX];
  int up;
  uint64_t reconnects;
} link_row;

static uint64_t msgs[SX_DIR_COUNT][SX_RES_COUNT];
static reason_row reasons[MAX_REASONS];
static size_t n_reasons;
static uint64_t other_refusals[SX_DIR_COUNT];
static named_row names[MAX_NAMES];
static size_t n_names;
static uint64_t other_events;
static link_row *links; /* allocated on first use */
static size_t n_links;

static const char *const dir_names[SX_DIR_COUNT] = {"sip_to_xmpp", "xmpp_to_sip"};
static const char *const res_names[SX_RES_COUNT] = {"accepted", "delivered", "refused", "failed",
                                                    "rejected_busy"};

/* HELP text for the named counters the gateway is known to use. */
static const struct {
  const char *name, *help;
} known_help[] = {
    {"sip_bad_requests_total", "SIP requests rejected as malformed."},
    {"sip_bad_messages_total", "SIP datagrams and stream bytes dropped as not SIP."},
    {"sip_dropped_requests_total", "SIP requests dropped by the transaction layer."},
    {"chat_states_suppressed_total",
     "Typing notifications not sent to SIP users who refused them."},
    {"chat_states_refused_total", "Typing notifications refused by SIP users (415/488/501)."},
    {"xmpp_bad_stanzas_total", "XMPP stanzas rejected as malformed."},
    {"sip_torture_rejected_total", "SIP torture-test style messages rejected."},
    {"presence_notifies_total", "SIP NOTIFY requests sent for XMPP presence."},
    {"presence_stanzas_total", "XMPP presence stanzas sent for SIP NOTIFY."},
    {"xmpp_errors_total", "XMPP error stanzas received for messages the gateway sent."},
};

const char *sx_dir_name(sx_dir dir) {
  return (unsigned)dir < SX_DIR_COUNT ? dir_names[dir] : "unknown";
}

const char *sx_result_name(sx_result res) {
  return (unsigned)res < SX_RES_COUNT ? res_names[res] : "unknown";
}

/* A [a-z0-9_] word shorter than SX_METRIC_NAME_MAX. */
static int valid_word(const char *s) {
  size_t n = 0;
  if (!s || !*s) return 0;
  for (; s[n]; n++) {
    char c = s[n];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    if (n + 1 >= SX_METRIC_NAME_MAX) return 0;
  }
  return 1;
}

void sx_metric_msg(sx_dir dir, sx_result res) {
  if ((unsigned)dir < SX_DIR_COUNT && (unsigned)res < SX_RES_COUNT) msgs[dir][res]++;
}

/* A refusal reason as a label value: XMPP condition names ("jid-malformed") have '-' where
 * the snake_case reasons have '_'; both are kept, as "jid_malformed". *out gets the word;
 * 0 if it is a valid one. */
static int reason_word(const char *reason, char out[SX_METRIC_NAME_MAX]) {
  size_t n = 0;
  if (!reason) return -1;
  for (; reason[n] && n + 1 < SX_METRIC_NAME_MAX; n++) out[n] = reason[n] == '-' ? '_' : reason[n];
  if (reason[n]) return -1;
  out[n] = '\0';
  return valid_word(out) ? 0 : -1;
}

static reason_row *find_reason(const char *reason_in, int create) {
  char reason[SX_METRIC_NAME_MAX];
  if (reason_word(reason_in, reason) != 0) return NULL;
  for (size_t i = 0; i < n_reasons; i++)
    if (!strcmp(reasons[i].reason, reason)) return &reasons[i];
  if (!create || n_reasons == MAX_REASONS) return NULL;
  reason_row *r = &reasons[n_reasons++];
  strcpy(r->reason, reason); /* length checked by valid_word */
  memset(r->count, 0, sizeof r->count);
  return r;
}

void sx_metric_refusal(sx_dir dir, const char *reason) {
  if ((unsigned)dir >= SX_DIR_COUNT) return;
  reason_row *r = find_reason(reason, 1);
  if (r)
    r->count[dir]++;
  else
    other_refusals[dir]++;
}

static link_row *find_link(const char *domain, int create) {
  if (!domain || !*domain || strlen(domain) >= DOMAIN_MAX) return NULL;
  for (size_t i = 0; i < n_links; i++)
    if (!strcmp(links[i].domain, domain)) return &links[i];
  if (!create || n_links == MAX_DOMAINS) return NULL;
  if (!links) {
    links = calloc(MAX_DOMAINS, sizeof *links);
    if (!links) return NULL;
  }
  link_row *l = &links[n_links++];
  strcpy(l->domain, domain); /* length checked above */
  l->up = 0;
  l->reconnects = 0;
  return l;
}

void sx_metric_link(const char *domain, int up) {
  link_row *l = find_link(domain, 1);
  if (l) l->up = up ? 1 : 0;
}

void sx_metric_reconnect(const char *domain) {
  link_row *l = find_link(domain, 1);
  if (l) l->reconnects++;
}

static named_row *find_name(const char *name, int create) {
  if (!valid_word(name)) return NULL;
  size_t n = strlen(name);
  if (n < 7 || strcmp(name + n - 6, "_total")) return NULL;
  for (size_t i = 0; i < n_names; i++)
    if (!strcmp(names[i].name, name)) return &names[i];
  if (!create || n_names == MAX_NAMES) return NULL;
  named_row *r = &names[n_names++];
  strcpy(r->name, name); /* length checked by valid_word */
  r->count = 0;
  return r;
}

void sx_metric_add(const char *name, uint64_t n) {
  named_row *r = find_name(name, 1);
  if (r)
    r->count += n;
  else
    other_events += n;
}

void sx_metric_inc(const char *name) { sx_metric_add(name, 1); }

void sx_metric_set(const char *name, uint64_t v) {
  named_row *r = find_name(name, 1);
  if (r) r->count = v;
}

static void (*collector)(void *);
static void *collector_ud;

void sx_metrics_set_collector(void (*fn)(void *ud), void *ud) {
  collector = fn;
  collector_ud = fn ? ud : NULL;
}

uint64_t sx_metric_get_msg(sx_dir dir, sx_result res) {
  if ((unsigned)dir >= SX_DIR_COUNT || (unsigned)res >= SX_RES_COUNT) return 0;
  return msgs[dir][res];
}

uint64_t sx_metric_get_refusal(sx_dir dir, const char *reason) {
  if ((unsigned)dir >= SX_DIR_COUNT) return 0;
  if (reason && !strcmp(reason, "other")) return other_refusals[dir];
  reason_row *r = find_reason(reason, 0);
  return r ? r->count[dir] : 0;
}

void sx_metric_each_refusal(sx_refusal_fn fn, void *ud) {
  for (size_t i = 0; i < n_reasons; i++)
    for (int d = 0; d < SX_DIR_COUNT; d++)
      if (reasons[i].count[d]) fn(ud, (sx_dir)d, reasons[i].reason, reasons[i].count[d]);
  for (int d = 0; d < SX_DIR_COUNT; d++)
    if (other_refusals[d]) fn(ud, (sx_dir)d, "other", other_refusals[d]);
}

int sx_metric_get_link(const char *domain) {
  link_row *l = find_link(domain, 0);
  return l ? l->up : -1;
}

uint64_t sx_metric_get_reconnects(const char *domain) {
  link_row *l = find_link(domain, 0);
  return l ? l->reconnects : 0;
}

uint64_t sx_metric_get(const char *name) {
  if (name && !strcmp(name, "other_events_total")) return other_events;
  named_row *r = find_name(name, 0);
  return r ? r->count : 0;
}

void sx_metrics_reset(void) {
  memset(msgs, 0, sizeof msgs);
  memset(reasons, 0, sizeof reasons);
  n_reasons = 0;
  memset(other_refusals, 0, sizeof other_refusals);
  memset(names, 0, sizeof names);
  n_names = 0;
  other_events = 0;
  free(links);
  links = NULL;
  n_links = 0;
}

/* ---- exposition --------------------------------------------------------------------- */

/* A label value with '\\', '"' and newline escaped as the text format requires. */
static void put_label(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '\\')
      fputs("\\\\", f);
    else if (*s == '"')
      fputs("\\\"", f);
    else if (*s == '\n')
      fputs("\\n", f);
    else
      fputc(*s, f);
  }
}

static void put_family(FILE *f, const char *name, const char *type, const char *help) {
  fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Resident set size from /proc/self/statm (second field, in pages); -1 if unavailable. */
static long long resident_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  unsigned long long size, resident;
  int ok = fscanf(f, "%llu %llu", &size, &resident) == 2;
  fclose(f);
  long page = sysconf(_SC_PAGESIZE);
  if (!ok || page <= 0) return -1;
  return (long long)(resident * (unsigned long long)page);
}

static sx_metrics_extra_fn extra_fn;
static void *extra_ud;

void sx_metrics_set_extra(sx_metrics_extra_fn fn, void *ud) {
  extra_fn = fn;
  extra_ud = ud;
}

char *sx_metrics_render(size_t *len) {
  char *buf = NULL;
  size_t size = 0;
  if (collector) collector(collector_ud);
  FILE *f = open_memstream(&buf, &size);
  if (!f) return NULL;

  put_family(f, "sipxmpp_messages_total", "counter",
             "Instant messages handled, by direction and result.");
  for (int d = 0; d < SX_DIR_COUNT; d++)
    for (int r = 0; r < SX_RES_COUNT; r++)
      fprintf(f, "sipxmpp_messages_total{direction=\"%s\",result=\"%s\"} %" PRIu64 "\n",
              dir_names[d], res_names[r], msgs[d][r]);

  put_family(f, "sipxmpp_refusals_total", "counter",
             "Messages and presence operations refused, by direction and reason.");
  for (size_t i = 0; i < n_reasons; i++)
    for (int d = 0; d < SX_DIR_COUNT; d++)
      fprintf(f, "sipxmpp_refusals_total{direction=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
              dir_names[d], reasons[i].reason, reasons[i].count[d]);
  for (int d = 0; d < SX_DIR_COUNT; d++)
    if (other_refusals[d])
      fprintf(f, "sipxmpp_refusals_total{direction=\"%s\",reason=\"other\"} %" PRIu64 "\n",
              dir_names[d], other_refusals[d]);

  put_family(f, "sipxmpp_edge_link_up", "gauge",
             "1 while the XMPP component link for the domain is established.");
  for (size_t i = 0; i < n_links; i++) {
    fputs("sipxmpp_edge_link_up{domain=\"", f);
    put_label(f, links[i].domain);
    fprintf(f, "\"} %d\n", links[i].up);
  }
  put_family(f, "sipxmpp_edge_reconnects_total", "counter",
             "Reconnect attempts of the XMPP component link, by domain.");
  for (size_t i = 0; i < n_links; i++) {
    fputs("sipxmpp_edge_reconnects_total{domain=\"", f);
    put_label(f, links[i].domain);
    fprintf(f, "\"} %" PRIu64 "\n", links[i].reconnects);
  }

  for (size_t i = 0; i < n_names; i++) {
    /* names are checked to be at most SX_METRIC_NAME_MAX bytes when counted */
    char metric[SX_METRIC_NAME_MAX + 16];
    int mn = snprintf(metric, sizeof metric, "sipxmpp_%.*s", SX_METRIC_NAME_MAX, names[i].name);
    if (mn < 0 || (size_t)mn >= sizeof metric) continue;
    const char *help = NULL;
    for (size_t k = 0; k < sizeof known_help / sizeof known_help[0]; k++)
      if (!strcmp(known_help[k].name, names[i].name)) help = known_help[k].help;
    if (help) {
      put_family(f, metric, "counter", help);
    } else {
      fprintf(f, "# HELP %s Count of %s events.\n# TYPE %s counter\n", metric, names[i].name,
              metric);
    }
    fprintf(f, "%s %" PRIu64 "\n", metric, names[i].count);
  }
  if (other_events) {
    put_family(f, "sipxmpp_other_events_total", "counter",
               "Events counted under a name the metrics table could not hold.");
    fprintf(f, "sipxmpp_other_events_total %" PRIu64 "\n", other_events);
  }

  if (extra_fn) extra_fn(extra_ud, f);

  long long rss = resident_bytes();
  if (rss >= 0) {
    put_family(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    fprintf(f, "process_resident_memory_bytes %lld\n", rss);
  }

  int failed = ferror(f);
  if (fclose(f) != 0 || failed || !buf) {
    free(buf);
    return NULL;
  }
  if (len) *len = size;
  return buf;
}
