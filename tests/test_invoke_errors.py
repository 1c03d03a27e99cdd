"""Function errors, timeouts, crashes and memory kills (issue 3): status 200 with X-Fc-Error-Type,
the error JSON, and an instance that is replaced so that the next call works."""
from __future__ import annotations

import base64

import pytest

from tests.helpers import deploy, invoke_error

RAISE_PY = "def handler(event, context):\n    raise ValueError('bad ' + event.decode())\n"
CALLBACK_ERR_JS = "exports.handler = (event, context, callback) => callback(new Error('handled ' + event));\n"
THROW_JS = "exports.handler = async (event) => { throw new TypeError('thrown'); };\n"


def test_unhandled_python_error(efc, tmp_path):
    deploy(efc, tmp_path, {"index.py": RAISE_PY})
    status, err = invoke_error(efc, "svc", "fn", payload=b"input")
    assert status == 200
    assert err["errorMessage"] == "bad input"
    assert err["errorType"] == "ValueError"
    assert any("index.py" in frame[0] for frame in err["stackTrace"])
    assert err["RequestId"]  # added by aliyun-fc2 from X-Fc-Request-Id


def test_error_headers_and_log(efc, exec_server, tmp_path):
    import requests
    deploy(efc, tmp_path, {"index.py": RAISE_PY})
    url = f"{exec_server.url}/2016-08-15/services/svc/functions/fn/invocations"
    # aliyun-fc2 hides the response headers of a function error: sign through the SDK, send with requests
    headers = efc._build_common_headers("POST", "/2016-08-15/services/svc/functions/fn/invocations",
                                        {"x-fc-log-type": "Tail"})
    r = requests.post(url, data=b"in", headers=headers)
    assert r.status_code == 200
    assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["errorType"] == "ValueError"
    log = base64.b64decode(r.headers["X-Fc-Log-Result"]).decode()
    assert f"FC Invoke End RequestId: {r.headers['X-Fc-Request-Id']}, Error: Unhandled function error" in log
    again = requests.post(url, data=b"in", headers=headers)
    assert again.headers["X-Fc-Instance-Id"] == r.headers["X-Fc-Instance-Id"]  # the instance is kept


def test_handled_nodejs_error(efc, exec_server, tmp_path):
    import requests
    deploy(efc, tmp_path, {"index.js": CALLBACK_ERR_JS}, runtime="nodejs18")
    status, err = invoke_error(efc, "svc", "fn", payload=b"oops")
    assert status == 200
    assert err["errorMessage"] == "handled oops"
    assert err["errorType"] == "Error"
    path = "/2016-08-15/services/svc/functions/fn/invocations"
    r = requests.post(exec_server.url + path, data=b"x",
                      headers=efc._build_common_headers("POST", path, {"x-fc-log-type": "Tail"}))
    assert r.headers["X-Fc-Error-Type"] == "HandledInvocationError"
    log = base64.b64decode(r.headers["X-Fc-Log-Result"]).decode()
    assert f"FC Invoke End RequestId: {r.headers['X-Fc-Request-Id']}, Error: Handled function error" in log


def test_unhandled_nodejs_throw(efc, tmp_path):
    deploy(efc, tmp_path, {"index.js": THROW_JS}, runtime="nodejs18")
    status, err = invoke_error(efc, "svc", "fn")
    assert status == 200
    assert err["errorMessage"] == "thrown" and err["errorType"] == "TypeError"


SLEEP_PY = """
import time
def handler(event, context):
    if event == b"sleep":
        time.sleep(5)
    return "awake"
"""


def test_timeout_then_cold_start(efc, tmp_path):
    deploy(efc, tmp_path, {"index.py": SLEEP_PY}, timeout=1)
    first = efc.invoke_function("svc", "fn", payload=b"hi")
    status, err = invoke_error(efc, "svc", "fn", payload=b"sleep")
    assert status == 200
    assert err["errorMessage"].startswith("Function timed out after 1 seconds (maxMemoryUsage: ")
    after = efc.invoke_function("svc", "fn", payload=b"hi")
    assert after.data == b"awake"
    assert after.headers["X-Fc-Instance-Id"] != first.headers["X-Fc-Instance-Id"]


def test_nodejs_timeout(efc, tmp_path):
    code = ("exports.handler = (event, context, cb) => {\n"
            "  if (String(event) === 'sleep') setTimeout(() => cb(null, 'late'), 5000); else cb(null, 'awake');\n};\n")
    deploy(efc, tmp_path, {"index.js": code}, runtime="nodejs18", timeout=1)
    status, err = invoke_error(efc, "svc", "fn", payload=b"sleep")
    assert err["errorMessage"].startswith("Function timed out after 1 seconds")
    assert efc.invoke_function("svc", "fn").data == b"awake"


