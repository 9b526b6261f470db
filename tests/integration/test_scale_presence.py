"""Presence across instances (issue 11 item 3): two sipxmppd for contoso.example behind
ejabberd (which hands each stanza to either connection at random), one shared PostgreSQL
store on a private cluster, and one Kamailio that is both the dispatcher in front of the
instances and the presence server of contoso.example (PUBLISH/SUBSCRIBE for its users
handled there, requests for partner domains dispatched to the gateways).

Asserted:
- each SIP user with XMPP watchers has exactly one fan-out subscription across the two
  instances (Kamailio's active_watchers) under exactly one lease in the store, held by the
  instance whose subscription it is;
- a SIP watcher's dialog on one instance gets a NOTIFY for every presence change of its
  XMPP contact although ejabberd hands part of those stanzas to the other instance (which
  forwards them over PostgreSQL LISTEN/NOTIFY);
- kill -9 of the instance holding a user's fan-out while IM flows both ways: a PUBLISH of
  that user made right after the kill reaches the XMPP watcher within 10 s (the other
  instance takes the lease over), no relation is lost, every SIP request is answered and
  none answered 2xx is lost, and the killed instance restarts and rejoins (it takes the
  fan-out's lease when the other instance stops cleanly).
The single-instance SQLite case is the rest of the suite (test_presence*.py), unchanged.
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
from sipua import pidf, sub_state  # noqa: E402

pytestmark = pytest.mark.skipif(not ejabberd.available(), reason="ejabberd is not installed")

USERS = {n: "pw" for n in ("alice", "carol", "dave", "erin", "fred", "gina", "hank", "ivan",
                            "jill", "kate")}


def ctl(gw, *args):
    return subprocess.run([os.path.join(servers.build_dir_from_env(), "sipxmppctl"),
                           "--config", gw.cfg_path] + list(args),
                          capture_output=True, text=True, timeout=60)


def metric(gw, pattern):
    st, text, _ = gw.metrics()
    assert st == 200
    m = re.search(r"^%s (\d+)$" % pattern, text, re.M)
    return int(m.group(1)) if m else 0


@pytest.fixture(scope="module")
def stack():
    need_gateway()
    yield from scale_fixture("sx-scalepres-", lambda st: Clients(st, auto_roster=False), 2,
                             store="pg", users=USERS, kam_children=1)


def publish(ua, basic="open", note=None):
    r = ua.publish(pidf(ua.aor, basic, note=note, lang="en"), expires=600)
    assert r.status == 200, (r.status, r.reason)


def pres_from(client, frm, pred=None, timeout=10):
    return client.wait_presence(lambda p: p.bare_from == frm and (pred is None or pred(p)),
                                timeout=timeout)


def watch(client, jid, note):
    """client subscribes to the SIP user jid and gets the user's presence."""
    client.send_presence(to=jid, ptype="subscribe")
    pres_from(client, jid, lambda p: p.type == "subscribed")
    pres_from(client, jid, lambda p: p.type == "available" and p.status == note)


def leases(st):
    """{lease name: holder} of the live fan-out leases in the store."""
    out = st.pg.psql("SELECT name || '|' || holder FROM leases WHERE name LIKE 'fanout:%%'"
                     " AND expires > (extract(epoch from now()) * 1000)::bigint")
    return dict(line.split("|", 1) for line in out.splitlines() if line)


def gateway_rows(st, user):
    return [r for r in st.kam.active_watchers("sip:%s@%s" % (user, INTERNAL))
            if r[1].startswith("gateway@")]


