"""Real servers for the integration tests: Prosody (the XMPP edge), Kamailio (the SIP
registrar/proxy) and sipxmppd itself, each run as a foreground child process on 127.0.0.1
with its own random ports and its own files under a temporary directory.

Every wait is bounded. stop() always ends the child by its PID (SIGTERM, then SIGKILL after a
grace period), so fixtures that call stop() in a `finally` never leave processes behind.
"""

import errno
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))

_handed_out = set()


def free_port(host="127.0.0.1"):
    """A port number free for both TCP and UDP on `host`, not handed out before by this
    process."""
    for _ in range(200):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            t.bind((host, 0))
            port = t.getsockname()[1]
            if port in _handed_out:
                continue
            try:
                u.bind((host, port))
            except OSError:
                continue
            _handed_out.add(port)
            return port
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free TCP+UDP port found")


def free_port_pair(host="127.0.0.1"):
    """A port p from free_port() whose p + 1 is free for TCP right now too (and is not
    handed out later): for servers that also listen on the next port (baresip's SIP/TLS)."""
    for _ in range(100):
        port = free_port(host)
        if port >= 65535 or port + 1 in _handed_out:
            continue
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind((host, port + 1))
        except OSError:
            continue
        finally:
            t.close()
        _handed_out.add(port + 1)
        return port
    raise RuntimeError("no free pair of ports found")


