#!/usr/bin/python3
"""sipxmppd benchmark driver (run through bench/run.sh; not a test).

Starts a real Prosody (warn logging) and sipxmppd (log_level = warn) on 127.0.0.1 and drives
them with SIPp and bench/xmppbench (a C XMPP sender/receiver and UDP SIP sink), then prints:

  - Prosody's own c2s->c2s ceiling (alice -> carol), the reference;
  - SIP->XMPP over UDP and TCP (SIPp UAC -> gateway -> Prosody -> receiver as alice);
  - XMPP->SIP (sender as alice -> Prosody -> gateway -> UDP SIP sink answering 200);
  - for each: the highest offered rate with 0 loss that the pipeline keeps up with, p50/p99
    latency (arrival minus the send timestamp carried in the body; one machine clock), the
    gateway's CPU per message (utime+stime from /proc/PID/stat) and peak RSS (VmHWM);
  - a stall test (SIGSTOP the gateway for 1 s under SIP->XMPP TCP load);
  - optionally: the throughput with a large policy store, a perf profile of the gateway,
    and bench/policy_bench's output.

A rate step passes when every MESSAGE got its final success answer, every message arrived
exactly once, the sender achieved >= 95 % of the offered rate, arrivals kept >= 95 % of the
send rate, and p99 latency stayed under 500 ms (one SIP T1: a retransmitted datagram fails
the step). The ladder doubles the rate until a step fails, then bisects.

Every child runs in its own session and is killed by PID when the driver exits."""

import argparse
import bisect
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import servers  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
KEEP_TMP = False   # --keep: logs stay, so failure texts may point into them
PASS_P99_US = 500000

# ------------------------------------------------------------------------------ processes

_children = []     # Popen objects started here (own sessions)
_gateways = []     # servers.Gateway objects
_prosodies = []


def spawn(argv, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(argv, start_new_session=True, **kw)
    _children.append(p)
    return p


def end_child(p, grace=3.0):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGCONT)
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    if p in _children:
        _children.remove(p)


def cleanup():
    for p in list(_children):
        end_child(p)
    for g in list(_gateways):
        stop_gateway(g)
    for pr in list(_prosodies):
        try:
            pr.stop()
        except Exception:
            pass
        _prosodies.remove(pr)


