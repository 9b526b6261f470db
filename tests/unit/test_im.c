/* Instant-message mapping between SIP MESSAGE and XMPP <message/> (RFC 7572, SPEC §3). */
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* CHECK_INT evaluates its argument again to report a failure: call the function once. */
#define CHECK_RC(expr, want, ctx)                                                   \
  do {                                                                              \
    long rc_ = (long)(expr);                                                        \
    CHECK_INT(rc_, (want), (ctx));                                                  \
  } while (0)
#include "translate/im.h"

#define ALICE "sip:alice@example.com"
#define BOB "sip:bob@xmpp.example.org"

#define ISC(state)                                                                  \
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                   \
  "<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\">\n"                \
  "  <state>" state "</state>\n  <contenttype>text/plain</contenttype>\n"        \
  "  <refresh>60</refresh>\n</isComposing>\n"

#define CPIM(from, inner_hdrs, body)                                                \
  "From: Alice <" from ">\r\nTo: <xmpp:bob@xmpp.example.org>\r\n"                  \
  "DateTime: 2024-01-01T00:00:00Z\r\n\r\n" inner_hdrs "\r\n" body

/* ---- sx_im_from_sip -------------------------------------------------------------------- */

typedef struct {
  const char *name;
  /* input; from/ruri default to ALICE/BOB, len 0 means strlen(body), max 0 means 1024,
   * msg_type NULL means "chat" */
  const char *from, *ruri, *call_id, *subject, *ctype, *charset, *lang, *body;
  size_t len, max;
  const char *msg_type;
  /* expected refusal (rc -1) */
  int rc, status;
  const char *code;
  int warn, accept;
  /* expected message (rc 0); x_from/x_to default to alice@example.com / bob@xmpp.example.org,
   * x_type to msg_type; body, subject, thread, lang are compared as given (NULL = none) */
  const char *x_from, *x_to, *x_type, *x_body, *x_subject, *x_thread, *x_lang;
  sx_chat_state x_chat;
  const char *s_res, *t_res, *t_local;
} from_case;