CRASH_PY = """
import os
def handler(event, context):
    if event == b"crash":
        os._exit(1)
    return "alive"
"""
CRASH_JS = ("exports.handler = (event, context, cb) => {\n"
            "  if (String(event) === 'crash') process.exit(1); cb(null, 'alive');\n};\n")


@pytest.mark.parametrize("runtime,files", [("python3.10", {"index.py": CRASH_PY}),
                                           ("nodejs18", {"index.js": CRASH_JS})], ids=["python", "nodejs"])
def test_crash_then_cold_start(efc, tmp_path, runtime, files):
    deploy(efc, tmp_path, files, runtime=runtime)
    first = efc.invoke_function("svc", "fn")
    status, err = invoke_error(efc, "svc", "fn", payload=b"crash")
    assert status == 200
    assert err["errorMessage"].startswith("Process exited unexpectedly before completing request (duration: ")
    after = efc.invoke_function("svc", "fn")
    assert after.data == b"alive"
    assert after.headers["X-Fc-Instance-Id"] != first.headers["X-Fc-Instance-Id"]


MEMORY_PY = """
def handler(event, context):
    if event == b"hog":
        blocks = [bytearray(10 * 1024 * 1024) for _ in range(30)]  # 300 MB, touched
        return str(len(blocks))
    return "small"
"""


@pytest.mark.parametrize("backend", ["docker"], indirect=True)
def test_memory_limit_kill(efc, tmp_path):
    deploy(efc, tmp_path, {"index.py": MEMORY_PY}, memorySize=128)
    first = efc.invoke_function("svc", "fn")
    status, err = invoke_error(efc, "svc", "fn", payload=b"hog")
    assert status == 200
    assert err["errorMessage"].startswith("Process exited unexpectedly before completing request")
    after = efc.invoke_function("svc", "fn")
    assert after.data == b"small"
    assert after.headers["X-Fc-Instance-Id"] != first.headers["X-Fc-Instance-Id"]


INIT_FAIL_PY = """
import os, tempfile
def init(context):
    marker = os.path.join(tempfile.gettempdir(), "ok-" + context.function.name)
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first init fails")
def handler(event, context):
    return "served"
"""


def test_initializer_failure_then_retry(efc, tmp_path, backend):
    # /tmp is per instance (a tmpfs in Docker, a folder of its own in the process backend), so a new
    # instance fails its initializer again: the error each time, and no instance is kept
    deploy(efc, tmp_path, {"index.py": INIT_FAIL_PY}, initializer="index.init")
    for _ in range(2):
        status, err = invoke_error(efc, "svc", "fn")
        assert status == 200
        assert err["errorMessage"] == "first init fails" and err["errorType"] == "RuntimeError"


def test_initializer_timeout(efc, tmp_path):
    code = "import time\ndef init(context):\n    time.sleep(5)\ndef handler(event, context):\n    return 'x'\n"
    deploy(efc, tmp_path, {"index.py": code}, initializer="index.init", initializationTimeout=1)
    status, err = invoke_error(efc, "svc", "fn")
    assert status == 200
    assert err["errorMessage"].startswith("Function initialization timed out after 1 seconds")


def test_crash_fails_every_call_in_flight(efc, tmp_path):
    code = ("import os, time\ndef handler(event, context):\n"
            "    if event == b'crash':\n        time.sleep(0.3)\n        os._exit(1)\n"
            "    time.sleep(1)\n    return 'slow'\n")
    deploy(efc, tmp_path, {"index.py": code}, instanceConcurrency=5)
    from concurrent.futures import ThreadPoolExecutor
    efc.invoke_function("svc", "fn")
    with ThreadPoolExecutor(2) as ex:
        slow = ex.submit(invoke_error, efc, "svc", "fn", payload=b"slow")
        crash = ex.submit(invoke_error, efc, "svc", "fn", payload=b"crash")
        for f in (slow, crash):
            status, err = f.result()
            assert err["errorMessage"].startswith("Process exited unexpectedly")
    assert efc.invoke_function("svc", "fn").data == b"slow"


def test_timeout_tail_log(efc, tmp_path):
    code = "import time\ndef handler(event, context):\n    print('before sleeping', flush=True)\n    time.sleep(5)\n"
    deploy(efc, tmp_path, {"index.py": code}, timeout=1)
    import requests
    path = "/2016-08-15/services/svc/functions/fn/invocations"
    headers = efc._build_common_headers("POST", path, {"x-fc-log-type": "Tail"})
    r = requests.post(efc.endpoint + path, headers=headers)
    assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    log = base64.b64decode(r.headers["X-Fc-Log-Result"]).decode()
    assert "before sleeping" in log and "Duration: " in log
