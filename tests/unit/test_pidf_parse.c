/* PIDF → XMPP (translate/pidf_parse.h): the mapping table, limits and refusals, and the
 * round trip XMPP → PIDF → XMPP (translate/pidf_render.h). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "translate/pidf_parse.h"
#include "translate/pidf_render.h"

#define P0                                                                      \
  "<?xml version='1.0' encoding='UTF-8'?>"                                      \
  "<presence xmlns='urn:ietf:params:xml:ns:pidf'"                               \
  " xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model'"                          \
  " xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' entity='sip:bob@contoso.com'>"
#define P1 "</presence>"
#define OPEN "<tuple id='t1'><status><basic>open</basic></status></tuple>"
#define CLOSED "<tuple id='t1'><status><basic>closed</basic></status></tuple>"
#define PERSON(x) "<dm:person id='p'><rpid:activities>" x "</rpid:activities></dm:person>"

static const struct row {
  const char *body;
  sx_pres_type type;
  sx_show show;
  int has_prio, prio;
  const char *statuses; /* "lang:text|lang:text", lang "-" for none */
} ROWS[] = {
    {"", SX_PRES_UNAVAILABLE, SX_SHOW_NONE, 0, 0, ""},
    {" \r\n", SX_PRES_UNAVAILABLE, SX_SHOW_NONE, 0, 0, ""},
    {P0 P1, SX_PRES_UNAVAILABLE, SX_SHOW_NONE, 0, 0, ""},
    {P0 OPEN P1, SX_PRES_AVAILABLE, SX_SHOW_NONE, 0, 0, ""},
    {P0 CLOSED P1, SX_PRES_UNAVAILABLE, SX_SHOW_NONE, 0, 0, ""},
    /* basic open in any tuple → available */
    {P0 CLOSED "<tuple id='t2'><status><basic> open </basic></status></tuple>" P1,
     SX_PRES_AVAILABLE, SX_SHOW_NONE, 0, 0, ""},
    /* activities → show */
    {P0 OPEN PERSON("<rpid:busy/>") P1, SX_PRES_AVAILABLE, SX_SHOW_DND, 0, 0, ""},
    {P0 OPEN PERSON("<rpid:on-the-phone/>") P1, SX_PRES_AVAILABLE, SX_SHOW_DND, 0, 0, ""},
    {P0 OPEN PERSON("<rpid:meeting/>") P1, SX_PRES_AVAILABLE, SX_SHOW_DND, 0, 0, ""},
    {P0 OPEN PERSON("<rpid:appointment/>") P1, SX_PRES_AVAILABLE, SX_SHOW_DND, 0, 0, ""},
    {P0 OPEN PERSON("<rpid:performance/>") P1, SX_PRES_AVAILABLE, SX_SHOW_DND, 0, 0, ""},
    {P0 OPEN PERSON("<rpid:presentation/>") P1, SX_PRES_AVAILABLE, SX_SHOW_DND, 0, 0, ""},
    {P0 OPEN PERSON("<rpid:away/>") P1, SX_PRES_AVAILABLE, SX_SHOW_AWAY, 0, 0, ""},
    {P0 OPEN PERSON("<rpid:meal/>") P1, SX_PRES_AVAILABLE, SX_SHOW_AWAY, 0, 0, ""},
    {P0 OPEN PERSON("<rpid:steering/>") P1, SX_PRES_AVAILABLE, SX_SHOW_AWAY, 0, 0, ""},
    {P0 OPEN PERSON("<rpid:travel/>") P1, SX_PRES_AVAILABLE, SX_SHOW_AWAY, 0, 0, ""},
    {P0 OPEN PERSON("<rpid:sleeping/>") P1, SX_PRES_AVAILABLE, SX_SHOW_AWAY, 0, 0, ""},
    {P0 OPEN "<dm:person id='p'><rpid:user-input>idle</rpid:user-input></dm:person>" P1,
     SX_PRES_AVAILABLE, SX_SHOW_AWAY, 0, 0, ""},
    {P0 OPEN "<dm:person id='p'><rpid:user-input>active</rpid:user-input></dm:person>" P1,
     SX_PRES_AVAILABLE, SX_SHOW_NONE, 0, 0, ""},
    {P0 OPEN PERSON("<rpid:vacation/>") P1, SX_PRES_AVAILABLE, SX_SHOW_XA, 0, 0, ""},
    {P0 OPEN PERSON("<rpid:holiday/>") P1, SX_PRES_AVAILABLE, SX_SHOW_XA, 0, 0, ""},
    {P0 OPEN PERSON("<rpid:permanent-absence/>") P1, SX_PRES_AVAILABLE, SX_SHOW_XA, 0, 0, ""},
    {P0 OPEN PERSON("<rpid:unknown/>") P1, SX_PRES_AVAILABLE, SX_SHOW_NONE, 0, 0, ""},
    {P0 OPEN PERSON("<rpid:other>at the gym</rpid:other>") P1, SX_PRES_AVAILABLE, SX_SHOW_NONE, 0,
     0, ""},
    /* activities of a closed presence do not make it available, nor give a show */
    {P0 CLOSED PERSON("<rpid:busy/>") P1, SX_PRES_UNAVAILABLE, SX_SHOW_NONE, 0, 0, ""},
    /* several persons (Kamailio merges one per device, newest first): the first that maps */
    {P0 OPEN PERSON("<rpid:unknown/>") PERSON("<rpid:on-the-phone/>") PERSON("<rpid:away/>") P1,
     SX_PRES_AVAILABLE, SX_SHOW_DND, 0, 0, ""},
    /* activity in a tuple (other prefix) */
    {P0 "<tuple id='t'><status><basic>open</basic></status>"
        "<r:activities xmlns:r='urn:ietf:params:xml:ns:pidf:rpid'><r:meeting/></r:activities>"
        "</tuple>" P1,
     SX_PRES_AVAILABLE, SX_SHOW_DND, 0, 0, ""},
    /* a jabber:client show wins over RPID */
    {P0 "<tuple id='t'><status><basic>open</basic><show xmlns='jabber:client'>chat</show>"
        "</status></tuple>" PERSON("<rpid:busy/>") P1,
     SX_PRES_AVAILABLE, SX_SHOW_CHAT, 0, 0, ""},
    {P0 "<tuple id='t'><status><basic>open</basic><show xmlns='jabber:client'>xa</show>"
        "</status></tuple>" PERSON("<rpid:away/>") P1,
     SX_PRES_AVAILABLE, SX_SHOW_XA, 0, 0, ""},
    /* a show in another namespace is not XMPP's */
    {P0 "<tuple id='t'><status><basic>open</basic><show xmlns='urn:x'>dnd</show></status>"
        "</tuple>" P1,
     SX_PRES_AVAILABLE, SX_SHOW_NONE, 0, 0, ""},
    /* notes → statuses with their lang (own, inherited, none), duplicates once */
    {P0 "<tuple id='t'><status><basic>open</basic></status><note xml:lang='en'>Lunch</note>"
        "<note>Mittag</note></tuple><note xml:lang='fr'>Déjeuner</note>"
        "<dm:person id='p'><dm:note xml:lang='en'>Lunch</dm:note></dm:person>" P1,
     SX_PRES_AVAILABLE, SX_SHOW_NONE, 0, 0, "en:Lunch|-:Mittag|fr:Déjeuner"},
    {"<presence xmlns='urn:ietf:params:xml:ns:pidf' xml:lang='de' entity='pres:b@c'>"
     "<tuple id='t'><status><basic>closed</basic></status><note>Weg &amp; fort</note></tuple>"
     "</presence>",
     SX_PRES_UNAVAILABLE, SX_SHOW_NONE, 0, 0, "de:Weg & fort"},
    {P0 "<tuple id='t'><status><basic>open</basic></status><note/></tuple>" P1,
     SX_PRES_AVAILABLE, SX_SHOW_NONE, 0, 0, ""},
    /* contact priority of the open tuples → priority */
    {P0 "<tuple id='a'><status><basic>open</basic></status>"
        "<contact priority='0.5'>sip:b@c</contact></tuple>"
        "<tuple id='b'><status><basic>open</basic></status>"
        "<contact priority='0.394'>sip:b@c</contact></tuple>"
        "<tuple id='c'><status><basic>closed</basic></status>"
        "<contact priority='1'>sip:b@c</contact></tuple>" P1,
     SX_PRES_AVAILABLE, SX_SHOW_NONE, 1, 64, ""},
    {P0 "<tuple id='a'><status><basic>open</basic></status>"
        "<contact priority='7'>sip:b@c</contact></tuple>" P1,
     SX_PRES_AVAILABLE, SX_SHOW_NONE, 0, 0, ""},
};