static const from_case from_cases[] = {
    /* text/plain and charsets */
    {.name = "plain utf-8", .ctype = "text/plain", .charset = "UTF-8", .body = "hello",
     .x_body = "hello"},
    {.name = "plain no charset", .ctype = "text/plain", .body = "h\xc3\xa9llo",
     .x_body = "h\xc3\xa9llo"},
    {.name = "missing content type is text/plain", .body = "hi", .x_body = "hi"},
    {.name = "content type case", .ctype = "Text/PLAIN", .body = "hi", .x_body = "hi"},
    {.name = "iso-8859-1 converted", .ctype = "text/plain", .charset = "iso-8859-1",
     .body = "caf\xe9", .x_body = "caf\xc3\xa9"},
    {.name = "windows-1252 euro", .ctype = "text/plain", .charset = "windows-1252",
     .body = "\x80 5", .x_body = "\xe2\x82\xac 5"},
    {.name = "unknown charset", .ctype = "text/plain", .charset = "x-klingon", .body = "qapla",
     .rc = -1, .status = 415, .code = "unsupported_type", .warn = 1, .accept = 1},
    {.name = "bad utf-8", .ctype = "text/plain", .body = "a\xc3\x28", .rc = -1, .status = 400,
     .code = "bad_body", .warn = 1},
    {.name = "latin-1 labelled utf-8", .ctype = "text/plain", .charset = "utf-8",
     .body = "caf\xe9", .rc = -1, .status = 400, .code = "bad_body", .warn = 1},
    {.name = "overlong utf-8", .ctype = "text/plain", .body = "\xc0\xaf", .rc = -1,
     .status = 400, .code = "bad_body", .warn = 1},
    {.name = "control characters cleaned", .ctype = "text/plain", .body = "a\x01" "b\x1b" "c",
     .x_body = "abc"},
    {.name = "NUL cleaned", .ctype = "text/plain", .body = "ab\0cd", .len = 5,
     .x_body = "abcd"},
    {.name = "tab newline kept", .ctype = "text/plain", .body = "a\tb\r\nc",
     .x_body = "a\tb\r\nc"},
    {.name = "only control characters", .ctype = "text/plain", .body = "\x01\x02\x03",
     .rc = -1, .status = 400, .code = "bad_body", .warn = 1},
    {.name = "empty body", .ctype = "text/plain", .body = "", .rc = -1, .status = 400,
     .code = "bad_body", .warn = 1},
    {.name = "NULL body", .ctype = "text/plain", .rc = -1, .status = 400, .code = "bad_body",
     .warn = 1},

    /* size limit: max bytes ok, max+1 refused; converted size counts */
    {.name = "max exactly", .body = "hello", .max = 5, .x_body = "hello"},
    {.name = "max + 1", .body = "hello!", .max = 5, .rc = -1, .status = 413,
     .code = "too_large", .warn = 1},
    {.name = "utf-8 label, max + 1", .charset = "utf-8", .body = "hello!", .max = 5, .rc = -1,
     .status = 413, .code = "too_large", .warn = 1},
    {.name = "latin-1 converted fits", .charset = "iso-8859-1", .body = "caf\xe9", .max = 5,
     .x_body = "caf\xc3\xa9"},
    {.name = "latin-1 converted over", .charset = "iso-8859-1", .body = "caf\xe9", .max = 4,
     .rc = -1, .status = 413, .code = "too_large", .warn = 1},

    /* other content types */
    {.name = "text/html", .ctype = "text/html", .body = "<b>hi</b>", .rc = -1, .status = 415,
     .code = "unsupported_type", .accept = 1},
    {.name = "application/octet-stream", .ctype = "application/octet-stream", .body = "x",
     .rc = -1, .status = 415, .code = "unsupported_type", .accept = 1},

    /* headers */
    {.name = "subject call-id lang", .ctype = "text/plain", .body = "hi",
     .subject = "Hello there", .call_id = "a84b4c76e66710@pc33.atlanta.com", .lang = "en-GB",
     .x_body = "hi", .x_subject = "Hello there", .x_thread = "a84b4c76e66710@pc33.atlanta.com",
     .x_lang = "en-GB"},
    {.name = "subject control chars cleaned", .body = "hi", .subject = "a\x01" "b",
     .x_body = "hi", .x_subject = "ab"},
    {.name = "subject bad utf-8", .body = "hi", .subject = "caf\xe9", .rc = -1, .status = 400,
     .code = "bad_header", .warn = 1},
    {.name = "lang underscore dropped", .body = "hi", .lang = "en_GB", .x_body = "hi"},
    {.name = "lang list dropped", .body = "hi", .lang = "en, fr", .x_body = "hi"},
    {.name = "lang markup dropped", .body = "hi", .lang = "<x>", .x_body = "hi"},
    {.name = "lang empty dropped", .body = "hi", .lang = "", .x_body = "hi"},
    {.name = "msg_type normal", .body = "hi", .msg_type = "normal", .x_body = "hi"},

    /* message/cpim */
    {.name = "cpim sip: from equal", .ctype = "message/cpim",
     .body = CPIM("sip:alice@example.com", "Content-Type: text/plain; charset=utf-8\r\n",
                  "hello"),
     .x_body = "hello"},
    {.name = "cpim im: from equal", .ctype = "message/cpim",
     .body = CPIM("im:alice@example.com", "Content-Type: text/plain\r\n", "hello"),
     .x_body = "hello"},
    {.name = "cpim xmpp: from equal", .ctype = "Message/CPIM",
     .body = CPIM("xmpp:alice@example.com", "Content-Type: text/plain\r\n", "hello"),
     .x_body = "hello"},
    {.name = "cpim from equal modulo case and trailing dot", .ctype = "message/cpim",
     .body = CPIM("sip:ALICE@Example.COM.", "Content-Type: text/plain\r\n", "hello"),
     .x_body = "hello"},
    {.name = "cpim from equal, percent-encoded", .ctype = "message/cpim",
     .body = CPIM("sip:%61lice@example.com", "Content-Type: text/plain\r\n", "hello"),
     .x_body = "hello"},
    {.name = "cpim from equal, outer gr", .from = ALICE ";gr=laptop", .ctype = "message/cpim",
     .body = CPIM("sip:alice@example.com", "Content-Type: text/plain\r\n", "hello"),
     .x_body = "hello", .x_from = "alice@example.com/laptop", .s_res = "laptop"},
    {.name = "cpim sip: from differs", .ctype = "message/cpim",
     .body = CPIM("sip:mallory@example.com", "Content-Type: text/plain\r\n", "hello"),
     .rc = -1, .status = 403, .code = "cpim_identity", .warn = 1},
    {.name = "cpim im: from differs", .ctype = "message/cpim",
     .body = CPIM("im:alice@evil.example", "Content-Type: text/plain\r\n", "hello"), .rc = -1,
     .status = 403, .code = "cpim_identity", .warn = 1},
    {.name = "cpim tel: from", .ctype = "message/cpim",
     .body = CPIM("tel:+15551234", "Content-Type: text/plain\r\n", "hello"), .rc = -1,
     .status = 403, .code = "cpim_identity", .warn = 1},
    {.name = "cpim sips: from", .ctype = "message/cpim",
     .body = CPIM("sips:alice@example.com", "Content-Type: text/plain\r\n", "hello"), .rc = -1,
     .status = 403, .code = "cpim_identity", .warn = 1},
    {.name = "cpim inner text/html", .ctype = "message/cpim",
     .body = CPIM("sip:alice@example.com", "Content-Type: text/html\r\n", "<b>hi</b>"),
     .rc = -1, .status = 415, .code = "unsupported_type", .accept = 1},
    {.name = "cpim inner isComposing", .ctype = "message/cpim",
     .body = CPIM("sip:alice@example.com",
                  "Content-Type: application/im-iscomposing+xml\r\n", ISC("active")),
     .rc = -1, .status = 415, .code = "unsupported_type", .accept = 1},
    {.name = "cpim no inner content type", .ctype = "message/cpim",
     .body = CPIM("sip:alice@example.com", "", "plain"), .x_body = "plain"},
    {.name = "cpim inner latin-1", .ctype = "message/cpim",
     .body = CPIM("sip:alice@example.com", "Content-Type: text/plain; charset=ISO-8859-1\r\n",
                  "caf\xe9"),
     .x_body = "caf\xc3\xa9"},
    {.name = "cpim inner bad utf-8", .ctype = "message/cpim",
     .body = CPIM("sip:alice@example.com", "Content-Type: text/plain\r\n", "caf\xe9"),
     .rc = -1, .status = 400, .code = "bad_body", .warn = 1},
    {.name = "cpim inner over max", .ctype = "message/cpim", .max = 5,
     .body = CPIM("sip:alice@example.com", "Content-Type: text/plain\r\n", "hello!"), .rc = -1,
     .status = 413, .code = "too_large", .warn = 1},
    {.name = "cpim inner max exactly", .ctype = "message/cpim", .max = 5,
     .body = CPIM("sip:alice@example.com", "Content-Type: text/plain\r\n", "hello"),
     .x_body = "hello"},
    {.name = "cpim subject used", .ctype = "message/cpim",
     .body = "From: <sip:alice@example.com>\r\nSubject: from cpim\r\n\r\n"
             "Content-Type: text/plain\r\nContent-Language: fr\r\n\r\nsalut",
     .x_body = "salut", .x_subject = "from cpim", .x_lang = "fr"},
    {.name = "sip subject and lang win over cpim", .ctype = "message/cpim",
     .subject = "from sip", .lang = "de",
     .body = "From: <sip:alice@example.com>\r\nSubject: from cpim\r\n\r\n"
             "Content-Type: text/plain\r\nContent-Language: fr\r\n\r\nhallo",
     .x_body = "hallo", .x_subject = "from sip", .x_lang = "de"},
    {.name = "cpim junk lang dropped", .ctype = "message/cpim",
     .body = "From: <sip:alice@example.com>\r\n\r\n"
             "Content-Type: text/plain\r\nContent-Language: en;q=1\r\n\r\nhi",
     .x_body = "hi"},
    {.name = "cpim malformed", .ctype = "message/cpim", .body = "this is not cpim", .rc = -1,
     .status = 400, .code = "bad_body", .warn = 1},
    {.name = "cpim empty inner body", .ctype = "message/cpim",
     .body = CPIM("sip:alice@example.com", "Content-Type: text/plain\r\n", ""), .rc = -1,
     .status = 400, .code = "bad_body", .warn = 1},

    /* isComposing (RFC 3994) */
    {.name = "iscomposing active", .ctype = "application/im-iscomposing+xml",
     .body = ISC("active"), .x_chat = SX_CHAT_COMPOSING},
    {.name = "iscomposing idle", .ctype = "application/im-iscomposing+xml", .body = ISC("idle"),
     .x_chat = SX_CHAT_PAUSED},
    {.name = "iscomposing case of type, blanks", .ctype = "Application/IM-IsComposing+XML",
     .body = ISC(" idle "), .x_chat = SX_CHAT_PAUSED},
    {.name = "iscomposing prefixed", .ctype = "application/im-iscomposing+xml",
     .body = "<ic:isComposing xmlns:ic='urn:ietf:params:xml:ns:im-iscomposing'>"
             "<ic:state>active</ic:state></ic:isComposing>",
     .x_chat = SX_CHAT_COMPOSING},
    {.name = "iscomposing unknown state", .ctype = "application/im-iscomposing+xml",
     .body = ISC("typing"), .rc = -1, .status = 400, .code = "bad_body", .warn = 1},
    {.name = "iscomposing state with suffix", .ctype = "application/im-iscomposing+xml",
     .body = ISC("activex"), .rc = -1, .status = 400, .code = "bad_body", .warn = 1},
    {.name = "iscomposing no state", .ctype = "application/im-iscomposing+xml",
     .body = "<isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'/>", .rc = -1,
     .status = 400, .code = "bad_body", .warn = 1},
    {.name = "iscomposing truncated", .ctype = "application/im-iscomposing+xml",
     .body = "<isComposing><state>", .rc = -1, .status = 400, .code = "bad_body", .warn = 1},
    {.name = "iscomposing not xml", .ctype = "application/im-iscomposing+xml",
     .body = "state", .rc = -1, .status = 400, .code = "bad_body", .warn = 1},

    /* addresses */
    {.name = "sips target", .ruri = "sips:bob@xmpp.example.org", .body = "hi", .rc = -1,
     .status = 403, .code = "sips_target", .warn = 1},
    {.name = "tel target", .ruri = "tel:+15551234", .body = "hi", .rc = -1, .status = 416,
     .code = "bad_address", .warn = 1},
    {.name = "empty user", .ruri = "sip:@xmpp.example.org", .body = "hi", .rc = -1,
     .status = 484, .code = "bad_address", .warn = 1},
    {.name = "no user", .ruri = "sip:xmpp.example.org", .body = "hi", .rc = -1, .status = 484,
     .code = "bad_address", .warn = 1},
    {.name = "bad target", .ruri = "sip:bob@bad_domain!", .body = "hi", .rc = -1,
     .status = 400, .code = "bad_address", .warn = 1},
    {.name = "unmappable from", .from = "tel:+15551234", .body = "hi", .rc = -1,
     .status = 400, .code = "bad_address", .warn = 1},
    {.name = "gr on both sides", .from = ALICE ";gr=laptop", .ruri = BOB ";gr=phone",
     .body = "hi", .x_body = "hi", .x_from = "alice@example.com/laptop",
     .x_to = "bob@xmpp.example.org/phone", .s_res = "laptop", .t_res = "phone"},
    {.name = "other uri params dropped", .from = "sip:alice@example.com;transport=tcp",
     .ruri = "sip:bob@XMPP.Example.ORG.:5060;lr", .body = "hi", .x_body = "hi"},
    {.name = "& ' / escaped", .ruri = "sip:o'hara&sons/x@xmpp.example.org", .body = "hi",
     .x_body = "hi", .x_to = "o\\27hara\\26sons\\2fx@xmpp.example.org",
     .t_local = "o\\27hara\\26sons\\2fx"},
    {.name = "percent-encoded & ' / escaped", .ruri = "sip:a%26b%27c%2Fd@xmpp.example.org",
     .body = "hi", .x_body = "hi", .x_to = "a\\26b\\27c\\2fd@xmpp.example.org",
     .t_local = "a\\26b\\27c\\2fd"},
};