def wait_tcp(host, port, timeout, proc=None, what="server"):
    """Waits until a TCP connect to host:port succeeds. Raises if `proc` exits first or the
    timeout passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with code %s before listening on %s:%d"
                               % (what, proc.returncode, host, port))
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as e:
            last = e
        time.sleep(0.05)
    raise TimeoutError("%s not accepting on %s:%d after %.1fs (%s)"
                       % (what, host, port, timeout, last))


def tail(path, n=60):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "(no log at %s)" % path
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join(lines[-n:])


class _Child:
    """A foreground child process in its own session, stopped by PID."""

    name = "child"

    def __init__(self):
        self.proc = None
        self.log_path = None
        self._log = None

    def _spawn(self, argv, env=None, cwd=None):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                     start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _signal_group(self, sig):
        # The child leads its own session (start_new_session); worker processes it forks
        # (Kamailio) share that process group. Only our own child's group is signalled.
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        """SIGKILL now (a crash of the server, as seen from its peers)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._signal_group(signal.SIGKILL)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        return self._finish()

    def stop(self, grace=5.0):
        """SIGTERM, wait up to `grace` seconds, then SIGKILL. Returns the exit code
        (negative: killed by that signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        # Leftover workers in the group (if the leader exited first).
        self._signal_group(signal.SIGKILL)
        return self._finish()

    def _finish(self):
        rc = self.proc.returncode
        if self._log:
            self._log.close()
            self._log = None
        return rc

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


# --------------------------------------------------------------------------------------
# Prosody

def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Prosody(_Child):
    """Prosody 0.12 (Debian) as the edge server.

    - `external_domain` is a VirtualHost with the given users (localparts as stored, i.e.
      already XEP-0106-escaped: 'd\\26j' is the account for "d&j").
    - `internal_domain` is an external component (XEP-0114) with `component_secret`: the
      gateway connects to it.
    - `extra_hosts` {domain: {localpart: password}}: more VirtualHosts with their accounts
      (XMPP users on several external domains: a partner's additional domain, a domain that
      is not a partner).
    - `extra_components` {domain: secret}: more components, with from-address validation
      switched off (validate_from_addresses = false) so a test can play a misbehaving edge
      peer that forges `from`.
    - mod_offline is disabled unless offline=True: a chat/normal message to an account with
      no available resource then bounces with <service-unavailable/> (mod_message.lua:
      process_to_bare fires message/offline/handle, nothing handles it, error_reply
      cancel/service-unavailable). Headlines to offline users are dropped silently, and
      type='error' is discarded, by Prosody itself.
    - No TLS module, no s2s: plain c2s on loopback with PLAIN allowed.
    """

    name = "prosody"

    def __init__(self):
        super().__init__()
        self.dir = None

    def start(self, tmpdir, internal_domain="contoso.example",
              external_domain="fabrikam.example", component_port=None, c2s_port=None,
              component_secret="s3cret", users=None, extra_components=None, offline=False,
              log_level="debug", extra_hosts=None, tls=None, timeout=20):
        """tls: {"port": P, "certificate": PEM, "key": PEM, "cafile": PEM or None,
        "require_client_cert": bool}: mod_net_multiplex's multiplex_ssl service on port P
        (TLS from the first byte; it hands a jabber:component:accept stream to the
        component). With require_client_cert, LuaSec refuses a client without a certificate
        that chains to cafile (verify peer + fail_if_no_peer_cert)."""
        self.dir = os.path.join(tmpdir, "prosody")
        self.tls = dict(tls) if tls else None
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "certs"), exist_ok=True)
        self.internal_domain = internal_domain
        self.external_domain = external_domain
        self.component_port = component_port or free_port()
        self.c2s_port = c2s_port or free_port()
        self.component_secret = component_secret
        self.users = dict(users if users is not None else
                          {"alice": "pw", "carol": "pw", "d\\26j": "pw"})
        self.extra_components = dict(extra_components or {})
        self.extra_hosts = {d: dict(u) for d, u in (extra_hosts or {}).items()}
        self.offline = offline
        self.log_level = log_level
        self.cfg_path = os.path.join(self.dir, "prosody.cfg.lua")
        self.log_path = os.path.join(self.dir, "prosody.log")
        self.pidfile = os.path.join(self.dir, "prosody.pid")
        self._write_config()
        self._register_users()
        self._launch(timeout)
        return self

    def _write_config(self):
        d = self.dir
        disabled = ["s2s", "s2s_auth_certs"]
        if not self.offline:
            disabled.append("offline")
        lines = [
            "-- written by tests/lib/servers.py",
            "run_as_root = true",
            "pidfile = %s" % lua_str(self.pidfile),
            "data_path = %s" % lua_str(os.path.join(d, "data")),
            "certificates = %s" % lua_str(os.path.join(d, "certs")),
            "log = { { levels = { min = %s }, to = \"file\", filename = %s } }"
            % (lua_str(self.log_level), lua_str(self.log_path)),
            "interfaces = { \"127.0.0.1\" }",
            "local_interfaces = { \"127.0.0.1\" }",
            "c2s_ports = { %d }" % self.c2s_port,
            "c2s_interfaces = { \"127.0.0.1\" }",
            "s2s_ports = { }",
            "component_ports = { %d }" % self.component_port,
            "component_interface = \"127.0.0.1\"",
            "component_interfaces = { \"127.0.0.1\" }",
            "http_ports = { }",
            "https_ports = { }",
            "c2s_require_encryption = false",
            "s2s_require_encryption = false",
            "allow_unencrypted_plain_auth = true",
            "authentication = \"internal_plain\"",
            "storage = \"internal\"",
            "modules_enabled = { \"roster\", \"saslauth\", \"disco\", \"ping\", \"posix\"%s }"
            % (", \"net_multiplex\"" if self.tls else ""),
            "modules_disabled = { %s }" % ", ".join(lua_str(m) for m in disabled),
            # Large test bodies and bursts of stanzas over the component link.
            "c2s_stanza_size_limit = 10*1024*1024",
            "component_stanza_size_limit = 10*1024*1024",
            "limits = { c2s = { rate = \"100mb/s\" }, component = { rate = \"100mb/s\" } }",
        ]
        if self.tls:
            t = self.tls
            ssl = ["certificate = %s" % lua_str(t["certificate"]), "key = %s" % lua_str(t["key"])]
            if t.get("cafile"):
                ssl.append("cafile = %s" % lua_str(t["cafile"]))
            if t.get("require_client_cert"):
                # LuaSec verifies the chain; Prosody's default lsec_continue would let a
                # failed verification through (it keeps the result for s2s), so drop it.
                ssl.append("verify = { \"peer\", \"fail_if_no_peer_cert\" }")
                ssl.append("verifyext = { lsec_continue = false }")
            lines += ["ssl_ports = { %d }" % t["port"],
                      "ssl_interfaces = { \"127.0.0.1\" }",
                      "ssl = { %s }" % ", ".join(ssl)]
        lines += [
            "",
            "VirtualHost %s" % lua_str(self.external_domain),
            "",
        ]
        for dom in self.extra_hosts:
            lines += ["VirtualHost %s" % lua_str(dom), ""]
        lines += [
            "Component %s" % lua_str(self.internal_domain),
            "    component_secret = %s" % lua_str(self.component_secret),
            "",
        ]
        for dom, secret in self.extra_components.items():
            lines += ["Component %s" % lua_str(dom),
                      "    component_secret = %s" % lua_str(secret),
                      "    validate_from_addresses = false",
                      ""]
        with open(self.cfg_path, "w") as f:
            f.write("\n".join(lines))

    def _prosodyctl(self, *args, timeout=30):
        return subprocess.run(["prosodyctl", "--config", self.cfg_path] + list(args),
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)

    def check_config(self):
        """`prosodyctl check config` output (diagnostics; warnings are expected: the
        components are not subdomains of the VirtualHost)."""
        r = self._prosodyctl("check", "config")
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")

    def _register_users(self):
        accounts = [(u, self.external_domain, pw) for u, pw in self.users.items()]
        for dom, users in self.extra_hosts.items():
            accounts += [(u, dom, pw) for u, pw in users.items()]
        for user, dom, pw in accounts:
            r = self._prosodyctl("register", user, dom, pw)
            if r.returncode != 0:
                raise RuntimeError("prosodyctl register %s@%s failed (%d): %s %s"
                                   % (user, dom, r.returncode,
                                      r.stdout.decode(errors="replace"),
                                      r.stderr.decode(errors="replace")))

    def _launch(self, timeout):
        self._spawn(["prosody", "--config", self.cfg_path, "-F"], cwd=self.dir)
        try:
            wait_tcp("127.0.0.1", self.c2s_port, timeout, self.proc, "prosody")
            wait_tcp("127.0.0.1", self.component_port, timeout, self.proc, "prosody")
            if self.tls:
                wait_tcp("127.0.0.1", self.tls["port"], timeout, self.proc, "prosody")
        except Exception as e:
            self.stop()
            rc, out = self.check_config()
            raise RuntimeError("%s\n--- prosody log ---\n%s\n--- prosodyctl check config "
                               "(%d) ---\n%s" % (e, tail(self.log_path), rc, out))

    def restart(self, down_for=0.0, timeout=20):
        """Stops Prosody (SIGTERM) and starts it again on the same ports and data."""
        self.stop()
        if down_for:
            time.sleep(down_for)
        self._launch(timeout)

    def start_again(self, timeout=20):
        self._launch(timeout)


# --------------------------------------------------------------------------------------
# ejabberd

class Ejabberd(_Child):
    """ejabberd 23.01 (Debian) as the edge server, in the foreground with its own config,
    spool and logs under tmpdir/ejabberd and a unique Erlang node name and cookie.

    - `external_domain` is its host (c2s on c2s_port); `internal_domain` is an
      ejabberd_service (XEP-0114) listener on component_port with `component_secret`.
    - tls: {"certfile": PEM with certificate and key, "cafile": PEM or None}: the component
      listener takes TLS from the first byte (`tls: true`). ejabberd_service passes only
      certfile, ciphers, dhfile, cafile and protocol_options to the TLS layer: it has no
      option to require or check a client certificate.
    - ejabberd starts epmd when none runs; stop() ends the epmd this runner started (by the
      PID it found after the start), never one that was already running."""

    name = "ejabberd"

    def start(self, tmpdir, internal_domain="contoso.example",
              external_domain="fabrikam.example", component_port=None, c2s_port=None,
              component_secret="s3cret", tls=None, timeout=60):
        self.dir = os.path.join(tmpdir, "ejabberd")
        self.spool = os.path.join(self.dir, "spool")
        self.logs = os.path.join(self.dir, "logs")
        for d in (self.dir, self.spool, self.logs):
            os.makedirs(d, exist_ok=True)
        self.internal_domain = internal_domain
        self.external_domain = external_domain
        self.component_port = component_port or free_port()
        self.c2s_port = c2s_port or free_port()
        self.component_secret = component_secret
        self.tls = dict(tls) if tls else None
        if self.tls:  # copies the ejabberd user can read (see _hand_over)
            for k in ("certfile", "cafile"):
                if self.tls.get(k):
                    dst = os.path.join(self.dir, k + ".pem")
                    shutil.copyfile(self.tls[k], dst)
                    self.tls[k] = dst
        self.node = "sxtest%d_%d@localhost" % (os.getpid(), self.component_port)
        self.log_path = os.path.join(self.dir, "ejabberd.out")
        self.pidfile = os.path.join(self.dir, "ejabberd.pid")
        svc = ["  -",
               "    port: %d" % self.component_port,
               "    ip: \"127.0.0.1\"",
               "    module: ejabberd_service",
               "    hosts:",
               "      \"%s\":" % internal_domain,
               "        password: \"%s\"" % component_secret]
        if self.tls:
            svc += ["    tls: true", "    certfile: \"%s\"" % self.tls["certfile"]]
            if self.tls.get("cafile"):
                svc.append("    cafile: \"%s\"" % self.tls["cafile"])
        cfg = ["hosts:",
               "  - \"%s\"" % external_domain,
               "loglevel: info",
               "auth_method: internal",
               "default_db: mnesia",
               "s2s_access: none",
               "acme:",
               "  auto: false",
               "listen:",
               "  -",
               "    port: %d" % self.c2s_port,
               "    ip: \"127.0.0.1\"",
               "    module: ejabberd_c2s",
               ] + svc + [
               "modules:",
               "  mod_disco: {}",
               "  mod_ping: {}",
               "  mod_roster: {}",
               ""]
        if self.tls:
            cfg[0:0] = ["certfiles:", "  - \"%s\"" % self.tls["certfile"]]
        with open(os.path.join(self.dir, "ejabberd.yml"), "w") as f:
            f.write("\n".join(cfg))
        with open(os.path.join(self.dir, "ejabberdctl.cfg"), "w") as f:
            f.write("ERLANG_NODE=%s\n" % self.node)
            f.write("ERLANG_COOKIE=sxtest%d\n" % os.getpid())
            f.write("INET_DIST_INTERFACE=127.0.0.1\n")
            f.write("EJABBERD_PID_PATH=%s\n" % self.pidfile)
            f.write("FIREWALL_WINDOW=\n")
        self._hand_over(tmpdir)
        before = self._epmd_pids()
        self._launch(timeout)
        self._epmd_ours = self._epmd_pids() - before
        return self

    def _hand_over(self, tmpdir):
        """Run as root, ejabberdctl drops to the `ejabberd` user: that user must own the
        directory and be able to pass through the (0700) temporary directory."""
        if os.geteuid() != 0:
            return
        try:
            pw = pwd.getpwnam("ejabberd")
        except KeyError:
            return
        os.chmod(tmpdir, os.stat(tmpdir).st_mode | 0o011)
        for root, dirs, files in os.walk(self.dir):
            for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                os.chown(n, pw.pw_uid, pw.pw_gid)

    @staticmethod
    def _epmd_pids():
        r = subprocess.run(["pgrep", "-x", "epmd"], capture_output=True, timeout=10)
        return set(int(p) for p in r.stdout.split())

    def _launch(self, timeout):
        env = dict(os.environ)
        env["HOME"] = self.dir
        env["EJABBERD_CONFIG_PATH"] = os.path.join(self.dir, "ejabberd.yml")
        self._spawn(["ejabberdctl", "--config-dir", self.dir, "--spool", self.spool,
                     "--logs", self.logs, "foreground"], env=env, cwd=self.dir)
        try:
            wait_tcp("127.0.0.1", self.component_port, timeout, self.proc, "ejabberd")
            wait_tcp("127.0.0.1", self.c2s_port, timeout, self.proc, "ejabberd")
        except Exception as e:
            self.stop()
            raise RuntimeError("%s\n--- ejabberd log ---\n%s\n%s"
                               % (e, tail(self.log_path),
                                  tail(os.path.join(self.logs, "ejabberd.log"))))

    def stop(self, grace=15.0):
        rc = super().stop(grace=grace)
        for pid in getattr(self, "_epmd_ours", set()) & self._epmd_pids():
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        return rc

    def server_log(self):
        try:
            with open(os.path.join(self.logs, "ejabberd.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


# --------------------------------------------------------------------------------------
# Kamailio

KAMAILIO_MODULES_DIRS = ["/usr/lib/x86_64-linux-gnu/kamailio/modules",
                         "/usr/lib/aarch64-linux-gnu/kamailio/modules",
                         "/usr/lib/kamailio/modules"]

KAMAILIO_CFG = r"""#!KAMAILIO
# Loopback test registrar/proxy written by tests/lib/servers.py.
debug=2
log_stderror=yes
log_facility=LOG_LOCAL0
fork=yes
children=@CHILDREN@
tcp_children=@CHILDREN@
disable_tcp=no
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=off
dns_try_ipv6=no
tcp_connection_lifetime=3605
tcp_max_connections=256
listen=udp:127.0.0.1:@PORT@
listen=tcp:127.0.0.1:@PORT@

