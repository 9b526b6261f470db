"""A small SIP user agent over UDP and TCP for the integration tests (RFC 3261 framing):
REGISTER, MESSAGE and any other non-INVITE request, with UDP retransmission on the T1/T2
schedule; a receive loop that answers incoming requests with a configurable status and
records them with their raw body bytes. Presence: PUBLISH of PIDF/RPID documents (pidf()),
SUBSCRIBE dialogs as a watcher (Subscription: refresh, unsubscribe, the NOTIFYs received in
it), and parse_pidf() to read what arrives.

This is a client, not a mock server: every request and response goes over real sockets to
the real Kamailio or sipxmppd.
"""

import itertools
import os
import random
import re
import select
import socket
import threading
import time

T1 = 0.5
T2 = 4.0

COMPACT = {"f": "from", "t": "to", "i": "call-id", "v": "via", "m": "contact",
           "l": "content-length", "c": "content-type", "s": "subject", "k": "supported",
           "e": "content-encoding", "o": "event", "r": "refer-to", "u": "allow-events",
           "x": "session-expires", "j": "reject-contact", "a": "accept-contact",
           "d": "request-disposition", "b": "referred-by", "y": "identity", "n": "identity-info"}


def canon(name):
    n = name.strip().lower()
    return COMPACT.get(n, n)


class SipMessage:
    """A parsed request or response. headers: list of (name as sent, value)."""

    def __init__(self):
        self.is_request = False
        self.method = None
        self.ruri = None
        self.status = None
        self.reason = None
        self.headers = []
        self.body = b""
        self.raw = b""
        self.transport = None
        self.source = None
        self.received_at = 0.0

    def header(self, name, default=None):
        c = canon(name)
        for n, v in self.headers:
            if canon(n) == c:
                return v
        return default

    def headers_all(self, name):
        c = canon(name)
        out = []
        for n, v in self.headers:
            if canon(n) == c:
                out.append(v)
        return out

    @property
    def call_id(self):
        return self.header("call-id")

    @property
    def cseq(self):
        v = self.header("cseq") or ""
        parts = v.split()
        if len(parts) >= 2 and parts[0].isdigit():
            return int(parts[0]), parts[1].upper()
        return None, None

    @property
    def branch(self):
        via = self.header("via") or ""
        m = re.search(r";\s*branch\s*=\s*([^;,\s]+)", via, re.I)
        return m.group(1) if m else None

    def body_text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        if self.is_request:
            return "<SIP %s %s>" % (self.method, self.ruri)
        return "<SIP %s %s>" % (self.status, self.reason)


def parse_headers_block(block):
    lines = block.split(b"\r\n")
    # Unfold continuation lines.
    unfolded = []
    for ln in lines[1:]:
        if ln[:1] in (b" ", b"\t") and unfolded:
            unfolded[-1] += b" " + ln.strip()
        else:
            unfolded.append(ln)
    return lines[0], unfolded


def parse_message(data, stream):
    """Parses one message from the start of `data`. Returns (SipMessage, consumed) or
    (None, 0) when a stream needs more bytes. Raises ValueError on garbage."""
    # Leading CRLFs are keepalives.
    i = 0
    while data[i:i + 2] == b"\r\n":
        i += 2
    end = data.find(b"\r\n\r\n", i)
    if end < 0:
        if stream:
            return None, 0
        head = data[i:]
        end_hdr = len(data)
    else:
        head = data[i:end]
        end_hdr = end + 4
    first, hlines = parse_headers_block(head)
    m = SipMessage()
    parts = first.decode("utf-8", "replace").split(" ", 2)
    if parts[0].startswith("SIP/"):
        if len(parts) < 2 or not parts[1].isdigit():
            raise ValueError("bad status line %r" % first[:80])
        m.status = int(parts[1])
        m.reason = parts[2] if len(parts) > 2 else ""
    else:
        if len(parts) < 3:
            raise ValueError("bad request line %r" % first[:80])
        m.is_request = True
        m.method = parts[0]
        m.ruri = parts[1]
    for ln in hlines:
        if not ln:
            continue
        k, sep, v = ln.partition(b":")
        if not sep:
            continue
        m.headers.append((k.decode("utf-8", "replace").strip(),
                          v.decode("utf-8", "replace").strip()))
    cl = m.header("content-length")
    if cl is not None and cl.strip().isdigit():
        n = int(cl.strip())
    elif stream:
        n = 0
    else:
        n = len(data) - end_hdr
    if stream and len(data) < end_hdr + n:
        return None, 0
    m.body = data[end_hdr:end_hdr + n]
    m.raw = data[i:end_hdr + n]
    return m, end_hdr + n


