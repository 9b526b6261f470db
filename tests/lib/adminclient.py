"""A small client of sipxmppd's admin console (gateway/admin_*.c): the session cookie, the
CSRF token, JSON API calls and form posts, over plain HTTP or HTTPS (certificate not
checked: the tests use a self-signed one)."""

import http.client
import json
import ssl
import urllib.parse


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # list of (name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)


class AdminClient:
    def __init__(self, port, host="127.0.0.1", tls=False):
        self.host, self.port, self.tls = host, port, tls
        self.cookie = None
        self.csrf = None

    def request(self, method, path, body=None, headers=None, csrf=True):
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = "sxadmin=%s" % self.cookie
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            h.setdefault("X-CSRF-Token", self.csrf)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            c = http.client.HTTPSConnection(self.host, self.port, timeout=10, context=ctx)
        else:
            c = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            resp = Response(r.status, r.getheaders(), r.read())
        finally:
            c.close()
        for v in resp.all("Set-Cookie"):
            name, _, rest = v.partition("=")
            if name == "sxadmin":
                val = rest.split(";")[0]
                self.cookie = val or None
        return resp

    def login(self, name, password):
        r = self.request("POST", "/api/login", {"name": name, "password": password})
        if r.status == 200:
            self.csrf = r.json()["csrf"]
        return r

    def form(self, path, fields, csrf=True):
        f = dict(fields)
        if csrf and self.csrf:
            f.setdefault("csrf", self.csrf)
        return self.request("POST", path, urllib.parse.urlencode(f),
                            {"Content-Type": "application/x-www-form-urlencoded"}, csrf=False)

    def get(self, path, **q):
        if q:
            path += "?" + urllib.parse.urlencode(q)
        return self.request("GET", path)

    def api(self, method, path, body=None, **q):
        if q:
            path += "?" + urllib.parse.urlencode(q)
        return self.request(method, path, body)
