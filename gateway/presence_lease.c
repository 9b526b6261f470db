/* Fan-out leases (issue 11 item 3): with a PostgreSQL store, several instances share the
 * users, and each internal user's fan-out subscription is held by exactly one live instance
 * under the lease "fanout:<user key>" (holder: the instance id). An instance that needs a
 * user's fan-out (≥1 joined watcher) takes the lease first and starts the fan-out once it
 * holds it; a lease held elsewhere is asked for again every tick (a lapsed one is then
 * taken over). Every tick renews all held leases in one statement; a lease no longer held
 * (taken over after a stall, or renewals failing for longer than the lease time) stops the
 * local fan-out. A user whose last watcher leaves gives the lease up (after
 * PRES_ACT_GRACE_MS when this instance just acted on a change all instances saw, and the
 * lease is also taken to act on one: presence_act.c); a clean stop releases them all
 * (sx_store_instance_remove).
 *
 * The store work runs in libuv's pool with this file's own store handle (store_job.h); the
 * loop thread never waits for the database. With an SQLite store (one instance) there are no leases:
 * pres_lease_start leaves P->leases NULL and fan-outs start at once, as before. */
#include "gateway/presence_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "conf/store.h"
#include "gateway/instance.h"
#include "gateway/metrics.h"
#include "gateway/store_job.h"
#include "translate/log.h"

#define LEASE_PREFIX "fanout:"
#define NAME_MAX_KEY 240 /* longer keys are named by their hash (lease names ≤ 255) */
#define ACQUIRE_LIST_FROM 8 /* more acquisitions than this: the live leases are read first */

struct pres_leases {
  sx_pres_gw *P;
  sx_store_job *job; /* the leases' store handle, in the pool */
  char *holder;
  uv_timer_t tick;
  int settling; /* after_cb reads the job's results back */
  int urgent, closing, tick_closed;
  /* the job: filled on the loop, run by the worker, read back on the loop */
  puser **acq;
  sx_st *acq_rc;
  size_t nacq, acq_cap;
  char **rel; /* names to give up */
  size_t nrel, rel_cap;
  char **queued; /* releases waiting for the next job */
  size_t nqueued, queued_cap;
  char **held; /* renew_all's result */
  size_t nheld;
  sx_st renew_rc;
  int64_t renew_ok_ms; /* wall ms of the last successful renewal */
  unsigned long acquired_total, lost_total;
  char err[512];
};

static int64_t wall_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static uint64_t key_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h;
}

/* "fanout:<key>", or "fanout:#<hash>" for a key too long for a lease name. */
static char *lease_name(const char *key) {
  size_t n = strlen(key);
  char *out = malloc(n <= NAME_MAX_KEY ? sizeof LEASE_PREFIX + n : sizeof LEASE_PREFIX + 18);
  if (!out) return NULL;
  if (n <= NAME_MAX_KEY)
    sprintf(out, LEASE_PREFIX "%s", key);
  else
    sprintf(out, LEASE_PREFIX "#%016llx", (unsigned long long)key_hash(key));
  return out;
}

static int push_name(char ***v, size_t *n, size_t *cap, char *s) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    char **nv = realloc(*v, nc * sizeof *nv);
    if (!nv) return -1;
    *v = nv;
    *cap = nc;
  }
  (*v)[(*n)++] = s;
  return 0;
}

static int cmp_lease(const void *a, const void *b) {
  return strcmp(((const sx_lease_rec *)a)->name, ((const sx_lease_rec *)b)->name);
}

/* ---- the worker ----------------------------------------------------------------------- */

