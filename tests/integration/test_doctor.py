"""`sipxmppctl doctor` against real servers, with every check made to fail on purpose: a bad
config, a missing store and one of a newer schema, a world-readable secret, no edge server,
a wrong component secret (the handshake refused by the real Prosody), no registrar, the
daemon not running, no policy or partner, and DNS SRV records served by a real dnsmasq
(present, missing, domain not in DNS, DNS unreachable). With everything in place and the
daemon running, every check is ok and doctor exits 0."""

import json
import os
import shutil
import sqlite3
import subprocess

import pytest

import servers
from conftest import (COMPONENT_SECRET, EXTERNAL, INTERNAL, drop_tmp, make_tmp, need_gateway,
                      Stack)
from servers import Gateway, _Child, free_port, wait_tcp


class Dnsmasq(_Child):
    """dnsmasq answering only from its command line on 127.0.0.1:PORT (UDP and TCP):
    SRV records given, names under example. otherwise NXDOMAIN."""

    name = "dnsmasq"

    def start(self, tmpdir, srv=(), hosts=()):
        self.port = free_port()
        self.log_path = os.path.join(tmpdir, "dnsmasq.log")
        argv = ["dnsmasq", "--keep-in-foreground", "--log-facility=-", "--port=%d" % self.port,
                "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
                "--no-hosts", "--conf-file=/dev/null", "--user=root", "--pid-file=",
                "--local=/example/"]
        argv += ["--srv-host=%s" % s for s in srv]
        argv += ["--host-record=%s" % h for h in hosts]
        self._spawn(argv)
        wait_tcp("127.0.0.1", self.port, 10, self.proc, "dnsmasq")
        return self


def doctor(conf, *extra):
    exe = os.path.join(servers.build_dir_from_env(), "sipxmppctl")
    r = subprocess.run([exe, "--config", conf, "doctor"] + list(extra), capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    return r


def jdoctor(conf, *extra):
    r = doctor(conf, "--json", *extra)
    doc = json.loads(r.stdout)
    return r.returncode, doc


def results(doc, check):
    return [(c["result"], c["detail"]) for c in doc["checks"] if c["check"] == check]


def one(doc, check):
    got = results(doc, check)
    assert got, "no %s check in %s" % (check, doc)
    return got[0]


@pytest.fixture(scope="module")
def env():
    need_gateway()
    if not shutil.which("dnsmasq"):
        pytest.fail("dnsmasq is missing (scripts/setup.sh installs dnsmasq-base)")
    tmp = make_tmp("sx-doctor-")
    st = Stack(tmp)
    dns = Dnsmasq()
    try:
        st.start_servers()
        dns.start(tmp, srv=["_xmpp-server._tcp.%s,edge.%s,5269,0,5" % (INTERNAL, INTERNAL)],
                  hosts=["bare.example,127.0.0.2"])
        yield st, dns, tmp
    finally:
        try:
            st.stop()
        finally:
            dns.stop()
            drop_tmp(tmp)


def write_conf(tmp, name, st, edge_port=None, secret=COMPONENT_SECRET, proxy_port=None,
               store=None, domains=INTERNAL, http=True, sip_port=None, secret_mode=0o640):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    secret_file = os.path.join(d, "edge.secret")
    with open(secret_file, "w") as f:
        f.write(secret + "\n")
    os.chmod(secret_file, secret_mode)
    sip_port = sip_port or st.gw_sip_port
    conf = os.path.join(d, "sipxmppd.conf")
    with open(conf, "w") as f:
        f.write("[gateway]\ndomains = %s\nstore = %s\n" % (domains, store or os.path.join(d, "db")))
        f.write("[sip]\nlisten = sip:127.0.0.1:%d;transport=udp, sip:127.0.0.1:%d;transport=tcp\n"
                % (sip_port, sip_port))
        f.write("outbound_proxy = sip:127.0.0.1:%d\n" % (proxy_port or st.kamailio.port))
        f.write("[edge]\nport = %d\nsecret_file = %s\n"
                % (edge_port or st.prosody.component_port, secret_file))
        if http:
            f.write("[http]\nlisten = 127.0.0.1:%d\n" % st.gw_http_port)
    os.chmod(conf, 0o640)
    return conf


def ctl(conf, *args):
    servers.sipxmppctl(conf, *args, ok=(0,))


def test_doctor_without_the_daemon(env):
    st, dns, tmp = env
    conf = write_conf(tmp, "nodaemon", st)
    # no store yet: warned, with nobody able to federate and no partner
    rc, doc = jdoctor(conf, "--dns", "127.0.0.1:%d" % dns.port)
    assert one(doc, "config")[0] == "ok"
    assert one(doc, "store")[0] == "warn" and "does not exist yet" in one(doc, "store")[1]
    assert one(doc, "secret")[0] == "ok"
    assert one(doc, "edge")[0] == "ok"
    # the daemon is not running: doctor speaks XEP-0114 itself and Prosody accepts it
    assert one(doc, "component") == ("ok", "%s: the edge server accepts the handshake with "
                                           "the secret" % INTERNAL), doc
    assert one(doc, "registrar")[0] == "ok"
    assert [r for r, _ in results(doc, "sip")] == ["fail", "fail"], doc
    assert "is sipxmppd running?" in results(doc, "sip")[0][1]
    assert one(doc, "policy")[0] == "warn" and "nobody can federate" in one(doc, "policy")[1]
    assert one(doc, "partners")[0] == "warn"
    assert one(doc, "dns")[0] == "ok" and "edge.%s:5269" % INTERNAL in one(doc, "dns")[1]
    assert rc == 1 and doc["fail"] == 2

    # text form: one line per check, and the summary
    r = doctor(conf, "--dns", "127.0.0.1:%d" % dns.port)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0].startswith("ok    config ") and lines[-1].endswith("2 fail")

    # a store with a policy but nobody enabled yet
    ctl(conf, "partner", "new", EXTERNAL, "--type", "federated")
    ctl(conf, "policy", "new", "fed", "--xmpp")
    rc, doc = jdoctor(conf, "--dns", "127.0.0.1:%d" % dns.port)
    assert one(doc, "store")[0] == "ok"
    assert one(doc, "policy")[0] == "warn", "a tag granted to nobody enables nobody"
    assert one(doc, "partners") == ("ok", "1 partner(s), first %s" % EXTERNAL)
    ctl(conf, "user", "add", "sip:bob@%s" % INTERNAL, "--policy", "fed")
    rc, doc = jdoctor(conf, "--dns", "127.0.0.1:%d" % dns.port)
    assert one(doc, "policy") == ("ok", "XMPP is enabled for 1 user(s) through policy 'fed'")


