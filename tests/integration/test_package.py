"""The .deb (cpack -G DEB) on this machine: dpkg -i installs the binaries, the hardened unit
(systemd-analyze verify passes), the system user, the directories and the sample config as a
conffile; sipxmppd --check passes on the installed config, also as the service user;
dpkg -r leaves the admin's edited config and store; purge removes the config and still
keeps the store.

It installs into /usr, /etc and /var for real, so it needs root (skipped otherwise) and
refuses to run where a sipxmpp package is installed. Whatever of /etc/sipxmpp and
/var/lib/sipxmpp existed before is moved aside and put back afterwards; the user it
creates is removed again."""

import grp
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

import servers

PATHS = ["/etc/sipxmpp", "/var/lib/sipxmpp"]


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, **kw)


def installed():
    r = run(["dpkg-query", "-W", "-f=${Status}", "sipxmpp"])
    return r.returncode == 0 and "installed" in r.stdout and "not-installed" not in r.stdout


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.fixture
def system():
    if os.geteuid() != 0:
        pytest.skip("needs root: dpkg -i installs into /usr, /etc and /var")
    if installed() or run(["dpkg-query", "-W", "sipxmpp"]).returncode == 0:
        pytest.skip("a sipxmpp package is installed (or not purged) on this machine; "
                    "this test does not touch it")
    build = servers.build_dir_from_env()
    if not os.path.exists(os.path.join(build, "CPackConfig.cmake")):
        pytest.fail("no CPackConfig.cmake in %s" % build)
    tmp = tempfile.mkdtemp(prefix="sx-deb-")
    saved = {}
    had_user = user_exists("sipxmpp")
    try:
        for p in PATHS:
            if os.path.lexists(p):
                dest = os.path.join(tmp, "saved" + p.replace("/", "_"))
                shutil.move(p, dest)
                saved[p] = dest
        r = run(["cpack", "-G", "DEB", "--config", os.path.join(build, "CPackConfig.cmake"),
                 "-B", os.path.join(tmp, "pkg")])
        assert r.returncode == 0, r.stdout + r.stderr
        debs = [f for f in os.listdir(os.path.join(tmp, "pkg")) if f.endswith(".deb")]
        assert len(debs) == 1, debs
        yield os.path.join(tmp, "pkg", debs[0])
    finally:
        if installed() or run(["dpkg-query", "-W", "sipxmpp"]).returncode == 0:
            run(["dpkg", "--purge", "sipxmpp"])
        for p in PATHS:
            shutil.rmtree(p, ignore_errors=True)
        for p, dest in saved.items():
            shutil.move(dest, p)
        if not had_user and user_exists("sipxmpp"):
            run(["userdel", "sipxmpp"])
            try:
                grp.getgrnam("sipxmpp")
                run(["groupdel", "sipxmpp"])
            except KeyError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)


