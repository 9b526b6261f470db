/* sx_xmsg_serialize / sx_xmsg_error_reply / sx_xmsg_free. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "translate/xmsg.h"

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

struct ser_case {
  const char *name;
  const char *from, *to, *id, *type, *lang, *body, *subject, *thread;
  sx_chat_state cs;
  int receipt_request;
  const char *receipt_for, *err_cond, *err_type, *err_text;
  const char *want; /* NULL: serialisation must fail */
};

static const struct ser_case ser_cases[] = {
    {"minimal", "bob@contoso.example", "alice@fabrikam.example", NULL, NULL, NULL, NULL, NULL,
     NULL, SX_CHAT_NONE, 0, NULL, NULL, NULL, NULL,
     "<message from='bob@contoso.example' to='alice@fabrikam.example'></message>"},
    {"all fields in order", "bob@contoso.example/pc", "alice@fabrikam.example", "m1", "chat",
     "en", "hi", "subj", "th1", SX_CHAT_COMPOSING, 1, "r1", NULL, NULL, NULL,
     "<message from='bob@contoso.example/pc' to='alice@fabrikam.example' id='m1' type='chat'"
     " xml:lang='en'><subject>subj</subject><body>hi</body><thread>th1</thread>"
     "<composing xmlns='http://jabber.org/protocol/chatstates'/>"
     "<request xmlns='urn:xmpp:receipts'/>"
     "<received xmlns='urn:xmpp:receipts' id='r1'/></message>"},
    {"attribute escaping", "a\\27b@contoso.example", "x@fabrikam.example", "i'd\"<&>", "chat",
     "e'n", NULL, NULL, NULL, SX_CHAT_NONE, 0, "q'\"", NULL, NULL, NULL,
     "<message from='a\\27b@contoso.example' to='x@fabrikam.example' id='i&apos;d&quot;&lt;&amp;&gt;'"
     " type='chat' xml:lang='e&apos;n'><received xmlns='urn:xmpp:receipts' id='q&apos;&quot;'/>"
     "</message>"},
    {"from/to escaping", "o'b@contoso.example", "<x>@fabrikam.example", NULL, NULL, NULL, NULL,
     NULL, NULL, SX_CHAT_NONE, 0, NULL, NULL, NULL, NULL,
     "<message from='o&apos;b@contoso.example' to='&lt;x&gt;@fabrikam.example'></message>"},
    {"text escaping", "b@contoso.example", "a@fabrikam.example", NULL, NULL, NULL,
     "1 < 2 & 3 > 2 'q' \"d\" </body>", "s&<", "t'>", SX_CHAT_NONE, 0, NULL, NULL, NULL, NULL,
     "<message from='b@contoso.example' to='a@fabrikam.example'><subject>s&amp;&lt;</subject>"
     "<body>1 &lt; 2 &amp; 3 &gt; 2 &apos;q&apos; &quot;d&quot; &lt;/body&gt;</body>"
     "<thread>t&apos;&gt;</thread></message>"},
    {"utf8 and newlines kept", "b@contoso.example", "a@fabrikam.example", NULL, NULL, NULL,
     "gr\xc3\xbc\xc3\x9f\n\tdich \xf0\x9f\x98\x80", NULL, NULL, SX_CHAT_NONE, 0, NULL, NULL,
     NULL, NULL,
     "<message from='b@contoso.example' to='a@fabrikam.example'>"
     "<body>gr\xc3\xbc\xc3\x9f\n\tdich \xf0\x9f\x98\x80</body></message>"},
    {"control characters dropped", "b@contoso.example", "a@fabrikam.example", NULL, NULL, NULL,
     "a\x01" "b\x1f" "c", NULL, NULL, SX_CHAT_NONE, 0, NULL, NULL, NULL, NULL,
     "<message from='b@contoso.example' to='a@fabrikam.example'><body>abc</body></message>"},
    {"empty body kept", "b@contoso.example", "a@fabrikam.example", NULL, NULL, NULL, "", NULL,
     NULL, SX_CHAT_NONE, 0, NULL, NULL, NULL, NULL,
     "<message from='b@contoso.example' to='a@fabrikam.example'><body></body></message>"},
    {"chat state active", "b@contoso.example", "a@fabrikam.example", NULL, "chat", NULL, NULL,
     NULL, NULL, SX_CHAT_ACTIVE, 0, NULL, NULL, NULL, NULL,
     "<message from='b@contoso.example' to='a@fabrikam.example' type='chat'>"
     "<active xmlns='http://jabber.org/protocol/chatstates'/></message>"},
    {"chat state paused", "b@contoso.example", "a@fabrikam.example", NULL, NULL, NULL, NULL,
     NULL, NULL, SX_CHAT_PAUSED, 0, NULL, NULL, NULL, NULL,
     "<message from='b@contoso.example' to='a@fabrikam.example'>"
     "<paused xmlns='http://jabber.org/protocol/chatstates'/></message>"},
    {"chat state inactive", "b@contoso.example", "a@fabrikam.example", NULL, NULL, NULL, NULL,
     NULL, NULL, SX_CHAT_INACTIVE, 0, NULL, NULL, NULL, NULL,
     "<message from='b@contoso.example' to='a@fabrikam.example'>"
     "<inactive xmlns='http://jabber.org/protocol/chatstates'/></message>"},
    {"chat state gone", "b@contoso.example", "a@fabrikam.example", NULL, NULL, NULL, NULL, NULL,
     NULL, SX_CHAT_GONE, 0, NULL, NULL, NULL, NULL,
     "<message from='b@contoso.example' to='a@fabrikam.example'>"
     "<gone xmlns='http://jabber.org/protocol/chatstates'/></message>"},
    {"error with text", "b@contoso.example", "a@fabrikam.example", "e1", "error", NULL, NULL,
     NULL, NULL, SX_CHAT_NONE, 0, NULL, "item-not-found", "cancel", "No <such> user",
     "<message from='b@contoso.example' to='a@fabrikam.example' id='e1' type='error'>"
     "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
     "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>No &lt;such&gt; user</text></error>"
     "</message>"},
    {"error type from table", "b@contoso.example", "a@fabrikam.example", NULL, "error", NULL,
     NULL, NULL, NULL, SX_CHAT_NONE, 0, NULL, "bad-request", NULL, NULL,
     "<message from='b@contoso.example' to='a@fabrikam.example' type='error'>"
     "<error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
     "</message>"},
    {"unknown condition and bogus type", "b@contoso.example", "a@fabrikam.example", NULL,
     "error", NULL, NULL, NULL, NULL, SX_CHAT_NONE, 0, NULL, "evil'/><x", "cancel'x", NULL,
     "<message from='b@contoso.example' to='a@fabrikam.example' type='error'>"
     "<error type='cancel'><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
     "</error></message>"},
    {"type error without condition", "b@contoso.example", "a@fabrikam.example", NULL, "error",
     NULL, NULL, NULL, NULL, SX_CHAT_NONE, 0, NULL, NULL, NULL, NULL,
     "<message from='b@contoso.example' to='a@fabrikam.example' type='error'>"
     "<error type='cancel'><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
     "</error></message>"},
    {"missing from", NULL, "a@fabrikam.example", NULL, NULL, NULL, "x", NULL, NULL,
     SX_CHAT_NONE, 0, NULL, NULL, NULL, NULL, NULL},
    {"missing to", "b@contoso.example", NULL, NULL, NULL, NULL, "x", NULL, NULL, SX_CHAT_NONE,
     0, NULL, NULL, NULL, NULL, NULL},
    {"empty to", "b@contoso.example", "", NULL, NULL, NULL, "x", NULL, NULL, SX_CHAT_NONE, 0,
     NULL, NULL, NULL, NULL, NULL},
};

