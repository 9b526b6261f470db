/* Message text: charset conversion to UTF-8, validation, cleaning of what XML cannot carry,
 * and XML escaping. Returned buffers are malloc'd, NUL-terminated, owned by the caller. */
#ifndef SX_TRANSLATE_TEXT_H
#define SX_TRANSLATE_TEXT_H
#include <stddef.h>

typedef enum {
  SX_TEXT_OK = 0,
  SX_TEXT_CHARSET,  /* unknown charset                                     → SIP 415 */
  SX_TEXT_BAD_UTF8, /* input not valid in its charset / not UTF-8            → SIP 400 */
  SX_TEXT_TOO_BIG,  /* over the limit (checked on the converted UTF-8 size)  → SIP 413 */
  SX_TEXT_NOMEM,
} sx_text_rc;

/* Converts len bytes of `in` from `charset` (NULL or "" means UTF-8; case-insensitive names,
 * "us-ascii", "iso-8859-1", "windows-1252", "utf-16"... whatever iconv knows) into UTF-8,
 * checks it is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF), and
 * removes what XML 1.0 forbids: C0 controls other than TAB, LF, CR, and U+FFFE/U+FFFF. NUL
 * bytes are removed too. A leading BOM is dropped. *out gets the result (NUL-terminated),
 * *out_len its length; *cleaned (if not NULL) the number of characters removed. */
sx_text_rc sx_text_to_utf8(const char *charset, const char *in, size_t len, size_t max,
                           char **out, size_t *out_len, size_t *cleaned);

/* 1 if buf[0..len) is well-formed UTF-8 (as above), else 0. */
int sx_utf8_valid(const char *buf, size_t len);

/* Appends XML-escaped text (&amp; &lt; &gt; &quot; &apos;) to a growable buffer. */
typedef struct sx_buf {
  char *data; /* malloc'd; NUL-terminated whenever len > 0 */
  size_t len, cap;
  int oom; /* set once an allocation failed; further appends do nothing */
} sx_buf;

void sx_buf_put(sx_buf *b, const char *s, size_t n);
void sx_buf_puts(sx_buf *b, const char *s);
void sx_buf_printf(sx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sx_buf_put_xml(sx_buf *b, const char *s, size_t n); /* escaped */
void sx_buf_puts_xml(sx_buf *b, const char *s);
/* Takes the data out (caller frees) and resets the buffer; NULL after oom. */
char *sx_buf_take(sx_buf *b, size_t *len);
void sx_buf_free(sx_buf *b);

#endif
