/* Load generator and receivers for bench/run.sh (not part of the daemon or its tests).
 *
 *   xmppbench recv   --port P --user U --domain D [--pw PW]
 *       Logs in to an XMPP server over plain c2s (SASL PLAIN), sends available presence,
 *       prints "READY", then counts every <message/> that arrives. Bodies carry
 *       "seq=N run=R ts=EPOCH.USEC"; arrival time minus ts is the latency.
 *   xmppbench sipsink --port P
 *       A SIP endpoint on UDP and TCP port P: answers every request with 200 OK and counts
 *       MESSAGE bodies the same way. Prints "READY" once bound.
 *   xmppbench send   --port P --user U --domain D [--pw PW] --to JID --rate R --count N
 *                    --run R [--linger-ms MS]
 *       Logs in like recv and sends N chat messages to JID at R per second (paced every
 *       millisecond), reading the stream meanwhile and counting error stanzas. Prints one
 *       summary line "sent=... errors=... elapsed_s=... cond=..." and exits.
 *
 * recv and sipsink read commands on stdin, one per line:
 *   S RUN        print "run=RUN n=... uniq=... dup=... p50_us=... p99_us=... max_us=...
 *                first=... last=... errors=..." (times are CLOCK_REALTIME seconds)
 *   D RUN FILE   write "seq arrival_us latency_us" lines of RUN to FILE, then print "OK"
 *   Q            exit
 * Every answer is one line on stdout. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("xmppbench: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

static int64_t now_real_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---------------------------------------------------------------- per-run statistics */

typedef struct {
  uint32_t seq;
  int64_t arrival_us;
  int64_t latency_us;
} sample;

typedef struct {
  unsigned run;
  sample *s;
  size_t n, cap;
} run_log;

#define MAX_RUNS 256
static run_log runs[MAX_RUNS];
static size_t n_runs;
static unsigned long n_errors;   /* error stanzas / unparsable messages */
static unsigned long n_unparsed; /* messages without seq/run/ts */

static run_log *run_get(unsigned run, int create) {
  for (size_t i = 0; i < n_runs; i++)
    if (runs[i].run == run) return &runs[i];
  if (!create) return NULL;
  if (n_runs == MAX_RUNS) {
    /* Drop the oldest run to make room. */
    free(runs[0].s);
    memmove(&runs[0], &runs[1], (MAX_RUNS - 1) * sizeof runs[0]);
    n_runs--;
  }
  runs[n_runs] = (run_log){.run = run};
  return &runs[n_runs++];
}

static void record(unsigned run, uint32_t seq, int64_t arrival, int64_t sent_us) {
  run_log *r = run_get(run, 1);
  if (r->n == r->cap) {
    size_t nc = r->cap ? r->cap * 2 : 65536;
    sample *ns = realloc(r->s, nc * sizeof *ns);
    if (!ns) die("out of memory");
    r->s = ns;
    r->cap = nc;
  }
  r->s[r->n++] = (sample){seq, arrival, arrival - sent_us};
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}
static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void print_stats(unsigned run) {
  run_log *r = run_get(run, 0);
  size_t n = r ? r->n : 0;
  if (n == 0) {
    printf("run=%u n=0 uniq=0 dup=0 p50_us=0 p99_us=0 max_us=0 first=0 last=0 first_ts=0 "
           "last_ts=0 errors=%lu unparsed=%lu\n", run, n_errors, n_unparsed);
    fflush(stdout);
    return;
  }
  int64_t *lat = malloc(n * sizeof *lat);
  uint32_t *seq = malloc(n * sizeof *seq);
  if (!lat || !seq) die("out of memory");
  int64_t first = INT64_MAX, last = 0, first_ts = INT64_MAX, last_ts = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t ts = r->s[i].arrival_us - r->s[i].latency_us;
    lat[i] = r->s[i].latency_us;
    seq[i] = r->s[i].seq;
    if (r->s[i].arrival_us < first) first = r->s[i].arrival_us;
    if (r->s[i].arrival_us > last) last = r->s[i].arrival_us;
    if (ts < first_ts) first_ts = ts;
    if (ts > last_ts) last_ts = ts;
  }
  qsort(lat, n, sizeof *lat, cmp_i64);
  qsort(seq, n, sizeof *seq, cmp_u32);
  size_t uniq = 0;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || seq[i] != seq[i - 1]) uniq++;
  size_t i50 = (n - 1) * 50 / 100, i99 = (n - 1) * 99 / 100;
  printf("run=%u n=%zu uniq=%zu dup=%zu p50_us=%lld p99_us=%lld max_us=%lld first=%.6f "
         "last=%.6f first_ts=%.6f last_ts=%.6f errors=%lu unparsed=%lu\n",
         run, n, uniq, n - uniq, (long long)lat[i50], (long long)lat[i99],
         (long long)lat[n - 1], first / 1e6, last / 1e6, first_ts / 1e6, last_ts / 1e6,
         n_errors, n_unparsed);
  fflush(stdout);
  free(lat);
  free(seq);
}

