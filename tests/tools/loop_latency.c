/* Proves the one-loop integration (gateway/loop.c): SIP work started from a libuv callback
 * goes out at once, not on Sofia's next wake-up.
 *
 * A libuv UDP socket plays the SIP peer. (1) It sends a MESSAGE; the nta callback defers the
 * answer to a libuv timer, and the time from that timer callback (where nta_incoming_treply
 * is called) to the peer receiving the 200 is measured. (2) A libuv timer callback creates
 * an outgoing MESSAGE with nta; the time until the peer receives it is measured.
 * "At once" is checked without a clock: when the libuv callback returns, the datagram must
 * already be queued on the peer's socket (loopback UDP delivers within the send call), in
 * every round. The latencies are printed for information only; they depend on the machine.
 * Prints "N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <sofia-sip/nta.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>

#include "gateway/loop.h"

#define ROUNDS 300

typedef struct ctx {
  sx_loop loop;
  nta_agent_t *agent;
  nta_leg_t *leg;
  uv_udp_t peer;
  struct sockaddr_in gw_addr, peer_addr;
  uv_timer_t timer;
  nta_incoming_t *pending;
  uint64_t t0;
  uint64_t lat_reply[ROUNDS], lat_request[ROUNDS];
  int round, phase, done;
  int late_reply, late_request; /* rounds whose datagram was not out when the callback returned */
  char buf[65536];
} ctx;

static void send_message(ctx *c);

static void on_alloc(uv_handle_t *h, size_t n, uv_buf_t *b) {
  ctx *c = h->data;
  (void)n;
  b->base = c->buf;
  b->len = sizeof c->buf;
}

static void next_round(ctx *c);

/* Whether a datagram is waiting on the peer's socket right now. */
static int peer_has_datagram(ctx *c) {
  uv_os_fd_t fd;
  char b;
  if (uv_fileno((uv_handle_t *)&c->peer, &fd) != 0) return 0;
  return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) >= 0;
}

/* Phase 1: reply from a libuv callback. */
static void reply_now(uv_timer_t *t) {
  ctx *c = t->data;
  c->t0 = uv_hrtime();
  nta_incoming_treply(c->pending, SIP_200_OK, TAG_END());
  nta_incoming_destroy(c->pending);
  c->pending = NULL;
  if (!peer_has_datagram(c)) c->late_reply++;
}

static int on_request(nta_leg_magic_t *m, nta_leg_t *leg, nta_incoming_t *irq,
                      sip_t const *sip) {
  ctx *c = (ctx *)m;
  (void)leg;
  (void)sip;
  c->pending = irq;
  uv_timer_start(&c->timer, reply_now, 0, 0);
  return 0;
}

/* Phase 2: a request created from a libuv callback. */
static int on_response(nta_outgoing_magic_t *m, nta_outgoing_t *orq, sip_t const *sip) {
  (void)m;
  if (sip && sip->sip_status && sip->sip_status->st_status >= 200) nta_outgoing_destroy(orq);
  else if (!sip) nta_outgoing_destroy(orq);
  return 0;
}

static void request_now(uv_timer_t *t) {
  ctx *c = t->data;
  char ruri[64];
  snprintf(ruri, sizeof ruri, "sip:peer@127.0.0.1:%u", ntohs(c->peer_addr.sin_port));
  c->t0 = uv_hrtime();
  if (!nta_outgoing_tcreate(c->leg, on_response, NULL, NULL, SIP_METHOD_MESSAGE,
                            URL_STRING_MAKE(ruri), SIPTAG_FROM_STR("<sip:gw@127.0.0.1>;tag=a"),
                            SIPTAG_TO_STR(ruri), SIPTAG_CSEQ_STR("1 MESSAGE"),
                            SIPTAG_PAYLOAD_STR("x"), TAG_END())) {
    fprintf(stderr, "nta_outgoing_tcreate failed\n");
    exit(1);
  }
  if (!peer_has_datagram(c)) c->late_request++;
}

static void answer_request(ctx *c, const char *req, size_t n) {
  /* Echo the request's Via, From, To, Call-ID, CSeq into a 200. */
  static const char *hdrs[] = {"Via:", "From:", "To:", "Call-ID:", "CSeq:"};
  char out[4096];
  size_t o = 0, i;
  uv_buf_t b;
  o += (size_t)snprintf(out + o, sizeof out - o, "SIP/2.0 200 OK\r\n");
  for (i = 0; i < 5; i++) {
    const char *p = memmem(req, n, hdrs[i], strlen(hdrs[i]));
    const char *e = p ? memmem(p, n - (size_t)(p - req), "\r\n", 2) : NULL;
    if (p && e) o += (size_t)snprintf(out + o, sizeof out - o, "%.*s\r\n", (int)(e - p), p);
  }
  o += (size_t)snprintf(out + o, sizeof out - o, "Content-Length: 0\r\n\r\n");
  b = uv_buf_init(out, (unsigned)o);
  uv_udp_try_send(&c->peer, &b, 1, (const struct sockaddr *)&c->gw_addr);
}

