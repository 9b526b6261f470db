/* SIP URI ↔ JID mapping (RFC 7247 §6, XEP-0106, SPEC §2). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "translate/address.h"

/* sx_sip_to_jid: URI → rc and parts. */
static const struct {
  const char *uri;
  sx_addr_rc rc;
  const char *local, *domain, *resource;
} sip2jid[] = {
    /* RFC 7247 examples */
    {"sip:juliet@example.com", SX_ADDR_OK, "juliet", "example.com", NULL},
    {"sip:juliet@example.com;gr=balcony", SX_ADDR_OK, "juliet", "example.com", "balcony"},
    {"sip:bob@contoso.com;gr=laptop", SX_ADDR_OK, "bob", "contoso.com", "laptop"},
    /* scheme case, password, port, params, headers */
    {"SIP:juliet@example.com", SX_ADDR_OK, "juliet", "example.com", NULL},
    {"Sip:juliet:secret@example.com:5060;transport=tcp?subject=hi", SX_ADDR_OK, "juliet",
     "example.com", NULL},
    {"sip:juliet@example.com;transport=tcp;GR=phone;lr", SX_ADDR_OK, "juliet", "example.com",
     "phone"},
    {"sip:juliet@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", SX_ADDR_OK,
     "juliet", "example.com", "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"},
    {"sip:juliet@example.com;gr=my%20phone%2Fx", SX_ADDR_OK, "juliet", "example.com",
     "my phone/x"},
    {"sip:juliet@example.com;gr", SX_ADDR_OK, "juliet", "example.com", NULL},
    {"sip:juliet@example.com;gr=", SX_ADDR_OK, "juliet", "example.com", NULL},
    {"sip:juliet@example.com?gr=x", SX_ADDR_OK, "juliet", "example.com", NULL},
    /* domain: case, trailing dot, IP literals */
    {"sip:BOB@Contoso.COM.", SX_ADDR_OK, "bob", "contoso.com", NULL},
    {"sip:bob@192.0.2.1:5070", SX_ADDR_OK, "bob", "192.0.2.1", NULL},
    {"sip:bob@[2001:DB8::1]:5060;gr=a", SX_ADDR_OK, "bob", "[2001:db8::1]", "a"},
    {"sip:bob@[::ffff:192.0.2.1]", SX_ADDR_OK, "bob", "[::ffff:192.0.2.1]", NULL},
    /* XEP-0106 escapes */
    {"sip:d'artagnan@musketeers.lit", SX_ADDR_OK, "d\\27artagnan", "musketeers.lit", NULL},
    {"sip:c&d@example.com", SX_ADDR_OK, "c\\26d", "example.com", NULL},
    {"sip:a/b@example.com", SX_ADDR_OK, "a\\2fb", "example.com", NULL},
    {"sip:c%26d@example.com", SX_ADDR_OK, "c\\26d", "example.com", NULL},
    {"sip:a%2Fb@example.com", SX_ADDR_OK, "a\\2fb", "example.com", NULL},
    {"sip:a%5C5cb@example.com", SX_ADDR_OK, "a\\5cb", "example.com", NULL},
    {"sip:a%5Cb@example.com", SX_ADDR_OK, "a\\b", "example.com", NULL},
    /* a literal \26 \27 \2f in the user would collide with the escaped & ' / */
    {"sip:a%5C26b@example.com", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a%5C2Fb@example.com", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    /* percent-decoding */
    {"sip:b%6Fb@contoso.com", SX_ADDR_OK, "bob", "contoso.com", NULL},
    {"sip:j%C3%BCrgen@x", SX_ADDR_OK, "j\xC3\xBCrgen", "x", NULL},
    {"sip:j%c3%bcrgen@x", SX_ADDR_OK, "j\xC3\xBCrgen", "x", NULL},
    {"sip:+15551234;phone-context=x@example.com", SX_ADDR_OK, "+15551234;phone-context=x",
     "example.com", NULL},
    {"sip:a%zzb@example.com", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a%4@example.com", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a%@example.com", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a@example.com;gr=%G1", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    /* bad UTF-8 */
    {"sip:%C3%28@x", SX_ADDR_BAD_UTF8, NULL, NULL, NULL},
    {"sip:%C0%AF@x", SX_ADDR_BAD_UTF8, NULL, NULL, NULL},
    {"sip:%ED%A0%80@x", SX_ADDR_BAD_UTF8, NULL, NULL, NULL},
    {"sip:%F4%90%80%80@x", SX_ADDR_BAD_UTF8, NULL, NULL, NULL},
    {"sip:ab%C3@x", SX_ADDR_BAD_UTF8, NULL, NULL, NULL},
    {"sip:a@x;gr=%FF", SX_ADDR_BAD_UTF8, NULL, NULL, NULL},
    /* characters a localpart cannot hold */
    {"sip:a%20b@x", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a%22b@x", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a%3Ab@x", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a%3Cb@x", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a%3Eb@x", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a%40b@x", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a%00b@x", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a%0Ab@x", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a%7Fb@x", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a@x;gr=a%0Ab", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    /* no user */
    {"sip:example.com", SX_ADDR_NO_USER, NULL, NULL, NULL},
    {"sip:@example.com", SX_ADDR_NO_USER, NULL, NULL, NULL},
    {"sip::pw@example.com", SX_ADDR_NO_USER, NULL, NULL, NULL},
    {"sip:", SX_ADDR_NO_USER, NULL, NULL, NULL},
    /* schemes */
    {"sips:juliet@example.com", SX_ADDR_SIPS, NULL, NULL, NULL},
    {"SIPS:juliet@example.com", SX_ADDR_SIPS, NULL, NULL, NULL},
    {"tel:+15551234", SX_ADDR_SCHEME, NULL, NULL, NULL},
    {"mailto:juliet@example.com", SX_ADDR_SCHEME, NULL, NULL, NULL},
    {"im:juliet@example.com", SX_ADDR_SCHEME, NULL, NULL, NULL},
    {"pres:juliet@example.com", SX_ADDR_SCHEME, NULL, NULL, NULL},
    {"xmpp:juliet@example.com", SX_ADDR_SCHEME, NULL, NULL, NULL},
    {"juliet@example.com", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {":juliet@example.com", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"1sip:juliet@example.com", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    /* domains */
    {"sip:a@", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a@.", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a@x..y", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a@.x", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a@x.y..", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a@ex_ample.com", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a@ex%41mple.com", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a@exa\xC3\xA4mple.com", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a@x:", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a@x:50a", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a@[::1", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a@[]", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a@[zz::1]", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a@[::1]x", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"sip:a@x y", SX_ADDR_MALFORMED, NULL, NULL, NULL},
};

/* sx_jid_parse. */
static const struct {
  const char *text;
  sx_addr_rc rc;
  const char *local, *domain, *resource;
} jidparse[] = {
    {"juliet@example.com", SX_ADDR_OK, "juliet", "example.com", NULL},
    {"juliet@example.com/balcony", SX_ADDR_OK, "juliet", "example.com", "balcony"},
    {"juliet@Example.COM./a/b@c", SX_ADDR_OK, "juliet", "example.com", "a/b@c"},
    {"example.com", SX_ADDR_OK, NULL, "example.com", NULL},
    {"example.com/res", SX_ADDR_OK, NULL, "example.com", "res"},
    {"d\\27artagnan@musketeers.lit", SX_ADDR_OK, "d\\27artagnan", "musketeers.lit", NULL},
    {"J\xC3\xBCrgen@x", SX_ADDR_OK, "j\xC3\xBCrgen", "x", NULL},
    {"a@[2001:db8::1]", SX_ADDR_OK, "a", "[2001:db8::1]", NULL},
    {"a@x/r\xC3\xA9s", SX_ADDR_OK, "a", "x", "r\xC3\xA9s"},
    {"@example.com", SX_ADDR_NO_USER, NULL, NULL, NULL},
    {"a@", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"a@/r", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"a@x/", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"/r", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"a@b@c", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"a/b@c", SX_ADDR_OK, NULL, "a", "b@c"}, /* an '@' after the first '/' is resource text */
    {"a b@c", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"a'b@c", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"a&b@c", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"a:b@c", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"a<b@c", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"a\x01@c", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"a@c/x\ty", SX_ADDR_MALFORMED, NULL, NULL, NULL},
    {"\xC3\x28@c", SX_ADDR_BAD_UTF8, NULL, NULL, NULL},
    {"a@c/\xC0\xAF", SX_ADDR_BAD_UTF8, NULL, NULL, NULL},
    {"a@\xED\xA0\x80", SX_ADDR_BAD_UTF8, NULL, NULL, NULL},
    {"a@ex_ample.com", SX_ADDR_MALFORMED, NULL, NULL, NULL},
};

/* sx_jid_to_sip: (local, domain, resource, with_gr) → URI. */
static const struct {
  const char *local, *domain, *resource;
  int with_gr;
  const char *sip;
} jid2sip[] = {
    {"juliet", "example.com", NULL, 1, "sip:juliet@example.com"},
    {"juliet", "example.com", "balcony", 1, "sip:juliet@example.com;gr=balcony"},
    {"juliet", "example.com", "balcony", 0, "sip:juliet@example.com"},
    {"d\\27artagnan", "musketeers.lit", NULL, 0, "sip:d'artagnan@musketeers.lit"},
    {"c\\26d", "example.com", NULL, 0, "sip:c&d@example.com"},
    {"a\\2fb", "example.com", NULL, 0, "sip:a/b@example.com"},
    {"a\\2Fb", "example.com", NULL, 0, "sip:a/b@example.com"},
    {"a\\5cb", "example.com", NULL, 0, "sip:a%5C5cb@example.com"},
    {"a\\20b", "example.com", NULL, 0, "sip:a%5C20b@example.com"},
    {"a\\", "example.com", NULL, 0, "sip:a%5C@example.com"},
    {"a\\2", "example.com", NULL, 0, "sip:a%5C2@example.com"},
    {"j\xC3\xBCrgen", "x", NULL, 0, "sip:j%C3%BCrgen@x"},
    {"a#%[]^`{|}\"<> b", "x", NULL, 0, "sip:a%23%25%5B%5D%5E%60%7B%7C%7D%22%3C%3E%20b@x"},
    {"a\x01\x7f", "x", NULL, 0, "sip:a%01%7F@x"},
    {"a-_.!~*()=+$,;?", "x", NULL, 0, "sip:a-_.!~*()=+$,;?@x"},
    {"a", "x", "my phone;a=b?c&d/e", 1, "sip:a@x;gr=my%20phone%3Ba%3Db%3Fc%26d%2Fe"},
    {"a", "x", "urn:uuid:1-2", 1, "sip:a@x;gr=urn:uuid:1-2"},
    {"a", "x", "r\xC3\xA9s", 1, "sip:a@x;gr=r%C3%A9s"},
    {NULL, "x", NULL, 1, "sip:x"},
};

/* Round trips: SIP → JID → SIP gives the canonical SIP form. */
static const struct {
  const char *in, *out;
} roundtrip[] = {
    {"sip:juliet@example.com;gr=balcony", "sip:juliet@example.com;gr=balcony"},
    {"sip:j%C3%BCrgen@x", "sip:j%C3%BCrgen@x"},
    {"sip:d'artagnan@musketeers.lit", "sip:d'artagnan@musketeers.lit"},
    {"sip:c&d@example.com", "sip:c&d@example.com"},
    {"sip:a/b@example.com", "sip:a/b@example.com"},
    {"sip:a%5C5cb@example.com", "sip:a%5C5cb@example.com"},
    {"sip:a%5Cb@example.com", "sip:a%5Cb@example.com"},
    {"SIP:Juliet:pw@EXAMPLE.com.:5060;transport=tls?x=y", "sip:juliet@example.com"},
    {"sip:a@x;gr=my%20phone%2Fx", "sip:a@x;gr=my%20phone%2Fx"},
};

/* Keys: every variant on the left has the key on the right. */
static const struct {
  const char *addr; /* "sip:..." or a JID */
  const char *key;
} keys[] = {
    {"sip:bob@contoso.com", "bob@contoso.com"},
    {"sip:BOB@Contoso.COM.", "bob@contoso.com"},
    {"sip:b%6Fb@contoso.com", "bob@contoso.com"},
    {"sip:B%4Fb@contoso.com;gr=x", "bob@contoso.com"},
    {"bob@contoso.com", "bob@contoso.com"},
    {"BOB@CONTOSO.COM./laptop", "bob@contoso.com"},
    {"\xC3\x84rger@x", "\xC3\xA4rger@x"},
    {"sip:%C3%84rger@x", "\xC3\xA4rger@x"},
    {"\xCE\xA3\xCE\x91@x", "\xCF\x83\xCE\xB1@x"},         /* ΣΑ → σα */
    {"\xD0\x9F\xD0\xB5\xD1\x82\xD1\x8F@x", "\xD0\xBF\xD0\xB5\xD1\x82\xD1\x8F@x"}, /* Петя */
    {"A\\2Fb@x", "a\\2fb@x"},
    {"a\\2fb@x", "a\\2fb@x"},
    {"sip:a/b@x", "a\\2fb@x"},
    {"sip:D'Artagnan@x", "d\\27artagnan@x"},
    {"x.example", "x.example"},
    /* one identity per spelling: every class of variant the edge folds (XMPP stringprep) */
    {"sip:%EF%BD%85%EF%BD%96%EF%BD%85@contoso.com", "eve@contoso.com"},  /* fullwidth */
    {"sip:%EF%BC%A5%EF%BC%B6%EF%BC%A5@contoso.com", "eve@contoso.com"},  /* FULLWIDTH */
    {"\xEF\xBD\x85\xEF\xBD\x96\xEF\xBD\x85@contoso.com", "eve@contoso.com"},
    {"sip:e%E2%80%8Bve@contoso.com", "eve@contoso.com"},                 /* U+200B */
    {"e\xE2\x80\x8Dve@contoso.com", "eve@contoso.com"},                /* U+200D */
    {"\xEF\xBB\xBF" "eve@contoso.com", "eve@contoso.com"},               /* U+FEFF */
    {"e\xC2\xADve@contoso.com", "eve@contoso.com"},                     /* soft hyphen */
    {"sip:%E2%84%AFve@contoso.com", "eve@contoso.com"},                  /* U+212F script e */
    {"\xEF\xAC\x80@x", "ff@x"},                                         /* U+FB00 ligature */
    {"Stra\xC3\x9F" "e@x", "strasse@x"},                                 /* ß case-folds */
    {"e\xCC\x81@x", "\xC3\xA9@x"},                                      /* NFKC composes */
    {"sip:eve@contoso.com.", "eve@contoso.com"},                         /* trailing dot */
    {"eve@contoso.com.", "eve@contoso.com"},
    {"eve@\xEF\xBD\x83ontoso.com", "eve@contoso.com"},                   /* fullwidth domain */
    {"sip:%65ve@contoso.com", "eve@contoso.com"},                        /* percent-encoding */
    {"sip:%45VE@CONTOSO.com", "eve@contoso.com"},
};

/* Spellings every profile refuses: SX_ADDR_PREP (400 / jid-malformed) or MALFORMED. */
static const struct {
  const char *addr;
  sx_addr_rc rc;
} unprep[] = {
    {"sip:%E2%80%8B@contoso.com", SX_ADDR_PREP},        /* empty after mapping */
    {"\xE2\x80\x8B@contoso.com", SX_ADDR_PREP},
    {"sip:a%EF%BC%A0b@x", SX_ADDR_PREP},                /* fullwidth @ → '@' */
    {"a\xEF\xBC\x8F" "b@x", SX_ADDR_PREP},               /* fullwidth / → '/' */
    {"a\xC2\xA0" "b@x", SX_ADDR_PREP},                    /* no-break space */
    {"a\xE2\x80\xAE" "b@x", SX_ADDR_PREP},                /* RTL override */
    {"a\xEE\x80\x80@x", SX_ADDR_PREP},                   /* private use U+E000 */
    {"sip:%EF%BC%BC26@x", SX_ADDR_MALFORMED},           /* fullwidth \ + 26 would make \26 */
    {"a@x/\xE2\x80\xAE", SX_ADDR_PREP},                  /* resource: RTL override */
    {"a@x/\xE2\x80\x8B", SX_ADDR_PREP},                  /* resource empty after mapping */
    {"sip:a@x;gr=%E2%80%AE", SX_ADDR_PREP},
    {"a@exa\xC3\xA4mple.com", SX_ADDR_MALFORMED},        /* IDN domains are not served */
};

static char *rep(char c, size_t n) {
  char *s = malloc(n + 1);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

static void test_lengths(void) {
  char uri[4096], jid[4096];
  /* localpart */
  char *l1023 = rep('a', 1023), *l1024 = rep('a', 1024);
  sx_jid j;
  snprintf(uri, sizeof uri, "sip:%s@x", l1023);
  CHECK_INT(sx_sip_to_jid(uri, &j), SX_ADDR_OK, "local 1023");
  CHECK(j.local && strlen(j.local) == 1023, "local 1023 kept");
  sx_jid_free(&j);
  snprintf(uri, sizeof uri, "sip:%s@x", l1024);
  CHECK_INT(sx_sip_to_jid(uri, &j), SX_ADDR_TOO_LONG, "local 1024");
  /* 1021 + one escaped '&' = 1024 after escaping */
  char *l1021 = rep('a', 1021), *l1020 = rep('a', 1020);
  snprintf(uri, sizeof uri, "sip:%s&@x", l1020);
  CHECK_INT(sx_sip_to_jid(uri, &j), SX_ADDR_OK, "local 1020+escape = 1023");
  sx_jid_free(&j);
  snprintf(uri, sizeof uri, "sip:%s&@x", l1021);
  CHECK_INT(sx_sip_to_jid(uri, &j), SX_ADDR_TOO_LONG, "local 1021+escape = 1024");
  /* the limit is on the decoded form: %61 is one byte */
  {
    size_t n = 0;
    uri[n++] = 's', uri[n++] = 'i', uri[n++] = 'p', uri[n++] = ':';
    for (int i = 0; i < 1023; i++) memcpy(uri + n, "%61", 3), n += 3;
    strcpy(uri + n, "@x");
    CHECK_INT(sx_sip_to_jid(uri, &j), SX_ADDR_OK, "local 1023 percent-encoded");
    sx_jid_free(&j);
  }
  snprintf(jid, sizeof jid, "%s@x", l1023);
  CHECK_INT(sx_jid_parse(jid, &j), SX_ADDR_OK, "jid local 1023");
  sx_jid_free(&j);
  snprintf(jid, sizeof jid, "%s@x", l1024);
  CHECK_INT(sx_jid_parse(jid, &j), SX_ADDR_TOO_LONG, "jid local 1024");

  /* domain: labels of 63 'b' joined by dots */
  char d1023[1100], d1024[1100];
  {
    size_t n = 0;
    while (n < 1023) {
      d1023[n] = ((n + 1) % 64 == 0) ? '.' : 'b';
      n++;
    }
    d1023[n] = '\0';
    if (d1023[1022] == '.') d1023[1022] = 'b';
    memcpy(d1024, d1023, 1023);
    d1024[1023] = 'c';
    d1024[1024] = '\0';
  }
  snprintf(uri, sizeof uri, "sip:a@%s", d1023);
  CHECK_INT(sx_sip_to_jid(uri, &j), SX_ADDR_OK, "domain 1023");
  CHECK(j.domain && strlen(j.domain) == 1023, "domain 1023 kept");
  sx_jid_free(&j);
  snprintf(uri, sizeof uri, "sip:a@%s.", d1023);
  CHECK_INT(sx_sip_to_jid(uri, &j), SX_ADDR_OK, "domain 1023 + trailing dot");
  sx_jid_free(&j);
  snprintf(uri, sizeof uri, "sip:a@%s", d1024);
  CHECK_INT(sx_sip_to_jid(uri, &j), SX_ADDR_TOO_LONG, "domain 1024");
  snprintf(jid, sizeof jid, "a@%s", d1023);
  CHECK_INT(sx_jid_parse(jid, &j), SX_ADDR_OK, "jid domain 1023");
  sx_jid_free(&j);
  snprintf(jid, sizeof jid, "a@%s", d1024);
  CHECK_INT(sx_jid_parse(jid, &j), SX_ADDR_TOO_LONG, "jid domain 1024");

  /* resource */
  snprintf(uri, sizeof uri, "sip:a@x;gr=%s", l1023);
  CHECK_INT(sx_sip_to_jid(uri, &j), SX_ADDR_OK, "gr 1023");
  CHECK(j.resource && strlen(j.resource) == 1023, "gr 1023 kept");
  sx_jid_free(&j);
  snprintf(uri, sizeof uri, "sip:a@x;gr=%s", l1024);
  CHECK_INT(sx_sip_to_jid(uri, &j), SX_ADDR_TOO_LONG, "gr 1024");
  snprintf(jid, sizeof jid, "a@x/%s", l1023);
  CHECK_INT(sx_jid_parse(jid, &j), SX_ADDR_OK, "jid resource 1023");
  sx_jid_free(&j);
  snprintf(jid, sizeof jid, "a@x/%s", l1024);
  CHECK_INT(sx_jid_parse(jid, &j), SX_ADDR_TOO_LONG, "jid resource 1024");

  free(l1023), free(l1024), free(l1021), free(l1020);
}

static void test_misc(void) {
  /* status and reasons */
  static const struct {
    sx_addr_rc rc;
    int status;
  } st[] = {
      {SX_ADDR_SCHEME, 416}, {SX_ADDR_SIPS, 403},     {SX_ADDR_MALFORMED, 400},
      {SX_ADDR_NO_USER, 484}, {SX_ADDR_TOO_LONG, 400}, {SX_ADDR_BAD_UTF8, 400},
      {SX_ADDR_NOMEM, 500},
  };
  for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
    CHECK_INT(sx_addr_sip_status(st[i].rc), st[i].status, "sip status");
    const char *r = sx_addr_reason(st[i].rc);
    CHECK(r && *r, "reason for %d", (int)st[i].rc);
  }
  CHECK(strstr(sx_addr_reason(SX_ADDR_SIPS), "sips:") != NULL, "sips reason names sips:");

  /* domain comparison */
  CHECK(sx_domain_eq("Contoso.COM", "contoso.com."), "domain_eq case/dot");
  CHECK(sx_domain_eq("contoso.com.", "contoso.com."), "domain_eq both dots");
  CHECK(!sx_domain_eq("contoso.com", "contoso.co"), "domain_eq differs");
  CHECK(!sx_domain_eq("contoso.com..", "contoso.com"), "domain_eq only one dot");
  CHECK(!sx_domain_eq("a.contoso.com", "contoso.com"), "domain_eq no suffix match");
  CHECK(!sx_domain_eq(NULL, "x"), "domain_eq NULL");

  /* to_text, copy */
  sx_jid j;
  CHECK_INT(sx_jid_parse("a@x/r", &j), SX_ADDR_OK, "parse a@x/r");
  char *t = sx_jid_to_text(&j, 1);
  CHECK_STR(t, "a@x/r", "to_text with resource");
  free(t);
  t = sx_jid_to_text(&j, 0);
  CHECK_STR(t, "a@x", "to_text bare");
  free(t);
  sx_jid c;
  CHECK_INT(sx_jid_copy(&c, &j), SX_ADDR_OK, "copy");
  CHECK_STR(c.local, "a", "copy local");
  CHECK_STR(c.domain, "x", "copy domain");
  CHECK_STR(c.resource, "r", "copy resource");
  CHECK(c.local != j.local, "copy is deep");
  sx_jid_free(&c);
  sx_jid_free(&j);
  CHECK(j.local == NULL && j.domain == NULL, "free zeroes");
  sx_jid_free(&j); /* twice is harmless */
  CHECK_INT(sx_jid_parse("x.example/r", &j), SX_ADDR_OK, "parse domain/res");
  t = sx_jid_to_text(&j, 1);
  CHECK_STR(t, "x.example/r", "domain JID to_text");
  free(t);
  sx_jid_free(&j);

  /* a failed parse leaves the struct empty */
  j.local = (char *)"junk";
  CHECK_INT(sx_sip_to_jid("sip:%C3%28@x", &j), SX_ADDR_BAD_UTF8, "failed parse");
  CHECK(j.local == NULL && j.domain == NULL && j.resource == NULL, "failed parse zeroed");
  CHECK_INT(sx_sip_to_jid(NULL, &j), SX_ADDR_MALFORMED, "NULL uri");
  CHECK_INT(sx_jid_parse(NULL, &j), SX_ADDR_MALFORMED, "NULL jid");
}

int main(void) {
  char ctx[256];
  for (size_t i = 0; i < sizeof sip2jid / sizeof sip2jid[0]; i++) {
    sx_jid j;
    sx_addr_rc rc = sx_sip_to_jid(sip2jid[i].uri, &j);
    snprintf(ctx, sizeof ctx, "sip2jid[%zu] %s", i, sip2jid[i].uri);
    CHECK_INT(rc, sip2jid[i].rc, ctx);
    if (rc == SX_ADDR_OK && sip2jid[i].rc == SX_ADDR_OK) {
      CHECK_STR(j.local, sip2jid[i].local, ctx);
      CHECK_STR(j.domain, sip2jid[i].domain, ctx);
      CHECK_STR(j.resource, sip2jid[i].resource, ctx);
    }
    sx_jid_free(&j);
  }
  for (size_t i = 0; i < sizeof jidparse / sizeof jidparse[0]; i++) {
    sx_jid j;
    sx_addr_rc rc = sx_jid_parse(jidparse[i].text, &j);
    snprintf(ctx, sizeof ctx, "jidparse[%zu] %s", i, jidparse[i].text);
    CHECK_INT(rc, jidparse[i].rc, ctx);
    if (rc == SX_ADDR_OK && jidparse[i].rc == SX_ADDR_OK) {
      CHECK_STR(j.local, jidparse[i].local, ctx);
      CHECK_STR(j.domain, jidparse[i].domain, ctx);
      CHECK_STR(j.resource, jidparse[i].resource, ctx);
    }
    sx_jid_free(&j);
  }
  for (size_t i = 0; i < sizeof jid2sip / sizeof jid2sip[0]; i++) {
    sx_jid j = {(char *)jid2sip[i].local, (char *)jid2sip[i].domain,
                (char *)jid2sip[i].resource};
    char *s = sx_jid_to_sip(&j, jid2sip[i].with_gr);
    snprintf(ctx, sizeof ctx, "jid2sip[%zu]", i);
    CHECK_STR(s, jid2sip[i].sip, ctx);
    free(s);
  }
  for (size_t i = 0; i < sizeof roundtrip / sizeof roundtrip[0]; i++) {
    sx_jid j;
    snprintf(ctx, sizeof ctx, "roundtrip[%zu] %s", i, roundtrip[i].in);
    CHECK_INT(sx_sip_to_jid(roundtrip[i].in, &j), SX_ADDR_OK, ctx);
    char *s = sx_jid_to_sip(&j, 1);
    CHECK_STR(s, roundtrip[i].out, ctx);
    /* and back again: the JID is stable */
    sx_jid j2;
    CHECK_INT(sx_sip_to_jid(s ? s : "", &j2), SX_ADDR_OK, ctx);
    CHECK_STR(j2.local, j.local, ctx);
    CHECK_STR(j2.domain, j.domain, ctx);
    CHECK_STR(j2.resource, j.resource, ctx);
    /* JID text round trip */
    char *t = sx_jid_to_text(&j, 1);
    sx_jid j3;
    CHECK_INT(sx_jid_parse(t ? t : "", &j3), SX_ADDR_OK, ctx);
    CHECK_STR(j3.local, j.local, ctx);
    CHECK_STR(j3.resource, j.resource, ctx);
    free(t);
    free(s);
    sx_jid_free(&j);
    sx_jid_free(&j2);
    sx_jid_free(&j3);
  }
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    sx_jid j;
    snprintf(ctx, sizeof ctx, "keys[%zu] %s", i, keys[i].addr);
    sx_addr_rc rc = strncmp(keys[i].addr, "sip:", 4) == 0 ? sx_sip_to_jid(keys[i].addr, &j)
                                                          : sx_jid_parse(keys[i].addr, &j);
    CHECK_INT(rc, SX_ADDR_OK, ctx);
    char *k = sx_jid_key(&j);
    CHECK_STR(k, keys[i].key, ctx);
    free(k);
    sx_jid_free(&j);
  }
  for (size_t i = 0; i < sizeof unprep / sizeof unprep[0]; i++) {
    sx_jid j;
    snprintf(ctx, sizeof ctx, "unprep[%zu] %s", i, unprep[i].addr);
    sx_addr_rc rc = strncmp(unprep[i].addr, "sip:", 4) == 0 ? sx_sip_to_jid(unprep[i].addr, &j)
                                                            : sx_jid_parse(unprep[i].addr, &j);
    CHECK_INT(rc, unprep[i].rc, ctx);
    if (rc == SX_ADDR_OK) sx_jid_free(&j);
  }
  CHECK_INT(sx_addr_sip_status(SX_ADDR_PREP), 400, "prep → 400");
  test_lengths();
  test_misc();
  return check_done();
}
