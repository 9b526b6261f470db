"""The admin console end to end in a real browser (headless Chromium through chromedriver
and Selenium): an admin logs in, creates a partner, sees the validation error for an invalid
TLS/SASL/dialback combination, creates a policy and grants it to a user, and then a SIP
MESSAGE from that user passes through the running daemon to a real Prosody user. The store
starts empty, so nothing flows before the console is used.

A screenshot of every page is kept in $SX_ARTIFACT_DIR (default BUILD/admin-screenshots);
the path is printed.
"""

import os
import subprocess
import time

import pytest

import servers
from conftest import EXTERNAL, INTERNAL, need_gateway, stack_fixture

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

ADMIN, PASSWORD = "admin", "browser-pass-1"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def bst():
    need_gateway()
    port = servers.free_port()
    for st in stack_fixture("sx-browser-", with_gateway=True, ctl_setup=[],
                            config_overrides={"admin": {"listen": "127.0.0.1:%d" % port}}):
        st.admin_url = "http://127.0.0.1:%d" % port
        gw = st.gateway
        r = subprocess.run([os.path.join(gw.build_dir, "sipxmppctl"), "--config", gw.cfg_path,
                            "admin", "passwd", ADMIN], input=PASSWORD + "\n", text=True,
                           capture_output=True, env=gw.env, timeout=30)
        assert r.returncode == 0, r.stderr
        yield st


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMEDRIVER, os.X_OK):
        pytest.fail("chromedriver not installed (Debian chromium-driver)")
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,1000", "--force-device-scale-factor=1"):
        opts.add_argument(a)
    opts.binary_location = "/usr/bin/chromium"
    service = Service(executable_path=CHROMEDRIVER)
    d = webdriver.Chrome(options=opts, service=service)
    d.implicitly_wait(2)
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture(scope="module")
def shots():
    out = os.environ.get("SX_ARTIFACT_DIR") or os.path.join(
        servers.build_dir_from_env(), "admin-screenshots")
    os.makedirs(out, exist_ok=True)
    print("\nconsole screenshots in %s" % out)
    return out


def shot(d, shots, name):
    # the whole page: a viewport as tall as the document for the shot
    h = d.execute_script("return document.documentElement.scrollHeight")
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": 1280, "height": max(600, min(h, 4000)),
                       "deviceScaleFactor": 1, "mobile": False})
    path = os.path.join(shots, name + ".png")
    try:
        assert d.save_screenshot(path), path
    finally:
        d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert os.path.getsize(path) > 5000, path


def wait_until(d, pred, what):
    WebDriverWait(d, 10, poll_frequency=0.05).until(lambda drv: pred(drv), message=what)


def go(d, by, value):
    """Clicks something that loads a new page and waits until the new page is there (a
    form's answer may come a moment later: the old page must not be read meanwhile)."""
    old = d.find_element(By.TAG_NAME, "html")
    d.find_element(by, value).click()
    WebDriverWait(d, 10, poll_frequency=0.05).until(EC.staleness_of(old), message="new page")
    WebDriverWait(d, 10, poll_frequency=0.05).until(
        lambda drv: drv.execute_script("return document.readyState") == "complete")


def msg(d, kind):
    els = d.find_elements(By.ID, "msg-" + kind)
    return els[0].text if els else ""


def fill(d, field_id, value):
    e = d.find_element(By.ID, field_id)
    e.clear()
    e.send_keys(value)


def set_checkbox(d, field_id, on):
    e = d.find_element(By.ID, field_id)
    if e.is_selected() != on:
        e.click()


