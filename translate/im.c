#include "translate/im.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "translate/cpim.h"
#include "translate/imdn.h"
#include "translate/text.h"

static int refuse(sx_im_fail *f, int status, const char *reason, const char *code, int warn) {
  f->status = status;
  f->reason = reason;
  f->code = code;
  f->warn = warn;
  f->accept = 0;
  return -1;
}

/* Header text (Subject, Call-ID) as XML-safe UTF-8; NULL stays NULL. SX_TEXT_BAD_UTF8 when
 * the header is not UTF-8, SX_TEXT_NOMEM on allocation failure. */
static sx_text_rc clean_header(const char *in, char **out) {
  size_t n;
  *out = NULL;
  if (!in) return SX_TEXT_OK;
  return sx_text_to_utf8(NULL, in, strlen(in), 0, out, &n, NULL);
}

/* A language tag (RFC 5646 shape: letters, digits, '-'), else NULL. */
static char *lang_tag(const char *in) {
  size_t i, n;
  if (!in) return NULL;
  n = strlen(in);
  if (n == 0 || n > 64) return NULL;
  for (i = 0; i < n; i++)
    if (!isalnum((unsigned char)in[i]) && in[i] != '-') return NULL;
  return strdup(in);
}

/* The identity in a CPIM From/To URI as a canonical key: sip:, im: and xmpp: forms. */
static char *cpim_identity_key(const char *uri) {
  sx_jid j;
  char *key = NULL;
  sx_addr_rc rc;
  if (!strncasecmp(uri, "sip:", 4)) rc = sx_sip_to_jid(uri, &j);
  else if (!strncasecmp(uri, "im:", 3)) rc = sx_jid_parse(uri + 3, &j);
  else if (!strncasecmp(uri, "xmpp:", 5)) rc = sx_jid_parse(uri + 5, &j);
  else return NULL;
  if (rc != SX_ADDR_OK) return NULL;
  key = sx_jid_key(&j);
  sx_jid_free(&j);
  return key;
}

/* RFC 3994 <state> of an isComposing document: active → composing, idle → paused. */
static int iscomposing_state(const char *body, size_t len, sx_chat_state *st) {
  const char *p = body, *end = body + len, *q;
  while (p < end && (p = memmem(p, (size_t)(end - p), "state", 5)) != NULL) {
    if (p > body && (p[-1] == '<' || p[-1] == ':') && p + 5 < end && p[5] == '>') {
      size_t k;
      sx_chat_state v;
      q = p + 6;
      while (q < end && isspace((unsigned char)*q)) q++;
      if ((size_t)(end - q) >= 6 && !strncmp(q, "active", 6)) {
        v = SX_CHAT_COMPOSING;
        k = 6;
      } else if ((size_t)(end - q) >= 4 && !strncmp(q, "idle", 4)) {
        v = SX_CHAT_PAUSED;
        k = 4;
      } else {
        return -1;
      }
      /* the value must end the element: "activex" is not "active" */
      q += k;
      while (q < end && isspace((unsigned char)*q)) q++;
      if (q == end || *q != '<') return -1;
      *st = v;
      return 0;
    }
    p += 5;
  }
  return -1;
}

static int text_fail(sx_im_fail *f, sx_text_rc rc) {
  switch (rc) {
  case SX_TEXT_CHARSET:
    refuse(f, 415, "unsupported charset", "unsupported_type", 1);
    f->accept = 1;
    return -1;
  case SX_TEXT_TOO_BIG:
    return refuse(f, 413, "message larger than the gateway accepts", "too_large", 1);
  case SX_TEXT_NOMEM:
    return refuse(f, 500, "out of memory", "internal", 0);
  default:
    return refuse(f, 400, "body is not valid text in its charset", "bad_body", 1);
  }
}

void sx_im_imdn_free(sx_im_imdn *i) {
  free(i->id);
  free(i->datetime);
  memset(i, 0, sizeof *i);
}