static void dump_run(unsigned run, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) {
    printf("ERR %s\n", strerror(errno));
    fflush(stdout);
    return;
  }
  run_log *r = run_get(run, 0);
  for (size_t i = 0; r && i < r->n; i++)
    fprintf(f, "%u %lld %lld\n", r->s[i].seq, (long long)r->s[i].arrival_us,
            (long long)r->s[i].latency_us);
  fclose(f);
  printf("OK\n");
  fflush(stdout);
}

/* Parses "seq=N run=R ts=EPOCH.USEC" out of [p, end). The timestamp is the last run of digits
 * and dots before `end` (SIPp's [timestamp] is "DATE<TAB>TIME<TAB>EPOCH.USEC"). */
static int parse_body(const char *p, const char *end, uint32_t *seq, unsigned *run,
                      int64_t *ts_us) {
  const char *s = memmem(p, (size_t)(end - p), "seq=", 4);
  const char *r = memmem(p, (size_t)(end - p), "run=", 4);
  const char *t = memmem(p, (size_t)(end - p), "ts=", 3);
  if (!s || !r || !t) return -1;
  *seq = (uint32_t)strtoul(s + 4, NULL, 10);
  *run = (unsigned)strtoul(r + 4, NULL, 10);
  const char *e = end;
  while (e > t && !((e[-1] >= '0' && e[-1] <= '9') || e[-1] == '.')) e--;
  const char *b = e;
  while (b > t + 3 && ((b[-1] >= '0' && b[-1] <= '9') || b[-1] == '.')) b--;
  if (b == e) return -1;
  char num[40];
  size_t len = (size_t)(e - b);
  if (len >= sizeof num) return -1;
  memcpy(num, b, len);
  num[len] = '\0';
  char *dot = strchr(num, '.');
  int64_t sec = strtoll(num, NULL, 10), usec = 0;
  if (dot) {
    /* exactly six fractional digits, padded or cut */
    char frac[7] = "000000";
    for (int i = 0; i < 6 && dot[1 + i] >= '0' && dot[1 + i] <= '9'; i++) frac[i] = dot[1 + i];
    usec = strtoll(frac, NULL, 10);
  }
  *ts_us = sec * 1000000 + usec;
  return 0;
}

/* ---------------------------------------------------------------- stdin commands */

static char cmdbuf[4096];
static size_t cmdlen;

