/* The console's operations (see admin_internal.h): each takes plain values, works through
 * the same store functions and shared rules as sipxmppctl (conf/store*.c, conf/check.c,
 * conf/user_import.c), so validation messages are the CLI's, and fills an op_out that the
 * JSON API and the pages both use. The run_* functions do the work in libuv's pool
 * (admin_op_exec, started by admin_call); every successful change sets env->changed, and the
 * loop then asks the daemon to rebuild its policy snapshot at once. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/check.h"
#include "conf/user_import.h"
#include "gateway/admin_internal.h"
#include "gateway/store_json.h"
#include "translate/log.h"

void op_out_free(op_out *o) {
  cJSON_Delete(o->data);
  o->data = NULL;
}

static void fail(op_out *o, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(op_out *o, unsigned status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->err, sizeof o->err, fmt, ap);
  va_end(ap);
  o->status = status;
}

static unsigned status_of(sx_st st) {
  switch (st) {
  case SX_ST_OK: return 200;
  case SX_ST_INVALID: return 400;
  case SX_ST_NOTFOUND: return 404;
  case SX_ST_EXISTS:
  case SX_ST_INUSE: return 409;
  default: return 500;
  }
}

/* Records a store result; 1 when it was OK. */
static int st_ok(op_out *o, sx_st st, const char *err) {
  if (st == SX_ST_OK) return 1;
  fail(o, status_of(st), "%s", err && *err ? err : "failed");
  return 0;
}

/* The canonical key of a user or contact, or NULL with o set ("user 'x': reason", as the
 * CLI words it). */
static char *key_of(op_out *o, const char *what, const char *arg) {
  const char *msg = NULL;
  if (!arg || !*arg) {
    fail(o, 400, "%s: missing", what);
    return NULL;
  }
  char *k = sx_canon_key(arg, &msg, NULL);
  if (!k) fail(o, 400, "%s '%s': %s", what, arg, msg ? msg : "invalid address");
  return k;
}

/* ---- reading input objects ------------------------------------------------------------------ */

static const cJSON *item(const cJSON *in, const char *name) {
  return in ? cJSON_GetObjectItemCaseSensitive(in, name) : NULL;
}

/* A string field: NULL when absent or null; *bad when present but not a string/number. */
static const char *get_str(const cJSON *in, const char *name, char *numbuf, size_t nn, int *bad) {
  const cJSON *v = item(in, name);
  if (!v || cJSON_IsNull(v)) return NULL;
  if (cJSON_IsString(v)) return v->valuestring;
  if (cJSON_IsNumber(v) && numbuf) {
    snprintf(numbuf, nn, "%.0f", v->valuedouble);
    return numbuf;
  }
  *bad = 1;
  return NULL;
}

/* A boolean field: -1 absent, 0/1, or -2 when not a boolean. */
static int get_bool(const cJSON *in, const char *name) {
  const cJSON *v = item(in, name);
  if (!v || cJSON_IsNull(v)) return -1;
  if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
  if (cJSON_IsString(v)) {
    static const char *const yes[] = {"on", "yes", "true", "1"};
    static const char *const no[] = {"off", "no", "false", "0"};
    for (int i = 0; i < 4; i++) {
      if (!strcasecmp(v->valuestring, yes[i])) return 1;
      if (!strcasecmp(v->valuestring, no[i])) return 0;
    }
  }
  return -2;
}

/* ---- partners -------------------------------------------------------------------------------- */

static void clear_domains(sx_partner_rec *p) {
  for (size_t i = 0; i < p->n_additional; i++) free(p->additional[i]);
  free(p->additional);
  p->additional = NULL;
  p->n_additional = 0;
}

static int push_domain(sx_partner_rec *p, const char *s, size_t len) {
  char **nv = realloc(p->additional, (p->n_additional + 1) * sizeof *nv);
  if (!nv) return -1;
  p->additional = nv;
  if (!(nv[p->n_additional] = strndup(s, len))) return -1;
  p->n_additional++;
  return 0;
}