def new_tag():
    return "%x" % random.getrandbits(48)


def new_branch():
    return "z9hG4bK" + "%x" % random.getrandbits(64)


def new_call_id(host="127.0.0.1"):
    return "%x%x@%s" % (int(time.time() * 1000), random.getrandbits(48), host)


class _Txn:
    def __init__(self, branch, method):
        self.branch = branch
        self.method = method
        self.cond = threading.Condition()
        self.provisional = []
        self.final = None


class SipUA:
    """A user agent bound to `bind_ip` (UDP and TCP on one port).

    proxy: (host, port) where requests go by default (the registrar/proxy).
    auto_status: status used to answer incoming requests (MESSAGE, OPTIONS, NOTIFY...).
    responder: optional callable(SipMessage) -> status or (status, reason, [(h, v)]) that
    overrides auto_status per request, or HOLD: the request is kept unanswered (its
    retransmissions absorbed) until release_held().
    """

    HOLD = "hold"

    _counter = itertools.count(1)

    def __init__(self, user, domain, bind_ip="127.0.0.1", proxy=None, auto_status=200,
                 responder=None, display=None):
        self.user = user
        self.domain = domain
        self.bind_ip = bind_ip
        self.proxy = proxy
        self.auto_status = auto_status
        self.responder = responder
        self.display = display
        self.tag = new_tag()
        self.cseq = itertools.count(random.randint(1, 1000))
        self.received = []           # incoming requests, in arrival order
        self.retransmissions = 0     # incoming request retransmissions absorbed
        self.garbage = []            # bytes that did not parse
        self._recv_cond = threading.Condition()
        self._txns = {}
        self._txn_lock = threading.Lock()
        self._answered = {}          # (branch, method) -> (response bytes)
        self._held = {}              # (branch, method) -> (request, via), unanswered
        self._lock = threading.Lock()
        self._tcp = {}               # (host, port) -> socket (outbound connections)
        self._tcp_buf = {}           # socket -> bytearray
        self._closing = False
        self._bind()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._loop, name="sipua-%s" % user,
                                        daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ sockets
    def _bind(self):
        for _ in range(50):
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            u.bind((self.bind_ip, 0))
            port = u.getsockname()[1]
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                t.bind((self.bind_ip, port))
            except OSError:
                u.close()
                t.close()
                continue
            t.listen(16)
            self.udp = u
            self.listener = t
            self.port = port
            return
        raise RuntimeError("cannot bind UDP+TCP on %s" % self.bind_ip)

    @property
    def aor(self):
        return "sip:%s@%s" % (self.user, self.domain)

    def contact(self, transport="udp"):
        t = "" if transport == "udp" else ";transport=%s" % transport
        return "<sip:%s@%s:%d%s>" % (self.user, self.bind_ip, self.port, t)

    def close(self):
        self._closing = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        self._thread.join(timeout=5)
        for s in list(self._tcp.values()) + list(self._tcp_buf.keys()):
            try:
                s.close()
            except OSError:
                pass
        for s in (self.udp, self.listener):
            try:
                s.close()
            except OSError:
                pass
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    # ------------------------------------------------------------------ receive loop
    def _loop(self):
        while not self._closing:
            socks = [self.udp, self.listener, self._wake_r] + list(self._tcp_buf.keys())
            try:
                r, _, _ = select.select(socks, [], [], 0.5)
            except (OSError, ValueError):
                # A TCP socket was closed under us; drop closed ones.
                for s in list(self._tcp_buf.keys()):
                    if s.fileno() < 0:
                        self._drop_tcp(s)
                continue
            for s in r:
                if s is self._wake_r:
                    try:
                        os.read(self._wake_r, 512)
                    except OSError:
                        return
                    if self._closing:
                        return
                    continue
                if s is self.udp:
                    try:
                        data, addr = self.udp.recvfrom(70000)
                    except OSError:
                        continue
                    self._on_datagram(data, addr)
                elif s is self.listener:
                    try:
                        c, addr = self.listener.accept()
                    except OSError:
                        continue
                    with self._lock:
                        self._tcp_buf[c] = bytearray()
                else:
                    self._on_tcp_readable(s)

    def _drop_tcp(self, s):
        with self._lock:
            self._tcp_buf.pop(s, None)
            for k, v in list(self._tcp.items()):
                if v is s:
                    del self._tcp[k]
        try:
            s.close()
        except OSError:
            pass

    def _on_tcp_readable(self, s):
        try:
            data = s.recv(262144)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop_tcp(s)
            return
        buf = self._tcp_buf.get(s)
        if buf is None:
            return
        buf += data
        while True:
            try:
                m, n = parse_message(bytes(buf), stream=True)
            except ValueError:
                self.garbage.append(bytes(buf))
                buf.clear()
                return
            if m is None:
                return
            del buf[:n]
            try:
                peer = s.getpeername()
            except OSError:
                peer = None
            m.transport = "tcp"
            m.source = peer
            self._dispatch(m, ("tcp", s, peer))

    def _on_datagram(self, data, addr):
        if data.strip() == b"":
            return
        try:
            m, _ = parse_message(data, stream=False)
        except ValueError:
            self.garbage.append(data)
            return
        m.transport = "udp"
        m.source = addr
        self._dispatch(m, ("udp", None, addr))

    def _dispatch(self, m, via):
        m.received_at = time.monotonic()
        if m.is_request:
            self._on_request(m, via)
            return
        br = m.branch
        with self._txn_lock:
            txn = self._txns.get(br)
        if txn is None:
            return
        with txn.cond:
            if m.status < 200:
                txn.provisional.append(m)
            elif txn.final is None:
                txn.final = m
            txn.cond.notify_all()

    def _on_request(self, m, via):
        key = (m.branch, m.method)
        if m.method == "ACK":
            return
        with self._lock:
            prev = self._answered.get(key)
            held = key in self._held
        if (prev is not None or held) and m.branch:
            self.retransmissions += 1
            if prev is not None:
                self._send_on(via, prev)
            return
        if self.responder is not None and self.responder(m) == self.HOLD:
            with self._lock:
                self._held[key] = (m, via)
            with self._recv_cond:
                self.received.append(m)
                self._recv_cond.notify_all()
            return
        status, reason, extra = self._decide(m)
        resp = self.build_response(m, status, reason, extra)
        if m.branch:
            with self._lock:
                self._answered[key] = resp
        with self._recv_cond:
            self.received.append(m)
            self._recv_cond.notify_all()
        self._send_on(via, resp)

    def _decide(self, m):
        status, reason, extra = self.auto_status, None, []
        if self.responder is not None:
            r = self.responder(m)
            if r is not None:
                if isinstance(r, int):
                    status = r
                else:
                    status = r[0]
                    reason = r[1] if len(r) > 1 else None
                    extra = list(r[2]) if len(r) > 2 else []
        return status, reason, extra

    REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden",
               404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
               415: "Unsupported Media Type", 480: "Temporarily Unavailable",
               486: "Busy Here", 488: "Not Acceptable Here", 500: "Server Internal Error",
               503: "Service Unavailable", 603: "Decline"}

    def build_response(self, req, status, reason=None, extra=None, body=b""):
        reason = reason or self.REASONS.get(status, "Unknown")
        out = ["SIP/2.0 %d %s" % (status, reason)]
        for n, v in req.headers:
            c = canon(n)
            if c in ("via", "from", "call-id", "cseq"):
                out.append("%s: %s" % (n, v))
            elif c == "to":
                if status > 100 and not re.search(r";\s*tag=", v, re.I):
                    v = v + ";tag=" + self.tag
                out.append("%s: %s" % (n, v))
        for n, v in extra or []:
            out.append("%s: %s" % (n, v))
        out.append("Content-Length: %d" % len(body))
        return ("\r\n".join(out) + "\r\n\r\n").encode("utf-8") + body

    def _send_on(self, via, data):
        kind, s, addr = via
        try:
            if kind == "udp":
                self.udp.sendto(data, addr)
            else:
                s.sendall(data)
        except OSError:
            pass

    def held_count(self):
        with self._lock:
            return len(self._held)

    def release_held(self, status=200):
        """Answers every held request with `status`."""
        with self._lock:
            held, self._held = self._held, {}
        for key, (m, via) in held.items():
            resp = self.build_response(m, status)
            with self._lock:
                self._answered[key] = resp
            self._send_on(via, resp)

    # ------------------------------------------------------------------ waiting
    def wait_request(self, predicate=None, timeout=10.0, method=None):
        """Returns the first recorded request matching method/predicate (not removed from
        `received`), waiting up to `timeout` seconds; raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._recv_cond:
            while True:
                for m in self.received:
                    if method and m.method != method:
                        continue
                    if predicate is None or predicate(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching SIP request for %s within %.1fs "
                                       "(received: %r)" % (self.aor, timeout, self.received))
                self._recv_cond.wait(left)

    def requests(self, method=None, predicate=None):
        with self._recv_cond:
            return [m for m in self.received if (method is None or m.method == method)
                    and (predicate is None or predicate(m))]

    def clear(self):
        with self._recv_cond:
            self.received.clear()

    # ------------------------------------------------------------------ sending
    def _tcp_conn(self, dest):
        with self._lock:
            s = self._tcp.get(dest)
        if s is not None and s.fileno() >= 0:
            return s
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.bind_ip, 0))
        s.settimeout(5)
        s.connect(dest)
        s.setblocking(False)
        with self._lock:
            self._tcp[dest] = s
            self._tcp_buf[s] = bytearray()
        os.write(self._wake_w, b"w")   # let the receive loop pick the socket up
        return s

    def tcp_close(self, dest):
        with self._lock:
            s = self._tcp.pop(dest, None)
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def build_request(self, method, ruri, transport="udp", from_uri=None, to_uri=None,
                      call_id=None, cseq=None, headers=None, body=b"", content_type=None,
                      branch=None, from_tag=None, max_forwards=70, contact=True):
        branch = branch or new_branch()
        from_uri = from_uri or self.aor
        to_uri = to_uri or ruri
        call_id = call_id or new_call_id(self.bind_ip)
        cseq = cseq if cseq is not None else next(self.cseq)
        tr = transport.upper()
        disp = ('"%s" ' % self.display) if self.display else ""
        lines = ["%s %s SIP/2.0" % (method, ruri),
                 "Via: SIP/2.0/%s %s:%d;branch=%s;rport" % (tr, self.bind_ip, self.port, branch),
                 "Max-Forwards: %d" % max_forwards,
                 "From: %s<%s>;tag=%s" % (disp, from_uri, from_tag or self.tag),
                 "To: <%s>" % to_uri,
                 "Call-ID: %s" % call_id,
                 "CSeq: %d %s" % (cseq, method)]
        if contact:
            lines.append("Contact: %s" % self.contact(transport))
        lines.append("User-Agent: sipxmpp-tests")
        for n, v in headers or []:
            lines.append("%s: %s" % (n, v))
        if body or content_type:
            if content_type:
                lines.append("Content-Type: %s" % content_type)
        lines.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body
        return data, branch, call_id

    def request(self, method, ruri, dest=None, transport="udp", timeout=10.0,
                return_provisional=False, **kw):
        """Sends a non-INVITE request and returns its final response (SipMessage).
        Raises TimeoutError if none arrives within `timeout` seconds."""
        dest = dest or self.proxy
        if dest is None:
            raise ValueError("no destination and no proxy")
        data, branch, _ = self.build_request(method, ruri, transport=transport, **kw)
        return self.send_request_bytes(data, branch, method, dest, transport, timeout)

    def send_request_bytes(self, data, branch, method, dest, transport="udp", timeout=10.0):
        txn = _Txn(branch, method)
        with self._txn_lock:
            self._txns[branch] = txn
        try:
            if transport == "udp":
                return self._run_udp(txn, data, dest, timeout)
            return self._run_tcp(txn, data, dest, timeout)
        finally:
            with self._txn_lock:
                self._txns.pop(branch, None)

    def _run_udp(self, txn, data, dest, timeout):
        deadline = time.monotonic() + min(timeout, 64 * T1)
        interval = T1
        self.udp.sendto(data, dest)
        next_tx = time.monotonic() + interval
        with txn.cond:
            while txn.final is None:
                now = time.monotonic()
                if now >= deadline:
                    raise TimeoutError("no final response to %s from %s:%d within %.1fs"
                                       % (txn.method, dest[0], dest[1], timeout))
                if now >= next_tx:
                    self.udp.sendto(data, dest)
                    interval = T2 if txn.provisional else min(interval * 2, T2)
                    next_tx = now + interval
                txn.cond.wait(max(0.0, min(next_tx, deadline) - now))
            return txn.final

    def _run_tcp(self, txn, data, dest, timeout):
        deadline = time.monotonic() + timeout
        s = self._tcp_conn(dest)
        view = memoryview(data)
        sent = 0
        send_error = None
        while sent < len(view):
            with txn.cond:
                if txn.final is not None:
                    break   # answered before the whole body went out (e.g. 413)
            if time.monotonic() >= deadline:
                break
            try:
                _, w, _ = select.select([], [s], [], 0.2)
            except (OSError, ValueError) as e:
                send_error = e
                break
            if not w:
                continue
            try:
                sent += s.send(view[sent:sent + 262144])
            except BlockingIOError:
                continue
            except OSError as e:
                send_error = e
                break
        with txn.cond:
            while txn.final is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no final response to %s over TCP from %s:%d within "
                                       "%.1fs (sent %d of %d bytes, send error %r)"
                                       % (txn.method, dest[0], dest[1], timeout, sent,
                                          len(data), send_error))
                txn.cond.wait(min(left, 0.2))
            return txn.final

    # ------------------------------------------------------------------ conveniences
    def register(self, registrar=None, expires=300, transport="udp", timeout=10.0):
        registrar = registrar or self.proxy
        return self.request("REGISTER", "sip:%s" % self.domain, dest=registrar,
                            transport=transport, to_uri=self.aor,
                            headers=[("Expires", str(expires))], timeout=timeout,
                            call_id="reg-%s-%d@%s" % (self.tag, self.port, self.bind_ip))

    def send_message(self, to_uri, body, content_type="text/plain;charset=UTF-8",
                     headers=None, transport="udp", dest=None, from_uri=None, ruri=None,
                     call_id=None, timeout=10.0):
        """MESSAGE to `to_uri` (R-URI `ruri` or to_uri). body: bytes or str (UTF-8).
        Returns the final response."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        return self.request("MESSAGE", ruri or to_uri, dest=dest, transport=transport,
                            from_uri=from_uri, to_uri=to_uri, call_id=call_id,
                            headers=headers, body=body, content_type=content_type,
                            timeout=timeout, contact=False)

    def options(self, ruri, dest=None, transport="udp", timeout=5.0):
        return self.request("OPTIONS", ruri, dest=dest, transport=transport, timeout=timeout)

    # ------------------------------------------------------------------ presence
    def publish(self, body, expires=3600, etag=None, transport="udp", dest=None,
                timeout=10.0):
        """PUBLISH (RFC 3903) of a PIDF document for this UA's own AOR. body: str or bytes
        (None with etag: a refresh; expires=0 with etag: removal). Returns the final
        response; its SIP-ETag header names the publication."""
        headers = [("Event", "presence"), ("Expires", str(expires))]
        if etag:
            headers.append(("SIP-If-Match", etag))
        if isinstance(body, str):
            body = body.encode("utf-8")
        return self.request("PUBLISH", self.aor, dest=dest, transport=transport,
                            to_uri=self.aor, headers=headers, body=body or b"",
                            content_type="application/pidf+xml" if body else None,
                            timeout=timeout, contact=False)

    def subscribe(self, target, expires=600, transport="udp", dest=None, event="presence",
                  timeout=10.0):
        """An initial SUBSCRIBE (RFC 6665) as a watcher of `target`. Returns a Subscription
        whose response is the final answer; NOTIFYs in its dialog are answered by the
        receive loop (auto_status / responder) and collected by Subscription.notifies()."""
        sub = Subscription(self, target, event, transport, dest)
        sub.response = sub.send(expires, timeout=timeout)
        return sub

    def notifies(self, call_id=None):
        return self.requests("NOTIFY", lambda m: call_id is None or m.call_id == call_id)


