/* Metrics: counting, limits, accessors and the Prometheus text rendering.
 * gateway/metrics.c has no dependencies, so it is compiled into this test directly. */
#include "gateway/metrics.c"

#include "check.h"

/* sx_metric_each_refusal callback: sums by reason into ud[0..2]. */
static void count_each(void *ud, sx_dir dir, const char *reason, uint64_t n) {
  uint64_t *seen = ud;
  if (!strcmp(reason, "not_partner") && dir == SX_DIR_SIP_TO_XMPP) seen[0] += n;
  else if (!strcmp(reason, "too_large") && dir == SX_DIR_XMPP_TO_SIP) seen[1] += n;
  else if (!strcmp(reason, "other") && dir == SX_DIR_XMPP_TO_SIP) seen[2] += n;
  else seen[0] += 1000; /* anything else is wrong */
}

/* 1 if `line` (without newline) is a whole line of `text`. */
static int has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
    if ((p == text || p[-1] == '\n') && p[n] == '\n') return 1;
  }
  return 0;
}

static void test_messages(void) {
  sx_metrics_reset();
  for (int i = 0; i < 3; i++) sx_metric_msg(SX_DIR_SIP_TO_XMPP, SX_RES_ACCEPTED);
  sx_metric_msg(SX_DIR_XMPP_TO_SIP, SX_RES_REJECTED_BUSY);
  sx_metric_msg((sx_dir)7, SX_RES_ACCEPTED);  /* ignored */
  sx_metric_msg(SX_DIR_SIP_TO_XMPP, (sx_result)-1); /* ignored */
  CHECK_INT(sx_metric_get_msg(SX_DIR_SIP_TO_XMPP, SX_RES_ACCEPTED), 3, "accepted");
  CHECK_INT(sx_metric_get_msg(SX_DIR_XMPP_TO_SIP, SX_RES_REJECTED_BUSY), 1, "busy");
  CHECK_INT(sx_metric_get_msg(SX_DIR_XMPP_TO_SIP, SX_RES_ACCEPTED), 0, "untouched");
  CHECK_INT(sx_metric_get_msg((sx_dir)7, SX_RES_ACCEPTED), 0, "bad dir");
  CHECK_STR(sx_dir_name(SX_DIR_XMPP_TO_SIP), "xmpp_to_sip", "dir name");
  CHECK_STR(sx_result_name(SX_RES_REJECTED_BUSY), "rejected_busy", "result name");
  CHECK_STR(sx_result_name((sx_result)99), "unknown", "bad result name");
}

static void test_refusals(void) {
  sx_metrics_reset();
  sx_metric_refusal(SX_DIR_SIP_TO_XMPP, "not_partner");
  sx_metric_refusal(SX_DIR_SIP_TO_XMPP, "not_partner");
  char dynamic[] = "too_large"; /* copied, not kept by pointer */
  sx_metric_refusal(SX_DIR_XMPP_TO_SIP, dynamic);
  strcpy(dynamic, "xxxxxxxxx");
  sx_metric_refusal(SX_DIR_XMPP_TO_SIP, "Bad Reason");
  sx_metric_refusal(SX_DIR_XMPP_TO_SIP, NULL);
  sx_metric_refusal(SX_DIR_XMPP_TO_SIP, "");
  CHECK_INT(sx_metric_get_refusal(SX_DIR_SIP_TO_XMPP, "not_partner"), 2, "not_partner");
  CHECK_INT(sx_metric_get_refusal(SX_DIR_XMPP_TO_SIP, "not_partner"), 0, "other dir");
  CHECK_INT(sx_metric_get_refusal(SX_DIR_XMPP_TO_SIP, "too_large"), 1, "copied reason");
  CHECK_INT(sx_metric_get_refusal(SX_DIR_XMPP_TO_SIP, "other"), 3, "invalid → other");
  /* every non-zero counter once: not_partner 2 (sip_to_xmpp), too_large 1, other 3 */
  uint64_t seen[3] = {0, 0, 0};
  sx_metric_each_refusal(count_each, seen);
  CHECK(seen[0] == 2 && seen[1] == 1 && seen[2] == 3, "each: %llu %llu %llu",
        (unsigned long long)seen[0], (unsigned long long)seen[1], (unsigned long long)seen[2]);
  /* XMPP condition names carry '-': counted under their own label, not "other" */
  sx_metric_refusal(SX_DIR_XMPP_TO_SIP, "jid-malformed");
  sx_metric_refusal(SX_DIR_XMPP_TO_SIP, "jid_malformed");
  CHECK_INT(sx_metric_get_refusal(SX_DIR_XMPP_TO_SIP, "jid_malformed"), 2, "'-' reason");
  CHECK_INT(sx_metric_get_refusal(SX_DIR_XMPP_TO_SIP, "other"), 3, "'-' reason not other");
  {
    char *text = sx_metrics_render(NULL);
    CHECK(text && strstr(text, "reason=\"jid_malformed\"} 2"), "rendered jid_malformed");
    free(text);
  }
  /* The table holds 64 reasons; the rest go to "other". */
  for (int i = 0; i < 70; i++) {
    char r[32];
    snprintf(r, sizeof r, "reason_%d", i);
    sx_metric_refusal(SX_DIR_SIP_TO_XMPP, r);
  }
  CHECK_INT(sx_metric_get_refusal(SX_DIR_SIP_TO_XMPP, "reason_60"), 1, "fits");
  CHECK_INT(sx_metric_get_refusal(SX_DIR_SIP_TO_XMPP, "reason_61"), 0, "beyond the table");
  CHECK_INT(sx_metric_get_refusal(SX_DIR_SIP_TO_XMPP, "other"), 9, "overflow → other");
  CHECK_INT(sx_metric_get_refusal(SX_DIR_SIP_TO_XMPP, "not_partner"), 2, "kept");
}

