"""XMPP test clients usable synchronously from pytest.

XmppClient: a slixmpp ClientXMPP run on its own asyncio loop in a background thread. Plain
c2s on loopback (no STARTTLS, SASL PLAIN allowed unencrypted). Every <message/> received,
including type='error', is recorded as a Msg with its fields and raw XML.

RawComponent: a bare XEP-0114 component connection over a socket, for sending stanzas a
well-behaved component library would refuse to send (forged `from`).
"""

import asyncio
import hashlib
import re
import select
import socket
import threading
import time
import xml.etree.ElementTree as ET

NS_CLIENT = "jabber:client"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_RECEIPTS = "urn:xmpp:receipts"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


class Msg:
    """A received <message/>: attributes, main children, error condition, raw XML."""

    def __init__(self, xml_text):
        self.xml = xml_text
        self.el = ET.fromstring(xml_text)
        a = self.el.attrib
        self.frm = a.get("from")
        self.to = a.get("to")
        self.type = a.get("type", "normal")
        self.id = a.get("id")
        self.lang = a.get(XML_LANG)
        self.body = self._text("body")
        self.subject = self._text("subject")
        self.thread = self._text("thread")
        self.error_type = None
        self.error_condition = None
        self.error_text = None
        err = self._child("error")
        if err is not None:
            self.error_type = err.attrib.get("type")
            for c in err:
                tag = c.tag.split("}")[-1]
                ns = c.tag[1:].split("}")[0] if c.tag.startswith("{") else ""
                if ns == NS_STANZAS and tag == "text":
                    self.error_text = c.text
                elif ns == NS_STANZAS:
                    self.error_condition = tag
        rec = self.el.find("{%s}received" % NS_RECEIPTS)
        self.receipt_for = rec.attrib.get("id") if rec is not None else None
        self.receipt_requested = self.el.find("{%s}request" % NS_RECEIPTS) is not None
        self.received_at = time.monotonic()

    def _child(self, name):
        for ns in (NS_CLIENT, ""):
            el = self.el.find("{%s}%s" % (ns, name) if ns else name)
            if el is not None:
                return el
        return None

    def _text(self, name):
        el = self._child(name)
        if el is None:
            return None
        return el.text or ""

    def __repr__(self):
        return "<Msg %s from=%s type=%s id=%s body=%r cond=%s>" % (
            self.to, self.frm, self.type, self.id, (self.body or "")[:40],
            self.error_condition)


class Pres(Msg):
    """A received <presence/>: type ('available' when absent), show, priority, the
    <status/> elements as [(xml:lang or None, text)], the error condition, raw XML."""

    def __init__(self, xml_text):
        super().__init__(xml_text)
        self.type = self.el.attrib.get("type", "available")
        self.show = self._text("show")
        pr = self._text("priority")
        self.priority = int(pr) if pr not in (None, "") else None
        self.statuses = []
        for st in (self.el.findall("{%s}status" % NS_CLIENT) + self.el.findall("status")):
            self.statuses.append((st.attrib.get(XML_LANG), st.text or ""))
        self.status = self.statuses[0][1] if self.statuses else None

    @property
    def bare_from(self):
        return (self.frm or "").split("/")[0]

    def __repr__(self):
        return "<Pres %s from=%s type=%s show=%s status=%r cond=%s>" % (
            self.to, self.frm, self.type, self.show, self.status, self.error_condition)


