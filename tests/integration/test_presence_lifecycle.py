"""Presence relations across restarts, edge reconnects, policy changes and SIGTERM (issue 6
items 4–6), each test on its own stack (real Kamailio presence server, real Prosody)."""

import time

import pytest

from conftest import COMPONENT_SECRET, INTERNAL, need_gateway, stack_fixture
from sipua import parse_pidf, pidf, sub_state

FED = "fabrikam.example"
SETUP = [
    ["policy", "set", "global", "--xmpp"],
    ["partner", "new", FED, "--type", "federated"],
]


@pytest.fixture
def lst():
    need_gateway()
    yield from stack_fixture(
        "sx-preslife-", with_gateway=True, ctl_setup=SETUP,
        config_overrides={"presence": {"min_expires": "5"}},
        kamailio_kw={"children": 1},
        prosody_kw=dict(users={"alice": "pw", "carol": "pw"}, extra_components={},
                        component_secret=COMPONENT_SECRET))


def ctl(st, *args, ok=(0,)):
    return st.gateway.ctl(*args, ok=ok)


def state_of(n):
    return sub_state(n)[0]


def pres_from(client, frm, pred=None, timeout=10):
    return client.wait_presence(lambda p: p.bare_from == frm and (pred is None or pred(p)),
                                timeout=timeout)


def both_ways(st):
    """bob (SIP) watches carol (XMPP) and alice (XMPP) watches bob. Returns
    (bob, sub, carol, alice)."""
    bob = st.ua("bob")
    bob_jid = "bob@%s" % INTERNAL
    r = bob.publish(pidf(bob.aor, "open", activity="away", note="lunch"), expires=3600)
    assert r.status == 200
    carol = st.xmpp("carol", auto_roster=False)
    alice = st.xmpp("alice", auto_roster=False)
    sub = bob.subscribe("sip:carol@%s" % FED, expires=600)
    assert sub.response.status == 200
    pres_from(carol, bob_jid, lambda p: p.type == "subscribe")
    carol.send_presence(to=bob_jid, ptype="subscribed")
    carol.send_presence(show="chat", status="hi")
    sub.wait_notify(lambda m: m.body and b"hi" in m.body, timeout=5)
    alice.send_presence(to=bob_jid, ptype="subscribe")
    pres_from(alice, bob_jid, lambda p: p.type == "subscribed")
    pres_from(alice, bob_jid, lambda p: p.show == "away")
    return bob, sub, carol, alice


def test_gateway_restart_keeps_relations(lst):
    bob, sub, carol, alice = both_ways(lst)
    bob_jid = "bob@%s" % INTERNAL
    lst.gateway.stop()
    # While it is down, bob's presence changes: after the restart alice gets the new one.
    r = bob.publish(pidf(bob.aor, "open", activity="busy", note="call"), expires=3600)
    assert r.status == 200
    carol.presences.clear()
    alice.presences.clear()
    lst.gateway._launch(20)
    # alice: the current presence (dnd), with no new subscribe from anyone.
    pres_from(alice, bob_jid, lambda p: p.show == "dnd", timeout=10)
    # A fetch with nothing cached yet: the gateway probes carol and answers with her state.
    fetch = bob.subscribe("sip:carol@%s" % FED, expires=0)
    assert fetch.response.status == 200
    n = fetch.wait_notify(timeout=5)
    assert sub_state(n) == ("terminated", {"reason": "timeout"}), n.header("subscription-state")
    assert n.body and [t["basic"] for t in parse_pidf(n.body)["tuples"]] == ["open"], n.body
    # A new dialog is active at once, and carol never gets a new subscribe.
    sub2 = bob.subscribe("sip:carol@%s" % FED, expires=600)
    assert sub2.response.status == 200
    n = sub2.wait_notify(lambda m: state_of(m) == "active" and m.body, timeout=5)
    assert [t["basic"] for t in parse_pidf(n.body)["tuples"]] == ["open"]
    time.sleep(0.5)
    assert not carol.all_presences(lambda p: p.type == "subscribe")
    assert not alice.all_presences(lambda p: p.type in ("subscribe", "unsubscribed"))


