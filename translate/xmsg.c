/* Serialisation of the plain <message/> stanza (translate/xmsg.h). */
#include "translate/xmsg.h"

#include <stdlib.h>
#include <string.h>

#include "translate/errors.h"
#include "translate/text.h"

#define NS_CHATSTATES "http://jabber.org/protocol/chatstates"
#define NS_RECEIPTS "urn:xmpp:receipts"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

static const char *chat_state_name(sx_chat_state s) {
  switch (s) {
  case SX_CHAT_ACTIVE: return "active";
  case SX_CHAT_COMPOSING: return "composing";
  case SX_CHAT_PAUSED: return "paused";
  case SX_CHAT_INACTIVE: return "inactive";
  case SX_CHAT_GONE: return "gone";
  case SX_CHAT_NONE: break;
  }
  return NULL;
}

/* name='escaped value' — nothing when value is NULL. */
static void put_attr(sx_buf *b, const char *name, const char *value) {
  if (!value) return;
  sx_buf_puts(b, " ");
  sx_buf_puts(b, name);
  sx_buf_puts(b, "='");
  sx_buf_puts_xml(b, value);
  sx_buf_puts(b, "'");
}

/* <name>escaped text</name> — nothing when text is NULL. */
static void put_text_elem(sx_buf *b, const char *name, const char *text) {
  if (!text) return;
  sx_buf_printf(b, "<%s>", name);
  sx_buf_puts_xml(b, text);
  sx_buf_printf(b, "</%s>", name);
}

/* The condition is written as an element name, so only a defined condition may appear;
 * anything else becomes undefined-condition. */
static const char *safe_condition(const char *cond) {
  if (cond && sx_err_is_condition(cond)) return cond;
  return "undefined-condition";
}

/* Error types are a closed set (RFC 6120 §8.3.2). */
static const char *safe_error_type(const char *type, const char *cond) {
  static const char *const types[] = {"auth", "cancel", "continue", "modify", "wait"};
  if (type)
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
      if (strcmp(type, types[i]) == 0) return types[i];
  return sx_err_type(cond);
}

static void put_error(sx_buf *b, const char *cond, const char *type, const char *text) {
  cond = safe_condition(cond);
  sx_buf_printf(b, "<error type='%s'><%s xmlns='" NS_STANZAS "'/>", safe_error_type(type, cond),
                cond);
  if (text) {
    sx_buf_puts(b, "<text xmlns='" NS_STANZAS "'>");
    sx_buf_puts_xml(b, text);
    sx_buf_puts(b, "</text>");
  }
  sx_buf_puts(b, "</error>");
}

char *sx_xmsg_serialize(const sx_xmsg *m, size_t *len) {
  sx_buf b = {0};
  const char *cs;

  if (len) *len = 0;
  if (!m || !m->from || !m->to || !*m->from || !*m->to) return NULL;

  sx_buf_puts(&b, "<message");
  put_attr(&b, "from", m->from);
  put_attr(&b, "to", m->to);
  put_attr(&b, "id", m->id);
  put_attr(&b, "type", m->type);
  put_attr(&b, "xml:lang", m->lang);
  sx_buf_puts(&b, ">");

  put_text_elem(&b, "subject", m->subject);
  put_text_elem(&b, "body", m->body);
  put_text_elem(&b, "thread", m->thread);
  cs = chat_state_name(m->chat_state);
  if (cs) sx_buf_printf(&b, "<%s xmlns='" NS_CHATSTATES "'/>", cs);
  if (m->receipt_request) sx_buf_puts(&b, "<request xmlns='" NS_RECEIPTS "'/>");
  if (m->receipt_for) {
    sx_buf_puts(&b, "<received xmlns='" NS_RECEIPTS "'");
    put_attr(&b, "id", m->receipt_for);
    sx_buf_puts(&b, "/>");
  }
  if (m->error_condition || m->error_type || m->error_text ||
      (m->type && strcmp(m->type, "error") == 0))
    put_error(&b, m->error_condition, m->error_type, m->error_text);
  sx_buf_puts(&b, "</message>");
  return sx_buf_take(&b, len);
}

char *sx_xmsg_error_reply(const char *orig_from, const char *orig_to, const char *id,
                          const char *condition, const char *text, size_t *len) {
  sx_buf b = {0};

  if (len) *len = 0;
  if (!orig_from || !orig_to || !*orig_from || !*orig_to) return NULL;

  sx_buf_puts(&b, "<message");
  put_attr(&b, "from", orig_to);
  put_attr(&b, "to", orig_from);
  put_attr(&b, "id", id);
  sx_buf_puts(&b, " type='error'>");
  put_error(&b, condition, NULL, text);
  sx_buf_puts(&b, "</message>");
  return sx_buf_take(&b, len);
}

void sx_xmsg_free(sx_xmsg *m) {
  if (!m) return;
  free(m->from);
  free(m->to);
  free(m->id);
  free(m->type);
  free(m->lang);
  free(m->body);
  free(m->subject);
  free(m->thread);
  free(m->receipt_for);
  free(m->error_condition);
  free(m->error_type);
  free(m->error_text);
  memset(m, 0, sizeof *m);
}
