"""Presence both ways through sipxmppd (SPEC §4, issue 6 items 1–3), between a real Kamailio
(registrar and presence server: presence + presence_xml on SQLite, force_active) and a real
Prosody (XMPP users on the partner domains).

- contoso.example is served by the gateway; XMPP is enabled for everyone (global policy).
- fabrikam.example is Federated, verified.example PublicVerified, unverified.example
  PublicUnverified, stranger.example is not a partner: each a Prosody VirtualHost.

SIP watchers subscribe through Kamailio (which record-routes the SUBSCRIBE to the gateway);
XMPP watchers subscribe with slixmpp; SIP users publish their presence to Kamailio, which the
gateway watches with one fan-out subscription per user.
"""

import random
import time

import pytest

import servers
from conftest import COMPONENT_SECRET, INTERNAL, need_gateway, stack_fixture
from sipua import SipUA, parse_pidf, pidf, sub_state

FED = "fabrikam.example"
VERIFIED = "verified.example"
UNVERIFIED = "unverified.example"
STRANGER = "stranger.example"

SETUP = [
    ["policy", "set", "global", "--xmpp"],
    ["partner", "new", FED, "--type", "federated"],
    ["partner", "new", VERIFIED, "--type", "public-verified"],
    ["partner", "new", UNVERIFIED, "--type", "public-unverified"],
]

ACCOUNTS = {n: "pw" for n in ("alice", "carol", "frank", "gina", "hugo", "ida", "jon",
                              "kate", "lena", "mona")}


def uid():
    return "%06x" % random.getrandbits(24)


@pytest.fixture(scope="module")
def pstack():
    need_gateway()
    yield from stack_fixture(
        "sx-pres-", with_gateway=True, ctl_setup=SETUP,
        config_overrides={"presence": {"min_expires": "5"}},
        kamailio_kw={"children": 1},
        prosody_kw=dict(users=ACCOUNTS, extra_components={},
                        extra_hosts={VERIFIED: {"vera": "pw", "vic": "pw"},
                                     UNVERIFIED: {"uma": "pw", "ulf": "pw"},
                                     STRANGER: {"sam": "pw"}},
                        component_secret=COMPONENT_SECRET))


@pytest.fixture
def ps(pstack):
    try:
        yield pstack
    finally:
        pstack.close_clients()


def ctl(st, *args, ok=(0,)):
    return st.gateway.ctl(*args, ok=ok)


def state_of(n):
    return sub_state(n)[0]


def sip_user(st, name=None):
    return st.ua(name or ("u" + uid()))


def pres_from(client, frm, pred=None, timeout=10):
    return client.wait_presence(lambda p: p.bare_from == frm and (pred is None or pred(p)),
                                timeout=timeout)


# ------------------------------------------------------------------ 1. SIP watcher → XMPP

def test_sip_watcher_pending_then_active_then_presence(ps):
    bob = sip_user(ps)
    carol = ps.xmpp("carol", auto_roster=False)
    bob_jid = "%s@%s" % (bob.user, INTERNAL)

    sub = bob.subscribe("sip:carol@%s" % FED, expires=300)
    assert sub.response.status == 200, (sub.response.status, sub.response.reason)
    assert sub.response.header("expires") == "300"
    n = sub.wait_notify(timeout=5)
    assert state_of(n) == "pending" and not n.body, (n.header("subscription-state"), n.body)

    req = pres_from(carol, bob_jid, lambda p: p.type == "subscribe")
    assert req.to.split("/")[0] == "carol@%s" % FED

    carol.send_presence(to=bob_jid, ptype="subscribed")
    n = sub.wait_notify(lambda m: state_of(m) == "active", timeout=5)
    carol.send_presence(show="away", statuses=[("en", "in a meeting")], priority=5)
    n = sub.wait_notify(lambda m: state_of(m) == "active" and m.body
                        and b"meeting" in m.body, timeout=5)
    doc = parse_pidf(n.body)
    assert doc["entity"] == "sip:carol@%s" % FED
    assert len(doc["tuples"]) == 1
    t = doc["tuples"][0]
    assert t["basic"] == "open" and t["show"] == "away"
    assert t["priority"] == "0.039"
    assert ("en", "in a meeting") in t["notes"]
    assert "away" in doc["activities"]

    # Going offline: the tuple closes.
    bob.clear()
    carol.send_presence(ptype="unavailable")
    n = sub.wait_notify(lambda m: m.body and b"closed" in m.body, timeout=5)
    assert [t["basic"] for t in parse_pidf(n.body)["tuples"]] == ["closed"]

    # Expires: 0 ends the dialog: terminated;reason=timeout, `unavailable` to carol (online
    # again: Prosody gives directed presence to available resources only) and never
    # `unsubscribe`.
    carol.send_presence(status="back")
    sub.wait_notify(lambda m: m.body and b"back" in m.body, timeout=5)
    carol.presences.clear()
    r = sub.unsubscribe()
    assert r.status == 200
    n = sub.wait_notify(lambda m: state_of(m) == "terminated", timeout=5)
    assert sub_state(n)[1].get("reason") == "timeout"
    pres_from(carol, bob_jid, lambda p: p.type == "unavailable", timeout=5)
    time.sleep(0.5)
    assert not carol.all_presences(lambda p: p.type == "unsubscribe"), carol.presences


