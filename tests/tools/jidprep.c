/* Prints the gateway's prepared form of each input line, for comparison with the edge
 * server's own stringprep (tests/integration/test_identity.py). Each line is "KIND TEXT",
 * KIND one of node, name, resource; the output line is the prepared part, or "!" when the
 * gateway refuses it. Lines are at most 4096 bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "translate/address.h"

static void out(const char *s) { printf("%s\n", s ? s : "!"); }

int main(void) {
  char line[4100];
  while (fgets(line, sizeof line, stdin)) {
    size_t n = strlen(line);
    if (n && line[n - 1] == '\n') line[--n] = '\0';
    char *sp = strchr(line, ' ');
    if (!sp) {
      out(NULL);
      continue;
    }
    *sp = '\0';
    const char *kind = line, *text = sp + 1;
    char *jid = malloc(strlen(text) + 32);
    if (!jid) return 1;
    if (!strcmp(kind, "node")) sprintf(jid, "%s@x.example", text);
    else if (!strcmp(kind, "name")) sprintf(jid, "%s", text);
    else sprintf(jid, "x.example/%s", text);
    sx_jid j;
    if (sx_jid_parse(jid, &j) != SX_ADDR_OK) {
      out(NULL);
    } else {
      out(!strcmp(kind, "node") ? j.local : !strcmp(kind, "name") ? j.domain : j.resource);
      sx_jid_free(&j);
    }
    free(jid);
  }
  return 0;
}