/* AdditionalDomains: an array of strings or "a, b c". 0 ok, -1 bad type, -2 ENOMEM. */
static int set_domains(sx_partner_rec *p, const cJSON *v) {
  clear_domains(p);
  if (cJSON_IsArray(v)) {
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
      if (!cJSON_IsString(e)) return -1;
      if (*e->valuestring && push_domain(p, e->valuestring, strlen(e->valuestring))) return -2;
    }
    return 0;
  }
  if (!cJSON_IsString(v)) return -1;
  for (const char *s = v->valuestring; *s;) {
    while (*s == ',' || *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    const char *e = s;
    while (*e && *e != ',' && *e != ' ' && *e != '\t' && *e != '\n' && *e != '\r') e++;
    if (e > s && push_domain(p, s, (size_t)(e - s))) return -2;
    s = e;
  }
  return 0;
}

/* Applies the fields present in `in` to p; 0, or -1 with o set. */
static int apply_partner(const cJSON *in, sx_partner_rec *p, op_out *o) {
  int bad = 0;
  char num[32];
  const char *v;
  if ((v = get_str(in, "PartnerType", NULL, 0, &bad)) && sx_ptype_parse(v, &p->type)) {
    fail(o, 400, "PartnerType '%s': use federated, public-verified or public-unverified", v);
    return -1;
  }
  if ((v = get_str(in, "TlsNegotiation", NULL, 0, &bad)) && sx_nego_parse(v, &p->tls)) {
    fail(o, 400, "TlsNegotiation '%s': use required, optional or not-supported", v);
    return -1;
  }
  if ((v = get_str(in, "SaslNegotiation", NULL, 0, &bad)) && sx_nego_parse(v, &p->sasl)) {
    fail(o, 400, "SaslNegotiation '%s': use required, optional or not-supported", v);
    return -1;
  }
  int b = get_bool(in, "SupportDialbackNegotiation");
  if (b == -2) {
    fail(o, 400, "SupportDialbackNegotiation: use true or false");
    return -1;
  }
  if (b >= 0) p->dialback = b;
  b = get_bool(in, "EnableKeepAlive");
  if (b == -2) {
    fail(o, 400, "EnableKeepAlive: use true or false");
    return -1;
  }
  if (b >= 0) p->keepalive = b;
  if ((v = get_str(in, "ConnectionLimit", num, sizeof num, &bad))) {
    char *end;
    errno = 0;
    long l = strtol(v, &end, 10);
    if (!*v || *end || errno || l < 0) {
      fail(o, 400, "ConnectionLimit '%s': use 0 (no limit) or a positive number", v);
      return -1;
    }
    p->connection_limit = l;
  }
  if ((v = get_str(in, "ProxyFqdn", NULL, 0, &bad)) || (item(in, "ProxyFqdn") && !bad)) {
    free(p->proxy_fqdn);
    p->proxy_fqdn = v && *v ? strdup(v) : NULL;
  }
  if ((v = get_str(in, "Description", NULL, 0, &bad))) {
    free(p->description);
    p->description = strdup(v);
  }
  const cJSON *ad = item(in, "AdditionalDomains");
  if (ad && !cJSON_IsNull(ad)) {
    int r = set_domains(p, ad);
    if (r == -1) {
      fail(o, 400, "AdditionalDomains: a list of domains");
      return -1;
    }
    if (r == -2) {
      fail(o, 500, "out of memory");
      return -1;
    }
  }
  if (bad) {
    fail(o, 400, "a partner field has the wrong type (strings, booleans, a number)");
    return -1;
  }
  if (!p->description) {
    fail(o, 500, "out of memory");
    return -1;
  }
  return 0;
}

static void run_partner_list(op_env *e, const char *domain, op_out *o) {
  char err[1024];
  memset(o, 0, sizeof *o);
  o->status = 200;
  if (domain) {
    sx_partner_rec p;
    if (!st_ok(o, sx_store_partner_get(e->st, domain, &p, err, sizeof err), err)) return;
    o->data = sx_json_partner(&p);
    sx_partner_rec_free(&p);
  } else {
    sx_partner_rec *v;
    size_t n;
    if (!st_ok(o, sx_store_partner_list(e->st, &v, &n, err, sizeof err), err)) return;
    o->data = cJSON_CreateArray();
    for (size_t i = 0; o->data && i < n; i++) cJSON_AddItemToArray(o->data, sx_json_partner(&v[i]));
    sx_partner_list_free(v, n);
  }
  if (!o->data) fail(o, 500, "out of memory");
}

