"""fc-emulator's go1 runtime bridge: runs inside the instance, like FC's own fc-rie.

A go1 function is a binary built with aliyun/fc-runtime-go-sdk: it does not listen, it pulls its work
from FC's runtime API (runtimes.md section 11). This bridge serves that API on loopback, starts the
binary with FC_RUNTIME_API pointing at it, and turns the emulator's push protocol
(docs/runtime-protocol.md: POST /invoke, /initialize, /pre-stop, /pre-freeze on FC_SERVER_PORT) into
invocations the binary pulls with `GET next` and completes with a POST.

- The push port opens once the binary has asked for its first invocation (readiness, section 11.1).
- The emulator never pushes more than instanceConcurrency calls; each push is released to exactly
  one `next`, so the binary never runs more than that.
- The bridge prints nothing: the Go SDK prints FC's markers itself (11.7); the binary inherits
  the bridge's stdout and stderr.
- When the binary exits, the bridge exits with its status at once; the emulator sees its push
  connections close (Process exited unexpectedly...). SIGTERM stops the binary, then the bridge.
- Standby (FC_EMULATOR_STANDBY in its first environment, docs/runtime-protocol.md): the bridge starts
  without a function, its push port listens at once and answers 400 until `POST /assign` brings the
  environment of a fresh start; then it starts the binary exactly as a fresh bridge would (same argv,
  environment, working folder, user, limits, from the main thread) and answers 200 once the binary has
  asked for its first invocation. A binary that cannot start, or exits first, makes it answer 400 and
  exit: the emulator starts the function afresh, which reports why as a fresh start does.

Standard library only; runs on Python 3.9+.
"""
import base64
import binascii
import collections
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn

API_PREFIX = "/2020-11-11/runtime/"
KINDS = {"/invoke": 0, "/initialize": 1, "/pre-stop": 2, "/pre-freeze": 3}  # x-fc-function-type (11.3)
DEFAULT_TIMEOUT_S = 3
READY_BUDGET_S = 120  # a standby waits this long for the binary's first `next`, as the emulator would (2.1)
STANDBY_FLAG = "FC_EMULATOR_STANDBY"
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found"}
# x-fc-* headers the bridge computes or checks itself instead of passing them through
_OWN = {"x-fc-function-deadline", "x-fc-function-timeout", "x-fc-function-type", "x-fc-retry-count",
        "x-fc-tracing-opentracing-span-baggages", "x-fc-control-path"}


