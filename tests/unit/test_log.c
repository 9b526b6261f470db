/* The logger: text and JSON lines, escaping of every control character, structured fields,
 * the level threshold, and long lines marked as truncated while staying valid JSON. Lines
 * are captured by pointing stderr at a temporary file. */
#include "translate/log.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

static char path[64];
static int saved_fd = -1;

static void capture_begin(void) {
  fflush(stderr);
  saved_fd = dup(2);
  FILE *f = fopen(path, "w");
  if (!f) abort();
  dup2(fileno(f), 2);
  fclose(f);
}

/* Ends the capture and returns what was written (malloc'd). */
static char *capture_end(void) {
  fflush(stderr);
  dup2(saved_fd, 2);
  close(saved_fd);
  FILE *f = fopen(path, "r");
  if (!f) abort();
  static const size_t cap = 16384;
  char *buf = calloc(1, cap);
  size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

static void test_text(void) {
  sx_log_set_format(0);
  sx_log_set_level(SX_LOG_INFO);
  capture_begin();
  sx_info("im", "hello %d", 42);
  sx_debug("im", "not shown");
  char *out = capture_end();
  CHECK(strstr(out, " info im: hello 42\n") != NULL, "text line: %s", out);
  CHECK(strstr(out, "not shown") == NULL, "debug skipped at info: %s", out);
  CHECK(out[4] == '-' && out[10] == 'T', "timestamp first: %s", out);
  free(out);
}

static void test_json(void) {
  sx_log_set_format(1);
  capture_begin();
  sx_warn("edge", "quote \" backslash \\ newline \n tab \t bell \a del \x7f");
  sx_log_field f[] = {{"dir", "sip_to_xmpp", 0}, {"status", NULL, 202}, {"from", "a\"b", 0}};
  sx_log_fields(SX_LOG_INFO, "im", "a message", f, 3);
  sx_log_fields(SX_LOG_DEBUG, "im", "skipped", f, 3);
  char *out = capture_end();
  char *nl = strchr(out, '\n');
  CHECK(nl != NULL, "two lines: %s", out);
  if (!nl) return;
  *nl = 0;
  cJSON *a = cJSON_Parse(out), *b = cJSON_Parse(nl + 1);
  CHECK(a != NULL, "first line parses: %s", out);
  CHECK(b != NULL, "second line parses: %s", nl + 1);
  if (a) {
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "level")), "warn", "level");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "subsys")), "edge", "subsys");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "msg")),
              "quote \" backslash \\ newline \n tab \t bell \a del \x7f", "msg round trip");
    CHECK(cJSON_GetStringValue(cJSON_GetObjectItem(a, "time")) != NULL, "time");
  }
  if (b) {
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(b, "dir")), "sip_to_xmpp", "field str");
    CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(b, "status")), 202, "field num");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(b, "from")), "a\"b", "field escaped");
  }
  CHECK(strstr(nl + 1, "skipped") == NULL, "debug fields skipped");
  cJSON_Delete(a);
  cJSON_Delete(b);
  free(out);
}

static void test_long(void) {
  char big[5000];
  memset(big, '"', sizeof big - 1); /* every byte doubles when escaped */
  big[sizeof big - 1] = 0;
  sx_log_set_format(1);
  capture_begin();
  sx_info("im", "%s", big);
  sx_log_field f[] = {{"dir", "x", 0}, {"body", big, 0}};
  sx_log_fields(SX_LOG_INFO, "im", "short", f, 2);
  char *out = capture_end();
  char *nl = strchr(out, '\n');
  CHECK(nl != NULL, "lines written");
  if (nl) {
    *nl = 0;
    cJSON *a = cJSON_Parse(out), *b = cJSON_Parse(nl + 1);
    CHECK(a && cJSON_IsTrue(cJSON_GetObjectItem(a, "truncated")), "long msg: valid, marked");
    CHECK(b && cJSON_IsTrue(cJSON_GetObjectItem(b, "truncated")), "long field: valid, marked");
    CHECK(b && cJSON_GetObjectItem(b, "dir") && !cJSON_GetObjectItem(b, "body"),
          "the field that does not fit is left out whole");
    CHECK(strlen(out) < 2048, "bounded line");
    cJSON_Delete(a);
    cJSON_Delete(b);
  }
  free(out);
  sx_log_set_format(0);
  capture_begin();
  sx_info("im", "%s", big);
  out = capture_end();
  CHECK(strstr(out, "...[truncated]\n") != NULL, "text: marked");
  free(out);
}

static void test_escape(void) {
  char buf[8];
  size_t pos = 0;
  CHECK_INT(sx_log_json_escape(buf, sizeof buf, &pos, "ab\"c"), 0, "fits");
  CHECK_STR(buf, "ab\\\"c", "escaped");
  pos = 0;
  CHECK_INT(sx_log_json_escape(buf, sizeof buf, &pos, "abcdef\n"), -1, "does not fit");
  CHECK_INT(pos, 6, "stops at the last whole character");
}

int main(void) {
  snprintf(path, sizeof path, "/tmp/sx-test-log-%d", (int)getpid());
  test_text();
  test_json();
  test_long();
  test_escape();
  unlink(path);
  return check_done();
}
