"""Instant messages through sipxmppd between a real Kamailio (SIP users) and a real Prosody
(XMPP users on fabrikam.example), SPEC §2, §3, §6, §7 and the foundation issue's tests.

SIP users register at Kamailio; requests for fabrikam.example reach the gateway through
Kamailio, or directly (tests about the gateway's own SIP checks send straight to it).
XMPP users log in to Prosody; the gateway is Prosody's component for contoso.example.
"""

import random
import re
import threading
import time
import urllib.parse

import pytest

from conftest import EVIL, EVIL_SECRET, EXTERNAL, INTERNAL
from sipua import SipUA
from xmppclient import RawComponent, XmppClient

TEXT = "Grüße aus Köln ✓ — 日本語 😀 & <b>not markup</b> 'quoted'"

# (SIP user at contoso, its JID localpart; XMPP account localpart as stored, its SIP user)
PAIRS = [
    ("o'brien", "o\\27brien", "d\\26j", "d&j"),
    ("r/d", "r\\2fd", "x\\2fy", "x/y"),
]


def uid():
    return "%08x" % random.getrandbits(32)


def uri_user_host(value):
    """(user, host, params) of the first SIP URI in a header value, user percent-decoded."""
    m = re.search(r"<?(sips?):([^@>;]+)@([^;>]+)((?:;[^>]*)?)>?", value)
    assert m, "no SIP URI in %r" % value
    params = {}
    for p in m.group(4).split(";"):
        if p:
            k, _, v = p.partition("=")
            params[k.lower()] = v
    return urllib.parse.unquote(m.group(2)), m.group(3).lower(), params


def error_of(client, mid, timeout=10):
    return client.wait_message(lambda m: m.id == mid and m.type == "error", timeout=timeout)


# ------------------------------------------------------------------ SIP → XMPP

@pytest.mark.parametrize("sip_user,jid_local,xmpp_acct,xmpp_sipuser", PAIRS)
def test_sip_to_xmpp_message(im, sip_user, jid_local, xmpp_acct, xmpp_sipuser):
    sender = im.ua(sip_user)
    rcpt = im.xmpp(xmpp_acct)
    cid = "cid-%s@127.0.0.1" % uid()
    r = sender.send_message("sip:%s@%s" % (xmpp_sipuser, EXTERNAL), TEXT,
                            headers=[("Subject", "Betreff: Grüße"),
                                     ("Content-Language", "de")], call_id=cid)
    assert r.status == 202, (r.status, r.reason)
    m = rcpt.wait_message(lambda m: m.body == TEXT, timeout=10)
    assert m.type == "chat"
    assert m.frm == "%s@%s" % (jid_local, INTERNAL)
    assert m.to.split("/")[0] == "%s@%s" % (xmpp_acct, EXTERNAL)
    assert m.subject == "Betreff: Grüße"
    assert m.thread == cid
    assert m.lang == "de"
    assert m.id, "a SIP→XMPP message carries an id (for tracing errors back)"


def test_sip_to_xmpp_charset_and_gr(im):
    """A Latin-1 body arrives as UTF-8; ;gr= becomes the resource."""
    sender = im.ua("o'brien")
    rcpt = im.xmpp("d\\26j")
    body = "Ärger über Öl"
    r = sender.send_message("sip:d&j@%s;gr=laptop" % EXTERNAL, body.encode("latin-1"),
                            content_type="text/plain; charset=ISO-8859-1",
                            ruri="sip:d&j@%s;gr=laptop" % EXTERNAL)
    assert r.status == 202, (r.status, r.reason)
    m = rcpt.wait_message(lambda m: m.body == body, timeout=10)
    assert m.to == "d\\26j@%s/laptop" % EXTERNAL