def test_untrusted_source_cannot_use_a_dialog(ps):
    """An in-dialog SUBSCRIBE naming a live dialog, or a NOTIFY, from outside [sip]
    trusted_peers (127.0.0.2 here) is refused 403 and the dialog stays as it was."""
    bob = sip_user(ps)
    alice, sub = approved_contact(ps, "alice", bob)
    assert sub.remote_target, "the 200 carried no Contact"

    # Expires: 0 in bob's dialog (its Call-ID, tags and a higher CSeq), straight to the
    # gateway: from bob's address this would end the dialog.
    spoof = SipUA(bob.user, INTERNAL, bind_ip="127.0.0.2")
    ps._uas.append(spoof)
    data, branch, _ = spoof.build_request(
        "SUBSCRIBE", sub.remote_target, to_uri=sub.target, call_id=sub.call_id,
        from_tag=sub.from_tag, cseq=1000000,
        headers=[("Event", "presence"), ("Expires", "0"), ("Accept", "application/pidf+xml")])
    data = data.replace(("To: <%s>" % sub.target).encode(),
                        ("To: <%s>;tag=%s" % (sub.target, sub.to_tag)).encode(), 1)
    r = spoof.send_request_bytes(data, branch, "SUBSCRIBE", ps.gateway.sip_addr)
    assert r.status == 403, (r.status, r.reason)
    r = spoof.request("NOTIFY", "sip:%s@%s" % (bob.user, INTERNAL), dest=ps.gateway.sip_addr,
                      headers=[("Event", "presence"),
                               ("Subscription-State", "terminated;reason=noresource")])
    assert r.status == 403, (r.status, r.reason)

    # bob's dialog is alive: alice's next presence still reaches it.
    alice.send_presence(status="still here")
    sub.wait_notify(lambda m: state_of(m) == "active" and m.body and b"still here" in m.body,
                    timeout=5)
    sub.unsubscribe()


def test_second_dialog_is_active_at_once_without_asking_again(ps):
    bob = sip_user(ps)
    frank = ps.xmpp("frank", auto_roster=False)
    bob_jid = "%s@%s" % (bob.user, INTERNAL)
    s1 = bob.subscribe("sip:frank@%s" % FED, expires=300)
    assert s1.response.status == 200
    pres_from(frank, bob_jid, lambda p: p.type == "subscribe")
    frank.send_presence(to=bob_jid, ptype="subscribed")
    s1.wait_notify(lambda m: state_of(m) == "active", timeout=5)
    frank.presences.clear()

    # A second device of the same user: active at once, frank not asked again.
    phone = ps.ua(bob.user)
    s2 = phone.subscribe("sip:frank@%s" % FED, expires=300)
    assert s2.response.status == 200
    n = s2.wait_notify(timeout=5)
    assert state_of(n) == "active", n.header("subscription-state")
    time.sleep(0.5)
    assert not frank.all_presences(lambda p: p.type == "subscribe")

    # Every presence of frank reaches both dialogs.
    frank.send_presence(show="dnd", status="busy busy")
    for s in (s1, s2):
        n = s.wait_notify(lambda m: m.body and b"busy busy" in m.body, timeout=5)
        assert "busy" in parse_pidf(n.body)["activities"]
    s1.unsubscribe()
    s2.unsubscribe()


