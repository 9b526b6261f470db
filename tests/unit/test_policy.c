/* The access decision of SPEC §5 (translate/policy.h): every partner type × direction ×
 * kind × contact state, scope precedence, the 18 TLS/SASL/dialback combinations, and
 * canonical-form variants that must not bypass a denial. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "translate/policy.h"
#include "translate/policy_input.h"

/* ---- the decision table -------------------------------------------------------------- */

/* Expected verdicts: [partner type][direction][kind][contact state] with
 * 'A' allow, 'D' deny (not_in_contacts), 'P' pending. Kinds: message, subscribe, presence,
 * probe. Contact states: none, added, pending_in. Transcribed from SPEC §5 step 3/4. */
static const char *const EXPECT[3][2][4] = {
    /* Federated */
    {{"AAA", "AAA", "AAA", "AAA"}, /* outbound */
     {"AAA", "AAA", "AAA", "AAA"}}, /* inbound */
    /* PublicVerified */
    {{"AAA", "AAA", "AAA", "AAA"},
     {"AAA", "AAA", "AAA", "AAA"}},
    /* PublicUnverified */
    {{"AAA", "AAA", "AAA", "AAA"},
     {"DAD", "PAP", "DAD", "DAD"}},
};

static const char *const DOMAINS[3] = {"fed.example", "pv.example", "pu.example"};

/* the relations of the table's contact states none, added, pending_in */
#define ADDED ((sx_rel){SX_OUT_NONE, SX_IN_NONE, 1, 0})
#define PENDING_IN ((sx_rel){SX_OUT_NONE, SX_IN_PENDING, 0, 0})
static const sx_rel STATES[3] = {{0, 0, 0, 0}, {SX_OUT_NONE, SX_IN_NONE, 1, 0},
                                 {SX_OUT_NONE, SX_IN_PENDING, 0, 0}};

static sx_policy_snap *table_snap(void) {
  sx_policy_snap *s = sx_snap_new();
  CHECK(s != NULL, "snap");
  CHECK_INT(sx_snap_add_policy(s, "global", 0), 0, "global");
  CHECK_INT(sx_snap_add_policy(s, "XmppOn", SX_POL_XMPP), 0, "tag");
  CHECK_INT(sx_snap_add_user(s, "bob@contoso.com", NULL, "XmppOn"), 0, "bob");
  CHECK_INT(sx_snap_add_user(s, "alice@contoso.com", NULL, NULL), 0, "alice");
  for (int t = 0; t < 3; t++)
    CHECK_INT(sx_snap_add_partner(s, DOMAINS[t], (sx_ptype)t), 0, DOMAINS[t]);
  /* contact entries: carol added, dave pending, erin none */
  for (int t = 0; t < 3; t++) {
    char k[64];
    snprintf(k, sizeof k, "carol@%s", DOMAINS[t]);
    CHECK_INT(sx_snap_add_relation(s, "bob@contoso.com", k, ADDED), 0, k);
    CHECK_INT(sx_snap_add_relation(s, "alice@contoso.com", k, ADDED), 0, k);
    snprintf(k, sizeof k, "dave@%s", DOMAINS[t]);
    CHECK_INT(sx_snap_add_relation(s, "bob@contoso.com", k, PENDING_IN), 0, k);
  }
  return s;
}

