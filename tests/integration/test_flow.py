"""XMPP → SIP flow control (issue 2): at most max_in_flight SIP transactions at once, up to
max_queued more wait, and past that the XMPP sender gets resource-constraint — never a
silent drop. Chat states (XEP-0085 ↔ RFC 3994 isComposing) both ways."""

import time

import pytest

from conftest import EXTERNAL, INTERNAL

IN_FLIGHT, QUEUED, SENT = 2, 3, 12


@pytest.mark.parametrize("fresh_stack", [{"config": {"sip": {
    "max_in_flight": str(IN_FLIGHT), "max_queued": str(QUEUED)}}}], indirect=True)
def test_in_flight_bound_and_queue(fresh_stack):
    st = fresh_stack
    holding = [True]
    max_held = [0]

    def slow(m):
        # Hold every MESSAGE unanswered until the test has sent them all: the gateway must
        # keep at most IN_FLIGHT transactions open and the rest queued or refused meanwhile.
        if m.method == "MESSAGE" and holding[0]:
            max_held[0] = max(max_held[0], rcpt.held_count() + 1)
            return rcpt.HOLD
        return 200

    rcpt = st.ua("flow", responder=slow)
    sender = st.xmpp("alice")
    ids = [sender.send_message("flow@%s" % INTERNAL, "m%d" % i, id="flow-%d" % i)
           for i in range(SENT)]
    busy = []
    deadline = time.monotonic() + 10
    while len(busy) < SENT - IN_FLIGHT - QUEUED and time.monotonic() < deadline:
        try:
            m = sender.wait_message(lambda m: m.type == "error", timeout=0.5)
            busy.append(m)
        except TimeoutError:
            pass
    # The bound: exactly IN_FLIGHT transactions reached the phone while none was answered
    # (given time: a gateway over the bound would have sent more meanwhile).
    deadline = time.monotonic() + 5
    while rcpt.held_count() < IN_FLIGHT and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    assert rcpt.held_count() == IN_FLIGHT, "%d transactions open at once, bound %d" % (
        rcpt.held_count(), IN_FLIGHT)
    holding[0] = False
    rcpt.release_held(200)
    assert max_held[0] == IN_FLIGHT, max_held[0]
    assert {m.error_condition for m in busy} == {"resource-constraint"}, busy
    assert len(busy) == SENT - IN_FLIGHT - QUEUED, busy
    refused = {m.id for m in busy}
    # Everything else is delivered exactly once (transactions run in parallel and Kamailio's
    # workers may swap neighbours, so order is not checked).
    want = [i for i in ids if i not in refused]
    got = []
    deadline = time.monotonic() + 15
    while len(got) < len(want) and time.monotonic() < deadline:
        got = [m.body_text() for m in rcpt.requests("MESSAGE")]
        time.sleep(0.1)
    assert sorted(got) == sorted("m%s" % i.split("-")[1] for i in want), got
    # No error for a delivered message, none doubled.
    time.sleep(0.5)
    late = [m for m in sender.messages if m.type == "error"]
    assert not late, late
    st.gateway.wait_health(200, 5)


def test_chat_states_both_ways(fresh_stack):
    st = fresh_stack
    sip = st.ua("typist")
    x = st.xmpp("alice")
    # XMPP composing → SIP isComposing active
    x.send_message("typist@%s" % INTERNAL, body=None, id="cs1",
                   extra_xml="<composing xmlns='http://jabber.org/protocol/chatstates'/>")
    m = sip.wait_request(method="MESSAGE", timeout=10)
    assert (m.header("Content-Type") or "").lower().startswith("application/im-iscomposing+xml")
    assert "<state>active</state>" in m.body_text()
    # SIP isComposing idle → XMPP paused, no body
    doc = ('<?xml version="1.0" encoding="UTF-8"?>\n'
           '<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">'
           '<state>idle</state><contenttype>text/plain</contenttype></isComposing>')
    r = sip.send_message("sip:alice@%s" % EXTERNAL, doc,
                         content_type="application/im-iscomposing+xml")
    assert r.status == 202, (r.status, r.reason)
    got = x.wait_message(lambda m: "paused" in m.xml, timeout=10)
    assert got.body in (None, ""), got.xml


def test_udp_retransmission_delivered_once(fresh_stack):
    """Requests are handled without per-request transactions: a retransmitted MESSAGE (same
    branch, Call-ID, CSeq) gets the same answer and is not delivered a second time."""
    st = fresh_stack
    ua = st.ua("resend", register=False)
    x = st.xmpp("alice")
    data, branch, _ = ua.build_request("MESSAGE", "sip:alice@%s" % EXTERNAL,
                                       body="only once".encode(),
                                       content_type="text/plain;charset=UTF-8")
    first = ua.send_request_bytes(data, branch, "MESSAGE", st.gateway.sip_addr)
    again = ua.send_request_bytes(data, branch, "MESSAGE", st.gateway.sip_addr)
    assert (first.status, again.status) == (202, 202), (first.status, again.status)
    x.wait_message(lambda m: m.body == "only once", timeout=10)
    time.sleep(1.0)
    dup = [m for m in x.messages if m.body == "only once"]
    assert not dup, "retransmission delivered again: %r" % dup
    # A new transaction with the same text is a new message.
    r = ua.send_message("sip:alice@%s" % EXTERNAL, "only once", dest=st.gateway.sip_addr)
    assert r.status == 202
    x.wait_message(lambda m: m.body == "only once", timeout=10)
