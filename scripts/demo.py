#!/usr/bin/python3
"""The local demo of README command 1: Prosody as the edge (component contoso.example on
127.0.0.1:23456; VirtualHost fabrikam.example with alice and carol, c2s on 5222 with a
certificate made for the demo), Kamailio as the registrar and presence server on
127.0.0.1:5060, and sipxmppd on 127.0.0.1:5070 (/status, /metrics on 8070). A SIP user
bob@contoso.example and an XMPP user alice@fabrikam.example stay online, watch each other's
presence through the gateway, and print what they receive: messages, and each presence
change in one line ("[bob] alice@fabrikam.example is away: "text"").

Every port is checked before anything starts (a busy one is reported with the process
holding it). Ctrl-C, SIGTERM, SIGHUP, a closed stdout (`| tee` interrupted) or an error
stops every process the demo started, by PID, and a clean stop removes its temporary
directory.

  demo.py [--build DIR] [--port-offset N]          run the demo (foreground)
  demo.py [--port-offset N] sip FROM_USER TO_JID TEXT   SIP MESSAGE from FROM_USER@contoso.example
  demo.py [--port-offset N] xmpp FROM_USER TO_JID TEXT  XMPP message from FROM_USER@fabrikam.example
  demo.py [--port-offset N] presence sip USER STATE [TEXT]
        PUBLISH of USER@contoso.example's presence to Kamailio (PIDF with RPID);
        STATE: available, away, busy or offline
  demo.py [--port-offset N] presence xmpp USER STATE [TEXT] [--hold SECONDS]
        presence of USER@fabrikam.example from a second resource (priority 10) for
        SECONDS (default 15); STATE: available, chat, away, xa or dnd

--port-offset N adds N to every port (to run beside services on the standard ports).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from servers import Gateway, Kamailio, Prosody, tail  # noqa: E402
from sipua import SipUA, parse_pidf, pidf, sub_state  # noqa: E402
from xmppclient import XmppClient  # noqa: E402

BASE_PORTS = {"component": (23456, "tcp"), "c2s": (5222, "tcp"), "kamailio": (5060, "both"),
              "gateway": (5070, "both"), "http": (8070, "tcp"),
              "admin": (8071, "tcp")}
ADMIN_PASSWORD = "demo-admin"
PASSWORD = "demo"
INTERNAL = "contoso.example"
EXTERNAL = "fabrikam.example"


def ports_for(offset):
    return {k: p + offset for k, (p, _) in BASE_PORTS.items()}


# ------------------------------------------------------------------------------ output
class Out:
    """Prints that never raise: once stdout is gone (the reader of a pipe exited), output
    goes to /dev/null and the demo carries on stopping what it started."""

    broken = False

    @classmethod
    def say(cls, text=""):
        if cls.broken:
            return
        try:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        except (BrokenPipeError, OSError):
            cls.broken = True
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)
            except OSError:
                pass


say = Out.say


# ------------------------------------------------------------------------------ ports
def holder(port, proto):
    """'name (pid N)' of the process listening on port, from ss; None when unknown."""
    flag = "-ltnp" if proto == "tcp" else "-lunp"
    try:
        r = subprocess.run(["ss", "-H", flag, "sport = :%d" % port], capture_output=True,
                           text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'users:\(\("([^"]+)",pid=(\d+)', r.stdout)
    return "%s (pid %s)" % (m.group(1), m.group(2)) if m else None


def busy_ports(offset):
    """Messages for every port the demo needs that is taken."""
    out = []
    for name, (base, protos) in BASE_PORTS.items():
        port = base + offset
        for proto in (("tcp", "udp") if protos == "both" else (protos,)):
            s = socket.socket(socket.AF_INET,
                              socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
            if proto == "tcp":
                # as the servers do: a connection of another program that happens to use
                # the port number is no conflict, a listener is
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                if proto == "tcp":
                    s.listen(1)
            except OSError as e:
                who = holder(port, proto)
                out.append("port %d/%s (%s) is in use%s: %s" % (
                    port, proto, name, " by " + who if who else "",
                    "stop it first (kill %s)" % who.split("pid ")[1].rstrip(")")
                    if who else e.strerror))
            finally:
                s.close()
    return out


# ------------------------------------------------------------------------------ TLS
def make_certificate(directory):
    """A self-signed certificate for fabrikam.example (also usable as its own CA)."""
    os.makedirs(directory, exist_ok=True)
    crt = os.path.join(directory, EXTERNAL + ".crt")
    key = os.path.join(directory, EXTERNAL + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-subj", "/CN=" + EXTERNAL, "-addext", "subjectAltName=DNS:" + EXTERNAL,
                    "-addext", "basicConstraints=critical,CA:TRUE", "-keyout", key, "-out", crt],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return crt


class DemoProsody(Prosody):
    """The test Prosody, with mod_tls: c2s offers STARTTLS with the demo certificate (found
    by name in its certificates directory); plain logins stay allowed for the demo's own
    clients."""

    def _write_config(self):
        super()._write_config()
        with open(self.cfg_path) as f:
            text = f.read()
        text = text.replace('modules_enabled = { "roster"', 'modules_enabled = { "tls", "roster"')
        with open(self.cfg_path, "w") as f:
            f.write(text)


# ------------------------------------------------------------------------------ sending
def send_sip(user, to_jid, text, ports):
    ua = SipUA(user, INTERNAL, proxy=("127.0.0.1", ports["kamailio"]))
    try:
        r = ua.send_message("sip:%s" % to_jid, text)
        print("%d %s%s" % (r.status, r.reason,
                           ("  (Warning: %s)" % r.header("Warning")) if r.header("Warning") else ""))
        return 0 if r.status < 300 else 1
    finally:
        ua.close()


def send_xmpp(user, to_jid, text, ports):
    x = XmppClient("%s@%s" % (user, EXTERNAL), PASSWORD, port=ports["c2s"]).connect()
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


# ------------------------------------------------------------------------------ presence
SIP_STATES = {"available": ("open", None), "away": ("open", "away"),
              "busy": ("open", "busy"), "offline": ("closed", None)}
XMPP_STATES = ("available", "chat", "away", "xa", "dnd")
# RPID activities (RFC 4480) as the XMPP <show/> a person would read
ACTIVITY_SHOW = {"away": "away", "busy": "dnd", "on-the-phone": "dnd", "meeting": "dnd",
                 "vacation": "xa", "sleeping": "xa"}


def quoted(text):
    return ': "%s"' % text if text else ""


def notify_line(watcher, target, notify):
    """One readable line for a NOTIFY of `watcher`'s subscription to `target`."""
    state, params = sub_state(notify)
    if state != "active" or not notify.body:
        if state == "active":
            return "[%s] %s is offline (no presence yet)" % (watcher, target)
        reason = params.get("reason")
        return "[%s] subscription to %s: %s%s" % (watcher, target, state,
                                                 " (%s)" % reason if reason else "")
    try:
        doc = parse_pidf(notify.body)
    except Exception as e:  # the demo shows what it cannot read rather than stopping
        return "[%s] %s: unreadable PIDF (%s)" % (watcher, target, e)
    best = None
    for t in doc["tuples"]:
        if t["basic"] != "open":
            continue
        prio = float(t["priority"]) if t["priority"] else 0.0
        if best is None or prio > best[0]:
            best = (prio, t)
    if best is None:
        return "[%s] %s is offline%s" % (watcher, target,
                                         quoted(doc["notes"][0][1] if doc["notes"] else ""))
    t = best[1]
    show = t["show"] or next((ACTIVITY_SHOW[a] for a in doc["activities"]
                              if a in ACTIVITY_SHOW), None) or "available"
    notes = t["notes"] or doc["notes"]
    return "[%s] %s is %s%s" % (watcher, target, show, quoted(notes[0][1] if notes else ""))