def _tag_of(value):
    m = re.search(r";\s*tag=([^;>\s]+)", value or "", re.I)
    return m.group(1) if m else None


def _addr_of(uri_value):
    """(host, port, transport) of the SIP URI in a header value or a bare URI."""
    m = re.search(r"sips?:(?:[^@>;]*@)?([^;>:]+)(?::(\d+))?([^>]*)", uri_value)
    if not m:
        raise ValueError("no SIP URI in %r" % uri_value)
    tr = re.search(r";\s*transport=(\w+)", m.group(3) or "", re.I)
    return m.group(1), int(m.group(2) or 5060), (tr.group(1).lower() if tr else None)


class Subscription:
    """The watcher's side of one SUBSCRIBE dialog: its identifiers, the route set and remote
    target learnt from the 2xx (RFC 3261 §12.1.2), and the NOTIFYs received in it."""

    def __init__(self, ua, target, event, transport, dest):
        self.ua = ua
        self.target = target
        self.event = event
        self.transport = transport
        self.dest = dest or ua.proxy
        self.call_id = new_call_id(ua.bind_ip)
        self.from_tag = new_tag()
        self.to_tag = None
        self.route = []          # route set, in the order the requests carry it
        self.remote_target = None
        self.response = None
        self.responses = []

    def send(self, expires, timeout=10.0):
        """SUBSCRIBE with `expires` in this dialog (the initial one while no to-tag is
        known). Returns the final response and learns the dialog from a 2xx."""
        headers = [("Event", self.event), ("Expires", str(expires)),
                   ("Accept", "application/pidf+xml")]
        ruri, dest = self.target, self.dest
        to_uri = self.target
        if self.to_tag:
            ruri = self.remote_target or self.target
            for r in self.route:
                headers.append(("Route", r))
            if self.route:
                h, p, _ = _addr_of(self.route[0])
                dest = (h, p)
            elif self.remote_target:
                h, p, _ = _addr_of(self.remote_target)
                dest = (h, p)
        data, branch, _ = self.ua.build_request(
            "SUBSCRIBE", ruri, transport=self.transport, to_uri=to_uri,
            call_id=self.call_id, headers=headers, from_tag=self.from_tag)
        if self.to_tag:
            data = data.replace(("To: <%s>" % to_uri).encode(),
                                ("To: <%s>;tag=%s" % (to_uri, self.to_tag)).encode(), 1)
        r = self.ua.send_request_bytes(data, branch, "SUBSCRIBE", dest, self.transport,
                                       timeout)
        self.responses.append(r)
        if 200 <= r.status < 300 and not self.to_tag:
            self.to_tag = _tag_of(r.header("to"))
            rr = []
            for v in r.headers_all("record-route"):
                rr += [x.strip() for x in re.split(r",(?=\s*<)", v) if x.strip()]
            self.route = list(reversed(rr))
            contact = r.header("contact")
            if contact:
                m = re.search(r"<([^>]+)>", contact)
                self.remote_target = m.group(1) if m else contact.split(";")[0].strip()
        return r

    def refresh(self, expires=600, timeout=10.0):
        return self.send(expires, timeout=timeout)

    def unsubscribe(self, timeout=10.0):
        return self.send(0, timeout=timeout)

    def notifies(self):
        return self.ua.notifies(self.call_id)

    def wait_notify(self, predicate=None, timeout=10.0):
        """The first NOTIFY of this dialog matching predicate(NOTIFY)."""
        return self.ua.wait_request(lambda m: m.call_id == self.call_id
                                    and (predicate is None or predicate(m)),
                                    timeout=timeout, method="NOTIFY")


