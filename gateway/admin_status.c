/* The console's live status collector (see admin_status.h). */
#include "gateway/admin_status.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/metrics.h"

typedef struct {
  int up;
  time_t since;
} link_seen;

struct sx_admin_status {
  sx_gw *gw;
  uv_timer_t tick;
  time_t started;
  link_seen *links; /* one per edge, same order as gw->edges */
  size_t n_links;
  uint64_t last_total[SX_DIR_COUNT];
  uint32_t ring[SX_DIR_COUNT][SX_STATUS_SECONDS]; /* messages in each of the last seconds */
  unsigned pos;     /* slot of the next sample */
  unsigned samples; /* up to SX_STATUS_SECONDS */
};

/* Messages that arrived in one direction: taken on, refused, or refused for capacity (a
 * delivery or a later failure is an outcome of one already counted). */
static uint64_t arrived(sx_dir d) {
  return sx_metric_get_msg(d, SX_RES_ACCEPTED) + sx_metric_get_msg(d, SX_RES_REFUSED) +
         sx_metric_get_msg(d, SX_RES_REJECTED_BUSY);
}

static void sample_links(sx_admin_status *st) {
  time_t now = time(NULL);
  for (size_t i = 0; i < st->n_links && i < st->gw->n_edges; i++) {
    int up = st->gw->edges[i] && sx_edge_is_up(st->gw->edges[i]);
    if (up != st->links[i].up) {
      st->links[i].up = up;
      st->links[i].since = now;
    }
  }
}

static void on_tick(uv_timer_t *t) {
  sx_admin_status *st = t->data;
  for (int d = 0; d < SX_DIR_COUNT; d++) {
    uint64_t total = arrived((sx_dir)d);
    uint64_t delta = total - st->last_total[d];
    st->ring[d][st->pos] = delta > UINT32_MAX ? UINT32_MAX : (uint32_t)delta;
    st->last_total[d] = total;
  }
  st->pos = (st->pos + 1) % SX_STATUS_SECONDS;
  if (st->samples < SX_STATUS_SECONDS) st->samples++;
  sample_links(st);
}

sx_admin_status *sx_admin_status_new(sx_gw *gw) {
  sx_admin_status *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->gw = gw;
  st->started = time(NULL);
  st->n_links = gw->n_edges;
  st->links = calloc(st->n_links ? st->n_links : 1, sizeof *st->links);
  if (!st->links) {
    free(st);
    return NULL;
  }
  for (size_t i = 0; i < st->n_links; i++) st->links[i].since = st->started;
  for (int d = 0; d < SX_DIR_COUNT; d++) st->last_total[d] = arrived((sx_dir)d);
  sample_links(st);
  uv_timer_init(&gw->loop.uv, &st->tick);
  st->tick.data = st;
  uv_timer_start(&st->tick, on_tick, 1000, 1000);
  return st;
}

static void on_closed(uv_handle_t *h) {
  sx_admin_status *st = h->data;
  free(st->links);
  free(st);
}

void sx_admin_status_free(sx_admin_status *st) {
  if (st) uv_close((uv_handle_t *)&st->tick, on_closed);
}

static void add_refusal(void *ud, sx_dir dir, const char *reason, uint64_t count) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return;
  cJSON_AddStringToObject(o, "direction", sx_dir_name(dir));
  cJSON_AddStringToObject(o, "reason", reason);
  cJSON_AddNumberToObject(o, "count", (double)count);
  cJSON_AddItemToArray(ud, o);
}

