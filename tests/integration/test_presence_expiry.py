"""Unanswered subscription requests ([federation] subscription_refresh_s, here 10 s) through a
real Kamailio and a real Prosody: a contact's request the user never approves is dropped; the
gateway's own `subscribe` is sent again while a SIP watcher still wants the contact, and
forgotten once no SIP watcher does. The store (`sipxmppctl contact list --json`) shows it."""

import json
import time

import pytest

from conftest import COMPONENT_SECRET, INTERNAL, need_gateway, stack_fixture
from test_presence import FED, UNVERIFIED, ctl, pres_from, sip_user, state_of

REFRESH_S = 10
SETUP = [
    ["policy", "set", "global", "--xmpp"],
    ["partner", "new", FED, "--type", "federated"],
    ["partner", "new", UNVERIFIED, "--type", "public-unverified"],
]


@pytest.fixture(scope="module")
def xstack():
    need_gateway()
    yield from stack_fixture(
        "sx-presexp-", with_gateway=True, ctl_setup=SETUP,
        config_overrides={"presence": {"min_expires": "5"},
                          "federation": {"subscription_refresh_s": str(REFRESH_S)}},
        kamailio_kw={"children": 1},
        prosody_kw=dict(users={"carol": "pw", "dora": "pw"}, extra_components={},
                        extra_hosts={UNVERIFIED: {"uma": "pw"}},
                        component_secret=COMPONENT_SECRET))


@pytest.fixture
def xs(xstack):
    try:
        yield xstack
    finally:
        xstack.close_clients()


def relation(st, user_jid, contact):
    rows = json.loads(ctl(st, "--json", "contact", "list", "sip:" + user_jid).stdout)
    for r in rows:
        if r["contact"] == contact:
            return r
    return None


def wait_relation(st, user_jid, contact, pred, timeout):
    deadline = time.monotonic() + timeout
    while True:
        r = relation(st, user_jid, contact)
        if pred(r):
            return r
        if time.monotonic() > deadline:
            raise AssertionError("relation %s / %s: %r" % (user_jid, contact, r))
        time.sleep(0.5)


def test_unapproved_request_from_contact_is_dropped(xs):
    bob = sip_user(xs)
    bob_jid = "%s@%s" % (bob.user, INTERNAL)
    uma = xs.xmpp("uma", domain=UNVERIFIED, auto_roster=False)
    uma.send_presence(to=bob_jid, ptype="subscribe")
    contact = "uma@%s" % UNVERIFIED
    r = wait_relation(xs, bob_jid, contact,
                      lambda r: r and r["subscription_in"] == "pending", timeout=5)
    t0 = time.monotonic()
    # Kept for the interval, gone within it plus one sweep period (2.5 s) and slack.
    time.sleep(REFRESH_S - 3)
    r = relation(xs, bob_jid, contact)
    assert r and r["subscription_in"] == "pending", r
    wait_relation(xs, bob_jid, contact,
                  lambda r: r is None or r["subscription_in"] == "none",
                  timeout=REFRESH_S + 8 - (time.monotonic() - t0))
    # Nothing was approved on the way.
    assert not uma.all_presences(lambda p: p.bare_from == bob_jid and p.type == "subscribed")
    assert xs.gateway.log_contains("the contact's request dropped")


def test_own_subscribe_sent_again_while_watched_then_forgotten(xs):
    bob = sip_user(xs)
    bob_jid = "%s@%s" % (bob.user, INTERNAL)
    dora = xs.xmpp("dora", auto_roster=False)  # online, never answers
    contact = "dora@%s" % FED
    sub = bob.subscribe("sip:" + contact, expires=120)
    assert sub.response.status == 200, (sub.response.status, sub.response.reason)
    n = sub.wait_notify(timeout=5)
    assert state_of(n) == "pending", n.header("subscription-state")
    pres_from(dora, bob_jid, lambda p: p.type == "subscribe", timeout=5)
    t0 = time.monotonic()
    # Still wanted by a SIP watcher: the gateway sends the same request again after the
    # interval (Prosody does not hand dora a duplicate of a request she has pending, so the
    # stanza is counted where it leaves: the gateway's log of what it sends).
    sent = "%s -> %s: subscribe" % (bob_jid, contact)
    deadline = t0 + REFRESH_S + 8
    while xs.gateway.log_text().count(sent) < 2:
        assert time.monotonic() < deadline, "no second subscribe"
        time.sleep(0.3)
    took = time.monotonic() - t0
    assert took >= REFRESH_S - 1, took
    assert xs.gateway.log_contains("subscribe sent again")
    r = relation(xs, bob_jid, contact)
    assert r and r["subscription_out"] == "pending", r
    # No SIP watcher any more: the unanswered subscribe is forgotten after the interval.
    assert sub.unsubscribe().status == 200
    wait_relation(xs, bob_jid, contact,
                  lambda r: r is None or r["subscription_out"] == "none",
                  timeout=REFRESH_S + 10)
    assert xs.gateway.log_contains("our subscribe forgotten")
