"""The test servers on their own, without the gateway: proves the Prosody and Kamailio
configurations the gateway tests rely on."""

import socket
import threading
import time

from conftest import EVIL, EVIL_SECRET, EXTERNAL, INTERNAL
from sipua import SipUA, parse_message
from xmppclient import RawComponent


def test_xmpp_users_exchange_a_message(infra):
    alice = infra.xmpp("alice")
    dj = infra.xmpp("d\\26j")
    mid = alice.send_message("d\\26j@" + EXTERNAL, "grüße ✓ & <ok>", subject="s1",
                             thread="t-1", lang="de")
    m = dj.wait_message(lambda m: m.id == mid, timeout=10)
    assert m.body == "grüße ✓ & <ok>"
    assert m.subject == "s1" and m.thread == "t-1" and m.lang == "de"
    assert m.frm.startswith("alice@" + EXTERNAL + "/")


def test_prosody_bounces_message_to_offline_user(infra):
    """mod_offline is disabled: a chat message to an account with no available resource
    comes back as <service-unavailable/> (type cancel) with the original id."""
    alice = infra.xmpp("alice")
    mid = alice.send_message("carol@" + EXTERNAL, "are you there?")
    m = alice.wait_message(lambda m: m.id == mid, timeout=10)
    assert m.type == "error"
    assert m.error_condition == "service-unavailable" and m.error_type == "cancel"
    # Connected but without initial presence counts as offline too.
    infra.xmpp("carol", available=False)
    mid = alice.send_message("carol@" + EXTERNAL, "still?")
    m = alice.wait_message(lambda m: m.id == mid, timeout=10)
    assert m.error_condition == "service-unavailable"


def test_sip_users_exchange_a_message_through_kamailio(infra):
    a = infra.ua("o'brien")
    b = infra.ua("bob")
    r = a.send_message("sip:bob@" + INTERNAL, "héllo bob", headers=[("Subject", "hi")])
    assert r.status == 200, r
    m = b.wait_request(method="MESSAGE", timeout=5)
    assert m.body == "héllo bob".encode()
    assert m.header("Subject") == "hi"
    assert "o'brien@" + INTERNAL in m.header("From")
    # The other way, over TCP to the proxy.
    r = b.send_message("sip:o'brien@" + INTERNAL, "back", transport="tcp")
    assert r.status == 200, r
    m = a.wait_request(method="MESSAGE", timeout=5)
    assert m.body == b"back"


def test_unregistered_user_gets_480(infra):
    a = infra.ua("alice2")
    r = a.send_message("sip:nobody@" + INTERNAL, "hello?")
    assert r.status == 480
    # Case of the domain does not matter to the proxy.
    r = a.send_message("sip:nobody@CONTOSO.example", "hello?")
    assert r.status == 480


def test_partner_domain_is_relayed_to_gateway_address(infra):
    """Requests for any other domain go to the gateway address over the same transport."""
    gw_port = infra.gw_sip_port
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", gw_port))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("127.0.0.1", gw_port))
    t.listen(4)
    try:
        a = infra.ua("o'brien")
        # UDP: answer as the gateway would, with 202.
        box = {}

        def fake_gateway_udp():
            u.settimeout(5)
            try:
                pkt, addr = u.recvfrom(65535)
            except OSError:
                return
            m, _ = parse_message(pkt, stream=False)
            box["udp"] = m
            resp = SipUA.build_response(a, m, 202, "Accepted")
            u.sendto(resp, addr)

        th = threading.Thread(target=fake_gateway_udp)
        th.start()
        r = a.send_message("sip:d&j@" + EXTERNAL, "to the partner")
        th.join(6)
        assert r.status == 202
        m = box["udp"]
        assert m.method == "MESSAGE" and m.ruri == "sip:d&j@" + EXTERNAL
        assert m.body == b"to the partner"
        assert m.header("Via").upper().startswith("SIP/2.0/UDP 127.0.0.1:%d" % infra.kamailio.port)

        # TCP stays TCP.
        def fake_gateway_tcp():
            t.settimeout(5)
            try:
                c, _ = t.accept()
            except OSError:
                return
            c.settimeout(5)
            buf = b""
            while True:
                m, n = parse_message(buf, stream=True) if buf else (None, 0)
                if m:
                    break
                chunk = c.recv(65536)
                if not chunk:
                    return
                buf += chunk
            box["tcp"] = m
            c.sendall(SipUA.build_response(a, m, 202, "Accepted"))
            time.sleep(0.5)
            c.close()

        th = threading.Thread(target=fake_gateway_tcp)
        th.start()
        r = a.send_message("sip:carol@" + EXTERNAL, "over tcp", transport="tcp")
        th.join(6)
        assert r.status == 202
        assert box["tcp"].header("Via").upper().startswith("SIP/2.0/TCP")
    finally:
        u.close()
        t.close()


def test_forged_from_through_unvalidated_component(infra):
    """The 'evil.example' component has validate_from_addresses=false, so Prosody routes a
    stanza with a forged from (a contoso.example user) — the way the gateway's spoof test
    gets such a stanza to the gateway. Here it is addressed to a fabrikam user to see it
    arrive unchanged."""
    dj = infra.xmpp("d\\26j")
    c = RawComponent(EVIL, EVIL_SECRET, port=infra.prosody.component_port)
    try:
        c.send("<message from='mallory@%s' to='d\\26j@%s' type='chat' id='forged1'>"
               "<body>forged</body></message>" % (INTERNAL, EXTERNAL))
        m = dj.wait_message(lambda m: m.id == "forged1", timeout=10)
        assert m.frm == "mallory@" + INTERNAL
    finally:
        c.close()


def test_validating_component_cannot_forge(infra):
    """Default Prosody behaviour for the gateway's own component (validate_from_addresses
    defaults to true): a stanza with a from outside the component's domain ends the stream
    with <invalid-from/>. So a forged from can only reach the gateway from a component
    configured like evil.example, or from a misbehaving s2s peer."""
    c = RawComponent(INTERNAL, infra.prosody.component_secret,
                     port=infra.prosody.component_port)
    try:
        c.send("<message from='eve@%s' to='alice@%s' type='chat' id='x'><body>x</body>"
               "</message>" % (EXTERNAL, EXTERNAL))
        out = c.read_for(3)
        assert b"invalid-from" in out, out
    finally:
        c.close()


def test_newest_registration_replaces_older(infra):
    """One contact per AOR (save flag 0x04): a test that registers a fresh UA for a user
    gets that user's requests, not an earlier test's closed UA."""
    old = infra.ua("bob2")
    new = infra.ua("bob2")
    a = infra.ua("alice3")
    r = a.send_message("sip:bob2@" + INTERNAL, "to the newest")
    assert r.status == 200
    new.wait_request(method="MESSAGE", timeout=5)
    assert not old.requests("MESSAGE")