static void run_partner_write(op_env *e, const cJSON *in, const char *update_domain, op_out *o) {
  char err[1024], warn[1024] = "";
  memset(o, 0, sizeof *o);
  sx_partner_rec p;
  int create = update_domain == NULL;
  if (create) {
    int bad = 0;
    const char *d = get_str(in, "domain", NULL, 0, &bad);
    if (!d || !*d) {
      fail(o, 400, "domain: missing (the partner's primary XMPP domain)");
      return;
    }
    if (sx_partner_rec_init(&p, d)) {
      fail(o, 500, "out of memory");
      return;
    }
  } else {
    if (!st_ok(o, sx_store_partner_get(e->st, update_domain, &p, err, sizeof err), err)) return;
    char nd[SX_JID_PART_MAX + 1];
    if (sx_domain_normalize(update_domain, nd, sizeof nd, NULL, 0) == 0 && strcmp(nd, p.domain)) {
      fail(o, 400, "%s is an additional domain of partner %s; use: partner set %s ...", nd,
           p.domain, p.domain);
      sx_partner_rec_free(&p);
      return;
    }
  }
  if (apply_partner(in, &p, o) == 0 &&
      st_ok(o, sx_partner_check_served(e->cfg, &p, err, sizeof err), err)) {
    sx_st st = create ? sx_store_partner_new(e->st, &p, warn, sizeof warn, err, sizeof err)
                      : sx_store_partner_update(e->st, &p, warn, sizeof warn, err, sizeof err);
    if (st_ok(o, st, err)) {
      snprintf(o->warn, sizeof o->warn, "%s", warn);
      char nd[SX_JID_PART_MAX + 1];
      if (sx_domain_normalize(p.domain, nd, sizeof nd, NULL, 0) != 0) snprintf(nd, sizeof nd, "%s", p.domain);
      e->changed = 1;
      sx_info("admin", "partner %s %s", nd, create ? "created" : "changed");
      run_partner_list(e, nd, o);
      snprintf(o->warn, sizeof o->warn, "%s", warn);
      if (o->status == 200 && create) o->status = 201;
    }
  }
  sx_partner_rec_free(&p);
}

static void run_partner_remove(op_env *e, const char *domain, op_out *o) {
  char err[1024];
  memset(o, 0, sizeof *o);
  if (!domain || !*domain) {
    fail(o, 400, "domain: missing");
    return;
  }
  if (!st_ok(o, sx_store_partner_remove(e->st, domain, err, sizeof err), err)) return;
  o->status = 200;
  e->changed = 1;
  sx_info("admin", "partner %s removed", domain);
}

/* ---- policies -------------------------------------------------------------------------------- */

static void run_policy_list(op_env *e, const char *name, op_out *o) {
  char err[1024];
  memset(o, 0, sizeof *o);
  o->status = 200;
  if (name) {
    sx_policy_rec p;
    if (!st_ok(o, sx_store_policy_get(e->st, name, &p, err, sizeof err), err)) return;
    o->data = sx_json_policy(&p);
    sx_policy_rec_free(&p);
  } else {
    sx_policy_rec *v;
    size_t n;
    if (!st_ok(o, sx_store_policy_list(e->st, &v, &n, err, sizeof err), err)) return;
    o->data = cJSON_CreateArray();
    for (size_t i = 0; o->data && i < n; i++) cJSON_AddItemToArray(o->data, sx_json_policy(&v[i]));
    sx_policy_list_free(v, n);
  }
  if (!o->data) fail(o, 500, "out of memory");
}

static void run_policy_write(op_env *e, const cJSON *in, const char *update_name, op_out *o) {
  char err[1024];
  memset(o, 0, sizeof *o);
  unsigned mask = 0, flags = 0;
  for (size_t i = 0; i < SX_POL_NFLAGS; i++) {
    int b = get_bool(in, SX_POL_FLAGS[i].lync);
    if (b == -2) {
      fail(o, 400, "%s: use true or false", SX_POL_FLAGS[i].lync);
      return;
    }
    if (b < 0) continue;
    mask |= SX_POL_FLAGS[i].flag;
    if (b) flags |= SX_POL_FLAGS[i].flag;
  }
  int bad = 0;
  const char *desc = get_str(in, "Description", NULL, 0, &bad);
  const char *name = update_name ? update_name : get_str(in, "name", NULL, 0, &bad);
  if (bad) {
    fail(o, 400, "a policy field has the wrong type (strings and booleans)");
    return;
  }
  if (!name || !*name) {
    fail(o, 400, "name: missing (global, site:SITE or a tag)");
    return;
  }
  sx_st st = update_name ? sx_store_policy_set(e->st, name, mask, flags, desc, err, sizeof err)
                         : sx_store_policy_new(e->st, name, flags, desc, err, sizeof err);
  if (!st_ok(o, st, err)) return;
  e->changed = 1;
  sx_info("admin", "policy %s %s", name, update_name ? "changed" : "created");
  run_policy_list(e, name, o);
  if (o->status == 200 && !update_name) o->status = 201;
}

