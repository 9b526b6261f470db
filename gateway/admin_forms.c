/* The console's HTML building blocks: escaping, the page frame (navigation, the logged-in
 * admin, logout), messages, the CSRF field, and the login page. */
#include <stdlib.h>
#include <string.h>

#include "gateway/admin_internal.h"

void h_esc(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&#39;", f); break;
    default: fputc(*s, f);
    }
  }
}

int hb_open(hbuf *b) {
  b->buf = NULL;
  b->len = 0;
  b->f = open_memstream(&b->buf, &b->len);
  return b->f ? 0 : -1;
}

void hb_finish(hbuf *b, admin_resp *r, unsigned status) {
  int bad = ferror(b->f);
  if (fclose(b->f) != 0 || bad) {
    free(b->buf);
    resp_error(r, 500, "out of memory");
    return;
  }
  resp_take(r, status, "text/html; charset=utf-8", b->buf, b->len);
  b->buf = NULL;
}

static const struct {
  const char *path, *name;
} NAV[] = {
    {"/", "Status"},        {"/partners", "Partners"},   {"/policies", "Policies"},
    {"/users", "Users"},    {"/relations", "Relations"}, {"/check", "Check"},
};

static void head(FILE *f, const char *title) {
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>",
        f);
  h_esc(f, title);
  fputs(" · sipxmpp</title><link rel=\"stylesheet\" href=\"/static/console.css\">", f);
}

void h_begin(FILE *f, const admin_req *q, const char *title, const char *active) {
  head(f, title);
  if (active && !strcmp(active, "/"))
    fputs("<noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript>", f);
  fputs("</head><body><header><span class=\"brand\">sipxmpp</span><nav>", f);
  for (size_t i = 0; i < sizeof NAV / sizeof NAV[0]; i++) {
    fprintf(f, "<a href=\"%s\"%s>%s</a>", NAV[i].path,
            active && !strcmp(active, NAV[i].path) ? " class=\"on\"" : "", NAV[i].name);
  }
  fputs("</nav><span class=\"who\">", f);
  if (q->sess) {
    h_esc(f, q->sess->user);
    fputs("<form class=\"inline\" method=\"post\" action=\"/logout\">", f);
    h_csrf(f, q);
    fputs("<button type=\"submit\" id=\"logout\">Log out</button></form>", f);
  }
  fputs("</span></header><main>", f);
}

void h_end(FILE *f) {
  fputs("</main><script src=\"/static/console.js\"></script></body></html>\n", f);
}

void h_msg(FILE *f, const char *cls, const char *text) {
  if (!text || !*text) return;
  fprintf(f, "<div class=\"msg %s\" id=\"msg-%s\">", cls, cls);
  h_esc(f, text);
  fputs("</div>", f);
}

void h_flash(FILE *f, admin_req *q) {
  if (!q->sess || !q->sess->flash[0]) return;
  h_msg(f, q->sess->flash_error ? "error" : "ok", q->sess->flash);
  q->flash_shown = 1; /* cleared when this page is sent (admin_http.c) */
}

void h_csrf(FILE *f, const admin_req *q) {
  if (q->sess) fprintf(f, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", q->sess->csrf);
}

void admin_login_page(admin_req *q, admin_resp *r, unsigned status, const char *error) {
  hbuf b;
  if (hb_open(&b)) {
    resp_error(r, 500, "out of memory");
    return;
  }
  head(b.f, "Log in");
  fputs("</head><body><main class=\"login\"><div class=\"card\"><h1>sipxmpp console</h1>",
        b.f);
  h_msg(b.f, "error", error);
  fputs("<form method=\"post\" action=\"/login\">"
        "<label for=\"name\">Name</label><input type=\"text\" id=\"name\" name=\"name\" "
        "autocomplete=\"username\" required autofocus>"
        "<label for=\"password\">Password</label><input type=\"password\" id=\"password\" "
        "name=\"password\" autocomplete=\"current-password\" required>"
        "<button type=\"submit\" id=\"login\">Log in</button></form>"
        "<p class=\"muted\">Admins are created with <code>sipxmppctl admin passwd NAME</code>."
        "</p></div></main></body></html>\n",
        b.f);
  (void)q;
  hb_finish(&b, r, status);
}