mpath="@MPATH@"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "db_sqlite.so"
loadmodule "presence.so"
loadmodule "presence_xml.so"

modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 3600)
modparam("registrar", "min_expires", 0)
modparam("registrar", "append_branches", 0)
modparam("tm", "fr_timer", 8000)
modparam("tm", "fr_inv_timer", 30000)
modparam("rr", "enable_full_lr", 1)
modparam("rr", "append_fromtag", 1)
# The presence server (RFC 3856/3903) for the served domain, on a fresh SQLite file.
# subs_db_mode 3: subscriptions live in the database only, so active_watchers is current.
modparam("presence", "db_url", "@DBURL@")
modparam("presence", "subs_db_mode", 3)
modparam("presence", "max_expires", 3600)
modparam("presence", "min_expires", 0)
modparam("presence", "server_address", "sip:127.0.0.1:@PORT@")
# No periodic clean-up writes during a test (db_sqlite has no busy timeout: a timer's write
# racing a worker's makes the worker's fail with "database is locked").
modparam("presence", "clean_period", 3600)
modparam("presence", "db_update_period", 3600)
# With subs_db_mode 3 notifier processes would send the NOTIFYs of a PUBLISH after
# waitn_time (5 s): without them the worker handling the PUBLISH sends them at once.
modparam("presence", "notifier_processes", 0)
modparam("presence_xml", "db_url", "@DBURL@")
# Every watcher is authorised (no pres-rules): the gateway's watcher identity gets active.
modparam("presence_xml", "force_active", 1)

