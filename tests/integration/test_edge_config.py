"""`sipxmppctl edge-config` through the real edge servers: the rendered file is included by a
real Prosody 0.12 and a real ejabberd 23.01, `prosodyctl check config` finds nothing to
report, ejabberd starts with it, and the gateway's component link comes up on each."""

import os

import pytest

import ejabberd
import servers
from conftest import drop_tmp, make_tmp, need_gateway
from servers import Gateway, Prosody, free_port, lua_str

INTERNAL = "contoso.example"
SALES = "sales.contoso.example"
EXTERNAL = "fabrikam.example"
SECRET = 'edge "secret" \\ 1'


def ctl(conf, *args):
    return servers.sipxmppctl(conf, *args)


class IncludingProsody(Prosody):
    """Prosody whose only components come from the rendered file, Included at the end of a
    main config with a VirtualHost for the external users."""

    include = None

    def _write_config(self):
        d = self.dir
        lines = [
            "run_as_root = true",
            "pidfile = %s" % lua_str(self.pidfile),
            "data_path = %s" % lua_str(os.path.join(d, "data")),
            "log = { { levels = { min = \"info\" }, to = \"file\", filename = %s } }"
            % lua_str(self.log_path),
            "interfaces = { \"127.0.0.1\" }",
            "c2s_ports = { %d }" % self.c2s_port,
            "c2s_interfaces = { \"127.0.0.1\" }",
            "s2s_ports = { %d }" % free_port(),
            "s2s_interfaces = { \"127.0.0.1\" }",
            "http_ports = { }",
            "https_ports = { }",
            "c2s_require_encryption = false",
            "allow_unencrypted_plain_auth = true",
            "authentication = \"internal_plain\"",
            "storage = \"internal\"",
            "modules_enabled = { \"roster\", \"saslauth\", \"disco\", \"ping\", \"posix\", "
            "\"dialback\" }",
            "modules_disabled = { \"offline\" }",
            "",
            "VirtualHost %s" % lua_str(self.external_domain),
            "",
            "Include %s" % lua_str(self.include),
            "",
        ]
        with open(self.cfg_path, "w") as f:
            f.write("\n".join(lines))


def write_gateway_conf(tmp, edge_port):
    """The config sipxmppctl renders from; the gateway gets the same values."""
    store = os.path.join(tmp, "sipxmppd", "sipxmpp.db")
    os.makedirs(os.path.dirname(store), exist_ok=True)
    conf = os.path.join(tmp, "render.conf")
    secret_file = os.path.join(tmp, "edge.secret")
    with open(secret_file, "w") as f:
        f.write(SECRET + "\n")
    with open(conf, "w") as f:
        f.write("[gateway]\ndomains = %s, %s\nstore = %s\n[sip]\noutbound_proxy = "
                "sip:127.0.0.1:5060\n[edge]\nhost = 127.0.0.1\nport = %d\nsecret_file = %s\n"
                "[federation]\nstream_establishment_timeout_s = 45\n"
                "stream_inactivity_timeout_s = 900\nkeepalive_interval_s = 120\n"
                "dialback_passphrase = Dialback-Pass-1\n"
                % (INTERNAL, SALES, store, edge_port, secret_file))
    for argv in (["policy", "set", "global", "--xmpp"],
                 ["partner", "new", EXTERNAL, "--type", "federated", "--additional-domains",
                  "corp.fabrikam.example", "--sasl", "optional"],
                 ["partner", "new", "strict.example", "--dialback", "off"]):
        r = ctl(conf, *argv)
        assert r.returncode == 0, r.stderr
    return conf, secret_file


def start_gateway(tmp, edge_port, secret_file):
    gw = Gateway()
    gw.start(tmp, domains="%s, %s" % (INTERNAL, SALES), ctl_setup=[],
             config_overrides={"edge": {"port": edge_port, "secret": None,
                                        "secret_file": secret_file}})
    return gw


