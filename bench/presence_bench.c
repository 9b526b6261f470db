/* Presence core benchmark (not a test): the cost of one PIDF render (XMPP → SIP NOTIFY body)
 * and one PIDF parse (SIP NOTIFY body → XMPP), one state-machine step and one relation
 * lookup, and the memory the daemon's in-memory structures take per relation — the relation
 * table (translate/reltab.h) plus one cached contact presence (translate/presence_agg.h) per
 * relation — at 10,000 and 100,000 relations, with the time to reconcile the table against a
 * snapshot of that size.
 *
 * usage: presence_bench [CALLS]   (default 200000 renders/parses)
 * Figures go to stdout; RSS is read from /proc/self/statm. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "translate/pidf_parse.h"
#include "translate/pidf_render.h"
#include "translate/presence_agg.h"
#include "translate/relation_fsm.h"
#include "translate/reltab.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (!f) return -1;
  if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = -1;
  fclose(f);
  return rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE);
}

static void die(const char *what) {
  fprintf(stderr, "presence_bench: %s\n", what);
  exit(1);
}

static sx_presence pres(sx_show show, int prio, const char *status) {
  sx_presence p = {0};
  p.type = SX_PRES_AVAILABLE;
  p.show = show;
  p.has_priority = 1;
  p.priority = prio;
  p.lang = strdup("en");
  if (status && sx_presence_add_status(&p, NULL, status)) die("status");
  return p;
}

/* A body as Kamailio merges it: two devices' persons, newest first, one tuple, a note. */
static const char KAMAILIO_BODY[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
    "xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" "
    "xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"sip:bob@contoso.com\">\n"
    "  <tuple id=\"a1b2c3\"><status><basic>open</basic></status>"
    "<contact priority=\"0.8\">sip:bob@192.0.2.10:5060</contact>"
    "<note xml:lang=\"en\">In a meeting until 3</note></tuple>\n"
    "  <dm:person id=\"p1\"><rpid:activities><rpid:on-the-phone/></rpid:activities>"
    "<dm:note>On the phone</dm:note></dm:person>\n"
    "  <dm:person id=\"p2\"><rpid:activities><rpid:away/></rpid:activities></dm:person>\n"
    "</presence>\n";

static void bench_pidf(long calls) {
  sx_pres_agg a = {0};
  sx_presence p1 = pres(SX_SHOW_AWAY, 10, "Lunch, back at 2"), p2 = pres(SX_SHOW_NONE, 5, NULL);
  if (sx_agg_update(&a, "laptop", &p1) || sx_agg_update(&a, "phone", &p2)) die("agg");
  sx_presence_free(&p1);
  sx_presence_free(&p2);
  size_t len = 0, total = 0;
  double t0 = now();
  for (long i = 0; i < calls; i++) {
    char *doc = sx_pidf_render(&a, "sip:carol@fabrikam.com", 0, &len);
    if (!doc) die("render");
    total += len;
    free(doc);
  }
  double t1 = now();
  printf("pidf render (2 resources, 1 note, %zu bytes): %.2f us/call (%ld calls)\n",
         total / (size_t)calls, (t1 - t0) / (double)calls * 1e6, calls);

  char *doc = sx_pidf_render(&a, "sip:carol@fabrikam.com", 0, &len);
  t0 = now();
  for (long i = 0; i < calls; i++) {
    sx_presence out;
    if (sx_pidf_parse(doc, len, NULL, &out, NULL, 0) != SX_PIDF_OK) die("parse own");
    sx_presence_free(&out);
  }
  t1 = now();
  printf("pidf parse (the document above): %.2f us/call\n", (t1 - t0) / (double)calls * 1e6);
  free(doc);
  size_t klen = strlen(KAMAILIO_BODY);
  t0 = now();
  for (long i = 0; i < calls; i++) {
    sx_presence out;
    if (sx_pidf_parse(KAMAILIO_BODY, klen, NULL, &out, NULL, 0) != SX_PIDF_OK) die("parse");
    sx_presence_free(&out);
  }
  t1 = now();
  printf("pidf parse (Kamailio-style merge, 2 persons, %zu bytes): %.2f us/call\n", klen,
         (t1 - t0) / (double)calls * 1e6);
  sx_agg_clear(&a);
}

typedef struct {
  sx_pres_agg agg;
} rel_data;

static void free_data(void *arg, sx_relent *e) {
  (void)arg;
  if (e->data) {
    sx_agg_clear(e->data);
    free(e->data);
    e->data = NULL;
  }
}

static void bench_relations(long n) {
  long rss0 = rss_bytes();
  sx_reltab *t = sx_reltab_new();
  if (!t) die("reltab");
  char u[64], c[64];
  /* users with 10 contacts each on 100 partner domains */
  double t0 = now();
  for (long i = 0; i < n; i++) {
    snprintf(u, sizeof u, "user%ld@contoso.com", i / 10);
    snprintf(c, sizeof c, "contact%ld@partner%ld.example", i, i % 100);
    sx_relent *e = sx_reltab_get(t, u, c);
    if (!e) die("get");
    sx_rel r = {SX_OUT_SUBSCRIBED, SX_IN_APPROVED, 1, 0};
    uint64_t tk = sx_reltab_set(t, e, r);
    sx_reltab_written(t, u, c, tk, 1);
  }
  double t1 = now();
  long rss1 = rss_bytes();
  sx_reltab_stats st;
  sx_reltab_get_stats(t, &st);
  printf("relations %ld: table %.1f bytes/relation (heap count), RSS +%.1f bytes/relation, "
         "fill %.0f ns/relation\n",
         n, (double)st.bytes / (double)n, (double)(rss1 - rss0) / (double)n,
         (t1 - t0) / (double)n * 1e9);

  /* one cached contact presence per relation: one resource, show away, one status */
  sx_presence p = pres(SX_SHOW_AWAY, 5, "Back at 2");
  size_t agg_bytes = 0;
  for (long i = 0; i < n; i++) {
    snprintf(u, sizeof u, "user%ld@contoso.com", i / 10);
    snprintf(c, sizeof c, "contact%ld@partner%ld.example", i, i % 100);
    sx_relent *e = sx_reltab_find(t, u, c);
    rel_data *d = calloc(1, sizeof *d);
    if (!e || !d || sx_agg_update(&d->agg, "laptop", &p)) die("agg");
    e->data = d;
    agg_bytes += sizeof *d + sx_agg_bytes(&d->agg);
  }
  sx_presence_free(&p);
  long rss2 = rss_bytes();
  printf("relations %ld: + cached presence %.1f bytes/relation (heap count), RSS +%.1f "
         "bytes/relation; total RSS %.1f MiB\n",
         n, (double)agg_bytes / (double)n, (double)(rss2 - rss1) / (double)n,
         (double)rss2 / (1024.0 * 1024.0));

  /* lookups and steps at this size */
  long lookups = 1000000;
  uint64_t x = 88172645463325252ull;
  t0 = now();
  unsigned sink = 0;
  for (long i = 0; i < lookups; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    long k = (long)(x % (uint64_t)n);
    snprintf(u, sizeof u, "user%ld@contoso.com", k / 10);
    snprintf(c, sizeof c, "contact%ld@partner%ld.example", k, k % 100);
    sx_relent *e = sx_reltab_find(t, u, c);
    if (!e) die("find");
    sx_rel_result r;
    sx_rel_step(e->rel, SX_REV_XMPP_PRESENCE, SX_ALLOW, NULL, &r);
    sink += r.actions;
  }
  t1 = now();
  printf("relations %ld: lookup + state-machine step %.0f ns (incl. key formatting)%s\n", n,
         (t1 - t0) / (double)lookups * 1e9, sink ? "" : " ");

  /* reconcile against a snapshot holding every relation (the admin changed one) */
  sx_policy_snap *snap = sx_snap_new();
  if (!snap) die("snap");
  for (long i = 0; i < n; i++) {
    snprintf(u, sizeof u, "user%ld@contoso.com", i / 10);
    snprintf(c, sizeof c, "contact%ld@partner%ld.example", i, i % 100);
    sx_rel r = {SX_OUT_SUBSCRIBED, SX_IN_APPROVED, 1, 0};
    if (i == n / 2) r.in = SX_IN_NONE;
    if (sx_snap_add_relation(snap, u, c, r)) die("snap add");
  }
  sx_snap_set_generation(snap, 2);
  t0 = now();
  long ch = sx_reltab_reconcile(t, snap, NULL, NULL);
  t1 = now();
  printf("relations %ld: reconcile against a snapshot %.1f ms (%ld change)\n", n,
         (t1 - t0) * 1e3, ch);
  sx_snap_free(snap);
  sx_reltab_each(t, free_data, NULL);
  sx_reltab_free(t);
}

int main(int argc, char **argv) {
  long calls = argc > 1 ? atol(argv[1]) : 200000;
  if (calls < 1) {
    fprintf(stderr, "usage: presence_bench [CALLS]\n");
    return 2;
  }
  bench_pidf(calls);
  fflush(stdout);
  /* each size in a fresh process, so RSS growth is not hidden by memory freed earlier */
  static const long sizes[] = {10000, 100000};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      bench_relations(sizes[i]);
      fflush(stdout);
      _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) die("child");
  }
  return 0;
}
