/* sipxmppctl doctor (placeholder until the checks land). */
#include "gateway/sipxmppctl.h"

int ctl_doctor(ctl_ctx *c, int argc, char **argv) {
  (void)c;
  (void)argc;
  (void)argv;
  ctl_error("doctor: not built yet");
  return CTL_USAGE;
}