static void test_links_and_names(void) {
  sx_metrics_reset();
  CHECK_INT(sx_metric_get_link("contoso.example"), -1, "unknown domain");
  sx_metric_link("contoso.example", 1);
  sx_metric_link("fabrikam.example", 0);
  sx_metric_reconnect("fabrikam.example");
  sx_metric_reconnect("fabrikam.example");
  sx_metric_link("fabrikam.example", 5);
  CHECK_INT(sx_metric_get_link("contoso.example"), 1, "up");
  CHECK_INT(sx_metric_get_link("fabrikam.example"), 1, "up (any nonzero)");
  CHECK_INT(sx_metric_get_reconnects("fabrikam.example"), 2, "reconnects");
  CHECK_INT(sx_metric_get_reconnects("contoso.example"), 0, "no reconnects");
  sx_metric_link(NULL, 1); /* ignored */

  sx_metric_inc("sip_bad_requests_total");
  sx_metric_inc("sip_bad_requests_total");
  sx_metric_add("xmpp_bad_stanzas_total", 5);
  sx_metric_inc("no_suffix");   /* not a counter name → other_events_total */
  sx_metric_inc("Bad_total");   /* upper case → other */
  CHECK_INT(sx_metric_get("sip_bad_requests_total"), 2, "named");
  CHECK_INT(sx_metric_get("xmpp_bad_stanzas_total"), 5, "added");
  CHECK_INT(sx_metric_get("other_events_total"), 2, "other events");
  CHECK_INT(sx_metric_get("never_total"), 0, "never seen");
}

static void test_render(void) {
  sx_metrics_reset();
  sx_metric_msg(SX_DIR_SIP_TO_XMPP, SX_RES_ACCEPTED);
  sx_metric_msg(SX_DIR_SIP_TO_XMPP, SX_RES_ACCEPTED);
  sx_metric_msg(SX_DIR_SIP_TO_XMPP, SX_RES_ACCEPTED);
  sx_metric_refusal(SX_DIR_XMPP_TO_SIP, "spoofed_from");
  sx_metric_link("contoso.example", 1);
  sx_metric_reconnect("contoso.example");
  sx_metric_inc("sip_torture_rejected_total");
  sx_metric_inc("custom_thing_total");
  size_t len = 0;
  char *text = sx_metrics_render(&len);
  CHECK(text != NULL, "render");
  if (!text) return;
  CHECK_INT(len, strlen(text), "length");
  static const char *const lines[] = {
      "# HELP sipxmpp_messages_total Instant messages handled, by direction and result.",
      "# TYPE sipxmpp_messages_total counter",
      "sipxmpp_messages_total{direction=\"sip_to_xmpp\",result=\"accepted\"} 3",
      "sipxmpp_messages_total{direction=\"xmpp_to_sip\",result=\"rejected_busy\"} 0",
      "# TYPE sipxmpp_refusals_total counter",
      "sipxmpp_refusals_total{direction=\"xmpp_to_sip\",reason=\"spoofed_from\"} 1",
      "sipxmpp_refusals_total{direction=\"sip_to_xmpp\",reason=\"spoofed_from\"} 0",
      "# TYPE sipxmpp_edge_link_up gauge",
      "sipxmpp_edge_link_up{domain=\"contoso.example\"} 1",
      "# TYPE sipxmpp_edge_reconnects_total counter",
      "sipxmpp_edge_reconnects_total{domain=\"contoso.example\"} 1",
      "# HELP sipxmpp_sip_torture_rejected_total SIP torture-test style messages rejected.",
      "# TYPE sipxmpp_sip_torture_rejected_total counter",
      "sipxmpp_sip_torture_rejected_total 1",
      "# HELP sipxmpp_custom_thing_total Count of custom_thing_total events.",
      "sipxmpp_custom_thing_total 1",
      "# TYPE process_resident_memory_bytes gauge",
  };
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
    CHECK(has_line(text, lines[i]), "missing line: %s", lines[i]);
  CHECK(!strstr(text, "reason=\"other\""), "no other row when empty");
  CHECK(!strstr(text, "other_events_total"), "no other events row when empty");
  const char *rss = strstr(text, "\nprocess_resident_memory_bytes ");
  CHECK(rss && atoll(rss + 31) > 0, "rss value");
  CHECK(len > 0 && text[len - 1] == '\n', "ends with newline");
  /* Every line is a comment or "name{labels} value". */
  int bad = 0;
  for (char *line = text; *line;) {
    char *nl = strchr(line, '\n');
    if (!nl) {
      bad++;
      break;
    }
    if (line[0] != '#') {
      char *sp = memrchr(line, ' ', (size_t)(nl - line));
      if (!sp || sp == line) bad++;
      for (char *p = sp ? sp + 1 : nl; p < nl; p++)
        if (*p < '0' || *p > '9') bad++;
    }
    line = nl + 1;
  }
  CHECK_INT(bad, 0, "malformed lines");
  free(text);

  /* Label escaping. */
  sx_metrics_reset();
  sx_metric_link("we\"ird\\dom\nain", 0);
  text = sx_metrics_render(NULL);
  CHECK(text && has_line(text, "sipxmpp_edge_link_up{domain=\"we\\\"ird\\\\dom\\nain\"} 0"),
        "escaped: %s", text ? text : "(null)");
  free(text);
  sx_metrics_reset();
}

int main(void) {
  test_messages();
  test_refusals();
  test_links_and_names();
  test_render();
  return check_done();
}
