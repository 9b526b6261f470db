/* Config loader: good files and their values, one bad file per rule with the exact
 * message, secret_file handling, the shipped sample, and trusted-peer CIDR matching.
 * Fixture files are written into a temporary directory by the test itself. */
#include "conf/config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

/* CHECK_STR tests its arguments for NULL, which an array never is; pass arrays through this. */
static const char *str_(const char *s) { return s; }

static char dir[64];
static int file_no;

/* Writes `text` into a new file in the temporary directory; returns its malloc'd path. */
static char *write_file(const char *text) {
  char *path;
  if (asprintf(&path, "%s/f%d.conf", dir, ++file_no) < 0) abort();
  FILE *f = fopen(path, "w");
  if (!f) abort();
  fputs(text, f);
  fclose(f);
  return path;
}

#define BASE_GATEWAY "[gateway]\ndomains = contoso.example\n"
#define BASE_SIP "[sip]\noutbound_proxy = sip:127.0.0.1:5060\n"
#define BASE_EDGE "[edge]\nsecret = s3cret\n"
#define BASE BASE_GATEWAY BASE_SIP BASE_EDGE

/* Bad files: `want` is the message with "F" standing for the file's path. */
static const struct {
  const char *text;
  const char *want;
} bad[] = {
    /* structure */
    {BASE "[edge2]\n",
     "F:7: [edge2]: unknown section (known: gateway, sip, edge, http, federation, admin, presence)"},
    {"domains = x.example\n" BASE,
     "F:1: domains: key outside any section; put it under [gateway], [sip], [edge], [http], "
     "[federation], [admin] or [presence]"},
    {BASE "colour = blue\n", "F:7: edge.colour: unknown key"},
    {BASE "port = 1\nport = 2\n", "F:8: edge.port: duplicate key (first set on line 7)"},
    {BASE "just words\n", "F:7: (syntax): expected '[section]' or 'key = value'"},
    {BASE "[http\n", "F:7: (syntax): expected '[section]' or 'key = value'"},
    {BASE "= 5\n", "F:7: edge: a key name is missing before '='"},
    /* required keys */
    {BASE_SIP BASE_EDGE, "F:0: gateway.domains: required key is missing"},
    {BASE_GATEWAY BASE_EDGE, "F:0: sip.outbound_proxy: required key is missing"},
    {BASE_GATEWAY BASE_SIP "[edge]\n",
     "F:0: edge.secret: required key is missing (set edge.secret or edge.secret_file)"},
    /* [gateway] */
    {"[gateway]\ndomains = contoso.example, bad_name.example\n" BASE_SIP BASE_EDGE,
     "F:2: gateway.domains: 'bad_name.example' is not a valid DNS name"},
    {"[gateway]\ndomains = a.example,,b.example\n" BASE_SIP BASE_EDGE,
     "F:2: gateway.domains: the list has an empty item"},
    {"[gateway]\ndomains =\n" BASE_SIP BASE_EDGE, "F:2: gateway.domains: must not be empty"},
    {BASE "[sip]\ntrusted_peers = ; nobody\n", "F:8: sip.trusted_peers: must not be empty"},
    {"[gateway]\ndomains = -a.example\n" BASE_SIP BASE_EDGE,
     "F:2: gateway.domains: '-a.example' is not a valid DNS name"},
    {"[gateway]\ndomains = a..example\n" BASE_SIP BASE_EDGE,
     "F:2: gateway.domains: 'a..example' is not a valid DNS name"},
    {"[gateway]\ndomains = A.example, a.example.\n" BASE_SIP BASE_EDGE,
     "F:2: gateway.domains: 'a.example' is listed twice"},
    {BASE "[gateway]\nlog_level = loud\n",
     "F:8: gateway.log_level: must be error, warn, info or debug, got 'loud'"},
    {BASE "[gateway]\nmessage_type = groupchat\n",
     "F:8: gateway.message_type: must be chat or normal, got 'groupchat'"},
    {BASE "[gateway]\nstore =\n", "F:8: gateway.store: must not be empty"},
    /* [sip] */
    {BASE "[sip]\nlisten = http://127.0.0.1:5070\n",
     "F:8: sip.listen: 'http://127.0.0.1:5070': must start with sip: or sips:"},
    {BASE "[sip]\nlisten = sip:127.0.0.1;transport=udp\n",
     "F:8: sip.listen: 'sip:127.0.0.1;transport=udp': the port is missing (HOST:PORT)"},
    {BASE "[sip]\nlisten = sip:127.0.0.1:70000\n",
     "F:8: sip.listen: 'sip:127.0.0.1:70000': the port must be an integer 1..65535"},
    {BASE "[sip]\nlisten = sip:127.0.0.1:5070;transport=sctp\n",
     "F:8: sip.listen: 'sip:127.0.0.1:5070;transport=sctp': transport must be udp, tcp or tls"},
    {BASE "[sip]\nlisten = sips:127.0.0.1:5071;transport=udp\n",
     "F:8: sip.listen: 'sips:127.0.0.1:5071;transport=udp': sips: cannot use transport=udp"},
    {BASE "[sip]\nlisten = sip:gw@127.0.0.1:5070\n",
     "F:8: sip.listen: 'sip:gw@127.0.0.1:5070': a listen URI has no user part"},
    {BASE "[sip]\nlisten = sip:::1:5070\n",
     "F:8: sip.listen: 'sip:::1:5070': an IPv6 address needs brackets, e.g. [::1]:PORT"},
    {BASE "[sip]\nlisten = sip:[::g]:5070\n",
     "F:8: sip.listen: 'sip:[::g]:5070': the bracketed host is not an IPv6 address"},
    {"[gateway]\ndomains = a.example\n[sip]\noutbound_proxy = 127.0.0.1:5060\n" BASE_EDGE,
     "F:4: sip.outbound_proxy: '127.0.0.1:5060': must start with sip: or sips:"},
    {"[gateway]\ndomains = a.example\n[sip]\noutbound_proxy = sip:a:1, sip:b:2\n" BASE_EDGE,
     "F:4: sip.outbound_proxy: must be a single SIP URI, got 'sip:a:1, sip:b:2'"},
    {BASE "[sip]\ntrusted_peers = 10.0.0.0/8, 10.0.0.300\n",
     "F:8: sip.trusted_peers: '10.0.0.300' is not an IPv4/IPv6 address or CIDR block"},
    {BASE "[sip]\ntrusted_peers = 10.0.0.0/33\n",
     "F:8: sip.trusted_peers: '10.0.0.0/33' is not an IPv4/IPv6 address or CIDR block"},
    {BASE "[sip]\ntrusted_peers = ::1/129\n",
     "F:8: sip.trusted_peers: '::1/129' is not an IPv4/IPv6 address or CIDR block"},
    {BASE "[sip]\ntrusted_peers = 10.0.0.0/-1\n",
     "F:8: sip.trusted_peers: '10.0.0.0/-1' is not an IPv4/IPv6 address or CIDR block"},
    {BASE "[sip]\ntrusted_peers = fe80::1%eth0\n",
     "F:8: sip.trusted_peers: 'fe80::1%eth0' is not an IPv4/IPv6 address or CIDR block"},
    {BASE "[sip]\nmax_message_bytes = 0\n",
     "F:8: sip.max_message_bytes: must be an integer 1..16777216, got '0'"},
    {BASE "[sip]\nmax_message_bytes = 16777217\n",
     "F:8: sip.max_message_bytes: must be an integer 1..16777216, got '16777217'"},
    {BASE "[sip]\nmax_message_bytes = 64k\n",
     "F:8: sip.max_message_bytes: must be an integer 1..16777216, got '64k'"},
    {BASE "[sip]\nmax_in_flight = -1\n",
     "F:8: sip.max_in_flight: must be an integer 1..100000, got '-1'"},
    {BASE "[sip]\nmax_in_flight = +5\n",
     "F:8: sip.max_in_flight: must be an integer 1..100000, got '+5'"},
    {BASE "[sip]\nincomplete_timeout_s = 0\n",
     "F:8: sip.incomplete_timeout_s: must be an integer 1..3600, got '0'"},
    {BASE "[sip]\nchat_state_backoff_s = 604801\n",
     "F:8: sip.chat_state_backoff_s: must be an integer 0..604800, got '604801'"},
    {BASE "[sip]\nmax_queued = 99999999999999999999999\n",
     "F:8: sip.max_queued: must be an integer 0..1000000, got '99999999999999999999999'"},
    {BASE "[sip]\nservice_user = gate way\n",
     "F:8: sip.service_user: may contain only letters, digits, '.', '_' and '-', got 'gate way'"},
    /* [edge] */
    {BASE "port = 99999\n", "F:7: edge.port: must be an integer 1..65535, got '99999'"},
    {BASE "port = 0\n", "F:7: edge.port: must be an integer 1..65535, got '0'"},
    {BASE "port = 5 6\n", "F:7: edge.port: must be an integer 1..65535, got '5 6'"},
    {BASE "port = 0x50\n", "F:7: edge.port: must be an integer 1..65535, got '0x50'"},
    {BASE "host = bad host\n",
     "F:7: edge.host: must be an IPv4 address, IPv6 address or DNS name, got 'bad host'"},
    {BASE "secret_file = /etc/hostname\n",
     "F:7: edge.secret_file: edge.secret is already set on line 6; set only one of them"},
    {BASE_GATEWAY BASE_SIP "[edge]\nsecret =\n", "F:6: edge.secret: must not be empty"},
    {BASE_GATEWAY BASE_SIP "[edge]\nsecret_file = /nonexistent/edge.secret\n",
     "F:6: edge.secret_file: cannot read '/nonexistent/edge.secret': No such file or directory"},
    {BASE "backoff_min_ms = 1000\nbackoff_max_ms = 999\n",
     "F:8: edge.backoff_max_ms: edge.backoff_max_ms (999) must be at least edge.backoff_min_ms "
     "(1000)"},
    {BASE "backoff_min_ms = 40000\n",
     "F:7: edge.backoff_min_ms: edge.backoff_max_ms (30000) must be at least "
     "edge.backoff_min_ms (40000)"},
    {BASE "keepalive_s = 30\ndead_after_s = 30\n",
     "F:8: edge.dead_after_s: edge.dead_after_s (30) must be greater than edge.keepalive_s (30)"},
    {BASE "keepalive_s = 120\n",
     "F:7: edge.keepalive_s: edge.dead_after_s (90) must be greater than edge.keepalive_s (120)"},
    {BASE "keepalive_s = 0\n", "F:7: edge.keepalive_s: must be an integer 1..3600, got '0'"},
    {BASE "tls = yes\n", "F:7: edge.tls: must be on or off, got 'yes'"},
    {BASE "tls = on\nca_file = /nonexistent/ca.pem\n",
     "F:8: edge.ca_file: cannot read '/nonexistent/ca.pem': No such file or directory"},
    {BASE "tls = on\ncert_file = /nonexistent/gw.crt\n",
     "F:8: edge.cert_file: cannot read '/nonexistent/gw.crt': No such file or directory"},
    {BASE "tls = on\nkey_file =\n", "F:8: edge.key_file: must not be empty"},
    {BASE "tls = on\nserver_name = bad name\n",
     "F:8: edge.server_name: must be a DNS name or an IP address, got 'bad name'"},
    {BASE "ca_file = /etc/hostname\n",
     "F:7: edge.ca_file: takes effect only with edge.tls = on (the link would be plaintext)"},
    {BASE "tls = off\nserver_name = edge.example\n",
     "F:8: edge.server_name: takes effect only with edge.tls = on (the link would be "
     "plaintext)"},
    {BASE "tls = on\ncert_file = /etc/hostname\n",
     "F:8: edge.cert_file: edge.cert_file and edge.key_file go together (a client certificate "
     "needs both)"},
    {BASE "tls = on\nkey_file = /etc/hostname\n",
     "F:8: edge.key_file: edge.cert_file and edge.key_file go together (a client certificate "
     "needs both)"},
    {BASE "max_stanza_bytes = 4095\n",
     "F:7: edge.max_stanza_bytes: must be an integer 4096..67108864, got '4095'"},
    {BASE "max_stanza_bytes = 512k\n",
     "F:7: edge.max_stanza_bytes: must be an integer 4096..67108864, got '512k'"},
    /* [http] */
    {BASE "[http]\nlisten = 127.0.0.1\n",
     "F:8: http.listen: must be HOST:PORT or [IPV6]:PORT (the port is missing (HOST:PORT)), got "
     "'127.0.0.1'"},
    {BASE "[http]\nlisten = ::1:8070\n",
     "F:8: http.listen: must be HOST:PORT or [IPV6]:PORT (an IPv6 address needs brackets, e.g. "
     "[::1]:PORT), got '::1:8070'"},
    {BASE "[http]\nlisten = 127.0.0.1:80x\n",
     "F:8: http.listen: must be HOST:PORT or [IPV6]:PORT (the port must be an integer 1..65535), "
     "got '127.0.0.1:80x'"},
    /* [presence] */
    {BASE "[presence]\nmax_expires = 0\n",
     "F:8: presence.max_expires: must be an integer 1..86400, got '0'"},
    {BASE "[presence]\nmin_expires = 600\nmax_expires = 300\n",
     "F:9: presence.max_expires: presence.max_expires (300) must be at least "
     "presence.min_expires (600)"},
    {BASE "[presence]\nwatcher_uri = gateway@contoso.example\n",
     "F:8: presence.watcher_uri: must be a sip:user@domain URI, got 'gateway@contoso.example'"},
    {BASE "[presence]\ntransport = udp\n",
     "F:8: presence.transport: must be tcp or proxy, got 'udp'"},
    /* [gateway] log_format, [federation] */
    {BASE "[gateway]\nlog_format = xml\n", "F:8: gateway.log_format: must be text or json, got 'xml'"},
    {BASE "[federation]\nconnection_limit = 0\n",
     "F:8: federation.connection_limit: must be an integer 1..1000000, got '0'"},
    {BASE "[federation]\npartner_connection_limit = x\n",
     "F:8: federation.partner_connection_limit: must be an integer 1..1000000, got 'x'"},
    {BASE "[federation]\nkeepalive_interval_s = 0\n",
     "F:8: federation.keepalive_interval_s: must be an integer 1..86400, got '0'"},
    {BASE "[federation]\nstream_establishment_timeout_s = 3601\n",
     "F:8: federation.stream_establishment_timeout_s: must be an integer 1..3600, got '3601'"},
    {BASE "[federation]\nstream_inactivity_timeout_s = -1\n",
     "F:8: federation.stream_inactivity_timeout_s: must be an integer 1..86400, got '-1'"},
    {BASE "[federation]\nsubscription_refresh_s = 9\n",
     "F:8: federation.subscription_refresh_s: must be an integer 10..604800, got '9'"},
    {BASE "[federation]\ndialback_passphrase = short\n",
     "F:8: federation.dialback_passphrase: must be 8..256 characters (got 5)"},
    {BASE "[federation]\ndialback_passphrase = has\"quote\"\n",
     "F:8: federation.dialback_passphrase: may contain only printable ASCII without blanks or "
     "quotes"},
    {BASE "[federation]\nlog_message_bodies = maybe\n",
     "F:8: federation.log_message_bodies: must be on or off, got 'maybe'"},
    {BASE "[federation]\naudit_log = audit.log\n",
     "F:8: federation.audit_log: must be an absolute path, got 'audit.log'"},
    /* [admin] */
    {BASE "[admin]\nlisten = 127.0.0.1\n",
     "F:8: admin.listen: must be HOST:PORT or [IPV6]:PORT (the port is missing (HOST:PORT)), got "
     "'127.0.0.1'"},
    {BASE "[admin]\nlisten = 127.0.0.1:8071\ncert_file = /etc/hostname\n",
     "F:9: admin.cert_file: admin.cert_file and admin.key_file must be set together (HTTPS needs "
     "both)"},
    {BASE "[admin]\nkey_file = /nonexistent/key.pem\n",
     "F:8: admin.key_file: cannot read '/nonexistent/key.pem': No such file or directory"},
    {BASE "[admin]\nsession_idle_s = 10\n",
     "F:8: admin.session_idle_s: must be an integer 60..86400, got '10'"},
    /* the first error wins */
    {BASE "port = x\nhost = bad host\n", "F:7: edge.port: must be an integer 1..65535, got 'x'"},
};