def presence_line(watcher, p):
    """One readable line for a <presence/> `watcher` received."""
    who = p.bare_from
    if p.type == "available":
        return "[%s] %s is %s%s" % (watcher, who, p.show or "available", quoted(p.status))
    if p.type == "unavailable":
        return "[%s] %s is offline%s" % (watcher, who, quoted(p.status))
    if p.type == "error":
        return "[%s] presence error from %s: %s" % (watcher, who, p.error_condition)
    return "[%s] %s: %s" % (watcher, who, p.type)


def publish_sip(user, state, text, ports):
    if state not in SIP_STATES:
        print("presence sip: STATE is one of %s" % ", ".join(SIP_STATES))
        return 2
    basic, activity = SIP_STATES[state]
    ua = SipUA(user, INTERNAL, proxy=("127.0.0.1", ports["kamailio"]))
    try:
        # the same tuple and person ids as every other publication of the demo: Kamailio
        # keeps the newest of each id, so this one replaces what was shown before
        r = ua.publish(pidf(ua.aor, basic, activity=activity, note=text or None, lang="en"),
                       expires=3600)
        print("%d %s" % (r.status, r.reason))
        return 0 if r.status < 300 else 1
    finally:
        ua.close()


def send_xmpp_presence(user, state, text, hold, ports):
    if state not in XMPP_STATES:
        print("presence xmpp: STATE is one of %s" % ", ".join(XMPP_STATES))
        return 2
    x = XmppClient("%s@%s/demo-cli" % (user, EXTERNAL), PASSWORD, port=ports["c2s"])
    x.connect(available=False)
    try:
        x.send_presence(show=None if state == "available" else state, status=text or None,
                        priority=10)
        x.sync()
        print("%s@%s/demo-cli is %s%s for %g s (priority 10, above the demo's resource)"
              % (user, EXTERNAL, state, quoted(text), hold))
        sys.stdout.flush()
        time.sleep(hold)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        x.close()


