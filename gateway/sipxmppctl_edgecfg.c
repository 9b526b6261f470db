/* sipxmppctl edge-config (placeholder until the renderers land). */
#include "gateway/sipxmppctl.h"

int ctl_edge_config(ctl_ctx *c, int argc, char **argv) {
  (void)c;
  (void)argc;
  (void)argv;
  ctl_error("edge-config: not built yet");
  return CTL_USAGE;
}