static void run_policy_remove(op_env *e, const char *name, int force, op_out *o) {
  char err[1024];
  memset(o, 0, sizeof *o);
  if (!name || !*name) {
    fail(o, 400, "name: missing");
    return;
  }
  if (!st_ok(o, sx_store_policy_remove(e->st, name, force, err, sizeof err), err)) return;
  o->status = 200;
  e->changed = 1;
  sx_info("admin", "policy %s removed", name);
}

static void run_policy_grant(op_env *e, const char *tag, const char *user, op_out *o) {
  char err[1024];
  memset(o, 0, sizeof *o);
  char *key = NULL;
  if (user && !(key = key_of(o, "user", user))) return;
  long changed = 0;
  sx_st st = sx_store_policy_grant(e->st, tag && *tag ? tag : NULL, key, &changed, err, sizeof err);
  if (st_ok(o, st, err)) {
    o->status = 200;
    o->data = cJSON_CreateObject();
    if (o->data) {
      sx_json_str(o->data, "policy", tag && *tag ? tag : NULL);
      sx_json_str(o->data, "user", key);
      cJSON_AddNumberToObject(o->data, "changed", (double)changed);
    }
    if (!key && tag && *tag && changed == 0)
      snprintf(o->warn, sizeof o->warn,
               "the store has no users, so nothing was granted; users not in the store get "
               "their site policy or the global policy");
    e->changed = 1;
    sx_info("admin", "policy %s granted to %s", tag && *tag ? tag : "(none)", key ? key : "all users");
  }
  free(key);
}

/* ---- users ----------------------------------------------------------------------------------- */

static void run_user_get(op_env *e, const char *user, op_out *o) {
  char err[1024];
  memset(o, 0, sizeof *o);
  char *key = key_of(o, "user", user);
  if (!key) return;
  sx_user_rec u;
  if (st_ok(o, sx_store_user_get(e->st, key, &u, err, sizeof err), err)) {
    o->status = 200;
    if (!(o->data = sx_json_user(e->st, &u))) fail(o, 500, "out of memory");
    sx_user_rec_free(&u);
  }
  free(key);
}

static void run_user_list(op_env *e, const char *q, const char *site, const char *policy,
                          size_t limit, op_out *o) {
  char err[1024];
  memset(o, 0, sizeof *o);
  sx_user_rec *v;
  size_t n;
  if (!st_ok(o, sx_store_user_list(e->st, site && *site ? site : NULL,
                                   policy && *policy ? policy : NULL, &v, &n, err, sizeof err),
             err))
    return;
  o->status = 200;
  o->data = cJSON_CreateObject();
  cJSON *arr = o->data ? cJSON_AddArrayToObject(o->data, "users") : NULL;
  size_t matched = 0;
  for (size_t i = 0; arr && i < n; i++) {
    if (q && *q && !strcasestr(v[i].key, q)) continue;
    if (matched++ < limit) cJSON_AddItemToArray(arr, sx_json_user(NULL, &v[i]));
  }
  if (o->data) {
    cJSON_AddNumberToObject(o->data, "matched", (double)matched);
    cJSON_AddBoolToObject(o->data, "truncated", matched > limit);
  }
  sx_user_list_free(v, n);
  if (!arr) fail(o, 500, "out of memory");
}

