/* Charset conversion, UTF-8 validation, XML cleaning and the escaping buffer. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "translate/text.h"

#define S(lit) lit, sizeof(lit) - 1

static const struct {
  const char *name;
  const char *charset;
  const char *in;
  size_t len;
  size_t max;
  sx_text_rc rc;
  const char *out; /* expected UTF-8 when rc is OK */
  size_t cleaned;
} conv[] = {
    /* charsets */
    {"utf-8 plain", NULL, S("hello"), 0, SX_TEXT_OK, "hello", 0},
    {"empty charset", "", S("h\xC3\xA9"), 0, SX_TEXT_OK, "h\xC3\xA9", 0},
    {"UTF-8 name", "UTF-8", S("caf\xC3\xA9"), 0, SX_TEXT_OK, "caf\xC3\xA9", 0},
    {"utf8 name", "utf8", S("x"), 0, SX_TEXT_OK, "x", 0},
    {"quoted name", "\"utf-8\"", S("x"), 0, SX_TEXT_OK, "x", 0},
    {"iso-8859-1", "iso-8859-1", S("caf\xE9"), 0, SX_TEXT_OK, "caf\xC3\xA9", 0},
    {"ISO-8859-1 upper", "ISO-8859-1", S("caf\xE9"), 0, SX_TEXT_OK, "caf\xC3\xA9", 0},
    {"latin1 alias", "latin1", S("\xFC"), 0, SX_TEXT_OK, "\xC3\xBC", 0},
    {"windows-1252 euro", "windows-1252", S("5\x80"), 0, SX_TEXT_OK, "5\xE2\x82\xAC", 0},
    {"us-ascii", "us-ascii", S("plain"), 0, SX_TEXT_OK, "plain", 0},
    {"us-ascii high byte", "us-ascii", S("caf\xE9"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"utf-16 BOM LE", "utf-16", S("\xFF\xFE" "h\0i\0"), 0, SX_TEXT_OK, "hi", 0},
    {"utf-16 BOM BE", "UTF-16", S("\xFE\xFF\0h\0\xE9"), 0, SX_TEXT_OK, "h\xC3\xA9", 0},
    {"utf-16le BOM kept then dropped", "utf-16le", S("\xFF\xFE" "a\0"), 0, SX_TEXT_OK, "a", 0},
    {"utf-16le surrogate pair", "utf-16le", S("\x3D\xD8\x00\xDE"), 0, SX_TEXT_OK,
     "\xF0\x9F\x98\x80", 0},
    {"utf-16le lone surrogate", "utf-16le", S("\x00\xD8" "a\0"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"utf-16 odd length", "utf-16le", S("a\0b"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"iso-2022-jp", "iso-2022-jp", S("\x1B$B$\"\x1B(B"), 0, SX_TEXT_OK, "\xE3\x81\x82", 0},
    {"shift_jis", "shift_jis", S("\x82\xA0"), 0, SX_TEXT_OK, "\xE3\x81\x82", 0},
    {"unknown charset", "x-no-such-charset", S("x"), 0, SX_TEXT_CHARSET, NULL, 0},
    {"iconv suffix refused", "utf-16//IGNORE", S("x\0"), 0, SX_TEXT_CHARSET, NULL, 0},
    {"charset list refused", "utf-8,latin1", S("x"), 0, SX_TEXT_CHARSET, NULL, 0},
    {"long charset", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     S("x"), 0, SX_TEXT_CHARSET, NULL, 0},
    /* bad UTF-8 */
    {"bad continuation", NULL, S("\xC3\x28"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"lone continuation", NULL, S("a\x80"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"overlong /", NULL, S("\xC0\xAF"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"overlong C1", NULL, S("\xC1\xBF"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"overlong 3-byte", NULL, S("\xE0\x80\xAF"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"overlong 4-byte", NULL, S("\xF0\x80\x80\xAF"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"surrogate D800", NULL, S("\xED\xA0\x80"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"surrogate DFFF", NULL, S("\xED\xBF\xBF"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"truncated 2", NULL, S("ab\xC3"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"truncated 3", NULL, S("ab\xE2\x82"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"truncated 4", NULL, S("ab\xF0\x9F\x98"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"above U+10FFFF", NULL, S("\xF4\x90\x80\x80"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"F5 lead", NULL, S("\xF5\x80\x80\x80"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"FF byte", NULL, S("\xFF"), 0, SX_TEXT_BAD_UTF8, NULL, 0},
    {"max U+10FFFF ok", NULL, S("\xF4\x8F\xBF\xBF"), 0, SX_TEXT_OK, "\xF4\x8F\xBF\xBF", 0},
    {"U+D7FF ok", NULL, S("\xED\x9F\xBF"), 0, SX_TEXT_OK, "\xED\x9F\xBF", 0},
    {"U+E000 ok", NULL, S("\xEE\x80\x80"), 0, SX_TEXT_OK, "\xEE\x80\x80", 0},
    /* cleaning */
    {"controls removed", NULL, S("a\x01" "b\x1F" "c\x7F" "d"), 0, SX_TEXT_OK, "ab" "c\x7F" "d", 2},
    {"tab lf cr kept", NULL, S("a\tb\nc\r\nd"), 0, SX_TEXT_OK, "a\tb\nc\r\nd", 0},
    {"NUL removed", NULL, S("a\0b\0"), 0, SX_TEXT_OK, "ab", 2},
    {"FFFE FFFF removed", NULL, S("a\xEF\xBF\xBE" "b\xEF\xBF\xBF"), 0, SX_TEXT_OK, "ab", 2},
    {"FFFD kept", NULL, S("\xEF\xBF\xBD"), 0, SX_TEXT_OK, "\xEF\xBF\xBD", 0},
    {"C1 kept", NULL, S("\xC2\x85"), 0, SX_TEXT_OK, "\xC2\x85", 0},
    {"control via latin1", "iso-8859-1", S("a\x07\xE9"), 0, SX_TEXT_OK, "a\xC3\xA9", 1},
    {"NUL via utf-16", "utf-16le", S("a\0\0\0b\0"), 0, SX_TEXT_OK, "ab", 1},
    {"leading BOM dropped", NULL, S("\xEF\xBB\xBFhi"), 0, SX_TEXT_OK, "hi", 0},
    {"inner BOM kept", NULL, S("h\xEF\xBB\xBFi"), 0, SX_TEXT_OK, "h\xEF\xBB\xBFi", 0},
    {"only BOM", NULL, S("\xEF\xBB\xBF"), 0, SX_TEXT_OK, "", 0},
    {"empty", NULL, S(""), 0, SX_TEXT_OK, "", 0},
    {"empty latin1", "iso-8859-1", S(""), 0, SX_TEXT_OK, "", 0},
    {"only controls", NULL, S("\x01\x02"), 0, SX_TEXT_OK, "", 2},
    /* size limit on the UTF-8 result */
    {"at limit", NULL, S("12345"), 5, SX_TEXT_OK, "12345", 0},
    {"over limit", NULL, S("123456"), 5, SX_TEXT_TOO_BIG, NULL, 0},
    {"limit after conversion", "iso-8859-1", S("\xE9\xE9\xE9"), 5, SX_TEXT_TOO_BIG, NULL, 0},
    {"limit after conversion ok", "iso-8859-1", S("\xE9\xE9\xE9"), 6, SX_TEXT_OK,
     "\xC3\xA9\xC3\xA9\xC3\xA9", 0},
    {"limit after cleaning", NULL, S("12345\x01"), 5, SX_TEXT_OK, "12345", 1},
    {"limit after BOM", NULL, S("\xEF\xBB\xBF" "12345"), 5, SX_TEXT_OK, "12345", 0},
};

static const struct {
  const char *in, *out;
} esc[] = {
    {"plain", "plain"},
    {"a&b", "a&amp;b"},
    {"<tag>", "&lt;tag&gt;"},
    {"\"q\"", "&quot;q&quot;"},
    {"it's", "it&apos;s"},
    {"&&", "&amp;&amp;"},
    {"&amp;", "&amp;amp;"},
    {"]]>", "]]&gt;"},
    {"caf\xC3\xA9 <&>", "caf\xC3\xA9 &lt;&amp;&gt;"},
    {"a\tb\nc\rd", "a\tb\nc\rd"},
    {"a\x01\x1F" "b", "ab"},
    {"x\xEF\xBF\xBEy\xEF\xBF\xBF", "xy"},
    {"\xEF\xBF\xBD", "\xEF\xBF\xBD"},
    {"", ""},
};

static void test_buf(void) {
  sx_buf b = {0};
  size_t len = 99;
  char *s = sx_buf_take(&b, &len);
  CHECK(s != NULL, "take of an empty buffer returns a string");
  CHECK_STR(s, "", "empty take");
  CHECK_INT(len, 0, "empty take len");
  free(s);

  sx_buf_puts(&b, "abc");
  sx_buf_put(&b, "defgh", 2);
  sx_buf_printf(&b, "-%d-%s", 42, "x");
  sx_buf_puts(&b, NULL);
  CHECK_STR(b.data, "abcde-42-x", "put/printf");
  CHECK_INT(b.len, 10, "len");
  s = sx_buf_take(&b, &len);
  CHECK_STR(s, "abcde-42-x", "take");
  CHECK_INT(len, 10, "take len");
  CHECK(b.data == NULL && b.len == 0 && b.cap == 0, "take resets");
  free(s);

  /* growth well past the first allocation, and a long printf */
  for (int i = 0; i < 1000; i++) sx_buf_put(&b, "0123456789", 10);
  CHECK_INT(b.len, 10000, "grown");
  CHECK_INT(strlen(b.data), 10000, "NUL-terminated");
  char big[600];
  memset(big, 'z', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  sx_buf_printf(&b, "[%s]", big);
  CHECK_INT(b.len, 10000 + 601, "long printf");
  CHECK(b.data[b.len - 1] == ']' && b.data[10001] == 'z', "long printf content");
  sx_buf_free(&b);
  CHECK(b.data == NULL && b.len == 0, "free resets");

  /* put of zero bytes still gives a string */
  sx_buf_put(&b, "", 0);
  s = sx_buf_take(&b, NULL);
  CHECK_STR(s, "", "zero-byte put");
  free(s);

  /* oom: take returns NULL and resets */
  sx_buf_puts(&b, "x");
  b.oom = 1;
  sx_buf_puts(&b, "y");
  CHECK_INT(b.len, 1, "no append after oom");
  s = sx_buf_take(&b, &len);
  CHECK(s == NULL, "take after oom");
  CHECK_INT(len, 0, "len after oom");
  CHECK(b.data == NULL && b.oom == 0, "reset after oom");

  for (size_t i = 0; i < sizeof esc / sizeof esc[0]; i++) {
    sx_buf e = {0};
    sx_buf_puts_xml(&e, esc[i].in);
    char *o = sx_buf_take(&e, NULL);
    CHECK_STR(o, esc[i].out, esc[i].in);
    free(o);
  }
  /* put_xml with an explicit length stops there and handles NUL bytes */
  sx_buf e = {0};
  sx_buf_put_xml(&e, "a\0<b>", 5);
  sx_buf_put_xml(&e, "&tail", 1);
  char *o = sx_buf_take(&e, NULL);
  CHECK_STR(o, "a&lt;b&gt;&amp;", "put_xml with length");
  free(o);
}

int main(void) {
  for (size_t i = 0; i < sizeof conv / sizeof conv[0]; i++) {
    char *out = (char *)"unset";
    size_t out_len = 12345, cleaned = 12345;
    sx_text_rc rc = sx_text_to_utf8(conv[i].charset, conv[i].in, conv[i].len, conv[i].max, &out,
                                    &out_len, &cleaned);
    CHECK_INT(rc, conv[i].rc, conv[i].name);
    if (rc == SX_TEXT_OK) {
      CHECK_STR(out, conv[i].out, conv[i].name);
      CHECK_INT(out_len, strlen(conv[i].out), conv[i].name);
      CHECK_INT(cleaned, conv[i].cleaned, conv[i].name);
      CHECK(out && sx_utf8_valid(out, out_len), "%s: output valid", conv[i].name);
    } else {
      CHECK(out == NULL, "%s: out NULL on error", conv[i].name);
    }
    if (rc == SX_TEXT_OK) free(out);
  }
  /* cleaned may be NULL */
  char *out;
  size_t out_len;
  CHECK_INT(sx_text_to_utf8(NULL, S("a\x01"), 0, &out, &out_len, NULL), SX_TEXT_OK, "NULL cleaned");
  CHECK_STR(out, "a", "NULL cleaned out");
  free(out);
  /* a large latin1 input grows the iconv output buffer */
  {
    size_t n = 100000;
    char *in = malloc(n);
    memset(in, '\xE9', n);
    CHECK_INT(sx_text_to_utf8("iso-8859-1", in, n, 0, &out, &out_len, NULL), SX_TEXT_OK,
              "large latin1");
    CHECK_INT(out_len, 2 * n, "large latin1 len");
    CHECK(out && (unsigned char)out[0] == 0xC3 && (unsigned char)out[2 * n - 1] == 0xA9 &&
              out[2 * n] == '\0',
          "large latin1 content");
    free(out);
    free(in);
  }
  /* sx_utf8_valid directly */
  CHECK(sx_utf8_valid("", 0), "empty valid");
  CHECK(sx_utf8_valid("a\0b", 3), "NUL is valid UTF-8");
  CHECK(!sx_utf8_valid("\xC3", 1), "truncated");
  CHECK(sx_utf8_valid("\xC3\xA9", 2), "é");
  CHECK(!sx_utf8_valid("\xC3\xA9", 1), "length respected");
  test_buf();
  return check_done();
}