static void run_from_sip(void) {
  for (size_t i = 0; i < sizeof from_cases / sizeof from_cases[0]; i++) {
    const from_case *c = &from_cases[i];
    sx_im_sip_in in = {
        .from_uri = c->from ? c->from : ALICE,
        .request_uri = c->ruri ? c->ruri : BOB,
        .call_id = c->call_id,
        .subject = c->subject,
        .content_type = c->ctype,
        .charset = c->charset,
        .content_language = c->lang,
        .body = c->body,
        .body_len = c->len ? c->len : c->body ? strlen(c->body) : 0,
    };
    sx_im_opts o = {.max_body = c->max ? c->max : 1024, .msg_type = c->msg_type};
    sx_xmsg x;
    sx_jid s, t;
    sx_im_fail f;
    int rc = sx_im_from_sip(&in, &o, &x, &s, &t, &f);
    CHECK_INT(rc, c->rc, c->name);
    if (rc != 0) {
      CHECK_INT(f.status, c->status, c->name);
      CHECK_STR(f.code, c->code, c->name);
      CHECK_INT(f.warn, c->warn, c->name);
      CHECK_INT(f.accept, c->accept, c->name);
      CHECK(f.reason && *f.reason, "%s: no reason", c->name);
      CHECK(!x.from && !x.to && !x.body && !s.local && !s.domain && !t.local && !t.domain,
            "%s: refusal left something to free", c->name);
      continue;
    }
    CHECK_STR(x.from, c->x_from ? c->x_from : "alice@example.com", c->name);
    CHECK_STR(x.to, c->x_to ? c->x_to : "bob@xmpp.example.org", c->name);
    CHECK_STR(x.type, c->msg_type ? c->msg_type : "chat", c->name);
    CHECK_STR(x.body, c->x_body, c->name);
    CHECK_STR(x.subject, c->x_subject, c->name);
    CHECK_STR(x.thread, c->x_thread, c->name);
    CHECK_STR(x.lang, c->x_lang, c->name);
    CHECK_INT(x.chat_state, c->x_chat, c->name);
    CHECK(x.id == NULL, "%s: id set", c->name);
    CHECK_STR(s.local, "alice", c->name);
    CHECK_STR(s.domain, "example.com", c->name);
    CHECK_STR(s.resource, c->s_res, c->name);
    CHECK_STR(t.local, c->t_local ? c->t_local : "bob", c->name);
    CHECK_STR(t.domain, "xmpp.example.org", c->name);
    CHECK_STR(t.resource, c->t_res, c->name);
    sx_xmsg_free(&x);
    sx_jid_free(&s);
    sx_jid_free(&t);
  }
}

