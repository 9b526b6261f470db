/* Shared by the presence files of the SIP adapter (pres_core.c, pres_watch.c,
 * pres_fanout.c): the dialog tables and the helpers that build in-dialog requests. */
#ifndef SX_SIP_PRES_INTERNAL_H
#define SX_SIP_PRES_INTERNAL_H
#include <stdint.h>

#include <sofia-sip/nta.h>
#include <sofia-sip/nta_stateless.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/su_wait.h>
#include <sofia-sip/url.h>

#include "sip/presence.h"
#include "sip/sip_internal.h"

/* A dialog's key: Call-ID and one tag (the watcher's From tag for watches, our own tag for
 * fan-outs). Nodes are embedded in the objects; the table owns nothing. */
typedef struct pres_node {
  struct pres_node *next;
  uint64_t hash;
  const char *call_id, *tag; /* point into the object */
} pres_node;

typedef struct pres_table {
  pres_node **b;
  size_t nb, n;
} pres_table;

int pres_table_add(pres_table *t, pres_node *n);
void pres_table_del(pres_table *t, pres_node *n);
pres_node *pres_table_find(const pres_table *t, const char *call_id, const char *tag);
void pres_table_free(pres_table *t);

struct sx_sip_pres {
  sx_sip *sip;
  nta_agent_t *agent;
  su_root_t *root;
  sx_sip_pres_params prm;
  char *contact;
  sx_sip_pres_cbs cbs;
  void *ud;
  pres_table watches, fanouts;
  size_t n_fanouts;
  /* NOTIFYs: in flight, and watches waiting for a slot (FIFO through wait_next). */
  size_t notify_in_flight;
  sx_sip_watch *wait_head, *wait_tail;
  size_t waiting;
  unsigned long notify_ok, notify_failed, resubscribes;
  uint64_t tag_counter;
  /* Requests whose outcome nobody waits for (final SUBSCRIBE Expires: 0). */
  struct pres_orphan *orphans;
};

/* Called from the dialog hook: 1 when taken. */
int pres_watch_incoming(sx_sip_pres *p, msg_t *msg, sip_t const *sip);
int pres_fanout_incoming(sx_sip_pres *p, msg_t *msg, sip_t const *sip);
void pres_watch_free_all(sx_sip_pres *p);
void pres_fanout_free_all(sx_sip_pres *p);

/* A new tag / Call-ID (malloc'd). */
char *pres_new_tag(sx_sip_pres *p);
char *pres_new_call_id(sx_sip_pres *p);
/* Record-Route entries a dialog may have; a request or answer with more is refused. */
#define PRES_MAX_ROUTES 16
int pres_route_count(sip_t const *sip);
/* Record-Route of a message as a Route value ("<a>, <b>"), reversed when `reverse`
 * (a UAC's route set); NULL when there is none or more than PRES_MAX_ROUTES. Malloc'd. */
char *pres_route_of(sip_t const *sip, int reverse);
/* The next hop for an in-dialog request: the first Route, else the remote target; made TCP
 * when it is the outbound proxy and tcp_to_proxy is set. Allocated in home, or NULL to let
 * nta route by the request itself. */
url_string_t *pres_next_hop(sx_sip_pres *p, su_home_t *home, const char *route,
                            const char *target);
/* The outbound proxy as the first hop of a new request (TCP when tcp_to_proxy). */
url_string_t *pres_proxy_hop(sx_sip_pres *p, su_home_t *home);
/* Sends a request and forgets it (its transaction is destroyed when answered). */
int pres_send_orphan(sx_sip_pres *p, url_string_t const *hop, sip_method_t method,
                     const char *name, url_string_t const *ruri, tag_type_t tag,
                     tag_value_t value, ...);
void pres_orphans_free(sx_sip_pres *p);
/* Kicks the NOTIFY wait list after a slot freed. */
void pres_watch_pump(sx_sip_pres *p);
char *pres_strdup(const char *s);
uint64_t pres_now_ms(void);

#endif
