/* The presence relation model (translate/relation.h). */
#include "translate/relation.h"

#include <string.h>

static const char *const OUT_NAMES[] = {"none", "pending", "subscribed"};
static const char *const IN_NAMES[] = {"none", "pending", "approved"};

int sx_rel_is_empty(sx_rel r) { return !r.added && r.out == SX_OUT_NONE && r.in == SX_IN_NONE; }

int sx_rel_persisted_differs(sx_rel a, sx_rel b) {
  return a.out != b.out || a.in != b.in || a.added != b.added;
}

const char *sx_sub_out_name(sx_sub_out s) {
  return (unsigned)s < sizeof OUT_NAMES / sizeof OUT_NAMES[0] ? OUT_NAMES[s] : "?";
}

const char *sx_sub_in_name(sx_sub_in s) {
  return (unsigned)s < sizeof IN_NAMES / sizeof IN_NAMES[0] ? IN_NAMES[s] : "?";
}

const char *sx_rel_summary(sx_rel r) {
  if (r.out > SX_OUT_SUBSCRIBED || r.in > SX_IN_APPROVED || r.added > 1) return "?";
  if (r.added) return "added";
  if (r.in == SX_IN_PENDING) return "pending_in";
  if (r.in == SX_IN_APPROVED) return "approved_in";
  if (r.out == SX_OUT_SUBSCRIBED) return "subscribed_out";
  if (r.out == SX_OUT_PENDING) return "pending_out";
  return "none";
}

static int parse(const char *text, const char *const *names, int n) {
  if (!text) return -1;
  for (int i = 0; i < n; i++)
    if (strcmp(text, names[i]) == 0) return i;
  return -1;
}

int sx_sub_out_parse(const char *text, sx_sub_out *out) {
  int i = parse(text, OUT_NAMES, 3);
  if (i < 0) return -1;
  *out = (sx_sub_out)i;
  return 0;
}

int sx_sub_in_parse(const char *text, sx_sub_in *out) {
  int i = parse(text, IN_NAMES, 3);
  if (i < 0) return -1;
  *out = (sx_sub_in)i;
  return 0;
}

unsigned sx_rel_expiry(sx_rel r, uint64_t since_ms, uint64_t now_ms, uint64_t interval_ms,
                       unsigned sip_dialogs) {
  unsigned a = 0;
  if (r.suspended || now_ms < since_ms || now_ms - since_ms < interval_ms) return 0;
  if (r.in == SX_IN_PENDING) a |= SX_REXP_DROP_IN;
  if (r.out == SX_OUT_PENDING) a |= sip_dialogs ? SX_REXP_REASK_OUT : SX_REXP_DROP_OUT;
  return a;
}
