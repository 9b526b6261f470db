"""Fixtures for the integration tests: real Prosody, real Kamailio and sipxmppd on
127.0.0.1 with random ports, torn down by PID whatever happens.

Environment:
  SX_BUILD_DIR      build directory holding sipxmppd (default: <repo>/build). When set and
                    the binary is missing, gateway tests fail; when unset they are skipped.
  SX_GATEWAY_WRAPPER  command put in front of sipxmppd (e.g. "valgrind -q").
  SX_KEEP_TMP=1     keep the temporary directories (configs and logs) for inspection.
  SX_TORTURE_DIR    the SIP torture corpus (default ../shared/sip-torture beside the repo).
"""

import os
import shutil
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import servers  # noqa: E402
from servers import Gateway, Kamailio, Prosody, free_port  # noqa: E402
from sipua import SipUA  # noqa: E402
from xmppclient import XmppClient  # noqa: E402

INTERNAL = "contoso.example"
EXTERNAL = "fabrikam.example"
EVIL = "evil.example"
EVIL_SECRET = "evil-secret"
COMPONENT_SECRET = "component-secret-1"
# Accounts on the external (XMPP) side, localparts as stored (XEP-0106-escaped):
# "d\\26j" is the XMPP user whose unescaped localpart is "d&j".
USERS = {"alice": "pw", "carol": "pw", "d\\26j": "pw", "x\\2fy": "pw", "erin": "pw",
         "frank": "pw"}

# Access set-up for the gateway's store (SPEC §5): XMPP enabled for everyone, fabrikam a
# federated partner. Run with sipxmppctl before the daemon starts, when sipxmppctl is built.
CTL_SETUP = [
    ["policy", "set", "global", "--xmpp"],
    ["partner", "new", EXTERNAL, "--type", "federated"],
]


def gateway_binary():
    return os.path.join(servers.build_dir_from_env(), "sipxmppd")


def need_gateway():
    if os.access(gateway_binary(), os.X_OK):
        return
    if os.environ.get("SX_BUILD_DIR"):
        pytest.fail("sipxmppd not found at %s" % gateway_binary())
    pytest.skip("sipxmppd not built (set SX_BUILD_DIR)")


