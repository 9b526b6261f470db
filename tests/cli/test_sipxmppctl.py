#!/usr/bin/python3
"""sipxmppctl end to end: every command, its error paths and exit statuses, --json parsed
back, CSV import with bad lines, the config file, and the store's generation counter.

usage: test_sipxmppctl.py PATH/TO/sipxmppctl
With SX_TEST_PG set (tests/lib/pgcluster.py) the store is that PostgreSQL database (emptied
first); the tests of broken store files still use SQLite files.
Prints one line per failure and a final "N passed, N failed"; exits 1 on any failure."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

CTL = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "sipxmppctl"
TMP = tempfile.mkdtemp(prefix="sx-cli-")
PG = os.environ.get("SX_TEST_PG") or None
STORE = PG or os.path.join(TMP, "store.db")
passed = failed = 0


def run(*args, store=STORE, stdin=None):
    cmd = [CTL] + (["--store", store] if store else []) + list(args)
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAILED: %s %s" % (what, detail))


def expect(args, rc, what, out=None, err=None, stdin=None, store=STORE):
    """Runs, checks the exit status and optional substrings of stdout / stderr."""
    got, o, e = run(*args, stdin=stdin, store=store)
    check(got == rc, what, "exit %d, want %d\n  stdout: %s\n  stderr: %s" % (got, rc, o, e))
    if out is not None:
        check(out in o, what + ": stdout", "lacks %r:\n%s" % (out, o))
    if err is not None:
        check(err in e, what + ": stderr", "lacks %r:\n%s" % (err, e))
    return o, e


def jrun(args, rc, what, stdin=None):
    """Runs with --json and returns the parsed stdout (None when it does not parse)."""
    got, o, e = run(*(list(args) + ["--json"]), stdin=stdin)
    check(got == rc, what, "exit %d, want %d; stderr: %s" % (got, rc, e))
    try:
        return json.loads(o)
    except ValueError:
        check(False, what + ": JSON", "does not parse: %r" % o)
        return None


def psql(sql):
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", PG,
                        "-c", sql], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("psql: " + p.stderr)
    return p.stdout.strip()


def pg_reset():
    psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public; DROP COLLATION IF EXISTS sx_nocase")


def generation():
    if PG:
        return int(psql("SELECT value FROM meta WHERE key = 'generation'"))
    db = sqlite3.connect(STORE)
    try:
        return db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]
    finally:
        db.close()


def usage_and_store_errors():
    expect([], 2, "no command", store=None)
    expect(["--help"], 0, "help", out="policy new NAME", store=None)
    expect(["bogus"], 2, "unknown command", err="unknown command")
    expect(["policy"], 2, "missing subcommand")
    expect(["policy", "bogus"], 2, "unknown subcommand")
    expect(["policy", "list", "--bogus"], 2, "unknown option", err="unknown option --bogus")
    expect(["policy", "new"], 2, "policy new without NAME")
    expect(["policy", "new", "a", "b"], 2, "policy new with two names")
    expect(["policy", "new", "X", "--xmpp=maybe"], 2, "bad boolean")
    expect(["policy", "list", "--store"], 2, "--store without value", store=None)
    expect(["policy", "list"], 3, "store in a missing directory",
           store=os.path.join(TMP, "no", "dir", "s.db"), err="directory")
    junk = os.path.join(TMP, "junk.db")
    with open(junk, "w") as f:
        f.write("not a database\n" * 200)
    expect(["policy", "list"], 3, "junk store", store=junk, err=junk)
    expect(["--config", os.path.join(TMP, "missing.conf"), "policy", "list"], 3,
           "missing config", store=None, err="missing.conf")
    # newer schema → refused with exit 3
    newer = os.path.join(TMP, "newer.db")
    expect(["policy", "list"], 0, "create a store", store=newer)
    db = sqlite3.connect(newer)
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    expect(["policy", "list"], 3, "newer schema refused", store=newer, err="newer")


def policies():
    # a fresh store has global, every flag false
    pols = jrun(["policy", "list"], 0, "policy list (fresh)")
    check(isinstance(pols, list) and len(pols) == 1, "fresh store: only global", repr(pols))
    if pols:
        g = pols[0]
        check(g["name"] == "global" and g["scope"] == "global", "global entry", repr(g))
        for k in ("EnableXmppAccess", "EnableFederationAccess", "EnablePublicCloudAccess",
                  "EnableOutsideAccess"):
            check(g.get(k) is False, "global %s false" % k, repr(g))
    g0 = generation()
    expect(["policy", "new", "FedPic", "--xmpp", "--federation", "--public-cloud",
            "--description", "Federation and public IM"], 0, "policy new FedPic",
           out="created policy 'FedPic'")
    check(generation() == g0 + 1, "policy new bumps the generation")
    expect(["policy", "new", "fedpic"], 1, "policy new duplicate", err="already exists")
    expect(["policy", "new", "bad name!"], 1, "policy new bad name", err="bad name!")
    expect(["policy", "new", "NoFlags"], 0, "policy new with no flags")
    p = jrun(["policy", "show", "NoFlags"], 0, "policy show NoFlags")
    if p:
        check(not any(p[k] for k in ("EnableXmppAccess", "EnableFederationAccess",
                                     "EnablePublicCloudAccess", "EnableOutsideAccess")),
              "no flags means everything off", repr(p))
    expect(["policy", "new", "site:redmond", "--xmpp"], 0, "policy new site:redmond")
    expect(["policy", "set", "global", "--xmpp=off", "--outside"], 0, "policy set global")
    g = jrun(["policy", "show", "global"], 0, "policy show global")
    if g:
        check(g["EnableXmppAccess"] is False and g["EnableOutsideAccess"] is True,
              "policy set flags", repr(g))
    expect(["policy", "set", "global", "--outside", "off"], 0, "bool as next word")
    g = jrun(["policy", "show", "global"], 0, "policy show global again")
    if g:
        check(g["EnableOutsideAccess"] is False, "--outside off", repr(g))
    expect(["policy", "set", "global"], 2, "policy set with nothing")
    expect(["policy", "set", "nope", "--xmpp"], 1, "policy set missing", err="policy new nope")
    expect(["policy", "show", "nope"], 1, "policy show missing")
    fp = jrun(["policy", "show", "tag:fedpic"], 0, "policy show by tag: and other case")
    if fp:
        check(fp["name"] == "FedPic" and fp["scope"] == "tag" and fp["EnableXmppAccess"] and
              fp["Description"] == "Federation and public IM", "FedPic fields", repr(fp))
    pols = jrun(["policy", "list"], 0, "policy list")
    if pols:
        check([x["name"] for x in pols] == ["global", "site:redmond", "FedPic", "NoFlags"],
              "policy list order", repr([x["name"] for x in pols]))
    expect(["policy", "list"], 0, "policy list text", out="site:redmond")
    expect(["policy", "remove", "global"], 1, "policy remove global", err="cannot be removed")
    expect(["policy", "remove", "NoFlags"], 0, "policy remove unused tag")
    expect(["policy", "remove", "NoFlags"], 1, "policy remove missing")
    expect(["policy", "remove"], 2, "policy remove without NAME")


def grants():
    expect(["policy", "grant", "FedPic", "--user", "sip:BOB@Contoso.COM."], 0,
           "grant to a URI variant", out="bob@contoso.com")
    u = jrun(["user", "show", "sip:b%6Fb@contoso.com"], 0, "user show by another variant")
    if u:
        check(u["user"] == "bob@contoso.com" and u["policy"] == "FedPic" and
              u["effective_policy"] == "FedPic" and u["effective_scope"] == "per-user" and
              u["EnableXmppAccess"] is True, "bob granted FedPic", repr(u))
    expect(["policy", "grant", "--none", "--user", "bob@contoso.com"], 0, "grant --none")
    u = jrun(["user", "show", "bob@contoso.com"], 0, "user show after --none")
    if u:
        check(u["policy"] is None and u["effective_policy"] == "global", "grant removed", repr(u))
    expect(["policy", "grant", "site:redmond", "--user", "bob@contoso.com"], 1,
           "grant a site policy", err="site policy")
    expect(["policy", "grant", "global", "--all"], 1, "grant global")
    expect(["policy", "grant", "Nope", "--all"], 1, "grant unknown policy", err="policy new Nope")
    expect(["policy", "grant", "FedPic"], 2, "grant without --user/--all")
    expect(["policy", "grant", "FedPic", "--all", "--user", "x@y.com"], 2, "grant both")
    expect(["policy", "grant", "--none", "FedPic", "--all"], 2, "grant --none with a TAG")
    expect(["policy", "grant", "FedPic", "--user", "tel:+15551234"], 1, "grant to a tel: URI")
    expect(["policy", "grant", "FedPic", "--user", "sips:bob@contoso.com"], 1, "grant to sips:")
    expect(["policy", "grant", "--none", "--user", "ghost@contoso.com"], 1, "ungrant unknown user")


def partners():
    g0 = generation()
    o, e = expect(["partner", "new", "fabrikam.com", "--type", "federated",
                   "--additional-domains", "corp.fabrikam.com,it.fabrikam.com", "--tls",
                   "required", "--sasl", "optional", "--dialback", "on", "--description",
                   "Fabrikam, Inc."], 0, "partner new fabrikam.com")
    check("warning" not in e, "no warning for a sound partner", e)
    check(generation() == g0 + 1, "partner new bumps the generation")
    o, e = expect(["partner", "new", "example.org"], 0, "partner new with defaults",
                  err="dialback can never be used")
    check(e.startswith("warning:"), "default partner warning on stderr", e)
    p = jrun(["partner", "show", "example.org"], 0, "partner show defaults")
    if p:
        want = {"domain": "example.org", "AdditionalDomains": [], "Description": "",
                "PartnerType": "PublicUnverified", "TlsNegotiation": "Required",
                "SaslNegotiation": "Required", "SupportDialbackNegotiation": True,
                "EnableKeepAlive": True, "ConnectionLimit": 0, "ProxyFqdn": None}
        check(p == want, "SPEC §5 defaults", repr(p))
    g1 = generation()
    expect(["partner", "new", "bad.org", "--tls", "not-supported", "--sasl", "required"], 1,
           "SASL without TLS refused", err="fix:")
    expect(["partner", "new", "bad.org", "--sasl", "not-supported", "--dialback", "off"], 1,
           "no dialback, no SASL refused", err="--dialback on")
    expect(["partner", "new", "bad.org", "--tls", "not-supported", "--sasl", "not-supported",
            "--dialback=off"], 1, "nothing at all refused")
    expect(["partner", "show", "bad.org"], 1, "refused partner not saved")
    check(generation() == g1, "refusals do not bump the generation")
    expect(["partner", "new", "warn.org", "--tls", "optional"], 0,
           "SASL Required with TLS Optional warns", err="TlsNegotiation Optional")
    expect(["partner", "new", "ok.org", "--tls", "not-supported", "--sasl", "not-supported"], 0,
           "dialback only is fine")
    expect(["partner", "new", "x.org", "--type", "bogus"], 2, "bad --type")
    expect(["partner", "new", "x.org", "--tls", "sometimes"], 2, "bad --tls")
    expect(["partner", "new", "x.org", "--connection-limit", "-3"], 2, "bad --connection-limit")
    expect(["partner", "new", "x@y.org"], 1, "bad domain")
    expect(["partner", "new", "fabrikam.com"], 1, "partner new duplicate", err="already exists")
    expect(["partner", "new", "corp.fabrikam.com"], 1, "primary that is an additional domain")
    expect(["partner", "new", "y.org", "--additional-domains", "example.org"], 1,
           "additional that is another partner's primary", err="belongs to partner example.org")
    expect(["partner", "new", "x.org", "--add-domain", "a.org"], 2, "--add-domain on new")

    lst = jrun(["partner", "list"], 0, "partner list")
    if lst is not None:
        check([x["domain"] for x in lst] == ["example.org", "fabrikam.com", "ok.org", "warn.org"],
              "partner list domains", repr([x["domain"] for x in lst]))
        fab = [x for x in lst if x["domain"] == "fabrikam.com"]
        if fab:
            f = fab[0]
            check(f["PartnerType"] == "Federated" and f["SaslNegotiation"] == "Optional" and
                  f["AdditionalDomains"] == ["corp.fabrikam.com", "it.fabrikam.com"] and
                  f["Description"] == "Fabrikam, Inc.", "fabrikam fields", repr(f))
            for k in ("domain", "AdditionalDomains", "Description", "PartnerType",
                      "TlsNegotiation", "SaslNegotiation", "SupportDialbackNegotiation",
                      "EnableKeepAlive", "ConnectionLimit", "ProxyFqdn"):
                check(k in f, "partner list field %s" % k)
    expect(["partner", "list"], 0, "partner list text", out="corp.fabrikam.com,it.fabrikam.com")

    expect(["partner", "set", "fabrikam.com", "--add-domain", "eu.fabrikam.com",
            "--remove-domain", "IT.fabrikam.com", "--keepalive", "off", "--connection-limit",
            "20", "--proxy-fqdn", "edge.fabrikam.com"], 0, "partner set")
    f = jrun(["partner", "show", "CORP.Fabrikam.com."], 0, "partner show by additional domain")
    if f:
        check(f["domain"] == "fabrikam.com" and
              f["AdditionalDomains"] == ["corp.fabrikam.com", "eu.fabrikam.com"] and
              f["EnableKeepAlive"] is False and f["ConnectionLimit"] == 20 and
              f["ProxyFqdn"] == "edge.fabrikam.com" and f["PartnerType"] == "Federated",
              "partner set result", repr(f))
    expect(["partner", "set", "fabrikam.com", "--remove-domain", "nothere.com"], 1,
           "remove a domain it does not have")
    expect(["partner", "set", "fabrikam.com", "--tls", "not-supported"], 1,
           "partner set invalid", err="fix:")
    f = jrun(["partner", "show", "fabrikam.com"], 0, "partner unchanged after refusal")
    if f:
        check(f["TlsNegotiation"] == "Required", "nothing saved on refusal", repr(f))
    expect(["partner", "set", "corp.fabrikam.com", "--type", "federated"], 1,
           "partner set on an additional domain", err="partner set fabrikam.com")
    expect(["partner", "set", "fabrikam.com"], 2, "partner set with nothing")
    expect(["partner", "set", "nothere.com", "--type", "federated"], 1, "partner set missing")
    expect(["partner", "set", "warn.org", "--additional-domains", ""], 0, "clear domain list")
    expect(["partner", "set", "warn.org", "--description", "--json"], 2,
           "--description value missing")
    expect(["partner", "remove", "corp.fabrikam.com"], 1, "remove additional",
           err="--remove-domain")
    expect(["partner", "remove", "nothere.com"], 1, "remove missing")
    expect(["partner", "remove", "warn.org"], 0, "partner remove")
    expect(["partner", "show", "warn.org"], 1, "removed partner gone")
    expect(["partner", "show"], 2, "partner show without DOMAIN")


def users():
    expect(["user", "add", "sip:alice@contoso.com", "--site", "redmond"], 0, "user add alice")
    expect(["user", "add", "sip:ALICE@contoso.com"], 1, "user add duplicate variant",
           err="already exists")
    expect(["user", "add", "tel:+15551234"], 1, "user add tel:")
    expect(["user", "add", "sip:@contoso.com"], 1, "user add without user part")
    expect(["user", "add", "sip:carl@contoso.com", "--policy", "Nope"], 1, "user add bad policy")
    expect(["user", "add", "sip:carl@contoso.com", "--site", "bad site"], 1, "user add bad site")
    expect(["user", "add"], 2, "user add without URI")
    u = jrun(["user", "show", "alice@contoso.com"], 0, "user show alice")
    if u:
        check(u["site"] == "redmond" and u["effective_policy"] == "site:redmond" and
              u["effective_scope"] == "site" and u["EnableXmppAccess"] is True and
              u["uri"] == "sip:alice@contoso.com", "alice via site policy", repr(u))
    expect(["user", "set", "alice@contoso.com", "--policy", "FedPic"], 0, "user set --policy")
    expect(["user", "set", "alice@contoso.com", "--site="], 0, "user set clears site")
    u = jrun(["user", "show", "alice@contoso.com"], 0, "user show after set")
    if u:
        check(u["site"] is None and u["policy"] == "FedPic", "user set result", repr(u))
    expect(["user", "set", "alice@contoso.com"], 2, "user set with nothing")
    expect(["user", "set", "ghost@contoso.com", "--site", "x"], 1, "user set missing")
    expect(["user", "show", "ghost@contoso.com"], 1, "user show missing", err="global policy")
    lst = jrun(["user", "list"], 0, "user list")
    if lst is not None:
        check([x["user"] for x in lst] == ["alice@contoso.com", "bob@contoso.com"],
              "user list", repr(lst))
    lst = jrun(["user", "list", "--policy", "FedPic"], 0, "user list --policy")
    if lst is not None:
        check([x["user"] for x in lst] == ["alice@contoso.com"], "user list filter", repr(lst))
    expect(["user", "list"], 0, "user list text", out="alice@contoso.com")
    expect(["user", "add", "sip:zed@contoso.com"], 0, "user add zed")
    expect(["user", "remove", "sip:Zed@contoso.com"], 0, "user remove")
    expect(["user", "remove", "sip:zed@contoso.com"], 1, "user remove again")


def imports():
    good = os.path.join(TMP, "good.csv")
    with open(good, "w") as f:
        f.write("uri,site,policy\n# a comment\n\nsip:u1@contoso.com,redmond,\n"
                "sip:U2@Contoso.com, paris , FedPic\n\"sip:u3@contoso.com\",,\n"
                "sip:alice@contoso.com,redmond,FedPic\n")
    o = jrun(["user", "import", good], 0, "import good file")
    if o:
        check(o == {"added": 3, "updated": 1, "skipped": 0}, "import counts", repr(o))
    u = jrun(["user", "show", "u2@contoso.com"], 0, "imported user")
    if u:
        check(u["site"] == "paris" and u["policy"] == "FedPic", "import fields", repr(u))
    before = jrun(["user", "list"], 0, "user list before bad import")
    bad = os.path.join(TMP, "bad.csv")
    with open(bad, "w") as f:
        f.write("sip:n1@contoso.com,redmond,\n"       # 1 ok
                "tel:+15551234,,\n"                   # 2 bad scheme
                "sip:n2@contoso.com,,NoSuchPolicy\n"  # 3 unknown policy
                "sip:n3@contoso.com,a,b,c\n"          # 4 too many fields
                "sip:N1@contoso.com,,\n"              # 5 duplicate of line 1
                "\"sip:n4@contoso.com,,\n"            # 6 bad quoting
                "sip:n5@contoso.com,bad site,\n"      # 7 bad site
                "sip:n6@contoso.com,,site:redmond\n"  # 8 site policy as grant
                "sip:n7@contoso.com\n")               # 9 ok (uri only)
    o, e = expect(["user", "import", bad], 1, "import with bad lines", err="nothing imported")
    for line in (2, 3, 4, 5, 6, 7, 8):
        check(("bad.csv:%d:" % line) in e, "bad line %d reported" % line, e)
    for line in (1, 9):
        check(("bad.csv:%d:" % line) not in e, "good line %d not reported" % line, e)
    check("already on line 1" in e, "duplicate names the first line", e)
    after = jrun(["user", "list"], 0, "user list after bad import")
    check(before == after, "bad import saved nothing")
    o, e = expect(["user", "import", bad, "--skip-bad"], 0, "import --skip-bad",
                  out="2 added", err="7 bad line(s) skipped")
    expect(["user", "show", "n7@contoso.com"], 0, "skip-bad kept good lines")
    expect(["user", "show", "n2@contoso.com"], 1, "skip-bad dropped bad lines")
    expect(["user", "import", os.path.join(TMP, "missing.csv")], 1, "import missing file")
    expect(["user", "import", "-"], 0, "import from stdin", out="1 added",
           stdin="sip:stdin@contoso.com,,\n")
    expect(["user", "import"], 2, "import without FILE")


def contacts_and_check():
    # state: global off; site:redmond on; FedPic on; bob no grant (global), alice FedPic;
    # partners fabrikam.com (Federated), example.org / ok.org (PublicUnverified)
    d = jrun(["check", "sip:alice@contoso.com", "carol@fabrikam.com"], 0, "check allow")
    if d:
        check(d["decision"] == "allow" and d["policy"] == "FedPic" and
              d["policy_scope"] == "user" and d["partner"] == "fabrikam.com" and
              d["partner_type"] == "Federated" and d["direction"] == "outbound" and
              d["kind"] == "message" and d["sip_status"] is None and
              d["strip_status_notes"] is False, "check allow fields", repr(d))
    d = jrun(["check", "sip:bob@contoso.com", "carol@fabrikam.com", "--inbound"], 1,
             "check user not enabled")
    if d:
        check(d["decision"] == "deny" and d["reason_code"] == "user_not_enabled" and
              d["xmpp_condition"] == "forbidden" and d["sip_status"] == 403 and
              "bob@contoso.com is not enabled" in d["reason"] and "global" in d["reason"],
              "check deny fields", repr(d))
    d = jrun(["check", "sip:alice@contoso.com", "carol@nowhere.example"], 1, "check non-partner")
    if d:
        check(d["reason"] == "nowhere.example is not an XMPP partner" and
              d["xmpp_condition"] == "service-unavailable", "non-partner", repr(d))
    d = jrun(["check", "sip:ALICE@Contoso.COM.", "carol@EU.Fabrikam.com"], 0,
             "check variants and additional domain")
    # XMPP stringprep: fullwidth, zero-width and compatibility spellings are the same users
    for user in ("sip:%EF%BD%82ob@contoso.com", "sip:b%E2%80%8Bob@contoso.com",
                 "sip:BO%C2%ADB@contoso.com", "\uff42ob@contoso.com"):
        d = jrun(["check", user, "carol@fabrikam.com", "--inbound"], 1, "check " + user)
        if d:
            check(d["reason_code"] == "user_not_enabled" and
                  "bob@contoso.com is not enabled" in d["reason"], "prepared " + user, repr(d))
    d = jrun(["check", "sip:alice@contoso.com", "\uff43arol@\uff46abrikam.com"], 0,
             "check fullwidth contact and partner")
    expect(["check", "sip:a%C2%A0b@contoso.com", "carol@fabrikam.com"], 1,
           "a localpart failing nodeprep", err="string preparation")
    d = jrun(["check", "sip:alice@contoso.com", "dave@example.org", "--inbound", "--subscribe"],
             1, "check pending")
    if d:
        check(d["decision"] == "pending" and d["contact_state"] == "none", "pending", repr(d))
    d = jrun(["check", "sip:alice@contoso.com", "dave@example.org", "--inbound", "--im"], 1,
             "check PublicUnverified IM")
    if d:
        check(d["reason_code"] == "not_in_contacts" and d["strip_status_notes"] is True,
              "not in contacts", repr(d))
    expect(["check", "sip:alice@contoso.com", "dave@example.org", "--inbound"], 1,
           "check text output", out="deny: inbound message refused")
    expect(["check", "sip:alice@contoso.com", "dave@example.org", "--outbound", "--subscribe"],
           0, "check outbound subscribe", out="note: the daemon adds")

    g0 = generation()
    expect(["contact", "add", "sip:alice@contoso.com", "Dave@Example.ORG"], 0, "contact add",
           out="alice@contoso.com added contact dave@example.org")
    check(generation() == g0 + 1, "contact add bumps the generation")
    d = jrun(["check", "sip:alice@contoso.com", "dave@example.org", "--inbound", "--im"], 0,
             "check after contact add")
    if d:
        check(d["contact_state"] == "added" and d["decision"] == "allow", "added", repr(d))
    jrun(["check", "alice@contoso.com", "dave@example.org", "--inbound", "--subscribe"], 0,
         "subscribe allowed after contact add")
    jrun(["check", "alice@contoso.com", "dave@example.org", "--inbound", "--presence"], 0,
         "presence allowed after contact add")
    jrun(["check", "alice@contoso.com", "erin@example.org", "--inbound", "--probe"], 1,
         "probe from another contact denied")
    # --subscribe / --probe follow the daemon's state machine on the stored relation
    d = jrun(["check", "alice@contoso.com", "dave@example.org", "--inbound", "--subscribe"], 0,
             "subscribe state machine")
    if d:
        check(d["daemon"]["event"] == "xmpp_subscribe" and
              d["daemon"]["actions"] == ["store_write", "xmpp_subscribed", "xmpp_presence",
                                         "fanout_join"] and
              d["daemon"]["subscription_in"] == "approved" and
              d["relation"]["subscription_in"] == "none" and
              d["relation"]["suspended"] is False, "subscribe approves", repr(d))
    d = jrun(["check", "alice@contoso.com", "dave@example.org", "--inbound", "--probe"], 1,
             "probe from an added contact that is no approved watcher")
    if d:
        check(d["decision"] == "allow" and d["daemon"]["actions"] == ["xmpp_unsubscribed"],
              "probe answered unsubscribed", repr(d))
    expect(["check", "alice@contoso.com", "dave@example.org", "--outbound", "--subscribe"], 0,
           "outbound subscribe text", out="xmpp_subscribe notify_pending")
    d = jrun(["check", "bob@contoso.com", "dave@example.org", "--inbound", "--subscribe"], 1,
             "subscribe for a user not enabled")
    if d:
        check(d["daemon"]["actions"] == ["refuse"] and d["xmpp_condition"] == "forbidden",
              "refused", repr(d))
    expect(["contact", "add", "sip:alice@contoso.com", "sip:carol@fabrikam.com"], 0,
           "contact add a sip: form")
    lst = jrun(["contact", "list", "sip:alice@contoso.com"], 0, "contact list USER")
    if lst is not None:
        check([(x["contact"], x["state"], x["added"]) for x in lst] ==
              [("carol@fabrikam.com", "added", True), ("dave@example.org", "added", True)],
              "contact list", repr(lst))
        if lst:
            for k in ("user", "contact", "state", "added", "subscription_out",
                      "subscription_in", "policy", "updated"):
                check(k in lst[0], "contact field %s" % k)
            check(all(x["policy"] == "active" for x in lst), "relations active", repr(lst))
    lst = jrun(["contact", "list"], 0, "contact list all")
    check(lst is not None and len(lst) == 2, "contact list all count", repr(lst))
    expect(["contact", "list"], 0, "contact list text", out="dave@example.org")
    expect(["contact", "list"], 0, "contact list text both ways", out="SUB-OUT")
    # a user who is not enabled: the relation is kept but suspended
    expect(["contact", "add", "bob@contoso.com", "carol@fabrikam.com"], 0, "contact add bob")
    lst = jrun(["contact", "list", "bob@contoso.com"], 0, "contact list bob")
    if lst is not None:
        check([(x["contact"], x["policy"]) for x in lst] == [("carol@fabrikam.com", "suspended")],
              "suspended relation", repr(lst))
    expect(["contact", "remove", "bob@contoso.com", "carol@fabrikam.com"], 0, "contact remove bob")
    expect(["contact", "remove", "alice@contoso.com", "dave@example.org"], 0, "contact remove")
    expect(["contact", "remove", "alice@contoso.com", "dave@example.org"], 1,
           "contact remove missing")
    expect(["contact", "add", "alice@contoso.com", "example.org"], 1, "contact without local part")
    expect(["contact", "add", "alice@contoso.com"], 2, "contact add with one argument")
    expect(["contact", "list", "a@b.c", "d@e.f"], 2, "contact list with two users")
    expect(["contact", "bogus"], 2, "contact unknown subcommand")
    jrun(["check", "sip:alice@contoso.com", "dave@example.org", "--inbound"], 1,
         "check after contact remove")

    expect(["check", "sip:alice@contoso.com"], 2, "check with one argument")
    expect(["check", "a@contoso.com", "b@fabrikam.com", "--inbound", "--outbound"], 2,
           "check both directions")
    expect(["check", "a@contoso.com", "b@fabrikam.com", "--im", "--subscribe"], 2,
           "check two kinds")
    expect(["check", "tel:+1555", "b@fabrikam.com"], 1, "check with a tel: user")

    # granting the policy flips the decision (what the daemon sees on its next snapshot)
    jrun(["check", "sip:bob@contoso.com", "carol@fabrikam.com"], 1, "bob before grant")
    expect(["policy", "grant", "FedPic", "--all"], 0, "grant --all")
    jrun(["check", "sip:bob@contoso.com", "carol@fabrikam.com"], 0, "bob after grant --all")
    expect(["policy", "remove", "FedPic"], 1, "remove granted policy", err="--force")
    expect(["policy", "remove", "FedPic", "--force"], 0, "remove granted policy --force")
    jrun(["check", "sip:bob@contoso.com", "carol@fabrikam.com"], 1, "bob after remove --force")


def with_config():
    store = os.path.join(TMP, "from-config.db")
    if PG:
        pg_reset()
        store = PG
    conf = os.path.join(TMP, "sipxmppd.conf")
    with open(conf, "w") as f:
        f.write("[gateway]\ndomains = contoso.com\nstore = %s\n"
                "[sip]\noutbound_proxy = sip:127.0.0.1:5060\n"
                "[edge]\nsecret = s3cret\n" % store)
    expect(["--config", conf, "partner", "new", "fabrikam.com"], 0, "config: partner new",
           store=None)
    if PG:
        check(psql("SELECT domain FROM partners") == "fabrikam.com",
              "config: store at [gateway] store")
        _, o, _ = run("--config", conf, "doctor", store=None)
        check("ok    store      postgresql://" in o and "schema" in o,
              "doctor: the PostgreSQL store opens", o)
    else:
        check(os.path.exists(store), "config: store created at [gateway] store")
    expect(["--config=" + conf, "partner", "new", "CONTOSO.com"], 1,
           "config: a served domain cannot be a partner", store=None, err="serves")
    expect(["--config", conf, "user", "add", "sip:x@elsewhere.com"], 0,
           "config: user outside the served domains", store=None, err="warning")
    expect(["--config", conf, "partner", "list", "--json"], 0, "config: partner list",
           store=None, out='"fabrikam.com"')
    bad = os.path.join(TMP, "bad.conf")
    with open(bad, "w") as f:
        f.write("[gateway]\nbogus = 1\n")
    expect(["--config", bad, "policy", "list"], 3, "bad config", store=None, err="bad.conf")


def admins():
    gen = generation()
    expect(["admin", "passwd", "root"], 0, "admin passwd from stdin", out="created admin root",
           stdin="correct horse\n")
    expect(["admin", "passwd", "root"], 0, "admin passwd again",
           out="changed the password of admin root", stdin="battery staple\n")
    expect(["admin", "passwd", "root"], 1, "admin passwd short", err="8..1024 bytes",
           stdin="short\n")
    expect(["admin", "passwd", "root"], 1, "admin passwd no input", err="no password",
           stdin="")
    expect(["admin", "passwd", "bad name"], 1, "admin passwd bad name", err="use only letters",
           stdin="correct horse\n")
    expect(["admin", "passwd"], 2, "admin passwd without NAME", err="expected one NAME")
    expect(["admin", "passwd", "ops@contoso"], 0, "second admin", stdin="another pass\n")
    d = jrun(["admin", "list"], 0, "admin list")
    check(d == ["ops@contoso", "root"], "admin list content", repr(d))
    if PG:
        rows = [tuple(line.split("|", 1))
                for line in psql("SELECT name, hash FROM admins ORDER BY name").splitlines()]
    else:
        db = sqlite3.connect(STORE)
        rows = db.execute("SELECT name, hash FROM admins ORDER BY name").fetchall()
        db.close()
    check(len(rows) == 2, "two admin rows", repr(rows))
    check(all(h.startswith("scrypt$") and "pass" not in h and "staple" not in h
              for _, h in rows), "only salted hashes stored", repr(rows))
    check(generation() == gen, "admins do not bump the change counter")
    expect(["admin", "remove", "ops@contoso"], 0, "admin remove", out="removed admin")
    expect(["admin", "remove", "ops@contoso"], 1, "admin remove again", err="no admin")
    expect(["admin", "frobnicate"], 2, "admin unknown subcommand", err="unknown subcommand")


def main():
    if PG:
        pg_reset()
    try:
        usage_and_store_errors()
        policies()
        grants()
        partners()
        users()
        imports()
        contacts_and_check()
        with_config()
        admins()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
