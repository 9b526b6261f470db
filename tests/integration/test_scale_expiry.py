"""Unanswered subscription requests with two sipxmppd sharing one PostgreSQL store behind
ejabberd and a dispatching Kamailio ([federation] subscription_refresh_s, here 10 s).

Every instance sees the pending relation in the store and counts its age; only the instance
whose SIP watchers wanted the contact decides what becomes of the gateway's own unanswered
`subscribe`. Asserted:
- while a SIP watcher's dialog (on one instance) still wants the contact, that instance sends
  the request again after the interval, and the other instance, which has no watcher of the
  relation, does not forget it: the relation stays pending in the store and the watcher's
  dialog is not terminated;
- once the watcher is gone, the unanswered request is forgotten after the interval, by the
  instance that had the watcher.
The single-instance case is test_presence_expiry.py.
"""

import os
import re
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import ejabberd  # noqa: E402
from conftest import need_gateway, scale_fixture  # noqa: E402
from scale import EXTERNAL, INTERNAL, Clients  # noqa: E402
from sipua import sub_state  # noqa: E402

pytestmark = pytest.mark.skipif(not ejabberd.available(), reason="ejabberd is not installed")

REFRESH_S = 10
USERS = {"dora": "pw"}


@pytest.fixture(scope="module")
def stack():
    need_gateway()
    yield from scale_fixture(
        "sx-scaleexp-", lambda st: Clients(st, auto_roster=False), 2, store="pg", users=USERS,
        kam_children=1,
        gw_overrides={"presence": {"min_expires": "5"},
                      "federation": {"subscription_refresh_s": str(REFRESH_S)}})


def sub_out(st, user_jid, contact):
    return st.pg.psql("SELECT sub_out FROM contacts WHERE \"user\" = '%s' AND contact = '%s'"
                      % (user_jid, contact))


def logged(gw, pattern):
    return len(re.findall(pattern, gw.log_text(), re.M))


def test_own_subscribe_kept_by_the_watchers_instance_only(stack):
    st, cl = stack
    bob = cl.ua("bobx")
    bob_jid = "bobx@%s" % INTERNAL
    cl.xmpp("dora")  # online, never answers
    contact = "dora@%s" % EXTERNAL
    sub = bob.subscribe("sip:" + contact, expires=120)
    assert sub.response.status == 200, (sub.response.status, sub.response.reason)
    n = sub.wait_notify(timeout=5)
    assert sub_state(n)[0] == "pending", n.header("subscription-state")
    sent = re.escape("presence: %s -> %s: subscribe" % (bob_jid, contact))
    deadline = time.monotonic() + 5
    while True:
        holder = [i for i, gw in enumerate(st.gws) if logged(gw, sent) > 0]
        if holder or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(holder) == 1, holder
    mine, other = st.gws[holder[0]], st.gws[1 - holder[0]]
    assert sub_out(st, bob_jid, contact) == "pending"
    t0 = time.monotonic()

    # The watcher's instance asks again after the interval ...
    while logged(mine, sent) < 2:
        assert time.monotonic() < t0 + REFRESH_S + 8, "no second subscribe"
        time.sleep(0.3)
    # ... and one more sweep period of the other instance (2.5 s) passes: neither instance
    # forgets the request, the store keeps it, the watcher is not told it is rejected.
    time.sleep(4)
    forgotten = "%s / %s: unanswered .* our subscribe forgotten" % (re.escape(bob_jid),
                                                                    re.escape(contact))
    assert logged(other, forgotten) == 0
    assert logged(mine, forgotten) == 0
    assert logged(other, sent) == 0  # the other instance sent no request of its own
    assert sub_out(st, bob_jid, contact) == "pending"
    states = [sub_state(m)[0] for m in sub.notifies()]
    assert "terminated" not in states, states
    sys.stderr.write("\nsubscribe sent again after %.1f s by the watcher's instance; "
                     "NOTIFY states %s\n" % (time.monotonic() - t0, states))

    # No SIP watcher any more: the request is forgotten after the interval.
    assert sub.unsubscribe().status == 200
    deadline = time.monotonic() + REFRESH_S + 10
    while sub_out(st, bob_jid, contact) not in ("", "none"):
        assert time.monotonic() < deadline, sub_out(st, bob_jid, contact)
        time.sleep(0.5)
    assert logged(mine, forgotten) == 1
    assert logged(other, forgotten) == 0
