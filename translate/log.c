#include "translate/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int sx_log_threshold = SX_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void sx_log_set_level(int level) {
  if (level < SX_LOG_ERROR) level = SX_LOG_ERROR;
  if (level > SX_LOG_DEBUG) level = SX_LOG_DEBUG;
  sx_log_threshold = level;
}

void sx_log_(int level, const char *subsys, const char *fmt, ...) {
  struct timespec ts;
  struct tm tm;
  char line[2048];
  va_list ap;
  int n;

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  if (level < SX_LOG_ERROR) level = SX_LOG_ERROR;
  if (level > SX_LOG_DEBUG) level = SX_LOG_DEBUG;
  n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ",
               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
               tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], subsys);
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof line) vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  /* A line longer than the buffer is marked, never cut silently. */
  n = (int)strnlen(line, sizeof line);
  if ((size_t)n == sizeof line - 1) fprintf(stderr, "%s...[truncated]\n", line);
  else fprintf(stderr, "%s\n", line);
}