def sub_state(notify):
    """(state, {param: value}) of a NOTIFY's Subscription-State."""
    v = notify.header("subscription-state") or ""
    parts = [p.strip() for p in v.split(";")]
    params = {}
    for p in parts[1:]:
        k, _, val = p.partition("=")
        params[k.strip().lower()] = val.strip()
    return parts[0].lower(), params


NS_PIDF = "urn:ietf:params:xml:ns:pidf"
NS_DM = "urn:ietf:params:xml:ns:pidf:data-model"
NS_RPID = "urn:ietf:params:xml:ns:pidf:rpid"


def pidf(entity, basic="open", activity=None, note=None, lang=None, tuple_id="t1",
         person_id="p1", idle=False):
    """A PIDF document (RFC 3863) with an RPID person element (RFC 4480): basic open/closed,
    an optional activity ("away", "busy", "on-the-phone", ...), an optional note."""
    from xml.sax.saxutils import escape, quoteattr
    lang_attr = " xml:lang=%s" % quoteattr(lang) if lang else ""
    acts = ""
    if activity:
        acts = "<rpid:activities><rpid:%s/></rpid:activities>" % activity
    idle_el = "<rpid:user-input>idle</rpid:user-input>" if idle else ""
    note_el = "<note%s>%s</note>" % (lang_attr, escape(note)) if note else ""
    dm_note = "<dm:note%s>%s</dm:note>" % (lang_attr, escape(note)) if note else ""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<presence xmlns="%s" xmlns:dm="%s" xmlns:rpid="%s" entity=%s>'
            '<tuple id=%s><status><basic>%s</basic></status>%s</tuple>'
            '<dm:person id=%s>%s%s%s</dm:person>'
            '</presence>' % (NS_PIDF, NS_DM, NS_RPID, quoteattr(entity), quoteattr(tuple_id),
                             basic, note_el, quoteattr(person_id), acts, idle_el, dm_note))


