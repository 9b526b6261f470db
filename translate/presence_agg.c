/* The per-contact aggregate of resources (translate/presence_agg.h). */
#include "translate/presence_agg.h"

#include <stdlib.h>
#include <string.h>

#include "translate/text.h"

void sx_agg_init(sx_pres_agg *a) { memset(a, 0, sizeof *a); }

static void res_free(sx_pres_res *r) {
  free(r->resource);
  for (size_t i = 0; i < r->n_statuses; i++) {
    free(r->statuses[i].text);
    free(r->statuses[i].lang);
  }
  free(r->statuses);
  memset(r, 0, sizeof *r);
}

void sx_agg_clear(sx_pres_agg *a) {
  if (!a) return;
  for (size_t i = 0; i < a->n; i++) res_free(&a->res[i]);
  free(a->res);
  memset(a, 0, sizeof *a);
}

static long find(const sx_pres_agg *a, const char *resource) {
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->res[i].resource, resource) == 0) return (long)i;
  return -1;
}

static void remove_at(sx_pres_agg *a, size_t i) {
  res_free(&a->res[i]);
  memmove(&a->res[i], &a->res[i + 1], (a->n - i - 1) * sizeof *a->res);
  a->n--;
}

/* A new entry from p (statuses copied, langs resolved), or -1 when out of memory. */
static int res_build(sx_pres_res *r, const char *resource, const sx_presence *p) {
  memset(r, 0, sizeof *r);
  r->resource = strdup(resource);
  if (!r->resource) return -1;
  r->show = p->show;
  r->has_priority = p->has_priority;
  r->priority = p->priority;
  if (p->n_statuses) {
    r->statuses = calloc(p->n_statuses, sizeof *r->statuses);
    if (!r->statuses) goto fail;
    for (size_t i = 0; i < p->n_statuses; i++) {
      const char *lang = p->statuses[i].lang ? p->statuses[i].lang : p->lang;
      r->n_statuses = i + 1;
      r->statuses[i].text = strdup(p->statuses[i].text ? p->statuses[i].text : "");
      r->statuses[i].lang = lang ? strdup(lang) : NULL;
      if (!r->statuses[i].text || (lang && !r->statuses[i].lang)) goto fail;
    }
  }
  return 0;
fail:
  res_free(r);
  return -1;
}

sx_agg_rc sx_agg_update(sx_pres_agg *a, const char *resource, const sx_presence *p) {
  if (!a || !p || (p->type != SX_PRES_AVAILABLE && p->type != SX_PRES_UNAVAILABLE))
    return SX_AGG_IGNORED;
  if (!resource) resource = "";
  if (p->n_statuses > SX_PRES_MAX_STATUSES) return SX_AGG_TOO_MANY;
  for (size_t i = 0; i < p->n_statuses; i++) {
    const char *t = p->statuses[i].text ? p->statuses[i].text : "";
    const char *l = p->statuses[i].lang ? p->statuses[i].lang : "";
    if (strlen(t) > SX_PRES_MAX_TEXT || strlen(l) > SX_PRES_MAX_LANG) return SX_AGG_TOO_MANY;
    if (!sx_utf8_valid(t, strlen(t)) || !sx_utf8_valid(l, strlen(l))) return SX_AGG_INVALID;
  }
  if (!sx_utf8_valid(resource, strlen(resource)) ||
      (p->lang && !sx_utf8_valid(p->lang, strlen(p->lang))))
    return SX_AGG_INVALID;
  if (p->type == SX_PRES_UNAVAILABLE) {
    if (!*resource) {
      while (a->n) remove_at(a, a->n - 1); /* the bare JID: every resource is gone */
    } else {
      long at = find(a, resource);
      if (at >= 0) remove_at(a, (size_t)at);
    }
    a->known = 1;
    return SX_AGG_OK;
  }
  sx_pres_res r;
  long at = find(a, resource);
  if (at < 0 && a->n >= SX_AGG_MAX_RESOURCES) return SX_AGG_TOO_MANY;
  if (at < 0 && a->n == a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 2;
    if (nc > SX_AGG_MAX_RESOURCES) nc = SX_AGG_MAX_RESOURCES;
    sx_pres_res *v = realloc(a->res, nc * sizeof *v);
    if (!v) return SX_AGG_NOMEM;
    a->res = v;
    a->cap = nc;
  }
  if (res_build(&r, resource, p)) return SX_AGG_NOMEM;
  r.seq = ++a->seq;
  if (at >= 0) {
    res_free(&a->res[at]);
    a->res[at] = r;
  } else {
    a->res[a->n++] = r;
  }
  a->known = 1;
  return SX_AGG_OK;
}

const sx_pres_res *sx_agg_best(const sx_pres_agg *a) {
  const sx_pres_res *best = NULL;
  if (!a) return NULL;
  for (size_t i = 0; i < a->n; i++) {
    const sx_pres_res *r = &a->res[i];
    int pr = r->has_priority ? r->priority : 0;
    int bp = best ? (best->has_priority ? best->priority : 0) : 0;
    if (!best || pr > bp || (pr == bp && r->seq > best->seq)) best = r;
  }
  return best;
}

size_t sx_agg_bytes(const sx_pres_agg *a) {
  if (!a) return 0;
  size_t n = a->cap * sizeof *a->res;
  for (size_t i = 0; i < a->n; i++) {
    const sx_pres_res *r = &a->res[i];
    n += strlen(r->resource) + 1 + r->n_statuses * sizeof *r->statuses;
    for (size_t k = 0; k < r->n_statuses; k++)
      n += strlen(r->statuses[k].text) + 1 +
           (r->statuses[k].lang ? strlen(r->statuses[k].lang) + 1 : 0);
  }
  return n;
}
