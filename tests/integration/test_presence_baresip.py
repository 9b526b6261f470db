"""A real SIP client from Debian (baresip-core, headless) registering at the test Kamailio:
it watches an XMPP user through the gateway (a contacts entry with ;presence=p2p) and sees
her come online and go offline, and it publishes its own online/offline (presence module,
pubint) to an XMPP watcher through the fan-out."""

import re
import shutil
import time

import pytest

import servers
from conftest import COMPONENT_SECRET, INTERNAL, need_gateway, stack_fixture

FED = "fabrikam.example"
# baresip's log line for a watched contact's change (colour codes around the words). It
# writes it only for a change from a known status: the first status a NOTIFY brings (from
# "Unknown") is not logged, and is read with the `contacts` command instead.
CHANGED = r"<sip:carol@fabrikam\.example> changed status from \S*%s\S* to \S*%s"
CAROL = "<sip:carol@%s>" % FED


def contact_status(bs, uri):
    """The presence status baresip shows for a contact ("Unknown", "Online", ...)."""
    data = bs.command("contacts").get("data") or ""
    for line in data.splitlines():
        if line.rstrip().endswith(uri):
            return re.sub(r"\x1b\[[0-9;]*m", "", line).split()[1]
    raise AssertionError("%s not in baresip's contacts: %r" % (uri, data))


def wait_status(bs, uri, status, timeout):
    deadline = time.monotonic() + timeout
    while True:
        got = contact_status(bs, uri)
        if got == status:
            return
        if time.monotonic() > deadline:
            raise AssertionError("baresip shows %s %s after %.0f s, not %s"
                                 % (uri, got, timeout, status))
        time.sleep(0.2)

SETUP = [
    ["policy", "set", "global", "--xmpp"],
    ["partner", "new", FED, "--type", "federated"],
]


@pytest.fixture
def bst():
    need_gateway()
    if not shutil.which("baresip"):
        pytest.fail("baresip not installed (baresip-core)")
    yield from stack_fixture(
        "sx-presbs-", with_gateway=True, ctl_setup=SETUP,
        kamailio_kw={"children": 1},
        prosody_kw=dict(users={"alice": "pw", "carol": "pw"}, extra_components={},
                        component_secret=COMPONENT_SECRET))


def test_baresip_watches_xmpp_user_and_publishes_to_xmpp_watcher(bst):
    carol = bst.xmpp("carol", auto_roster=False)
    alice = bst.xmpp("alice", auto_roster=False)
    bs = servers.Baresip()
    try:
        bs.start(bst.tmp, "bart", INTERNAL, bst.registrar,
                 contacts=["sip:carol@%s" % FED], pubint=60)
        bart_jid = "bart@%s" % INTERNAL
        # baresip's SUBSCRIBE becomes bart's XMPP subscription to carol.
        carol.wait_presence(lambda p: p.bare_from == bart_jid and p.type == "subscribe",
                            timeout=15)
        carol.send_presence(to=bart_jid, ptype="subscribed")
        # The gateway's NOTIFYs: pending, then active with carol's presence. Whether one with
        # nothing known yet (closed) comes between depends on whether carol's presence
        # reached the gateway before the pending NOTIFY was answered (a NOTIFY waiting for
        # the one in flight carries the newest state): baresip's status is what counts.
        wait_status(bs, CAROL, "Online", timeout=20)
        mark = len(bs.log_text())
        carol.send_presence(ptype="unavailable")
        bs.wait_log(CHANGED % ("Online", "Offline"), timeout=20, start=mark)
        mark = len(bs.log_text())
        carol.send_presence(status="back")
        bs.wait_log(CHANGED % ("Offline", "Online"), timeout=20, start=mark)

        # bart's own presence reaches alice through the fan-out.
        alice.send_presence(to=bart_jid, ptype="subscribe")
        alice.wait_presence(lambda p: p.bare_from == bart_jid and p.type == "subscribed")
        alice.wait_presence(lambda p: p.bare_from == bart_jid and p.type == "available",
                            timeout=20)
        bs.command("presence_offline")
        alice.wait_presence(lambda p: p.bare_from == bart_jid and p.type == "unavailable",
                            timeout=20)
        bs.command("presence_online")
        alice.wait_presence(lambda p: p.bare_from == bart_jid and p.type == "available",
                            timeout=20)
    finally:
        bs.stop()
    time.sleep(0.2)
