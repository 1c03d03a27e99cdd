"""Agent-level protocol tests of the Node.js agent (runtimes/nodejs/agent.js), on every Node major
FC's nodejs runtimes use (4 for nodejs4.4, 6, 8, ... 20): the official binaries in the toolchains
cache (`fc-emulator interpreters fetch`, scripts/test). A missing one skips its tests, or fails them
with CI=true.

Each test talks to the real agent process the way the emulator does (docs/runtime-protocol.md):
the protocol environment, a temp code dir, a free port on 127.0.0.1, real HTTP/1.1 keep-alive.
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from emulator.execution import toolchains

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "runtimes" / "nodejs" / "agent.js"
MAJORS = toolchains.node_majors()


def _runtime(major: int) -> str:
    return "nodejs4.4" if major == 4 else f"nodejs{major}"


@pytest.fixture(scope="module", params=MAJORS, ids=[f"node{m}" for m in MAJORS])
def node(request) -> tuple[int, str]:
    """(major, path of that Node's binary)."""
    major = request.param
    path = toolchains.node_binary(major)
    if path is None:
        message = f"Node.js {major} is not in the toolchains cache (run: fc-emulator interpreters fetch)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return major, str(path)

# Written the way FC's nodejs4.4/6 samples are (var, callbacks, no async): it loads on every Node.
INDEX_JS = r"""
var counter = 0;
var Readable = require('stream').Readable;
exports.initializer = (context, callback) => { counter = 1; console.log('init ran'); callback(null, ''); };
exports.hello = (event, context, callback) => callback(null, 'hello world');
exports.echo = (event, context, callback) => callback(null, event);
exports.isBuffer = (event, context, callback) => callback(null, Buffer.isBuffer(event));
exports.num = (event, context, callback) => callback(null, 42);
exports.nothing = (event, context, callback) => callback(null, null);
exports.handledErr = (event, context, callback) => callback(new Error('x'));
exports.handledStr = (event, context, callback) => callback('plain failure');
exports.throws = () => { throw new Error('boom'); };
exports.count = (event, context, callback) => { counter += 1; callback(null, counter); };
exports.context = (event, context, callback) =>
  callback(null, Object.assign({}, context, { logger: typeof context.logger.info }));
exports.env = (event, context, callback) => callback(null, {
  FOO: process.env.FOO, FC_FUNCTION_NAME: process.env.FC_FUNCTION_NAME, cwdOk: typeof process.cwd() });
exports.logs = (event, context, callback) => {
  console.log('log %s', 'line'); console.info('info line'); console.warn('warn line');
  console.error('error line'); context.logger.info('ctx info');
  setTimeout(() => { console.log('later'); callback(null, 'ok'); }, 10);
};
exports.sleep = (event, context, callback) => {
  setTimeout(() => { console.log('woke'); callback(null, context.requestId); }, parseInt(event.toString(), 10));
};
exports.first = (event, context, callback) => { callback(null, 'one'); callback(null, 'two'); };
exports.timerThrow = (event, context, callback) => { setTimeout(() => { throw new Error('timer boom'); }, 10); };
exports.exit = () => { process.exit(3); };
exports.layer = (event, context, callback) => callback(null, require('layermod').name);
exports.notFn = 42;
exports.preFreeze = (context, callback) => { console.log('freezing'); callback(null, ''); };
exports.version = (event, context, callback) => callback(null, process.version);

// Promise-returning handlers without async syntax (a returned thenable completes the call).
exports.helloAsync = () => Promise.resolve('hello async');
exports.obj = () => Promise.resolve({ a: 1, b: [1, 2], c: 'x' });
exports.rejects = () => Promise.reject(new TypeError('bad type'));
exports.asyncSleep = (event, context) =>
  new Promise((r) => setTimeout(r, parseInt(event.toString(), 10))).then(() => {
    console.log('woke');
    return context.requestId;
  });
exports.asyncCb = (event, context, callback) => { setTimeout(() => callback(null, 'late'), 20); return Promise.resolve(); };
exports.floating = () => {
  Promise.reject(new Error('floating rejection'));
  return new Promise((r) => setTimeout(() => r('never'), 50));
};

function streamOf(parts) {
  var s = new Readable({ read() {} });
  parts.forEach((p) => s.push(p));
  s.push(null);
  return s;
}

exports.http = (req, resp, context) => {
  var chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    var body = Buffer.concat(chunks);
    if (req.path === '/missing') { resp.setStatusCode(404); resp.send('not here'); return; }
    if (req.path === '/cookies') {
      resp.setHeader('Set-Cookie', ['a=1', 'b=2']);
      resp.setHeader('Content-Type', 'text/plain');
      resp.setHeader('X-Gone', 'x'); resp.deleteHeader('x-gone');
      resp.send('cookies');
      return;
    }
    if (req.path === '/stream') { resp.send(streamOf([Buffer.from('str'), Buffer.from('eam')])); return; }
    if (req.path === '/bytes') { resp.send(new Uint8Array([0, 104, 105, 0]).subarray(1, 3)); return; }
    if (req.path === '/twice') {
      resp.send('once');
      try { resp.send('again'); } catch (e) { console.log('second send: ' + e.message); }
      return;
    }
    if (req.path === '/throw') throw new Error('http boom');
    if (req.method === 'POST') {
      resp.setHeader('content-type', 'application/octet-stream');
      resp.setHeader('x-same-body', String(Buffer.compare(body, req.body) === 0));
      resp.send(body);
      return;
    }
    resp.setHeader('content-type', 'application/json');
    resp.send(JSON.stringify({
      path: req.path, queries: req.queries, method: req.method, clientIP: req.clientIP, url: req.url,
      headers: req.headers, ua: req.getHeader('User-Agent'), requestId: context.requestId,
    }));
  });
};
exports.httpThrow = () => { throw new Error('http sync boom'); };
"""

# nodejs8 and later: the same handlers as real async functions (FC's samples for those runtimes).
ASYNC_JS = r"""
exports.helloAsync = async (event, context) => 'hello async';
exports.obj = async () => ({ a: 1, b: [1, 2], c: 'x' });
exports.rejects = async () => { throw new TypeError('bad type'); };
exports.asyncSleep = async (event, context) => {
  await new Promise((r) => setTimeout(r, parseInt(event.toString(), 10)));
  console.log('woke');
  return context.requestId;
};
exports.asyncCb = async (event, context, callback) => { setTimeout(() => callback(null, 'late'), 20); };
exports.floating = async () => { Promise.reject(new Error('floating rejection')); await new Promise((r) => setTimeout(r, 50)); return 'never'; };
"""

ESM_MJS = """
export const handler = async (event, context) => 'esm ' + event.toString();
"""

LAYER_JS = "exports.name = 'from layer';\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _headers(request_id: str, handler: str, **extra: str) -> dict[str, str]:
    h = {
        "x-fc-request-id": request_id,
        "x-fc-access-key-id": "AKID",
        "x-fc-access-key-secret": "AKSECRET",
        "x-fc-security-token": "TOKEN",
        "x-fc-function-name": "fn",
        "x-fc-function-handler": handler,
        "x-fc-function-memory": "256",
        "x-fc-function-timeout": "30",
        "x-fc-function-initializer": "index.initializer",
        "x-fc-initialization-timeout": "10",
        "x-fc-region": "cn-hangzhou",
        "x-fc-account-id": "1234567890",
        "x-fc-qualifier": "LATEST",
        "x-fc-version-id": "",
        "x-fc-service-name": "svc",
        "x-fc-service-logproject": "proj",
        "x-fc-service-logstore": "store",
        "x-fc-control-path": "/invoke",
        "x-fc-retry-count": "0",
        "Content-Type": "application/octet-stream",
    }
    h.update(extra)
    return h


class Agent:
    """One `node runtimes/nodejs/agent.js` process with a code dir, as the process backend starts it."""

    def __init__(self, tmp: Path, node: tuple[int, str], env: dict[str, str] | None = None):
        self.major, self.node = node
        self.runtime = _runtime(self.major)
        self.code = tmp / "code"
        self.opt = tmp / "opt"
        self.code.mkdir(parents=True, exist_ok=True)
        (self.code / "index.js").write_text(INDEX_JS + (ASYNC_JS if self.major >= 8 else ""))
        (self.code / "esm.mjs").write_text(ESM_MJS)
        (self.code / "src").mkdir(exist_ok=True)
        (self.code / "src" / "sub.js").write_text("exports.handler = (e, c, callback) => callback(null, 'nested');\n")
        layer = self.opt / "nodejs" / "node_modules" / "layermod"
        layer.mkdir(parents=True, exist_ok=True)
        (layer / "index.js").write_text(LAYER_JS)
        (tmp / "scratch").mkdir(exist_ok=True)
        self.port = _free_port()
        self.log_path = tmp / f"agent-{self.port}.log"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TMPDIR": str(tmp / "scratch"),
            "FC_FUNC_CODE_PATH": str(self.code),
            "FC_SERVER_HOST": "127.0.0.1",
            "FC_SERVER_PORT": str(self.port),
            "FC_EMULATOR_OPT_DIR": str(self.opt),
            "FC_ACCOUNT_ID": "1234567890",
            "FC_REGION": "cn-hangzhou",
            "FC_SERVICE_NAME": "svc",
            "FC_FUNCTION_NAME": "fn",
            "FC_FUNCTION_HANDLER": "index.hello",
            "FC_FUNCTION_MEMORY_SIZE": "256",
            "FC_QUALIFIER": "LATEST",
            "FC_INSTANCE_ID": "inst-1",
            "FC_CUSTOM_LISTEN_PORT": str(self.port),
            "FC_RUNTIME": self.runtime,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": "AKID",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "AKSECRET",
            "ALIBABA_CLOUD_SECURITY_TOKEN": "TOKEN",
            "accessKeyID": "AKID",
            "accessKeySecret": "AKSECRET",
            "securityToken": "TOKEN",
            "FOO": "bar",
        }
        self.env.update(env or {})
        self.proc: subprocess.Popen | None = None
        self._log = None
        self._conn: http.client.HTTPConnection | None = None

    def start(self) -> "Agent":
        self._log = open(self.log_path, "wb")
        # The agent command of emulator/execution/launch.py, with this major's binary.
        argv = [self.node, "--max-old-space-size=256", str(AGENT)]
        if self.major >= 6:  # Node 6-12 read 8-16 KB of request headers otherwise (Node 4: 80 KB, no flag)
            argv.insert(1, "--max-http-header-size=262144")
        self.proc = subprocess.Popen(argv, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.code)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # readiness = TCP connect (runtimes.md §2.1)
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"agent did not listen: {self.log()}")

    def stop(self) -> None:
        if self._conn:
            self._conn.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log:
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, path: str, handler: str, body: bytes = b"", request_id: str = "req-1",
                conn: http.client.HTTPConnection | None = None, **extra: str):
        own = conn is None
        if own:
            if self._conn is None:
                self._conn = self.connection()
            conn = self._conn
        conn.request("POST", path, body=body, headers=_headers(request_id, handler, **extra))
        resp = conn.getresponse()
        data = resp.read()
        return resp, data

    def invoke(self, handler: str, body: bytes = b"", request_id: str = "req-1", **kw):
        return self.request("/invoke", handler, body, request_id, **kw)

    def wait_log(self, pattern: str, timeout: float = 5) -> bool:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.log()):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def slice(self, request_id: str, kind: str = "Invoke") -> list[str]:
        """The log lines of one call, between its Start and End markers (inclusive)."""
        lines = self.log().splitlines()
        start = lines.index(f"FC {kind} Start RequestId: {request_id}")
        end = next(i for i in range(start, len(lines))
                   if lines[i].startswith(f"FC {kind} End RequestId: {request_id}"))
        return lines[start:end + 1]