static void run_user_write(op_env *e, const cJSON *in, const char *update_user, op_out *o) {
  char err[1024];
  memset(o, 0, sizeof *o);
  int bad = 0;
  const char *uri = update_user ? update_user : get_str(in, "uri", NULL, 0, &bad);
  if (!uri) uri = get_str(in, "user", NULL, 0, &bad);
  const char *site = get_str(in, "site", NULL, 0, &bad);
  const char *policy = get_str(in, "policy", NULL, 0, &bad);
  if (bad) {
    fail(o, 400, "a user field has the wrong type (strings)");
    return;
  }
  if (update_user && !site && !policy && !item(in, "site") && !item(in, "policy")) {
    fail(o, 400, "nothing to change (give site or policy)");
    return;
  }
  /* null clears, as "" does */
  if (update_user && !site && cJSON_IsNull(item(in, "site"))) site = "";
  if (update_user && !policy && cJSON_IsNull(item(in, "policy"))) policy = "";
  char *key = key_of(o, "user", uri);
  if (!key) return;
  sx_st st = update_user ? sx_store_user_set(e->st, key, site, policy, err, sizeof err)
                         : sx_store_user_add(e->st, key, site, policy, err, sizeof err);
  if (st_ok(o, st, err)) {
    const char *at = strrchr(key, '@');
    if (at && !sx_config_serves(e->cfg, at + 1))
      snprintf(o->warn, sizeof o->warn,
               "%s is not in a domain this gateway serves; the daemon will not treat it as an "
               "internal user",
               at + 1);
    char keep[sizeof o->warn];
    memcpy(keep, o->warn, sizeof keep);
    e->changed = 1;
    sx_info("admin", "user %s %s", key, update_user ? "changed" : "added");
    run_user_get(e, key, o);
    memcpy(o->warn, keep, sizeof keep);
    if (o->status == 200 && !update_user) o->status = 201;
  }
  free(key);
}

static void run_user_remove(op_env *e, const char *user, op_out *o) {
  char err[1024];
  memset(o, 0, sizeof *o);
  char *key = key_of(o, "user", user);
  if (!key) return;
  if (st_ok(o, sx_store_user_remove(e->st, key, err, sizeof err), err)) {
    o->status = 200;
    e->changed = 1;
    sx_info("admin", "user %s removed", key);
  }
  free(key);
}

typedef struct {
  cJSON *errors;
  const char *source;
  size_t count;
} import_ctx;

#define MAX_IMPORT_ERRORS 1000

static void on_bad(void *ud, long line, const char *reason) {
  import_ctx *c = ud;
  char msg[1400];
  if (c->count++ >= MAX_IMPORT_ERRORS) return;
  snprintf(msg, sizeof msg, "%s:%ld: %s", c->source, line, reason);
  if (c->errors) cJSON_AddItemToArray(c->errors, cJSON_CreateString(msg));
}

static void run_user_import(op_env *e, const char *text, size_t len, const char *source,
                            int skip_bad, op_out *o) {
  char err[1024];
  memset(o, 0, sizeof *o);
  if (!text) {
    fail(o, 400, "no CSV data (send text/csv, or choose a file)");
    return;
  }
  o->data = cJSON_CreateObject();
  import_ctx c = {o->data ? cJSON_AddArrayToObject(o->data, "errors") : NULL, source, 0};
  sx_import_counts n;
  memset(&n, 0, sizeof n);
  sx_st st = SX_ST_OK; /* an empty file imports nothing */
  if (len) {
    FILE *f = fmemopen((void *)text, len, "r");
    if (!f) {
      fail(o, 500, "out of memory");
      return;
    }
    st = sx_user_import(e->st, f, source, skip_bad, on_bad, &c, &n, err, sizeof err);
    fclose(f);
  }
  if (o->data) {
    cJSON_AddNumberToObject(o->data, "added", (double)n.added);
    cJSON_AddNumberToObject(o->data, "updated", (double)n.updated);
    cJSON_AddNumberToObject(o->data, "skipped", (double)n.bad);
    if (c.count > MAX_IMPORT_ERRORS)
      cJSON_AddNumberToObject(o->data, "errors_not_shown", (double)(c.count - MAX_IMPORT_ERRORS));
  }
  if (st) {
    fail(o, status_of(st), "%s", err);
    return;
  }
  o->status = 200;
  if (n.bad) snprintf(o->warn, sizeof o->warn, "%ld bad line(s) skipped", n.bad);
  e->changed = 1;
  sx_info("admin", "imported %ld user(s) from %s", n.added + n.updated, source);
}

/* ---- relations and check --------------------------------------------------------------------- */

