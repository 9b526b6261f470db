/* The /status document, built with cJSON from the daemon's state and counters. */
#include "gateway/status.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf/db.h"
#include "gateway/access.h"
#include "gateway/gateway.h"
#include "gateway/instance.h"
#include "gateway/metrics.h"
#include "gateway/presence.h"
#include "sx_version.h"

#define MAX_LINKS 256

typedef struct {
  char *domain;
  time_t since;
} link_since;

static time_t started;
static link_since links[MAX_LINKS];
static size_t n_links;

void sx_status_init(void) { started = time(NULL); }

void sx_status_link(const char *domain, int up) {
  (void)up;
  for (size_t i = 0; i < n_links; i++) {
    if (!strcasecmp(links[i].domain, domain)) {
      links[i].since = time(NULL);
      return;
    }
  }
  if (n_links == MAX_LINKS) return;
  char *d = strdup(domain);
  if (!d) return;
  links[n_links].domain = d;
  links[n_links].since = time(NULL);
  n_links++;
}

void sx_status_reset(void) {
  for (size_t i = 0; i < n_links; i++) free(links[i].domain);
  n_links = 0;
}

static time_t since_of(const char *domain) {
  for (size_t i = 0; i < n_links; i++)
    if (!strcasecmp(links[i].domain, domain)) return links[i].since;
  return started; /* never changed state: down since the start */
}

static void add_time(cJSON *o, const char *name, time_t t) {
  struct tm tm;
  char buf[32];
  gmtime_r(&t, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  cJSON_AddStringToObject(o, name, buf);
}

static void add_refusal(void *ud, sx_dir dir, const char *reason, uint64_t n) {
  cJSON *by_dir = ud;
  cJSON *o = cJSON_GetObjectItem(by_dir, sx_dir_name(dir));
  if (o) cJSON_AddNumberToObject(o, reason, (double)n);
}

cJSON *sx_status_doc(sx_gw *gw) {
  time_t now = time(NULL);
  int ok = gw->sip != NULL;
  cJSON *root = cJSON_CreateObject();
  if (!root) return NULL;
  cJSON_AddStringToObject(root, "version", SX_VERSION_FULL);
  add_time(root, "started", started);
  cJSON_AddNumberToObject(root, "uptime_s", (double)(now - started));

  cJSON *edges = cJSON_AddArrayToObject(root, "edge");
  for (size_t i = 0; edges && i < gw->n_edges; i++) {
    if (!gw->edges[i]) continue;
    const char *dom = sx_edge_domain(gw->edges[i]);
    sx_edge_stats st;
    sx_edge_get_stats(gw->edges[i], &st);
    int up = sx_edge_is_up(gw->edges[i]);
    ok &= up;
    time_t since = since_of(dom);
    cJSON *e = cJSON_CreateObject();
    if (!e) break;
    cJSON_AddStringToObject(e, "domain", dom);
    cJSON_AddStringToObject(e, "host", gw->cfg.edge_host);
    cJSON_AddNumberToObject(e, "port", gw->cfg.edge_port);
    cJSON_AddStringToObject(e, "state", up ? "up" : "down");
    add_time(e, "since", since);
    cJSON_AddNumberToObject(e, "since_s", (double)(now - since));
    cJSON_AddNumberToObject(e, "reconnects", (double)sx_metric_get_reconnects(dom));
    cJSON_AddNumberToObject(e, "attempts", (double)st.attempts);
    cJSON_AddBoolToObject(e, "tls", st.tls);
    cJSON_AddBoolToObject(e, "tls_up", st.tls_up);
    if (st.tls_session[0])
      cJSON_AddStringToObject(e, "tls_session", st.tls_session);
    else
      cJSON_AddNullToObject(e, "tls_session");
    if (st.last_error[0])
      cJSON_AddStringToObject(e, "last_error", st.last_error);
    else
      cJSON_AddNullToObject(e, "last_error");
    cJSON_AddNumberToObject(e, "unconfirmed", (double)sx_edge_unconfirmed(gw->edges[i]));
    cJSON_AddItemToArray(edges, e);
  }

  cJSON *sip = cJSON_AddObjectToObject(root, "sip");
  if (sip) {
    cJSON_AddBoolToObject(sip, "listening", gw->sip != NULL);
    cJSON *l = cJSON_AddArrayToObject(sip, "listen");
    for (size_t i = 0; l && i < gw->cfg.n_listen; i++)
      cJSON_AddItemToArray(l, cJSON_CreateString(gw->cfg.listen[i]));
    cJSON_AddStringToObject(sip, "outbound_proxy", gw->cfg.outbound_proxy);
    cJSON_AddNumberToObject(sip, "in_flight", gw->sip ? (double)sx_sip_in_flight(gw->sip) : 0);
    cJSON_AddNumberToObject(sip, "queued", (double)gw->xq_len);
  }

  cJSON *msgs = cJSON_AddObjectToObject(root, "messages");
  cJSON *refusals = cJSON_AddObjectToObject(root, "refusals");
  for (int d = 0; d < SX_DIR_COUNT; d++) {
    cJSON *o = msgs ? cJSON_AddObjectToObject(msgs, sx_dir_name((sx_dir)d)) : NULL;
    for (int r = 0; o && r < SX_RES_COUNT; r++)
      cJSON_AddNumberToObject(o, sx_result_name((sx_result)r),
                              (double)sx_metric_get_msg((sx_dir)d, (sx_result)r));
    if (refusals) cJSON_AddObjectToObject(refusals, sx_dir_name((sx_dir)d));
  }
  if (refusals) sx_metric_each_refusal(add_refusal, refusals);

  /* Presence relations (gateway/presence.h) and SIP presence dialogs. */
  cJSON *presence = cJSON_AddObjectToObject(root, "presence");
  if (presence) {
    size_t nrel, ndlg;
    sx_pres_counts(gw, &nrel, &ndlg);
    cJSON_AddNumberToObject(presence, "relations", (double)nrel);
    cJSON_AddNumberToObject(presence, "dialogs", (double)ndlg);
    long leases = sx_pres_leases_held(gw);
    if (leases >= 0) cJSON_AddNumberToObject(presence, "fanout_leases", (double)leases);
  }

  cJSON *store = cJSON_AddObjectToObject(root, "store");
  if (store) {
    if (gw->instance) cJSON_AddStringToObject(store, "instance", sx_instance_id(gw->instance));
    char *shown = sxdb_display(gw->cfg.store);
    cJSON_AddStringToObject(store, "path", shown ? shown : "?");
    free(shown);
    const sx_policy_snap *snap = gw->access ? sx_access_snap(gw->access) : NULL;
    cJSON_AddNumberToObject(store, "generation", snap ? (double)sx_snap_generation(snap) : -1);
  }
  cJSON_AddBoolToObject(root, "ok", ok);
  return root;
}

char *sx_status_json(void *ud, size_t *len) {
  cJSON *root = sx_status_doc(ud);
  if (!root) return NULL;
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!text) return NULL;
  /* cJSON allocates with malloc by default; libmicrohttpd frees with free(). */
  if (len) *len = strlen(text);
  return text;
}
