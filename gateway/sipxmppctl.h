/* sipxmppctl internals shared by its command files (sipxmppctl_*.c). */
#ifndef SX_GATEWAY_SIPXMPPCTL_H
#define SX_GATEWAY_SIPXMPPCTL_H
#include <cjson/cJSON.h>
#include <stddef.h>

#include "conf/config.h"
#include "conf/store.h"
#include "gateway/store_json.h"
#include "translate/address.h"
#include "translate/policy.h"

/* Exit statuses a script can rely on. */
enum {
  CTL_OK = 0,      /* done; `check`: allow */
  CTL_REFUSED = 1, /* refused or invalid; `check`: deny or pending */
  CTL_USAGE = 2,   /* bad command line */
  CTL_STORE = 3,   /* store (or config) could not be used */
};

#define CTL_DEFAULT_CONFIG "/etc/sipxmpp/sipxmppd.conf"
#define CTL_MAX_POS 8
#define CTL_MAX_OPTS 24

typedef struct {
  const char *config_path; /* --config (default CTL_DEFAULT_CONFIG) */
  const char *store_path;  /* --store, overrides the config */
  int json;                /* --json */
  sx_config cfg;
  int have_cfg;
  sx_store *st;
  const char *prog;
} ctl_ctx;

/* Option kinds. */
typedef enum {
  OPT_FLAG,  /* --name */
  OPT_VALUE, /* --name VALUE or --name=VALUE */
  OPT_BOOL,  /* --name, --name=on|off, or --name on|off (yes/no/true/false/1/0 too) */
} ctl_optkind;

typedef struct {
  const char *name; /* without the leading "--" */
  ctl_optkind kind;
} ctl_optdef;

typedef struct {
  const char *pos[CTL_MAX_POS];
  int npos;
  const char *val[CTL_MAX_OPTS]; /* value (flags: "on"); NULL when absent */
  int seen[CTL_MAX_OPTS];
} ctl_args;

/* Parses argv[0..argc) against defs (terminated by a NULL name). Returns 0, or CTL_USAGE
 * after printing the problem and `usage` on stderr. Booleans are stored as "on"/"off". */
int ctl_parse(int argc, char **argv, const ctl_optdef *defs, ctl_args *a, const char *usage);

/* ctl_parse, then checks that the number of positional arguments is within
 * [min_pos, max_pos]. When it is not, prints "error: " and the formatted message, then
 * `usage`, on stderr and returns CTL_USAGE. */
int ctl_parse_n(int argc, char **argv, const ctl_optdef *defs, ctl_args *a, const char *usage,
                int min_pos, int max_pos, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

/* An option table with no options. */
extern const ctl_optdef ctl_no_opts[];

/* Prints "error: " and the formatted message, then `usage` (unless NULL), on stderr.
 * Returns CTL_USAGE. */
int ctl_usage_fail(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Index of an option in defs, for a->seen / a->val. */
int ctl_opt(const ctl_optdef *defs, const char *name);

/* Opens the store (from --store or the config's [gateway] store). Returns CTL_OK or
 * CTL_STORE after printing why. Loads the config when --store is absent. */
int ctl_open(ctl_ctx *c);

/* Maps a store status to an exit status, printing err (prefixed "error: ") unless OK. */
int ctl_st(sx_st st, const char *err);

/* Canonical key of a user or contact argument ("sip:bob@x", "bob@x"); prints why and
 * returns NULL when invalid. Caller frees. */
char *ctl_key(const char *what, const char *arg);

/* Canonicalises arg with ctl_key (skipped when arg is NULL: *key = NULL), then opens the
 * store. Returns CTL_OK with *key owned by the caller, or CTL_REFUSED / CTL_STORE after
 * printing why, with *key NULL. */
int ctl_open_key(ctl_ctx *c, const char *what, const char *arg, char **key);

/* Prints a JSON value on stdout (one document and a newline) and frees it; CTL_OK, or
 * CTL_STORE when out of memory. */
int ctl_json_out(cJSON *v);

/* Appends item (owned by the array from then on) to the array *arr. When item is NULL
 * (out of memory) the array is deleted and *arr set to NULL; when *arr is already NULL,
 * item is deleted. */
void ctl_json_push(cJSON **arr, cJSON *item);

/* Adds a string or null. */
void ctl_json_str(cJSON *o, const char *name, const char *v);

/* Prints a warning line on stderr. */
void ctl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a boolean word: on/off, yes/no, true/false, 1/0. 0 ok, -1 unknown. */
int ctl_bool(const char *text, int *out);

/* The effective policy of a user, from the store (tag, else site policy, else global). */
int ctl_effective(ctl_ctx *c, const char *key, sx_policy_rec *out, const char **scope);

/* The full usage text. */
const char *ctl_usage(void);

/* Command handlers: argv starts after the command group word ("policy"), so argv[0] is the
 * subcommand. Return an exit status. */
int ctl_policy(ctl_ctx *c, int argc, char **argv);
int ctl_partner(ctl_ctx *c, int argc, char **argv);
int ctl_user(ctl_ctx *c, int argc, char **argv);
int ctl_contact(ctl_ctx *c, int argc, char **argv);
int ctl_check(ctl_ctx *c, int argc, char **argv);
int ctl_admin(ctl_ctx *c, int argc, char **argv);
/* Operations (argv starts after the command word): status [--json], doctor [--json],
 * edge-config prosody|ejabberd [--output FILE]. */
int ctl_status(ctl_ctx *c, int argc, char **argv);
int ctl_doctor(ctl_ctx *c, int argc, char **argv);
int ctl_edge_config(ctl_ctx *c, int argc, char **argv);

/* Loads the config (--config) into c->cfg once; CTL_OK or CTL_STORE after printing why. */
int ctl_load_config(ctl_ctx *c);

/* GET http://host:port/path with a timeout. Returns 0 with *body (malloc'd, NUL-terminated,
 * at most 1 MiB) and *status, or -1 with why in err. Defined in sipxmppctl_status.c. */
int ctl_http_get(const char *host, unsigned port, const char *path, long timeout_ms,
                 char **body, long *status, char *err, size_t errlen);


#endif
