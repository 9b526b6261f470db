/* Network probes of `sipxmppctl doctor`: a TCP connect, the XEP-0114 component handshake, a
 * SIP OPTIONS request, and a DNS SRV lookup. Each is bounded in time and in the bytes it
 * reads; messages are written into caller buffers (never truncated silently: a message
 * that does not fit ends with "..."). */
#ifndef SX_GATEWAY_SIPXMPPCTL_PROBE_H
#define SX_GATEWAY_SIPXMPPCTL_PROBE_H
#include <stddef.h>

/* A connected TCP socket to host:port within timeout_ms, or -1 with why. */
int probe_tcp(const char *host, unsigned port, int timeout_ms, char *why, size_t n);

/* Opens a component stream for `domain` and answers the handshake with `secret`. Returns 0
 * when the server accepts it, 1 when it refuses it (why: the stream error, e.g.
 * "not-authorized"), -1 when the server cannot be reached or does not speak XEP-0114. The
 * stream is closed again at once. */
int probe_component(const char *host, unsigned port, const char *domain, const char *secret,
                    int timeout_ms, char *why, size_t n);

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