/* A large body: max bytes pass, max+1 are refused (also with no charset label). */
static void run_from_sip_large(void) {
  enum { MAX = 65536 };
  char *big = malloc(MAX + 2);
  if (!big) return;
  memset(big, 'x', MAX + 1);
  big[MAX + 1] = '\0';
  for (int extra = 0; extra <= 1; extra++) {
    sx_im_sip_in in = {.from_uri = ALICE, .request_uri = BOB, .content_type = "text/plain",
                       .body = big, .body_len = MAX + (size_t)extra};
    sx_im_opts o = {.max_body = MAX, .msg_type = "chat"};
    sx_xmsg x;
    sx_jid s, t;
    sx_im_fail f;
    int rc = sx_im_from_sip(&in, &o, &x, &s, &t, &f);
    CHECK_INT(rc, extra ? -1 : 0, "64 KiB boundary");
    if (rc == 0) {
      CHECK(x.body && strlen(x.body) == MAX, "64 KiB body length");
      sx_xmsg_free(&x);
      sx_jid_free(&s);
      sx_jid_free(&t);
    } else {
      CHECK_INT(f.status, 413, "64 KiB + 1");
    }
  }
  free(big);
}

/* ---- sx_im_to_sip ---------------------------------------------------------------------- */

typedef struct {
  const char *name;
  /* input; from/to default to alice@example.com / bob@xmpp.example.org (XMPP side is the
   * external user here, SIP side the internal one: the direction does not matter to the
   * mapping), max 0 means 1024 */
  const char *type, *from, *to, *body, *subject, *thread, *lang;
  sx_chat_state chat;
  size_t max;
  /* expected */
  int rc;
  const char *cond;
  const char *ruri, *sfrom, *sto, *call_id, *ctype, *x_subject, *x_lang, *x_body;
  const char *state; /* isComposing <state> value expected in the body */
} to_case;

