#!/usr/bin/python3
"""Scale-out benchmark (not a test): 1, 2 and 3 sipxmppd behind ejabberd, Kamailio's
dispatcher in front, one PostgreSQL store (tests/lib/scale.py), release build, log_level
warn. Prints:

  - SIP->XMPP at a fixed offered rate (SIPp -> Kamailio -> gateways -> ejabberd ->
    xmppbench recv as alice): the delivered rate, the gateways' CPU per message (utime+stime
    of every instance from /proc, summed; also net of what the instances burn idle —
    change-counter polls, heartbeats — over the same time) and the share each instance
    took;
  - PostgreSQL statements per message on the IM path: transactions counted by the server
    (pg_stat_database.xact_commit) during the run minus those of an idle interval of the
    same length (heartbeats and change-counter polls), divided by the messages;
  - failover: a SIP sender at 20 MESSAGE/s through Kamailio, one of two instances killed
    with SIGKILL; the longest answer time and how long after the kill answers were slow
    (> 300 ms) — requests Kamailio sent to the dead instance before its dispatcher probe
    marked it inactive wait for the 2 s branch timeout and are retried on the other.

usage: bench/scale_bench.py --build-dir build/release --xmppbench build/release/bench/xmppbench
       [--rate 300] [--seconds 5] [--instances 1,2,3]
(bench/run.sh builds xmppbench; `cc -O2 -o X bench/xmppbench.c` does too.)
"""

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (Collector, spawn, cpu_ticks, parse_sipp_stat)
from scale import EXTERNAL, INTERNAL, ScaleStack  # noqa: E402
from sipua import SipUA  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")


def pg_xacts(st):
    return int(st.pg.psql("SELECT xact_commit + xact_rollback FROM pg_stat_database"
                          " WHERE datname = 'sipxmpp'"))


