"""Every message of the SIP torture corpus (RFC 4475, RFC 5118; ../shared/sip-torture or
SX_TORTURE_DIR) sent to sipxmppd over UDP and over TCP while it runs (under ASan/UBSan in
the sanitizer build). Afterwards it must still answer OPTIONS and relay a control MESSAGE
both ways, its component link must not have been reset, and its log must hold no sanitizer
report (checked when the module's stack stops)."""

import csv
import os
import re
import socket
import time

import pytest

from conftest import EXTERNAL, INTERNAL
from sipua import send_raw, status_of

HERE = os.path.dirname(os.path.abspath(__file__))
CANDIDATES = [os.environ.get("SX_TORTURE_DIR") or "",
              os.path.join(HERE, "..", "..", "..", "shared", "sip-torture"),
              "/work/shared/sip-torture"]


def corpus_dir():
    for d in CANDIDATES:
        if d and os.path.isfile(os.path.join(d, "index.tsv")):
            return os.path.abspath(d)
    return None


def corpus():
    d = corpus_dir()
    if d is None:
        return []
    out = []
    with open(os.path.join(d, "index.tsv"), newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            out.append((row["file"], row.get("transport", ""), row.get("expected", "")))
    return out


ENTRIES = corpus()


def _bind_5060():
    """A UDP socket on 127.0.0.1:5060 when free: most torture messages carry a Via without
    rport and no port, so responses go to the source address on port 5060."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 5060))
    except OSError:
        s.close()
        return None
    s.setblocking(False)
    return s


def _drain(sock):
    got = []
    if sock is None:
        return got
    while True:
        try:
            got.append(sock.recv(70000))
        except (BlockingIOError, OSError):
            return got


def _is_response(data):
    return data.lstrip(b"\r\n").startswith(b"SIP/")


def _call_id(data):
    m = re.search(rb"^(?:call-id|i)[ \t]*:[ \t]*(\S+)", data, re.I | re.M)
    return m.group(1) if m else None


def _answers(chunks, cid):
    """Status codes of the responses among `chunks` that carry Call-ID `cid` (all of them
    when the message has no Call-ID)."""
    out = []
    for c in chunks:
        if not c.startswith(b"SIP/2.0 "):
            continue
        if cid is not None and cid not in c:
            continue
        out += status_of([c])
    return out


@pytest.mark.skipif(not ENTRIES, reason="torture corpus not found (set SX_TORTURE_DIR)")
def test_torture_corpus(im):
    gw = im.gateway
    d = corpus_dir()
    _, before, _ = gw.metrics()
    reconnect_key = 'sipxmpp_edge_reconnects_total{domain="%s"}' % INTERNAL

    def reconnects(text):
        m = re.search(r"^%s (\S+)$" % re.escape(reconnect_key), text, re.M)
        return float(m.group(1)) if m else None

    r5060 = _bind_5060()
    rows = []
    udp_all = []
    try:
        for name, transport, expected in ENTRIES:
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
            udp = send_raw(data, gw.sip_addr, "udp", wait=0.15)
            udp_all += udp + _drain(r5060)
            tcp = send_raw(data, gw.sip_addr, "tcp", wait=0.15)
            assert gw.running(), "sipxmppd died on %s (exit %s)" % (name, gw.proc.returncode)
            rows.append((name, data, tcp, expected))
        time.sleep(0.3)
        udp_all += _drain(r5060)
    finally:
        if r5060 is not None:
            r5060.close()
    table = []
    answered_responses = []
    for name, data, tcp, expected in rows:
        cid = _call_id(data)
        u, t = sorted(set(_answers(udp_all, cid))), _answers(tcp, cid)
        if _is_response(data) and (u or t):
            answered_responses.append(name)
        table.append((name, u, t, expected[:60]))
    print("\n".join("%-42s udp=%-12s tcp=%-8s expected: %s" % (n, u, t, e)
                    for n, u, t, e in table))
    assert not answered_responses, "a response was answered: %r" % answered_responses

    # Still answers OPTIONS and relays a control message both ways.
    ua = im.ua("o'brien")
    r = ua.options("sip:%s:%d" % gw.sip_addr, dest=gw.sip_addr)
    assert r.status < 500 and r.status >= 200, (r.status, r.reason)
    r = ua.options("sip:%s:%d" % gw.sip_addr, dest=gw.sip_addr, transport="tcp")
    assert r.status < 500 and r.status >= 200, (r.status, r.reason)
    rcpt = im.xmpp("d\\26j")
    r = ua.send_message("sip:d&j@%s" % EXTERNAL, "control after torture")
    assert r.status == 202, (r.status, r.reason)
    rcpt.wait_message(lambda m: m.body == "control after torture", timeout=10)
    rcpt.send_message("o\\27brien@%s" % INTERNAL, "control back")
    ua.wait_request(lambda m: m.body == b"control back", method="MESSAGE", timeout=10)

    _, after, _ = gw.metrics()
    assert reconnects(after) == reconnects(before), "the component link was reset"
    assert gw.healthz() == 200
    assert not gw.sanitizer_reports(), gw.sanitizer_reports()[:10]