#define TEXT_CT "text/plain;charset=UTF-8"
#define ISC_CT "application/im-iscomposing+xml"

static const to_case to_cases[] = {
    {.name = "plain chat", .type = "chat", .body = "hello", .ruri = BOB, .sfrom = ALICE,
     .sto = BOB, .ctype = TEXT_CT, .x_body = "hello"},
    {.name = "no type", .body = "hello", .ruri = BOB, .sfrom = ALICE, .sto = BOB,
     .ctype = TEXT_CT, .x_body = "hello"},
    {.name = "type normal", .type = "normal", .body = "hello", .ruri = BOB, .sfrom = ALICE,
     .sto = BOB, .ctype = TEXT_CT, .x_body = "hello"},
    {.name = "groupchat", .type = "groupchat", .body = "hi", .rc = -1,
     .cond = "feature-not-implemented"},
    {.name = "headline", .type = "headline", .body = "hi", .rc = -1,
     .cond = "feature-not-implemented"},
    {.name = "to without local", .to = "xmpp.example.org", .body = "hi", .rc = -1,
     .cond = "service-unavailable"},
    {.name = "bad to", .to = "bob@", .body = "hi", .rc = -1, .cond = "jid-malformed"},
    {.name = "bad from", .from = "@example.com", .body = "hi", .rc = -1,
     .cond = "jid-malformed"},
    {.name = "nothing to deliver", .type = "chat", .rc = 1},
    {.name = "body at max", .body = "hello", .max = 5, .ruri = BOB, .sfrom = ALICE, .sto = BOB,
     .ctype = TEXT_CT, .x_body = "hello"},
    {.name = "body over max", .body = "hello!", .max = 5, .rc = -1, .cond = "policy-violation"},
    {.name = "subject lang thread", .body = "hi", .subject = "line one\r\nline\ttwo",
     .lang = "en-GB", .thread = "a84b4c76e66710@pc33.atlanta.com", .ruri = BOB, .sfrom = ALICE,
     .sto = BOB, .call_id = "a84b4c76e66710@pc33.atlanta.com", .ctype = TEXT_CT,
     .x_subject = "line one  line two", .x_lang = "en-GB", .x_body = "hi"},
    {.name = "thread of word chars", .body = "hi", .thread = "abc-123.x_y!%*+`'~()<>:\\\"/[]?{}",
     .ruri = BOB, .sfrom = ALICE, .sto = BOB, .call_id = "abc-123.x_y!%*+`'~()<>:\\\"/[]?{}",
     .ctype = TEXT_CT, .x_body = "hi"},
    {.name = "thread with space", .body = "hi", .thread = "my thread", .ruri = BOB,
     .sfrom = ALICE, .sto = BOB, .ctype = TEXT_CT, .x_body = "hi"},
    {.name = "thread with two @", .body = "hi", .thread = "a@b@c", .ruri = BOB, .sfrom = ALICE,
     .sto = BOB, .ctype = TEXT_CT, .x_body = "hi"},
    {.name = "thread with empty word after @", .body = "hi", .thread = "abc@", .ruri = BOB,
     .sfrom = ALICE, .sto = BOB, .ctype = TEXT_CT, .x_body = "hi"},
    {.name = "thread non-ascii", .body = "hi", .thread = "caf\xc3\xa9", .ruri = BOB,
     .sfrom = ALICE, .sto = BOB, .ctype = TEXT_CT, .x_body = "hi"},
    {.name = "thread CRLF", .body = "hi", .thread = "abc\r\nVia: x", .ruri = BOB,
     .sfrom = ALICE, .sto = BOB, .ctype = TEXT_CT, .x_body = "hi"},
    {.name = "junk lang dropped", .body = "hi", .lang = "en\r\nX: y", .ruri = BOB,
     .sfrom = ALICE, .sto = BOB, .ctype = TEXT_CT, .x_body = "hi"},
    {.name = "resources", .from = "alice@example.com/laptop", .to = "bob@xmpp.example.org/phone",
     .body = "hi", .ruri = BOB ";gr=phone", .sfrom = ALICE ";gr=laptop", .sto = BOB,
     .ctype = TEXT_CT, .x_body = "hi"},
    {.name = "escapes undone", .to = "o\\27hara\\26sons\\2fx@xmpp.example.org", .body = "hi",
     .ruri = "sip:o'hara&sons/x@xmpp.example.org", .sfrom = ALICE,
     .sto = "sip:o'hara&sons/x@xmpp.example.org", .ctype = TEXT_CT, .x_body = "hi"},
    {.name = "non-ascii localpart", .from = "j\xc3\xbcrgen@example.com", .body = "hi",
     .ruri = BOB, .sfrom = "sip:j%C3%BCrgen@example.com", .sto = BOB, .ctype = TEXT_CT,
     .x_body = "hi"},
    /* chat states only */
    {.name = "composing", .chat = SX_CHAT_COMPOSING, .ruri = BOB, .sfrom = ALICE, .sto = BOB,
     .ctype = ISC_CT, .state = "active"},
    {.name = "paused", .chat = SX_CHAT_PAUSED, .ruri = BOB, .sfrom = ALICE, .sto = BOB,
     .ctype = ISC_CT, .state = "idle"},
    {.name = "inactive", .chat = SX_CHAT_INACTIVE, .ruri = BOB, .sfrom = ALICE, .sto = BOB,
     .ctype = ISC_CT, .state = "idle"},
    {.name = "gone", .chat = SX_CHAT_GONE, .ruri = BOB, .sfrom = ALICE, .sto = BOB,
     .ctype = ISC_CT, .state = "idle"},
    {.name = "active", .chat = SX_CHAT_ACTIVE, .ruri = BOB, .sfrom = ALICE, .sto = BOB,
     .ctype = ISC_CT, .state = "idle"},
    {.name = "chat state with thread, subject ignored", .chat = SX_CHAT_COMPOSING,
     .thread = "t1", .subject = "s", .lang = "en", .ruri = BOB, .sfrom = ALICE, .sto = BOB,
     .call_id = "t1", .ctype = ISC_CT, .state = "active"},
    {.name = "body wins over chat state", .chat = SX_CHAT_COMPOSING, .body = "hi", .ruri = BOB,
     .sfrom = ALICE, .sto = BOB, .ctype = TEXT_CT, .x_body = "hi"},
};

