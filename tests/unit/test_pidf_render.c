/* XMPP → PIDF (translate/pidf_render.h): the mapping table of SPEC §4 and issue 6 item 3. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "translate/pidf_render.h"

#define HEAD                                                                         \
  "<?xml version='1.0' encoding='UTF-8'?>\n<presence xmlns='urn:ietf:params:xml:ns:pidf'" \
  " xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model'"                              \
  " xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' entity='sip:carol@fabrikam.com'>"
#define TAIL "</presence>\n"
#define ENT "sip:carol@fabrikam.com"

static void add(sx_pres_agg *a, const char *res, sx_pres_type t, sx_show show, int has_prio,
                int prio, const char *lang, const char *status, const char *status_lang) {
  sx_presence p = {0};
  p.type = t;
  p.show = show;
  p.has_priority = has_prio;
  p.priority = prio;
  if (lang) p.lang = strdup(lang);
  if (status) CHECK_INT(sx_presence_add_status(&p, status_lang, status), 0, "status");
  CHECK_INT(sx_agg_update(a, res, &p), SX_AGG_OK, res ? res : "(bare)");
  sx_presence_free(&p);
}

static void expect(const sx_pres_agg *a, int strip, const char *want, const char *ctx) {
  size_t n = 0;
  char *x = sx_pidf_render(a, ENT, strip, &n);
  CHECK_STR(x, want, ctx);
  if (x) CHECK_INT(n, strlen(x), ctx);
  free(x);
}

#define CLOSED                                                                 \
  "<tuple id='ID-offline'><status><basic>closed</basic></status><contact>" ENT \
  "</contact></tuple>"

static void test_table(void) {
  sx_pres_agg a = {0};
  expect(&a, 0, HEAD CLOSED TAIL, "nothing known: one closed tuple");
  expect(NULL, 0, HEAD CLOSED TAIL, "NULL aggregate");

  /* plain available, priority 50 → 50/127 = 0.394 */
  add(&a, "laptop", SX_PRES_AVAILABLE, SX_SHOW_NONE, 1, 50, "en", "At my desk", NULL);
  expect(&a, 0,
         HEAD "<tuple id='ID-laptop'><status><basic>open</basic></status>"
              "<contact priority='0.394'>" ENT "</contact>"
              "<note xml:lang='en'>At my desk</note></tuple>" TAIL,
         "available, priority, note with inherited lang");
  expect(&a, 1,
         HEAD "<tuple id='ID-laptop'><status><basic>open</basic></status>"
              "<contact priority='0.394'>" ENT "</contact></tuple>" TAIL,
         "notes stripped");

  /* a second resource: two tuples; the most available (priority 127, away) gives RPID away */
  add(&a, "phone", SX_PRES_AVAILABLE, SX_SHOW_AWAY, 1, 127, NULL, "Lunch", "fr");
  expect(&a, 0,
         HEAD "<tuple id='ID-laptop'><status><basic>open</basic></status>"
              "<contact priority='0.394'>" ENT "</contact>"
              "<note xml:lang='en'>At my desk</note></tuple>"
              "<tuple id='ID-phone'><status><basic>open</basic>"
              "<show xmlns='jabber:client'>away</show></status>"
              "<contact priority='1.000'>" ENT "</contact>"
              "<note xml:lang='fr'>Lunch</note></tuple>"
              "<dm:person id='p'><rpid:activities><rpid:away/></rpid:activities></dm:person>" TAIL,
         "two resources");

  /* the phone goes: its tuple is gone, the laptop remains, no activity */
  add(&a, "phone", SX_PRES_UNAVAILABLE, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL);
  expect(&a, 1,
         HEAD "<tuple id='ID-laptop'><status><basic>open</basic></status>"
              "<contact priority='0.394'>" ENT "</contact></tuple>" TAIL,
         "one resource unavailable");
  /* all gone → one closed tuple */
  add(&a, "laptop", SX_PRES_UNAVAILABLE, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL);
  expect(&a, 0, HEAD CLOSED TAIL, "all gone");
  sx_agg_clear(&a);
}