static void test_table(void) {
  sx_policy_snap *s = table_snap();
  static const char *const who[3] = {"erin", "carol", "dave"}; /* none, added, pending_in */
  int cases = 0;
  for (int t = 0; t < 3; t++)
    for (int d = 0; d < 2; d++)
      for (int k = 0; k < 4; k++)
        for (int c = 0; c < 3; c++) {
          char ext[64], ctx[160];
          snprintf(ext, sizeof ext, "%s@%s", who[c], DOMAINS[t]);
          snprintf(ctx, sizeof ctx, "%s %s %s contact=%s", sx_ptype_name((sx_ptype)t),
                   sx_pdir_name((sx_pdir)d), sx_kind_name((sx_kind)k), who[c]);
          char want = EXPECT[t][d][k][c];
          sx_decision dec;
          /* enabled user: the table */
          sx_decide(s, "bob@contoso.com", DOMAINS[t], ext, (sx_pdir)d, (sx_kind)k, &dec);
          CHECK_INT(dec.verdict, want == 'A' ? SX_ALLOW : want == 'P' ? SX_PENDING : SX_DENY, ctx);
          CHECK_STR(dec.reason_code,
                    want == 'A' ? "allowed" : want == 'P' ? "pending_contact" : "not_in_contacts",
                    ctx);
          CHECK_STR(dec.xmpp_condition, want == 'D' ? "forbidden" : NULL, ctx);
          CHECK_INT(dec.sip_status, want == 'D' ? 403 : 0, ctx);
          CHECK_INT(dec.strip_status_notes, t != SX_PT_FEDERATED, ctx);
          CHECK_STR(dec.partner_domain, DOMAINS[t], ctx);
          CHECK_INT(dec.partner_type, t, ctx);
          CHECK_STR(dec.policy_name, "XmppOn", ctx);
          CHECK_STR(dec.policy_scope, "user", ctx);
          CHECK(dec.reason[0] != '\0' && !dec.reason_truncated, "%s: reason [%s]", ctx,
                dec.reason);
          /* the same with the contact state given by the caller */
          sx_decision dec2;
          sx_decide_with_relation(s, "bob@contoso.com", DOMAINS[t], STATES[c], (sx_pdir)d,
                                  (sx_kind)k, &dec2);
          CHECK_INT(dec2.verdict, dec.verdict, ctx);
          /* a user not enabled: step 2 refuses before step 3, whatever the contact */
          sx_decide(s, "alice@contoso.com", DOMAINS[t], ext, (sx_pdir)d, (sx_kind)k, &dec);
          CHECK_INT(dec.verdict, SX_DENY, ctx);
          CHECK_STR(dec.reason_code, "user_not_enabled", ctx);
          CHECK_STR(dec.xmpp_condition, "forbidden", ctx);
          CHECK_INT(dec.sip_status, 403, ctx);
          CHECK(strstr(dec.reason, "alice@contoso.com is not enabled for XMPP") != NULL,
                "%s: [%s]", ctx, dec.reason);
          CHECK(strstr(dec.reason, "global policy 'global'") != NULL, "%s: [%s]", ctx,
                dec.reason);
          /* a non-partner domain: step 1, for enabled and not enabled users */
          char other[64];
          snprintf(other, sizeof other, "%s@not-%s", who[c], DOMAINS[t]);
          sx_decide(s, "bob@contoso.com", other + strlen(who[c]) + 1, other, (sx_pdir)d,
                    (sx_kind)k, &dec);
          CHECK_INT(dec.verdict, SX_DENY, ctx);
          CHECK_STR(dec.reason_code, "not_partner", ctx);
          CHECK_STR(dec.xmpp_condition, "service-unavailable", ctx);
          CHECK_INT(dec.sip_status, 403, ctx);
          CHECK(dec.partner_domain == NULL, "%s", ctx);
          sx_decide(s, "alice@contoso.com", other + strlen(who[c]) + 1, other, (sx_pdir)d,
                    (sx_kind)k, &dec);
          CHECK_STR(dec.reason_code, "not_partner", ctx);
          cases++;
        }
  CHECK_INT(cases, 72, "table cases");

  /* reason texts name the rule */
  sx_decision dec;
  sx_decide(s, "bob@contoso.com", "fabrikam.example", "carol@fabrikam.example", SX_DIR_OUT,
            SX_KIND_MESSAGE, &dec);
  CHECK_STR(dec.reason, "fabrikam.example is not an XMPP partner", "non-partner reason");
  sx_decide(s, "bob@contoso.com", "pu.example", "erin@pu.example", SX_DIR_IN, SX_KIND_MESSAGE,
            &dec);
  CHECK(strstr(dec.reason, "PublicUnverified") && strstr(dec.reason, "has not added"),
        "unverified reason [%s]", dec.reason);
  sx_decide(s, "bob@contoso.com", "fed.example", "erin@fed.example", SX_DIR_IN,
            SX_KIND_SUBSCRIBE, &dec);
  CHECK(strstr(dec.reason, "approved without asking") && strstr(dec.reason, "'XmppOn'"),
        "federated reason [%s]", dec.reason);
  sx_decide(s, "bob@contoso.com", "pu.example", "dave@pu.example", SX_DIR_IN,
            SX_KIND_SUBSCRIBE, &dec);
  CHECK(strstr(dec.reason, "held until bob@contoso.com adds dave@pu.example"),
        "pending reason [%s]", dec.reason);
  sx_snap_free(s);
}

