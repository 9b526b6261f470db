/* The web console's sessions and login throttle (in memory, loop thread only).
 *
 * A session is created at login: a random 256-bit id (the HttpOnly cookie) and a random
 * CSRF token that every state-changing request must carry. A session unused for idle_ms
 * ends; at most SX_ADMIN_MAX_SESSIONS exist (the least recently used is ended for a new one).
 *
 * Failed logins are throttled per client address (SX_THROTTLE_PER_ADDR failures within
 * SX_THROTTLE_WINDOW_MS block that address until the window ends) and overall
 * (SX_THROTTLE_GLOBAL failures within a window block every login until it ends).
 *
 * Ownership: the table owns its sessions; a pointer returned by find/create stays valid
 * until the next call that creates or ends sessions. */
#ifndef SX_GATEWAY_ADMIN_SESSION_H
#define SX_GATEWAY_ADMIN_SESSION_H
#include <stddef.h>
#include <stdint.h>

#include "conf/store.h"

#define SX_ADMIN_MAX_SESSIONS 64
#define SX_ADMIN_TOKEN_HEX 64 /* 32 random bytes */
#define SX_THROTTLE_ADDRS 256
#define SX_THROTTLE_PER_ADDR 5
#define SX_THROTTLE_GLOBAL 30
#define SX_THROTTLE_WINDOW_MS (5 * 60 * 1000)

typedef struct {
  int used;
  char id[SX_ADMIN_TOKEN_HEX + 1];
  char csrf[SX_ADMIN_TOKEN_HEX + 1];
  char user[SX_ADMIN_NAME_MAX + 1];
  uint64_t last_ms;
  int64_t created;  /* unix time of the login */
  char flash[1024]; /* one message shown on the next page, then cleared */
  int flash_error;
} sx_admin_session;

typedef struct {
  char addr[64];
  uint64_t start_ms; /* window start; 0 = free */
  unsigned fails;
} sx_throttle_row;

typedef struct {
  uint64_t idle_ms;
  sx_admin_session s[SX_ADMIN_MAX_SESSIONS];
  sx_throttle_row t[SX_THROTTLE_ADDRS];
  uint64_t global_start_ms;
  unsigned global_fails;
} sx_admin_sessions;

void sx_sessions_init(sx_admin_sessions *ss, uint64_t idle_ms);

/* A new session for user; NULL when no random bytes could be had. */
sx_admin_session *sx_sessions_create(sx_admin_sessions *ss, const char *user, uint64_t now_ms);
/* The live session with this id (and marks it used now), or NULL (unknown, expired). */
sx_admin_session *sx_sessions_find(sx_admin_sessions *ss, const char *id, uint64_t now_ms);
void sx_sessions_end(sx_admin_sessions *ss, sx_admin_session *s);
/* 1 when token is the session's CSRF token (constant-time comparison). */
int sx_session_csrf_ok(const sx_admin_session *s, const char *token);
/* Sets the message shown on the next page. */
void sx_session_flash(sx_admin_session *s, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 1 when addr may try to log in now; else 0 and *retry_s the seconds until it may. */
int sx_throttle_allowed(sx_admin_sessions *ss, const char *addr, uint64_t now_ms,
                        unsigned *retry_s);
void sx_throttle_failed(sx_admin_sessions *ss, const char *addr, uint64_t now_ms);
/* A successful login clears the address's failures. */
void sx_throttle_succeeded(sx_admin_sessions *ss, const char *addr);

#endif