/* show → RPID, priority → contact priority, one row each. */
static void test_show_rows(void) {
  static const struct {
    sx_show show;
    int has_prio, prio;
    const char *status_part, *prio_part, *person;
  } rows[] = {
      {SX_SHOW_NONE, 0, 0, "", "<contact>", ""},
      {SX_SHOW_CHAT, 1, 0, "<show xmlns='jabber:client'>chat</show>",
       "<contact priority='0.000'>", ""},
      {SX_SHOW_AWAY, 1, 1, "<show xmlns='jabber:client'>away</show>",
       "<contact priority='0.008'>",
       "<dm:person id='p'><rpid:activities><rpid:away/></rpid:activities></dm:person>"},
      {SX_SHOW_XA, 1, 64, "<show xmlns='jabber:client'>xa</show>",
       "<contact priority='0.504'>",
       "<dm:person id='p'><rpid:activities><rpid:away/></rpid:activities>"
       "<rpid:user-input>idle</rpid:user-input></dm:person>"},
      {SX_SHOW_DND, 1, -1, "<show xmlns='jabber:client'>dnd</show>", "<contact>",
       "<dm:person id='p'><rpid:activities><rpid:busy/></rpid:activities></dm:person>"},
      {SX_SHOW_DND, 1, -128, "<show xmlns='jabber:client'>dnd</show>", "<contact>",
       "<dm:person id='p'><rpid:activities><rpid:busy/></rpid:activities></dm:person>"},
      {SX_SHOW_NONE, 1, 126, "", "<contact priority='0.992'>", ""},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char ctx[32], want[1024];
    snprintf(ctx, sizeof ctx, "row %zu", i);
    sx_pres_agg a = {0};
    add(&a, "r", SX_PRES_AVAILABLE, rows[i].show, rows[i].has_prio, rows[i].prio, NULL, NULL,
        NULL);
    snprintf(want, sizeof want,
             HEAD "<tuple id='ID-r'><status><basic>open</basic>%s</status>%s" ENT
                  "</contact></tuple>%s" TAIL,
             rows[i].status_part, rows[i].prio_part, rows[i].person);
    expect(&a, 0, want, ctx);
    sx_agg_clear(&a);
  }
}

/* The most available resource decides the activity: highest priority, the most recent on a
 * tie. */
static void test_most_available(void) {
  sx_pres_agg a = {0};
  add(&a, "a", SX_PRES_AVAILABLE, SX_SHOW_DND, 1, 3, NULL, NULL, NULL);
  add(&a, "b", SX_PRES_AVAILABLE, SX_SHOW_AWAY, 1, 3, NULL, NULL, NULL);
  char *x = sx_pidf_render(&a, ENT, 0, NULL);
  CHECK(x && strstr(x, "<rpid:away/>") && !strstr(x, "<rpid:busy/>"), "tie: most recent [%s]",
        x ? x : "");
  free(x);
  add(&a, "a", SX_PRES_AVAILABLE, SX_SHOW_DND, 1, 4, NULL, NULL, NULL);
  x = sx_pidf_render(&a, ENT, 0, NULL);
  CHECK(x && strstr(x, "<rpid:busy/>") && !strstr(x, "<rpid:away/>"), "higher priority [%s]",
        x ? x : "");
  free(x);
  sx_agg_clear(&a);
}

/* Nothing the gateway emits breaks the document: tuple ids are NCNames, text escaped. */
static void test_escaping(void) {
  sx_pres_agg a = {0};
  add(&a, "Tab 1/ü_'<", SX_PRES_AVAILABLE, SX_SHOW_NONE, 0, 0, "en'x", "a</note>&<b>", NULL);
  add(&a, "", SX_PRES_AVAILABLE, SX_SHOW_NONE, 0, 0, NULL, NULL, NULL);
  size_t n;
  char *x = sx_pidf_render(&a, "sip:o'neil@fabrikam.com", 0, &n);
  CHECK(x != NULL, "rendered");
  if (x) {
    CHECK(strstr(x, "entity='sip:o&apos;neil@fabrikam.com'") != NULL, "entity escaped [%s]", x);
    CHECK(strstr(x, "<tuple id='ID-Tab_201_2F_C3_BC_5F_27_3C'>") != NULL, "id encoded [%s]", x);
    CHECK(strstr(x, "<tuple id='ID-'>") != NULL, "bare JID resource [%s]", x);
    CHECK(strstr(x, "<note xml:lang='en&apos;x'>a&lt;/note&gt;&amp;&lt;b&gt;</note>") != NULL,
          "note escaped [%s]", x);
  }
  free(x);
  CHECK(sx_pidf_render(&a, NULL, 0, &n) == NULL && n == 0, "no entity");
  CHECK(sx_pidf_render(&a, "", 0, NULL) == NULL, "empty entity");
  CHECK(sx_pidf_render(&a, "sip:\xff@x", 0, NULL) == NULL, "bad UTF-8 entity");
  sx_agg_clear(&a);
}

int main(void) {
  test_table();
  test_show_rows();
  test_most_available();
  test_escaping();
  return check_done();
}
