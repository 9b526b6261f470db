"""SIP → XMPP refusal paths that had no test: a target in a served domain (404, an internal
user is not an XMPP contact) and a link that is not keeping up (503 "XMPP Edge Link Busy"
with Retry-After once 2,048 stanzas wait for the edge server's confirmation)."""

import os
import re
import select
import signal
import socket
import time

import pytest

from conftest import EXTERNAL, INTERNAL
from sipua import new_branch, new_call_id

UNCONFIRMED_MAX = 2048  # relay_sip.c MAX_UNCONFIRMED


def test_internal_target_gets_404(im):
    ua = im.ua("o'brien")
    before = im.gateway.metrics()[1]
    r = ua.send_message("sip:bob@%s" % INTERNAL, "to an internal user",
                        dest=im.gateway.sip_addr)
    assert r.status == 404, (r.status, r.reason)
    assert "internal user" in (r.header("Warning") or ""), r.raw[:500]
    after = im.gateway.metrics()[1]
    key = r'sipxmpp_refusals_total\{direction="sip_to_xmpp",reason="internal_target"\} (\S+)'
    b = re.search(key, before)
    a = re.search(key, after)
    assert a and float(a.group(1)) == (float(b.group(1)) if b else 0) + 1, after


def _message(port, i, tag):
    body = "busy %s %d" % (tag, i)
    return ("MESSAGE sip:d&j@%s SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;rport;branch=%s\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:o'brien@%s>;tag=t%d\r\n"
            "To: <sip:d&j@%s>\r\n"
            "Call-ID: %s\r\n"
            "CSeq: 1 MESSAGE\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: %d\r\n\r\n%s"
            % (EXTERNAL, port, new_branch(), INTERNAL, i, EXTERNAL,
               "%s-%d-%s" % (tag, i, new_call_id()), len(body), body)).encode()


def _statuses(sock, until, want=None):
    """{call-id: (status, raw)} of the final responses read until `until` (or until `want`
    answers were read)."""
    out = {}
    while time.monotonic() < until and (want is None or len(out) < want):
        r, _, _ = select.select([sock], [], [], max(0.0, until - time.monotonic()))
        if not r:
            break
        data = sock.recv(70000)
        m = re.match(rb"SIP/2\.0 (\d{3}) ", data)
        c = re.search(rb"^Call-ID:\s*(\S+)", data, re.M | re.I)
        if m and c and int(m.group(1)) >= 200:
            out[c.group(1).decode()] = (int(m.group(1)), data)
    return out


def test_link_busy_gets_503_with_retry_after(fresh_stack):
    st = fresh_stack
    gw = st.gateway
    rcpt = st.xmpp("d\\26j")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    tag = "lb%d" % os.getpid()
    n = UNCONFIRMED_MAX + 100
    # The edge server stops reading: what the gateway sends stays unconfirmed.
    os.kill(st.prosody.pid, signal.SIGSTOP)
    try:
        for i in range(n):
            sock.sendto(_message(port, i, tag), gw.sip_addr)
            if i % 20 == 19:
                time.sleep(0.02)  # within what the gateway's socket buffer holds
        early = _statuses(sock, time.monotonic() + 5)
    finally:
        os.kill(st.prosody.pid, signal.SIGCONT)
    busy = {c: raw for c, (s, raw) in early.items() if s == 503}
    others = {c: s for c, (s, raw) in early.items() if s != 503}
    assert not others, "answered while the edge was stopped: %r" % sorted(
        set(others.values()))
    assert len(busy) >= n - UNCONFIRMED_MAX, (len(busy), n)
    assert len(busy) <= n - UNCONFIRMED_MAX + 50, (len(busy), n)
    for raw in list(busy.values())[:20]:
        assert b"Link Busy" in raw, raw[:300]
        assert re.search(rb"^Retry-After:\s*\d+", raw, re.M | re.I), raw[:300]
    # The edge resumes: every waiting message is confirmed (202) and delivered.
    late = _statuses(sock, time.monotonic() + 30, want=n - len(busy))
    sock.close()
    assert late and {s for s, _ in late.values()} == {202}, sorted(
        {s for s, _ in late.values()})
    assert len(late) == n - len(busy), (len(late), n - len(busy))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = rcpt.all_messages(lambda m: (m.body or "").startswith("busy %s " % tag))
        if len(got) >= len(late):
            break
        time.sleep(0.2)
    assert len(got) == len(late), (len(got), len(late))
    assert gw.healthz() == 200


def test_shutdown_answers_messages_waiting_for_the_edge(fresh_stack):
    """SIGTERM while MESSAGEs wait for the edge server's confirmation (their SIP
    transactions held by the link's delivery tokens): each is answered 503, the
    daemon exits 0 and its log holds no sanitizer report. (The stopped edge never closes its
    stream here, so this does not reproduce the race the shutdown order prevents — a link
    reporting its tokens after the SIP side was freed; it checks the outcome either way.)"""
    st = fresh_stack
    gw = st.gateway
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    tag = "sd%d" % os.getpid()
    n = 20
    os.kill(st.prosody.pid, signal.SIGSTOP)
    try:
        for i in range(n):
            sock.sendto(_message(port, i, tag), gw.sip_addr)
        early = _statuses(sock, time.monotonic() + 2)
        assert not early, "answered before the edge confirmed: %r" % sorted(
            {s for s, _ in early.values()})
        rc = gw.stop(check=True)  # asserts exit 0 and no sanitizer report
        assert rc == 0
        answers = _statuses(sock, time.monotonic() + 5, want=n)
    finally:
        os.kill(st.prosody.pid, signal.SIGCONT)
        sock.close()
    assert len(answers) == n, (len(answers), n)
    assert {s for s, _ in answers.values()} == {503}, sorted(
        {s for s, _ in answers.values()})
