/* sipxmppctl status: asks the running daemon for GET /status on [http] listen (libcurl) and
 * prints it, then the instances sharing the store (their heartbeat rows: id, host, last
 * heartbeat, leases held; "stale" after STALE_MS without one). Exit 0 when SIP listens and every edge link is up, 1 when something is down,
 * 3 when the daemon cannot be reached (the address tried is named). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "gateway/sipxmppctl.h"

#define MAX_BODY (1024 * 1024)
/* An instance whose last heartbeat is older than this is shown as stale (it beats every
 * 2 s; a lapse this long means it stopped or lost the store). */
#define STALE_MS 10000

typedef struct {
  char *buf;
  size_t len;
  int too_big;
} body_buf;

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  body_buf *b = ud;
  size_t add = size * n;
  if (b->len + add > MAX_BODY) {
    b->too_big = 1;
    return 0; /* aborts the transfer */
  }
  char *nb = realloc(b->buf, b->len + add + 1);
  if (!nb) return 0;
  memcpy(nb + b->len, p, add);
  b->buf = nb;
  b->len += add;
  b->buf[b->len] = 0;
  return add;
}

static void url_of(char *url, size_t n, const char *host, unsigned port, const char *path) {
  snprintf(url, n, strchr(host, ':') ? "http://[%s]:%u%s" : "http://%s:%u%s", host, port, path);
}

int ctl_http_get(const char *host, unsigned port, const char *path, long timeout_ms,
                 char **body, long *status, char *err, size_t errlen) {
  char url[600];
  body_buf b = {0};
  *body = NULL;
  *status = 0;
  url_of(url, sizeof url, host, port, path);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(err, errlen, "cannot initialise libcurl");
    return -1;
  }
  CURL *h = curl_easy_init();
  if (!h) {
    snprintf(err, errlen, "cannot initialise libcurl");
    curl_global_cleanup();
    return -1;
  }
  char cerr[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
  CURLcode rc = curl_easy_perform(h);
  if (rc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
  curl_easy_cleanup(h);
  curl_global_cleanup();
  if (rc != CURLE_OK) {
    snprintf(err, errlen, "%s", b.too_big ? "the answer is larger than 1 MiB"
                                          : (cerr[0] ? cerr : curl_easy_strerror(rc)));
    free(b.buf);
    return -1;
  }
  if (!b.buf) b.buf = calloc(1, 1);
  *body = b.buf;
  return b.buf ? 0 : -1;
}

/* ---- printing ------------------------------------------------------------------------ */

static double num(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *name) {
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
  return s ? s : "?";
}

static void duration(char *buf, size_t n, double secs) {
  long s = (long)secs;
  if (s >= 86400)
    snprintf(buf, n, "%ldd %ldh %ldm", s / 86400, s % 86400 / 3600, s % 3600 / 60);
  else if (s >= 3600)
    snprintf(buf, n, "%ldh %ldm %lds", s / 3600, s % 3600 / 60, s % 60);
  else if (s >= 60)
    snprintf(buf, n, "%ldm %lds", s / 60, s % 60);
  else
    snprintf(buf, n, "%lds", s);
}

static void print_counts(const char *label, const cJSON *by_dir) {
  const cJSON *d;
  int first = 1;
  cJSON_ArrayForEach(d, by_dir) {
    printf("%-9s %s:", first ? label : "", strcmp(d->string, "sip_to_xmpp") ? "xmpp->sip" : "sip->xmpp");
    const cJSON *v;
    int any = 0;
    cJSON_ArrayForEach(v, d) {
      printf("%s %s %.0f", any ? "," : "", v->string, v->valuedouble);
      any = 1;
    }
    printf("%s\n", any ? "" : " none");
    first = 0;
  }
}

static int print_status(const cJSON *doc) {
  char up[64], since[64];
  duration(up, sizeof up, num(doc, "uptime_s"));
  printf("sipxmppd  %s, up %s (since %s)\n", str(doc, "version"), up, str(doc, "started"));
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, "edge")) {
    const cJSON *last = cJSON_GetObjectItemCaseSensitive(e, "last_error");
    duration(since, sizeof since, num(e, "since_s"));
    const cJSON *sess = cJSON_GetObjectItemCaseSensitive(e, "tls_session");
    const char *tls = !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "tls")) ? "off"
                      : cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "tls_up")) ? "up"
                                                                                    : "down";
    printf("edge      %s %s since %s (%s), %s:%.0f, tls %s%s%s, reconnects %.0f%s%s\n",
           str(e, "domain"), str(e, "state"), str(e, "since"), since, str(e, "host"),
           num(e, "port"), tls, cJSON_IsString(sess) ? " " : "",
           cJSON_IsString(sess) ? sess->valuestring : "", num(e, "reconnects"), cJSON_IsString(last) ? ", last error: " : "",
           cJSON_IsString(last) ? last->valuestring : "");
  }
  const cJSON *sip = cJSON_GetObjectItemCaseSensitive(doc, "sip");
  printf("sip       %s", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sip, "listening"))
                             ? "listening on"
                             : "NOT listening on");
  const cJSON *l;
  int first = 1;
  cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(sip, "listen")) {
    printf("%s %s", first ? "" : ",", cJSON_GetStringValue(l) ? l->valuestring : "?");
    first = 0;
  }
  printf("; proxy %s; in flight %.0f, queued %.0f\n", str(sip, "outbound_proxy"),
         num(sip, "in_flight"), num(sip, "queued"));
  print_counts("messages", cJSON_GetObjectItemCaseSensitive(doc, "messages"));
  print_counts("refusals", cJSON_GetObjectItemCaseSensitive(doc, "refusals"));
  const cJSON *pr = cJSON_GetObjectItemCaseSensitive(doc, "presence");
  printf("presence  relations %.0f, dialogs %.0f", num(pr, "relations"), num(pr, "dialogs"));
  if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(pr, "fanout_leases")))
    printf(", fan-out leases %.0f", num(pr, "fanout_leases"));
  printf("\n");
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "store");
  printf("store     generation %.0f applied (%s)\n", num(st, "generation"), str(st, "path"));
  int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "ok"));
  printf("%s\n", ok ? "all up" : "something is down");
  return ok ? CTL_OK : CTL_REFUSED;
}

