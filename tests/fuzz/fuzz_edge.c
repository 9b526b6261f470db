/* libFuzzer target for the edge link's inbound bytes: arbitrary bytes, cut into chunks of
 * arbitrary sizes as a socket would deliver them, go through the link's parser
 * (xmpp/edge_xml.c: expat with our handlers and limits) and handshake into the inbound
 * stanza handlers (xmpp/edge_inbound.c) and the gateway-facing callbacks, on an edge that
 * never opens a socket (edge_new_detached). The input is what the server sends from its
 * stream header on; the first two bytes seed the chunk sizes.
 *
 * Build and run: tests/fuzz/run.sh [SECONDS] fuzz_edge.
 *
 * FUZZ-SOURCES: translate xmpp
 * FUZZ-PKGS: expat openssl libuv libidn
 * FUZZ-MAXLEN: 65536 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "translate/log.h"
#include "translate/xmsg.h"
#include "xmpp/edge_internal.h"

static uv_loop_t loop;
static size_t sink;

static void on_message(void *ud, sx_edge *e, const sx_xmsg *m) {
  (void)ud;
  (void)e;
  /* Touch every field the gateway reads. */
  sink += strlen(m->from) + strlen(m->to);
  if (m->body) sink += strlen(m->body);
  if (m->subject) sink += strlen(m->subject);
  if (m->thread) sink += strlen(m->thread);
  if (m->id) sink += strlen(m->id);
  if (m->type) sink += strlen(m->type);
  if (m->lang) sink += strlen(m->lang);
  if (m->receipt_for) sink += strlen(m->receipt_for);
  if (m->error_condition) sink += strlen(m->error_condition);
  if (m->error_text) sink += strlen(m->error_text);
  sink += (size_t)m->chat_state + (size_t)m->receipt_request;
}

static void on_presence(void *ud, sx_edge *e, const sx_presence *p) {
  (void)ud;
  (void)e;
  sink += strlen(p->from) + strlen(p->to) + (size_t)p->type + (size_t)p->show;
  if (p->id) sink += strlen(p->id);
  if (p->lang) sink += strlen(p->lang);
  for (size_t i = 0; i < p->n_statuses; i++) {
    sink += strlen(p->statuses[i].text);
    if (p->statuses[i].lang) sink += strlen(p->statuses[i].lang);
  }
  if (p->error_condition) sink += strlen(p->error_condition);
  if (p->error_type) sink += strlen(p->error_type);
  sink += (size_t)p->priority;
}

static void on_state(void *ud, sx_edge *e, int up) {
  (void)ud;
  (void)e;
  sink += (size_t)up;
}

static void on_drop(void *ud, sx_edge *e, const char *reason) {
  (void)ud;
  (void)e;
  sink += strlen(reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int init;
  static char *served[] = {"contoso.example", "contoso2.example"};
  if (!init) {
    uv_loop_init(&loop);
    sx_log_set_level(-1);
    init = 1;
  }
  if (size < 2) return 0;
  uint32_t seed = (uint32_t)data[0] << 8 | data[1];
  data += 2;
  size -= 2;

  sx_edge_params p = {.domain = "contoso.example", .host = "127.0.0.1", .port = 9,
                      .secret = "s3cret", .served = served, .n_served = 2,
                      .max_stanza_bytes = 16384};
  sx_edge_cbs cbs = {.on_message = on_message,
                     .on_presence = on_presence,
                     .on_state = on_state,
                     .on_drop = on_drop};
  sx_edge *e = edge_new_detached(&loop, &p, &cbs, NULL);
  if (!e) return 0;
  size_t off = 0;
  while (off < size) {
    seed = seed * 1103515245u + 12345u;
    size_t n = 1 + (seed >> 16) % 700;
    if (n > size - off) n = size - off;
    edge_input(e, (const char *)data + off, n);
    off += n;
  }
  edge_input_flush(e);
  uv_run(&loop, UV_RUN_NOWAIT); /* the turn's flush (its output goes nowhere) */
  sx_edge_free(e);
  while (uv_run(&loop, UV_RUN_NOWAIT)) {
  }
  return 0;
}
