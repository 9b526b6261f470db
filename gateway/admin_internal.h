/* Internals shared by the console's files (admin_*.c); see admin.h. Everything runs on the
 * loop thread.
 *
 * Ownership: an admin_req and everything it points to belongs to admin_http.c for the
 * duration of one request; handlers fill an admin_resp whose body is malloc'd and handed
 * to libmicrohttpd. op_out.data is a cJSON value owned by the op_out (op_out_free). */
#ifndef SX_GATEWAY_ADMIN_INTERNAL_H
#define SX_GATEWAY_ADMIN_INTERNAL_H
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <stdio.h>

#include "conf/store.h"
#include "gateway/admin.h"
#include "gateway/admin_session.h"
#include "gateway/admin_status.h"
#include "gateway/gateway.h"
#include "gateway/mhd_loop.h"

#define ADMIN_MAX_BODY (4u * 1024 * 1024) /* CSV uploads included */
#define ADMIN_COOKIE "sxadmin"

typedef struct login_job login_job;

struct sx_admin {
  sx_gw *gw;
  sx_mhd *mhd;
  sx_store *store; /* the console's own handle */
  sx_admin_sessions *sessions;
  sx_admin_status *status;
  int tls;
  login_job *jobs; /* password checks running in libuv's thread pool */
};

/* A login's password check, done off the loop while its connection is suspended. */
typedef struct {
  int started, done;
  sx_st st;
  char err[256];
} admin_login_slot;

typedef struct {
  sx_admin *a;
  struct MHD_Connection *c;
  const char *method; /* "GET" (also for HEAD), "POST", "PUT", "DELETE" */
  const char *path;
  sx_admin_session *sess; /* NULL before login */
  const char *body;       /* raw body (JSON, CSV), NUL-terminated; len without the NUL */
  size_t body_len;
  cJSON *form;            /* form fields of a form POST (strings), else NULL */
  const char *upload;     /* a file field's content (form POST), or NULL */
  size_t upload_len;
  const char *upload_name;
  char addr[64];          /* client address */
  admin_login_slot *login; /* the request's password check */
} admin_req;

typedef struct {
  unsigned status;
  char *body; /* malloc'd */
  size_t len;
  const char *ctype;
  char location[600];
  char cookie[200];
  unsigned retry_after;
  int suspended; /* no response yet: the connection waits for a password check */
  int html;      /* resp_error answers with a page (page paths), not JSON (API paths) */
} admin_resp;

/* ---- request and response helpers (admin_http.c) ------------------------------------- */

const char *req_arg(const admin_req *q, const char *name); /* query argument or NULL */
const char *form_str(const admin_req *q, const char *name); /* form field or NULL */
void resp_json(admin_resp *r, unsigned status, cJSON *v);   /* takes v (NULL: 500) */
/* {"error": msg}, or a small page saying msg when r->html */
void resp_error(admin_resp *r, unsigned status, const char *msg);
void resp_redirect(admin_resp *r, const char *location);    /* 303 */
void resp_take(admin_resp *r, unsigned status, const char *ctype, char *body, size_t len);
/* The store changed: rebuild the daemon's snapshot now rather than at the next poll. */
void admin_changed(sx_admin *a);

/* ---- operations (admin_ops.c) ---------------------------------------------------------- */

typedef struct {
  unsigned status;  /* HTTP status: 200, 201, 400 (invalid), 404, 409, 500 */
  char err[1400];   /* the message when status >= 400: the CLI's words */
  char warn[1400];  /* a warning (saved anyway), or "" */
  cJSON *data;      /* the resulting object(s), or NULL */
} op_out;

void op_out_free(op_out *o);

/* in: an object with the fields of the JSON forms (gateway/store_json.h); booleans may be
 * JSON booleans or "on"/"off"/"true"/"false" strings, lists arrays or comma-separated. */
void op_partner_write(sx_admin *a, const cJSON *in, const char *update_domain, op_out *o);
void op_partner_remove(sx_admin *a, const char *domain, op_out *o);
void op_partner_list(sx_admin *a, const char *domain, op_out *o); /* domain NULL: all */
void op_policy_write(sx_admin *a, const cJSON *in, const char *update_name, op_out *o);
void op_policy_remove(sx_admin *a, const char *name, int force, op_out *o);
void op_policy_list(sx_admin *a, const char *name, op_out *o);
/* tag NULL: remove the grant; user NULL: every user in the store */
void op_policy_grant(sx_admin *a, const char *tag, const char *user, op_out *o);
void op_user_write(sx_admin *a, const cJSON *in, const char *update_user, op_out *o);
void op_user_remove(sx_admin *a, const char *user, op_out *o);
/* q filters by substring of the key (case-insensitive); site/policy as sipxmppctl */
void op_user_list(sx_admin *a, const char *q, const char *site, const char *policy,
                  size_t limit, op_out *o);
void op_user_get(sx_admin *a, const char *user, op_out *o);
/* data: {"added","updated","skipped","errors":["FILE:LINE: reason",...]} */
void op_user_import(sx_admin *a, const char *text, size_t len, const char *source,
                    int skip_bad, op_out *o);
void op_relations(sx_admin *a, const char *user, op_out *o);
/* data: the check JSON plus "text" (the lines sipxmppctl check prints) and "warnings" */
void op_check(sx_admin *a, const char *user, const char *contact, const char *direction,
              const char *kind, op_out *o);

/* ---- JSON API and pages ----------------------------------------------------------------- */

/* 1 when the path is the API's (then r is filled). */
int admin_api(admin_req *q, admin_resp *r);
/* 1 when the path is a page's (then r is filled). */
int admin_pages(admin_req *q, admin_resp *r);
void admin_login_page(admin_req *q, admin_resp *r, unsigned status, const char *error);

/* ---- HTML helpers (admin_forms.c) -------------------------------------------------------- */

void h_esc(FILE *f, const char *s); /* HTML-escaped text, NULL as "" */
void h_begin(FILE *f, const admin_req *q, const char *title, const char *active);
void h_end(FILE *f);
void h_flash(FILE *f, admin_req *q); /* shows and clears the session's message */
void h_msg(FILE *f, const char *cls, const char *text); /* <div class=cls>text</div> */
void h_csrf(FILE *f, const admin_req *q); /* hidden csrf input */
/* A page built in a memstream. */
typedef struct {
  FILE *f;
  char *buf;
  size_t len;
} hbuf;
int hb_open(hbuf *b); /* 0, or -1 when out of memory */
/* Closes the stream and hands the page to r with `status` (500 when writing failed). */
void hb_finish(hbuf *b, admin_resp *r, unsigned status);

#endif