def test_each_check_fails_on_purpose(env):
    st, dns, tmp = env
    dnsarg = ("--dns", "127.0.0.1:%d" % dns.port)
    # config
    bad = os.path.join(tmp, "bad.conf")
    with open(bad, "w") as f:
        f.write("[gateway]\ndomains = %s\nbogus = 1\n" % INTERNAL)
    rc, doc = jdoctor(bad)
    assert rc == 3 and doc["checks"] == [
        {"check": "config", "result": "fail",
         "detail": "%s:3: gateway.bogus: unknown key" % bad}], doc
    # store of a newer schema
    conf = write_conf(tmp, "newer", st)
    ctl(conf, "policy", "set", "global", "--xmpp")
    db = sqlite3.connect(os.path.join(tmp, "newer", "db"))
    db.execute("UPDATE schema_version SET version = version + 7")
    db.commit()
    db.close()
    rc, doc = jdoctor(conf, *dnsarg)
    assert one(doc, "store")[0] == "fail" and "newer than this sipxmpp" in one(doc, "store")[1]
    # a world-readable secret file
    conf = write_conf(tmp, "secret", st, secret_mode=0o644)
    rc, doc = jdoctor(conf, *dnsarg)
    assert one(doc, "secret")[0] == "fail" and "world-readable" in one(doc, "secret")[1]
    # the sample config's secret
    conf = write_conf(tmp, "sample", st, secret="change-me-demo-secret")
    rc, doc = jdoctor(conf, *dnsarg)
    assert one(doc, "secret")[0] == "warn" and "still the sample's" in one(doc, "secret")[1]
    # no edge server on the port
    conf = write_conf(tmp, "noedge", st, edge_port=free_port())
    rc, doc = jdoctor(conf, *dnsarg)
    assert one(doc, "edge")[0] == "fail" and "Connection refused" in one(doc, "edge")[1]
    assert not results(doc, "component")
    # the edge server refuses the component: a wrong secret, a domain it does not know
    conf = write_conf(tmp, "wrongsecret", st, secret="not-the-secret")
    rc, doc = jdoctor(conf, *dnsarg)
    res, detail = one(doc, "component")
    assert res == "fail" and "not-authorized" in detail and "secret differs" in detail, detail
    conf = write_conf(tmp, "unknowndomain", st, domains="other.example")
    rc, doc = jdoctor(conf, *dnsarg)
    assert one(doc, "component")[0] == "fail", doc
    # no registrar
    conf = write_conf(tmp, "noproxy", st, proxy_port=free_port())
    rc, doc = jdoctor(conf, *dnsarg)
    assert one(doc, "registrar")[0] == "fail" and "nothing listens" in one(doc, "registrar")[1]
    # DNS: no SRV for a domain that exists, a domain not in DNS, DNS unreachable
    conf = write_conf(tmp, "dns", st, domains="%s, bare.example, gone.example" % INTERNAL)
    rc, doc = jdoctor(conf, *dnsarg)
    got = results(doc, "dns")
    assert got[0][0] == "ok"
    assert got[1][0] == "fail" and "_xmpp-server._tcp.bare.example has no SRV" in got[1][1]
    assert got[2][0] == "warn" and "gone.example is not in DNS" in got[2][1]
    rc, doc = jdoctor(conf, "--dns", "127.0.0.1:%d" % free_port())
    assert [r for r, _ in results(doc, "dns")] == ["warn"] * 3
    assert "DNS not reachable" in results(doc, "dns")[0][1]


def test_doctor_with_the_daemon_running(env):
    st, dns, tmp = env
    gw = st.start_gateway()
    try:
        conf = gw.cfg_path
        os.chmod(conf, 0o640)
        rc, doc = jdoctor(conf, "--dns", "127.0.0.1:%d" % dns.port)
        bad = [c for c in doc["checks"] if c["result"] != "ok"]
        assert rc == 0 and not bad, doc
        assert one(doc, "component") == ("ok", "%s: the daemon's link is up" % INTERNAL)
        assert [r for r, _ in results(doc, "sip")] == ["ok", "ok"]
        # the link goes down while the daemon runs: doctor reads it from /status
        st.prosody.stop()
        gw.wait_health(False, 15)
        rc, doc = jdoctor(conf, "--dns", "127.0.0.1:%d" % dns.port)
        assert rc == 1 and one(doc, "edge")[0] == "fail"
        st.prosody.start_again()
        gw.wait_health(True, 20)
        rc, doc = jdoctor(conf, "--dns", "127.0.0.1:%d" % dns.port)
        assert rc == 0, doc
    finally:
        gw.stop()
        st.gateway = None