static void test_bad(void) {
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *path = write_file(bad[i].text);
    char *want;
    if (asprintf(&want, "%s%s", path, bad[i].want + 1) < 0) abort();
    sx_config cfg;
    char err[512] = "";
    char ctx[32];
    snprintf(ctx, sizeof ctx, "bad[%zu]", i);
    CHECK_INT(sx_config_load(path, &cfg, err, sizeof err), -1, ctx);
    CHECK_STR(str_(err), want, ctx);
    CHECK(cfg.domains == NULL && cfg.edge_secret == NULL, "%s: config not cleared", ctx);
    free(want);
    free(path);
  }
}

static void test_unreadable(void) {
  sx_config cfg;
  char err[256];
  CHECK_INT(sx_config_load("/nonexistent/sipxmppd.conf", &cfg, err, sizeof err), -1, "missing");
  CHECK_STR(str_(err), "/nonexistent/sipxmppd.conf:0: cannot open: No such file or directory",
            "missing");
}

static void test_long_line(void) {
  char text[1024];
  char pad[400];
  memset(pad, 'a', sizeof pad - 1);
  pad[sizeof pad - 1] = 0;
  snprintf(text, sizeof text, BASE "; %s\n", pad);
  char *path = write_file(text);
  sx_config cfg;
  char err[512], want[512];
  snprintf(want, sizeof want, "%s:7: (line): longer than 197 bytes", path);
  CHECK_INT(sx_config_load(path, &cfg, err, sizeof err), -1, "long line");
  CHECK_STR(str_(err), str_(want), "long line");
  free(path);
}