static void run_relations(op_env *e, const char *user, op_out *o) {
  char err[1024];
  memset(o, 0, sizeof *o);
  char *key = key_of(o, "user", user);
  if (!key) return;
  sx_contact_rec *v;
  size_t n;
  if (st_ok(o, sx_store_contact_list(e->st, key, &v, &n, err, sizeof err), err)) {
    sx_policy_snap *snap = sx_store_snapshot(e->st, err, sizeof err);
    if (!snap) {
      sx_contact_list_free(v, n);
      st_ok(o, SX_ST_ERROR, err);
      free(key);
      return;
    }
    o->status = 200;
    o->data = cJSON_CreateObject();
    cJSON *arr = o->data ? cJSON_AddArrayToObject(o->data, "contacts") : NULL;
    if (o->data) cJSON_AddStringToObject(o->data, "user", key);
    for (size_t i = 0; arr && i < n; i++) cJSON_AddItemToArray(arr, sx_json_contact(&v[i], snap));
    sx_snap_free(snap);
    sx_contact_list_free(v, n);
    if (!arr) fail(o, 500, "out of memory");
  }
  free(key);
}

static void run_check(op_env *e, const char *user, const char *contact, const char *direction,
                      const char *kind, op_out *o) {
  char err[1024];
  memset(o, 0, sizeof *o);
  sx_pdir dir = SX_DIR_OUT;
  sx_kind k = SX_KIND_MESSAGE;
  if (direction && *direction && strcmp(direction, "outbound")) {
    if (strcmp(direction, "inbound")) {
      fail(o, 400, "direction '%s': use inbound or outbound", direction);
      return;
    }
    dir = SX_DIR_IN;
  }
  if (kind && *kind && strcmp(kind, "im")) {
    if (!strcmp(kind, "subscribe"))
      k = SX_KIND_SUBSCRIBE;
    else if (!strcmp(kind, "presence"))
      k = SX_KIND_PRESENCE;
    else if (!strcmp(kind, "probe"))
      k = SX_KIND_PROBE;
    else {
      fail(o, 400, "kind '%s': use im, subscribe, presence or probe", kind);
      return;
    }
  }
  char *u = key_of(o, "user", user);
  if (!u) return;
  char *c = key_of(o, "contact", contact);
  if (!c) {
    free(u);
    return;
  }
  sx_check_result r;
  if (st_ok(o, sx_check_run(e->st, u, c, dir, k, &r, err, sizeof err), err)) {
    o->status = 200;
    o->data = sx_json_check(&r, u, c, dir, k);
    char *text = sx_check_text(&r, u, c, dir, k);
    char *warn = sx_check_warnings(e->cfg, u, c);
    if (o->data && text) cJSON_AddStringToObject(o->data, "text", text);
    if (o->data && warn) cJSON_AddStringToObject(o->data, "warnings", warn);
    if (warn) snprintf(o->warn, sizeof o->warn, "%s", warn);
    free(text);
    free(warn);
    sx_check_result_free(&r);
    if (!o->data) fail(o, 500, "out of memory");
  }
  free(u);
  free(c);
}

/* ---- console logins -------------------------------------------------------------------------- */

static void run_admin_verify(op_env *e, const char *name, const char *password, op_out *o) {
  memset(o, 0, sizeof *o);
  o->st = sx_store_admin_verify(e->st, name ? name : "", password ? password : "", o->err,
                                sizeof o->err);
  o->status = status_of(o->st);
}

static void run_admin_updated(op_env *e, const char *name, op_out *o) {
  int64_t updated = 0;
  memset(o, 0, sizeof *o);
  o->st = sx_store_admin_updated(e->st, name, &updated, o->err, sizeof o->err);
  o->status = status_of(o->st);
  if (o->st == SX_ST_OK && !(o->data = cJSON_CreateNumber((double)updated))) {
    o->st = SX_ST_ERROR;
    fail(o, 500, "out of memory");
  }
}

/* ---- in the pool, and the loop's entry points ------------------------------------------------- */