/* The instances table as a JSON array (NULL with *why set when the store cannot be read). */
static cJSON *instances_json(ctl_ctx *c, char *why, size_t wn) {
  if (!c->st && ctl_open(c) != CTL_OK) {
    snprintf(why, wn, "the store cannot be opened (see above)");
    return NULL;
  }
  struct timeval tv;
  gettimeofday(&tv, NULL);
  int64_t now = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
  sx_instance_rec *v = NULL;
  size_t n = 0;
  char err[512];
  if (sx_store_instance_list(c->st, now, &v, &n, err, sizeof err) != SX_ST_OK) {
    snprintf(why, wn, "%s", err);
    return NULL;
  }
  cJSON *arr = cJSON_CreateArray();
  for (size_t i = 0; arr && i < n; i++) {
    cJSON *o = cJSON_CreateObject();
    if (!o) break;
    double age = (double)(now - v[i].heartbeat) / 1000.0;
    cJSON_AddStringToObject(o, "id", v[i].id);
    cJSON_AddStringToObject(o, "host", v[i].host);
    cJSON_AddNumberToObject(o, "pid", (double)v[i].pid);
    if (v[i].http)
      cJSON_AddStringToObject(o, "http", v[i].http);
    else
      cJSON_AddNullToObject(o, "http");
    cJSON_AddNumberToObject(o, "heartbeat_age_s", age < 0 ? 0 : age);
    cJSON_AddNumberToObject(o, "leases", (double)v[i].leases);
    cJSON_AddBoolToObject(o, "alive", now - v[i].heartbeat <= STALE_MS);
    cJSON_AddItemToArray(arr, o);
  }
  sx_instance_list_free(v, n);
  return arr;
}

static void print_instances(const cJSON *arr, const char *why) {
  if (!arr) {
    printf("instances unknown: %s\n", why);
    return;
  }
  printf("instances %d in the store\n", cJSON_GetArraySize(arr));
  const cJSON *o;
  cJSON_ArrayForEach(o, arr) {
    printf("          %s on %s (pid %.0f), heartbeat %.1f s ago, %.0f lease(s), %s\n",
           str(o, "id"), str(o, "host"), num(o, "pid"), num(o, "heartbeat_age_s"),
           num(o, "leases"),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "alive")) ? "alive" : "STALE");
  }
}

static const char STATUS_USAGE[] = "usage: sipxmppctl [--config FILE] status [--json]\n";

int ctl_status(ctl_ctx *c, int argc, char **argv) {
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, ctl_no_opts, &a, STATUS_USAGE, 0, 0, "status takes no arguments");
  if (rc) return rc;
  if ((rc = ctl_load_config(c))) return rc;
  if (!c->cfg.http_listen) {
    ctl_error("%s has no [http] listen: sipxmppctl status asks the daemon there for /status; "
              "set [http] listen = 127.0.0.1:8070 and restart sipxmppd",
              c->cfg.path);
    return CTL_STORE;
  }
  char url[600], err[CURL_ERROR_SIZE + 64];
  char *body = NULL;
  long http = 0;
  url_of(url, sizeof url, c->cfg.http_host, c->cfg.http_port, "/status");
  if (ctl_http_get(c->cfg.http_host, c->cfg.http_port, "/status", 3000, &body, &http, err,
                   sizeof err) != 0 ||
      http != 200) {
    char why[CURL_ERROR_SIZE + 128];
    if (body)
      snprintf(why, sizeof why, "HTTP status %ld (is this sipxmppd?)", http);
    else
      snprintf(why, sizeof why, "%s", err);
    free(body);
    if (c->json) {
      cJSON *o = cJSON_CreateObject();
      if (o) {
        cJSON_AddBoolToObject(o, "reachable", 0);
        cJSON_AddStringToObject(o, "address", url);
        cJSON_AddStringToObject(o, "error", why);
      }
      ctl_json_out(o);
    }
    ctl_error("cannot reach sipxmppd at %s: %s (is it running? [http] listen in %s)", url, why,
              c->cfg.path);
    return CTL_STORE;
  }
  cJSON *doc = cJSON_Parse(body);
  free(body);
  if (!cJSON_IsObject(doc)) {
    cJSON_Delete(doc);
    ctl_error("%s did not answer with a status document", url);
    return CTL_STORE;
  }
  int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "ok"));
  char why[600] = "";
  cJSON *inst = instances_json(c, why, sizeof why);
  if (c->json) {
    if (inst)
      cJSON_AddItemToObject(doc, "instances", inst);
    else
      cJSON_AddStringToObject(doc, "instances_error", why);
    cJSON_AddBoolToObject(doc, "reachable", 1);
    cJSON_AddStringToObject(doc, "address", url);
    rc = ctl_json_out(doc);
    return rc ? rc : (ok ? CTL_OK : CTL_REFUSED);
  }
  rc = print_status(doc);
  print_instances(inst, why);
  cJSON_Delete(inst);
  cJSON_Delete(doc);
  return rc;
}