def parse_pidf(body):
    """A summary of a PIDF body: {"tuples": [{"id", "basic", "priority", "notes":
    [(lang, text)], "show"}], "activities": [..], "idle": bool, "notes": [(lang, text)]}."""
    import xml.etree.ElementTree as ET
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    root = ET.fromstring(body)
    xl = "{http://www.w3.org/XML/1998/namespace}lang"
    out = {"entity": root.attrib.get("entity"), "tuples": [], "activities": [],
           "idle": False, "notes": []}
    for t in root.findall("{%s}tuple" % NS_PIDF):
        b = t.find("{%s}status/{%s}basic" % (NS_PIDF, NS_PIDF))
        c = t.find("{%s}contact" % NS_PIDF)
        show = t.find("{%s}status/{jabber:client}show" % NS_PIDF)
        out["tuples"].append({
            "id": t.attrib.get("id"),
            "basic": b.text.strip() if b is not None and b.text else None,
            "priority": c.attrib.get("priority") if c is not None else None,
            "notes": [(n.attrib.get(xl), n.text or "")
                      for n in t.findall("{%s}note" % NS_PIDF)],
            "show": show.text if show is not None else None})
    for a in root.iter("{%s}activities" % NS_RPID):
        for c in a:
            out["activities"].append(c.tag.split("}")[-1])
    for u in root.iter("{%s}user-input" % NS_RPID):
        if (u.text or "").strip() == "idle":
            out["idle"] = True
    for n in root.iter():
        if n.tag in ("{%s}note" % NS_PIDF, "{%s}note" % NS_DM):
            out["notes"].append((n.attrib.get(xl), n.text or ""))
    return out


def send_raw(data, dest, transport="udp", bind_ip="127.0.0.1", wait=0.5):
    """Sends raw bytes (a torture message) and returns whatever came back within `wait`
    seconds (list of bytes chunks). Over TCP the connection is closed afterwards."""
    got = []
    if transport == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((bind_ip, 0))
            s.sendto(data, dest)
            end = time.monotonic() + wait
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    break
                r, _, _ = select.select([s], [], [], left)
                if not r:
                    break
                try:
                    got.append(s.recv(70000))
                except OSError:
                    break
        finally:
            s.close()
        return got
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(5)
        s.bind((bind_ip, 0))
        s.connect(dest)
        try:
            s.sendall(data)
        except OSError:
            return got
        end = time.monotonic() + wait
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([s], [], [], left)
            if not r:
                break
            try:
                chunk = s.recv(70000)
            except OSError:
                break
            if not chunk:
                break
            got.append(chunk)
    finally:
        s.close()
    return got


def status_of(chunks):
    """Status codes found at the start of response chunks."""
    out = []
    for c in chunks:
        for m in re.finditer(rb"SIP/2\.0 (\d{3}) ", c):
            out.append(int(m.group(1)))
    return out