@pytest.fixture(scope="module")
def agent(tmp_path_factory, node):
    a = Agent(tmp_path_factory.mktemp("nodeagent"), node).start()
    yield a
    a.stop()


@pytest.fixture
def fresh_agent(tmp_path, node):
    a = Agent(tmp_path, node).start()
    yield a
    a.stop()


def _http_params(path="/", method="GET", uri=None, headers=None, queries=None):
    p = {
        "path": path, "method": method, "requestURI": uri or path, "clientIP": "10.0.0.9",
        "host": "example.com", "headersMap": headers or {}, "queriesMap": queries or {},
    }
    return base64.b64encode(json.dumps(p).encode()).decode()


def _resp_params(resp) -> dict:
    return json.loads(base64.b64decode(resp.getheader("x-fc-http-params")))


# --------------------------------------------------------------------------------------------
# Start-up


def test_banner_and_memory_header(agent):
    banner = f"FunctionCompute {agent.runtime} runtime inited."
    deadline = time.monotonic() + 5  # printed once listening: the port can open before the line is written
    while banner not in agent.log() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert banner in agent.log()
    resp, _ = agent.invoke("index.hello", request_id="mem-1")
    assert re.fullmatch(r"\d+\.\d\d", resp.getheader("x-fc-max-memory-usage"))
    assert float(resp.getheader("x-fc-max-memory-usage")) > 1