def sip_to_xmpp(st, xb, rate, seconds, run):
    recv = bench.Collector([xb, "recv", "--port", str(st.ej.c2s_port), "--user", "alice",
                            "--domain", EXTERNAL, "--pw", "pw"], "recv")
    try:
        count = int(rate * seconds)
        stat = os.path.join(st.tmp, "sipp-%d.csv" % run)
        sipp_port = bench.servers.free_port()
        cmd = ["sipp", "-sf", os.path.join(HERE, "sip_message_uac.xml"), "-t", "u1",
               "-r", str(rate), "-rp", "1000", "-m", str(count), "-l", str(rate * 10),
               "-key", "run", str(run), "-i", "127.0.0.1", "-p", str(sipp_port),
               "-trace_stat", "-stf", stat, "-fd", "1", "-recv_timeout", "8000",
               "-timeout", "%ds" % (seconds + 30), "-nostdin",
               "127.0.0.1:%d" % st.kam.port]
        # idle baseline for the store's own traffic
        x0 = pg_xacts(st)
        c0 = [bench.cpu_ticks(g.pid) for g in st.gws]
        time.sleep(seconds)
        idle = pg_xacts(st) - x0 - 1
        idle_cpu_s = sum(b - a for a, b in zip(c0, [bench.cpu_ticks(g.pid) for g in st.gws])) / HZ
        cpu0 = [bench.cpu_ticks(g.pid) for g in st.gws]
        acc0 = [accepted(g) for g in st.gws]
        x0 = pg_xacts(st)
        t0 = time.monotonic()
        p = bench.spawn(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        p.wait(timeout=seconds + 60)
        s = recv.wait_done(run, count)
        el = time.monotonic() - t0
        busy = pg_xacts(st) - x0 - 1
        cpu1 = [bench.cpu_ticks(g.pid) for g in st.gws]
        acc1 = [accepted(g) for g in st.gws]
        n = s["n"]
        cpu_s = sum(b - a for a, b in zip(cpu0, cpu1)) / HZ
        cpu_us = cpu_s * 1e6 / max(n, 1)
        net_us = (cpu_s - idle_cpu_s * el / seconds) * 1e6 / max(n, 1)
        share = [b - a for a, b in zip(acc0, acc1)]
        elapsed = (s["last"] - s["first"]) if n > 1 else el
        return dict(n=n, count=count, net_us=net_us, idle_ms_s=idle_cpu_s * 1000 / seconds, rate=n / max(elapsed, 1e-3), cpu_us=cpu_us, share=share,
                    p50=s["p50_us"] / 1000, p99=s["p99_us"] / 1000,
                    pg_per_msg=(busy - idle * (el / seconds)) / max(n, 1), sipp_rc=p.returncode)
    finally:
        recv.close()


def accepted(gw):
    import re
    st, text, _ = gw.metrics()
    m = re.search(r'sipxmpp_messages_total\{direction="sip_to_xmpp",result="accepted"\} (\d+)',
                  text)
    return int(m.group(1)) if m else 0


def failover(st):
    ua = SipUA("bob", INTERNAL, proxy=("127.0.0.1", st.kam.port))
    try:
        assert ua.register().status == 200
        rows = []
        stop = threading.Event()

        def run():
            i = 0
            while not stop.is_set():
                t = time.monotonic()
                try:
                    r = ua.send_message("sip:alice@%s" % EXTERNAL, "fo %d" % i, timeout=20)
                    res = r.status
                except TimeoutError:
                    res = None
                rows.append((t, time.monotonic() - t, res))
                i += 1
                time.sleep(max(0, 0.05 - (time.monotonic() - t)))
        th = threading.Thread(target=run, daemon=True)
        th.start()
        time.sleep(3)
        t_kill = time.monotonic()
        st.gws[1].kill()
        st.gws[1] = None
        time.sleep(8)
        stop.set()
        th.join(30)
        after = [(t - t_kill, d, res) for t, d, res in rows if t + d >= t_kill]
        slow = [a for a in after if a[1] > 0.3]
        return dict(max_s=max(d for _, d, _ in after), slow=len(slow),
                    slow_until=max((t + d for t, d, _ in slow), default=0.0),
                    failed=sum(1 for _, _, r in after if r is None or not 200 <= r < 300),
                    total=len(after))
    finally:
        ua.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--xmppbench", required=True)
    ap.add_argument("--rate", type=int, default=300)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--instances", default="1,2,3")
    a = ap.parse_args()
    os.environ["SX_BUILD_DIR"] = os.path.abspath(a.build_dir)
    xb = os.path.abspath(a.xmppbench)
    print("SIP->XMPP at %d/s offered for %d s, through Kamailio (dispatcher) and ejabberd"
          % (a.rate, a.seconds))
    for n in [int(x) for x in a.instances.split(",")]:
        tmp = tempfile.mkdtemp(prefix="sx-scalebench-")
        st = ScaleStack(tmp, n, store="pg", gw_overrides={"gateway": {"log_level": "warn"}})
        try:
            st.start()
            r = sip_to_xmpp(st, xb, a.rate, a.seconds, 1)
            print("  %d instance(s): delivered %d/%d, %.0f msg/s, p50 %.1f ms, p99 %.1f ms, "
                  "gateway CPU %.0f us/msg (all instances; %.0f us net of the idle %.1f ms/s), "
                  "share %s, PostgreSQL %.3f statements/msg"
                  % (n, r["n"], r["count"], r["rate"], r["p50"], r["p99"], r["cpu_us"],
                     r["net_us"], r["idle_ms_s"], r["share"], r["pg_per_msg"]))
            sys.stdout.flush()
            if n == 2:
                f = failover(st)
                print("  failover (kill -9 of 1 of 2 at 20 MESSAGE/s): %d requests, %d not 2xx, "
                      "%d slower than 300 ms, longest %.2f s, slow until %.1f s after the kill"
                      % (f["total"], f["failed"], f["slow"], f["max_s"], f["slow_until"]))
                sys.stdout.flush()
        finally:
            try:
                st.stop()
            except Exception as e:
                print("  (stop: %s)" % e)
            bench.cleanup()
            subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