/* ---- scope precedence ---------------------------------------------------------------- */

static void test_precedence(void) {
  sx_policy_snap *s = sx_snap_new();
  /* users before policies: tags are looked up when deciding */
  sx_snap_add_user(s, "u1@c.com", NULL, NULL);           /* global */
  sx_snap_add_user(s, "u2@c.com", "redmond", NULL);      /* site */
  sx_snap_add_user(s, "u3@c.com", "Redmond", "Off");     /* tag over site (even to disable) */
  sx_snap_add_user(s, "u4@c.com", "paris", NULL);        /* site without policy → global */
  sx_snap_add_user(s, "u5@c.com", NULL, "tag:On");       /* tag over global */
  sx_snap_add_user(s, "u6@c.com", "redmond", "Missing"); /* dangling tag → site */
  sx_snap_add_user(s, "u7@c.com", "Redmond", "site:redmond"); /* not a tag → site */
  sx_snap_add_user(s, "u8@c.com", "lab.", NULL);         /* a site name ending in a dot */
  CHECK_INT(sx_snap_add_policy(s, "global", 0), 0, "global");
  CHECK_INT(sx_snap_add_policy(s, "site:REDMOND", SX_POL_XMPP | SX_POL_OUTSIDE), 0, "site");
  CHECK_INT(sx_snap_add_policy(s, "Off", SX_POL_FEDERATION), 0, "off");
  CHECK_INT(sx_snap_add_policy(s, "on", SX_POL_XMPP), 0, "on");
  CHECK_INT(sx_snap_add_policy(s, "site:lab.", SX_POL_XMPP), 0, "site with a dot");
  sx_snap_add_partner(s, "fabrikam.com", SX_PT_FEDERATED);
  static const struct {
    const char *user;
    const char *policy, *scope;
    sx_verdict v;
  } rows[] = {
      {"u1@c.com", "global", "global", SX_DENY},
      {"u2@c.com", "site:REDMOND", "site", SX_ALLOW},
      {"u3@c.com", "Off", "user", SX_DENY},
      {"u4@c.com", "global", "global", SX_DENY},
      {"u5@c.com", "on", "user", SX_ALLOW},
      {"u6@c.com", "site:REDMOND", "site", SX_ALLOW},
      {"u7@c.com", "site:REDMOND", "site", SX_ALLOW},
      {"u8@c.com", "site:lab.", "site", SX_ALLOW},
      {"unknown@c.com", "global", "global", SX_DENY},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    sx_decision d;
    sx_decide(s, rows[i].user, "fabrikam.com", "carol@fabrikam.com", SX_DIR_OUT,
              SX_KIND_MESSAGE, &d);
    CHECK_STR(d.policy_name, rows[i].policy, rows[i].user);
    CHECK_STR(d.policy_scope, rows[i].scope, rows[i].user);
    CHECK_INT(d.verdict, rows[i].v, rows[i].user);
  }
  /* sx_snap_effective agrees */
  const char *nm;
  sx_scope sc;
  CHECK_INT(sx_snap_effective(s, "u2@c.com", &nm, &sc), SX_POL_XMPP | SX_POL_OUTSIDE, "eff u2");
  CHECK_STR(nm, "site:REDMOND", "eff u2 name");
  CHECK_INT(sc, SX_SCOPE_SITE, "eff u2 scope");
  CHECK_INT(sx_snap_effective(s, "u3@c.com", &nm, &sc), SX_POL_FEDERATION, "eff u3");
  CHECK_INT(sc, SX_SCOPE_TAG, "eff u3 scope");

  /* removing the grant (re-adding the user without a tag) falls back to the site */
  sx_snap_add_user(s, "u3@c.com", "Redmond", NULL);
  sx_decision d;
  sx_decide(s, "u3@c.com", "fabrikam.com", "carol@fabrikam.com", SX_DIR_OUT, SX_KIND_MESSAGE, &d);
  CHECK_STR(d.policy_name, "site:REDMOND", "u3 after --none");
  CHECK_INT(d.verdict, SX_ALLOW, "u3 after --none");
  /* changing a policy's flags replaces them */
  sx_snap_add_policy(s, "GLOBAL", SX_POL_XMPP);
  sx_decide(s, "u1@c.com", "fabrikam.com", "carol@fabrikam.com", SX_DIR_OUT, SX_KIND_MESSAGE, &d);
  CHECK_INT(d.verdict, SX_ALLOW, "global switched on");

  sx_snap_counts cnt;
  sx_snap_get_counts(s, &cnt);
  CHECK_INT(cnt.policies, 5, "policies");
  CHECK_INT(cnt.users, 8, "users");
  CHECK_INT(cnt.partners, 1, "partners");
  sx_snap_free(s);

  /* no global policy at all: nobody is enabled */
  s = sx_snap_new();
  sx_snap_add_partner(s, "fabrikam.com", SX_PT_FEDERATED);
  sx_decide(s, "u1@c.com", "fabrikam.com", "carol@fabrikam.com", SX_DIR_OUT, SX_KIND_MESSAGE, &d);
  CHECK_STR(d.reason_code, "user_not_enabled", "no global");
  CHECK(strstr(d.reason, "no policy applies") != NULL, "no global reason [%s]", d.reason);
  sx_snap_free(s);
}

