/* The console's pages: server-rendered HTML that works without JavaScript. Forms post to the
 * page's own path with an "op" field; the change goes through the same operation as the JSON
 * API (admin_ops.c), then the browser is sent back to the list with a message (or, for a
 * refused partner, the form is shown again with the error and the values entered). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/admin_internal.h"

#define USERS_SHOWN 500

static int is_post(const admin_req *q) { return strcmp(q->method, "POST") == 0; }

static const char *jstr(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* A boolean field of a JSON form (true/false) or a posted form ("on"/"off"). */
static int jbool(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
  return cJSON_IsString(v) && (!strcmp(v->valuestring, "on") || !strcmp(v->valuestring, "true"));
}

/* Flashes the outcome of an op and redirects to `back`. */
static void done(admin_req *q, admin_resp *r, op_out *o, const char *back, const char *ok) {
  if (q->pending) { /* no outcome yet: this pass's response is not sent */
    op_out_free(o);
    return;
  }
  if (o->status >= 400)
    sx_session_flash(q->sess, 1, "%s", o->err);
  else if (o->warn[0])
    sx_session_flash(q->sess, 0, "%s\nwarning: %s", ok, o->warn);
  else
    sx_session_flash(q->sess, 0, "%s", ok);
  op_out_free(o);
  resp_redirect(r, back);
}

