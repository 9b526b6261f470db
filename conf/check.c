/* Decisions and rules shared by sipxmppctl and the web console (see check.h). */
#include "conf/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/store_internal.h"

sx_st sx_check_run(sx_store *s, const char *user_key, const char *contact_key, sx_pdir dir,
                   sx_kind kind, sx_check_result *out, char *err, size_t n) {
  memset(out, 0, sizeof *out);
  out->snap = sx_store_snapshot(s, err, n);
  if (!out->snap) return SX_ST_ERROR;
  const char *at = strrchr(contact_key, '@');
  const char *ext_domain = at ? at + 1 : contact_key;
  sx_decide(out->snap, user_key, ext_domain, contact_key, dir, kind, &out->d);
  out->rel = sx_snap_relation(out->snap, user_key, contact_key);
  out->rel.suspended = !sx_rel_allowed(out->snap, user_key, ext_domain);
  out->contact_state = sx_rel_summary(out->rel);
  out->have_step = 1;
  if (kind == SX_KIND_SUBSCRIBE)
    out->ev = dir == SX_DIR_OUT ? SX_REV_SIP_SUBSCRIBE : SX_REV_XMPP_SUBSCRIBE;
  else if (kind == SX_KIND_PROBE && dir == SX_DIR_IN)
    out->ev = SX_REV_XMPP_PROBE;
  else
    out->have_step = 0;
  if (out->have_step) sx_rel_step(out->rel, out->ev, out->d.verdict, NULL, &out->step);
  out->ok = out->d.verdict == SX_ALLOW;
  if (out->have_step && out->ev == SX_REV_XMPP_PROBE)
    out->ok = (out->step.actions & SX_RA_XMPP_PRESENCE) != 0;
  return SX_ST_OK;
}

void sx_check_result_free(sx_check_result *r) {
  if (!r) return;
  sx_snap_free(r->snap);
  r->snap = NULL;
}

/* Appends to a memstream. */
static void put(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(FILE *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
}

/* Closes the memstream (which sets *buf) and returns the text, or NULL on failure. */
static char *finish(FILE *f, char **buf) {
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) {
    free(*buf);
    return NULL;
  }
  return *buf;
}

char *sx_check_text(const sx_check_result *r, const char *user, const char *contact,
                    sx_pdir dir, sx_kind kind) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  const sx_decision *d = &r->d;
  put(f, "%s: %s\n", sx_verdict_name(d->verdict), d->reason);
  put(f, "  %s %s, %s %s %s\n", sx_pdir_name(dir), sx_kind_name(kind), user,
      dir == SX_DIR_OUT ? "->" : "<-", contact);
  if (d->policy_name)
    put(f, "  policy: %s (%s)\n", d->policy_name,
        strcmp(d->policy_scope, "user") == 0   ? "granted to the user"
        : strcmp(d->policy_scope, "site") == 0 ? "the user's site policy"
                                               : "global policy");
  if (d->partner_domain)
    put(f, "  partner: %s (%s)%s\n", d->partner_domain, sx_ptype_name(d->partner_type),
        d->strip_status_notes ? ", status notes removed" : "");
  const sx_rel cs = r->rel;
  put(f, "  contact entry: %s (out %s, in %s%s)\n", r->contact_state,
      sx_sub_out_name((sx_sub_out)cs.out), sx_sub_in_name((sx_sub_in)cs.in),
      cs.suspended ? ", suspended by policy" : "");
  if (d->verdict == SX_DENY) put(f, "  refusal: SIP %d, XMPP %s\n", d->sip_status, d->xmpp_condition);
  if (d->verdict == SX_ALLOW && dir == SX_DIR_OUT && kind == SX_KIND_SUBSCRIBE && !cs.added)
    put(f, "  note: the daemon adds %s to %s's contacts when the SUBSCRIBE is sent\n", contact,
        user);
  if (r->have_step) {
    put(f, "  daemon: %s:", r->step.why);
    for (unsigned b = 1; b && b <= SX_RA_FANOUT_LEAVE; b <<= 1)
      if (r->step.actions & b) put(f, " %s", sx_rel_action_name(b));
    put(f, "%s\n", r->step.actions ? "" : " nothing sent");
  }
  return finish(f, &buf);
}

char *sx_check_warnings(const sx_config *cfg, const char *user, const char *contact) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  const char *at = strrchr(user, '@');
  if (cfg && at && !sx_config_serves(cfg, at + 1))
    put(f, "%s is not in a domain this gateway serves; the daemon would not treat it as an "
           "internal user\n",
        at + 1);
  const char *cat = strrchr(contact, '@');
  const char *ext_domain = cat ? cat + 1 : contact;
  if (cfg && sx_config_serves(cfg, ext_domain))
    put(f, "%s is a domain this gateway serves; the daemon never sends its traffic to XMPP\n",
        ext_domain);
  return finish(f, &buf);
}

int sx_store_effective_policy(sx_store *s, const char *key, sx_policy_rec *out,
                              const char **scope) {
  char err[512];
  sx_user_rec u;
  int have = sx_store_user_get(s, key, &u, err, sizeof err) == SX_ST_OK;
  if (have && u.policy && sx_store_policy_get(s, u.policy, out, err, sizeof err) == SX_ST_OK) {
    *scope = "per-user";
    sx_user_rec_free(&u);
    return 0;
  }
  if (have && u.site) {
    char name[300];
    snprintf(name, sizeof name, "site:%s", u.site);
    if (sx_store_policy_get(s, name, out, err, sizeof err) == SX_ST_OK) {
      *scope = "site";
      sx_user_rec_free(&u);
      return 0;
    }
  }
  if (have) sx_user_rec_free(&u);
  *scope = "global";
  return sx_store_policy_get(s, "global", out, err, sizeof err) == SX_ST_OK ? 0 : -1;
}

const char *sx_relation_policy_state(const sx_policy_snap *snap, const char *user_key,
                                     const char *contact_key) {
  const char *at = strrchr(contact_key, '@');
  return sx_rel_allowed(snap, user_key, at ? at + 1 : contact_key) ? "active" : "suspended";
}

sx_st sx_partner_check_served(const sx_config *cfg, const sx_partner_rec *p, char *err,
                              size_t n) {
  if (!cfg) return SX_ST_OK;
  const char *clash = sx_config_serves(cfg, p->domain) ? p->domain : NULL;
  for (size_t i = 0; !clash && i < p->n_additional; i++)
    if (sx_config_serves(cfg, p->additional[i])) clash = p->additional[i];
  if (!clash) return SX_ST_OK;
  return sxs_fail(SX_ST_INVALID, err, n,
                  "%s is a domain this gateway serves ([gateway] domains in %s); it cannot be "
                  "an XMPP partner",
                  clash, cfg->path ? cfg->path : "the config");
}
