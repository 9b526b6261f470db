"""The admin web console's API and pages (gateway/admin_*.c) on a running sipxmppd between a
real Prosody and a real Kamailio: no answer without a session, CSRF refusals, the same
validation messages as sipxmppctl (compared with the CLI's actual output), concurrent edits
from the CLI and the console, a console write waiting for the store's lock off the loop (and
the daemon stopped meanwhile), changes reaching the running daemon within a second, the
edge secret never shown, failed logins throttled and logged, and HTTPS.
"""

import html
import http.client
import json
import os
import subprocess
import threading
import time

import pytest

import servers
from adminclient import AdminClient
from conftest import COMPONENT_SECRET, EXTERNAL, INTERNAL, need_gateway, stack_fixture

ADMIN, PASSWORD = "root", "console-pass-1"


def ctl(gw, *args, stdin=None, ok=(0,)):
    return gw.ctl(*args, stdin=stdin, ok=ok)


def cli_errors(r):
    """The CLI's error and warning lines without their prefix."""
    return [l.split(": ", 1)[1] for l in r.stderr.splitlines()
            if l.startswith("error: ") or l.startswith("warning: ")]


@pytest.fixture(scope="module")
def ast():
    need_gateway()
    port = servers.free_port()
    for st in stack_fixture("sx-admin-", with_gateway=True,
                            config_overrides={"admin": {"listen": "127.0.0.1:%d" % port}}):
        st.admin_port = port
        ctl(st.gateway, "admin", "passwd", ADMIN, stdin=PASSWORD + "\n")
        yield st


@pytest.fixture
def admin(ast):
    c = AdminClient(ast.admin_port)
    r = c.login(ADMIN, PASSWORD)
    assert r.status == 200, r.text
    try:
        yield c
    finally:
        ast.close_clients()


PAGES = ["/", "/partners", "/policies", "/users", "/relations", "/check"]
APIS = ["/api/status", "/api/partners", "/api/policies", "/api/users", "/api/session",
        "/api/relations?user=sip:bob@contoso.example",
        "/api/check?user=sip:bob@contoso.example&contact=alice@fabrikam.example"]


def test_nothing_answers_without_a_session(ast):
    c = AdminClient(ast.admin_port)
    for p in PAGES:
        r = c.get(p)
        assert r.status == 303 and r.header("Location") == "/login", (p, r.status)
        assert b"fabrikam" not in r.body
    for p in APIS:
        r = c.get(p)
        assert r.status == 401, (p, r.status, r.text)
        assert "log in" in r.json()["error"]
    for method, p in [("POST", "/api/partners"), ("PUT", "/api/partners?domain=x.example"),
                      ("DELETE", "/api/users?user=sip:bob@contoso.example"),
                      ("POST", "/partners"), ("POST", "/api/users/import")]:
        r = c.request(method, p, {"domain": "x.example"})
        assert r.status in (303, 401), (method, p, r.status)
    # a made-up cookie is no session either
    c.cookie = "a" * 64
    assert c.get("/api/status").status == 401
    # the login page and the two static files answer
    assert AdminClient(ast.admin_port).get("/login").status == 200
    assert AdminClient(ast.admin_port).get("/static/console.css").status == 200
    # the CLI made nothing else: the partner list is unchanged after all these attempts
    assert "x.example" not in ctl(ast.gateway, "partner", "list").stdout


def test_login_cookie_logout(ast):
    c = AdminClient(ast.admin_port)
    assert c.login(ADMIN, "wrong-password").status == 401
    r = c.form("/login", {"name": ADMIN, "password": PASSWORD}, csrf=False)
    assert r.status == 303 and r.header("Location") == "/"
    cookie = [v for v in r.all("Set-Cookie") if v.startswith("sxadmin=")][0]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert len(c.cookie) == 64 and all(ch in "0123456789abcdef" for ch in c.cookie)
    s = c.get("/api/session").json()
    assert s["user"] == ADMIN and len(s["csrf"]) == 64 and s["csrf"] != c.cookie
    c.csrf = s["csrf"]
    page = c.get("/")
    assert page.status == 200 and "Edge links" in page.text
    assert page.header("Content-Security-Policy") and page.header("X-Frame-Options") == "DENY"
    old = c.cookie
    r = c.form("/logout", {})
    assert r.status == 303
    c.cookie = old
    assert c.get("/api/status").status == 401, "the session ended at logout"
    assert ast.gateway.log_contains(r"failed login for 'root' from 127\.0\.0\.1")


