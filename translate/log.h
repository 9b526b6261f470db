/* One line per event on stderr: time, level, subsystem, message. Bodies of messages are never
 * logged at info level or above. Pure C (stdio only), shared by every part of the gateway. */
#ifndef SX_TRANSLATE_LOG_H
#define SX_TRANSLATE_LOG_H

typedef enum { SX_LOG_ERROR = 0, SX_LOG_WARN = 1, SX_LOG_INFO = 2, SX_LOG_DEBUG = 3 } sx_log_level;

extern int sx_log_threshold; /* messages above this level are skipped; default SX_LOG_INFO */

void sx_log_set_level(int level);
void sx_log_(int level, const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define sx_log(level, subsys, ...)                                   \
  do {                                                               \
    if ((int)(level) <= sx_log_threshold) sx_log_(level, subsys, __VA_ARGS__); \
  } while (0)
#define sx_err(subsys, ...) sx_log(SX_LOG_ERROR, subsys, __VA_ARGS__)
#define sx_warn(subsys, ...) sx_log(SX_LOG_WARN, subsys, __VA_ARGS__)
#define sx_info(subsys, ...) sx_log(SX_LOG_INFO, subsys, __VA_ARGS__)
#define sx_debug(subsys, ...) sx_log(SX_LOG_DEBUG, subsys, __VA_ARGS__)

#endif