int sx_im_from_sip(const sx_im_sip_in *in, const sx_im_opts *o, sx_xmsg *out, sx_jid *sender,
                   sx_jid *target, sx_im_fail *f) {
  return sx_im_from_sip_ex(in, o, out, sender, target, NULL, f);
}

int sx_im_from_sip_ex(const sx_im_sip_in *in, const sx_im_opts *o, sx_xmsg *out,
                      sx_jid *sender, sx_jid *target, sx_im_imdn *imdn, sx_im_fail *f) {
  sx_addr_rc rc;
  sx_cpim cpim;
  int have_cpim = 0, ret = -1;
  const char *ctype = in->content_type, *charset = in->charset, *body = in->body;
  const char *subject = in->subject, *lang = in->content_language;
  size_t body_len = in->body_len, cleaned = 0, n;
  char *text = NULL;
  sx_chat_state chat = SX_CHAT_NONE;

  memset(out, 0, sizeof *out);
  memset(sender, 0, sizeof *sender);
  memset(target, 0, sizeof *target);
  memset(f, 0, sizeof *f);
  if (imdn) memset(imdn, 0, sizeof *imdn);

  if (sx_sip_to_jid(in->from_uri, sender) != SX_ADDR_OK)
    return refuse(f, 400, "the From address cannot be mapped to XMPP", "bad_address", 1);
  rc = sx_sip_to_jid(in->request_uri, target);
  if (rc != SX_ADDR_OK) {
    sx_jid_free(sender);
    return refuse(f, sx_addr_sip_status(rc), sx_addr_reason(rc),
                  rc == SX_ADDR_SIPS ? "sips_target" : "bad_address", 1);
  }
  if (!target->local) {
    refuse(f, 484, "the target has no user part", "bad_address", 1);
    goto out;
  }
  if (!body_len) {
    refuse(f, 400, "empty message", "bad_body", 1);
    goto out;
  }
  if (!ctype) ctype = "text/plain";

  if (!strcasecmp(ctype, "message/cpim")) {
    char *inner_key, *outer_key;
    if (sx_cpim_parse(body, body_len, &cpim) != 0) {
      refuse(f, 400, "malformed message/cpim body", "bad_body", 1);
      goto out;
    }
    have_cpim = 1;
    if (cpim.from) {
      inner_key = cpim_identity_key(cpim.from);
      outer_key = sx_jid_key(sender);
      if (!inner_key || !outer_key || strcmp(inner_key, outer_key) != 0) {
        free(inner_key);
        free(outer_key);
        refuse(f, 403, "the CPIM From does not match the sender", "cpim_identity", 1);
        goto out;
      }
      free(inner_key);
      free(outer_key);
    }
    ctype = cpim.content_type ? cpim.content_type : "text/plain";
    charset = cpim.charset;
    body = cpim.body;
    body_len = cpim.body_len;
    if (!subject) subject = cpim.subject;
    if (!lang) lang = cpim.lang;
    if (!body_len) {
      refuse(f, 400, "empty message", "bad_body", 1);
      goto out;
    }
  }

  if (!strcasecmp(ctype, "text/plain")) {
    if ((!charset || !strcasecmp(charset, "utf-8")) && o->max_body && body_len > o->max_body) {
      text_fail(f, SX_TEXT_TOO_BIG);
      goto out;
    }
    sx_text_rc trc = sx_text_to_utf8(charset, body, body_len, o->max_body, &text, &n, &cleaned);
    if (trc != SX_TEXT_OK) {
      text_fail(f, trc);
      goto out;
    }
    if (n == 0) { /* nothing left once what XML cannot carry was removed */
      refuse(f, 400, "empty message", "bad_body", 1);
      goto out;
    }
  } else if (!have_cpim && !strcasecmp(ctype, "application/im-iscomposing+xml")) {
    if (iscomposing_state(body, body_len, &chat) != 0) {
      refuse(f, 400, "malformed isComposing document", "bad_body", 1);
      goto out;
    }
  } else {
    refuse(f, 415, "unsupported content type", "unsupported_type", 0);
    f->accept = 1;
    goto out;
  }

  out->from = sx_jid_to_text(sender, 1);
  out->to = sx_jid_to_text(target, 1);
  out->type = strdup(o->msg_type ? o->msg_type : "chat");
  out->body = text;
  text = NULL;
  out->chat_state = chat;
  out->lang = lang_tag(lang);
  if (!out->from || !out->to || !out->type) {
    refuse(f, 500, "out of memory", "internal", 0);
    sx_xmsg_free(out);
    goto out;
  }
  sx_text_rc hrc = clean_header(subject, &out->subject);
  if (hrc == SX_TEXT_OK) hrc = clean_header(in->call_id, &out->thread);
  if (hrc != SX_TEXT_OK) {
    if (hrc == SX_TEXT_NOMEM) refuse(f, 500, "out of memory", "internal", 0);
    else refuse(f, 400, "Subject or Call-ID is not valid UTF-8", "bad_header", 1);
    sx_xmsg_free(out);
    goto out;
  }
  if (have_cpim && cpim.imdn_id && cpim.imdn_notify) {
    int flags = sx_imdn_parse_request(cpim.imdn_notify);
    if (flags & SX_IMDN_POSITIVE) out->receipt_request = 1;
    if (imdn && flags) {
      imdn->flags = flags;
      imdn->id = strdup(cpim.imdn_id);
      imdn->datetime = cpim.datetime ? strdup(cpim.datetime) : NULL;
      if (!imdn->id || (cpim.datetime && !imdn->datetime)) {
        sx_im_imdn_free(imdn);
        refuse(f, 500, "out of memory", "internal", 0);
        sx_xmsg_free(out);
        goto out;
      }
    }
  }
  ret = 0;
out:
  free(text);
  if (have_cpim) sx_cpim_free(&cpim);
  if (ret != 0) {
    sx_jid_free(sender);
    sx_jid_free(target);
  }
  return ret;
}