static void test_defaults(void) {
  char *path = write_file(BASE);
  sx_config cfg;
  char err[512] = "";
  CHECK_INT(sx_config_load(path, &cfg, err, sizeof err), 0, err);
  CHECK_STR(cfg.path, path, "path");
  CHECK_INT(cfg.n_domains, 1, "n_domains");
  CHECK_STR(cfg.domains[0], "contoso.example", "domain");
  CHECK_STR(cfg.store, "/var/lib/sipxmpp/sipxmpp.db", "store");
  CHECK_INT(cfg.log_level, 2, "log_level");
  CHECK_STR(cfg.message_type, "chat", "message_type");
  CHECK_INT(cfg.n_listen, 2, "n_listen");
  CHECK_STR(cfg.listen[0], "sip:127.0.0.1:5070;transport=udp", "listen0");
  CHECK_STR(cfg.listen[1], "sip:127.0.0.1:5070;transport=tcp", "listen1");
  CHECK_STR(cfg.outbound_proxy, "sip:127.0.0.1:5060", "proxy");
  CHECK_INT(cfg.n_trusted, 2, "n_trusted");
  CHECK_INT(cfg.max_message_bytes, 65536, "max_message_bytes");
  CHECK_INT(cfg.max_in_flight, 256, "max_in_flight");
  CHECK_INT(cfg.max_queued, 4096, "max_queued");
  CHECK_INT(cfg.incomplete_timeout_s, 32, "incomplete_timeout_s default");
  CHECK_INT(cfg.chat_state_backoff_s, 3600, "chat_state_backoff_s default");
  CHECK_STR(cfg.service_user, "gateway", "service_user");
  CHECK_STR(cfg.edge_host, "127.0.0.1", "edge_host");
  CHECK_INT(cfg.edge_port, 23456, "edge_port");
  CHECK_STR(cfg.edge_secret, "s3cret", "secret");
  CHECK_INT(cfg.backoff_min_ms, 500, "backoff_min");
  CHECK_INT(cfg.backoff_max_ms, 30000, "backoff_max");
  CHECK_INT(cfg.keepalive_s, 30, "keepalive");
  CHECK_INT(cfg.dead_after_s, 90, "dead_after");
  CHECK_INT(cfg.edge_tls, 0, "tls off by default");
  CHECK(cfg.edge_ca_file == NULL && cfg.edge_server_name == NULL && cfg.edge_cert_file == NULL &&
            cfg.edge_key_file == NULL,
        "no TLS files by default");
  CHECK_INT(cfg.max_stanza_bytes, 524288, "max_stanza_bytes");
  CHECK(cfg.http_listen == NULL && cfg.http_host == NULL && cfg.http_port == 0, "http off");
  CHECK_INT(cfg.pres_min_expires, 60, "presence min_expires");
  CHECK_INT(cfg.pres_max_expires, 3600, "presence max_expires");
  CHECK_INT(cfg.pres_fanout_expires, 3600, "presence fanout_expires");
  CHECK_INT(cfg.pres_max_notify, 256, "presence max_notify_in_flight");
  CHECK_INT(cfg.pres_tcp, 1, "presence transport tcp");
  CHECK(cfg.pres_watcher_uri == NULL, "presence watcher_uri default");
  CHECK_INT(cfg.log_json, 0, "log_format text");
  CHECK(cfg.edge_secret_file == NULL, "no secret file");
  /* Lync's Set-CsXmppGatewayConfiguration defaults */
  CHECK_INT(cfg.fed_connection_limit, 1000, "ConnectionLimit");
  CHECK_INT(cfg.fed_partner_connection_limit, 20, "PartnerConnectionLimit");
  CHECK_INT(cfg.fed_keepalive_interval_s, 300, "KeepAliveInterval");
  CHECK_INT(cfg.fed_stream_establishment_timeout_s, 60, "StreamEstablishmentTimeout");
  CHECK_INT(cfg.fed_stream_inactivity_timeout_s, 600, "StreamInactivityTimeout");
  CHECK_INT(cfg.fed_subscription_refresh_s, 28800, "SubscriptionRefreshInterval");
  CHECK(cfg.fed_dialback_passphrase == NULL, "DialbackPassphrase unset");
  CHECK_INT(cfg.fed_log_message_bodies, 0, "EnableLoggingAllMessageBodies");
  CHECK_STR(cfg.fed_audit_log, "/var/lib/sipxmpp/audit.log", "audit_log");
  CHECK(cfg.admin_listen == NULL && cfg.admin_cert_file == NULL, "admin console off");
  CHECK_INT(cfg.admin_idle_s, 900, "admin session idle default");
  uint8_t lo4[4] = {127, 0, 0, 1}, lo6[16] = {[15] = 1}, other[4] = {127, 0, 0, 2};
  CHECK(sx_config_trusted(&cfg, AF_INET, lo4), "default trusts 127.0.0.1");
  CHECK(sx_config_trusted(&cfg, AF_INET6, lo6), "default trusts ::1");
  CHECK(!sx_config_trusted(&cfg, AF_INET, other), "default does not trust 127.0.0.2");
  sx_config_free(&cfg);
  CHECK(cfg.domains == NULL && cfg.path == NULL, "freed and cleared");
  sx_config_free(&cfg); /* twice is harmless */
  free(path);
}