void admin_op_exec(op_env *e, const op_call *c, op_out *o) {
  const char *const *s = c->s;
  switch (c->kind) {
  case OP_PARTNER_LIST: run_partner_list(e, s[0], o); break;
  case OP_PARTNER_WRITE: run_partner_write(e, c->in, s[0], o); break;
  case OP_PARTNER_REMOVE: run_partner_remove(e, s[0], o); break;
  case OP_POLICY_LIST: run_policy_list(e, s[0], o); break;
  case OP_POLICY_WRITE: run_policy_write(e, c->in, s[0], o); break;
  case OP_POLICY_REMOVE: run_policy_remove(e, s[0], (int)c->num, o); break;
  case OP_POLICY_GRANT: run_policy_grant(e, s[0], s[1], o); break;
  case OP_USER_GET: run_user_get(e, s[0], o); break;
  case OP_USER_LIST: run_user_list(e, s[0], s[1], s[2], (size_t)c->num, o); break;
  case OP_USER_WRITE: run_user_write(e, c->in, s[0], o); break;
  case OP_USER_REMOVE: run_user_remove(e, s[0], o); break;
  case OP_USER_IMPORT: run_user_import(e, c->text, c->len, s[0], (int)c->num, o); break;
  case OP_RELATIONS: run_relations(e, s[0], o); break;
  case OP_CHECK: run_check(e, s[0], s[1], s[2], s[3], o); break;
  case OP_ADMIN_VERIFY: run_admin_verify(e, s[0], s[1], o); break;
  case OP_ADMIN_UPDATED: run_admin_updated(e, s[0], o); break;
  default:
    memset(o, 0, sizeof *o);
    fail(o, 500, "unknown operation");
  }
}

void op_partner_list(admin_req *q, const char *domain, op_out *o) {
  admin_call(q, &(op_call){.kind = OP_PARTNER_LIST, .s = {domain}}, o);
}

void op_partner_write(admin_req *q, const cJSON *in, const char *update_domain, op_out *o) {
  admin_call(q, &(op_call){.kind = OP_PARTNER_WRITE, .in = in, .s = {update_domain}}, o);
}

void op_partner_remove(admin_req *q, const char *domain, op_out *o) {
  admin_call(q, &(op_call){.kind = OP_PARTNER_REMOVE, .s = {domain}}, o);
}

void op_policy_list(admin_req *q, const char *name, op_out *o) {
  admin_call(q, &(op_call){.kind = OP_POLICY_LIST, .s = {name}}, o);
}

void op_policy_write(admin_req *q, const cJSON *in, const char *update_name, op_out *o) {
  admin_call(q, &(op_call){.kind = OP_POLICY_WRITE, .in = in, .s = {update_name}}, o);
}

void op_policy_remove(admin_req *q, const char *name, int force, op_out *o) {
  admin_call(q, &(op_call){.kind = OP_POLICY_REMOVE, .s = {name}, .num = force}, o);
}

void op_policy_grant(admin_req *q, const char *tag, const char *user, op_out *o) {
  admin_call(q, &(op_call){.kind = OP_POLICY_GRANT, .s = {tag, user}}, o);
}

void op_user_get(admin_req *q, const char *user, op_out *o) {
  admin_call(q, &(op_call){.kind = OP_USER_GET, .s = {user}}, o);
}

void op_user_list(admin_req *q, const char *filter, const char *site, const char *policy,
                  size_t limit, op_out *o) {
  admin_call(q, &(op_call){.kind = OP_USER_LIST, .s = {filter, site, policy}, .num = (long)limit},
             o);
}

void op_user_write(admin_req *q, const cJSON *in, const char *update_user, op_out *o) {
  admin_call(q, &(op_call){.kind = OP_USER_WRITE, .in = in, .s = {update_user}}, o);
}

void op_user_remove(admin_req *q, const char *user, op_out *o) {
  admin_call(q, &(op_call){.kind = OP_USER_REMOVE, .s = {user}}, o);
}

void op_user_import(admin_req *q, const char *text, size_t len, const char *source,
                    int skip_bad, op_out *o) {
  admin_call(q,
             &(op_call){.kind = OP_USER_IMPORT, .text = text, .len = len, .s = {source},
                        .num = skip_bad},
             o);
}

void op_relations(admin_req *q, const char *user, op_out *o) {
  admin_call(q, &(op_call){.kind = OP_RELATIONS, .s = {user}}, o);
}

void op_check(admin_req *q, const char *user, const char *contact, const char *direction,
              const char *kind, op_out *o) {
  admin_call(q, &(op_call){.kind = OP_CHECK, .s = {user, contact, direction, kind}}, o);
}

void op_admin_verify(admin_req *q, const char *name, const char *password, op_out *o) {
  admin_call(q, &(op_call){.kind = OP_ADMIN_VERIFY, .s = {name, password}}, o);
}

void op_admin_updated(admin_req *q, const char *name, op_out *o) {
  admin_call(q, &(op_call){.kind = OP_ADMIN_UPDATED, .s = {name}}, o);
}