def test_sip_to_xmpp_cpim(im):
    sender = im.ua("o'brien")
    rcpt = im.xmpp("d\\26j")
    body = "über CPIM ✓"
    cpim = ("From: <sip:o'brien@%s>\r\n"
            "To: <sip:d&j@%s>\r\n"
            "DateTime: 2024-01-01T00:00:00Z\r\n"
            "\r\n"
            "Content-Type: text/plain;charset=UTF-8\r\n"
            "\r\n" % (INTERNAL, EXTERNAL)).encode() + body.encode()
    r = sender.send_message("sip:d&j@%s" % EXTERNAL, cpim, content_type="message/cpim")
    assert r.status == 202, (r.status, r.reason)
    rcpt.wait_message(lambda m: m.body == body, timeout=10)


def test_html_refused_with_415_and_accept(im):
    sender = SipUA("o'brien", INTERNAL)
    im._uas.append(sender)
    r = sender.send_message("sip:d&j@%s" % EXTERNAL, "<p>hi</p>", content_type="text/html",
                            dest=im.gateway.sip_addr)
    assert r.status == 415
    acc = r.header("Accept") or ""
    assert "text/plain" in acc and "message/cpim" in acc, acc


def _direct(im, user="o'brien", bind_ip="127.0.0.1"):
    ua = SipUA(user, INTERNAL, bind_ip=bind_ip)
    im._uas.append(ua)
    return ua


def test_size_limit_udp(im):
    """max_message_bytes is 16384 in this stack: just under it passes, over it is 413."""
    ua = _direct(im)
    rcpt = im.xmpp("d\\26j")
    ok = ("x" * 16000)
    r = ua.send_message("sip:d&j@%s" % EXTERNAL, ok, dest=im.gateway.sip_addr)
    assert r.status == 202, (r.status, r.reason)
    rcpt.wait_message(lambda m: m.body == ok, timeout=10)
    r = ua.send_message("sip:d&j@%s" % EXTERNAL, "y" * 20000, dest=im.gateway.sip_addr)
    assert r.status == 413, (r.status, r.reason)


def test_size_limit_tcp_2mb_gets_413(im):
    """A 2 MB body over TCP is answered with 413, not a dropped connection; the gateway
    keeps serving TCP afterwards."""
    ua = _direct(im)
    rcpt = im.xmpp("d\\26j")
    big = b"z" * (2 * 1024 * 1024)
    r = ua.send_message("sip:d&j@%s" % EXTERNAL, big, dest=im.gateway.sip_addr,
                        transport="tcp", timeout=20)
    assert r.status == 413, (r.status, r.reason)
    ua2 = _direct(im)
    r = ua2.send_message("sip:d&j@%s" % EXTERNAL, "after the big one",
                         dest=im.gateway.sip_addr, transport="tcp")
    assert r.status == 202, (r.status, r.reason)
    rcpt.wait_message(lambda m: m.body == "after the big one", timeout=10)


def test_from_outside_served_domains_403(im):
    ua = _direct(im)
    r = ua.send_message("sip:d&j@%s" % EXTERNAL, "hi", from_uri="sip:eve@elsewhere.example",
                        dest=im.gateway.sip_addr)
    assert r.status == 403, (r.status, r.reason)


def test_sips_target_403_with_warning(im):
    ua = _direct(im)
    r = ua.send_message("sips:d&j@%s" % EXTERNAL, "hi", dest=im.gateway.sip_addr)
    assert r.status == 403, (r.status, r.reason)
    w = r.header("Warning")
    assert w and re.match(r"\s*3\d\d\s+\S+\s+\".+\"", w), w


def test_tel_target_416(im):
    ua = _direct(im)
    r = ua.send_message("tel:+15551234567", "hi", dest=im.gateway.sip_addr)
    assert r.status == 416, (r.status, r.reason)


