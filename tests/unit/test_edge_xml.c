/* The edge link's XML stream parser (xmpp/edge_xml.h): the stream header, stanzas and their
 * accessors, identical results for any chunking, and every refusal with its exact stream
 * error condition at its exact limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "translate/text.h"
#include "xmpp/edge_xml.h"

#define HDR                                                                                  \
  "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "                    \
  "xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='contoso.example'>"

typedef struct {
  char id[64], from[64];
  int headers, stanzas, ends;
  sx_buf log; /* one line per stanza: name ns attrs text of the body child */
} rec;

static void on_header(void *ud, const char *id, const char *from) {
  rec *r = ud;
  r->headers++;
  snprintf(r->id, sizeof r->id, "%s", id ? id : "(none)");
  snprintf(r->from, sizeof r->from, "%s", from ? from : "(none)");
}

static void on_stanza(void *ud, const sx_xel *st) {
  rec *r = ud;
  const sx_xel *body = sx_xel_child(st, "body", "jabber:component:accept");
  const char *lang = sx_xel_attr(st, "xml:lang");
  size_t kids = 0;
  for (const sx_xel *c = sx_xel_first(st); c; c = sx_xel_next(c)) kids++;
  r->stanzas++;
  sx_buf_printf(&r->log, "%s {%s} to=%s lang=%s kids=%zu body=%s\n", sx_xel_name(st),
                sx_xel_ns(st), sx_xel_attr(st, "to") ? sx_xel_attr(st, "to") : "-",
                lang ? lang : "-", kids, body ? sx_xel_text(body) : "-");
}

static void on_end(void *ud) { ((rec *)ud)->ends++; }

/* Feeds text in chunks of `chunk` bytes (0: all at once). Returns the error condition or
 * "ok"; r is filled. */
static const char *run(const char *text, size_t len, size_t chunk, size_t max, rec *r) {
  sx_xstream_cbs cbs = {on_header, on_stanza, on_end};
  static char cond[64];
  sx_xstream *x;
  memset(r, 0, sizeof *r);
  x = sx_xstream_new(max, &cbs, r);
  if (!x) return "no parser";
  int rc = 0;
  for (size_t off = 0; off < len && rc == 0;) {
    size_t n = chunk ? chunk : len;
    if (n > len - off) n = len - off;
    rc = sx_xstream_feed(x, text + off, n);
    off += n;
  }
  if (rc == 0) rc = sx_xstream_flush(x);
  snprintf(cond, sizeof cond, "%s", rc ? sx_xstream_error(x) : "ok");
  sx_xstream_free(x);
  return cond;
}

static const char *run_s(const char *text, rec *r) { return run(text, strlen(text), 0, 0, r); }

static char *cat3(const char *a, const char *b, size_t n, const char *c) {
  /* a, then b repeated n times, then c */
  size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
  char *s = malloc(la + lb * n + lc + 1), *p = s;
  if (!s) abort();
  memcpy(p, a, la);
  p += la;
  for (size_t i = 0; i < n; i++, p += lb) memcpy(p, b, lb);
  memcpy(p, c, lc + 1);
  return s;
}

static char *attrs(size_t n, const char *fmt) {
  sx_buf b = {0};
  sx_buf_puts(&b, HDR "<message");
  for (size_t i = 0; i < n; i++) sx_buf_printf(&b, fmt, i, i);
  sx_buf_puts(&b, "/>");
  sx_buf_put(&b, "", 1);
  return b.data;
}

