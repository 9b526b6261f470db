/* Syntax of the network addresses in the configuration: integers, DNS names, HOST:PORT,
 * SIP URIs to listen on or send to, CIDR blocks. */
#include "conf/netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static int is_blank(int c) { return c == ' ' || c == '\t'; }

/* Strict unsigned integer: digits only, no sign, no blanks, no trailing junk. */
int sx_parse_uint(const char *s, unsigned long long min, unsigned long long max,
                      unsigned long long *out) {
  if (!*s) return -1;
  unsigned long long v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    v = v * 10 + (unsigned)(*p - '0');
    if (v > max) return -1;
  }
  if (v < min) return -1;
  *out = v;
  return 0;
}

/* A DNS name: dot-separated labels of 1..63 letters, digits and hyphens, not starting or
 * ending with a hyphen; at most 253 bytes; an optional trailing dot is not counted. */
int sx_valid_dns_name(const char *s, size_t n) {
  if (n && s[n - 1] == '.') n--;
  if (n == 0 || n > 253) return 0;
  size_t label = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-') return 0;
      label = 0;
      continue;
    }
    if (!(isalnum(c) && c < 0x80) && c != '-') return 0;
    if (c == '-' && label == 0) return 0;
    if (++label > 63) return 0;
  }
  return label > 0 && s[n - 1] != '-';
}

static int valid_ip(int family, const char *s, size_t n) {
  char buf[INET6_ADDRSTRLEN];
  struct in6_addr a; /* large enough for either family */
  if (n >= sizeof buf) return 0;
  memcpy(buf, s, n);
  buf[n] = 0;
  return inet_pton(family, buf, &a) == 1;
}

int sx_valid_ipv4(const char *s, size_t n) { return valid_ip(AF_INET, s, n); }
int sx_valid_ipv6(const char *s, size_t n) { return valid_ip(AF_INET6, s, n); }

/* Host and port "HOST:PORT", "[V6]:PORT" (or without ":PORT" when port_required is 0).
 * On success *host_start and *host_len delimit the host without brackets and *port is the port
 * (0 when absent). Returns NULL or the reason it is invalid. */
const char *sx_parse_hostport(const char *s, size_t n, int port_required, int allow_star,
                                  const char **host_start, size_t *host_len, unsigned *port) {
  const char *h, *rest;
  size_t hl;
  *port = 0;
  if (n == 0) return "the host is missing";
  if (s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (!close) return "'[' without ']'";
    h = s + 1;
    hl = (size_t)(close - h);
    if (!sx_valid_ipv6(h, hl)) return "the bracketed host is not an IPv6 address";
    rest = close + 1;
  } else {
    const char *colon = memchr(s, ':', n);
    h = s;
    hl = colon ? (size_t)(colon - s) : n;
    if (colon && memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)))
      return "an IPv6 address needs brackets, e.g. [::1]:PORT";
    if (hl == 0) return "the host is missing";
    if (!(allow_star && hl == 1 && h[0] == '*') && !sx_valid_ipv4(h, hl) && !sx_valid_dns_name(h, hl))
      return "the host is not an IPv4 address, [IPv6] address or DNS name";
    rest = h + hl;
  }
  size_t rl = n - (size_t)(rest - s);
  if (rl == 0) {
    if (port_required) return "the port is missing (HOST:PORT)";
  } else {
    if (rest[0] != ':') return "unexpected text after the host";
    char pbuf[8];
    unsigned long long v;
    if (rl - 1 == 0 || rl - 1 >= sizeof pbuf) return "the port must be an integer 1..65535";
    memcpy(pbuf, rest + 1, rl - 1);
    pbuf[rl - 1] = 0;
    if (sx_parse_uint(pbuf, 1, 65535, &v)) return "the port must be an integer 1..65535";
    *port = (unsigned)v;
  }
  *host_start = h;
  *host_len = hl;
  return NULL;
}

/* A SIP URI "sip:" / "sips:" [user@] host[:port] [;params]. For listen addresses no user
 * part is allowed and the port is required. Returns NULL or the reason. */
