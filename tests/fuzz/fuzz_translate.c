/* libFuzzer target for the parsers of the translation core that see network input: SIP URIs
 * and JIDs (both directions), CPIM documents, text in any charset, isComposing documents and
 * the IM mapping, PIDF documents (parsed, then rendered back through the resource aggregate
 * and serialised as a presence stanza). Build and run: tests/fuzz/run.sh.
 *
 * FUZZ-SOURCES: translate
 * FUZZ-PKGS: libidn expat */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "translate/address.h"
#include "translate/cpim.h"
#include "translate/im.h"
#include "translate/pidf_parse.h"
#include "translate/pidf_render.h"
#include "translate/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1), *out = NULL, *t;
  sx_jid j;
  sx_cpim c;
  size_t n = 0;
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = '\0';

  if (sx_sip_to_jid(s, &j) == SX_ADDR_OK) {
    t = sx_jid_to_sip(&j, 1);
    free(t);
    t = sx_jid_key(&j);
    free(t);
    sx_jid_free(&j);
  }
  if (sx_jid_parse(s, &j) == SX_ADDR_OK) {
    t = sx_jid_to_sip(&j, 1);
    free(t);
    t = sx_jid_to_text(&j, 1);
    free(t);
    sx_jid_free(&j);
  }
  if (sx_cpim_parse((const char *)data, size, &c) == 0) sx_cpim_free(&c);
  if (sx_text_to_utf8(size > 8 ? "iso-8859-1" : NULL, (const char *)data, size, 4096, &out, &n,
                      NULL) == SX_TEXT_OK)
    free(out);

  {
    sx_im_sip_in in = {.from_uri = "sip:bob@contoso.example",
                       .request_uri = "sip:carol@fabrikam.example",
                       .call_id = "c@h",
                       .content_type = (size && data[0] & 1) ? "message/cpim"
                                                             : "application/im-iscomposing+xml",
                       .body = (const char *)data,
                       .body_len = size};
    sx_im_opts o = {.max_body = 65536, .msg_type = "chat"};
    sx_xmsg x;
    sx_jid a, b;
    sx_im_imdn im;
    sx_im_fail f;
    if (sx_im_from_sip_ex(&in, &o, &x, &a, &b, &im, &f) == 0) {
      size_t len;
      char *xml = sx_xmsg_serialize(&x, &len);
      free(xml);
      sx_xmsg_free(&x);
      sx_jid_free(&a);
      sx_jid_free(&b);
      sx_im_imdn_free(&im);
    }
  }
  {
    sx_presence p;
    if (sx_pidf_parse((const char *)data, size, NULL, &p, NULL, 0) == SX_PIDF_OK) {
      sx_pres_agg a = {0};
      sx_agg_update(&a, size > 4 ? s + size - 4 : "r", &p);
      char *doc = sx_pidf_render(&a, "sip:carol@fabrikam.example", 0, NULL);
      sx_presence q;
      /* what we render must parse again */
      if (doc && sx_pidf_parse(doc, strlen(doc), NULL, &q, NULL, 0) != SX_PIDF_OK) abort();
      if (doc) sx_presence_free(&q);
      free(doc);
      sx_agg_clear(&a);
      p.from = strdup("bob@contoso.example");
      p.to = strdup("carol@fabrikam.example");
      char *xml = sx_presence_serialize(&p, NULL);
      free(xml);
      sx_presence_free(&p);
    }
  }
  free(s);
  return 0;
}
