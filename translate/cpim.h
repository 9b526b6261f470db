/* message/cpim (RFC 3862) unwrapping. */
#ifndef SX_TRANSLATE_CPIM_H
#define SX_TRANSLATE_CPIM_H
#include <stddef.h>

typedef struct sx_cpim {
  char *from;            /* the URI inside <> of the CPIM From header, or NULL */
  char *to;              /* likewise for To */
  char *subject;         /* Subject header value, or NULL */
  char *content_type;    /* inner Content-Type, media type only, lower-case ("text/plain") */
  char *charset;         /* its charset parameter, or NULL */
  char *lang;            /* inner Content-Language, or NULL */
  char *datetime;        /* DateTime header, or NULL */
  char *imdn_id;         /* imdn.Message-ID (RFC 5438), with whatever NS prefix, or NULL */
  char *imdn_notify;     /* imdn.Disposition-Notification value, or NULL */
  char *imdn_prefix;     /* the NS prefix bound to urn:ietf:params:imdn (internal) */
  const char *body;      /* points into the input buffer: the inner body */
  size_t body_len;
} sx_cpim;

/* Parses a CPIM document: message headers, blank line, MIME headers, blank line, body.
 * Accepts CRLF or LF line ends. Returns 0 on success, -1 if malformed. The strings in out
 * are malloc'd (free with sx_cpim_free); body points into buf, which must outlive out. */
int sx_cpim_parse(const char *buf, size_t len, sx_cpim *out);
void sx_cpim_free(sx_cpim *c);

#endif
