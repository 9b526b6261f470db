/* One line per event on stderr: time, level, subsystem, message. Bodies of messages are never
 * logged at info level or above. Pure C (stdio only), shared by every part of the gateway.
 *
 * Two formats ([gateway] log_format):
 *   text  2026-12-04T17:00:00.123Z info im: the message
 *   json  {"time":"2026-12-04T17:00:00.123Z","level":"info","subsys":"im","msg":"the message"}
 *         and, for events logged with sx_log_fields(), one member per field.
 * A line longer than the buffer (2 KiB) is marked "...[truncated]" (text) or gets
 * "truncated":true (json), never cut silently. */
#ifndef SX_TRANSLATE_LOG_H
#define SX_TRANSLATE_LOG_H
#include <stddef.h>

typedef enum { SX_LOG_ERROR = 0, SX_LOG_WARN = 1, SX_LOG_INFO = 2, SX_LOG_DEBUG = 3 } sx_log_level;

extern int sx_log_threshold; /* messages above this level are skipped; default SX_LOG_INFO */

void sx_log_set_level(int level);
/* 0 text (default), 1 json. */
void sx_log_set_format(int json);
void sx_log_(int level, const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A structured field: a string (str non-NULL) or an integer (str NULL). Borrowed. */
typedef struct sx_log_field {
  const char *key; /* [a-z_] word */
  const char *str;
  long long num;
} sx_log_field;

/* An event with fields: the text format prints `msg` alone (it already says everything);
 * the json format adds the fields as members. Skipped above the threshold. */
void sx_log_fields(int level, const char *subsys, const char *msg, const sx_log_field *f,
                   size_t n);

/* Appends s to buf (at offset *pos, capacity cap) as the body of a JSON string (escaped, no
 * quotes). Returns 0, or -1 when it did not fit (*pos then stops at the last whole
 * character written). Shared with the audit log. */
int sx_log_json_escape(char *buf, size_t cap, size_t *pos, const char *s);

#define sx_log(level, subsys, ...)                                   \
  do {                                                               \
    if ((int)(level) <= sx_log_threshold) sx_log_(level, subsys, __VA_ARGS__); \
  } while (0)
#define sx_err(subsys, ...) sx_log(SX_LOG_ERROR, subsys, __VA_ARGS__)
#define sx_warn(subsys, ...) sx_log(SX_LOG_WARN, subsys, __VA_ARGS__)
#define sx_info(subsys, ...) sx_log(SX_LOG_INFO, subsys, __VA_ARGS__)
#define sx_debug(subsys, ...) sx_log(SX_LOG_DEBUG, subsys, __VA_ARGS__)

#endif
