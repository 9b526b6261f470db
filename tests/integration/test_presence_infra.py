"""The presence set-up the presence tests rely on, without the gateway: Kamailio as the
served domain's presence server (presence + presence_xml on db_sqlite, force_active) and
the test library's PUBLISH / SUBSCRIBE / NOTIFY helpers."""

import time

import pytest

from conftest import EXTERNAL, INTERNAL, stack_fixture
from sipua import parse_pidf, pidf, sub_state


@pytest.fixture(scope="module")
def pres_servers():
    yield from stack_fixture("sx-presinfra-", with_gateway=False,
                             kamailio_kw={"children": 1})


@pytest.fixture
def infra(pres_servers):
    try:
        yield pres_servers
    finally:
        pres_servers.close_clients()


def test_publish_then_subscribe_gets_active_notify(infra):
    bob = infra.ua("pbob")
    watcher = infra.ua("pwatch")
    r = bob.publish(pidf(bob.aor, "open", activity="away", note="at lunch", lang="en"),
                    expires=120)
    assert r.status == 200, (r.status, r.reason)
    assert r.header("sip-etag"), "PUBLISH 200 carries SIP-ETag"

    sub = watcher.subscribe(bob.aor, expires=120)
    assert sub.response.status in (200, 202), (sub.response.status, sub.response.reason)
    n = sub.wait_notify(lambda m: sub_state(m)[0] == "active" and m.body, timeout=10)
    assert n.header("event", "").startswith("presence")
    doc = parse_pidf(n.body)
    assert [t["basic"] for t in doc["tuples"]] == ["open"]
    assert "away" in doc["activities"]
    assert ("en", "at lunch") in doc["notes"]

    rows = infra.kamailio.active_watchers(bob.aor)
    assert len(rows) == 1, rows
    assert rows[0][1] == "pwatch@%s" % INTERNAL
    assert rows[0][2] == sub.call_id

    # A new publication reaches the watcher in the same dialog.
    watcher.clear()
    r = bob.publish(pidf(bob.aor, "closed"), expires=120)
    assert r.status == 200
    n = sub.wait_notify(lambda m: m.body and b"closed" in m.body, timeout=10)
    assert parse_pidf(n.body)["tuples"][0]["basic"] == "closed"

    # Expires: 0 in the dialog ends it: terminated, and the row goes.
    r = sub.unsubscribe()
    assert r.status in (200, 202), (r.status, r.reason)
    sub.wait_notify(lambda m: sub_state(m)[0] == "terminated", timeout=10)
    deadline = time.monotonic() + 5
    while infra.kamailio.active_watchers(bob.aor) and time.monotonic() < deadline:
        time.sleep(0.1)
    if infra.kamailio.active_watchers(bob.aor):
        # The known SQLite lock: the row outlives the subscription until a NOTIFY to it is
        # answered 481, as any watcher answers for a dialog it ended.
        watcher.responder = lambda m: 481 if m.call_id == sub.call_id else None
        bob.publish(pidf(bob.aor, "open"), expires=120)
        deadline = time.monotonic() + 10
        while infra.kamailio.active_watchers(bob.aor) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert infra.kamailio.active_watchers(bob.aor) == [], infra.kamailio.delete_failed()


def test_subscribe_to_partner_domain_is_routed_to_the_gateway(infra):
    """Without a gateway listening the relay fails: the SUBSCRIBE went towards it (not to
    the presence server, which would answer 200/202)."""
    bob = infra.ua("pbob2")
    sub = bob.subscribe("sip:carol@%s" % EXTERNAL, expires=60, timeout=20)
    assert sub.response.status >= 400, (sub.response.status, sub.response.reason)
    assert infra.kamailio.active_watchers() == [] or all(
        r[0] != "sip:carol@%s" % EXTERNAL for r in infra.kamailio.active_watchers())