static void run_to_sip(void) {
  for (size_t i = 0; i < sizeof to_cases / sizeof to_cases[0]; i++) {
    const to_case *c = &to_cases[i];
    sx_xmsg m = {0};
    /* the input struct is not modified: cast away const for the table strings */
    m.from = (char *)(c->from ? c->from : "alice@example.com");
    m.to = (char *)(c->to ? c->to : "bob@xmpp.example.org");
    m.type = (char *)c->type;
    m.body = (char *)c->body;
    m.subject = (char *)c->subject;
    m.thread = (char *)c->thread;
    m.lang = (char *)c->lang;
    m.chat_state = c->chat;
    sx_im_sip_out o;
    const char *cond = "unset", *text = "unset";
    int rc = sx_im_to_sip(&m, c->max ? c->max : 1024, &o, &cond, &text);
    CHECK_INT(rc, c->rc, c->name);
    if (rc != 0) {
      CHECK_STR(cond, c->cond, c->name);
      CHECK(!o.request_uri && !o.from && !o.to && !o.body && !o.content_type,
            "%s: nothing filled", c->name);
      sx_im_sip_free(&o);
      continue;
    }
    CHECK(cond == NULL && text == NULL, "%s: condition set on success", c->name);
    CHECK_STR(o.request_uri, c->ruri, c->name);
    CHECK_STR(o.from, c->sfrom, c->name);
    CHECK_STR(o.to, c->sto, c->name);
    CHECK_STR(o.call_id, c->call_id, c->name);
    CHECK_STR(o.content_type, c->ctype, c->name);
    CHECK_STR(o.subject, c->x_subject, c->name);
    CHECK_STR(o.content_language, c->x_lang, c->name);
    if (c->state) {
      char want[64];
      snprintf(want, sizeof want, "<state>%s</state>", c->state);
      CHECK(o.body && strstr(o.body, want), "%s: body [%s] lacks %s", c->name,
            o.body ? o.body : "(null)", want);
      CHECK(o.body && strstr(o.body, "urn:ietf:params:xml:ns:im-iscomposing"),
            "%s: isComposing namespace", c->name);
    } else {
      CHECK_STR(o.body, c->x_body, c->name);
    }
    sx_im_sip_free(&o);
    CHECK(!o.request_uri && !o.body, "%s: sx_im_sip_free resets", c->name);
  }
}