class _Loop:
    """One asyncio loop in a daemon thread."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True, name="xmpp-loop")
        self.thread.start()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro_fn, timeout):
        """Runs coroutine function coro_fn() on the loop; waits up to timeout."""
        fut = asyncio.run_coroutine_threadsafe(coro_fn(), self.loop)
        return fut.result(timeout)

    def stop(self):
        async def drain():
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self.loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(drain(), self.loop).result(5)
            except Exception:
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.loop.is_running():
            try:
                self.loop.close()
            except Exception:
                pass


class XmppClient:
    """A c2s client. connect() returns once the session started (initial presence sent
    unless available=False)."""

    def __init__(self, jid, password, host="127.0.0.1", port=5222, auto_roster=True):
        """auto_roster=False: subscription requests are neither approved nor returned
        automatically (the test answers them with send_presence)."""
        self.auto_roster = auto_roster
        self.presences = []        # every <presence/> received (Pres), in arrival order
        self.jid = jid
        self.password = password
        self.host = host
        self.port = port
        self.messages = []
        self.iqs = []              # iq results/errors received (Msg objects)
        self._iq_waiters = {}      # id -> asyncio future (loop thread only)
        self._cond = threading.Condition()
        self._loop = _Loop()
        self.xmpp = None
        self.disconnects = 0

    # ------------------------------------------------------------------ lifecycle
    def connect(self, available=True, timeout=15.0):
        from slixmpp import ClientXMPP
        from slixmpp.xmlstream.handler import Callback
        from slixmpp.xmlstream.matcher import MatchXPath

        async def setup():
            x = ClientXMPP(self.jid, self.password,
                           plugin_config={"feature_mechanisms": {"unencrypted_plain": True}})
            x.register_handler(Callback("sx-all-messages",
                                        MatchXPath("{%s}message" % NS_CLIENT),
                                        self._on_message))
            x.register_handler(Callback("sx-iq-replies", MatchXPath("{%s}iq" % NS_CLIENT),
                                        self._on_iq))
            x.register_handler(Callback("sx-all-presence",
                                        MatchXPath("{%s}presence" % NS_CLIENT),
                                        self._on_presence))
            if not self.auto_roster:
                x.auto_authorize = None
                x.auto_subscribe = False
            started = asyncio.get_running_loop().create_future()

            def on_start(_ev):
                if not self.auto_roster:
                    # A roster request makes this session "interested": Prosody then hands
                    # it subscription stanzas (subscribed, unsubscribed) as they come.
                    x.send_raw("<iq type='get' id='sx-roster'>"
                               "<query xmlns='jabber:iq:roster'/></iq>")
                if available:
                    x.send_presence()
                if not started.done():
                    started.set_result(True)

            def on_fail(ev):
                if not started.done():
                    started.set_exception(RuntimeError("XMPP login failed for %s: %s"
                                                       % (self.jid, ev)))

            def on_disc(_ev):
                self.disconnects += 1

            x.add_event_handler("session_start", on_start)
            x.add_event_handler("failed_auth", on_fail)
            x.add_event_handler("connection_failed", on_fail)
            x.add_event_handler("disconnected", on_disc)
            self.xmpp = x
            x.connect((self.host, self.port), use_ssl=False, force_starttls=False,
                      disable_starttls=True)
            try:
                await asyncio.wait_for(started, timeout)
                # Round trip to the server: once answered, the initial presence sent before
                # it has been processed, so messages to this user reach this session.
                await self._ping_server(x, timeout)
            except BaseException:
                x.abort()
                raise
            return True

        self._loop.call(setup, timeout + 2)
        return self

    async def _ping_server(self, x, timeout):
        iq_id = "sx-sync-%d" % id_counter()
        fut = asyncio.get_running_loop().create_future()
        self._iq_waiters[iq_id] = fut
        try:
            x.send_raw("<iq type='get' id='%s' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>"
                       % (iq_id, xattr(x.boundjid.domain)))
            await asyncio.wait_for(fut, timeout)
        finally:
            self._iq_waiters.pop(iq_id, None)

    def sync(self, timeout=10.0):
        """Waits until the server has processed everything this client sent so far."""
        async def go():
            await self._ping_server(self.xmpp, timeout)
        self._loop.call(go, timeout + 2)

    def _on_message(self, stanza):
        try:
            m = Msg(str(stanza))
        except ET.ParseError:
            return
        with self._cond:
            self.messages.append(m)
            self._cond.notify_all()

    def _on_presence(self, stanza):
        try:
            p = Pres(str(stanza))
        except ET.ParseError:
            return
        with self._cond:
            self.presences.append(p)
            self._cond.notify_all()

    def send_presence(self, to=None, ptype=None, show=None, status=None, priority=None,
                      lang=None, statuses=None, id=None):
        """Sends a <presence/> built as raw XML. statuses: [(lang or None, text)]."""
        attrs = ""
        if to:
            attrs += ' to="%s"' % xattr(to)
        if ptype:
            attrs += ' type="%s"' % xattr(ptype)
        if id:
            attrs += ' id="%s"' % xattr(id)
        if lang:
            attrs += ' xml:lang="%s"' % xattr(lang)
        inner = ""
        if show:
            inner += "<show>%s</show>" % xtext(show)
        for lg, text in (statuses or ([(None, status)] if status is not None else [])):
            la = ' xml:lang="%s"' % xattr(lg) if lg else ""
            inner += "<status%s>%s</status>" % (la, xtext(text))
        if priority is not None:
            inner += "<priority>%d</priority>" % int(priority)
        self.send_raw("<presence%s>%s</presence>" % (attrs, inner))

    def wait_presence(self, predicate=None, timeout=10.0, consume=True):
        """The first received presence matching predicate(Pres); removed when consume."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, p in enumerate(self.presences):
                    if predicate is None or predicate(p):
                        if consume:
                            del self.presences[i]
                        return p
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("%s: no matching presence within %.1fs; have %r"
                                       % (self.jid, timeout, self.presences[-10:]))
                self._cond.wait(left)

    def all_presences(self, predicate=None):
        with self._cond:
            return [p for p in self.presences if predicate is None or predicate(p)]

    def _on_iq(self, stanza):
        try:
            m = Msg(str(stanza))
        except ET.ParseError:
            return
        if m.type not in ("result", "error"):
            return
        fut = self._iq_waiters.get(m.id)
        if fut is not None:
            if not fut.done():
                fut.set_result(m)
            return
        with self._cond:
            self.iqs.append(m)
            self._cond.notify_all()

    def wait_iq(self, iq_id, timeout=10.0):
        """The iq result or error with this id (Msg; .type, .error_condition, .xml)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self.iqs:
                    if m.id == iq_id:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("%s: no iq reply %s within %.1fs"
                                       % (self.jid, iq_id, timeout))
                self._cond.wait(left)

    def disconnect(self, timeout=5.0):
        if self.xmpp is None:
            return

        async def bye():
            x = self.xmpp
            try:
                await asyncio.wait_for(x.disconnect(wait=1.0), timeout)
            except Exception:
                x.abort()

        try:
            self._loop.call(bye, timeout + 2)
        except Exception:
            pass

    def close(self):
        if getattr(self, "_closed", False):
            return
        self._closed = True
        try:
            self.disconnect()
        finally:
            self._loop.stop()

    def is_connected(self):
        x = self.xmpp
        return bool(x is not None and x.transport is not None)

    # ------------------------------------------------------------------ sending
    def _send_now(self, fn):
        async def run():
            fn(self.xmpp)
        self._loop.call(run, 5)

    def send_raw(self, xml_text):
        self._send_now(lambda x: x.send_raw(xml_text))

    def send_message(self, to, body=None, mtype="chat", id=None, subject=None, thread=None,
                     lang=None, extra_xml="", request_receipt=False):
        """Sends a <message/> built as raw XML (exact control over every attribute).
        Returns its id."""
        mid = id or "m%x%x" % (int(time.time() * 1e6) & 0xffffffff, id_counter())
        attrs = ' to="%s" type="%s" id="%s"' % (xattr(to), xattr(mtype), xattr(mid))
        if lang:
            attrs += ' xml:lang="%s"' % xattr(lang)
        inner = ""
        if subject is not None:
            inner += "<subject>%s</subject>" % xtext(subject)
        if body is not None:
            inner += "<body>%s</body>" % xtext(body)
        if thread is not None:
            inner += "<thread>%s</thread>" % xtext(thread)
        if request_receipt:
            inner += '<request xmlns="urn:xmpp:receipts"/>'
        inner += extra_xml
        self.send_raw("<message%s>%s</message>" % (attrs, inner))
        return mid

    def presence(self, available=True, to=None, ptype=None, status=None):
        def go(x):
            if available and ptype is None:
                x.send_presence(pto=to, pstatus=status)
            else:
                x.send_presence(pto=to, ptype=ptype or "unavailable")
        self._send_now(go)

    # ------------------------------------------------------------------ receiving
    def wait_message(self, predicate=None, timeout=10.0, consume=True):
        """The first received message matching predicate(Msg); removed from the queue when
        consume. Raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, m in enumerate(self.messages):
                    if predicate is None or predicate(m):
                        if consume:
                            del self.messages[i]
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("%s: no matching message within %.1fs; have %r"
                                       % (self.jid, timeout, self.messages[-10:]))
                self._cond.wait(left)

    def all_messages(self, predicate=None):
        with self._cond:
            return [m for m in self.messages if predicate is None or predicate(m)]

    def clear(self):
        with self._cond:
            self.messages.clear()


