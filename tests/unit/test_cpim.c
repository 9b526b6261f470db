/* message/cpim (RFC 3862) unwrapping. */
#include <string.h>

#include "check.h"
#include "translate/cpim.h"

static const struct {
  const char *name;
  const char *doc;
  int rc;
  const char *from, *to, *subject, *content_type, *charset, *lang, *body;
} cases[] = {
    /* RFC 3862 §2 example (message headers, MIME headers, body) */
    {"rfc3862 example",
     "From: MR SANDERS <im:piglet@100akerwood.com>\r\n"
     "To: Depressed Donkey <im:eeyore@100akerwood.com>\r\n"
     "DateTime: 2000-12-13T13:40:00-08:00\r\n"
     "Subject: the weather will be fine today\r\n"
     "Subject:;lang=fr beau temps prevu pour aujourd'hui\r\n"
     "NS: MyFeatures <mid:MessageFeatures@id.foo.com>\r\n"
     "Require: MyFeatures.VitalMessageOption\r\n"
     "MyFeatures.VitalMessageOption: Confirmation-requested\r\n"
     "MyFeatures.WackyMessageOption: Use-silly-font\r\n"
     "\r\n"
     "Content-type: text/xml; charset=utf-8\r\n"
     "Content-ID: <1234567890@foo.com>\r\n"
     "\r\n"
     "<body>\r\nHere is the text of my message.\r\n</body>\r\n",
     0, "im:piglet@100akerwood.com", "im:eeyore@100akerwood.com",
     "the weather will be fine today", "text/xml", "utf-8", NULL,
     "<body>\r\nHere is the text of my message.\r\n</body>\r\n"},
    {"LF only",
     "From: <sip:alice@x>\nTo: <sip:bob@y>\n\nContent-Type: text/plain\n\nhello\n", 0,
     "sip:alice@x", "sip:bob@y", NULL, "text/plain", NULL, NULL, "hello\n"},
    {"no inner content-type", "From: <sip:alice@x>\r\n\r\n\r\nhello", 0, "sip:alice@x", NULL,
     NULL, NULL, NULL, NULL, "hello"},
    {"charset param quoted, upper media type",
     "From: <sip:alice@x>\r\n\r\nContent-Type: Text/Plain ; format=flowed; CHARSET=\"ISO-8859-1\"\r\n"
     "Content-Language: de\r\n\r\nHallo",
     0, "sip:alice@x", NULL, NULL, "text/plain", "ISO-8859-1", "de", "Hallo"},
    {"header names case-insensitive",
     "from: <sip:alice@x>\r\nTO: <sip:bob@y>\r\nsubject: hi there \r\n\r\n"
     "CONTENT-TYPE: text/plain;charset=utf-8\r\ncontent-language: en-GB\r\n\r\nbody",
     0, "sip:alice@x", "sip:bob@y", "hi there", "text/plain", "utf-8", "en-GB", "body"},
    {"no brackets", "From: sip:alice@x \r\n\r\n\r\n", 0, "sip:alice@x", NULL, NULL, NULL, NULL,
     NULL, ""},
    {"quoted display name with <", "From: \"A <b>\" <sip:alice@x>\r\n\r\n\r\nz", 0,
     "sip:alice@x", NULL, NULL, NULL, NULL, NULL, "z"},
    {"subject with lang only", "Subject:;lang=fr Bonjour\r\n\r\n\r\n", 0, NULL, NULL, "Bonjour",
     NULL, NULL, NULL, ""},
    {"folded MIME header",
     "From: <sip:a@x>\r\n\r\nContent-Type: text/plain;\r\n charset=utf-16\r\n\r\nb", 0,
     "sip:a@x", NULL, NULL, "text/plain", "utf-16", NULL, "b"},
    {"empty body", "From: <sip:a@x>\r\n\r\nContent-Type: text/plain\r\n\r\n", 0, "sip:a@x", NULL,
     NULL, "text/plain", NULL, NULL, ""},
    {"body keeps blank lines", "From: <sip:a@x>\n\n\n\nline\n\n", 0, "sip:a@x", NULL, NULL,
     NULL, NULL, NULL, "\nline\n\n"},
    {"empty message headers", "\r\nContent-Type: text/plain\r\n\r\nx", 0, NULL, NULL, NULL,
     "text/plain", NULL, NULL, "x"},
    /* malformed */
    {"no blank lines", "From: <sip:a@x>\r\nhello", -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"one blank line", "From: <sip:a@x>\r\n\r\nContent-Type: text/plain\r\nhello", -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"missing final blank line", "From: <sip:a@x>\r\n\r\nContent-Type: text/plain", -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"no colon", "From <sip:a@x>\r\n\r\n\r\nx", -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"empty name", ": x\r\n\r\n\r\nx", -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"space in name", "Fr om: <sip:a@x>\r\n\r\n\r\nx", -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"unclosed <", "From: Alice <sip:a@x\r\n\r\n\r\nx", -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"empty From", "From: <>\r\n\r\n\r\nx", -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"two From", "From: <sip:a@x>\r\nFrom: <sip:b@x>\r\n\r\n\r\nx", -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"two To", "To: <sip:a@x>\r\nTo: <sip:b@x>\r\n\r\n\r\nx", -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"two Content-Type", "\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\n\r\nx", -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"continuation first", " x\r\n\r\n\r\nx", -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"empty buffer", "", -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    {"plain text", "hello world", -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

int main(void) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sx_cpim c;
    const char *doc = cases[i].doc;
    int rc = sx_cpim_parse(doc, strlen(doc), &c);
    CHECK_INT(rc, cases[i].rc, cases[i].name);
    if (rc == 0 && cases[i].rc == 0) {
      CHECK_STR(c.from, cases[i].from, cases[i].name);
      CHECK_STR(c.to, cases[i].to, cases[i].name);
      CHECK_STR(c.subject, cases[i].subject, cases[i].name);
      CHECK_STR(c.content_type, cases[i].content_type, cases[i].name);
      CHECK_STR(c.charset, cases[i].charset, cases[i].name);
      CHECK_STR(c.lang, cases[i].lang, cases[i].name);
      CHECK_INT(c.body_len, strlen(cases[i].body), cases[i].name);
      CHECK(c.body >= doc && c.body + c.body_len == doc + strlen(doc), "%s: body in buffer",
            cases[i].name);
      CHECK(memcmp(c.body, cases[i].body, c.body_len) == 0, "%s: body", cases[i].name);
    } else {
      CHECK(c.from == NULL && c.content_type == NULL && c.body == NULL, "%s: cleared",
            cases[i].name);
    }
    sx_cpim_free(&c);
  }

  /* the body length is taken from len, NUL bytes included; headers stop at len */
  static const char bin[] = "From: <sip:a@x>\r\n\r\nContent-Type: text/plain\r\n\r\na\0b";
  sx_cpim c;
  CHECK_INT(sx_cpim_parse(bin, sizeof bin - 1, &c), 0, "binary body");
  CHECK_INT(c.body_len, 3, "binary body len");
  CHECK(c.body && memcmp(c.body, "a\0b", 3) == 0, "binary body bytes");
  sx_cpim_free(&c);
  CHECK_INT(sx_cpim_parse(bin, 20, &c), -1, "truncated by len");
  sx_cpim_free(&c);
  /* a NUL byte inside a header is refused */
  static const char nul[] = "From: <sip:a\0@x>\r\n\r\n\r\nx";
  CHECK_INT(sx_cpim_parse(nul, sizeof nul - 1, &c), -1, "NUL in header");
  sx_cpim_free(&c);
  CHECK_INT(sx_cpim_parse(NULL, 0, &c), -1, "NULL buffer");
  sx_cpim_free(&c);
  return check_done();
}
