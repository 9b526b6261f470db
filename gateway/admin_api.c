/* The console's JSON API under /api/ (documented in the README). Requests and answers are
 * JSON (a CSV import takes text/csv); a change answers the resulting object, with
 * "warning" when the store saved it with one; a refusal answers {"error": "..."} with the
 * words of sipxmppctl and 400 (invalid), 404, 409 (exists, in use) or 500.
 *
 *   GET    /api/status
 *   GET    /api/partners[?domain=D]     POST /api/partners        {domain, PartnerType, ...}
 *   PUT    /api/partners?domain=D       {fields to change}        DELETE /api/partners?domain=D
 *   GET    /api/policies[?name=N]       POST /api/policies        {name, EnableXmppAccess, ...}
 *   PUT    /api/policies?name=N         DELETE /api/policies?name=N[&force=1]
 *   POST   /api/policies/grant          {policy: TAG|null, user: URI} or {policy, all: true}
 *   GET    /api/users[?q=&site=&policy=&user=URI]   POST /api/users {uri, site, policy}
 *   PUT    /api/users?user=URI          {site, policy}            DELETE /api/users?user=URI
 *   POST   /api/users/import[?skip_bad=1]  text/csv body
 *   GET    /api/relations?user=URI
 *   GET    /api/check?user=&contact=[&direction=inbound|outbound][&kind=im|subscribe|...] */
#include <stdlib.h>
#include <string.h>

#include "gateway/admin_internal.h"

#define USER_LIST_LIMIT 1000

/* Answers an op_out: its data (with "warning" when there is one) or {"error"}. */
static void answer(admin_resp *r, op_out *o) {
  if (o->status >= 400) {
    resp_error(r, o->status, o->err);
    op_out_free(o);
    return;
  }
  cJSON *d = o->data;
  o->data = NULL;
  if (!d) d = cJSON_CreateObject();
  if (d && o->warn[0]) {
    if (cJSON_IsObject(d)) {
      cJSON_AddStringToObject(d, "warning", o->warn);
    } else {
      cJSON *w = cJSON_CreateObject();
      if (w) {
        cJSON_AddItemToObject(w, "items", d);
        cJSON_AddStringToObject(w, "warning", o->warn);
      }
      d = w;
    }
  }
  resp_json(r, o->status ? o->status : 200, d);
}

/* The JSON object body of a POST/PUT, or NULL after answering 400. */
static cJSON *body_object(admin_req *q, admin_resp *r) {
  cJSON *in = cJSON_ParseWithLength(q->body, q->body_len);
  if (!cJSON_IsObject(in)) {
    cJSON_Delete(in);
    resp_error(r, 400, "the body must be a JSON object");
    return NULL;
  }
  return in;
}

static int is(const admin_req *q, const char *m) { return strcmp(q->method, m) == 0; }

static void partners(admin_req *q, admin_resp *r) {
  op_out o;
  const char *domain = req_arg(q, "domain");
  if (is(q, "GET")) {
    op_partner_list(q, domain, &o);
  } else if (is(q, "DELETE")) {
    op_partner_remove(q, domain, &o);
  } else if (is(q, "POST") || is(q, "PUT")) {
    if (is(q, "PUT") && !domain) {
      resp_error(r, 400, "PUT /api/partners needs ?domain=");
      return;
    }
    cJSON *in = body_object(q, r);
    if (!in) return;
    op_partner_write(q, in, is(q, "PUT") ? domain : NULL, &o);
    cJSON_Delete(in);
  } else {
    resp_error(r, 405, "method not allowed");
    return;
  }
  answer(r, &o);
}

static void policies(admin_req *q, admin_resp *r) {
  op_out o;
  const char *name = req_arg(q, "name");
  if (is(q, "GET")) {
    op_policy_list(q, name, &o);
  } else if (is(q, "DELETE")) {
    const char *force = req_arg(q, "force");
    op_policy_remove(q, name, force && strcmp(force, "0"), &o);
  } else if (is(q, "POST") || is(q, "PUT")) {
    if (is(q, "PUT") && !name) {
      resp_error(r, 400, "PUT /api/policies needs ?name=");
      return;
    }
    cJSON *in = body_object(q, r);
    if (!in) return;
    op_policy_write(q, in, is(q, "PUT") ? name : NULL, &o);
    cJSON_Delete(in);
  } else {
    resp_error(r, 405, "method not allowed");
    return;
  }
  answer(r, &o);
}