def test_edge_restart_state_again_within_10s(lst):
    bob, sub, carol, alice = both_ways(lst)
    bob_jid = "bob@%s" % INTERNAL
    carol.close()
    alice.close()
    lst.prosody.restart()
    carol = lst.xmpp("carol", auto_roster=False)
    lst.gateway.wait_health(200, 20)
    t0 = time.monotonic()
    carol.send_presence(show="dnd", status="back")
    n = sub.wait_notify(lambda m: m.body and b"back" in m.body, timeout=10)
    assert time.monotonic() - t0 < 10
    assert "busy" in parse_pidf(n.body)["activities"]
    # The fan-out started over after the reconnect, and alice (online again) sees bob.
    alice = lst.xmpp("alice", auto_roster=False)
    pres_from(alice, bob_jid, lambda p: p.show == "away", timeout=10)
    st, text, _ = lst.gateway.metrics()
    import re
    m = re.search(r"^sipxmpp_presence_resubscribes_total (\d+)$", text, re.M)
    assert m and int(m.group(1)) >= 1, text


REVOKE = {
    "user_not_enabled": (["policy", "set", "global", "--xmpp=off"],
                         ["policy", "set", "global", "--xmpp=on"]),
    "partner_removed": (["partner", "remove", FED],
                        ["partner", "new", FED, "--type", "federated"]),
}


@pytest.mark.parametrize("how", sorted(REVOKE))
def test_policy_revoked_and_restored(lst, how):
    revoke, restore = REVOKE[how]
    bob, sub, carol, alice = both_ways(lst)
    bob_jid = "bob@%s" % INTERNAL
    alice.presences.clear()
    t0 = time.monotonic()
    ctl(lst, *revoke)
    n = sub.wait_notify(lambda m: state_of(m) == "terminated", timeout=5)
    assert sub_state(n)[1].get("reason") == "rejected"
    pres_from(alice, bob_jid, lambda p: p.type == "unavailable", timeout=5)
    assert time.monotonic() - t0 < 3
    # Suspended: a probe from alice is answered unavailable.
    alice.send_presence(to=bob_jid, ptype="probe")
    pres_from(alice, bob_jid, lambda p: p.type == "unavailable", timeout=5)
    alice.presences.clear()
    ctl(lst, *restore)
    # alice sees bob again with no new request from anyone.
    pres_from(alice, bob_jid, lambda p: p.show == "away", timeout=5)
    assert not alice.all_presences(lambda p: p.type == "subscribe")


def test_sigterm_tells_everyone(lst):
    bob, sub, carol, alice = both_ways(lst)
    bob_jid = "bob@%s" % INTERNAL
    alice.presences.clear()
    t0 = time.monotonic()
    rc = lst.gateway.stop()
    assert rc == 0
    assert time.monotonic() - t0 < 5
    n = sub.wait_notify(lambda m: state_of(m) == "terminated", timeout=2)
    assert sub_state(n)[1].get("reason") == "deactivated"
    pres_from(alice, bob_jid, lambda p: p.type == "unavailable", timeout=2)
    def rows():
        return [r for r in lst.kamailio.active_watchers("sip:bob@%s" % INTERNAL)
                if r[1].startswith("gateway@")]
    deadline = time.monotonic() + 5
    while rows() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rows() == [] or lst.kamailio.delete_failed(), rows()
    lst.gateway = None


@pytest.fixture
def lst_short():
    need_gateway()
    yield from stack_fixture(
        "sx-preslife-", with_gateway=True, ctl_setup=SETUP,
        config_overrides={"presence": {"min_expires": "5", "fanout_expires": "10"}},
        kamailio_kw={"children": 1},
        prosody_kw=dict(users={"alice": "pw", "carol": "pw"}, extra_components={},
                        component_secret=COMPONENT_SECRET))


def test_fanout_refreshed_and_reestablished_after_481(lst_short):
    st = lst_short
    bob = st.ua("bob")
    bob_jid = "bob@%s" % INTERNAL
    assert bob.publish(pidf(bob.aor, "open", note="one"), expires=3600).status == 200
    alice = st.xmpp("alice", auto_roster=False)
    alice.send_presence(to=bob_jid, ptype="subscribe")
    pres_from(alice, bob_jid, lambda p: p.status == "one")

    def rows():
        return [r for r in st.kamailio.active_watchers("sip:bob@%s" % INTERNAL)
                if r[1].startswith("gateway@")]
    first = rows()
    assert len(first) == 1, first
    expires0 = first[0][3]
    # Refreshed at 80 % of the 10 s granted: same dialog, later expiry.
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline and rows() and rows()[0][3] == expires0:
        time.sleep(0.2)
    r = rows()
    assert len(r) == 1 and r[0][2] == first[0][2] and r[0][3] > expires0, (first, r)

    # The presence server forgets the subscription: the next refresh gets 481 and the
    # gateway subscribes again (a new dialog), with no watcher involved.
    import sqlite3
    con = sqlite3.connect(st.kamailio.db_path, timeout=5)
    con.execute("DELETE FROM active_watchers WHERE callid = ?", (first[0][2],))
    con.commit()
    con.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (rows() and rows()[0][2] != first[0][2]):
        time.sleep(0.2)
    r = rows()
    assert len(r) == 1 and r[0][2] != first[0][2], r
    _, text, _ = st.gateway.metrics()
    import re
    m = re.search(r"^sipxmpp_presence_resubscribes_total (\d+)$", text, re.M)
    assert m and int(m.group(1)) >= 1, text
    assert bob.publish(pidf(bob.aor, "open", note="two"), expires=3600).status == 200
    pres_from(alice, bob_jid, lambda p: p.status == "two", timeout=5)