static void check_statuses(const sx_presence *p, const char *want, const char *ctx) {
  char got[1024] = "";
  for (size_t i = 0; i < p->n_statuses; i++) {
    if (i) strncat(got, "|", sizeof got - strlen(got) - 1);
    strncat(got, p->statuses[i].lang ? p->statuses[i].lang : "-", sizeof got - strlen(got) - 1);
    strncat(got, ":", sizeof got - strlen(got) - 1);
    strncat(got, p->statuses[i].text, sizeof got - strlen(got) - 1);
  }
  CHECK_STR(got, want, ctx);
}

static void test_table(void) {
  for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
    const struct row *r = &ROWS[i];
    char ctx[32], err[256];
    snprintf(ctx, sizeof ctx, "row %zu", i);
    sx_presence p;
    sx_pidf_rc rc = sx_pidf_parse(r->body, strlen(r->body), NULL, &p, err, sizeof err);
    CHECK(rc == SX_PIDF_OK, "%s: %s (%s)", ctx, sx_pidf_rc_name(rc), err);
    CHECK_INT(p.type, r->type, ctx);
    CHECK_STR(sx_show_name(p.show), sx_show_name(r->show), ctx);
    CHECK_INT(p.has_priority, r->has_prio, ctx);
    if (r->has_prio) CHECK_INT(p.priority, r->prio, ctx);
    check_statuses(&p, r->statuses, ctx);
    CHECK(p.from == NULL && p.to == NULL && p.id == NULL, "%s: addresses are the caller's", ctx);
    sx_presence_free(&p);
  }
}

