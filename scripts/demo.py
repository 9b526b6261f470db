#!/usr/bin/python3
"""The local demo of README command 1: Prosody as the edge (component contoso.example on
127.0.0.1:23456, VirtualHost fabrikam.example with alice and carol), Kamailio as the
registrar on 127.0.0.1:5060, and sipxmppd on 127.0.0.1:5070. A SIP user bob@contoso.example
and an XMPP user alice@fabrikam.example stay online and print what they receive. Ctrl-C
stops everything.

  demo.py [--build DIR]               run the demo (foreground)
  demo.py sip FROM_USER TO_JID TEXT   send a SIP MESSAGE from FROM_USER@contoso.example
  demo.py xmpp FROM_USER TO_JID TEXT  send an XMPP message from FROM_USER@fabrikam.example
"""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from servers import Gateway, Kamailio, Prosody  # noqa: E402
from sipua import SipUA  # noqa: E402
from xmppclient import XmppClient  # noqa: E402

PORTS = {"component": 23456, "c2s": 5222, "kamailio": 5060, "gateway": 5070, "http": 8070,
         "admin": 8071}
ADMIN_PASSWORD = "demo-admin"
PASSWORD = "demo"


def send_sip(user, to_jid, text):
    ua = SipUA(user, "contoso.example", proxy=("127.0.0.1", PORTS["kamailio"]))
    try:
        r = ua.send_message("sip:%s" % to_jid, text)
        print("%d %s%s" % (r.status, r.reason,
                           ("  (Warning: %s)" % r.header("Warning")) if r.header("Warning") else ""))
        return 0 if r.status < 300 else 1
    finally:
        ua.close()


def send_xmpp(user, to_jid, text):
    x = XmppClient("%s@fabrikam.example" % user, PASSWORD, port=PORTS["c2s"]).connect()
    try:
        mid = x.send_message(to_jid, text, request_receipt=True)
        try:
            m = x.wait_message(lambda m: m.id == mid or m.receipt_for == mid, timeout=5)
            if m.type == "error":
                print("error: %s%s" % (m.error_condition,
                                       (" (%s)" % m.error_text) if m.error_text else ""))
                return 1
            print("delivered (XEP-0184 receipt from %s)" % m.frm)
            return 0
        except TimeoutError:
            print("sent (no receipt within 5 s)")
            return 0
    finally:
        x.close()


def run(build):
    tmp = tempfile.mkdtemp(prefix="sipxmpp-demo-")
    prosody, kamailio, gateway = Prosody(), Kamailio(), Gateway()
    ua = xc = None
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        prosody.start(tmp, component_port=PORTS["component"], c2s_port=PORTS["c2s"],
                      component_secret="demo-secret", log_level="info",
                      users={"alice": PASSWORD, "carol": PASSWORD})
        kamailio.start(tmp, sip_port=PORTS["kamailio"],
                       gateway_addr="127.0.0.1:%d" % PORTS["gateway"])
        gateway.start(tmp, build_dir=build, prosody=prosody, kamailio=kamailio,
                      sip_port=PORTS["gateway"], http_port=PORTS["http"],
                      config_overrides={"gateway": {"log_level": "info"},
                                        "admin": {"listen": "127.0.0.1:%d" % PORTS["admin"]}},
                      ctl_setup=[["policy", "set", "global", "--xmpp"],
                                 ["partner", "new", "fabrikam.example", "--type", "federated"]])
        subprocess.run([os.path.join(build, "sipxmppctl"), "--config", gateway.cfg_path,
                        "admin", "passwd", "admin"], input=ADMIN_PASSWORD + "\n", text=True,
                       check=True, capture_output=True, timeout=30)
        ua = SipUA("bob", "contoso.example", proxy=("127.0.0.1", PORTS["kamailio"]))
        ua.register(expires=3600)
        xc = XmppClient("alice@fabrikam.example", PASSWORD, port=PORTS["c2s"]).connect()
        me = os.path.relpath(os.path.abspath(__file__))
        print("""
sipxmpp demo is running (files under %s).
  SIP user  sip:bob@contoso.example    registered at Kamailio 127.0.0.1:5060 (prints what it gets)
  XMPP user alice@fabrikam.example     on Prosody 127.0.0.1:5222, password "%s" (prints what it gets)
  gateway   sipxmppd SIP 127.0.0.1:5070, edge 127.0.0.1:23456, http://127.0.0.1:8070/metrics

In another terminal:
  SIP -> XMPP:  /usr/bin/python3 %s sip bob alice@fabrikam.example "Hello from SIP"
  XMPP -> SIP:  /usr/bin/python3 %s xmpp alice bob@contoso.example "Hello from XMPP"
  admin:        %s/sipxmppctl --config %s partner list
  console:      http://127.0.0.1:%d/  (name admin, password %s)
Ctrl-C stops everything.
""" % (tmp, PASSWORD, me, me, build, gateway.cfg_path, PORTS["admin"], ADMIN_PASSWORD),
              flush=True)
        seen_sip = seen_xmpp = 0
        while not stop.is_set():
            for m in ua.requests("MESSAGE")[seen_sip:]:
                print("[bob@contoso.example] from %s: %s" % (m.header("From"), m.body_text()),
                      flush=True)
                seen_sip += 1
            while True:
                try:
                    m = xc.wait_message(timeout=0.01)
                except TimeoutError:
                    break
                print("[alice@fabrikam.example] %s" % m, flush=True)
            if not gateway.running():
                print("sipxmppd exited; log: %s" % gateway.log_path)
                return 1
            time.sleep(0.2)
        return 0
    finally:
        print("stopping...", flush=True)
        for closer in (lambda: xc and xc.close(), lambda: ua and ua.close(),
                       lambda: gateway.stop(check=False), kamailio.stop, prosody.stop):
            try:
                closer()
            except Exception as e:  # keep stopping the others
                print("stop: %s" % e)


def main(argv):
    if len(argv) >= 1 and argv[0] in ("sip", "xmpp"):
        if len(argv) != 4:
            print(__doc__)
            return 2
        return (send_sip if argv[0] == "sip" else send_xmpp)(argv[1], argv[2], argv[3])
    build = os.path.join(TOP, "build", "release")
    if len(argv) == 2 and argv[0] == "--build":
        build = argv[1]
    elif argv:
        print(__doc__)
        return 2
    return run(build)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
