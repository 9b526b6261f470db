/* sipxmppd: the SIP/XMPP federation gateway daemon. Runs in the foreground, logs to stderr. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway/access.h"
#include "gateway/admin.h"
#include "gateway/gateway.h"
#include "gateway/http.h"
#include "gateway/instance.h"
#include "gateway/metrics.h"
#include "gateway/presence.h"
#include "gateway/msglog.h"
#include "gateway/status.h"
#include "sx_version.h"
#include "translate/log.h"

#define DEFAULT_CONFIG "/etc/sipxmpp/sipxmppd.conf"
#define IDMAP_CAPACITY 65536
#define IDMAP_TTL_MS (10 * 60 * 1000)
/* SIP users remembered as refusing typing notifications. */
#define CHAT_QUIET_CAPACITY 65536
/* Receive buffer of SIP TCP connections: bounds what Sofia reads at once after a stall.
 * It must stay well under nta's maximum message size (max_message_bytes + 128 KiB): Sofia
 * counts everything buffered on a connection against it and answers 413 and closes past it.
 * The kernel doubles the value for its own bookkeeping. */
#define SIP_TCP_RCVBUF (8 * 1024)

uint64_t sx_gw_now(sx_gw *gw) { return uv_now(&gw->loop.uv); }

sx_edge *sx_gw_edge(sx_gw *gw, const char *domain) {
  size_t i;
  for (i = 0; i < gw->n_edges; i++)
    if (gw->edges[i] && sx_domain_eq(sx_edge_domain(gw->edges[i]), domain)) return gw->edges[i];
  return NULL;
}

static void on_edge_state(void *ud, sx_edge *edge, int up) {
  sx_edge_stats st;
  sx_pres_edge_state(ud, edge, up);
  sx_metric_link(sx_edge_domain(edge), up);
  sx_status_link(sx_edge_domain(edge), up);
  sx_edge_get_stats(edge, &st);
  if (up && st.connects > 1) sx_metric_reconnect(sx_edge_domain(edge));
}

static void on_edge_drop(void *ud, sx_edge *edge, const char *reason) {
  (void)ud;
  (void)edge;
  sx_metric_refusal(SX_DIR_XMPP_TO_SIP, reason);
}

/* Before each /metrics answer: the SIP side's own counters. */
static void collect_metrics(void *ud) {
  sx_gw *gw = ud;
  sx_sip_stats st;
  if (!gw->sip) return;
  sx_sip_get_stats(gw->sip, &st);
  sx_metric_set("sip_bad_messages_total", st.bad_messages);
  sx_metric_set("sip_bad_requests_total", st.bad_requests);
  sx_metric_set("sip_dropped_requests_total", st.dropped);
}

static int health(void *ud, char *detail, size_t n) {
  sx_gw *gw = ud;
  size_t i;
  if (!gw->sip) {
    snprintf(detail, n, "SIP is not listening");
    return 0;
  }
  for (i = 0; i < gw->n_edges; i++) {
    if (!sx_edge_is_up(gw->edges[i])) {
      snprintf(detail, n, "edge link for %s is down", sx_edge_domain(gw->edges[i]));
      return 0;
    }
  }
  snprintf(detail, n, "ok");
  return 1;
}

static void on_signal(uv_signal_t *s, int signum) {
  sx_gw *gw = s->data;
  if (signum == SIGHUP) {
    sx_info("gateway", "SIGHUP: reloading policy snapshot");
    sx_access_reload(gw->access);
    return;
  }
  sx_info("gateway", "%s: shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  sx_loop_stop(&gw->loop);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: sipxmppd [--config FILE] [--check] [--version]\n"
          "  --config FILE  configuration file (default " DEFAULT_CONFIG ")\n"
          "  --check        load and check the configuration, then exit\n"
          "  --version      print the version and exit\n");
}

/* The loop's progress counter: SIP requests and responses handled (0 once SIP is gone). */
static unsigned long sip_progress(void *ud) {
  sx_gw *gw = ud;
  return gw->sip ? sx_sip_events(gw->sip) : 0;
}

/* The loop's batches: requests sent to the proxy from libuv's callbacks leave together. */
static void sip_batch(void *ud, int open) {
  sx_gw *gw = ud;
  if (gw->sip) sx_sip_batch(gw->sip, open);
}