/* Returns 1 when Q was read or stdin closed. */
static int handle_stdin(void) {
  ssize_t k = read(0, cmdbuf + cmdlen, sizeof cmdbuf - 1 - cmdlen);
  if (k <= 0) return 1;
  cmdlen += (size_t)k;
  for (;;) {
    char *nl = memchr(cmdbuf, '\n', cmdlen);
    if (!nl) {
      if (cmdlen == sizeof cmdbuf - 1) cmdlen = 0;
      return 0;
    }
    *nl = '\0';
    char path[4000];
    unsigned run;
    if (cmdbuf[0] == 'Q') return 1;
    if (sscanf(cmdbuf, "S %u", &run) == 1) print_stats(run);
    else if (sscanf(cmdbuf, "D %u %3999s", &run, path) == 2) dump_run(run, path);
    else {
      printf("ERR unknown command\n");
      fflush(stdout);
    }
    size_t used = (size_t)(nl + 1 - cmdbuf);
    memmove(cmdbuf, nl + 1, cmdlen - used);
    cmdlen -= used;
  }
}

/* ---------------------------------------------------------------- XMPP client */

typedef struct {
  int fd;
  char *in;
  size_t in_len, in_cap;
  char *out;
  size_t out_len, out_cap;
} xconn;

static void in_reserve(xconn *c, size_t extra) {
  if (c->in_len + extra + 1 <= c->in_cap) return;
  size_t nc = c->in_cap ? c->in_cap : 1 << 20;
  while (nc < c->in_len + extra + 1) nc *= 2;
  c->in = realloc(c->in, nc);
  if (!c->in) die("out of memory");
  c->in_cap = nc;
}

/* Reads what is available (non-blocking). Returns bytes read, 0 if none, -1 on EOF. */
static ssize_t x_read(xconn *c) {
  ssize_t total = 0;
  for (;;) {
    in_reserve(c, 1 << 18);
    ssize_t k = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1);
    if (k > 0) {
      c->in_len += (size_t)k;
      c->in[c->in_len] = '\0';
      total += k;
      if (total > (1 << 22)) return total;
      continue;
    }
    if (k == 0) return total ? total : -1;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return total;
    if (errno == EINTR) continue;
    return total ? total : -1;
  }
}

static void x_queue(xconn *c, const char *data, size_t len) {
  if (c->out_len + len > c->out_cap) {
    size_t nc = c->out_cap ? c->out_cap : 1 << 20;
    while (nc < c->out_len + len) nc *= 2;
    c->out = realloc(c->out, nc);
    if (!c->out) die("out of memory");
    c->out_cap = nc;
  }
  memcpy(c->out + c->out_len, data, len);
  c->out_len += len;
}

/* Writes what the socket takes now. Returns -1 on error. */
static int x_flush(xconn *c) {
  size_t off = 0;
  while (off < c->out_len) {
    ssize_t k = write(c->fd, c->out + off, c->out_len - off);
    if (k > 0) {
      off += (size_t)k;
      continue;
    }
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return -1;
  }
  memmove(c->out, c->out + off, c->out_len - off);
  c->out_len -= off;
  return 0;
}

static void x_send_all(xconn *c, const char *s) {
  x_queue(c, s, strlen(s));
  int64_t deadline = now_mono_us() + 10000000;
  while (c->out_len) {
    if (x_flush(c) < 0) die("write: %s", strerror(errno));
    if (!c->out_len) break;
    struct pollfd p = {c->fd, POLLOUT, 0};
    poll(&p, 1, 100);
    if (now_mono_us() > deadline) die("write timed out");
  }
}

/* Waits until `needle` appears in the input buffer after `from`; returns its offset. */
static size_t x_wait_for(xconn *c, size_t from, const char *needle, const char *fail) {
  int64_t deadline = now_mono_us() + 10000000;
  for (;;) {
    if (c->in_len > from) {
      char *hit = strstr(c->in + from, needle);
      if (hit) return (size_t)(hit - c->in);
      if (fail && strstr(c->in + from, fail))
        die("login failed: %.300s", c->in + from);
    }
    if (now_mono_us() > deadline) die("timed out waiting for %s; got: %.300s", needle,
                                      c->in_len > from ? c->in + from : "");
    struct pollfd p = {c->fd, POLLIN, 0};
    poll(&p, 1, 100);
    if (x_read(c) < 0) die("connection closed during login: %.300s", c->in);
  }
}