def test_untrusted_peer_403(im):
    """trusted_peers is 127.0.0.1/32 and ::1/128: a request from 127.0.0.2 is refused."""
    rcpt = im.xmpp("d\\26j")
    ua = _direct(im, bind_ip="127.0.0.2")
    r = ua.send_message("sip:d&j@%s" % EXTERNAL, "from an untrusted peer",
                        dest=im.gateway.sip_addr)
    assert r.status == 403, (r.status, r.reason)
    r = ua.send_message("sip:d&j@%s" % EXTERNAL, "untrusted over tcp",
                        dest=im.gateway.sip_addr, transport="tcp")
    assert r.status == 403, (r.status, r.reason)
    time.sleep(0.5)
    assert not rcpt.all_messages(lambda m: (m.body or "").startswith("untrusted")
                                 or m.body == "from an untrusted peer")


def test_xmpp_user_offline_sender_gets_notice(im):
    """carol has no available resource; Prosody (mod_offline disabled) bounces with
    service-unavailable; the SIP sender gets a MESSAGE from the gateway's service address."""
    sender = im.ua("o'brien")
    cid = "offline-%s@127.0.0.1" % uid()
    r = sender.send_message("sip:carol@%s" % EXTERNAL, "are you there?", call_id=cid)
    assert r.status == 202, (r.status, r.reason)
    n = sender.wait_request(lambda m: "gateway@" in (m.header("From") or ""),
                            method="MESSAGE", timeout=10)
    user, host, _ = uri_user_host(n.header("From"))
    assert (user, host) == ("gateway", INTERNAL)
    text = n.body_text()
    assert re.search(r"not delivered|undeliver|failed|could not", text, re.I), text
    assert "carol" in text
    assert (n.header("In-Reply-To") or "").strip() == cid, n.header("In-Reply-To")


def test_xmpp_user_offline_imdn(im):
    """SPEC §3: a sender that asked for IMDN (RFC 5438) gets a negative delivery
    notification instead of the text notice."""
    sender = im.ua("o'brien")
    mid = "imdn-" + uid()
    cpim = ("From: <sip:o'brien@%s>\r\n"
            "To: <sip:carol@%s>\r\n"
            "NS: imdn <urn:ietf:params:imdn>\r\n"
            "imdn.Message-ID: %s\r\n"
            "DateTime: 2024-01-01T00:00:00Z\r\n"
            "imdn.Disposition-Notification: positive-delivery, negative-delivery\r\n"
            "\r\n"
            "Content-Type: text/plain;charset=UTF-8\r\n"
            "\r\n"
            "with imdn" % (INTERNAL, EXTERNAL, mid)).encode()
    r = sender.send_message("sip:carol@%s" % EXTERNAL, cpim, content_type="message/cpim")
    assert r.status == 202, (r.status, r.reason)
    n = sender.wait_request(lambda m: "gateway@" in (m.header("From") or "")
                            or "carol@" in (m.header("From") or ""),
                            method="MESSAGE", timeout=10)
    body = n.body_text()
    assert "message/cpim" in (n.header("Content-Type") or "").lower(), (
        "the sender asked for an IMDN negative-delivery notification (RFC 5438) but got "
        "%r: %r" % (n.header("Content-Type"), n.body_text()[:200]))
    assert "urn:ietf:params:xml:ns:imdn" in body and mid in body, body
    assert re.search(r"<failed\s*/>|<error\s*/>", body), body


# ------------------------------------------------------------------ XMPP → SIP