static int start(sx_gw *gw) {
  char err[512];
  size_t i;
  sx_sip_params sp = {.listen = gw->cfg.listen,
                      .n_listen = gw->cfg.n_listen,
                      .outbound_proxy = gw->cfg.outbound_proxy,
                      .max_message_bytes = gw->cfg.max_message_bytes,
                      .debug = gw->cfg.log_level >= SX_LOG_DEBUG,
                      .tcp_rcvbuf = SIP_TCP_RCVBUF,
                      .incomplete_timeout_ms = gw->cfg.incomplete_timeout_s * 1000u};
  sx_sip_cbs scb = {.on_request = sx_relay_sip_request,
                    .on_response = sx_relay_sip_response,
                    .trusted = sx_relay_sip_trusted};
  sx_edge_cbs ecb = {.on_state = on_edge_state,
                     .on_message = sx_relay_xmpp_message,
                     .on_presence = sx_pres_on_presence,
                     .on_confirm = sx_relay_sip_confirm,
                     .on_drop = on_edge_drop};

  gw->warn_agent = strdup(gw->cfg.domains[0]);
  gw->ids = sx_stanza_ids_new(gw->cfg.edge_secret, IDMAP_CAPACITY, IDMAP_TTL_MS);
  gw->chat_quiet = sx_quiet_new(CHAT_QUIET_CAPACITY);
  if (!gw->warn_agent || !gw->ids || !gw->chat_quiet) {
    sx_err("gateway", "out of memory");
    return -1;
  }
  gw->access = sx_access_new(&gw->loop.uv, gw->cfg.store, err, sizeof err);
  if (!gw->access) {
    sx_err("gateway", "store: %s", err);
    return -1;
  }
  gw->instance = sx_instance_start(&gw->loop.uv, &gw->cfg, err, sizeof err);
  if (!gw->instance) {
    sx_err("gateway", "store: instance heartbeat: %s", err);
    return -1;
  }
  gw->sip = sx_sip_new(gw->loop.root, &sp, &scb, gw, err, sizeof err);
  if (!gw->sip) {
    sx_err("gateway", "%s", err);
    return -1;
  }
  sx_loop_set_progress(&gw->loop, sip_progress, gw);
  sx_loop_set_batch(&gw->loop, sip_batch, gw);
  for (i = 0; i < gw->cfg.n_listen; i++) sx_info("sip", "listening on %s", gw->cfg.listen[i]);
  sx_metrics_set_collector(collect_metrics, gw);

  gw->edges = calloc(gw->cfg.n_domains, sizeof *gw->edges);
  if (!gw->edges) return -1;
  for (i = 0; i < gw->cfg.n_domains; i++) {
    sx_edge_params ep = {.domain = gw->cfg.domains[i],
                         .host = gw->cfg.edge_host,
                         .port = gw->cfg.edge_port,
                         .secret = gw->cfg.edge_secret,
                         .backoff_min_ms = gw->cfg.backoff_min_ms,
                         .backoff_max_ms = gw->cfg.backoff_max_ms,
                         .keepalive_s = gw->cfg.keepalive_s,
                         .dead_after_s = gw->cfg.dead_after_s,
                         .served = gw->cfg.domains,
                         .n_served = gw->cfg.n_domains,
                         .max_stanza_bytes = gw->cfg.max_stanza_bytes,
                         .tls = gw->cfg.edge_tls,
                         .ca_file = gw->cfg.edge_ca_file,
                         .server_name = gw->cfg.edge_server_name,
                         .cert_file = gw->cfg.edge_cert_file,
                         .key_file = gw->cfg.edge_key_file};
    gw->edges[i] = sx_edge_new(&gw->loop.uv, &ep, &ecb, gw);
    if (!gw->edges[i]) {
      sx_err("edge", "cannot create the link for %s", gw->cfg.domains[i]);
      return -1;
    }
    gw->n_edges++;
    sx_metric_link(gw->cfg.domains[i], 0);
  }
  if (sx_pres_start(gw) != 0) return -1;
  if (gw->cfg.http_listen) {
    if (sx_http_start(&gw->loop.uv, gw->cfg.http_host, gw->cfg.http_port, health, gw, &gw->http,
                      err, sizeof err) != 0) {
      sx_err("http", "%s", err);
      return -1;
    }
    sx_http_set_status(gw->http, sx_status_json, gw);
    sx_info("http", "serving /healthz, /metrics and /status on %s", gw->cfg.http_listen);
  }
  if (gw->cfg.admin_listen && sx_admin_start(gw, &gw->admin, err, sizeof err) != 0) {
    sx_err("admin", "%s", err);
    return -1;
  }
  if (gw->admin) sx_info("admin", "web console on %s (port %u)", gw->cfg.admin_listen, sx_admin_port(gw->admin));
  uv_signal_init(&gw->loop.uv, &gw->sig_term);
  uv_signal_init(&gw->loop.uv, &gw->sig_int);
  uv_signal_init(&gw->loop.uv, &gw->sig_hup);
  gw->sig_term.data = gw->sig_int.data = gw->sig_hup.data = gw;
  uv_signal_start(&gw->sig_term, on_signal, SIGTERM);
  uv_signal_start(&gw->sig_int, on_signal, SIGINT);
  uv_signal_start(&gw->sig_hup, on_signal, SIGHUP);
  return 0;
}

/* Clean stop: answer what waits, close the links (</stream:stream>), release the links,
 * then stop SIP, let libuv close every handle, release everything.
 *
 * Order: a link's delivery tokens are deferred SIP transactions owned by the SIP side. The
 * links are released first (a link that went down has already answered its tokens with
 * 503 through the live SIP side; a freed link makes no further callback), and only then is
 * the SIP side freed, which answers whatever transaction is still deferred. */