def test_prosody_takes_the_rendered_file():
    need_gateway()
    tmp = make_tmp("sx-edgecfg-p-")
    prosody, gw = IncludingProsody(), None
    try:
        port = free_port()
        conf, secret_file = write_gateway_conf(tmp, port)
        out = os.path.join(tmp, "sipxmpp.cfg.lua")
        r = ctl(conf, "edge-config", "prosody", "--output", out)
        assert r.returncode == 0, r.stderr
        assert oct(os.stat(out).st_mode & 0o777) == "0o640"
        text = open(out).read()
        assert 'Component "%s"' % INTERNAL in text and 'Component "%s"' % SALES in text
        assert "component_ports = { %d }" % port in text
        assert 's2s_secure_domains = { "strict.example" }' in text
        assert "s2s_timeout = 45" in text and "read_timeout = 120" in text
        assert 'dialback_secret = "Dialback-Pass-1"' in text
        assert "s2s_require_encryption = true" in text
        r2 = ctl(conf, "edge-config", "prosody")
        assert r2.returncode == 0 and r2.stdout == text, "stdout and --output agree"

        prosody.include = out
        prosody.start(tmp, internal_domain=INTERNAL, external_domain=EXTERNAL,
                      component_port=port, component_secret=SECRET, users={"alice": "pw"},
                      log_level="info")
        rc, report = prosody.check_config()
        assert rc == 0, report
        assert "All checks passed" in report, report
        assert "warning" not in report.lower() and "error" not in report.lower(), report
        gw = start_gateway(tmp, port, secret_file)
        assert gw.healthz() == 200
    finally:
        try:
            if gw:
                gw.stop()
        finally:
            prosody.stop()
            drop_tmp(tmp)


EJABBERD_MAIN = """hosts:
  - "%s"
loglevel: info
log_rotate_count: 0
certfiles: []
listen:
  -
    port: %d
    ip: "127.0.0.1"
    module: ejabberd_c2s
include_config_file: "@DIR@/sipxmpp.yml"
"""


@pytest.mark.skipif(not ejabberd.available(), reason="ejabberd is not installed")
def test_ejabberd_takes_the_rendered_file():
    need_gateway()
    tmp = make_tmp("sx-edgecfg-e-")
    ej, gw = ejabberd.Ejabberd(), None
    try:
        port = free_port()
        conf, secret_file = write_gateway_conf(tmp, port)
        # a partner with TLS optional: the global setting becomes optional (with a comment)
        r = ctl(conf, "partner", "new", "loose.example", "--tls", "optional", "--sasl",
                "optional")
        assert r.returncode == 0, r.stderr
        r = ctl(conf, "edge-config", "ejabberd")
        assert r.returncode == 0, r.stderr
        text = r.stdout
        assert "module: ejabberd_service" in text and "port: %d" % port in text
        assert '"corp.fabrikam.example"' in text and "s2s_access: sipxmpp_s2s" in text
        assert "negotiation_timeout: 45" in text and "s2s_timeout: 900" in text
        assert "s2s_use_starttls: optional # not every partner has TLS Required" in text
        assert "      - \"strict.example\"\n" in text.split("sipxmpp_no_dialback:")[1]
        ej.start(tmp, EJABBERD_MAIN % (EXTERNAL, free_port()), files={"sipxmpp.yml": text},
                 wait_ports=[port])
        gw = start_gateway(tmp, port, secret_file)
        assert gw.healthz() == 200
        log = ej.ejabberd_log()
        assert "Invalid value" not in log and "unknown option" not in log.lower(), log[-3000:]
    finally:
        try:
            if gw:
                gw.stop()
        finally:
            ej.stop()
            drop_tmp(tmp)


# ---- [edge] tls = on ----------------------------------------------------------------------

def tls_pki(tmp):
    from certs import CA
    ca = CA(os.path.join(tmp, "pki"), "sx-test-ca")
    return ca, ca.issue("edge", [INTERNAL]), ca.issue("gateway", [INTERNAL])


def add_tls(conf, ca, gw_cert):
    with open(conf, "a") as f:
        f.write("[edge]\ntls = on\nca_file = %s\nserver_name = %s\ncert_file = %s\nkey_file = %s\n"
                % (ca.crt, INTERNAL, gw_cert[0], gw_cert[1]))


