#!/usr/bin/python3
"""Gateway CPU per message of two builds, back to back in one run (not a test).

usage: bench/ab_cpu.py --a BUILD_DIR [--b BUILD_DIR] [--tcp] [--sip u1|t1]
                       [--rates 1600,8000] [--reps 6] [--step 3]
                       [--perf FILE | --strace FILE]

Starts one Prosody and, for each repetition, measures Prosody's own c2s->c2s cost at each
rate, then a fresh gateway of each build (the order alternates between repetitions) at the
same rates: XMPP->SIP by default (--tcp: TCP toward the SIP sink), SIP->XMPP with --sip. CPU
is the sum of the threads' run time from /proc/PID/task/*/schedstat (nanoseconds, not clock
ticks). Prints each step, then per rate the medians and the median of the B/A ratios of the
pairs: on a shared machine single steps vary by +-20 %, pairs taken back to back much less.
--perf / --strace record the first step of build A (`perf record --call-graph dwarf`,
`strace -f`; STRACE_ARGS replaces the default "-c -f"); that step is left out of the
figures. A BUILD_DIR holds sipxmppd and sipxmppctl (e.g. a copy of build/release made before
a change). xmppbench is taken from build/release/bench (bench/run.sh builds it)."""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402


def sched_ticks(pid):
    """CPU time of all threads of pid, in clock ticks (bench.py's unit), from schedstat."""
    t = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                t += int(f.read().split()[0])
        except OSError:
            pass
    return t / 1e9 * bench.HZ


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", default="")
    ap.add_argument("--tcp", action="store_true")
    ap.add_argument("--sip", default="", choices=("", "u1", "t1"))
    ap.add_argument("--rates", default="1600,8000")
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--step", type=float, default=3.0)
    ap.add_argument("--perf", default="")
    ap.add_argument("--strace", default="")
    ap.add_argument("--xmppbench",
                    default=os.path.join(os.path.dirname(HERE), "build", "release", "bench",
                                         "xmppbench"))
    x = ap.parse_args()
    a = types.SimpleNamespace(quick=True, build_dir=x.a, xmppbench=x.xmppbench, step_s=x.step,
                              edge="prosody", prosody_nagle=False, gw_set=[], profile=False,
                              bisect=1, results="", start_rate=2000, max_rate=64000)
    bench.cpu_ticks = sched_ticks
    b = bench.Bench(a)
    rates = [int(r) for r in x.rates.split(",")]
    builds = [("A", x.a)] + ([("B", x.b)] if x.b else [])
    res = {}
    try:
        b.start_prosody()
        time.sleep(1)
        for rep in range(x.reps):
            for rate in rates:
                res.setdefault(("edge", rate), []).append(b.step_prosody(rate)["prosody_cpu_us"])
            for tag, d in (builds if rep % 2 == 0 else builds[::-1]):
                b.build = os.path.abspath(d)
                b.start_gateway("ab-%s-%d" % (tag, rep), proxy_tcp=x.tcp)
                if x.sip:
                    step = lambda rate, dur=None: b.step_sip_to_xmpp(x.sip, rate, dur)
                else:
                    step = b.step_xmpp_to_sip
                step(1000, 1.0)  # warm-up
                for rate in rates:
                    rec = None
                    if rep == 0 and tag == "A" and rate == rates[0] and (x.perf or x.strace):
                        if x.perf:
                            argv = ["perf", "record", "-q", "--call-graph", "dwarf,16384",
                                    "-F", "999", "-p", str(b.gw.pid), "-o", x.perf]
                        else:
                            argv = (["strace"] + os.environ.get("STRACE_ARGS", "-c -f").split()
                                    + ["-o", x.strace, "-p", str(b.gw.pid)])
                        rec = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL)
                        time.sleep(0.5)
                    r = step(rate)
                    if rec:
                        rec.send_signal(signal.SIGINT)
                        rec.wait(timeout=60)
                        print("rep %d %s %5d/s: recorded, not counted" % (rep, tag, rate))
                        continue
                    res.setdefault((tag, rate), []).append(r["gw_cpu_us"])
                    print("rep %d %s %5d/s: gw %.1f us/msg, edge %.1f, pass=%s %d/%d p99 %.1f ms,"
                          " host %d%% %s" % (rep, tag, rate, r["gw_cpu_us"], r["prosody_cpu_us"],
                                             r["pass"], r["arrived"], r["count"], r["p99_ms"],
                                             int(r.get("host_pct", 0)), r.get("why", "")),
                          flush=True)
                b.stop_gateway()
        print("== medians (us per message)")
        for rate in rates:
            e = statistics.median(res[("edge", rate)])
            line = "%5d/s edge %.1f" % (rate, e)
            for tag, _ in builds:
                v = res.get((tag, rate), [])
                if v:
                    m = statistics.median(v)
                    line += " | %s %.1f (%.2fx edge) [%s]" % (tag, m, m / e,
                                                              " ".join("%.0f" % t for t in v))
            if len(builds) == 2 and res.get(("A", rate)) and res.get(("B", rate)):
                pr = [bb / aa for aa, bb in zip(res[("A", rate)], res[("B", rate)])]
                line += " | B/A %.2f [%s]" % (statistics.median(pr),
                                              " ".join("%.2f" % p for p in pr))
            print(line, flush=True)
    finally:
        for c in (b.recv_alice, b.recv_carol, b.sink):
            if c:
                c.close()
        bench.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