static void stop(sx_gw *gw) {
  size_t i;
  uint64_t until;

  if (gw->sip) sx_relay_xmpp_drain(gw);
  /* Presence first: watchers learn the users are unavailable, dialogs and fan-outs end. */
  sx_pres_shutdown(gw);
  until = sx_gw_now(gw) + 1000;
  while (!sx_pres_flushed(gw) && sx_gw_now(gw) < until) sx_loop_turn(&gw->loop, 20);
  /* Let the edge server confirm what was already sent (up to 1 s), then close. */
  until = sx_gw_now(gw) + 1000;
  for (;;) {
    size_t pending = 0;
    for (i = 0; i < gw->n_edges; i++)
      if (sx_edge_is_up(gw->edges[i])) pending += sx_edge_unconfirmed(gw->edges[i]);
    if (!pending || sx_gw_now(gw) >= until) break;
    sx_loop_turn(&gw->loop, 20);
  }
  for (i = 0; i < gw->n_edges; i++) sx_edge_stop(gw->edges[i]);
  /* Give the stream ends a moment to leave. */
  until = sx_gw_now(gw) + 300;
  while (sx_gw_now(gw) < until) sx_loop_turn(&gw->loop, 50);
  sx_pres_free(gw);
  for (i = 0; i < gw->n_edges; i++) sx_edge_free(gw->edges[i]);
  free(gw->edges);
  gw->edges = NULL;
  gw->n_edges = 0; /* what SIP answers from here on finds no link */
  sx_metrics_set_collector(NULL, NULL);
  if (gw->sip) sx_sip_free(gw->sip);
  gw->sip = NULL;
  gw->sip = NULL;
  if (gw->http) sx_http_stop(gw->http);
  gw->http = NULL;
  if (gw->instance) sx_instance_stop(gw->instance);
  gw->instance = NULL;
  sx_admin_stop(gw->admin);
  gw->admin = NULL;
  if (gw->access) sx_access_close(gw->access);
  gw->access = NULL;
  if (uv_is_active((uv_handle_t *)&gw->sig_term)) {
    uv_close((uv_handle_t *)&gw->sig_term, NULL);
    uv_close((uv_handle_t *)&gw->sig_int, NULL);
    uv_close((uv_handle_t *)&gw->sig_hup, NULL);
  }
  for (i = 0; i < 50 && uv_loop_alive(&gw->loop.uv); i++) sx_loop_turn(&gw->loop, 20);
  sx_stanza_ids_free(gw->ids);
  sx_quiet_free(gw->chat_quiet);
  free(gw->warn_agent);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                       {"check", no_argument, NULL, 'k'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 'V'},
                                       {NULL, 0, NULL, 0}};
  const char *config = DEFAULT_CONFIG;
  char err[1024];
  int c, check = 0, rc = 0;
  sx_gw gw;

  while ((c = getopt_long(argc, argv, "c:khV", opts, NULL)) != -1) {
    switch (c) {
    case 'c': config = optarg; break;
    case 'k': check = 1; break;
    case 'h': usage(stdout); return 0;
    case 'V': printf("sipxmppd %s\n", SX_VERSION_FULL); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind != argc) {
    usage(stderr);
    return 2;
  }
  memset(&gw, 0, sizeof gw);
  if (sx_config_load(config, &gw.cfg, err, sizeof err) != 0) {
    fprintf(stderr, "sipxmppd: %s\n", err);
    return 1;
  }
  if (check) {
    printf("%s: ok\n", config);
    sx_config_free(&gw.cfg);
    return 0;
  }
  sx_log_set_level(gw.cfg.log_level);
  if (sx_msglog_open(&gw.cfg, err, sizeof err) != 0) {
    fprintf(stderr, "sipxmppd: %s\n", err);
    sx_config_free(&gw.cfg);
    return 1;
  }
  sx_status_init();
  /* Snapshot rebuilds are the only work off the loop thread: one pool thread is enough. */
  setenv("UV_THREADPOOL_SIZE", "1", 0);
  signal(SIGPIPE, SIG_IGN);
  srandom((unsigned)time(NULL) ^ (unsigned)getpid());
  if (sx_loop_init(&gw.loop) != 0) {
    fprintf(stderr, "sipxmppd: cannot initialise the event loop\n");
    return 1;
  }
  sx_info("gateway", "starting: %zu domain(s), config %s", gw.cfg.n_domains, config);
  if (start(&gw) == 0) {
    sx_loop_run(&gw.loop);
  } else {
    rc = 1;
  }
  stop(&gw);
  sx_loop_close(&gw.loop);
  sx_config_free(&gw.cfg);
  sx_msglog_close();
  sx_status_reset();
  sx_info("gateway", "stopped");
  return rc;
}
