"""Operations through the real servers: `sipxmppctl status` (text and --json, exit 0 when all
is up and 1 when the edge is down), the per-message log lines (one per message, JSON format,
never a body) and the opt-in audit log of bodies in its own file."""

import json
import os
import stat
import time

import pytest

import servers
from conftest import EXTERNAL, INTERNAL, stack_fixture, need_gateway


def ctl(gw, *args):
    return gw.ctl(*args)


def msg_lines(gw):
    """The gateway's per-message log lines (JSON objects with subsys "msg" and a dir)."""
    out = []
    for line in gw.log_text().splitlines():
        if not line.startswith("{"):
            continue
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if o.get("subsys") == "msg" and "dir" in o:
            out.append(o)
    return out


def wait_log(gw, pattern, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gw.log_contains(pattern):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def audited(tmp_path):
    need_gateway()
    audit = str(tmp_path / "audit.log")
    yield from stack_fixture("sx-ops-", with_gateway=True, config_overrides={
        "gateway": {"log_format": "json", "log_level": "info"},
        "federation": {"log_message_bodies": "on", "audit_log": audit}})


def test_status_logs_and_audit(audited):
    st = audited
    gw = st.gateway
    audit = [l for l in open(gw.cfg_path) if l.startswith("audit_log")][0].split("=", 1)[1].strip()

    r = ctl(gw, "status")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "edge      %s up since" % INTERNAL in r.stdout, r.stdout
    assert "all up" in r.stdout

    bob = st.ua("bob")
    alice = st.xmpp("alice")
    body_out = "secret words out %d" % time.time_ns()
    res = bob.send_message("sip:alice@%s" % EXTERNAL, body_out, call_id="ops-out-1@test")
    assert res.status == 202, res.status
    alice.wait_message(lambda m: m.body == body_out, timeout=10)
    body_in = "secret words in %d" % time.time_ns()
    mid = alice.send_message("bob@%s" % INTERNAL, body_in, id="ops-in-1")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not bob.requests("MESSAGE"):
        time.sleep(0.05)
    assert bob.requests("MESSAGE"), "bob got nothing"
    refused = bob.send_message("sip:zed@not-a-partner.example", "x", call_id="ops-ref-1@test")
    assert refused.status == 403

    # One line per message, with direction, ids, addresses, result and milliseconds.
    # (the gateway writes a line just after answering: wait for all three)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = msg_lines(gw)
        ids = {o["id"] for o in lines}
        if {"ops-out-1@test", mid, "ops-ref-1@test"} <= ids and any(
                o["id"] == mid and o["result"] == "delivered" for o in lines):
            break
        time.sleep(0.1)
    by_id = {}
    for o in lines:
        by_id.setdefault(o["id"], []).append(o)
    out = by_id.get("ops-out-1@test")
    assert out and len(out) == 1, lines
    assert out[0]["dir"] == "sip_to_xmpp" and out[0]["status"] == 202
    assert out[0]["result"] == "accepted" and out[0]["to"] == "alice@%s" % EXTERNAL
    assert out[0]["from"].startswith("sip:bob@%s" % INTERNAL) and "ms_x10" in out[0]
    inn = by_id.get(mid)
    assert inn and len(inn) == 1, lines
    assert inn[0]["dir"] == "xmpp_to_sip" and inn[0]["result"] == "delivered"
    assert inn[0]["status"] == 200 and inn[0]["to"] == "bob@%s" % INTERNAL
    ref = by_id.get("ops-ref-1@test")
    assert ref and ref[0]["result"] == "refused" and ref[0]["status"] == 403
    assert "not_partner" in ref[0]["detail"]

    # Bodies: never in the main log, always in the audit log (its own file, mode 0600).
    text = gw.log_text()
    assert body_out not in text and body_in not in text
    assert stat.S_IMODE(os.stat(audit).st_mode) == 0o600
    entries = [json.loads(l) for l in open(audit)]
    assert {"dir": "sip_to_xmpp", "body": body_out} in [
        {"dir": e["dir"], "body": e["body"]} for e in entries], entries
    assert any(e["dir"] == "xmpp_to_sip" and e["body"] == body_in and e["id"] == mid
               for e in entries), entries
    assert not any(e["body"] == "x" for e in entries), "a refused message is not audited"

    # status --json: counters, presence placeholder, store generation, the link's TLS.
    r = ctl(gw, "status", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["reachable"] is True and doc["ok"] is True
    assert doc["messages"]["sip_to_xmpp"]["accepted"] >= 1
    assert doc["messages"]["xmpp_to_sip"]["delivered"] >= 1
    assert doc["refusals"]["sip_to_xmpp"]["not_partner"] >= 1
    assert doc["presence"] == {"relations": 0, "dialogs": 0}
    assert doc["store"]["generation"] >= 1
    e = doc["edge"][0]
    assert e["domain"] == INTERNAL and e["state"] == "up" and e["tls"] is False
    assert doc["version"].split()[0].count(".") == 2

    # The edge goes away: status says so and exits 1.
    st.prosody.stop()
    gw.wait_health(False, 15)
    r = ctl(gw, "status")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "edge      %s down since" % INTERNAL in r.stdout and "something is down" in r.stdout
    r = ctl(gw, "status", "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["edge"][0]["state"] == "down"


def test_audit_log_off_by_default(tmp_path):
    need_gateway()
    audit = str(tmp_path / "audit.log")
    gen = stack_fixture("sx-ops-", with_gateway=True, config_overrides={
        "federation": {"audit_log": audit}})
    st = next(gen)
    try:
        bob = st.ua("bob")
        alice = st.xmpp("alice")
        r = bob.send_message("sip:alice@%s" % EXTERNAL, "not audited")
        assert r.status == 202
        alice.wait_message(lambda m: m.body == "not audited", timeout=10)
        assert not os.path.exists(audit)
        # text format by default: the message line names the Call-ID and the result (written
        # just after the answer: waited for)
        assert wait_log(st.gateway, r"info msg: sip->xmpp Call-ID \S+ stanza \S+ sip:bob@%s\S* -> "
                                       r"alice@%s: 202 accepted \(\d+\.\d ms\)"
                                       % (INTERNAL, EXTERNAL))
        assert "not audited" not in st.gateway.log_text()
    finally:
        gen.close()
