/* The operations HTTP endpoint (SPEC §8): GET /metrics (Prometheus text from
 * sx_metrics_render) and GET /healthz, served by libmicrohttpd on the daemon's libuv loop.
 *
 * libmicrohttpd runs without threads of its own: its epoll fd is watched by a uv_poll_t and
 * its timeouts by a uv_timer_t, and every callback runs on the loop thread.
 *
 *   GET|HEAD /healthz  200 "ok\n", or 503 with the health callback's detail line
 *   GET|HEAD /metrics  200, Content-Type: text/plain; version=0.0.4; charset=utf-8
 *   GET|HEAD /status   200, application/json, from the status callback (404 when none)
 *   any other path     404
 *   other methods      405 with Allow: GET, HEAD */
#ifndef SX_GATEWAY_HTTP_H
#define SX_GATEWAY_HTTP_H
#include <stddef.h>
#include <uv.h>

typedef struct sx_http sx_http;

/* Returns 1 when healthy, 0 when not, and writes a one-line reason (no newline needed) into
 * detail (detail_len bytes, NUL-terminated; may be left empty when healthy). */
typedef int (*sx_health_fn)(void *ud, char *detail, size_t detail_len);

/* Listens on host:port (an IPv4/IPv6 literal or a name; port 0 picks a free port, see
 * sx_http_port) and serves on `loop`. `health` may be NULL (then /healthz is always 200).
 * Returns 0 and *out, or -1 with a one-line message naming host:port in err. */
int sx_http_start(uv_loop_t *loop, const char *host, unsigned port, sx_health_fn health,
                  void *ud, sx_http **out, char *err, size_t errlen);

/* Returns a malloc'd JSON document (caller frees) and its length, or NULL on failure. */
typedef char *(*sx_status_fn)(void *ud, size_t *len);

/* Serves GET /status from fn from now on. */
void sx_http_set_status(sx_http *h, sx_status_fn fn, void *ud);

/* The port actually bound. */
unsigned sx_http_port(const sx_http *h);

/* Closes the listener and every connection and frees h; the libmicrohttpd driver it used
 * (mhd_loop.c) is freed once its uv handles are closed
 * (the loop must run once more for that). NULL is allowed. */
void sx_http_stop(sx_http *h);

#endif