# --------------------------------------------------------------------------------------------
# Event invocations


def test_hello_callback(agent):
    resp, data = agent.invoke("index.hello", b'{"k": 1}', request_id="hello-1")
    assert (resp.status, data) == (200, b"hello world")
    assert agent.slice("hello-1") == ["FC Invoke Start RequestId: hello-1", "FC Invoke End RequestId: hello-1"]


def test_hello_async(agent):
    resp, data = agent.invoke("index.helloAsync", request_id="hello-2")
    assert (resp.status, data) == (200, b"hello async")


def test_buffer_event_binary_round_trip(agent):
    payload = bytes(range(256)) * 40 + b"\x00\xff\xfe"
    resp, data = agent.invoke("index.echo", payload, request_id="bin-1")
    assert (resp.status, data) == (200, payload)
    resp, data = agent.invoke("index.isBuffer", b"x", request_id="bin-2")
    assert data == b"true"


def test_result_conversions(agent):
    resp, data = agent.invoke("index.obj", request_id="conv-1")
    assert resp.status == 200 and json.loads(data) == {"a": 1, "b": [1, 2], "c": "x"}
    assert data == b'{"a":1,"b":[1,2],"c":"x"}'  # JSON.stringify, not pretty-printed
    assert agent.invoke("index.num", request_id="conv-2")[1] == b"42"
    resp, data = agent.invoke("index.nothing", request_id="conv-3")
    assert (resp.status, data) == (200, b"")


