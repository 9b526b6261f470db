/* Presence between instances (issue 11 item 3) over the database's own notification channel
 * (PostgreSQL LISTEN/NOTIFY on "sipxmpp_presence"); nothing on SQLite (one instance).
 *
 * ejabberd hands each stanza to any connection of the component, so a stanza may reach an
 * instance that does not hold the dialogs it concerns:
 *   - a contact's available/unavailable to an internal user is handled where it arrives
 *     and published; every instance with SIP dialogs of that relation NOTIFYs them (no
 *     state machine step there: the relation's state comes through the store);
 *   - a contact's subscribed/unsubscribed that arrives where the relation is not known yet
 *     (the store's snapshot lags ~0.5 s) is published; an instance with SIP dialogs of the
 *     relation steps it;
 *   - a probe of a user whose fan-out another instance holds is published; the holder
 *     answers with the current presence.
 *
 * A notice is one JSON object (at most 7999 bytes):
 *   {"v":1,"i":sender id,"k":"p"|"s"|"q","u":user key,"c":contact JID (full for p/s),
 *    "y":type (absent: available),"w":show,"pr":priority,"st":[[lang|null,text],...]}
 * Every notice is checked on receipt like any input (sizes, JIDs, served domain, closed
 * sets); its own instance's notices are skipped.
 *
 * Sending runs in libuv's pool with a store handle of its own (store_job.h); the listening handle's
 * socket is watched with uv_poll and read without blocking. When the listening connection
 * fails it is opened again by the pool (every PRES_LEASE_TICK_MS until it works). */
#include "gateway/presence_internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/store.h"
#include "gateway/instance.h"
#include "gateway/metrics.h"
#include "gateway/store_job.h"
#include "translate/address.h"
#include "translate/log.h"

#define CHANNEL "sipxmpp_presence"
#define PAYLOAD_MAX 7999
#define FIELD_MAX 3071 /* a JID's bound (RFC 7622) */
#define QUEUE_MAX 10000 /* notices waiting for the sender; more are dropped (logged) */

struct pres_forward {
  sx_pres_gw *P;
  char *id;
  /* listening */
  sx_store *lst; /* the loop's while polled; the worker's while reopening */
  uv_poll_t poll;
  int polling, poll_closed;
  uv_timer_t retry;
  int retry_closed;
  /* sending */
  sx_store_job *snd; /* the sending handle, in the pool */
  int closing;
  char **q, **batch; /* swapped at each job, with their capacities */
  size_t nq, qcap, nbatch, bcap;
  int reopen;      /* the worker opens a new listening handle */
  sx_store *fresh; /* its result */
  unsigned long sent, received, dropped, failed;
  unsigned long batch_failed; /* the worker's count, added to failed on the loop */
  char err[512];
};

static void kick(pres_forward *F);

/* ---- sending --------------------------------------------------------------------------- */

static void work_cb(sx_store *st, void *arg) {
  pres_forward *F = arg;
  char err[400];
  size_t i;
  F->err[0] = '\0';
  for (i = 0; i < F->nbatch; i++) {
    if (sx_store_notify(st, CHANNEL, F->batch[i], err, sizeof err) != SX_ST_OK) {
      F->batch_failed++;
      snprintf(F->err, sizeof F->err, "%s", err);
    }
  }
  if (F->reopen) {
    sx_store *s = NULL;
    if (sx_store_open(F->P->gw->cfg.store, &s, err, sizeof err) != SX_ST_OK ||
        sx_store_listen(s, CHANNEL, err, sizeof err) != SX_ST_OK) {
      snprintf(F->err, sizeof F->err, "listening again: %s", err);
      sx_store_close(s);
      s = NULL;
    }
    F->fresh = s;
  }
}

static void start_polling(pres_forward *F);

