/* Kernel TCP counters for a socket (Linux TCP_INFO), kept apart from edge.c because
 * <linux/tcp.h> cannot be included together with <netinet/tcp.h>. */
#ifndef SX_XMPP_TCPINFO_H
#define SX_XMPP_TCPINFO_H
#include <stdint.h>

/* Total payload bytes the kernel has received on the connection (tcpi_bytes_received).
 * Returns 0, or -1 if the kernel does not report it. */
int sx_tcp_bytes_received(int fd, uint64_t *out);

#endif
