"""go1 (runtimes.md §11, §3.1): unmodified go1 binaries built with FC's Go SDK
(`../shared/fixtures/go1`) pull their invocations from the runtime API our bridge serves inside the
instance, on both backends. Timeouts, crashes and concurrency use a small runtime-API client written
in Python (the fixtures can neither sleep nor exit on demand); the go1 runtime runs any executable.
"""
from __future__ import annotations

import base64
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.helpers import AK_ID, AK_SECRET, ROOT, Server, deploy, fc_client

FIXTURES = Path(os.environ.get("FC_EMULATOR_FIXTURES", ROOT.parent / "shared" / "fixtures")) / "go1"
GO1_IMAGE = os.environ.get("FC_EMULATOR_TEST_GO1_IMAGE", "fc-emulator/go1:latest")
V1 = "/2016-08-15"

# A runtime-API client like the Go SDK's (§11.2-§11.7): markers on stdout, one thread per invocation,
# `next` again at once. Event {"sleep": s} sleeps, {"exit": n} ends the process mid-invocation.
# HTTP calls: /legacy answers with the old SDK's JSON envelope (§11.4), /unwritten with status 0.
PY_CLIENT = r'''#!/usr/bin/env python3
import base64, json, os, threading, time, urllib.request
API = "http://" + os.environ["FC_RUNTIME_API"] + "/2020-11-11/runtime/invocation/"
lock = threading.Lock()
state = {"running": 0, "peak": 0}

def post(rid, body, headers={}):
    req = urllib.request.Request(API + rid + "/response", data=body, headers=headers, method="POST")
    urllib.request.urlopen(req).read()

def b64json(value):
    return base64.b64encode(json.dumps(value).encode()).decode()

def run_http(rid, body, params):
    path = params["path"]
    if path == "/legacy":
        meta = b64json({"status": 203, "headersMap": {"X-Old": ["a", "b"]}})
        envelope = {"headers": {"X-Old": "a, b", "x-fc-http-params": meta},
                    "body": base64.b64encode(b"legacy " + body).decode(), "isBase64Encoded": True}
        return post(rid, json.dumps(envelope).encode())
    if path == "/unwritten":
        return post(rid, b"", {"x-fc-http-params": b64json({"status": 0, "headersMap": {}})})
    post(rid, body, {"x-fc-http-params": b64json({"status": 202, "headersMap": {"X-Multi": ["1", "2"]}})})

def run(rid, body, headers):
    if "x-fc-http-params" in headers:
        return run_http(rid, body, json.loads(base64.b64decode(headers["x-fc-http-params"])))
    if headers.get("x-fc-function-type") == "1":  # the initializer
        state["init"] = headers
        return post(rid, b"")
    with lock:
        state["running"] += 1
        state["peak"] = max(state["peak"], state["running"])
    print("FC Invoke Start RequestId: " + rid, flush=True)
    event = json.loads(body or b"{}")
    if "exit" in event:
        os._exit(event["exit"])
    time.sleep(event.get("sleep", 0))
    with lock:
        result = {"pid": os.getpid(), "peak": state["peak"], "headers": headers, "init": state.get("init")}
        state["running"] -= 1
    print("FC Invoke End RequestId: " + rid, flush=True)
    post(rid, json.dumps(result).encode())

while True:
    with urllib.request.urlopen(API + "next") as r:
        args = (r.headers["x-fc-request-id"], r.read(), {k.lower(): v for k, v in r.headers.items()})
    threading.Thread(target=run, args=args).start()
'''


@pytest.fixture(scope="module")
def gserver(backend, tmp_path_factory):
    """An emulator on `backend`; on Docker with the go1 runtime's own image."""
    args = ["--executor", backend, "--instance-idle-timeout", "60", "--access-key", f"{AK_ID}:{AK_SECRET}"]
    if backend == "docker":  # the `backend` fixture has checked that the runtime images exist
        args += ["--runtime-images", f"go1={GO1_IMAGE}"]
    srv = Server(tmp_path_factory.mktemp(f"go1-{backend}") / "fc", *args).start()
    yield srv
    srv.stop()


