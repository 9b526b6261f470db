/* JSON forms of store records and decisions, shared by `sipxmppctl --json` and the web
 * console's /api/, so both print the same objects. Every function returns a new cJSON value
 * owned by the caller, or NULL when out of memory. */
#ifndef SX_GATEWAY_STORE_JSON_H
#define SX_GATEWAY_STORE_JSON_H
#include <cjson/cJSON.h>

#include "conf/check.h"
#include "conf/store.h"

/* {"name","scope","EnableXmppAccess",...,"Description","users"} */
cJSON *sx_json_policy(const sx_policy_rec *p);
/* {"domain","AdditionalDomains",...,"ProxyFqdn"}: every field of SPEC §5 */
cJSON *sx_json_partner(const sx_partner_rec *p);
/* {"user","uri","site","policy"} and, with s, "effective_policy", "effective_scope",
 * "EnableXmppAccess" */
cJSON *sx_json_user(sx_store *s, const sx_user_rec *u);
/* {"user","contact","state","added","subscription_out","subscription_in","policy","updated"}
 * ("policy": "active"/"suspended" from snap; left out when snap is NULL) */
cJSON *sx_json_contact(const sx_contact_rec *r, const sx_policy_snap *snap);
/* {"decision","reason","reason_code","user","contact","direction","kind","policy",...,
 *  "contact_state","relation":{...},"daemon":{...} (when the kind has a step)} */
cJSON *sx_json_check(const sx_check_result *r, const char *user, const char *contact,
                     sx_pdir dir, sx_kind kind);
/* The "sip:" form of a user key for display (malloc'd, the caller frees), or a copy of the
 * key when it has none; NULL when out of memory. */
char *sx_json_sip_form(const char *key);
/* Adds a string, or null when v is NULL. */
void sx_json_str(cJSON *o, const char *name, const char *v);

#endif
