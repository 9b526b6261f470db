/* The plain presence stanza (translate/presence.h): serialisation table, escaping, refusals,
 * names, copy and status bounds. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "translate/presence.h"

static char *ser(const sx_presence *p) {
  size_t n = 0;
  char *x = sx_presence_serialize(p, &n);
  if (x) CHECK_INT(n, strlen(x), "length");
  return x;
}

static void test_table(void) {
  static const struct {
    sx_pres_type type;
    sx_show show;
    int has_prio, prio;
    const char *status, *status_lang, *lang, *id, *cond;
    const char *want;
  } rows[] = {
      {SX_PRES_AVAILABLE, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL, NULL, NULL,
       "<presence from='bob@contoso.com' to='carol@fabrikam.com'/>"},
      {SX_PRES_AVAILABLE, SX_SHOW_AWAY, 1, 5, "Lunch", "en", "de", "p1", NULL,
       "<presence from='bob@contoso.com' to='carol@fabrikam.com' id='p1' xml:lang='de'>"
       "<show>away</show><status xml:lang='en'>Lunch</status><priority>5</priority></presence>"},
      {SX_PRES_AVAILABLE, SX_SHOW_DND, 1, -1, NULL, NULL, NULL, NULL, NULL,
       "<presence from='bob@contoso.com' to='carol@fabrikam.com'><show>dnd</show>"
       "<priority>-1</priority></presence>"},
      {SX_PRES_AVAILABLE, SX_SHOW_CHAT, 0, 0, NULL, NULL, NULL, NULL, NULL,
       "<presence from='bob@contoso.com' to='carol@fabrikam.com'><show>chat</show></presence>"},
      {SX_PRES_AVAILABLE, SX_SHOW_XA, 0, 0, NULL, NULL, NULL, NULL, NULL,
       "<presence from='bob@contoso.com' to='carol@fabrikam.com'><show>xa</show></presence>"},
      /* unavailable: status kept, show never written */
      {SX_PRES_UNAVAILABLE, SX_SHOW_AWAY, 0, 0, "Gone", NULL, NULL, NULL, NULL,
       "<presence from='bob@contoso.com' to='carol@fabrikam.com' type='unavailable'>"
       "<status>Gone</status></presence>"},
      {SX_PRES_UNAVAILABLE, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL, NULL, NULL,
       "<presence from='bob@contoso.com' to='carol@fabrikam.com' type='unavailable'/>"},
      /* subscription management: no payload even if set */
      {SX_PRES_SUBSCRIBE, SX_SHOW_AWAY, 1, 3, "x", NULL, NULL, NULL, NULL,
       "<presence from='bob@contoso.com' to='carol@fabrikam.com' type='subscribe'/>"},
      {SX_PRES_SUBSCRIBED, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL, NULL, NULL,
       "<presence from='bob@contoso.com' to='carol@fabrikam.com' type='subscribed'/>"},
      {SX_PRES_UNSUBSCRIBE, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL, NULL, NULL,
       "<presence from='bob@contoso.com' to='carol@fabrikam.com' type='unsubscribe'/>"},
      {SX_PRES_UNSUBSCRIBED, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL, NULL, NULL,
       "<presence from='bob@contoso.com' to='carol@fabrikam.com' type='unsubscribed'/>"},
      {SX_PRES_PROBE, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL, NULL, NULL,
       "<presence from='bob@contoso.com' to='carol@fabrikam.com' type='probe'/>"},
      /* errors: service-unavailable for a non-partner, forbidden for a user not enabled */
      {SX_PRES_ERROR, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL, "s1", "service-unavailable",
       "<presence from='bob@contoso.com' to='carol@fabrikam.com' id='s1' type='error'>"
       "<error type='cancel'><service-unavailable "
       "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>"},
      {SX_PRES_ERROR, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL, NULL, "forbidden",
       "<presence from='bob@contoso.com' to='carol@fabrikam.com' type='error'>"
       "<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
       "</presence>"},
      /* a made-up condition cannot become an element name */
      {SX_PRES_ERROR, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL, NULL, "x/><evil",
       "<presence from='bob@contoso.com' to='carol@fabrikam.com' type='error'>"
       "<error type='cancel'><undefined-condition "
       "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char ctx[32];
    snprintf(ctx, sizeof ctx, "row %zu", i);
    sx_presence p = {0};
    p.from = strdup("bob@contoso.com");
    p.to = strdup("carol@fabrikam.com");
    p.type = rows[i].type;
    p.show = rows[i].show;
    p.has_priority = rows[i].has_prio;
    p.priority = rows[i].prio;
    if (rows[i].lang) p.lang = strdup(rows[i].lang);
    if (rows[i].id) p.id = strdup(rows[i].id);
    if (rows[i].cond) p.error_condition = strdup(rows[i].cond);
    if (rows[i].status)
      CHECK_INT(sx_presence_add_status(&p, rows[i].status_lang, rows[i].status), 0, ctx);
    char *x = ser(&p);
    CHECK_STR(x, rows[i].want, ctx);
    free(x);
    sx_presence_free(&p);
  }
}

/* Nothing can break the stream: markup and quotes escaped, controls dropped, bad UTF-8 and
 * missing addresses refused. */