static void test_bad(void) {
  static const struct {
    const char *body;
    sx_pidf_rc rc;
  } rows[] = {
      {"<presence", SX_PIDF_MALFORMED},
      {P0 OPEN, SX_PIDF_MALFORMED},
      {P0 "<tuple id='t'><status><basic>open</basic></status></tuple>&undefined;" P1,
       SX_PIDF_MALFORMED},
      {"not xml at all", SX_PIDF_MALFORMED},
      {"<presence xmlns='urn:ietf:params:xml:ns:pidf'><a></b></presence>", SX_PIDF_MALFORMED},
      /* billion laughs: refused at the DOCTYPE, never expanded */
      {"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
       "<!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>]>"
       "<presence xmlns='urn:ietf:params:xml:ns:pidf'><note>&lol2;</note></presence>",
       SX_PIDF_FORBIDDEN},
      {"<!DOCTYPE presence SYSTEM 'http://example.org/x.dtd'>"
       "<presence xmlns='urn:ietf:params:xml:ns:pidf'/>",
       SX_PIDF_FORBIDDEN},
      {"<presence xmlns='urn:ietf:params:xml:ns:pidf'><?evil x?></presence>", SX_PIDF_FORBIDDEN},
      {"<presence xmlns='urn:other'/>", SX_PIDF_NOT_PIDF},
      {"<presence/>", SX_PIDF_NOT_PIDF},
      {"<xpidf/>", SX_PIDF_NOT_PIDF},
      {P0 "<tuple id='t'><status><basic>op<x/>en</basic></status></tuple>" P1, SX_PIDF_MALFORMED},
      {"<presence xmlns='urn:ietf:params:xml:ns:pidf'><note>\xff</note></presence>",
       SX_PIDF_MALFORMED},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char ctx[32], err[256] = "x";
    snprintf(ctx, sizeof ctx, "bad row %zu", i);
    sx_presence p;
    sx_pidf_rc rc = sx_pidf_parse(rows[i].body, strlen(rows[i].body), NULL, &p, err, sizeof err);
    CHECK_STR(sx_pidf_rc_name(rc), sx_pidf_rc_name(rows[i].rc), ctx);
    CHECK(err[0] != '\0' && strcmp(err, "x") != 0, "%s: a reason", ctx);
    CHECK(p.statuses == NULL && p.n_statuses == 0, "%s: nothing kept", ctx);
  }
}