# ------------------------------------------------------------------------------ the demo
def instructions(tmp, crt, gateway, build, ports, offset):
    me = os.path.relpath(os.path.abspath(__file__))
    off = " --port-offset %d" % offset if offset else ""
    p = ports
    return """
sipxmpp demo is running (files under {tmp}).
  SIP user  sip:bob@{i}    registered at Kamailio 127.0.0.1:{kam} (prints what it gets),
                               published "available", subscribed to alice@{e}
  XMPP user alice@{e}     on Prosody 127.0.0.1:{c2s}, password "{pw}" (prints what it gets),
                               subscribed to bob@{i}
  gateway   sipxmppd SIP 127.0.0.1:{gw}, edge 127.0.0.1:{comp}, http://127.0.0.1:{http}/status

In another terminal:
  SIP -> XMPP:  /usr/bin/python3 {me}{off} sip bob alice@{e} "Hello from SIP"
  XMPP -> SIP:  /usr/bin/python3 {me}{off} xmpp alice bob@{i} "Hello from XMPP"
  presence:     /usr/bin/python3 {me}{off} presence sip bob away "In a meeting"
                  (available, away, busy, offline: a PUBLISH to Kamailio; alice sees it)
                /usr/bin/python3 {me}{off} presence xmpp alice dnd "Busy"
                  (available, chat, away, xa, dnd: from a second resource of alice for
                  15 s, --hold SECONDS for longer; bob sees it)
  admin:        {build}/sipxmppctl --config {cfg} status
                {build}/sipxmppctl --config {cfg} doctor
  console:      http://127.0.0.1:{admin}/  (name admin, password {apw})

A real XMPP client (Profanity), as carol@{e}, password "{pw}":
  profanity, then:  /connect carol@{e} server 127.0.0.1 port {c2s} tls force
                    /msg bob@{i} Hello from Profanity
                    /sub request bob@{i}      (bob's presence, approved at once)
  Prosody's certificate for {e} is made for this demo: {crt}
  Trust it for this session when Profanity asks (/tls allow), or system-wide:
    cp {crt} /usr/local/share/ca-certificates/sipxmpp-demo.crt && update-ca-certificates
  (go-sendxmpp: -j 127.0.0.1:{c2s} -u carol@{e} -p {pw}; its --no-tls-verify skips the check)
A real SIP client (baresip), as carol@{i} (Kamailio asks for no password):
  mkdir -p ~/.baresip
  echo '<sip:carol@{i}>;outbound="sip:127.0.0.1:{kam};transport=udp";regint=600' >> ~/.baresip/accounts
  echo '"Alice" <sip:alice@{e}>;presence=p2p' >> ~/.baresip/contacts
  for Alice's presence, uncomment "module_app presence.so" in ~/.baresip/config
  (written on baresip's first run)
  baresip, then:    /contact_next      (selects Alice)
                    /message Hello from baresip
                    /contacts          (Alice's presence)
Ctrl-C stops everything.
""".format(tmp=tmp, i=INTERNAL, e=EXTERNAL, kam=p["kamailio"], c2s=p["c2s"], pw=PASSWORD,
           gw=p["gateway"], comp=p["component"], http=p["http"], me=me, off=off, build=build,
           cfg=gateway.cfg_path, crt=crt, admin=p["admin"], apw=ADMIN_PASSWORD)