def test_removed_admin_logged_out(ast):
    gw = ast.gateway
    ctl(gw, "admin", "passwd", "temp", stdin="temporary-pass\n")
    c = AdminClient(ast.admin_port)
    assert c.login("temp", "temporary-pass").status == 200
    assert c.get("/api/status").status == 200
    ctl(gw, "admin", "remove", "temp")
    assert c.get("/api/status").status == 401, "a removed admin's session ends at once"
    assert gw.log_contains(r"session of 'temp' ended: the admin was removed")


def test_csrf_refused(admin, ast):
    body = {"domain": "csrf.example", "PartnerType": "federated"}
    assert admin.request("POST", "/api/partners", body, csrf=False).status == 403
    assert admin.request("POST", "/api/partners", body,
                         headers={"X-CSRF-Token": "0" * 64}, csrf=False).status == 403
    r = admin.form("/partners", {"op": "create", "domain": "csrf.example"}, csrf=False)
    assert r.status == 403 and "missing or wrong CSRF token" in r.text
    assert r.header("Content-Type").startswith("text/html")
    other = AdminClient(ast.admin_port)
    other.login(ADMIN, PASSWORD)
    # another session's token is not this session's
    assert admin.request("POST", "/api/partners", body,
                         headers={"X-CSRF-Token": other.csrf}, csrf=False).status == 403
    assert admin.api("GET", "/api/partners", domain="csrf.example").status == 404
    assert "csrf.example" not in ctl(ast.gateway, "partner", "list").stdout
    assert ast.gateway.log_contains(r"POST /api/partners from 127\.0\.0\.1 refused: missing or "
                                    r"wrong CSRF token")


# (API body, the same partner on sipxmppctl's command line)
INVALID_PARTNERS = [
    ({"domain": "bad1.example", "TlsNegotiation": "not-supported", "SaslNegotiation": "required"},
     ["bad1.example", "--tls", "not-supported", "--sasl", "required"]),
    ({"domain": "bad2.example", "TlsNegotiation": "optional", "SaslNegotiation": "optional",
      "SupportDialbackNegotiation": False, "TlsNegotiation": "not-supported"},
     ["bad2.example", "--tls", "not-supported", "--sasl", "optional", "--dialback", "off"]),
    ({"domain": "bad3.example", "TlsNegotiation": "not-supported",
      "SaslNegotiation": "not-supported", "SupportDialbackNegotiation": False},
     ["bad3.example", "--tls", "not-supported", "--sasl", "not-supported", "--dialback", "off"]),
    ({"domain": INTERNAL}, [INTERNAL]),
    ({"domain": "bad..example"}, ["bad..example"]),
    ({"domain": "dup.example", "AdditionalDomains": [EXTERNAL]},
     ["dup.example", "--additional-domains", EXTERNAL]),
]


@pytest.mark.parametrize("body,args", INVALID_PARTNERS)
def test_partner_validation_identical_to_cli(admin, ast, body, args):
    cli = ctl(ast.gateway, "partner", "new", *args, ok=(1,))
    want = cli_errors(cli)
    assert len(want) == 1, cli.stderr
    r = admin.api("POST", "/api/partners", body)
    assert r.status in (400, 409), r.text
    assert r.json()["error"] == want[0]
    # the page shows the same words, with what was entered kept in the form
    fields = {"op": "create", "domain": body["domain"]}
    for k, v in body.items():
        if k != "domain":
            fields[k] = ", ".join(v) if isinstance(v, list) else (
                ("on" if v else "off") if isinstance(v, bool) else v)
    page = admin.form("/partners", fields)
    assert page.status == 400
    assert want[0] in html.unescape(page.text)
    assert 'value="%s"' % html.escape(body["domain"]) in page.text
    # nothing was saved
    assert admin.api("GET", "/api/partners", domain=body["domain"]).status in (400, 404)


