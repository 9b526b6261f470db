/* message/cpim (RFC 3862) unwrapping. */
#include "translate/cpim.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
  const char *p, *end;
} cursor;

/* Next line without its CR LF / LF. Returns 0 at the end of the buffer with no line end. */
static int next_line(cursor *c, const char **line, size_t *n) {
  const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
  if (!nl) return 0;
  *line = c->p;
  *n = (size_t)(nl - c->p);
  if (*n && nl[-1] == '\r') (*n)--;
  c->p = nl + 1;
  return 1;
}

static int is_ws(char ch) { return ch == ' ' || ch == '\t'; }

static int tchar(unsigned char ch) {
  return ch > 0x20 && ch < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", ch);
}

static char *dup_trim(const char *s, size_t n) {
  while (n && is_ws(*s)) s++, n--;
  while (n && is_ws(s[n - 1])) n--;
  if (n == 0) return NULL;
  char *d = malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

/* One header: name and value (folded lines are joined with a space). */
typedef struct {
  const char *name;
  size_t name_len;
  char *value; /* malloc'd */
} header;

/* Reads a header block up to its blank line. Calls fn for each header; returns -1 on a
 * malformed line, a missing blank line or fn failing. */
static int read_block(cursor *c, int (*fn)(const header *, void *), void *ctx) {
  const char *line;
  size_t n;
  header h = {0};
  size_t vlen = 0;
  int rc = 0;
  for (;;) {
    if (!next_line(c, &line, &n)) {
      rc = -1;
      break;
    }
    if (memchr(line, '\0', n)) {
      rc = -1;
      break;
    }
    if (n > 0 && is_ws(line[0])) { /* continuation of the previous header */
      if (!h.value) {
        rc = -1;
        break;
      }
      char *v = realloc(h.value, vlen + n + 2);
      if (!v) {
        rc = -1;
        break;
      }
      h.value = v;
      h.value[vlen++] = ' ';
      memcpy(h.value + vlen, line, n);
      vlen += n;
      h.value[vlen] = '\0';
      continue;
    }
    if (h.value) {
      rc = fn(&h, ctx);
      free(h.value);
      h.value = NULL;
      if (rc) break;
    }
    if (n == 0) break; /* the blank line */
    size_t k = 0;
    while (k < n && tchar((unsigned char)line[k]) ) k++;
    /* CPIM header names may carry a namespace prefix ("MyFeatures.VitalMessageOption"); the
     * dot is a tchar, so the name is the token before the colon. */
    if (k == 0 || k >= n || line[k] != ':') {
      rc = -1;
      break;
    }
    h.name = line;
    h.name_len = k;
    vlen = n - k - 1;
    h.value = malloc(vlen + 1);
    if (!h.value) {
      rc = -1;
      break;
    }
    memcpy(h.value, line + k + 1, vlen);
    h.value[vlen] = '\0';
  }
  free(h.value);
  return rc;
}

static int name_is(const header *h, const char *name) {
  return h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

/* Skips CPIM header parameters (";lang=fr") that precede the value: Header: ;p=v SP value. */
static const char *skip_params(const char *v) {
  while (is_ws(*v)) v++;
  while (*v == ';') {
    v++;
    while (*v && !is_ws(*v)) {
      if (*v == '"') { /* quoted parameter value */
        v++;
        while (*v && *v != '"') {
          if (*v == '\\' && v[1]) v++;
          v++;
        }
        if (*v) v++;
      } else {
        v++;
      }
    }
    while (is_ws(*v)) v++;
  }
  return v;
}

/* The address of From/To: the text inside <>, or the whole trimmed value. */
static int take_addr(const char *v, char **dst) {
  if (*dst) return -1; /* repeated header: ambiguous identity */
  v = skip_params(v);
  const char *scan = v;
  if (*scan == '"') { /* quoted display name: may hold '<' */
    scan++;
    while (*scan && *scan != '"') {
      if (*scan == '\\' && scan[1]) scan++;
      scan++;
    }
    if (!*scan) return -1;
    scan++;
  }
  const char *lt = strchr(scan, '<');
  const char *s = v;
  size_t n = strlen(v);
  if (lt) {
    const char *gt = strchr(lt + 1, '>');
    if (!gt) return -1;
    s = lt + 1;
    n = (size_t)(gt - s);
  }
  *dst = dup_trim(s, n);
  return *dst ? 0 : -1;
}

/* "NS: prefix <urn>" binding the IMDN namespace. */
static int take_ns(const char *v, sx_cpim *c) {
  static const char urn[] = "<urn:ietf:params:imdn>";
  const char *p = v, *q;
  while (is_ws(*p)) p++;
  q = p;
  while (*q && !is_ws(*q) && *q != '<') q++;
  if (!strstr(q, urn) || q == p || c->imdn_prefix) return 0;
  c->imdn_prefix = dup_trim(p, (size_t)(q - p));
  return c->imdn_prefix ? 0 : -1;
}

/* An IMDN header "prefix.Name" with the prefix bound to urn:ietf:params:imdn. */
static int imdn_name_is(const header *h, const sx_cpim *c, const char *name) {
  size_t pl;
  if (!c->imdn_prefix) return 0;
  pl = strlen(c->imdn_prefix);
  return h->name_len == pl + 1 + strlen(name) && !strncmp(h->name, c->imdn_prefix, pl) &&
         h->name[pl] == '.' && !strncasecmp(h->name + pl + 1, name, strlen(name));
}

static int take_once(const char *v, char **dst) {
  if (*dst) return -1;
  *dst = dup_trim(v, strlen(v));
  return *dst ? 0 : -1;
}

static int msg_header(const header *h, void *ctx) {
  sx_cpim *c = ctx;
  if (name_is(h, "NS")) return take_ns(h->value, c);
  if (name_is(h, "DateTime")) return take_once(h->value, &c->datetime);
  if (imdn_name_is(h, c, "Message-ID")) return take_once(h->value, &c->imdn_id);
  if (imdn_name_is(h, c, "Disposition-Notification"))
    return take_once(h->value, &c->imdn_notify);
  if (name_is(h, "From")) return take_addr(h->value, &c->from);
  if (name_is(h, "To")) return take_addr(h->value, &c->to);
  if (name_is(h, "Subject") && !c->subject) {
    const char *v = skip_params(h->value);
    c->subject = dup_trim(v, strlen(v));
  }
  return 0;
}

static int mime_header(const header *h, void *ctx) {
  sx_cpim *c = ctx;
  if (name_is(h, "Content-Type")) {
    if (c->content_type) return -1;
    const char *v = h->value;
    const char *semi = strchr(v, ';');
    c->content_type = dup_trim(v, semi ? (size_t)(semi - v) : strlen(v));
    if (!c->content_type) return -1;
    for (char *p = c->content_type; *p; p++)
      if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    while (semi) {
      const char *p = semi + 1;
      while (is_ws(*p)) p++;
      const char *eq = strchr(p, '=');
      semi = NULL;
      if (!eq) break;
      size_t nlen = (size_t)(eq - p);
      while (nlen && is_ws(p[nlen - 1])) nlen--;
      const char *val = eq + 1;
      while (is_ws(*val)) val++;
      const char *vend;
      if (*val == '"') {
        val++;
        vend = strchr(val, '"');
        if (!vend) return -1;
        semi = strchr(vend, ';');
      } else {
        semi = strchr(val, ';');
        vend = semi ? semi : val + strlen(val);
      }
      if (nlen == 7 && strncasecmp(p, "charset", 7) == 0 && !c->charset) {
        c->charset = dup_trim(val, (size_t)(vend - val));
      }
    }
  } else if (name_is(h, "Content-Language") && !c->lang) {
    c->lang = dup_trim(h->value, strlen(h->value));
  }
  return 0;
}

int sx_cpim_parse(const char *buf, size_t len, sx_cpim *out) {
  memset(out, 0, sizeof *out);
  if (!buf) return -1;
  cursor c = {buf, buf + len};
  if (read_block(&c, msg_header, out) || read_block(&c, mime_header, out)) {
    sx_cpim_free(out);
    return -1;
  }
  out->body = c.p;
  out->body_len = (size_t)(c.end - c.p);
  return 0;
}

void sx_cpim_free(sx_cpim *c) {
  if (!c) return;
  free(c->from);
  free(c->to);
  free(c->subject);
  free(c->content_type);
  free(c->charset);
  free(c->lang);
  free(c->datetime);
  free(c->imdn_id);
  free(c->imdn_notify);
  free(c->imdn_prefix);
  memset(c, 0, sizeof *c);
}
