/* Output of the edge link (xmpp/edge.h): everything written in one loop turn goes out in one
 * write (on_flush), and the delivery barrier: XEP-0114 has no acknowledgements, so tracked
 * stanzas are confirmed when an iq sent after them to our own domain comes back. */
#include <stdlib.h>
#include <string.h>

#include "translate/log.h"
#include "translate/text.h"
#include "xmpp/edge_internal.h"

/* ---- output ----------------------------------------------------------------------------- */

static void on_flush(uv_idle_t *h);

static void arm_flush(sx_edge *e) {
  if (e->flush_armed) return;
  uv_idle_start(&e->flush, on_flush);
  e->flush_armed = 1;
}

/* Stanzas go out in one write per loop turn (on_flush), not one each. */
int edge_send_text(sx_edge *e, const char *xml, size_t len) {
  sx_buf_put(&e->out, xml, len);
  if (e->out.oom) {
    sx_err("edge", "%s out of memory queueing output", e->domain);
    return -1;
  }
  e->last_write = now_ms(e);
  arm_flush(e);
  return 0;
}

void edge_put_attr(sx_buf *b, const char *name, const char *v) {
  if (!v) return;
  sx_buf_printf(b, " %s='", name);
  sx_buf_puts_xml(b, v);
  sx_buf_puts(b, "'");
}

void edge_send_buf(sx_edge *e, sx_buf *b) {
  size_t len;
  char *s = sx_buf_take(b, &len);
  if (!s) {
    sx_err("edge", "%s out of memory building a reply", e->domain);
    return;
  }
  if (e->state == LS_UP) edge_send_text(e, s, len);
  free(s);
}

/* ---- delivery confirmation -------------------------------------------------------------- */

static void confirm(sx_edge *e, void *tok, int ok) {
  e->unconfirmed--;
  if (e->cbs.on_confirm) e->cbs.on_confirm(e->ud, e, tok, ok);
}

/* Everything tracked fails: the link went down before the server confirmed it. */
void edge_fail_tracked(sx_edge *e) {
  while (e->b_head) {
    batch *b = e->b_head;
    e->b_head = b->next;
    for (size_t i = 0; i < b->n; i++) confirm(e, b->tok[i], 0);
    free(b);
  }
  e->b_tail = NULL;
  for (size_t i = 0; i < e->open_n; i++) confirm(e, e->open_tok[i], 0);
  e->open_n = 0;
}

/* Closes the batch of tracked stanzas with a barrier iq (appended to the output). */
static void add_barrier(sx_edge *e) {
  batch *b;
  sx_buf x = {0};

  if (!e->open_n) return;
  b = malloc(sizeof *b + e->open_n * sizeof(void *));
  if (!b) return;
  b->next = NULL;
  b->seq = ++e->barrier_seq;
  b->n = e->open_n;
  memcpy(b->tok, e->open_tok, e->open_n * sizeof(void *));
  e->open_n = 0;
  if (e->b_tail) e->b_tail->next = b;
  else e->b_head = b;
  e->b_tail = b;
  sx_buf_printf(&x, "<iq type='get' id='" BARRIER_PREFIX "%lx-%lu-0'", e->barrier_tag, b->seq);
  edge_put_attr(&x, "from", e->domain);
  edge_put_attr(&x, "to", e->domain);
  sx_buf_puts(&x, "><ping xmlns='" NS_PING "'/></iq>");
  edge_send_buf(e, &x);
}

static void on_flush(uv_idle_t *h) {
  sx_edge *e = h->data;
  if (e->state != LS_UP) {
    uv_idle_stop(h);
    e->flush_armed = 0;
    e->out.len = 0;
    return;
  }
  /* One barrier outstanding at a time: at low rates each stanza gets its own, under load
   * they cover everything sent during one round trip. */
  if (!e->b_head) add_barrier(e);
  uv_idle_stop(h);
  e->flush_armed = 0;
  if (e->open_n && !e->b_head) arm_flush(e); /* the barrier could not be made; next turn */
  if (e->out.len) {
    edge_conn_write(e, e->out.data, e->out.len);
    e->out.len = 0;
  }
}

/* Hops a barrier of another instance is passed on before it is dropped. With N instances
 * it reaches its own after N hops on average; (1 - 1/N)^64 is negligible for small N. */
#define BARRIER_MAX_HOPS 64

/* One unsigned number of 1..max_digits digits in `base` (10 or 16) ending at `stop`; no
 * sign, space or overflow (strtoul would accept all three). NULL when malformed, else the
 * character after the stop. */
static const char *parse_num(const char *p, int base, int max_digits, char stop,
                             unsigned long *out) {
  unsigned long v = 0;
  int n = 0;
  for (; *p && *p != stop; p++, n++) {
    int d;
    if (*p >= '0' && *p <= '9') d = *p - '0';
    else if (base == 16 && *p >= 'a' && *p <= 'f') d = *p - 'a' + 10;
    else return NULL;
    if (n >= max_digits) return NULL;
    v = v * (unsigned long)base + (unsigned long)d;
  }
  if (!n || *p != stop) return NULL;
  *out = v;
  return stop ? p + 1 : p;
}

void edge_barrier_returned(sx_edge *e, const char *id) {
  unsigned long tag, seq, hops;
  const char *p = id + sizeof BARRIER_PREFIX - 1;

  if (!(p = parse_num(p, 16, 8, '-', &tag)) || !(p = parse_num(p, 10, 19, '-', &seq)) ||
      !parse_num(p, 10, 3, '\0', &hops))
    return;
  if (tag != e->barrier_tag) {
    /* Another instance's barrier: the server picked our stream for the shared domain. Sent
     * on toward the domain again, so that it reaches the instance waiting for it. */
    sx_buf x = {0};
    if (hops >= BARRIER_MAX_HOPS) return;
    sx_buf_printf(&x, "<iq type='get' id='" BARRIER_PREFIX "%lx-%lu-%lu'", tag, seq, hops + 1);
    edge_put_attr(&x, "from", e->domain);
    edge_put_attr(&x, "to", e->domain);
    sx_buf_puts(&x, "><ping xmlns='" NS_PING "'/></iq>");
    edge_send_buf(e, &x);
    return;
  }
  while (e->b_head && e->b_head->seq <= seq) {
    batch *b = e->b_head;
    e->b_head = b->next;
    if (!e->b_head) e->b_tail = NULL;
    for (size_t i = 0; i < b->n; i++) confirm(e, b->tok[i], 1);
    free(b);
  }
  if (e->open_n) arm_flush(e); /* what was sent meanwhile gets the next barrier */
}

int sx_edge_send(sx_edge *e, const char *xml, size_t len) {
  if (!e || e->state != LS_UP || e->stopping || !xml || len == 0 || xml[0] != '<') return -1;
  edge_send_text(e, xml, len);
  e->stats.out_stanzas++;
  return 0;
}

int sx_edge_send_tracked(sx_edge *e, const char *xml, size_t len, void *token) {
  if (!e || e->state != LS_UP || e->stopping) return -1;
  if (e->open_n == e->open_cap) {
    size_t cap = e->open_cap ? e->open_cap * 2 : 64;
    void **t = realloc(e->open_tok, cap * sizeof *t);
    if (!t) return -1;
    e->open_tok = t;
    e->open_cap = cap;
  }
  if (sx_edge_send(e, xml, len) != 0) return -1;
  e->open_tok[e->open_n++] = token;
  e->unconfirmed++;
  arm_flush(e);
  return 0;
}

size_t sx_edge_unconfirmed(const sx_edge *e) { return e ? e->unconfirmed : 0; }