static void after_cb(void *arg, int status) {
  pres_forward *F = arg;
  size_t i;
  (void)status;
  F->failed += F->batch_failed;
  F->sent += F->nbatch - F->batch_failed;
  F->batch_failed = 0;
  for (i = 0; i < F->nbatch; i++) free(F->batch[i]);
  F->nbatch = 0;
  if (F->err[0]) sx_warn("presence", "store: forwarding presence: %s", F->err);
  if (F->reopen) {
    F->reopen = 0;
    if (F->fresh) {
      F->lst = F->fresh;
      F->fresh = NULL;
      if (!F->closing) {
        sx_info("presence", "listening for other instances' presence again");
        start_polling(F);
      }
    }
  }
  if (!F->closing) kick(F);
}

static void kick(pres_forward *F) {
  char **t;
  if (sx_store_job_busy(F->snd) || F->closing || (!F->nq && !F->reopen)) return;
  t = F->batch;
  F->batch = F->q;
  F->nbatch = F->nq;
  F->q = t;
  F->nq = 0;
  {
    size_t c = F->bcap;
    F->bcap = F->qcap;
    F->qcap = c;
  }
  if (sx_store_job_run(F->snd, work_cb, after_cb, F) != 0) {
    F->reopen = 0;
    F->batch_failed = F->nbatch; /* not sent: counted as failed, freed */
    snprintf(F->err, sizeof F->err, "no worker thread: %zu notice(s) not sent", F->nbatch);
    after_cb(F, 0);
  }
}

/* Takes payload (malloc'd). */
static void publish(pres_forward *F, char *payload) {
  size_t len = payload ? strlen(payload) : 0;
  if (!payload) {
    sx_err("presence", "out of memory: presence not forwarded to other instances");
    return;
  }
  if (len > PAYLOAD_MAX || F->nq >= QUEUE_MAX) {
    F->dropped++;
    sx_warn("presence", "presence notice not forwarded: %s",
            len > PAYLOAD_MAX ? "larger than the channel's 7999 bytes" : "queue full");
    free(payload);
    return;
  }
  if (F->nq == F->qcap) { /* only q: the batch may be in the worker's hands */
    size_t nc = F->qcap ? F->qcap * 2 : 64;
    char **a = realloc(F->q, nc * sizeof *a);
    if (!a) {
      F->dropped++;
      sx_err("presence", "out of memory: presence notice not forwarded");
      free(payload);
      return;
    }
    F->q = a;
    F->qcap = nc;
  }
  F->q[F->nq++] = payload;
  kick(F);
}

static cJSON *notice(pres_forward *F, const char *kind, const char *user, const char *contact) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  if (!cJSON_AddNumberToObject(o, "v", 1) || !cJSON_AddStringToObject(o, "i", F->id) ||
      !cJSON_AddStringToObject(o, "k", kind) || !cJSON_AddStringToObject(o, "u", user) ||
      !cJSON_AddStringToObject(o, "c", contact)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

void pres_forward_contact_presence(sx_pres_gw *P, const char *user, const sx_presence *p) {
  pres_forward *F = P->forward;
  cJSON *o, *st;
  char *out;
  size_t i;
  if (!F || F->closing) return;
  if (!(o = notice(F, p->type == SX_PRES_AVAILABLE || p->type == SX_PRES_UNAVAILABLE ? "p"
                                                                                       : "s",
                   user, p->from)))
    goto oom;
  if (p->type != SX_PRES_AVAILABLE &&
      !cJSON_AddStringToObject(o, "y", sx_pres_type_name(p->type)))
    goto oom;
  if (p->type == SX_PRES_AVAILABLE && p->show != SX_SHOW_NONE &&
      !cJSON_AddStringToObject(o, "w", sx_show_name(p->show)))
    goto oom;
  if (p->has_priority && !cJSON_AddNumberToObject(o, "pr", p->priority)) goto oom;
  if (p->n_statuses) {
    if (!(st = cJSON_AddArrayToObject(o, "st"))) goto oom;
    for (i = 0; i < p->n_statuses; i++) {
      cJSON *pair = cJSON_CreateArray();
      if (!pair) goto oom;
      cJSON_AddItemToArray(st, pair);
      cJSON_AddItemToArray(pair, p->statuses[i].lang ? cJSON_CreateString(p->statuses[i].lang)
                                                     : cJSON_CreateNull());
      cJSON_AddItemToArray(pair, cJSON_CreateString(p->statuses[i].text));
    }
  }
  out = cJSON_PrintUnformatted(o);
  if (out && strlen(out) > PAYLOAD_MAX && p->n_statuses) {
    /* Too large with its notes: the state without them rather than nothing (logged). */
    sx_info("presence", "presence of %s to %s forwarded without its notes (over 7999 bytes)",
            p->from, user);
    cJSON_DeleteItemFromObject(o, "st");
    free(out);
    out = cJSON_PrintUnformatted(o);
  }
  cJSON_Delete(o);
  publish(F, out);
  return;
oom:
  cJSON_Delete(o);
  sx_err("presence", "out of memory: presence not forwarded to other instances");
}

void pres_forward_probe(sx_pres_gw *P, const char *user, const char *contact) {
  pres_forward *F = P->forward;
  cJSON *o;
  if (!F || F->closing) return;
  if (!(o = notice(F, "q", user, contact))) {
    sx_err("presence", "out of memory: probe not forwarded to other instances");
    return;
  }
  publish(F, cJSON_PrintUnformatted(o));
  cJSON_Delete(o);
}

/* ---- receiving ------------------------------------------------------------------------- */

static const char *str_field(const cJSON *o, const char *name, int required) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!v) return required ? NULL : "";
  if (!cJSON_IsString(v) || !v->valuestring || !*v->valuestring ||
      strlen(v->valuestring) > FIELD_MAX)
    return NULL;
  return v->valuestring;
}

