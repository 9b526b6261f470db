/* libFuzzer target: SIP request bytes through Sofia-SIP's parser (as the transport hands a
 * message to the transaction layer) into the gateway's relay decision — the request fields
 * the SIP adapter extracts, the IM mapping, the served-domain checks and the policy decision
 * — with no sockets. Build and run: tests/fuzz/run.sh.
 *
 * FUZZ-SOURCES: translate
 * FUZZ-PKGS: sofia-sip-ua libidn expat */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_parser.h>
#include <sofia-sip/url.h>

#include "translate/address.h"
#include "translate/im.h"
#include "translate/policy.h"
#include "translate/xmsg.h"

static sx_policy_snap *snap;

static void init(void) {
  snap = sx_snap_new();
  sx_snap_add_policy(snap, "global", SX_POL_XMPP);
  sx_snap_add_policy(snap, "Off", 0);
  sx_snap_add_user(snap, "eve@contoso.example", NULL, "Off");
  sx_snap_add_partner(snap, "fabrikam.example", SX_PT_FEDERATED);
  sx_snap_add_partner(snap, "unverified.example", SX_PT_PUBLIC_UNVERIFIED);
}

static int serves(const char *d) { return sx_domain_eq(d, "contoso.example"); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  su_home_t home[1] = {SU_HOME_INIT(home)};
  if (!snap) init();
  if (size > 65536) return 0;
  msg_t *msg = msg_make(sip_default_mclass(), 0, data, (isize_t)size);
  sip_t *sip = msg ? sip_object(msg) : NULL;
  if (!sip || !sip->sip_request || !sip->sip_from || !sip->sip_to || !sip->sip_call_id) {
    msg_destroy(msg);
    su_home_deinit(home);
    return 0;
  }
  sx_im_sip_in in = {0};
  in.request_uri = url_as_string(home, sip->sip_request->rq_url);
  in.from_uri = url_as_string(home, sip->sip_from->a_url);
  in.call_id = sip->sip_call_id->i_id;
  if (sip->sip_subject) in.subject = sip->sip_subject->g_value;
  if (sip->sip_content_type) {
    in.content_type = sip->sip_content_type->c_type;
    in.charset = msg_params_find(sip->sip_content_type->c_params, "charset=");
  }
  if (sip->sip_content_language && sip->sip_content_language->k_items)
    in.content_language = sip->sip_content_language->k_items[0];
  if (sip->sip_payload && sip->sip_payload->pl_len) {
    in.body = sip->sip_payload->pl_data;
    in.body_len = sip->sip_payload->pl_len;
  }
  if (in.request_uri && in.from_uri) {
    sx_im_opts o = {.max_body = 16384, .msg_type = "chat"};
    sx_xmsg x;
    sx_jid sender, target;
    sx_im_imdn imdn;
    sx_im_fail fail;
    if (sx_im_from_sip_ex(&in, &o, &x, &sender, &target, &imdn, &fail) == 0) {
      if (serves(sender.domain) && !serves(target.domain)) {
        char *uk = sx_jid_key(&sender), *ek = sx_jid_key(&target);
        sx_decision d;
        if (uk && ek) {
          sx_decide(snap, uk, target.domain, ek, SX_DIR_OUT, SX_KIND_MESSAGE, &d);
          if (d.verdict == SX_ALLOW) {
            size_t len;
            free(sx_xmsg_serialize(&x, &len));
          }
        }
        free(uk);
        free(ek);
      }
      sx_im_imdn_free(&imdn);
      sx_xmsg_free(&x);
      sx_jid_free(&sender);
      sx_jid_free(&target);
    }
  }
  msg_destroy(msg);
  su_home_deinit(home);
  return 0;
}