def test_partner_warning_shown_and_saved(admin, ast):
    cli = ctl(ast.gateway, "partner", "new", "warn-cli.example", "--tls", "optional",
              "--sasl", "required")
    want = cli_errors(cli)
    assert len(want) == 1 and "TlsNegotiation" in want[0]
    r = admin.api("POST", "/api/partners", {"domain": "warn-api.example",
                                            "TlsNegotiation": "optional",
                                            "SaslNegotiation": "required"})
    assert r.status == 201, r.text
    assert r.json()["warning"] == want[0].replace("warn-cli.example", "warn-api.example")
    assert r.json()["SaslNegotiation"] == "Required"
    # saved: the CLI sees it
    show = ctl(ast.gateway, "--json", "partner", "show", "warn-api.example")
    assert json.loads(show.stdout)["TlsNegotiation"] == "Optional"
    # the page flashes the warning after the redirect
    r = admin.form("/partners", {"op": "update", "domain": "warn-api.example",
                                 "Description": "edited"})
    assert r.status == 303
    page = admin.get("/partners")
    assert "warning: " in page.text and "edited" in page.text
    for d in ("warn-cli.example", "warn-api.example"):
        assert admin.api("DELETE", "/api/partners", domain=d).status == 200


def test_partner_every_field(admin, ast):
    """Every SPEC §5 field through the API is what the CLI shows, and a page edit keeps it."""
    body = {"domain": "All.Fields.Example", "PartnerType": "public-verified",
            "AdditionalDomains": ["b.fields.example", "A.fields.example"],
            "TlsNegotiation": "Required", "SaslNegotiation": "not-supported",
            "SupportDialbackNegotiation": True, "EnableKeepAlive": False,
            "ConnectionLimit": 7, "ProxyFqdn": "proxy.fields.example",
            "Description": "all <fields> & more"}
    r = admin.api("POST", "/api/partners", body)
    assert r.status == 201, r.text
    cli = json.loads(ctl(ast.gateway, "--json", "partner", "show", "all.fields.example").stdout)
    got = r.json()
    got.pop("warning", None)
    assert got == cli
    assert cli == {"domain": "all.fields.example",
                   "AdditionalDomains": ["a.fields.example", "b.fields.example"],
                   "Description": "all <fields> & more", "PartnerType": "PublicVerified",
                   "TlsNegotiation": "Required", "SaslNegotiation": "NotSupported",
                   "SupportDialbackNegotiation": True, "EnableKeepAlive": False,
                   "ConnectionLimit": 7, "ProxyFqdn": "proxy.fields.example"}
    # the edit form shows every value (escaped), and saving it unchanged changes nothing
    page = admin.get("/partners", edit="all.fields.example").text
    assert 'value="all &lt;fields&gt; &amp; more"' in page
    assert 'value="a.fields.example, b.fields.example"' in page
    assert 'value="proxy.fields.example"' in page and 'value="7"' in page
    r = admin.form("/partners", {"op": "update", "domain": "all.fields.example",
                                 "PartnerType": "PublicVerified",
                                 "AdditionalDomains": "a.fields.example, b.fields.example",
                                 "TlsNegotiation": "Required", "SaslNegotiation": "NotSupported",
                                 "SupportDialbackNegotiation": "on", "EnableKeepAlive": "off",
                                 "ConnectionLimit": "7", "ProxyFqdn": "proxy.fields.example",
                                 "Description": "all <fields> & more"})
    assert r.status == 303
    assert json.loads(ctl(ast.gateway, "--json", "partner", "show",
                          "all.fields.example").stdout) == cli
    # PUT changes only what it names; an additional domain is not the partner's name
    r = admin.api("PUT", "/api/partners", {"ConnectionLimit": 0}, domain="all.fields.example")
    assert r.json()["ConnectionLimit"] == 0 and r.json()["ProxyFqdn"] == "proxy.fields.example"
    cli_err = cli_errors(ctl(ast.gateway, "partner", "set", "a.fields.example",
                             "--keepalive", "on", ok=(1,)))
    r = admin.api("PUT", "/api/partners", {"EnableKeepAlive": True}, domain="a.fields.example")
    assert r.status == 400 and r.json()["error"] == cli_err[0]
    assert admin.api("DELETE", "/api/partners", domain="all.fields.example").status == 200