@pytest.mark.parametrize("sip_user,jid_local,xmpp_acct,xmpp_sipuser", PAIRS)
def test_xmpp_to_sip_message(im, sip_user, jid_local, xmpp_acct, xmpp_sipuser):
    rcpt = im.ua(sip_user)
    sender = im.xmpp(xmpp_acct)
    thread = "thr-%s" % uid()
    mid = sender.send_message("%s@%s" % (jid_local, INTERNAL), TEXT, subject="Sujet: été",
                              thread=thread, lang="fr")
    m = rcpt.wait_request(method="MESSAGE", timeout=10)
    assert m.body == TEXT.encode("utf-8")
    ct = (m.header("Content-Type") or "").lower().replace(" ", "")
    assert ct.startswith("text/plain"), ct
    if "charset=" in ct:
        assert "charset=utf-8" in ct
    assert m.header("Subject") == "Sujet: été"
    assert m.call_id == thread
    assert (m.header("Content-Language") or "").lower() == "fr"
    user, host, params = uri_user_host(m.header("From"))
    assert (user, host) == (xmpp_sipuser, EXTERNAL)
    resource = str(sender.xmpp.boundjid.resource)
    assert urllib.parse.unquote(params.get("gr", "")) == resource
    # The R-URI is the registered contact now (Kamailio's lookup); its user part stays.
    assert uri_user_host(m.ruri)[0] == sip_user
    tuser, thost, _ = uri_user_host(m.header("To"))
    assert (tuser, thost) == (sip_user, INTERNAL)
    # No error comes back for a delivered message.
    time.sleep(0.3)
    assert not sender.all_messages(lambda x: x.id == mid and x.type == "error")


def test_receipt_answered_after_2xx(im):
    rcpt = im.ua("o'brien")
    sender = im.xmpp("d\\26j")
    mid = sender.send_message("o\\27brien@%s" % INTERNAL, "receipt please",
                              request_receipt=True)
    rcpt.wait_request(lambda m: m.body == b"receipt please", method="MESSAGE", timeout=10)
    r = sender.wait_message(lambda m: m.receipt_for == mid, timeout=10)
    assert r.frm.split("/")[0] == "o\\27brien@%s" % INTERNAL
    assert r.type != "error"


def test_unregistered_internal_user_recipient_unavailable(im):
    sender = im.xmpp("d\\26j")
    mid = sender.send_message("nobody@%s" % INTERNAL, "hello nobody")
    e = error_of(sender, mid)
    assert e.error_condition == "recipient-unavailable", e.xml
    assert e.frm.split("/")[0] == "nobody@%s" % INTERNAL


@pytest.mark.parametrize("status,reason,condition", [
    (486, "Busy Here", "recipient-unavailable"),
    (404, "Not Found", "item-not-found"),
    (403, "Forbidden", "forbidden"),
    (488, "Not Acceptable Here", "not-acceptable"),
    (500, "Server Internal Error", "internal-server-error"),
    (603, "Decline", "recipient-unavailable"),
])
def test_sip_failure_becomes_error_stanza(im, status, reason, condition):
    """SPEC §6 SIP → XMPP table; <text/> is the neutral text for the condition (the SIP
    detail stays in the log)."""
    im.ua("o'brien", responder=lambda req: (status, reason))
    sender = im.xmpp("d\\26j")
    mid = sender.send_message("o\\27brien@%s" % INTERNAL, "will fail %d" % status,
                              request_receipt=True)
    e = error_of(sender, mid)
    assert e.error_condition == condition, e.xml
    assert e.error_text and reason not in e.error_text, e.xml
    assert not sender.all_messages(lambda m: m.receipt_for == mid)


@pytest.mark.parametrize("mtype", ["groupchat", "headline"])
def test_groupchat_and_headline_refused(im, mtype):
    rcpt = im.ua("o'brien")
    sender = im.xmpp("d\\26j")
    mid = sender.send_message("o\\27brien@%s" % INTERNAL, "not for SIP", mtype=mtype)
    e = error_of(sender, mid)
    assert e.error_condition == "feature-not-implemented", e.xml
    time.sleep(0.3)
    assert not rcpt.requests("MESSAGE")