/* A Call-ID of RFC 3261 §25.1 shape, word ["@" word], else NULL. */
static char *call_id_from_thread(const char *t) {
  static const char extra[] = "-.!%*_+`'~()<>:\\\"/[]?{}";
  size_t i, n, at = 0, word = 0;
  if (!t) return NULL;
  n = strlen(t);
  if (n == 0 || n > 200) return NULL;
  for (i = 0; i < n; i++) {
    if (t[i] == '@') {
      if (at++ || word == 0) return NULL;
      word = 0;
    } else if (isalnum((unsigned char)t[i]) || strchr(extra, t[i])) {
      word++;
    } else {
      return NULL;
    }
  }
  return word ? strdup(t) : NULL;
}

/* One line for a SIP header: CR, LF and TAB become spaces. */
static char *header_line(const char *s) {
  char *d, *p;
  if (!s) return NULL;
  d = strdup(s);
  if (!d) return NULL;
  for (p = d; *p; p++)
    if (*p == '\r' || *p == '\n' || *p == '\t') *p = ' ';
  return d;
}

void sx_im_sip_free(sx_im_sip_out *o) {
  free(o->request_uri);
  free(o->from);
  free(o->to);
  free(o->call_id);
  free(o->subject);
  free(o->content_type);
  free(o->content_language);
  free(o->body);
  memset(o, 0, sizeof *o);
}