static void test_serialize(void) {
  for (size_t i = 0; i < sizeof ser_cases / sizeof ser_cases[0]; i++) {
    const struct ser_case *c = &ser_cases[i];
    sx_xmsg m = {0};
    size_t len = 12345;
    char *out;

    m.from = dup_or_null(c->from);
    m.to = dup_or_null(c->to);
    m.id = dup_or_null(c->id);
    m.type = dup_or_null(c->type);
    m.lang = dup_or_null(c->lang);
    m.body = dup_or_null(c->body);
    m.subject = dup_or_null(c->subject);
    m.thread = dup_or_null(c->thread);
    m.chat_state = c->cs;
    m.receipt_request = c->receipt_request;
    m.receipt_for = dup_or_null(c->receipt_for);
    m.error_condition = dup_or_null(c->err_cond);
    m.error_type = dup_or_null(c->err_type);
    m.error_text = dup_or_null(c->err_text);

    out = sx_xmsg_serialize(&m, &len);
    CHECK_STR(out, c->want, c->name);
    if (out) CHECK_INT(len, strlen(out), c->name);
    else CHECK_INT(len, 0, c->name);
    free(out);

    sx_xmsg_free(&m);
    CHECK(m.from == NULL && m.body == NULL && m.error_text == NULL && m.chat_state == 0,
          "%s: sx_xmsg_free must clear the struct", c->name);
  }
  CHECK(sx_xmsg_serialize(NULL, NULL) == NULL, "NULL message");
  sx_xmsg_free(NULL);
}