cJSON *sx_admin_status_json(sx_admin_status *st) {
  sx_gw *gw = st->gw;
  sample_links(st);
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  time_t now = time(NULL);
  cJSON_AddNumberToObject(o, "time", (double)now);
  cJSON_AddNumberToObject(o, "uptime_s", (double)(now - st->started));
  cJSON *doms = cJSON_AddArrayToObject(o, "domains");
  for (size_t i = 0; doms && i < gw->cfg.n_domains; i++)
    cJSON_AddItemToArray(doms, cJSON_CreateString(gw->cfg.domains[i]));

  cJSON *links = cJSON_AddArrayToObject(o, "links");
  for (size_t i = 0; links && i < st->n_links && i < gw->n_edges; i++) {
    sx_edge *e = gw->edges[i];
    if (!e) continue;
    sx_edge_stats es;
    sx_edge_get_stats(e, &es);
    cJSON *l = cJSON_CreateObject();
    if (!l) break;
    cJSON_AddStringToObject(l, "domain", sx_edge_domain(e));
    cJSON_AddBoolToObject(l, "up", st->links[i].up);
    cJSON_AddNumberToObject(l, "since", (double)st->links[i].since);
    cJSON_AddNumberToObject(l, "reconnects", (double)sx_metric_get_reconnects(sx_edge_domain(e)));
    cJSON_AddNumberToObject(l, "attempts", (double)es.attempts);
    cJSON_AddBoolToObject(l, "tls", 0); /* XEP-0114 over libstrophe: no TLS (README) */
    cJSON_AddNumberToObject(l, "unconfirmed", (double)sx_edge_unconfirmed(e));
    cJSON_AddItemToArray(links, l);
  }

  cJSON *sip = cJSON_AddObjectToObject(o, "sip");
  if (sip) {
    cJSON_AddBoolToObject(sip, "listening", gw->sip != NULL);
    cJSON *ls = cJSON_AddArrayToObject(sip, "listen");
    for (size_t i = 0; ls && i < gw->cfg.n_listen; i++)
      cJSON_AddItemToArray(ls, cJSON_CreateString(gw->cfg.listen[i]));
    cJSON_AddNumberToObject(sip, "in_flight", gw->sip ? (double)sx_sip_in_flight(gw->sip) : 0);
  }

  cJSON *rates = cJSON_AddObjectToObject(o, "rates");
  cJSON *msgs = cJSON_AddObjectToObject(o, "messages");
  for (int d = 0; d < SX_DIR_COUNT; d++) {
    cJSON *r = rates ? cJSON_AddObjectToObject(rates, sx_dir_name((sx_dir)d)) : NULL;
    if (r) {
      uint64_t sum = 0;
      cJSON *series = cJSON_AddArrayToObject(r, "last_minute");
      /* oldest first; seconds not yet sampled count as 0 */
      for (unsigned k = 0; k < SX_STATUS_SECONDS; k++) {
        unsigned slot = (st->pos + k) % SX_STATUS_SECONDS;
        uint32_t v = k + st->samples >= SX_STATUS_SECONDS ? st->ring[d][slot] : 0;
        sum += v;
        if (series) cJSON_AddItemToArray(series, cJSON_CreateNumber(v));
      }
      cJSON_AddNumberToObject(r, "per_second",
                              st->samples ? (double)sum / (double)st->samples : 0.0);
    }
    cJSON *m = msgs ? cJSON_AddObjectToObject(msgs, sx_dir_name((sx_dir)d)) : NULL;
    for (int res = 0; m && res < SX_RES_COUNT; res++)
      cJSON_AddNumberToObject(m, sx_result_name((sx_result)res),
                              (double)sx_metric_get_msg((sx_dir)d, (sx_result)res));
  }
  cJSON *ref = cJSON_AddArrayToObject(o, "refusals");
  if (ref) sx_metric_each_refusal(add_refusal, ref);

  /* Presence (SPEC §4) is not built yet: its relations and dialogs go here. */
  cJSON *pres = cJSON_AddObjectToObject(o, "presence");
  if (pres) {
    cJSON_AddBoolToObject(pres, "available", 0);
    cJSON_AddNumberToObject(pres, "relations", 0);
    cJSON_AddNumberToObject(pres, "dialogs", 0);
  }
  cJSON *edge = cJSON_AddObjectToObject(o, "edge");
  if (edge) {
    cJSON_AddStringToObject(edge, "host", gw->cfg.edge_host);
    cJSON_AddNumberToObject(edge, "port", gw->cfg.edge_port);
    cJSON_AddStringToObject(edge, "secret", gw->cfg.edge_secret ? "set" : "not set");
  }
  return o;
}
