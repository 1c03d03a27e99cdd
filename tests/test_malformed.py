"""Malformed input on every endpoint and every body field (issue 12): no 5xx, FC's error body and status on
every 4xx, nothing stored changes, every read still answers as before, and the kept-alive connection
survives every error.

The cases are generated, not listed: routes from the routers (emulator/api), body fields from the pydantic
models each handler parses (emulator/model), query parameters and headers from the names the handlers read.
A new field or query parameter is attacked without editing this file; a new route with a body only needs a
valid base body in BASE_BODIES when `{}` is not one.
"""
from __future__ import annotations

import base64
import http.client
import importlib
import inspect
import itertools
import json
import pathlib
import pkgutil
import re
import shutil
import socket
import threading
import time
import typing
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
import requests
from fastapi import FastAPI
from pydantic import BaseModel

from tests.helpers import Server, make_zip, new_account

V1, V2 = "/2016-08-15", "/2021-04-06"
ZIP_B64 = base64.b64encode(make_zip({"index.py": "def handler(event, context):\n    return 'x'\n"})).decode()
DEEP = "[" * 100_000 + "]" * 100_000
WORKERS = 4

# ---- the route table --------------------------------------------------------------------------------


@dataclass
class Route:
    method: str
    path: str  # template, e.g. /2016-08-15/services/{service}
    endpoint: typing.Callable
    models: list = field(default_factory=list)  # FCModel classes the handler parses
    json_body: bool = False  # the handler reads a JSON body
    query: set = field(default_factory=set)
    headers: set = field(default_factory=set)

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)(?::\w+)?}", self.path)


def _closure(fn, seen: dict) -> None:
    """`fn` and every emulator.api function it calls (by name), with their source."""
    fn = inspect.unwrap(fn)
    if fn in seen or not inspect.isfunction(fn) or not fn.__module__.startswith("emulator.api"):
        return
    seen[fn] = inspect.getsource(fn)
    for name in re.findall(r"\b([A-Za-z_]\w*)\b", seen[fn]):
        obj = fn.__globals__.get(name)
        if inspect.isfunction(obj):
            _closure(obj, seen)


def _dependency_calls(dependant) -> list:
    out = []
    for dep in dependant.dependencies:
        out.append(dep.call)
        out.extend(_dependency_calls(dep))
    return out


_QUERY_READS = (r"query_params\.get\(\"([\w-]+)\"", r"query_params\.getlist\(\"([\w-]+)\"", r"\bq\.get\(\"([\w-]+)\"",
                r"\bq\.getlist\(\"([\w-]+)\"", r"\bq\[\"([\w-]+)\"\]", r"_flag\(\w+, \"(\w+)\"", r"_flag\(\w+, \"\w+\", \"(\w+)\"",
                r"_epoch_ms\(request, \"(\w+)\"", r"_int_param\(\"(\w+)\"")
_HEADER_READS = (r"headers\.get\(\"([\w-]+)\"",)


AUTH_PROBES = [("GET", "/2016-08-15/services"), ("GET", "/2016-08-15/proxy/{service}/{function}/{rest:path}"),
               ("POST", "/2016-08-15/services/{service}/functions/{function}/invocations"),
               ("GET", "/_emulator/invocations")]


def _routes() -> list[Route]:
    """Every HTTP route of the emulator, as the server mounts them (FC routers under both API versions)."""
    from emulator.api.routes import mount_fc_api
    app = FastAPI()
    mount_fc_api(app)
    fc_routers = set()
    for route in _walk(app.routes):
        fc_routers.add(route[1].endpoint.__module__)
    import emulator.api as api_pkg
    for info in pkgutil.iter_modules(api_pkg.__path__):
        module = importlib.import_module(f"emulator.api.{info.name}")
        router = getattr(module, "router", None)
        if router is not None and module.__name__ not in fc_routers:
            app.include_router(router)
    out = []
    for prefix, r in _walk(app.routes):
        if not hasattr(r, "methods") or not r.methods or not hasattr(r, "dependant"):
            continue  # websockets, FastAPI's own docs pages
        seen: dict = {}
        _closure(r.endpoint, seen)
        deps = _dependency_calls(r.dependant)
        for call in deps:
            _closure(call, seen)
        own = {fn: src for fn, src in seen.items() if "emulator.api.auth" != fn.__module__}
        text = "\n".join(own.values())
        # authentication reads the same names before every route: attacked on a few routes only
        auth_text = "\n".join(src for fn, src in seen.items() if fn not in own)
        models = []
        for fn, src in own.items():
            for name in re.findall(r"\b(\w+)\.parse\(", src):
                obj = fn.__globals__.get(name)
                if inspect.isclass(obj) and issubclass(obj, BaseModel) and obj not in models:
                    models.append(obj)
        query = {m for pat in _QUERY_READS for m in re.findall(pat, text)}
        if "page_params(" in text:
            query |= {"limit", "nextToken", "prefix", "startKey"}
        if "split_qualifier(" in text:
            query.add("qualifier")
        headers = {m.lower() for pat in _HEADER_READS for m in re.findall(pat, text)} - {"host"}
        if any(prefix + r.path == path and method in r.methods for method, path in AUTH_PROBES):
            query |= {m for pat in _QUERY_READS for m in re.findall(pat, auth_text)}
            headers |= {m.lower() for pat in _HEADER_READS for m in re.findall(pat, auth_text)} - {"host"}
        uses_json = any(getattr(c, "__name__", "") == "json_body" for c in deps) or "json.loads(raw)" in text
        for method in sorted(r.methods - {"HEAD", "OPTIONS", "PATCH"}):
            out.append(Route(method, prefix + r.path, r.endpoint, models, uses_json, query, headers))
    return out


def _walk(routes, prefix=""):
    for r in routes:
        if type(r).__name__ == "_IncludedRouter":  # FastAPI >= 0.16x keeps included routers nested
            yield from _walk(r.original_router.routes, prefix + (r.include_context.prefix or ""))
        else:
            yield prefix, r


# ---- the fields of a model ----------------------------------------------------------------------------

def _leaves(model, path=()) -> list[tuple[tuple, str]]:
    """(path, kind) for every field of `model`, nested models and containers included."""
    out = []
    for name, f in model.model_fields.items():
        key = f.alias or name
        out.extend(_type_leaves(f.annotation, path + (key,)))
    return out