def test_two_resources_two_tuples_with_priorities(ps):
    bob = sip_user(ps)
    gina1 = ps.xmpp("gina", auto_roster=False)
    bob_jid = "%s@%s" % (bob.user, INTERNAL)
    sub = bob.subscribe("sip:gina@%s" % FED, expires=300)
    pres_from(gina1, bob_jid, lambda p: p.type == "subscribe")
    gina1.send_presence(to=bob_jid, ptype="subscribed")
    sub.wait_notify(lambda m: state_of(m) == "active", timeout=5)
    gina2 = ps.xmpp("gina", auto_roster=False, available=False)
    gina1.send_presence(priority=10, status="desk")
    gina2.send_presence(priority=127, show="xa", status="phone")
    # The two clients' stanzas may arrive in either order: wait for the state after both.
    n = sub.wait_notify(lambda m: m.body and sorted(
        t["priority"] or "" for t in parse_pidf(m.body)["tuples"]) == ["0.079", "1.000"],
        timeout=5)
    doc = parse_pidf(n.body)
    prios = sorted(t["priority"] for t in doc["tuples"])
    assert prios == ["0.079", "1.000"], doc
    assert all(t["id"].startswith("ID-") for t in doc["tuples"])
    # The most available resource (priority 127, xa) gives the person's activity.
    assert "away" in doc["activities"] and doc["idle"], doc
    sub.unsubscribe()


def test_unsubscribed_rejects_the_dialog(ps):
    bob = sip_user(ps)
    hugo = ps.xmpp("hugo", auto_roster=False)
    bob_jid = "%s@%s" % (bob.user, INTERNAL)
    sub = bob.subscribe("sip:hugo@%s" % FED, expires=300)
    pres_from(hugo, bob_jid, lambda p: p.type == "subscribe")
    hugo.send_presence(to=bob_jid, ptype="unsubscribed")
    n = sub.wait_notify(lambda m: state_of(m) == "terminated", timeout=5)
    assert sub_state(n)[1].get("reason") == "rejected"


def test_refresh_and_interval_too_brief(ps):
    bob = sip_user(ps)
    ida = ps.xmpp("ida", auto_roster=False)
    bob_jid = "%s@%s" % (bob.user, INTERNAL)
    r = bob.subscribe("sip:ida@%s" % FED, expires=2).response
    assert r.status == 423 and r.header("min-expires") == "5", (r.status, r.headers)

    sub = bob.subscribe("sip:ida@%s" % FED, expires=6)
    assert sub.response.status == 200 and sub.response.header("expires") == "6"
    pres_from(ida, bob_jid, lambda p: p.type == "subscribe")
    ida.send_presence(to=bob_jid, ptype="subscribed")
    ida.send_presence(status="here")
    sub.wait_notify(lambda m: m.body and b"here" in m.body, timeout=5)
    # Refresh before expiry: 200 and a NOTIFY with the cached state.
    bob.clear()
    time.sleep(3)
    r = sub.refresh(6)
    assert r.status == 200
    n = sub.wait_notify(timeout=5)
    assert state_of(n) == "active" and b"here" in n.body
    # Not refreshed again: the dialog expires with terminated;reason=timeout.
    n = sub.wait_notify(lambda m: state_of(m) == "terminated", timeout=12)
    assert sub_state(n)[1].get("reason") == "timeout"


def test_sip_watcher_refused_for_non_partner(ps):
    bob = sip_user(ps)
    sub = bob.subscribe("sip:sam@%s" % STRANGER, expires=300)
    assert sub.response.status == 403
    assert "not an XMPP partner" in (sub.response.header("warning") or "")


# ------------------------------------------------------------------ 2. XMPP watcher → SIP

def publish(ua, basic="open", activity=None, note=None):
    r = ua.publish(pidf(ua.aor, basic, activity=activity, note=note, lang="en"),
                   expires=600)
    assert r.status == 200, (r.status, r.reason)
    return r