static void utc(FILE *f, double t) {
  time_t tt = (time_t)t;
  struct tm tm;
  char buf[64];
  gmtime_r(&tt, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  fputs(buf, f);
}

static void hidden(FILE *f, const char *name, const char *value) {
  fprintf(f, "<input type=\"hidden\" name=\"%s\" value=\"", name);
  h_esc(f, value);
  fputs("\">", f);
}

/* A small POST button form (remove, ...). */
static void button_form(FILE *f, const admin_req *q, const char *action, const char *op,
                        const char *field, const char *value, const char *label) {
  fprintf(f, "<form class=\"inline\" method=\"post\" action=\"%s\">", action);
  h_csrf(f, q);
  hidden(f, "op", op);
  hidden(f, field, value);
  fprintf(f, "<button class=\"danger\" type=\"submit\">%s</button></form>", label);
}

static void text_input(FILE *f, const char *id, const char *label, const char *value,
                       int readonly) {
  fprintf(f, "<label for=\"%s\">%s</label><input type=\"text\" id=\"%s\" name=\"%s\" value=\"",
          id, label, id, id);
  h_esc(f, value);
  fprintf(f, "\"%s>", readonly ? " readonly" : "");
}

/* A checkbox that always posts a value: a hidden "off" before it. */
static void checkbox(FILE *f, const char *id, const char *label, int on) {
  fprintf(f,
          "<input type=\"hidden\" name=\"%s\" value=\"off\"><label class=\"check\">"
          "<input type=\"checkbox\" id=\"%s\" name=\"%s\" value=\"on\"%s>%s</label>",
          id, id, id, on ? " checked" : "", label);
}

static void select_input(FILE *f, const char *id, const char *label, const char *const *values,
                         const char *const *names, size_t n, const char *current) {
  fprintf(f, "<label for=\"%s\">%s</label><select id=\"%s\" name=\"%s\">", id, label, id, id);
  for (size_t i = 0; i < n; i++) {
    fputs("<option value=\"", f);
    h_esc(f, values[i]);
    fprintf(f, "\"%s>", current && !strcasecmp(current, values[i]) ? " selected" : "");
    h_esc(f, names[i]);
    fputs("</option>", f);
  }
  fputs("</select>", f);
}

/* ---- status ------------------------------------------------------------------------------- */

static void rate_card(FILE *f, const cJSON *rates, const char *dir, const char *title) {
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(rates, dir);
  const cJSON *series = cJSON_GetObjectItemCaseSensitive(r, "last_minute");
  double mx = 1;
  const cJSON *v;
  cJSON_ArrayForEach(v, series) if (v->valuedouble > mx) mx = v->valuedouble;
  fprintf(f, "<div class=\"card\"><h2>%s</h2><span class=\"rate\" id=\"rate-%s\">%.2f</span> "
             "<span class=\"muted\">messages/s, last minute</span>"
             "<svg class=\"bars\" id=\"bars-%s\" viewBox=\"0 0 60 40\" "
             "preserveAspectRatio=\"none\">",
          title, dir, jnum(r, "per_second"), dir);
  int i = 0;
  cJSON_ArrayForEach(v, series) {
    double h = 40 * v->valuedouble / mx;
    fprintf(f, "<rect x=\"%d\" y=\"%.2f\" width=\"0.8\" height=\"%.2f\"></rect>", i++, 40 - h, h);
  }
  fputs("</svg></div>", f);
}

static void page_status(admin_req *q, admin_resp *r) {
  cJSON *s = sx_admin_status_json(q->a->status);
  hbuf b;
  if (!s || hb_open(&b)) {
    cJSON_Delete(s);
    resp_error(r, 500, "out of memory");
    return;
  }
  FILE *f = b.f;
  h_begin(f, q, "Status", "/");
  h_flash(f, q);
  fputs("<h1>Status <span class=\"muted\" id=\"updated\"></span></h1><div id=\"status\">"
        "<div class=\"card\"><h2>Edge links</h2><table id=\"links\"><tr><th>Domain</th>"
        "<th>State</th><th>Since</th><th>Reconnects</th><th>TLS</th><th>Unconfirmed</th></tr>",
        f);
  const cJSON *l;
  cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(s, "edge")) {
    const char *state = jstr(l, "state");
    int up = state && !strcmp(state, "up");
    fputs("<tr><td>", f);
    h_esc(f, jstr(l, "domain"));
    fprintf(f, "</td><td><span class=\"%s\">%s</span></td><td>", up ? "up" : "down",
            up ? "up" : "down");
    utc(f, jnum(s, "time") - jnum(l, "since_s"));
    fprintf(f, "</td><td>%.0f</td><td>%s</td><td>%.0f</td></tr>", jnum(l, "reconnects"),
            jbool(l, "tls") ? "yes" : "no", jnum(l, "unconfirmed"));
  }
  fputs("</table></div><div class=\"grid\">", f);
  const cJSON *rates = cJSON_GetObjectItemCaseSensitive(s, "rates");
  rate_card(f, rates, "sip_to_xmpp", "SIP → XMPP");
  rate_card(f, rates, "xmpp_to_sip", "XMPP → SIP");
  fputs("</div><div class=\"grid\"><div class=\"card\"><h2>SIP listeners</h2><table>", f);
  const cJSON *sip = cJSON_GetObjectItemCaseSensitive(s, "sip");
  const cJSON *li;
  int listening = jbool(sip, "listening");
  cJSON_ArrayForEach(li, cJSON_GetObjectItemCaseSensitive(sip, "listen")) {
    fputs("<tr><td>", f);
    h_esc(f, li->valuestring);
    fprintf(f, "</td><td><span class=\"%s\">%s</span></td></tr>", listening ? "up" : "down",
            listening ? "listening" : "not listening");
  }
  fprintf(f, "</table><p class=\"muted\">%.0f SIP transaction(s) in flight</p></div>",
          jnum(sip, "in_flight"));
  fputs("<div class=\"card\"><h2>Refusals by reason</h2><table id=\"refusals\"><tr>"
        "<th>Direction</th><th>Reason</th><th>Count</th></tr>",
        f);
  const cJSON *by_dir;
  cJSON_ArrayForEach(by_dir, cJSON_GetObjectItemCaseSensitive(s, "refusals")) {
    const char *d = by_dir->string;
    cJSON_ArrayForEach(l, by_dir) {
      fprintf(f, "<tr><td>%s</td><td>", d && !strcmp(d, "sip_to_xmpp") ? "sip to xmpp" : "xmpp to sip");
      h_esc(f, l->string);
      fprintf(f, "</td><td>%.0f</td></tr>", l->valuedouble);
    }
  }
  fputs("</table></div>", f);
  const cJSON *pres = cJSON_GetObjectItemCaseSensitive(s, "presence");
  fprintf(f,
          "<div class=\"card\" id=\"presence\"><h2>Presence</h2><table>"
          "<tr><td>Relations</td><td>%.0f</td></tr><tr><td>Dialogs</td><td>%.0f</td></tr>"
          "</table><p class=\"muted\">XMPP relations (internal user, external contact) "
          "and SIP presence dialogs held by the daemon.</p></div>",
          jnum(pres, "relations"), jnum(pres, "dialogs"));
  const cJSON *edge = cJSON_GetObjectItemCaseSensitive(s, "edge_server");
  fputs("<div class=\"card\"><h2>Edge server</h2><table><tr><td>Address</td><td>", f);
  h_esc(f, jstr(edge, "host"));
  fprintf(f, ":%.0f</td></tr><tr><td>Secret</td><td id=\"secret\">%s</td></tr>"
             "<tr><td>Served domains</td><td>",
          jnum(edge, "port"), jstr(edge, "secret"));
  const cJSON *d;
  int first = 1;
  cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(s, "domains")) {
    if (!first) fputs(", ", f);
    first = 0;
    h_esc(f, d->valuestring);
  }
  fputs("</td></tr></table></div></div></div>", f);
  h_end(f);
  cJSON_Delete(s);
  hb_finish(&b, r, 200);
}

