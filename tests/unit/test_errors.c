/* The RFC 7247 §7 error tables (SPEC §6), every row, both directions. */
#include <string.h>

#include "check.h"
#include "translate/errors.h"

/* SPEC §6, XMPP condition → SIP: condition, status for a full JID, for a bare JID,
 * and (gone only) with a new address. */
static const struct {
  const char *cond;
  int full, bare, with_addr;
} x2s[] = {
    {"bad-request", 400, 400, 400},
    {"conflict", 400, 400, 400},
    {"feature-not-implemented", 405, 501, 405},
    {"forbidden", 403, 603, 403},
    {"gone", 410, 410, 301},
    {"internal-server-error", 500, 500, 500},
    {"item-not-found", 404, 604, 404},
    {"jid-malformed", 400, 400, 400},
    {"not-acceptable", 406, 606, 406},
    {"not-allowed", 403, 403, 403},
    {"not-authorized", 401, 401, 401},
    {"policy-violation", 403, 403, 403},
    {"recipient-unavailable", 480, 600, 480},
    {"redirect", 302, 302, 302},
    {"registration-required", 407, 407, 407},
    {"remote-server-not-found", 404, 404, 404},
    {"remote-server-timeout", 408, 408, 408},
    {"resource-constraint", 500, 500, 500},
    {"service-unavailable", 403, 403, 403},
    {"subscription-required", 400, 400, 400},
    {"undefined-condition", 400, 400, 400},
    {"unexpected-request", 491, 491, 491},
    /* unknown conditions */
    {"no-such-condition", 400, 400, 400},
    {"", 400, 400, 400},
};

/* SPEC §6, SIP → XMPP condition: every listed code, then the class fallbacks. */
static const struct {
  int status;
  const char *cond;
} s2x[] = {
    {301, "gone"},
    {400, "bad-request"},
    {401, "not-authorized"},
    {402, "bad-request"},
    {403, "forbidden"},
    {404, "item-not-found"},
    {405, "feature-not-implemented"},
    {406, "not-acceptable"},
    {407, "registration-required"},
    {408, "remote-server-timeout"},
    {410, "gone"},
    {413, "policy-violation"},
    {414, "policy-violation"},
    {415, "not-acceptable"},
    {416, "not-acceptable"},
    {420, "feature-not-implemented"},
    {423, "resource-constraint"},
    {430, "recipient-unavailable"},
    {480, "recipient-unavailable"},
    {481, "item-not-found"},
    {482, "not-acceptable"},
    {483, "not-acceptable"},
    {484, "item-not-found"},
    {485, "item-not-found"},
    {486, "recipient-unavailable"},
    {487, "recipient-unavailable"},
    {488, "not-acceptable"},
    {489, "policy-violation"},
    {491, "unexpected-request"},
    {493, "bad-request"},
    {500, "internal-server-error"},
    {501, "feature-not-implemented"},
    {502, "remote-server-not-found"},
    {503, "internal-server-error"},
    {504, "remote-server-timeout"},
    {505, "not-acceptable"},
    {513, "policy-violation"},
    {600, "recipient-unavailable"},
    {603, "recipient-unavailable"},
    {604, "item-not-found"},
    {606, "not-acceptable"},
    /* class fallbacks */
    {300, "redirect"},
    {302, "redirect"},
    {305, "redirect"},
    {380, "redirect"},
    {399, "redirect"},
    {409, "bad-request"},
    {418, "bad-request"},
    {422, "bad-request"},
    {494, "bad-request"},
    {499, "bad-request"},
    {555, "internal-server-error"},
    {580, "internal-server-error"},
    {599, "internal-server-error"},
    {601, "recipient-unavailable"},
    {607, "recipient-unavailable"},
    {699, "recipient-unavailable"},
    /* outside 300..699 */
    {0, NULL},
    {100, NULL},
    {200, NULL},
    {202, NULL},
    {299, NULL},
    {700, NULL},
    {-1, NULL},
};