def test_spoofed_from_refused(im):
    """A stanza from the edge claiming to come from a served domain is refused. Prosody only
    routes such a stanza from a component with validate_from_addresses=false (evil.example
    here); the gateway must not turn it into a SIP MESSAGE."""
    rcpt = im.ua("o'brien")
    c = RawComponent(EVIL, EVIL_SECRET, port=im.prosody.component_port)
    try:
        for i, frm in enumerate(["mallory@" + INTERNAL, "Mallory@CONTOSO.EXAMPLE.",
                                 "o\\27brien@%s/desk" % INTERNAL, INTERNAL]):
            c.send("<message from='%s' to='o\\27brien@%s' type='chat' id='spoof%d'>"
                   "<body>spoof %d</body></message>" % (frm, INTERNAL, i, i))
    finally:
        c.close()
    sender = im.xmpp("d\\26j")
    sender.send_message("o\\27brien@%s" % INTERNAL, "control after spoof")
    rcpt.wait_request(lambda m: m.body == b"control after spoof", method="MESSAGE",
                      timeout=10)
    time.sleep(0.3)
    spoofs = rcpt.requests("MESSAGE", lambda m: m.body.startswith(b"spoof"))
    assert not spoofs, spoofs
    assert im.gateway.running()
    st, text, _ = im.gateway.metrics()
    assert st == 200
    counted = re.findall(r'^sipxmpp_refusals_total\{[^}]*reason="spoofed_from"[^}]*\} (\S+)',
                         text, re.M)
    assert sum(float(v) for v in counted) >= 4, (
        "the spoofed stanzas were not relayed, but the refusals are not counted in "
        "/metrics as sipxmpp_refusals_total{reason=\"spoofed_from\"} (SPEC §5: every "
        "refusal counted by reason); found %r" % counted)


def test_unknown_iq_answered(im):
    """SPEC §7: disco#info answered (identity gateway/sip); other iq get →
    service-unavailable, never silence; ping answered."""
    c = im.xmpp("d\\26j")
    c.send_raw("<iq type='get' to='%s' id='disco1'><query "
               "xmlns='http://jabber.org/protocol/disco#info'/></iq>" % INTERNAL)
    c.send_raw("<iq type='get' to='%s' id='ver1'><query xmlns='jabber:iq:version'/></iq>"
               % INTERNAL)
    c.send_raw("<iq type='get' to='%s' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>"
               % INTERNAL)
    d = c.wait_iq("disco1")
    assert d.type == "result", d.xml
    ident = d.el.find(".//{http://jabber.org/protocol/disco#info}identity")
    assert ident is not None and ident.get("category") == "gateway" \
        and ident.get("type") == "sip", d.xml
    v = c.wait_iq("ver1")
    assert v.type == "error" and v.error_condition == "service-unavailable", v.xml
    p = c.wait_iq("ping1")
    assert p.type == "result", p.xml


def test_xmpp_body_over_limit_policy_violation(im):
    rcpt = im.ua("o'brien")
    sender = im.xmpp("d\\26j")
    mid = sender.send_message("o\\27brien@%s" % INTERNAL, "w" * 20000)
    e = error_of(sender, mid)
    assert e.error_condition == "policy-violation", e.xml
    assert not rcpt.requests("MESSAGE")


@pytest.mark.parametrize("body", [b"bad utf-8 \xff\xfe\xc3(", b"ctl \x01\x0b\x1b chars",
                                  b"nul \x00 inside", b"ok \xef\xbf\xbe nonchar"])
def test_bodies_xml_cannot_carry_never_break_the_link(im, body):
    """Refused (4xx) or cleaned, never sent raw: the component stream stays up."""
    gw = im.gateway
    rcpt = im.xmpp("d\\26j")
    ua = _direct(im)
    _, before, _ = gw.metrics()
    r = ua.send_message("sip:d&j@%s" % EXTERNAL, body, dest=gw.sip_addr)
    assert r.status == 202 or 400 <= r.status < 500, (r.status, r.reason)
    r = ua.send_message("sip:d&j@%s" % EXTERNAL, "control after bad body", dest=gw.sip_addr)
    assert r.status == 202, (r.status, r.reason)
    rcpt.wait_message(lambda m: m.body == "control after bad body", timeout=10)
    _, after, _ = gw.metrics()
    key = 'sipxmpp_edge_reconnects_total{domain="%s"}' % INTERNAL
    assert _samples(after).get(key) == _samples(before).get(key), "the edge link was reset"
    assert gw.healthz() == 200