def test_policy_rules_identical_to_cli(admin, ast):
    cli = ctl(ast.gateway, "policy", "remove", "global", ok=(1,))
    r = admin.api("DELETE", "/api/policies", name="global")
    assert r.status == 400 and r.json()["error"] == cli_errors(cli)[0]
    cli = ctl(ast.gateway, "policy", "new", "bad name!", ok=(1,))
    r = admin.api("POST", "/api/policies", {"name": "bad name!"})
    assert r.status == 400 and r.json()["error"] == cli_errors(cli)[0]
    cli = ctl(ast.gateway, "policy", "grant", "NoSuchTag", "--user", "sip:bob@%s" % INTERNAL,
              ok=(1,))
    r = admin.api("POST", "/api/policies/grant", {"policy": "NoSuchTag",
                                                  "user": "sip:bob@%s" % INTERNAL})
    assert r.status >= 400 and r.json()["error"] == cli_errors(cli)[0]
    # new, edit flags, grant, remove in use (refused like the CLI), remove with force
    r = admin.api("POST", "/api/policies", {"name": "Tmp", "EnableXmppAccess": True})
    assert r.status == 201 and r.json()["EnableXmppAccess"] is True
    r = admin.api("PUT", "/api/policies", {"EnableFederationAccess": True}, name="Tmp")
    assert r.json()["EnableFederationAccess"] is True and r.json()["EnableXmppAccess"] is True
    r = admin.api("POST", "/api/policies/grant", {"policy": "Tmp", "user": "sip:t1@%s" % INTERNAL})
    assert r.status == 200 and r.json()["changed"] == 1
    cli = ctl(ast.gateway, "policy", "remove", "Tmp", ok=(1,))
    r = admin.api("DELETE", "/api/policies", name="Tmp")
    assert r.status == 409 and r.json()["error"] == cli_errors(cli)[0]
    assert admin.api("DELETE", "/api/policies", name="Tmp", force=1).status == 200
    assert admin.api("DELETE", "/api/users", user="sip:t1@%s" % INTERNAL).status == 200


def test_user_import_errors_identical_to_cli(admin, ast, tmp_path):
    csv = ("uri,site,policy\n"
           "sip:imp1@%s,redmond,\n"
           "not an address,,\n"
           "sip:imp2@%s,,NoSuchTag\n"
           "\"sip:imp1@%s\",,\n"
           "a,b,c,d\n" % (INTERNAL, INTERNAL, INTERNAL))
    path = tmp_path / "users.csv"
    path.write_text(csv)
    cli = subprocess.run([os.path.join(ast.gateway.build_dir, "sipxmppctl"), "--config",
                          ast.gateway.cfg_path, "user", "import", str(path)],
                         capture_output=True, text=True, env=ast.gateway.env, timeout=30)
    assert cli.returncode == 1
    cli_lines = [l for l in cli.stderr.splitlines() if l.startswith(str(path) + ":")]
    assert len(cli_lines) == 4, cli.stderr
    r = admin.request("POST", "/api/users/import?filename=%s" % path, csv,
                      {"Content-Type": "text/csv"})
    assert r.status == 400, r.text
    assert r.json()["errors"] == cli_lines
    assert r.json()["error"] == cli_errors(cli)[-1]
    assert admin.api("GET", "/api/users", user="sip:imp1@%s" % INTERNAL).status == 404
    # the page: a multipart upload shows the same lines
    boundary = "sxboundary"
    body = ("--%s\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n%s\r\n"
            "--%s\r\nContent-Disposition: form-data; name=\"op\"\r\n\r\nimport\r\n"
            "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            "Content-Type: text/csv\r\n\r\n%s\r\n--%s--\r\n"
            % (boundary, admin.csrf, boundary, boundary, path, csv, boundary))
    page = admin.request("POST", "/users", body,
                         {"Content-Type": "multipart/form-data; boundary=%s" % boundary},
                         csrf=False)
    assert page.status == 400
    for line in cli_lines:
        assert line in html.unescape(page.text)
    # with skip_bad the good line is saved, as with --skip-bad
    r = admin.request("POST", "/api/users/import?skip_bad=1&filename=x.csv", csv,
                      {"Content-Type": "text/csv"})
    assert r.status == 200 and r.json()["added"] == 1 and r.json()["skipped"] == 4
    u = admin.api("GET", "/api/users", user="sip:IMP1@%s" % INTERNAL.upper()).json()
    assert u["user"] == "imp1@%s" % INTERNAL and u["site"] == "redmond"
    assert admin.api("DELETE", "/api/users", user="sip:imp1@%s" % INTERNAL).status == 200


