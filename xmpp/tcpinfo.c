#include "xmpp/tcpinfo.h"

#include <stddef.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <linux/tcp.h>

int sx_tcp_bytes_received(int fd, uint64_t *out) {
  struct tcp_info ti;
  socklen_t len = sizeof ti;

  memset(&ti, 0, sizeof ti);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return -1;
  if (len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
    return -1;
  *out = ti.tcpi_bytes_received;
  return 0;
}
