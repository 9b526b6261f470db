/* /metrics, /healthz and /status over libmicrohttpd, driven by the libuv loop (gateway/mhd_loop.c).
 *
 * The build defines SX_HAVE_MHD when it links libmicrohttpd; without it sx_http_start()
 * fails with a message saying so. */
#include "gateway/http.h"

#ifdef SX_HAVE_MHD

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/metrics.h"
#include "gateway/mhd_loop.h"
#include "translate/log.h"

#define CONNECTION_LIMIT 64u
#define CONNECTION_TIMEOUT_S 10u

struct sx_http {
  sx_mhd *mhd;
  sx_health_fn health;
  void *ud;
  sx_status_fn status; /* GET /status; NULL: 404 */
  void *status_ud;
};

/* ---- requests ----------------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             const char *body, size_t len, enum MHD_ResponseMemoryMode mode) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
  if (!r) {
    if (mode == MHD_RESPMEM_MUST_FREE) free((void *)body);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

#define TEXT "text/plain; charset=utf-8"
#define STATIC_REPLY(c, status, s) reply((c), (status), TEXT, (s), sizeof(s) - 1, MHD_RESPMEM_PERSISTENT)

static enum MHD_Result on_healthz(sx_http *h, struct MHD_Connection *c) {
  char detail[256] = "";
  int healthy = h->health ? h->health(h->ud, detail, sizeof detail) : 1;
  if (healthy) return STATIC_REPLY(c, MHD_HTTP_OK, "ok\n");
  detail[sizeof detail - 1] = 0;
  for (char *p = detail; *p; p++)
    if (*p == '\n' || *p == '\r') *p = ' ';
  char *body;
  int n = asprintf(&body, "%s\n", detail[0] ? detail : "unhealthy");
  if (n < 0) return STATIC_REPLY(c, MHD_HTTP_SERVICE_UNAVAILABLE, "unhealthy\n");
  return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, TEXT, body, (size_t)n, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result on_metrics(struct MHD_Connection *c) {
  size_t len;
  char *text = sx_metrics_render(&len);
  if (!text) return STATIC_REPLY(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render metrics\n");
  return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len,
               MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result on_status(sx_http *h, struct MHD_Connection *c) {
  if (!h->status) return STATIC_REPLY(c, MHD_HTTP_NOT_FOUND, "not found\n");
  size_t len = 0;
  char *doc = h->status(h->status_ud, &len);
  if (!doc) return STATIC_REPLY(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot build the status\n");
  return reply(c, MHD_HTTP_OK, "application/json", doc, len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls) {
  sx_http *h = cls;
  (void)version;
  (void)upload_data;
  (void)upload_data_size;
  (void)req_cls;
  if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
    return STATIC_REPLY(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
  if (!strcmp(url, "/healthz")) return on_healthz(h, c);
  if (!strcmp(url, "/metrics")) return on_metrics(c);
  if (!strcmp(url, "/status")) return on_status(h, c);
  return STATIC_REPLY(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* ---- start / stop ------------------------------------------------------------------- */

int sx_http_start(uv_loop_t *loop, const char *host, unsigned port, sx_health_fn health,
                  void *ud, sx_http **out, char *err, size_t errlen) {
  *out = NULL;
  sx_http *h = calloc(1, sizeof *h);
  if (!h) {
    if (err && errlen) snprintf(err, errlen, "cannot listen on %s:%u: out of memory", host, port);
    return -1;
  }
  h->health = health;
  h->ud = ud;
  sx_mhd_opts o = {.handler = on_request, .handler_cls = h, .what = "HTTP",
                   .connection_limit = CONNECTION_LIMIT, .timeout_s = CONNECTION_TIMEOUT_S};
  if (sx_mhd_start(loop, host, port, &o, &h->mhd, err, errlen) != 0) {
    free(h);
    return -1;
  }
  *out = h;
  return 0;
}

unsigned sx_http_port(const sx_http *h) { return h ? sx_mhd_port(h->mhd) : 0; }

void sx_http_set_status(sx_http *h, sx_status_fn fn, void *ud) {
  if (!h) return;
  h->status = fn;
  h->status_ud = ud;
}

void sx_http_stop(sx_http *h) {
  if (!h) return;
  sx_mhd_stop(h->mhd);
  free(h);
}

#else /* !SX_HAVE_MHD */

#include <stdio.h>

int sx_http_start(uv_loop_t *loop, const char *host, unsigned port, sx_health_fn health,
                  void *ud, sx_http **out, char *err, size_t errlen) {
  (void)loop;
  (void)health;
  (void)ud;
  *out = NULL;
  if (err && errlen)
    snprintf(err, errlen, "cannot serve HTTP on %s:%u: built without libmicrohttpd",
             host ? host : "", port);
  return -1;
}

unsigned sx_http_port(const sx_http *h) {
  (void)h;
  return 0;
}

void sx_http_set_status(sx_http *h, sx_status_fn fn, void *ud) {
  (void)h;
  (void)fn;
  (void)ud;
}

void sx_http_stop(sx_http *h) { (void)h; }

#endif