def gateway_watchers(st, user):
    return [r for r in st.kamailio.active_watchers("sip:%s@%s" % (user, INTERNAL))
            if r[1].startswith("gateway@")]


def wait_rows(st, user, n, timeout=10):
    deadline = time.monotonic() + timeout
    rows = gateway_watchers(st, user)
    while len(rows) != n and time.monotonic() < deadline:
        time.sleep(0.1)
        rows = gateway_watchers(st, user)
    return rows


def test_fanout_one_subscription_for_two_federated_watchers(ps):
    bob = sip_user(ps)
    bob_jid = "%s@%s" % (bob.user, INTERNAL)
    publish(bob, "open", activity="away", note="back at 3")
    jon = ps.xmpp("jon", auto_roster=False)
    kate = ps.xmpp("kate", auto_roster=False)

    jon.send_presence(to=bob_jid, ptype="subscribe")
    pres_from(jon, bob_jid, lambda p: p.type == "subscribed")
    p = pres_from(jon, bob_jid, lambda p: p.type == "available" and p.show == "away")
    assert p.status == "back at 3", p.xml   # Federated sees notes

    kate.send_presence(to=bob_jid, ptype="subscribe")
    pres_from(kate, bob_jid, lambda p: p.type == "subscribed")
    # A newly approved watcher gets the current presence at once.
    pres_from(kate, bob_jid, lambda p: p.type == "available" and p.show == "away")

    rows = wait_rows(ps, bob.user, 1)
    assert len(rows) == 1 and rows[0][4] == 1, rows

    # A new publication reaches both.
    publish(bob, "open", activity="on-the-phone", note="call")
    for c in (jon, kate):
        pres_from(c, bob_jid, lambda p: p.show == "dnd" and p.status == "call")
    publish(bob, "closed")
    for c in (jon, kate):
        pres_from(c, bob_jid, lambda p: p.type == "unavailable")

    # Probe from an approved watcher → current presence.
    jon.presences.clear()
    jon.send_presence(to=bob_jid, ptype="probe")
    pres_from(jon, bob_jid, lambda p: p.type in ("available", "unavailable"))

    # The last watcher leaving ends the fan-out. (The gateway answers `unsubscribed`;
    # Prosody does not hand it to jon, whose own unsubscribe already ended the relation.)
    jon.send_presence(to=bob_jid, ptype="unsubscribe")
    jon.sync()
    time.sleep(0.5)
    assert len(wait_rows(ps, bob.user, 1)) == 1
    kate.send_presence(to=bob_jid, ptype="unsubscribe")
    rows = wait_rows(ps, bob.user, 0)
    if rows and ps.kamailio.delete_failed():
        # Kamailio could not delete the row (SQLite lock, see servers.Kamailio): its next
        # NOTIFY to the ended dialog must get 481 from the gateway, which removes it.
        publish(bob, "open")
        rows = wait_rows(ps, bob.user, 0)
    assert rows == []
    assert ps.gateway.log_contains(r"%s -> kate@%s: unsubscribed" % (bob_jid, FED))


def test_public_verified_sees_no_notes(ps):
    bob = sip_user(ps)
    bob_jid = "%s@%s" % (bob.user, INTERNAL)
    publish(bob, "open", activity="busy", note="secret plans")
    vera = ps.xmpp("vera", domain=VERIFIED, auto_roster=False)
    vera.send_presence(to=bob_jid, ptype="subscribe")
    pres_from(vera, bob_jid, lambda p: p.type == "subscribed")
    p = pres_from(vera, bob_jid, lambda p: p.type == "available" and p.show == "dnd")
    assert p.status is None and "secret" not in p.xml, p.xml
    vera.send_presence(to=bob_jid, ptype="unsubscribe")


