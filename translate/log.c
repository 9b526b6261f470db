#include "translate/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LINE_MAX_BYTES 2048

int sx_log_threshold = SX_LOG_INFO;
static int log_json;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void sx_log_set_level(int level) {
  if (level < SX_LOG_ERROR) level = SX_LOG_ERROR;
  if (level > SX_LOG_DEBUG) level = SX_LOG_DEBUG;
  sx_log_threshold = level;
}

void sx_log_set_format(int json) { log_json = json ? 1 : 0; }

static void timestamp(char *buf, size_t n) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

int sx_log_json_escape(char *buf, size_t cap, size_t *pos, const char *s) {
  static const char hex[] = "0123456789abcdef";
  size_t p = *pos;
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[7];
    size_t n;
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      n = 2;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      esc[0] = '\\';
      esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
      n = 2;
    } else if (c < 0x20 || c == 0x7f) {
      memcpy(esc, "\\u00", 4);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      n = 6;
    } else {
      esc[0] = (char)c;
      n = 1;
    }
    if (p + n >= cap) {
      *pos = p;
      return -1;
    }
    memcpy(buf + p, esc, n);
    p += n;
  }
  if (p < cap) buf[p] = 0;
  *pos = p;
  return 0;
}

/* Appends formatted text; -1 when it did not fit. */
static int append(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int append(char *buf, size_t cap, size_t *pos, const char *fmt, ...) {
  va_list ap;
  if (*pos >= cap) return -1;
  va_start(ap, fmt);
  int n = vsnprintf(buf + *pos, cap - *pos, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= cap - *pos) {
    buf[*pos] = 0;
    return -1;
  }
  *pos += (size_t)n;
  return 0;
}

/* Writes one complete line: text, or a JSON object with the fields. */
static void emit(int level, const char *subsys, const char *msg, const sx_log_field *f,
                 size_t nf) {
  char line[LINE_MAX_BYTES], ts[96];
  size_t pos = 0;
  int cut = 0;
  if (level < SX_LOG_ERROR) level = SX_LOG_ERROR;
  if (level > SX_LOG_DEBUG) level = SX_LOG_DEBUG;
  timestamp(ts, sizeof ts);
  if (!log_json) {
    cut = append(line, sizeof line, &pos, "%s %s %s: %s", ts, level_names[level], subsys, msg);
    if (cut) fprintf(stderr, "%s...[truncated]\n", line);
    else fprintf(stderr, "%s\n", line);
    return;
  }
  /* Room is kept for the closing members, so the object is always complete. */
  const size_t cap = sizeof line - 24;
  int open_str = 0; /* cut inside the msg string: it needs its closing quote */
  append(line, cap, &pos, "{\"time\":\"%s\",\"level\":\"%s\",\"subsys\":\"", ts,
         level_names[level]);
  cut = sx_log_json_escape(line, cap, &pos, subsys) || append(line, cap, &pos, "\",\"msg\":\"");
  open_str = cut;
  if (!cut) {
    cut = sx_log_json_escape(line, cap, &pos, msg);
    open_str = cut;
  }
  if (!cut) cut = append(line, cap, &pos, "\"");
  for (size_t i = 0; i < nf && !cut; i++) {
    size_t mark = pos;
    if (f[i].str) {
      cut = append(line, cap, &pos, ",\"%s\":\"", f[i].key) ||
            sx_log_json_escape(line, cap, &pos, f[i].str) || append(line, cap, &pos, "\"");
    } else {
      cut = append(line, cap, &pos, ",\"%s\":%lld", f[i].key, f[i].num);
    }
    if (cut) pos = mark; /* the partial member goes */
  }
  if (open_str) line[pos++] = '"';
  if (cut) {
    memcpy(line + pos, ",\"truncated\":true", 17);
    pos += 17;
  }
  line[pos++] = '}';
  line[pos] = 0;
  fprintf(stderr, "%s\n", line);
}

void sx_log_(int level, const char *subsys, const char *fmt, ...) {
  char msg[LINE_MAX_BYTES];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n < 0) msg[0] = 0;
  if (n >= (int)sizeof msg) {
    /* Marked, never cut silently: the text form shows "...[truncated]" after emit's own. */
    memcpy(msg + sizeof msg - 16, "...[truncated]", 15);
  }
  emit(level, subsys, msg, NULL, 0);
}

void sx_log_fields(int level, const char *subsys, const char *msg, const sx_log_field *f,
                   size_t n) {
  if (level > sx_log_threshold) return;
  emit(level, subsys, msg, f, n);
}