_ctr = [0]
_ctr_lock = threading.Lock()


def id_counter():
    with _ctr_lock:
        _ctr[0] += 1
        return _ctr[0]


def xtext(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xattr(s):
    return xtext(s).replace('"', "&quot;").replace("'", "&apos;")


class RawComponent:
    """A XEP-0114 component connection on a plain socket (jabber:component:accept)."""

    def __init__(self, domain, secret, host="127.0.0.1", port=5347, timeout=10.0):
        self.domain = domain
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.sock.sendall(("<?xml version='1.0'?><stream:stream "
                           "xmlns='jabber:component:accept' "
                           "xmlns:stream='http://etherx.jabber.org/streams' to='%s'>"
                           % domain).encode())
        head = self._read_until(rb"<stream:stream[^>]*>", timeout)
        m = re.search(rb"""id=['"]([^'"]+)['"]""", head)
        if not m:
            raise RuntimeError("no stream id from the server: %r" % head[:300])
        digest = hashlib.sha1(m.group(1) + secret.encode()).hexdigest()
        self.sock.sendall(("<handshake>%s</handshake>" % digest).encode())
        self._read_until(rb"<handshake\s*/>|<handshake>\s*</handshake>", timeout)

    def _read_until(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.buf)
            if m:
                out = self.buf[:m.end()]
                self.buf = self.buf[m.end():]
                return out
            if b"</stream:stream>" in self.buf or b"<stream:error" in self.buf:
                raise RuntimeError("component stream failed: %r" % self.buf[:500])
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("component: waiting for %r, have %r"
                                   % (pattern, self.buf[:300]))
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise RuntimeError("component: connection closed; have %r"
                                       % self.buf[:500])
                self.buf += chunk

    def send(self, xml_text):
        self.sock.sendall(xml_text.encode("utf-8"))

    def read_for(self, seconds):
        """Everything the server sends within `seconds` (bytes); stops at EOF."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                break
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            self.buf += chunk
        out, self.buf = self.buf, b""
        return out

    def close(self):
        try:
            self.sock.sendall(b"</stream:stream>")
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