def _on_signal(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


# ------------------------------------------------------------------------------ /proc

def cpu_ticks(pid):
    """utime+stime of the whole process, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def descendants(pid):
    """pid and every process below it (ejabberdctl -> su -> erlexec -> beam.smp)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                data = f.read()
        except OSError:
            continue
        ppid = int(data[data.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def host_cpu():
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v) - idle, sum(v)


def host_busy_pct(c0, c1):
    """Busy share of the whole machine between two host_cpu() readings, in % of one CPU
    (200 % = both cores of a 2-CPU host busy)."""
    db, dt = c1[0] - c0[0], c1[1] - c0[1]
    return 100.0 * (os.cpu_count() or 1) * db / dt if dt > 0 else 0.0


def udp_rcvbuf_errors():
    """The host's UDP RcvbufErrors counter (datagrams dropped on full receive buffers)."""
    try:
        with open("/proc/net/snmp") as f:
            rows = [l.split() for l in f if l.startswith("Udp:")]
        return int(rows[1][rows[0].index("RcvbufErrors")])
    except (OSError, ValueError, IndexError):
        return 0


def proc_status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# ------------------------------------------------------------------------------ tools

class Collector:
    """xmppbench recv / sipsink: a child answering S/D commands on stdin."""

    def __init__(self, argv, name):
        self.name = name
        self.p = spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                       bufsize=1)
        line = self._readline(20)
        if line.strip() != "READY":
            raise RuntimeError("%s did not start: %r" % (name, line))

    def _readline(self, timeout):
        out = []

        def rd():
            out.append(self.p.stdout.readline())
        t = threading.Thread(target=rd, daemon=True)
        t.start()
        t.join(timeout)
        if not out:
            raise RuntimeError("%s: no answer within %ss" % (self.name, timeout))
        if not out[0]:
            raise RuntimeError("%s exited (rc %s)" % (self.name, self.p.poll()))
        return out[0]

    def stats(self, run):
        self.p.stdin.write("S %d\n" % run)
        self.p.stdin.flush()
        line = self._readline(30)
        d = {}
        for kv in line.split():
            k, _, v = kv.partition("=")
            d[k] = float(v) if "." in v else int(v)
        return d

    def dump(self, run, path):
        self.p.stdin.write("D %d %s\n" % (run, path))
        self.p.stdin.flush()
        line = self._readline(60)
        if not line.startswith("OK"):
            raise RuntimeError("%s dump: %s" % (self.name, line))
        rows = []
        with open(path) as f:
            for line in f:
                s, a, l = line.split()
                rows.append((int(s), int(a), int(l)))
        return rows

    def wait_done(self, run, expected, idle=1.0, max_wait=20.0):
        """Polls until `expected` messages of `run` arrived, or nothing new came for `idle`
        seconds, or `max_wait` passed."""
        deadline = time.monotonic() + max_wait
        last_n, last_change = -1, time.monotonic()
        while True:
            st = self.stats(run)
            if st["n"] >= expected:
                return st
            now = time.monotonic()
            if st["n"] != last_n:
                last_n, last_change = st["n"], now
            elif now - last_change >= idle:
                return st
            if now >= deadline:
                return st
            time.sleep(0.1)

    def close(self):
        try:
            self.p.stdin.write("Q\n")
            self.p.stdin.flush()
            self.p.wait(timeout=3)
        except Exception:
            pass
        end_child(self.p)


def parse_sipp_stat(path):
    """The last line of SIPp's -trace_stat CSV as a dict of cumulative counters."""
    try:
        with open(path, errors="replace") as f:
            lines = [l.rstrip("\n") for l in f if l.strip()]
    except OSError:
        return {}
    if len(lines) < 2:
        return {}
    head = lines[0].split(";")
    last = lines[-1].split(";")
    d = dict(zip(head, last))
    out = {}
    for key, name in (("ok", "SuccessfulCall(C)"), ("failed", "FailedCall(C)"),
                      ("created", "TotalCallCreated"), ("retrans", "Retransmissions(C)"),
                      ("timeouts", "FailedTimeoutOnRecv(C)"),
                      ("unexpected", "FailedUnexpectedMessage(C)"),
                      ("tcp_closed", "FailedTcpClosed(C)"),
                      ("cannot_send", "FailedCannotSendMessage(C)")):
        try:
            out[key] = int(d.get(name, "0") or 0)
        except ValueError:
            out[key] = 0
    try:
        with open(path + ".err", errors="replace") as f:
            err = f.read(1 << 20)
        m = re.search(r"received 'SIP/2.0 (\d{3}[^\r\n]*)", err)
        if m:
            out["first_unexpected"] = m.group(1)
    except OSError:
        pass
    return out


def sipp_failure_text(s, stat):
    parts = []
    for key, name in (("timeouts", "no answer within 8 s"), ("unexpected", "unexpected answers"),
                      ("tcp_closed", "TCP connection closed"),
                      ("cannot_send", "could not send")):
        if s.get(key):
            parts.append("%d %s" % (s[key], name))
    if s.get("first_unexpected"):
        parts.append("first unexpected: %s" % s["first_unexpected"])
    where = "; see %s.err" % stat if KEEP_TMP else ""
    return "SIPp: " + ", ".join(parts or ["%d failed" % s.get("failed", 0)]) + where


# ------------------------------------------------------------------------------ the bench

class BenchProsody(servers.Prosody):
    """servers.Prosody with Nagle's algorithm switched off on its sockets (unless
    nagle=True): with Nagle on, Prosody's small writes wait for the peer's delayed ACK and
    every latency figure is ~20-40 ms of TCP timers rather than the software measured."""

    nagle = False

    def _write_config(self):
        super()._write_config()
        if not self.nagle:
            with open(self.cfg_path) as f:
                text = f.read()
            with open(self.cfg_path, "w") as f:
                f.write("network_settings = { nagle = false }\n" + text)


class Bench:
    def __init__(self, args):
        self.a = args
        self.build = os.path.abspath(args.build_dir)
        self.xb = os.path.abspath(args.xmppbench)
        self.tmp = tempfile.mkdtemp(prefix="sipxmpp-bench-")
        self.run_id = 0
        self.out_lines = []
        self.results = {}
        self.t_start = time.monotonic()
        self.sipp_port = servers.free_port()
        self.prosody = None
        self.gw = None
        self.recv_alice = None
        self.recv_carol = None
        self.sink = None
        self.edge_pids = []
        self.sink_port = None

    # -- output
    def say(self, s=""):
        print(s, flush=True)

    def next_run(self):
        self.run_id += 1
        return self.run_id

    def elapsed(self):
        return time.monotonic() - self.t_start

    # -- servers
    def edge_cpu(self):
        """CPU ticks of the edge server's processes."""
        total = 0
        for pid in self.edge_pids:
            try:
                total += cpu_ticks(pid)
            except OSError:
                pass
        return total

    def start_ejabberd(self):
        ej = servers.Ejabberd()
        self.prosody = ej.start(self.tmp)
        _prosodies.append(self.prosody)
        for user in ("alice", "carol"):
            env = dict(os.environ, HOME=ej.dir, EJABBERD_CONFIG_PATH=os.path.join(ej.dir, "ejabberd.yml"))
            r = subprocess.run(["ejabberdctl", "--config-dir", ej.dir, "--spool", ej.spool,
                                "--logs", ej.logs, "register", user, "fabrikam.example", "pw"],
                               env=env, cwd=ej.dir, capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise RuntimeError("ejabberdctl register %s: %s %s" % (user, r.stdout, r.stderr))
        time.sleep(1.0)
        self.edge_pids = descendants(self.prosody.pid)

    def start_prosody(self):
        if self.a.edge == "ejabberd":
            self.start_ejabberd()
            self.start_collectors()
            return
        pr = BenchProsody()
        pr.nagle = self.a.prosody_nagle
        self.prosody = pr.start(self.tmp, log_level="warn")
        _prosodies.append(self.prosody)
        self.edge_pids = [self.prosody.pid]
        self.start_collectors()

    def start_collectors(self):
        self.recv_alice = Collector([self.xb, "recv", "--port", str(self.prosody.c2s_port),
                                     "--user", "alice"], "receiver alice")
        self.recv_carol = Collector([self.xb, "recv", "--port", str(self.prosody.c2s_port),
                                     "--user", "carol"], "receiver carol")
        self.sink_port = servers.free_port()
        self.sink = Collector([self.xb, "sipsink", "--port", str(self.sink_port)], "SIP sink")

    def start_gateway(self, tag, store_from=None, proxy_tcp=False, extra=None):
        d = os.path.join(self.tmp, "gw-" + tag)
        os.makedirs(os.path.join(d, "sipxmppd"), exist_ok=True)
        if store_from:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(store_from + suffix):
                    shutil.copy(store_from + suffix,
                                os.path.join(d, "sipxmppd", "sipxmpp.db" + suffix))
        g = servers.Gateway()
        overrides = {"gateway": {"log_level": "warn"},
                     "sip": {"outbound_proxy": "sip:127.0.0.1:%d%s" % (
                         self.sink_port, ";transport=tcp" if proxy_tcp else "")}}
        for kv in list(self.a.gw_set or []) + list(extra or []):
            k, _, v = kv.partition("=")
            sect, _, key = k.partition(".")
            overrides.setdefault(sect, {})[key] = v
        g.start(d, build_dir=self.build, prosody=self.prosody, config_overrides=overrides,
                ctl_setup=[["policy", "set", "global", "--xmpp"],
                           ["partner", "new", "fabrikam.example", "--type", "federated"]])
        _gateways.append(g)
        self.gw = g
        return g

    def restart_gateway(self, tag, proxy_tcp=False):
        """A fresh gateway (new store, same ports) after an overloaded step; the peak RSS of
        the old one is kept in self.hwm_kb."""
        self.hwm_kb = max(getattr(self, "hwm_kb", 0), proc_status_kb(self.gw.pid, "VmHWM"))
        self.stop_gateway()
        self.gw_restarts = getattr(self, "gw_restarts", 0) + 1
        self.start_gateway("%s-r%d" % (tag, self.gw_restarts), proxy_tcp=proxy_tcp)

    def stop_gateway(self):
        if self.gw:
            rc = stop_gateway(self.gw)
            if rc not in (0, None):
                self.say("  ! sipxmppd exited with %s after SIGTERM (log: %s)"
                         % (rc, self.gw.log_path))
            self.gw = None

    # -- one SIPp run
    def sipp_cmd(self, transport, rate, count, run, stat_path, dur_hint):
        return ["sipp", "-sf", os.path.join(HERE, "sip_message_uac.xml"),
                "-t", transport, "-r", str(int(rate)), "-rp", "1000", "-m", str(count),
                "-l", str(max(1000, int(rate * 10))), "-key", "run", str(run),
                "-i", "127.0.0.1", "-p", str(self.sipp_port),
                "-trace_err", "-error_file", stat_path + ".err",
                "-trace_stat", "-stf", stat_path, "-fd", "1",
                "-recv_timeout", "8000", "-max_recv_loops", "10000",
                "-max_sched_loops", "10000", "-buff_size", str(4 << 20),
                "-timeout", "%ds" % int(dur_hint + 30), "-nostdin",
                "127.0.0.1:%d" % self.gw.sip_port]

    def run_sipp(self, transport, rate, count, run, dur_hint):
        stat = os.path.join(self.tmp, "sipp-%d.csv" % run)
        log = open(os.path.join(self.tmp, "sipp-%d.out" % run), "wb")
        p = spawn(self.sipp_cmd(transport, rate, count, run, stat, dur_hint), stdout=log,
                  stderr=subprocess.STDOUT, cwd=self.tmp)
        return p, stat, log

    def finish_sipp(self, p, stat, log, dur_hint):
        try:
            rc = p.wait(timeout=dur_hint + 45)
        except subprocess.TimeoutExpired:
            end_child(p)
            rc = "timeout"
        end_child(p)
        log.close()
        s = parse_sipp_stat(stat)
        s["rc"] = rc
        return s

    # -- evaluation shared by every direction
    def judge(self, rate, count, st, sent_ok, sent_failed, extra=""):
        r = {"rate": rate, "count": count, "arrived": st.get("uniq", 0),
             "dup": st.get("dup", 0), "p50_ms": st.get("p50_us", 0) / 1000.0,
             "p99_ms": st.get("p99_us", 0) / 1000.0, "max_ms": st.get("max_us", 0) / 1000.0,
             "ok": sent_ok, "failed": sent_failed}
        n = st.get("uniq", 0)
        span_ts = st.get("last_ts", 0) - st.get("first_ts", 0)
        span_arr = st.get("last", 0) - st.get("first", 0)
        r["send_rate"] = (n - 1) / span_ts if n > 1 and span_ts > 0 else 0.0
        r["arr_rate"] = (n - 1) / span_arr if n > 1 and span_arr > 0 else 0.0
        why = []
        if sent_failed or sent_ok < count:
            why.append("%d/%d answered ok" % (sent_ok, count))
        if n < count:
            why.append("%d lost" % (count - n))
        if r["dup"]:
            why.append("%d duplicates" % r["dup"])
        if r["send_rate"] < 0.95 * rate:
            why.append("sender reached %.0f/s" % r["send_rate"])
            r["sender_limited"] = True
        if r["arr_rate"] < 0.95 * r["send_rate"]:
            why.append("arrivals %.0f/s" % r["arr_rate"])
        if st.get("p99_us", 0) >= PASS_P99_US:
            why.append("p99 %.0f ms" % r["p99_ms"])
        r["pass"] = not why
        r["why"] = ", ".join(why) + extra
        return r

    def print_step(self, label, r):
        cpu = ", gw %.1f" % r["gw_cpu_us"] if "gw_cpu_us" in r else ""
        pc = ", prosody %.1f" % r["prosody_cpu_us"] if "prosody_cpu_us" in r else ""
        sc = ", sipp %.1f" % r["sipp_cpu_us"] if "sipp_cpu_us" in r else ""
        self.say("  %-10s %6d/s x%6d %s: sent %.0f/s, recv %.0f/s, p50 %.1f ms, p99 %.1f ms;"
                 " CPU us/msg%s%s%s; host %.0f%%%s"
                 % (label, r["rate"], r["count"], "PASS" if r["pass"] else "FAIL",
                    r["send_rate"], r["arr_rate"], r["p50_ms"], r["p99_ms"],
                    cpu, pc, sc, r.get("host_pct", 0),
                    "" if r["pass"] else "\n      (" + r["why"] + ")"))

    # -- steps
    def step_sip_to_xmpp(self, transport, rate, dur=None):
        dur = dur or self.a.step_s
        run = self.next_run()
        count = max(200, int(rate * dur))
        g0, p0 = cpu_ticks(self.gw.pid), self.edge_cpu()
        rss0, drops0 = proc_status_kb(self.gw.pid, "VmRSS"), udp_rcvbuf_errors()
        h0, k0 = host_cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
        p, stat, log = self.run_sipp(transport, rate, count, run, dur)
        s = self.finish_sipp(p, stat, log, dur)
        h1, k1 = host_cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
        st = self.recv_alice.wait_done(run, count)
        g1, p1 = cpu_ticks(self.gw.pid), self.edge_cpu()
        rss1, drops1 = proc_status_kb(self.gw.pid, "VmRSS"), udp_rcvbuf_errors()
        extra = ""
        if s.get("retrans"):
            extra += ", %d SIPp retransmissions" % s["retrans"]
        if drops1 - drops0:
            extra += ", %d UDP datagrams dropped on full receive buffers (host)" % (
                drops1 - drops0)
        r = self.judge(rate, count, st, s.get("ok", 0), s.get("failed", 0), extra)
        if s.get("failed"):
            r["why"] += " (%s)" % sipp_failure_text(s, stat)
        r["retrans"] = s.get("retrans", 0)
        r["udp_drops"] = drops1 - drops0
        r["gw_cpu_us"] = (g1 - g0) / HZ / count * 1e6
        r["prosody_cpu_us"] = (p1 - p0) / HZ / count * 1e6
        r["rss_kb"] = rss1
        r["rss_growth_kb_per_msg"] = (rss1 - rss0) / count
        r["host_pct"] = host_busy_pct(h0, h1)
        r["sipp_cpu_us"] = (k1.ru_utime + k1.ru_stime - k0.ru_utime - k0.ru_stime) / count * 1e6
        time.sleep(0.3)
        return r

    def step_xmpp_to_sip(self, rate, dur=None):
        dur = dur or self.a.step_s
        run = self.next_run()
        count = max(200, int(rate * dur))
        g0, p0 = cpu_ticks(self.gw.pid), self.edge_cpu()
        rss0, drops0 = proc_status_kb(self.gw.pid, "VmRSS"), udp_rcvbuf_errors()
        h0 = host_cpu()
        sender = self.xmpp_send("bob@contoso.example", rate, count, run, dur)
        h1 = host_cpu()
        st = self.sink.wait_done(run, count)
        g1, p1 = cpu_ticks(self.gw.pid), self.edge_cpu()
        rss1, drops1 = proc_status_kb(self.gw.pid, "VmRSS"), udp_rcvbuf_errors()
        errs = sender.get("errors", 0)
        extra = ", %d error stanzas (%s)" % (errs, sender.get("cond", "")) if errs else ""
        if st.get("dup"):
            extra += " (duplicates: MESSAGE retransmitted by the gateway)"
        if drops1 - drops0:
            extra += ", %d UDP datagrams dropped on full receive buffers (host)" % (
                drops1 - drops0)
        r = self.judge(rate, count, st, sender.get("sent", 0) - errs, errs, extra)
        r["rss_growth_kb_per_msg"] = (rss1 - rss0) / count
        r["host_pct"] = host_busy_pct(h0, h1)
        r["gw_cpu_us"] = (g1 - g0) / HZ / count * 1e6
        r["prosody_cpu_us"] = (p1 - p0) / HZ / count * 1e6
        time.sleep(0.3)
        return r

    def step_prosody(self, rate, dur=None):
        dur = dur or self.a.step_s
        run = self.next_run()
        count = max(200, int(rate * dur))
        p0 = self.edge_cpu()
        h0 = host_cpu()
        sender = self.xmpp_send("carol@fabrikam.example", rate, count, run, dur)
        h1 = host_cpu()
        st = self.recv_carol.wait_done(run, count)
        p1 = self.edge_cpu()
        errs = sender.get("errors", 0)
        r = self.judge(rate, count, st, sender.get("sent", 0) - errs, errs)
        r["host_pct"] = host_busy_pct(h0, h1)
        r["prosody_cpu_us"] = (p1 - p0) / HZ / count * 1e6
        time.sleep(0.3)
        return r

    def xmpp_send(self, to, rate, count, run, dur):
        p = spawn([self.xb, "send", "--port", str(self.prosody.c2s_port), "--user", "alice",
                   "--to", to, "--rate", str(rate), "--count", str(count), "--run", str(run),
                   "--linger-ms", "1000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  text=True)
        try:
            out, err = p.communicate(timeout=dur + 60)
        except subprocess.TimeoutExpired:
            end_child(p)
            return {"sent": 0, "errors": 0, "cond": "sender timed out"}
        end_child(p)
        d = {}
        for kv in out.split():
            k, _, v = kv.partition("=")
            d[k] = v
        if p.returncode != 0:
            self.say("  ! sender exited %s: %s" % (p.returncode, err.strip()[:300]))
        return {"sent": int(d.get("sent", 0)), "errors": int(d.get("errors", 0)),
                "cond": d.get("cond", "")}

    # -- ladder
    def ladder(self, label, fn, reset=None):
        """Doubles the rate until a step fails, then bisects. After a failing step, `reset`
        (a fresh gateway) keeps the overload's leftovers out of the next step."""
        rate = self.a.start_rate
        best, fail, steps = None, None, []
        while rate <= self.a.max_rate:
            r = fn(rate)
            steps.append(r)
            self.print_step(label, r)
            if r["pass"]:
                best = r
                rate *= 2
            else:
                fail = r
                break
        for _ in range(self.a.bisect):
            if not (best and fail):
                break
            mid = int(round((best["rate"] + fail["rate"]) / 2.0, -2))
            if mid <= best["rate"] or mid >= fail["rate"]:
                break
            if reset and not steps[-1]["pass"]:
                reset()
            r = fn(mid)
            steps.append(r)
            self.print_step(label, r)
            if r["pass"]:
                best = r
            else:
                fail = r
        if reset and steps and not steps[-1]["pass"]:
            reset()
        if best is None:
            # Not even the first rate passed: try a low rate so the figures mean something.
            r = fn(max(100, self.a.start_rate // 10))
            steps.append(r)
            self.print_step(label, r)
            if r["pass"]:
                best = r
        return {"best": best, "fail": fail, "steps": steps}

    # -- phases
    def phase_prosody(self):
        self.say("\n== Reference: %s c2s -> c2s (alice -> carol), %s s steps"
                 % (self.a.edge, self.a.step_s))
        res = self.ladder(self.a.edge, self.step_prosody)
        self.results["prosody"] = res

    def phase_sip(self, transport):
        name = {"u1": "UDP", "t1": "TCP"}[transport]
        self.say("\n== SIP -> XMPP over %s (SIPp -> sipxmppd -> Prosody -> alice)" % name)
        self.hwm_kb = 0
        self.start_gateway("sip-" + name.lower())
        res = self.ladder("sip/" + name.lower(),
                          lambda rate: self.step_sip_to_xmpp(transport, rate),
                          reset=lambda: self.restart_gateway("sip-" + name.lower()))
        res["hwm_kb"] = max(self.hwm_kb, proc_status_kb(self.gw.pid, "VmHWM"))
        res["threads"] = proc_status_kb(self.gw.pid, "Threads")
        self.say("  peak RSS (VmHWM) %.1f MB" % (res["hwm_kb"] / 1024.0))
        self.results["sip_" + name.lower()] = res
        if self.a.profile and res["best"]:
            self.profile("sip-" + name.lower(),
                         lambda rate, dur: self.step_sip_to_xmpp(transport, rate, dur),
                         res["best"]["rate"])
        self.stop_gateway()

    def phase_xmpp(self, tcp=False):
        name = "TCP" if tcp else "UDP"
        key = "xmpp_sip_tcp" if tcp else "xmpp_sip"
        tag = "xmpp-" + name.lower()
        self.say("\n== XMPP -> SIP (alice -> Prosody -> sipxmppd -> %s SIP sink, 200 OK)" % name)
        self.hwm_kb = 0
        self.start_gateway(tag, proxy_tcp=tcp)
        res = self.ladder("x->sip/" + name.lower(), self.step_xmpp_to_sip,
                          reset=lambda: self.restart_gateway(tag, proxy_tcp=tcp))
        res["hwm_kb"] = max(self.hwm_kb, proc_status_kb(self.gw.pid, "VmHWM"))
        self.say("  peak RSS (VmHWM) %.1f MB" % (res["hwm_kb"] / 1024.0))
        self.results[key] = res
        if self.a.profile and res["best"]:
            self.profile(tag, lambda rate, dur: self.step_xmpp_to_sip(rate, dur),
                         res["best"]["rate"])
        self.stop_gateway()

    # Directions measured at fixed shares of the edge's own ceiling.
    DIRECTIONS = (("sip_udp", "SIP->XMPP UDP"), ("sip_tcp", "SIP->XMPP TCP"),
                  ("xmpp_sip", "XMPP->SIP UDP"), ("xmpp_sip_tcp", "XMPP->SIP TCP"))

    def direction_step(self, key):
        if key == "sip_udp":
            return lambda rate: self.step_sip_to_xmpp("u1", rate)
        if key == "sip_tcp":
            return lambda rate: self.step_sip_to_xmpp("t1", rate)
        return self.step_xmpp_to_sip

    def phase_ratios(self):
        """Each direction at 10 %, 50 % and 100 % of the edge's c2s->c2s ceiling, with the
        edge's own c2s->c2s cost measured at the same rates in the same run: the ratios mean
        the same on a fast or a slow machine."""
        ref = (self.results.get("prosody") or {}).get("best")
        if not ref:
            self.say("\n== ratios: no edge ceiling measured (phase prosody); skipped")
            return
        ceil = ref["rate"]
        levels = [(f, max(100, int(round(ceil * f, -2)))) for f in (0.1, 0.5, 1.0)]
        self.say("\n== Ratios at 10/50/100 %% of the edge's ceiling (%d/s)" % ceil)
        edge = {}
        for f, rate in levels:
            r = self.step_prosody(rate)
            self.print_step("edge", r)
            edge[f] = r
        out = {"ceil": ceil, "edge": edge, "dirs": {}}
        for key, name in self.DIRECTIONS:
            tcp_proxy = key == "xmpp_sip_tcp"
            self.start_gateway("ratio-" + key, proxy_tcp=tcp_proxy)
            steps = {}
            for i, (f, rate) in enumerate(levels):
                r = self.direction_step(key)(rate)
                self.print_step(key, r)
                steps[f] = r
                if not r["pass"]:
                    # A fresh gateway (and store: its own directory) after each failing step.
                    self.stop_gateway()
                    self.start_gateway("ratio-%s-r%d" % (key, i), proxy_tcp=tcp_proxy)
            self.stop_gateway()
            out["dirs"][key] = steps
        self.results["ratios"] = out

    def phase_burst(self):
        """RSS per XMPP->SIP message in flight, and RSS after the burst: the SIP sink is
        stopped (SIGSTOP) while N messages arrive, so all N are in flight at once; then it
        answers them all and the gateway idles."""
        n = 4000 if self.a.quick else 10000
        res = {}
        for tcp in (False, True):
            name = "TCP" if tcp else "UDP"
            self.say("\n== XMPP->SIP burst over %s: %d messages in flight" % (name, n))
            self.start_gateway("burst-" + name.lower(), proxy_tcp=tcp,
                               extra=["sip.max_in_flight=%d" % (n + 100)])
            warm = self.step_xmpp_to_sip(1000, 1.0)  # allocator and Sofia warm-up
            time.sleep(1.0)
            rss0 = proc_status_kb(self.gw.pid, "VmRSS")
            run = self.next_run()
            os.kill(self.sink.p.pid, signal.SIGSTOP)
            try:
                sender = self.xmpp_send("bob@contoso.example", 10000, n, run, n / 10000.0)
                time.sleep(0.3)
                rss1 = proc_status_kb(self.gw.pid, "VmRSS")
            finally:
                os.kill(self.sink.p.pid, signal.SIGCONT)
            st = self.sink.wait_done(run, n)
            time.sleep(3.0)
            rss2 = proc_status_kb(self.gw.pid, "VmRSS")
            r = {"n": n, "sent": sender.get("sent", 0), "errors": sender.get("errors", 0),
                 "arrived": st.get("uniq", 0), "rss0_kb": rss0, "rss1_kb": rss1,
                 "rss2_kb": rss2, "per_msg_kb": (rss1 - rss0) / float(n),
                 "warm_pass": warm["pass"]}
            self.say("  RSS %.1f MB before, %.1f MB with %d in flight (%.2f KB each), "
                     "%.1f MB 3 s after; %d of %d arrived, %d error stanzas"
                     % (rss0 / 1024.0, rss1 / 1024.0, n, r["per_msg_kb"], rss2 / 1024.0,
                        r["arrived"], n, r["errors"]))
            res[name] = r
            self.stop_gateway()
        self.results["burst"] = res

    def profile(self, tag, step, rate):
        """perf record on the gateway during a load step at 80 % of the sustained rate."""
        if not shutil.which("perf"):
            self.say("  (perf not installed: no profile)")
            return
        data = os.path.join(self.tmp, "perf-%s.data" % tag)
        rate = max(500, int(rate * 0.8))
        dur = 6.0
        rec = spawn(["perf", "record", "-q", "-F", "997", "-p", str(self.gw.pid), "-o", data],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            r = step(rate, dur)
        finally:
            try:
                os.kill(rec.pid, signal.SIGINT)
                rec.wait(timeout=20)
            except Exception:
                pass
            end_child(rec)
        self.say("  profile at %d/s (%s, gw %.1f us/msg): top functions of sipxmppd"
                 % (rate, "PASS" if r["pass"] else "FAIL", r.get("gw_cpu_us", 0)))
        try:
            rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                                  "--sort", "dso,symbol", "--percent-limit", "0.5"],
                                 capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            self.say("  (perf report timed out)")
            return
        top, by_dso = [], {}
        for line in rep.stdout.splitlines():
            m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(\S+)", line)
            if m:
                pct, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4)
                if sym.startswith("0x"):
                    sym = symbolize(dso, int(sym, 16))
                top.append((pct, dso, sym))
        try:
            drep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                                   "--sort", "dso"], capture_output=True, text=True,
                                  timeout=120)
            for line in drep.stdout.splitlines():
                m = re.match(r"\s+([\d.]+)%\s+(\S+)", line)
                if m:
                    by_dso[m.group(2)] = float(m.group(1))
        except subprocess.TimeoutExpired:
            pass
        shares = ", ".join("%s %.0f%%" % (d, v) for d, v in
                           sorted(by_dso.items(), key=lambda kv: -kv[1])[:6])
        self.results.setdefault("profiles", {})[tag] = {"rate": rate, "top": top[:10],
                                                        "dso": shares}
        self.say("    by object: " + shares)
        for pct, dso, sym in top[:10]:
            self.say("    %5.1f%%  %-26s %s" % (pct, dso[:26], sym[:80]))

    def phase_store(self):
        """The same SIP->XMPP TCP step with a large policy store (100k users, 1000 partners,
        100 policies) against an empty store."""
        base = self.results.get("sip_tcp", {}).get("best")
        if not base:
            return
        self.say("\n== Large store: 100000 users, 1000 partners, 100 policies "
                 "(SIP -> XMPP TCP at %d/s)" % base["rate"])
        t0 = time.monotonic()
        store_dir = os.path.join(self.tmp, "bigstore")
        os.makedirs(store_dir, exist_ok=True)
        store = os.path.join(store_dir, "sipxmpp.db")
        cfg = os.path.join(store_dir, "ctl.conf")
        with open(cfg, "w") as f:
            f.write("[gateway]\ndomains = contoso.example\nstore = %s\n[sip]\n"
                    "listen = sip:127.0.0.1:%d;transport=udp\noutbound_proxy = "
                    "sip:127.0.0.1:5060\n[edge]\nhost = 127.0.0.1\nport = %d\nsecret = x\n"
                    % (store, servers.free_port(), self.prosody.component_port))
        ctl = os.path.join(self.build, "sipxmppctl")

        def run_ctl(*argv, stdin=None):
            r = subprocess.run([ctl, "--config", cfg] + list(argv), input=stdin,
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise RuntimeError("sipxmppctl %s: %s" % (" ".join(argv[:3]), r.stderr[:300]))
        for i in range(100):
            run_ctl("policy", "new", "P%d" % i, "--xmpp", "--federation")
        lines = ["uri,site,policy"] + ["sip:u%d@contoso.example,site%d,P%d" % (i, i % 50, i % 100)
                                       for i in range(99999)]
        lines.append("sip:bob@contoso.example,site1,P1")
        run_ctl("user", "import", "-", stdin="\n".join(lines) + "\n")
        for i in range(999):
            run_ctl("partner", "new", "p%d.example" % i, "--type", "federated", "--sasl",
                    "optional")
        self.say("  store filled with sipxmppctl in %.1f s" % (time.monotonic() - t0))
        self.start_gateway("bigstore", store_from=store)
        r = self.step_sip_to_xmpp("t1", base["rate"])
        self.print_step("big store", r)
        self.results["bigstore"] = {"step": r, "base": base}
        self.stop_gateway()

    def phase_stall(self):
        tcp = self.results.get("sip_tcp", {})
        best = tcp.get("best")
        runs = []
        target = self.a.stall_rate
        note = ""
        # SIPp's own ceiling shows as a step offered at or above the stall load that the
        # sender could not reach.
        limited = [s for s in tcp.get("steps", [])
                   if s["rate"] >= target and s.get("sender_limited")]
        if limited:
            sender_max = max(s["send_rate"] for s in limited)
            if sender_max < 0.95 * target:
                note = ("SIPp reached at most %.0f/s over TCP here, so the stall load is %d/s"
                        % (sender_max, int(sender_max)))
                target = int(sender_max)
        runs.append(("offered %d/s" % target, target, note))
        if best and best["rate"] < 0.95 * target and not self.a.quick:
            runs.append(("at 80%% of sustained (%d/s)" % int(best["rate"] * 0.8),
                         int(best["rate"] * 0.8),
                         "the pipeline sustains %d/s, below the stall load; recovery is "
                         "measured here too" % best["rate"]))
        self.results["stall"] = []
        for label, rate, note in runs:
            self.say("\n== Stall: SIGSTOP sipxmppd for 1 s under SIP -> XMPP TCP, %s" % label)
            if note:
                self.say("  note: " + note)
            self.start_gateway("stall-%d" % rate)
            res = self.stall_once(rate)
            res["label"] = label
            res["note"] = note
            self.results["stall"].append(res)
            self.stop_gateway()

    def stall_once(self, rate):
        pre, stop_s, post = 2.0, 1.0, 5.0 if self.a.quick else 7.0
        dur = pre + stop_s + post
        run = self.next_run()
        count = int(rate * dur)
        g0 = cpu_ticks(self.gw.pid)
        p, stat, log = self.run_sipp("t1", rate, count, run, dur)
        time.sleep(pre)
        pid = self.gw.pid
        t_stop = time.time()
        os.kill(pid, signal.SIGSTOP)
        time.sleep(stop_s)
        t_cont = time.time()
        os.kill(pid, signal.SIGCONT)
        rss_peak = 0
        deadline = time.monotonic() + post + 40
        while p.poll() is None and time.monotonic() < deadline:
            rss_peak = max(rss_peak, proc_status_kb(pid, "VmRSS"))
            time.sleep(0.1)
        s = self.finish_sipp(p, stat, log, dur)
        st = self.recv_alice.wait_done(run, count)
        g1 = cpu_ticks(pid)
        hwm = proc_status_kb(pid, "VmHWM")
        rows = self.recv_alice.dump(run, os.path.join(self.tmp, "stall-%d.txt" % run))
        rows.sort(key=lambda x: x[1])
        res = {"rate": rate, "count": count, "ok": s.get("ok", 0), "failed": s.get("failed", 0),
               "arrived": st.get("uniq", 0), "hwm_kb": hwm, "rss_peak_kb": rss_peak,
               "gw_cpu_s": (g1 - g0) / HZ, "sipp_rc": s.get("rc")}
        if res["failed"] or res["ok"] < count:
            res["failure"] = sipp_failure_text(s, stat)
        pre_lat = sorted(l for (_, a, l) in rows if a / 1e6 < t_stop)
        base_p99 = pre_lat[int((len(pre_lat) - 1) * 0.99)] if pre_lat else 0
        thr = max(50000, 3 * base_p99)
        late = [a for (_, a, l) in rows if a / 1e6 >= t_cont and l > thr]
        last_arrival = rows[-1][1] if rows else 0
        res["base_p99_ms"] = base_p99 / 1000.0
        res["thr_ms"] = thr / 1000.0
        res["max_lat_ms"] = max((l for (_, _, l) in rows), default=0) / 1000.0
        # Keeping up again: after the last message that arrived later than the threshold,
        # every arrival is within it. If the last late arrival is at the very end of the
        # run, the backlog never drained.
        # A message answered with an error (the gateway's 503 while the link is busy) was
        # refused, not lost; lost is what neither arrived nor got an error.
        lost = count - res["arrived"] - res["failed"]
        res["refused"] = res["failed"]
        if lost > 0:
            res["recovery_s"] = None
            res["recovery_note"] = "%d of %d messages lost, %d refused (%s)" % (
                lost, count, res["failed"], res.get("failure", ""))
        elif not late:
            res["recovery_s"] = 0.0
        else:
            last_late = max(late)
            tail_ok = [a for (_, a, l) in rows if a > last_late]
            if len(tail_ok) < rate * 0.5:
                res["recovery_s"] = None
                res["recovery_note"] = ("still behind at the end of the run (%.1f s after "
                                        "SIGCONT)" % (last_arrival / 1e6 - t_cont))
            else:
                res["recovery_s"] = last_late / 1e6 - t_cont
        # Throughput after SIGCONT in 250 ms bins, for the log.
        bins = {}
        for (_, a, _) in rows:
            t = a / 1e6 - t_cont
            if -0.5 <= t < 4:
                b = int((t + 0.5) // 0.25)
                bins[b] = bins.get(b, 0) + 1
        res["bins"] = [(b * 0.25 - 0.5, bins.get(b, 0) * 4) for b in range(0, 18)]
        self.say("  sent %d, 202 %d, failed %d, arrived %d; gateway CPU %.2f s for the run"
                 % (count, res["ok"], res["failed"], res["arrived"], res["gw_cpu_s"]))
        if res.get("failure"):
            self.say("  " + res["failure"])
        self.say("  pre-stall p99 %.1f ms; 'keeping up' = latency <= %.0f ms; max latency "
                 "%.0f ms" % (res["base_p99_ms"], res["thr_ms"], res["max_lat_ms"]))
        self.say("  arrivals/s after SIGCONT (250 ms bins from -0.5 s): "
                 + " ".join("%d" % v for (_, v) in res["bins"]))
        rec = ("%.2f s" % res["recovery_s"]) if res["recovery_s"] is not None else \
            res.get("recovery_note", "n/a")
        self.say("  peak RSS (VmHWM) %.1f MB, recovery %s, %d refused with an error, %d lost"
                 % (hwm / 1024.0, rec, res["refused"], max(0, lost)))
        return res

    def phase_policy_bench(self):
        exe = self.a.policy_bench
        if not exe or not os.access(exe, os.X_OK):
            self.say("\n== policy_bench: not built (no bench/policy_bench.c or build failed)")
            return
        self.say("\n== policy_bench (%s)" % exe)
        argv = [exe] + (self.a.policy_args.split() if self.a.policy_args else [])
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                               cwd=self.tmp)
            out = (r.stdout + r.stderr).strip()
            if r.returncode != 0:
                out += "\n(exit %d)" % r.returncode
        except subprocess.TimeoutExpired:
            out = "(timed out after 300 s)"
        for line in out.splitlines():
            self.say("  " + line)
        self.results["policy_bench"] = out

    # -- final table
    def table(self):
        R = self.results
        L = []
        L.append("sipxmppd benchmark  %s  host %s, %d CPUs, %s mode, %s s steps"
                 % (time.strftime("%Y-%m-%d %H:%M:%S"), os.uname().nodename,
                    os.cpu_count() or 0, "quick" if self.a.quick else "full", self.a.step_s))
        L.append("sipxmppd %s  (gateway log_level = warn; edge %s)"
                 % (os.path.join(self.build, "sipxmppd"), self.a.edge))
        L.append("")
        L.append("%-22s %12s %9s %9s %11s %11s %10s %8s" % (
            "path", "sustained/s", "p50 ms", "p99 ms", "gw CPU us", "edge us", "gw RSS MB",
            "host"))
        ref = (R.get("prosody") or {}).get("best")

        def row(name, res, hwm=None):
            if not res:
                return
            b = res.get("best")
            if not b:
                L.append("%-22s %12s" % (name, "none passed"))
                return
            ceiling = ""
            f = res.get("fail")
            if f is None:
                ceiling = " (ladder top)"
            elif f.get("sender_limited"):
                ceiling = " (sender-limited)"
            L.append("%-22s %12d %9.1f %9.1f %11s %11s %10s %7.0f%%%s" % (
                name, b["rate"], b["p50_ms"], b["p99_ms"],
                "%.1f" % b["gw_cpu_us"] if "gw_cpu_us" in b else "-",
                "%.1f" % b["prosody_cpu_us"] if "prosody_cpu_us" in b else "-",
                "%.1f" % (hwm / 1024.0) if hwm else "-", b.get("host_pct", 0), ceiling))
        row("%s c2s->c2s (ref)" % self.a.edge, R.get("prosody"))
        row("SIP->XMPP UDP", R.get("sip_udp"), (R.get("sip_udp") or {}).get("hwm_kb"))
        row("SIP->XMPP TCP", R.get("sip_tcp"), (R.get("sip_tcp") or {}).get("hwm_kb"))
        row("XMPP->SIP UDP", R.get("xmpp_sip"), (R.get("xmpp_sip") or {}).get("hwm_kb"))
        row("XMPP->SIP TCP", R.get("xmpp_sip_tcp"),
            (R.get("xmpp_sip_tcp") or {}).get("hwm_kb"))
        L.append("")
        L.append("sustained = highest offered rate with 0 loss that the path kept up with "
                 "(p99 < 500 ms); CPU per message at that rate; host = busy share of the")
        L.append("whole machine during that step (%d CPUs = %d %%)."
                 % (os.cpu_count() or 1, 100 * (os.cpu_count() or 1)))
        L.append("gw RSS = peak VmHWM of the gateway(s) in that phase (a fresh gateway after "
                 "each failing step). Prosody: %s."
                 % ("default settings" if self.a.prosody_nagle else
                    "network_settings nagle = false"))
        u = (R.get("sip_udp") or {}).get("best")
        if u and u.get("rss_growth_kb_per_msg", 0) > 0.5:
            L.append("SIP->XMPP UDP: gateway RSS grew %.1f KB per message at %d/s "
                     "(server transactions kept after the 202)."
                     % (u["rss_growth_kb_per_msg"], u["rate"]))
        x = (R.get("xmpp_sip") or {}).get("best")
        if x and x.get("rss_growth_kb_per_msg", 0) > 0.5:
            L.append("XMPP->SIP: gateway RSS grew %.1f KB per message at %d/s."
                     % (x["rss_growth_kb_per_msg"], x["rate"]))
        for key, name in (("sip_udp", "SIP->XMPP UDP"), ("sip_tcp", "SIP->XMPP TCP"),
                          ("xmpp_sip", "XMPP->SIP UDP"), ("xmpp_sip_tcp", "XMPP->SIP TCP")):
            f = (R.get(key) or {}).get("fail")
            if f:
                L.append("  %s first failing step: %d/s (%s)" % (name, f["rate"], f["why"]))
        f = (R.get("prosody") or {}).get("fail")
        if f:
            L.append("  %s reference first failing step: %d/s (%s)" % (self.a.edge, f["rate"], f["why"]))
        L.extend(self.ratio_lines())
        L.append("")
        L.append("Targets")

        def verdict(ok):
            return "PASS" if ok else "MISS"
        tcp_b = (R.get("sip_tcp") or {}).get("best")
        udp_b = (R.get("sip_udp") or {}).get("best")
        if tcp_b:
            L.append("  %-52s %8.1f us   %s" % ("gateway CPU per message, SIP->XMPP TCP <= 10 us",
                                               tcp_b["gw_cpu_us"],
                                               verdict(tcp_b["gw_cpu_us"] <= 10)))
        if udp_b:
            L.append("  %-52s %8.1f us   %s" % ("gateway CPU per message, SIP->XMPP UDP <= 20 us",
                                               udp_b["gw_cpu_us"],
                                               verdict(udp_b["gw_cpu_us"] <= 20)))
        xb = (R.get("xmpp_sip") or {}).get("best")
        if xb:
            L.append("  %-52s %8.1f us   (no target; for comparison)"
                     % ("gateway CPU per message, XMPP->SIP", xb["gw_cpu_us"]))
        if ref:
            for key, name in (("sip_tcp", "TCP"), ("sip_udp", "UDP")):
                b = (R.get(key) or {}).get("best")
                if b:
                    pct = 100.0 * b["rate"] / ref["rate"]
                    L.append("  %-52s %8.1f %%    %s" % (
                        "SIP->XMPP %s >= 90 %% of %s c2s->c2s (%d/s)" % (name, self.a.edge, ref["rate"]),
                        pct, verdict(pct >= 90)))
        for s in R.get("stall") or []:
            L.append("  stall %s:" % s["label"])
            L.append("  %-52s %8.1f MB   %s" % ("  peak RSS (VmHWM) <= 256 MB",
                                               s["hwm_kb"] / 1024.0,
                                               verdict(s["hwm_kb"] <= 256 * 1024)))
            if s["recovery_s"] is None:
                L.append("  %-52s %11s   MISS  (%s)" % ("  recovery <= 2 s", "never",
                                                       s.get("recovery_note", "")))
            else:
                L.append("  %-52s %8.2f s    %s" % ("  recovery <= 2 s", s["recovery_s"],
                                                   verdict(s["recovery_s"] <= 2.0)))
            L.append("  %-52s %d of %d answered 202, %d arrived, %d refused (503), %d lost"
                     % ("  messages", s["ok"], s["count"], s["arrived"], s.get("refused", 0),
                        max(0, s["count"] - s["arrived"] - s.get("refused", 0))))
            if s.get("note"):
                L.append("    note: " + s["note"])
        bs = R.get("bigstore")
        if bs:
            b, base = bs["step"], bs["base"]
            L.append("  %-52s %s at %d/s, %.1f us/msg (empty store %.1f us/msg)"
                     % ("large store (100k users/1000 partners/100 pol.)",
                        "PASS" if b["pass"] else "FAIL (" + b["why"] + ")", b["rate"],
                        b["gw_cpu_us"], base["gw_cpu_us"]))
        pb = R.get("policy_bench")
        if pb:
            L.append("")
            L.append("policy_bench")
            L.extend("  " + l for l in pb.splitlines())
        profs = R.get("profiles") or {}
        for tag, prof in profs.items():
            L.append("")
            L.append("perf profile of sipxmppd, %s at %d/s (self %%, top 10)"
                     % (tag, prof["rate"]))
            L.append("  by object: " + prof["dso"])
            for pct, dso, sym in prof["top"]:
                L.append("  %5.1f%%  %-26s %s" % (pct, dso[:26], sym[:80]))
        L.append("")
        L.append("total bench time %.0f s" % self.elapsed())
        return L

    def ratio_lines(self):
        """Per direction: gateway CPU per message / the edge's CPU per stanza at the same
        rate, at 10/50/100 % of the edge's ceiling; clean rate / the edge's ceiling; RSS."""
        R = self.results
        L = []
        rt = R.get("ratios")
        if rt:
            ceil = rt["ceil"]
            L.append("")
            L.append("Against the edge (%s c2s->c2s ceiling %d/s, this run): gateway CPU "
                     "per message / edge CPU per stanza at the same rate" % (self.a.edge, ceil))
            L.append("%-16s %22s %22s %22s %12s %12s" % (
                "direction", "10 % ceiling", "50 % ceiling", "100 % ceiling",
                "clean/ceil", "p99 @50% ms"))
            e = rt["edge"]
            L.append("%-16s %22s %22s %22s %12s %12s" % (
                "edge c2s (us)", *["%.1f us%s" % (e[f]["prosody_cpu_us"],
                                                 "" if e[f]["pass"] else " FAIL")
                                   for f in (0.1, 0.5, 1.0)], "1.00", "%.1f" % e[0.5]["p99_ms"]))
            for key, name in self.DIRECTIONS:
                d = rt["dirs"].get(key)
                if not d:
                    continue
                cells = []
                for f in (0.1, 0.5, 1.0):
                    r = d[f]
                    cells.append("%.2fx (%.1f us)%s" % (
                        r["gw_cpu_us"] / max(e[f]["prosody_cpu_us"], 0.001), r["gw_cpu_us"],
                        "" if r["pass"] else " FAIL"))
                b = (R.get(key) or {}).get("best")
                clean = "%.2f" % (b["rate"] / float(ceil)) if b else "-"
                L.append("%-16s %22s %22s %22s %12s %12s" % (
                    name, *cells, clean, "%.1f" % d[0.5]["p99_ms"]))
            L.append("clean/ceil = sustained rate of the direction's own ladder / the edge's "
                     "c2s->c2s ceiling (FAIL = that step lost messages or fell behind).")
        for name, b in sorted((R.get("burst") or {}).items()):
            L.append("XMPP->SIP %s burst: %d in flight, RSS +%.2f KB per message in flight "
                     "(%.1f -> %.1f MB), %.1f MB 3 s after (%+.1f MB against before); "
                     "%d of %d arrived" % (name, b["n"], b["per_msg_kb"], b["rss0_kb"] / 1024.0,
                                            b["rss1_kb"] / 1024.0, b["rss2_kb"] / 1024.0,
                                            (b["rss2_kb"] - b["rss0_kb"]) / 1024.0,
                                            b["arrived"], b["n"]))
        return L

    def run(self):
        a = self.a
        self.say("sipxmppd benchmark: %s mode, temp dir %s" % ("quick" if a.quick else "full",
                                                                 self.tmp))
        self.start_prosody()
        phases = a.phases.split(",")
        if "prosody" in phases:
            self.phase_prosody()
        if "udp" in phases:
            self.phase_sip("u1")
        if "tcp" in phases:
            self.phase_sip("t1")
        if "xmpp" in phases:
            self.phase_xmpp()
        if "xmpptcp" in phases:
            self.phase_xmpp(tcp=True)
        if "ratios" in phases:
            self.phase_ratios()
        if "burst" in phases:
            self.phase_burst()
        if "stall" in phases:
            self.phase_stall()
        if "store" in phases and not a.quick:
            self.phase_store()
        if "policy" in phases:
            self.phase_policy_bench()
        lines = self.table()
        self.say("\n" + "=" * 78)
        for l in lines:
            self.say(l)
        if a.results:
            with open(a.results, "w") as f:
                f.write("\n".join(lines) + "\n")
            self.say("(written to %s)" % a.results)


_symtabs = {}


def symbolize(dso, addr):
    """For a stripped library: the nearest exported symbol below `addr` (a file offset as
    perf prints it), as "sym+0xOFF"; static functions show as an offset from the exported
    function before them."""
    if dso not in _symtabs:
        tab = []
        path = None
        for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib",
                  "/lib/x86_64-linux-gnu"):
            if os.path.exists(os.path.join(d, dso)):
                path = os.path.join(d, dso)
                break
        if path:
            try:
                out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True,
                                     text=True, timeout=30).stdout
                for line in out.splitlines():
                    f = line.split()
                    if len(f) == 3 and f[1] in "TtWw":
                        tab.append((int(f[0], 16), f[2].split("@")[0]))
            except (OSError, subprocess.TimeoutExpired, ValueError):
                pass
        tab.sort()
        _symtabs[dso] = tab
    tab = _symtabs[dso]
    i = bisect.bisect_right(tab, (addr, "\xff")) - 1
    if i < 0:
        return "0x%x" % addr
    return "0x%x (%s+0x%x)" % (addr, tab[i][1], addr - tab[i][0])


def stop_gateway(g):
    try:
        if g.proc and g.proc.poll() is None:
            os.kill(g.proc.pid, signal.SIGCONT)
        rc = g.stop(grace=10, check=False)
    except Exception:
        rc = None
    if g in _gateways:
        _gateways.remove(g)
    return rc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--xmppbench", required=True)
    ap.add_argument("--policy-bench", default="")
    ap.add_argument("--policy-args", default="")
    ap.add_argument("--results", default="")
    ap.add_argument("--phases", default="prosody,udp,tcp,xmpp,xmpptcp,ratios,burst,stall,store,policy")
    ap.add_argument("--step-s", type=float, default=None)
    ap.add_argument("--start-rate", type=int, default=2000)
    ap.add_argument("--max-rate", type=int, default=64000)
    ap.add_argument("--bisect", type=int, default=None)
    ap.add_argument("--stall-rate", type=int, default=20000)
    ap.add_argument("--profile", dest="profile", action="store_true", default=None)
    ap.add_argument("--no-profile", dest="profile", action="store_false")
    ap.add_argument("--gw-set", action="append",
                    help="extra gateway config, SECTION.KEY=VALUE (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--edge", choices=("prosody", "ejabberd"), default="prosody",
                    help="the edge server (ejabberd: the gateway's own ceiling shows)")
    ap.add_argument("--prosody-nagle", action="store_true",
                    help="leave Nagle on in Prosody (its default)")
    a = ap.parse_args()
    global KEEP_TMP
    KEEP_TMP = a.keep
    if a.step_s is None:
        a.step_s = 2.0 if a.quick else 4.0
    if a.bisect is None:
        a.bisect = 1 if a.quick else 2
    if a.profile is None:
        a.profile = not a.quick
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    b = Bench(a)
    rc = 0
    try:
        b.run()
    except KeyboardInterrupt as e:
        print("\ninterrupted (%s)" % e, flush=True)
        rc = 130
    except Exception as e:
        import traceback
        traceback.print_exc()
        print("bench failed: %s" % e, flush=True)
        rc = 1
    finally:
        for c in (b.recv_alice, b.recv_carol, b.sink):
            if c:
                c.close()
        cleanup()
        if not a.keep and rc == 0:
            shutil.rmtree(b.tmp, ignore_errors=True)
        elif rc:
            print("logs kept in %s" % b.tmp, flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