# ------------------------------------------------------------------ operations

def _samples(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        k, _, v = line.rpartition(" ")
        try:
            out[k] = float(v)
        except ValueError:
            pass
    return out


def test_metrics_count_messages(im):
    gw = im.gateway
    st, before, hdrs = gw.metrics()
    assert st == 200
    ctype = {k.lower(): v for k, v in hdrs.items()}.get("content-type", "")
    assert ctype.startswith("text/plain"), ctype
    rcpt = im.xmpp("d\\26j")
    sender = im.ua("o'brien")
    for i in range(3):
        r = sender.send_message("sip:d&j@%s" % EXTERNAL, "count %d" % i)
        assert r.status == 202
    for i in range(3):
        rcpt.wait_message(lambda m, i=i: m.body == "count %d" % i, timeout=10)
    _, after, _ = gw.metrics()
    b, a = _samples(before), _samples(after)
    key = 'sipxmpp_messages_total{direction="sip_to_xmpp",result="accepted"}'
    assert a.get(key, 0) - b.get(key, 0) == 3, (key, b.get(key), a.get(key))
    assert a.get('sipxmpp_edge_link_up{domain="%s"}' % INTERNAL) == 1, after
    assert any(k.startswith("sipxmpp_edge_reconnects_total") for k in a), after


def test_healthz_follows_the_edge(fresh_stack):
    """/healthz is non-200 within 5 s of killing Prosody, SIP gets 503 + Retry-After while
    the link is down, and /healthz is 200 again after Prosody is back."""
    st = fresh_stack
    gw = st.gateway
    assert gw.healthz() == 200
    ua = SipUA("o'brien", INTERNAL)
    st._uas.append(ua)
    st.prosody.kill()
    took = gw.wait_health(False, timeout=5.0)
    r = ua.send_message("sip:d&j@%s" % EXTERNAL, "while down", dest=gw.sip_addr)
    assert r.status == 503, (r.status, r.reason)
    # Retry-After is when the link tries again: within backoff_max_ms (2 s here).
    assert (r.header("Retry-After") or "").isdigit(), r.raw[:400]
    assert 1 <= int(r.header("Retry-After")) <= 2, r.header("Retry-After")
    st.prosody.start_again()
    gw.wait_health(True, timeout=15.0)
    rcpt = st.xmpp("d\\26j")
    r = ua.send_message("sip:d&j@%s" % EXTERNAL, "after restart", dest=gw.sip_addr)
    assert r.status == 202, (r.status, r.reason)
    rcpt.wait_message(lambda m: m.body == "after restart", timeout=10)
    assert took <= 5.0


def _stream(st, n, restarts, tag, pace=0.004):
    """Sends n MESSAGEs SIP→XMPP one after another straight to the gateway while the edge
    is restarted: `restarts` is a list of (index, "term"|"kill"); each restart begins once
    that many messages were sent and the previous restart (and the recipient's new login)
    finished. Returns (statuses, 503s without Retry-After, XMPP clients, sender UA)."""
    gw = st.gateway
    sender = st.ua("o'brien")          # registered: delivery-failure notices reach it
    clients = [st.xmpp("d\\26j")]
    statuses = {}
    retry_after_missing = []
    errors = []
    progress = [0]
    cond = threading.Condition()

    def controller():
        try:
            for at, kind in restarts:
                with cond:
                    while progress[0] < at:
                        if not cond.wait(30):
                            raise TimeoutError("sender stalled at %d" % progress[0])
                if kind == "kill":
                    st.prosody.kill()
                    st.prosody.start_again()
                else:
                    st.prosody.restart()
                # The recipient logs in again; with mod_offline enabled in this stack,
                # messages that reached Prosody meanwhile are delivered at login.
                c = XmppClient("d\\26j@%s" % EXTERNAL, "pw", "127.0.0.1",
                               st.prosody.c2s_port)
                st._clients.append(c)
                c.connect()
                clients.append(c)
        except Exception as e:  # reported by the test
            errors.append(repr(e))

    ctl = threading.Thread(target=controller, name="edge-restarter")
    ctl.start()
    try:
        for i in range(n):
            body = "%s-%d" % (tag, i)
            try:
                r = sender.send_message("sip:d&j@%s" % EXTERNAL, body, dest=gw.sip_addr,
                                        call_id="%s-%d@127.0.0.1" % (tag, i), timeout=10)
                statuses[i] = r.status
                if r.status == 503 and not r.header("Retry-After"):
                    retry_after_missing.append(i)
            except TimeoutError:
                statuses[i] = None
            with cond:
                progress[0] = i + 1
                cond.notify_all()
            time.sleep(pace)
    finally:
        with cond:
            progress[0] = 1 << 30
            cond.notify_all()
        ctl.join(60)
    assert not errors, errors
    return statuses, retry_after_missing, clients, sender


@pytest.mark.parametrize("fresh_stack", [{"prosody": {"offline": True}}], indirect=True)
def test_edge_restart_during_1000_messages(fresh_stack):
    """Every message is delivered exactly once, or answered with an error (a non-2xx final
    response, or a delivery-failure notice after a 202); none both, none silently lost."""
    st = fresh_stack
    tag = "stream-" + uid()
    n = 1000
    statuses, ra_missing, clients, sender = _stream(st, n, [(250, "term"), (600, "kill")],
                                                    tag)
    assert not ra_missing, "503 without Retry-After for %r" % ra_missing[:10]
    assert all(s is not None for s in statuses.values()), \
        "no final response for %r" % [i for i, s in statuses.items() if s is None][:10]

    accepted = {i for i, s in statuses.items() if 200 <= s < 300}
    refused = {i for i, s in statuses.items() if s >= 300}
    pat = re.compile(re.escape(tag) + r"-(\d+)")

    def notices():
        """Failure notices by the message they are about: each names it in In-Reply-To
        (the original Call-ID); one that names none is counted as loose and fails."""
        out, loose = set(), 0
        for m in sender.requests("MESSAGE", lambda m: "gateway@" in (m.header("From") or "")):
            found = pat.search(m.header("In-Reply-To") or "")
            if found:
                out.add(int(found.group(1)))
            else:
                loose += 1
        return out, loose

    def delivered():
        counts = {}
        for c in clients:
            for m in c.all_messages(lambda m: m.type != "error" and m.body):
                f = pat.fullmatch(m.body)
                if f:
                    counts[int(f.group(1))] = counts.get(int(f.group(1)), 0) + 1
        return counts

    deadline = time.monotonic() + 20
    while True:
        d = delivered()
        nt, loose = notices()
        missing = [i for i in accepted if i not in d and i not in nt]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    dups = {i: k for i, k in d.items() if k > 1}
    both = sorted(i for i in refused if i in d)
    summary = ("accepted %d, refused %d (%s), delivered %d, notices %d (+%d uncorrelated), "
               "silent %d" % (len(accepted), len(refused),
                              sorted({statuses[i] for i in refused}), len(d), len(nt), loose,
                              max(0, len(missing) - loose)))
    print(summary)
    assert not dups, "delivered more than once: %r; %s" % (sorted(dups)[:20], summary)
    assert not both, "refused and delivered: %r; %s" % (both[:20], summary)
    assert not loose, "%d failure notices name no message; %s" % (loose, summary)
    assert not missing, "accepted but neither delivered nor failed: %r; %s" % (
        sorted(missing)[:20], summary)
    noted_and_delivered = sorted(i for i in nt if i in d)
    assert not noted_and_delivered, "delivered and noticed as failed: %r; %s" % (
        noted_and_delivered[:20], summary)
    assert refused, "no message met the edge outage; the test proved nothing: " + summary
    assert any(200 <= statuses[i] < 300 for i in range(n - 50, n)), \
        "the link did not come back: " + summary
    assert st.gateway.healthz() == 200
