/* Self-test of the HTTP endpoint (gateway/http.c): the server runs on a libuv loop in the
 * main thread, a plain blocking-socket client in a second thread sends requests and checks
 * status lines, headers and bodies. Exit status 0 when every check passed.
 *
 * Covered: /healthz healthy and unhealthy, /metrics content and type, /status (JSON from the
 * callback; 404 without one), HEAD, 404, 405 for
 * POST (with a body), a client that stalls mid-request without blocking others, a burst of
 * requests, a bind failure naming host:port, IPv6 (when ::1 is usable) and a clean stop
 * (the loop closes with no handle left). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "gateway/http.h"
#include "gateway/metrics.h"
#include "../unit/check.h"

static const char *str_(const char *s) { return s; }

static atomic_int healthy = 1;
static unsigned port;
static int family = AF_INET;
static uv_async_t done_async;
static sx_http *server;

static int with_status; /* the /status callback is set for this run */

static char *status_doc(void *ud, size_t *len) {
  (void)ud;
  char *s = strdup("{\"ok\":true}");
  if (s && len) *len = strlen(s);
  return s;
}

static int health(void *ud, char *detail, size_t len) {
  (void)ud;
  if (atomic_load(&healthy)) return 1;
  snprintf(detail, len, "edge link down: contoso.example\nsecond line");
  return 0;
}

static int connect_server(void) {
  int fd = socket(family, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int rc;
  if (family == AF_INET) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  } else {
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    inet_pton(AF_INET6, "::1", &sa.sin6_addr);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  }
  if (rc) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Sends `req` and reads the whole response (the request asks to close). Returns malloc'd
 * text or NULL. */
static char *roundtrip(const char *req) {
  int fd = connect_server();
  if (fd < 0) return NULL;
  size_t n = strlen(req);
  if (send(fd, req, n, MSG_NOSIGNAL) != (ssize_t)n) {
    close(fd);
    return NULL;
  }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len + 1024 > cap) buf = realloc(buf, cap *= 2);
    ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
    if (r <= 0) break;
    len += (size_t)r;
  }
  buf[len] = 0;
  close(fd);
  return buf;
}

static const char *body_of(const char *resp) {
  const char *p = resp ? strstr(resp, "\r\n\r\n") : NULL;
  return p ? p + 4 : "";
}

static int status_of(const char *resp) {
  int st = 0;
  if (resp && sscanf(resp, "HTTP/1.%*d %d", &st) == 1) return st;
  return -1;
}