const char *sx_check_sip_uri(const char *uri, int listen) {
  const char *p;
  int sips = 0;
  if (!strncasecmp(uri, "sip:", 4)) {
    p = uri + 4;
  } else if (!strncasecmp(uri, "sips:", 5)) {
    p = uri + 5;
    sips = 1;
  } else {
    return "must start with sip: or sips:";
  }
  const char *params = strchr(p, ';');
  size_t hp_len = params ? (size_t)(params - p) : strlen(p);
  const char *at = memchr(p, '@', hp_len);
  if (at) {
    if (listen) return "a listen URI has no user part";
    if (at == p) return "the user part before '@' is empty";
    hp_len -= (size_t)(at + 1 - p);
    p = at + 1;
  }
  for (size_t i = 0; i < hp_len; i++)
    if (is_blank((unsigned char)p[i]) || p[i] == '?' || p[i] == '>' || p[i] == '<')
      return "unexpected character in the host part";
  const char *h;
  size_t hl;
  unsigned port;
  const char *why = sx_parse_hostport(p, hp_len, listen, listen, &h, &hl, &port);
  if (why) return why;
  /* Parameters: name[=value] separated by ';'; transport must be one we can listen on. */
  while (params) {
    const char *q = params + 1;
    const char *next = strchr(q, ';');
    size_t len = next ? (size_t)(next - q) : strlen(q);
    if (len == 0) return "empty URI parameter";
    for (size_t i = 0; i < len; i++)
      if (is_blank((unsigned char)q[i])) return "blank inside a URI parameter";
    if (len > 10 && !strncasecmp(q, "transport=", 10)) {
      const char *t = q + 10;
      size_t tl = len - 10;
      int udp = tl == 3 && !strncasecmp(t, "udp", 3);
      int tcp = tl == 3 && !strncasecmp(t, "tcp", 3);
      int tls = tl == 3 && !strncasecmp(t, "tls", 3);
      if (!udp && !tcp && !tls) return "transport must be udp, tcp or tls";
      if (sips && udp) return "sips: cannot use transport=udp";
    }
    params = next;
  }
  return NULL;
}

/* "ADDR" or "ADDR/PREFIX", IPv4 or IPv6. Host bits beyond the prefix are cleared.
 * An IPv4-mapped IPv6 block (::ffff:a.b.c.d/96+) is stored as the IPv4 block. */
int sx_parse_cidr(const char *s, sx_cidr *out) {
  char buf[INET6_ADDRSTRLEN + 8];
  size_t n = strlen(s);
  if (n >= sizeof buf) return -1;
  memcpy(buf, s, n + 1);
  char *slash = strchr(buf, '/');
  unsigned long long prefix = 0;
  int has_prefix = 0;
  if (slash) {
    *slash = 0;
    has_prefix = 1;
  }
  memset(out, 0, sizeof *out);
  if (strchr(buf, ':')) {
    if (inet_pton(AF_INET6, buf, out->addr) != 1) return -1;
    out->family = AF_INET6;
    if (has_prefix && sx_parse_uint(slash + 1, 0, 128, &prefix)) return -1;
    out->prefix = has_prefix ? (unsigned)prefix : 128;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (out->prefix >= 96 && !memcmp(out->addr, mapped, 12)) {
      memmove(out->addr, out->addr + 12, 4);
      memset(out->addr + 4, 0, 12);
      out->family = AF_INET;
      out->prefix -= 96;
    }
  } else {
    if (inet_pton(AF_INET, buf, out->addr) != 1) return -1;
    out->family = AF_INET;
    if (has_prefix && sx_parse_uint(slash + 1, 0, 32, &prefix)) return -1;
    out->prefix = has_prefix ? (unsigned)prefix : 32;
  }
  unsigned bits = out->family == AF_INET ? 32 : 128;
  for (unsigned i = out->prefix; i < bits; i++) out->addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
  return 0;
}

int sx_prefix_match(const uint8_t *a, const uint8_t *net, unsigned prefix) {
  unsigned full = prefix / 8, rest = prefix % 8;
  if (memcmp(a, net, full)) return 0;
  if (!rest) return 1;
  uint8_t mask = (uint8_t)(0xffu << (8 - rest));
  return (a[full] & mask) == net[full];
}