def make_tmp(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def drop_tmp(path):
    if os.environ.get("SX_KEEP_TMP") == "1":
        sys.stderr.write("\nkept %s\n" % path)
        return
    shutil.rmtree(path, ignore_errors=True)


class Stack:
    """Prosody + Kamailio (+ sipxmppd) sharing pre-allocated ports."""

    def __init__(self, tmpdir):
        self.tmp = tmpdir
        self.gw_sip_port = free_port()
        self.gw_http_port = free_port()
        self.prosody = Prosody()
        self.kamailio = Kamailio()
        self.gateway = None
        self._clients = []
        self._uas = []

    def start_servers(self, prosody_kw=None, kamailio_kw=None):
        kw = dict(internal_domain=INTERNAL, external_domain=EXTERNAL,
                  component_secret=COMPONENT_SECRET, users=USERS,
                  extra_components={EVIL: EVIL_SECRET})
        kw.update(prosody_kw or {})
        self.prosody.start(self.tmp, **kw)
        self.kamailio.start(self.tmp, gateway_addr="127.0.0.1:%d" % self.gw_sip_port,
                            domain=INTERNAL, **(kamailio_kw or {}))
        return self

    def start_gateway(self, config_overrides=None, ctl_setup=None, **kw):
        need_gateway()
        if ctl_setup is None:
            ctl = os.path.join(servers.build_dir_from_env(), "sipxmppctl")
            ctl_setup = CTL_SETUP if os.access(ctl, os.X_OK) else []
        self.gateway = Gateway()
        self.gateway.start(self.tmp, prosody=self.prosody, kamailio=self.kamailio,
                           sip_port=self.gw_sip_port, http_port=self.gw_http_port,
                           domains=INTERNAL, config_overrides=config_overrides,
                           ctl_setup=ctl_setup, **kw)
        return self.gateway

    @property
    def registrar(self):
        return ("127.0.0.1", self.kamailio.port)

    def ua(self, user, domain=INTERNAL, register=True, **kw):
        ua = SipUA(user, domain, proxy=self.registrar, **kw)
        self._uas.append(ua)
        if register:
            r = ua.register()
            assert r.status == 200, "REGISTER %s -> %s %s" % (user, r.status, r.reason)
        return ua

    def xmpp(self, localpart, password="pw", available=True, domain=EXTERNAL, **kw):
        c = XmppClient("%s@%s" % (localpart, domain), password, "127.0.0.1",
                       self.prosody.c2s_port, **kw)
        self._clients.append(c)
        c.connect(available=available)
        return c

    def close_clients(self):
        for c in self._clients:
            try:
                c.close()
            except Exception:
                pass
        self._clients = []
        for ua in self._uas:
            try:
                ua.close()
            except Exception:
                pass
        self._uas = []

    def stop(self, check_gateway=True):
        errors = []
        try:
            self.close_clients()
        finally:
            if self.gateway is not None:
                try:
                    self.gateway.stop(check=check_gateway)
                except AssertionError as e:
                    errors.append(e)
                except Exception as e:  # still stop the others
                    errors.append(e)
            self.kamailio.stop()
            self.prosody.stop()
        if errors:
            raise errors[0]


def _stack(prefix, with_gateway, config_overrides=None, prosody_kw=None, ctl_setup=None,
           gateway_env=None, kamailio_kw=None):
    tmp = make_tmp(prefix)
    st = Stack(tmp)
    try:
        st.start_servers(prosody_kw=prosody_kw, kamailio_kw=kamailio_kw)
        if with_gateway:
            env = {k: v.replace("{tmp}", tmp) for k, v in (gateway_env or {}).items()}
            st.start_gateway(config_overrides=config_overrides, ctl_setup=ctl_setup,
                             extra_env=env)
    except BaseException:
        try:
            st.stop(check_gateway=False)
        finally:
            drop_tmp(tmp)
        raise
    return st, tmp


def scale_fixture(prefix, clients_cls, *args, **kw):
    """Starts a ScaleStack(tmp, *args, **kw) (tests/lib/scale.py) and clients_cls(stack),
    yields (stack, clients), then closes the clients, stops the stack and drops tmp."""
    from scale import ScaleStack
    tmp = make_tmp(prefix)
    st = ScaleStack(tmp, *args, **kw)
    cl = None
    try:
        st.start()
        cl = clients_cls(st)
        yield st, cl
    finally:
        try:
            if cl:
                cl.close()
        finally:
            try:
                st.stop()
            finally:
                drop_tmp(tmp)


def stack_fixture(prefix, **kw):
    """A generator for a fixture: a stack started with kw (as _stack), stopped after."""
    st, tmp = _stack(prefix, **kw)
    try:
        yield st
    finally:
        try:
            st.stop()
        finally:
            drop_tmp(tmp)


@pytest.fixture(scope="module")
def servers_only():
    """Prosody + Kamailio without the gateway."""
    yield from stack_fixture("sx-infra-", with_gateway=False)


@pytest.fixture(scope="module")
def stack():
    """Prosody + Kamailio + sipxmppd shared by the tests of a module. Tests must leave the
    servers running (tests that stop a server build their own stack)."""
    need_gateway()
    yield from stack_fixture("sx-im-", with_gateway=True,
                             config_overrides={"sip": {"max_message_bytes": "16384"}})


@pytest.fixture
def fresh_stack(request):
    """A private stack for one test (for tests that stop or restart servers). Parametrise
    indirectly with a dict {"config": {...}, "prosody": {...}} to change the set-up."""
    need_gateway()
    p = getattr(request, "param", None) or {}
    yield from stack_fixture("sx-fresh-", with_gateway=True, config_overrides=p.get("config"),
                             prosody_kw=p.get("prosody"))


@pytest.fixture
def infra(servers_only):
    """servers_only, with the clients a test opened closed after it."""
    try:
        yield servers_only
    finally:
        servers_only.close_clients()


@pytest.fixture
def im(stack):
    """stack, with the clients a test opened closed after it."""
    try:
        yield stack
    finally:
        stack.close_clients()
