/* Per-message log lines and the audit log of message bodies. Held messages live in a
 * chained hash table keyed by their token pointer: one allocation per held message (the
 * record and its strings in one block). */
#include "gateway/msglog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "translate/log.h"

#define BUCKETS 4096u /* power of two */

typedef struct held {
  struct held *next;
  const void *token;
  sx_dir dir;
  uint64_t t0;
  const char *id, *stanza_id, *from, *to; /* inside the same block */
} held;

static held *table[BUCKETS];
static size_t n_held;
static uint64_t mark_ns;
static FILE *audit;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t bucket(const void *token) {
  uintptr_t p = (uintptr_t)token;
  p ^= p >> 17;
  p *= (uintptr_t)0x9E3779B97F4A7C15ull;
  return (size_t)(p >> 7) & (BUCKETS - 1);
}

int sx_msglog_open(const sx_config *cfg, char *err, size_t errlen) {
  sx_log_set_format(cfg->log_json);
  if (!cfg->fed_log_message_bodies) return 0;
  int fd = open(cfg->fed_audit_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open the audit log %s: %s", cfg->fed_audit_log,
             strerror(errno));
    return -1;
  }
  audit = fdopen(fd, "a");
  if (!audit) {
    close(fd);
    snprintf(err, errlen, "cannot open the audit log %s: out of memory", cfg->fed_audit_log);
    return -1;
  }
  sx_info("msg", "audit log of message bodies: %s", cfg->fed_audit_log);
  return 0;
}

void sx_msglog_close(void) {
  if (audit) fclose(audit);
  audit = NULL;
  for (size_t i = 0; i < BUCKETS; i++) {
    while (table[i]) {
      held *h = table[i];
      table[i] = h->next;
      free(h);
    }
  }
  n_held = 0;
}

uint64_t sx_msglog_begin(void) {
  mark_ns = now_ns();
  return mark_ns;
}

static const char *arrow(sx_dir dir) { return dir == SX_DIR_SIP_TO_XMPP ? "sip->xmpp" : "xmpp->sip"; }

static void line(sx_dir dir, const char *id, const char *stanza_id, const char *from,
                 const char *to, int status, const char *result, const char *detail,
                 uint64_t t0) {
  if (SX_LOG_INFO > sx_log_threshold) return;
  uint64_t el = now_ns() - (t0 ? t0 : mark_ns);
  long long tenths = (long long)(el / 100000u);
  char msg[4096], st[16];
  if (status) snprintf(st, sizeof st, "%d ", status);
  else st[0] = 0;
  snprintf(msg, sizeof msg, "%s %s %s%s%s %s -> %s: %s%s%s%s (%lld.%lld ms)", arrow(dir),
           dir == SX_DIR_SIP_TO_XMPP ? "Call-ID" : "id", id ? id : "-",
           stanza_id ? " stanza " : "", stanza_id ? stanza_id : "", from ? from : "-",
           to ? to : "-", st, result, detail ? ": " : "", detail ? detail : "", tenths / 10,
           tenths % 10);
  sx_log_field f[9];
  size_t n = 0;
  f[n++] = (sx_log_field){"dir", sx_dir_name(dir), 0};
  f[n++] = (sx_log_field){"id", id ? id : "", 0};
  if (stanza_id) f[n++] = (sx_log_field){"stanza_id", stanza_id, 0};
  f[n++] = (sx_log_field){"from", from ? from : "", 0};
  f[n++] = (sx_log_field){"to", to ? to : "", 0};
  f[n++] = (sx_log_field){"status", NULL, status};
  f[n++] = (sx_log_field){"result", result, 0};
  if (detail) f[n++] = (sx_log_field){"detail", detail, 0};
  f[n++] = (sx_log_field){"ms_x10", NULL, tenths};
  sx_log_fields(SX_LOG_INFO, "msg", msg, f, n);
}

void sx_msglog_done(sx_dir dir, const char *id, const char *from, const char *to, int status,
                    const char *result, const char *detail, uint64_t t0) {
  line(dir, id, NULL, from, to, status, result, detail, t0);
}

static size_t len0(const char *s) { return s ? strlen(s) + 1 : 0; }

static const char *put(char **p, const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  memcpy(*p, s, n);
  const char *r = *p;
  *p += n;
  return r;
}

void sx_msglog_hold(const void *token, sx_dir dir, const char *id, const char *stanza_id,
                    const char *from, const char *to, uint64_t t0) {
  size_t need = sizeof(held) + len0(id) + len0(stanza_id) + len0(from) + len0(to);
  held *h = malloc(need);
  if (!h) {
    /* The message still gets its line, without the time to its outcome. */
    line(dir, id, stanza_id, from, to, 0, "pending", "out of memory for the message log", t0);
    return;
  }
  char *p = (char *)(h + 1);
  h->token = token;
  h->dir = dir;
  h->t0 = t0 ? t0 : mark_ns;
  h->id = put(&p, id);
  h->stanza_id = put(&p, stanza_id);
  h->from = put(&p, from);
  h->to = put(&p, to);
  size_t b = bucket(token);
  h->next = table[b];
  table[b] = h;
  n_held++;
}

int sx_msglog_release(const void *token, int status, const char *result, const char *detail) {
  held **pp = &table[bucket(token)];
  while (*pp && (*pp)->token != token) pp = &(*pp)->next;
  held *h = *pp;
  if (!h) return 0;
  *pp = h->next;
  n_held--;
  line(h->dir, h->id, h->stanza_id, h->from, h->to, status, result, detail, h->t0);
  free(h);
  return 1;
}

size_t sx_msglog_held(void) { return n_held; }

/* Writes one JSON string member ("key":"escaped") with a heap buffer sized for the worst
 * case (6 bytes per input byte), so no body is ever cut. */
static int audit_member(const char *key, const char *v, int first) {
  size_t n = v ? strlen(v) : 0;
  size_t cap = n * 6 + 1;
  char *buf = malloc(cap);
  if (!buf) return -1;
  size_t pos = 0;
  buf[0] = 0;
  sx_log_json_escape(buf, cap, &pos, v ? v : "");
  fprintf(audit, "%s\"%s\":\"%s\"", first ? "" : ",", key, buf);
  free(buf);
  return 0;
}

void sx_msglog_audit(sx_dir dir, const char *id, const char *from, const char *to,
                     const char *body) {
  if (!audit) return;
  struct timespec ts;
  struct tm tm;
  char when[96];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
  fputc('{', audit);
  int rc = audit_member("time", when, 1) | audit_member("dir", sx_dir_name(dir), 0) |
           audit_member("id", id, 0) | audit_member("from", from, 0) |
           audit_member("to", to, 0) | audit_member("body", body, 0);
  fputs(rc ? ",\"incomplete\":true}\n" : "}\n", audit);
  if (fflush(audit) != 0) sx_err("msg", "audit log write failed: %s", strerror(errno));
}
