"""A private PostgreSQL cluster for tests: initdb into a temporary directory, the server in
the foreground on a free 127.0.0.1 port (its socket in the same directory), one database
`sipxmpp` owned by role `sx` (trust authentication, locale C, UTF-8), stopped by its PID.

PostgreSQL refuses to run as root; when run as root the cluster belongs to the `postgres`
system user (the Debian package creates it) and the server runs as that user.

As a program it wraps a command: `pgcluster.py -- CMD ARGS...` starts a cluster, runs CMD
with SX_TEST_PG set to the database URI, stops the cluster and exits with CMD's status.
"""

import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from servers import free_port, wait_tcp  # noqa: E402


def _bindir():
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")


class PgCluster:
    def __init__(self):
        self.bin = _bindir()
        self.dir = tempfile.mkdtemp(prefix="sx-pg-")
        self.port = free_port()
        self.proc = None
        self.user = None
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            self.user = pw.pw_name
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        self.uri = "postgresql://sx@127.0.0.1:%d/sipxmpp" % self.port

    def _run(self, args):
        r = subprocess.run(args, user=self.user, capture_output=True, text=True, timeout=120,
                           cwd=self.dir)
        if r.returncode != 0:
            raise RuntimeError("%s failed: %s%s" % (args[0], r.stdout, r.stderr))

    def start(self):
        self._run([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "sx", "-A", "trust",
                   "-E", "UTF8", "--locale=C", "--no-sync"])
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [os.path.join(self.bin, "postgres"), "-D", self.data, "-p", str(self.port),
             "-k", self.dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200"],
            user=self.user, stdout=logf, stderr=subprocess.STDOUT, cwd=self.dir)
        logf.close()
        wait_tcp("127.0.0.1", self.port, 30, proc=self.proc, what="postgres")
        for _ in range(100):
            r = subprocess.run([os.path.join(self.bin, "createdb"), "-h", "127.0.0.1", "-p",
                                str(self.port), "-U", "sx", "sipxmpp"], user=self.user,
                               capture_output=True, text=True, timeout=30, cwd=self.dir)
            if r.returncode == 0:
                return self
            if "starting up" not in r.stderr:
                raise RuntimeError("createdb failed: " + r.stderr)
            time.sleep(0.1)
        raise RuntimeError("postgres did not accept connections")

    def psql(self, sql):
        """Runs sql through psql on the test database; returns its unaligned output."""
        r = subprocess.run([os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t",
                            "-v", "ON_ERROR_STOP=1", "-d", self.uri, "-c", sql],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("psql: " + r.stderr)
        return r.stdout.strip()

    def reset(self):
        """Empties the database (a fresh store for the next test)."""
        self.psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"
                  " DROP COLLATION IF EXISTS sx_nocase;")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if not os.environ.get("SX_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)


def main(argv):
    if "--" not in argv:
        sys.stderr.write("usage: pgcluster.py -- CMD ARGS...\n")
        return 2
    cmd = argv[argv.index("--") + 1:]
    pg = PgCluster()
    try:
        pg.start()
        env = dict(os.environ, SX_TEST_PG=pg.uri)
        return subprocess.run(cmd, env=env).returncode
    finally:
        pg.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
