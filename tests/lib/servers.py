"""Real servers for the integration tests: Prosody (the XMPP edge), Kamailio (the SIP
registrar/proxy) and sipxmppd itself, each run as a foreground child process on 127.0.0.1
with its own random ports and its own files under a temporary directory.

Every wait is bounded. stop() always ends the child by its PID (SIGTERM, then SIGKILL after a
grace period), so fixtures that call stop() in a `finally` never leave processes behind.
"""

import errno
import os
import re
import shutil
import signal
import socket
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
              log_level="debug", extra_hosts=None, timeout=20):
        self.dir = os.path.join(tmpdir, "prosody")
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
            "modules_enabled = { \"roster\", \"saslauth\", \"disco\", \"ping\", \"posix\" }",
            "modules_disabled = { %s }" % ", ".join(lua_str(m) for m in disabled),
            # Large test bodies and bursts of stanzas over the component link.
            "c2s_stanza_size_limit = 10*1024*1024",
            "component_stanza_size_limit = 10*1024*1024",
            "limits = { c2s = { rate = \"100mb/s\" }, component = { rate = \"100mb/s\" } }",
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
children=2
tcp_children=2
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

modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 3600)
modparam("registrar", "min_expires", 0)
modparam("registrar", "append_branches", 0)
modparam("tm", "fr_timer", 8000)
modparam("tm", "fr_inv_timer", 30000)
modparam("rr", "enable_full_lr", 1)
modparam("rr", "append_fromtag", 1)

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

    # In-dialog requests follow their Route set.
    if (has_totag()) {
        if (loose_route()) {
            t_relay();
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
    """Kamailio 5.6 (Debian) as a loopback registrar/proxy without authentication.

    REGISTER for `domain` → save("location"); requests for `domain` → lookup("location") and
    relay, 480 when the user has no binding; requests for any other domain → relayed to the
    gateway at `gateway_addr` over the transport they arrived on. `template` replaces
    KAMAILIO_CFG (same @PORT@ @MPATH@ @DOMAIN@ @GATEWAY@ placeholders)."""

    name = "kamailio"

    def start(self, tmpdir, sip_port=None, gateway_addr="127.0.0.1:5070",
              domain="contoso.example", timeout=15, template=None):
        self.dir = os.path.join(tmpdir, "kamailio")
        os.makedirs(self.dir, exist_ok=True)
        self.port = sip_port or free_port()
        self.domain = domain.lower()
        self.gateway_addr = gateway_addr
        self.cfg_path = os.path.join(self.dir, "kamailio.cfg")
        self.log_path = os.path.join(self.dir, "kamailio.log")
        self.pidfile = os.path.join(self.dir, "kamailio.pid")
        mpath = next((p for p in KAMAILIO_MODULES_DIRS if os.path.isdir(p)),
                     KAMAILIO_MODULES_DIRS[0])
        cfg = ((template or KAMAILIO_CFG).replace("@PORT@", str(self.port))
               .replace("@MPATH@", mpath)
               .replace("@DOMAIN@", self.domain)
               .replace("@GATEWAY@", gateway_addr))
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


# --------------------------------------------------------------------------------------
# sipxmppd

SANITIZER_PATTERNS = ["ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                      "ERROR: UndefinedBehaviorSanitizer", "AddressSanitizer:DEADLYSIGNAL"]


def build_dir_from_env():
    return os.environ.get("SX_BUILD_DIR") or os.path.join(HERE, "..", "..", "build")


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
              ctl_setup=None, wait_healthy=True, timeout=20):
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
        self.env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
        self.env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
        for argv in ctl_setup or []:
            ctl = os.path.join(self.build_dir, "sipxmppctl")
            r = subprocess.run([ctl, "--config", self.cfg_path] + list(argv),
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                               env=self.env)
            if r.returncode != 0:
                raise RuntimeError("sipxmppctl %s failed (%d): %s %s"
                                   % (" ".join(argv), r.returncode,
                                      r.stdout.decode(errors="replace"),
                                      r.stderr.decode(errors="replace")))
        self.wait_healthy = wait_healthy
        self._launch(timeout)
        return self

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
