/* Policy benchmark: fills a store with many users, partners and policies, then measures the
 * store fill, the snapshot rebuild after one change, the generation poll and the cost of one
 * decision (SPEC §5; target < 1 µs per decision).
 *
 * usage: policy_bench [USERS [PARTNERS [POLICIES [DECISIONS]]]]
 *        defaults 100000 1000 100 2000000; the store is a temporary file, removed at exit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/store.h"
#include "translate/policy.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *err) {
  fprintf(stderr, "policy_bench: %s: %s\n", what, err);
  exit(1);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

int main(int argc, char **argv) {
  long users = argc > 1 ? atol(argv[1]) : 100000;
  long partners = argc > 2 ? atol(argv[2]) : 1000;
  long policies = argc > 3 ? atol(argv[3]) : 100;
  long decisions = argc > 4 ? atol(argv[4]) : 2000000;
  if (users < 1 || partners < 1 || policies < 3 || decisions < 1) {
    fprintf(stderr, "usage: policy_bench [USERS [PARTNERS [POLICIES [DECISIONS]]]]\n");
    return 2;
  }
  char dir[] = "/tmp/sx-bench-XXXXXX";
  if (!mkdtemp(dir)) die("mkdtemp", "failed");
  char path[128];
  snprintf(path, sizeof path, "%s/bench.db", dir);
  char err[1024], warn[1024];
  sx_store *s;
  if (sx_store_open(path, &s, err, sizeof err)) die("open", err);

  /* fill: policies (10 site policies, the rest tags; every third without XMPP), partners of
   * the three types with two additional domains each, users spread over sites and tags */
  double t0 = now();
  if (sx_store_begin(s, err, sizeof err)) die("begin", err);
  long sites = policies / 10 ? policies / 10 : 1;
  for (long i = 0; i < policies - 1; i++) {
    char name[64];
    if (i < sites)
      snprintf(name, sizeof name, "site:site%ld", i);
    else
      snprintf(name, sizeof name, "Tag%ld", i);
    unsigned flags = i % 3 ? SX_POL_XMPP | SX_POL_FEDERATION : SX_POL_FEDERATION;
    if (sx_store_policy_new(s, name, flags, "bench", err, sizeof err)) die("policy", err);
  }
  for (long i = 0; i < partners; i++) {
    char dom[64], a1[64], a2[64];
    snprintf(dom, sizeof dom, "partner%ld.example", i);
    snprintf(a1, sizeof a1, "corp.partner%ld.example", i);
    snprintf(a2, sizeof a2, "eu.partner%ld.example", i);
    sx_partner_rec p;
    if (sx_partner_rec_init(&p, dom)) die("partner", "out of memory");
    p.type = (sx_ptype)(i % 3);
    p.sasl = SX_NEGO_OPTIONAL;
    char *extra[2] = {a1, a2};
    p.additional = extra;
    p.n_additional = 2;
    sx_st st = sx_store_partner_new(s, &p, warn, sizeof warn, err, sizeof err);
    p.additional = NULL;
    p.n_additional = 0;
    sx_partner_rec_free(&p);
    if (st) die("partner", err);
  }
  for (long i = 0; i < users; i++) {
    char key[64], site[32], tag[32];
    snprintf(key, sizeof key, "user%ld@contoso.com", i);
    snprintf(site, sizeof site, "site%ld", i % sites);
    snprintf(tag, sizeof tag, "Tag%ld", sites + i % (policies - 1 - sites));
    int added;
    if (sx_store_user_put(s, key, i % 4 ? site : NULL, i % 2 ? tag : NULL, &added, err,
                          sizeof err))
      die("user", err);
    if (i % 10 == 0) {
      char ct[64];
      snprintf(ct, sizeof ct, "contact%ld@partner%ld.example", i, i % partners);
      if (sx_store_contact_add(s, key, ct, NULL, err, sizeof err)) die("contact", err);
    }
  }
  if (sx_store_commit(s, err, sizeof err)) die("commit", err);
  double t_fill = now() - t0;

  /* snapshot rebuild after one change */
  sx_policy_snap *snap = sx_store_snapshot(s, err, sizeof err);
  if (!snap) die("snapshot", err);
  sx_snap_free(snap);
  const int rebuilds = 5;
  double t_snap = 0, t_snap_min = 1e9;
  char some_tag[32];
  snprintf(some_tag, sizeof some_tag, "Tag%ld", sites);
  for (int r = 0; r < rebuilds; r++) {
    if (sx_store_policy_grant(s, r % 2 ? some_tag : NULL, "user7@contoso.com", NULL, err,
                              sizeof err))
      die("grant", err);
    t0 = now();
    snap = sx_store_snapshot(s, err, sizeof err);
    double dt = now() - t0;
    if (!snap) die("snapshot", err);
    t_snap += dt;
    if (dt < t_snap_min) t_snap_min = dt;
    if (r < rebuilds - 1) sx_snap_free(snap);
  }
  t_snap /= rebuilds;

  /* generation poll */
  const int polls = 100000;
  t0 = now();
  int64_t g = 0;
  for (int i = 0; i < polls; i++) g += sx_store_generation(s);
  double t_poll = (now() - t0) / polls;
  if (g < 0) die("generation", "negative");

  /* decisions: random users (including unknown ones), partner domains (primary, additional,
   * unknown), directions and kinds */
  enum { NIN = 4096 };
  static char ukey[NIN][64], dom[NIN][64], ext[NIN][96];
  static sx_pdir dirs[NIN];
  static sx_kind kinds[NIN];
  for (int i = 0; i < NIN; i++) {
    long u = (long)(next() % (uint64_t)(users + users / 10));
    snprintf(ukey[i], sizeof ukey[i], "user%ld@contoso.com", u);
    long p = (long)(next() % (uint64_t)(partners + partners / 10));
    static const char *const pre[] = {"", "corp.", "eu."};
    snprintf(dom[i], sizeof dom[i], "%spartner%ld.example", pre[next() % 3], p);
    snprintf(ext[i], sizeof ext[i], "contact%ld@%s", u, dom[i]);
    dirs[i] = (sx_pdir)(next() % 2);
    kinds[i] = (sx_kind)(next() % 4);
  }
  long verdicts[3] = {0, 0, 0};
  sx_decision d;
  for (int i = 0; i < NIN; i++) /* warm up */
    sx_decide(snap, ukey[i], dom[i], ext[i], dirs[i], kinds[i], &d);
  t0 = now();
  for (long i = 0; i < decisions; i++) {
    int k = (int)(i & (NIN - 1));
    sx_decide(snap, ukey[k], dom[k], ext[k], dirs[k], kinds[k], &d);
    verdicts[d.verdict]++;
  }
  double t_dec = (now() - t0) / (double)decisions;

  sx_snap_counts cnt;
  sx_snap_get_counts(snap, &cnt);
  printf("store:     %zu users, %zu partners (%zu domains), %zu policies, %zu contacts\n",
         cnt.users, cnt.partners, cnt.domains, cnt.policies, cnt.contacts);
  printf("fill:      %.2f s (one transaction through the store API)\n", t_fill);
  printf("snapshot:  %.1f ms average, %.1f ms best, rebuild after one change\n", t_snap * 1e3,
         t_snap_min * 1e3);
  printf("poll:      %.2f us per sx_store_generation()\n", t_poll * 1e6);
  printf("decision:  %.0f ns per sx_decide() over %ld calls (allow %ld, deny %ld, pending %ld)\n",
         t_dec * 1e9, decisions, verdicts[SX_ALLOW], verdicts[SX_DENY], verdicts[SX_PENDING]);
  sx_snap_free(snap);
  sx_store_close(s);
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "policy_bench: could not remove %s\n", dir);
  return 0;
}