/* RFC 6120 §8.3.3 error types. */
static const struct {
  const char *cond, *type;
} types[] = {
    {"bad-request", "modify"},
    {"conflict", "cancel"},
    {"feature-not-implemented", "cancel"},
    {"forbidden", "auth"},
    {"gone", "cancel"},
    {"internal-server-error", "cancel"},
    {"item-not-found", "cancel"},
    {"jid-malformed", "modify"},
    {"not-acceptable", "modify"},
    {"not-allowed", "cancel"},
    {"not-authorized", "auth"},
    {"policy-violation", "modify"},
    {"recipient-unavailable", "wait"},
    {"redirect", "modify"},
    {"registration-required", "auth"},
    {"remote-server-not-found", "cancel"},
    {"remote-server-timeout", "wait"},
    {"resource-constraint", "wait"},
    {"service-unavailable", "cancel"},
    {"subscription-required", "auth"},
    {"undefined-condition", "cancel"},
    {"unexpected-request", "wait"},
};

static const struct {
  int status;
  const char *phrase;
} phrases[] = {
    {100, "Trying"},
    {180, "Ringing"},
    {200, "OK"},
    {202, "Accepted"},
    {204, "No Notification"},
    {301, "Moved Permanently"},
    {302, "Moved Temporarily"},
    {400, "Bad Request"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {413, "Request Entity Too Large"},
    {415, "Unsupported Media Type"},
    {416, "Unsupported URI Scheme"},
    {420, "Bad Extension"},
    {423, "Interval Too Brief"},
    {428, "Use Identity Header"},
    {429, "Provide Referrer Identity"},
    {430, "Flow Failed"},
    {433, "Anonymity Disallowed"},
    {436, "Bad Identity-Info"},
    {437, "Unsupported Certificate"},
    {438, "Invalid Identity Header"},
    {439, "First Hop Lacks Outbound Support"},
    {440, "Max-Breadth Exceeded"},
    {469, "Bad Info Package"},
    {470, "Consent Needed"},
    {480, "Temporarily Unavailable"},
    {481, "Call/Transaction Does Not Exist"},
    {482, "Loop Detected"},
    {483, "Too Many Hops"},
    {484, "Address Incomplete"},
    {485, "Ambiguous"},
    {486, "Busy Here"},
    {487, "Request Terminated"},
    {488, "Not Acceptable Here"},
    {489, "Bad Event"},
    {491, "Request Pending"},
    {493, "Undecipherable"},
    {494, "Security Agreement Required"},
    {500, "Server Internal Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Server Time-out"},
    {505, "Version Not Supported"},
    {513, "Message Too Large"},
    {580, "Precondition Failure"},
    {600, "Busy Everywhere"},
    {603, "Decline"},
    {604, "Does Not Exist Anywhere"},
    {606, "Not Acceptable"},
    {299, "Unknown"},
    {999, "Unknown"},
};

int main(void) {
  char ctx[128];
  for (size_t i = 0; i < sizeof x2s / sizeof x2s[0]; i++) {
    snprintf(ctx, sizeof ctx, "%s full", x2s[i].cond);
    CHECK_INT(sx_err_xmpp_to_sip(x2s[i].cond, 1, 0), x2s[i].full, ctx);
    snprintf(ctx, sizeof ctx, "%s bare", x2s[i].cond);
    CHECK_INT(sx_err_xmpp_to_sip(x2s[i].cond, 0, 0), x2s[i].bare, ctx);
    snprintf(ctx, sizeof ctx, "%s new address (full)", x2s[i].cond);
    CHECK_INT(sx_err_xmpp_to_sip(x2s[i].cond, 1, 1), x2s[i].with_addr, ctx);
    snprintf(ctx, sizeof ctx, "%s new address (bare)", x2s[i].cond);
    int want_bare_addr = strcmp(x2s[i].cond, "gone") == 0 ? 301 : x2s[i].bare;
    CHECK_INT(sx_err_xmpp_to_sip(x2s[i].cond, 0, 1), want_bare_addr, ctx);
  }
  CHECK_INT(sx_err_xmpp_to_sip(NULL, 1, 0), 400, "NULL condition");
  /* service-unavailable is never 503 */
  for (int f = 0; f < 2; f++)
    for (int a = 0; a < 2; a++)
      CHECK(sx_err_xmpp_to_sip("service-unavailable", f, a) != 503, "never 503");

  for (size_t i = 0; i < sizeof s2x / sizeof s2x[0]; i++) {
    snprintf(ctx, sizeof ctx, "sip %d", s2x[i].status);
    CHECK_STR(sx_err_sip_to_xmpp(s2x[i].status), s2x[i].cond, ctx);
  }
  /* every status 300..699 maps to a defined condition */
  for (int s = 300; s <= 699; s++) {
    const char *c = sx_err_sip_to_xmpp(s);
    CHECK(c && sx_err_is_condition(c), "status %d → %s", s, c ? c : "(null)");
  }
  /* every condition maps to a final failure status */
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    for (int f = 0; f < 2; f++) {
      int s = sx_err_xmpp_to_sip(types[i].cond, f, 0);
      CHECK(s >= 300 && s <= 699, "%s → %d", types[i].cond, s);
    }

  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    CHECK_STR(sx_err_type(types[i].cond), types[i].type, types[i].cond);
    CHECK(sx_err_is_condition(types[i].cond), "%s is a condition", types[i].cond);
  }
  CHECK(!sx_err_is_condition("no-such-condition"), "unknown condition");
  CHECK(!sx_err_is_condition(""), "empty condition");
  CHECK(!sx_err_is_condition(NULL), "NULL condition");
  CHECK(!sx_err_is_condition("Bad-Request"), "conditions are case-sensitive");
  CHECK_STR(sx_err_type("no-such-condition"), "cancel", "unknown condition type");
  CHECK_STR(sx_err_type(NULL), "cancel", "NULL condition type");

  for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++) {
    snprintf(ctx, sizeof ctx, "phrase %d", phrases[i].status);
    CHECK_STR(sx_sip_phrase(phrases[i].status), phrases[i].phrase, ctx);
  }
  /* every code the error table produces has a phrase */
  for (size_t i = 0; i < sizeof x2s / sizeof x2s[0]; i++) {
    CHECK(strcmp(sx_sip_phrase(x2s[i].full), "Unknown") != 0, "phrase %d", x2s[i].full);
    CHECK(strcmp(sx_sip_phrase(x2s[i].bare), "Unknown") != 0, "phrase %d", x2s[i].bare);
    CHECK(strcmp(sx_sip_phrase(x2s[i].with_addr), "Unknown") != 0, "phrase %d",
          x2s[i].with_addr);
  }
  {
    /* texts to partners are neutral: no internal names, one per condition, never empty */
    static const char *const conds[] = {"forbidden", "not-allowed", "service-unavailable",
                                        "item-not-found", "recipient-unavailable",
                                        "resource-constraint", "jid-malformed",
                                        "policy-violation", "undefined-condition", NULL};
    for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++) {
      const char *t = sx_err_partner_text(conds[i]);
      CHECK(t && *t, "partner text for %s", conds[i] ? conds[i] : "NULL");
      CHECK(t && !strstr(t, "policy") && !strstr(t, "site") && !strstr(t, "Enable") &&
                !strstr(t, "global") && !strstr(t, "tag"),
            "neutral text for %s: %s", conds[i] ? conds[i] : "NULL", t ? t : "");
    }
    CHECK_STR(sx_err_partner_text("forbidden"), "not permitted by the recipient's organisation",
              "forbidden text");
  }
  return check_done();
}