def test_public_unverified_pending_until_contact_added(ps):
    bob = sip_user(ps)
    bob_jid = "%s@%s" % (bob.user, INTERNAL)
    publish(bob, "open", note="hello")
    uma = ps.xmpp("uma", domain=UNVERIFIED, auto_roster=False)
    uma.send_presence(to=bob_jid, ptype="subscribe")
    time.sleep(1.0)
    assert not uma.all_presences(lambda p: p.bare_from == bob_jid and p.type == "subscribed")
    t0 = time.monotonic()
    ctl(ps, "contact", "add", "sip:" + bob_jid, "uma@%s" % UNVERIFIED)
    pres_from(uma, bob_jid, lambda p: p.type == "subscribed", timeout=5)
    took = time.monotonic() - t0
    assert took < 2.5, took  # within 1 s of the daemon seeing the change (plus the CLI)
    p = pres_from(uma, bob_jid, lambda p: p.type == "available")
    assert p.status is None, p.xml   # PublicUnverified sees no notes
    uma.send_presence(to=bob_jid, ptype="unsubscribe")


def test_non_partner_subscribe_gets_service_unavailable(ps):
    bob = sip_user(ps)
    bob_jid = "%s@%s" % (bob.user, INTERNAL)
    sam = ps.xmpp("sam", domain=STRANGER, auto_roster=False)
    sam.send_presence(to=bob_jid, ptype="subscribe")
    p = pres_from(sam, bob_jid, lambda p: p.type == "error")
    assert p.error_condition == "service-unavailable", p.xml
    # A probe from anyone not approved gets `unsubscribed`, never presence.
    sam.send_presence(to=bob_jid, ptype="probe")
    p = pres_from(sam, bob_jid, lambda p: p.type in ("unsubscribed", "available",
                                                     "unavailable"))
    assert p.type == "unsubscribed", p.xml


# ------------------------------------------------------------------ dialogs and operation

def approved_contact(st, name, bob):
    """bob (SIP) watches `name`@FED with an answered XMPP subscription; returns
    (client, dialog)."""
    c = st.xmpp(name, auto_roster=False)
    bob_jid = "%s@%s" % (bob.user, INTERNAL)
    sub = bob.subscribe("sip:%s@%s" % (name, FED), expires=300)
    assert sub.response.status == 200
    pres_from(c, bob_jid, lambda p: p.type == "subscribe")
    c.send_presence(to=bob_jid, ptype="subscribed")
    sub.wait_notify(lambda m: state_of(m) == "active", timeout=5)
    return c, sub


def test_fetch_gets_one_terminated_notify_with_cached_state(ps):
    bob = sip_user(ps)
    lena, sub = approved_contact(ps, "lena", bob)
    lena.send_presence(show="away", status="fetch me")
    sub.wait_notify(lambda m: m.body and b"fetch me" in m.body, timeout=5)
    fetch = bob.subscribe("sip:lena@%s" % FED, expires=0)
    assert fetch.response.status == 200
    n = fetch.wait_notify(timeout=5)
    assert sub_state(n) == ("terminated", {"reason": "timeout"}), n.header("subscription-state")
    assert b"fetch me" in n.body
    time.sleep(0.5)
    assert len(fetch.notifies()) == 1
    sub.unsubscribe()


def test_retransmitted_subscribe_is_answered_by_its_dialog(ps):
    bob = sip_user(ps)
    mona = ps.xmpp("mona", auto_roster=False)
    data, branch, call_id = bob.build_request(
        "SUBSCRIBE", "sip:mona@%s" % FED, headers=[("Event", "presence"), ("Expires", "60")])
    r1 = bob.send_request_bytes(data, branch, "SUBSCRIBE", ps.gateway.sip_addr)
    r2 = bob.send_request_bytes(data, branch, "SUBSCRIBE", ps.gateway.sip_addr)
    assert r1.status == r2.status == 200
    assert r1.header("to") == r2.header("to") and ";tag=" in r1.header("to")
    assert r2.header("expires") is not None and r2.header("contact")
    time.sleep(1.0)
    initial = bob.notifies(call_id)
    assert len(initial) == 1, initial   # one dialog, one initial NOTIFY
    pres = mona.all_presences(lambda p: p.type == "subscribe")
    assert len(pres) == 1, pres


