/* Syntax of the network addresses in the configuration. Pure checks: nothing is resolved,
 * nothing allocated; reasons returned are static strings. */
#ifndef SX_CONF_NETADDR_H
#define SX_CONF_NETADDR_H
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"

/* Strict unsigned integer in [min, max]: digits only. 0 ok, -1 otherwise. */
int sx_parse_uint(const char *s, unsigned long long min, unsigned long long max,
                  unsigned long long *out);
/* 1 if s[0..n) is a DNS name (labels of letters, digits, '-'; optional trailing dot). */
int sx_valid_dns_name(const char *s, size_t n);
/* "HOST:PORT" or "[V6]:PORT" (port optional unless port_required; '*' host if allow_star).
 * NULL on success (the host without brackets in *host_start and *host_len, the port in
 * *port, 0 when absent), else the reason. */
const char *sx_parse_hostport(const char *s, size_t n, int port_required, int allow_star,
                              const char **host_start, size_t *host_len, unsigned *port);
/* A sip:/sips: URI; for listen addresses no user part and a port. NULL or why. */
const char *sx_check_sip_uri(const char *uri, int listen);
/* "ADDR[/PREFIX]", IPv4 or IPv6 (mapped IPv4 stored as IPv4). 0 ok, -1 invalid. */
int sx_parse_cidr(const char *s, sx_cidr *out);
/* 1 if s[0..n) is an IPv4 / IPv6 address in text form. */
int sx_valid_ipv4(const char *s, size_t n);
int sx_valid_ipv6(const char *s, size_t n);
/* 1 if the first `prefix` bits of a and net are equal. */
int sx_prefix_match(const uint8_t *a, const uint8_t *net, unsigned prefix);

#endif
