/* What sip/sip.c shares with the other files of the SIP adapter (the presence dialogs):
 * Sofia objects, never seen outside sip/. Everything returned is borrowed from the sx_sip. */
#ifndef SX_SIP_SIP_INTERNAL_H
#define SX_SIP_SIP_INTERNAL_H
#include <sofia-sip/nta.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/url.h>

#include "sip/sip.h"

nta_agent_t *sx_sip_agent(sx_sip *s);
/* The leg outgoing out-of-dialog-table requests are made on (no dialog matching). */
nta_leg_t *sx_sip_default_leg(sx_sip *s);
su_root_t *sx_sip_root(sx_sip *s);
/* [sip] outbound_proxy. */
const url_t *sx_sip_proxy(const sx_sip *s);
/* The request being answered (NULL once answered). */
sip_t const *sx_sip_txn_sip(const sx_sip_txn *txn);

/* Called for every SUBSCRIBE and NOTIFY before the retransmission table and on_request.
 * Returns 1 when it took the request (it then owns msg: answered and destroyed), 0 to let
 * the request go the ordinary way. */
typedef int (*sx_sip_dialog_hook)(void *ud, msg_t *msg, sip_t const *sip);
void sx_sip_set_dialog_hook(sx_sip *s, sx_sip_dialog_hook hook, void *ud);

#endif
