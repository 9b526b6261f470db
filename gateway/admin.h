/* The admin web console (SPEC §8, issue "admin web console"): status, partners, policies,
 * users, relations and the check decision as server-rendered pages and a JSON API under
 * /api/, served by sipxmppd on [admin] listen with libmicrohttpd on the daemon's loop.
 *
 * Files: admin_http.c (listener, sessions, CSRF, routing), admin_ops.c (the operations,
 * through the same store code as sipxmppctl), admin_api.c (JSON API), admin_pages.c and
 * admin_forms.c (HTML), admin_session.c (sessions, login throttle), admin_status.c (live
 * status).
 *
 * Ownership: the console belongs to the caller of sx_admin_start() (the daemon's sx_gw) and is
 * released by sx_admin_stop(); it keeps a pointer to gw, which must outlive it. */
#ifndef SX_GATEWAY_ADMIN_H
#define SX_GATEWAY_ADMIN_H
#include <stddef.h>

typedef struct sx_gw sx_gw;
typedef struct sx_admin sx_admin;

/* Starts the console on gw->cfg's [admin] listen (TLS when cert_file/key_file are set),
 * with its own store handle. 0 and *out, or -1 with one line in err. */
int sx_admin_start(sx_gw *gw, sx_admin **out, char *err, size_t n);
/* The port actually bound (tests use port 0). */
unsigned sx_admin_port(const sx_admin *a);
/* Closes the listener and sessions; NULL allowed. The loop must run once more. */
void sx_admin_stop(sx_admin *a);

#endif