@pytest.fixture
def gfc(gserver, account):
    return fc_client(gserver, account)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def deploy_go1(client, tmp_path, files: dict, handler: str, *, name: str = "fn", executable=None, **kwargs) -> None:
    deploy(client, tmp_path, files, name=name, runtime="go1", handler=handler,
           executable=tuple(files) if executable is None else executable, **kwargs)


def invoke(server, account, payload, fn: str = "fn", headers: dict | None = None) -> requests.Response:
    return requests.post(f"{server.url}{V1}/services/svc/functions/{fn}/invocations",
                         data=json.dumps(payload) if not isinstance(payload, bytes) else payload,
                         headers={"X-Fc-Account-Id": account, **(headers or {})}, timeout=60)


def log_tail(r: requests.Response) -> str:
    return base64.b64decode(r.headers["X-Fc-Log-Result"]).decode()


# ---- the SDK's event function -----------------------------------------------------------------------

def test_event_function_runs_its_initializer_once_and_keeps_state(gfc, gserver, account, tmp_path):
    deploy_go1(gfc, tmp_path, {"main": fixture("event-main")}, "main", initializer="main.initialize")
    first = invoke(gserver, account, {"name": "x"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body == {"greeting": "hello x", "requestId": first.headers["X-Fc-Request-Id"], "function": "fn",
                    "inits": 1, "calls": 1}
    for n in (2, 3):
        r = invoke(gserver, account, {"name": f"n{n}"})
        assert r.status_code == 200, r.text
        assert r.json()["inits"] == 1 and r.json()["calls"] == n and r.json()["greeting"] == f"hello n{n}"
        assert r.headers["X-Fc-Instance-Id"] == first.headers["X-Fc-Instance-Id"]


def test_without_an_initializer_none_is_sent(gfc, gserver, account, tmp_path):
    # The SDK fails type-1 calls when no initializer is registered, so FC only sends them when configured.
    deploy_go1(gfc, tmp_path, {"main": fixture("event-main")}, "main")
    r = invoke(gserver, account, {"name": "y"})
    assert r.status_code == 200, r.text
    assert r.json()["inits"] == 0 and r.json()["calls"] == 1


def test_returned_error_is_unhandled_with_the_sdks_error_json(gfc, gserver, account, tmp_path):
    deploy_go1(gfc, tmp_path, {"main": fixture("event-main")}, "main")
    r = invoke(gserver, account, {"fail": True})
    assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert r.json() == {"errorMessage": "asked to fail", "errorType": "errorString"}
    r = invoke(gserver, account, {"name": "after"})  # the process keeps running
    assert r.status_code == 200 and r.json()["calls"] == 2


def test_log_tail_has_the_sdks_own_markers_once(gfc, gserver, account, tmp_path):
    deploy_go1(gfc, tmp_path, {"main": fixture("event-main")}, "main", initializer="main.initialize")
    r = invoke(gserver, account, {"name": "logs"}, headers={"X-Fc-Log-Type": "Tail"})
    assert r.status_code == 200, r.text
    rid, text = r.headers["X-Fc-Request-Id"], log_tail(r)
    lines = text.splitlines()
    assert lines.count(f"FC Initialize Start RequestId: {rid}") == 1, text
    assert lines.count(f"FC Initialize End RequestId: {rid}") == 1, text
    assert lines.count(f"FC Invoke Start RequestId: {rid}") == 1, text
    assert lines.count(f"FC Invoke End RequestId: {rid}") == 1, text
    assert "initialized" in lines, text
    assert any(line.endswith("hello logs") and f" {rid} [INFO] main.go:" in line for line in lines), text
    assert lines[-1].startswith("Duration: "), text

    r = invoke(gserver, account, {"fail": True}, headers={"X-Fc-Log-Type": "Tail"})
    rid, text = r.headers["X-Fc-Request-Id"], log_tail(r)
    lines = text.splitlines()
    assert lines.count(f"FC Invoke Start RequestId: {rid}") == 1, text
    assert lines.count(f"FC Invoke End RequestId: {rid}, Error: Unhandled function error") == 1, text
    assert not any("Initialize" in line for line in lines), text
    assert '"errorMessage": "asked to fail",' in text and f"  {rid} [ERROR] {{" in text, text


def test_concurrent_calls_share_one_instance(gfc, gserver, account, tmp_path):
    deploy_go1(gfc, tmp_path, {"main": fixture("event-main")}, "main", instanceConcurrency=4)
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda i: invoke(gserver, account, {"name": str(i)}), range(4)))
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    assert len({r.headers["X-Fc-Instance-Id"] for r in replies}) == 1
    assert sorted(r.json()["greeting"] for r in replies) == [f"hello {i}" for i in range(4)]


