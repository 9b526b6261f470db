/* RFC 5438 IMDN: the disposition-notification request parsed into flags, table by table, and
 * the delivery-notification document built for a receipt or an error (CPIM headers, escaped
 * XML, status, Content-Length matching the body). */
#include "translate/imdn.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

static void test_parse(void) {
  static const struct {
    const char *value;
    int want;
  } t[] = {
      {NULL, 0},
      {"", 0},
      {"positive-delivery", SX_IMDN_POSITIVE},
      {"negative-delivery", SX_IMDN_NEGATIVE},
      {"positive-delivery, negative-delivery, display", SX_IMDN_POSITIVE | SX_IMDN_NEGATIVE},
      {"Negative-Delivery", SX_IMDN_NEGATIVE},
      {"display", 0},
      {"positive-deliveryx", 0},
      {"positive-deliver", 0},
      {" ,\tpositive-delivery,,", SX_IMDN_POSITIVE},
      {"processing,negative-delivery", SX_IMDN_NEGATIVE},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    CHECK_INT(sx_imdn_parse_request(t[i].value), t[i].want,
              t[i].value ? t[i].value : "(null)");
}

/* The notification body after the CPIM headers, and its declared length. */
static void check_doc(const char *doc, const char *status_el, const char *ctx) {
  const char *hdr_end = doc ? strstr(doc, "\r\n\r\n") : NULL;
  const char *body = hdr_end ? strstr(hdr_end + 4, "\r\n\r\n") : NULL;
  const char *cl = doc ? strstr(doc, "Content-Length: ") : NULL;
  CHECK(doc && hdr_end && body && cl, "%s: document shape", ctx);
  if (!body || !cl) return;
  body += 4;
  CHECK_INT(strtol(cl + 16, NULL, 10), (long)strlen(body), ctx);
  CHECK(strstr(body, status_el) != NULL, "%s: status %s", ctx, status_el);
}

static void test_build(void) {
  char *d = sx_imdn_build("sip:carol@fabrikam.example", "sip:bob@contoso.example", "id<&>1",
                          "2026-12-04T10:00:00Z", "delivered", "n1");
  check_doc(d, "<status><delivered/></status>", "delivered");
  CHECK(d && strstr(d, "From: <sip:carol@fabrikam.example>\r\n") == d, "From first");
  CHECK(d && strstr(d, "To: <sip:bob@contoso.example>\r\n"), "To");
  CHECK(d && strstr(d, "imdn.Message-ID: n1\r\n"), "new Message-ID");
  CHECK(d && strstr(d, "<message-id>id&lt;&amp;&gt;1</message-id>"), "orig id escaped");
  CHECK(d && strstr(d, "<datetime>2026-12-04T10:00:00Z</datetime>"), "orig datetime kept");
  CHECK(d && strstr(d, "Content-Type: message/imdn+xml\r\n"), "content type");
  CHECK(d && strstr(d, "Content-Disposition: notification\r\n"), "disposition");
  free(d);

  d = sx_imdn_build("sip:carol@fabrikam.example", "sip:bob@contoso.example", "m2", NULL,
                    "failed", "n2");
  check_doc(d, "<status><failed/></status>", "failed");
  CHECK(d && strstr(d, "<datetime>") && !strstr(d, "<datetime></datetime>"),
        "datetime defaults to now");
  free(d);

  /* Any status other than "delivered" is a failure notice. */
  d = sx_imdn_build("a@x", "b@y", "m3", NULL, "bogus", "n3");
  check_doc(d, "<status><failed/></status>", "unknown status");
  free(d);
}

int main(void) {
  test_parse();
  test_build();
  return check_done();
}