static void test_full(void) {
  char *path = write_file(
      "# a full file\n"
      "[gateway]\n"
      "  domains = Contoso.Example., fabrikam-int.example ; two of them\n"
      "store = /tmp/x.db\n"
      "LOG_LEVEL = Debug\n"
      "message_type = normal\n"
      "[SIP]\n"
      "listen = sip:[::1]:5070;transport=udp, sips:*:5071;transport=tls, sip:gw.example:5072\n"
      "outbound_proxy = sip:proxy@kamailio.example:5060;lr\n"
      "trusted_peers = 10.1.2.3/8, 2001:db8::/32, 192.0.2.7\n"
      "max_message_bytes = 16777216\n"
      "max_in_flight = 1\n"
      "max_queued = 0\n"
      "incomplete_timeout_s = 5\n"
      "chat_state_backoff_s = 0\n"
      "service_user = GW-Bot\n"
      "[edge]\n"
      "host = ::1\n"
      "port = 5347\n"
      "secret: colon-separated-secret\n"
      "backoff_min_ms = 100\n"
      "backoff_max_ms = 100\n"
      "keepalive_s = 10\n"
      "dead_after_s = 11\n"
      "tls = on\n"
      "ca_file = /etc/hostname\n"
      "server_name = edge.contoso.example\n"
      "cert_file = /etc/hostname\n"
      "key_file = /etc/hostname\n"
      "max_stanza_bytes = 1048576\n"
      "[http]\n"
      "listen = [::1]:9100\n"
      "[admin]\n"
      "listen = 127.0.0.1:8071\n"
      "cert_file = /etc/hostname\n"
      "key_file = /etc/hostname\n"
      "session_idle_s = 600\n"
      "[presence]\n"
      "min_expires = 5\n"
      "max_expires = 600\n"
      "fanout_expires = 300\n"
      "max_notify_in_flight = 32\n"
      "transport = proxy\n"
      "watcher_uri = sip:presence-gw@contoso.example\n");
  sx_config cfg;
  char err[512] = "";
  CHECK_INT(sx_config_load(path, &cfg, err, sizeof err), 0, err);
  CHECK_INT(cfg.n_domains, 2, "n_domains");
  if (cfg.n_domains == 2) {
    CHECK_STR(cfg.domains[0], "contoso.example", "domain lower-cased, dot stripped");
    CHECK_STR(cfg.domains[1], "fabrikam-int.example", "inline comment dropped");
  }
  CHECK_STR(cfg.store, "/tmp/x.db", "store");
  CHECK_INT(cfg.log_level, 3, "log_level");
  CHECK_STR(cfg.message_type, "normal", "message_type");
  CHECK_INT(cfg.n_listen, 3, "n_listen");
  if (cfg.n_listen == 3) {
    CHECK_STR(cfg.listen[0], "sip:[::1]:5070;transport=udp", "listen0");
    CHECK_STR(cfg.listen[1], "sips:*:5071;transport=tls", "listen1");
    CHECK_STR(cfg.listen[2], "sip:gw.example:5072", "listen2");
  }
  CHECK_STR(cfg.outbound_proxy, "sip:proxy@kamailio.example:5060;lr", "proxy");
  CHECK_INT(cfg.n_trusted, 3, "n_trusted");
  if (cfg.n_trusted == 3) {
    CHECK_INT(cfg.trusted[0].family, AF_INET, "cidr0 family");
    CHECK_INT(cfg.trusted[0].prefix, 8, "cidr0 prefix");
    CHECK(cfg.trusted[0].addr[0] == 10 && cfg.trusted[0].addr[1] == 0 &&
              cfg.trusted[0].addr[3] == 0,
          "host bits cleared");
    CHECK_INT(cfg.trusted[1].family, AF_INET6, "cidr1 family");
    CHECK_INT(cfg.trusted[2].prefix, 32, "bare address is /32");
  }
  CHECK_INT(cfg.max_message_bytes, 16777216, "max_message_bytes");
  CHECK_INT(cfg.max_in_flight, 1, "max_in_flight");
  CHECK_INT(cfg.max_queued, 0, "max_queued");
  CHECK_INT(cfg.incomplete_timeout_s, 5, "incomplete_timeout_s");
  CHECK_INT(cfg.chat_state_backoff_s, 0, "chat_state_backoff_s");
  CHECK_STR(cfg.service_user, "gw-bot", "service_user lower-cased");
  CHECK_STR(cfg.edge_host, "::1", "edge_host");
  CHECK_INT(cfg.edge_port, 5347, "edge_port");
  CHECK_STR(cfg.edge_secret, "colon-separated-secret", "secret");
  CHECK_INT(cfg.backoff_min_ms, 100, "backoff_min");
  CHECK_INT(cfg.backoff_max_ms, 100, "backoff_max");
  CHECK_INT(cfg.keepalive_s, 10, "keepalive");
  CHECK_INT(cfg.dead_after_s, 11, "dead_after");
  CHECK_INT(cfg.edge_tls, 1, "tls");
  CHECK_STR(cfg.edge_ca_file, "/etc/hostname", "ca_file");
  CHECK_STR(cfg.edge_server_name, "edge.contoso.example", "server_name");
  CHECK_STR(cfg.edge_cert_file, "/etc/hostname", "cert_file");
  CHECK_STR(cfg.edge_key_file, "/etc/hostname", "key_file");
  CHECK_INT(cfg.max_stanza_bytes, 1048576, "max_stanza_bytes");
  CHECK_STR(cfg.http_listen, "[::1]:9100", "http_listen");
  CHECK_STR(cfg.http_host, "::1", "http_host");
  CHECK_INT(cfg.http_port, 9100, "http_port");
  CHECK_STR(cfg.admin_listen, "127.0.0.1:8071", "admin_listen");
  CHECK_STR(cfg.admin_host, "127.0.0.1", "admin_host");
  CHECK_INT(cfg.admin_port, 8071, "admin_port");
  CHECK_STR(cfg.admin_cert_file, "/etc/hostname", "admin_cert_file");
  CHECK_STR(cfg.admin_key_file, "/etc/hostname", "admin_key_file");
  CHECK_INT(cfg.admin_idle_s, 600, "admin_idle_s");
  CHECK_INT(cfg.pres_min_expires, 5, "presence min_expires");
  CHECK_INT(cfg.pres_max_expires, 600, "presence max_expires");
  CHECK_INT(cfg.pres_fanout_expires, 300, "presence fanout_expires");
  CHECK_INT(cfg.pres_max_notify, 32, "presence max_notify_in_flight");
  CHECK_INT(cfg.pres_tcp, 0, "presence transport proxy");
  CHECK_STR(cfg.pres_watcher_uri, "sip:presence-gw@contoso.example", "presence watcher_uri");

  CHECK(sx_config_serves(&cfg, "contoso.example"), "serves");
  CHECK(sx_config_serves(&cfg, "CONTOSO.example."), "serves: case, trailing dot");
  CHECK(sx_config_serves(&cfg, "Fabrikam-Int.Example"), "serves second");
  CHECK(!sx_config_serves(&cfg, "contoso.example.."), "two trailing dots");
  CHECK(!sx_config_serves(&cfg, "example"), "parent");
  CHECK(!sx_config_serves(&cfg, "sub.contoso.example"), "subdomain");
  CHECK(!sx_config_serves(&cfg, "contoso.exampl"), "prefix");
  CHECK(!sx_config_serves(&cfg, ""), "empty");
  CHECK(!sx_config_serves(&cfg, "."), "dot");
  CHECK(!sx_config_serves(&cfg, NULL), "NULL");
  sx_config_free(&cfg);
  free(path);
}