/* ---- partners ----------------------------------------------------------------------------- */

static const char *const PTYPES[] = {"Federated", "PublicVerified", "PublicUnverified"};
static const char *const NEGOS[] = {"Required", "Optional", "NotSupported"};

/* The partner form, filled from p (a partner's JSON form, or the posted fields). */
static void partner_form(FILE *f, const admin_req *q, const cJSON *p, int edit) {
  fputs("<div class=\"card\"><form method=\"post\" action=\"/partners\" id=\"partner-form\">", f);
  h_csrf(f, q);
  hidden(f, "op", edit ? "update" : "create");
  text_input(f, "domain", "Primary domain", jstr(p, "domain"), edit);
  select_input(f, "PartnerType", "Partner type", PTYPES, PTYPES, 3, jstr(p, "PartnerType"));
  /* additional domains: an array (JSON form) or the posted text */
  const cJSON *ad = cJSON_GetObjectItemCaseSensitive(p, "AdditionalDomains");
  fputs("<label for=\"AdditionalDomains\">Additional domains (comma-separated)</label>"
        "<input type=\"text\" id=\"AdditionalDomains\" name=\"AdditionalDomains\" value=\"",
        f);
  if (cJSON_IsString(ad)) {
    h_esc(f, ad->valuestring);
  } else {
    const cJSON *e;
    int first = 1;
    cJSON_ArrayForEach(e, ad) {
      if (!first) fputs(", ", f);
      first = 0;
      h_esc(f, e->valuestring);
    }
  }
  fputs("\">", f);
  select_input(f, "TlsNegotiation", "TLS negotiation", NEGOS, NEGOS, 3,
               jstr(p, "TlsNegotiation") ? jstr(p, "TlsNegotiation") : "Required");
  select_input(f, "SaslNegotiation", "SASL negotiation", NEGOS, NEGOS, 3,
               jstr(p, "SaslNegotiation") ? jstr(p, "SaslNegotiation") : "Required");
  fputs("<label>Options</label>", f);
  checkbox(f, "SupportDialbackNegotiation", "Dialback", jbool(p, "SupportDialbackNegotiation"));
  checkbox(f, "EnableKeepAlive", "Keepalive", jbool(p, "EnableKeepAlive"));
  const cJSON *cl = cJSON_GetObjectItemCaseSensitive(p, "ConnectionLimit");
  fputs("<label for=\"ConnectionLimit\">Connection limit (0: none)</label>"
        "<input type=\"text\" id=\"ConnectionLimit\" name=\"ConnectionLimit\" value=\"",
        f);
  if (cJSON_IsNumber(cl))
    fprintf(f, "%.0f", cl->valuedouble);
  else
    h_esc(f, cJSON_IsString(cl) ? cl->valuestring : "0");
  fputs("\">", f);
  text_input(f, "ProxyFqdn", "Proxy FQDN", jstr(p, "ProxyFqdn"), 0);
  text_input(f, "Description", "Description", jstr(p, "Description"), 0);
  fprintf(f, "<br><button type=\"submit\" id=\"save\">%s</button> <a class=\"small\" "
             "href=\"/partners\">Cancel</a></form></div>",
          edit ? "Save changes" : "Create partner");
}

