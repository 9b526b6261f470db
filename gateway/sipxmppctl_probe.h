/* Network probes of `sipxmppctl doctor`: a TCP connect, the XEP-0114 component handshake, a
 * SIP OPTIONS request, and a DNS SRV lookup. Each is bounded in time and in the bytes it
 * reads; messages are written into caller buffers (never truncated silently: a message
 * that does not fit ends with "..."). */
#ifndef SX_GATEWAY_SIPXMPPCTL_PROBE_H
#define SX_GATEWAY_SIPXMPPCTL_PROBE_H
#include <stddef.h>

/* A connected TCP socket to host:port within timeout_ms, or -1 with why. */
int probe_tcp(const char *host, unsigned port, int timeout_ms, char *why, size_t n);

/* TLS to the edge as [edge] configures it (strings borrowed; NULL or "" when unset). */
typedef struct {
  const char *ca_file, *server_name, *cert_file, *key_file;
} probe_tls_opts;

typedef struct {
  int have_cert;            /* the server presented a certificate */
  char subject[256], issuer[256];
  long long not_after;      /* Unix seconds, 0 when unknown */
  long verify_error;        /* OpenSSL X509_V_* result, 0 when verified */
  char session[128];        /* "TLSv1.3 TLS_AES_256_GCM_SHA384" once up, else "-" */
} probe_tls_result;

/* A TLS handshake with host:port, verified by xmpp/edge_tls.c as the daemon verifies it
 * (ca_file, server_name or else host). 0 when verified; 1 when the handshake or the
 * verification fails (why; res says what the server presented); -1 when the server cannot
 * be reached or ca_file/cert_file/key_file do not load or match (why). */
int probe_tls(const char *host, unsigned port, const probe_tls_opts *o, int timeout_ms,
              probe_tls_result *res, char *why, size_t n);

/* Opens a component stream for `domain` (over TLS when tls is not NULL) and answers the
 * handshake with `secret`. Returns 0 when the server accepts it, 1 when it refuses it (why:
 * the stream error, e.g. "not-authorized"), -1 when the server cannot be reached, TLS
 * fails or it does not speak XEP-0114. The stream is closed again at once. */
int probe_component(const char *host, unsigned port, const char *domain, const char *secret,
                    const probe_tls_opts *tls, int timeout_ms, char *why, size_t n);

/* Sends OPTIONS to a SIP URI (sip:HOST[:PORT][;transport=udp|tcp]; '*' and unspecified
 * addresses are probed on loopback) and waits for any response. Returns 0 with *status,
 * -1 with why (no answer, cannot resolve, sips: not probed). */
int probe_sip_options(const char *uri, int timeout_ms, int *status, char *why, size_t n);

/* _xmpp-server._tcp.DOMAIN SRV records. Returns 0 with the targets ("host:port, ...") in
 * out, 1 when DNS answered that there is none, 2 when DNS answered that DOMAIN itself does
 * not exist, -1 when DNS could not be asked (why in out).
 * `server` ("ADDR" or "ADDR:PORT", IPv4) asks that server instead of resolv.conf's. */
int probe_srv(const char *domain, const char *server, char *out, size_t n);

#endif
