/* The RFC 7247 §7 error mapping (SPEC §6): one table read in both directions. */
#include "translate/errors.h"

#include <stddef.h>
#include <string.h>

enum {
  S2X = 1,      /* this SIP status maps to the condition                      */
  X2S_FULL = 2, /* the condition maps to this status when the target is a full JID */
  X2S_BARE = 4, /* ... when the target is a bare JID                           */
  X2S_ADDR = 8, /* ... when the error carried a new address (gone → 301)       */
  X2S = X2S_FULL | X2S_BARE,
};

static const struct err_row {
  short sip;
  unsigned char dir;
  const char *cond;
} err_table[] = {
    {301, S2X | X2S_ADDR, "gone"},
    {302, S2X | X2S, "redirect"},
    {400, S2X | X2S, "bad-request"},
    {400, X2S, "conflict"},
    {400, X2S, "jid-malformed"},
    {400, X2S, "subscription-required"},
    {400, X2S, "undefined-condition"},
    {401, S2X | X2S, "not-authorized"},
    {402, S2X, "bad-request"},
    {403, S2X | X2S_FULL, "forbidden"},
    {403, X2S, "not-allowed"},
    {403, X2S, "policy-violation"},
    {403, X2S, "service-unavailable"},
    {404, S2X | X2S_FULL, "item-not-found"},
    {404, X2S, "remote-server-not-found"},
    {405, S2X | X2S_FULL, "feature-not-implemented"},
    {406, S2X | X2S_FULL, "not-acceptable"},
    {407, S2X | X2S, "registration-required"},
    {408, S2X | X2S, "remote-server-timeout"},
    {410, S2X | X2S, "gone"},
    {413, S2X, "policy-violation"},
    {414, S2X, "policy-violation"},
    {415, S2X, "not-acceptable"},
    {416, S2X, "not-acceptable"},
    {420, S2X, "feature-not-implemented"},
    {423, S2X, "resource-constraint"},
    {430, S2X, "recipient-unavailable"},
    {480, S2X | X2S_FULL, "recipient-unavailable"},
    {481, S2X, "item-not-found"},
    {482, S2X, "not-acceptable"},
    {483, S2X, "not-acceptable"},
    {484, S2X, "item-not-found"},
    {485, S2X, "item-not-found"},
    {486, S2X, "recipient-unavailable"},
    {487, S2X, "recipient-unavailable"},
    {488, S2X, "not-acceptable"},
    {489, S2X, "policy-violation"},
    {491, S2X | X2S, "unexpected-request"},
    {493, S2X, "bad-request"},
    {500, S2X | X2S, "internal-server-error"},
    {500, X2S, "resource-constraint"},
    {501, S2X | X2S_BARE, "feature-not-implemented"},
    {502, S2X, "remote-server-not-found"},
    {503, S2X, "internal-server-error"},
    {504, S2X, "remote-server-timeout"},
    {505, S2X, "not-acceptable"},
    {513, S2X, "policy-violation"},
    {600, S2X | X2S_BARE, "recipient-unavailable"},
    {603, S2X, "recipient-unavailable"},
    {603, X2S_BARE, "forbidden"},
    {604, S2X | X2S_BARE, "item-not-found"},
    {606, S2X | X2S_BARE, "not-acceptable"},
};

#define N_ROWS (sizeof err_table / sizeof err_table[0])

const char *sx_err_sip_to_xmpp(int status) {
  if (status < 300 || status > 699) return NULL;
  for (size_t i = 0; i < N_ROWS; i++)
    if (err_table[i].sip == status && (err_table[i].dir & S2X)) return err_table[i].cond;
  switch (status / 100) {
  case 3: return "redirect";
  case 4: return "bad-request";
  case 5: return "internal-server-error";
  default: return "recipient-unavailable";
  }
}

static int find_x2s(const char *condition, unsigned flag) {
  for (size_t i = 0; i < N_ROWS; i++)
    if ((err_table[i].dir & flag) && strcmp(err_table[i].cond, condition) == 0)
      return err_table[i].sip;
  return 0;
}

int sx_err_xmpp_to_sip(const char *condition, int full_jid, int has_new_address) {
  if (!condition) return 400;
  int s = 0;
  if (has_new_address) s = find_x2s(condition, X2S_ADDR);
  if (!s) s = find_x2s(condition, full_jid ? X2S_FULL : X2S_BARE);
  return s ? s : 400;
}