def test_callback_error_is_handled_417(agent):
    resp, data = agent.invoke("index.handledErr", request_id="err-1")
    assert resp.status == 417
    err = json.loads(data)
    assert err["errorMessage"] == "x" and err["errorType"] == "Error"
    assert isinstance(err["stackTrace"], list) and any("index.js" in line for line in err["stackTrace"])
    assert agent.slice("err-1")[-1] == "FC Invoke End RequestId: err-1, Error: Handled function error"

    resp, data = agent.invoke("index.handledStr", request_id="err-2")
    assert resp.status == 417 and json.loads(data) == {"errorMessage": "plain failure"}


def test_throw_and_reject_are_unhandled_404(agent):
    resp, data = agent.invoke("index.throws", request_id="err-3")
    assert resp.status == 404
    err = json.loads(data)
    assert (err["errorMessage"], err["errorType"]) == ("boom", "Error")
    assert not any("agent.js" in line for line in err["stackTrace"])
    assert agent.slice("err-3")[-1] == "FC Invoke End RequestId: err-3, Error: Unhandled function error"

    resp, data = agent.invoke("index.rejects", request_id="err-4")
    assert resp.status == 404
    assert json.loads(data)["errorType"] == "TypeError"
    # The instance survives: the next call works.
    assert agent.invoke("index.hello", request_id="err-5")[1] == b"hello world"