static void test_good_stream(void) {
  const char *s =
      HDR "<message to='bob@contoso.example' from='alice@fabrikam.example' xml:lang='de'>"
          "<body>Gr&#xFC;&#223;e &amp; &lt;mehr&gt;</body><body xmlns='urn:evil'>no</body>"
          "<active xmlns='http://jabber.org/protocol/chatstates'/></message>  \n "
          "<iq type='get' id='1' to='contoso.example'><ping xmlns='urn:xmpp:ping'/></iq>"
          "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
          "</stream:stream>";
  const char *want = "message {jabber:component:accept} to=bob@contoso.example lang=de kids=3 "
                     "body=Gr\xc3\xbc\xc3\x9f" "e & <mehr>\n"
                     "iq {jabber:component:accept} to=contoso.example lang=- kids=1 body=-\n"
                     "error {http://etherx.jabber.org/streams} to=- lang=- kids=1 body=-\n";
  rec whole, r;
  CHECK_STR(run_s(s, &whole), "ok", "good stream");
  CHECK_INT(whole.headers, 1, "one header");
  CHECK_STR(whole.id, "s1", "header id");
  CHECK_STR(whole.from, "contoso.example", "header from");
  CHECK_INT(whole.ends, 1, "stream end");
  sx_buf_put(&whole.log, "", 1);
  CHECK_STR(whole.log.data, want, "stanzas");
  /* Any chunking gives the same result. */
  for (size_t chunk = 1; chunk < 40; chunk += 3) {
    CHECK_STR(run(s, strlen(s), chunk, 0, &r), "ok", "chunked");
    sx_buf_put(&r.log, "", 1);
    CHECK_STR(r.log.data, whole.log.data, "same stanzas in chunks");
    CHECK_INT(r.ends, 1, "chunked end");
    sx_buf_free(&r.log);
  }
  sx_buf_free(&whole.log);
  /* Ordinary stanzas are never held back, even one byte at a time. */
  {
    sx_xstream_cbs cbs = {on_header, on_stanza, on_end};
    sx_xstream *x = sx_xstream_new(0, &cbs, &r);
    memset(&r, 0, sizeof r);
    for (size_t i = 0; s[i]; i++) sx_xstream_feed(x, s + i, 1);
    CHECK_INT(r.stanzas, 3, "byte by byte, no flush");
    CHECK_INT(r.ends, 1, "byte by byte, end");
    CHECK_INT(sx_xstream_held(x), 0, "nothing held back");
    sx_xstream_free(x);
    sx_buf_free(&r.log);
  }
  /* A long start tag arriving slowly is held back and completed by a flush. */
  {
    sx_xstream_cbs cbs = {on_header, on_stanza, on_end};
    sx_xstream *x = sx_xstream_new(0, &cbs, &r);
    char *t = attrs(200, " attribute%zu='value-%zu-xxxxxxxxxxxxxxxxxxxx'");
    size_t n = strlen(t);
    memset(&r, 0, sizeof r);
    for (size_t i = 0; i < n; i += 5) sx_xstream_feed(x, t + i, n - i < 5 ? n - i : 5);
    CHECK(sx_xstream_held(x) > 0, "a long start tag is held back");
    CHECK_INT(sx_xstream_flush(x), 0, "flush");
    CHECK_INT(r.stanzas, 1, "delivered after the flush");
    CHECK_INT(sx_xstream_held(x), 0, "nothing held after the flush");
    free(t);
    sx_xstream_free(x);
    sx_buf_free(&r.log);
  }
}

static void test_accessors(void) {
  /* A child by name in any namespace (ns NULL), and the first of two by order. */
  rec r;
  const char *s = HDR "<presence from='a@b'><show>away</show><status>x</status>"
                      "<c xmlns='http://jabber.org/protocol/caps' node='n'/></presence>";
  CHECK_STR(run_s(s, &r), "ok", "presence");
  sx_buf_put(&r.log, "", 1);
  CHECK_STR(r.log.data, "presence {jabber:component:accept} to=- lang=- kids=3 body=-\n",
            "presence children");
  sx_buf_free(&r.log);
}

typedef struct {
  const char *name;
  char *text; /* malloc'd */
  const char *want;
} bad_case;

