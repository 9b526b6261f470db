"""Scale-out and failover (issue 11): two and three sipxmppd for contoso.example connected
as the same component to one ejabberd, Kamailio spreading SIP requests over them with its
dispatcher module, one shared PostgreSQL store on a private cluster. The same IM checks
with one instance on SQLite.

Asserted: IM both ways spread over the instances; an error stanza for a message one
instance sent, arriving at another, still reaches the SIP sender; a sipxmppctl change
reaches every instance; `sipxmppctl status` lists the instances; kill -9 of one instance
under steady load both ways loses no message answered 2xx and leaves no SIP request
unanswered; the killed instance restarts and rejoins.
"""

import json
import os
import re
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import ejabberd  # noqa: E402
import servers  # noqa: E402
from conftest import need_gateway, scale_fixture  # noqa: E402
from scale import EXTERNAL, INTERNAL, Clients  # noqa: E402

pytestmark = pytest.mark.skipif(not ejabberd.available(), reason="ejabberd is not installed")


def ctl(gw, *args):
    return subprocess.run([os.path.join(servers.build_dir_from_env(), "sipxmppctl"),
                           "--config", gw.cfg_path] + list(args),
                          capture_output=True, text=True, timeout=60)


def counter(gw, direction, result):
    st, text, _ = gw.metrics()
    assert st == 200
    m = re.search(r'sipxmpp_messages_total\{direction="%s",result="%s"\} (\d+)'
                  % (direction, result), text)
    return int(m.group(1)) if m else 0


