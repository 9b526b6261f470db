#include "gateway/instance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "conf/store.h"
#include "gateway/store_job.h"
#include "translate/log.h"

struct sx_instance {
  uv_loop_t *loop;
  uv_timer_t timer;
  sx_store_job *job; /* the heartbeat's store handle, in the pool */
  char id[160], host[256];
  char *http;
  int failing, timer_closed;
  sx_st result;
  char err[512];
};

static int64_t wall_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The port of a SIP listen URI ("sip:127.0.0.1:5070;transport=udp" → "5070"), or "5060". */
static void sip_port(const char *uri, char *out, size_t n) {
  snprintf(out, n, "5060");
  if (!uri) return;
  const char *end = strchr(uri, ';');
  size_t len = end ? (size_t)(end - uri) : strlen(uri);
  const char *colon = NULL;
  for (size_t i = 0; i < len; i++)
    if (uri[i] == ':') colon = uri + i;
  if (!colon || colon == uri + 3 || colon == uri + 4) return; /* only the scheme's colon */
  size_t pl = len - (size_t)(colon + 1 - uri);
  if (pl == 0 || pl > 5) return;
  for (size_t i = 0; i < pl; i++)
    if (colon[1 + i] < '0' || colon[1 + i] > '9') return;
  snprintf(out, n, "%.*s", (int)pl, colon + 1);
}

static void beat_work(sx_store *st, void *arg) {
  sx_instance *in = arg;
  in->err[0] = '\0';
  in->result = sx_store_instance_beat(st, in->id, in->host, (long)getpid(), in->http,
                                      wall_ms(), in->err, sizeof in->err);
}

static void beat_done(void *arg, int status) {
  sx_instance *in = arg;
  if (status == 0 && in->result != SX_ST_OK) {
    if (!in->failing) sx_warn("store", "instance heartbeat failed: %s", in->err);
    in->failing = 1;
  } else if (status == 0 && in->failing) {
    sx_info("store", "instance heartbeat written again");
    in->failing = 0;
  }
}

static void on_timer(uv_timer_t *t) {
  sx_instance *in = t->data;
  sx_store_job_run(in->job, beat_work, beat_done, in); /* -1 while the last one runs */
}

sx_instance *sx_instance_start(uv_loop_t *loop, const sx_config *cfg, char *err, size_t n) {
  sx_instance *in = calloc(1, sizeof *in);
  if (!in) {
    snprintf(err, n, "out of memory");
    return NULL;
  }
  in->loop = loop;
  if (gethostname(in->host, sizeof in->host - 1) != 0 || !in->host[0])
    snprintf(in->host, sizeof in->host, "localhost");
  if (cfg->instance_id) {
    snprintf(in->id, sizeof in->id, "%s", cfg->instance_id);
  } else {
    char port[8];
    sip_port(cfg->n_listen ? cfg->listen[0] : NULL, port, sizeof port);
    snprintf(in->id, sizeof in->id, "%.140s:%s", in->host, port);
  }
  if (cfg->http_listen && !(in->http = strdup(cfg->http_listen))) {
    snprintf(err, n, "out of memory");
    free(in);
    return NULL;
  }
  if (!(in->job = sx_store_job_open(loop, cfg->store, err, n))) {
    free(in->http);
    free(in);
    return NULL;
  }
  if (sx_store_instance_beat(sx_store_job_store(in->job), in->id, in->host, (long)getpid(),
                             in->http, wall_ms(), err, n) != SX_ST_OK) {
    sx_store_job_close(in->job);
    free(in->http);
    free(in);
    return NULL;
  }
  uv_timer_init(loop, &in->timer);
  in->timer.data = in;
  uv_timer_start(&in->timer, on_timer, SX_INSTANCE_BEAT_MS, SX_INSTANCE_BEAT_MS);
  sx_info("store", "instance %s registered", in->id);
  return in;
}

const char *sx_instance_id(const sx_instance *in) { return in ? in->id : NULL; }

static void timer_closed(uv_handle_t *h) {
  sx_instance *in = h->data;
  in->timer_closed = 1;
}

void sx_instance_stop(sx_instance *in) {
  if (!in) return;
  uv_close((uv_handle_t *)&in->timer, timer_closed);
  while (sx_store_job_busy(in->job) || !in->timer_closed) uv_run(in->loop, UV_RUN_ONCE);
  char err[512];
  sx_st r = sx_store_instance_remove(sx_store_job_store(in->job), in->id, err, sizeof err);
  if (r != SX_ST_OK && r != SX_ST_NOTFOUND) sx_warn("store", "instance row: %s", err);
  sx_store_job_close(in->job);
  free(in->http);
  free(in);
}
