"""The operations tools with [edge] tls = on, through a real Prosody serving the component
over TLS (mod_net_multiplex, ssl_ports, a client certificate required) and a CA and
certificates made at run time:

- `sipxmppctl doctor` verifies the edge's certificate as the daemon does, reports its
  subject and expiry, says plainly why it is refused (wrong CA, name mismatch, expired),
  checks that cert_file and key_file load and match, and runs the component handshake over
  TLS when the daemon is not running — each failure made on purpose;
- `sipxmppctl status` shows each link's TLS state, session and last error."""

import json
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import servers  # noqa: E402
from certs import CA, _run  # noqa: E402
from conftest import (COMPONENT_SECRET, CTL_SETUP, INTERNAL, EXTERNAL, _stack,  # noqa: E402
                      drop_tmp, make_tmp, need_gateway)
from servers import Gateway  # noqa: E402


def issue_expired(ca, name, dns):
    """A leaf for `dns` signed by `ca` that expired in 2020 (openssl ca sets both dates)."""
    d = ca.dir
    key, csr, crt = (os.path.join(d, name + s) for s in (".key", ".csr", ".crt"))
    cnf = os.path.join(d, name + ".cnf")
    with open(os.path.join(d, name + ".index"), "w"):
        pass
    with open(cnf, "w") as f:
        f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = %s.index\nnew_certs_dir = %s\n"
                "serial = %s.serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
                "[p]\ncommonName = supplied\n[x]\nbasicConstraints = CA:FALSE\n"
                "extendedKeyUsage = serverAuth\nsubjectAltName = %s\n"
                % (name, d, name, ",".join("DNS:" + n for n in dns)))
    with open(os.path.join(d, name + ".serial"), "w") as f:
        f.write("1000\n")
    _run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
          "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=%s" % dns[0]], d)
    _run(["openssl", "ca", "-batch", "-config", cnf, "-cert", ca.crt, "-keyfile", ca.key,
          "-in", csr, "-out", crt, "-startdate", "20200101000000Z", "-enddate",
          "20200201000000Z", "-extensions", "x", "-notext"], d)
    os.chmod(key, 0o600)
    return crt, key


@pytest.fixture(scope="module")
def pki():
    tmp = make_tmp("sx-opstls-pki-")
    try:
        ca = CA(os.path.join(tmp, "pki"), "sx-test-ca")
        other = CA(os.path.join(tmp, "pki"), "other-ca")
        yield {"ca": ca.crt, "other_ca": other.crt, "edge": ca.issue("edge", [INTERNAL]),
               "gw": ca.issue("gateway", [INTERNAL]),
               "stranger": ca.issue("stranger", ["stranger.example"]),
               "rogue": other.issue("rogue-gateway", [INTERNAL]),
               "expired": issue_expired(ca, "expired-edge", [INTERNAL])}
    finally:
        drop_tmp(tmp)


def prosody_stack(prefix, crt, key, ca):
    need_gateway()
    port = servers.free_port()
    st, tmp = _stack(prefix, with_gateway=False, prosody_kw={"tls": {
        "port": port, "certificate": crt, "key": key, "cafile": ca,
        "require_client_cert": True}})
    return st, tmp, port


@pytest.fixture(scope="module")
def edge(pki):
    crt, key, _ = pki["edge"]
    st, tmp, port = prosody_stack("sx-opstls-", crt, key, pki["ca"])
    try:
        yield st, tmp, port
    finally:
        try:
            st.stop()
        finally:
            drop_tmp(tmp)


def write_conf(tmp, name, st, port, pki, ca=None, server_name=INTERNAL, cert=None, key=None):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "sipxmppd.conf")
    with open(conf, "w") as f:
        f.write("[gateway]\ndomains = %s\nstore = %s\n" % (INTERNAL, os.path.join(d, "db")))
        f.write("[sip]\nlisten = sip:127.0.0.1:%d;transport=udp\n" % st.gw_sip_port)
        f.write("outbound_proxy = sip:127.0.0.1:%d\n" % st.kamailio.port)
        f.write("[edge]\nhost = 127.0.0.1\nport = %d\nsecret = %s\ntls = on\n"
                % (port, COMPONENT_SECRET))
        f.write("ca_file = %s\nserver_name = %s\ncert_file = %s\nkey_file = %s\n"
                % (ca or pki["ca"], server_name, cert or pki["gw"][0], key or pki["gw"][1]))
        f.write("[http]\nlisten = 127.0.0.1:%d\n" % st.gw_http_port)
    os.chmod(conf, 0o600)
    return conf