/* 0 when the notice is well formed (p filled for kinds p and s), -1 otherwise (why set). */
static int parse_notice(pres_forward *F, const cJSON *o, const char **kind, char **ukey,
                        char **ckey, char **resource, sx_presence *p, const char **why) {
  const char *k = str_field(o, "k", 1), *u = str_field(o, "u", 1), *c = str_field(o, "c", 1);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "v");
  sx_jid uj = {0}, cj = {0};
  int rc = -1;
  *why = "malformed";
  if (!cJSON_IsNumber(v) || v->valuedouble != 1 || !k || !u || !c) return -1;
  if (strcmp(k, "p") && strcmp(k, "s") && strcmp(k, "q")) return -1;
  if (sx_jid_parse(u, &uj) != SX_ADDR_OK || !uj.local || uj.resource ||
      !sx_config_serves(&F->P->gw->cfg, uj.domain) || sx_jid_parse(c, &cj) != SX_ADDR_OK ||
      sx_config_serves(&F->P->gw->cfg, cj.domain)) {
    *why = "bad user or contact";
    goto out;
  }
  *kind = k;
  if (!(*ukey = sx_jid_key(&uj)) || !(*ckey = sx_jid_key(&cj))) goto nomem;
  if (cj.resource && !(*resource = strdup(cj.resource))) goto nomem;
  if (*k != 'q') {
    const char *y = str_field(o, "y", 0), *w = str_field(o, "w", 0);
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(o, "pr");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "st"), *pair;
    if (!y || !w || sx_pres_type_parse(*y ? y : NULL, &p->type) != 0 ||
        sx_show_parse(*w ? w : NULL, &p->show) != 0) {
      *why = "bad type or show";
      goto out;
    }
    if ((*k == 'p') != (p->type == SX_PRES_AVAILABLE || p->type == SX_PRES_UNAVAILABLE) ||
        (*k == 's' && p->type != SX_PRES_SUBSCRIBED && p->type != SX_PRES_UNSUBSCRIBED)) {
      *why = "type not forwarded";
      goto out;
    }
    if (pr) {
      if (!cJSON_IsNumber(pr) || pr->valuedouble < -128 || pr->valuedouble > 127 ||
          pr->valuedouble != (double)(int)pr->valuedouble) {
        *why = "bad priority";
        goto out;
      }
      p->has_priority = 1;
      p->priority = (int)pr->valuedouble;
    }
    if (st) {
      if (!cJSON_IsArray(st) || cJSON_GetArraySize(st) > SX_PRES_MAX_STATUSES) {
        *why = "bad statuses";
        goto out;
      }
      cJSON_ArrayForEach(pair, st) {
        const cJSON *l = cJSON_GetArrayItem(pair, 0), *t = cJSON_GetArrayItem(pair, 1);
        if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || !cJSON_IsString(t) ||
            !(cJSON_IsNull(l) || (cJSON_IsString(l) && strlen(l->valuestring) <= SX_PRES_MAX_LANG)) ||
            sx_presence_add_status(p, cJSON_IsString(l) ? l->valuestring : NULL,
                                   t->valuestring) != 0) {
          *why = "bad status";
          goto out;
        }
      }
    }
    if (!(p->from = strdup(c)) || !(p->to = strdup(*ukey))) goto nomem;
  }
  rc = 0;
  goto out;
