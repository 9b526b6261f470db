/* Presence in the SIP adapter: set-up, the dialog tables, routing of in-dialog requests
 * (see sip/presence.h). */
#include "sip/pres_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_tagarg.h>
#include <sofia-sip/su_time.h>
#include <sofia-sip/su_uniqueid.h>

#include "translate/log.h"

char *pres_strdup(const char *s) { return s ? strdup(s) : NULL; }

uint64_t pres_now_ms(void) {
  su_time_t t = su_now();
  return (uint64_t)t.tv_sec * 1000 + t.tv_usec / 1000;
}

/* ---- the table ---------------------------------------------------------------------- */

static uint64_t key_hash(const char *call_id, const char *tag) {
  uint64_t h = 1469598103934665603ull;
  const char *parts[2] = {call_id, tag};
  for (int i = 0; i < 2; i++) {
    for (const unsigned char *c = (const unsigned char *)parts[i]; c && *c; c++) {
      h ^= *c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  }
  return h;
}

static int table_grow(pres_table *t) {
  size_t nb = t->nb ? t->nb * 2 : 64, i;
  pres_node **b = calloc(nb, sizeof *b);
  if (!b) return -1;
  for (i = 0; i < t->nb; i++) {
    pres_node *n = t->b[i], *next;
    for (; n; n = next) {
      next = n->next;
      n->next = b[n->hash & (nb - 1)];
      b[n->hash & (nb - 1)] = n;
    }
  }
  free(t->b);
  t->b = b;
  t->nb = nb;
  return 0;
}

int pres_table_add(pres_table *t, pres_node *n) {
  if ((t->n + 1 > t->nb) && table_grow(t) != 0) return -1;
  n->hash = key_hash(n->call_id, n->tag);
  n->next = t->b[n->hash & (t->nb - 1)];
  t->b[n->hash & (t->nb - 1)] = n;
  t->n++;
  return 0;
}

void pres_table_del(pres_table *t, pres_node *n) {
  pres_node **pp;
  if (!t->nb) return;
  for (pp = &t->b[n->hash & (t->nb - 1)]; *pp; pp = &(*pp)->next) {
    if (*pp == n) {
      *pp = n->next;
      n->next = NULL;
      t->n--;
      return;
    }
  }
}

pres_node *pres_table_find(const pres_table *t, const char *call_id, const char *tag) {
  uint64_t h;
  pres_node *n;
  if (!t->nb || !call_id || !tag) return NULL;
  h = key_hash(call_id, tag);
  for (n = t->b[h & (t->nb - 1)]; n; n = n->next)
    if (n->hash == h && strcmp(n->call_id, call_id) == 0 && strcmp(n->tag, tag) == 0)
      return n;
  return NULL;
}

void pres_table_free(pres_table *t) {
  free(t->b);
  memset(t, 0, sizeof *t);
}

/* ---- identifiers and routing -------------------------------------------------------- */

char *pres_new_tag(sx_sip_pres *p) {
  char buf[64];
  snprintf(buf, sizeof buf, "sxp%llx%08lx", (unsigned long long)++p->tag_counter, random());
  return strdup(buf);
}

char *pres_new_call_id(sx_sip_pres *p) {
  char buf[96];
  snprintf(buf, sizeof buf, "%08lx%08lx-%llx@sipxmpp-pres", random(), random(),
           (unsigned long long)++p->tag_counter);
  return strdup(buf);
}

int pres_route_count(sip_t const *sip) {
  int n = 0;
  for (const sip_record_route_t *rr = sip->sip_record_route; rr; rr = rr->r_next) n++;
  return n;
}

char *pres_route_of(sip_t const *sip, int reverse) {
  su_home_t home[1] = {SU_HOME_INIT(home)};
  const sip_record_route_t *rr;
  char *parts[PRES_MAX_ROUTES], *out = NULL;
  size_t n = 0, len = 0, i;

  if (pres_route_count(sip) > PRES_MAX_ROUTES) return NULL; /* callers check first */
  for (rr = sip->sip_record_route; rr && n < PRES_MAX_ROUTES; rr = rr->r_next) {
    sip_record_route_t one = *rr;
    one.r_next = NULL;
    parts[n] = sip_header_as_string(home, (sip_header_t *)&one);
    if (!parts[n]) goto done;
    len += strlen(parts[n]) + 2;
    n++;
  }
  if (!n) goto done;
  out = malloc(len + 1);
  if (!out) goto done;
  out[0] = '\0';
  for (i = 0; i < n; i++) {
    if (i) strcat(out, ", ");
    strcat(out, parts[reverse ? n - 1 - i : i]);
  }
done:
  su_home_deinit(home);
  return out;
}

static int same_host_port(const url_t *a, const url_t *b) {
  const char *pa = a->url_port ? a->url_port : "5060", *pb = b->url_port ? b->url_port : "5060";
  return a->url_host && b->url_host && strcasecmp(a->url_host, b->url_host) == 0 &&
         strcmp(pa, pb) == 0;
}

static url_string_t *with_tcp(su_home_t *home, url_t *u) {
  if (!url_has_param(u, "transport") && url_param_add(home, u, "transport=tcp") < 0)
    return NULL;
  return (url_string_t *)u;
}

url_string_t *pres_next_hop(sx_sip_pres *p, su_home_t *home, const char *route,
                            const char *target) {
  url_t *u = NULL;
  const url_t *proxy = sx_sip_proxy(p->sip);
  if (route) {
    sip_route_t *r = sip_route_make(home, route);
    if (r) u = url_hdup(home, r->r_url);
  } else if (target) {
    u = url_make(home, target);
    if (u) u = url_hdup(home, u);
  }
  if (!u) return NULL;
  if (!p->prm.tcp_to_proxy || !proxy || !same_host_port(u, proxy)) {
    /* nta routes by the Route header (loose routing) or the request URI itself. */
    return route ? (url_string_t *)u : NULL;
  }
  /* Only the next hop is changed: the Route header goes out as the route set says. */
  return with_tcp(home, u);
}

url_string_t *pres_proxy_hop(sx_sip_pres *p, su_home_t *home) {
  url_t *u = url_hdup(home, sx_sip_proxy(p->sip));
  if (!u) return NULL;
  return p->prm.tcp_to_proxy ? with_tcp(home, u) : (url_string_t *)u;
}

/* ---- requests nobody waits for ------------------------------------------------------ */

typedef struct pres_orphan {
  struct pres_orphan *next, **prev;
  nta_outgoing_t *orq;
} pres_orphan;

static void orphan_unlink(pres_orphan *o) {
  *o->prev = o->next;
  if (o->next) o->next->prev = o->prev;
}

static int orphan_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq,
                           sip_t const *sip) {
  pres_orphan *o = (pres_orphan *)magic;
  int status = sip && sip->sip_status ? sip->sip_status->st_status : nta_outgoing_status(orq);
  if (status < 200) return 0;
  orphan_unlink(o);
  nta_outgoing_destroy(orq);
  free(o);
  return 0;
}