def test_deb_install_check_remove(system):
    deb = system
    r = run(["dpkg", "-i", deb])
    assert r.returncode == 0, r.stdout + r.stderr
    for f in ["/usr/bin/sipxmppd", "/usr/bin/sipxmppctl",
              "/usr/lib/systemd/system/sipxmppd.service", "/usr/lib/sysusers.d/sipxmpp.conf",
              "/usr/lib/tmpfiles.d/sipxmpp.conf"]:
        assert os.path.exists(f), f
    unit = open("/usr/lib/systemd/system/sipxmppd.service").read()
    for want in ["User=sipxmpp", "ProtectSystem=strict", "ReadWritePaths=/var/lib/sipxmpp",
                 "NoNewPrivileges=yes", "ExecReload=/bin/kill -HUP $MAINPID",
                 "Restart=on-failure", "ExecStart=/usr/bin/sipxmppd --config "
                 "/etc/sipxmpp/sipxmppd.conf"]:
        assert want in unit, want
    r = run(["systemd-analyze", "verify", "/usr/lib/systemd/system/sipxmppd.service"])
    assert r.returncode == 0 and "sipxmppd.service" not in r.stdout + r.stderr, r.stderr

    # the user, the directories, the config readable by the service's group only
    pw = pwd.getpwnam("sipxmpp")
    st = os.stat("/var/lib/sipxmpp")
    assert st.st_uid == pw.pw_uid and oct(st.st_mode & 0o777) == "0o750"
    st = os.stat("/etc/sipxmpp/sipxmppd.conf")
    assert st.st_uid == 0 and st.st_gid == pw.pw_gid and oct(st.st_mode & 0o777) == "0o640"
    r = run(["dpkg-query", "-W", "-f=${Conffiles}", "sipxmpp"])
    assert "/etc/sipxmpp/sipxmppd.conf" in r.stdout

    r = run(["/usr/bin/sipxmppd", "--check"])
    assert r.returncode == 0 and "/etc/sipxmpp/sipxmppd.conf: ok" in r.stdout, r.stderr
    r = run(["runuser", "-u", "sipxmpp", "--", "/usr/bin/sipxmppd", "--check"])
    assert r.returncode == 0, r.stderr
    r = run(["/usr/bin/sipxmppd", "--version"])
    assert r.returncode == 0 and r.stdout.startswith("sipxmppd ")

    # the admin edits the config and creates the store as the service user
    with open("/etc/sipxmpp/sipxmppd.conf", "a") as f:
        f.write("; edited by the admin\n")
    r = run(["runuser", "-u", "sipxmpp", "--", "/usr/bin/sipxmppctl", "policy", "set", "global",
             "--xmpp"])
    assert r.returncode == 0, r.stderr
    assert os.path.exists("/var/lib/sipxmpp/sipxmpp.db")

    # remove: binaries and unit go, the admin's config and store stay
    r = run(["dpkg", "-r", "sipxmpp"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert not os.path.exists("/usr/bin/sipxmppd")
    assert not os.path.exists("/usr/lib/systemd/system/sipxmppd.service")
    assert open("/etc/sipxmpp/sipxmppd.conf").read().endswith("; edited by the admin\n")
    assert os.path.exists("/var/lib/sipxmpp/sipxmpp.db")

    # purge: the config goes (a conffile), the store still stays
    r = run(["dpkg", "--purge", "sipxmpp"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert not os.path.exists("/etc/sipxmpp/sipxmppd.conf")
    assert os.path.exists("/var/lib/sipxmpp/sipxmpp.db")


def test_cmake_install_into_destdir():
    """cmake --install puts the unit (naming the installed binaries), the sysusers and
    tmpfiles snippets, the binaries and the sample config in place."""
    build = servers.build_dir_from_env()
    tmp = tempfile.mkdtemp(prefix="sx-inst-")
    try:
        env = dict(os.environ, DESTDIR=tmp)
        r = run(["cmake", "--install", build, "--prefix", "/opt/sx"], env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        for f in ["opt/sx/bin/sipxmppd", "opt/sx/bin/sipxmppctl",
                  "opt/sx/lib/systemd/system/sipxmppd.service",
                  "opt/sx/lib/sysusers.d/sipxmpp.conf", "opt/sx/lib/tmpfiles.d/sipxmpp.conf",
                  "etc/sipxmpp/sipxmppd.conf"]:
            assert os.path.exists(os.path.join(tmp, f)), f
        assert os.path.isdir(os.path.join(tmp, "var/lib/sipxmpp"))
        unit = open(os.path.join(tmp, "opt/sx/lib/systemd/system/sipxmppd.service")).read()
        assert "ExecStart=/opt/sx/bin/sipxmppd --config /etc/sipxmpp/sipxmppd.conf" in unit
        # an existing config is kept
        with open(os.path.join(tmp, "etc/sipxmpp/sipxmppd.conf"), "w") as f:
            f.write("; mine\n")
        r = run(["cmake", "--install", build, "--prefix", "/opt/sx"], env=env)
        assert r.returncode == 0
        assert open(os.path.join(tmp, "etc/sipxmpp/sipxmppd.conf")).read() == "; mine\n"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
