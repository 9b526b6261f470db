#!/usr/bin/python3
"""Presence benchmark (not a test): one XMPP presence change fanned out to N SIP dialogs.

Starts a real Prosody and the optimised sipxmppd (log_level warn) on 127.0.0.1. A raw SIP
client opens N SUBSCRIBE dialogs of one internal user watching carol@fabrikam.example over
one TCP connection straight to the gateway (a trusted peer) and answers every NOTIFY 200 from
a TCP listener; carol (slixmpp) approves once. Then carol changes her presence and the
script measures how long until all N NOTIFYs carrying the change arrived, the gateway's CPU
per NOTIFY (utime+stime from /proc/PID/stat) and its RSS per dialog.

The client is Python: the arrival rate is bounded by it as much as by the gateway, so the
gateway's CPU per NOTIFY is the figure to read (1 s / that = its ceiling on one core).

Usage: bench/presence_fanout.py [--build DIR] [N ...]   (default 1000 10000)"""

import argparse
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import servers  # noqa: E402
from xmppclient import XmppClient  # noqa: E402

INTERNAL, EXTERNAL = "contoso.example", "fabrikam.example"


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class NotifySink:
    """Accepts the gateway's TCP connections, answers every NOTIFY 200, counts bodies."""

    def __init__(self):
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        self.lock = threading.Lock()
        self.count = 0
        self.marked = 0
        self.mark = None
        self.last = 0.0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        buf = b""
        while True:
            try:
                d = c.recv(1 << 20)
            except OSError:
                return
            if not d:
                return
            buf += d
            out = []
            while True:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buf[:end].decode("utf-8", "replace")
                m = re.search(r"\r\n(?:Content-Length|l)\s*:\s*(\d+)", head, re.I)
                n = int(m.group(1)) if m else 0
                if len(buf) < end + 4 + n:
                    break
                body = buf[end + 4:end + 4 + n]
                buf = buf[end + 4 + n:]
                if not head.startswith("NOTIFY"):
                    continue
                lines = ["SIP/2.0 200 OK"]
                for ln in head.split("\r\n")[1:]:
                    k = ln.split(":", 1)[0].strip().lower()
                    if k in ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"):
                        lines.append(ln)
                lines.append("Content-Length: 0")
                out.append(("\r\n".join(lines) + "\r\n\r\n").encode())
                with self.lock:
                    self.count += 1
                    if self.mark and self.mark in body:
                        self.marked += 1
                        self.last = time.monotonic()
            if out:
                try:
                    c.sendall(b"".join(out))
                except OSError:
                    return


def subscribe_all(gw_port, sink, n, user):
    s = socket.create_connection(("127.0.0.1", gw_port))
    lport = s.getsockname()[1]
    reqs = []
    for i in range(n):
        reqs.append(
            ("SUBSCRIBE sip:carol@%s SIP/2.0\r\n"
             "Via: SIP/2.0/TCP 127.0.0.1:%d;branch=z9hG4bKb%x%d\r\n"
             "Max-Forwards: 70\r\n"
             "From: <sip:%s@%s>;tag=t%d\r\n"
             "To: <sip:carol@%s>\r\n"
             "Call-ID: bench-%d-%x@127.0.0.1\r\n"
             "CSeq: 1 SUBSCRIBE\r\n"
             "Contact: <sip:%s@127.0.0.1:%d;transport=tcp>\r\n"
             "Event: presence\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"
             % (EXTERNAL, lport, random.getrandbits(32), i, user, INTERNAL, i, EXTERNAL, i,
                random.getrandbits(32), user, sink.port)).encode())
    # The responses are read and dropped by a thread; they are not needed.
    def drain():
        while True:
            try:
                if not s.recv(1 << 20):
                    return
            except OSError:
                return
    threading.Thread(target=drain, daemon=True).start()
    for i in range(0, n, 200):
        s.sendall(b"".join(reqs[i:i + 200]))
        time.sleep(0.01)
    return s


def run(build, n):
    tmp = tempfile.mkdtemp(prefix="sx-presbench-")
    pro = servers.Prosody()
    gw = servers.Gateway()
    try:
        pro.start(tmp, users={"carol": "pw"}, log_level="warn")
        gw.start(tmp, build_dir=build, prosody=pro,
                 config_overrides={"gateway": {"log_level": "warn"},
                                   "presence": {"max_expires": "3600"}},
                 ctl_setup=[["policy", "set", "global", "--xmpp"],
                            ["partner", "new", EXTERNAL, "--type", "federated"]])
        pid = gw.pid
        carol = XmppClient("carol@%s" % EXTERNAL, "pw", "127.0.0.1", pro.c2s_port,
                           auto_roster=False)
        carol.connect()
        sink = NotifySink()
        rss0 = proc_rss(pid)
        user = "bench%x" % random.getrandbits(16)
        conn = subscribe_all(gw.sip_port, sink, 1, user)
        carol.wait_presence(lambda p: p.type == "subscribe", timeout=10)
        carol.send_presence(to="%s@%s" % (user, INTERNAL), ptype="subscribed")
        time.sleep(0.5)
        t0 = time.monotonic()
        conns = [subscribe_all(gw.sip_port, sink, n - 1, user)] if n > 1 else []
        deadline = time.monotonic() + 120
        while sink.count < n + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        setup_s = time.monotonic() - t0
        time.sleep(0.5)
        rss1 = proc_rss(pid)
        cpu0 = proc_cpu_s(pid)
        sink.mark = b"bench-change-%d" % n
        perf = None
        if os.environ.get("SX_PERF"):
            perf = subprocess.Popen(["perf", "record", "-g", "-o", os.environ["SX_PERF"],
                                     "-p", str(pid)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        t1 = time.monotonic()
        carol.send_presence(show="dnd", status=sink.mark.decode())
        deadline = time.monotonic() + 120
        while sink.marked < n and time.monotonic() < deadline:
            time.sleep(0.01)
        took = (sink.last or time.monotonic()) - t1
        cpu1 = proc_cpu_s(pid)
        got = sink.marked
        if perf:
            perf.send_signal(2)
            perf.wait(30)
        print("N=%6d dialogs: set-up %.1f s; one presence change -> %d/%d NOTIFYs in %.3f s "
              "(%.0f/s at the client); gateway CPU %.1f us per NOTIFY; RSS +%.1f KiB per "
              "dialog (%.1f MB -> %.1f MB)"
              % (n, setup_s, got, n, took, got / took if took > 0 else 0,
                 (cpu1 - cpu0) * 1e6 / max(got, 1), (rss1 - rss0) / 1024.0 / n,
                 rss0 / 1e6, rss1 / 1e6))
        sys.stdout.flush()
        carol.close()
        for c in [conn] + conns:
            c.close()
    finally:
        gw.stop(check=False)
        pro.stop()
        servers.rmtree_quiet(tmp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("n", nargs="*", type=int, default=[1000, 10000])
    a = ap.parse_args()
    for n in a.n:
        run(a.build, n)


if __name__ == "__main__":
    main()
