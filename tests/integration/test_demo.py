"""README command 1's demo (scripts/demo.py) started and stopped as a person would: under
`| tee` and stopped with Ctrl-C (SIGINT to the whole process group, so tee dies first), it
stops every process it started and removes its directory; a busy port is reported with the
process holding it before anything starts; a failure while starting stops what was already
started. Prosody's c2s offers STARTTLS with the demo's certificate, which verifies for
fabrikam.example, and the printed baresip settings let the real baresip send a message.
Presence both ways: the demo's bob sees alice available and alice sees bob's publication;
the printed presence commands change what the other side prints.
Ports are the demo's plus an offset, so it runs beside anything on 5060."""

import os
import random
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

import servers
from conftest import need_gateway

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEMO = os.path.join(TOP, "scripts", "demo.py")
BASE = [(23456, "tcp"), (5222, "tcp"), (5060, "tcp"), (5060, "udp"), (5070, "tcp"),
        (5070, "udp"), (8070, "tcp")]


def free_offset():
    for _ in range(200):
        off = random.randrange(20000, 40000)
        ok = True
        for port, proto in BASE:
            s = socket.socket(socket.AF_INET,
                              socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
            try:
                s.bind(("127.0.0.1", port + off))
            except OSError:
                ok = False
            finally:
                s.close()
            if not ok:
                break
        if ok:
            return off
    raise RuntimeError("no free port offset")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(path, text, proc, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, errors="replace") as f:
                out = f.read()
        except OSError:
            out = ""
        if text in out:
            return out
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError("no %r in the demo's output:\n%s" % (text, out))


def started_pids(out):
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"demo: started (\S+) \(pid (\d+)\)", out)}


def starttls_verifies(port, cafile):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(b"<?xml version='1.0'?><stream:stream to='fabrikam.example' "
                  b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                  b"version='1.0'>")
        buf = b""
        while b"</stream:features>" not in buf:
            chunk = s.recv(4096)
            assert chunk, buf
            buf += chunk
        assert b"urn:ietf:params:xml:ns:xmpp-tls" in buf, buf
        s.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        assert b"<proceed" in s.recv(4096)
        t = ssl.create_default_context(cafile=cafile).wrap_socket(
            s, server_hostname="fabrikam.example")
        cn = dict(x[0] for x in t.getpeercert()["subject"])["commonName"]
        t.close()
        return cn
    finally:
        s.close()


