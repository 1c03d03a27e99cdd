"""HTTP triggers (issue 5 part 2, fc-api.md §3, §1.1–§1.2, runtimes.md §2.2, §2.5, §3.2, §4.1, §4.2):
/proxy/{svc}[.{q}]/{fn}/{path} on Python WSGI, Node.js (req, resp, context) and a custom runtime, on both
backends. The same small app is written three times; each answers these routes:

  /echo     the request body back, with X-Method / X-Path / X-Query headers (raw query)
  /cookies  201, two Set-Cookie headers, and headers the platform must drop
  /missing  404 set by the function
  /crash    the process exits
  /info     JSON about the request as the function saw it (runtime-specific keys)
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from urllib.parse import quote, urlencode

import pytest
import requests

from tests.helpers import AK_ID, AK_SECRET, deploy, wait_async_idle, write_zip

V1 = "/2016-08-15"

WSGI_APP = r'''
import json, os

def handler(environ, start_response):
    path = environ["PATH_INFO"]
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    if path.endswith("/echo") or path == "/echo":
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("X-Method", environ["REQUEST_METHOD"]),
                                  ("X-Path", path), ("X-Query", environ["QUERY_STRING"])])
        return [body]
    if path == "/cookies":
        start_response("201 Created", [("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; Path=/"),
                                       ("X-Fc-Secret", "s"), ("Connection", "close"), ("Server", "mine"),
                                       ("Date", "Mon, 02 Jan 2006 15:04:05 GMT"), ("X-Custom", "kept"),
                                       ("Content-Type", "text/plain")])
        return [b"cookies"]
    if path == "/missing":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not here"]
    if path == "/crash":
        os._exit(3)
    if path == "/raise":
        raise ValueError("bad request handling")
    if path == "/big-headers":
        start_response("200 OK", [("X-Big", "b" * 9000)])
        return [b"too much"]
    if path == "/7kb-headers":  # within FC's 8 KB, though more than 8 KB once base64-encoded for the agent
        start_response("200 OK", [("Set-Cookie", "a=" + "a" * 3500), ("Set-Cookie", "b=" + "b" * 3500)])
        return [b"fine"]
    keys = ["REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "REMOTE_ADDR", "CONTENT_TYPE", "CONTENT_LENGTH",
            "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SCRIPT_NAME", "fc.request_uri", "wsgi.url_scheme",
            "HTTP_X_FC_FUNCTION_HANDLER"]
    info = {k: environ.get(k) for k in keys}
    info["http"] = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
    info["fc.context.request_id"] = environ["fc.context"].request_id
    info["body"] = body.decode("latin-1")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(info).encode()]
'''

NODE_APP = r'''
exports.handler = (req, resp, context) => {
  const p = req.path;
  if (p === '/echo') {
    resp.setHeader('Content-Type', 'application/octet-stream');
    resp.setHeader('X-Method', req.method);
    resp.setHeader('X-Path', p);
    resp.setHeader('X-Query', req.url.includes('?') ? req.url.split('?')[1] : '');
    resp.send(req.body);
  } else if (p === '/cookies') {
    resp.setStatusCode(201);
    resp.setHeader('Set-Cookie', ['a=1; Path=/', 'b=2; Path=/']);
    resp.setHeader('X-Fc-Secret', 's');
    resp.setHeader('Connection', 'close');
    resp.setHeader('Server', 'mine');
    resp.setHeader('X-Custom', 'kept');
    resp.setHeader('Content-Type', 'text/plain');
    resp.send('cookies');
  } else if (p === '/missing') {
    resp.setStatusCode(404);
    resp.setHeader('Content-Type', 'text/plain');
    resp.send('not here');
  } else if (p === '/crash') {
    process.exit(3);
  } else {
    resp.setHeader('Content-Type', 'application/json');
    resp.send(JSON.stringify({method: req.method, path: p, queries: req.queries, url: req.url,
                              clientIP: req.clientIP, headers: req.headers, requestId: context.requestId,
                              body: req.body.toString('latin1')}));
  }
};
'''

# A custom runtime: the user's own server gets the client's request itself (runtimes.md §2.2).
CUSTOM_SERVER = r'''#!/usr/bin/env python3
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("FC_CUSTOM_LISTEN_PORT") or 9000)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        full, _, query = self.path.partition("?")
        base = self.headers.get("x-fc-base-path") or "/"
        route = "/" + full[len(base):] if full.startswith(base) else full
        if route == "/echo":
            return self.answer(200, [("Content-Type", "application/octet-stream"), ("X-Method", self.command),
                                     ("X-Path", route), ("X-Query", query)], body)
        if route == "/cookies":
            return self.answer(201, [("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; Path=/"),
                                     ("X-Fc-Secret", "s"), ("Connection", "keep-alive"), ("X-Custom", "kept"),
                                     ("Content-Type", "text/plain")], b"cookies")
        if route == "/missing":
            return self.answer(404, [("Content-Type", "text/plain")], b"not here")
        if route == "/crash":
            os._exit(3)
        info = {"method": self.command, "path": self.path, "route": route,
                "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body.decode("latin-1")}
        return self.answer(200, [("Content-Type", "application/json")], json.dumps(info).encode())

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any


ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
'''

APPS = {
    "python": dict(files={"index.py": WSGI_APP}, runtime="python3.10"),
    "nodejs": dict(files={"index.js": NODE_APP}, runtime="nodejs16"),
    "custom": dict(files={"bootstrap": CUSTOM_SERVER}, runtime="custom", executable=("bootstrap",)),
}
ALL = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"]


def make_http_function(client, tmp_path, kind: str, *, name: str = "fn", auth: str = "anonymous",
                       methods: list[str] | None = None, qualifier: str | None = None) -> None:
    app = APPS[kind]
    deploy(client, tmp_path, app["files"], name=name, runtime=app["runtime"],
           executable=app.get("executable", ()), memorySize=256)
    client.create_trigger("svc", name, "web", "http", {"authType": auth, "methods": methods or ALL}, "", "",
                          qualifier=qualifier)


def proxy(server, account, path: str, method: str = "GET", svc: str = "svc", fn: str = "fn", **kwargs):
    headers = {"X-Fc-Account-Id": account, **kwargs.pop("headers", {})}
    return requests.request(method, f"{server.url}{V1}/proxy/{svc}/{fn}{path}", headers=headers, timeout=60,
                            **kwargs)


@pytest.fixture(params=list(APPS))
def kind(request) -> str:
    return request.param


# ---- anonymous: the round trip ----------------------------------------------------------------------

def test_get_and_post_round_trip_binary_bodies_and_queries(efc, exec_server, account, tmp_path, kind):
    make_http_function(efc, tmp_path, kind)
    r = proxy(exec_server, account, "/echo?a=1&a=2&b=x%20y&empty=")
    assert r.status_code == 200, r.text
    assert r.headers["X-Method"] == "GET" and r.headers["X-Path"] == "/echo"
    assert r.headers["X-Query"] == "a=1&a=2&b=x%20y&empty="  # raw, repeated keys and order kept
    assert r.content == b"" and "X-Fc-Request-Id" in r.headers
    assert r.headers["Content-Disposition"] == "attachment"  # forced on FC's default domain (runtimes.md §2.5)

    blob = bytes(range(256)) * 64 + b"\x00\xff\xfe"
    r = proxy(exec_server, account, "/echo?x=1", "POST", data=blob, headers={"Content-Type": "image/png"})
    assert r.status_code == 200 and r.content == blob and r.headers["X-Method"] == "POST"
    for method in ("PUT", "PATCH", "DELETE", "OPTIONS"):
        r = proxy(exec_server, account, "/echo", method, data=b"\x01\x02")
        assert r.status_code == 200 and r.headers["X-Method"] == method and r.content == b"\x01\x02"
    r = proxy(exec_server, account, "/echo", "HEAD")
    assert r.status_code == 200 and r.headers["X-Method"] == "HEAD" and r.content == b""


def test_cookies_status_and_filtered_headers(efc, exec_server, account, tmp_path, kind):
    make_http_function(efc, tmp_path, kind)
    r = proxy(exec_server, account, "/cookies", stream=True)
    assert r.status_code == 201
    assert r.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]  # two headers, not merged
    assert r.headers["X-Custom"] == "kept" and r.headers["Content-Type"] == "text/plain"
    assert "X-Fc-Secret" not in r.headers  # x-fc-* set by the function is dropped
    assert r.headers.get("Connection", "keep-alive") == "keep-alive"  # the function's own is not relayed
    assert r.headers.get("Server") != "mine" and r.headers.get("Date") != "Mon, 02 Jan 2006 15:04:05 GMT"
    assert r.content == b"cookies"

    r = proxy(exec_server, account, "/missing")
    assert r.status_code == 404 and r.content == b"not here"
    assert "X-Fc-Error-Type" not in r.headers  # a 404 of the function's is not an error


def test_large_bodies_both_ways(efc, exec_server, account, tmp_path, kind):
    make_http_function(efc, tmp_path, kind)
    blob = os.urandom(10 * 1024 * 1024)
    r = proxy(exec_server, account, "/echo", "POST", data=blob)
    assert r.status_code == 200 and len(r.content) == len(blob) and r.content == blob


def test_requests_near_the_limits_reach_the_function(efc, exec_server, account, tmp_path, kind):
    """7 KB of headers and a 3.5 KB query (FC's limits: 8 KB and 4 KB) travel in x-fc-http-params."""
    make_http_function(efc, tmp_path, kind)
    query = "q=" + "x" * 3500
    r = proxy(exec_server, account, "/echo?" + query, headers={"X-Big": "y" * 7000, "X-Multi": "1"})
    assert r.status_code == 200, r.text[:300]
    assert r.headers["X-Query"] == query


def test_crash_answers_502_with_fcs_body(efc, exec_server, account, tmp_path, kind):
    make_http_function(efc, tmp_path, kind)
    r = proxy(exec_server, account, "/crash", "POST")
    assert r.status_code == 502
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["errorMessage"].startswith("Process exited unexpectedly before completing request"), body
    assert "ErrorCode" not in body
    crashed = r.headers["X-Fc-Request-Id"]
    r = proxy(exec_server, account, "/echo", "POST", data=b"again")  # a new instance serves the next request
    assert r.status_code == 200 and r.content == b"again"
    wait_async_idle(exec_server)
    h = {"X-Fc-Account-Id": account}
    rec = requests.get(f"{exec_server.url}/_emulator/invocations/{crashed}", headers=h).json()
    assert rec["kind"] == "http" and rec["status"] == "failed" and rec["functionName"] == "fn"
    rec = requests.get(f"{exec_server.url}/_emulator/invocations/{r.headers['X-Fc-Request-Id']}", headers=h).json()
    assert rec["kind"] == "http" and rec["status"] == "succeeded" and rec["payloadPreview"] == "again"


def test_wsgi_unhandled_exception_is_a_502(efc, exec_server, account, tmp_path):
    make_http_function(efc, tmp_path, "python")
    r = proxy(exec_server, account, "/raise")
    assert r.status_code == 502
    body = r.json()
    assert body["errorMessage"] == "bad request handling" and body["errorType"] == "ValueError"


def test_response_headers_over_8kb_are_a_bad_response(efc, exec_server, account, tmp_path):
    make_http_function(efc, tmp_path, "python")
    r = proxy(exec_server, account, "/big-headers")
    assert r.status_code == 502 and r.json()["ErrorCode"] == "BadResponse" and "X-Big" not in r.headers
    r = proxy(exec_server, account, "/7kb-headers", stream=True)
    assert r.status_code == 200 and [len(c) for c in r.raw.headers.getlist("Set-Cookie")] == [3502, 3502]


def test_wsgi_environ(efc, exec_server, account, tmp_path):
    make_http_function(efc, tmp_path, "python")
    r = proxy(exec_server, account, "/info/x%20y?q=1&q=2&s=%C3%A9", "POST", data=b"hi",
              headers={"Content-Type": "text/plain", "X-Custom": "c1", "User-Agent": "ua/1"})
    assert r.status_code == 200, r.text
    env = r.json()
    assert env["REQUEST_METHOD"] == "POST"
    assert env["PATH_INFO"] == "/info/x y"  # the path after the function, decoded
    assert env["QUERY_STRING"] == "q=1&q=2&s=%C3%A9"
    assert env["fc.request_uri"] == f"{V1}/proxy/svc/fn/info/x%20y?q=1&q=2&s=%C3%A9"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["CONTENT_TYPE"] == "text/plain" and env["CONTENT_LENGTH"] == "2" and env["body"] == "hi"
    assert env["SERVER_NAME"] == "FCRUNTIME" and env["SERVER_PORT"] == "9000" and env["SCRIPT_NAME"] == ""
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1" and env["wsgi.url_scheme"] == "http"
    assert env["HTTP_X_FC_FUNCTION_HANDLER"] == "index.handler"
    assert env["fc.context.request_id"] == r.headers["X-Fc-Request-Id"]
    http = env["http"]
    assert http["HTTP_X_CUSTOM"] == "c1" and http["HTTP_USER_AGENT"] == "ua/1"
    assert http["HTTP_HOST"].startswith("127.0.0.1:")
    assert "HTTP_CONTENT_TYPE" not in http and "HTTP_X_FC_ACCOUNT_ID" not in http


def test_node_request_object(efc, exec_server, account, tmp_path):
    make_http_function(efc, tmp_path, "nodejs")
    r = proxy(exec_server, account, "/info/a%20b?q=1&q=2&s=t", "POST", data=b"hi",
              headers={"X-Custom": "c1", "Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    req = r.json()
    assert req["method"] == "POST" and req["path"] == "/info/a b"
    assert req["queries"] == {"q": ["1", "2"], "s": "t"}
    assert req["url"] == f"{V1}/proxy/svc/fn/info/a%20b?q=1&q=2&s=t"
    assert req["clientIP"] == "127.0.0.1" and req["body"] == "hi"
    assert req["headers"]["x-custom"] == "c1" and req["headers"]["content-type"] == "text/plain"
    assert "x-fc-account-id" not in req["headers"]
    assert req["requestId"] == r.headers["X-Fc-Request-Id"]


def test_custom_runtime_gets_the_full_path_and_base_path(efc, exec_server, account, tmp_path):
    make_http_function(efc, tmp_path, "custom")
    r = proxy(exec_server, account, "/info/a%20b?q=1&q=2", "PUT", data=b"hi", headers={"X-Custom": "c1"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["method"] == "PUT" and got["body"] == "hi"
    assert got["path"] == f"{V1}/proxy/svc/fn/info/a%20b?q=1&q=2"
    h = got["headers"]
    assert h["x-fc-base-path"] == f"{V1}/proxy/svc/fn/"
    assert h["x-fc-control-path"] == "/http-invoke" and h["x-fc-request-id"] == r.headers["X-Fc-Request-Id"]
    assert h["x-custom"] == "c1" and h["x-fc-function-name"] == "fn"


# ---- routing -----------------------------------------------------------------------------------------

def test_bare_function_path_and_unknown_targets(efc, exec_server, account, tmp_path):
    make_http_function(efc, tmp_path, "python")
    r = requests.get(f"{exec_server.url}{V1}/proxy/svc/fn", headers={"X-Fc-Account-Id": account})
    assert r.status_code == 200 and r.json()["PATH_INFO"] == "/"
    r = proxy(exec_server, account, "/", fn="nope")
    assert r.status_code == 404 and r.json()["ErrorCode"] == "FunctionNotFound"
    r = proxy(exec_server, account, "/", svc="nosvc")
    assert r.status_code == 404 and r.json()["ErrorCode"] == "ServiceNotFound"
    deploy(efc, tmp_path, {"index.py": WSGI_APP}, name="plain")  # a function without an HTTP trigger
    r = proxy(exec_server, account, "/", fn="plain")
    assert r.status_code == 404 and r.json()["ErrorCode"] == "TriggerNotFound"


def test_qualifier_in_the_path_routes_to_the_alias_trigger(efc, exec_server, account, tmp_path):
    v1 = {"index.py": "def handler(environ, start_response):\n    start_response('200 OK', [])\n    return [b'v1']\n"}
    v2 = {"index.py": v1["index.py"].replace("v1", "v2")}
    deploy(efc, tmp_path, v1)
    version = efc.publish_version("svc").data["versionId"]
    efc.create_alias("svc", "prod", version)
    efc.update_function("svc", "fn", codeZipFile=write_zip(tmp_path, v2))
    efc.create_trigger("svc", "fn", "web-prod", "http", {"authType": "anonymous", "methods": ["GET"]}, "", "",
                       qualifier="prod")
    r = proxy(exec_server, account, "/", svc="svc.prod")
    assert r.status_code == 200 and r.content == b"v1"
    r = proxy(exec_server, account, "/", svc="svc")  # LATEST has no HTTP trigger yet
    assert r.status_code == 404 and r.json()["ErrorCode"] == "TriggerNotFound"
    efc.create_trigger("svc", "fn", "web", "http", {"authType": "anonymous", "methods": ["GET"]}, "", "")
    assert proxy(exec_server, account, "/").content == b"v2"
    assert proxy(exec_server, account, "/", svc="svc.LATEST").content == b"v2"
    r = proxy(exec_server, account, "/", svc="svc.nope")
    assert r.status_code == 404 and r.json()["ErrorCode"] == "AliasNotFound"


def test_method_not_allowed(efc, exec_server, account, tmp_path):
    make_http_function(efc, tmp_path, "python", methods=["GET", "POST"])
    assert proxy(exec_server, account, "/echo", "POST", data=b"x").status_code == 200
    r = proxy(exec_server, account, "/echo", "DELETE")
    assert r.status_code == 403
    err = r.json()
    assert err["ErrorCode"] == "FCCommonError"
    assert err["ErrorMessage"] == "method 'DELETE' is not allowed by the HTTP trigger (allowed: GET, POST)"
    r = proxy(exec_server, account, "/echo", "HEAD")
    assert r.status_code == 403


def test_limits(efc, exec_server, account, tmp_path):
    make_http_function(efc, tmp_path, "python")
    r = proxy(exec_server, account, "/echo?q=" + "x" * 5000)
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    r = proxy(exec_server, account, "/echo", headers={"X-Big": "y" * 9000})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"


# ---- authType: function ------------------------------------------------------------------------------

def signed_url(server, account: str, path: str, query: dict, expires: int, secret: str = AK_SECRET) -> str:
    """A signed URL as Go's SignURL / Java's SignURLConfig build it (fc-api.md §1.2); the x-fc-account-id
    header the request will carry is signed too, as those SDKs sign the x-fc-* headers present."""
    q = {**query, "x-fc-access-key-id": AK_ID, "x-fc-expires": str(expires)}
    resource = path + "\n" + "\n".join(sorted(f"{k}={v}" for k, v in q.items()))
    to_sign = "\n".join(["GET", "", "", str(expires), f"x-fc-account-id:{account}\n" + resource])
    sig = base64.b64encode(hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).digest()).decode()
    return server.url + quote(path) + "?" + urlencode({**q, "x-fc-signature": sig})


def test_function_auth_with_the_sdk_signature(efc, exec_server, account, tmp_path):
    make_http_function(efc, tmp_path, "python", auth="function")
    r = efc.do_http_request("POST", "svc", "fn", "/echo", body=b"signed")
    assert r.status_code == 200 and r.content == b"signed", r.text
    r = efc.do_http_request("GET", "svc", "fn", "/echo", params={"a": "1 2", "b": ["x", "y"]})
    assert r.status_code == 200, r.text
    assert r.headers["X-Query"] in ("a=1+2&b=x&b=y", "a=1%202&b=x&b=y")
    r = efc.do_http_request("PUT", "svc", "fn", "/info/test/path/中文", params={"k": "v"}, body=b"x",
                            headers={"x-fc-trace-id": "t-1"})
    assert r.status_code == 200, r.text
    assert r.json()["PATH_INFO"] == "/info/test/path/中文"

    r = proxy(exec_server, account, "/echo")  # no signature
    assert r.status_code == 403 and r.json()["ErrorCode"] == "AccessDenied"
    headers = {"Authorization": f"FC {AK_ID}:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
               "Date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())}
    r = proxy(exec_server, account, "/echo", headers=headers)
    assert r.status_code == 403 and r.json()["ErrorCode"] == "SignatureNotMatch"


def test_function_auth_with_a_signed_url(efc, exec_server, account, tmp_path):
    make_http_function(efc, tmp_path, "python", auth="function")
    path = f"{V1}/proxy/svc/fn/echo"
    h = {"X-Fc-Account-Id": account}
    r = requests.get(signed_url(exec_server, account, path, {"k": "v w"}, int(time.time()) + 300), headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["X-Query"].startswith("k=v") and "x-fc-signature=" in r.headers["X-Query"]
    r = requests.get(signed_url(exec_server, account, path, {}, int(time.time()) - 5), headers=h)
    assert r.status_code == 403, r.text
    r = requests.get(signed_url(exec_server, account, path, {}, int(time.time()) + 300, secret="wrong"), headers=h)
    assert r.status_code == 403 and r.json()["ErrorCode"] == "SignatureNotMatch"


def test_anonymous_ignores_authorization(efc, exec_server, account, tmp_path):
    make_http_function(efc, tmp_path, "python")
    r = proxy(exec_server, account, "/echo", headers={"Authorization": "FC nobody:bad"})
    assert r.status_code == 200
