/* The gateway's INI configuration (SPEC §8). Loaded once at start; every value checked.
 *
 * Ownership: sx_config_load() fills a caller-provided struct whose strings and arrays are
 * malloc'd and owned by it; sx_config_free() releases them. */
#ifndef SX_CONF_CONFIG_H
#define SX_CONF_CONFIG_H
#include <stddef.h>
#include <stdint.h>

typedef struct sx_cidr {
  int family;          /* AF_INET or AF_INET6 */
  uint8_t addr[16];    /* network address, network byte order */
  unsigned prefix;     /* prefix length */
} sx_cidr;

typedef struct sx_config {
  char *path; /* the file it was read from */

  /* [gateway] */
  char **domains;    /* served domains, lower-case, no trailing dot */
  size_t n_domains;
  char *store;       /* SQLite path; default "/var/lib/sipxmpp/sipxmpp.db" */
  int log_level;     /* 0 error, 1 warn, 2 info, 3 debug; key log_level = error|warn|info|debug */
  char *message_type; /* "chat" (default) or "normal": type of <message/> sent to XMPP */

  /* [sip] */
  char **listen;     /* SIP URIs, e.g. "sip:127.0.0.1:5070;transport=udp" */
  size_t n_listen;
  char *outbound_proxy; /* SIP URI of the registrar/proxy, required */
  sx_cidr *trusted;  /* trusted_peers */
  size_t n_trusted;
  size_t max_message_bytes; /* default 65536 */
  unsigned max_in_flight;   /* SIP transactions toward SIP users at once; default 256 */
  unsigned max_queued;      /* XMPP→SIP messages waiting for a slot; default 4096 */
  char *service_user;       /* local part of the gateway's service address; default "gateway" */

  /* [edge] */
  char *edge_host;   /* default "127.0.0.1" */
  unsigned edge_port; /* default 23456 */
  char *edge_secret; /* from secret, or the first line of secret_file; required */
  unsigned backoff_min_ms;  /* default 500 */
  unsigned backoff_max_ms;  /* default 30000 */
  unsigned keepalive_s;     /* whitespace keepalive interval; default 30 */
  unsigned dead_after_s;    /* link declared dead after this long without input; default 90 */

  /* [http] */
  char *http_listen; /* "HOST:PORT" or NULL (off) */
  char *http_host;   /* parsed from http_listen */
  unsigned http_port;

  /* [presence] */
  unsigned pres_min_expires;    /* min_expires: below → 423 + Min-Expires; default 60 */
  unsigned pres_max_expires;    /* max_expires: cap of a watcher's Expires; default 3600 */
  unsigned pres_fanout_expires; /* fanout_expires: asked for by fan-out SUBSCRIBEs; 3600 */
  unsigned pres_max_notify;     /* max_notify_in_flight: NOTIFYs in flight at once; 256 */
  int pres_tcp;                 /* transport = tcp (1, default) | proxy (0): TCP toward the
                                   outbound proxy for presence requests */
  char *pres_watcher_uri;       /* watcher_uri; NULL: sip:<service_user>@<user's domain> */
} sx_config;

/* Loads and validates `path`. On failure returns -1 and writes one message of the form
 * "FILE:LINE: KEY: REASON" (LINE 0 when the problem is a missing key) into err. */
int sx_config_load(const char *path, sx_config *cfg, char *err, size_t errlen);
void sx_config_free(sx_config *cfg);

/* 1 if the address (AF_INET/AF_INET6, network byte order) is inside one of the trusted
 * blocks. */
int sx_config_trusted(const sx_config *cfg, int family, const void *addr);

/* 1 if `domain` (any case, optional trailing dot) is a served domain. */
int sx_config_serves(const sx_config *cfg, const char *domain);

#endif
