/* JSON forms shared by sipxmppctl and the web console (see store_json.h). */
#include "gateway/store_json.h"

#include <stdlib.h>
#include <string.h>

#include "translate/address.h"

void sx_json_str(cJSON *o, const char *name, const char *v) {
  if (v)
    cJSON_AddStringToObject(o, name, v);
  else
    cJSON_AddNullToObject(o, name);
}


cJSON *sx_json_policy(const sx_policy_rec *p) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "name", p->name);
  cJSON_AddStringToObject(o, "scope", sx_scope_name(p->scope));
  for (size_t i = 0; i < SX_POL_NFLAGS; i++)
    cJSON_AddBoolToObject(o, SX_POL_FLAGS[i].lync, (p->flags & SX_POL_FLAGS[i].flag) != 0);
  cJSON_AddStringToObject(o, "Description", p->description ? p->description : "");
  cJSON_AddNumberToObject(o, "users", (double)p->users);
  return o;
}

cJSON *sx_json_partner(const sx_partner_rec *p) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "domain", p->domain);
  cJSON *ad = cJSON_AddArrayToObject(o, "AdditionalDomains");
  for (size_t i = 0; ad && i < p->n_additional; i++)
    cJSON_AddItemToArray(ad, cJSON_CreateString(p->additional[i]));
  cJSON_AddStringToObject(o, "Description", p->description ? p->description : "");
  cJSON_AddStringToObject(o, "PartnerType", sx_ptype_name(p->type));
  cJSON_AddStringToObject(o, "TlsNegotiation", sx_nego_name(p->tls));
  cJSON_AddStringToObject(o, "SaslNegotiation", sx_nego_name(p->sasl));
  cJSON_AddBoolToObject(o, "SupportDialbackNegotiation", p->dialback);
  cJSON_AddBoolToObject(o, "EnableKeepAlive", p->keepalive);
  cJSON_AddNumberToObject(o, "ConnectionLimit", (double)p->connection_limit);
  sx_json_str(o, "ProxyFqdn", p->proxy_fqdn);
  return o;
}

char *sx_json_sip_form(const char *key) {
  sx_jid j;
  if (sx_jid_parse(key, &j) == SX_ADDR_OK) {
    char *s = sx_jid_to_sip(&j, 0);
    sx_jid_free(&j);
    if (s) return s;
  }
  return strdup(key);
}

cJSON *sx_json_user(sx_store *s, const sx_user_rec *u) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "user", u->key);
  char *sip = sx_json_sip_form(u->key);
  sx_json_str(o, "uri", sip);
  free(sip);
  sx_json_str(o, "site", u->site);
  sx_json_str(o, "policy", u->policy);
  if (s) {
    sx_policy_rec p;
    const char *scope;
    if (sx_store_effective_policy(s, u->key, &p, &scope) == 0) {
      cJSON_AddStringToObject(o, "effective_policy", p.name);
      cJSON_AddStringToObject(o, "effective_scope", scope);
      cJSON_AddBoolToObject(o, "EnableXmppAccess", (p.flags & SX_POL_XMPP) != 0);
      sx_policy_rec_free(&p);
    }
  }
  return o;
}


cJSON *sx_json_contact(const sx_contact_rec *r, const sx_policy_snap *snap) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "user", r->user);
  cJSON_AddStringToObject(o, "contact", r->contact);
  cJSON_AddStringToObject(o, "state", sx_rel_summary(r->rel));
  cJSON_AddBoolToObject(o, "added", r->rel.added);
  cJSON_AddStringToObject(o, "subscription_out", sx_sub_out_name((sx_sub_out)r->rel.out));
  cJSON_AddStringToObject(o, "subscription_in", sx_sub_in_name((sx_sub_in)r->rel.in));
  if (snap) cJSON_AddStringToObject(o, "policy", sx_relation_policy_state(snap, r->user, r->contact));
  cJSON_AddNumberToObject(o, "updated", (double)r->updated);
  return o;
}

cJSON *sx_json_check(const sx_check_result *r, const char *user, const char *contact,
                     sx_pdir dir, sx_kind kind) {
  const sx_decision *d = &r->d;
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "decision", sx_verdict_name(d->verdict));
  cJSON_AddStringToObject(o, "reason", d->reason);
  cJSON_AddStringToObject(o, "reason_code", d->reason_code);
  cJSON_AddStringToObject(o, "user", user);
  cJSON_AddStringToObject(o, "contact", contact);
  cJSON_AddStringToObject(o, "direction", sx_pdir_name(dir));
  cJSON_AddStringToObject(o, "kind", sx_kind_name(kind));
  sx_json_str(o, "policy", d->policy_name);
  sx_json_str(o, "policy_scope", d->policy_scope);
  sx_json_str(o, "partner", d->partner_domain);
  sx_json_str(o, "partner_type", d->partner_domain ? sx_ptype_name(d->partner_type) : NULL);
  cJSON_AddStringToObject(o, "contact_state", r->contact_state);
  const sx_rel cs = r->rel;
  cJSON *rel = cJSON_AddObjectToObject(o, "relation");
  if (rel) {
    cJSON_AddStringToObject(rel, "subscription_out", sx_sub_out_name((sx_sub_out)cs.out));
    cJSON_AddStringToObject(rel, "subscription_in", sx_sub_in_name((sx_sub_in)cs.in));
    cJSON_AddBoolToObject(rel, "added", cs.added);
    cJSON_AddBoolToObject(rel, "suspended", cs.suspended);
  }
  if (r->have_step) {
    const sx_rel_result *step = &r->step;
    cJSON *dm = cJSON_AddObjectToObject(o, "daemon");
    if (dm) {
      cJSON_AddStringToObject(dm, "event", sx_rel_event_name(r->ev));
      cJSON *acts = cJSON_AddArrayToObject(dm, "actions");
      for (unsigned b = 1; acts && b && b <= SX_RA_FANOUT_LEAVE; b <<= 1)
        if (step->actions & b)
          cJSON_AddItemToArray(acts, cJSON_CreateString(sx_rel_action_name(b)));
      cJSON_AddStringToObject(dm, "subscription_out", sx_sub_out_name((sx_sub_out)step->next.out));
      cJSON_AddStringToObject(dm, "subscription_in", sx_sub_in_name((sx_sub_in)step->next.in));
      cJSON_AddBoolToObject(dm, "added", step->next.added);
      cJSON_AddStringToObject(dm, "why", step->why);
    }
  }
  sx_json_str(o, "xmpp_condition", d->xmpp_condition);
  if (d->sip_status)
    cJSON_AddNumberToObject(o, "sip_status", d->sip_status);
  else
    cJSON_AddNullToObject(o, "sip_status");
  cJSON_AddBoolToObject(o, "strip_status_notes", d->strip_status_notes);
  return o;
}