def jdoctor(conf):
    exe = os.path.join(servers.build_dir_from_env(), "sipxmppctl")
    r = subprocess.run([exe, "--config", conf, "doctor", "--json"], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.stdout, r.stderr
    return r.returncode, json.loads(r.stdout)


def one(doc, check):
    got = [(c["result"], c["detail"]) for c in doc["checks"] if c["check"] == check]
    assert len(got) == 1, "want one %s check in %s" % (check, doc)
    return got[0]


def test_doctor_verifies_the_edge_and_handshakes_over_tls(edge, pki):
    st, tmp, port = edge
    rc, doc = jdoctor(write_conf(tmp, "good", st, port, pki))
    res, detail = one(doc, "tls-files")
    assert res == "ok" and "matches key" in detail, detail
    # The test CA issues for 2 days: verified, with a warning to renew.
    res, detail = one(doc, "tls")
    assert res == "warn", detail
    assert "CN=%s verified for %s" % (INTERNAL, INTERNAL) in detail, detail
    assert "issuer CN=sx-test-ca" in detail and "TLSv1." in detail, detail
    assert "day(s): renew it" in detail, detail
    res, detail = one(doc, "component")
    assert res == "ok" and detail.endswith("accepts the handshake with the secret over TLS"), \
        detail


def test_doctor_wrong_ca(edge, pki):
    st, tmp, port = edge
    rc, doc = jdoctor(write_conf(tmp, "wrongca", st, port, pki, ca=pki["other_ca"]))
    assert rc == 1
    res, detail = one(doc, "tls")
    assert res == "fail", detail
    assert "presents CN=%s (issuer CN=sx-test-ca" % INTERNAL in detail, detail
    assert "wrong CA" in detail and "ca_file" in detail, detail
    res, detail = one(doc, "component")
    assert res == "fail" and "not tried" in detail, detail


def test_doctor_wrong_name(edge, pki):
    st, tmp, port = edge
    rc, doc = jdoctor(write_conf(tmp, "wrongname", st, port, pki, server_name=EXTERNAL))
    assert rc == 1
    res, detail = one(doc, "tls")
    assert res == "fail", detail
    assert "refused for server_name %s: name mismatch" % EXTERNAL in detail, detail


def test_doctor_mismatched_key(edge, pki):
    st, tmp, port = edge
    rc, doc = jdoctor(write_conf(tmp, "badkey", st, port, pki, key=pki["stranger"][1]))
    assert rc == 1
    res, detail = one(doc, "tls-files")
    assert res == "fail" and "does not match cert_file" in detail, detail
    assert "stranger.key" in detail and "gateway.crt" in detail, detail
    res, detail = one(doc, "component")
    assert res == "fail" and "not tried" in detail, detail


def test_doctor_client_certificate_the_edge_refuses(edge, pki):
    """The edge's certificate verifies, but Prosody refuses the gateway's client certificate
    (another CA): the component check over TLS fails and says so."""
    st, tmp, port = edge
    crt, key, _ = pki["rogue"]
    rc, doc = jdoctor(write_conf(tmp, "rogue", st, port, pki, cert=crt, key=key))
    assert rc == 1
    assert one(doc, "tls-files")[0] == "ok"
    res, detail = one(doc, "component")
    assert res == "fail", detail
    # The refusal arrives after the TLS 1.3 handshake: as an alert, or (when the reset
    # overtakes it) as the connection ending; either way the check names TLS and the
    # client certificate.
    assert "TLS" in detail, detail
    assert "alert" in detail or "ended the connection after the handshake" in detail, detail
    assert "does the edge accept the client certificate?" in detail, detail


def test_doctor_expired_certificate(pki):
    crt, key = pki["expired"]
    st, tmp, port = prosody_stack("sx-opstls-expired-", crt, key, pki["ca"])
    try:
        rc, doc = jdoctor(write_conf(tmp, "expired", st, port, pki))
        assert rc == 1
        res, detail = one(doc, "tls")
        assert res == "fail", detail
        assert "expires 2020-02-01 00:00 UTC" in detail, detail
        assert "the edge's certificate has expired; renew" in detail, detail
    finally:
        try:
            st.stop()
        finally:
            drop_tmp(tmp)


def ctl(gw, *args):
    return gw.ctl(*args)


def edge_conf(port, pki, ca=None):
    crt, key, _ = pki["gw"]
    return {"port": port, "secret": COMPONENT_SECRET, "tls": "on", "ca_file": ca or pki["ca"],
            "server_name": INTERNAL, "cert_file": crt, "key_file": key,
            "backoff_min_ms": 200, "backoff_max_ms": 1000}


def test_status_and_doctor_with_a_tls_link_up(edge, pki):
    st, tmp, port = edge
    gw = st.start_gateway(config_overrides={"edge": edge_conf(port, pki)})
    try:
        r = ctl(gw, "status")
        assert r.returncode == 0, r.stdout + r.stderr
        line = [l for l in r.stdout.splitlines() if l.startswith("edge ")]
        assert len(line) == 1, r.stdout
        assert " up since " in line[0] and " tls up TLSv1." in line[0], line[0]
        r = ctl(gw, "status", "--json")
        e = json.loads(r.stdout)["edge"][0]
        assert e["tls"] is True and e["tls_up"] is True
        assert e["tls_session"].startswith("TLSv1."), e
        # doctor with the daemon running: the certificate check still runs, the component
        # check reads the daemon's link instead of a handshake that could displace it.
        r = ctl(gw, "doctor", "--json")
        doc = json.loads(r.stdout)
        assert one(doc, "tls")[0] == "warn"
        res, detail = one(doc, "component")
        assert res == "ok" and "link is up" in detail, detail
    finally:
        st.close_clients()
        gw.stop()
        st.gateway = None


def test_status_shows_a_refused_tls_link(edge, pki):
    st, tmp, port = edge
    gw = Gateway()
    gw.start(os.path.join(tmp, "refused"), domains=INTERNAL, ctl_setup=CTL_SETUP,
             wait_healthy=False, config_overrides={"edge": edge_conf(port, pki, pki["other_ca"])})
    try:
        deadline = time.monotonic() + 15
        r = None
        while time.monotonic() < deadline:
            r = ctl(gw, "status")
            if "last error" in r.stdout:
                break
            time.sleep(0.2)
        assert r.returncode == 1, r.stdout + r.stderr
        line = [l for l in r.stdout.splitlines() if l.startswith("edge ")][0]
        assert " tls down," in line, line
        assert "last error: TLS: the server's certificate was refused:" in line, line
    finally:
        gw.stop()
