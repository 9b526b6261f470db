#include "translate/imdn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "translate/text.h"

int sx_imdn_parse_request(const char *v) {
  int flags = 0;
  const char *p = v;
  if (!v) return 0;
  while (*p) {
    const char *e;
    size_t n;
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    e = p;
    while (*e && *e != ',' && *e != ' ' && *e != '\t') e++;
    n = (size_t)(e - p);
    if (n == 17 && !strncasecmp(p, "positive-delivery", n)) flags |= SX_IMDN_POSITIVE;
    if (n == 17 && !strncasecmp(p, "negative-delivery", n)) flags |= SX_IMDN_NEGATIVE;
    p = e;
  }
  return flags;
}

char *sx_imdn_build(const char *from, const char *to, const char *orig_id,
                    const char *orig_datetime, const char *status, const char *new_id) {
  sx_buf xml = {0}, doc = {0};
  char now[32];
  time_t t = time(NULL);
  struct tm tm;
  char *body;
  size_t body_len = 0;

  gmtime_r(&t, &tm);
  strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);

  sx_buf_puts(&xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
                    "<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\">\r\n<message-id>");
  sx_buf_puts_xml(&xml, orig_id);
  sx_buf_puts(&xml, "</message-id>\r\n<datetime>");
  sx_buf_puts_xml(&xml, orig_datetime ? orig_datetime : now);
  sx_buf_puts(&xml, "</datetime>\r\n<recipient-uri>");
  sx_buf_puts_xml(&xml, from);
  sx_buf_puts(&xml, "</recipient-uri>\r\n<original-recipient-uri>");
  sx_buf_puts_xml(&xml, from);
  sx_buf_printf(&xml,
                "</original-recipient-uri>\r\n<delivery-notification><status><%s/></status>"
                "</delivery-notification>\r\n</imdn>\r\n",
                !strcmp(status, "delivered") ? "delivered" : "failed");
  body = sx_buf_take(&xml, &body_len);
  if (!body) return NULL;

  sx_buf_printf(&doc,
                "From: <%s>\r\nTo: <%s>\r\nNS: imdn <urn:ietf:params:imdn>\r\n"
                "imdn.Message-ID: %s\r\nDateTime: %s\r\n\r\n"
                "Content-Type: message/imdn+xml\r\nContent-Disposition: notification\r\n"
                "Content-Length: %zu\r\n\r\n%s",
                from, to, new_id, now, body_len, body);
  free(body);
  return sx_buf_take(&doc, NULL);
}