int sx_im_to_sip(const sx_xmsg *m, size_t max_body, sx_im_sip_out *out,
                 const char **condition, const char **text) {
  sx_jid from, to;
  int ret;

  memset(out, 0, sizeof *out);
  *condition = NULL;
  *text = NULL;
  if (m->type && (!strcmp(m->type, "groupchat") || !strcmp(m->type, "headline"))) {
    *condition = "feature-not-implemented";
    *text = "the gateway carries one-to-one chat only";
    return -1;
  }
  if (sx_jid_parse(m->from, &from) != SX_ADDR_OK) {
    *condition = "jid-malformed";
    return -1;
  }
  if (sx_jid_parse(m->to, &to) != SX_ADDR_OK) {
    sx_jid_free(&from);
    *condition = "jid-malformed";
    return -1;
  }
  ret = sx_im_to_sip_jids(m, &from, &to, max_body, out, condition, text);
  sx_jid_free(&from);
  sx_jid_free(&to);
  return ret;
}

int sx_im_to_sip_jids(const sx_xmsg *m, const sx_jid *from, const sx_jid *to,
                      size_t max_body, sx_im_sip_out *out, const char **condition,
                      const char **text) {
  int ret = -1;

  memset(out, 0, sizeof *out);
  *condition = NULL;
  *text = NULL;
  if (m->type && (!strcmp(m->type, "groupchat") || !strcmp(m->type, "headline"))) {
    *condition = "feature-not-implemented";
    *text = "the gateway carries one-to-one chat only";
    return -1;
  }
  if (!to->local) {
    *condition = "service-unavailable";
    *text = "the gateway itself takes no messages";
    goto done;
  }
  if (!m->body && m->chat_state == SX_CHAT_NONE) {
    ret = 1;
    goto done;
  }
  if (m->body && max_body && strlen(m->body) > max_body) {
    *condition = "policy-violation";
    *text = "message larger than the gateway accepts";
    goto done;
  }
  out->request_uri = sx_jid_to_sip(to, 1);
  out->to = sx_jid_to_sip(to, 0);
  out->from = sx_jid_to_sip(from, 1);
  out->call_id = call_id_from_thread(m->thread);
  if (m->body) {
    out->body = strdup(m->body);
    out->content_type = strdup("text/plain;charset=UTF-8");
    out->subject = header_line(m->subject);
    if (m->subject && !out->subject) goto nomem;
    out->content_language = lang_tag(m->lang);
  } else {
    const char *state = m->chat_state == SX_CHAT_COMPOSING ? "active" : "idle";
    size_t n = 256;
    out->body = malloc(n);
    if (out->body)
      snprintf(out->body, n,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\">"
               "<state>%s</state><contenttype>text/plain</contenttype></isComposing>",
               state);
    out->content_type = strdup("application/im-iscomposing+xml");
  }
  if (!out->request_uri || !out->to || !out->from || !out->body || !out->content_type)
    goto nomem;
  ret = 0;
  goto done;
nomem:
  sx_im_sip_free(out);
  *condition = "resource-constraint";
  *text = "out of memory";
  ret = -1;
done:
  return ret;
}

static const char *condition_words(const char *c) {
  static const struct {
    const char *cond, *words;
  } t[] = {
      {"recipient-unavailable", "the recipient is not available"},
      {"service-unavailable", "the recipient cannot receive it"},
      {"item-not-found", "the recipient does not exist"},
      {"remote-server-not-found", "the recipient's server cannot be reached"},
      {"remote-server-timeout", "the recipient's server did not answer in time"},
      {"forbidden", "the recipient's server refused it"},
      {"not-allowed", "the recipient's server refused it"},
      {"policy-violation", "it breaks the recipient server's policy"},
      {"resource-constraint", "the recipient's server is overloaded"},
  };
  size_t i;
  for (i = 0; i < sizeof t / sizeof t[0]; i++)
    if (c && !strcmp(c, t[i].cond)) return t[i].words;
  return "the XMPP network returned an error";
}

char *sx_im_failure_text(const char *to, const char *condition, const char *text) {
  sx_buf b = {0};
  sx_buf_printf(&b, "Your message to %s was not delivered: %s (%s)", to ? to : "(unknown)",
                condition_words(condition), condition ? condition : "undefined-condition");
  if (text && *text) sx_buf_printf(&b, ": %s", text);
  return sx_buf_take(&b, NULL);
}