def test_only_first_completion_counts(agent):
    assert agent.invoke("index.first", request_id="first-1")[1] == b"one"
    # An async handler that declares `callback` and resolves undefined answers through the callback.
    assert agent.invoke("index.asyncCb", request_id="first-2")[1] == b"late"


def test_load_errors(agent):
    resp, data = agent.invoke("nofile.handler", request_id="load-1")
    assert resp.status == 404
    err = json.loads(data)
    assert err["errorMessage"].startswith("Cannot find module") and "agent.js" not in err["errorMessage"]
    assert err["errorType"] == "Error" and isinstance(err["stackTrace"], list)

    resp, data = agent.invoke("index.missing", request_id="load-2")
    assert resp.status == 404
    assert json.loads(data)["errorMessage"] == "Handler 'missing' missing on module 'index'"
    resp, data = agent.invoke("index.notFn", request_id="load-3")
    assert resp.status == 404


def test_esm_handler_and_layer_module(agent):
    resp, data = agent.invoke("esm.handler", b"hi", request_id="esm-1")
    if agent.major >= 18:
        assert (resp.status, data) == (200, b"esm hi")
    else:  # .mjs handlers exist from nodejs18 on: like FC, older runtimes do not find the module
        assert resp.status == 404 and json.loads(data)["errorMessage"].startswith("Cannot find module")
    assert agent.invoke("index.layer", request_id="layer-1")[1] == b"from layer"


def test_process_version_is_the_runtimes(agent):
    resp, data = agent.invoke("index.version", request_id="ver-1")
    assert resp.status == 200 and data.decode().startswith(f"v{agent.major}.")


def test_nested_handler_path(agent):
    assert agent.invoke("src/sub.handler", request_id="nested-1")[1] == b"nested"


def test_pre_freeze_hook(agent):
    conn = agent.connection()
    conn.request("GET", "/pre-freeze", headers=_headers(
        "hook-1", "index.hello", **{"x-fc-instance-lifecycle-pre-freeze-handler": "index.preFreeze"}))
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, b"")
    conn.close()
    lines = agent.slice("hook-1", "PreFreeze")
    assert lines[0] == "FC PreFreeze Start RequestId: hook-1" and lines[-1] == "FC PreFreeze End RequestId: hook-1"
    assert lines[1].endswith("hook-1 [verbose] freezing")


def test_context_fields(agent):
    baggage = base64.b64encode(json.dumps({"k": "v"}).encode()).decode()
    resp, data = agent.invoke(
        "index.context", request_id="ctx-1", **{
            "x-fc-retry-count": "2",
            "x-fc-tracing-opentracing-span-context": "span-ctx",
            "x-fc-tracing-opentracing-span-baggages": baggage,
            "x-fc-tracing-jaeger-endpoint": "http://jaeger",
        })
    ctx = json.loads(data)
    assert ctx == {
        "requestId": "ctx-1",
        "credentials": {"accessKeyId": "AKID", "accessKeySecret": "AKSECRET", "securityToken": "TOKEN"},
        "function": {"name": "fn", "handler": "index.context", "memory": 256, "timeout": 30,
                     "initializer": "index.initializer", "initializationTimeout": 10},
        "service": {"name": "svc", "logProject": "proj", "logStore": "store", "qualifier": "LATEST",
                    "versionId": ""},
        "region": "cn-hangzhou",
        "accountId": "1234567890",
        "retryCount": 2,
        "tracing": {"openTracingSpanContext": "span-ctx", "openTracingSpanBaggages": {"k": "v"},
                    "jaegerEndpoint": "http://jaeger"},
        "logger": "function",
    }


def test_env_vars(agent):
    env = json.loads(agent.invoke("index.env", request_id="env-1")[1])
    assert env["FOO"] == "bar" and env["FC_FUNCTION_NAME"] == "fn"