def test_check_identical_to_cli(admin, ast):
    for user, contact, args in [("sip:bob@%s" % INTERNAL, "alice@%s" % EXTERNAL, []),
                                ("sip:bob@%s" % INTERNAL, "oscar@outsider.example", []),
                                ("sip:bob@%s" % INTERNAL, "alice@%s" % EXTERNAL,
                                 ["--inbound", "--subscribe"])]:
        cli = ctl(ast.gateway, "check", user, contact, *args, ok=(0, 1))
        q = {"user": user, "contact": contact}
        if "--inbound" in args:
            q.update(direction="inbound", kind="subscribe")
        r = admin.api("GET", "/api/check", **q)
        assert r.status == 200
        assert r.json()["text"] == cli.stdout
        assert r.json()["decision"] == cli.stdout.split(":")[0]
        page = admin.get("/check", **q)
        assert cli.stdout.splitlines()[0] in html.unescape(page.text)


def test_bad_input_refused(admin, ast):
    cases = [
        ("POST", "/api/partners", "{not json", 400, "JSON object"),
        ("POST", "/api/partners", "[1, 2]", 400, "JSON object"),
        ("POST", "/api/partners", {"domain": "t.example", "ConnectionLimit": "-1"}, 400,
         "ConnectionLimit '-1'"),
        ("POST", "/api/partners", {"domain": "t.example", "PartnerType": "friendly"}, 400,
         "PartnerType 'friendly'"),
        ("POST", "/api/partners", {"domain": "t.example", "EnableKeepAlive": "maybe"}, 400,
         "EnableKeepAlive"),
        ("POST", "/api/partners", {"domain": ["t.example"]}, 400, "domain"),
        ("POST", "/api/policies", {"name": "P", "EnableXmppAccess": 3}, 400, "EnableXmppAccess"),
        ("POST", "/api/users", {"uri": "sip:"}, 400, "user 'sip:'"),
        ("PUT", "/api/users?user=sip:nobody@contoso.example", {"site": "x"}, 404, "nobody"),
        ("POST", "/api/policies/grant", {"user": "sip:bob@contoso.example"}, 400, "policy"),
        ("GET", "/api/check?user=sip:bob@contoso.example&contact=a@b.example&kind=call", None,
         400, "kind 'call'"),
        ("PATCH", "/api/partners", None, 405, "method"),
        ("GET", "/api/nothing", None, 404, "no such API path"),
    ]
    for method, path, body, status, words in cases:
        r = admin.request(method, path, body)
        assert r.status == status, (method, path, r.status, r.text)
        assert words in r.json()["error"], (path, r.text)
    # a body over 4 MiB is refused whole
    r = admin.request("POST", "/api/users/import", "x" * (4 * 1024 * 1024 + 1),
                      {"Content-Type": "text/csv"})
    assert r.status == 413
    # a NUL byte in a form field is refused, not cut
    r = admin.request("POST", "/users", b"csrf=%s&op=add&uri=sip:a%%00b@contoso.example"
                      % admin.csrf.encode(),
                      {"Content-Type": "application/x-www-form-urlencoded"}, csrf=False)
    assert r.status == 400 and "malformed form data" in r.text
    # more than 64 form fields
    r = admin.request("POST", "/users", "&".join("f%d=1" % i for i in range(100)),
                      {"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 400
    assert admin.api("GET", "/api/partners", domain="t.example").status == 404
    assert admin.get("/api/status").status == 200, "still serving"


def test_relations_from_the_store(admin, ast):
    user, contact = "sip:rel@%s" % INTERNAL, "carol@%s" % EXTERNAL
    r = admin.api("GET", "/api/relations", user=user)
    assert r.status == 200 and r.json()["contacts"] == []
    assert "no contact entries" in admin.get("/relations", user=user).text
    ctl(ast.gateway, "contact", "add", user, contact)
    cli = json.loads(ctl(ast.gateway, "--json", "contact", "list", user).stdout)
    r = admin.api("GET", "/api/relations", user=user)
    assert r.json()["contacts"] == cli and cli[0]["state"] == "added"
    page = html.unescape(admin.get("/relations", user=user).text)
    # the row shows the relation both ways and the policy state, as the CLI lists them
    row = "<tr><td>%s</td><td>%s</td><td>yes</td><td>%s</td><td>%s</td><td>%s</td>" % (
        contact, cli[0]["state"], cli[0]["subscription_out"], cli[0]["subscription_in"],
        cli[0]["policy"])
    assert row in page, page
    # the daemon takes the relation up, and drops it when removed, within a second each
    # (the store's change counter)
    def relations_become(n, what):
        deadline = time.monotonic() + 1.5
        while admin.get("/api/status").json()["presence"]["relations"] != n:
            assert time.monotonic() < deadline, what
            time.sleep(0.05)
    relations_become(1, "the added relation did not reach the daemon")
    ctl(ast.gateway, "contact", "remove", user, contact)
    relations_become(0, "the removed relation is still in the daemon")


def test_secret_never_rendered(admin, ast):
    secret = COMPONENT_SECRET
    st = admin.get("/api/status").json()
    assert st["edge_server"]["secret"] == "set"
    for p in PAGES + APIS:
        r = admin.get(p)
        assert r.status == 200, (p, r.status)
        assert secret.encode() not in r.body, p
    page = admin.get("/").text
    assert '<td id="secret">set</td>' in page


def test_status_counts(admin, ast):
    st = admin.get("/api/status").json()
    assert [l["domain"] for l in st["edge"]] == [INTERNAL]
    assert st["edge"][0]["state"] == "up" and st["sip"]["listening"] is True
    assert len(st["rates"]["sip_to_xmpp"]["last_minute"]) == 60
    assert st["presence"] == {"relations": 0, "dialogs": 0}
    # the same facts as the daemon's /status document (one builder, gateway/status.c)
    code, body, _ = servers.http_get(ast.gateway.base_url + "/status")
    assert code == 200, code
    ops = json.loads(body)
    assert [l["domain"] for l in ops["edge"]] == [l["domain"] for l in st["edge"]]
    assert set(ops) <= set(st), set(ops) - set(st)
    # a refused message shows under its reason and in the rate within two samples
    bob = ast.ua("bob")
    r = bob.send_message("sip:oscar@outsider.example", "refused")
    assert r.status == 403
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        st = admin.get("/api/status").json()
        if sum(st["rates"]["sip_to_xmpp"]["last_minute"]) >= 1:
            break
        time.sleep(0.2)
    assert sum(st["rates"]["sip_to_xmpp"]["last_minute"]) >= 1
    assert st["refusals"]["sip_to_xmpp"].get("not_partner", 0) >= 1, st["refusals"]


def wait_status(send, want, timeout=3.0):
    t0 = time.monotonic()
    while True:
        r = send()
        if r.status == want or time.monotonic() - t0 > timeout:
            return r, time.monotonic() - t0
        time.sleep(0.05)


def test_change_reaches_the_daemon_within_a_second(admin, ast):
    bob = ast.ua("bob")
    alice = ast.xmpp("alice")
    to = "sip:alice@%s" % EXTERNAL
    assert bob.send_message(to, "before").status == 202
    alice.wait_message(lambda m: m.body == "before", timeout=10)
    assert admin.api("DELETE", "/api/partners", domain=EXTERNAL).status == 200
    r, took = wait_status(lambda: bob.send_message(to, "while removed"), 403)
    assert r.status == 403 and took < 1.0, (r.status, took)
    assert admin.api("POST", "/api/partners", {"domain": EXTERNAL,
                                               "PartnerType": "federated"}).status == 201
    r, took = wait_status(lambda: bob.send_message(to, "after"), 202)
    assert r.status == 202 and took < 1.0, (r.status, took)
    alice.wait_message(lambda m: m.body == "after", timeout=10)


def test_concurrent_edits_from_cli_and_console(admin, ast):
    n = 25
    errors = []

    def cli_side():
        for i in range(n):
            r = ctl(ast.gateway, "user", "add", "sip:cli%d@%s" % (i, INTERNAL), "--site", "cli",
                    ok=None)
            if r.returncode != 0:
                errors.append(r.stderr)

    t = threading.Thread(target=cli_side)
    t.start()
    for i in range(n):
        r = admin.api("POST", "/api/users", {"uri": "sip:web%d@%s" % (i, INTERNAL),
                                             "site": "web"})
        if r.status != 201:
            errors.append(r.text)
        # the same record edited from both sides: the last write wins, nothing is lost
        admin.api("PUT", "/api/users", {"site": "web-edit"}, user="sip:cli%d@%s" % (i, INTERNAL))
    t.join(60)
    assert not errors, errors[:3]
    web = admin.api("GET", "/api/users", site="web").json()
    assert web["matched"] == n
    listed = ctl(ast.gateway, "--json", "user", "list").stdout
    for i in range(n):
        assert "web%d@" % i in listed and "cli%d@" % i in listed
    # console changes are visible to the CLI at once, CLI changes to the console
    ctl(ast.gateway, "user", "set", "sip:web0@%s" % INTERNAL, "--site", "from-cli")
    assert admin.api("GET", "/api/users", user="sip:web0@%s" % INTERNAL).json()["site"] == "from-cli"
    r = admin.api("POST", "/api/users/import?filename=cleanup.csv",
                  "".join("sip:%s%d@%s,,\n" % (p, i, INTERNAL) for p in ("cli", "web")
                          for i in range(n)))
    assert r.status == 200 and r.json()["updated"] == 2 * n
    for p in ("cli", "web"):
        for i in range(n):
            assert admin.api("DELETE", "/api/users", user="sip:%s%d@%s" % (p, i, INTERNAL)).status == 200


def test_console_write_waits_off_the_loop(admin, ast):
    """A console write that waits for the store's write lock (held here as a large
    `sipxmppctl user import` would hold it) waits in the pool: the daemon's loop answers
    /healthz meanwhile, and the write is saved once the lock is released."""
    import sqlite3
    user = "sip:locked@%s" % INTERNAL
    lock = sqlite3.connect(ast.gateway.store, timeout=5, isolation_level=None)
    result = {}
    try:
        lock.execute("BEGIN IMMEDIATE")

        def write():
            result["r"] = admin.api("POST", "/api/users", {"uri": user, "site": "locked"})

        t = threading.Thread(target=write)
        t.start()
        t.join(0.5)  # the console has the request and waits for the lock
        assert t.is_alive(), "the write did not wait for the lock: %r" % result
        assert ast.gateway.healthz() == 200
        assert t.is_alive(), "the write ended while the lock was held: %r" % result
    finally:
        lock.execute("COMMIT")
        lock.close()
    t.join(10)
    assert not t.is_alive()
    assert result["r"].status == 201, result["r"].text
    assert admin.api("GET", "/api/users", user=user).json()["site"] == "locked"
    assert admin.api("DELETE", "/api/users", user=user).status == 200


def test_stop_while_console_writes_wait(tmp_path):
    """SIGTERM while one console write waits in the pool for the store's lock and another
    waits behind it: the daemon exits cleanly (exit 0, no sanitizer report) once the lock is
    released, and every request is answered or closed."""
    import sqlite3
    need_gateway()
    port = servers.free_port()
    gw = servers.Gateway()
    gw.start(str(tmp_path), wait_healthy=False,
             config_overrides={"admin": {"listen": "127.0.0.1:%d" % port}})
    ctl(gw, "admin", "passwd", ADMIN, stdin=PASSWORD + "\n")
    c = AdminClient(port)
    assert c.login(ADMIN, PASSWORD).status == 200
    outcome = []

    def write(i):
        try:
            r = c.api("POST", "/api/users", {"uri": "sip:stop%d@%s" % (i, INTERNAL)})
            outcome.append(r.status)
        except (OSError, http.client.HTTPException):
            outcome.append("closed")

    stop_errors = []

    def stop():
        try:
            gw.stop()  # asserts exit 0 and a log without sanitizer reports
        except BaseException as e:
            stop_errors.append(e)

    lock = sqlite3.connect(gw.store, timeout=5, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    writers = [threading.Thread(target=write, args=(i,), daemon=True) for i in range(2)]
    stopper = threading.Thread(target=stop, daemon=True)
    try:
        for t in writers:
            t.start()
        time.sleep(0.5)
        assert not outcome, "the writes waited for the lock: %r" % outcome
        stopper.start()
        time.sleep(1.0)
    finally:
        lock.execute("COMMIT")
        lock.close()
    stopper.join(30)
    assert not stopper.is_alive(), "the daemon did not stop"
    assert not stop_errors, stop_errors[0]
    for t in writers:
        t.join(15)
    assert len(outcome) == 2 and all(o in (201, "closed") for o in outcome), outcome


def test_login_throttled_and_logged(ast):
    """Last in the module: it blocks logins from 127.0.0.1 for the window."""
    c = AdminClient(ast.admin_port)
    codes = [c.login("nobody", "wrong-%d" % i).status for i in range(5)]
    assert codes == [401] * 5
    r = c.login(ADMIN, PASSWORD)
    assert r.status == 429, "even the right password waits once throttled"
    assert int(r.header("Retry-After")) > 0
    page = c.form("/login", {"name": ADMIN, "password": PASSWORD}, csrf=False)
    assert page.status == 429 and "too many failed logins" in page.text
    assert ast.gateway.log_contains(r"failed login for 'nobody' from 127\.0\.0\.1")
    assert ast.gateway.log_contains(r"login refused for 'root' from 127\.0\.0\.1: too many "
                                    r"failed logins")


def test_https(tmp_path):
    """[admin] cert_file/key_file: the console over TLS, the cookie marked Secure."""
    need_gateway()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    port = servers.free_port()
    threads = []
    gw = servers.Gateway()
    gw.start(str(tmp_path), wait_healthy=False,
             config_overrides={"admin": {"listen": "127.0.0.1:%d" % port,
                                         "cert_file": str(cert), "key_file": str(key)}})
    try:
        ctl(gw, "admin", "passwd", ADMIN, stdin=PASSWORD + "\n")
        c = AdminClient(port, tls=True)
        r = c.login(ADMIN, PASSWORD)
        assert r.status == 200, r.text
        assert any("Secure" in v for v in r.all("Set-Cookie"))
        assert c.get("/api/status").status == 200
        # plain HTTP on the TLS port gets nowhere
        assert servers.http_get("http://127.0.0.1:%d/login" % port)[0] != 200
        # logins whose password checks may still run when the daemon stops: a clean exit
        def login_during_stop():
            try:
                AdminClient(port, tls=True).login(ADMIN, PASSWORD)
            except (OSError, http.client.HTTPException):
                pass  # the daemon closed the connection while stopping

        threads = [threading.Thread(target=login_during_stop, daemon=True) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.05)
    finally:
        gw.stop()
    for t in threads:
        t.join(15)