static void test_federation(void) {
  char *path = write_file(BASE "[gateway]\nlog_format = JSON\n"
                               "[federation]\nconnection_limit = 50\npartner_connection_limit = 5\n"
                               "keepalive_interval_s = 120\nstream_establishment_timeout_s = 30\n"
                               "stream_inactivity_timeout_s = 900\nsubscription_refresh_s = 3600\n"
                               "dialback_passphrase = Pa55phrase!\nlog_message_bodies = on\n"
                               "audit_log = /tmp/a.log\n");
  sx_config cfg;
  char err[512] = "";
  CHECK_INT(sx_config_load(path, &cfg, err, sizeof err), 0, err);
  CHECK_INT(cfg.log_json, 1, "log_format json");
  CHECK_INT(cfg.fed_connection_limit, 50, "connection_limit");
  CHECK_INT(cfg.fed_partner_connection_limit, 5, "partner_connection_limit");
  CHECK_INT(cfg.fed_keepalive_interval_s, 120, "keepalive_interval_s");
  CHECK_INT(cfg.fed_stream_establishment_timeout_s, 30, "stream_establishment_timeout_s");
  CHECK_INT(cfg.fed_stream_inactivity_timeout_s, 900, "stream_inactivity_timeout_s");
  CHECK_INT(cfg.fed_subscription_refresh_s, 3600, "subscription_refresh_s");
  CHECK_STR(cfg.fed_dialback_passphrase, "Pa55phrase!", "dialback_passphrase");
  CHECK_INT(cfg.fed_log_message_bodies, 1, "log_message_bodies");
  CHECK_STR(cfg.fed_audit_log, "/tmp/a.log", "audit_log");
  sx_config_free(&cfg);
  free(path);
}

