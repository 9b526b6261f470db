/* Message text: charset conversion, UTF-8 validation, XML cleaning and escaping. */
#include "translate/text.h"

#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Length of the well-formed UTF-8 sequence at s[0..n) (1..4) and its code point, or 0 if
 * the bytes there are not well-formed (overlong, surrogate, > U+10FFFF, truncated). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned char c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  if (c < 0xC2) return 0; /* continuation byte or overlong 2-byte lead */
  if (c < 0xE0) {
    if (n < 2 || (s[1] & 0xC0) != 0x80) return 0;
    *cp = ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
    return 2;
  }
  if (c < 0xF0) {
    if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && s[1] < 0xA0) return 0; /* overlong */
    if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
    *cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    return 3;
  }
  if (c < 0xF5) {
    if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
      return 0;
    if (c == 0xF0 && s[1] < 0x90) return 0; /* overlong */
    if (c == 0xF4 && s[1] >= 0x90) return 0; /* > U+10FFFF */
    *cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
          ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    return 4;
  }
  return 0;
}

int sx_utf8_valid(const char *buf, size_t len) {
  const unsigned char *s = (const unsigned char *)buf;
  uint32_t cp;
  for (size_t i = 0; i < len;) {
    size_t k = utf8_seq(s + i, len - i, &cp);
    if (!k) return 0;
    i += k;
  }
  return 1;
}

/* A code point XML 1.0 cannot carry (surrogates never get here: they are invalid UTF-8). */
static int xml_forbidden(uint32_t cp) {
  return (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xFFFE || cp == 0xFFFF;
}

/* Validates src[0..n) and copies it to dst without what XML forbids and without a leading
 * BOM. dst may equal src. Returns the output length, or (size_t)-1 on bad UTF-8. */
static size_t clean_copy(char *dst, const char *src, size_t n, size_t *removed) {
  const unsigned char *s = (const unsigned char *)src;
  size_t i = 0, j = 0, rm = 0;
  if (n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) i = 3;
  while (i < n) {
    uint32_t cp;
    size_t k = utf8_seq(s + i, n - i, &cp);
    if (!k) return (size_t)-1;
    if (xml_forbidden(cp)) {
      rm++;
    } else {
      memmove(dst + j, src + i, k);
      j += k;
    }
    i += k;
  }
  *removed = rm;
  return j;
}

static int is_utf8_name(const char *cs) {
  return strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0;
}

/* Converts with iconv into a new buffer; *res and *res_len get the raw UTF-8 output. */
static sx_text_rc convert(const char *charset, const char *in, size_t len, char **res,
                          size_t *res_len) {
  iconv_t cd = iconv_open("UTF-8", charset);
  if (cd == (iconv_t)-1) return errno == ENOMEM ? SX_TEXT_NOMEM : SX_TEXT_CHARSET;
  size_t cap = len + len / 2 + 16, used = 0;
  char *out = malloc(cap);
  if (!out) {
    iconv_close(cd);
    return SX_TEXT_NOMEM;
  }
  char *ip = (char *)(uintptr_t)in;
  size_t il = len;
  sx_text_rc rc = SX_TEXT_OK;
  int flushing = 0;
  for (;;) {
    char *op = out + used;
    size_t ol = cap - used - 1;
    size_t r = flushing ? iconv(cd, NULL, NULL, &op, &ol) : iconv(cd, &ip, &il, &op, &ol);
    used = (size_t)(op - out);
    if (r != (size_t)-1) {
      if (flushing) break;
      flushing = 1;
      continue;
    }
    if (errno == E2BIG) {
      if (cap > SIZE_MAX / 2) {
        rc = SX_TEXT_NOMEM;
        break;
      }
      char *n = realloc(out, cap * 2);
      if (!n) {
        rc = SX_TEXT_NOMEM;
        break;
      }
      out = n;
      cap *= 2;
      continue;
    }
    rc = SX_TEXT_BAD_UTF8; /* EILSEQ, EINVAL */
    break;
  }
  iconv_close(cd);
  if (rc) {
    free(out);
    return rc;
  }
  out[used] = '\0';
  *res = out;
  *res_len = used;
  return SX_TEXT_OK;
}

sx_text_rc sx_text_to_utf8(const char *charset, const char *in, size_t len, size_t max,
                           char **out, size_t *out_len, size_t *cleaned) {
  *out = NULL;
  *out_len = 0;
  if (cleaned) *cleaned = 0;
  if (!in) len = 0;

  /* Charset name as given in a Content-Type parameter: trim blanks and quotes. */
  char name[64];
  size_t nl = 0;
  if (charset) {
    const char *b = charset, *e = charset + strlen(charset);
    while (b < e && (*b == ' ' || *b == '\t' || *b == '"')) b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '"')) e--;
    nl = (size_t)(e - b);
    if (nl >= sizeof name) return SX_TEXT_CHARSET;
    memcpy(name, b, nl);
  }
  name[nl] = '\0';
  /* iconv option suffixes ("//IGNORE", "//TRANSLIT") and lists are not charset names. */
  for (size_t i = 0; i < nl; i++)
    if (name[i] == '/' || name[i] == ',' || (unsigned char)name[i] <= ' ') return SX_TEXT_CHARSET;

  char *buf;
  size_t blen, removed = 0;
  if (nl == 0 || is_utf8_name(name)) {
    buf = malloc(len + 1);
    if (!buf) return SX_TEXT_NOMEM;
    blen = len ? clean_copy(buf, in, len, &removed) : 0;
  } else {
    sx_text_rc rc = convert(name, in ? in : "", len, &buf, &blen);
    if (rc) return rc;
    blen = clean_copy(buf, buf, blen, &removed);
  }
  if (blen == (size_t)-1) {
    free(buf);
    return SX_TEXT_BAD_UTF8;
  }
  if (max && blen > max) {
    free(buf);
    return SX_TEXT_TOO_BIG;
  }
  buf[blen] = '\0';
  *out = buf;
  *out_len = blen;
  if (cleaned) *cleaned = removed;
  return SX_TEXT_OK;
}