def _say_error(message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _int(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _valid_baggage(value):
    """The Go SDK drops the whole invocation when this header does not decode (11.3)."""
    try:
        decoded = json.loads(base64.b64decode(value, validate=True))
    except (ValueError, binascii.Error):
        return False
    return isinstance(decoded, dict) and all(isinstance(v, str) for v in decoded.values())


class Invocation:
    __slots__ = ("request_id", "headers", "body", "done", "status", "result", "result_headers")

    def __init__(self, request_id, headers, body):
        self.request_id = request_id
        self.headers = headers  # what `next` answers with (11.3)
        self.body = body
        self.done = threading.Event()
        self.status = None  # "response" | "error"
        self.result = b""
        self.result_headers = {}


class Broker:
    """Pushed invocations waiting for a `next`, and the ones the binary is running."""

    def __init__(self):
        self.cond = threading.Condition()
        self.queue = collections.deque()
        self.running = {}  # request id -> deque of released invocations (ids may repeat: initializer)
        self.asked = threading.Event()  # the binary has issued its first `next`

    def push(self, inv):
        with self.cond:
            self.queue.append(inv)
            self.cond.notify()

    def next(self):
        """The next invocation for the binary; blocks, with no timeout, until there is one."""
        with self.cond:
            self.asked.set()
            SETTLED.set()
            while not self.queue:
                self.cond.wait()
            inv = self.queue.popleft()
            self.running.setdefault(inv.request_id, collections.deque()).append(inv)
            return inv

    def unrelease(self, inv):
        """`next` could not be answered (the binary dropped the connection): give it to the next one."""
        with self.cond:
            self._forget(inv)
            self.queue.appendleft(inv)
            self.cond.notify()

    def complete(self, request_id, status, body, headers):
        with self.cond:
            waiting = self.running.get(request_id)
            if not waiting:
                return False
            inv = waiting[0]
            self._forget(inv)
        inv.status, inv.result, inv.result_headers = status, body, headers
        inv.done.set()
        return True

    def _forget(self, inv):
        waiting = self.running.get(inv.request_id)
        if waiting and inv in waiting:
            waiting.remove(inv)
            if not waiting:
                del self.running[inv.request_id]


class Assignment:
    """A standby bridge's wait for its function (POST /assign), shared by the push server's handler
    thread, which receives it, and the main thread, which starts the binary."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pending = True  # no function yet: /assign is the only call
        self.env = None  # what POST /assign brought (set once)
        self.given = threading.Event()
        self.answer = None  # (HTTP status, body, the bridge's exit status if it refused)
        self.answered = threading.Event()
        self.exited = False  # the binary ended while the assignment was still pending

    def reply(self, status, body, exit_status=None):
        self.answer = (status, body, exit_status)
        self.answered.set()


BROKER = Broker()
CHILD = None  # the binary's subprocess.Popen
ASSIGNMENT = None  # an Assignment while a standby bridge waits for, or is given, its function
SETTLED = threading.Event()  # the binary asked for its first invocation, or exited


def _child_max_memory_mb():
    """The binary's peak resident size (VmHWM), as FC reports maxMemoryUsage."""
    try:
        with open("/proc/%d/status" % CHILD.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return "%.2f" % (int(line.split()[1]) / 1024.0)
    except (OSError, ValueError, AttributeError):
        pass
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, on both sides
    disable_nagle_algorithm = True  # one write per answer, sent at once

    def log_message(self, format, *args):  # no access log: stdout belongs to the function
        pass

    def _headers(self):
        return {k.lower(): v for k, v in self.headers.items()}

    def _read_body(self, h):
        length = h.get("content-length")
        if length is not None:
            n = _int(length) or 0
            return self.rfile.read(n) if n > 0 else b""
        if "chunked" in h.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return b""

    def _answer(self, status, body, headers=()):
        head = ["HTTP/1.1 %d %s\r\nContent-Length: %d\r\n" % (status, REASONS.get(status, "OK"), len(body))]
        head.extend("%s: %s\r\n" % (k, v) for k, v in headers)
        head.append("\r\n")
        self.wfile.write("".join(head).encode("latin-1") + body)


class RuntimeApi(_Handler):
    """The server side of FC's runtime API (11.2), for the binary only (loopback)."""

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path != API_PREFIX + "invocation/next":
            return self._answer(404, b'{"errorMessage":"unknown runtime API path"}',
                                [("Content-Type", "application/json")])
        inv = BROKER.next()
        headers = list(inv.headers.items())
        try:
            self._answer(200, inv.body, headers)
        except OSError:
            BROKER.unrelease(inv)
            self.close_connection = True

    def do_POST(self):
        h = self._headers()
        body = self._read_body(h)
        path = self.path.split("?", 1)[0]
        rest = path[len(API_PREFIX):] if path.startswith(API_PREFIX) else ""
        parts = rest.split("/")
        if rest == "init/error":  # newer non-Go agents: they could not start, and exit next
            _say_error("runtime init error: %s" % body.decode("utf-8", "replace"))
            return self._answer(200, b"")
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            if BROKER.complete(parts[1], parts[2], body, h):
                return self._answer(200, b"")
            return self._answer(400, b'{"errorMessage":"unknown or completed request id"}',
                                [("Content-Type", "application/json")])
        self._answer(404, b'{"errorMessage":"unknown runtime API path"}', [("Content-Type", "application/json")])


def _next_headers(kind, h):
    """The `next` response headers for a pushed request (11.3): every x-fc-* the emulator sent, plus
    a deadline and timeout that are always valid integers, and only parseable optional headers."""
    out = {k: v for k, v in h.items() if k.startswith("x-fc-") and k not in _OWN}
    out.setdefault("x-fc-request-id", "")
    timeout = _int(h.get("x-fc-initialization-timeout" if kind == 1 else "x-fc-function-timeout"))
    if timeout is None or timeout <= 0:
        timeout = _int(h.get("x-fc-function-timeout")) or DEFAULT_TIMEOUT_S
    out["x-fc-function-timeout"] = str(timeout)
    out["x-fc-function-deadline"] = str(int(time.time() * 1000) + timeout * 1000)
    out["x-fc-function-type"] = str(kind)
    retry = _int(h.get("x-fc-retry-count"))
    if retry is not None:
        out["x-fc-retry-count"] = str(retry)
    baggage = h.get("x-fc-tracing-opentracing-span-baggages")
    if baggage and _valid_baggage(baggage):
        out["x-fc-tracing-opentracing-span-baggages"] = baggage
    out.setdefault("x-fc-instance-id", os.environ.get("FC_INSTANCE_ID", ""))
    out["Content-Type"] = h.get("content-type") or "application/octet-stream"
    return out


def _decode_params(value):
    try:
        meta = json.loads(base64.b64decode(value))
    except (ValueError, binascii.Error, TypeError):
        return None
    return meta if isinstance(meta, dict) else None


def _http_answer(post_headers, body):
    """The HTTP response the runtime posted (11.4): x-fc-http-params on the POST, or the legacy SDK's
    JSON envelope (<= v0.0.4), or (fc.Start answering an HTTP call) a plain 200."""
    meta = None
    if post_headers.get("x-fc-http-params"):
        meta = _decode_params(post_headers["x-fc-http-params"])
    else:
        try:
            envelope = json.loads(body)
        except ValueError:
            envelope = None
        if isinstance(envelope, dict) and isinstance(envelope.get("headers"), dict) and "body" in envelope:
            headers = envelope["headers"]
            meta = _decode_params(headers.get("x-fc-http-params") or "") or {}
            if not meta.get("headersMap"):
                meta["headersMap"] = {k: [v] for k, v in headers.items() if k.lower() != "x-fc-http-params"}
            raw = envelope.get("body") or ""
            try:
                body = base64.b64decode(raw) if envelope.get("isBase64Encoded") else raw.encode("utf-8")
            except (ValueError, binascii.Error, AttributeError):
                body = str(raw).encode("utf-8")
    meta = meta or {}
    status = _int(meta.get("status")) or 200  # 0: the handler never wrote (treated as 200)
    params = {"status": status, "headersMap": meta.get("headersMap") or {}}
    return base64.b64encode(json.dumps(params).encode()).decode(), body


class Push(_Handler):
    """The emulator's side: the same protocol our other agents speak."""

    def do_POST(self):
        h = self._headers()
        body = self._read_body(h)
        path = self.path.split("?", 1)[0]
        if ASSIGNMENT is not None and ASSIGNMENT.pending:  # a standby without its function yet
            if path == "/assign":
                return self._assign(body)
            return self._answer(400, b'{"errorMessage":"this standby instance has no function yet"}',
                                [("Content-Type", "application/json")])
        kind = KINDS.get(path, KINDS.get(h.get("x-fc-control-path", "")))
        if kind is None:
            return self._answer(400, b'{"errorMessage":"unknown path"}', [("Content-Type", "application/json")])
        inv = Invocation(h.get("x-fc-request-id", ""), _next_headers(kind, h), body if kind == 0 else b"")
        BROKER.push(inv)
        inv.done.wait()  # no timeout: the emulator enforces the function's, and kills the instance
        extra = []
        memory = _child_max_memory_mb()
        if memory:
            extra.append(("x-fc-max-memory-usage", memory))
        if inv.status == "error":
            return self._answer(404, inv.result, extra + [("Content-Type", "application/json")])
        result = inv.result
        if kind == 0 and h.get("x-fc-http-params"):
            params, result = _http_answer(inv.result_headers, result)
            extra.append(("x-fc-http-params", params))
        self._answer(200, result, extra + [("Content-Type", "application/octet-stream")])

    do_GET = do_PUT = do_DELETE = do_POST

    def _assign(self, body):
        """POST /assign: hand the environment to the main thread, which starts the binary; answer when the
        binary is ready (200 {}) or cannot be (400, then the bridge exits)."""
        try:
            env = json.loads(body.decode("utf-8"))["env"]
            if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in env.items()):
                raise ValueError
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return self._answer(400, b'{"errorMessage":"an assignment is {\\"env\\": {name: value, ...}}"}',
                                [("Content-Type", "application/json")])
        with ASSIGNMENT.lock:
            if ASSIGNMENT.env is not None:
                return self._answer(400, b'{"errorMessage":"this standby instance is being given a function"}',
                                    [("Content-Type", "application/json")])
            ASSIGNMENT.env = env
        ASSIGNMENT.given.set()
        ASSIGNMENT.answered.wait()
        status, answer, exit_status = ASSIGNMENT.answer
        self._answer(status, answer, [("Content-Type", "application/json")])
        if exit_status is not None:
            self.wfile.flush()
            _exit(exit_status)


class Server(ThreadingMixIn, HTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128


def _exit(code):
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _status(returncode):
    return 128 - returncode if returncode < 0 else returncode  # killed by signal N: 128+N, as a shell says


try:  # looked up before any fork: the child only calls it
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except Exception:  # noqa: BLE001 - not Linux: the backend's process group kill still applies
    _PRCTL = None


def _die_with_parent():
    """In the child: be killed if the bridge dies, even by SIGKILL (Linux), so nothing outlives it.
    The signal comes when the *thread* that forked the child ends: always the main thread, which
    lives as long as the bridge."""
    try:
        _PRCTL(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: see above
        pass


def _on_sigterm(signum, frame):
    if CHILD is not None and CHILD.poll() is None:
        CHILD.terminate()
        try:
            CHILD.wait(1)
        except subprocess.TimeoutExpired:
            CHILD.kill()
    _exit(143)


def _wait(event, timeout=None):
    """`event.wait` for the main thread, waking every half second: a signal another thread received
    (SIGTERM) has its handler run by the main thread only, between bytecodes."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not event.wait(0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))):
        if deadline is not None and time.monotonic() >= deadline:
            return False
    return True


def _watch_child():
    status = _status(CHILD.wait())
    if ASSIGNMENT is not None:
        with ASSIGNMENT.lock:
            ASSIGNMENT.exited = ASSIGNMENT.pending  # still being assigned: the main thread refuses it
        if ASSIGNMENT.exited:
            SETTLED.set()
            return
    _exit(status)


def _launch():
    """Start the function's binary (FC_FUNCTION_HANDLER in the code folder) with the runtime API's address,
    from the main thread; None, or (exit status, message) when it cannot start."""
    global CHILD
    code_dir = os.environ.get("FC_FUNC_CODE_PATH") or "/code"
    handler = os.environ.get("FC_FUNCTION_HANDLER", "")
    shown = "/code/" + handler  # as the instance sees it on FC; never the host's folder
    binary = os.path.join(code_dir, handler)
    if not handler or not os.path.isfile(binary):
        return 127, ("go1: the handler %s does not exist: the handler must name an executable file in the code "
                     "package (e.g. main, built with GOOS=linux GOARCH=amd64)" % shown)
    if not os.access(binary, os.X_OK):
        return 126, ("go1: the handler %s is not executable: permission denied (zip it with its Unix mode, e.g. "
                     "with fc-runtime-go-sdk's build-fc-zip or `zip` on Linux/macOS)" % shown)

    api = Server(("127.0.0.1", 0), RuntimeApi)  # bound (and listening) before the binary starts
    env = dict(os.environ, FC_RUNTIME_API="127.0.0.1:%d" % api.server_address[1])
    try:  # a fresh bridge: before any thread exists; a standby: its other threads wait on events, hold no lock
        # stderr joins stdout: one stream keeps the SDK's error block (stderr) before its End marker
        # (stdout), as written; Docker delivers two streams out of order
        CHILD = subprocess.Popen([binary], cwd=code_dir, env=env, stdin=subprocess.DEVNULL,
                                 stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    except OSError as exc:
        api.server_close()
        return 126, "go1: the handler %s cannot be started: %s" % (shown, exc.strerror or exc)
    threading.Thread(target=api.serve_forever, name="runtime-api", daemon=True).start()
    threading.Thread(target=_watch_child, name="child", daemon=True).start()
    return None


def _push_server():
    return Server((os.environ.get("FC_SERVER_HOST") or "0.0.0.0", int(os.environ.get("FC_SERVER_PORT") or 9000)),
                  Push)


def _standby():
    """Listen at once; at POST /assign take the function's environment (the bridge's own variables stay,
    FC_EMULATOR_STANDBY goes) and start the binary as main() would have."""
    global ASSIGNMENT
    ASSIGNMENT = Assignment()
    push = _push_server()
    threading.Thread(target=push.serve_forever, name="push", daemon=True).start()
    _wait(ASSIGNMENT.given)
    os.environ.pop(STANDBY_FLAG, None)
    os.environ.update(ASSIGNMENT.env)
    failure = _launch()
    if failure is None:
        _wait(SETTLED, READY_BUDGET_S)
        with ASSIGNMENT.lock:
            if BROKER.asked.is_set() and not ASSIGNMENT.exited:
                ASSIGNMENT.pending = False  # from now on a function's instance; a later exit ends the bridge
        if ASSIGNMENT.pending:
            if ASSIGNMENT.exited:
                failure = _status(CHILD.returncode), "the function's binary exited before asking for an invocation"
            else:
                failure = 1, "the function's binary did not ask for an invocation in %d seconds" % READY_BUDGET_S
                CHILD.kill()
    if failure is None:
        ASSIGNMENT.reply(200, b"{}")
    else:
        ASSIGNMENT.reply(400, json.dumps({"errorMessage": failure[1]}).encode(), failure[0])
    _wait(threading.Event())  # the push server serves; the child's watcher, a refusal or SIGTERM ends the bridge


def main():
    signal.signal(signal.SIGTERM, _on_sigterm)
    if os.environ.get(STANDBY_FLAG):
        return _standby()
    failure = _launch()
    if failure is not None:
        _say_error(failure[1])
        _exit(failure[0])
    _wait(BROKER.asked)  # readiness: the binary pulls (11.1); the emulator probes the push port
    _push_server().serve_forever()


if __name__ == "__main__":
    main()