static void on_peer_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *b, const struct sockaddr *from,
                         unsigned flags) {
  ctx *c = u->data;
  uint64_t now = uv_hrtime();
  (void)flags;
  if (n <= 0 || !from) return;
  if (c->phase == 1 && n > 12 && !memcmp(b->base, "SIP/2.0 200", 11)) {
    c->lat_reply[c->round++] = now - c->t0;
    next_round(c);
  } else if (c->phase == 2 && n > 8 && !memcmp(b->base, "MESSAGE ", 8)) {
    c->lat_request[c->round++] = now - c->t0;
    answer_request(c, b->base, (size_t)n);
    next_round(c);
  }
}

static void send_message(ctx *c) {
  char msg[1024];
  int n = snprintf(msg, sizeof msg,
                   "MESSAGE sip:gw@127.0.0.1:%u SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-%d-%d\r\n"
                   "From: <sip:peer@127.0.0.1>;tag=p%d\r\nTo: <sip:gw@127.0.0.1>\r\n"
                   "Call-ID: lat-%d@127.0.0.1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n"
                   "Content-Type: text/plain\r\nContent-Length: 1\r\n\r\nx",
                   ntohs(c->gw_addr.sin_port), ntohs(c->peer_addr.sin_port), c->phase, c->round,
                   c->round, c->round);
  uv_buf_t b = uv_buf_init(msg, (unsigned)n);
  uv_udp_try_send(&c->peer, &b, 1, (const struct sockaddr *)&c->gw_addr);
}

static void next_round(ctx *c) {
  if (c->round == ROUNDS) {
    if (c->phase == 2) {
      c->done = 1;
      sx_loop_stop(&c->loop);
      return;
    }
    c->phase = 2;
    c->round = 0;
  }
  if (c->phase == 1) send_message(c);
  else uv_timer_start(&c->timer, request_now, 1, 0);
}

static int cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static int report(const char *what, uint64_t *v, int late) {
  qsort(v, ROUNDS, sizeof *v, cmp);
  printf("%s: %d of %d rounds not sent before the callback returned (must be 0); "
         "p50 %.1f us, p99 %.1f us, max %.1f us\n",
         what, late, ROUNDS, v[ROUNDS / 2] / 1e3, v[ROUNDS * 99 / 100] / 1e3,
         v[ROUNDS - 1] / 1e3);
  return late == 0 ? 0 : 1;
}

/* A UDP port that is free right now on 127.0.0.1. */
static int free_udp_port(void) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t n = sizeof a;
  int fd = socket(AF_INET, SOCK_DGRAM, 0), port = -1;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &n) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

static void on_deadline(uv_timer_t *t) { sx_loop_stop(t->data); }

int main(void) {
  static ctx c;
  char url[64];
  struct sockaddr_in any;
  int namelen = sizeof c.peer_addr, fails = 0;
  uv_timer_t deadline;
  int port;

  if (sx_loop_init(&c.loop) != 0) return 1;
  port = free_udp_port();
  snprintf(url, sizeof url, "sip:127.0.0.1:%d;transport=udp", port);
  c.agent = nta_agent_create(c.loop.root, URL_STRING_MAKE(url), NULL, NULL, NTATAG_UA(1),
                             TAG_END());
  if (!c.agent) return 1;
  c.leg = nta_leg_tcreate(c.agent, on_request, (nta_leg_magic_t *)&c, NTATAG_NO_DIALOG(1),
                          TAG_END());
  uv_ip4_addr("127.0.0.1", port, &c.gw_addr);

  uv_udp_init(&c.loop.uv, &c.peer);
  c.peer.data = &c;
  uv_ip4_addr("127.0.0.1", 0, &any);
  uv_udp_bind(&c.peer, (const struct sockaddr *)&any, 0);
  uv_udp_getsockname(&c.peer, (struct sockaddr *)&c.peer_addr, &namelen);
  uv_udp_recv_start(&c.peer, on_alloc, on_peer_recv);
  uv_timer_init(&c.loop.uv, &c.timer);
  c.timer.data = &c;
  uv_timer_init(&c.loop.uv, &deadline);
  deadline.data = &c.loop;
  uv_timer_start(&deadline, on_deadline, 20000, 0);

  c.phase = 1;
  send_message(&c);
  sx_loop_run(&c.loop);

  if (!c.done) {
    printf("loop_latency: did not finish (phase %d round %d)\n", c.phase, c.round);
    fails = 1;
  } else {
    fails += report("reply from a libuv callback to the peer", c.lat_reply, c.late_reply);
    fails += report("request created in a libuv callback to the peer", c.lat_request, c.late_request);
  }
  uv_close((uv_handle_t *)&c.peer, NULL);
  uv_close((uv_handle_t *)&c.timer, NULL);
  uv_close((uv_handle_t *)&deadline, NULL);
  nta_leg_destroy(c.leg);
  nta_agent_destroy(c.agent);
  sx_loop_close(&c.loop);
  printf("%d passed, %d failed\n", 2 - fails, fails);
  return fails ? 1 : 0;
}