def run(build, offset):
    ports = ports_for(offset)
    busy = busy_ports(offset)
    if busy:
        for b in busy:
            say("demo: " + b)
        say("demo: nothing was started")
        return 1
    if not os.access(os.path.join(build, "sipxmppd"), os.X_OK):
        say("demo: no sipxmppd in %s (build it first: bash scripts/demo.sh)" % build)
        return 1

    stop = threading.Event()
    got = {}

    def on_signal(signum, _frame):
        got["signal"] = signum
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    tmp = tempfile.mkdtemp(prefix="sipxmpp-demo-")
    prosody, kamailio, gateway = DemoProsody(), Kamailio(), Gateway()
    ua = xc = None
    clean = False
    try:
        crt = make_certificate(os.path.join(tmp, "prosody", "certs"))
        prosody.start(tmp, component_port=ports["component"], c2s_port=ports["c2s"],
                      component_secret="demo-secret", log_level="info",
                      users={"alice": PASSWORD, "carol": PASSWORD})
        say("demo: started prosody (pid %d)" % prosody.pid)
        # one worker: presence writes to its SQLite file do not race (see servers.Kamailio)
        kamailio.start(tmp, sip_port=ports["kamailio"], children=1,
                       gateway_addr="127.0.0.1:%d" % ports["gateway"])
        say("demo: started kamailio (pid %d)" % kamailio.pid)
        gateway.start(tmp, build_dir=build, prosody=prosody, kamailio=kamailio,
                      sip_port=ports["gateway"], http_port=ports["http"],
                      config_overrides={"gateway": {"log_level": "info"},
                                        "admin": {"listen": "127.0.0.1:%d" % ports["admin"]}},
                      ctl_setup=[["policy", "set", "global", "--xmpp"],
                                 ["partner", "new", EXTERNAL, "--type", "federated"]])
        say("demo: started sipxmppd (pid %d)" % gateway.pid)
        subprocess.run([os.path.join(build, "sipxmppctl"), "--config", gateway.cfg_path,
                        "admin", "passwd", "admin"], input=ADMIN_PASSWORD + "\n", text=True,
                       check=True, capture_output=True, timeout=30)
        ua = SipUA("bob", INTERNAL, proxy=("127.0.0.1", ports["kamailio"]))
        ua.register(expires=3600)
        r = ua.publish(pidf(ua.aor, "open", note="Available", lang="en"), expires=3600)
        if r.status >= 300:
            raise RuntimeError("bob's PUBLISH got %d %s" % (r.status, r.reason))
        # alice approves bob's subscription request by herself (slixmpp's auto_authorize)
        xc = XmppClient("alice@%s" % EXTERNAL, PASSWORD, port=ports["c2s"]).connect()
        alice, bob = "alice@" + EXTERNAL, "bob@" + INTERNAL
        xc.send_presence(to=bob, ptype="subscribe")
        sub = ua.subscribe("sip:" + alice, expires=3600)
        if sub.response.status >= 300:
            raise RuntimeError("bob's SUBSCRIBE got %d %s"
                               % (sub.response.status, sub.response.reason))
        granted = int(sub.response.header("expires") or 3600)
        refresh_at = time.monotonic() + granted * 0.8
        say(instructions(tmp, crt, gateway, build, ports, offset))
        seen_sip = seen_notify = 0
        while not stop.is_set():
            for m in ua.requests("MESSAGE")[seen_sip:]:
                say("[bob@%s] from %s: %s" % (INTERNAL, m.header("From"), m.body_text()))
                seen_sip += 1
            for n in sub.notifies()[seen_notify:]:
                say(notify_line("bob", alice, n))
                seen_notify += 1
            while True:
                try:
                    m = xc.wait_message(timeout=0.01)
                except TimeoutError:
                    break
                say("[alice@%s] %s" % (EXTERNAL, m))
            while True:
                try:
                    p = xc.wait_presence(timeout=0.01)
                except TimeoutError:
                    break
                if p.bare_from != alice:   # not her own resources
                    say(presence_line("alice", p))
            if time.monotonic() >= refresh_at:
                r = sub.refresh(expires=granted)
                if r.status >= 300:
                    say("demo: refreshing bob's subscription got %d %s"
                        % (r.status, r.reason))
                refresh_at = time.monotonic() + granted * 0.8
            if not gateway.running():
                say("demo: sipxmppd exited with %s; its log (%s) ends:\n%s"
                    % (gateway.proc.returncode, gateway.log_path, tail(gateway.log_path, 20)))
                return 1
            if Out.broken:
                say("demo: stdout closed")
                break
            stop.wait(0.2)
        clean = True
        return 0
    except KeyboardInterrupt:
        clean = True
        return 0
    except Exception as e:
        say("demo: %s" % e)
        return 1
    finally:
        # Further signals must not interrupt the stopping.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        say("stopping...")
        for name, closer in (("xmpp client", lambda: xc and xc.close()),
                             ("sip client", lambda: ua and ua.close()),
                             ("sipxmppd", lambda: gateway.proc and gateway.stop(check=False)),
                             ("kamailio", lambda: kamailio.proc and kamailio.stop()),
                             ("prosody", lambda: prosody.proc and prosody.stop())):
            try:
                closer()
            except Exception as e:  # keep stopping the others
                say("demo: stopping %s: %s" % (name, e))
        if clean and os.environ.get("SX_KEEP_TMP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
            say("stopped; removed %s" % tmp)
        else:
            say("stopped; logs kept in %s" % tmp)


def main(argv):
    offset = 0
    build = os.path.join(TOP, "build", "release")
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--port-offset" and i + 1 < len(argv):
            offset = int(argv[i + 1])
            i += 2
        elif argv[i] == "--build" and i + 1 < len(argv):
            build = argv[i + 1]
            i += 2
        else:
            args.append(argv[i])
            i += 1
    if args and args[0] == "presence":
        hold = 15.0
        if "--hold" in args:
            i = args.index("--hold")
            try:
                hold = float(args[i + 1])
            except (IndexError, ValueError):
                print(__doc__)
                return 2
            del args[i:i + 2]
        if len(args) not in (4, 5) or args[1] not in ("sip", "xmpp"):
            print(__doc__)
            return 2
        text = args[4] if len(args) == 5 else ""
        try:
            if args[1] == "sip":
                return publish_sip(args[2], args[3], text, ports_for(offset))
            return send_xmpp_presence(args[2], args[3], text, hold, ports_for(offset))
        except (OSError, RuntimeError) as e:   # TimeoutError is an OSError
            print("presence %s: %s (is the demo running?)" % (args[1], e))
            return 1
    if args and args[0] in ("sip", "xmpp"):
        if len(args) != 4:
            print(__doc__)
            return 2
        fn = send_sip if args[0] == "sip" else send_xmpp
        return fn(args[1], args[2], args[3], ports_for(offset))
    if args:
        print(__doc__)
        return 2
    return run(os.path.abspath(build), offset)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