/* ---- growable buffer ------------------------------------------------------------------ */

static int buf_reserve(sx_buf *b, size_t n) {
  if (b->oom) return 0;
  if (n > SIZE_MAX - b->len - 1) {
    b->oom = 1;
    return 0;
  }
  size_t need = b->len + n + 1;
  if (need <= b->cap) return 1;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  char *d = realloc(b->data, cap);
  if (!d) {
    b->oom = 1;
    return 0;
  }
  b->data = d;
  b->cap = cap;
  return 1;
}

void sx_buf_put(sx_buf *b, const char *s, size_t n) {
  if (!buf_reserve(b, n)) return;
  if (n) memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void sx_buf_puts(sx_buf *b, const char *s) {
  if (s) sx_buf_put(b, s, strlen(s));
}

void sx_buf_printf(sx_buf *b, const char *fmt, ...) {
  if (b->oom) return;
  va_list ap;
  va_start(ap, fmt);
  char tmp[256];
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = 1;
    return;
  }
  if ((size_t)n < sizeof tmp) {
    sx_buf_put(b, tmp, (size_t)n);
    return;
  }
  if (!buf_reserve(b, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void sx_buf_put_xml(sx_buf *b, const char *s, size_t n) {
  size_t run = 0; /* start of the pending unescaped run */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *rep = NULL;
    size_t skip = 1;
    switch (c) {
    case '&': rep = "&amp;"; break;
    case '<': rep = "&lt;"; break;
    case '>': rep = "&gt;"; break;
    case '"': rep = "&quot;"; break;
    case '\'': rep = "&apos;"; break;
    default:
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
        rep = ""; /* XML cannot carry it: dropped */
      } else if (c == 0xEF && i + 2 < n && (unsigned char)s[i + 1] == 0xBF &&
                 ((unsigned char)s[i + 2] == 0xBE || (unsigned char)s[i + 2] == 0xBF)) {
        rep = ""; /* U+FFFE, U+FFFF */
        skip = 3;
      }
    }
    if (rep) {
      sx_buf_put(b, s + run, i - run);
      sx_buf_puts(b, rep);
      i += skip - 1;
      run = i + 1;
    }
  }
  sx_buf_put(b, s + run, n - run);
}

void sx_buf_puts_xml(sx_buf *b, const char *s) {
  if (s) sx_buf_put_xml(b, s, strlen(s));
}

char *sx_buf_take(sx_buf *b, size_t *len) {
  char *d = NULL;
  if (b->oom) {
    free(b->data);
  } else if (b->data) {
    d = b->data;
  } else {
    d = calloc(1, 1);
  }
  if (len) *len = d ? b->len : 0;
  b->data = NULL;
  b->len = b->cap = 0;
  b->oom = 0;
  return d;
}

void sx_buf_free(sx_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  b->oom = 0;
}