static void partners_list(admin_req *q, admin_resp *r, const cJSON *form, const char *error) {
  hbuf b;
  if (hb_open(&b)) {
    resp_error(r, 500, "out of memory");
    return;
  }
  FILE *f = b.f;
  const char *edit = req_arg(q, "edit");
  int want_new = req_arg(q, "new") != NULL;
  h_begin(f, q, "Partners", "/partners");
  fputs("<h1>XMPP partners</h1>", f);
  h_flash(f, q);
  h_msg(f, "error", error);
  if (form) {
    partner_form(f, q, form, !strcmp(form_str(q, "op") ? form_str(q, "op") : "", "update"));
  } else if (edit || want_new) {
    op_out o;
    if (edit) {
      op_partner_list(q, edit, &o);
      if (o.status >= 400)
        h_msg(f, "error", o.err);
      else
        partner_form(f, q, o.data, 1);
    } else {
      cJSON *def = cJSON_CreateObject();
      if (def) {
        cJSON_AddBoolToObject(def, "SupportDialbackNegotiation", 1);
        cJSON_AddBoolToObject(def, "EnableKeepAlive", 1);
        cJSON_AddStringToObject(def, "PartnerType", "PublicUnverified");
      }
      o.data = def;
      partner_form(f, q, def, 0);
    }
    op_out_free(&o);
  }
  op_out o;
  op_partner_list(q, NULL, &o);
  fputs("<div class=\"card\"><p><a class=\"button\" id=\"new-partner\" href=\"/partners?new=1\">"
        "New partner</a></p><table id=\"partners\"><tr><th>Domain</th><th>Type</th><th>TLS</th>"
        "<th>SASL</th><th>Dialback</th><th>Keepalive</th><th>Limit</th><th>Additional domains"
        "</th><th>Proxy FQDN</th><th>Description</th><th></th></tr>",
        f);
  const cJSON *p;
  cJSON_ArrayForEach(p, o.data) {
    const char *dom = jstr(p, "domain");
    fputs("<tr><td><a href=\"/partners?edit=", f);
    h_esc(f, dom);
    fputs("\">", f);
    h_esc(f, dom);
    fputs("</a></td><td>", f);
    h_esc(f, jstr(p, "PartnerType"));
    fputs("</td><td>", f);
    h_esc(f, jstr(p, "TlsNegotiation"));
    fputs("</td><td>", f);
    h_esc(f, jstr(p, "SaslNegotiation"));
    fprintf(f, "</td><td>%s</td><td>%s</td><td>%.0f</td><td>",
            jbool(p, "SupportDialbackNegotiation") ? "on" : "off",
            jbool(p, "EnableKeepAlive") ? "on" : "off", jnum(p, "ConnectionLimit"));
    const cJSON *e;
    int first = 1;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(p, "AdditionalDomains")) {
      if (!first) fputs(", ", f);
      first = 0;
      h_esc(f, e->valuestring);
    }
    fputs("</td><td>", f);
    h_esc(f, jstr(p, "ProxyFqdn"));
    fputs("</td><td>", f);
    h_esc(f, jstr(p, "Description"));
    fputs("</td><td>", f);
    button_form(f, q, "/partners", "remove", "domain", dom, "Remove");
    fputs("</td></tr>", f);
  }
  fputs("</table></div>", f);
  if (o.status >= 400) h_msg(f, "error", o.err);
  op_out_free(&o);
  h_end(f);
  hb_finish(&b, r, error ? 400 : 200);
}

static void page_partners(admin_req *q, admin_resp *r) {
  if (!is_post(q)) {
    partners_list(q, r, NULL, NULL);
    return;
  }
  const char *op = form_str(q, "op");
  const char *domain = form_str(q, "domain");
  op_out o;
  char ok[400];
  if (op && !strcmp(op, "remove")) {
    op_partner_remove(q, domain, &o);
    snprintf(ok, sizeof ok, "removed partner %s", domain ? domain : "");
    done(q, r, &o, "/partners", ok);
    return;
  }
  int update = op && !strcmp(op, "update");
  op_partner_write(q, q->form, update ? domain : NULL, &o);
  if (o.status >= 400) {
    /* the form again, with what was entered and the CLI's message */
    char err[sizeof o.err];
    memcpy(err, o.err, sizeof err);
    op_out_free(&o);
    partners_list(q, r, q->form, err);
    return;
  }
  snprintf(ok, sizeof ok, "%s partner %s", update ? "changed" : "created",
           jstr(o.data, "domain") ? jstr(o.data, "domain") : "");
  done(q, r, &o, "/partners", ok);
}

/* ---- policies ----------------------------------------------------------------------------- */

static void tag_options(FILE *f, const cJSON *policies, const char *current, int none) {
  if (none) fprintf(f, "<option value=\"\"%s>(none)</option>", current && *current ? "" : " selected");
  const cJSON *p;
  cJSON_ArrayForEach(p, policies) {
    const char *sc = jstr(p, "scope");
    if (!sc || strcmp(sc, "tag")) continue;
    fputs("<option value=\"", f);
    h_esc(f, jstr(p, "name"));
    fprintf(f, "\"%s>", current && jstr(p, "name") && !strcasecmp(current, jstr(p, "name")) ? " selected" : "");
    h_esc(f, jstr(p, "name"));
    fputs("</option>", f);
  }
}