/* ---- TLS × SASL × dialback ----------------------------------------------------------- */

static void test_validate(void) {
#define R SX_NEGO_REQUIRED
#define O SX_NEGO_OPTIONAL
#define N SX_NEGO_NOT_SUPPORTED
  static const struct {
    sx_nego tls, sasl;
    int dialback, want;
    const char *needle; /* in the message */
  } rows[] = {
      {R, R, 1, 1, "dialback can never be used"},
      {R, R, 0, 0, ""},
      {R, O, 1, 0, ""},
      {R, O, 0, 0, ""},
      {R, N, 1, 0, ""},
      {R, N, 0, -1, "--dialback on"},
      {O, R, 1, 1, "TlsNegotiation Optional"},
      {O, R, 0, 1, "TlsNegotiation Optional"},
      {O, O, 1, 0, ""},
      {O, O, 0, 0, ""},
      {O, N, 1, 0, ""},
      {O, N, 0, -1, "SaslNegotiation NotSupported"},
      {N, R, 1, -1, "requires TLS"},
      {N, R, 0, -1, "requires TLS"},
      {N, O, 1, -1, "requires TLS"},
      {N, O, 0, -1, "requires TLS"},
      {N, N, 1, 0, ""},
      {N, N, 0, -1, "TlsNegotiation NotSupported"},
  };
  int counts[3] = {0, 0, 0};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char ctx[96], msg[512];
    snprintf(ctx, sizeof ctx, "tls=%s sasl=%s dialback=%d", sx_nego_name(rows[i].tls),
             sx_nego_name(rows[i].sasl), rows[i].dialback);
    int r = sx_partner_validate(rows[i].tls, rows[i].sasl, rows[i].dialback, msg, sizeof msg);
    CHECK_INT(r, rows[i].want, ctx);
    CHECK(strstr(msg, rows[i].needle) != NULL, "%s: message [%s] lacks [%s]", ctx, msg,
          rows[i].needle);
    if (r != 0) CHECK(strlen(msg) > 20, "%s: message too short", ctx);
    if (r == -1) CHECK(strstr(msg, "fix:") != NULL, "%s: no fix in [%s]", ctx, msg);
    if (r == 0) CHECK_STR(msg, "", ctx);
    counts[r + 1]++;
  }
  CHECK_INT(sizeof rows / sizeof rows[0], 18, "combinations");
  CHECK_INT(counts[0], 7, "invalid");
  CHECK_INT(counts[1], 8, "ok");
  CHECK_INT(counts[2], 3, "warn");
  /* a small buffer still gets a terminated message */
  char tiny[8];
  CHECK_INT(sx_partner_validate(N, R, 1, tiny, sizeof tiny), -1, "tiny");
  CHECK_INT(strlen(tiny), 7, "tiny terminated");