nomem:
  *why = "out of memory";
out:
  sx_jid_free(&uj);
  sx_jid_free(&cj);
  return rc;
}

/* An instance id as a notice names it: 1 to 255 printable ASCII characters (it is logged). */
static int id_ok(const char *s) {
  size_t n = 0;
  for (; s[n]; n++)
    if (n >= 255 || s[n] < 0x21 || s[n] > 0x7e) return 0;
  return n > 0;
}

static void handle(pres_forward *F, const char *payload) {
  sx_pres_gw *P = F->P;
  cJSON *o;
  const char *kind = NULL, *why = NULL, *from;
  char *ukey = NULL, *ckey = NULL, *resource = NULL;
  sx_presence p;
  memset(&p, 0, sizeof p);
  if (!payload || strlen(payload) > PAYLOAD_MAX || !(o = cJSON_Parse(payload))) {
    sx_info("presence", "presence notice from another instance ignored: not JSON");
    sx_metric_inc("presence_forward_bad_total");
    return;
  }
  from = str_field(o, "i", 1);
  if (from && !id_ok(from)) from = NULL;
  if (from && strcmp(from, F->id) == 0) { /* our own */
    cJSON_Delete(o);
    return;
  }
  if (!from || parse_notice(F, o, &kind, &ukey, &ckey, &resource, &p, &why) != 0) {
    sx_info("presence", "presence notice from %s ignored: %s", from ? from : "?",
            why ? why : "malformed");
    sx_metric_inc("presence_forward_bad_total");
    goto out;
  }
  F->received++;
  if (P->shutting_down) goto out;
  if (*kind == 'q') {
    pres_fanout_remote_probe(P, ukey, ckey);
  } else {
    sx_relent *e = sx_reltab_find(P->rt, ukey, ckey);
    relx *x = e ? e->data : NULL;
    if (!x || (!x->nw && !x->nfetch)) goto out; /* no dialog of this relation here */
    sx_debug("presence", "%s from %s to %s forwarded by %s", sx_pres_type_name(p.type), p.from,
             ukey, from);
    if (*kind == 'p')
      pres_watch_remote_presence(P, e, &p, resource);
    else
      pres_watch_contact_presence(P, e, &p, resource);
  }
out:
  free(ukey);
  free(ckey);
  free(resource);
  sx_presence_free(&p);
  cJSON_Delete(o);
}

static void poll_closed_cb(uv_handle_t *h) {
  pres_forward *F = h->data;
  F->poll_closed = 1;
}

static void listener_failed(pres_forward *F, const char *err) {
  sx_warn("presence", "store: listening for other instances' presence: %s (again in %d ms)",
          err, PRES_LEASE_TICK_MS);
  if (F->polling) {
    F->polling = 0;
    uv_close((uv_handle_t *)&F->poll, poll_closed_cb);
  }
  /* The handle is closed once its poll is (see on_retry). */
}

static void on_readable(uv_poll_t *h, int status, int events) {
  pres_forward *F = h->data;
  char err[512], *ch = NULL, *pl = NULL;
  int r;
  (void)events;
  if (status < 0) {
    listener_failed(F, uv_strerror(status));
    return;
  }
  /* Everything read: what the connection buffered would not wake the poll again. */
  while ((r = sx_store_next_notice(F->lst, &ch, &pl, err, sizeof err)) == 1) {
    if (ch && strcmp(ch, CHANNEL) == 0) handle(F, pl);
    free(ch);
    free(pl);
    ch = pl = NULL;
  }
  if (r < 0) listener_failed(F, err);
}

