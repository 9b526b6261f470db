/* The console's listener: libmicrohttpd on the loop (mhd_loop.c), request bodies, the login,
 * session cookies, CSRF checks, security headers and routing to the API and the pages.
 *
 * Every path but /login, /api/login and the two static files needs a live session; a
 * state-changing request (POST, PUT, DELETE) also needs the session's CSRF token, in the
 * X-CSRF-Token header or a "csrf" form field.
 *
 * Every store statement of a request (a login's password check, scrypt ~0.1 s, the session's
 * check that its admin still exists, the pages' and the API's operations) runs in libuv's
 * thread pool while the connection is suspended (admin_calls.c), so SIP and XMPP traffic
 * never waits for the store; the request is then handled again with the result. Failed
 * logins are throttled per address and overall, and logged. */
#include "gateway/admin.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "gateway/access.h"
#include "gateway/admin_internal.h"
#include "translate/log.h"

extern const char sx_admin_css[];
extern const char sx_admin_js[];

/* ---- per-request state ------------------------------------------------------------------ */

typedef struct {
  char *key, *val, *filename;
  size_t len;
} field;

typedef struct {
  char *buf;
  size_t len, cap;
  int too_big;
  field *fields;
  size_t n_fields;
  int bad_form;
  admin_calls *calls; /* the request's store operations */
} req_state;

static void state_free(req_state *s) {
  if (!s) return;
  admin_calls_free(s->calls);
  free(s->buf);
  for (size_t i = 0; i < s->n_fields; i++) {
    free(s->fields[i].key);
    free(s->fields[i].val);
    free(s->fields[i].filename);
  }
  free(s->fields);
  free(s);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)c;
  (void)toe;
  state_free(*req_cls);
  *req_cls = NULL;
}

#define MAX_FIELDS 64

static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *filename, const char *content_type,
                                const char *transfer_encoding, const char *data, uint64_t off,
                                size_t size) {
  req_state *s = cls;
  (void)kind;
  (void)content_type;
  (void)transfer_encoding;
  field *f = s->n_fields ? &s->fields[s->n_fields - 1] : NULL;
  if (!f || off == 0 || strcmp(f->key, key) != 0) {
    if (s->n_fields == MAX_FIELDS) {
      s->bad_form = 1;
      return MHD_NO;
    }
    field *nv = realloc(s->fields, (s->n_fields + 1) * sizeof *nv);
    if (!nv) return MHD_NO;
    s->fields = nv;
    f = &s->fields[s->n_fields++];
    memset(f, 0, sizeof *f);
    f->key = strdup(key);
    f->filename = filename ? strdup(filename) : NULL;
    f->val = calloc(1, 1);
    if (!f->key || !f->val || (filename && !f->filename)) return MHD_NO;
  }
  char *nv = realloc(f->val, f->len + size + 1);
  if (!nv) return MHD_NO;
  f->val = nv;
  memcpy(f->val + f->len, data, size);
  f->len += size;
  f->val[f->len] = 0;
  return MHD_YES;
}

/* Parses a form body (urlencoded or multipart) with libmicrohttpd's post processor. Returns
 * 1 when the body was a form. */
static int parse_form(struct MHD_Connection *c, req_state *s, admin_req *q) {
  const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (!ct || (strncasecmp(ct, "application/x-www-form-urlencoded", 33) &&
              strncasecmp(ct, "multipart/form-data", 19)))
    return 0;
  /* parsed afresh each time the request is handled (again after a password check) */
  for (size_t i = 0; i < s->n_fields; i++) {
    free(s->fields[i].key);
    free(s->fields[i].val);
    free(s->fields[i].filename);
  }
  s->n_fields = 0;
  struct MHD_PostProcessor *pp = MHD_create_post_processor(c, 8192, on_field, s);
  if (!pp) {
    s->bad_form = 1;
    return 1;
  }
  if (s->len && MHD_post_process(pp, s->buf, s->len) != MHD_YES) s->bad_form = 1;
  MHD_destroy_post_processor(pp);
  q->form = cJSON_CreateObject();
  if (!q->form) {
    s->bad_form = 1;
    return 1;
  }
  for (size_t i = 0; i < s->n_fields; i++) {
    field *f = &s->fields[i];
    if (f->filename) {
      q->upload = f->val;
      q->upload_len = f->len;
      q->upload_name = f->filename[0] ? f->filename : "upload.csv";
      continue;
    }
    if (strlen(f->val) != f->len) {
      s->bad_form = 1; /* a NUL byte in a text field */
      continue;
    }
    /* a later field of the same name wins (checkbox after its hidden "off") */
    cJSON_DeleteItemFromObjectCaseSensitive(q->form, f->key);
    cJSON_AddStringToObject(q->form, f->key, f->val);
  }
  return 1;
}

