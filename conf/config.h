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
  char *store;       /* SQLite path or postgresql:// URI; default "/var/lib/sipxmpp/sipxmpp.db" */
  char *instance_id; /* this instance's name in the store's instances table; NULL: the daemon
                        uses "HOST:SIP-PORT" */
  int log_level;     /* 0 error, 1 warn, 2 info, 3 debug; key log_level = error|warn|info|debug */
  char *message_type; /* "chat" (default) or "normal": type of <message/> sent to XMPP */
  int log_json;       /* key log_format = text (0, default) | json (1) */

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
  unsigned incomplete_timeout_s; /* a TCP/TLS connection whose request has made no progress
                                    for this long is closed; default 32 (1..3600) */
  unsigned chat_state_backoff_s; /* after a SIP user refuses isComposing (415/488/501), none
                                    is sent to that user for this long; default 3600 (0 off) */

  /* [edge] */
  char *edge_host;   /* default "127.0.0.1" */
  unsigned edge_port; /* default 23456 */
  char *edge_secret; /* from secret, or the first line of secret_file; required */
  char *edge_secret_file; /* the secret_file path when the secret came from one, else NULL */
  unsigned backoff_min_ms;  /* default 500 */
  unsigned backoff_max_ms;  /* default 30000 */
  unsigned keepalive_s;     /* whitespace keepalive interval; default 30 */
  unsigned dead_after_s;    /* link declared dead after this long without input; default 90 */
  int edge_tls;             /* tls = on|off; default off */
  char *edge_ca_file;       /* CA bundle the edge's certificate is verified against; NULL:
                               the system store */
  char *edge_server_name;   /* name verified in the certificate and sent as SNI; NULL: host */
  char *edge_cert_file, *edge_key_file; /* client certificate (mutual TLS); both or neither */
  size_t max_stanza_bytes;  /* inbound stanza limit; default 524288 */

  /* [federation]: the gateway-wide settings of Lync's Set-CsXmppGatewayConfiguration. The
   * first six are enforced by the edge XMPP server (rendered by `sipxmppctl edge-config`);
   * the others by the gateway. */
  unsigned fed_connection_limit;          /* ConnectionLimit, default 1000 */
  unsigned fed_partner_connection_limit;  /* PartnerConnectionLimit, default 20 */
  unsigned fed_keepalive_interval_s;      /* KeepAliveInterval, default 300 */
  unsigned fed_stream_establishment_timeout_s; /* StreamEstablishmentTimeout, default 60 */
  unsigned fed_stream_inactivity_timeout_s;    /* StreamInactivityTimeout, default 600 */
  char *fed_dialback_passphrase;          /* DialbackPassphrase, NULL = none (random) */
  unsigned fed_subscription_refresh_s;    /* SubscriptionRefreshInterval, default 28800 */
  int fed_log_message_bodies;             /* EnableLoggingAllMessageBodies, default 0 */
  char *fed_audit_log; /* where bodies are logged; default "/var/lib/sipxmpp/audit.log" */

  /* [http] */
  char *http_listen; /* "HOST:PORT" or NULL (off) */
  char *http_host;   /* parsed from http_listen */
  unsigned http_port;

  /* [admin]: the web console (gateway/admin_http.c) */
  char *admin_listen;    /* "HOST:PORT" or NULL (off) */
  char *admin_host;      /* parsed from admin_listen */
  unsigned admin_port;
  char *admin_cert_file; /* PEM certificate (chain); with admin_key_file: HTTPS */
  char *admin_key_file;  /* PEM private key */
  unsigned admin_idle_s; /* a session ends after this long unused; default 900 */
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