def until(fn, ok, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if ok(v) or time.monotonic() > deadline:
            return v
        time.sleep(0.2)


def test_one_fanout_per_user_across_instances(stack):
    st, cl = stack
    names = ["pa%d" % i for i in range(4)]
    uas = [cl.ua(n) for n in names]
    for ua in uas:
        publish(ua, note="hello from " + ua.user)
    alice, dave = cl.xmpp("alice"), cl.xmpp("dave")
    for ua in uas:
        jid = "%s@%s" % (ua.user, INTERNAL)
        watch(alice, jid, "hello from " + ua.user)
        watch(dave, jid, "hello from " + ua.user)

    want = {"fanout:%s@%s" % (n, INTERNAL) for n in names}
    held = until(lambda: leases(st), lambda v: want <= set(v))
    assert want <= set(held), held
    assert {held[n] for n in want} <= {"gw1", "gw2"}, held
    for n in names:
        rows = until(lambda: gateway_rows(st, n), lambda v: len(v) == 1)
        assert len(rows) == 1, (n, rows)
    # the fan-outs each instance runs are the leases it holds
    for i, gw in enumerate(st.gws):
        mine = sum(1 for name, h in held.items() if h == "gw%d" % (i + 1))
        assert metric(gw, "sipxmpp_presence_fanout_subscriptions") == mine, (i, held)
        assert metric(gw, "sipxmpp_presence_fanout_leases_held") == mine, (i, held)
    doc = json.loads(ctl(st.gws[0], "status", "--json").stdout)
    assert sum(i["leases"] for i in doc["instances"]) == len(held), doc["instances"]
    mine = sum(1 for h in held.values() if h == "gw1")
    assert doc["presence"]["fanout_leases"] == mine, doc["presence"]
    assert "fan-out leases %d" % mine in ctl(st.gws[0], "status").stdout
    # a publication reaches both watchers through the holder
    publish(uas[0], note="second")
    for c in (alice, dave):
        pres_from(c, "pa0@%s" % INTERNAL, lambda p: p.status == "second")
    # a probe reaching the instance without the fan-out is answered by the holder
    for k in range(10):
        alice.presences.clear()
        alice.send_presence(to="pa1@%s" % INTERNAL, ptype="probe")
        pres_from(alice, "pa1@%s" % INTERNAL, lambda p: p.status == "hello from pa1")
    assert sum(metric(gw, r'sipxmpp_presence_forwarded_total\{way="received"\}')
               for gw in st.gws) > 0


def test_sip_watcher_gets_every_change_whichever_instance_gets_it(stack):
    st, cl = stack
    bob = cl.ua("bobw")
    carol = cl.xmpp("carol")
    bob_jid = "bobw@%s" % INTERNAL
    sub = bob.subscribe("sip:carol@%s" % EXTERNAL, expires=300)
    assert sub.response.status == 200, (sub.response.status, sub.response.reason)
    pres_from(carol, bob_jid, lambda p: p.type == "subscribe")
    carol.send_presence(to=bob_jid, ptype="subscribed")
    sub.wait_notify(lambda m: sub_state(m)[0] == "active", timeout=5)
    holder = [i for i, gw in enumerate(st.gws)
              if metric(gw, r'sipxmpp_presence_sip_dialogs\{direction="watcher"\}') > 0]
    assert len(holder) == 1, holder
    dialog_gw, other_gw = st.gws[holder[0]], st.gws[1 - holder[0]]
    recv0 = metric(dialog_gw, r'sipxmpp_presence_forwarded_total\{way="received"\}')
    sent0 = metric(dialog_gw, r'sipxmpp_presence_forwarded_total\{way="sent"\}')

    n = 14
    for i in range(n):
        note = "change %d" % i
        carol.send_presence(show="away" if i % 2 else None, status=note)
        sub.wait_notify(lambda m, note=note: m.body and note.encode() in m.body, timeout=5)
    recv = metric(dialog_gw, r'sipxmpp_presence_forwarded_total\{way="received"\}') - recv0
    sent = metric(dialog_gw, r'sipxmpp_presence_forwarded_total\{way="sent"\}') - sent0
    # the dialog's instance got some stanzas itself (and published them) and the others
    # through the other instance
    assert recv > 0 and sent > 0, (recv, sent)
    assert metric(other_gw, r'sipxmpp_presence_forwarded_total\{way="sent"\}') > 0
    sys.stderr.write("\n%d presence changes: %d reached the dialog's instance directly, %d "
                     "forwarded by the other\n" % (n, sent, recv))
    sub.unsubscribe()


def test_kill_fanout_holder_under_load(stack):
    st, cl = stack
    pk = cl.ua("pk")
    pk_jid = "pk@%s" % INTERNAL
    publish(pk, note="before")
    erin = cl.xmpp("erin")
    watch(erin, pk_jid, "before")
    name = "fanout:" + pk_jid
    held = until(lambda: leases(st), lambda v: name in v)
    victim = int(held[name][2:]) - 1
    rows_sql = ('SELECT "user" || \' \' || contact || \' \' || added || sub_out || sub_in'
                ' FROM contacts ORDER BY 1')
    relations = st.pg.psql(rows_sql)
    assert pk_jid in relations

    # steady IM both ways: bob -> fred (SIP->XMPP) and fred -> sam (XMPP->SIP)
    bob, sam, fred = cl.ua("bob"), cl.ua("sam"), cl.xmpp("fred")
    stop = threading.Event()
    sip_results = {}
    x_sent = []

    def sip_load():
        i = 0
        while not stop.is_set():
            body = "pl s-%d" % i
            try:
                sip_results[body] = bob.send_message("sip:fred@%s" % EXTERNAL, body,
                                                     timeout=20).status
            except TimeoutError:
                sip_results[body] = "timeout"
            i += 1
            time.sleep(0.1)

    def xmpp_load():
        i = 0
        while not stop.is_set():
            body = "pl x-%d" % i
            fred.send_message("sam@%s" % INTERNAL, body, id="plx%d" % i)
            x_sent.append(body)
            i += 1
            time.sleep(0.1)

    threads = [threading.Thread(target=f, daemon=True) for f in (sip_load, xmpp_load)]
    for t in threads:
        t.start()
    try:
        time.sleep(2)
        st.gws[victim].kill()
        t0 = time.monotonic()
        publish(pk, note="after the kill")
        erin.presences.clear()
        pres_from(erin, pk_jid, lambda p: p.status == "after the kill", timeout=10)
        took = time.monotonic() - t0
        held = leases(st)
        assert held.get(name) == "gw%d" % (2 - victim), held
        st.start_gateway(victim)
        time.sleep(3)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    time.sleep(2)

    assert st.pg.psql(rows_sql) == relations, "relations changed"
    unanswered = [b for b, s in sip_results.items() if s == "timeout"]
    assert not unanswered, unanswered
    got = {m.body for m in fred.all_messages(lambda m: m.body and m.body.startswith("pl s-"))}
    lost = [b for b, s in sip_results.items() if 200 <= s < 300 and b not in got]
    assert not lost, "answered 2xx but not delivered: %s" % lost
    got_sip = {r.body_text() for r in sam.requests(method="MESSAGE")}
    errors = {m.id for m in fred.all_messages(lambda m: m.type == "error")}
    x_lost = [b for i, b in enumerate(x_sent) if b not in got_sip and "plx%d" % i not in errors]
    assert len(x_lost) <= 2, "XMPP->SIP lost: %s" % x_lost  # see test_scale.py

    # the restarted instance is alive in the store, took SIP traffic, and runs no second
    # fan-out of pk (the lease stays with the survivor)
    doc = json.loads(ctl(st.gws[1 - victim], "status", "--json").stdout)
    assert sorted(i["id"] for i in doc["instances"] if i["alive"]) == ["gw1", "gw2"]
    restarted = st.gws[victim]
    assert until(lambda: metric(restarted, r'sipxmpp_messages_total\{direction="sip_to_xmpp",'
                                           r'result="accepted"\}'), lambda v: v > 0) > 0
    assert metric(restarted, "sipxmpp_presence_fanout_leases_held") == \
        metric(restarted, "sipxmpp_presence_fanout_subscriptions")
    publish(pk, note="still one")
    pres_from(erin, pk_jid, lambda p: p.status == "still one")
    time.sleep(0.5)
    assert len(erin.all_presences(lambda p: p.status == "still one")) == 0, \
        "one fan-out only: one presence per publication"
    # ... and takes leases again: the survivor stopped cleanly releases its leases (and
    # exits cleanly), the restarted instance takes pk's fan-out over at its next attempt
    survivor = 1 - victim
    st.gws[survivor].stop()
    publish(pk, note="rejoined")
    pres_from(erin, pk_jid, lambda p: p.status == "rejoined", timeout=10)
    assert leases(st).get(name) == "gw%d" % (victim + 1)
    st.start_gateway(survivor)
    sys.stderr.write("\nkill -9 of the fan-out holder under IM load (%d SIP->XMPP, %d "
                     "XMPP->SIP): the watcher had the user's new presence %.1f s after the "
                     "kill\n" % (len(sip_results), len(x_sent), took))


def test_hostile_notices_on_the_channel_are_refused(stack):
    """Anyone who can NOTIFY on the database's channel is input like any other: every
    malformed notice is counted and ignored, the instances keep working."""
    st, cl = stack
    bad = 'sipxmpp_presence_forward_bad_total'
    before = [metric(gw, bad) for gw in st.gws]
    fed = "carol@%s/r" % EXTERNAL
    payloads = [
        "not json",
        "[1, 2]",
        '{"v":2,"i":"x","k":"p","u":"bob@%s","c":"%s"}' % (INTERNAL, fed),
        '{"v":1,"i":"x","k":"p","u":"bob@evil.example","c":"%s"}' % fed,
        '{"v":1,"i":"x","k":"p","u":"bob@%s","c":"eve@%s"}' % (INTERNAL, INTERNAL),
        '{"v":1,"i":"x","k":"p","u":"bob@%s","c":"%s","pr":500}' % (INTERNAL, fed),
        '{"v":1,"i":"x","k":"p","u":"bob@%s","c":"%s","y":"subscribe"}' % (INTERNAL, fed),
        '{"v":1,"i":"x","k":"p","u":"bob@%s","c":"%s","st":[%s]}'
        % (INTERNAL, fed, ",".join(['[null,"x"]'] * 17)),
        '{"v":1,"i":"x","k":"z","u":"bob@%s","c":"%s"}' % (INTERNAL, fed),
        '{"v":1,"i":"x","k":"p","u":"@@","c":"%s"}' % fed,
        '{"v":1,"i":"x\\nforged log line","k":"p","u":"bob@%s","c":"%s"}' % (INTERNAL, fed),
    ]
    for pl in payloads:
        st.pg.psql("SELECT pg_notify('sipxmpp_presence', $sx$%s$sx$)" % pl)
    after = until(lambda: [metric(gw, bad) for gw in st.gws],
                  lambda v: all(a - b == len(payloads) for a, b in zip(v, before)))
    assert [a - b for a, b in zip(after, before)] == [len(payloads)] * len(st.gws), after
    for gw in st.gws:
        assert gw.healthz() == 200


# ---- a change both instances see is acted on once --------------------------------------

# Long enough for both instances to have seen a change in the store (the snapshot lags
# ≤ 0.5 s) and acted, and for a second copy of a stanza to arrive if one were sent.
SETTLE = 3.0


def stanzas(client, jid, ptype, status=None):
    return client.all_presences(lambda p: p.bare_from == jid and p.type == ptype and
                                (status is None or p.status == status))


def wait_stanza(client, jid, ptype, timeout=10, status=None):
    return client.wait_presence(lambda p: p.bare_from == jid and p.type == ptype and
                                (status is None or p.status == status),
                                timeout=timeout, consume=False)


def ctl_ok(gw, *args):
    r = ctl(gw, *args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def sub_in(st, user_jid, contact):
    return st.pg.psql("SELECT sub_in FROM contacts WHERE \"user\" = '%s' AND contact = '%s'"
                      % (user_jid, contact))


def sent(st, user_jid, contact, ptype):
    """How many `ptype` stanzas from user_jid to contact the instances sent, from their logs
    (ejabberd drops a repeated `subscribed`/`unsubscribed` that does not change the roster
    (RFC 6121 §3.1.6, §3.2.3): the client never sees those duplicates)."""
    pat = re.compile(r" presence: %s -> %s: %s$" % (re.escape(user_jid), re.escape(contact),
                                                   re.escape(ptype)), re.M)
    return sum(len(pat.findall(gw.log_text())) for gw in st.gws if gw is not None)


def counts(client, jid):
    out = {}
    for p in client.all_presences(lambda p: p.bare_from == jid):
        out[p.type] = out.get(p.type, 0) + 1
    return out


@pytest.fixture
def unverified(stack):
    """fabrikam.example as a PublicUnverified partner: a subscribe waits until the user adds
    the contact."""
    st, cl = stack
    ctl_ok(st.gws[0], "partner", "set", EXTERNAL, "--type", "public-unverified")
    try:
        yield stack
    finally:
        ctl_ok(st.gws[0], "partner", "set", EXTERNAL, "--type", "federated")
        time.sleep(1)


def test_admin_add_approves_a_waiting_request_once(unverified):
    """Each instance takes the add from the store at its next snapshot (every 250 ms); the
    one holding the user's lease approves. Several users, so that both instances see some
    of the adds before either has written the approval, and the add follows the request at
    once, so that the instance the request did not reach often learns both from one
    snapshot."""
    st, cl = unverified
    gina = cl.xmpp("gina")
    jids = []
    for i in range(6):
        ua = cl.ua("qa%d" % i)
        publish(ua, note="qa here")
        jid = "qa%d@%s" % (i, INTERNAL)
        jids.append(jid)
        gina.send_presence(to=jid, ptype="subscribe")
        assert until(lambda: sub_in(st, jid, "gina@" + EXTERNAL), lambda v: v == "pending") \
            == "pending"
        assert not stanzas(gina, jid, "subscribed")
        ctl_ok(st.gws[i % 2], "contact", "add", "sip:" + jid, "gina@" + EXTERNAL)
    for jid in jids:
        wait_stanza(gina, jid, "subscribed", timeout=5)
        wait_stanza(gina, jid, "available")
    time.sleep(SETTLE)
    got = {jid: counts(gina, jid) for jid in jids}
    sys.stderr.write("\ncontact add approving a waiting request: %s\n" % got)
    for jid in jids:
        assert got[jid].get("subscribed") == 1, (jid, got)
        assert sent(st, jid, "gina@" + EXTERNAL, "subscribed") == 1, jid
        assert len(stanzas(gina, jid, "available", "qa here")) <= 1, (jid, got)
        assert sub_in(st, jid, "gina@" + EXTERNAL) == "approved"


def test_admin_add_taken_over_when_the_lease_holder_dies(unverified):
    st, cl = unverified
    qb = cl.ua("qb")
    publish(qb, note="qb here")
    qb_jid = "qb@%s" % INTERNAL
    hank, ivan = cl.xmpp("hank"), cl.xmpp("ivan")
    # hank becomes a watcher of qb: the lease fanout:qb is held by one instance
    hank.send_presence(to=qb_jid, ptype="subscribe")
    until(lambda: sub_in(st, qb_jid, "hank@" + EXTERNAL), lambda v: v == "pending")
    ctl_ok(st.gws[0], "contact", "add", "sip:" + qb_jid, "hank@" + EXTERNAL)
    wait_stanza(hank, qb_jid, "subscribed", timeout=5)
    name = "fanout:" + qb_jid
    held = until(lambda: leases(st), lambda v: name in v)
    victim = int(held[name][2:]) - 1
    survivor = st.gws[1 - victim]
    # ivan's request waits in the store; the holder dies; the admin adds ivan
    ivan.send_presence(to=qb_jid, ptype="subscribe")
    until(lambda: sub_in(st, qb_jid, "ivan@" + EXTERNAL), lambda v: v == "pending")
    time.sleep(1)
    st.gws[victim].kill()
    try:
        t0 = time.monotonic()
        ctl_ok(survivor, "contact", "add", "sip:" + qb_jid, "ivan@" + EXTERNAL)
        # the survivor approves once it has the lease (lapsed ≤ 6 s after the kill)
        wait_stanza(ivan, qb_jid, "subscribed", timeout=12)
        took = time.monotonic() - t0
        wait_stanza(ivan, qb_jid, "available", timeout=10)
        time.sleep(SETTLE)
        got = counts(ivan, qb_jid)
        sys.stderr.write("\ncontact add with the lease holder killed: %s, subscribed "
                         "after %.1f s\n" % (got, took))
        assert got.get("subscribed") == 1, got
        assert sent(st, qb_jid, "ivan@" + EXTERNAL, "subscribed") == 1
        assert sub_in(st, qb_jid, "ivan@" + EXTERNAL) == "approved"
        assert leases(st).get(name) == "gw%d" % (2 - victim)
    finally:
        st.start_gateway(victim)
    time.sleep(2)


REVOKE = [
    (["policy", "set", "global", "--xmpp=off"], ["policy", "set", "global", "--xmpp=on"]),
    (["partner", "remove", EXTERNAL], ["partner", "new", EXTERNAL, "--type", "federated"]),
]


def watched_user(cl, user, watcher):
    """The SIP user `user` publishes "<user> here" and the XMPP user `watcher` watches it;
    returns (the user's JID, the watcher's client)."""
    publish(cl.ua(user), note="%s here" % user)
    jid = "%s@%s" % (user, INTERNAL)
    client = cl.xmpp(watcher)
    watch(client, jid, "%s here" % user)
    return jid, client


def test_policy_changes_and_contact_remove_acted_on_once(stack):
    st, cl = stack
    qc_jid, jill = watched_user(cl, "qc", "jill")
    time.sleep(1)
    jill_jid = "jill@" + EXTERNAL
    for i, (revoke, restore) in enumerate(REVOKE):
        jill.presences.clear()
        before = sent(st, qc_jid, jill_jid, "unavailable")
        ctl_ok(st.gws[i], *revoke)
        wait_stanza(jill, qc_jid, "unavailable", timeout=5)
        time.sleep(SETTLE)
        got = counts(jill, qc_jid)
        sys.stderr.write("\n%s: %s\n" % (" ".join(revoke), got))
        assert got == {"unavailable": 1}, (revoke, got)
        assert sent(st, qc_jid, jill_jid, "unavailable") - before == 1, revoke
        jill.presences.clear()
        ctl_ok(st.gws[1 - i], *restore)
        wait_stanza(jill, qc_jid, "available", status="qc here")
        time.sleep(SETTLE)
        got = counts(jill, qc_jid)
        sys.stderr.write("%s: %s\n" % (" ".join(restore), got))
        assert len(stanzas(jill, qc_jid, "available")) == 1, (restore, got)
        assert got.get("unavailable", 0) <= 1, (restore, got)
    jill.presences.clear()
    ctl_ok(st.gws[0], "contact", "remove", "sip:" + qc_jid, jill_jid)
    wait_stanza(jill, qc_jid, "unsubscribed", timeout=5)
    time.sleep(SETTLE)
    got = counts(jill, qc_jid)
    sys.stderr.write("contact remove: %s\n" % got)
    assert got.get("unsubscribed") == 1, got
    assert sent(st, qc_jid, jill_jid, "unsubscribed") == 1
    assert got.get("unsubscribe", 0) <= 1 and got.get("unavailable", 0) <= 1, got


def test_policy_revoked_while_the_lease_holder_dies(stack):
    """The instance that would have sent the watcher `unavailable` is killed: the other one
    owes it, takes the user's lease once it lapses and sends it, once."""
    st, cl = stack
    qd_jid, kate = watched_user(cl, "qd", "kate")
    name = "fanout:" + qd_jid
    held = until(lambda: leases(st), lambda v: name in v)
    victim = int(held[name][2:]) - 1
    survivor = st.gws[1 - victim]
    st.gws[victim].kill()
    try:
        kate.presences.clear()
        t0 = time.monotonic()
        ctl_ok(survivor, "policy", "set", "global", "--xmpp=off")
        wait_stanza(kate, qd_jid, "unavailable", timeout=12)
        took = time.monotonic() - t0
        time.sleep(SETTLE)
        got = counts(kate, qd_jid)
        sys.stderr.write("\npolicy revoked with the lease holder killed: %s after %.1f s\n"
                         % (got, took))
        assert got == {"unavailable": 1}, got
    finally:
        ctl_ok(survivor, "policy", "set", "global", "--xmpp=on")
        st.start_gateway(victim)
    wait_stanza(kate, qd_jid, "available", status="qd here")