static void page_policies(admin_req *q, admin_resp *r) {
  op_out o;
  if (is_post(q)) {
    const char *op = form_str(q, "op");
    const char *name = form_str(q, "name");
    char ok[400];
    if (op && !strcmp(op, "remove")) {
      const char *force = form_str(q, "force");
      op_policy_remove(q, name, force && !strcmp(force, "on"), &o);
      snprintf(ok, sizeof ok, "removed policy '%s'", name ? name : "");
    } else if (op && !strcmp(op, "grant")) {
      const char *tag = form_str(q, "policy"), *user = form_str(q, "user");
      const char *all = form_str(q, "all");
      int to_all = all && !strcmp(all, "on");
      op_policy_grant(q, tag, to_all ? NULL : (user ? user : ""), &o);
      if (tag && *tag)
        snprintf(ok, sizeof ok, "granted policy '%s' to %s", tag, to_all ? "all users in the store" : (user ? user : ""));
      else
        snprintf(ok, sizeof ok, "removed the policy grant from %s", to_all ? "all users" : (user ? user : ""));
    } else {
      int update = op && !strcmp(op, "update");
      op_policy_write(q, q->form, update ? name : NULL, &o);
      snprintf(ok, sizeof ok, "%s policy '%s'", update ? "changed" : "created", name ? name : "");
    }
    done(q, r, &o, "/policies", ok);
    return;
  }
  hbuf b;
  if (hb_open(&b)) {
    resp_error(r, 500, "out of memory");
    return;
  }
  FILE *f = b.f;
  h_begin(f, q, "Policies", "/policies");
  fputs("<h1>External access policies</h1>", f);
  h_flash(f, q);
  op_policy_list(q, NULL, &o);
  if (o.status >= 400) h_msg(f, "error", o.err);
  fputs("<div class=\"card\"><table id=\"policies\"><tr><th>Name</th><th>Scope</th>", f);
  for (size_t i = 0; i < SX_POL_NFLAGS; i++)
    fprintf(f, "<th>%s</th>", SX_POL_FLAGS[i].label);
  fputs("<th>Users</th><th>Description</th><th></th></tr>", f);
  const cJSON *p;
  cJSON_ArrayForEach(p, o.data) {
    const char *name = jstr(p, "name"), *scope = jstr(p, "scope");
    fputs("<tr><td><a href=\"/policies?edit=", f);
    h_esc(f, name);
    fputs("\">", f);
    h_esc(f, name);
    fputs("</a></td><td>", f);
    h_esc(f, scope);
    for (size_t i = 0; i < SX_POL_NFLAGS; i++)
      fprintf(f, "</td><td>%s", jbool(p, SX_POL_FLAGS[i].lync) ? "on" : "off");
    if (scope && !strcmp(scope, "global"))
      fputs("</td><td>-", f);
    else
      fprintf(f, "</td><td>%.0f", jnum(p, "users"));
    fputs("</td><td>", f);
    h_esc(f, jstr(p, "Description"));
    fputs("</td><td>", f);
    if (scope && strcmp(scope, "global")) {
      fputs("<form class=\"inline\" method=\"post\" action=\"/policies\">", f);
      h_csrf(f, q);
      hidden(f, "op", "remove");
      hidden(f, "name", name);
      fputs("<label class=\"check\"><input type=\"checkbox\" name=\"force\" value=\"on\">"
            "even if granted</label><button class=\"danger\" type=\"submit\">Remove</button>"
            "</form>",
            f);
    }
    fputs("</td></tr>", f);
  }
  fputs("</table></div><div class=\"grid\">", f);

  /* new / edit */
  const char *edit = req_arg(q, "edit");
  const cJSON *cur = NULL;
  cJSON_ArrayForEach(p, o.data) if (edit && jstr(p, "name") && !strcasecmp(edit, jstr(p, "name"))) cur = p;
  fprintf(f, "<div class=\"card\"><h2>%s</h2><form method=\"post\" action=\"/policies\" "
             "id=\"policy-form\">",
          cur ? "Edit policy" : "New policy");
  h_csrf(f, q);
  hidden(f, "op", cur ? "update" : "create");
  text_input(f, "name", "Name (global, site:SITE or a tag)", cur ? jstr(cur, "name") : "", cur != NULL);
  fputs("<label>Flags</label>", f);
  for (size_t i = 0; i < SX_POL_NFLAGS; i++)
    checkbox(f, SX_POL_FLAGS[i].lync, SX_POL_FLAGS[i].lync,
             cur && jbool(cur, SX_POL_FLAGS[i].lync));
  text_input(f, "Description", "Description", cur ? jstr(cur, "Description") : "", 0);
  fprintf(f, "<br><button type=\"submit\" id=\"policy-save\">%s</button>%s</form></div>",
          cur ? "Save changes" : "Create policy",
          cur ? " <a class=\"small\" href=\"/policies\">New policy instead</a>" : "");

  /* grant */
  fputs("<div class=\"card\"><h2>Grant a policy</h2><form method=\"post\" action=\"/policies\" "
        "id=\"grant-form\">",
        f);
  h_csrf(f, q);
  hidden(f, "op", "grant");
  fputs("<label for=\"grant-policy\">Policy (a tag)</label><select id=\"grant-policy\" "
        "name=\"policy\">",
        f);
  tag_options(f, o.data, NULL, 1);
  fputs("</select><label for=\"grant-user\">User (SIP URI)</label><input type=\"text\" "
        "id=\"grant-user\" name=\"user\" placeholder=\"sip:bob@contoso.com\">"
        "<br><label class=\"check\"><input type=\"checkbox\" name=\"all\" value=\"on\">"
        "all users in the store</label><br><button type=\"submit\" id=\"grant\">Grant</button>"
        "<p class=\"muted\">(none) removes the grant: the site or global policy applies.</p>"
        "</form></div></div>",
        f);
  op_out_free(&o);
  h_end(f);
  hb_finish(&b, r, 200);
}