static void test_secret_file(void) {
  static const struct {
    const char *content; /* NULL: the file is not created */
    const char *secret;  /* NULL: load fails */
    const char *reason;  /* end of the message when it fails */
  } cases[] = {
      {"topsecret\n", "topsecret", NULL},
      {"topsecret", "topsecret", NULL},
      {"topsecret\r\nsecond line\n", "topsecret", NULL},
      {" spaced secret \n", " spaced secret ", NULL},
      {"\nsecond\n", NULL, "is empty"},
      {"", NULL, "is empty"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char ctx[32];
    snprintf(ctx, sizeof ctx, "secret_file[%zu]", i);
    char *secret_path = write_file(cases[i].content);
    char *text;
    if (asprintf(&text, BASE_GATEWAY BASE_SIP "[edge]\nsecret_file = %s\n", secret_path) < 0)
      abort();
    char *path = write_file(text);
    sx_config cfg;
    char err[512] = "";
    int rc = sx_config_load(path, &cfg, err, sizeof err);
    if (cases[i].secret) {
      CHECK_INT(rc, 0, err);
      CHECK_STR(cfg.edge_secret, cases[i].secret, ctx);
      CHECK_STR(cfg.edge_secret_file, secret_path, ctx);
      sx_config_free(&cfg);
    } else {
      char *want;
      if (asprintf(&want, "%s:6: edge.secret_file: the first line of '%s' %s", path, secret_path,
                   cases[i].reason) < 0)
        abort();
      CHECK_INT(rc, -1, ctx);
      CHECK_STR(str_(err), want, ctx);
      free(want);
    }
    free(text);
    free(path);
    free(secret_path);
  }
  /* A file that exists but cannot be read (skipped as root, who reads anything). */
  if (geteuid() != 0) {
    char *secret_path = write_file("x\n");
    chmod(secret_path, 0);
    char *text, *want;
    if (asprintf(&text, BASE_GATEWAY BASE_SIP "[edge]\nsecret_file = %s\n", secret_path) < 0)
      abort();
    char *path = write_file(text);
    if (asprintf(&want, "%s:6: edge.secret_file: cannot read '%s': Permission denied", path,
                 secret_path) < 0)
      abort();
    sx_config cfg;
    char err[512] = "";
    CHECK_INT(sx_config_load(path, &cfg, err, sizeof err), -1, "unreadable secret_file");
    CHECK_STR(str_(err), want, "unreadable secret_file");
    free(want);
    free(text);
    free(path);
    free(secret_path);
  }
}

static void test_sample(void) {
  /* The shipped sample must load as it is (the test runs in tests/unit). */
  sx_config cfg;
  char err[512] = "";
  CHECK_INT(sx_config_load("../../conf/sipxmppd.conf", &cfg, err, sizeof err), 0, err);
  if (cfg.path) {
    CHECK_STR(cfg.domains[0], "contoso.example", "sample domain");
    CHECK_STR(cfg.outbound_proxy, "sip:127.0.0.1:5060;transport=tcp", "sample proxy");
    CHECK_STR(cfg.edge_secret, "change-me-demo-secret", "sample secret");
    CHECK_STR(cfg.http_host, "127.0.0.1", "sample http host");
    CHECK_INT(cfg.http_port, 8070, "sample http port");
    CHECK_INT(cfg.n_listen, 2, "sample listen");
  }
  sx_config_free(&cfg);
}

static void test_cidr(void) {
  char *path = write_file(BASE "[sip]\ntrusted_peers = 192.0.2.0/24, 10.9.8.7, 2001:db8:1::/48, "
                               "::ffff:198.51.100.0/120, fd00::1/128\n");
  sx_config cfg;
  char err[512] = "";
  CHECK_INT(sx_config_load(path, &cfg, err, sizeof err), 0, err);
  static const struct {
    const char *addr;
    int want;
  } cases[] = {
      {"192.0.2.0", 1},     {"192.0.2.255", 1},      {"192.0.3.0", 0},
      {"192.0.1.255", 0},   {"10.9.8.7", 1},         {"10.9.8.6", 0},
      {"10.9.8.8", 0},      {"2001:db8:1::1", 1},    {"2001:db8:1:ffff::", 1},
      {"2001:db8:2::1", 0}, {"::ffff:192.0.2.9", 1}, {"::ffff:10.9.8.7", 1},
      {"::ffff:10.9.8.6", 0}, {"198.51.100.200", 1}, {"::ffff:198.51.100.1", 1},
      {"198.51.101.1", 0},  {"fd00::1", 1},          {"fd00::2", 0},
      {"::1", 0},           {"127.0.0.1", 0},        {"::192.0.2.1", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t a[16];
    int fam = strchr(cases[i].addr, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(fam, cases[i].addr, a) != 1) abort();
    CHECK(sx_config_trusted(&cfg, fam, a) == cases[i].want, "trusted(%s) want %d",
          cases[i].addr, cases[i].want);
  }
  uint8_t any[16] = {0};
  CHECK(!sx_config_trusted(&cfg, AF_UNIX, any), "other family");
  sx_config_free(&cfg);
  free(path);

  /* /0 matches everything of its family, and only that family. */
  path = write_file(BASE "[sip]\ntrusted_peers = 0.0.0.0/0\n");
  CHECK_INT(sx_config_load(path, &cfg, err, sizeof err), 0, err);
  uint8_t v4[4] = {203, 0, 113, 5}, v6[16] = {0x20, 0x01, [15] = 9};
  uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff, [12] = 1, [13] = 2, [14] = 3, [15] = 4};
  CHECK(sx_config_trusted(&cfg, AF_INET, v4), "v4 /0");
  CHECK(sx_config_trusted(&cfg, AF_INET6, mapped), "mapped in v4 /0");
  CHECK(!sx_config_trusted(&cfg, AF_INET6, v6), "v6 not in v4 /0");
  sx_config_free(&cfg);
  free(path);

  path = write_file(BASE "[sip]\ntrusted_peers = ::/0\n");
  CHECK_INT(sx_config_load(path, &cfg, err, sizeof err), 0, err);
  CHECK(sx_config_trusted(&cfg, AF_INET6, v6), "v6 in ::/0");
  CHECK(!sx_config_trusted(&cfg, AF_INET, v4), "v4 not in ::/0");
  sx_config_free(&cfg);
  free(path);

  /* A block that does not end on a byte boundary. */
  path = write_file(BASE "[sip]\ntrusted_peers = 172.16.0.0/12\n");
  CHECK_INT(sx_config_load(path, &cfg, err, sizeof err), 0, err);
  static const struct {
    uint8_t a[4];
    int want;
  } b12[] = {{{172, 16, 0, 0}, 1}, {{172, 31, 255, 255}, 1}, {{172, 32, 0, 0}, 0},
             {{172, 15, 255, 255}, 0}};
  for (size_t i = 0; i < sizeof b12 / sizeof b12[0]; i++)
    CHECK(sx_config_trusted(&cfg, AF_INET, b12[i].a) == b12[i].want, "/12 case %zu", i);
  sx_config_free(&cfg);
  free(path);
}

/* Sections in any order: a key of one section never touches another's values. */
static void test_section_order(void) {
  char *path = write_file(BASE "[presence]\nwatcher_uri = sip:gw@contoso.example\n"
                               "[admin]\nlisten = 127.0.0.1:8071\n"
                               "[http]\nlisten = 127.0.0.1:9100\n");
  sx_config cfg;
  char err[512] = "";
  CHECK(sx_config_load(path, &cfg, err, sizeof err) == 0, "order: %s", err);
  CHECK_STR(cfg.pres_watcher_uri, "sip:gw@contoso.example", "watcher_uri kept after [http]");
  CHECK_STR(cfg.admin_listen, "127.0.0.1:8071", "admin listen kept after [http]");
  CHECK_STR(cfg.http_host, "127.0.0.1", "http host");
  CHECK_INT(cfg.http_port, 9100, "http port");
  sx_config_free(&cfg);
  free(path);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/sx-test-config-XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_bad();
  test_unreadable();
  test_long_line();
  test_defaults();
  test_full();
  test_section_order();
  test_federation();
  test_secret_file();
  test_sample();
  test_cidr();
  for (int i = 1; i <= file_no; i++) {
    char path[96];
    snprintf(path, sizeof path, "%s/f%d.conf", dir, i);
    unlink(path);
  }
  rmdir(dir);
  return check_done();
}