int pres_send_orphan(sx_sip_pres *p, url_string_t const *hop, sip_method_t method,
                     const char *name, url_string_t const *ruri, tag_type_t tag,
                     tag_value_t value, ...) {
  ta_list ta;
  pres_orphan *o = calloc(1, sizeof *o);
  if (!o) return -1;
  ta_start(ta, tag, value);
  o->orq = nta_outgoing_tcreate(sx_sip_default_leg(p->sip), orphan_response,
                                (nta_outgoing_magic_t *)o, hop, method, name, ruri,
                                ta_tags(ta));
  ta_end(ta);
  if (!o->orq) {
    free(o);
    return -1;
  }
  o->next = p->orphans;
  if (o->next) o->next->prev = &o->next;
  o->prev = &p->orphans;
  p->orphans = o;
  return 0;
}

void pres_orphans_free(sx_sip_pres *p) {
  while (p->orphans) {
    pres_orphan *o = p->orphans;
    orphan_unlink(o);
    nta_outgoing_destroy(o->orq);
    free(o);
  }
}

/* ---- set-up ------------------------------------------------------------------------- */

static int dialog_hook(void *ud, msg_t *msg, sip_t const *sip) {
  sx_sip_pres *p = ud;
  if (sip->sip_request->rq_method == sip_method_subscribe)
    return pres_watch_incoming(p, msg, sip);
  return pres_fanout_incoming(p, msg, sip);
}

sx_sip_pres *sx_sip_pres_new(sx_sip *s, const sx_sip_pres_params *prm,
                             const sx_sip_pres_cbs *cbs, void *ud) {
  sx_sip_pres *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->sip = s;
  p->agent = sx_sip_agent(s);
  p->root = sx_sip_root(s);
  p->prm = *prm;
  if (!p->prm.max_notify_in_flight) p->prm.max_notify_in_flight = 256;
  if (!p->prm.max_expires) p->prm.max_expires = 3600;
  p->cbs = *cbs;
  p->ud = ud;
  p->contact = pres_strdup(prm->contact);
  if (prm->contact && !p->contact) {
    free(p);
    return NULL;
  }
  p->prm.contact = p->contact;
  sx_sip_set_dialog_hook(s, dialog_hook, p);
  return p;
}

void sx_sip_pres_free(sx_sip_pres *p) {
  if (!p) return;
  sx_sip_set_dialog_hook(p->sip, NULL, NULL);
  pres_watch_free_all(p);
  pres_fanout_free_all(p);
  pres_orphans_free(p);
  pres_table_free(&p->watches);
  pres_table_free(&p->fanouts);
  free(p->contact);
  free(p);
}

void sx_sip_pres_get_stats(const sx_sip_pres *p, sx_sip_pres_stats *out) {
  memset(out, 0, sizeof *out);
  out->watches = p->watches.n;
  out->fanouts = p->n_fanouts;
  out->notify_in_flight = p->notify_in_flight;
  out->notify_waiting = p->waiting;
  out->notify_ok = p->notify_ok;
  out->notify_failed = p->notify_failed;
  out->resubscribes = p->resubscribes;
}