request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (!sanity_check("17895", "7")) {
        xlog("L_WARN", "sanity check failed: $rm $ru from $si:$sp\n");
        exit;
    }
    xlog("L_INFO", "REQ $rm $ru from $si:$sp/$pr cid=$ci\n");

    # In-dialog requests follow their Route set; a refresh of a subscription held by the
    # presence server is addressed to it.
    if (has_totag()) {
        if (loose_route()) {
            t_relay();
            exit;
        }
        if (is_method("SUBSCRIBE") && uri == myself) {
            if (!t_newtran()) {
                sl_reply_error();
                exit;
            }
            handle_subscribe();
            t_release();
            exit;
        }
        if (is_method("ACK")) {
            if (t_check_trans()) {
                t_relay();
            }
            exit;
        }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if (!is_method("ACK")) {
        t_check_trans();
    }

    # Initial requests: a pre-loaded Route to this proxy is consumed.
    remove_hf("Route");

    # The presence server: PUBLISH and SUBSCRIBE (Event: presence) for served users.
    if (is_method("PUBLISH|SUBSCRIBE") && $(rd{s.tolower}) == "@DOMAIN@") {
        if (!t_newtran()) {
            sl_reply_error();
            exit;
        }
        if (is_method("PUBLISH")) {
            handle_publish();
        } else {
            handle_subscribe();
        }
        t_release();
        exit;
    }

    if (is_method("INVITE|SUBSCRIBE")) {
        record_route();
    }

    # Requests for the proxy itself (keepalive / readiness OPTIONS).
    if ($rU == $null && is_method("OPTIONS") && ($rd == "127.0.0.1")) {
        sl_send_reply("200", "OK");
        exit;
    }

    if (is_method("REGISTER")) {
        if ($(rd{s.tolower}) == "@DOMAIN@") {
            # 0x04: one contact per AOR, the newest registration replaces older ones.
            if (!save("location", "0x04")) {
                sl_reply_error();
            }
        } else {
            sl_send_reply("403", "Domain not served here");
        }
        exit;
    }

    if ($(rd{s.tolower}) == "@DOMAIN@") {
        if (!lookup("location")) {
            xlog("L_INFO", "no binding for $ru -> 480\n");
            sl_send_reply("480", "Temporarily Unavailable");
            exit;
        }
        if (!t_relay()) {
            sl_reply_error();
        }
        exit;
    }

    # Every other domain is a partner domain reached through the gateway.
    $du = "sip:@GATEWAY@;transport=" + $pr;
    xlog("L_INFO", "to gateway: $rm $ru via $du\n");
    if (!t_relay()) {
        sl_reply_error();
    }
    exit;
}
"""


class Kamailio(_Child):
    """Kamailio 5.6 (Debian) as a loopback registrar/proxy and presence server without
    authentication.

    REGISTER for `domain` → save("location"); PUBLISH and SUBSCRIBE for `domain` →
    handle_publish() / handle_subscribe() (presence + presence_xml on db_sqlite, every
    watcher authorised: force_active=1; NOTIFYs go to the SUBSCRIBE's Contact; Expires capped
    at 3600); other requests for `domain` → lookup("location") and relay, 480 when the user
    has no binding; requests for any other domain (MESSAGE, SUBSCRIBE, ...) → relayed to the
    gateway at `gateway_addr` over the transport they arrived on, SUBSCRIBE record-routed.
    `template` replaces KAMAILIO_CFG (same @PORT@ @MPATH@ @DOMAIN@ @GATEWAY@ @CHILDREN@
    @DBURL@ placeholders).

    The presence tables live in a fresh SQLite file per start(), created from Kamailio's
    standard-create.sql and presence-create.sql (publications of an earlier test would
    otherwise merge into later NOTIFYs)."""

    name = "kamailio"

    def start(self, tmpdir, sip_port=None, gateway_addr="127.0.0.1:5070",
              domain="contoso.example", children=2, timeout=15, template=None):
        """children: worker processes per transport. db_sqlite sets no busy timeout, so
        with several workers a presence write racing another fails ("database is
        locked": a subscription ended with Expires: 0 may stay in active_watchers); the
        presence tests run one."""
        self.dir = os.path.join(tmpdir, "kamailio")
        os.makedirs(self.dir, exist_ok=True)
        self.port = sip_port or free_port()
        self.domain = domain.lower()
        self.gateway_addr = gateway_addr
        self.cfg_path = os.path.join(self.dir, "kamailio.cfg")
        self.log_path = os.path.join(self.dir, "kamailio.log")
        self.pidfile = os.path.join(self.dir, "kamailio.pid")
        self.db_path = os.path.abspath(os.path.join(self.dir, "presence.db"))
        create_presence_db(self.db_path)
        mpath = next((p for p in KAMAILIO_MODULES_DIRS if os.path.isdir(p)),
                     KAMAILIO_MODULES_DIRS[0])
        cfg = ((template or KAMAILIO_CFG).replace("@PORT@", str(self.port))
               .replace("@MPATH@", mpath)
               .replace("@DOMAIN@", self.domain)
               .replace("@CHILDREN@", str(int(children)))
               .replace("@GATEWAY@", gateway_addr)
               .replace("@DBURL@", "sqlite:///" + self.db_path))
        with open(self.cfg_path, "w") as f:
            f.write(cfg)
        r = subprocess.run(["kamailio", "-c", "-f", self.cfg_path], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=30, cwd=self.dir)
        if r.returncode != 0:
            raise RuntimeError("kamailio -c failed (%d):\n%s\n%s"
                               % (r.returncode, r.stdout.decode(errors="replace"),
                                  r.stderr.decode(errors="replace")))
        self._launch(timeout)
        return self

    def _launch(self, timeout):
        self._spawn(["kamailio", "-f", self.cfg_path, "-DD", "-E", "-P", self.pidfile,
                     "-w", self.dir, "-Y", self.dir, "-m", "64", "-M", "8"], cwd=self.dir)
        try:
            wait_tcp("127.0.0.1", self.port, timeout, self.proc, "kamailio")
            self._wait_udp(timeout)
        except Exception as e:
            self.stop()
            raise RuntimeError("%s\n--- kamailio log ---\n%s" % (e, tail(self.log_path)))

    def _wait_udp(self, timeout):
        """Sends OPTIONS sip:127.0.0.1:PORT over UDP until a 200 comes back."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        lport = s.getsockname()[1]
        deadline = time.monotonic() + timeout
        n = 0
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError("kamailio exited with code %s" % self.proc.returncode)
                n += 1
                req = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
                       "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKready%d;rport\r\n"
                       "Max-Forwards: 70\r\n"
                       "From: <sip:ready@127.0.0.1>;tag=r%d\r\n"
                       "To: <sip:127.0.0.1:%d>\r\n"
                       "Call-ID: ready-%d@127.0.0.1\r\n"
                       "CSeq: %d OPTIONS\r\n"
                       "Content-Length: 0\r\n\r\n"
                       % (self.port, lport, n, n, self.port, n, n)).encode()
                s.sendto(req, ("127.0.0.1", self.port))
                s.settimeout(0.3)
                try:
                    data, _ = s.recvfrom(65535)
                    if data.startswith(b"SIP/2.0 200"):
                        return
                except OSError:
                    pass
            raise TimeoutError("kamailio does not answer OPTIONS over UDP on %d" % self.port)
        finally:
            s.close()

    def restart(self, timeout=15):
        self.stop()
        self._launch(timeout)

    def query(self, sql, args=()):
        """Rows of a read-only query on the presence database (e.g. active_watchers)."""
        con = sqlite3.connect("file:%s?mode=ro" % self.db_path, uri=True, timeout=5)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def delete_failed(self):
        """Kamailio logged a subscription it could not delete (db_sqlite without a busy
        timeout: "database is locked"). The row then stays until a NOTIFY to it fails."""
        return "Failed to delete subscription from database" in self.log_text()

    def active_watchers(self, presentity_uri=None):
        """[(presentity_uri, watcher user@domain, callid, expires, status)] of the presence
        server's subscriptions (status 1 active, 2 pending)."""
        sql = ("SELECT presentity_uri, watcher_username || '@' || watcher_domain, callid, "
               "expires, status FROM active_watchers")
        if presentity_uri:
            return self.query(sql + " WHERE presentity_uri = ?", (presentity_uri,))
        return self.query(sql)


