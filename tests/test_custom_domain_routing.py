"""Requests to custom domains (issue 5 part 3, fc-api.md §2.7, runtimes.md §2.2): a Host that is a custom
domain, or <domain>.localhost, is routed by the domain's routeConfig (longest path first, methods,
qualifier) to the function's HTTP trigger; the function sees the request path as it was sent."""
from __future__ import annotations

import requests

from tests.helpers import deploy, write_zip

V1 = "/2016-08-15"
WHO = r'''
import json

def handler(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    out = {"fn": environ["fc.context"].function.name, "qualifier": environ["fc.context"].service.qualifier,
           "path": environ["PATH_INFO"], "query": environ["QUERY_STRING"], "uri": environ["fc.request_uri"],
           "host": environ.get("HTTP_HOST"), "method": environ["REQUEST_METHOD"], "body": body.decode()}
    start_response("200 OK", [("Content-Type", "application/json"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
    return [json.dumps(out).encode()]
'''
CUSTOM = r'''#!/usr/bin/env python3
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        out = json.dumps({"path": self.path, "base": self.headers.get("x-fc-base-path"),
                          "host": self.headers.get("host")}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("FC_CUSTOM_LISTEN_PORT") or 9000)), Handler).serve_forever()
'''
ANON = {"authType": "anonymous", "methods": ["GET", "POST", "PUT", "DELETE"]}


def web_function(client, tmp_path, name: str, files=None, **kwargs) -> None:
    deploy(client, tmp_path, files or {"index.py": WHO}, name=name, **kwargs)
    client.create_trigger("svc", name, "web", "http", ANON, "", "")


def at(server, host: str, path: str, method: str = "GET", **kwargs) -> requests.Response:
    """A request to the emulator whose Host header names the custom domain (as DNS would send it)."""
    return requests.request(method, server.url + path, headers={"Host": host, **kwargs.pop("headers", {})},
                            timeout=60, **kwargs)


def test_longest_match_suffix_and_path_as_sent(efc, exec_server, account, tmp_path):
    web_function(efc, tmp_path, "a")
    web_function(efc, tmp_path, "b")
    domain = f"app{account}.example.com"
    efc.create_custom_domain(domain, "HTTP", {"routes": [
        {"path": "/*", "serviceName": "svc", "functionName": "a"},
        {"path": "/api/*", "serviceName": "svc", "functionName": "b"},
    ]})
    for host in (domain, f"{domain}.localhost", f"{domain.upper()}.localhost:9000"):
        r = at(exec_server, host, "/api/x%20y?q=1&q=2", "POST", data=b"hello")
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["fn"] == "b" and got["path"] == "/api/x y" and got["query"] == "q=1&q=2"
        assert got["uri"] == "/api/x%20y?q=1&q=2" and got["method"] == "POST" and got["body"] == "hello"
        assert got["host"] == host  # the function sees the Host the client sent
        assert "Content-Disposition" not in r.headers  # only FC's default domain forces a download
        assert r.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert at(exec_server, domain, "/other").json()["fn"] == "a"
    assert at(exec_server, domain, "/").json()["fn"] == "a"
    assert at(exec_server, domain, "/api").json()["fn"] == "b"  # /api/* covers /api itself
    assert at(exec_server, domain, "/apix").json()["fn"] == "a"  # but not /apix
    # the emulator's own API is still there for hosts that are not custom domains
    assert requests.get(exec_server.url + "/health").status_code == 200


def test_exact_paths_unknown_paths_and_unknown_hosts(efc, exec_server, account, tmp_path):
    web_function(efc, tmp_path, "a")
    domain = f"exact{account}.example.com"
    efc.create_custom_domain(domain, "HTTP", {"routes": [{"path": "/login", "serviceName": "svc",
                                                           "functionName": "a"}]})
    assert at(exec_server, domain, "/login").json()["fn"] == "a"
    r = at(exec_server, domain, "/login/more")
    assert r.status_code == 404 and r.json()["ErrorCode"] == "RouteNotFound"
    # a host that is no custom domain is the emulator's API as usual
    r = at(exec_server, f"nothing{account}.example.com", "/health")
    assert r.status_code == 200