#undef R
#undef O
#undef N
}

/* ---- canonical forms ----------------------------------------------------------------- */

static void test_canonical(void) {
  static const char *const bob[] = {
      "sip:bob@contoso.com",   "sip:BOB@Contoso.COM.",    "sip:b%6Fb@contoso.com",
      "SIP:Bob@CONTOSO.com",   "sip:bob@contoso.com;gr=x", "sip:bob@contoso.com:5060;transport=tcp",
      "bob@contoso.com",       "BOB@Contoso.Com",          "xmpp:Bob@contoso.com",
      "bob@contoso.com/phone", "sip:%42%4f%42@contoso.com",
      /* the edge's stringprep folds these to bob too: no spelling escapes the denial */
      "sip:%EF%BD%82%EF%BD%8F%EF%BD%82@contoso.com", /* fullwidth */
      "\xEF\xBC\xA2OB@contoso.com",                 /* FULLWIDTH B */
      "sip:b%E2%80%8Bob@contoso.com",                /* zero-width space */
      "b\xC2\xAD" "ob@contoso.com",                  /* soft hyphen */
      "bob@\xEF\xBD\x83ontoso.com",                  /* fullwidth domain letter */
  };
  sx_policy_snap *s = sx_snap_new();
  sx_snap_add_policy(s, "global", SX_POL_XMPP); /* everyone enabled ... */
  sx_snap_add_policy(s, "NoXmpp", 0);
  sx_snap_add_user(s, "bob@contoso.com", NULL, "NoXmpp"); /* ... except bob */
  sx_snap_add_partner(s, "fabrikam.com", SX_PT_PUBLIC_UNVERIFIED);
  sx_snap_add_partner_domain(s, "fabrikam.com", "corp.fabrikam.com");
  for (size_t i = 0; i < sizeof bob / sizeof bob[0]; i++) {
    const char *msg = NULL;
    char *k = sx_canon_key(bob[i], &msg, NULL);
    CHECK_STR(k, "bob@contoso.com", bob[i]);
    sx_decision d;
    sx_decide(s, k, "fabrikam.com", "carol@fabrikam.com", SX_DIR_OUT, SX_KIND_MESSAGE, &d);
    CHECK_INT(d.verdict, SX_DENY, bob[i]);
    CHECK_STR(d.reason_code, "user_not_enabled", bob[i]);
    free(k);
  }
  /* another user is enabled: the denial is bob's alone */
  sx_decision d;
  sx_decide(s, "alice@contoso.com", "fabrikam.com", "carol@fabrikam.com", SX_DIR_OUT,
            SX_KIND_MESSAGE, &d);
  CHECK_INT(d.verdict, SX_ALLOW, "alice");

  /* domain variants: partners match case-insensitively with a trailing dot; others never */
  static const struct {
    const char *domain;
    int partner;
  } doms[] = {
      {"fabrikam.com", 1},       {"FABRIKAM.COM", 1},      {"Fabrikam.Com.", 1},
      {"corp.fabrikam.com", 1},  {"CORP.Fabrikam.COM.", 1}, {"it.fabrikam.com", 0},
      {"fabrikam.com..", 0},     {"xfabrikam.com", 0},     {"fabrikam.co", 0},
      {"evil.example", 0},       {"EVIL.example.", 0},     {"", 0},
  };
  for (size_t i = 0; i < sizeof doms / sizeof doms[0]; i++) {
    sx_decide(s, "alice@contoso.com", doms[i].domain, NULL, SX_DIR_OUT, SX_KIND_MESSAGE, &d);
    CHECK_INT(d.verdict, doms[i].partner ? SX_ALLOW : SX_DENY, doms[i].domain);
    if (doms[i].partner) CHECK_STR(d.partner_domain, "fabrikam.com", doms[i].domain);
  }
  /* contact keys: the added contact in any spelling is one contact */
  sx_snap_add_policy(s, "NoXmpp", SX_POL_XMPP);
  char *ck = sx_canon_key("Carol@FABRIKAM.com.", NULL, NULL);
  CHECK_STR(ck, "carol@fabrikam.com", "contact key");
  sx_snap_add_relation(s, "bob@contoso.com", ck, ADDED);
  static const char *const carol[] = {"carol@fabrikam.com", "CAROL@fabrikam.com",
                                      "sip:carol@Fabrikam.com", "carol@fabrikam.com/res"};
  for (size_t i = 0; i < sizeof carol / sizeof carol[0]; i++) {
    char *k = sx_canon_key(carol[i], NULL, NULL);
    sx_decide(s, "bob@contoso.com", "fabrikam.com", k, SX_DIR_IN, SX_KIND_MESSAGE, &d);
    CHECK_INT(d.verdict, SX_ALLOW, carol[i]);
    free(k);
  }
  /* a different contact is not let in by the added one */
  sx_decide(s, "bob@contoso.com", "fabrikam.com", "carol2@fabrikam.com", SX_DIR_IN,
            SX_KIND_MESSAGE, &d);
  CHECK_INT(d.verdict, SX_DENY, "other contact");
  free(ck);

  /* addresses sx_canon_key refuses */
  static const struct {
    const char *text;
    int status;
  } bad[] = {
      {"", 400}, {"sips:bob@contoso.com", 403}, {"tel:+15551234", 416}, {"contoso.com", 484},
      {"sip:@contoso.com", 484},         {"sip:%E2%80%8B@contoso.com", 400},
      {"b\xC2\xA0ob@contoso.com", 400},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *msg = NULL;
    int st = 0;
    char *k = sx_canon_key(bad[i].text, &msg, &st);
    CHECK(k == NULL, "%s: accepted as %s", bad[i].text, k ? k : "");
    CHECK(msg != NULL, "%s: no message", bad[i].text);
    CHECK_INT(st, bad[i].status, bad[i].text);
    free(k);
  }
  sx_snap_free(s);
}

