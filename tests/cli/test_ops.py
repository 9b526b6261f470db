#!/usr/bin/python3
"""The operations commands that need no running server: --version of both tools, the
versions agreeing with CMake's project version and git, `sipxmppctl status` against an
address where nothing listens (exit 3, naming the address).

usage: test_ops.py PATH/TO/sipxmppctl PATH/TO/sipxmppd SOURCE_DIR
Prints one line per failure and a final "N passed, N failed"; exits 1 on any failure."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

CTL = os.path.abspath(sys.argv[1])
DAEMON = os.path.abspath(sys.argv[2])
SRC = os.path.abspath(sys.argv[3])
TMP = tempfile.mkdtemp(prefix="sx-ops-")
passed = failed = 0


def run(argv, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)
    return p.returncode, p.stdout, p.stderr


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAILED: %s %s" % (what, detail))


def project_version():
    with open(os.path.join(SRC, "CMakeLists.txt")) as f:
        m = re.search(r"project\(sipxmpp VERSION ([0-9.]+)", f.read())
    return m.group(1)


def versions():
    want = project_version()
    in_git = shutil.which("git") and os.path.exists(os.path.join(SRC, ".git"))
    for name, argv in (("sipxmppd", [DAEMON, "--version"]),
                       ("sipxmppctl", [CTL, "--version"])):
        rc, out, err = run(argv)
        check(rc == 0, name + " --version exits 0", err)
        check(out.startswith("%s %s" % (name, want)), name + " --version names the version",
              repr(out))
        if in_git:
            # "(git <describe>)": its commit is one of this repository's (the binary may be
            # older than HEAD).
            m = re.search(r"\(git (?:.*-g)?([0-9a-f]{7,})(?:-dirty)?\)", out)
            ok = m is not None and subprocess.run(
                ["git", "-C", SRC, "rev-parse", "--verify", "-q", m.group(1) + "^{commit}"],
                capture_output=True).returncode == 0
            check(ok, name + " --version names a commit of this repository", repr(out))
    rc, out, _ = run([CTL, "--help"])
    check("--version" in out, "sipxmppctl --help mentions --version", out)


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def status_unreachable():
    port = free_tcp_port()
    conf = os.path.join(TMP, "sipxmppd.conf")
    with open(conf, "w") as f:
        f.write("[gateway]\ndomains = contoso.example\nstore = %s/db\n"
                "[sip]\noutbound_proxy = sip:127.0.0.1:5060\n[edge]\nsecret = x\n"
                "[http]\nlisten = 127.0.0.1:%d\n" % (TMP, port))
    rc, out, err = run([CTL, "--config", conf, "status"])
    check(rc == 3, "status: daemon not running exits 3", "rc %d %s %s" % (rc, out, err))
    check("127.0.0.1:%d" % port in err, "status: names the address it tried", err)
    rc, out, err = run([CTL, "--config", conf, "status", "--json"])
    check(rc == 3 and json.loads(out)["reachable"] is False, "status --json: unreachable", out + err)
    with open(conf, "w") as f:
        f.write("[gateway]\ndomains = contoso.example\nstore = %s/db\n"
                "[sip]\noutbound_proxy = sip:127.0.0.1:5060\n[edge]\nsecret = x\n" % TMP)
    rc, out, err = run([CTL, "--config", conf, "status"])
    check(rc == 3 and "[http] listen" in err, "status: no [http] listen in the config",
          "rc %d %s" % (rc, err))


def edge_config_usage():
    conf = os.path.join(TMP, "ec.conf")
    with open(conf, "w") as f:
        f.write("[gateway]\ndomains = contoso.example\nstore = %s/ec.db\n"
                "[sip]\noutbound_proxy = sip:127.0.0.1:5060\n[edge]\nsecret = x\n" % TMP)
    rc, out, err = run([CTL, "--config", conf, "edge-config"])
    check(rc == 2 and "prosody or ejabberd" in err, "edge-config: server missing", err)
    rc, out, err = run([CTL, "--config", conf, "edge-config", "openfire"])
    check(rc == 2 and "unknown edge server 'openfire'" in err, "edge-config: unknown server", err)
    rc, out, err = run([CTL, "--config", conf, "edge-config", "prosody", "--output",
                        os.path.join(TMP, "no-such-dir", "x.lua")])
    check(rc == 3 and "cannot write" in err, "edge-config: unwritable output", err)
    rc, out, err = run([CTL, "--config", conf, "edge-config", "ejabberd"])
    check(rc == 0 and "none: no server-to-server traffic is allowed" in out
          and "sipxmpp-no-partner.invalid" in out, "edge-config ejabberd without partners", out)
    rc, out, err = run([CTL, "--config", os.path.join(TMP, "missing.conf"), "edge-config",
                        "prosody"])
    check(rc == 3 and "missing.conf" in err, "edge-config: config missing", err)


def main():
    tests = [versions, status_unreachable, edge_config_usage]
    try:
        for t in tests:
            t()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