/* ---- responses -------------------------------------------------------------------------- */

void resp_take(admin_resp *r, unsigned status, const char *ctype, char *body, size_t len) {
  free(r->body);
  r->status = status;
  r->ctype = ctype;
  r->body = body;
  r->len = len;
}

void resp_json(admin_resp *r, unsigned status, cJSON *v) {
  char *s = v ? cJSON_PrintUnformatted(v) : NULL;
  cJSON_Delete(v);
  if (!s) {
    resp_take(r, 500, "application/json", strdup("{\"error\":\"out of memory\"}"), 25);
    return;
  }
  resp_take(r, status, "application/json", s, strlen(s));
}

void resp_error(admin_resp *r, unsigned status, const char *msg) {
  hbuf b;
  if (r->html && hb_open(&b) == 0) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>sipxmpp"
          "</title><link rel=\"stylesheet\" href=\"/static/console.css\"></head><body><main>",
          b.f);
    h_msg(b.f, "error", msg);
    fputs("<a href=\"/\">Back to the console</a></main></body></html>\n", b.f);
    r->html = 0; /* hb_finish reports its own failure as JSON */
    hb_finish(&b, r, status);
    return;
  }
  cJSON *o = cJSON_CreateObject();
  if (o) cJSON_AddStringToObject(o, "error", msg);
  resp_json(r, status, o);
}

void resp_redirect(admin_resp *r, const char *location) {
  snprintf(r->location, sizeof r->location, "%s", location);
  resp_take(r, 303, "text/plain; charset=utf-8", strdup("see other\n"), 10);
}

const char *req_arg(const admin_req *q, const char *name) {
  return MHD_lookup_connection_value(q->c, MHD_GET_ARGUMENT_KIND, name);
}

