# -*- coding: utf-8 -*-
"""fc-emulator Python runtime agent.

One HTTP server per instance that speaks FC's built-in-runtime protocol
(docs/runtime-protocol.md, shared/spec/runtimes.md §3.2, §4.1, §5, §6):
POST /invoke, POST /initialize, GET|POST /pre-freeze and /pre-stop.
Standard library only: it runs in minimal containers and on the host's Python.

One file for Python 2.7 and 3.6+ (FC's python2.7 ... python3.10): the common subset of both
languages (no f-strings, no `**` in literals), with the few differences below.
"""

import base64
import datetime
import decimal
import importlib
import io
import json
import logging
import os
import resource
import signal
import sys
import threading
import time
import traceback

PY2 = sys.version_info[0] == 2

if PY2:  # pragma: no cover - run under python2.7
    import imp
    from BaseHTTPServer import BaseHTTPRequestHandler, HTTPServer
    from SocketServer import ThreadingMixIn
    text_type = unicode  # noqa: F821
    string_types = (str, unicode)  # noqa: F821
    _util = None
    exec("def _reraise(tp, value, tb):\n    raise tp, value, tb\n")  # Python 2 syntax, hidden from 3
else:
    import importlib.util as _util
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from socketserver import ThreadingMixIn
    text_type = str
    string_types = (str,)

    def _reraise(tp, value, tb):
        raise value.with_traceback(tb)

try:
    import contextvars
except ImportError:  # Python 2.7 and 3.6
    contextvars = None

AGENT_FILE = os.path.abspath(__file__)
CODE_DIR = os.environ.get("FC_FUNC_CODE_PATH") or "/code"
OPT_DIR = os.environ.get("FC_EMULATOR_OPT_DIR") or "/opt"
RUNTIME = os.environ.get("FC_RUNTIME") or "python3"

# The real stdout/stderr, kept so that markers and log lines still reach the
# instance's output when user code swaps sys.stdout.
OUT = sys.stdout
ERR = sys.stderr

# ---------------------------------------------------------------- logging

# Request id of the request being served by this thread (contextvar), and the
# last one started (what FC's single-threaded agent uses; it also covers
# threads the user spawns, which start with an empty context).
class _ThreadVar(threading.local):
    """contextvars.ContextVar's get/set where there are no contextvars: each request runs on a
    thread of its own, and threads the user starts see None, as with a ContextVar."""
    value = None

    def get(self):
        return self.value

    def set(self, value):
        self.value = value


_request_id = contextvars.ContextVar("fc_request_id", default=None) if contextvars else _ThreadVar()
_last_request_id = ""


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        if not getattr(record, "fc_request_id", None):
            record.fc_request_id = _request_id.get() or _last_request_id
        return True