/* A SIP→XMPP→SIP round trip keeps the addresses and the Call-ID. */
static void run_round_trip(void) {
  sx_im_sip_in in = {.from_uri = "sip:o'hara@example.com;gr=desk",
                     .request_uri = "sip:j%C3%BCrgen@xmpp.example.org",
                     .call_id = "a84b4c76e66710@pc33.atlanta.com",
                     .content_type = "text/plain",
                     .body = "hi",
                     .body_len = 2};
  sx_im_opts o = {.max_body = 100, .msg_type = "chat"};
  sx_xmsg x;
  sx_jid s, t;
  sx_im_fail f;
  CHECK_RC(sx_im_from_sip(&in, &o, &x, &s, &t, &f), 0, "round trip in");
  if (!x.from) return;
  /* the reply: swap from and to */
  sx_xmsg r = {.from = x.to, .to = x.from, .body = x.body, .thread = x.thread};
  sx_im_sip_out out;
  const char *cond, *text;
  CHECK_RC(sx_im_to_sip(&r, 100, &out, &cond, &text), 0, "round trip out");
  CHECK_STR(out.request_uri, "sip:o'hara@example.com;gr=desk", "round trip ruri");
  CHECK_STR(out.to, "sip:o'hara@example.com", "round trip to");
  CHECK_STR(out.from, "sip:j%C3%BCrgen@xmpp.example.org", "round trip from");
  CHECK_STR(out.call_id, "a84b4c76e66710@pc33.atlanta.com", "round trip call-id");
  sx_im_sip_free(&out);
  /* the relay's form, with the JIDs it parsed already (borrowed: still valid after) */
  CHECK_RC(sx_im_to_sip_jids(&r, &t, &s, 100, &out, &cond, &text), 0, "round trip out, jids");
  CHECK_STR(out.request_uri, "sip:o'hara@example.com;gr=desk", "round trip ruri, jids");
  CHECK_STR(out.from, "sip:j%C3%BCrgen@xmpp.example.org", "round trip from, jids");
  CHECK_STR(s.domain, "example.com", "recipient JID kept");
  sx_im_sip_free(&out);
  sx_xmsg_free(&x);
  sx_jid_free(&s);
  sx_jid_free(&t);
}