def test_logs_with_request_ids_and_markers(agent):
    resp, data = agent.invoke("index.logs", request_id="logs-1")
    assert data == b"ok"
    lines = agent.slice("logs-1")  # End marker already in the stream when the answer arrived
    assert lines[0] == "FC Invoke Start RequestId: logs-1"
    assert lines[-1] == "FC Invoke End RequestId: logs-1"
    body = lines[1:-1]
    ts = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    expected = [("verbose", "log line"), ("info", "info line"), ("warn", "warn line"),
                ("error", "error line"), ("info", "ctx info"), ("verbose", "later")]
    assert len(body) == len(expected), body
    for line, (level, msg) in zip(body, expected):
        assert re.fullmatch(rf"{ts} logs-1 \[{level}\] {msg}", line), line


@pytest.mark.parametrize("handler", ["index.sleep", "index.asyncSleep"])
def test_concurrent_invocations(agent, handler):
    n, results, errors = 8, {}, []

    def call(i):
        try:
            conn = agent.connection()
            resp, data = agent.invoke(handler, b"200", request_id=f"conc-{handler}-{i}", conn=conn)
            results[i] = (resp.status, data.decode())
            conn.close()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    assert not errors
    assert elapsed < 0.8, elapsed  # serialised would take 1.6 s
    for i in range(n):
        rid = f"conc-{handler}-{i}"
        assert results[i] == (200, rid)
        # Each request's log line carries its own request id (AsyncLocalStorage).
        assert re.search(rf"Z {re.escape(rid)} \[verbose\] woke", agent.log())


def test_keep_alive_many_requests(agent):
    conn = agent.connection()
    for i in range(200):
        resp, data = agent.invoke("index.hello", request_id=f"ka-{i}", conn=conn)
        assert data == b"hello world"
        assert not resp.will_close
    conn.close()


# --------------------------------------------------------------------------------------------
# Initializer


def test_initializer_then_counter(fresh_agent):
    resp, data = fresh_agent.request("/initialize", "index.hello", request_id="init-1",
                                     **{"x-fc-control-path": "/initialize"})
    assert resp.status == 200
    assert fresh_agent.slice("init-1", "Initialize") == [
        "FC Initialize Start RequestId: init-1",
        next(line for line in fresh_agent.log().splitlines() if line.endswith("init-1 [verbose] init ran")),
        "FC Initialize End RequestId: init-1",
    ]
    assert fresh_agent.invoke("index.count", request_id="c-1")[1] == b"2"
    assert fresh_agent.invoke("index.count", request_id="c-2")[1] == b"3"


def test_initializer_failure(fresh_agent):
    resp, data = fresh_agent.request("/initialize", "index.hello", request_id="init-2",
                                     **{"x-fc-function-initializer": "index.throws"})
    assert resp.status == 404 and json.loads(data)["errorMessage"] == "boom"
    assert fresh_agent.slice("init-2", "Initialize")[-1].endswith(", Error: Unhandled function error")


# --------------------------------------------------------------------------------------------
# HTTP trigger mode


def test_http_get_repeated_query_keys(agent):
    params = _http_params(
        path="/a/b", uri="/2016-08-15/proxy/svc/fn/a/b?x=1&x=2&y=3",
        headers={"User-Agent": ["ua/1"], "X-Multi": ["1", "2"], "Set-Cookie": ["s=1", "t=2"]},
        queries={"x": ["1", "2"], "y": ["3"]})
    resp, data = agent.invoke("index.http", request_id="http-1", **{"x-fc-http-params": params})
    assert resp.status == 200
    meta = _resp_params(resp)
    assert meta["status"] == 200 and meta["headersMap"] == {"content-type": ["application/json"]}
    got = json.loads(data)
    assert got["path"] == "/a/b" and got["method"] == "GET" and got["clientIP"] == "10.0.0.9"
    assert got["url"] == "/2016-08-15/proxy/svc/fn/a/b?x=1&x=2&y=3"
    assert got["queries"] == {"x": ["1", "2"], "y": "3"}
    assert got["headers"]["user-agent"] == "ua/1" and got["ua"] == "ua/1"
    assert got["headers"]["x-multi"] == "1, 2"
    assert got["headers"]["set-cookie"] == ["s=1", "t=2"]
    assert got["requestId"] == "http-1"