static void test_escaping(void) {
  sx_presence p = {0};
  p.from = strdup("b'ob@contoso.com");
  p.to = strdup("x@fabrikam.com");
  p.id = strdup("<id>&\"");
  p.lang = strdup("en'><x");
  CHECK_INT(sx_presence_add_status(&p, "e\"n", "</status><evil/>&amp;\x01\x1f ok"), 0, "status");
  char *x = ser(&p);
  CHECK_STR(x,
            "<presence from='b&apos;ob@contoso.com' to='x@fabrikam.com' id='&lt;id&gt;&amp;&quot;'"
            " xml:lang='en&apos;&gt;&lt;x'><status xml:lang='e&quot;n'>&lt;/status&gt;&lt;evil/&gt;"
            "&amp;amp; ok</status></presence>",
            "escaped");
  free(x);
  /* refusals */
  free(p.to);
  p.to = NULL;
  CHECK(sx_presence_serialize(&p, NULL) == NULL, "no to");
  p.to = strdup("");
  CHECK(sx_presence_serialize(&p, NULL) == NULL, "empty to");
  free(p.to);
  p.to = strdup("x@fabrikam.com");
  p.has_priority = 1;
  p.priority = 128;
  CHECK(sx_presence_serialize(&p, NULL) == NULL, "priority out of range");
  p.priority = -129;
  CHECK(sx_presence_serialize(&p, NULL) == NULL, "priority out of range (low)");
  p.priority = 0;
  free(p.id);
  p.id = strdup("\xff\xfe");
  CHECK(sx_presence_serialize(&p, NULL) == NULL, "bad UTF-8 refused");
  free(p.id);
  p.id = NULL;
  p.type = (sx_pres_type)42;
  CHECK(sx_presence_serialize(&p, NULL) == NULL, "unknown type");
  p.type = SX_PRES_AVAILABLE;
  CHECK(sx_presence_serialize(NULL, NULL) == NULL, "NULL");
  sx_presence_free(&p);
  CHECK(p.from == NULL && p.statuses == NULL, "freed and zeroed");
}

static void test_status_bounds(void) {
  sx_presence p = {0};
  CHECK_INT(sx_presence_add_status(&p, NULL, NULL), -1, "NULL text");
  CHECK_INT(sx_presence_add_status(&p, NULL, "\xc0\xaf"), -1, "overlong UTF-8");
  char *big = malloc(SX_PRES_MAX_TEXT + 2);
  memset(big, 'a', SX_PRES_MAX_TEXT + 1);
  big[SX_PRES_MAX_TEXT + 1] = '\0';
  CHECK_INT(sx_presence_add_status(&p, NULL, big), -1, "text too long");
  big[SX_PRES_MAX_TEXT] = '\0';
  CHECK_INT(sx_presence_add_status(&p, NULL, big), 0, "text at the limit");
  free(big);
  char lang[SX_PRES_MAX_LANG + 2];
  memset(lang, 'x', sizeof lang - 1);
  lang[sizeof lang - 1] = '\0';
  CHECK_INT(sx_presence_add_status(&p, lang, "t"), -1, "lang too long");
  for (int i = 1; i < SX_PRES_MAX_STATUSES; i++)
    CHECK_INT(sx_presence_add_status(&p, "en", "t"), 0, "room");
  CHECK_INT(p.n_statuses, SX_PRES_MAX_STATUSES, "full");
  CHECK_INT(sx_presence_add_status(&p, "en", "one more"), -1, "over the count");
  sx_presence c;
  CHECK_INT(sx_presence_copy(&c, &p), 0, "copy");
  CHECK_INT(c.n_statuses, SX_PRES_MAX_STATUSES, "copied statuses");
  CHECK(c.statuses && c.statuses[1].text != p.statuses[1].text &&
            strcmp(c.statuses[1].lang, "en") == 0,
        "deep copy");
  sx_presence_strip_statuses(&c);
  CHECK(c.n_statuses == 0 && c.statuses == NULL, "stripped");
  sx_presence_free(&c);
  sx_presence_free(&p);
}

static void test_names(void) {
  for (int t = 0; t <= SX_PRES_ERROR; t++) {
    sx_pres_type back = SX_PRES_ERROR;
    const char *n = sx_pres_type_name((sx_pres_type)t);
    CHECK_INT(sx_pres_type_parse(t == 0 ? NULL : n, &back), 0, n);
    CHECK_INT(back, t, n);
  }
  sx_pres_type ty;
  CHECK_INT(sx_pres_type_parse("available", &ty), -1, "available is not a wire type");
  CHECK_INT(sx_pres_type_parse("Probe", &ty), -1, "case matters");
  for (int s = 1; s <= SX_SHOW_DND; s++) {
    sx_show back = SX_SHOW_NONE;
    CHECK_INT(sx_show_parse(sx_show_name((sx_show)s), &back), 0, "show");
    CHECK_INT(back, s, "show value");
  }
  sx_show sh = SX_SHOW_AWAY;
  CHECK_INT(sx_show_parse(NULL, &sh), 0, "no show");
  CHECK_INT(sh, SX_SHOW_NONE, "no show is none");
  CHECK_INT(sx_show_parse("busy", &sh), -1, "unknown show");
  CHECK_STR(sx_show_name((sx_show)9), "?", "unknown show name");
}

int main(void) {
  test_table();
  test_escaping();
  test_status_bounds();
  test_names();
  return check_done();
}
