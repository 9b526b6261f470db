/* libmicrohttpd on the libuv loop (see mhd_loop.h).
 *
 * libmicrohttpd is started with MHD_USE_EPOLL and no internal thread. Its epoll fd becomes
 * readable whenever one of its sockets has work; a uv_poll_t watches it and calls MHD_run(),
 * which does not block. After every run the uv_timer_t is set from MHD_get_timeout() (idle
 * connection timeouts, and 0 when libmicrohttpd still has buffered work to do).
 *
 * The listening socket is created here and handed over with MHD_OPTION_LISTEN_SOCKET, so a
 * bind failure is reported with its errno and the address, and port 0 can be resolved. */
#include "gateway/mhd_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "translate/log.h"

#define DEFAULT_CONNECTION_LIMIT 64u
#define DEFAULT_TIMEOUT_S 10u

struct sx_mhd {
  uv_loop_t *loop;
  struct MHD_Daemon *d;
  uv_poll_t poll;
  uv_timer_t timer;
  int open_handles;
  unsigned port;
  char last_log[256]; /* latest libmicrohttpd message, for start-up failures */
};

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  sx_mhd *m = cls;
  vsnprintf(m->last_log, sizeof m->last_log, fmt, ap);
  size_t n = strlen(m->last_log);
  while (n && (m->last_log[n - 1] == '\n' || m->last_log[n - 1] == '\r')) m->last_log[--n] = 0;
  sx_debug("http", "libmicrohttpd: %s", m->last_log);
}

/* ---- driving libmicrohttpd from libuv ----------------------------------------------- */

static void on_timer(uv_timer_t *t);

static void drive(sx_mhd *m) {
  if (!m->d) return;
  MHD_run(m->d);
  MHD_UNSIGNED_LONG_LONG timeout;
  if (MHD_get_timeout(m->d, &timeout) == MHD_YES)
    uv_timer_start(&m->timer, on_timer, (uint64_t)timeout, 0);
  else
    uv_timer_stop(&m->timer);
}

static void on_timer(uv_timer_t *t) { drive(t->data); }

static void on_poll(uv_poll_t *p, int status, int events) {
  (void)events;
  if (status < 0) sx_debug("http", "poll error: %s", uv_strerror(status));
  drive(p->data);
}

static void on_closed(uv_handle_t *handle) {
  sx_mhd *m = handle->data;
  if (--m->open_handles == 0) free(m);
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

int sx_mhd_tls_supported(void) { return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES; }

int sx_mhd_start(uv_loop_t *loop, const char *host, unsigned port, const sx_mhd_opts *o,
                 sx_mhd **out, char *err, size_t errlen) {
  char where[300];
  char dummy[1];
  const char *what = o->what ? o->what : "HTTP";
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
  int tls = o->cert_pem && o->key_pem;
  if (tls && !sx_mhd_tls_supported()) {
    snprintf(err, errlen, "cannot serve %s on %s: this libmicrohttpd has no TLS support", what,
             where);
    return -1;
  }

  int fd = open_listener(host, port, where, err, errlen);
  if (fd < 0) return -1;

  sx_mhd *m = calloc(1, sizeof *m);
  if (!m) {
    close(fd);
    snprintf(err, errlen, "cannot listen on %s: out of memory", where);
    return -1;
  }
  m->loop = loop;
  m->port = bound_port(fd);

  struct MHD_OptionItem tls_opts[] = {
      {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)o->cert_pem},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)o->key_pem},
      {MHD_OPTION_END, 0, NULL},
  };
  if (!tls) tls_opts[0].option = MHD_OPTION_END;
  unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (tls ? MHD_USE_TLS : 0) | o->flags;
  m->d = MHD_start_daemon(flags, 0, NULL, NULL, o->handler, o->handler_cls,
                          MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, m,
                          MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                          MHD_OPTION_CONNECTION_LIMIT,
                          o->connection_limit ? o->connection_limit : DEFAULT_CONNECTION_LIMIT,
                          MHD_OPTION_CONNECTION_TIMEOUT,
                          o->timeout_s ? o->timeout_s : DEFAULT_TIMEOUT_S,
                          MHD_OPTION_NOTIFY_COMPLETED, o->completed, o->completed_cls,
                          MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
  if (!m->d) {
    /* Close the socket unless libmicrohttpd already did while failing. */
    if (fcntl(fd, F_GETFD) != -1) close(fd);
    snprintf(err, errlen, "cannot serve %s on %s: %s", what, where,
             m->last_log[0] ? m->last_log : "libmicrohttpd failed to start");
    free(m);
    return -1;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD);
  int efd = info ? info->epoll_fd : -1;
  int rc = efd >= 0 ? uv_poll_init(loop, &m->poll, efd) : UV_EINVAL;
  if (rc) {
    MHD_stop_daemon(m->d);
    snprintf(err, errlen, "cannot serve %s on %s: cannot watch libmicrohttpd: %s", what, where,
             uv_strerror(rc));
    free(m);
    return -1;
  }
  uv_timer_init(loop, &m->timer);
  m->poll.data = m;
  m->timer.data = m;
  m->open_handles = 2;
  rc = uv_poll_start(&m->poll, UV_READABLE, on_poll);
  if (rc) {
    snprintf(err, errlen, "cannot serve %s on %s: cannot watch libmicrohttpd: %s", what, where,
             uv_strerror(rc));
    sx_mhd_stop(m);
    return -1;
  }
  drive(m);
  *out = m;
  return 0;
}

unsigned sx_mhd_port(const sx_mhd *m) { return m ? m->port : 0; }

void sx_mhd_kick(sx_mhd *m) {
  if (m) drive(m);
}

void sx_mhd_stop(sx_mhd *m) {
  if (!m) return;
  /* Closing the poll handle removes the epoll fd from libuv's set at once, before
   * libmicrohttpd closes it. */
  uv_close((uv_handle_t *)&m->poll, on_closed);
  uv_close((uv_handle_t *)&m->timer, on_closed);
  if (m->d) {
    MHD_stop_daemon(m->d);
    m->d = NULL;
  }
}
