/* sipxmppctl admin passwd|list|remove: the web console's administrators. The password is
 * read from the terminal (asked twice, not echoed) or, when stdin is not a terminal, from
 * its first line; only a salted scrypt hash is stored (conf/store_admin.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "gateway/sipxmppctl.h"

static const char USAGE[] =
    "usage: sipxmppctl admin passwd NAME   (password from the terminal, or stdin's first line)\n"
    "       sipxmppctl admin list [--json]\n"
    "       sipxmppctl admin remove NAME\n";

/* One line from f without its newline into buf (n bytes); -1 on EOF, too long or error. */
static int read_line(FILE *f, char *buf, size_t n) {
  if (!fgets(buf, (int)n, f)) return -1;
  size_t len = strlen(buf);
  if (len && buf[len - 1] == '\n')
    buf[--len] = 0;
  else if (!feof(f))
    return -1; /* longer than the buffer: refuse rather than cut */
  if (len && buf[len - 1] == '\r') buf[--len] = 0;
  return 0;
}

/* Asks on the terminal without echo. */
static int ask(const char *prompt, char *buf, size_t n) {
  struct termios old, quiet;
  fputs(prompt, stderr);
  fflush(stderr);
  int have = tcgetattr(STDIN_FILENO, &old) == 0;
  if (have) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  int rc = read_line(stdin, buf, n);
  if (have) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  fputc('\n', stderr);
  return rc;
}

static int cmd_passwd(ctl_ctx *c, int argc, char **argv) {
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, ctl_no_opts, &a, USAGE, 1, 1, "admin passwd: expected one NAME");
  if (rc) return rc;
  char err[1024];
  if (sx_admin_name_check(a.pos[0], err, sizeof err)) {
    ctl_error("%s", err);
    return CTL_REFUSED;
  }
  char pw[SX_ADMIN_PASSWORD_MAX + 2], again[SX_ADMIN_PASSWORD_MAX + 2];
  if (isatty(STDIN_FILENO)) {
    if (ask("password: ", pw, sizeof pw) || ask("again: ", again, sizeof again)) {
      ctl_error("no password read");
      return CTL_REFUSED;
    }
    int same = strcmp(pw, again) == 0;
    explicit_bzero(again, sizeof again);
    if (!same) {
      explicit_bzero(pw, sizeof pw);
      ctl_error("the passwords differ; nothing changed");
      return CTL_REFUSED;
    }
  } else if (read_line(stdin, pw, sizeof pw)) {
    ctl_error("no password on stdin (one line, at most %d bytes)", SX_ADMIN_PASSWORD_MAX);
    return CTL_REFUSED;
  }
  if ((rc = ctl_open(c))) {
    explicit_bzero(pw, sizeof pw);
    return rc;
  }
  int created = 0;
  sx_st st = sx_store_admin_passwd(c->st, a.pos[0], pw, &created, err, sizeof err);
  explicit_bzero(pw, sizeof pw);
  if (st) return ctl_st(st, err);
  if (!c->json) printf("%s admin %s\n", created ? "created" : "changed the password of", a.pos[0]);
  return CTL_OK;
}

static int cmd_list(ctl_ctx *c, int argc, char **argv) {
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, ctl_no_opts, &a, USAGE, 0, 0, "admin list takes no arguments");
  if (rc || (rc = ctl_open(c))) return rc;
  char err[1024], **names;
  size_t n;
  sx_st st = sx_store_admin_list(c->st, &names, &n, err, sizeof err);
  if (st) return ctl_st(st, err);
  if (c->json) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) ctl_json_push(&arr, cJSON_CreateString(names[i]));
    rc = ctl_json_out(arr);
  } else {
    for (size_t i = 0; i < n; i++) puts(names[i]);
  }
  sx_admin_list_free(names, n);
  return rc;
}

static int cmd_remove(ctl_ctx *c, int argc, char **argv) {
  ctl_args a;
  int rc = ctl_parse_n(argc, argv, ctl_no_opts, &a, USAGE, 1, 1, "admin remove: expected one NAME");
  if (rc || (rc = ctl_open(c))) return rc;
  char err[1024];
  sx_st st = sx_store_admin_remove(c->st, a.pos[0], err, sizeof err);
  if (st) return ctl_st(st, err);
  if (!c->json) printf("removed admin %s\n", a.pos[0]);
  return CTL_OK;
}

int ctl_admin(ctl_ctx *c, int argc, char **argv) {
  const char *sub = argv[0];
  if (strcmp(sub, "passwd") == 0) return cmd_passwd(c, argc - 1, argv + 1);
  if (strcmp(sub, "list") == 0) return cmd_list(c, argc - 1, argv + 1);
  if (strcmp(sub, "remove") == 0) return cmd_remove(c, argc - 1, argv + 1);
  return ctl_usage_fail(USAGE, "admin: unknown subcommand '%s'", sub);
}