static void work_cb(sx_store *st, void *arg) {
  pres_leases *L = arg;
  int64_t now = wall_ms();
  char err[512];
  size_t i;
  L->err[0] = '\0';
  for (i = 0; i < L->nrel; i++) {
    sx_st r = sx_store_lease_release(st, L->rel[i], L->holder, err, sizeof err);
    if (r != SX_ST_OK && r != SX_ST_NOTFOUND) snprintf(L->err, sizeof L->err, "%s", err);
  }
  /* Many to ask for (most held elsewhere, e.g. after a restart): one read of the live
   * leases first, and only the free or lapsed ones are asked for. */
  sx_lease_rec *live = NULL;
  size_t nlive = 0;
  if (L->nacq > ACQUIRE_LIST_FROM &&
      sx_store_lease_list(st, NULL, 0, now, &live, &nlive, err, sizeof err) == SX_ST_OK &&
      nlive)
    qsort(live, nlive, sizeof *live, cmp_lease);
  for (i = 0; i < L->nacq; i++) {
    sx_lease_rec key = {.name = L->acq[i]->lease_name};
    sx_lease_rec *cur = live ? bsearch(&key, live, nlive, sizeof *live, cmp_lease) : NULL;
    if (cur && strcmp(cur->holder, L->holder) != 0) {
      L->acq_rc[i] = SX_ST_EXISTS;
      continue;
    }
    L->acq_rc[i] = sx_store_lease_acquire(st, L->acq[i]->lease_name, L->holder, now,
                                          PRES_LEASE_TTL_MS, NULL, err, sizeof err);
    if (L->acq_rc[i] != SX_ST_OK && L->acq_rc[i] != SX_ST_EXISTS)
      snprintf(L->err, sizeof L->err, "%s", err);
  }
  sx_lease_list_free(live, nlive);
  /* After the acquisitions: the list names every lease held now, new ones included. */
  L->renew_rc = sx_store_lease_renew_all(st, L->holder, LEASE_PREFIX, now,
                                         PRES_LEASE_TTL_MS, &L->held, &L->nheld, err, sizeof err);
  if (L->renew_rc != SX_ST_OK)
    snprintf(L->err, sizeof L->err, "%s", err);
  else
    L->renew_ok_ms = now;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void lose(sx_pres_gw *P, puser *u, const char *why) {
  pres_leases *L = P->leases;
  u->lease = PRES_LEASE_NONE;
  L->lost_total++;
  sx_metric_inc("presence_fanout_leases_lost_total");
  sx_warn("presence", "fan-out lease of %s lost (%s): its fan-out stops here", u->key, why);
  pres_fanout_stop(P, u);
}

static void kick(pres_leases *L);

/* A job runs, or its results are being read back (after_cb). */
static int busy(const pres_leases *L) { return sx_store_job_busy(L->job) || L->settling; }

static void after_cb(void *arg, int status) {
  pres_leases *L = arg;
  sx_pres_gw *P = L->P;
  int64_t now = wall_ms();
  size_t i;
  (void)status;
  /* busy(L) holds until the end: a release queued from here waits for the next job rather
   * than start one over the arrays read below. */
  L->settling = 1;
  for (i = 0; i < L->nrel; i++) free(L->rel[i]);
  L->nrel = 0;
  if (L->err[0]) sx_warn("presence", "store: fan-out leases: %s", L->err);
  if (!L->closing) {
    for (i = 0; i < L->nacq; i++) {
      puser *u = L->acq[i];
      if (u->lease != PRES_LEASE_ACQUIRING) continue;
      if (L->acq_rc[i] != SX_ST_OK) {
        u->lease = PRES_LEASE_NONE; /* held elsewhere (or the store failed): next tick */
        continue;
      }
      u->lease = PRES_LEASE_HELD;
      L->acquired_total++;
      sx_metric_inc("presence_fanout_leases_acquired_total");
      sx_info("presence", "fan-out lease of %s taken", u->key);
      /* what this instance owes of a shared change is its now (presence_act.c) */
      if (!P->shutting_down) pres_act_acquired(P, u);
      if (u->watchers && !P->shutting_down) {
        if (!u->fo) pres_fanout_start(P, u);
      } else if (!pres_act_wanted(P, u) || P->shutting_down) {
        pres_lease_release(P, u);
      }
    }
    /* Held leases the renewal did not find are lost; so are all when renewals have failed
     * for the lease time (another instance may hold them now). */
    for (i = 0; i < P->unb; i++)
      for (puser *u = P->ub[i]; u; u = u->next) {
        if (u->lease != PRES_LEASE_HELD) continue;
        if (L->renew_rc == SX_ST_OK) {
          if (!L->held || !bsearch(&u->lease_name, L->held, L->nheld, sizeof *L->held,
                                   cmp_name))
            lose(P, u, "held by another instance");
        } else if (now - L->renew_ok_ms > PRES_LEASE_TTL_MS) {
          lose(P, u, "not renewed for the lease time");
        }
      }
    /* Leases renewed that no user here holds (a restart under the same id within the lease
     * time, before the users' watchers came back): given up. */
    if (L->renew_rc == SX_ST_OK && !P->shutting_down)
      for (i = 0; i < L->nheld; i++) {
        const char *key = L->held[i] + sizeof LEASE_PREFIX - 1;
        puser *u = pres_user_find(P, key);
        char *name;
        size_t k;
        if (u && u->lease != PRES_LEASE_NONE) continue;
        if (*key == '#' && !u) continue; /* a hashed name: its user is not known by it */
        for (k = 0; k < L->nqueued && strcmp(L->queued[k], L->held[i]) != 0; k++)
          ;
        if (k < L->nqueued) continue; /* released since the job started */
        if ((name = strdup(L->held[i])) &&
            push_name(&L->queued, &L->nqueued, &L->queued_cap, name) == 0)
          sx_info("presence", "fan-out lease %s held from before a restart: given up", name);
        else
          free(name);
      }
  } else {
    for (i = 0; i < L->nacq; i++)
      if (L->acq[i]->lease == PRES_LEASE_ACQUIRING) L->acq[i]->lease = PRES_LEASE_NONE;
  }
  L->nacq = 0;
  sx_admin_list_free(L->held, L->nheld);
  L->held = NULL;
  L->nheld = 0;
  L->settling = 0;
  if (!L->closing && (L->urgent || L->nqueued)) kick(L);
}

/* Starts a job: releases queued, acquisitions for every user that needs its fan-out and
 * has no lease, and the renewal. */
static void kick(pres_leases *L) {
  sx_pres_gw *P = L->P;
  size_t i;
  if (busy(L) || L->closing) return;
  L->urgent = 0;
  { /* the queued releases become the job's (the arrays swap, capacities with them) */
    char **t = L->rel;
    size_t c = L->rel_cap;
    L->rel = L->queued;
    L->rel_cap = L->queued_cap;
    L->nrel = L->nqueued;
    L->queued = t;
    L->queued_cap = c;
    L->nqueued = 0;
  }
  L->nacq = 0;
  if (!P->shutting_down)
    for (i = 0; i < P->unb; i++)
      for (puser *u = P->ub[i]; u; u = u->next) {
        if (u->lease != PRES_LEASE_NONE || !u->lease_name ||
            !(u->watchers || pres_act_wanted(P, u)))
          continue;
        if (L->nacq == L->acq_cap) {
          size_t nc = L->acq_cap ? L->acq_cap * 2 : 64;
          puser **na = realloc(L->acq, nc * sizeof *na);
          sx_st *nr = na ? realloc(L->acq_rc, nc * sizeof *nr) : NULL;
          if (na) L->acq = na;
          if (nr) L->acq_rc = nr;
          if (!na || !nr) break; /* the rest next tick */
          L->acq_cap = nc;
        }
        u->lease = PRES_LEASE_ACQUIRING;
        L->acq[L->nacq++] = u;
      }
  if (sx_store_job_run(L->job, work_cb, after_cb, L) != 0) {
    for (i = 0; i < L->nacq; i++) L->acq_rc[i] = SX_ST_ERROR;
    L->renew_rc = SX_ST_ERROR;
    snprintf(L->err, sizeof L->err, "no worker thread");
    after_cb(L, 0);
  }
}

static void on_tick(uv_timer_t *t) {
  pres_leases *L = t->data;
  if (busy(L))
    L->urgent = 1;
  else
    kick(L);
}

/* ---- the loop's side ------------------------------------------------------------------ */

int pres_lease_start(sx_pres_gw *P) {
  char err[512];
  const char *holder = sx_instance_id(P->gw->instance);
  pres_leases *L;
  if (!holder) return 0;
  L = calloc(1, sizeof *L);
  if (!L || !(L->holder = strdup(holder))) {
    free(L);
    sx_err("presence", "out of memory starting the fan-out leases");
    return -1;
  }
  if (!(L->job = sx_store_job_open(&P->gw->loop.uv, P->gw->cfg.store, err, sizeof err))) {
    sx_err("presence", "store: %s", err);
    free(L->holder);
    free(L);
    return -1;
  }
  if (sx_store_notify_fd(sx_store_job_store(L->job)) < 0) { /* SQLite: one instance, no leases */
    sx_store_job_close(L->job);
    free(L->holder);
    free(L);
    return 0;
  }
  L->P = P;
  L->renew_ok_ms = wall_ms();
  uv_timer_init(&P->gw->loop.uv, &L->tick);
  L->tick.data = L;
  uv_timer_start(&L->tick, on_tick, PRES_LEASE_TICK_MS, PRES_LEASE_TICK_MS);
  P->leases = L;
  sx_info("presence", "fan-outs under store leases (holder %s, %d ms, renewed every %d ms)",
          L->holder, PRES_LEASE_TTL_MS, PRES_LEASE_TICK_MS);
  return 0;
}

void pres_lease_want(sx_pres_gw *P, puser *u) {
  pres_leases *L = P->leases;
  if (!L || u->lease != PRES_LEASE_NONE) return;
  if (!u->lease_name && !(u->lease_name = lease_name(u->key))) {
    sx_err("presence", "out of memory: no fan-out lease for %s", u->key);
    return;
  }
  /* at once, not at the next tick: the first fan-out must not wait */
  if (busy(L))
    L->urgent = 1;
  else
    kick(L);
}

void pres_lease_release(sx_pres_gw *P, puser *u) {
  pres_leases *L = P->leases;
  char *name;
  if (!L || u->lease != PRES_LEASE_HELD) return;
  u->lease = PRES_LEASE_NONE;
  if (!(name = strdup(u->lease_name)) ||
      push_name(&L->queued, &L->nqueued, &L->queued_cap, name) != 0) {
    free(name); /* it lapses by itself */
    return;
  }
  if (!busy(L)) kick(L);
}

int pres_lease_holds(const sx_pres_gw *P, const puser *u) {
  return !P->leases || (u && u->lease == PRES_LEASE_HELD);
}

void pres_lease_counts(const sx_pres_gw *P, size_t *held, unsigned long *acquired,
                       unsigned long *lost) {
  const pres_leases *L = P->leases;
  size_t i;
  *held = 0;
  *acquired = L ? L->acquired_total : 0;
  *lost = L ? L->lost_total : 0;
  if (!L) return;
  for (i = 0; i < P->unb; i++)
    for (const puser *u = P->ub[i]; u; u = u->next)
      if (u->lease == PRES_LEASE_HELD) (*held)++;
}

static void tick_closed(uv_handle_t *h) {
  pres_leases *L = h->data;
  L->tick_closed = 1;
}

void pres_lease_stop(sx_pres_gw *P) {
  pres_leases *L = P->leases;
  uint64_t until;
  size_t i;
  if (!L) return;
  L->closing = 1;
  uv_close((uv_handle_t *)&L->tick, tick_closed);
  until = sx_gw_now(P->gw) + 3000;
  while ((busy(L) || !L->tick_closed) && sx_gw_now(P->gw) < until)
    sx_loop_turn(&P->gw->loop, 20);
  P->leases = NULL;
  if (busy(L) || !L->tick_closed) {
    sx_err("presence", "fan-out lease worker still busy at shutdown");
    return; /* the pool thread still uses it: leak rather than race */
  }
  /* The instance's row goes with every lease it holds (sx_instance_stop). */
  for (i = 0; i < L->nqueued; i++) free(L->queued[i]);
  free(L->queued);
  free(L->rel);
  free(L->acq);
  free(L->acq_rc);
  sx_store_job_close(L->job);
  free(L->holder);
  free(L);
}
