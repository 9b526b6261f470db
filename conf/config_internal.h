/* Internal to conf/config*.c: the sections and keys of the configuration file, the parser
 * state, and the per-key handling (conf/config_keys.c) that the loader (conf/config.c)
 * calls for each key inih hands it.
 *
 * Ownership: parse_state borrows cfg, path and err from sx_config_load(); sxc_apply_key()
 * stores malloc'd copies of values into cfg (released by sx_config_free()). */
#ifndef SX_CONF_CONFIG_INTERNAL_H
#define SX_CONF_CONFIG_INTERNAL_H
#include <stdio.h>

#include "conf/config.h"

enum {
  SEC_GATEWAY,
  SEC_SIP,
  SEC_EDGE,
  SEC_HTTP,
  SEC_FEDERATION,
  SEC_ADMIN,
  SEC_PRESENCE,
  SEC_COUNT,
};
/* Section names in SEC_* order, as written in the file. */
extern const char *const sxc_section_names[SEC_COUNT];

typedef enum {
  K_DOMAINS,
  K_STORE,
  K_INSTANCE_ID,
  K_LOG_LEVEL,
  K_MESSAGE_TYPE,
  K_LOG_FORMAT,
  K_SIP_LISTEN,
  K_OUTBOUND_PROXY,
  K_TRUSTED_PEERS,
  K_MAX_MESSAGE_BYTES,
  K_MAX_IN_FLIGHT,
  K_MAX_QUEUED,
  K_INCOMPLETE_TIMEOUT,
  K_CHAT_STATE_BACKOFF,
  K_SERVICE_USER,
  K_EDGE_HOST,
  K_EDGE_PORT,
  K_SECRET,
  K_SECRET_FILE,
  K_BACKOFF_MIN,
  K_BACKOFF_MAX,
  K_KEEPALIVE,
  K_DEAD_AFTER,
  K_EDGE_TLS,
  K_EDGE_CA_FILE,
  K_EDGE_SERVER_NAME,
  K_EDGE_CERT_FILE,
  K_EDGE_KEY_FILE,
  K_EDGE_MAX_STANZA,
  K_HTTP_LISTEN,
  K_FED_CONNECTION_LIMIT,
  K_FED_PARTNER_CONNECTION_LIMIT,
  K_FED_KEEPALIVE,
  K_FED_ESTABLISH,
  K_FED_INACTIVITY,
  K_FED_DIALBACK,
  K_FED_SUB_REFRESH,
  K_FED_LOG_BODIES,
  K_FED_AUDIT_LOG,
  K_ADMIN_LISTEN,
  K_ADMIN_CERT,
  K_ADMIN_KEY,
  K_ADMIN_IDLE,
  K_PRES_MIN_EXPIRES,
  K_PRES_MAX_EXPIRES,
  K_PRES_WATCHER_URI,
  K_PRES_FANOUT_EXPIRES,
  K_PRES_MAX_NOTIFY,
  K_PRES_TRANSPORT,
  K_COUNT,
} key_id;

typedef struct {
  int section;
  const char *name;
  const char *label; /* section.key, as used in messages */
} sxc_key;

/* Every key in key_id order. */
extern const sxc_key sxc_keys[K_COUNT];

typedef struct {
  sx_config *cfg;
  const char *path;
  FILE *f;
  char *line; /* getline buffer */
  size_t line_cap;
  int lineno;           /* line most recently handed to inih */
  int key_line[K_COUNT]; /* line where each key was set, 0 = not set */
  int failed;           /* line of the first error, or -1 for a reader/system failure */
  char *err;
  size_t errlen;
} parse_state;

/* Records the first error as "PATH:LINE: KEY: message" (KEY omitted when NULL). */
void sxc_fail(parse_state *st, int line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Checks value for key k (set on line) and stores it into st->cfg, or records why not. */
void sxc_apply_key(parse_state *st, key_id k, const char *value, int line);

/* Replaces *dst with a copy of value: 0, or -1 when out of memory (*dst unchanged). */
int sxc_set_str(char **dst, const char *value);
/* The [sip] listen and trusted_peers lists: 0, or -1 with *why (static) and *bad (malloc'd
 * offending item or NULL) set. */
int sxc_set_listen(sx_config *cfg, const char *value, const char **why, char **bad);
int sxc_set_trusted(sx_config *cfg, const char *value, const char **why, char **bad);
/* Frees an array of n strings. */
void sxc_free_list(char **v, size_t n);

#endif