/* ---- edges --------------------------------------------------------------------------- */

static void test_edges(void) {
  sx_decision d;
  /* no snapshot or empty inputs: a verdict all the same */
  sx_decide(NULL, "bob@contoso.com", "fabrikam.com", NULL, SX_DIR_OUT, SX_KIND_MESSAGE, &d);
  CHECK_STR(d.reason_code, "not_partner", "null snap");
  sx_decide(NULL, NULL, "fabrikam.com", NULL, SX_DIR_OUT, SX_KIND_MESSAGE, &d);
  CHECK_STR(d.reason_code, "bad_address", "null user");
  CHECK_STR(d.xmpp_condition, "jid-malformed", "null user");
  sx_decide(NULL, "bob@contoso.com", "", NULL, SX_DIR_IN, SX_KIND_MESSAGE, &d);
  CHECK_STR(d.reason_code, "bad_address", "empty domain");

  /* very long input: the reason is marked, not cut silently */
  size_t n = 3000;
  char *dom = malloc(n + 1);
  memset(dom, 'a', n);
  dom[n] = '\0';
  sx_decide(NULL, "bob@contoso.com", dom, NULL, SX_DIR_OUT, SX_KIND_MESSAGE, &d);
  CHECK_INT(d.reason_truncated, 1, "long reason truncated flag");
  CHECK_INT(strlen(d.reason), SX_REASON_MAX - 1, "long reason length");
  CHECK(strcmp(d.reason + SX_REASON_MAX - 4, "...") == 0, "long reason ends in ...");
  free(dom);

  /* builders refuse bad arguments */
  sx_policy_snap *s = sx_snap_new();
  CHECK_INT(sx_snap_add_policy(s, "bad name!", 0), -1, "bad policy name");
  CHECK_INT(sx_snap_add_user(s, "", NULL, NULL), -1, "empty user");
  CHECK_INT(sx_snap_add_partner_domain(s, "nope.com", "x.nope.com"), -1, "unknown primary");
  sx_snap_add_partner(s, "a.com", SX_PT_FEDERATED);
  sx_snap_add_partner_domain(s, "a.com", "b.com");
  CHECK_INT(sx_snap_add_partner_domain(s, "b.com", "c.com"), -1, "additional as primary");
  sx_snap_set_generation(s, 42);
  CHECK_INT(sx_snap_generation(s), 42, "generation");
  const char *prim = NULL;
  sx_ptype t;
  CHECK_INT(sx_snap_partner(s, "B.COM.", &prim, &t), 1, "partner lookup");
  CHECK_STR(prim, "a.com", "partner primary");
  /* many entries force the tables to grow */
  for (int i = 0; i < 5000; i++) {
    char k[64];
    snprintf(k, sizeof k, "user%d@contoso.com", i);
    sx_snap_add_user(s, k, i % 2 ? "s1" : NULL, i % 3 ? "t" : NULL);
    snprintf(k, sizeof k, "p%d.example", i);
    sx_snap_add_partner(s, k, SX_PT_PUBLIC_VERIFIED);
  }
  sx_snap_add_policy(s, "t", SX_POL_XMPP);
  sx_decide(s, "user4999@contoso.com", "P4999.example", NULL, SX_DIR_IN, SX_KIND_MESSAGE, &d);
  CHECK_INT(d.verdict, SX_ALLOW, "grown tables");
  sx_decide(s, "user3@contoso.com", "p3.example", NULL, SX_DIR_IN, SX_KIND_MESSAGE, &d);
  CHECK_STR(d.reason_code, "user_not_enabled", "grown tables, no tag");
  sx_snap_free(s);
  sx_snap_free(NULL);
}

