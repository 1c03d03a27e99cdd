"""Protocol tests of the Python runtime agent (runtimes/python/agent.py).

The real agent process is started as the emulator starts it (docs/runtime-protocol.md):
environment of the protocol doc, a temp code dir, 127.0.0.1 and a free port; then real
HTTP requests are sent and its stdout is read.

Every case runs on the Python running the tests and on Python 2.7 and 3.6 (FC's python2.7 and
python3), found the way the process backend finds them (pyenv here and in CI). A missing one is
skipped, except with CI=true, where it fails.
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from emulator.execution.interpreters import EXACT, Interpreters

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "runtimes" / "python" / "agent.py"
MEM_RE = re.compile(r"^\d+\.\d\d$")

CODE = {
    "index.py": """
        import datetime, decimal, logging, os, time

        def hello(event, context):
            return 'hello world'

        def echo(event, context):
            assert isinstance(event, bytes)
            return event

        def event_type(event, context):
            return type(event).__name__

        def text(event, context):
            return u'h\\u00e9llo'

        def version(event, context):
            import sys
            return '%d.%d' % sys.version_info[:2]

        def as_dict(event, context):
            return {"b": 1, "a": [1, 2], "c": {"z": None, "y": True}}

        def none(event, context):
            return None

        def special(event, context):
            class Obj:
                def to_json(self):
                    return {"obj": 1}
            return {"d": decimal.Decimal("1.5"), "t": datetime.datetime(2020, 1, 2, 3, 4, 5),
                    "day": datetime.date(2020, 1, 2), "o": Obj()}

        def unserialisable(event, context):
            return {"s": {1, 2}}

        def env(event, context):
            return os.environ.get(event.decode(), '<unset>')

        def ctx(event, context):
            c = context
            return {
                "request_id": c.request_id, "account_id": c.account_id, "region": c.region,
                "retry_count": c.retry_count,
                "credentials": [c.credentials.access_key_id, c.credentials.access_key_secret,
                                c.credentials.security_token],
                "function": [c.function.name, c.function.handler, c.function.memory, c.function.timeout,
                             c.function.initializer, c.function.initialization_timeout],
                "service": [c.service.name, c.service.log_project, c.service.log_store,
                            c.service.qualifier, c.service.version_id],
                "tracing": [c.tracing.span_context, c.tracing.jaeger_endpoint, c.tracing.span_baggages],
            }

        def _inner():
            raise ValueError('boom here')

        def fail(event, context):
            _inner()

        def logs(event, context):
            logging.info('hello log %s', event.decode())
            logging.getLogger('mine').warning('a warning')
            print('a print line')
            context.logger.info('via context logger')
            return 'ok'

        def slow(event, context):
            tag = event.decode()
            logging.info('before %s', tag)
            time.sleep(0.2)
            logging.info('after %s', tag)
            return tag

        def cwd(event, context):
            return os.getcwd()
    """,
    "counter.py": """
        count = 0

        def initializer(context):
            global count
            count += 1

        def handler(event, context):
            global count
            count += 1
            return str(count)
    """,
    "initfail.py": """
        def initializer(context):
            raise RuntimeError('init broke')
    """,
    "bad_syntax.py": """
        x = 1
        def handler(event, context:
            return 1
    """,
    "bad_import.py": """
        import no_such_package_xyz
        def handler(event, context):
            return 1
    """,
    "bad_init.py": """
        raise Exception('init failed')
    """,
    "py2only.py": """
        import logging
        def handler(event, context):
            print 'printed by python', 2
            logging.info('logged %s', event)
            return 'python 2 syntax'
    """,
    "pkg/__init__.py": "",  # pkg.sub is a namespace package: Python 3 only
    "deep/__init__.py": "",
    "deep/sub/__init__.py": "",
    "deep/sub/mod.py": """
        def handler(event, context):
            return 'deep'
    """,
    "pkg/sub/mod.py": """
        def handler(event, context):
            return 'dotted'
    """,
    "subdir/mod.py": """
        def handler(event, context):
            return 'slashed'
    """,
    "uses_layer.py": """
        import layer_site, layer_root
        def handler(event, context):
            return layer_site.NAME + ' ' + layer_root.NAME
    """,
    "web.py": """
        import json

        count = 0

        def initializer(context):
            global count
            count = 100

        def environ(environ, start_response):
            keys = ['REQUEST_METHOD', 'PATH_INFO', 'QUERY_STRING', 'CONTENT_LENGTH', 'CONTENT_TYPE',
                    'REMOTE_ADDR', 'SCRIPT_NAME', 'SERVER_NAME', 'SERVER_PORT', 'SERVER_PROTOCOL',
                    'SERVER_SOFTWARE', 'HTTP_X_CUSTOM', 'HTTP_USER_AGENT', 'MY_VAR',
                    'wsgi.url_scheme', 'fc.request_uri', 'HTTP_X_FC_FUNCTION_HANDLER']
            out = {k: environ.get(k) for k in keys}
            out['request_id'] = environ['fc.context'].request_id
            out['wsgi.version'] = list(environ['wsgi.version'])
            out['count'] = count
            start_response('200 OK', [('Content-Type', 'application/json')])
            return [json.dumps(out).encode()]

        def echo(environ, start_response):
            body = environ['wsgi.input'].read(int(environ['CONTENT_LENGTH']))
            start_response('200 OK', [('Content-Type', environ['CONTENT_TYPE'])])
            return [body]

        def not_found(environ, start_response):
            write = start_response('404 Not Found', [('Content-Type', 'text/plain')])
            write(b'not ')
            return [b'found']

        def cookies(environ, start_response):
            start_response('200 OK', [('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2'), ('X-One', 'x')])
            return [b'']

        def broken(environ, start_response):
            raise KeyError('nope')
    """,
}

PYTHONS = ["host", "2.7", "3.6"]  # host = the Python running the tests (3.11)
OPT = {
    **{f"python/lib/python{v}/site-packages/layer_site.py": "NAME = 'site'\n"
       for v in ("%d.%d" % sys.version_info[:2], "2.7", "3.6")},
    "python/layer_root.py": "NAME = 'root'\n",
}


def _write_tree(base: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    """The agent process; stdout+stderr collected line by line."""

    def __init__(self, code: Path, opt: Path, tmp: Path, runtime: str = "python3.9", python: str = sys.executable):
        self.port = _free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "FC_FUNC_CODE_PATH": str(code), "FC_SERVER_HOST": "127.0.0.1", "FC_SERVER_PORT": str(self.port),
            "FC_EMULATOR_OPT_DIR": str(opt), "TMPDIR": str(tmp), "FC_ACCOUNT_ID": "1234",
            "FC_REGION": "cn-hangzhou", "FC_SERVICE_NAME": "svc", "FC_FUNCTION_NAME": "fn",
            "FC_FUNCTION_HANDLER": "index.hello", "FC_FUNCTION_MEMORY_SIZE": "128", "FC_QUALIFIER": "LATEST",
            "FC_INSTANCE_ID": "inst-1", "FC_CUSTOM_LISTEN_PORT": "9000", "FC_RUNTIME": runtime,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": "ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk",
            "ALIBABA_CLOUD_SECURITY_TOKEN": "tok", "accessKeyID": "ak", "accessKeySecret": "sk",
            "securityToken": "tok", "LANG": "C.UTF-8", "MY_VAR": "my value",
        }
        self.proc = subprocess.Popen([python, "-W", "ignore", str(AGENT)], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, cwd=str(tmp))
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.time() + 15
        while True:  # readiness = TCP connect, as the emulator does
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("agent did not start:\n" + "\n".join(self.lines))
                time.sleep(0.02)

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def wait_line(self, text: str, timeout: float = 5) -> None:
        deadline = time.time() + timeout
        while not any(text in line for line in self.lines):
            assert time.time() < deadline, f"{text!r} not in output:\n" + "\n".join(self.lines)
            time.sleep(0.01)

    def invocation_log(self, request_id: str, word: str = "Invoke") -> list[str]:
        """Lines between this request's markers (both included)."""
        end = f"FC {word} End RequestId: {request_id}"
        self.wait_line(end)
        start = self.lines.index(f"FC {word} Start RequestId: {request_id}")
        stop = next(i for i, line in enumerate(self.lines) if line.startswith(end))
        return self.lines[start:stop + 1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_ids = iter(range(1, 10**9))


def fc_headers(handler: str, request_id: str | None = None, **extra: str) -> dict[str, str]:
    h = {
        "x-fc-request-id": request_id or f"req-{next(_ids)}", "x-fc-access-key-id": "AKID",
        "x-fc-access-key-secret": "AKSECRET", "x-fc-security-token": "TOKEN",
        "x-fc-function-name": "fn", "x-fc-function-handler": handler, "x-fc-function-memory": "256",
        "x-fc-function-timeout": "7", "x-fc-function-initializer": "", "x-fc-initialization-timeout": "4",
        "x-fc-region": "cn-shanghai", "x-fc-account-id": "1234567", "x-fc-qualifier": "prod",
        "x-fc-version-id": "3", "x-fc-service-name": "svc", "x-fc-service-logproject": "proj",
        "x-fc-service-logstore": "store", "x-fc-control-path": "/invoke", "x-fc-retry-count": "0",
        "Content-Type": "application/octet-stream",
    }
    h.update(extra)
    return h


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("pyagent")
    code, opt, tmp = base / "code", base / "opt", base / "tmp"
    tmp.mkdir()
    _write_tree(code, CODE)
    _write_tree(opt, OPT)
    return code, opt, tmp


class Python:
    def __init__(self, path: str, version: tuple[int, int]):
        self.path, self.version = path, version
        self.py2 = version[0] == 2
        # FC's runtime of that version (the agent's banner and notices name it)
        self.runtime = "python3.9" if path == sys.executable else "python%d.%d" % version


@pytest.fixture(scope="module", params=PYTHONS)
def python(request) -> Python:
    if request.param == "host":
        return Python(sys.executable, sys.version_info[:2])
    found = Interpreters().lookup(f"python{request.param}")
    if found.status != EXACT:
        message = f"no Python {request.param} on this host (pyenv install {request.param})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return Python(found.path, tuple(int(p) for p in request.param.split(".")))


@pytest.fixture(scope="module")
def agent(dirs, python):
    a = Agent(*dirs, runtime=python.runtime, python=python.path)
    yield a
    a.stop()


@pytest.fixture
def conn(agent):
    c = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=10)
    yield c
    c.close()


def call(conn, path: str, headers: dict, body: bytes = b""):
    conn.request("POST", path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    assert MEM_RE.match(resp.getheader("x-fc-max-memory-usage") or ""), resp.getheaders()
    return resp.status, resp, data


def invoke(conn, handler: str, body: bytes = b"", **extra):
    return call(conn, "/invoke", fc_headers(handler, **extra), body)


# ------------------------------------------------------------------ startup


def test_banner_and_cwd(agent, conn, dirs, python):
    agent.wait_line(f"FunctionCompute {python.runtime} runtime inited.")
    assert not any("fc-emulator:" in line for line in agent.lines)  # it runs on its own version: no notice
    status, _, body = invoke(conn, "index.cwd")
    assert status == 200 and body.decode() == str(dirs[0])
    assert invoke(conn, "index.version")[2] == ("%d.%d" % python.version).encode()


def test_python2_runtime_notice_and_sigterm(dirs, python):
    """python2.7 on a Python 3 (someone pointed it there) says so once; on Python 2 it says nothing."""
    a = Agent(*dirs, runtime="python2.7", python=python.path)
    try:
        a.wait_line("FunctionCompute python2.7 runtime inited.")
        notices = [line for line in a.lines if line.startswith("fc-emulator: runtime python2.7 runs on")]
        if python.py2:
            assert notices == []
        else:
            assert len(notices) == 1 and "Python 3." in notices[0] and "Python 2.7 may fail" in notices[0]
        started = time.time()
        a.proc.send_signal(signal.SIGTERM)
        a.proc.wait(3)
        assert time.time() - started < 1.5
    finally:
        a.stop()


# ------------------------------------------------------------------ events and results


def test_hello_world(conn):
    status, _, body = invoke(conn, "index.hello")
    assert (status, body) == (200, b"hello world")


def test_event_type_and_text_result(conn, python):
    """The event is a str (bytes) on 2.7 and bytes on 3.x (runtimes.md §4.1); text results leave as UTF-8."""
    assert invoke(conn, "index.event_type", b"{}")[2] == (b"str" if python.py2 else b"bytes")
    assert invoke(conn, "index.text")[2] == "h\u00e9llo".encode("utf-8")


def test_python2_syntax(conn, agent, python):
    status, _, body = invoke(conn, "py2only.handler", b"evt", request_id="py2-syntax")
    if not python.py2:
        err = json.loads(body)
        assert status == 404 and err["errorType"] == "UserCodeSyntaxError"
        return
    assert (status, body) == (200, b"python 2 syntax")
    log = agent.invocation_log("py2-syntax")
    assert log[1] == "printed by python 2"
    assert re.match(r"^\S+Z py2-syntax \[INFO\] logged evt$", log[2]), log


def test_binary_event_round_trip(conn):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64 + b"\x00\xff"
    status, _, body = invoke(conn, "index.echo", png)
    assert status == 200 and body == png


def test_dict_result_is_pretty_sorted_json(conn):
    status, _, body = invoke(conn, "index.as_dict")
    assert status == 200
    assert body.decode() == json.dumps({"b": 1, "a": [1, 2], "c": {"z": None, "y": True}}, indent=4, sort_keys=True)


def test_none_and_special_values(conn):
    assert invoke(conn, "index.none")[2] == b"null"
    status, _, body = invoke(conn, "index.special")
    assert status == 200
    assert json.loads(body) == {"d": 1.5, "t": "2020-01-02T03:04:05", "day": "2020-01-02", "o": {"obj": 1}}


def test_unserialisable_result_is_function_error(conn):
    status, _, body = invoke(conn, "index.unserialisable")
    err = json.loads(body)
    assert status == 404 and err["errorType"] == "TypeError" and "not JSON serializable" in err["errorMessage"]


def test_env_vars_visible(conn):
    assert invoke(conn, "index.env", b"MY_VAR")[2] == b"my value"
    assert invoke(conn, "index.env", b"FC_FUNCTION_NAME")[2] == b"fn"
    assert invoke(conn, "index.env", b"ALIBABA_CLOUD_ACCESS_KEY_ID")[2] == b"ak"


def test_context_fields_from_headers(conn):
    baggages = base64.b64encode(json.dumps({"k": "v"}).encode()).decode()
    status, _, body = invoke(
        conn, "index.ctx", request_id="ctx-req", **{
            "x-fc-retry-count": "2", "x-fc-function-initializer": "index.init",
            "x-fc-tracing-opentracing-span-context": "span-ctx",
            "x-fc-tracing-opentracing-span-baggages": baggages,
            "x-fc-tracing-jaeger-endpoint": "http://jaeger"})
    assert status == 200
    assert json.loads(body) == {
        "request_id": "ctx-req", "account_id": "1234567", "region": "cn-shanghai", "retry_count": 2,
        "credentials": ["AKID", "AKSECRET", "TOKEN"],
        "function": ["fn", "index.ctx", 256, 7, "index.init", 4],
        "service": ["svc", "proj", "store", "prod", "3"],
        "tracing": ["span-ctx", "http://jaeger", {"k": "v"}],
    }


def test_handler_paths_and_layers(conn, python):
    assert invoke(conn, "deep.sub.mod.handler")[2] == b"deep"
    if python.py2:  # no namespace packages in Python 2, as on FC's python2.7
        assert json.loads(invoke(conn, "pkg.sub.mod.handler")[2])["errorType"] == "ImportModuleError"
    else:
        assert invoke(conn, "pkg.sub.mod.handler")[2] == b"dotted"
    assert invoke(conn, "subdir/mod.handler")[2] == b"slashed"
    assert invoke(conn, "uses_layer.handler")[2] == b"site root"


# ------------------------------------------------------------------ initializer


def test_initializer_runs_once_per_process(conn, agent):
    h = fc_headers("counter.handler", request_id="init-1", **{
        "x-fc-function-initializer": "counter.initializer", "x-fc-control-path": "/initialize"})
    status, _, _ = call(conn, "/initialize", h)
    assert status == 200
    log = agent.invocation_log("init-1", "Initialize")
    assert log[-1] == "FC Initialize End RequestId: init-1"
    assert invoke(conn, "counter.handler")[2] == b"2"
    assert invoke(conn, "counter.handler")[2] == b"3"


def test_initializer_failure(conn, agent):
    h = fc_headers("index.hello", request_id="init-fail", **{
        "x-fc-function-initializer": "initfail.initializer", "x-fc-control-path": "/initialize"})
    status, _, body = call(conn, "/initialize", h)
    err = json.loads(body)
    assert status == 404 and err["errorType"] == "RuntimeError" and err["errorMessage"] == "init broke"
    log = agent.invocation_log("init-fail", "Initialize")
    assert log[-1] == "FC Initialize End RequestId: init-fail, Error: Unhandled function error"


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("handler,etype,message", [
    ("missing_module.handler", "ImportModuleError", "Unable to import module 'missing_module'"),
    ("bad_import.handler", "ImportModuleError", "Unable to import module 'bad_import'"),
    ("bad_syntax.handler", "UserCodeSyntaxError", "Syntax error in module 'bad_syntax'"),
    ("bad_init.handler", "UserCodeError", "Module initialization error: 'init failed'"),
    ("nodot", "InvalidHandleName", "Invalid handler 'nodot'"),
    ("index.missing_fn", "HandlerNotFound", "Handler 'missing_fn' is missing on module 'index'"),
])
def test_load_errors(conn, handler, etype, message):
    for _ in range(2):  # a failed load is not cached: the second call fails the same way
        status, _, body = invoke(conn, handler)
        err = json.loads(body)
        assert status == 404
        assert (err["errorType"], err["errorMessage"]) == (etype, message)


def test_syntax_error_stack_trace(conn, dirs, python):
    err = json.loads(invoke(conn, "bad_syntax.handler")[2])
    trace = err["stackTrace"]
    line = 3 if (3, 6) <= python.version < (3, 9) else 2  # the pre-PEG parsers (3.6-3.8) stop at the next line
    assert trace[:2] == ['File "/code/bad_syntax.py"', "line %d" % line]  # as FC shows it, not the host folder
    assert not any(str(dirs[0]) in item for item in trace)
    assert trace[-1].startswith("SyntaxError:")
    err = json.loads(invoke(conn, "bad_import.handler")[2])
    assert err["stackTrace"] == (["ImportError: No module named no_such_package_xyz"] if python.py2 else
                                 ["ModuleNotFoundError: No module named 'no_such_package_xyz'"])


def test_exception_with_stack_trace(conn, agent, dirs):
    status, _, body = invoke(conn, "index.fail", request_id="fail-1")
    assert status == 404
    err = json.loads(body)
    assert body.decode() == json.dumps(err, indent=4, sort_keys=True)
    index = 'File "/code/index.py"'  # as FC shows it, not the host folder
    assert err["errorType"] == "ValueError" and err["errorMessage"] == "boom here"
    assert [f[2:] for f in err["stackTrace"]] == [["in fail", "_inner()"], ["in _inner", "raise ValueError('boom here')"]]
    assert all(f[0] == index and f[1].startswith("line ") for f in err["stackTrace"])
    log = agent.invocation_log("fail-1")
    assert log[-1] == "FC Invoke End RequestId: fail-1, Error: Unhandled function error"
    assert any(re.match(r"^\S+Z fail-1 \[ERROR\] \{$", line) for line in log)
    assert any('"errorMessage": "boom here"' in line for line in log)
    # the process survives
    assert invoke(conn, "index.hello")[2] == b"hello world"


# ------------------------------------------------------------------ logs and concurrency


def test_logging_format_and_markers(conn, agent):
    status, _, _ = invoke(conn, "index.logs", b"xyz", request_id="log-req-1")
    assert status == 200
    log = agent.invocation_log("log-req-1")
    prefix = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z log-req-1 "
    assert log[0] == "FC Invoke Start RequestId: log-req-1"
    assert re.match(prefix + r"\[INFO\] hello log xyz$", log[1]), log
    assert re.match(prefix + r"\[WARNING\] a warning$", log[2]), log
    assert log[3] == "a print line"
    assert re.match(prefix + r"\[INFO\] via context logger$", log[4]), log
    assert log[5] == "FC Invoke End RequestId: log-req-1"
    stamp = log[1].split(" ")[0]
    assert abs(time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.mktime(time.gmtime())) < 60


def test_concurrent_requests(agent):
    def one(i):
        c = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=10)
        try:
            status, _, body = call(c, "/invoke", fc_headers("index.slow", request_id=f"conc-{i}"), f"tag{i}".encode())
            return status, body
        finally:
            c.close()

    started = time.time()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    elapsed = time.time() - started
    assert results == [(200, f"tag{i}".encode()) for i in range(8)]
    assert elapsed < 0.8, elapsed  # serial would be 1.6 s
    for i in range(8):  # every log line carries its own request's id
        agent.wait_line(f"FC Invoke End RequestId: conc-{i}")
        mine = [line for line in agent.lines if f"tag{i}" in line and "[INFO]" in line]
        assert len(mine) == 2 and all(f" conc-{i} [INFO] " in line for line in mine), mine


def test_keep_alive_latency(conn):
    headers = fc_headers("index.echo", request_id="bench")
    for _ in range(50):
        call(conn, "/invoke", headers, b"x")
    times = []
    for _ in range(500):
        t = time.perf_counter()
        status, _, body = call(conn, "/invoke", headers, b"x")
        times.append(time.perf_counter() - t)
        assert status == 200 and body == b"x"
    times.sort()
    p50 = times[len(times) // 2]
    print("keep-alive round trip p50 %.3f ms p99 %.3f ms" % (p50 * 1e3, times[int(len(times) * 0.99)] * 1e3))
    assert p50 < 0.005


# ------------------------------------------------------------------ HTTP trigger (WSGI)


def http_params(method="GET", path="/", uri=None, headers=None, queries=None):
    obj = {"path": path, "method": method, "requestURI": uri or path, "clientIP": "10.1.2.3",
           "host": "example.com", "headersMap": headers or {}, "queriesMap": queries or {}}
    return base64.b64encode(json.dumps(obj).encode()).decode()


def wsgi_call(conn, handler, params, body=b"", request_id=None, path="/invoke", **extra):
    h = fc_headers(handler, request_id=request_id, **{"x-fc-http-params": params}, **extra)
    status, resp, data = call(conn, path, h, body)
    meta = resp.getheader("x-fc-http-params")
    return status, (json.loads(base64.b64decode(meta)) if meta else None), data


def test_wsgi_get_with_query(conn):
    params = http_params("GET", "/a/b", "/2016-08-15/proxy/svc/fn/a/b?x=1&x=2&y=z",
                         headers={"X-Custom": ["v1", "v2"], "User-Agent": ["ua"]},
                         queries={"x": ["1", "2"], "y": ["z"]})
    status, meta, body = wsgi_call(conn, "web.environ", params, request_id="web-1")
    assert status == 200
    assert meta == {"status": 200, "headersMap": {"Content-Type": ["application/json"]}}
    env = json.loads(body)
    assert env == {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/a/b", "QUERY_STRING": "x=1&x=2&y=z", "CONTENT_LENGTH": "0",
        "CONTENT_TYPE": "application/octet-stream", "REMOTE_ADDR": "10.1.2.3", "SCRIPT_NAME": "",
        "SERVER_NAME": "FCRUNTIME", "SERVER_PORT": "9000", "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": "FCRUNTIME/1.0", "HTTP_X_CUSTOM": "v1,v2", "HTTP_USER_AGENT": "ua",
        "MY_VAR": "my value", "wsgi.url_scheme": "http",
        "fc.request_uri": "/2016-08-15/proxy/svc/fn/a/b?x=1&x=2&y=z", "HTTP_X_FC_FUNCTION_HANDLER": "web.environ",
        "request_id": "web-1", "wsgi.version": [1, 0], "count": env["count"],
    }


def test_wsgi_post_binary_body(conn):
    payload = bytes(range(256)) * 100
    params = http_params("POST", "/upload", headers={"Content-Type": ["image/png"]})
    status, meta, body = wsgi_call(conn, "web.echo", params, payload)
    assert status == 200 and body == payload
    assert meta == {"status": 200, "headersMap": {"Content-Type": ["image/png"]}}


def test_wsgi_status_set_by_function(conn):
    status, meta, body = wsgi_call(conn, "web.not_found", http_params("GET", "/missing"))
    assert status == 200 and meta["status"] == 404 and body == b"not found"


def test_wsgi_two_set_cookie_headers(conn):
    status, meta, _ = wsgi_call(conn, "web.cookies", http_params())
    assert status == 200
    assert meta["headersMap"] == {"Set-Cookie": ["a=1", "b=2"], "X-One": ["x"]}


def test_wsgi_handler_error(conn, agent):
    status, meta, body = wsgi_call(conn, "web.broken", http_params(), request_id="web-err")
    err = json.loads(body)
    assert status == 404 and meta is None
    assert err["errorType"] == "KeyError" and err["errorMessage"] == "'nope'"
    assert agent.invocation_log("web-err")[-1].endswith(", Error: Unhandled function error")


def test_wsgi_initializer(conn):
    h = fc_headers("web.environ", **{"x-fc-function-initializer": "web.initializer", "x-fc-control-path": "/initialize"})
    assert call(conn, "/initialize", h)[0] == 200
    status, _, body = wsgi_call(conn, "web.environ", http_params())
    assert status == 200 and json.loads(body)["count"] == 100