def test_route_methods_and_qualifier(efc, exec_server, account, tmp_path):
    deploy(efc, tmp_path, {"index.py": WHO.replace('"fn": environ', '"v": "one", "fn": environ')}, name="a")
    version = efc.publish_version("svc").data["versionId"]
    efc.create_alias("svc", "prod", version)
    efc.update_function("svc", "a", codeZipFile=write_zip(tmp_path, {"index.py": WHO}))
    efc.create_trigger("svc", "a", "web", "http", ANON, "", "")
    efc.create_trigger("svc", "a", "web-prod", "http", ANON, "", "", qualifier="prod")
    domain = f"q{account}.example.com"
    efc.create_custom_domain(domain, "HTTP", {"routes": [
        {"path": "/prod/*", "serviceName": "svc", "functionName": "a", "qualifier": "prod"},
        {"path": "/read/*", "serviceName": "svc", "functionName": "a", "methods": ["GET"]},
        {"path": "/*", "serviceName": "svc", "functionName": "a"},
    ]})
    got = at(exec_server, domain, "/prod/x").json()
    assert got["v"] == "one" and got["qualifier"] == "prod" and got["path"] == "/prod/x"
    assert "v" not in at(exec_server, domain, "/x").json()  # LATEST
    assert at(exec_server, domain, "/read/x").status_code == 200
    r = at(exec_server, domain, "/read/x", "POST")  # the route's methods refuse it
    assert r.status_code == 403 and r.json()["ErrorCode"] == "FCCommonError"


def test_trigger_rules_apply_behind_a_domain(efc, exec_server, account, tmp_path):
    deploy(efc, tmp_path, {"index.py": WHO}, name="a")
    deploy(efc, tmp_path, {"index.py": WHO}, name="none")  # no HTTP trigger
    efc.create_trigger("svc", "a", "web", "http", {"authType": "anonymous", "methods": ["GET"]}, "", "")
    domain = f"rules{account}.example.com"
    efc.create_custom_domain(domain, "HTTP", {"routes": [
        {"path": "/none/*", "serviceName": "svc", "functionName": "none"},
        {"path": "/gone/*", "serviceName": "svc", "functionName": "gone"},
        {"path": "/*", "serviceName": "svc", "functionName": "a"},
    ]})
    r = at(exec_server, domain, "/x", "DELETE")
    assert r.status_code == 403 and r.json()["ErrorCode"] == "FCCommonError"  # the trigger's methods
    r = at(exec_server, domain, "/none/x")
    assert r.status_code == 404 and r.json()["ErrorCode"] == "TriggerNotFound"
    r = at(exec_server, domain, "/gone/x")
    assert r.status_code == 404 and r.json()["ErrorCode"] == "FunctionNotFound"


def test_custom_runtime_behind_a_domain_gets_the_path_without_base(efc, exec_server, account, tmp_path):
    web_function(efc, tmp_path, "c", {"bootstrap": CUSTOM}, runtime="custom", executable=("bootstrap",))
    domain = f"c{account}.example.com"
    efc.create_custom_domain(domain, "HTTP", {"routes": [{"path": "/*", "serviceName": "svc", "functionName": "c"}]})
    got = at(exec_server, f"{domain}.localhost", "/a/b?x=1").json()
    assert got == {"path": "/a/b?x=1", "base": None, "host": f"{domain}.localhost"}


def test_domain_changes_take_effect_at_once(efc, exec_server, account, tmp_path):
    web_function(efc, tmp_path, "a")
    web_function(efc, tmp_path, "b")
    domain = f"live{account}.example.com"
    efc.create_custom_domain(domain, "HTTP", {"routes": [{"path": "/*", "serviceName": "svc", "functionName": "a"}]})
    assert at(exec_server, domain, "/").json()["fn"] == "a"
    efc.update_custom_domain(domain, "HTTP", {"routes": [{"path": "/*", "serviceName": "svc", "functionName": "b"}]})
    assert at(exec_server, domain, "/").json()["fn"] == "b"
    efc.delete_custom_domain(domain)
    r = at(exec_server, domain, "/")
    assert r.status_code == 400 and r.json()["ErrorCode"] == "PathNotSupported"  # plain API again