def _type_leaves(tp, path) -> list[tuple[tuple, str]]:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    origin = typing.get_origin(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType")) and len(args) == 1:
        return _type_leaves(args[0], path)
    if origin is typing.Annotated:
        return _type_leaves(args[0], path)
    if inspect.isclass(tp) and issubclass(tp, BaseModel):
        return [(path, "object")] + _leaves(tp, path)
    if origin is list:
        return [(path, "list")] + (_type_leaves(args[0], path + (0,)) if args else [])
    if origin is dict:
        return [(path, "dict")] + (_type_leaves(args[1], path + ("k",)) if len(args) == 2 else [])
    kinds = {str: "str", int: "int", float: "float", bool: "bool", dict: "dict", list: "list"}
    return [(path, kinds.get(tp, "any"))]


class Raw(str):
    """A JSON token that json.dumps cannot write (NaN, 1e999, deep nesting): spliced into the text."""


SURROGATE = "\ud800"
NAME_FIELDS = {"serviceName", "functionName", "triggerName", "aliasName", "domainName", "layerName"}
FIELD_DEEP = "[" * 5_000 + "]" * 5_000  # past any recursion limit; the body-level cases nest 10^5 deep
# (label, value, refused whatever the field is?) - sent to every field
COMMON = [("deep", Raw(FIELD_DEEP), True), ("surrogate", SURROGATE, True), ("nan", Raw("NaN"), True),
          ("huge", 10 ** 23, True)]
# per kind of field: (label, value, refused?)
BY_KIND = {
    "str": [("surrogate-tail", "a\udfff", True), ("control", "x\x00\x1b[31m\x7f", False),
            ("newline", "nl\n", False), ("digits", "²", False), ("arabic-digit", "٣", False),
            ("overlong", "x" * 10_000, False), ("int", 1, True), ("float", 1.5, True), ("bool", True, True),
            ("list", [], True), ("object", {}, True)],
    "int": [("negative", -1, False), ("huge-negative", -10 ** 23, True), ("float", 1.5, True),
            ("inf", Raw("Infinity"), True), ("-inf", Raw("-Infinity"), True), ("1e999", Raw("1e999"), True),
            ("string", "1", True),
            ("digits", "²", True), ("arabic-digit", "٣", True), ("newline", "1\n", True), ("bool", True, True),
            ("list", [], True), ("object", {}, True)],
    "bool": [("string", "true", True), ("int", 1, True), ("list", [], True), ("digits", "²", True)],
    "list": [("string", "x", True), ("object", {}, True), ("item-surrogate", [SURROGATE], True),
             ("item-nan", [Raw("NaN")], True), ("item-deep", [Raw(FIELD_DEEP)], True)],
    "dict": [("string", "x", True), ("list", [], True), ("key-surrogate", {SURROGATE: "v"}, True),
             ("value-surrogate", {"k": SURROGATE}, True), ("key-newline", {"k\n": "v"}, False),
             ("value-nan", {"k": Raw("NaN")}, True), ("value-huge", {"k": 10 ** 23}, False)],
    "object": [("string", "x", True), ("list", [], True), ("bool", True, True)],
    "any": [("newline", "nl\n", False), ("digits", "²", False), ("negative", -1, False)],
}
BY_KIND["float"] = BY_KIND["int"][:1] + BY_KIND["int"][3:]


def _field_attacks(kind: str, key) -> list[tuple[str, object, bool]]:
    out = [(label, v, must if kind != "any" or isinstance(v, Raw) or label == "surrogate" else False)
           for label, v, must in COMMON]
    if kind == "any":
        out = [(label, v, must) for label, v, must in out if label != "huge"]
    out += BY_KIND[kind]
    if kind == "str" and key in NAME_FIELDS:
        out = [(label, v, True) for label, v, _ in out]
    return out


def _set(body: dict, path: tuple, value) -> dict:
    """A deep copy of `body` with `value` at `path` (intermediate objects/lists created)."""
    body = json.loads(json.dumps(body))
    node = body
    for i, key in enumerate(path[:-1]):
        nxt = path[i + 1]
        if isinstance(node, list):
            while len(node) <= key:
                node.append({} if not isinstance(nxt, int) else [])
            child = node[key]
        else:
            child = node.get(key)
        if not isinstance(child, (dict, list)) or (isinstance(nxt, int) != isinstance(child, list)):
            child = [] if isinstance(nxt, int) else {}
            node[key] = child
        node = child
    last = path[-1]
    if isinstance(node, list):
        while len(node) <= last:
            node.append(None)
    node[last] = value
    return body


def _dumps(body) -> bytes:
    """JSON text with Raw tokens spliced in and lone surrogates as \\u escapes (the only way JSON carries them)."""
    raws: list[str] = []

    def mark(v):
        if isinstance(v, Raw):
            raws.append(str(v))
            return f"__raw{len(raws) - 1}__"
        if isinstance(v, dict):
            return {mark(k) if isinstance(k, Raw) else k: mark(x) for k, x in v.items()}
        if isinstance(v, list):
            return [mark(x) for x in v]
        return v
    text = json.dumps(mark(body))
    for i, raw in enumerate(raws):
        text = text.replace(f'"__raw{i}__"', raw)
    return text.encode()


# ---- the baseline ------------------------------------------------------------------------------------

# ---- the baseline ------------------------------------------------------------------------------------
#
# The same resources in two accounts. In the first, resources are only read, attacked through paths,
# queries and headers, and given creates under fresh names (each 2xx create is deleted afterwards): every
# read must answer exactly as before. The second takes every other write (updates, tags, configs); its PUTs
# go in order with If-Match set to the last Etag, so a refused request that changed anything turns the next
# valid one into 412 PreconditionFailed; its reads must still answer as before (status).

TRIGGER_BASES = {
    "timer": {"cronExpression": "@every 1h", "enable": False},
    "http": {"authType": "function", "methods": ["GET"]},
    "oss": {"events": ["oss:ObjectCreated:*"], "filter": {"key": {"prefix": "p", "suffix": "s"}}},
    "log": {"sourceConfig": {"logstore": "ls"}, "jobConfig": {"maxRetryTime": 1, "triggerInterval": 60},
            "logConfig": {"project": "p", "logstore": "l"}, "functionParameter": {}, "enable": False},
    "mns_topic": {"notifyContentFormat": "JSON", "notifyStrategy": "BACKOFF_RETRY", "filterTag": "t"},
    "cdn_events": {"eventName": "CachedObjectsRefreshed", "eventVersion": "1.0.0", "notes": "n",
                   "filter": {"domain": ["example.com"]}},
    "tablestore": {},
    "eventbridge": {"triggerEnable": False, "asyncInvocationType": False,
                    "eventSourceConfig": {"eventSourceType": "Default"}},
    "rds": {"subscriptionObjects": ["db.t"], "retry": 1, "concurrency": 1, "eventFormat": "json"},
}
SOURCE_ARNS = {"oss": "acs:oss:cn-hangzhou:123:b", "log": "acs:log:cn-hangzhou:123:project/p",
               "mns_topic": "acs:mns:cn-hangzhou:123:/topics/t", "cdn_events": "acs:cdn:*:123",
               "tablestore": "acs:ots:cn-hangzhou:123:instance/i/table/t", "rds": "acs:rds:cn-hangzhou:123:dbinstance/d"}
SCHEDULED = {"name": "sa", "startTime": "2020-10-10T10:10:10Z", "endTime": "2030-10-10T10:10:10Z", "target": 0,
             "scheduleExpression": "cron(0 0 1 * * *)"}
FILL = {"service": "s", "function": "f", "trigger": "t", "alias": "a", "version_id": "1", "domain": "d.example.com",
        "layer": "l", "version": "1", "invocation_id": "none", "instance_id": "none", "checksum": "0",
        "request_id": "none", "source": "oss", "rest": "x", "arn": None}
# creates whose 2xx is undone by deleting what they made (under the "s" family, with fresh names)
_CREATED_KEY = {"services": "serviceName", "functions": "functionName", "triggers": "triggerName",
                "aliases": "aliasName", "custom-domains": "domainName", "versions": "versionId"}
_fresh = itertools.count(1)


def fresh(prefix: str = "m") -> str:
    return f"{prefix}{next(_fresh)}"


def is_create(r: Route) -> bool:
    last = r.path.rstrip("/").rsplit("/", 1)[-1]
    return r.method == "POST" and (last in _CREATED_KEY or r.path.endswith("/layers/{layer}/versions"))


def base_body(route: Route, trigger_type: str | None = None) -> dict:
    """A valid body for `route` (fresh names for creates), so that one attacked field is what fails."""
    p = route.path.split("/", 2)[-1]
    m = route.method
    if (m, p) == ("POST", "services"):
        return {"serviceName": fresh()}
    if (m, p) == ("POST", "services/{service}/functions"):
        return {"functionName": fresh(), "runtime": "java11", "handler": "index.handler", "code": {"zipFile": ZIP_B64}}
    if (m, p) == ("POST", "services/{service}/functions/{function}/triggers"):
        t = trigger_type or "timer"
        body = {"triggerName": fresh(), "triggerType": t, "triggerConfig": TRIGGER_BASES.get(t, {})}
        if t in SOURCE_ARNS:
            body["sourceArn"] = SOURCE_ARNS[t]
        if t == "http":
            body["qualifier"] = "a"
        return body
    if (m, p) == ("POST", "services/{service}/aliases"):
        return {"aliasName": fresh(), "versionId": "1"}
    if (m, p) == ("POST", "custom-domains"):
        return {"domainName": fresh() + ".example.com",
                "routeConfig": {"routes": [{"path": "/x", "serviceName": "s", "functionName": "f"}]}}
    if (m, p) == ("POST", "tag"):
        return {"resourceArn": "services/s", "tags": {"k2": "v2"}}
    if (m, p) in (("DELETE", "tag"), ("PUT", "tag")):
        return {"resourceArn": "services/s", "tagKeys": ["absent"]}
    if p.endswith("on-demand-config"):
        return {"maximumInstanceCount": 5}
    if p.endswith("provision-config"):
        return {"target": 0, "scheduledActions": [SCHEDULED]}
    if p.endswith("async-invoke-config"):
        return {"maxAsyncRetryAttempts": 1, "statefulInvocation": True}
    if (m, p) == ("POST", "layers/{layer}/versions"):
        return {"code": {"zipFile": ZIP_B64}, "compatibleRuntime": ["python3.10"], "description": "d"}
    return {}


def setup_account(url: str, headers: dict, v: dict) -> dict:
    """A service with a function, an HTTP and a timer trigger, a version, an alias, a custom domain, a layer,
    tags and the three function configs; returns `v` with the layer's ARN."""
    s = requests.Session()
    s.headers.update(headers)

    def ok(method, path, body=None):
        r = s.request(method, url + V1 + path, json=body)
        assert r.status_code < 300, (path, r.status_code, r.text)
        return r.json() if r.content else {}
    svc, fn = v["service"], v["function"]
    ok("POST", "/services", {"serviceName": svc, "description": "base"})
    ok("POST", f"/services/{svc}/functions", {"functionName": fn, "runtime": "java11", "handler": "index.handler",
                                              "code": {"zipFile": ZIP_B64}})
    ok("POST", f"/services/{svc}/functions/{fn}/triggers", {"triggerName": v["trigger"], "triggerType": "http",
                                                            "triggerConfig": TRIGGER_BASES["http"]})
    ok("POST", f"/services/{svc}/functions/{fn}/triggers", {"triggerName": v["trigger"] + "m", "triggerType": "timer",
                                                            "triggerConfig": TRIGGER_BASES["timer"]})
    ok("POST", f"/services/{svc}/versions", {"description": "v1"})
    ok("POST", f"/services/{svc}/aliases", {"aliasName": v["alias"], "versionId": "1"})
    ok("POST", "/custom-domains", {"domainName": v["domain"],
                                   "routeConfig": {"routes": [{"path": "/x", "serviceName": svc, "functionName": fn}]}})
    layer = ok("POST", f"/layers/{v['layer']}/versions", {"code": {"zipFile": ZIP_B64},
                                                         "compatibleRuntime": ["python3.10"]})
    ok("POST", "/tag", {"resourceArn": f"services/{svc}", "tags": {"k": "v"}})
    ok("PUT", f"/services/{svc}/functions/{fn}/on-demand-config", {"maximumInstanceCount": 5})
    ok("PUT", f"/services/{svc}/functions/{fn}/provision-config", {"target": 0, "scheduledActions": [SCHEDULED]})
    ok("PUT", f"/services/{svc}/functions/{fn}/async-invoke-config", {"maxAsyncRetryAttempts": 1,
                                                                       "statefulInvocation": True})
    return {**v, "arn": layer["arn"]}


def fill(template: str, values: dict, override: dict | None = None) -> str:
    def one(m):
        name = m.group(1)
        if override and name in override:
            return override[name]
        return quote(str(values.get(name, "none")), safe="")
    return re.sub(r"{(\w+)(?::\w+)?}", one, template)


# ---- sending -----------------------------------------------------------------------------------------

@dataclass
class Case:
    route: Route
    kind: str  # body | path | query | header
    label: str
    method: str
    target: str  # path + query, already encoded
    body: bytes | None = None
    headers: dict = field(default_factory=dict)
    must_reject: bool = False
    status: int = 0
    answer: bytes = b""
    answer_headers: dict = field(default_factory=dict)
    problem: str = ""

    def name(self) -> str:
        return f"{self.method} {self.route.path} [{self.kind}:{self.label}]"


class Sender:
    """Kept-alive http.client connections, one per worker thread. A connection the server dropped after an
    error (without `Connection: close`) shows up as a failed next request: recorded, then reconnected."""

    def __init__(self, port: int, headers: dict):
        self.port, self.headers = port, headers
        self.local = threading.local()

    def conn(self) -> http.client.HTTPConnection:
        c = getattr(self.local, "conn", None)
        if c is None:
            c = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.local.last = None
        return c

    def send(self, case: Case) -> Case:
        c = self.conn()
        headers = {**self.headers, **case.headers}
        if case.body is not None:
            headers.setdefault("Content-Type", "application/json")
        try:
            c.request(case.method, case.target, body=case.body, headers=headers)
            r = c.getresponse()
            case.status, case.answer = r.status, r.read()
            case.answer_headers = {k.lower(): v for k, v in r.getheaders()}
            if r.will_close:
                c.close()
        except (http.client.HTTPException, OSError) as exc:
            c.close()
            self.local.conn = None
            prev = self.local.last
            case.problem = (f"connection unusable after {prev.name()} -> {prev.status}: {exc!r}" if prev else
                            f"no answer: {exc!r}")
        self.local.last = case
        return case

    def send_all(self, job: list[Case]) -> list[Case]:
        """One case, or a chain of PUTs to one resource: each carries If-Match with the Etag of the last 2xx."""
        if len(job) == 1 or "if-match" not in job[0].route.headers:
            return [self.send(c) for c in job]
        etag = self.etag(job[0].target.split("?", 1)[0], job[0].headers)
        for case in job:
            if etag:
                case.headers = {**case.headers, "If-Match": etag}
            self.send(case)
            if 200 <= case.status < 300:
                etag = case.answer_headers.get("etag") or etag
            elif b"PreconditionFailed" in case.answer:
                case.problem = "412: an earlier refused request in this chain changed the resource"
                etag = self.etag(case.target.split("?", 1)[0], case.headers)
        return job

    def etag(self, path: str, headers: dict) -> str:
        for _ in range(2):  # a connection dropped after an error is the next case's to report
            c = self.conn()
            try:
                c.request("GET", path, headers={**self.headers, **headers})
                r = c.getresponse()
                r.read()
                return r.getheader("Etag") or ""
            except (http.client.HTTPException, OSError):
                c.close()
                self.local.conn = None
        return ""


class _RetryingSession(requests.Session):
    """Set-up and restore traffic: one retry on a new connection when the server dropped the kept-alive one
    (that failure is the battery's to report, not these helpers')."""

    def request(self, *args, **kwargs):
        try:
            return super().request(*args, **kwargs)
        except requests.ConnectionError:
            return super().request(*args, **kwargs)


# ---- checking ----------------------------------------------------------------------------------------

def _fc_statuses() -> dict[str, int]:
    """FC's status for every ErrorCode the emulator can answer (errors.py factories + literal FCErrors)."""
    from emulator import errors
    out = {}
    for fn in vars(errors).values():
        if inspect.isfunction(fn) and fn.__module__ == errors.__name__:
            try:
                exc = fn(*["x"] * len(inspect.signature(fn).parameters))
            except Exception:  # noqa: BLE001 - not a factory
                continue
            if isinstance(exc, errors.FCError):
                out[exc.code] = exc.status
    for path in pathlib.Path(errors.__file__).parent.rglob("*.py"):
        for status, code in re.findall(r"FCError\((\d{3}),\s*\"(\w+)\"", path.read_text()):
            out.setdefault(code, int(status))
    return out


def check(case: Case, statuses: dict[str, int]) -> str:
    if case.problem:
        return case.problem
    if case.status >= 500:
        return f"{case.status}: {case.answer[:200]!r}"
    if case.status >= 400:
        try:
            body = json.loads(case.answer)
        except ValueError:
            return f"{case.status} without a JSON body: {case.answer[:200]!r}"
        if not (isinstance(body, dict) and isinstance(body.get("ErrorCode"), str)
                and isinstance(body.get("ErrorMessage"), str) and body.get("RequestId")):
            return f"{case.status} without FC's error body: {case.answer[:200]!r}"
        if case.answer_headers.get("x-fc-request-id") != body["RequestId"]:
            return f"X-Fc-Request-Id {case.answer_headers.get('x-fc-request-id')} != RequestId {body['RequestId']}"
        want = statuses.get(body["ErrorCode"])
        if want != case.status:
            return f"{body['ErrorCode']} answered with {case.status}, FC's status is {want}"
        return ""
    if case.must_reject:
        return f"accepted ({case.status}): {case.answer[:160]!r}"
    return ""


# Reads that report live state, not stored resources: new on every read whatever the requests did
# (upload credentials, replica heartbeats, the dashboard's instances and queue, a snapshot's timestamps,
# the clock's now, metrics counters)
LIVE_READS = ("/tempBucketToken", "/_emulator/replicas", "/_emulator/dashboard", "/_emulator/snapshot",
              "/_emulator/clock", "/_emulator/standby", "/metrics")


def snapshot(url: str, routes: list[Route], values: dict, headers: dict) -> dict:
    """Every read endpoint, both API versions, with the family's names: status and body."""
    out = {}
    s = _RetryingSession()
    s.headers.update(headers)
    for r in routes:
        if r.method != "GET" or "/proxy/" in r.path or "wait-idle" in r.path or r.path.endswith(LIVE_READS):
            continue
        target = fill(r.path, values)
        if r.path.endswith("/tag"):
            target += f"?resourceArn=services/{values['service']}"
        resp = s.get(url + target, timeout=60)
        try:
            body = _normal(resp.json())
        except ValueError:
            body = resp.content[:200]
        out[target] = (resp.status_code, body)
    return out


def _normal(v):
    """Drop what legitimately changes: modification times, presigned-URL signatures, request ids."""
    if isinstance(v, dict):
        return {k: _normal(x) for k, x in v.items() if k not in ("lastModifiedTime", "RequestId", "requestId",
                                                                  "Etag", "waitedMs")}
    if isinstance(v, list):
        return [_normal(x) for x in v]
    if isinstance(v, str) and "Signature=" in v:
        return v.split("?", 1)[0]
    return v


# ---- the cases ---------------------------------------------------------------------------------------

PATH_ATTACKS = [("surrogate-bytes", "%ED%A0%80"), ("invalid-utf8", "%FF%FE"), ("nul", "a%00b"),
                ("control", "a%1Bb"), ("newline", "nl%0A"), ("digits", "%C2%B2"), ("arabic-digit", "%D9%A3"),
                ("overlong", "9" * 3000), ("huge", "99999999999999999999999"), ("negative", "-1"),
                ("float", "1.5")]
QUERY_ATTACKS = [("surrogate-bytes", "%ED%A0%80"), ("invalid-utf8", "%FF"), ("digits", "%C2%B2"),
                 ("arabic-digit", "%D9%A3"), ("1e999", "1e999"), ("nan", "nan"), ("inf", "inf"), ("-inf", "-inf"),
                 ("negative", "-1"), ("float", "1.5"), ("huge", "99999999999999999999999"),
                 ("overlong", "9" * 5000), ("nul", "a%00"), ("newline", "1%0A")]
HEADER_ATTACKS = [("latin1-digit", "\xb2"), ("latin1", "\xff\xfe"), ("huge", "99999999999999999999999"),
                  ("negative", "-1"), ("nan", "nan"), ("1e999", "1e999"), ("control", "a\x01b")]
SIGNED_URL = {"x-fc-access-key-id": "ak", "x-fc-expires": "4102444800", "x-fc-signature": "x"}
# signatures by the configured key (AK), so that the comparison itself is reached
AUTH_ATTACKS = [("fc-latin1", "FC ak:\xb2"), ("acs-latin1", "acs ak:\xb2"), ("fc-empty", "FC ak:"),
                ("acs3-latin1", "ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host,Signature=\xb2"),
                ("fc-key-latin1", "FC \xb2:x"), ("fc-overlong", "FC ak:" + "x" * 5000), ("scheme-only", "FC")]
BODY_ATTACKS = [("invalid-json", b"{", True), ("invalid-json2", b'{"a":}', True),
                ("invalid-utf8", b'{"description": "\xff\xfe"}', True), ("utf8-surrogate", b'{"x": "\xed\xa0\x80"}', True),
                ("deep", DEEP.encode(), True), ("deep-object", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, True),
                ("array", b"[]", True), ("string", b'"x"', True), ("number", b"1", True), ("nan", b"NaN", True),
                ("key-surrogate", b'{"\\ud800": 1}', True), ("huge-number", b'{"x": 1' + b"0" * 5000 + b"}", True)]


def build_cases(routes: list[Route], values: dict, u_values: dict, u_headers: dict) -> list[Case]:
    cases = []
    for r in routes:
        mutating = r.method != "GET" and not is_create(r)
        route_cases = _route_cases(r, u_values if mutating else values)
        if mutating:
            for c in route_cases:
                c.headers = {**u_headers, **c.headers}
        cases += route_cases
    return cases


def _route_cases(r: Route, family: dict) -> list[Case]:
    cases = []
    v2 = r.path.startswith(V2)
    target = fill(r.path, family)

    def body_for() -> bytes | None:
        return _dumps(base_body(r)) if r.json_body else None
    # path: each parameter in turn
    for param in r.params:
        if param == "rest":
            continue
        for label, raw in (PATH_ATTACKS[:3] + PATH_ATTACKS[4:5] if v2 else PATH_ATTACKS):
            cases.append(Case(r, "path", f"{param}:{label}", r.method, fill(r.path, family, {param: raw}),
                              body=b"{}" if r.json_body else None))
    # queries and headers on routes that run a function name one that does not exist, so nothing runs
    # (the names are read before the function is looked up)
    runs = r.path.endswith("/invocations") or "/proxy/" in r.path
    header_target = fill(r.path, family, {"function": "none"}) if runs else target
    # query: every parameter the handler reads
    for name in sorted(r.query):
        for label, raw in (QUERY_ATTACKS[:4] if v2 else QUERY_ATTACKS):
            query = f"{quote(name)}={raw}"
            if name.startswith("x-fc-"):  # a signed URL's parameters (fc-api.md §1.2) go together
                query += "".join(f"&{k}={v}" for k, v in SIGNED_URL.items() if k != name)
            cases.append(Case(r, "query", f"{name}:{label}", r.method, f"{header_target if runs else _target(r, family)}?{query}",
                              body=body_for()))
    # headers the handler reads
    for name in sorted(r.headers):
        attacks = HEADER_ATTACKS[:2] if v2 else HEADER_ATTACKS + (AUTH_ATTACKS if name == "authorization" else [])
        for label, raw in attacks:
            if name == "if-match" and r.method == "PUT":
                continue  # PUT chains set If-Match themselves
            cases.append(Case(r, "header", f"{name}:{label}", r.method, header_target, headers={name: raw},
                              body=body_for()))
    if not r.json_body:
        return cases
    for label, raw, must in (BODY_ATTACKS[:5] if v2 else BODY_ATTACKS):
        cases.append(Case(r, "body", label, r.method, _target(r, family), body=raw, must_reject=must))
    if v2:
        return cases  # the same handlers: the field cases run under 2016-08-15 only
    # every field of every model the handler parses
    from emulator.model.trigger import CONFIG_MODELS
    for model in r.models:
        variants = [None]
        if "triggerConfig" in model.model_fields:
            variants = ["http"] if r.method == "PUT" else list(CONFIG_MODELS)
        for trigger_type in variants:
            leaves = _leaves(model) if trigger_type in (None, "http") else []
            if trigger_type is not None:
                leaves += [(("triggerConfig",) + p, k) for p, k in _leaves(CONFIG_MODELS[trigger_type])]
                leaves += [(("triggerConfig",), "json-in-string")]
            for path, kind in leaves:
                if kind == "json-in-string":  # the 2021 SDKs send triggerConfig as a JSON string
                    attacks = [("json-surrogate", '{"x": "\\ud800"}', True), ("json-deep", DEEP, True),
                               ("json-nan", '{"x": NaN}', True)]
                else:
                    attacks = _field_attacks(kind, path[-1])
                for label, value, must in attacks:
                    base = {} if r.method == "PUT" and trigger_type else base_body(r, trigger_type)
                    cases.append(Case(r, "body", f"{'.'.join(map(str, path))}:{label}", r.method,
                                      _target(r, family), body=_dumps(_set(base, path, value)), must_reject=must))
    return cases


def _target(r: Route, values: dict) -> str:
    if r.method == "POST" and r.path.endswith("/layers/{layer}/versions"):
        return fill(r.path, values, {"layer": fresh("ml")})
    return fill(r.path, values)


def jobs_of(cases: list[Case]) -> list[list[Case]]:
    """PUTs to one resource form one ordered chain (both API versions: same resource); the rest go alone."""
    chains: dict[str, list[Case]] = {}
    jobs = []
    for c in cases:
        if c.method == "PUT" and "if-match" in c.route.headers:
            key = c.target.split("?", 1)[0].replace(V2, V1, 1)
            chains.setdefault(key, []).append(c)
        else:
            jobs.append([c])
    # the long chains first, so that they overlap with everything else
    return sorted(chains.values(), key=len, reverse=True) + jobs


def raw_cases(port: int, account: str) -> list[tuple[str, bytes, int]]:
    """Bytes that http.client will not send: non-ASCII bytes in the request line. Each request is followed by
    a second one on the same connection, which must be answered unless the first said `Connection: close`."""
    out = []
    for target in (b"/2016-08-15/services/\xff\xfe", b"/2016-08-15/services?limit=\xb2",
                   b"/2016-08-15/services/s/functions/\xed\xa0\x80", b"/_emulator/invocations?after=\xff"):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Fc-Account-Id: " + account.encode()
                         + b"\r\n\r\n" + b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            deadline = time.time() + 10
            while time.time() < deadline and data.count(b"HTTP/1.1 ") < 2:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
            out.append((target.decode("latin-1"), data, status))
    return out


def undo_creates(url: str, headers: dict, accepted: list[Case]) -> list[str]:
    """Delete what the 2xx creates made (values the emulator may accept); returns what could not be."""
    s = _RetryingSession()
    s.headers.update(headers)
    left = []
    for case in accepted:
        path = case.target.split("?", 1)[0]
        last = path.rstrip("/").rsplit("/", 1)[-1]
        body = json.loads(case.answer or b"{}")
        if path.endswith("/versions") and "/layers/" in path:
            r = s.delete(url + f"{path}/{body['version']}")
        else:
            r = s.delete(url + f"{path}/{quote(str(body[_CREATED_KEY[last]]), safe='')}")
        if r.status_code >= 300:
            left.append(f"{case.name()}: delete failed {r.status_code} {r.text[:200]}")
    return left


# ---- the tests ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def target(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("malformed") / "fc", "--executor", "process", "--access-key", "ak:sk").start()
    yield srv
    srv.stop()


def test_malformed_input_battery(target):
    t0 = time.monotonic()
    account = new_account()
    headers, u_headers = {"X-Fc-Account-Id": account}, {"X-Fc-Account-Id": new_account()}
    values = setup_account(target.url, headers, FILL)
    u_values = setup_account(target.url, u_headers, {**FILL, "domain": "u.example.com"})  # domains are global
    routes = _routes()
    assert len([r for r in routes if r.path.startswith(V1)]) >= 70, "the route table was not found"
    statuses = _fc_statuses()
    before = snapshot(target.url, routes, values, headers)
    u_before = snapshot(target.url, routes, u_values, u_headers)
    assert sum(1 for status, _ in before.values() if status == 200) >= 50, before

    cases = build_cases(routes, values, u_values, u_headers)
    sender = Sender(target.port, headers)
    with ThreadPoolExecutor(WORKERS) as pool:
        done = [c for job in pool.map(sender.send_all, jobs_of(cases)) for c in job]
    failures = [(c, why) for c in done for why in [check(c, statuses)] if why]
    elapsed = time.monotonic() - t0
    raw = raw_cases(target.port, account)

    report = _summary(failures)
    created = [c for c in done if 200 <= c.status < 300 and is_create(c.route)]
    print(f"\n{len(done)} requests in {elapsed:.1f}s; {len(created)} creates accepted (undone); "
          f"{len(failures)} failures\n{report}")
    (target.data_dir.parent / "malformed-failures.txt").write_text(
        _summary(failures, limit=100_000) + "\n" + "\n".join(f"{c.name()}: {why[:300]}" for c, why in failures))
    left = undo_creates(target.url, headers, created)
    after = snapshot(target.url, routes, values, headers)
    changed = {k: (before[k], after.get(k)) for k in before if after.get(k) != before[k]}
    (target.data_dir.parent / "malformed-changed.txt").write_text(json.dumps(changed, indent=1, default=str))
    u_after = snapshot(target.url, routes, u_values, u_headers)
    u_broken = {k: (u_before[k][0], u_after[k]) for k in u_before if u_after[k][0] != u_before[k][0]}

    assert not failures, f"{len(failures)} of {len(done)} requests failed:\n{report}"
    bad_raw = [(t, data[:300]) for t, data, status in raw if status >= 500 or status == 0 or not (
        data.count(b"HTTP/1.1 ") == 2 or b"connection: close" in data.lower())]
    assert not bad_raw, bad_raw
    assert not left, left
    assert not changed, f"reads in the untouched account changed: {list(changed)}"
    assert not u_broken, f"reads in the updated account no longer answer as before: {list(u_broken)}"
    assert elapsed < 60, f"the battery took {elapsed:.0f}s"


def _summary(failures: list[tuple[Case, str]], limit: int = 60) -> str:
    """Counts by endpoint, kind of input and outcome (500, dropped connection, accepted, bad error body),
    then examples."""
    def outcome(why: str) -> str:
        if why.startswith("connection unusable"):
            return "next request on the connection failed"
        return why.split(":")[0][:40]
    by_kind: dict[str, int] = {}
    for c, why in failures:
        key = f"{c.method} {c.route.path} {c.kind}:{c.label.split(':')[-1]} -> {outcome(why)}"
        by_kind[key] = by_kind.get(key, 0) + 1
    lines = [f"{n:4d}  {k}" for k, n in sorted(by_kind.items(), key=lambda kv: -kv[1])]
    examples = [f"  e.g. {c.name()}: {why[:300]}" for c, why in failures[:20]]
    return "\n".join(lines[:limit] + examples)


# ---- each fix, with FC's status, code and message ------------------------------------------------------

@pytest.fixture
def fc_http(target):
    """Plain HTTP in a fresh account with the "s" family set up."""
    s = requests.Session()
    s.headers["X-Fc-Account-Id"] = new_account()
    setup_account(target.url, dict(s.headers), {**FILL, "domain": fresh("d") + ".example.com"})

    def call(method, path, body=None, raw: bytes | None = None, **kw):
        data = raw if raw is not None else (_dumps(body) if body is not None else None)
        return s.request(method, target.url + path, data=data, **kw)
    call.session = s
    yield call
    s.close()


def fc_error(r, status: int, code: str, message: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["ErrorCode"] == code, body
    assert body["RequestId"] == r.headers["X-Fc-Request-Id"]
    if message is not None:
        assert body["ErrorMessage"] == message, body
    return body


def listing(call) -> list:
    """What is stored in the account, as the listings show it."""
    paths = ["/services", "/services/s/functions", "/services/s/functions/f/triggers", "/services/s/aliases",
             "/services/s/versions", "/layers", "/layers/l/versions", "/custom-domains", "/tags",
             "/tag?resourceArn=services/s"]
    out = []
    for p in paths:
        r = call("GET", V1 + p)
        assert r.status_code == 200, (p, r.text)
        out.append(_normal(r.json()))
    return out


def test_lone_surrogate_is_refused_before_anything_is_stored(fc_http):
    before = listing(fc_http)
    msg = "the request body is not valid JSON: {} holds a lone surrogate (not valid Unicode)"
    trigger = {"triggerName": "t2", "triggerType": "timer", "description": SURROGATE,
               "triggerConfig": {"cronExpression": "@every 1h", "enable": False}}
    fc_error(fc_http("POST", V1 + "/services/s/functions/f/triggers", trigger), 400, "InvalidArgument",
             msg.format("description"))
    fc_error(fc_http("GET", V1 + "/services/s/functions/f/triggers/t2"), 404, "TriggerNotFound")
    fc_error(fc_http("PUT", V1 + "/services/s/functions/f/triggers/t", {"description": "a\udfff"}), 400,
             "InvalidArgument", msg.format("description"))
    fc_error(fc_http("POST", V1 + "/layers/l2/versions", {"code": {"zipFile": ZIP_B64}, "description": SURROGATE}),
             400, "InvalidArgument", msg.format("description"))
    fc_error(fc_http("POST", V1 + "/tag", {"resourceArn": "services/s", "tags": {"k": SURROGATE}}), 400,
             "InvalidArgument", msg.format("tags.k"))
    fc_error(fc_http("POST", V1 + "/services", {"serviceName": SURROGATE}), 400, "InvalidArgument",
             msg.format("serviceName"))
    # the 2021 SDKs' JSON-in-a-string triggerConfig is held to the same rules
    fc_error(fc_http("POST", V2 + "/services/s/functions/f/triggers",
                     {**trigger, "description": "", "triggerConfig": '{"cronExpression": "@every 1h", "x": "\\ud800"}'}),
             400, "InvalidArgument", "triggerConfig is not valid JSON: x holds a lone surrogate (not valid Unicode)")
    assert listing(fc_http) == before


@pytest.mark.parametrize("kind,method,path,body", [
    ("serviceName", "POST", "/services", {"serviceName": "nl\n"}),
    ("functionName", "POST", "/services/s/functions", {"functionName": "nl\n", "runtime": "java11",
                                                       "handler": "index.handler", "code": {"zipFile": ZIP_B64}}),
    ("triggerName", "POST", "/services/s/functions/f/triggers",
     {"triggerName": "nl\n", "triggerType": "timer", "triggerConfig": {"cronExpression": "@every 1h"}}),
    ("aliasName", "POST", "/services/s/aliases", {"aliasName": "nl\n", "versionId": "1"}),
    ("layerName", "POST", "/layers/nl%0A/versions", {"code": {"zipFile": ZIP_B64}}),
])
def test_names_ending_in_a_newline_are_refused(fc_http, kind, method, path, body):
    before = listing(fc_http)
    limit = {"functionName": 64}.get(kind, 128)
    fc_error(fc_http(method, V1 + path, body), 400, "InvalidArgument",
             f"{kind} 'nl\n' is invalid: it must be 1 to {limit} characters of letters, digits, '_' and '-', "
             f"and must not start with a digit or '-'")
    assert listing(fc_http) == before


def test_custom_domain_routes_name_valid_functions(fc_http):
    route = {"path": "/x", "serviceName": "s", "functionName": "f\n"}
    fc_error(fc_http("POST", V1 + "/custom-domains", {"domainName": fresh("d") + ".example.com",
                                                     "routeConfig": {"routes": [route]}}),
             400, "InvalidArgument", "routeConfig route functionName 'f\n' is invalid: it must be 1 to 64 "
                                     "characters of letters, digits, '_' and '-', and must not start with a digit or '-'")


def test_deep_nesting_nan_and_huge_numbers_are_refused(fc_http):
    before = listing(fc_http)
    deep = "the request body is not valid JSON: it is nested too deeply (max: 100 levels)"
    fc_error(fc_http("POST", V1 + "/services", raw=DEEP.encode()), 400, "InvalidArgument", deep)
    log = {"sourceConfig": {"logstore": "ls"}, "functionParameter": Raw("[" * 120 + "]" * 120)}
    body = {"triggerName": "lt", "triggerType": "log", "sourceArn": SOURCE_ARNS["log"], "triggerConfig": log}
    fc_error(fc_http("POST", V1 + "/services/s/functions/f/triggers", body), 400, "InvalidArgument", deep)
    log["functionParameter"] = {"x": Raw("NaN")}
    fc_error(fc_http("POST", V1 + "/services/s/functions/f/triggers", body), 400, "InvalidArgument",
             "the request body is not valid JSON: NaN is not a JSON value")
    log["functionParameter"] = {"x": Raw("1e999")}
    fc_error(fc_http("POST", V1 + "/services/s/functions/f/triggers", body), 400, "InvalidArgument",
             "the request body is not valid JSON: the number 1e999 is out of range")
    fc_error(fc_http("PUT", V1 + "/services/s", {"nasConfig": {"userId": 10 ** 23}}), 400, "InvalidArgument",
             "userId is set to an invalid value (out of range, actual: 100000000000000000000000)")
    fc_error(fc_http("PUT", V1 + "/services/s", raw=b'{"description": "\xff"}'), 400, "InvalidArgument")
    log["functionParameter"] = {"x": Raw("[" * 90 + "]" * 90)}  # deep, but within the limit: kept and echoed
    r = fc_http("POST", V1 + "/services/s/functions/f/triggers", body)
    assert r.status_code == 200, r.text
    assert fc_http("GET", V1 + "/services/s/functions/f/triggers/lt").json()["triggerConfig"]["functionParameter"] \
        == {"x": json.loads("[" * 90 + "]" * 90)}
    assert fc_http("DELETE", V1 + "/services/s/functions/f/triggers/lt").status_code == 204
    assert listing(fc_http) == before


@pytest.mark.parametrize("query", ["after=100000000000000000000000", "nextToken=100000000000000000000000",
                                   "since=nan", "since=1e999", "until=-1e999", "since=inf", "after=%C2%B2",
                                   "limit=%D9%A3", "since=%D9%A3"])
def test_invocation_record_queries_are_bounded(fc_http, query):
    name = query.split("=")[0]
    body = fc_error(fc_http("GET", "/_emulator/invocations?" + query), 400, "InvalidArgument")
    assert body["ErrorMessage"].startswith(f"{name} is set to an invalid value"), body


def test_non_ascii_digits_are_not_numbers(fc_http, target):
    fc_error(fc_http("GET", V1 + "/layers/l/versions?startVersion=%C2%B2"), 400, "InvalidArgument",
             "startVersion is set to an invalid value (actual: '²')")
    fc_error(fc_http("GET", V1 + "/services/s/versions?startKey=%C2%B2"), 400, "InvalidArgument",
             "startKey/nextToken '²' is not a version id")
    fc_error(fc_http("GET", V1 + "/services?limit=%D9%A3"), 400, "InvalidArgument",
             "limit is set to an invalid value (actual: '٣')")
    fc_error(fc_http("GET", V1 + "/services/s/functions/f/stateful-async-invocations?startedTimeBegin=%D9%A3"), 400,
             "InvalidArgument", "startedTimeBegin is set to an invalid value (expected: epoch milliseconds, actual: '٣')")
    url = fc_http("GET", V1 + "/services/s/functions/f/code").json()["url"]
    assert requests.get(url).status_code == 200
    for expires in ("%C2%B2", "9" * 5000):
        fc_error(requests.get(re.sub(r"Expires=\d+", f"Expires={expires}", url)), 403, "AccessDenied",
                 "the code download link is invalid or has expired")
    # signed URLs and signatures by a configured key (the server knows ak:sk), before anything else
    for expires in ("%C2%B2", "9" * 5000):
        body = fc_error(fc_http("GET", V1 + f"/services?x-fc-access-key-id=ak&x-fc-signature=x&x-fc-expires={expires}"),
                        403, "AccessDenied")
        assert body["ErrorMessage"].endswith("is not a Unix time in seconds"), body
    for auth in ("FC ak:\xb2", "acs ak:\xb2", "ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host,Signature=\xb2"):
        fc_error(fc_http("GET", V1 + "/services", headers={"Authorization": auth}), 403, "SignatureNotMatch")


@pytest.mark.parametrize("expression,reason", [
    ("@every 99999999999999h", "the interval of @every must be at most 2562047h"),
    ("@every 1e5h", "'1e5h' is not a duration (examples: 1m, 1h30m, 90s)"),
    ("CRON_TZ=" + "a" * 300 + " 0 0 * * * *", "unknown time zone '" + "a" * 100 + "'"),
    ("CRON_TZ=../../../etc/passwd 0 0 * * * *", "unknown time zone '../../../etc/passwd'"),
    ("0 0 \u00b2 * * *", "'\u00b2' is not a valid value for hours"),
])
def test_timer_schedules_that_cannot_be_kept_are_refused(fc_http, expression, reason):
    before = listing(fc_http)
    body = {"triggerName": "tt", "triggerType": "timer", "triggerConfig": {"cronExpression": expression}}
    fc_error(fc_http("POST", V1 + "/services/s/functions/f/triggers", body), 400, "InvalidArgument",
             f"cronExpression '{expression}' is invalid: {reason}")
    assert listing(fc_http) == before


def test_kept_alive_connection_survives_every_error(tmp_path):
    """An erroring request, then a normal one, on the same http.client connection: 400, 403, 404, 412, a
    PathNotSupported, and a real 500 (the code store's folder replaced by a file), with FC's body each time."""
    srv = Server(tmp_path / "fc", "--executor", "process", "--access-key", "ak:sk").start()
    try:
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        h = {"X-Fc-Account-Id": "42", "Content-Type": "application/json"}

        def call(method, path, body=None, headers=None):
            c.request(method, path, body=body, headers={**h, **(headers or {})})
            r = c.getresponse()
            return r.status, r.read(), r.getheader("Connection")
        assert call("POST", V1 + "/services", b'{"serviceName": "s"}')[0] == 200
        sock = c.sock
        function = json.dumps({"functionName": "f", "runtime": "java11", "handler": "index.handler",
                               "code": {"zipFile": ZIP_B64}}).encode()
        code_dir = srv.data_dir / "code"
        errors = [
            ("POST", V1 + "/services", DEEP.encode(), None, 400, "InvalidArgument"),
            ("GET", V1 + "/services", None, {"Authorization": "FC ak:\xb2"}, 403, "SignatureNotMatch"),
            ("GET", V1 + "/services/nl%0A", None, None, 404, "ServiceNotFound"),
            ("PUT", V1 + "/services/s", b"{}", {"If-Match": "stale"}, 412, "PreconditionFailed"),
            ("GET", V1 + "/nowhere", None, None, 400, "PathNotSupported"),
            ("POST", V1 + "/services/s/functions", function, None, 500, "InternalServerError"),
        ]
        for method, path, body, headers, status, code in errors:
            if status == 500:
                shutil.rmtree(code_dir)
                code_dir.write_text("a file where the code store's folder was")
            got, answer, connection = call(method, path, body, headers)
            assert (got, json.loads(answer)["ErrorCode"]) == (status, code), answer
            assert connection != "close"
            assert call("GET", V1 + "/services")[0] == 200, f"after {status} {code}"
            assert c.sock is sock, f"the connection was replaced after {status} {code}"
        code_dir.unlink()
        code_dir.mkdir()
        assert json.loads(call("GET", V1 + "/services/s/functions")[1]) == {"functions": []}  # nothing kept
        assert call("POST", V1 + "/services/s/functions", function)[0] == 200
    finally:
        srv.stop()