/* ---- sx_im_failure_text ---------------------------------------------------------------- */

static const struct {
  const char *to, *cond, *text;
  const char *want[4]; /* substrings the notice must contain */
} fail_cases[] = {
    {"romeo@example.net", "item-not-found", "no such user",
     {"romeo@example.net", "item-not-found", "no such user", "not delivered"}},
    {"romeo@example.net", "recipient-unavailable", NULL,
     {"romeo@example.net", "recipient-unavailable", "not available", NULL}},
    {"romeo@example.net", "some-unknown-thing", "", {"romeo@example.net", "some-unknown-thing",
                                                     NULL, NULL}},
    {"romeo@example.net", NULL, "server text", {"romeo@example.net", "undefined-condition",
                                                "server text", NULL}},
    {NULL, "forbidden", NULL, {"(unknown)", "forbidden", NULL, NULL}},
};

static void run_failure_text(void) {
  for (size_t i = 0; i < sizeof fail_cases / sizeof fail_cases[0]; i++) {
    char *s = sx_im_failure_text(fail_cases[i].to, fail_cases[i].cond, fail_cases[i].text);
    CHECK(s != NULL, "failure text %zu", i);
    if (!s) continue;
    for (size_t k = 0; k < 4 && fail_cases[i].want[k]; k++)
      CHECK(strstr(s, fail_cases[i].want[k]) != NULL, "failure text %zu: [%s] lacks [%s]", i, s,
            fail_cases[i].want[k]);
    CHECK(!strchr(s, '\n') && !strchr(s, '\r'), "failure text %zu: one line", i);
    free(s);
  }
  /* a long server text is not truncated */
  char longtext[600];
  memset(longtext, 'z', sizeof longtext - 1);
  longtext[sizeof longtext - 1] = '\0';
  char *s = sx_im_failure_text("romeo@example.net", "forbidden", longtext);
  CHECK(s && strstr(s, longtext), "long failure text kept whole");
  free(s);
}

int main(void) {
  run_from_sip();
  run_from_sip_large();
  run_to_sip();
  run_round_trip();
  run_failure_text();
  return check_done();
}
