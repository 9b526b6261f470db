/* /metrics and /healthz over libmicrohttpd, driven by the libuv loop.
 *
 * libmicrohttpd is started in "external event loop" mode with epoll (MHD_USE_EPOLL and no
 * internal thread). Its epoll fd becomes readable whenever one of its sockets has work; a
 * uv_poll_t watches it and calls MHD_run(), which does not block. After every run the
 * uv_timer_t is set from MHD_get_timeout() (idle connection timeouts, and 0 when MHD still
 * has buffered work to do).
 *
 * The listening socket is created here and handed over with MHD_OPTION_LISTEN_SOCKET, so a
 * bind failure is reported with its errno and the address, and port 0 can be resolved.
 *
 * The build defines SX_HAVE_MHD when it links libmicrohttpd; without it sx_http_start()
 * fails with a message saying so. */
#include "gateway/http.h"

#ifdef SX_HAVE_MHD

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/metrics.h"
#include "translate/log.h"

#define CONNECTION_LIMIT 64u
#define CONNECTION_TIMEOUT_S 10u

struct sx_http {
  uv_loop_t *loop;
  struct MHD_Daemon *d;
  uv_poll_t poll;
  uv_timer_t timer;
  int open_handles;
  sx_health_fn health;
  void *ud;
  sx_status_fn status;
  void *status_ud;
  unsigned port;
  char last_log[256]; /* latest libmicrohttpd message, for start-up failures */
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

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  sx_http *h = cls;
  vsnprintf(h->last_log, sizeof h->last_log, fmt, ap);
  size_t n = strlen(h->last_log);
  while (n && (h->last_log[n - 1] == '\n' || h->last_log[n - 1] == '\r')) h->last_log[--n] = 0;
  sx_debug("http", "libmicrohttpd: %s", h->last_log);
}

/* ---- driving libmicrohttpd from libuv ----------------------------------------------- */

static void on_timer(uv_timer_t *t);

static void drive(sx_http *h) {
  if (!h->d) return;
  MHD_run(h->d);
  MHD_UNSIGNED_LONG_LONG timeout;
  if (MHD_get_timeout(h->d, &timeout) == MHD_YES)
    uv_timer_start(&h->timer, on_timer, (uint64_t)timeout, 0);
  else
    uv_timer_stop(&h->timer);
}

static void on_timer(uv_timer_t *t) { drive(t->data); }

static void on_poll(uv_poll_t *p, int status, int events) {
  (void)events;
  if (status < 0) sx_debug("http", "poll error: %s", uv_strerror(status));
  drive(p->data);
}

static void on_closed(uv_handle_t *handle) {
  sx_http *h = handle->data;
  if (--h->open_handles == 0) free(h);
}

/* ---- start / stop ------------------------------------------------------------------- */

static void fmt_where(char *buf, size_t len, const char *host, unsigned port) {
  if (strchr(host, ':'))
    snprintf(buf, len, "[%s]:%u", host, port);
  else
    snprintf(buf, len, "%s:%u", host, port);
}

/* A bound, listening, non-blocking TCP socket, or -1 with a message in err. */
static int open_listener(const char *host, unsigned port, const char *where, char *err,
                         size_t errlen) {
  struct addrinfo hints, *res = NULL;
  char portstr[8];
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  snprintf(portstr, sizeof portstr, "%u", port);
  int gai = getaddrinfo(host, portstr, &hints, &res);
  if (gai) {
    snprintf(err, errlen, "cannot listen on %s: %s", where, gai_strerror(gai));
    return -1;
  }
  int fd = -1, e = EADDRNOTAVAIL;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      e = errno;
      continue;
    }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0) break;
    e = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(e));
  return fd;
}

static unsigned bound_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl)) return 0;
  if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return 0;
}

int sx_http_start(uv_loop_t *loop, const char *host, unsigned port, sx_health_fn health,
                  void *ud, sx_http **out, char *err, size_t errlen) {
  char where[300];
  char dummy[1];
  if (!err || !errlen) {
    err = dummy;
    errlen = sizeof dummy;
  }
  err[0] = 0;
  *out = NULL;
  if (!host || !*host || port > 65535) {
    snprintf(err, errlen, "cannot listen on %s:%u: invalid address", host ? host : "", port);
    return -1;
  }
  fmt_where(where, sizeof where, host, port);

  int fd = open_listener(host, port, where, err, errlen);
  if (fd < 0) return -1;

  sx_http *h = calloc(1, sizeof *h);
  if (!h) {
    close(fd);
    snprintf(err, errlen, "cannot listen on %s: out of memory", where);
    return -1;
  }
  h->loop = loop;
  h->health = health;
  h->ud = ud;
  h->port = bound_port(fd);

  h->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, h,
                          MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
                          MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                          MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
                          MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S,
                          MHD_OPTION_END);
  if (!h->d) {
    /* Close the socket unless libmicrohttpd already did while failing. */
    if (fcntl(fd, F_GETFD) != -1) close(fd);
    snprintf(err, errlen, "cannot serve HTTP on %s: %s", where,
             h->last_log[0] ? h->last_log : "libmicrohttpd failed to start");
    free(h);
    return -1;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
  int efd = info ? info->epoll_fd : -1;
  int rc = efd >= 0 ? uv_poll_init(loop, &h->poll, efd) : UV_EINVAL;
  if (rc) {
    MHD_stop_daemon(h->d);
    snprintf(err, errlen, "cannot serve HTTP on %s: cannot watch libmicrohttpd: %s", where,
             uv_strerror(rc));
    free(h);
    return -1;
  }
  uv_timer_init(loop, &h->timer);
  h->poll.data = h;
  h->timer.data = h;
  h->open_handles = 2;
  rc = uv_poll_start(&h->poll, UV_READABLE, on_poll);
  if (rc) {
    snprintf(err, errlen, "cannot serve HTTP on %s: cannot watch libmicrohttpd: %s", where,
             uv_strerror(rc));
    sx_http_stop(h);
    return -1;
  }
  drive(h);
  *out = h;
  return 0;
}

unsigned sx_http_port(const sx_http *h) { return h ? h->port : 0; }

void sx_http_set_status(sx_http *h, sx_status_fn fn, void *ud) {
  if (!h) return;
  h->status = fn;
  h->status_ud = ud;
}

void sx_http_stop(sx_http *h) {
  if (!h) return;
  /* Closing the poll handle removes the epoll fd from libuv's set at once, before
   * libmicrohttpd closes it. */
  uv_close((uv_handle_t *)&h->poll, on_closed);
  uv_close((uv_handle_t *)&h->timer, on_closed);
  if (h->d) {
    MHD_stop_daemon(h->d);
    h->d = NULL;
  }
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