struct err_case {
  const char *name;
  const char *from, *to, *id, *cond, *text;
  const char *want;
};

static const struct err_case err_cases[] = {
    {"basic", "alice@fabrikam.example/phone", "bob@contoso.example", "abc",
     "service-unavailable", NULL,
     "<message from='bob@contoso.example' to='alice@fabrikam.example/phone' id='abc'"
     " type='error'><error type='cancel'><service-unavailable"
     " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"},
    {"with text and escaping", "a'l@fabrikam.example", "b@contoso.example", "x'y",
     "recipient-unavailable", "Temporarily <Unavailable> & 'gone'",
     "<message from='b@contoso.example' to='a&apos;l@fabrikam.example' id='x&apos;y'"
     " type='error'><error type='wait'><recipient-unavailable"
     " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text"
     " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Temporarily &lt;Unavailable&gt; &amp;"
     " &apos;gone&apos;</text></error></message>"},
    {"no id", "a@fabrikam.example", "b@contoso.example", NULL, "policy-violation", NULL,
     "<message from='b@contoso.example' to='a@fabrikam.example' type='error'>"
     "<error type='modify'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
     "</error></message>"},
    {"feature-not-implemented", "a@fabrikam.example", "b@contoso.example", "g1",
     "feature-not-implemented", NULL,
     "<message from='b@contoso.example' to='a@fabrikam.example' id='g1' type='error'>"
     "<error type='cancel'><feature-not-implemented"
     " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"},
    {"not-authorized is auth", "a@fabrikam.example", "b@contoso.example", NULL,
     "not-authorized", NULL,
     "<message from='b@contoso.example' to='a@fabrikam.example' type='error'>"
     "<error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
     "</error></message>"},
    {"unknown condition", "a@fabrikam.example", "b@contoso.example", NULL, "no-such<thing>",
     NULL,
     "<message from='b@contoso.example' to='a@fabrikam.example' type='error'>"
     "<error type='cancel'><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
     "</error></message>"},
    {"NULL condition", "a@fabrikam.example", "b@contoso.example", NULL, NULL, NULL,
     "<message from='b@contoso.example' to='a@fabrikam.example' type='error'>"
     "<error type='cancel'><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
     "</error></message>"},
    {"missing orig from", NULL, "b@contoso.example", "x", "bad-request", NULL, NULL},
    {"missing orig to", "a@fabrikam.example", NULL, "x", "bad-request", NULL, NULL},
};

static void test_error_reply(void) {
  for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
    const struct err_case *c = &err_cases[i];
    size_t len = 999;
    char *out = sx_xmsg_error_reply(c->from, c->to, c->id, c->cond, c->text, &len);
    CHECK_STR(out, c->want, c->name);
    if (out) CHECK_INT(len, strlen(out), c->name);
    else CHECK_INT(len, 0, c->name);
    free(out);
  }
  /* len may be NULL */
  char *out = sx_xmsg_error_reply("a@f.example", "b@c.example", NULL, "gone", NULL, NULL);
  CHECK(out != NULL, "len NULL accepted");
  free(out);
}

int main(void) {
  test_serialize();
  test_error_reply();
  return check_done();
}
