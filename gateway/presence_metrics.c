/* Presence families of /metrics (issue 6 item 7), computed when scraped:
 *   sipxmpp_presence_sip_dialogs{direction="watcher"|"fanout"}   SIP dialogs now
 *   sipxmpp_presence_relations{side="out"|"in",state=...}        XMPP relations by state
 *   sipxmpp_presence_pending_requests                             inbound requests held
 *   sipxmpp_presence_relations_suspended                          suspended by policy
 *   sipxmpp_presence_notifies_total{result="ok"|"failed"}         NOTIFYs answered
 *   sipxmpp_presence_notifies_in_flight / _waiting
 *   sipxmpp_presence_fanout_subscriptions                         fan-out SUBSCRIBEs now
 *   sipxmpp_presence_resubscribes_total                           re-subscribe attempts
 *   sipxmpp_presence_fanout_leases_held                           (PostgreSQL store) leases
 *   sipxmpp_presence_forwarded_total{way="sent"|"received"}       notices between instances
 * Presence stanzas sent by result are counters of gateway/metrics.c
 * (sipxmpp_presence_stanzas_sent_total, sipxmpp_presence_stanzas_failed_total). */
#include "gateway/presence_internal.h"

#include <inttypes.h>

#include "gateway/metrics.h"

static void family(FILE *f, const char *name, const char *type, const char *help) {
  fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void pres_metrics_render(void *ud, FILE *f) {
  sx_pres_gw *P = ud;
  sx_sip_pres_stats s;
  sx_reltab_stats r;
  if (!P || !P->sp || !P->rt) return;
  sx_sip_pres_get_stats(P->sp, &s);
  sx_reltab_get_stats(P->rt, &r);
  family(f, "sipxmpp_presence_sip_dialogs", "gauge",
         "SIP presence dialogs: watchers of XMPP contacts, and the gateway's fan-outs.");
  fprintf(f, "sipxmpp_presence_sip_dialogs{direction=\"watcher\"} %zu\n", s.watches);
  fprintf(f, "sipxmpp_presence_sip_dialogs{direction=\"fanout\"} %zu\n", s.fanouts);
  family(f, "sipxmpp_presence_relations", "gauge",
         "XMPP presence relations by side (out: the user's subscription, in: the "
         "contact's) and state.");
  fprintf(f, "sipxmpp_presence_relations{side=\"out\",state=\"pending\"} %zu\n",
          r.out_pending);
  fprintf(f, "sipxmpp_presence_relations{side=\"out\",state=\"subscribed\"} %zu\n",
          r.out_subscribed);
  fprintf(f, "sipxmpp_presence_relations{side=\"in\",state=\"pending\"} %zu\n", r.in_pending);
  fprintf(f, "sipxmpp_presence_relations{side=\"in\",state=\"approved\"} %zu\n",
          r.in_approved);
  family(f, "sipxmpp_presence_pending_requests", "gauge",
         "Subscription requests from contacts held until the user adds them.");
  fprintf(f, "sipxmpp_presence_pending_requests %zu\n", r.in_pending);
  family(f, "sipxmpp_presence_relations_suspended", "gauge",
         "Relations suspended because the policy no longer allows them.");
  fprintf(f, "sipxmpp_presence_relations_suspended %zu\n", r.suspended);
  family(f, "sipxmpp_presence_notifies_total", "counter", "NOTIFYs sent, by result.");
  fprintf(f, "sipxmpp_presence_notifies_total{result=\"ok\"} %lu\n", s.notify_ok);
  fprintf(f, "sipxmpp_presence_notifies_total{result=\"failed\"} %lu\n", s.notify_failed);
  family(f, "sipxmpp_presence_notifies_in_flight", "gauge", "NOTIFYs awaiting an answer.");
  fprintf(f, "sipxmpp_presence_notifies_in_flight %zu\n", s.notify_in_flight);
  family(f, "sipxmpp_presence_notifies_waiting", "gauge",
         "Dialogs waiting for a NOTIFY slot (max_notify_in_flight).");
  fprintf(f, "sipxmpp_presence_notifies_waiting %zu\n", s.notify_waiting);
  family(f, "sipxmpp_presence_fanout_subscriptions", "gauge",
         "Fan-out subscriptions (one per internal user with approved XMPP watchers).");
  fprintf(f, "sipxmpp_presence_fanout_subscriptions %zu\n", s.fanouts);
  family(f, "sipxmpp_presence_resubscribes_total", "counter",
         "Fan-out subscriptions established again (after 481, 408, 5xx, termination or an "
         "edge reconnect).");
  fprintf(f, "sipxmpp_presence_resubscribes_total %lu\n", s.resubscribes);
  if (P->leases) {
    size_t held;
    unsigned long acquired, lost, sent, received;
    pres_lease_counts(P, &held, &acquired, &lost);
    pres_forward_counts(P, &sent, &received);
    family(f, "sipxmpp_presence_fanout_leases_held", "gauge",
           "Fan-out leases this instance holds in the shared store.");
    fprintf(f, "sipxmpp_presence_fanout_leases_held %zu\n", held);
    family(f, "sipxmpp_presence_forwarded_total", "counter",
           "Presence notices between instances (the database's notification channel).");
    fprintf(f, "sipxmpp_presence_forwarded_total{way=\"sent\"} %lu\n", sent);
    fprintf(f, "sipxmpp_presence_forwarded_total{way=\"received\"} %lu\n", received);
  }
}