/* RFC 6120 §8.3.3: the defined conditions and the error type each is sent with. */
static const struct {
  const char *cond, *type;
} cond_types[] = {
    {"bad-request", "modify"},
    {"conflict", "cancel"},
    {"feature-not-implemented", "cancel"},
    {"forbidden", "auth"},
    {"gone", "cancel"},
    {"internal-server-error", "cancel"},
    {"item-not-found", "cancel"},
    {"jid-malformed", "modify"},
    {"not-acceptable", "modify"},
    {"not-allowed", "cancel"},
    {"not-authorized", "auth"},
    {"policy-violation", "modify"},
    {"recipient-unavailable", "wait"},
    {"redirect", "modify"},
    {"registration-required", "auth"},
    {"remote-server-not-found", "cancel"},
    {"remote-server-timeout", "wait"},
    {"resource-constraint", "wait"},
    {"service-unavailable", "cancel"},
    {"subscription-required", "auth"},
    {"undefined-condition", "cancel"},
    {"unexpected-request", "wait"},
};

const char *sx_err_type(const char *condition) {
  if (condition)
    for (size_t i = 0; i < sizeof cond_types / sizeof cond_types[0]; i++)
      if (strcmp(cond_types[i].cond, condition) == 0) return cond_types[i].type;
  return "cancel";
}

int sx_err_is_condition(const char *condition) {
  if (condition)
    for (size_t i = 0; i < sizeof cond_types / sizeof cond_types[0]; i++)
      if (strcmp(cond_types[i].cond, condition) == 0) return 1;
  return 0;
}

const char *sx_sip_phrase(int status) {
  switch (status) {
  case 100: return "Trying";
  case 180: return "Ringing";
  case 181: return "Call Is Being Forwarded";
  case 182: return "Queued";
  case 183: return "Session Progress";
  case 199: return "Early Dialog Terminated";
  case 200: return "OK";
  case 202: return "Accepted";
  case 204: return "No Notification";
  case 300: return "Multiple Choices";
  case 301: return "Moved Permanently";
  case 302: return "Moved Temporarily";
  case 305: return "Use Proxy";
  case 380: return "Alternative Service";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 402: return "Payment Required";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 407: return "Proxy Authentication Required";
  case 408: return "Request Timeout";
  case 410: return "Gone";
  case 412: return "Conditional Request Failed";
  case 413: return "Request Entity Too Large";
  case 414: return "Request-URI Too Long";
  case 415: return "Unsupported Media Type";
  case 416: return "Unsupported URI Scheme";
  case 417: return "Unknown Resource-Priority";
  case 420: return "Bad Extension";
  case 421: return "Extension Required";
  case 422: return "Session Interval Too Small";
  case 423: return "Interval Too Brief";
  case 424: return "Bad Location Information";
  case 428: return "Use Identity Header";
  case 429: return "Provide Referrer Identity";
  case 430: return "Flow Failed";
  case 433: return "Anonymity Disallowed";
  case 436: return "Bad Identity-Info";
  case 437: return "Unsupported Certificate";
  case 438: return "Invalid Identity Header";
  case 439: return "First Hop Lacks Outbound Support";
  case 440: return "Max-Breadth Exceeded";
  case 469: return "Bad Info Package";
  case 470: return "Consent Needed";
  case 480: return "Temporarily Unavailable";
  case 481: return "Call/Transaction Does Not Exist";
  case 482: return "Loop Detected";
  case 483: return "Too Many Hops";
  case 484: return "Address Incomplete";
  case 485: return "Ambiguous";
  case 486: return "Busy Here";
  case 487: return "Request Terminated";
  case 488: return "Not Acceptable Here";
  case 489: return "Bad Event";
  case 491: return "Request Pending";
  case 493: return "Undecipherable";
  case 494: return "Security Agreement Required";
  case 500: return "Server Internal Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Server Time-out";
  case 505: return "Version Not Supported";
  case 513: return "Message Too Large";
  case 580: return "Precondition Failure";
  case 600: return "Busy Everywhere";
  case 603: return "Decline";
  case 604: return "Does Not Exist Anywhere";
  case 606: return "Not Acceptable";
  case 607: return "Unwanted";
  case 608: return "Rejected";
  }
  return "Unknown";
}

const char *sx_err_partner_text(const char *condition) {
  static const struct {
    const char *cond, *text;
  } t[] = {
      {"forbidden", "not permitted by the recipient's organisation"},
      {"not-allowed", "not permitted by the recipient's organisation"},
      {"not-authorized", "not permitted by the recipient's organisation"},
      {"policy-violation", "not accepted by the recipient's organisation"},
      {"service-unavailable", "the recipient cannot receive this message"},
      {"item-not-found", "the recipient cannot receive this message"},
      {"recipient-unavailable", "the recipient is not available"},
      {"resource-constraint", "the service is busy; try again later"},
      {"jid-malformed", "the address is not valid"},
      {"bad-request", "the message could not be understood"},
      {"feature-not-implemented", "not supported by the recipient's organisation"},
      {"remote-server-timeout", "the recipient did not answer in time"},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (condition && !strcmp(condition, t[i].cond)) return t[i].text;
  return "the message could not be delivered";
}