def test_console_end_to_end(bst, browser, shots):
    d = browser
    bob = bst.ua("bob")
    alice = bst.xmpp("alice")
    to = "sip:alice@%s" % EXTERNAL
    # an empty store: fabrikam is no partner, so bob's message is refused
    r = bob.send_message(to, "too early")
    assert r.status == 403, r.status

    # nothing without a session
    d.get(bst.admin_url + "/partners")
    assert d.current_url.endswith("/login")
    shot(d, shots, "login")
    fill(d, "name", ADMIN)
    fill(d, "password", "not-the-password")
    go(d, By.ID, "login")
    wait_until(d, lambda drv: "wrong name or password" in msg(drv, "error"), "login refused")
    fill(d, "name", ADMIN)
    fill(d, "password", PASSWORD)
    go(d, By.ID, "login")
    wait_until(d, lambda drv: drv.current_url.rstrip("/") == bst.admin_url, "logged in")
    assert "Edge links" in d.page_source
    assert d.find_element(By.ID, "secret").text == "set"

    # the partner: first an invalid combination, refused with the CLI's words
    go(d, By.LINK_TEXT, "Partners")
    go(d, By.ID, "new-partner")
    fill(d, "domain", EXTERNAL)
    Select(d.find_element(By.ID, "PartnerType")).select_by_value("Federated")
    Select(d.find_element(By.ID, "TlsNegotiation")).select_by_value("NotSupported")
    Select(d.find_element(By.ID, "SaslNegotiation")).select_by_value("Required")
    fill(d, "Description", "Fabrikam, federated")
    go(d, By.ID, "save")
    err = msg(d, "error")
    cli = subprocess.run([os.path.join(bst.gateway.build_dir, "sipxmppctl"), "--config",
                          bst.gateway.cfg_path, "partner", "new", EXTERNAL, "--tls",
                          "not-supported", "--sasl", "required"],
                         capture_output=True, text=True, env=bst.gateway.env, timeout=30)
    assert cli.returncode == 1
    assert err == cli.stderr.strip()[len("error: "):], (err, cli.stderr)
    assert "SaslNegotiation Required requires TLS" in err
    # what was entered is still there
    assert d.find_element(By.ID, "domain").get_attribute("value") == EXTERNAL
    shot(d, shots, "partner-invalid")
    # dialback off with TLS not supported: the other rule
    Select(d.find_element(By.ID, "SaslNegotiation")).select_by_value("NotSupported")
    set_checkbox(d, "SupportDialbackNegotiation", False)
    go(d, By.ID, "save")
    assert "leaves no way to authenticate" in msg(d, "error")
    # a valid one
    Select(d.find_element(By.ID, "TlsNegotiation")).select_by_value("Optional")
    Select(d.find_element(By.ID, "SaslNegotiation")).select_by_value("Optional")
    set_checkbox(d, "SupportDialbackNegotiation", True)
    go(d, By.ID, "save")
    assert "created partner %s" % EXTERNAL in msg(d, "ok")
    row = d.find_element(By.ID, "partners").text
    assert EXTERNAL in row and "Federated" in row and "Optional" in row
    shot(d, shots, "partners")

    # the policy, granted to bob
    go(d, By.LINK_TEXT, "Policies")
    fill(d, "name", "FedPic")
    set_checkbox(d, "EnableXmppAccess", True)
    set_checkbox(d, "EnableFederationAccess", True)
    fill(d, "Description", "Federation and XMPP")
    go(d, By.ID, "policy-save")
    assert "created policy 'FedPic'" in msg(d, "ok")
    Select(d.find_element(By.ID, "grant-policy")).select_by_value("FedPic")
    fill(d, "grant-user", "sip:bob@%s" % INTERNAL)
    go(d, By.ID, "grant")
    assert "granted policy 'FedPic' to sip:bob@%s" % INTERNAL in msg(d, "ok")
    assert "FedPic" in d.find_element(By.ID, "policies").text
    # global cannot be removed: its row has no Remove button
    rows = d.find_element(By.ID, "policies").find_elements(By.TAG_NAME, "tr")
    glob = [r for r in rows if r.text.startswith("global")][0]
    assert not glob.find_elements(By.TAG_NAME, "button")
    shot(d, shots, "policies")

    # the message flows now (the daemon reloads within a second)
    t0 = time.monotonic()
    while True:
        r = bob.send_message(to, "Hello through the console")
        if r.status == 202 or time.monotonic() - t0 > 2:
            break
        time.sleep(0.05)
    assert r.status == 202, r.status
    assert time.monotonic() - t0 < 1.5
    m = alice.wait_message(lambda m: m.body == "Hello through the console", timeout=10)
    assert m.frm.startswith("bob@%s" % INTERNAL)

    # users: bob is there with his policy; search works
    go(d, By.LINK_TEXT, "Users")
    users = d.find_element(By.ID, "users").text
    assert "bob@%s" % INTERNAL in users and "FedPic" in users
    fill(d, "uri", "sip:carol@%s" % INTERNAL)
    fill(d, "usite", "redmond")
    go(d, By.ID, "user-add")
    assert "added user carol@%s" % INTERNAL in msg(d, "ok")
    fill(d, "q", "carol")
    go(d, By.CSS_SELECTOR, "#search button")
    users = d.find_element(By.ID, "users").text
    assert "carol@" in users and "bob@" not in users
    shot(d, shots, "users")

    # relations and check: a contact bob added (with the CLI) shows with its state
    r = subprocess.run([os.path.join(bst.gateway.build_dir, "sipxmppctl"), "--config",
                        bst.gateway.cfg_path, "contact", "add", "sip:bob@%s" % INTERNAL,
                        "alice@%s" % EXTERNAL], capture_output=True, text=True,
                       env=bst.gateway.env, timeout=30)
    assert r.returncode == 0, r.stderr
    go(d, By.LINK_TEXT, "Relations")
    fill(d, "user", "sip:bob@%s" % INTERNAL)
    go(d, By.CSS_SELECTOR, "main form button")
    rel = d.find_element(By.ID, "relations").text
    assert "alice@%s added yes none none" % EXTERNAL in rel, rel
    shot(d, shots, "relations")
    go(d, By.LINK_TEXT, "Check")
    fill(d, "user", "sip:bob@%s" % INTERNAL)
    fill(d, "contact", "alice@%s" % EXTERNAL)
    go(d, By.ID, "check")
    assert d.find_element(By.ID, "decision").text == "allow"
    assert "policy: FedPic (granted to the user)" in d.find_element(By.ID, "check-text").text
    shot(d, shots, "check")

    # the status page refreshes itself: the accepted message shows in the rate
    go(d, By.LINK_TEXT, "Status")
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        if d.find_element(By.ID, "updated").text and \
                float(d.find_element(By.ID, "rate-sip_to_xmpp").text) > 0:
            break
        time.sleep(0.5)
    assert d.find_element(By.ID, "updated").text.startswith("updated ")
    assert float(d.find_element(By.ID, "rate-sip_to_xmpp").text) > 0
    links = d.find_element(By.ID, "links").text
    assert INTERNAL in links and "up" in links
    shot(d, shots, "status")

    go(d, By.ID, "logout")
    deadline = time.monotonic() + 5
    while not d.current_url.endswith("/login") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert d.current_url.endswith("/login")
    d.get(bst.admin_url + "/users")
    assert d.current_url.endswith("/login")