KAMAILIO_SQL_DIRS = ["/usr/share/kamailio/db_sqlite"]


def create_presence_db(path):
    """A fresh SQLite file with Kamailio's version and presence tables."""
    sqldir = next((d for d in KAMAILIO_SQL_DIRS
                   if os.path.exists(os.path.join(d, "presence-create.sql"))), None)
    if sqldir is None:
        raise FileNotFoundError("Kamailio's presence-create.sql not found (install "
                                "kamailio-sqlite-modules)")
    if os.path.exists(path):
        os.unlink(path)
    con = sqlite3.connect(path)
    try:
        # WAL (persistent in the file): Kamailio's processes read while one writes; db_sqlite
        # sets no busy timeout, so fewer "database is locked" failures.
        con.execute("PRAGMA journal_mode=WAL")
        for name in ("standard-create.sql", "presence-create.sql"):
            with open(os.path.join(sqldir, name)) as f:
                con.executescript(f.read())
        con.commit()
    finally:
        con.close()


# --------------------------------------------------------------------------------------
# baresip

BARESIP_MODULE_DIRS = ["/usr/lib/baresip/modules", "/usr/lib/x86_64-linux-gnu/baresip/modules"]


class Baresip(_Child):
    """baresip (Debian's baresip-core), headless: its own config directory (-f) with one
    account registering through `registrar` (host, port), `contacts` (SIP URIs) watched with
    ;presence=p2p (the presence module SUBSCRIBEs to each), publication of its own presence
    every `pubint` seconds when > 0, and the ctrl_tcp module on a local port for commands.
    Its log (stdout/stderr) is where status changes are read; it holds a SIP trace (-s) too,
    for whoever reads a failure."""

    name = "baresip"

    def start(self, tmpdir, user, domain, registrar, contacts=(), pubint=0, timeout=15):
        self.dir = os.path.join(tmpdir, "baresip-%s" % user)
        os.makedirs(self.dir, exist_ok=True)
        self.user, self.domain = user, domain
        # baresip listens for SIP/TLS on sip_listen's port + 1 as well (not configurable
        # in 1.0): a busy next port makes it exit at start.
        self.sip_port = free_port_pair()
        self.ctrl_port = free_port()
        self.log_path = os.path.join(self.dir, "baresip.log")
        mpath = next((p for p in BARESIP_MODULE_DIRS if os.path.isdir(p)),
                     BARESIP_MODULE_DIRS[0])
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write("poll_method epoll\n"
                    "sip_listen 127.0.0.1:%d\n"
                    "module_path %s\n"
                    "module_app account.so\n"
                    "module_app contact.so\n"
                    "module_app presence.so\n"
                    "module ctrl_tcp.so\n"
                    "ctrl_tcp_listen 127.0.0.1:%d\n" % (self.sip_port, mpath, self.ctrl_port))
        params = ';outbound="sip:%s:%d;transport=udp";regint=600' % registrar
        if pubint:
            params += ";pubint=%d" % pubint
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write("<sip:%s@%s>%s\n" % (user, domain, params))
        with open(os.path.join(self.dir, "contacts"), "w") as f:
            for i, c in enumerate(contacts):
                f.write('"c%d" <%s>;presence=p2p\n' % (i, c))
        self._spawn(["baresip", "-f", self.dir, "-v", "-s"], cwd=self.dir)
        try:
            wait_tcp("127.0.0.1", self.ctrl_port, timeout, self.proc, "baresip")
        except Exception as e:
            self.stop()
            raise RuntimeError("%s\n--- baresip log ---\n%s" % (e, tail(self.log_path)))
        return self

    def command(self, command, params="", timeout=5.0):
        """Sends one ctrl_tcp command (a JSON netstring) and returns the decoded reply."""
        import json
        body = json.dumps({"command": command, "params": params, "token": "t1"}).encode()
        with socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=timeout) as s:
            s.sendall(b"%d:%s," % (len(body), body))
            data = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                m = re.match(rb"(\d+):", data)
                if m and len(data) >= m.end() + int(m.group(1)) + 1:
                    msg = data[m.end():m.end() + int(m.group(1))]
                    try:
                        reply = json.loads(msg)
                    except ValueError:
                        reply = None
                    if isinstance(reply, dict) and reply.get("response"):
                        return reply
                    data = data[m.end() + int(m.group(1)) + 1:]
        raise TimeoutError("baresip: no reply to %s" % command)

    def wait_log(self, pattern, timeout=10.0, start=0):
        """Waits until the log matches `pattern` (regex) after byte offset `start`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_text()[start:]
            if re.search(pattern, text):
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise TimeoutError("baresip log has no %r within %.1fs:\n%s"
                           % (pattern, timeout, tail(self.log_path, 40)))


# --------------------------------------------------------------------------------------
# sipxmppd

SANITIZER_PATTERNS = ["ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                      "ERROR: UndefinedBehaviorSanitizer", "AddressSanitizer:DEADLYSIGNAL"]


def build_dir_from_env():
    return os.environ.get("SX_BUILD_DIR") or os.path.join(HERE, "..", "..", "build")


def sipxmppctl(cfg_path, *args, stdin=None, ok=None, env=None, timeout=30, build_dir=None):
    """Runs `sipxmppctl --config cfg_path ARGS` (text in and out, stdin from the string given
    or empty). With ok, a tuple of exit codes, the exit code must be one of them. Returns
    the CompletedProcess."""
    exe = os.path.join(build_dir or build_dir_from_env(), "sipxmppctl")
    r = subprocess.run([exe, "--config", cfg_path] + list(args), input=stdin,
                       stdin=None if stdin is not None else subprocess.DEVNULL,
                       capture_output=True, timeout=timeout, env=env, text=True)
    if ok is not None:
        assert r.returncode in ok, ("sipxmppctl %s -> %d\nstdout: %s\nstderr: %s"
                                    % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def http_get(url, timeout=2.0):
    """(status, body bytes, headers dict); status 0 when the connection failed."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        try:
            body = e.read()
        except Exception:
            body = b""
        return e.code, body, dict(e.headers or {})
    except (urllib.error.URLError, OSError, ConnectionError):
        return 0, b"", {}


