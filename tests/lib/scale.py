"""Several sipxmppd for one domain: ejabberd as the edge (it accepts several connections of
one component and spreads stanzas over them), Kamailio spreading SIP requests over the
instances with its dispatcher module (failing over on timeout), and one shared store —
a private PostgreSQL cluster (tests/lib/pgcluster.py) or, for one instance, an SQLite file.
Every server runs on 127.0.0.1 with its own ports and files, stopped by PID.
"""

import os
import secrets
import subprocess

import ejabberd
from pgcluster import PgCluster
from servers import KAMAILIO_CFG, Gateway, Kamailio, free_port
from sipua import SipUA
from xmppclient import XmppClient

INTERNAL = "contoso.example"
EXTERNAL = "fabrikam.example"
SECRET = "scale-component-secret"
USERS = {"alice": "pw", "carol": "pw", "dave": "pw"}
CTL_SETUP = [
    ["policy", "set", "global", "--xmpp"],
    ["partner", "new", EXTERNAL, "--type", "federated"],
]

EJABBERD_YML = """hosts:
  - "%(external)s"
loglevel: info
log_rotate_count: 0
certfiles: []
auth_method: internal
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
listen:
  -
    port: %(c2s)d
    ip: "127.0.0.1"
    module: ejabberd_c2s
  -
    port: %(component)d
    ip: "127.0.0.1"
    module: ejabberd_service
    hosts:
      "%(internal)s":
        password: "%(secret)s"
modules:
  mod_ping: {}
  mod_disco: {}
  mod_roster: {}
"""

# Requests for partner domains go to the dispatcher set 1 (round robin); a destination that
# times out (no final answer within 2 s) or answers 5xx is marked inactive (OPTIONS pings
# every second bring it back) and the request is retried on the next one.
DISPATCH_ROUTE = r"""    # Every other domain is a partner domain reached through one of the gateways.
    if (!ds_select_dst("1", "4")) {
        sl_send_reply("503", "No gateway available");
        exit;
    }
    xlog("L_INFO", "to gateway: $rm $ru via $du\n");
    t_set_fr(0, 2000);
    t_on_failure("GW_FAILOVER");
    if (!t_relay()) {
        sl_reply_error();
    }
    exit;
}

failure_route[GW_FAILOVER] {
    if (t_is_canceled()) {
        exit;
    }
    if (t_branch_timeout() || t_check_status("5[0-9][0-9]")) {
        xlog("L_WARN", "gateway $du failed, trying the next\n");
        ds_mark_dst("ip");
        if (ds_next_dst()) {
            t_on_failure("GW_FAILOVER");
            t_relay();
            exit;
        }
    }
}
"""

DISPATCH_MODULES = """loadmodule "dispatcher.so"
modparam("dispatcher", "list_file", "@DSLIST@")
modparam("dispatcher", "flags", 2)
modparam("dispatcher", "ds_ping_interval", 1)
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", 1)
modparam("dispatcher", "ds_inactive_threshold", 1)
modparam("dispatcher", "ds_ping_from", "sip:dispatcher@127.0.0.1")
"""


def dispatcher_cfg():
    """KAMAILIO_CFG with the gateway route replaced by the dispatcher (a test fails loudly if
    the base config's shape changes)."""
    head, sep, _ = KAMAILIO_CFG.partition("    # Every other domain is a partner domain")
    assert sep, "servers.KAMAILIO_CFG changed: no gateway route to replace"
    head = head.replace('loadmodule "registrar.so"\n',
                        'loadmodule "registrar.so"\n' + DISPATCH_MODULES)
    assert "dispatcher.so" in head
    return head + DISPATCH_ROUTE


class KamailioDispatcher(Kamailio):
    """Kamailio whose partner-domain route spreads requests over `gateways`
    [(host, port), ...] with the dispatcher module."""

    def start(self, tmpdir, gateways, domain=INTERNAL, sip_port=None, timeout=15, children=2):
        """It is also the presence server of `domain` (KAMAILIO_CFG's PUBLISH/SUBSCRIBE
        handling is kept): children=1 for presence tests (see servers.Kamailio)."""
        d = os.path.join(tmpdir, "kamailio")
        os.makedirs(d, exist_ok=True)
        self.dslist = os.path.join(d, "dispatcher.list")
        with open(self.dslist, "w") as f:
            for host, port in gateways:
                f.write("1 sip:%s:%d\n" % (host, port))
        return super().start(tmpdir, sip_port=sip_port, gateway_addr="unused", domain=domain,
                             timeout=timeout, children=children,
                             template=dispatcher_cfg().replace("@DSLIST@", self.dslist))


