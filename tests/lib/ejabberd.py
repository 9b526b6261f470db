"""ejabberd 23.01 (Debian) for the integration tests, as an edge server with its own
config, spool and log directories under a temporary directory, started in the foreground on
127.0.0.1 with a unique Erlang node name and cookie.

As root, ejabberdctl runs the Erlang VM as the `ejabberd` user (through su), so the
directory is handed to that user. The VM writes its PID to DIR/ejabberd.pid: stop() sends
SIGTERM to that PID (and to ejabberdctl's), waits, then SIGKILL. The Erlang port mapper
(epmd) that the VM starts is shared by every Erlang node on the machine and is left running.
"""

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time

from servers import _Child, free_port, tail, wait_tcp

EJABBERDCTL = "/usr/sbin/ejabberdctl"


def available():
    return os.access(EJABBERDCTL, os.X_OK)


class Ejabberd(_Child):
    """ejabberd with `main_yml` (YAML text of the main config; "@DIR@" is replaced by the
    config directory) and optional extra files {name: text} in the config directory (e.g.
    the file edge-config renders, included from main_yml). Nodes that will form a cluster
    (`ejabberdctl join_cluster`) are started with the same `cookie`."""

    name = "ejabberd"

    def start(self, tmpdir, main_yml, files=None, wait_ports=(), timeout=30, cookie=None):
        self.dir = os.path.join(tmpdir, "ejabberd")
        self.cfg_dir = os.path.join(self.dir, "cfg")
        self.spool = os.path.join(self.dir, "spool")
        self.logs = os.path.join(self.dir, "logs")
        for d in (self.cfg_dir, self.spool, self.logs):
            os.makedirs(d, exist_ok=True)
        self.pidfile = os.path.join(self.dir, "ejabberd.pid")
        self.node = "sxtest%s@localhost" % secrets.token_hex(4)
        cookie = cookie or secrets.token_hex(16)
        with open(os.path.join(self.cfg_dir, "ejabberd.yml"), "w") as f:
            f.write(main_yml.replace("@DIR@", self.cfg_dir))
        for name, text in (files or {}).items():
            with open(os.path.join(self.cfg_dir, name), "w") as f:
                f.write(text)
        with open(os.path.join(self.cfg_dir, "ejabberdctl.cfg"), "w") as f:
            f.write("ERLANG_NODE=%s\nEJABBERD_PID_PATH=%s\nERLANG_OPTS=\"-setcookie %s\"\n"
                    "EJABBERD_BYPASS_WARNINGS=true\n" % (self.node, self.pidfile, cookie))
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("ejabberd")
                for root, dirs, fnames in os.walk(self.dir):
                    for n in [root] + [os.path.join(root, x) for x in dirs + fnames]:
                        os.chown(n, pw.pw_uid, pw.pw_gid)
                os.chmod(tmpdir, 0o755)
            except KeyError:
                pass
        self.log_path = os.path.join(self.dir, "ejabberdctl.out")
        self._spawn([EJABBERDCTL, "--config-dir", self.cfg_dir, "--spool", self.spool,
                     "--logs", self.logs, "foreground"], cwd=self.dir)
        try:
            for port in wait_ports:
                wait_tcp("127.0.0.1", port, timeout, self.proc, "ejabberd")
        except Exception as e:
            self.stop()
            raise RuntimeError("%s\n--- ejabberd.log ---\n%s\n--- ejabberdctl ---\n%s"
                               % (e, tail(os.path.join(self.logs, "ejabberd.log")),
                                  tail(self.log_path)))
        return self

    def vm_pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def ejabberd_log(self):
        try:
            with open(os.path.join(self.logs, "ejabberd.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, grace=10.0):
        pid = self.vm_pid()
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pid = None
            deadline = time.monotonic() + grace
            while pid and time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                # a zombie of su's child counts as gone once su reaps it
                if self.proc is not None and self.proc.poll() is not None:
                    break
                time.sleep(0.05)
            else:
                if pid:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        return super().stop(grace=grace)


def remove(path):
    shutil.rmtree(path, ignore_errors=True)
