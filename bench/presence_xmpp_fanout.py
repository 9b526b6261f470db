#!/usr/bin/python3
"""Presence benchmark (not a test): one SIP user's NOTIFY fanned out to N XMPP watchers.

Starts a real Prosody, a real Kamailio (registrar and presence server) and the optimised
sipxmppd (log_level warn) on 127.0.0.1. N watchers w<i>@watchers.example are played by one
raw XEP-0114 component of Prosody (a Federated partner domain whose stanzas come back to
the same socket); each subscribes to bob@contoso.example and is approved at once, all
sharing the gateway's one fan-out subscription at Kamailio. Then bob PUBLISHes a new state
and the script measures how long until all N presence stanzas carrying it arrived, the
gateway's CPU per stanza and its RSS per relation.

With --dialogs M, M SIP SUBSCRIBE dialogs (one served user watching carol@fabrikam.example,
straight to the gateway over TCP) are opened in the same daemon after the N relations, and
its RSS is printed with both held at once.

Usage: bench/presence_xmpp_fanout.py [--build DIR] [--dialogs M] [N ...]
       (default 1000 10000)"""

import argparse
import os
import random
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import servers  # noqa: E402
from sipua import SipUA, pidf  # noqa: E402
from xmppclient import RawComponent  # noqa: E402

sys.path.insert(0, HERE)
from presence_fanout import EXTERNAL, NotifySink, proc_cpu_s, proc_rss, subscribe_all  # noqa: E402,E501

INTERNAL, WATCHERS, SECRET = "contoso.example", "watchers.example", "w-secret"


def read_count(comp, needle, want, timeout):
    """Reads the component stream until `needle` occurred `want` times. Returns (count,
    time of the last chunk)."""
    n, last, carry = 0, time.monotonic(), b""
    first = None
    deadline = time.monotonic() + timeout
    while n < want and time.monotonic() < deadline:
        data = comp.read_for(0.05)
        if not data:
            continue
        data = carry + data
        n += data.count(needle)
        carry = data[-len(needle):]
        n -= carry.count(needle)  # counted again with the next chunk
        last = time.monotonic()
        if first is None and (n or needle in carry):
            first = last
    n += carry.count(needle)
    return n, last, first


def run(build, n, dialogs=0):
    tmp = tempfile.mkdtemp(prefix="sx-presxbench-")
    pro, kam, gw = servers.Prosody(), servers.Kamailio(), servers.Gateway()
    gw_port = servers.free_port()
    try:
        pro.start(tmp, users={"carol": "pw"}, log_level="warn",
                  extra_components={WATCHERS: SECRET})
        kam.start(tmp, gateway_addr="127.0.0.1:%d" % gw_port, children=1)
        gw.start(tmp, build_dir=build, prosody=pro, kamailio=kam, sip_port=gw_port,
                 config_overrides={"gateway": {"log_level": "warn"}},
                 ctl_setup=[["policy", "set", "global", "--xmpp"],
                            ["partner", "new", WATCHERS, "--type", "federated"],
                            ["partner", "new", EXTERNAL, "--type", "federated"]])
        pid = gw.pid
        bob = SipUA("bob", INTERNAL, proxy=("127.0.0.1", kam.port))
        assert bob.publish(pidf(bob.aor, "open", note="start"), expires=3600).status == 200
        comp = RawComponent(WATCHERS, SECRET, port=pro.component_port)
        rss0 = proc_rss(pid)
        t0 = time.monotonic()
        for i in range(0, n, 500):
            comp.send("".join("<presence from='w%d@%s' to='bob@%s' type='subscribe'/>"
                              % (j, WATCHERS, INTERNAL) for j in range(i, min(n, i + 500))))
        got, _, _ = read_count(comp, b"type='subscribed'", n, 120)
        setup_s = time.monotonic() - t0
        time.sleep(2.0)
        comp.read_for(0.5)
        rss1 = proc_rss(pid)
        mark = "change-%x" % random.getrandbits(32)
        cpu0 = proc_cpu_s(pid)
        t1 = time.monotonic()
        assert bob.publish(pidf(bob.aor, "open", activity="busy", note=mark),
                           expires=3600).status == 200
        arrived, last, first = read_count(comp, mark.encode(), n, 120)
        first = first or last
        took = last - first
        cpu1 = proc_cpu_s(pid)
        rows = len(kam.active_watchers("sip:bob@%s" % INTERNAL))
        print("N=%6d XMPP watchers (%d approved in %.1f s, %d subscription(s) at Kamailio): "
              "one PUBLISH -> first stanza after %.3f s (Kamailio's NOTIFY delay included), "
              "%d/%d stanzas from first to last in %.3f s (%.0f/s); gateway CPU %.1f us "
              "per stanza; RSS +%.2f KiB per relation (%.1f MB -> %.1f MB)"
              % (n, got, setup_s, rows, first - t1, arrived, n, took,
                 arrived / took if took > 0 else 0,
                 (cpu1 - cpu0) * 1e6 / max(arrived, 1), (rss1 - rss0) / 1024.0 / n,
                 rss0 / 1e6, rss1 / 1e6))
        sys.stdout.flush()
        if dialogs:
            sink = NotifySink()
            conn = subscribe_all(gw.sip_port, sink, dialogs, "dlg%x" % random.getrandbits(16))
            deadline = time.monotonic() + 120
            while sink.count < dialogs and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(2.0)
            print("         + %d SIP dialogs (%d NOTIFYs received): RSS %.1f MB (%.1f MiB) "
                  "with %d relations and %d dialogs at once"
                  % (dialogs, sink.count, proc_rss(pid) / 1e6, proc_rss(pid) / 1048576.0,
                     n, dialogs))
            sys.stdout.flush()
            conn.close()
        # Edge restart: the gateway resynchronises every relation (presence to each
        # watcher) once its link is back.
        comp.close()
        pro.restart()
        comp = RawComponent(WATCHERS, SECRET, port=pro.component_port)
        t2 = time.monotonic()
        gw.wait_health(200, 30)
        up = time.monotonic()
        again, last, _ = read_count(comp, mark.encode(), n, 120)
        print("         edge restart: link up %.2f s after the watchers' component; %d/%d "
              "watchers had the current presence again %.2f s after the link came up"
              % (up - t2, again, n, last - up))
        sys.stdout.flush()
        comp.close()
        bob.close()
    finally:
        gw.stop(check=False)
        kam.stop()
        pro.stop()
        servers.rmtree_quiet(tmp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--dialogs", type=int, default=0)
    ap.add_argument("n", nargs="*", type=int, default=[1000, 10000])
    a = ap.parse_args()
    for n in a.n:
        run(a.build, n, a.dialogs)


if __name__ == "__main__":
    main()