def test_ctrl_c_under_tee_stops_everything():
    need_gateway()
    build = servers.build_dir_from_env()
    off = free_offset()
    with tempfile.TemporaryDirectory() as d:
        out_path = os.path.join(d, "out.txt")
        proc = subprocess.Popen(
            ["bash", "-c", "/usr/bin/python3 %s --build %s --port-offset %d 2>&1 | tee %s"
             % (DEMO, build, off, out_path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        pids = {}
        try:
            out = wait_for(out_path, "Ctrl-C stops everything.", proc)
            pids = started_pids(out)
            assert set(pids) == {"prosody", "kamailio", "sipxmppd"}, out
            tmp = re.search(r"files under (\S+)\)", out).group(1)
            crt = re.search(r"made for this demo: (\S+)", out).group(1)
            assert starttls_verifies(5222 + off, crt) == "fabrikam.example"
            # the printed commands work
            r = subprocess.run(["/usr/bin/python3", DEMO, "--port-offset", str(off), "sip",
                                "bob", "alice@fabrikam.example", "Hello from SIP"],
                               capture_output=True, text=True, timeout=60)
            assert r.stdout.startswith("202"), r.stdout + r.stderr
            wait_for(out_path, "body='Hello from SIP'", proc, timeout=20)
            # presence both ways: bob watches alice, alice watches bob
            wait_for(out_path, "[bob] alice@fabrikam.example is available", proc,
                     timeout=30)
            wait_for(out_path, '[alice] bob@contoso.example is available: "Available"',
                     proc, timeout=30)
            r = subprocess.run(["/usr/bin/python3", DEMO, "--port-offset", str(off),
                                "presence", "sip", "bob", "away", "In a meeting"],
                               capture_output=True, text=True, timeout=60)
            assert r.stdout.startswith("200"), r.stdout + r.stderr
            wait_for(out_path, '[alice] bob@contoso.example is away: "In a meeting"', proc,
                     timeout=30)
            r = subprocess.run(["/usr/bin/python3", DEMO, "--port-offset", str(off),
                                "presence", "xmpp", "alice", "dnd", "Busy", "--hold", "3"],
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0 and "is dnd" in r.stdout, r.stdout + r.stderr
            wait_for(out_path, '[bob] alice@fabrikam.example is dnd: "Busy"', proc,
                     timeout=30)
            # once the second resource is gone, bob sees alice's own resource again
            deadline = time.monotonic() + 30
            while True:
                out = wait_for(out_path, "[bob]", proc)
                after = out[out.index('[bob] alice@fabrikam.example is dnd: "Busy"'):]
                if "[bob] alice@fabrikam.example is available" in after:
                    break
                assert time.monotonic() < deadline, out
                time.sleep(0.2)
            # the printed baresip account and contact lines work with the real baresip
            lines = re.findall(r"echo '(.+)' >> ~/\.baresip/(accounts|contacts)", out)
            assert [f for _, f in lines] == ["accounts", "contacts"], out
            bdir = os.path.join(d, "baresip")
            os.makedirs(bdir)
            for text, name in lines:
                with open(os.path.join(bdir, name), "a") as f:
                    f.write(text + "\n")
            b = subprocess.Popen(["baresip", "-f", bdir], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            try:
                time.sleep(2)
                b.stdin.write(b"/contact_next\n")
                b.stdin.flush()
                time.sleep(0.5)
                b.stdin.write(b"/message Hello from baresip\n")
                b.stdin.flush()
                wait_for(out_path, "body='Hello from baresip'", proc, timeout=20)
                b.stdin.write(b"/quit\n")
                b.stdin.flush()
                b.wait(timeout=10)
            finally:
                if b.poll() is None:
                    b.kill()
                    b.wait()
            # Ctrl-C: SIGINT to the foreground process group (tee and the demo)
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=60)
            for name, pid in pids.items():
                assert not alive(pid), "%s (pid %d) still runs" % (name, pid)
            assert not os.path.exists(tmp), "%s left behind" % tmp
            for port, proto in BASE:
                s = socket.socket(socket.AF_INET,
                                  socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
                if proto == "tcp":
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port + off))
                finally:
                    s.close()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            for pid in pids.values():
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)


def test_busy_port_is_reported_with_its_process():
    off = free_offset()
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", 5222 + off))
    blocker.listen(1)
    try:
        r = subprocess.run(["/usr/bin/python3", DEMO, "--build", servers.build_dir_from_env(),
                            "--port-offset", str(off)], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 1
        assert ("port %d/tcp (c2s) is in use by python3 (pid %d)" % (5222 + off, os.getpid())
                in r.stdout), r.stdout
        assert "nothing was started" in r.stdout and "started prosody" not in r.stdout
    finally:
        blocker.close()


def test_failure_while_starting_stops_what_was_started():
    build = servers.build_dir_from_env()
    off = free_offset()
    with tempfile.TemporaryDirectory() as d:
        fake = os.path.join(d, "sipxmppd")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\necho 'fake sipxmppd: cannot start' >&2\nexit 1\n")
        os.chmod(fake, 0o755)
        os.symlink(os.path.join(build, "sipxmppctl"), os.path.join(d, "sipxmppctl"))
        r = subprocess.run(["/usr/bin/python3", DEMO, "--build", d, "--port-offset", str(off)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 1, r.stdout
        pids = started_pids(r.stdout)
        assert set(pids) == {"prosody", "kamailio"}, r.stdout
        for name, pid in pids.items():
            assert not alive(pid), "%s (pid %d) still runs" % (name, pid)
        kept = re.search(r"logs kept in (\S+)", r.stdout)
        assert kept, r.stdout
        assert "fake sipxmppd: cannot start" in r.stdout
        subprocess.run(["rm", "-rf", kept.group(1)])
