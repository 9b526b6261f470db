"""The daemon's command line: a bad config stops it with FILE:LINE: KEY: REASON and a
non-zero exit; --check accepts a good file; a store written by a newer schema is refused."""

import os
import sqlite3
import subprocess
import tempfile

import servers
from conftest import need_gateway

GOOD = """[gateway]
domains = contoso.example
store = {store}
[sip]
listen = sip:127.0.0.1:{port};transport=udp
outbound_proxy = sip:127.0.0.1:5060
[edge]
secret = s3cret
"""


def run(args, timeout=20):
    exe = os.path.join(servers.build_dir_from_env(), "sipxmppd")
    return subprocess.run([exe] + args, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def write(d, text):
    path = os.path.join(d, "sipxmppd.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def test_check_accepts_a_good_file():
    need_gateway()
    with tempfile.TemporaryDirectory() as d:
        cfg = write(d, GOOD.format(store=os.path.join(d, "s.db"), port=servers.free_port()))
        r = run(["--config", cfg, "--check"])
        assert r.returncode == 0, r.stderr
        assert "ok" in r.stdout


def test_bad_value_names_file_line_and_key():
    need_gateway()
    with tempfile.TemporaryDirectory() as d:
        text = GOOD.format(store=os.path.join(d, "s.db"), port=servers.free_port())
        text = text.replace("[edge]\n", "[edge]\nport = 99999\n")
        cfg = write(d, text)
        r = run(["--config", cfg])
        assert r.returncode != 0
        line = text.splitlines().index("port = 99999") + 1
        assert "%s:%d: edge.port:" % (cfg, line) in r.stderr, r.stderr


def test_unknown_key_and_missing_file():
    need_gateway()
    with tempfile.TemporaryDirectory() as d:
        cfg = write(d, GOOD.format(store=os.path.join(d, "s.db"), port=servers.free_port())
                    + "[http]\nlisten_on = 127.0.0.1:1\n")
        r = run(["--config", cfg])
        assert r.returncode != 0 and "http.listen_on" in r.stderr, r.stderr
        r = run(["--config", os.path.join(d, "nope.conf")])
        assert r.returncode != 0 and "nope.conf:0:" in r.stderr, r.stderr


def test_newer_store_schema_refused():
    need_gateway()
    with tempfile.TemporaryDirectory() as d:
        store = os.path.join(d, "s.db")
        cfg = write(d, GOOD.format(store=store, port=servers.free_port()))
        ctl = os.path.join(servers.build_dir_from_env(), "sipxmppctl")
        r = subprocess.run([ctl, "--config", cfg, "policy", "list"], capture_output=True,
                           text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        db = sqlite3.connect(store)
        db.execute("UPDATE schema_version SET version = 999")
        db.commit()
        db.close()
        r = run(["--config", cfg], timeout=20)
        assert r.returncode != 0, r.stderr
        assert "999" in r.stderr, r.stderr


def test_sighup_reloads_the_policy_snapshot(fresh_stack):
    import signal
    import time
    gw = fresh_stack.gateway

    def loads():
        with open(gw.log_path, errors="replace") as f:
            return f.read().count("snapshot generation")

    before = loads()
    os.kill(gw.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while loads() == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert loads() == before + 1, "no snapshot reload logged after SIGHUP"
    gw.wait_health(200, 5)