class Gateway(_Child):
    """sipxmppd under test, run from BUILD/sipxmppd with a generated INI file.

    config_overrides: {"section": {"key": "value"}} merged over the defaults (a value of
    None removes the key). Environment: SX_GATEWAY_WRAPPER (e.g. "valgrind -q") is put in
    front of the command; ASAN_OPTIONS / UBSAN_OPTIONS are always set."""

    name = "sipxmppd"

    def start(self, tmpdir, build_dir=None, prosody=None, kamailio=None, sip_port=None,
              http_port=None, domains="contoso.example", config_overrides=None,
              ctl_setup=None, wait_healthy=True, timeout=20, asan_options=None, extra_env=None):
        """asan_options: extra ASAN_OPTIONS (e.g. a small quarantine_size_mb where a test
        measures RSS: ASan keeps freed memory in a 256 MB quarantine by default)."""
        self.dir = os.path.join(tmpdir, "sipxmppd")
        os.makedirs(self.dir, exist_ok=True)
        self.build_dir = os.path.abspath(build_dir or build_dir_from_env())
        self.binary = os.path.join(self.build_dir, "sipxmppd")
        if not os.access(self.binary, os.X_OK):
            raise FileNotFoundError("no sipxmppd at %s (set SX_BUILD_DIR)" % self.binary)
        self.sip_port = sip_port or free_port()
        self.http_port = http_port or free_port()
        self.cfg_path = os.path.join(self.dir, "sipxmppd.conf")
        self.log_path = os.path.join(self.dir, "sipxmppd.log")
        self.store = os.path.join(self.dir, "sipxmpp.db")
        cfg = {
            "gateway": {"domains": domains, "store": self.store, "log_level": "debug"},
            "sip": {
                "listen": "sip:127.0.0.1:%d;transport=udp, sip:127.0.0.1:%d;transport=tcp"
                          % (self.sip_port, self.sip_port),
                "outbound_proxy": "sip:127.0.0.1:%d" % (kamailio.port if kamailio else 5060),
                "trusted_peers": "127.0.0.1/32, ::1/128",
                "max_message_bytes": "65536",
            },
            "edge": {
                "host": "127.0.0.1",
                "port": str(prosody.component_port if prosody else 23456),
                "secret": prosody.component_secret if prosody else "s3cret",
                "backoff_min_ms": "200",
                "backoff_max_ms": "2000",
            },
            "http": {"listen": "127.0.0.1:%d" % self.http_port},
        }
        for sect, kv in (config_overrides or {}).items():
            s = cfg.setdefault(sect, {})
            for k, v in kv.items():
                if v is None:
                    s.pop(k, None)
                else:
                    s[k] = str(v)
        with open(self.cfg_path, "w") as f:
            for sect, kv in cfg.items():
                f.write("[%s]\n" % sect)
                for k, v in kv.items():
                    f.write("%s = %s\n" % (k, v))
                f.write("\n")
        self.env = dict(os.environ)
        self.env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0" + (
            ":" + asan_options if asan_options else "")
        self.env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
        self.env.update(extra_env or {})
        for argv in ctl_setup or []:
            r = self.ctl(*argv)
            if r.returncode != 0:
                raise RuntimeError("sipxmppctl %s failed (%d): %s %s"
                                   % (" ".join(argv), r.returncode, r.stdout, r.stderr))
        self.wait_healthy = wait_healthy
        self._launch(timeout)
        return self

    def ctl(self, *args, **kw):
        """sipxmppctl against this gateway's config and environment (see sipxmppctl())."""
        return sipxmppctl(self.cfg_path, *args, env=self.env, build_dir=self.build_dir, **kw)

    def _launch(self, timeout):
        wrapper = os.environ.get("SX_GATEWAY_WRAPPER", "").split()
        self._spawn(wrapper + [self.binary, "--config", self.cfg_path], env=self.env,
                    cwd=self.dir)
        try:
            wait_tcp("127.0.0.1", self.sip_port, timeout, self.proc, "sipxmppd")
            if self.wait_healthy:
                self.wait_health(200, timeout)
        except Exception as e:
            self.stop(check=False)
            raise RuntimeError("%s\n--- sipxmppd log ---\n%s" % (e, tail(self.log_path)))

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.http_port

    @property
    def sip_addr(self):
        return ("127.0.0.1", self.sip_port)

    def healthz(self):
        return http_get(self.base_url + "/healthz")[0]

    def metrics(self):
        st, body, hdrs = http_get(self.base_url + "/metrics")
        return st, body.decode("utf-8", "replace"), hdrs

    def wait_health(self, want_ok, timeout):
        """Waits until /healthz is 200 (want_ok true/200) or not 200 (want_ok false).
        Returns the seconds it took."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        st = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("sipxmppd exited with %s" % self.proc.returncode)
            st = self.healthz()
            if (st == 200) == bool(want_ok):
                return time.monotonic() - t0
            time.sleep(0.05)
        raise TimeoutError("/healthz still %s after %.1fs" % (st, timeout))

    def sanitizer_reports(self):
        text = self.log_text()
        found = []
        for line in text.splitlines():
            if any(p in line for p in SANITIZER_PATTERNS):
                found.append(line)
        return found

    def stop(self, grace=10.0, check=True):
        """SIGTERM; with check, asserts a clean exit 0 and a log without sanitizer
        reports."""
        rc = super().stop(grace=grace)
        if check:
            reports = self.sanitizer_reports()
            assert not reports, ("sanitizer report in %s:\n%s\n--- log tail ---\n%s"
                                 % (self.log_path, "\n".join(reports[:20]),
                                    tail(self.log_path, 80)))
            assert rc == 0, ("sipxmppd exited with %s after SIGTERM\n--- log tail ---\n%s"
                             % (rc, tail(self.log_path, 80)))
        return rc

    def log_contains(self, pattern):
        return re.search(pattern, self.log_text()) is not None


def rmtree_quiet(path):
    shutil.rmtree(path, ignore_errors=True)


def port_in_use_udp(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((host, port))
        return False
    except OSError as e:
        return e.errno == errno.EADDRINUSE
    finally:
        s.close()
