/* CSV import of users (see user_import.h). */
#include "conf/user_import.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/store_internal.h"
#include "translate/policy.h"

/* Splits one CSV line into at most `max` fields (double quotes with "" escapes allowed;
 * blanks around fields trimmed). Returns the field count, or -1 on a quoting error. The
 * fields point into `line`, which is modified. */
static int csv_split(char *line, char **f, int max) {
  int n = 0;
  char *p = line;
  for (;;) {
    while (*p == ' ' || *p == '\t') p++;
    if (n == max) return max + 1;
    char *out = p, *start = p;
    if (*p == '"') {
      p++;
      for (;;) {
        if (!*p) return -1;
        if (*p == '"') {
          if (p[1] == '"') {
            *out++ = '"';
            p += 2;
            continue;
          }
          p++;
          break;
        }
        *out++ = *p++;
      }
      while (*p == ' ' || *p == '\t') p++;
      if (*p && *p != ',') return -1;
    } else {
      while (*p && *p != ',') *out++ = *p++;
      while (out > start && (out[-1] == ' ' || out[-1] == '\t')) out--;
    }
    char sep = *p;
    *out = '\0';
    f[n++] = start;
    if (sep != ',') break;
    p++;
  }
  return n;
}

/* Keys already imported from the file, with their line (open addressing). */
typedef struct {
  long line;
  char *key;
} seen_t;

typedef struct {
  seen_t *v;
  size_t cap, n; /* cap is a power of two */
} seenset;

static size_t seen_hash(const char *k) {
  size_t h = 5381;
  for (; *k; k++) h = h * 33 + (unsigned char)*k;
  return h;
}

/* The line where key was seen, or 0. */
static long seen_find(const seenset *s, const char *key) {
  if (!s->cap) return 0;
  for (size_t i = seen_hash(key) & (s->cap - 1); s->v[i].key; i = (i + 1) & (s->cap - 1))
    if (strcmp(s->v[i].key, key) == 0) return s->v[i].line;
  return 0;
}

/* Takes ownership of key; -1 when out of memory (key freed). */
static int seen_add(seenset *s, char *key, long line) {
  if ((s->n + 1) * 2 > s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 1024;
    seen_t *nv = calloc(nc, sizeof *nv);
    if (!nv) {
      free(key);
      return -1;
    }
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->v[i].key) continue;
      size_t j = seen_hash(s->v[i].key) & (nc - 1);
      while (nv[j].key) j = (j + 1) & (nc - 1);
      nv[j] = s->v[i];
    }
    free(s->v);
    s->v = nv;
    s->cap = nc;
  }
  size_t j = seen_hash(key) & (s->cap - 1);
  while (s->v[j].key) j = (j + 1) & (s->cap - 1);
  s->v[j].key = key;
  s->v[j].line = line;
  s->n++;
  return 0;
}

static void seen_free(seenset *s) {
  for (size_t i = 0; i < s->cap; i++) free(s->v[i].key);
  free(s->v);
}

/* Reports a bad line. */
static void report(sx_import_bad_fn bad, void *ud, long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(sx_import_bad_fn bad, void *ud, long line, const char *fmt, ...) {
  char msg[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (bad) bad(ud, line, msg);
}

sx_st sx_user_import(sx_store *s, FILE *f, const char *source, int skip_bad,
                     sx_import_bad_fn bad_fn, void *ud, sx_import_counts *counts, char *err,
                     size_t n) {
  char serr[1024];
  memset(counts, 0, sizeof *counts);
  sx_st st = sx_store_begin(s, err, n);
  if (st) return st;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  long lineno = 0, bad = 0, added = 0, updated = 0;
  seenset seen = {NULL, 0, 0};
  sx_st fatal = SX_ST_OK;
  while ((len = getline(&line, &cap, f)) >= 0) {
    if (++lineno > SX_IMPORT_MAX_LINES) {
      sxs_seterr(err, n, "%s: more than %ld lines", source, SX_IMPORT_MAX_LINES);
      fatal = SX_ST_INVALID;
      break;
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (lineno == 1 && len >= 3 && (unsigned char)line[0] == 0xef &&
        (unsigned char)line[1] == 0xbb && (unsigned char)line[2] == 0xbf)
      memmove(line, line + 3, (size_t)(len -= 3) + 1); /* UTF-8 byte order mark */
    if (strlen(line) != (size_t)len) {
      report(bad_fn, ud, lineno, "contains a NUL byte");
      bad++;
      continue;
    }
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || *p == '#') continue;
    char *fld[3] = {NULL, NULL, NULL};
    int nf = csv_split(p, fld, 3);
    if (nf < 0 || nf > 3) {
      report(bad_fn, ud, lineno, "%s",
             nf < 0 ? "bad quoting" : "too many fields (expected uri,site,policy)");
      bad++;
      continue;
    }
    if (lineno == 1 && strcasecmp(fld[0], "uri") == 0) continue; /* header */
    if (!*fld[0]) {
      report(bad_fn, ud, lineno, "empty uri");
      bad++;
      continue;
    }
    const char *msg = NULL;
    char *key = sx_canon_key(fld[0], &msg, NULL);
    if (!key) {
      report(bad_fn, ud, lineno, "uri '%s': %s", fld[0], msg ? msg : "invalid");
      bad++;
      continue;
    }
    long dup = seen_find(&seen, key);
    if (dup) {
      report(bad_fn, ud, lineno, "%s is already on line %ld", key, dup);
      free(key);
      bad++;
      continue;
    }
    const char *site = nf > 1 ? fld[1] : NULL, *pol = nf > 2 ? fld[2] : NULL;
    int was_new = 0;
    st = sx_store_user_put(s, key, site, pol, &was_new, serr, sizeof serr);
    if (st) {
      report(bad_fn, ud, lineno, "%s", serr);
      free(key);
      if (st == SX_ST_ERROR) {
        sxs_seterr(err, n, "%s", serr);
        fatal = SX_ST_ERROR;
        break;
      }
      bad++;
      continue;
    }
    if (seen_add(&seen, key, lineno)) {
      sxs_seterr(err, n, "out of memory");
      fatal = SX_ST_ERROR;
      break;
    }
    if (was_new)
      added++;
    else
      updated++;
  }
  int read_err = ferror(f);
  free(line);
  seen_free(&seen);
  counts->bad = bad;
  if (fatal || read_err) {
    sx_store_rollback(s);
    if (read_err && !fatal) sxs_seterr(err, n, "error reading %s", source);
    return fatal ? fatal : SX_ST_ERROR;
  }
  if (bad && !skip_bad) {
    sx_store_rollback(s);
    return sxs_fail(SX_ST_INVALID, err, n,
                    "%ld bad line(s) in %s; nothing imported (fix them, or use --skip-bad)", bad,
                    source);
  }
  if ((st = sx_store_commit(s, err, n))) return st;
  counts->added = added;
  counts->updated = updated;
  return SX_ST_OK;
}