const char *form_str(const admin_req *q, const char *name) {
  const cJSON *v = q->form ? cJSON_GetObjectItemCaseSensitive(q->form, name) : NULL;
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

void admin_changed(sx_admin *a) {
  if (a->gw->access) sx_access_reload(a->gw->access);
}

static enum MHD_Result send_resp(struct MHD_Connection *c, admin_resp *r, int head) {
  if (!r->body) resp_error(r, 500, "no response");
  struct MHD_Response *m =
      MHD_create_response_from_buffer(head ? 0 : r->len, head ? (void *)"" : r->body,
                                      head ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_FREE);
  if (!m) {
    free(r->body);
    return MHD_NO;
  }
  if (head) free(r->body);
  r->body = NULL;
  MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
  MHD_add_response_header(m, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  MHD_add_response_header(m, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(m, "X-Frame-Options", "DENY");
  MHD_add_response_header(m, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(m, "Content-Security-Policy",
                          "default-src 'none'; style-src 'self'; script-src 'self'; "
                          "img-src 'self'; connect-src 'self'; form-action 'self'; "
                          "frame-ancestors 'none'; base-uri 'none'");
  if (r->location[0]) MHD_add_response_header(m, MHD_HTTP_HEADER_LOCATION, r->location);
  if (r->cookie[0]) MHD_add_response_header(m, MHD_HTTP_HEADER_SET_COOKIE, r->cookie);
  if (r->retry_after) {
    char ra[16];
    snprintf(ra, sizeof ra, "%u", r->retry_after);
    MHD_add_response_header(m, MHD_HTTP_HEADER_RETRY_AFTER, ra);
  }
  if (r->status == 405) MHD_add_response_header(m, MHD_HTTP_HEADER_ALLOW, "GET, HEAD, POST, PUT, DELETE");
  enum MHD_Result ret = MHD_queue_response(c, r->status, m);
  MHD_destroy_response(m);
  return ret;
}

/* ---- login ------------------------------------------------------------------------------ */

static void set_cookie(sx_admin *a, admin_resp *r, const char *value) {
  snprintf(r->cookie, sizeof r->cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s",
           ADMIN_COOKIE, value, a->tls ? "; Secure" : "", *value ? "" : "; Max-Age=0");
}

/* A client-supplied string for the log: printable ASCII only, cut with "..." (it is only
 * shown, never used). */
static void log_safe(const char *in, char *out, size_t n) {
  size_t i = 0;
  for (; in && *in && i + 4 < n; in++) out[i++] = *in >= 0x20 && *in < 0x7f ? *in : '?';
  if (in && *in && n >= 4) {
    memcpy(out + (i < n - 4 ? i : n - 4), "...", 4);
    return;
  }
  out[i] = 0;
}

/* Names as logged: the name when it is a valid admin name, else a placeholder. */
static const char *log_name(const char *name) {
  return name && sx_admin_name_check(name, NULL, 0) == 0 ? name : "(invalid name)";
}

/* Verifies name/password (the check runs off the loop: the first pass starts it and the
 * request waits, the second has the result). On success creates the session and sets the
 * cookie. Returns the session, or NULL with r holding the refusal (api: JSON, else the login
 * page) or q->pending set. */
static sx_admin_session *do_login(admin_req *q, admin_resp *r, const char *name,
                                  const char *password, int api) {
  sx_admin *a = q->a;
  uint64_t now = sx_gw_now(a->gw);
  unsigned retry = 0;
  if (!admin_call_ready(q) && !sx_throttle_allowed(a->sessions, q->addr, now, &retry)) {
    sx_warn("admin", "login refused for '%s' from %s: too many failed logins (retry in %u s)",
            log_name(name), q->addr, retry);
    char msg[160];
    snprintf(msg, sizeof msg, "too many failed logins; try again in %u s", retry);
    if (api)
      resp_error(r, 429, msg);
    else
      admin_login_page(q, r, 429, msg);
    r->retry_after = retry;
    return NULL;
  }
  op_out o;
  op_admin_verify(q, name, password, &o);
  op_out_free(&o);
  if (q->pending) return NULL;
  sx_st st = o.st;
  const char *err = o.err;
  if (st != SX_ST_OK) {
    if (st == SX_ST_ERROR) {
      sx_err("admin", "login for '%s' from %s: %s", log_name(name), q->addr, err);
    } else {
      sx_throttle_failed(a->sessions, q->addr, now);
      sx_warn("admin", "failed login for '%s' from %s", log_name(name), q->addr);
    }
    const char *msg = st == SX_ST_ERROR ? "the store cannot be read; see the daemon's log"
                                        : "wrong name or password";
    unsigned code = st == SX_ST_ERROR ? 500 : 401;
    if (api)
      resp_error(r, code, msg);
    else
      admin_login_page(q, r, code, msg);
    return NULL;
  }
  sx_throttle_succeeded(a->sessions, q->addr);
  sx_admin_session *s = sx_sessions_create(a->sessions, name, now);
  if (!s) {
    resp_error(r, 500, "no random bytes for a session");
    return NULL;
  }
  sx_info("admin", "'%s' logged in from %s", name, q->addr);
  set_cookie(a, r, s->id);
  return s;
}

/* ---- routing ---------------------------------------------------------------------------- */

static void serve_static(admin_resp *r, const char *ctype, const char *text) {
  resp_take(r, 200, ctype, strdup(text), strlen(text));
}

static int state_changing(const char *method) { return strcmp(method, "GET") != 0; }

static void route(admin_req *q, admin_resp *r) {
  sx_admin *a = q->a;
  int api = strncmp(q->path, "/api/", 5) == 0;
  if (!strcmp(q->path, "/static/console.css")) {
    serve_static(r, "text/css; charset=utf-8", sx_admin_css);
    return;
  }
  if (!strcmp(q->path, "/static/console.js")) {
    serve_static(r, "text/javascript; charset=utf-8", sx_admin_js);
    return;
  }
  if (!strcmp(q->path, "/login")) {
    if (!strcmp(q->method, "GET")) {
      admin_login_page(q, r, 200, NULL);
    } else if (!strcmp(q->method, "POST")) {
      if (do_login(q, r, form_str(q, "name"), form_str(q, "password"), 0)) resp_redirect(r, "/");
    } else {
      resp_error(r, 405, "method not allowed");
    }
    return;
  }
  if (!strcmp(q->path, "/api/login")) {
    if (strcmp(q->method, "POST")) {
      resp_error(r, 405, "method not allowed");
      return;
    }
    cJSON *in = cJSON_ParseWithLength(q->body ? q->body : "", q->body_len);
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(in, "name");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(in, "password");
    if (!cJSON_IsString(n) || !cJSON_IsString(p)) {
      cJSON_Delete(in);
      resp_error(r, 400, "send {\"name\": ..., \"password\": ...}");
      return;
    }
    sx_admin_session *s = do_login(q, r, n->valuestring, p->valuestring, 1);
    cJSON_Delete(in);
    if (!s) return;
    cJSON *o = cJSON_CreateObject();
    if (o) {
      cJSON_AddStringToObject(o, "user", s->user);
      cJSON_AddStringToObject(o, "csrf", s->csrf);
    }
    resp_json(r, 200, o); /* keeps the cookie do_login set */
    return;
  }

  const char *cookie = MHD_lookup_connection_value(q->c, MHD_COOKIE_KIND, ADMIN_COOKIE);
  q->sess = sx_sessions_find(a->sessions, cookie, sx_gw_now(a->gw));
  if (q->sess) {
    /* an administrator removed, or whose password changed since the login, is logged out */
    op_out o;
    op_admin_updated(q, q->sess->user, &o);
    if (q->pending) {
      op_out_free(&o);
      return;
    }
    sx_st st = o.st;
    int64_t updated = cJSON_IsNumber(o.data) ? (int64_t)o.data->valuedouble : 0;
    op_out_free(&o);
    if (st == SX_ST_ERROR) {
      sx_err("admin", "%s", o.err);
      resp_error(r, 500, "the store cannot be read; see the daemon's log");
      return;
    }
    if (st != SX_ST_OK || updated > q->sess->created) {
      sx_info("admin", "session of '%s' ended: the admin was %s", q->sess->user,
              st == SX_ST_OK ? "given a new password" : "removed");
      sx_sessions_end(a->sessions, q->sess);
      q->sess = NULL;
    }
  }
  if (!q->sess) {
    if (api)
      resp_error(r, 401, "log in first (POST /api/login)");
    else
      resp_redirect(r, "/login");
    return;
  }
  if (state_changing(q->method)) {
    const char *tok = MHD_lookup_connection_value(q->c, MHD_HEADER_KIND, "X-CSRF-Token");
    if (!tok) tok = form_str(q, "csrf");
    if (!sx_session_csrf_ok(q->sess, tok)) {
      char shown[120];
      log_safe(q->path, shown, sizeof shown);
      sx_warn("admin", "%s %s from %s refused: missing or wrong CSRF token", q->method, shown,
              q->addr);
      resp_error(r, 403, "missing or wrong CSRF token (reload the page)");
      return;
    }
  }
  if (!strcmp(q->path, "/logout") || !strcmp(q->path, "/api/logout")) {
    if (strcmp(q->method, "POST")) {
      resp_error(r, 405, "method not allowed");
      return;
    }
    sx_info("admin", "'%s' logged out", q->sess->user);
    sx_sessions_end(a->sessions, q->sess);
    q->sess = NULL;
    if (api)
      resp_json(r, 200, cJSON_CreateObject());
    else
      resp_redirect(r, "/login");
    set_cookie(a, r, "");
    return;
  }
  if (!strcmp(q->path, "/api/session")) {
    cJSON *o = cJSON_CreateObject();
    if (o) {
      cJSON_AddStringToObject(o, "user", q->sess->user);
      cJSON_AddStringToObject(o, "csrf", q->sess->csrf);
    }
    resp_json(r, 200, o);
    return;
  }
  if (api ? admin_api(q, r) : admin_pages(q, r)) return;
  if (api)
    resp_error(r, 404, "no such API path");
  else
    resp_take(r, 404, "text/plain; charset=utf-8", strdup("not found\n"), 10);
}

static void client_addr(struct MHD_Connection *c, char *out, size_t n) {
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  snprintf(out, n, "?");
  if (!ci || !ci->client_addr) return;
  const struct sockaddr *sa = ci->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)n);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls) {
  sx_admin *a = cls;
  (void)version;
  req_state *s = *req_cls;
  if (s && admin_calls_waiting(s->calls)) return MHD_NO; /* resumed to be closed (stop) */
  if (!s) {
    if (!(s = calloc(1, sizeof *s))) return MHD_NO;
    *req_cls = s;
    if (!(s->calls = admin_calls_new())) return MHD_NO;
    return MHD_YES;
  }
  if (*upload_data_size) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (s->too_big || s->len + n > ADMIN_MAX_BODY) {
      s->too_big = 1;
      return MHD_YES;
    }
    if (s->len + n + 1 > s->cap) {
      size_t nc = s->cap ? s->cap : 4096;
      while (nc < s->len + n + 1) nc *= 2;
      char *nb = realloc(s->buf, nc);
      if (!nb) return MHD_NO;
      s->buf = nb;
      s->cap = nc;
    }
    memcpy(s->buf + s->len, upload_data, n);
    s->len += n;
    s->buf[s->len] = 0;
    return MHD_YES;
  }

  admin_req q;
  admin_resp r;
  memset(&q, 0, sizeof q);
  memset(&r, 0, sizeof r);
  int head = !strcmp(method, "HEAD");
  q.a = a;
  q.c = c;
  q.method = head ? "GET" : method;
  q.path = url;
  q.body = s->buf ? s->buf : "";
  q.body_len = s->len;
  q.calls = s->calls;
  r.html = strncmp(url, "/api/", 5) != 0;
  client_addr(c, q.addr, sizeof q.addr);
  if (strcmp(q.method, "GET") && strcmp(q.method, "POST") && strcmp(q.method, "PUT") &&
      strcmp(q.method, "DELETE")) {
    resp_error(&r, 405, "method not allowed");
  } else if (s->too_big) {
    resp_error(&r, 413, "request body too large (at most 4 MiB)");
  } else if (!strcmp(q.method, "POST") && parse_form(c, s, &q) && s->bad_form) {
    resp_error(&r, 400, "malformed form data");
  } else {
    route(&q, &r);
  }
  cJSON_Delete(q.form);
  if (q.pending) {
    r.suspended = 1; /* handled again when the operation is done */
  } else if (q.flash_shown && q.sess) {
    q.sess->flash[0] = 0; /* shown on this page */
  }
  if (r.suspended) {
    free(r.body);
    return MHD_YES;
  }
  return send_resp(c, &r, head);
}

/* ---- start / stop ----------------------------------------------------------------------- */

static char *slurp(const char *path, char *err, size_t n) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, n, "cannot read %s", path);
    return NULL;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  char chunk[4096];
  size_t got;
  while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (len + got + 1 > 1024 * 1024) { /* a PEM file is never this big */
      free(buf);
      fclose(f);
      snprintf(err, n, "%s is larger than 1 MiB", path);
      return NULL;
    }
    if (len + got + 1 > cap) {
      cap = (len + got + 1) * 2;
      char *nb = realloc(buf, cap);
      if (!nb) {
        free(buf);
        fclose(f);
        snprintf(err, n, "out of memory");
        return NULL;
      }
      buf = nb;
    }
    memcpy(buf + len, chunk, got);
    len += got;
    buf[len] = 0;
  }
  fclose(f);
  if (!buf) snprintf(err, n, "%s is empty", path);
  return buf;
}

