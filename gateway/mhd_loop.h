/* libmicrohttpd served on the daemon's libuv loop: one listener, no threads of its own.
 * Used by the operations endpoint (http.c) and the admin console (admin_http.c).
 *
 * libmicrohttpd runs in "external event loop" mode with epoll: its epoll fd is watched by a
 * uv_poll_t and its timeouts by a uv_timer_t, so every request callback runs on the loop
 * thread. The listening socket is created here (a bind failure names host:port and errno;
 * port 0 picks a free port).
 *
 * Ownership: sx_mhd_start() copies what it needs from opts (the PEM texts are only read
 * while it runs); the returned server is released by sx_mhd_stop(). */
#ifndef SX_GATEWAY_MHD_LOOP_H
#define SX_GATEWAY_MHD_LOOP_H
#include <microhttpd.h>
#include <stddef.h>
#include <uv.h>

typedef struct sx_mhd sx_mhd;

typedef struct {
  MHD_AccessHandlerCallback handler; /* every request; cls is handler_cls */
  void *handler_cls;
  MHD_RequestCompletedCallback completed; /* may be NULL: frees per-request state */
  void *completed_cls;
  const char *cert_pem, *key_pem; /* both set: HTTPS (GnuTLS); both NULL: plain HTTP */
  unsigned connection_limit;      /* 0: 64 */
  unsigned timeout_s;             /* idle connection timeout; 0: 10 s */
  const char *what;               /* "HTTP", "admin console": named in messages */
  unsigned flags;                 /* more MHD_FLAG bits, e.g. MHD_ALLOW_SUSPEND_RESUME */
} sx_mhd_opts;

/* Listens on host:port and serves on `loop`. Returns 0 and *out, or -1 with one line naming
 * host:port in err. */
int sx_mhd_start(uv_loop_t *loop, const char *host, unsigned port, const sx_mhd_opts *opts,
                 sx_mhd **out, char *err, size_t errlen);

/* The port actually bound. */
unsigned sx_mhd_port(const sx_mhd *m);

/* Runs libmicrohttpd once now (after MHD_resume_connection, as its API requires). */
void sx_mhd_kick(sx_mhd *m);

/* 1 when this libmicrohttpd build can serve HTTPS. */
int sx_mhd_tls_supported(void);

/* Closes the listener and every connection; frees m once its uv handles are closed (the
 * loop must run once more). NULL is allowed. */
void sx_mhd_stop(sx_mhd *m);

#endif