def start_tls_gateway(tmp, port, secret_file, ca, gw_cert):
    gw = Gateway()
    gw.start(tmp, domains="%s, %s" % (INTERNAL, SALES), ctl_setup=[],
             config_overrides={"edge": {"port": port, "secret": None,
                                        "secret_file": secret_file, "tls": "on",
                                        "ca_file": ca.crt, "server_name": INTERNAL,
                                        "cert_file": gw_cert[0], "key_file": gw_cert[1]}})
    return gw


class MultiplexProsody(IncludingProsody):
    """The admin's step the rendered file asks for: net_multiplex in modules_enabled."""

    def _write_config(self):
        super()._write_config()
        with open(self.cfg_path) as f:
            text = f.read()
        with open(self.cfg_path, "w") as f:
            f.write(text.replace('"dialback" }', '"dialback", "net_multiplex" }'))


def test_prosody_takes_the_rendered_tls_file():
    need_gateway()
    tmp = make_tmp("sx-edgecfg-pt-")
    prosody, gw = MultiplexProsody(), None
    try:
        ca, edge, gw_cert = tls_pki(tmp)
        port = free_port()
        conf, secret_file = write_gateway_conf(tmp, port)
        add_tls(conf, ca, gw_cert)
        r = ctl(conf, "edge-config", "prosody")
        assert r.returncode == 0, r.stderr
        assert 'certificate = "/etc/prosody/certs/%s.crt"' % INTERNAL in r.stdout, r.stdout
        out = os.path.join(tmp, "sipxmpp.cfg.lua")
        r = ctl(conf, "edge-config", "prosody", "--output", out, "--tls-cert", edge[0],
                "--tls-key", edge[1])
        assert r.returncode == 0, r.stderr
        text = open(out).read()
        assert "component_ports = { }\nssl_ports = { %d }" % port in text, text
        assert 'cafile = "%s"' % ca.crt in text and "lsec_continue = false" in text, text
        assert '"fail_if_no_peer_cert"' in text, text
        prosody.include = out
        prosody.start(tmp, internal_domain=INTERNAL, external_domain=EXTERNAL,
                      component_port=port, component_secret=SECRET, users={"alice": "pw"},
                      log_level="info")
        rc, report = prosody.check_config()
        assert rc == 0, report
        gw = start_tls_gateway(tmp, port, secret_file, ca, gw_cert)
        assert gw.healthz() == 200
        assert gw.log_contains(r"%s up: component accepted by 127\.0\.0\.1:%d \(verified "
                               r"TLSv1\.[23] " % (INTERNAL.replace(".", r"\."), port)), \
            gw.log_text()[-2000:]
    finally:
        try:
            if gw:
                gw.stop()
        finally:
            prosody.stop()
            drop_tmp(tmp)


@pytest.mark.skipif(not ejabberd.available(), reason="ejabberd is not installed")
def test_ejabberd_takes_the_rendered_tls_file():
    need_gateway()
    tmp = make_tmp("sx-edgecfg-et-")
    ej, gw, started = ejabberd.Ejabberd(), None, False
    try:
        ca, edge, gw_cert = tls_pki(tmp)
        port = free_port()
        conf, secret_file = write_gateway_conf(tmp, port)
        add_tls(conf, ca, gw_cert)
        pem_path = os.path.join(tmp, "ejabberd", "cfg", "edge.pem")  # ej.start's config dir
        r = ctl(conf, "edge-config", "ejabberd", "--tls-cert", pem_path)
        assert r.returncode == 0, r.stderr
        text = r.stdout
        assert '    tls: true\n    certfile: "%s"\n' % pem_path in text, text
        assert "ejabberd 23.01 does not verify the client certificate" in text, text
        with open(edge[2]) as f:
            pem = f.read()
        started = True
        ej.start(tmp, EJABBERD_MAIN % (EXTERNAL, free_port()),
                 files={"sipxmpp.yml": text, "edge.pem": pem}, wait_ports=[port])
        gw = start_tls_gateway(tmp, port, secret_file, ca, gw_cert)
        assert gw.healthz() == 200
        assert gw.log_contains(r"up: component accepted by 127\.0\.0\.1:%d \(verified "
                               r"TLSv1\.[23] " % port), gw.log_text()[-2000:]
    finally:
        try:
            if gw:
                gw.stop()
        finally:
            if started:
                ej.stop()
            drop_tmp(tmp)