static void b64(const unsigned char *src, size_t n, char *dst) {
  static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i, j = 0;
  for (i = 0; i + 2 < n; i += 3) {
    unsigned v = (unsigned)src[i] << 16 | (unsigned)src[i + 1] << 8 | src[i + 2];
    dst[j++] = t[v >> 18 & 63];
    dst[j++] = t[v >> 12 & 63];
    dst[j++] = t[v >> 6 & 63];
    dst[j++] = t[v & 63];
  }
  if (n - i == 1) {
    unsigned v = (unsigned)src[i] << 16;
    dst[j++] = t[v >> 18 & 63];
    dst[j++] = t[v >> 12 & 63];
    dst[j++] = '=';
    dst[j++] = '=';
  } else if (n - i == 2) {
    unsigned v = (unsigned)src[i] << 16 | (unsigned)src[i + 1] << 8;
    dst[j++] = t[v >> 18 & 63];
    dst[j++] = t[v >> 12 & 63];
    dst[j++] = t[v >> 6 & 63];
    dst[j++] = '=';
  }
  dst[j] = '\0';
}

static int tcp_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket: %s", strerror(errno));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect %d: %s", port, strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

static void x_login(xconn *c, int port, const char *user, const char *domain, const char *pw,
                    const char *resource, const char *presence) {
  char buf[2048], raw[512], enc[800];
  c->fd = tcp_connect(port);
  snprintf(buf, sizeof buf,
           "<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
           "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>", domain);
  x_send_all(c, buf);
  x_wait_for(c, 0, "</stream:features>", NULL);
  size_t n = (size_t)snprintf(raw, sizeof raw, "%c%s%c%s", 0, user, 0, pw);
  b64((const unsigned char *)raw, n, enc);
  snprintf(buf, sizeof buf,
           "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>", enc);
  size_t mark = c->in_len;
  x_send_all(c, buf);
  x_wait_for(c, mark, "<success", "<failure");
  mark = c->in_len;
  snprintf(buf, sizeof buf,
           "<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
           "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>", domain);
  x_send_all(c, buf);
  x_wait_for(c, mark, "</stream:features>", NULL);
  mark = c->in_len;
  snprintf(buf, sizeof buf,
           "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
           "<resource>%s</resource></bind></iq>", resource);
  x_send_all(c, buf);
  x_wait_for(c, mark, "</jid>", "<error");
  mark = c->in_len;
  x_send_all(c, "<iq type='set' id='sess1'><session "
                "xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
  x_send_all(c, presence);
  x_wait_for(c, mark, "sess1", NULL);
  /* Let the presence round trip settle, then start with an empty buffer. */
  int64_t until = now_mono_us() + 200000;
  while (now_mono_us() < until) {
    struct pollfd p = {c->fd, POLLIN, 0};
    poll(&p, 1, 20);
    if (x_read(c) < 0) die("connection closed after login");
  }
  c->in_len = 0;
}

static unsigned long cond_counts[8];
static char cond_names[8][64];

static void note_condition(const char *st, const char *end) {
  const char *ns = memmem(st, (size_t)(end - st), "xmpp-stanzas", 12);
  char name[64] = "unknown";
  if (ns) {
    const char *lt = ns;
    while (lt > st && *lt != '<') lt--;
    size_t k = 0;
    for (const char *q = lt + 1; q < ns && k + 1 < sizeof name && *q != ' ' && *q != '/' &&
                                 *q != '>';
         q++)
      name[k++] = *q;
    name[k] = '\0';
  }
  for (int i = 0; i < 8; i++) {
    if (!cond_names[i][0]) snprintf(cond_names[i], sizeof cond_names[i], "%s", name);
    if (!strcmp(cond_names[i], name)) {
      cond_counts[i]++;
      return;
    }
  }
}

/* Consumes complete <message/> stanzas from the input buffer. With `count_samples`, bodies
 * are recorded; error messages are counted either way. */
static void x_consume(xconn *c, int count_samples, int64_t arrival) {
  size_t pos = 0;
  for (;;) {
    char *st = memmem(c->in + pos, c->in_len - pos, "<message", 8);
    if (!st) {
      /* keep a possible partial "<message" tail */
      pos = c->in_len > 8 ? c->in_len - 8 : 0;
      break;
    }
    char *gt = memchr(st, '>', (size_t)(c->in + c->in_len - st));
    if (!gt) {
      pos = (size_t)(st - c->in);
      break;
    }
    char *end;
    if (gt[-1] == '/') end = gt + 1;
    else {
      char *close = memmem(gt, (size_t)(c->in + c->in_len - gt), "</message>", 10);
      if (!close) {
        pos = (size_t)(st - c->in);
        break;
      }
      end = close + 10;
    }
    size_t taglen = (size_t)(gt - st);
    if (memmem(st, taglen, "type='error'", 12) || memmem(st, taglen, "type=\"error\"", 12)) {
      n_errors++;
      note_condition(st, end);
    } else if (count_samples) {
      uint32_t seq;
      unsigned run;
      int64_t ts;
      char *bs = memmem(gt, (size_t)(end - gt), "<body>", 6);
      char *be = bs ? memmem(bs, (size_t)(end - bs), "</body>", 7) : NULL;
      if (bs && be && parse_body(bs + 6, be, &seq, &run, &ts) == 0)
        record(run, seq, arrival, ts);
      else
        n_unparsed++;
    }
    pos = (size_t)(end - c->in);
  }
  memmove(c->in, c->in + pos, c->in_len - pos);
  c->in_len -= pos;
  c->in[c->in_len] = '\0';
}

/* ---------------------------------------------------------------- modes */

typedef struct {
  int port;
  const char *user, *domain, *pw, *to;
  double rate;
  unsigned long count;
  unsigned run;
  int linger_ms;
} opts;

static int mode_recv(const opts *o) {
  xconn c = {0};
  x_login(&c, o->port, o->user, o->domain, o->pw, "benchrecv", "<presence/>");
  printf("READY\n");
  fflush(stdout);
  struct pollfd p[2] = {{c.fd, POLLIN, 0}, {0, POLLIN, 0}};
  for (;;) {
    if (poll(p, 2, 1000) < 0 && errno != EINTR) die("poll: %s", strerror(errno));
    if (p[0].revents) {
      ssize_t k = x_read(&c);
      int64_t t = now_real_us();
      if (k < 0) die("server closed the stream: %.300s", c.in);
      if (k > 0) x_consume(&c, 1, t);
    }
    if (p[1].revents && handle_stdin()) break;
  }
  close(c.fd);
  return 0;
}

static int mode_send(const opts *o) {
  xconn c = {0};
  char stanza[1024];
  /* Negative priority: messages to the bare JID are not routed to the sending session. */
  x_login(&c, o->port, o->user, o->domain, o->pw, "benchsend",
          "<presence><priority>-1</priority></presence>");
  int64_t t0 = now_mono_us();
  unsigned long sent = 0;
  int64_t last_sent_at = t0;
  int blocked_ms = 0;
  while (sent < o->count) {
    int64_t now = now_mono_us();
    double due = (double)(now - t0) * o->rate / 1e6;
    while (sent < o->count && (double)sent < due && c.out_len < (8u << 20)) {
      int64_t ts = now_real_us();
      int n = snprintf(stanza, sizeof stanza,
                       "<message to='%s' type='chat' id='b%u-%lu'><body>seq=%lu run=%u "
                       "ts=%lld.%06lld</body></message>",
                       o->to, o->run, sent + 1, sent + 1, o->run, (long long)(ts / 1000000),
                       (long long)(ts % 1000000));
      x_queue(&c, stanza, (size_t)n);
      sent++;
      last_sent_at = now;
    }
    if (x_flush(&c) < 0) die("write: %s", strerror(errno));
    struct pollfd p = {c.fd, POLLIN | (c.out_len ? POLLOUT : 0), 0};
    poll(&p, 1, 1);
    if (p.revents & POLLIN) {
      if (x_read(&c) < 0) die("server closed the stream");
      x_consume(&c, 0, 0);
    }
    if (c.out_len && now - last_sent_at > 1000) blocked_ms++;
  }
  while (c.out_len) {
    if (x_flush(&c) < 0) die("write: %s", strerror(errno));
    struct pollfd p = {c.fd, POLLIN | POLLOUT, 0};
    poll(&p, 1, 5);
    if (p.revents & POLLIN) {
      if (x_read(&c) < 0) die("server closed the stream");
      x_consume(&c, 0, 0);
    }
  }
  double elapsed = (double)(now_mono_us() - t0) / 1e6;
  int64_t until = now_mono_us() + (int64_t)o->linger_ms * 1000;
  while (now_mono_us() < until) {
    struct pollfd p = {c.fd, POLLIN, 0};
    poll(&p, 1, 20);
    if (p.revents & POLLIN) {
      if (x_read(&c) < 0) break;
      x_consume(&c, 0, 0);
    }
  }
  printf("sent=%lu errors=%lu elapsed_s=%.3f cond=", sent, n_errors, elapsed);
  for (int i = 0; i < 8 && cond_names[i][0]; i++)
    printf("%s%s:%lu", i ? "," : "", cond_names[i], cond_counts[i]);
  printf("\n");
  fflush(stdout);
  x_send_all(&c, "</stream:stream>");
  close(c.fd);
  return 0;
}

/* ---- SIP sink */

/* Finds header `name` (or its compact form) in [hdrs, end); copies each matching line
 * (full line, CRLF included) to out. */
static size_t copy_headers(const char *hdrs, const char *end, const char *name, char compact,
                           char *out, size_t cap, int *found) {
  size_t w = 0, nlen = strlen(name);
  const char *p = hdrs;
  while (p < end) {
    const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (!eol) eol = end;
    const char *colon = memchr(p, ':', (size_t)(eol - p));
    if (colon) {
      const char *ne = colon;
      while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t')) ne--;
      size_t hl = (size_t)(ne - p);
      if ((hl == nlen && !strncasecmp(p, name, nlen)) ||
          (hl == 1 && (p[0] | 0x20) == compact)) {
        size_t ll = (size_t)(eol - p);
        if (w + ll + 2 < cap) {
          memcpy(out + w, p, ll);
          memcpy(out + w + ll, "\r\n", 2);
          w += ll + 2;
          *found = 1;
        }
      }
    }
    p = eol + 2;
  }
  return w;
}

/* One request in pkt[0..k) (NUL at pkt[k]): builds the 200 OK into reply and records a
 * MESSAGE body. Returns the reply's length, 0 for nothing to answer. */
static size_t sink_handle(char *pkt, size_t k, int64_t t, char *reply, size_t cap) {
  if (!strncmp(pkt, "SIP/2.0", 7)) return 0; /* a response: nothing to do */
  char *hend = memmem(pkt, k, "\r\n\r\n", 4);
  char *l1 = memmem(pkt, k, "\r\n", 2);
  if (!hend || !l1) {
    n_unparsed++;
    return 0;
  }
  int f = 0;
  size_t w = (size_t)snprintf(reply, cap, "SIP/2.0 200 OK\r\n");
  w += copy_headers(l1 + 2, hend + 2, "Via", 'v', reply + w, cap - w, &f);
  w += copy_headers(l1 + 2, hend + 2, "From", 'f', reply + w, cap - w, &f);
  size_t tpos = w;
  int has_to = 0;
  w += copy_headers(l1 + 2, hend + 2, "To", 't', reply + w, cap - w, &has_to);
  if (has_to && !memmem(reply + tpos, w - tpos, "tag=", 4) && w + 16 < cap) {
    w -= 2;
    w += (size_t)snprintf(reply + w, cap - w, ";tag=sink1\r\n");
  }
  w += copy_headers(l1 + 2, hend + 2, "Call-ID", 'i', reply + w, cap - w, &f);
  w += copy_headers(l1 + 2, hend + 2, "CSeq", '\0', reply + w, cap - w, &f);
  w += (size_t)snprintf(reply + w, cap - w, "Content-Length: 0\r\n\r\n");
  if (!strncmp(pkt, "MESSAGE ", 8)) {
    uint32_t seq;
    unsigned run;
    int64_t ts;
    if (parse_body(hend + 4, pkt + k, &seq, &run, &ts) == 0) record(run, seq, t, ts);
    else n_unparsed++;
  }
  return w;
}

/* Content-Length of the header section [p, hend), -1 when absent. */
static long content_length(const char *p, const char *hend) {
  while (p < hend) {
    const char *eol = memmem(p, (size_t)(hend - p), "\r\n", 2);
    if (!eol) eol = hend;
    if (!strncasecmp(p, "Content-Length:", 15)) return strtol(p + 15, NULL, 10);
    if (!strncasecmp(p, "l:", 2)) return strtol(p + 2, NULL, 10);
    p = eol + 2;
  }
  return -1;
}

#define SINK_TCP_MAX 8
typedef struct {
  int fd;
  char *buf;
  size_t len, cap;
  char *out;
  size_t olen, ocap;
} sink_conn;

static void sink_out(sink_conn *c, const char *d, size_t n) {
  if (c->olen + n > c->ocap) {
    c->ocap = (c->olen + n) * 2;
    c->out = realloc(c->out, c->ocap);
    if (!c->out) die("out of memory");
  }
  memcpy(c->out + c->olen, d, n);
  c->olen += n;
}

/* Reads what a stream connection has, answers every complete request (the replies of one
 * read in one write). Returns -1 when the connection is gone. */
static int sink_tcp_read(sink_conn *c, char *reply, size_t rcap) {
  for (;;) {
    if (c->cap - c->len < 65536) {
      c->cap = c->cap ? c->cap * 2 : 262144;
      c->buf = realloc(c->buf, c->cap + 1);
      if (!c->buf) die("out of memory");
    }
    ssize_t k = read(c->fd, c->buf + c->len, c->cap - c->len);
    if (k == 0) return -1;
    if (k < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return -1;
    }
    c->len += (size_t)k;
    if ((size_t)k < c->cap - c->len) break;
  }
  int64_t t = now_real_us();
  size_t off = 0;
  while (off < c->len) {
    while (off + 1 < c->len && c->buf[off] == '\r' && c->buf[off + 1] == '\n') off += 2;
    char *p = c->buf + off;
    size_t avail = c->len - off;
    char *hend = memmem(p, avail, "\r\n\r\n", 4);
    if (!hend) break;
    long cl = content_length(p, hend + 2);
    if (cl < 0) cl = 0;
    size_t total = (size_t)(hend + 4 - p) + (size_t)cl;
    if (total > avail) break;
    char save = p[total];
    p[total] = '\0';
    size_t w = sink_handle(p, total, t, reply, rcap);
    p[total] = save;
    if (w) sink_out(c, reply, w);
    off += total;
  }
  memmove(c->buf, c->buf + off, c->len - off);
  c->len -= off;
  size_t sent = 0;
  while (sent < c->olen) {
    ssize_t k = write(c->fd, c->out + sent, c->olen - sent);
    if (k < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd q = {c->fd, POLLOUT, 0};
        poll(&q, 1, 100);
        continue;
      }
      return -1;
    }
    sent += (size_t)k;
  }
  c->olen = 0;
  return 0;
}