static int has_header(const char *resp, const char *line) {
  const char *end = strstr(resp, "\r\n\r\n");
  const char *p = strstr(resp, line);
  return p && end && p < end && p[-1] == '\n';
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

static void client_checks(void) {
  char *r = roundtrip(GET("/healthz"));
  CHECK_INT(status_of(r), 200, "healthz");
  CHECK_STR(body_of(r), "ok\n", "healthz body");
  free(r);

  atomic_store(&healthy, 0);
  r = roundtrip(GET("/healthz"));
  CHECK_INT(status_of(r), 503, "unhealthy");
  CHECK_STR(body_of(r), "edge link down: contoso.example second line\n", "unhealthy detail");
  free(r);
  atomic_store(&healthy, 1);

  r = roundtrip(GET("/metrics"));
  CHECK_INT(status_of(r), 200, "metrics");
  CHECK(r && has_header(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "metrics content type: %s", r ? r : "(null)");
  CHECK(strstr(body_of(r),
               "\nsipxmpp_messages_total{direction=\"sip_to_xmpp\",result=\"accepted\"} 2\n"),
        "metrics body: %s", body_of(r));
  CHECK(strstr(body_of(r), "\nsipxmpp_edge_link_up{domain=\"contoso.example\"} 1\n"),
        "link metric");
  free(r);

  r = roundtrip("HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK_INT(status_of(r), 200, "HEAD");
  CHECK_STR(body_of(r), "", "HEAD has no body");
  free(r);

  r = roundtrip(GET("/status"));
  if (with_status) {
    CHECK_INT(status_of(r), 200, "status");
    CHECK(r && has_header(r, "Content-Type: application/json\r\n"), "status type");
    CHECK_STR(body_of(r), "{\"ok\":true}", "status body");
  } else {
    CHECK_INT(status_of(r), 404, "status without a callback");
  }
  free(r);

  r = roundtrip(GET("/metrics?x=1"));
  CHECK_INT(status_of(r), 200, "query string ignored");
  free(r);

  r = roundtrip(GET("/"));
  CHECK_INT(status_of(r), 404, "root");
  free(r);
  r = roundtrip(GET("/metricsx"));
  CHECK_INT(status_of(r), 404, "prefix");
  free(r);

  r = roundtrip("POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                "Content-Length: 5\r\n\r\nhello");
  CHECK_INT(status_of(r), 405, "POST");
  CHECK(r && has_header(r, "Allow: GET, HEAD\r\n"), "Allow header");
  free(r);
  r = roundtrip("DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK_INT(status_of(r), 405, "DELETE");
  free(r);

  r = roundtrip("garbage\r\n\r\n");
  CHECK(status_of(r) == 400 || (r && !*r), "garbage request: %s", r ? r : "(null)");
  free(r);

  /* A client that stalls half-way through its request does not hold up others. */
  int stalled = connect_server();
  CHECK(stalled >= 0, "stalled connect");
  if (stalled >= 0) send(stalled, "GET /metr", 9, MSG_NOSIGNAL);
  for (int i = 0; i < 50; i++) {
    r = roundtrip(GET("/healthz"));
    if (status_of(r) != 200) CHECK_INT(status_of(r), 200, "burst");
    free(r);
  }
  if (stalled >= 0) {
    static const char rest[] = "ics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    send(stalled, rest, sizeof rest - 1, MSG_NOSIGNAL);
    char buf[4096];
    ssize_t n = recv(stalled, buf, sizeof buf - 1, MSG_WAITALL);
    buf[n > 0 ? n : 0] = 0;
    CHECK_INT(status_of(buf), 200, "stalled request completes");
    close(stalled);
  }
}

static void *client_thread(void *arg) {
  (void)arg;
  client_checks();
  uv_async_send(&done_async);
  return NULL;
}

static void on_done(uv_async_t *a) {
  sx_http_stop(server);
  server = NULL;
  uv_close((uv_handle_t *)a, NULL);
}

/* Starts a server on host, runs the client checks against it, stops it; returns 0 when the
 * loop ended cleanly. */
static int run_against(const char *host, int fam) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  char err[256] = "";
  if (sx_http_start(&loop, host, 0, health, NULL, &server, err, sizeof err)) {
    CHECK(0, "start on %s: %s", host, err);
    uv_loop_close(&loop);
    return -1;
  }
  port = sx_http_port(server);
  family = fam;
  with_status = fam == AF_INET;
  if (with_status) sx_http_set_status(server, status_doc, NULL);
  CHECK(port > 0, "bound port");

  /* A second listener on the same port fails and names the address. */
  sx_http *again = NULL;
  char want[128];
  if (fam == AF_INET)
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1:%u: Address already in use", port);
  else
    snprintf(want, sizeof want, "cannot listen on [::1]:%u: Address already in use", port);
  CHECK_INT(sx_http_start(&loop, host, port, health, NULL, &again, err, sizeof err), -1,
            "second bind");
  CHECK_STR(str_(err), str_(want), "bind failure message");
  CHECK(again == NULL, "no server on failure");

  uv_async_init(&loop, &done_async, on_done);
  pthread_t t;
  pthread_create(&t, NULL, client_thread, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  pthread_join(t, NULL);
  int rc = uv_loop_close(&loop);
  CHECK_INT(rc, 0, "loop closes with no handle left");
  return rc;
}

int main(void) {
  sx_metric_msg(SX_DIR_SIP_TO_XMPP, SX_RES_ACCEPTED);
  sx_metric_msg(SX_DIR_SIP_TO_XMPP, SX_RES_ACCEPTED);
  sx_metric_link("contoso.example", 1);

  run_against("127.0.0.1", AF_INET);

  /* IPv6, where the loopback address is configured. */
  int probe = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
  inet_pton(AF_INET6, "::1", &sa.sin6_addr);
  int v6 = probe >= 0 && bind(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
  if (probe >= 0) close(probe);
  if (v6)
    run_against("::1", AF_INET6);
  else
    printf("::1 not available, IPv6 part skipped\n");

  /* An address this machine does not have. */
  uv_loop_t loop;
  uv_loop_init(&loop);
  sx_http *h = NULL;
  char err[256] = "";
  CHECK_INT(sx_http_start(&loop, "192.0.2.1", 8070, health, NULL, &h, err, sizeof err), -1,
            "foreign address");
  CHECK_STR(str_(err), "cannot listen on 192.0.2.1:8070: Cannot assign requested address",
            "foreign address message");
  CHECK_INT(uv_loop_close(&loop), 0, "nothing left after failed start");

  sx_metrics_reset();
  return check_done();
}