def settled(fn, ok, timeout=5.0):
    """fn() once ok(value) holds (the SIP 200s behind the last requests a client saw may
    still be on their way to the gateways), or its last value after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if ok(v) or time.monotonic() > deadline:
            return v
        time.sleep(0.1)


@pytest.fixture
def stack(request):
    need_gateway()
    n, store = request.param[:2]
    yield from scale_fixture("sx-scale-", Clients, n, store=store,
                             cluster=len(request.param) > 2)


def im_both_ways(st, cl, count):
    """count messages each way; returns (bob, alice). Every one 202 / delivered."""
    bob, alice = cl.ua("bob"), cl.xmpp("alice")
    tag = "%x" % int(time.time() * 1000)
    for i in range(count):
        r = bob.send_message("sip:alice@%s" % EXTERNAL, "s2x %s %d" % (tag, i), timeout=15)
        assert r.status == 202, (i, r.status, r.reason)
    for i in range(count):
        alice.wait_message(lambda m, i=i: m.body == "s2x %s %d" % (tag, i), timeout=10)
    for i in range(count):
        alice.send_message("bob@%s" % INTERNAL, "x2s %s %d" % (tag, i))
    for i in range(count):
        bob.wait_request(lambda r, i=i: r.body_text() == "x2s %s %d" % (tag, i),
                         timeout=10, method="MESSAGE")
    return bob, alice


@pytest.mark.parametrize("stack", [(2, "pg")], indirect=True, ids=["2-instances-pg"])
def test_im_spread_errors_cross_instances_and_status(stack):
    st, cl = stack
    bob, alice = im_both_ways(st, cl, 24)
    s2x = [counter(gw, "sip_to_xmpp", "accepted") for gw in st.gws]
    x2s = settled(lambda: [counter(gw, "xmpp_to_sip", "delivered") for gw in st.gws],
                  lambda v: sum(v) == 24)
    assert sum(x2s) == 24 and all(s2x), "Kamailio spreads SIP requests: %s" % s2x
    assert all(x2s), "ejabberd spreads stanzas: %s" % x2s

    # Errors for messages to a user ejabberd does not have come back over any instance's
    # stream: every SIP sender is told, whichever instance sent the message.
    n = 20
    cids = ["err-%d-%x@127.0.0.1" % (i, int(time.time() * 1e6)) for i in range(n)]
    for cid in cids:
        r = bob.send_message("sip:nobody@%s" % EXTERNAL, "to nobody", call_id=cid, timeout=15)
        assert r.status == 202, (r.status, r.reason)
    for _ in range(n):
        bob.wait_request(lambda r: "nobody@%s was not delivered" % EXTERNAL in r.body_text(),
                         timeout=15, method="MESSAGE")
    # which instance sent each message, which one handled its error (log lines may trail
    # the SIP answers by a moment)
    deadline = time.monotonic() + 10
    while True:
        sent_by, failed_at = {}, {}
        for idx, gw in enumerate(st.gws):
            log = gw.log_text()
            for cid in cids:
                if re.search(r"msg: sip->xmpp Call-ID %s .* 202 accepted" % re.escape(cid), log):
                    sent_by[cid] = idx
                if re.search(r"sip->xmpp failed: id \S+ Call-ID %s " % re.escape(cid), log):
                    failed_at[cid] = idx
        if (len(sent_by) == n and len(failed_at) == n) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(sent_by) == n and len(failed_at) == n, (
        [c for c in cids if c not in sent_by], [c for c in cids if c not in failed_at])
    cross = [c for c in cids if sent_by[c] != failed_at[c]]
    assert cross, "no error stanza was routed to the other instance (ejabberd routes at random)"

    # A change made with sipxmppctl reaches every instance (the change counter is polled).
    def generation(gw):
        doc = json.loads(servers.http_get(gw.base_url + "/status")[1] or b"{}")
        return doc.get("store", {}).get("generation", -1)

    before = max(generation(gw) for gw in st.gws)
    r = ctl(st.gws[0], "partner", "new", "late.example")
    assert r.returncode == 0, r.stderr
    t0 = time.monotonic()
    seen = set()
    while time.monotonic() - t0 < 5 and len(seen) < len(st.gws):
        seen |= {i for i, gw in enumerate(st.gws) if generation(gw) > before}
        time.sleep(0.05)
    took = time.monotonic() - t0
    assert len(seen) == len(st.gws), "change not applied everywhere after %.1f s" % took
    sys.stderr.write("\nsipxmppctl change applied on every instance after %.2f s\n" % took)

    # sipxmppctl status lists both instances from the store, alive.
    r = ctl(st.gws[1], "status", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    ids = sorted(i["id"] for i in doc["instances"] if i["alive"])
    assert ids == ["gw1", "gw2"], doc["instances"]
    assert doc["store"]["instance"] == "gw2"
    assert "sx:***@" not in doc["store"]["path"] and "postgresql://" in doc["store"]["path"]
    r = ctl(st.gws[0], "status")
    assert re.search(r"instances 2 in the store\n\s+gw1 on .*alive\n\s+gw2 on .*alive", r.stdout), \
        r.stdout


@pytest.mark.parametrize("stack", [(1, "sqlite")], indirect=True, ids=["1-instance-sqlite"])
def test_single_instance_on_sqlite(stack):
    st, cl = stack
    bob, alice = im_both_ways(st, cl, 5)
    r = bob.send_message("sip:nobody@%s" % EXTERNAL, "to nobody", timeout=15)
    assert r.status == 202
    bob.wait_request(lambda r: "was not delivered" in r.body_text(), timeout=15,
                     method="MESSAGE")
    r = ctl(st.gws[0], "status", "--json")
    doc = json.loads(r.stdout)
    assert [i["id"] for i in doc["instances"]] == ["gw1"]


class Load:
    """Steady IM both ways: SIP senders (one thread each, a MESSAGE every `gap` s) and one
    XMPP sender. Records every SIP answer and what each side received."""

    def __init__(self, st, cl, gap=0.1):
        self.gap = gap
        self.stop_ev = threading.Event()
        self.sip_results = {}  # body -> final status, or "timeout"
        self.xmpp_sent = []
        self.lock = threading.Lock()
        self.senders = [cl.ua("bob"), cl.ua("eve")]
        self.sip_rcpt = cl.ua("sam")
        self.alice = cl.xmpp("alice")
        self.carol = cl.xmpp("carol")
        self.threads = [threading.Thread(target=self._sip, args=(ua, i), daemon=True)
                        for i, ua in enumerate(self.senders)]
        self.threads.append(threading.Thread(target=self._xmpp, daemon=True))

    def _sip(self, ua, k):
        i = 0
        while not self.stop_ev.is_set():
            body = "load s%d-%d" % (k, i)
            try:
                r = ua.send_message("sip:alice@%s" % EXTERNAL, body, timeout=20)
                res = r.status
            except TimeoutError:
                res = "timeout"
            with self.lock:
                self.sip_results[body] = res
            i += 1
            time.sleep(self.gap)

    def _xmpp(self):
        i = 0
        while not self.stop_ev.is_set():
            body = "load x-%d" % i
            self.carol.send_message("sam@%s" % INTERNAL, body, id="lx%d" % i)
            with self.lock:
                self.xmpp_sent.append(body)
            i += 1
            time.sleep(self.gap)

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(timeout=30)


@pytest.mark.parametrize("stack", [(3, "pg")], indirect=True, ids=["3-instances-pg"])
def test_kill_one_instance_under_load(stack):
    st, cl = stack
    load = Load(st, cl)
    load.start()
    time.sleep(3)
    victim = st.gws[1]
    t_kill = time.monotonic()
    victim.kill()
    time.sleep(6)
    # restart: it registers again and takes traffic
    st.start_gateway(1)
    rejoined = time.monotonic() - t_kill
    time.sleep(4)
    load.finish()
    time.sleep(3)  # let the last messages arrive

    results = dict(load.sip_results)
    assert len(results) > 50, "the load ran (%d SIP messages)" % len(results)
    unanswered = [b for b, s in results.items() if s == "timeout"]
    assert not unanswered, "SIP requests without a final answer: %s" % unanswered
    got_xmpp = {m.body for m in load.alice.all_messages(lambda m: m.body and m.body.startswith("load s"))}
    ok = [b for b, s in results.items() if 200 <= s < 300]
    lost = [b for b in ok if b not in got_xmpp]
    assert not lost, "answered 2xx but not delivered: %s" % lost
    failed = [b for b, s in results.items() if not 200 <= s < 300]

    got_sip = {r.body_text() for r in load.sip_rcpt.requests(method="MESSAGE")}
    errors = {m.id for m in load.carol.all_messages(lambda m: m.type == "error")}
    x_lost = [b for i, b in enumerate(load.xmpp_sent)
              if b not in got_sip and "lx%d" % i not in errors]
    # XEP-0114 has no acknowledgement: stanzas ejabberd had written into the killed
    # instance's socket but it had not read yet are lost without an error (at most what
    # one instance receives in a moment at this rate).
    assert len(x_lost) <= 2, "XMPP->SIP lost: %s" % x_lost

    # the restarted instance took SIP traffic again and is alive in the store
    assert counter(st.gws[1], "sip_to_xmpp", "accepted") > 0, "restarted instance rejoined"
    doc = json.loads(ctl(st.gws[0], "status", "--json").stdout)
    alive = sorted(i["id"] for i in doc["instances"] if i["alive"])
    assert alive == ["gw1", "gw2", "gw3"], doc["instances"]
    sys.stderr.write("\nkill -9 under load: %d SIP->XMPP (%d failed, answered), %d XMPP->SIP "
                     "(%d lost in the killed instance), restarted after %.1f s\n"
                     % (len(results), len(failed), len(load.xmpp_sent), len(x_lost), rejoined))


@pytest.mark.parametrize("stack", [(2, "pg", "cluster")], indirect=True,
                         ids=["2-instances-2-node-ejabberd-cluster"])
def test_two_node_ejabberd_cluster(stack):
    """gw1 connects to node 1, gw2 to node 2 of an ejabberd cluster (join_cluster). Each node
    routes to its local component connection first; when gw1 dies, node 1 routes to gw2."""
    st, cl = stack
    bob = cl.ua("bob")
    alice, carol = cl.xmpp("alice", node=1), cl.xmpp("carol", node=2)
    for i in range(8):
        for who in ("alice", "carol"):
            r = bob.send_message("sip:%s@%s" % (who, EXTERNAL), "c s2x %s %d" % (who, i),
                                 timeout=15)
            assert r.status == 202, (r.status, r.reason)
    for i in range(8):
        alice.wait_message(lambda m, i=i: m.body == "c s2x alice %d" % i, timeout=10)
        carol.wait_message(lambda m, i=i: m.body == "c s2x carol %d" % i, timeout=10)
    assert all(counter(gw, "sip_to_xmpp", "accepted") for gw in st.gws)

    def x2s(tag, n=6):
        for i in range(n):
            alice.send_message("bob@%s" % INTERNAL, "%s alice %d" % (tag, i))
            carol.send_message("bob@%s" % INTERNAL, "%s carol %d" % (tag, i))
        for i in range(n):
            for who in ("alice", "carol"):
                bob.wait_request(lambda r, w=who, i=i: r.body_text() == "%s %s %d" % (tag, w, i),
                                 timeout=10, method="MESSAGE")

    x2s("c1")
    d = settled(lambda: [counter(gw, "xmpp_to_sip", "delivered") for gw in st.gws],
                lambda v: v == [6, 6])
    assert d == [6, 6], "each node routes to its local instance first: %s" % d
    # an error for a message sent by gw2 through node 2 reaches the SIP sender
    r = bob.send_message("sip:nobody@%s" % EXTERNAL, "to nobody", timeout=15)
    assert r.status == 202
    bob.wait_request(lambda r: "was not delivered" in r.body_text(), timeout=15,
                     method="MESSAGE")

    st.gws[0].kill()
    time.sleep(1)
    x2s("c2")  # node 1 has no local connection left: it routes over the cluster to gw2
    d = settled(lambda: counter(st.gws[1], "xmpp_to_sip", "delivered"), lambda v: v == 18)
    assert d == 6 + 12, d
    st.start_gateway(0)
    x2s("c3")
    d = settled(lambda: counter(st.gws[0], "xmpp_to_sip", "delivered"), lambda v: v == 6)
    assert d == 6, "gw1 is node 1's again: %s" % d