static int mode_sipsink(const opts *o) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket: %s", strerror(errno));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int buf = 8 << 20, one = 1;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind %d: %s", o->port, strerror(errno));
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  /* The same port over TCP: sip:127.0.0.1:P;transport=tcp. */
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0) die("socket: %s", strerror(errno));
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 16) < 0)
    die("tcp bind %d: %s", o->port, strerror(errno));
  fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
  printf("READY\n");
  fflush(stdout);
  static char pkt[70000], reply[8192];
  sink_conn conns[SINK_TCP_MAX];
  int nconn = 0;
  memset(conns, 0, sizeof conns);
  for (;;) {
    struct pollfd p[3 + SINK_TCP_MAX] = {{fd, POLLIN, 0}, {0, POLLIN, 0}, {lfd, POLLIN, 0}};
    for (int i = 0; i < nconn; i++) p[3 + i] = (struct pollfd){conns[i].fd, POLLIN, 0};
    if (poll(p, (nfds_t)(3 + nconn), 1000) < 0 && errno != EINTR) die("poll: %s", strerror(errno));
    if (p[0].revents) {
      for (int burst = 0; burst < 4096; burst++) {
        struct sockaddr_in src;
        socklen_t sl = sizeof src;
        ssize_t k = recvfrom(fd, pkt, sizeof pkt - 1, 0, (struct sockaddr *)&src, &sl);
        if (k < 0) break;
        int64_t t = now_real_us();
        pkt[k] = '\0';
        size_t w = sink_handle(pkt, (size_t)k, t, reply, sizeof reply);
        if (w) sendto(fd, reply, w, 0, (struct sockaddr *)&src, sl);
      }
    }
    for (int i = nconn - 1; i >= 0; i--) {
      if (!p[3 + i].revents) continue;
      if (sink_tcp_read(&conns[i], reply, sizeof reply) < 0) {
        close(conns[i].fd);
        free(conns[i].buf);
        free(conns[i].out);
        conns[i] = conns[--nconn];
        memset(&conns[nconn], 0, sizeof conns[nconn]);
      }
    }
    if (p[2].revents) {
      int cfd = accept(lfd, NULL, NULL);
      if (cfd >= 0 && nconn < SINK_TCP_MAX) {
        fcntl(cfd, F_SETFL, fcntl(cfd, F_GETFL) | O_NONBLOCK);
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns[nconn++].fd = cfd;
      } else if (cfd >= 0) {
        close(cfd);
      }
    }
    if (p[1].revents && handle_stdin()) break;
  }
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) die("usage: xmppbench recv|send|sipsink [options]");
  signal(SIGPIPE, SIG_IGN);
  opts o = {.pw = "pw", .domain = "fabrikam.example", .rate = 1000, .count = 1000,
            .linger_ms = 1000};
  for (int i = 2; i < argc; i++) {
    const char *k = argv[i];
    if (i + 1 >= argc) die("missing value for %s", k);
    const char *v = argv[++i];
    if (!strcmp(k, "--port")) o.port = atoi(v);
    else if (!strcmp(k, "--user")) o.user = v;
    else if (!strcmp(k, "--domain")) o.domain = v;
    else if (!strcmp(k, "--pw")) o.pw = v;
    else if (!strcmp(k, "--to")) o.to = v;
    else if (!strcmp(k, "--rate")) o.rate = atof(v);
    else if (!strcmp(k, "--count")) o.count = strtoul(v, NULL, 10);
    else if (!strcmp(k, "--run")) o.run = (unsigned)strtoul(v, NULL, 10);
    else if (!strcmp(k, "--linger-ms")) o.linger_ms = atoi(v);
    else die("unknown option %s", k);
  }
  if (o.port <= 0) die("--port required");
  if (!strcmp(argv[1], "recv")) {
    if (!o.user) die("--user required");
    return mode_recv(&o);
  }
  if (!strcmp(argv[1], "send")) {
    if (!o.user || !o.to) die("--user and --to required");
    return mode_send(&o);
  }
  if (!strcmp(argv[1], "sipsink")) return mode_sipsink(&o);
  die("unknown mode %s", argv[1]);
  return 2;
}