/* Limits: size, depth, element count, attributes, notes. */
static void test_limits(void) {
  sx_presence p;
  char err[256];
  const char *body = P0 OPEN P1;
  sx_pidf_limits lim = {strlen(body) - 1, 32, 100};
  CHECK_INT(sx_pidf_parse(body, strlen(body), &lim, &p, err, sizeof err), SX_PIDF_TOO_BIG,
            "size");
  lim.max_bytes = strlen(body);
  CHECK_INT(sx_pidf_parse(body, strlen(body), &lim, &p, err, sizeof err), SX_PIDF_OK,
            "size at the limit");
  sx_presence_free(&p);
  lim.max_depth = 3; /* presence/tuple/status/basic is 4 deep */
  CHECK_INT(sx_pidf_parse(body, strlen(body), &lim, &p, err, sizeof err), SX_PIDF_TOO_DEEP,
            "depth");
  lim.max_depth = 4;
  CHECK_INT(sx_pidf_parse(body, strlen(body), &lim, &p, err, sizeof err), SX_PIDF_OK,
            "depth at the limit");
  sx_presence_free(&p);
  lim.max_elements = 3;
  CHECK_INT(sx_pidf_parse(body, strlen(body), &lim, &p, err, sizeof err), SX_PIDF_TOO_MANY,
            "elements");

  /* default limits: a deep nest and a flood of elements */
  char *big = malloc(70000);
  size_t n = 0;
  n += (size_t)sprintf(big, "<presence xmlns='urn:ietf:params:xml:ns:pidf'>");
  for (int i = 0; i < 40; i++) n += (size_t)sprintf(big + n, "<x>");
  for (int i = 0; i < 40; i++) n += (size_t)sprintf(big + n, "</x>");
  n += (size_t)sprintf(big + n, "</presence>");
  CHECK_INT(sx_pidf_parse(big, n, NULL, &p, err, sizeof err), SX_PIDF_TOO_DEEP, "deep nest");
  n = (size_t)sprintf(big, "<presence xmlns='urn:ietf:params:xml:ns:pidf'>");
  for (int i = 0; i < 5000; i++) n += (size_t)sprintf(big + n, "<x/>");
  n += (size_t)sprintf(big + n, "</presence>");
  CHECK_INT(sx_pidf_parse(big, n, NULL, &p, err, sizeof err), SX_PIDF_TOO_MANY, "flood");
  /* over 64 KiB */
  memset(big, ' ', 69999);
  CHECK_INT(sx_pidf_parse(big, 69999, NULL, &p, err, sizeof err), SX_PIDF_TOO_BIG, "64 KiB");
  /* attributes */
  n = (size_t)sprintf(big, "<presence xmlns='urn:ietf:params:xml:ns:pidf'><x");
  for (int i = 0; i < 40; i++) n += (size_t)sprintf(big + n, " a%d='1'", i);
  n += (size_t)sprintf(big + n, "/></presence>");
  CHECK_INT(sx_pidf_parse(big, n, NULL, &p, err, sizeof err), SX_PIDF_TOO_MANY, "attributes");
  /* more distinct notes than statuses fit: refused, not cut */
  n = (size_t)sprintf(big, "<presence xmlns='urn:ietf:params:xml:ns:pidf'>");
  for (int i = 0; i <= SX_PRES_MAX_STATUSES; i++) n += (size_t)sprintf(big + n, "<note>n%d</note>", i);
  n += (size_t)sprintf(big + n, "</presence>");
  CHECK_INT(sx_pidf_parse(big, n, NULL, &p, err, sizeof err), SX_PIDF_TOO_MANY, "notes");
  /* a note over the text limit */
  n = (size_t)sprintf(big, "<presence xmlns='urn:ietf:params:xml:ns:pidf'><note>");
  memset(big + n, 'a', SX_PRES_MAX_TEXT + 1);
  n += SX_PRES_MAX_TEXT + 1;
  n += (size_t)sprintf(big + n, "</note></presence>");
  CHECK_INT(sx_pidf_parse(big, n, NULL, &p, err, sizeof err), SX_PIDF_TOO_MANY, "long note");
  /* an xml:lang over its limit */
  n = (size_t)sprintf(big, "<presence xmlns='urn:ietf:params:xml:ns:pidf' xml:lang='");
  memset(big + n, 'a', SX_PRES_MAX_LANG + 1);
  n += SX_PRES_MAX_LANG + 1;
  n += (size_t)sprintf(big + n, "'/>");
  CHECK_INT(sx_pidf_parse(big, n, NULL, &p, err, sizeof err), SX_PIDF_TOO_MANY, "long lang");
  free(big);
  CHECK_STR(sx_pidf_rc_name((sx_pidf_rc)99), "?", "unknown rc");
}