static void test_refusals(void) {
  bad_case cases[] = {
      {"comment", strdup(HDR "<!-- x -->"), "restricted-xml"},
      {"comment in a stanza", strdup(HDR "<message><!-- x --></message>"), "restricted-xml"},
      {"pi", strdup(HDR "<?x y?>"), "restricted-xml"},
      {"doctype", strdup("<!DOCTYPE stream:stream>" HDR), "restricted-xml"},
      {"billion laughs",
       strdup("<?xml version='1.0'?><!DOCTYPE s [<!ENTITY a 'aaaaaaaaaa'>"
              "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'><!ENTITY c '&b;&b;&b;&b;&b;&b;'>]>"
              "<stream:stream xmlns='jabber:component:accept' "
              "xmlns:stream='http://etherx.jabber.org/streams'>&c;"),
       "restricted-xml"},
      {"undefined entity", strdup(HDR "<message>&xxe;</message>"), "not-well-formed"},
      {"malformed", strdup(HDR "<message><body>x</message>"), "not-well-formed"},
      {"unbound prefix", strdup(HDR "<p:message/>"), "not-well-formed"},
      {"bad utf-8", strdup(HDR "<message>\xff\xfe</message>"), "not-well-formed"},
      {"second header",
       strdup(HDR "<stream:stream xmlns='jabber:component:accept' "
                  "xmlns:stream='http://etherx.jabber.org/streams'>"),
       "unsupported-stanza-type"},
      {"xml declaration mid-stream", strdup(HDR "<?xml version='1.0'?>"), "not-well-formed"},
      {"wrong default namespace",
       strdup("<stream:stream xmlns='jabber:client' "
              "xmlns:stream='http://etherx.jabber.org/streams'>"),
       "invalid-namespace"},
      {"no default namespace",
       strdup("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"),
       "invalid-namespace"},
      {"wrong stream namespace",
       strdup("<stream:stream xmlns='jabber:component:accept' xmlns:stream='urn:x'>"),
       "invalid-namespace"},
      {"wrong root", strdup("<message xmlns='jabber:component:accept'/>"),
       "invalid-namespace"},
      {"latin-1 declared",
       strdup("<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream "
              "xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>"),
       "unsupported-encoding"},
      {"depth 65", cat3(HDR "<message>", "<a>", 64, ""), "policy-violation"},
      {"257 attributes", attrs(257, " a%zu='%zu'"), "policy-violation"},
      {"257 namespace declarations", attrs(257, " xmlns:p%zu='urn:x:%zu'"),
       "policy-violation"},
      {"8193 elements", cat3(HDR "<message>", "<a/>", 8192, ""), "policy-violation"},
      {"100000 attributes", attrs(100000, " a%zu='%zu'"), "policy-violation"},
      {"1000000 nested", cat3(HDR "<message>", "<a>", 1000000, ""), "policy-violation"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rec r;
    /* Whole, and in 7-byte chunks: the same refusal either way. */
    CHECK_STR(run(cases[i].text, strlen(cases[i].text), 0, 16 * 1024 * 1024, &r),
              cases[i].want, cases[i].name);
    sx_buf_free(&r.log);
    CHECK_STR(run(cases[i].text, strlen(cases[i].text), 7, 16 * 1024 * 1024, &r),
              cases[i].want, cases[i].name);
    CHECK_INT(r.stanzas, 0, cases[i].name);
    sx_buf_free(&r.log);
    free(cases[i].text);
  }
}

static void test_limits_allowed(void) {
  rec r;
  char *s = cat3(HDR "<message>", "<a>", 63, "");
  char *t = cat3(s, "</a>", 63, "</message>");
  CHECK_STR(run_s(t, &r), "ok", "depth 64 is allowed");
  CHECK_INT(r.stanzas, 1, "depth 64 delivered");
  sx_buf_free(&r.log);
  free(s);
  free(t);
  s = attrs(256, " a%zu='%zu'");
  CHECK_STR(run_s(s, &r), "ok", "256 attributes are allowed");
  CHECK_INT(r.stanzas, 1, "256 attributes delivered");
  sx_buf_free(&r.log);
  free(s);
  s = cat3(HDR "<message>", "<a/>", 8191, "</message>");
  CHECK_STR(run_s(s, &r), "ok", "8192 elements are allowed");
  sx_buf_free(&r.log);
  free(s);
}

static void test_stanza_bytes(void) {
  rec r;
  const size_t max = 8192;
  /* A stanza just under the limit passes; over it (by more than one 4 KiB slice, the
   * granularity of the check) is refused, in any chunking. */
  char *ok = cat3(HDR "<message><body>", "x", max - 40, "</body></message>");
  CHECK_STR(run(ok, strlen(ok), 0, max, &r), "ok", "under max_stanza_bytes");
  CHECK_INT(r.stanzas, 1, "delivered");
  sx_buf_free(&r.log);
  char *big = cat3(HDR "<message><body>", "x", max + 4096 + 1, "</body></message>");
  CHECK_STR(run(big, strlen(big), 0, max, &r), "policy-violation", "over max_stanza_bytes");
  sx_buf_free(&r.log);
  CHECK_STR(run(big, strlen(big), 1000, max, &r), "policy-violation", "over, chunked");
  sx_buf_free(&r.log);
  /* Many stanzas, and whitespace keepalives between them, add up to far more than the
   * limit: each stanza counts on its own. */
  char *many = cat3(HDR, "<message><body>hello</body></message> \n ", 2000, "");
  CHECK_STR(run(many, strlen(many), 333, max, &r), "ok", "stanzas counted one by one");
  CHECK_INT(r.stanzas, 2000, "all delivered");
  sx_buf_free(&r.log);
  char *ws = cat3(HDR, " ", 10 * max, "<message/>");
  CHECK_STR(run(ws, strlen(ws), 100, max, &r), "ok", "keepalives do not count");
  sx_buf_free(&r.log);
  /* The stream header counts too. */
  char *hdr = cat3("<stream:stream xmlns='jabber:component:accept' "
                   "xmlns:stream='http://etherx.jabber.org/streams' x='",
                   "y", max + 4096, "'>");
  CHECK_STR(run(hdr, strlen(hdr), 0, max, &r), "policy-violation", "huge stream header");
  free(ok);
  free(big);
  free(many);
  free(ws);
  free(hdr);
}

int main(void) {
  test_good_stream();
  test_accessors();
  test_refusals();
  test_limits_allowed();
  test_stanza_bytes();
  return check_done();
}