static void grant(admin_req *q, admin_resp *r) {
  if (!is(q, "POST")) {
    resp_error(r, 405, "method not allowed");
    return;
  }
  cJSON *in = body_object(q, r);
  if (!in) return;
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(in, "policy");
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(in, "user");
  int all = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "all"));
  if (!(cJSON_IsString(p) || cJSON_IsNull(p)) || (!cJSON_IsString(u) == !all)) {
    cJSON_Delete(in);
    resp_error(r, 400, "send {\"policy\": TAG or null, \"user\": URI} or {\"policy\": ..., "
                       "\"all\": true}");
    return;
  }
  op_out o;
  op_policy_grant(q, cJSON_IsString(p) ? p->valuestring : NULL,
                  cJSON_IsString(u) ? u->valuestring : NULL, &o);
  cJSON_Delete(in);
  answer(r, &o);
}

static void users(admin_req *q, admin_resp *r) {
  op_out o;
  const char *user = req_arg(q, "user");
  if (is(q, "GET")) {
    if (user)
      op_user_get(q, user, &o);
    else
      op_user_list(q, req_arg(q, "q"), req_arg(q, "site"), req_arg(q, "policy"),
                   USER_LIST_LIMIT, &o);
  } else if (is(q, "DELETE")) {
    op_user_remove(q, user, &o);
  } else if (is(q, "POST") || is(q, "PUT")) {
    if (is(q, "PUT") && !user) {
      resp_error(r, 400, "PUT /api/users needs ?user=");
      return;
    }
    cJSON *in = body_object(q, r);
    if (!in) return;
    op_user_write(q, in, is(q, "PUT") ? user : NULL, &o);
    cJSON_Delete(in);
  } else {
    resp_error(r, 405, "method not allowed");
    return;
  }
  answer(r, &o);
}

static void import(admin_req *q, admin_resp *r) {
  if (!is(q, "POST")) {
    resp_error(r, 405, "method not allowed");
    return;
  }
  const char *skip = req_arg(q, "skip_bad");
  const char *name = req_arg(q, "filename");
  op_out o;
  op_user_import(q, q->body, q->body_len, name && *name ? name : "-", skip && strcmp(skip, "0"),
                 &o);
  /* a refused import still lists its bad lines */
  if (o.status >= 400 && o.data) {
    cJSON_AddStringToObject(o.data, "error", o.err);
    unsigned st = o.status;
    cJSON *d = o.data;
    o.data = NULL;
    resp_json(r, st, d);
    return;
  }
  answer(r, &o);
}

int admin_api(admin_req *q, admin_resp *r) {
  const char *p = q->path + 4; /* after "/api" */
  op_out o;
  if (!strcmp(p, "/status")) {
    if (!is(q, "GET")) {
      resp_error(r, 405, "method not allowed");
      return 1;
    }
    resp_json(r, 200, sx_admin_status_json(q->a->status));
  } else if (!strcmp(p, "/partners")) {
    partners(q, r);
  } else if (!strcmp(p, "/policies")) {
    policies(q, r);
  } else if (!strcmp(p, "/policies/grant")) {
    grant(q, r);
  } else if (!strcmp(p, "/users")) {
    users(q, r);
  } else if (!strcmp(p, "/users/import")) {
    import(q, r);
  } else if (!strcmp(p, "/relations") && is(q, "GET")) {
    op_relations(q, req_arg(q, "user"), &o);
    answer(r, &o);
  } else if (!strcmp(p, "/check") && is(q, "GET")) {
    op_check(q, req_arg(q, "user"), req_arg(q, "contact"), req_arg(q, "direction"),
             req_arg(q, "kind"), &o);
    answer(r, &o);
  } else {
    return 0;
  }
  return 1;
}