def test_contact_remove_ends_the_relation_for_good(ps):
    bob = sip_user(ps)
    kate2 = ps.xmpp("kate", auto_roster=False)
    bob_jid = "%s@%s" % (bob.user, INTERNAL)
    sub = bob.subscribe("sip:kate@%s" % FED, expires=300)
    pres_from(kate2, bob_jid, lambda p: p.type == "subscribe")
    kate2.send_presence(to=bob_jid, ptype="subscribed")
    sub.wait_notify(lambda m: state_of(m) == "active", timeout=5)
    ctl(ps, "contact", "remove", "sip:" + bob_jid, "kate@%s" % FED)
    n = sub.wait_notify(lambda m: state_of(m) == "terminated", timeout=3)
    assert sub_state(n)[1].get("reason") == "rejected"
    pres_from(kate2, bob_jid, lambda p: p.type == "unsubscribe", timeout=3)


def test_metrics_show_presence(ps):
    bob = sip_user(ps)
    lena, sub = approved_contact(ps, "lena", bob)
    st, text, _ = ps.gateway.metrics()
    assert st == 200
    import re
    m = re.search(r'^sipxmpp_presence_sip_dialogs\{direction="watcher"\} (\d+)$', text, re.M)
    assert m and int(m.group(1)) >= 1, text
    assert re.search(r'^sipxmpp_presence_relations\{side="out",state="subscribed"\} [1-9]',
                     text, re.M), text
    assert re.search(r'^sipxmpp_presence_notifies_total\{result="ok"\} [1-9]', text, re.M)
    assert "sipxmpp_presence_fanout_subscriptions" in text
    assert "sipxmpp_presence_resubscribes_total" in text
    sub.unsubscribe()


def test_public_unverified_approved_when_the_user_subscribes_to_it(ps):
    bob = sip_user(ps)
    bob_jid = "%s@%s" % (bob.user, INTERNAL)
    ulf = ps.xmpp("ulf", domain=UNVERIFIED, auto_roster=False)
    ulf.send_presence(to=bob_jid, ptype="subscribe")
    time.sleep(1.0)
    assert not ulf.all_presences(lambda p: p.bare_from == bob_jid and p.type == "subscribed")
    # bob watches ulf: that adds the contact, which approves ulf's pending request.
    sub = bob.subscribe("sip:ulf@%s" % UNVERIFIED, expires=300)
    assert sub.response.status == 200
    pres_from(ulf, bob_jid, lambda p: p.type == "subscribed", timeout=2)
    pres_from(ulf, bob_jid, lambda p: p.type == "subscribe", timeout=2)
    sub.unsubscribe()


def test_notify_answered_481_ends_the_dialog(ps):
    bob = sip_user(ps)
    bob_jid = "%s@%s" % (bob.user, INTERNAL)
    lena, sub = approved_contact(ps, "lena", bob)
    bob.responder = lambda m: 481 if m.call_id == sub.call_id else None
    lena.presences.clear()
    lena.send_presence(status="are you there")
    # The next NOTIFY gets 481: its last dialog gone, bob's directed presence to lena ends.
    pres_from(lena, bob_jid, lambda p: p.type == "unavailable", timeout=5)
    n = len(sub.notifies())
    lena.send_presence(status="hello?")
    time.sleep(1.0)
    assert len(sub.notifies()) == n, sub.notifies()
    bob.responder = None


@pytest.mark.parametrize("name,domain", [("vic", VERIFIED), ("ulf", UNVERIFIED)])
def test_sip_watcher_of_each_partner_type(ps, name, domain):
    """Watching out is allowed for an enabled user whatever the partner type; the NOTIFY
    carries the contact's notes (only the other direction strips them)."""
    bob = sip_user(ps)
    bob_jid = "%s@%s" % (bob.user, INTERNAL)
    c = ps.xmpp(name, domain=domain, auto_roster=False)
    sub = bob.subscribe("sip:%s@%s" % (name, domain), expires=300)
    assert sub.response.status == 200
    assert state_of(sub.wait_notify(timeout=5)) == "pending"
    pres_from(c, bob_jid, lambda p: p.type == "subscribe")
    c.send_presence(to=bob_jid, ptype="subscribed")
    c.send_presence(show="away", status="note for bob")
    n = sub.wait_notify(lambda m: m.body and b"note for bob" in m.body, timeout=5)
    assert parse_pidf(n.body)["tuples"][0]["show"] == "away"
    sub.unsubscribe()