/* ---- users -------------------------------------------------------------------------------- */

static void import_result(FILE *f, const op_out *o) {
  const cJSON *errs = cJSON_GetObjectItemCaseSensitive(o->data, "errors");
  if (o->status >= 400) h_msg(f, "error", o->err);
  else {
    char msg[300];
    snprintf(msg, sizeof msg, "imported %.0f user(s): %.0f added, %.0f updated, %.0f bad line(s) skipped",
             jnum(o->data, "added") + jnum(o->data, "updated"), jnum(o->data, "added"),
             jnum(o->data, "updated"), jnum(o->data, "skipped"));
    h_msg(f, "ok", msg);
  }
  if (cJSON_GetArraySize(errs) > 0) {
    fputs("<div class=\"card\"><h2>Bad lines</h2><pre id=\"import-errors\">", f);
    const cJSON *e;
    cJSON_ArrayForEach(e, errs) {
      h_esc(f, e->valuestring);
      fputc('\n', f);
    }
    fputs("</pre></div>", f);
  }
}

static void page_users(admin_req *q, admin_resp *r) {
  op_out o, imp;
  memset(&imp, 0, sizeof imp);
  int imported = 0;
  if (is_post(q)) {
    const char *op = form_str(q, "op");
    const char *uri = form_str(q, "uri");
    char ok[600];
    if (op && !strcmp(op, "import")) {
      const char *skip = form_str(q, "skip_bad");
      op_user_import(q, q->upload ? q->upload : form_str(q, "csv"),
                     q->upload ? q->upload_len : (form_str(q, "csv") ? strlen(form_str(q, "csv")) : 0),
                     q->upload ? q->upload_name : "pasted.csv", skip && !strcmp(skip, "on"), &imp);
      imported = 1; /* shown on this page, not through a redirect: the list can be long */
    } else {
      if (op && !strcmp(op, "remove")) {
        op_user_remove(q, uri, &o);
        snprintf(ok, sizeof ok, "removed user %s", uri ? uri : "");
      } else {
        int set = op && !strcmp(op, "set");
        op_user_write(q, q->form, set ? uri : NULL, &o);
        snprintf(ok, sizeof ok, "%s user %s", set ? "changed" : "added",
                 jstr(o.data, "user") ? jstr(o.data, "user") : (uri ? uri : ""));
      }
      done(q, r, &o, "/users", ok);
      return;
    }
  }
  hbuf b;
  if (hb_open(&b)) {
    op_out_free(&imp);
    resp_error(r, 500, "out of memory");
    return;
  }
  FILE *f = b.f;
  h_begin(f, q, "Users", "/users");
  fputs("<h1>Internal users</h1>", f);
  h_flash(f, q);
  if (imported) import_result(f, &imp);
  const char *s = req_arg(q, "q"), *site = req_arg(q, "site"), *pol = req_arg(q, "policy");
  fputs("<div class=\"card\"><form method=\"get\" action=\"/users\" id=\"search\">"
        "<label for=\"q\">Search</label><input type=\"text\" id=\"q\" name=\"q\" value=\"",
        f);
  h_esc(f, s);
  fputs("\"><label for=\"site\">Site</label><input type=\"text\" id=\"site\" name=\"site\" value=\"", f);
  h_esc(f, site);
  fputs("\"><label for=\"fpolicy\">Granted policy</label><input type=\"text\" id=\"fpolicy\" "
        "name=\"policy\" value=\"",
        f);
  h_esc(f, pol);
  fputs("\"><br><button type=\"submit\">Search</button></form></div>", f);

  op_user_list(q, s, site, pol, USERS_SHOWN, &o);
  if (o.status >= 400) h_msg(f, "error", o.err);
  fprintf(f, "<div class=\"card\"><p class=\"muted\">%.0f user(s)%s</p><table id=\"users\"><tr>"
             "<th>User</th><th>Site</th><th>Granted policy</th><th></th></tr>",
          jnum(o.data, "matched"), jbool(o.data, "truncated") ? ", the first 500 shown" : "");
  const cJSON *u;
  cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(o.data, "users")) {
    fputs("<tr><td>", f);
    h_esc(f, jstr(u, "user"));
    fputs("</td><td>", f);
    h_esc(f, jstr(u, "site") ? jstr(u, "site") : "-");
    fputs("</td><td>", f);
    h_esc(f, jstr(u, "policy") ? jstr(u, "policy") : "-");
    fputs("</td><td>", f);
    button_form(f, q, "/users", "remove", "uri", jstr(u, "user"), "Remove");
    fputs("</td></tr>", f);
  }
  fputs("</table></div>", f);
  op_out_free(&o);

  op_policy_list(q, NULL, &o);
  fputs("<div class=\"grid\"><div class=\"card\"><h2>Add or change a user</h2>"
        "<form method=\"post\" action=\"/users\" id=\"user-form\">",
        f);
  h_csrf(f, q);
  fputs("<label for=\"uri\">User (SIP URI)</label><input type=\"text\" id=\"uri\" name=\"uri\" "
        "placeholder=\"sip:bob@contoso.com\"><label for=\"usite\">Site (empty: none)</label>"
        "<input type=\"text\" id=\"usite\" name=\"site\"><label for=\"upolicy\">Granted policy"
        "</label><select id=\"upolicy\" name=\"policy\">",
        f);
  tag_options(f, o.data, NULL, 1);
  fputs("</select><br><button type=\"submit\" name=\"op\" value=\"add\" id=\"user-add\">Add"
        "</button> <button type=\"submit\" name=\"op\" value=\"set\" id=\"user-set\">Change "
        "existing</button></form></div>"
        "<div class=\"card\"><h2>Import a CSV file</h2><form method=\"post\" action=\"/users\" "
        "enctype=\"multipart/form-data\" id=\"import-form\">",
        f);
  op_out_free(&o);
  h_csrf(f, q);
  hidden(f, "op", "import");
  fputs("<label for=\"file\">File (uri,site,policy per line)</label><input type=\"file\" "
        "id=\"file\" name=\"file\" accept=\".csv,text/csv\"><br>"
        "<label class=\"check\"><input type=\"checkbox\" name=\"skip_bad\" value=\"on\">"
        "save the good lines when some are bad</label><br>"
        "<button type=\"submit\" id=\"import\">Import</button></form></div></div>",
        f);
  h_end(f);
  hb_finish(&b, r, imported && imp.status >= 400 ? 400 : 200);
  op_out_free(&imp);
}