/* ---- names and parsing --------------------------------------------------------------- */

/* The flag table: each flag once, all of them, with every name set and distinct. */
static void test_flag_table(void) {
  unsigned all = 0;
  for (size_t i = 0; i < SX_POL_NFLAGS; i++) {
    const sx_pol_flag *f = &SX_POL_FLAGS[i];
    CHECK(f->opt && f->lync && f->label, "flag %zu: a name is missing", i);
    CHECK((all & f->flag) == 0, "flag %zu listed twice", i);
    all |= f->flag;
    for (size_t j = 0; j < i; j++) {
      CHECK(strcmp(f->opt, SX_POL_FLAGS[j].opt) != 0, "flag %zu: option repeated", i);
      CHECK(strcmp(f->lync, SX_POL_FLAGS[j].lync) != 0, "flag %zu: name repeated", i);
    }
  }
  CHECK_INT(all, SX_POL_ALL, "flags");
  CHECK_STR(SX_POL_FLAGS[0].lync, "EnableXmppAccess", "flag 0");
  CHECK_STR(SX_POL_FLAGS[3].opt, "outside", "flag 3");
}

static void test_names(void) {
  static const struct {
    const char *in;
    int rc;
    sx_scope scope;
    const char *canon;
  } rows[] = {
      {"global", 0, SX_SCOPE_GLOBAL, "global"},
      {"Global", 0, SX_SCOPE_GLOBAL, "global"},
      {"site:redmond", 0, SX_SCOPE_SITE, "site:redmond"},
      {"SITE:Redmond", 0, SX_SCOPE_SITE, "site:Redmond"},
      {"FedPic", 0, SX_SCOPE_TAG, "FedPic"},
      {"tag:FedPic", 0, SX_SCOPE_TAG, "FedPic"},
      {"a.b-c_d9", 0, SX_SCOPE_TAG, "a.b-c_d9"},
      {"", -1, 0, NULL},
      {"site:", -1, 0, NULL},
      {"tag:", -1, 0, NULL},
      {"tag:global", -1, 0, NULL},
      {"has space", -1, 0, NULL},
      {"x:y", -1, 0, NULL},
      {"site:a/b", -1, 0, NULL},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    sx_scope sc = SX_SCOPE_GLOBAL;
    char canon[256] = "", msg[256] = "";
    int r = sx_policy_name_check(rows[i].in, &sc, canon, sizeof canon, msg, sizeof msg);
    CHECK_INT(r, rows[i].rc, rows[i].in);
    if (r == 0) {
      CHECK_INT(sc, rows[i].scope, rows[i].in);
      CHECK_STR(canon, rows[i].canon, rows[i].in);
    } else {
      CHECK(msg[0] != '\0', "%s: no message", rows[i].in);
    }
  }
  char long_name[200];
  memset(long_name, 'x', 129);
  long_name[129] = '\0';
  CHECK_INT(sx_policy_name_check(long_name, NULL, NULL, 0, NULL, 0), -1, "129 chars");
  long_name[128] = '\0';
  CHECK_INT(sx_policy_name_check(long_name, NULL, NULL, 0, NULL, 0), 0, "128 chars");

  static const struct {
    const char *in;
    int ok;
    sx_ptype t;
  } pt[] = {{"federated", 1, SX_PT_FEDERATED},          {"Federated", 1, SX_PT_FEDERATED},
            {"public-verified", 1, SX_PT_PUBLIC_VERIFIED}, {"PublicVerified", 1, SX_PT_PUBLIC_VERIFIED},
            {"public_unverified", 1, SX_PT_PUBLIC_UNVERIFIED}, {"public", 0, 0}, {"", 0, 0}};
  for (size_t i = 0; i < sizeof pt / sizeof pt[0]; i++) {
    sx_ptype t = SX_PT_FEDERATED;
    CHECK_INT(sx_ptype_parse(pt[i].in, &t), pt[i].ok ? 0 : -1, pt[i].in);
    if (pt[i].ok) CHECK_INT(t, pt[i].t, pt[i].in);
  }
  static const struct {
    const char *in;
    int ok;
    sx_nego v;
  } ng[] = {{"required", 1, SX_NEGO_REQUIRED}, {"Optional", 1, SX_NEGO_OPTIONAL},
            {"not-supported", 1, SX_NEGO_NOT_SUPPORTED}, {"NotSupported", 1, SX_NEGO_NOT_SUPPORTED},
            {"no", 0, 0}, {"requiredx", 0, 0}};
  for (size_t i = 0; i < sizeof ng / sizeof ng[0]; i++) {
    sx_nego v = SX_NEGO_REQUIRED;
    CHECK_INT(sx_nego_parse(ng[i].in, &v), ng[i].ok ? 0 : -1, ng[i].in);
    if (ng[i].ok) CHECK_INT(v, ng[i].v, ng[i].in);
  }
  CHECK_STR(sx_ptype_name(SX_PT_PUBLIC_UNVERIFIED), "PublicUnverified", "ptype name");
  CHECK_STR(sx_nego_name(SX_NEGO_NOT_SUPPORTED), "NotSupported", "nego name");
  CHECK_STR(sx_verdict_name(SX_PENDING), "pending", "verdict name");

  static const struct {
    const char *in, *out;
  } dm[] = {{"Fabrikam.COM.", "fabrikam.com"}, {"a.b", "a.b"},        {"xn--bcher-kva.example", "xn--bcher-kva.example"},
            {"", NULL},                         {".", NULL},           {"a..b", NULL},
            {"a b", NULL},                      {"a@b", NULL},         {"a/b", NULL},
            {"a,b", NULL},                      {".a", NULL},          {"a:5269", NULL},
            {"\xEF\xBD\x86" "abrikam.com", "fabrikam.com"},           {"b\xC3\xBC" "cher.example", NULL}};
  for (size_t i = 0; i < sizeof dm / sizeof dm[0]; i++) {
    char out[64], msg[256];
    int r = sx_domain_normalize(dm[i].in, out, sizeof out, msg, sizeof msg);
    CHECK_INT(r, dm[i].out ? 0 : -1, dm[i].in);
    if (dm[i].out) CHECK_STR(out, dm[i].out, dm[i].in);
  }
}

int main(void) {
  test_table();
  test_precedence();
  test_validate();
  test_canonical();
  test_edges();
  test_names();
  test_flag_table();
  return check_done();
}
