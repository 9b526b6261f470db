#!/usr/bin/python3
"""IM latency during a presence resynchronisation (a benchmark, not a test).

Same set-up as presence_xmpp_fanout.py: N XMPP watchers (one raw component of Prosody for a
Federated partner domain) approved for bob@contoso.example, whose state sits at Kamailio.
bob registers at Kamailio. Prosody is restarted; while the gateway resends bob's presence to
all N watchers, IM flows both ways at a steady rate: the component sends <message/> to bob
(XMPP -> SIP) and bob sends MESSAGE to im@watchers.example through Kamailio (SIP -> XMPP).
Prints the resynchronisation time and IM p50/p99 per direction, for the IMs sent while the
resync was running and for all of them.

Usage: bench/presence_resync_im.py [--build DIR] [--rate PER_S] [N ...]   (default 10000)"""

import argparse
import os
import random
import re
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import servers  # noqa: E402
from sipua import SipUA, pidf  # noqa: E402
from xmppclient import RawComponent  # noqa: E402

sys.path.insert(0, HERE)
from presence_xmpp_fanout import INTERNAL, SECRET, WATCHERS, read_count  # noqa: E402


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def run(build, n, rate, duration):
    tmp = tempfile.mkdtemp(prefix="sx-presim-")
    pro, kam, gw = servers.Prosody(), servers.Kamailio(), servers.Gateway()
    gw_port = servers.free_port()
    try:
        pro.start(tmp, users={"carol": "pw"}, log_level="warn",
                  extra_components={WATCHERS: SECRET})
        kam.start(tmp, gateway_addr="127.0.0.1:%d" % gw_port, children=1)
        gw.start(tmp, build_dir=build, prosody=pro, kamailio=kam, sip_port=gw_port,
                 config_overrides={"gateway": {"log_level": "warn"}},
                 ctl_setup=[["policy", "set", "global", "--xmpp"],
                            ["partner", "new", WATCHERS, "--type", "federated"]])
        bob = SipUA("bob", INTERNAL, proxy=("127.0.0.1", kam.port))
        assert bob.register().status == 200
        mark = "state-%x" % random.getrandbits(32)
        assert bob.publish(pidf(bob.aor, "open", note=mark), expires=3600).status == 200
        comp = RawComponent(WATCHERS, SECRET, port=pro.component_port)
        for i in range(0, n, 500):
            comp.send("".join("<presence from='w%d@%s' to='bob@%s' type='subscribe'/>"
                              % (j, WATCHERS, INTERNAL) for j in range(i, min(n, i + 500))))
        got, _, _ = read_count(comp, mark.encode(), n, 120)
        assert got >= n, "only %d/%d watchers got the state" % (got, n)
        time.sleep(1.0)
        comp.read_for(0.5)
        comp.close()
        pro.restart()
        comp = RawComponent(WATCHERS, SECRET, port=pro.component_port)
        sent_x, sent_s, recv_s = {}, {}, {}
        stop = threading.Event()
        period = 1.0 / rate

        def xmpp_sender():  # XMPP -> SIP
            i, nxt = 0, time.monotonic()
            while not stop.is_set():
                sent_x[i] = time.monotonic()
                try:
                    comp.send("<message from='im@%s' to='bob@%s' type='chat' id='x%d'>"
                              "<body>imx-%d</body></message>" % (WATCHERS, INTERNAL, i, i))
                except OSError:
                    return
                i += 1
                nxt += period
                time.sleep(max(0.0, nxt - time.monotonic()))

        def sip_sender():  # SIP -> XMPP
            i, nxt = 0, time.monotonic()
            while not stop.is_set():
                sent_s[i] = time.monotonic()
                try:
                    bob.send_message("sip:im@%s" % WATCHERS, "ims-%d" % i, timeout=2.0)
                except Exception:  # noqa: BLE001  (a lost IM shows as not received)
                    pass
                i += 1
                nxt += period
                time.sleep(max(0.0, nxt - time.monotonic()))

        threads = [threading.Thread(target=xmpp_sender, daemon=True),
                   threading.Thread(target=sip_sender, daemon=True)]
        t_start = time.monotonic()
        for t in threads:
            t.start()
        # Read the component: resync stanzas (the mark) and SIP -> XMPP IMs.
        needle, seen, carry = mark.encode(), 0, b""
        first = last = None
        ims = re.compile(rb"ims-(\d+)<")
        end = time.monotonic() + duration
        while time.monotonic() < end:
            data = comp.read_for(0.005)
            if not data:
                continue
            now = time.monotonic()
            buf = carry + data
            c = buf.count(needle) - carry.count(needle)
            if c:
                seen += c
                first = first or now
                last = now
            for m in ims.finditer(buf):
                k = int(m.group(1))
                recv_s.setdefault(k, now)
            carry = buf[-64:]
        stop.set()
        for t in threads:
            t.join(5)
        up = first or t_start
        lat_x, lat_xr, lat_s, lat_sr = [], [], [], []
        for m in bob.requests(method="MESSAGE"):
            mm = re.search(rb"imx-(\d+)", m.body)
            if mm and int(mm.group(1)) in sent_x:
                t0 = sent_x[int(mm.group(1))]
                lat_x.append(m.received_at - t0)
                if first and first <= t0 <= last:
                    lat_xr.append(m.received_at - t0)
        for k, t1 in recv_s.items():
            if k in sent_s:
                lat_s.append(t1 - sent_s[k])
                if first and first <= sent_s[k] <= last:
                    lat_sr.append(t1 - sent_s[k])

        def ms(v, p):
            return pct(v, p) * 1000.0

        print("N=%d relations: %d/%d watchers had the state again; resync from first to last "
              "stanza %.2f s (%.2f s after the component reconnected)"
              % (n, seen, n, (last - up) if last else float("nan"),
                 (last - t_start) if last else float("nan")))
        print("  IM %d/s each way. XMPP->SIP: %d/%d delivered, p50 %.1f ms p99 %.1f ms; "
              "during the resync (%d): p50 %.1f ms p99 %.1f ms"
              % (rate, len(lat_x), len(sent_x), ms(lat_x, 50), ms(lat_x, 99), len(lat_xr),
                 ms(lat_xr, 50), ms(lat_xr, 99)))
        print("  SIP->XMPP: %d/%d delivered, p50 %.1f ms p99 %.1f ms; during the resync (%d): "
              "p50 %.1f ms p99 %.1f ms"
              % (len(lat_s), len(sent_s), ms(lat_s, 50), ms(lat_s, 99), len(lat_sr),
                 ms(lat_sr, 50), ms(lat_sr, 99)))
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
    ap.add_argument("--rate", type=int, default=100, help="IMs per second each way")
    ap.add_argument("--duration", type=float, default=6.0)
    ap.add_argument("n", nargs="*", type=int, default=[10000])
    a = ap.parse_args()
    for n in a.n:
        run(a.build, n, a.rate, a.duration)


if __name__ == "__main__":
    main()