static void start_polling(pres_forward *F) {
  int fd = sx_store_notify_fd(F->lst);
  if (fd < 0 || uv_poll_init(&F->P->gw->loop.uv, &F->poll, fd) != 0) {
    listener_failed(F, "no socket");
    return;
  }
  F->poll.data = F;
  F->poll_closed = 0;
  F->polling = 1;
  uv_poll_start(&F->poll, UV_READABLE, on_readable);
}

static void on_retry(uv_timer_t *t) {
  pres_forward *F = t->data;
  if (F->polling || F->closing || F->reopen || !F->poll_closed) return;
  /* The old listening handle is done with (its poll closed): open another off the loop. */
  sx_store_close(F->lst);
  F->lst = NULL;
  F->reopen = 1;
  kick(F);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

int pres_forward_start(sx_pres_gw *P) {
  char err[512];
  const char *id = sx_instance_id(P->gw->instance);
  pres_forward *F;
  if (!id || !P->leases) return 0; /* SQLite: one instance, nothing to forward */
  F = calloc(1, sizeof *F);
  if (!F || !(F->id = strdup(id))) goto oom;
  F->P = P;
  F->poll_closed = 1;
  if (!(F->snd = sx_store_job_open(&P->gw->loop.uv, P->gw->cfg.store, err, sizeof err)) ||
      sx_store_open(P->gw->cfg.store, &F->lst, err, sizeof err) != SX_ST_OK ||
      sx_store_listen(F->lst, CHANNEL, err, sizeof err) != SX_ST_OK) {
    sx_err("presence", "store: %s", err);
    sx_store_job_close(F->snd);
    sx_store_close(F->lst);
    free(F->id);
    free(F);
    return -1;
  }
  uv_timer_init(&P->gw->loop.uv, &F->retry);
  F->retry.data = F;
  uv_timer_start(&F->retry, on_retry, PRES_LEASE_TICK_MS, PRES_LEASE_TICK_MS);
  P->forward = F;
  start_polling(F);
  sx_info("presence", "presence forwarded between instances on channel " CHANNEL);
  return 0;
oom:
  free(F);
  sx_err("presence", "out of memory starting presence forwarding");
  return -1;
}

void pres_forward_counts(const sx_pres_gw *P, unsigned long *sent, unsigned long *received) {
  *sent = P->forward ? P->forward->sent : 0;
  *received = P->forward ? P->forward->received : 0;
}

static void retry_closed_cb(uv_handle_t *h) {
  pres_forward *F = h->data;
  F->retry_closed = 1;
}

void pres_forward_stop(sx_pres_gw *P) {
  pres_forward *F = P->forward;
  uint64_t until;
  size_t i;
  if (!F) return;
  F->closing = 1;
  if (F->polling) {
    F->polling = 0;
    uv_close((uv_handle_t *)&F->poll, poll_closed_cb);
  }
  uv_close((uv_handle_t *)&F->retry, retry_closed_cb);
  until = sx_gw_now(P->gw) + 3000;
  while ((sx_store_job_busy(F->snd) || !F->poll_closed || !F->retry_closed) &&
         sx_gw_now(P->gw) < until)
    sx_loop_turn(&P->gw->loop, 20);
  P->forward = NULL;
  if (sx_store_job_busy(F->snd) || !F->poll_closed || !F->retry_closed) {
    sx_err("presence", "presence forwarding still busy at shutdown");
    return; /* the pool thread still uses it: leak rather than race */
  }
  for (i = 0; i < F->nq; i++) free(F->q[i]);
  free(F->q);
  free(F->batch);
  sx_store_job_close(F->snd);
  sx_store_close(F->lst);
  sx_store_close(F->fresh);
  free(F->id);
  free(F);
}
