"""A scripted fake edge server for the hostile-input tests: a Python socket server speaking
XEP-0114 well enough to accept the gateway's component handshake, then either behaving (it
routes the gateway's barrier and keepalive iqs back, as a real server does, and records the
<message/> stanzas it receives) or sending the hostile bytes of a script.

The real edge servers (Prosody, ejabberd) cannot be made to send malformed or forbidden XML,
which is why this exists. Everything runs on 127.0.0.1 in daemon threads; stop() closes the
listening socket and every connection."""

import hashlib
import queue
import re
import socket
import threading
import time

NS_STREAMS = "http://etherx.jabber.org/streams"

HEADER = ("<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
          "xmlns:stream='%s' id='%s' from='%s'>")


def header(domain, sid="fake1"):
    return (HEADER % (NS_STREAMS, sid, domain)).encode()


class Script:
    """What the next connection does instead of behaving.

    at='header': `data` replaces the server's stream header (sent after the gateway's).
    at='session': the handshake is accepted, then `data` is sent.
    at='after-message': the handshake is accepted; `data` is sent once the gateway has sent a
    <message/> (which is recorded in Result.received) and before its barrier is answered.
    `data` may be bytes or a callable returning bytes (built lazily, they can be large)."""

    def __init__(self, data, at="session"):
        self.data = data
        self.at = at


class Result:
    def __init__(self):
        self.received = b""
        self.closed = threading.Event()   # the gateway closed the TCP connection
        self.accepted = threading.Event() # the handshake of the scripted session was accepted
        self.closed_at = None


class FakeEdge:
    def __init__(self, domain="contoso.example", secret="fake-secret"):
        self.domain = domain
        self.secret = secret
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.scripts = queue.Queue()
        self.messages = []        # (time, raw <message/> text) received in good sessions
        self.iqs = []             # (time, raw <iq/> text) received in good sessions
        self.sessions = []        # monotonic times at which a good session was accepted
        self.handshakes_refused = 0
        self.current = None       # the socket of the current good session
        self._stop = False
        self._conns = []
        threading.Thread(target=self._accept_loop, daemon=True).start()

    # -- control -------------------------------------------------------------------------

    def run_next(self, script):
        """The next connection runs `script`; returns its Result."""
        res = Result()
        self.scripts.put((script, res))
        return res

    def kick(self):
        """Ends the current good session (</stream:stream> and close), as a restarting
        server would."""
        with self.lock:
            s, self.current = self.current, None
        if s is None:
            return False
        try:
            s.sendall(b"</stream:stream>")
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return True

    def wait_session(self, after, timeout):
        """Waits until a good session was accepted after monotonic time `after`; returns
        its time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                later = [t for t in self.sessions if t > after]
            if later:
                return later[0]
            time.sleep(0.02)
        raise TimeoutError("no accepted session within %.1fs" % timeout)

    def bodies(self):
        with self.lock:
            msgs = list(self.messages)
        out = []
        for _, m in msgs:
            b = re.search(r"<body>(.*?)</body>", m, re.S)
            if b:
                out.append(b.group(1))
        return out

    def iq_ids(self):
        with self.lock:
            iqs = list(self.iqs)
        return [m.group(1) for m in (re.search(r"\bid='([^']*)'", t) for _, t in iqs) if m]

    def stop(self):
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass
        for c in list(self._conns):
            try:
                c.close()
            except OSError:
                pass

    # -- connections ---------------------------------------------------------------------

    def _accept_loop(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(c)
            try:
                script, res = self.scripts.get_nowait()
            except queue.Empty:
                script, res = None, None
            threading.Thread(target=self._serve, args=(c, script, res), daemon=True).start()

    @staticmethod
    def _read_until(c, buf, pattern, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, buf)
            if m:
                return buf, m
            if time.monotonic() >= deadline:
                raise TimeoutError(pattern)
            c.settimeout(max(0.05, deadline - time.monotonic()))
            d = c.recv(65536)
            if not d:
                raise ConnectionError("closed")
            buf += d

    def _serve(self, c, script, res):
        try:
            self._serve2(c, script, res)
        except (OSError, TimeoutError, ConnectionError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def _hostile(self, c, data, res):
        """Sends data from a thread (the gateway may close midway) while recording what the
        gateway writes until it closes the connection."""
        if callable(data):
            data = data()

        def send():
            try:
                c.sendall(data)
            except OSError:
                pass
        threading.Thread(target=send, daemon=True).start()
        c.settimeout(30)
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                res.received += d
        except OSError:
            pass
        res.closed_at = time.monotonic()
        res.closed.set()

    def _serve2(self, c, script, res):
        buf, m = self._read_until(c, b"", rb"<stream:stream[^>]*>")
        buf = buf[m.end():]
        if script is not None and script.at == "header":
            self._hostile(c, script.data, res)
            return
        sid = "s%d" % int(time.monotonic() * 1000)
        c.sendall(header(self.domain, sid))
        buf, m = self._read_until(c, buf, rb"<handshake>([0-9a-f]+)</handshake>")
        want = hashlib.sha1((sid + self.secret).encode()).hexdigest()
        if m.group(1).decode() != want:
            self.handshakes_refused += 1
            c.sendall(b"<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-"
                      b"streams'/></stream:error></stream:stream>")
            return
        buf = buf[m.end():]
        c.sendall(b"<handshake/>")
        if res is not None:
            res.accepted.set()
        if script is not None and script.at == "after-message":
            buf, m = self._read_until(c, buf, rb"<message\b.*?</message>", timeout=30)
            res.received += buf
        if script is not None:
            self._hostile(c, script.data, res)
            return
        with self.lock:
            self.current = c
            self.sessions.append(time.monotonic())
        self._session(c, buf)

    def _session(self, c, buf):
        c.settimeout(None)
        stanza = re.compile(rb"<(message|iq)\b[^>]*?(/>|>.*?</\1>)", re.S)
        while True:
            while True:
                m = stanza.search(buf)
                if not m:
                    break
                text = m.group(0).decode("utf-8", "replace")
                buf = buf[m.end():]
                if m.group(1) == b"iq":
                    with self.lock:
                        self.iqs.append((time.monotonic(), text))
                    # Route our own barrier / keepalive iq back, as the server does.
                    if re.search(r"to='%s'" % re.escape(self.domain), text) and \
                            re.search(r"id='sx-", text):
                        try:
                            c.sendall(text.encode())
                        except OSError:
                            return
                else:
                    with self.lock:
                        self.messages.append((time.monotonic(), text))
            if b"</stream:stream>" in buf:
                return
            try:
                d = c.recv(65536)
            except OSError:
                return
            if not d:
                return
            buf += d