# ---- the SDK's HTTP function -----------------------------------------------------------------------

def test_http_trigger(gfc, gserver, account, tmp_path):
    deploy_go1(gfc, tmp_path, {"http-main": fixture("http-main")}, "http-main")
    gfc.create_trigger("svc", "fn", "web", "http", {"authType": "anonymous", "methods": ["GET", "POST", "PUT"]},
                       "", "")
    url = f"{gserver.url}{V1}/proxy/svc/fn"
    r = requests.put(f"{url}/some/path?q=7&z=1", data=b"hello", headers={"X-Fc-Account-Id": account}, timeout=60)
    assert r.status_code == 201, r.text
    assert r.headers["X-Echo-Method"] == "PUT"
    assert r.headers["Content-Type"] == "text/plain"
    assert r.text == "PUT /some/path q=7 body=hello"
    r = requests.get(f"{url}/", headers={"X-Fc-Account-Id": account}, timeout=60)
    assert r.status_code == 201 and r.text == "GET / q= body="
    # an HTTP function called as an event function: the SDK's own error
    r = invoke(gserver, account, b"x")
    assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert r.json() == {"errorMessage": "no httpParams found in request", "errorType": "errorString"}


def test_http_results_new_legacy_and_unwritten(gfc, gserver, account, tmp_path):
    deploy_go1(gfc, tmp_path, {"client": PY_CLIENT}, "client")
    gfc.create_trigger("svc", "fn", "web", "http", {"authType": "anonymous", "methods": ["GET", "POST"]}, "", "")
    url, h = f"{gserver.url}{V1}/proxy/svc/fn", {"X-Fc-Account-Id": account}
    r = requests.post(f"{url}/echo", data=b"abc", headers=h, timeout=60)
    assert r.status_code == 202 and r.content == b"abc" and r.headers["X-Multi"] == "1, 2"
    r = requests.post(f"{url}/legacy", data=b"abc", headers=h, timeout=60)  # SDK <= v0.0.4
    assert r.status_code == 203 and r.content == b"legacy abc" and r.headers["X-Old"] == "a, b"
    r = requests.get(f"{url}/unwritten", headers=h, timeout=60)  # a Go handler that never wrote
    assert r.status_code == 200 and r.content == b""


def test_next_headers_are_always_parseable_by_the_sdk(gfc, gserver, account, tmp_path):
    # The Go SDK silently drops an invocation whose baggage header does not decode (§11.3).
    deploy_go1(gfc, tmp_path, {"client": PY_CLIENT}, "client", initializer="init", initializationTimeout=7)
    good = base64.b64encode(b'{"k": "v"}').decode()
    r = invoke(gserver, account, {}, headers={"x-fc-tracing-opentracing-span-baggages": "%%%",
                                              "x-fc-tracing-opentracing-span-context": "ctx"})
    assert r.status_code == 200, r.text
    headers, init = r.json()["headers"], r.json()["init"]
    assert init["x-fc-function-type"] == "1" and init["x-fc-function-timeout"] == "7", init
    assert abs(int(init["x-fc-function-deadline"]) - (time.time() + 7) * 1000) < 5000, init
    assert init["x-fc-request-id"] == r.headers["X-Fc-Request-Id"]
    assert "x-fc-tracing-opentracing-span-baggages" not in headers
    assert headers["x-fc-tracing-opentracing-span-context"] == "ctx"
    assert headers["x-fc-retry-count"] == "0" and headers["x-fc-function-type"] == "0"
    r = invoke(gserver, account, {}, headers={"x-fc-tracing-opentracing-span-baggages": good})
    assert r.json()["headers"]["x-fc-tracing-opentracing-span-baggages"] == good
    deploy_go1(gfc, tmp_path, {"main": fixture("event-main")}, "main", name="sdk")
    r = invoke(gserver, account, {"name": "z"}, fn="sdk",
               headers={"x-fc-tracing-opentracing-span-baggages": "%%%"})
    assert r.status_code == 200 and r.json()["greeting"] == "hello z", r.text


