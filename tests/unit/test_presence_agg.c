/* The per-contact aggregate of resources (translate/presence_agg.h). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "translate/presence_agg.h"

static sx_presence pres(sx_pres_type t, sx_show show, int has_prio, int prio, const char *lang,
                        const char *status, const char *status_lang) {
  sx_presence p = {0};
  p.type = t;
  p.show = show;
  p.has_priority = has_prio;
  p.priority = prio;
  if (lang) p.lang = strdup(lang);
  if (status) sx_presence_add_status(&p, status_lang, status);
  return p;
}

static sx_agg_rc upd(sx_pres_agg *a, const char *res, sx_presence p) {
  sx_agg_rc rc = sx_agg_update(a, res, &p);
  sx_presence_free(&p);
  return rc;
}

static void test_resources(void) {
  sx_pres_agg a;
  sx_agg_init(&a);
  CHECK(!a.known && a.n == 0 && sx_agg_best(&a) == NULL, "empty");
  CHECK_INT(upd(&a, "laptop", pres(SX_PRES_AVAILABLE, SX_SHOW_NONE, 1, 5, "de", "Hallo", NULL)),
            SX_AGG_OK, "laptop");
  CHECK(a.known && a.n == 1, "one resource");
  CHECK_STR(a.res[0].statuses[0].lang, "de", "lang inherited from the stanza");
  CHECK_INT(upd(&a, "phone", pres(SX_PRES_AVAILABLE, SX_SHOW_AWAY, 1, 5, "de", "Out", "en")),
            SX_AGG_OK, "phone");
  CHECK_STR(a.res[1].statuses[0].lang, "en", "own lang kept");
  /* tie on priority: the most recent wins */
  CHECK_STR(sx_agg_best(&a)->resource, "phone", "tie: most recent");
  CHECK_INT(upd(&a, "laptop", pres(SX_PRES_AVAILABLE, SX_SHOW_DND, 1, 5, NULL, NULL, NULL)),
            SX_AGG_OK, "laptop again");
  CHECK_INT(a.n, 2, "replaced, not added");
  CHECK_STR(sx_agg_best(&a)->resource, "laptop", "tie: laptop now most recent");
  CHECK_INT(sx_agg_best(&a)->n_statuses, 0, "old status replaced");
  /* higher priority wins over recency; missing priority counts as 0 */
  CHECK_INT(upd(&a, "tab", pres(SX_PRES_AVAILABLE, SX_SHOW_XA, 0, 0, NULL, NULL, NULL)),
            SX_AGG_OK, "tab");
  CHECK_STR(sx_agg_best(&a)->resource, "laptop", "priority beats recency");
  CHECK_INT(upd(&a, "phone", pres(SX_PRES_AVAILABLE, SX_SHOW_AWAY, 1, 10, NULL, NULL, NULL)),
            SX_AGG_OK, "phone 10");
  CHECK_STR(sx_agg_best(&a)->resource, "phone", "highest priority");
  CHECK_INT(upd(&a, "phone", pres(SX_PRES_AVAILABLE, SX_SHOW_AWAY, 1, -5, NULL, NULL, NULL)),
            SX_AGG_OK, "phone -5");
  CHECK_STR(sx_agg_best(&a)->resource, "laptop", "negative below missing");
  /* unavailable removes one resource; from the bare JID removes all */
  CHECK_INT(upd(&a, "laptop", pres(SX_PRES_UNAVAILABLE, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL)),
            SX_AGG_OK, "laptop gone");
  CHECK_INT(a.n, 2, "two left");
  CHECK_STR(sx_agg_best(&a)->resource, "tab", "tab (0) over phone (-5)");
  CHECK_INT(upd(&a, "nothere", pres(SX_PRES_UNAVAILABLE, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL)),
            SX_AGG_OK, "unknown resource gone");
  CHECK_INT(a.n, 2, "nothing removed");
  CHECK(sx_agg_bytes(&a) > 0, "bytes");
  CHECK_INT(upd(&a, NULL, pres(SX_PRES_UNAVAILABLE, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL)),
            SX_AGG_OK, "bare unavailable");
  CHECK(a.n == 0 && a.known && sx_agg_best(&a) == NULL, "all gone, still known");
  /* not presence: ignored */
  CHECK_INT(upd(&a, "x", pres(SX_PRES_SUBSCRIBE, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL)),
            SX_AGG_IGNORED, "subscribe ignored");
  CHECK_INT(upd(&a, "x", pres(SX_PRES_PROBE, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL)),
            SX_AGG_IGNORED, "probe ignored");
  CHECK_INT(a.n, 0, "nothing added");
  sx_agg_clear(&a);
  CHECK(!a.known && a.res == NULL, "cleared");
}

static void test_bounds(void) {
  sx_pres_agg a = {0};
  char r[16];
  for (int i = 0; i < SX_AGG_MAX_RESOURCES; i++) {
    snprintf(r, sizeof r, "r%d", i);
    CHECK_INT(upd(&a, r, pres(SX_PRES_AVAILABLE, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL)),
              SX_AGG_OK, r);
  }
  CHECK_INT(upd(&a, "one-more", pres(SX_PRES_AVAILABLE, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL)),
            SX_AGG_TOO_MANY, "too many resources");
  CHECK_INT(a.n, SX_AGG_MAX_RESOURCES, "unchanged");
  CHECK_INT(upd(&a, "r0", pres(SX_PRES_AVAILABLE, SX_SHOW_AWAY, 0, 0, NULL, NULL, NULL)),
            SX_AGG_OK, "an existing one may still change");
  CHECK_INT(upd(&a, "\xff", pres(SX_PRES_AVAILABLE, SX_SHOW_AWAY, 0, 0, NULL, NULL, NULL)),
            SX_AGG_INVALID, "bad UTF-8 resource");
  /* a struct filled past the bounds by hand is refused, not cut */
  sx_presence p = {0};
  p.type = SX_PRES_AVAILABLE;
  sx_pres_status st[SX_PRES_MAX_STATUSES + 1];
  for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) st[i] = (sx_pres_status){NULL, "t"};
  p.statuses = st;
  p.n_statuses = SX_PRES_MAX_STATUSES + 1;
  CHECK_INT(sx_agg_update(&a, "r1", &p), SX_AGG_TOO_MANY, "too many statuses");
  p.n_statuses = 1;
  st[0].text = "\xc3";
  CHECK_INT(sx_agg_update(&a, "r1", &p), SX_AGG_INVALID, "bad UTF-8 status");
  sx_agg_clear(&a);
}

int main(void) {
  test_resources();
  test_bounds();
  return check_done();
}