class Ejabberd(ejabberd.Ejabberd):
    def start_edge(self, tmpdir, users, cookie=None, join=None):
        """Starts with its own c2s and component ports; join: a running node to cluster with
        (users are then registered on the cluster already)."""
        self.c2s_port = free_port()
        self.component_port = free_port()
        yml = EJABBERD_YML % dict(external=EXTERNAL, internal=INTERNAL, secret=SECRET,
                                  c2s=self.c2s_port, component=self.component_port)
        self.start(tmpdir, yml, wait_ports=[self.c2s_port, self.component_port],
                   cookie=cookie)
        if join is not None:
            self.ctl("join_cluster", join.node)
            nodes = self.ctl("list_cluster")
            if join.node not in nodes or self.node not in nodes:
                raise RuntimeError("join_cluster did not make a cluster: %s" % nodes)
        for user, pw in users.items():
            self.ctl("register", user, EXTERNAL, pw)
        return self

    def ctl(self, *args):
        r = subprocess.run([ejabberd.EJABBERDCTL, "--config-dir", self.cfg_dir, "--spool",
                            self.spool, "--logs", self.logs] + list(args),
                           capture_output=True, text=True, timeout=60, cwd=self.dir)
        if r.returncode != 0:
            raise RuntimeError("ejabberdctl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r.stdout


class ScaleStack:
    """n gateways sharing `store` ("pg" or "sqlite") behind ejabberd and a dispatching
    Kamailio."""

    def __init__(self, tmpdir, n, store="pg", cluster=False, gw_overrides=None,
                 users=None, kam_children=2):
        self.tmp = tmpdir
        self.users = users or USERS
        self.kam_children = kam_children
        self.gw_overrides = gw_overrides or {}
        self.n = n
        self.pg = PgCluster() if store == "pg" else None
        self.ej = Ejabberd()
        # cluster: a second ejabberd node joined to the first; gateway i connects to node
        # i % 2
        self.ej2 = Ejabberd() if cluster else None
        self.kam = KamailioDispatcher()
        self.gws = [None] * n
        self.sip_ports = [free_port() for _ in range(n)]
        self.http_ports = [free_port() for _ in range(n)]
        self.sqlite = os.path.join(tmpdir, "store.db")

    @property
    def store(self):
        return self.pg.uri if self.pg else self.sqlite

    def start(self):
        if self.pg:
            self.pg.start()
        if self.ej2:
            cookie = secrets.token_hex(16)
            for sub in ("ej1", "ej2"):
                os.makedirs(os.path.join(self.tmp, sub), exist_ok=True)
            os.chmod(self.tmp, 0o755)
            self.ej.start_edge(os.path.join(self.tmp, "ej1"), self.users, cookie=cookie)
            self.ej2.start_edge(os.path.join(self.tmp, "ej2"), {}, cookie=cookie, join=self.ej)
        else:
            self.ej.start_edge(self.tmp, self.users)
        self.kam.start(self.tmp, [("127.0.0.1", p) for p in self.sip_ports],
                       children=self.kam_children)
        for i in range(self.n):
            self.start_gateway(i, setup=(i == 0))
        return self

    def start_gateway(self, i, setup=False):
        d = os.path.join(self.tmp, "gw%d" % (i + 1))
        os.makedirs(d, exist_ok=True)
        gw = Gateway()

        ej = self.ej2 if self.ej2 and i % 2 else self.ej

        class Edge:  # what Gateway.start reads from a Prosody object
            component_port = ej.component_port
            component_secret = SECRET

        gw.start(d, prosody=Edge, kamailio=self.kam, sip_port=self.sip_ports[i],
                 http_port=self.http_ports[i], domains=INTERNAL,
                 config_overrides=self._overrides(i),
                 ctl_setup=CTL_SETUP if setup else [])
        self.gws[i] = gw
        return gw

    def _overrides(self, i):
        o = {k: dict(v) for k, v in self.gw_overrides.items()}
        o.setdefault("gateway", {}).update({"store": self.store, "instance_id": "gw%d" % (i + 1)})
        return o

    def stop(self):
        errors = []
        for gw in self.gws:
            # one a test killed (kill -9) and did not restart has nothing left to stop
            if gw is not None and not (gw.proc and gw.proc.returncode == -9):
                try:
                    gw.stop()
                except Exception as e:  # keep stopping the others
                    errors.append(e)
        for srv in (self.kam, self.ej2, self.ej):
            if srv is None:
                continue
            try:
                srv.stop()
            except Exception as e:
                errors.append(e)
        if self.pg:
            self.pg.stop()
        if errors:
            raise errors[0]


class Clients:
    """The SIP UAs (users of INTERNAL, registered through the stack's Kamailio) and XMPP
    clients (users of EXTERNAL, password "pw") a test opens on a ScaleStack; close() closes
    them all. auto_roster: passed to every XmppClient (False: the test answers roster pushes
    and subscriptions itself)."""

    def __init__(self, st, auto_roster=True):
        self.st = st
        self.auto_roster = auto_roster
        self.uas, self.xmpps = [], []

    def ua(self, user):
        ua = SipUA(user, INTERNAL, proxy=("127.0.0.1", self.st.kam.port))
        self.uas.append(ua)
        r = ua.register()
        assert r.status == 200, (user, r.status, r.reason)
        return ua

    def xmpp(self, user, node=1):
        """A client of ejabberd node 1, or of node 2 of a clustered stack."""
        ej = self.st.ej2 if node == 2 else self.st.ej
        c = XmppClient("%s@%s" % (user, EXTERNAL), "pw", "127.0.0.1", ej.c2s_port,
                       auto_roster=self.auto_roster)
        self.xmpps.append(c)
        c.connect()
        return c

    def close(self):
        for c in self.xmpps + self.uas:
            try:
                c.close()
            except Exception:
                pass
        self.xmpps, self.uas = [], []