@pytest.fixture
def fake_ps():
    """A stack whose outbound proxy is a scripted presence server (a SipUA): Kamailio would
    never send the malformed PIDF this test needs (it checks what is PUBLISHed)."""
    need_gateway()
    from sipua import SipUA
    port_holder = {}

    def responder(m):
        if m.method == "SUBSCRIBE":
            port_holder.setdefault("subs", []).append(m)
            return (200, "OK", [("Contact", ua.contact("tcp")), ("Expires", "600")])
        return None
    ua = SipUA("bob", INTERNAL, responder=responder)
    gen = stack_fixture(
        "sx-preslife-", with_gateway=True, ctl_setup=SETUP,
        config_overrides={"sip": {"outbound_proxy": "sip:127.0.0.1:%d" % ua.port}},
        kamailio_kw={"children": 1},
        prosody_kw=dict(users={"alice": "pw", "carol": "pw"}, extra_components={},
                        component_secret=COMPONENT_SECRET))
    st = next(gen)
    st.fake = ua
    st.fake_subs = port_holder
    try:
        yield st
    finally:
        ua.close()
        try:
            next(gen)
        except StopIteration:
            pass


def test_bad_pidf_in_a_fanout_notify_gets_400_and_changes_nothing(fake_ps):
    st = fake_ps
    ua = st.fake
    bob_jid = "bob@%s" % INTERNAL
    alice = st.xmpp("alice", auto_roster=False)
    alice.send_presence(to=bob_jid, ptype="subscribe")
    pres_from(alice, bob_jid, lambda p: p.type == "subscribed")
    deadline = time.monotonic() + 10
    while not st.fake_subs.get("subs") and time.monotonic() < deadline:
        time.sleep(0.05)
    sub = st.fake_subs["subs"][0]
    assert sub.header("event") == "presence"
    assert "sip:gateway@%s" % INTERNAL in sub.header("from")
    assert sub.transport == "tcp"   # presence requests to the proxy go over TCP
    import re
    gw_contact = re.search(r"<([^>]+)>", sub.header("contact")).group(1)
    gw_tag = re.search(r"tag=([^;>\s]+)", sub.header("from")).group(1)
    cseq = [1]

    def notify(body, ctype="application/pidf+xml"):
        cseq[0] += 1
        data, branch, _ = ua.build_request(
            "NOTIFY", gw_contact, transport="tcp", from_uri=ua.aor,
            to_uri="sip:gateway@%s" % INTERNAL, call_id=sub.call_id, cseq=cseq[0],
            headers=[("Event", "presence"), ("Subscription-State", "active;expires=600")],
            body=body.encode(), content_type=ctype)
        data = data.replace(("To: <sip:gateway@%s>" % INTERNAL).encode(),
                            ("To: <sip:gateway@%s>;tag=%s" % (INTERNAL, gw_tag)).encode(), 1)
        return ua.send_request_bytes(data, branch, "NOTIFY", st.gateway.sip_addr, "tcp")

    r = notify(pidf(ua.aor, "open", activity="busy", note="good"))
    assert r.status == 200, (r.status, r.reason)
    pres_from(alice, bob_jid, lambda p: p.show == "dnd" and p.status == "good")
    r = notify("<presence xmlns='urn:ietf:params:xml:ns:pidf'><tuple id='x'>")
    assert r.status == 400, (r.status, r.reason)
    r = notify('<!DOCTYPE x [<!ENTITY a "b">]><presence/>')
    assert r.status == 400, (r.status, r.reason)
    r = notify("hello", ctype="text/plain")
    assert r.status == 415, (r.status, r.reason)
    # Nothing changed: a probe still gets the last good state.
    alice.presences.clear()
    alice.send_presence(to=bob_jid, ptype="probe")
    p = pres_from(alice, bob_jid)
    assert p.show == "dnd" and p.status == "good", p.xml