# ---- failures --------------------------------------------------------------------------------------

def test_timeout_kills_the_instance(gfc, gserver, account, tmp_path):
    deploy_go1(gfc, tmp_path, {"client": PY_CLIENT}, "client", timeout=1)
    r = invoke(gserver, account, {})
    assert r.status_code == 200, r.text
    instance = r.headers["X-Fc-Instance-Id"]
    headers = r.json()["headers"]  # what `next` handed the runtime (§11.3)
    assert headers["x-fc-request-id"] == r.headers["X-Fc-Request-Id"]
    assert headers["x-fc-function-timeout"] == "1" and headers["x-fc-function-type"] == "0"
    assert abs(int(headers["x-fc-function-deadline"]) - (time.time() + 1) * 1000) < 5000
    assert headers["x-fc-function-name"] == "fn" and headers["x-fc-function-handler"] == "client"
    t0 = time.monotonic()
    r = invoke(gserver, account, {"sleep": 5})
    assert time.monotonic() - t0 < 4
    assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert r.json()["errorMessage"].startswith("Function timed out after 1 seconds"), r.text
    r = invoke(gserver, account, {})  # a new instance
    assert r.status_code == 200, r.text
    assert r.headers["X-Fc-Instance-Id"] != instance


def test_process_exit_fails_the_call_and_the_next_cold_starts(gfc, gserver, account, tmp_path):
    deploy_go1(gfc, tmp_path, {"client": PY_CLIENT}, "client")
    before = invoke(gserver, account, {})
    assert before.status_code == 200, before.text
    r = invoke(gserver, account, {"exit": 3})
    assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert r.json()["errorMessage"].startswith("Process exited unexpectedly before completing request"), r.text
    after = invoke(gserver, account, {})
    assert after.status_code == 200, after.text
    assert after.headers["X-Fc-Instance-Id"] != before.headers["X-Fc-Instance-Id"]


def test_instance_concurrency_runs_calls_together(gfc, gserver, account, tmp_path):
    deploy_go1(gfc, tmp_path, {"client": PY_CLIENT}, "client", instanceConcurrency=3)
    invoke(gserver, account, {})  # warm
    t0 = time.monotonic()
    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(lambda _: invoke(gserver, account, {"sleep": 1.5}), range(3)))
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    assert time.monotonic() - t0 < 4
    assert max(r.json()["peak"] for r in replies) == 3
    assert len({r.headers["X-Fc-Instance-Id"] for r in replies}) == 1


def test_missing_handler_names_the_code_path(gfc, gserver, account, tmp_path):
    deploy_go1(gfc, tmp_path, {"main": fixture("event-main")}, "nope")
    r = invoke(gserver, account, {})
    assert r.status_code == 412, r.text
    message = r.json()["ErrorMessage"]
    assert r.json()["ErrorCode"] == "FunctionNotStarted"
    assert "/code/nope" in message and "does not exist" in message, message
    assert str(gserver.data_dir) not in message and str(ROOT) not in message, message


def test_handler_without_executable_bit_says_so(gfc, gserver, account, tmp_path):
    deploy_go1(gfc, tmp_path, {"main": fixture("event-main")}, "main", executable=())
    r = invoke(gserver, account, {})
    assert r.status_code == 412, r.text
    message = r.json()["ErrorMessage"]
    assert "/code/main" in message and "not executable" in message, message
    assert str(gserver.data_dir) not in message, message
