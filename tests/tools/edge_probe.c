/* edge_probe: runs one sx_edge against a real XMPP server's component port and reports what
 * happens on stdout, one line per event:
 *   UP | DOWN | MSG key=value... | SENT id | STATS ... | EXIT reason
 * Options:
 *   --host H --port P --domain D --secret S    the component link (host default 127.0.0.1)
 *   --served D1,D2,...    served domains for the spoofing check (default: the domain only)
 *   --echo                answer each non-error message with "echo: BODY" (and <received/>
 *                         when a receipt was requested)
 *   --send-to JID [--send-body TEXT]   send one chat message each time the link comes up
 *   --exit-after-messages N   stop after N messages were received
 *   --exit-after-ups N        stop when the link came up N times
 *   --timeout SEC             stop after SEC seconds (exit status 2)
 *   --keepalive S --dead-after S --backoff-min MS --backoff-max MS
 *   --burn-fds N          when the link first goes down, open N extra fds (so the next socket
 *                         is over FD_SETSIZE: the link must not care, it polls with libuv)
 *   --abrupt              on exit call sx_edge_free at once instead of stop + wait
 *   -v                    debug logging
 * SIGINT/SIGTERM stop the link cleanly. Exit 0 unless the timeout hit. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <unistd.h>

#include <uv.h>

#include "translate/log.h"
#include "translate/xmsg.h"
#include "xmpp/edge.h"

typedef struct probe {
  uv_loop_t *loop;
  sx_edge *edge;
  uv_signal_t sigint, sigterm;
  uv_timer_t timeout, closer;
  int echo;
  const char *send_to, *send_body;
  long exit_after_messages, exit_after_ups;
  long messages, ups, sent_seq;
  int timed_out, stopping;
  long burn;
  int abrupt;
  int *burned;
} probe;

static void pr(const char *k, const char *v) {
  if (v) printf(" %s=[%s]", k, v);
}

static void on_closer(uv_timer_t *t);

static void begin_stop(probe *p, const char *why) {
  if (p->stopping) return;
  p->stopping = 1;
  printf("EXIT %s\n", why);
  fflush(stdout);
  if (p->abrupt) {
    sx_edge_free(p->edge);
    p->edge = NULL;
    uv_close((uv_handle_t *)&p->closer, NULL);
    uv_close((uv_handle_t *)&p->timeout, NULL);
    uv_close((uv_handle_t *)&p->sigint, NULL);
    uv_close((uv_handle_t *)&p->sigterm, NULL);
    return;
  }
  sx_edge_stop(p->edge);
  uv_timer_start(&p->closer, on_closer, 50, 50); /* frees the edge once it is closed */
}

static void send_one(probe *p, const char *to, const char *body, const char *type,
                     const char *receipt_for) {
  sx_xmsg m = {0};
  char id[64];
  size_t len;
  char *x;

  snprintf(id, sizeof id, "probe-%ld", ++p->sent_seq);
  m.from = (char *)sx_edge_domain(p->edge);
  m.to = (char *)to;
  m.id = id;
  m.type = (char *)(type ? type : "chat");
  m.body = (char *)body;
  m.receipt_for = (char *)receipt_for;
  x = sx_xmsg_serialize(&m, &len);
  if (!x) return;
  int rc = sx_edge_send(p->edge, x, len);
  printf("SENT %s rc=%d\n", id, rc);
  fflush(stdout);
  free(x);
}

static void on_state(void *ud, sx_edge *edge, int up) {
  probe *p = ud;
  (void)edge;
  printf("%s\n", up ? "UP" : "DOWN");
  fflush(stdout);
  if (!up && p->burn > 0 && !p->burned) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)p->burn + 256) {
      rl.rlim_cur = rl.rlim_max < (rlim_t)p->burn + 256 ? rl.rlim_max : (rlim_t)p->burn + 256;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    p->burned = calloc((size_t)p->burn, sizeof *p->burned);
    for (long i = 0; p->burned && i < p->burn; i++)
      p->burned[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (p->burned) printf("BURNED %ld fds, last=%d\n", p->burn, p->burned[p->burn - 1]);
    fflush(stdout);
  }
  if (!up) return;
  p->ups++;
  if (p->send_to) send_one(p, p->send_to, p->send_body ? p->send_body : "hello from edge_probe",
                           NULL, NULL);
  if (p->exit_after_ups && p->ups >= p->exit_after_ups) begin_stop(p, "ups");
}

static const char *const chat_names[] = {"", "active", "composing", "paused", "inactive",
                                          "gone"};

static void on_message(void *ud, sx_edge *edge, const sx_xmsg *m) {
  probe *p = ud;
  (void)edge;
  printf("MSG");
  pr("from", m->from);
  pr("to", m->to);
  pr("id", m->id);
  pr("type", m->type);
  pr("lang", m->lang);
  pr("subject", m->subject);
  pr("body", m->body);
  pr("thread", m->thread);
  if (m->chat_state) pr("chat", chat_names[m->chat_state]);
  if (m->receipt_request) pr("receipt_request", "1");
  pr("receipt_for", m->receipt_for);
  pr("error_condition", m->error_condition);
  pr("error_type", m->error_type);
  pr("error_text", m->error_text);
  printf("\n");
  fflush(stdout);
  p->messages++;

  if (p->echo && !(m->type && strcmp(m->type, "error") == 0)) {
    sx_xmsg r = {0};
    size_t len, blen = m->body ? strlen(m->body) + 7 : 0;
    char *body = m->body ? malloc(blen) : NULL, *x;
    if (body) snprintf(body, blen, "echo: %s", m->body);
    r.from = m->to;
    r.to = m->from;
    r.id = m->id;
    r.type = m->type ? m->type : (char *)"chat";
    r.body = body;
    r.thread = m->thread;
    if (m->receipt_request) r.receipt_for = m->id;
    x = sx_xmsg_serialize(&r, &len);
    if (x) {
      int rc = sx_edge_send(p->edge, x, len);
      printf("SENT echo rc=%d\n", rc);
      fflush(stdout);
    }
    free(x);
    free(body);
  }
  if (p->exit_after_messages && p->messages >= p->exit_after_messages)
    begin_stop(p, "messages");
}