int sx_admin_start(sx_gw *gw, sx_admin **out, char *err, size_t n) {
  *out = NULL;
  sx_admin *a = calloc(1, sizeof *a);
  if (!a || !(a->sessions = malloc(sizeof *a->sessions))) {
    free(a);
    snprintf(err, n, "out of memory");
    return -1;
  }
  a->gw = gw;
  sx_sessions_init(a->sessions, (uint64_t)gw->cfg.admin_idle_s * 1000);
  a->queue_tail = &a->queue;
  if (!(a->job = sx_store_job_open(&gw->loop.uv, gw->cfg.store, err, n))) goto fail;
  char *cert = NULL, *key = NULL;
  if (gw->cfg.admin_cert_file) {
    if (!(cert = slurp(gw->cfg.admin_cert_file, err, n)) ||
        !(key = slurp(gw->cfg.admin_key_file, err, n))) {
      free(cert);
      goto fail;
    }
    a->tls = 1;
  }
  sx_mhd_opts o = {.handler = on_request,
                   .handler_cls = a,
                   .completed = on_completed,
                   .cert_pem = cert,
                   .key_pem = key,
                   .connection_limit = 32,
                   .timeout_s = 30,
                   .what = "the admin console",
                   .flags = MHD_ALLOW_SUSPEND_RESUME};
  int rc = sx_mhd_start(&gw->loop.uv, gw->cfg.admin_host, gw->cfg.admin_port, &o, &a->mhd, err, n);
  if (key) {
    explicit_bzero(key, strlen(key));
    free(key);
  }
  free(cert);
  if (rc) goto fail;
  if (!(a->status = sx_admin_status_new(gw))) {
    snprintf(err, n, "out of memory");
    goto fail;
  }
  *out = a;
  return 0;
fail:
  sx_admin_stop(a);
  return -1;
}

unsigned sx_admin_port(const sx_admin *a) { return a ? sx_mhd_port(a->mhd) : 0; }

void sx_admin_stop(sx_admin *a) {
  if (!a) return;
  admin_calls_stop(a); /* the waiting requests resumed, to be closed */
  sx_mhd_stop(a->mhd);
  admin_calls_close(a);
  sx_admin_status_free(a->status);
  if (a->sessions) explicit_bzero(a->sessions, sizeof *a->sessions);
  free(a->sessions);
  free(a);
}