def test_http_post_binary_body(agent):
    payload = bytes(range(256)) * 100
    params = _http_params(path="/up", method="POST", headers={"Content-Type": ["application/octet-stream"]})
    resp, data = agent.invoke("index.http", payload, request_id="http-2", **{"x-fc-http-params": params})
    assert resp.status == 200 and data == payload
    meta = _resp_params(resp)
    assert meta["headersMap"]["x-same-body"] == ["true"]


def test_http_status_404(agent):
    resp, data = agent.invoke("index.http", request_id="http-3",
                              **{"x-fc-http-params": _http_params(path="/missing")})
    assert resp.status == 200 and data == b"not here"
    assert _resp_params(resp)["status"] == 404


def test_http_two_set_cookie_headers(agent):
    resp, data = agent.invoke("index.http", request_id="http-4",
                              **{"x-fc-http-params": _http_params(path="/cookies")})
    assert data == b"cookies"
    assert _resp_params(resp)["headersMap"] == {"Set-Cookie": ["a=1", "b=2"], "Content-Type": ["text/plain"]}


def test_http_stream_body_and_single_send(agent):
    resp, data = agent.invoke("index.http", request_id="http-5",
                              **{"x-fc-http-params": _http_params(path="/stream")})
    assert data == b"stream"
    resp, data = agent.invoke("index.http", request_id="http-5b",
                              **{"x-fc-http-params": _http_params(path="/bytes")})
    assert data == b"hi"  # a Uint8Array view: only its own bytes
    resp, data = agent.invoke("index.http", request_id="http-6",
                              **{"x-fc-http-params": _http_params(path="/twice")})
    assert data == b"once"
    # The answer is sent by the first send(); the second one throws (logged after the End marker).
    assert agent.wait_log(r"http-6 \[verbose\] second send: resp.send\(\) can only be called once")


def test_http_large_params_header(agent):
    # ~55 KB of x-fc-http-params: more than Node 6-12 read by default (launch.py raises the limit).
    params = _http_params(path="/big", headers={"X-Big": ["b" * 40000]})
    resp, data = agent.invoke("index.http", request_id="http-big", **{"x-fc-http-params": params})
    assert resp.status == 200 and json.loads(data)["headers"]["x-big"] == "b" * 40000


def test_http_handler_errors(agent):
    resp, data = agent.invoke("index.httpThrow", request_id="http-7",
                              **{"x-fc-http-params": _http_params()})
    assert resp.status == 404 and json.loads(data)["errorMessage"] == "http sync boom"


# --------------------------------------------------------------------------------------------
# Crashes


def test_uncaught_timer_exception_answers_then_exits(fresh_agent):
    resp, data = fresh_agent.invoke("index.timerThrow", request_id="crash-1")
    assert resp.status == 404
    assert json.loads(data)["errorMessage"] == "timer boom"
    assert fresh_agent.slice("crash-1")[-1].endswith(", Error: Unhandled function error")
    assert fresh_agent.proc.wait(5) != 0


def test_unhandled_rejection(fresh_agent):
    resp, data = fresh_agent.invoke("index.floating", request_id="crash-2")
    if fresh_agent.major >= 15:  # Node 15+ makes an unhandled rejection an uncaught exception
        assert resp.status == 404 and json.loads(data)["errorMessage"] == "floating rejection"
        assert fresh_agent.proc.wait(5) != 0
    else:  # older Node only warns, as it does in FC: the call completes and the instance lives on
        assert (resp.status, data) == (200, b"never")
        if fresh_agent.major >= 6:  # Node 4 does not even warn
            assert fresh_agent.wait_log("UnhandledPromiseRejectionWarning.*floating rejection")
        assert fresh_agent.invoke("index.hello", request_id="crash-3")[1] == b"hello world"


def test_process_exit_ends_process(fresh_agent):
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        fresh_agent.invoke("index.exit", request_id="exit-1")
    assert fresh_agent.proc.wait(5) == 3
    assert "FC Invoke End RequestId: exit-1" not in fresh_agent.log()


def test_sigterm_exits_promptly(fresh_agent):
    t0 = time.monotonic()
    fresh_agent.proc.send_signal(15)
    fresh_agent.proc.wait(5)
    assert time.monotonic() - t0 < 1