static void on_signal(uv_signal_t *s, int signum) {
  probe *p = s->data;
  begin_stop(p, signum == SIGINT ? "sigint" : "sigterm");
}

static void on_timeout(uv_timer_t *t) {
  probe *p = t->data;
  p->timed_out = 1;
  begin_stop(p, "timeout");
}

static void on_closer(uv_timer_t *t) {
  probe *p = t->data;
  sx_edge_stats st;
  if (!sx_edge_is_closed(p->edge)) return;
  sx_edge_get_stats(p->edge, &st);
  printf("STATS attempts=%lu connects=%lu disconnects=%lu in_messages=%lu iq_answered=%lu "
         "spoofed=%lu malformed=%lu refused=%lu out=%lu\n",
         st.attempts, st.connects, st.disconnects, st.in_messages, st.in_iq_answered,
         st.dropped_spoofed, st.dropped_malformed, st.refused, st.out_stanzas);
  fflush(stdout);
  sx_edge_free(p->edge);
  p->edge = NULL;
  uv_close((uv_handle_t *)&p->closer, NULL);
  uv_close((uv_handle_t *)&p->timeout, NULL);
  uv_close((uv_handle_t *)&p->sigint, NULL);
  uv_close((uv_handle_t *)&p->sigterm, NULL);
}

static char **split_csv(const char *s, size_t *n) {
  char **v = NULL, *dup = strdup(s), *save = NULL;
  *n = 0;
  for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    v = realloc(v, (*n + 1) * sizeof *v);
    v[(*n)++] = strdup(tok);
  }
  free(dup);
  return v;
}

int main(int argc, char **argv) {
  probe p;
  sx_edge_params ep;
  sx_edge_cbs cbs = {.on_state = on_state, .on_message = on_message};
  uv_loop_t loop;
  char **served = NULL;
  size_t n_served = 0;
  long timeout_s = 0;

  memset(&p, 0, sizeof p);
  memset(&ep, 0, sizeof ep);
  ep.host = "127.0.0.1";
  ep.domain = "contoso.example";
  ep.backoff_min_ms = 500;
  ep.backoff_max_ms = 30000;
  ep.keepalive_s = 30;
  ep.dead_after_s = 90;
  ep.max_message_bytes = 65536;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && v && ++i)
    if (OPT("--host")) ep.host = v;
    else if (OPT("--port")) ep.port = (unsigned)atoi(v);
    else if (OPT("--domain")) ep.domain = v;
    else if (OPT("--secret")) ep.secret = v;
    else if (OPT("--served")) served = split_csv(v, &n_served);
    else if (strcmp(a, "--echo") == 0) p.echo = 1;
    else if (strcmp(a, "--abrupt") == 0) p.abrupt = 1;
    else if (OPT("--send-to")) p.send_to = v;
    else if (OPT("--send-body")) p.send_body = v;
    else if (OPT("--exit-after-messages")) p.exit_after_messages = atol(v);
    else if (OPT("--exit-after-ups")) p.exit_after_ups = atol(v);
    else if (OPT("--timeout")) timeout_s = atol(v);
    else if (OPT("--keepalive")) ep.keepalive_s = (unsigned)atoi(v);
    else if (OPT("--dead-after")) ep.dead_after_s = (unsigned)atoi(v);
    else if (OPT("--backoff-min")) ep.backoff_min_ms = (unsigned)atoi(v);
    else if (OPT("--backoff-max")) ep.backoff_max_ms = (unsigned)atoi(v);
    else if (OPT("--burn-fds")) p.burn = atol(v);
    else if (strcmp(a, "-v") == 0) sx_log_set_level(SX_LOG_DEBUG);
    else {
      fprintf(stderr, "edge_probe: bad argument %s (see the source header for usage)\n", a);
      return 64;
    }
#undef OPT
  }
  if (!ep.port || !ep.secret) {
    fprintf(stderr, "edge_probe: --port and --secret are required\n");
    return 64;
  }
  if (served) {
    ep.served = served;
    ep.n_served = n_served;
  }

  uv_loop_init(&loop);
  p.loop = &loop;
  uv_signal_init(&loop, &p.sigint);
  uv_signal_init(&loop, &p.sigterm);
  uv_timer_init(&loop, &p.timeout);
  uv_timer_init(&loop, &p.closer);
  p.sigint.data = p.sigterm.data = p.timeout.data = p.closer.data = &p;
  uv_signal_start(&p.sigint, on_signal, SIGINT);
  uv_signal_start(&p.sigterm, on_signal, SIGTERM);
  if (timeout_s > 0) uv_timer_start(&p.timeout, on_timeout, (uint64_t)timeout_s * 1000, 0);

  p.edge = sx_edge_new(&loop, &ep, &cbs, &p);
  if (!p.edge) {
    fprintf(stderr, "edge_probe: sx_edge_new failed\n");
    return 1;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  for (long i = 0; p.burned && i < p.burn; i++)
    if (p.burned[i] >= 0) close(p.burned[i]);
  free(p.burned);
  for (size_t i = 0; i < n_served; i++) free(served[i]);
  free(served);
  return p.timed_out ? 2 : 0;
}