/* ---- relations and check ------------------------------------------------------------------ */

static void page_relations(admin_req *q, admin_resp *r) {
  hbuf b;
  if (hb_open(&b)) {
    resp_error(r, 500, "out of memory");
    return;
  }
  FILE *f = b.f;
  const char *user = req_arg(q, "user");
  h_begin(f, q, "Relations", "/relations");
  fputs("<h1>Relations</h1>", f);
  h_flash(f, q);
  fputs("<div class=\"card\"><form method=\"get\" action=\"/relations\"><label for=\"user\">"
        "User (SIP URI)</label><input type=\"text\" id=\"user\" name=\"user\" value=\"",
        f);
  h_esc(f, user);
  fputs("\"><br><button type=\"submit\">Show</button></form>"
        "<p class=\"muted\">The user's contact entries and the presence subscription state "
        "both ways, as the daemon stores them (the same as <code>sipxmppctl contact list"
        "</code>). Policy: <em>suspended</em> when the user is not enabled or the contact's "
        "domain is not a partner: the daemon keeps the relation but relays nothing.</p></div>",
        f);
  if (user && *user) {
    op_out o;
    op_relations(q, user, &o);
    if (o.status >= 400) {
      h_msg(f, "error", o.err);
    } else {
      fputs("<div class=\"card\"><h2>", f);
      h_esc(f, jstr(o.data, "user"));
      fputs("</h2><table id=\"relations\"><tr><th>Contact</th><th>State</th><th>Added by the "
            "user</th><th>User → contact</th><th>Contact → user</th><th>Policy</th><th>Changed</th>"
            "</tr>",
            f);
      const cJSON *c, *list = cJSON_GetObjectItemCaseSensitive(o.data, "contacts");
      if (cJSON_GetArraySize(list) == 0)
        fputs("<tr><td colspan=\"7\" class=\"muted\">no contact entries</td></tr>", f);
      cJSON_ArrayForEach(c, list) {
        fputs("<tr><td>", f);
        h_esc(f, jstr(c, "contact"));
        fputs("</td><td>", f);
        h_esc(f, jstr(c, "state"));
        fprintf(f, "</td><td>%s</td><td>", jbool(c, "added") ? "yes" : "no");
        h_esc(f, jstr(c, "subscription_out"));
        fputs("</td><td>", f);
        h_esc(f, jstr(c, "subscription_in"));
        fputs("</td><td>", f);
        h_esc(f, jstr(c, "policy"));
        fputs("</td><td>", f);
        if (jnum(c, "updated") > 0) utc(f, jnum(c, "updated"));
        fputs("</td></tr>", f);
      }
      fputs("</table></div>", f);
    }
    op_out_free(&o);
  }
  h_end(f);
  hb_finish(&b, r, 200);
}