/* XMPP → PIDF → XMPP keeps show, status and lang. */
static void test_round_trip(void) {
  static const struct {
    sx_show show;
    const char *lang, *status, *status_lang;
    int prio;
  } rows[] = {
      {SX_SHOW_NONE, NULL, NULL, NULL, 0},      {SX_SHOW_CHAT, "en", "Free to talk", NULL, 1},
      {SX_SHOW_AWAY, "de", "Mittag", NULL, 10}, {SX_SHOW_XA, NULL, "On leave", "en", 127},
      {SX_SHOW_DND, "fr", "Réunion <1h> & co", "fr-CA", 64},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char ctx[32], err[256];
    snprintf(ctx, sizeof ctx, "round trip %zu", i);
    sx_presence in = {0};
    in.type = SX_PRES_AVAILABLE;
    in.show = rows[i].show;
    in.has_priority = 1;
    in.priority = rows[i].prio;
    if (rows[i].lang) in.lang = strdup(rows[i].lang);
    if (rows[i].status) sx_presence_add_status(&in, rows[i].status_lang, rows[i].status);
    sx_pres_agg a = {0};
    CHECK_INT(sx_agg_update(&a, "res", &in), SX_AGG_OK, ctx);
    size_t n;
    char *doc = sx_pidf_render(&a, "sip:carol@fabrikam.com", 0, &n);
    CHECK(doc != NULL, "%s: rendered", ctx);
    sx_presence out;
    sx_pidf_rc rc = sx_pidf_parse(doc, n, NULL, &out, err, sizeof err);
    CHECK(rc == SX_PIDF_OK, "%s: parsed: %s [%s]", ctx, err, doc ? doc : "");
    CHECK_INT(out.type, SX_PRES_AVAILABLE, ctx);
    CHECK_STR(sx_show_name(out.show), sx_show_name(rows[i].show), ctx);
    CHECK_INT(out.has_priority, 1, ctx);
    CHECK_INT(out.priority, rows[i].prio, ctx);
    if (rows[i].status) {
      const char *want_lang = rows[i].status_lang ? rows[i].status_lang : rows[i].lang;
      CHECK_INT(out.n_statuses, 1, ctx);
      if (out.n_statuses == 1) {
        CHECK_STR(out.statuses[0].text, rows[i].status, ctx);
        CHECK_STR(out.statuses[0].lang, want_lang, ctx);
      }
    } else {
      CHECK_INT(out.n_statuses, 0, ctx);
    }
    free(doc);
    sx_presence_free(&out);
    sx_presence_free(&in);
    sx_agg_clear(&a);
  }
  /* all gone → unavailable */
  sx_pres_agg a = {0};
  char *doc = sx_pidf_render(&a, "sip:carol@fabrikam.com", 0, NULL);
  sx_presence out;
  CHECK_INT(sx_pidf_parse(doc, strlen(doc), NULL, &out, NULL, 0), SX_PIDF_OK, "closed parses");
  CHECK_INT(out.type, SX_PRES_UNAVAILABLE, "closed → unavailable");
  sx_presence_free(&out);
  free(doc);
}

int main(void) {
  test_table();
  test_bad();
  test_limits();
  test_round_trip();
  return check_done();
}