def _setup_logging():
    fmt = logging.Formatter(
        "%(asctime)s.%(msecs)03dZ %(fc_request_id)s [%(levelname)s] %(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    fmt.converter = time.gmtime  # FC logs in UTC
    handler = logging.StreamHandler(OUT)
    handler.setFormatter(fmt)
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    try:
        root.setLevel(os.environ.get("FC_SERVER_LOG_LEVEL") or "INFO")
    except ValueError:
        root.setLevel(logging.INFO)


class _ContextLogger(logging.LoggerAdapter):
    """context.logger: the root logger pinned to one request id (works from
    threads the handler starts, where the contextvar is not set)."""

    def process(self, msg, kwargs):
        extra = dict(self.extra)
        extra.update(kwargs.get("extra") or {})
        kwargs["extra"] = extra
        return msg, kwargs


def _flush():
    for stream in (sys.stdout, sys.stderr, OUT, ERR):
        try:
            stream.flush()
        except Exception:
            pass


def _say(line):
    OUT.write(line + "\n")


# ---------------------------------------------------------------- context


class Credentials:
    def __init__(self, access_key_id, access_key_secret, security_token):
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.security_token = security_token


class FunctionMeta:
    def __init__(self, name, handler, memory, timeout, initializer="", initialization_timeout=0):
        self.name = name
        self.handler = handler
        self.memory = memory
        self.timeout = timeout
        self.initializer = initializer
        self.initialization_timeout = initialization_timeout


class ServiceMeta:
    def __init__(self, name, log_project, log_store, qualifier, version_id):
        self.name = name
        self.log_project = log_project
        self.log_store = log_store
        self.qualifier = qualifier
        self.version_id = version_id


class Tracing:
    def __init__(self, span_context, base64_baggages, jaeger_endpoint):
        self.span_context = span_context
        self.jaeger_endpoint = jaeger_endpoint
        self.span_baggages = _decode_baggages(base64_baggages)


class FCContext:
    def __init__(self, account_id, request_id, credentials, function, service, region,
                 tracing, logger, retry_count):
        self.account_id = account_id
        self.request_id = request_id
        self.credentials = credentials
        self.function = function
        self.service = service
        self.region = region
        self.tracing = tracing
        self.logger = logger
        self.retry_count = retry_count

    def getLogger(self):  # name from FC's docs
        return self.logger


def _decode_baggages(value):
    if not value:
        return {}
    try:
        data = json.loads(base64.b64decode(value))
        return data if isinstance(data, dict) else {}
    except Exception:
        return {}


def _int(value, default=0):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _make_context(h, request_id):
    def get(header, env=None):
        v = h.get(header)
        if v is None and env:
            v = os.environ.get(env, "")
        return v or ""

    return FCContext(
        account_id=get("x-fc-account-id", "FC_ACCOUNT_ID"),
        request_id=request_id,
        credentials=Credentials(
            get("x-fc-access-key-id", "ALIBABA_CLOUD_ACCESS_KEY_ID"),
            get("x-fc-access-key-secret", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
            get("x-fc-security-token", "ALIBABA_CLOUD_SECURITY_TOKEN"),
        ),
        function=FunctionMeta(
            get("x-fc-function-name", "FC_FUNCTION_NAME"),
            get("x-fc-function-handler", "FC_FUNCTION_HANDLER"),
            _int(get("x-fc-function-memory", "FC_FUNCTION_MEMORY_SIZE")),
            _int(get("x-fc-function-timeout")),
            get("x-fc-function-initializer"),
            _int(get("x-fc-initialization-timeout")),
        ),
        service=ServiceMeta(
            get("x-fc-service-name", "FC_SERVICE_NAME"),
            get("x-fc-service-logproject"),
            get("x-fc-service-logstore"),
            get("x-fc-qualifier", "FC_QUALIFIER"),
            get("x-fc-version-id"),
        ),
        region=get("x-fc-region", "FC_REGION"),
        tracing=Tracing(
            get("x-fc-tracing-opentracing-span-context"),
            get("x-fc-tracing-opentracing-span-baggages"),
            get("x-fc-tracing-jaeger-endpoint"),
        ),
        logger=_ContextLogger(logging.getLogger(), {"fc_request_id": request_id}),
        retry_count=_int(get("x-fc-retry-count"), 0),
    )


# ---------------------------------------------------------------- errors and results
# Error JSON as FC's agent writes it: {"errorMessage", "errorType", "stackTrace"},
# serialised like a result (indent=4, sort_keys).


class ImportModuleError(Exception):
    pass


class UserCodeSyntaxError(Exception):
    pass


class UserCodeError(Exception):
    pass


class InvalidHandleName(Exception):
    pass


class HandlerNotFound(Exception):
    pass


def _default(obj):
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    if isinstance(obj, (datetime.datetime, datetime.date)):
        return obj.isoformat()
    if hasattr(obj, "to_json"):
        return obj.to_json()
    raise TypeError(repr(obj) + " is not JSON serializable")


def to_json(obj):
    # separators: Python 2's default with indent leaves a space at each line end; FC's 3.x output has none
    return json.dumps(obj, default=_default, indent=4, sort_keys=True, separators=(",", ": "))


def _text(exc):
    """str(exc), also for a Python 2 exception with a non-ASCII unicode message."""
    try:
        return str(exc)
    except UnicodeError:
        return text_type(exc)


# Where the code and layers are here (the process backend's host folders) -> where FC has them.
def _shown_paths():
    return [(d.rstrip("/") + "/", fc + "/") for d, fc in ((CODE_DIR, "/code"), (OPT_DIR, "/opt"))
            if d.rstrip("/") != fc]


_SHOWN = _shown_paths()


def _shown(value):
    """Error text with the instance's paths as FC shows them (/code/index.py), never a host folder."""
    if isinstance(value, list):
        return [_shown(v) for v in value]
    if isinstance(value, string_types):
        for host, fc in _SHOWN:
            value = value.replace(host, fc)
    return value


def _error_json(exc, trace):
    err = {"errorMessage": _shown(_text(exc)), "errorType": exc.__class__.__name__}
    if trace:
        err["stackTrace"] = _shown(trace)
    return to_json(err)


def _frames(tb):
    """[["File \"/code/index.py\"", "line 2", "in handler", "source"], ...] without agent frames."""
    out = []
    for filename, lineno, name, line in traceback.extract_tb(tb):  # tuples on 2.7, FrameSummary on 3
        if os.path.abspath(filename) == AGENT_FILE:
            continue
        out.append(['File "%s"' % filename, "line %s" % lineno, "in %s" % name, (line or "").strip()])
    return out


def _cause_lines(cause):
    """stackTrace of a load error, from format_exception_only of the cause, split
    the way FC's agent does (the `File "…", line N` line at commas, caret lines dropped)."""
    out = []
    for idx, chunk in enumerate(traceback.format_exception_only(type(cause), cause)):
        for item in chunk.split("\n"):
            item = item.strip()
            if not item.replace("^", "").replace("~", "").strip():  # blank or caret marker line
                continue
            if idx == 0 and item.startswith("File "):  # 'File "/code/x.py", line 3'
                out.extend(p.strip() for p in item.split(",") if p.strip())
            else:
                out.append(item)
    return out


# ---------------------------------------------------------------- handler loading

_handlers = {}
_load_lock = threading.Lock()


class LoadError(Exception):
    def __init__(self, body):
        self.body = body


def _import(modname):
    """Import `mod`, `pkg.sub.mod` or `dir/mod` (a file under the code dir)."""
    if modname in sys.modules:
        return sys.modules[modname]
    if "/" not in modname:
        return importlib.import_module(modname)
    prefix, rest = modname.rsplit("/", 1)
    base = os.path.join(CODE_DIR, prefix, *rest.split("."))
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(path):
            break
    else:
        raise _not_found(modname)
    if _util is None:  # Python 2.7
        try:
            return imp.load_source(modname, path)
        except BaseException:
            sys.modules.pop(modname, None)
            raise
    spec = _util.spec_from_file_location(modname, path)
    module = _util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    return module


def _not_found(modname):
    if PY2:
        return ImportError("No module named %s" % modname)
    return ModuleNotFoundError("No module named '%s'" % modname, name=modname)  # noqa: F821 (3.6+)


def get_handler(handler):
    fn = _handlers.get(handler)
    if fn is not None:
        return fn
    with _load_lock:  # concurrent first requests import the module once
        fn = _handlers.get(handler)
        if fn is not None:
            return fn
        try:
            modname, fname = handler.rsplit(".", 1)
        except ValueError as e:
            raise LoadError(_error_json(InvalidHandleName("Invalid handler '%s'" % handler), _cause_lines(e)))
        try:
            module = _import(modname)
        except ImportError as e:
            raise LoadError(_error_json(ImportModuleError("Unable to import module '%s'" % modname), _cause_lines(e)))
        except SyntaxError as e:
            raise LoadError(_error_json(UserCodeSyntaxError("Syntax error in module '%s'" % modname), _cause_lines(e)))
        except Exception as e:
            raise LoadError(_error_json(UserCodeError("Module initialization error: '%s'" % e), _cause_lines(e)))
        try:
            fn = getattr(module, fname)
        except AttributeError as e:
            raise LoadError(_error_json(
                HandlerNotFound("Handler '%s' is missing on module '%s'" % (fname, modname)), _cause_lines(e)))
        _handlers[handler] = fn
        return fn


# ---------------------------------------------------------------- WSGI


def _native(value):
    """WSGI's native string: str on both (JSON gives unicode on Python 2: encode it)."""
    if PY2 and isinstance(value, text_type):
        return value.encode("utf-8")
    return value


def _to_bytes(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, text_type):
        return value.encode("utf-8")
    return str(value).encode("utf-8")


def _wsgi_environ(body, context, http_params):
    obj = json.loads(base64.b64decode(http_params))
    path = _native(obj.get("path") or "/")
    method = _native(obj.get("method") or "GET")
    request_uri = _native(obj.get("requestURI") or "")
    environ = dict(os.environ)
    environ.update({
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": request_uri.split("?", 1)[1] if "?" in request_uri else "",
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/octet-stream",
        "REMOTE_ADDR": _native(obj.get("clientIP") or ""),
        "HTTP": "on",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "FCRUNTIME",
        "SERVER_PORT": "9000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": "FCRUNTIME/1.0",
        "wsgi.version": (1, 0),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "fc.context": context,
        "fc.request_uri": request_uri,
    })
    for name, values in (obj.get("headersMap") or {}).items():
        if isinstance(values, string_types):
            values = [values]
        name, value = _native(name), _native(",".join(values))
        if name.lower() == "content-type":  # FC moves it to CONTENT_TYPE only
            if values:
                environ["CONTENT_TYPE"] = value
            continue
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    environ["HTTP_X_FC_FUNCTION_HANDLER"] = context.function.handler
    return environ


class _StartResponse:
    def __init__(self):
        self.status = None
        self.headers = {}
        self.buffer = io.BytesIO()

    def __call__(self, status, headers, exc_info=None):
        if exc_info and self.status is not None:
            _reraise(exc_info[0], exc_info[1], exc_info[2])
        self.status = int(str(status).split()[0])
        self.headers = {}
        for name, value in headers:
            self.headers.setdefault(name, []).append(value)  # repeated names -> multi-value
        return self.buffer.write


def _run_wsgi(fn, body, context, http_params):
    start_response = _StartResponse()
    environ = _wsgi_environ(body, context, http_params)
    result = fn(environ, start_response)
    try:
        if isinstance(result, (bytes, bytearray)):
            chunks = [bytes(result)]
        else:
            chunks = [_to_bytes(c) for c in result]
    finally:
        if hasattr(result, "close"):
            result.close()
    out = start_response.buffer.getvalue() + b"".join(chunks)
    meta = {"status": start_response.status or 200, "headersMap": start_response.headers}
    return out, base64.b64encode(json.dumps(meta).encode("utf-8")).decode("ascii")


# ---------------------------------------------------------------- HTTP server

KINDS = {
    # path: (log marker word, handler header, event handler?)
    "/invoke": ("Invoke", "x-fc-function-handler", True),
    "/initialize": ("Initialize", "x-fc-function-initializer", False),
    "/pre-freeze": ("PreFreeze", "x-fc-instance-lifecycle-pre-freeze-handler", False),
    "/pre-stop": ("PreStop", "x-fc-instance-lifecycle-pre-stop-handler", False),
}
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found"}


def _max_memory_mb():
    # ru_maxrss (KB on Linux) is the kernel's hiwater RSS, i.e. VmHWM, without
    # reading /proc on every answer.
    return "%.2f" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)


class AgentHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # small answers leave at once
    server_version = "FCRUNTIME/1.0"

    def log_message(self, format, *args):  # no access log
        pass

    def _read_body(self, h):
        length = h.get("content-length")
        if length is not None:
            return self.rfile.read(int(length)) if int(length) > 0 else b""
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

    def _answer(self, status, body, extra=(), content_type="application/octet-stream"):
        _flush()  # markers and user output are in the stream before the answer
        head = ["HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nx-fc-max-memory-usage: %s\r\n"
                % (status, REASONS.get(status, "OK"), content_type, len(body), _max_memory_mb())]
        for name, value in extra:
            head.append("%s: %s\r\n" % (name, value))
        if self.close_connection:
            head.append("Connection: close\r\n")
        head.append("\r\n")
        data = "".join(head)
        if isinstance(data, text_type):  # always on 3; on 2 only when a value was unicode
            data = data.encode("latin-1")
        if len(body) < 65536:
            self.wfile.write(data + body)
        else:
            self.wfile.write(data)
            self.wfile.write(body)

    def _dispatch(self):
        global _last_request_id
        h = {k.lower(): v for k, v in self.headers.items()}
        body = self._read_body(h)
        path = self.path.split("?", 1)[0]
        if _standby:  # not yet assigned: /assign is the only call (docs/runtime-protocol.md)
            return self._assign(body) if path == "/assign" else self._answer(
                400, b'{"errorMessage": "this standby instance has no function yet"}', content_type="application/json")
        kind = KINDS.get(path) or KINDS.get(h.get("x-fc-control-path", ""))
        if kind is None:
            self._answer(400, _to_bytes(to_json({"errorMessage": "unknown path '%s'" % path})),
                         content_type="application/json")
            return
        word, handler_header, is_event = kind
        request_id = h.get("x-fc-request-id") or ""
        _request_id.set(request_id)
        _last_request_id = request_id
        _say("FC %s Start RequestId: %s" % (word, request_id))
        context = _make_context(h, request_id)
        handler = h.get(handler_header)
        if handler is None and is_event:
            handler = os.environ.get("FC_FUNCTION_HANDLER", "")
        http_params = h.get("x-fc-http-params") if is_event else None
        extra = ()
        try:
            try:
                fn = get_handler(handler or "")
                if http_params:
                    result, meta = _run_wsgi(fn, body, context, http_params)
                    extra = (("x-fc-http-params", meta),)
                elif is_event:
                    result = fn(body, context)
                else:
                    result = fn(context)
            except LoadError as e:
                return self._fail(word, request_id, e.body)
            except (SystemExit, KeyboardInterrupt) as e:
                # the user ended the process: do it, as FC's single-process agent would
                _flush()
                os._exit(e.code if isinstance(e, SystemExit) and isinstance(e.code, int) else 1)
            except Exception as e:
                if http_params:
                    logging.getLogger().error(traceback.format_exc())
                return self._fail(word, request_id, _error_json(e, _frames(sys.exc_info()[2])))
            if not isinstance(result, (bytes, bytearray)):
                if isinstance(result, text_type):
                    result = result.encode("utf-8")
                else:
                    try:
                        result = _to_bytes(to_json(result))
                    except Exception as e:  # not serialisable: a function error
                        return self._fail(word, request_id, _error_json(e, _frames(sys.exc_info()[2])))
            _say("FC %s End RequestId: %s" % (word, request_id))
            self._answer(200, bytes(result), extra)
        finally:
            _request_id.set(None)

    def _assign(self, body):
        """A standby instance receives its function: the environment a fresh start would have had (what the
        emulator gave it at start is a part of it; the container's own variables stay), then the same set-up
        (code and layers on sys.path, working folder, logging)."""
        global _standby
        env = json.loads(body.decode("utf-8"))["env"]
        if PY2:
            env = dict((k.encode("utf-8"), v.encode("utf-8")) for k, v in env.items())
        os.environ.pop("FC_EMULATOR_STANDBY", None)
        os.environ.update(env)
        _configure()
        _standby = False
        self._answer(200, b"{}", content_type="application/json")

    def _fail(self, word, request_id, error):
        logging.getLogger().error(error)
        _say("FC %s End RequestId: %s, Error: Unhandled function error" % (word, request_id))
        self._answer(404, _to_bytes(error), content_type="application/json")

    do_POST = do_GET = do_PUT = do_DELETE = _dispatch


class AgentServer(ThreadingMixIn, HTTPServer):  # http.server.ThreadingHTTPServer, also on 2.7 and 3.6
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128


# ---------------------------------------------------------------- main


def _on_sigterm(signum, frame):
    _flush()
    os._exit(143)  # 128 + SIGTERM, like FC's agent


def _line_buffered(stream):
    """`stream`, writing each line through at once (3.7+ reconfigure; rewrapped before that)."""
    try:
        stream.reconfigure(line_buffering=True)
        return stream
    except AttributeError:
        pass
    try:
        stream.flush()
        if PY2:
            return os.fdopen(os.dup(stream.fileno()), "w", 1)
        return io.TextIOWrapper(stream.buffer, encoding=stream.encoding, errors=stream.errors,
                                line_buffering=True)
    except Exception:
        return stream


# A standby instance (FC_EMULATOR_STANDBY in its first environment) starts without a function and
# gets it from POST /assign; until then it answers nothing else.
_standby = False


def _configure():
    """What depends on the function: its code and layers on sys.path, the working folder, logging."""
    global CODE_DIR, OPT_DIR, _SHOWN
    CODE_DIR = os.environ.get("FC_FUNC_CODE_PATH") or "/code"
    OPT_DIR = os.environ.get("FC_EMULATOR_OPT_DIR") or "/opt"
    _SHOWN = _shown_paths()
    # sys.path: code dir first, then the layer dirs (runtimes.md §1, §4.1)
    v = sys.version_info
    sys.path[0:0] = [CODE_DIR,
                     os.path.join(OPT_DIR, "python", "lib", "python%d.%d" % (v[0], v[1]), "site-packages"),
                     os.path.join(OPT_DIR, "python")]
    try:
        os.chdir(CODE_DIR)  # FC's images run with the code dir as working directory
    except OSError:
        pass
    _setup_logging()


def main():
    global OUT, ERR, _standby
    # Output reaches the instance log line by line (a killed instance keeps its logs); user code
    # prints to the same objects, so its lines and ours keep their order.
    sys.stdout = OUT = _line_buffered(OUT)
    sys.stderr = ERR = _line_buffered(ERR)
    signal.signal(signal.SIGTERM, _on_sigterm)

    # never the agent's own folder on sys.path
    agent_dir = os.path.dirname(AGENT_FILE)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != agent_dir]
    _standby = bool(os.environ.get("FC_EMULATOR_STANDBY"))
    if not _standby:
        _configure()
    v = sys.version_info

    if RUNTIME.startswith("python") and not RUNTIME.startswith("python%d" % v[0]):
        # e.g. python2.7 on a Python 3 someone pointed it at: Python 2 code will fail
        _say("fc-emulator: runtime %s runs on Python %d.%d.%d here: code for Python %s may fail"
             % (RUNTIME, v[0], v[1], v[2], RUNTIME[len("python"):] or "3"))

    host = os.environ.get("FC_SERVER_HOST") or "0.0.0.0"
    port = int(os.environ.get("FC_SERVER_PORT") or 9000)
    server = AgentServer((host, port), AgentHandler)
    _say("FunctionCompute %s runtime inited." % RUNTIME)
    _flush()
    server.serve_forever(poll_interval=3600)


if __name__ == "__main__":
    main()
