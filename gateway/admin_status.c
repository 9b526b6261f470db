/* The console's live status collector (see admin_status.h). */
#include "gateway/admin_status.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/metrics.h"
#include "gateway/status.h"

struct sx_admin_status {
  sx_gw *gw;
  uv_timer_t tick;
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
}

sx_admin_status *sx_admin_status_new(sx_gw *gw) {
  sx_admin_status *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->gw = gw;
  for (int d = 0; d < SX_DIR_COUNT; d++) st->last_total[d] = arrived((sx_dir)d);
  uv_timer_init(&gw->loop.uv, &st->tick);
  st->tick.data = st;
  uv_timer_start(&st->tick, on_tick, 1000, 1000);
  return st;
}

static void on_closed(uv_handle_t *h) {
  free(h->data);
}

void sx_admin_status_free(sx_admin_status *st) {
  if (st) uv_close((uv_handle_t *)&st->tick, on_closed);
}

cJSON *sx_admin_status_json(sx_admin_status *st) {
  sx_gw *gw = st->gw;
  cJSON *o = sx_status_doc(gw);
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, "time", (double)time(NULL));
  cJSON *doms = cJSON_AddArrayToObject(o, "domains");
  for (size_t i = 0; doms && i < gw->cfg.n_domains; i++)
    cJSON_AddItemToArray(doms, cJSON_CreateString(gw->cfg.domains[i]));
  cJSON *edge = cJSON_AddObjectToObject(o, "edge_server");
  if (edge) {
    cJSON_AddStringToObject(edge, "host", gw->cfg.edge_host);
    cJSON_AddNumberToObject(edge, "port", gw->cfg.edge_port);
    cJSON_AddStringToObject(edge, "secret", gw->cfg.edge_secret ? "set" : "not set");
  }
  cJSON *rates = cJSON_AddObjectToObject(o, "rates");
  for (int d = 0; rates && d < SX_DIR_COUNT; d++) {
    cJSON *r = cJSON_AddObjectToObject(rates, sx_dir_name((sx_dir)d));
    if (!r) continue;
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
  return o;
}
