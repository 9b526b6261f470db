/* Internals shared by the console's files (admin_*.c); see admin.h. Everything runs on the
 * loop thread but the operations' store work (admin_op_exec), which runs in libuv's thread
 * pool (admin_calls.c).
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
#include "gateway/store_job.h"

#define ADMIN_MAX_BODY (4u * 1024 * 1024) /* CSV uploads included */
#define ADMIN_COOKIE "sxadmin"

typedef struct admin_job admin_job;
typedef struct admin_calls admin_calls;

struct sx_admin {
  sx_gw *gw;
  sx_mhd *mhd;
  sx_store_job *job; /* the console's own store handle, used in the pool only */
  sx_admin_sessions *sessions;
  sx_admin_status *status;
  int tls;
  int stopping;               /* no more store work starts */
  admin_job *running;         /* the operation in the pool, or NULL */
  admin_job *queue, **queue_tail; /* operations waiting for it, in order */
};

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
  admin_calls *calls;     /* the request's operations, across its passes (admin_calls.c) */
  size_t ncalls;          /* operations called in this pass */
  int pending;            /* an operation of this pass has no result yet: no response */
  int flash_shown;        /* h_flash showed the session's message: cleared with the response */
} admin_req;

typedef struct {
  unsigned status;
  char *body; /* malloc'd */
  size_t len;
  const char *ctype;
  char location[600];
  char cookie[200];
  unsigned retry_after;
  int suspended; /* no response yet: the connection waits for an operation in the pool */
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
  unsigned status;  /* HTTP status: 200, 201, 400 (invalid), 404, 409, 500; 503 pending */
  char err[1400];   /* the message when status >= 400: the CLI's words */
  char warn[1400];  /* a warning (saved anyway), or "" */
  cJSON *data;      /* the resulting object(s), or NULL */
  sx_st st;         /* the store's result (op_admin_verify, op_admin_updated) */
} op_out;

void op_out_free(op_out *o);

/* Every op_* below runs its store work in libuv's pool, one operation at a time for the
 * whole console (admin_calls.c). A request is handled in passes: in the first pass that
 * reaches an operation, the operation starts, its o says status 503 with q->pending set, and
 * the pass's response is thrown away (the connection is suspended); when the operation is
 * done the request is handled again from the start, and each operation already done hands
 * its result back in order. So a handler calls its operations in an order that depends only
 * on the request and their results, and has no side effect while q->pending is set. Every
 * operation fills o (the caller frees it with op_out_free). */

/* in: an object with the fields of the JSON forms (gateway/store_json.h); booleans may be
 * JSON booleans or "on"/"off"/"true"/"false" strings, lists arrays or comma-separated. */
void op_partner_write(admin_req *q, const cJSON *in, const char *update_domain, op_out *o);
void op_partner_remove(admin_req *q, const char *domain, op_out *o);
void op_partner_list(admin_req *q, const char *domain, op_out *o); /* domain NULL: all */
void op_policy_write(admin_req *q, const cJSON *in, const char *update_name, op_out *o);
void op_policy_remove(admin_req *q, const char *name, int force, op_out *o);
void op_policy_list(admin_req *q, const char *name, op_out *o);
/* tag NULL: remove the grant; user NULL: every user in the store */
void op_policy_grant(admin_req *q, const char *tag, const char *user, op_out *o);
void op_user_write(admin_req *q, const cJSON *in, const char *update_user, op_out *o);
void op_user_remove(admin_req *q, const char *user, op_out *o);
/* q filters by substring of the key (case-insensitive); site/policy as sipxmppctl */
void op_user_list(admin_req *q, const char *filter, const char *site, const char *policy,
                  size_t limit, op_out *o);
void op_user_get(admin_req *q, const char *user, op_out *o);
/* data: {"added","updated","skipped","errors":["FILE:LINE: reason",...]} */
void op_user_import(admin_req *q, const char *text, size_t len, const char *source,
                    int skip_bad, op_out *o);
void op_relations(admin_req *q, const char *user, op_out *o);
/* data: the check JSON plus "text" (the lines sipxmppctl check prints) and "warnings" */
void op_check(admin_req *q, const char *user, const char *contact, const char *direction,
              const char *kind, op_out *o);
/* The password check of a login (scrypt, ~0.1 s): o->st SX_ST_OK when it matches. */
void op_admin_verify(admin_req *q, const char *name, const char *password, op_out *o);
/* When the admin's password last changed: o->st (SX_ST_NOTFOUND: removed), o->data a
 * number (unix time). */
void op_admin_updated(admin_req *q, const char *name, op_out *o);

/* ---- running operations in the pool (admin_calls.c, admin_ops.c) ----------------------- */

typedef enum {
  OP_PARTNER_LIST, OP_PARTNER_WRITE, OP_PARTNER_REMOVE, OP_POLICY_LIST, OP_POLICY_WRITE,
  OP_POLICY_REMOVE, OP_POLICY_GRANT, OP_USER_GET, OP_USER_LIST, OP_USER_WRITE, OP_USER_REMOVE,
  OP_USER_IMPORT, OP_RELATIONS, OP_CHECK, OP_ADMIN_VERIFY, OP_ADMIN_UPDATED
} op_kind;

/* One operation's arguments. Borrowed from the caller in admin_call; the job started from
 * it holds copies of them all. */
typedef struct {
  op_kind kind;
  const char *s[4];  /* string arguments (NULL allowed), per kind */
  const cJSON *in;   /* the JSON or form fields of a write, or NULL */
  const char *text;  /* the CSV of an import, or NULL */
  size_t len;
  long num;          /* force, skip_bad, limit */
} op_call;

/* What an operation may use in the pool: the console's store handle and the daemon's
 * configuration (read only). changed: set when the store changed (the loop then asks for
 * a new snapshot). */
typedef struct {
  sx_store *st;
  const sx_config *cfg;
  int changed;
} op_env;

/* Runs c in the pool (admin_ops.c). */
void admin_op_exec(op_env *e, const op_call *c, op_out *o);
/* The result of the request's next operation when it is done, else starts it (one per pass)
 * and fills o as pending (see above). */
void admin_call(admin_req *q, const op_call *c, op_out *o);
/* 1 when the request's next operation has its result already. */
int admin_call_ready(const admin_req *q);
/* A request's operations: created with its state, freed when it ends (a job still running
 * finishes and its result is dropped). NULL when out of memory. */
admin_calls *admin_calls_new(void);
void admin_calls_free(admin_calls *m);
/* 1 when the request waits for an operation, or the console stopped while it waited: the
 * resumed connection is then closed. */
int admin_calls_waiting(const admin_calls *m);
/* At stop, before libmicrohttpd stops: no more operations start, every waiting request is
 * resumed (to be closed). */
void admin_calls_stop(sx_admin *a);
/* After libmicrohttpd stopped: waits up to 3 s for the operation in the pool, then closes the
 * store handle. */
void admin_calls_close(sx_admin *a);

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
void h_flash(FILE *f, admin_req *q); /* shows the session's message (cleared when sent) */
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