static void page_check(admin_req *q, admin_resp *r) {
  static const char *const DIRS[] = {"outbound", "inbound"};
  static const char *const KINDS[] = {"im", "subscribe", "presence", "probe"};
  static const char *const KIND_NAMES[] = {"instant message", "subscribe", "presence", "probe"};
  hbuf b;
  if (hb_open(&b)) {
    resp_error(r, 500, "out of memory");
    return;
  }
  FILE *f = b.f;
  const char *user = req_arg(q, "user"), *contact = req_arg(q, "contact");
  const char *dir = req_arg(q, "direction"), *kind = req_arg(q, "kind");
  h_begin(f, q, "Check", "/check");
  fputs("<h1>Check a decision</h1><div class=\"card\"><form method=\"get\" action=\"/check\" "
        "id=\"check-form\">",
        f);
  text_input(f, "user", "Internal user (SIP URI)", user, 0);
  text_input(f, "contact", "External contact (bare JID)", contact, 0);
  select_input(f, "direction", "Direction", DIRS, DIRS, 2, dir);
  select_input(f, "kind", "Kind", KINDS, KIND_NAMES, 4, kind);
  fputs("<br><button type=\"submit\" id=\"check\">Check</button></form></div>", f);
  if (user && contact) {
    op_out o;
    op_check(q, user, contact, dir, kind, &o);
    if (o.status >= 400) {
      h_msg(f, "error", o.err);
    } else {
      h_msg(f, "warning", o.warn);
      const char *d = jstr(o.data, "decision");
      fprintf(f, "<div class=\"card\"><h2>Decision: <span class=\"%s\" id=\"decision\">%s"
                 "</span></h2><pre id=\"check-text\">",
              d ? d : "deny", d ? d : "?");
      h_esc(f, jstr(o.data, "text"));
      fputs("</pre><p class=\"muted\">The same decision and words as <code>sipxmppctl check"
            "</code>.</p></div>",
            f);
    }
    op_out_free(&o);
  }
  h_end(f);
  hb_finish(&b, r, 200);
}

int admin_pages(admin_req *q, admin_resp *r) {
  static const struct {
    const char *path;
    void (*fn)(admin_req *, admin_resp *);
    int post;
  } PAGES[] = {
      {"/", page_status, 0},           {"/partners", page_partners, 1},
      {"/policies", page_policies, 1}, {"/users", page_users, 1},
      {"/relations", page_relations, 0}, {"/check", page_check, 0},
  };
  for (size_t i = 0; i < sizeof PAGES / sizeof PAGES[0]; i++) {
    if (strcmp(q->path, PAGES[i].path)) continue;
    if (strcmp(q->method, "GET") && !(PAGES[i].post && is_post(q)))
      resp_error(r, 405, "method not allowed");
    else
      PAGES[i].fn(q, r);
    return 1;
  }
  return 0;
}
