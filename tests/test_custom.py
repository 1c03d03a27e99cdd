"""Custom runtimes and custom containers end to end (issue 3): the user's own HTTP server."""
from __future__ import annotations

import base64
import uuid

import pytest

from tests.helpers import RUNTIME_IMAGE, deploy, invoke_error

# The user's server: FC's custom-runtime protocol (runtimes.md §2), printing the log markers itself.
BOOTSTRAP = r'''#!/usr/bin/env python3
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("FC_CUSTOM_LISTEN_PORT") or 9000)
state = {"inits": 0, "calls": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        rid = self.headers.get("x-fc-request-id")
        status = 200
        if self.path == "/initialize":
            print("FC Initialize Start RequestId: " + rid, flush=True)
            state["inits"] += 1
            out = b""
            print("FC Initialize End RequestId: " + rid, flush=True)
        else:
            print("FC Invoke Start RequestId: " + rid, flush=True)
            state["calls"] += 1
            print("custom says " + body.decode(errors="replace"), flush=True)
            if body == b"fail":
                status, out = 404, b'{"errorMessage": "custom failure", "errorType": "CustomError"}'
            else:
                out = ("%s|%s|%d|%d|%s" % (body.decode(), self.headers.get("x-fc-function-name"), state["inits"],
                                          state["calls"], os.environ.get("MY_VAR"))).encode()
            print("FC Invoke End RequestId: " + rid, flush=True)
        self.send_response(status)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
'''


def test_custom_runtime_python_server(efc, tmp_path):
    deploy(efc, tmp_path, {"bootstrap": BOOTSTRAP}, runtime="custom", handler="index.handler",
           executable=("bootstrap",), initializer="true", environmentVariables={"MY_VAR": "v"})
    first = efc.invoke_function("svc", "fn", payload=b"ping", headers={"x-fc-log-type": "Tail"})
    assert first.data == b"ping|fn|1|1|v"  # initialized once, then invoked
    assert "X-Fc-Error-Type" not in first.headers
    log = base64.b64decode(first.headers["X-Fc-Log-Result"]).decode()
    assert "custom says ping" in log and "Memory Size: 128 MB" in log
    second = efc.invoke_function("svc", "fn", payload=b"pong")
    assert second.data == b"pong|fn|1|2|v"
    assert second.headers["X-Fc-Instance-Id"] == first.headers["X-Fc-Instance-Id"]
    status, err = invoke_error(efc, "svc", "fn", payload=b"fail")
    assert status == 200 and err["errorMessage"] == "custom failure"


def test_custom_runtime_command_and_missing_bootstrap(efc, tmp_path):
    # customRuntimeConfig is not in aliyun-fc2's create_function: the default /code/bootstrap is used;
    # a package without one can't start -> FunctionNotStarted
    deploy(efc, tmp_path, {"server.py": BOOTSTRAP}, runtime="custom", handler="index.handler")
    status, err = invoke_error(efc, "svc", "fn")
    assert status == 412 and err["ErrorCode"] == "FunctionNotStarted"


# ---- custom containers (Docker only) ------------------------------------------------------------

CONTAINER_SERVER = BOOTSTRAP.replace('int(os.environ.get("FC_CUSTOM_LISTEN_PORT") or 9000)', "8080")


@pytest.fixture(scope="module")
def custom_image(tmp_path_factory):
    """A tiny image FROM the runtime image whose CMD serves on port 8080."""
    import docker
    engine = docker.from_env()
    ctx = tmp_path_factory.mktemp("image")
    (ctx / "server.py").write_text(CONTAINER_SERVER)
    (ctx / "Dockerfile").write_text(f"FROM {RUNTIME_IMAGE}\nCOPY server.py /srv/server.py\n"
                                    f'CMD ["python3", "/srv/server.py"]\n')
    tag = f"fc-emulator-test/custom:{uuid.uuid4().hex[:8]}"
    engine.images.build(path=str(ctx), tag=tag, rm=True)
    yield tag
    engine.images.remove(tag, force=True)
    engine.close()


@pytest.mark.parametrize("backend", ["docker"], indirect=True)
def test_custom_container_from_local_image(efc, tmp_path, custom_image):
    efc.create_service("svc")
    efc.create_function("svc", "fn", "custom-container", "index.handler", caPort=8080, memorySize=128,
                        timeout=10, customContainerConfig={"image": custom_image},
                        environmentVariables={"MY_VAR": "c"})
    r = efc.invoke_function("svc", "fn", payload=b"hi")
    assert r.data == b"hi|fn|0|1|c"  # no initializer configured
    assert efc.invoke_function("svc", "fn", payload=b"again").data == b"again|fn|0|2|c"


@pytest.mark.parametrize("backend", ["docker"], indirect=True)
def test_custom_container_run_to_exit(efc, tmp_path, custom_image):
    efc.create_service("svc")
    script = "import os, sys; print('event', os.environ['FC_CUSTOM_CONTAINER_EVENT']); sys.exit(int(sys.argv[1]))"
    for name, code in (("ok", "0"), ("bad", "3")):
        efc.create_function("svc", name, "custom-container", "index.handler", memorySize=128, timeout=10,
                            customContainerConfig={"image": custom_image, "webServerMode": False,
                                                   "command": '["python3", "-c"]',
                                                   "args": f'["{script}", "{code}"]'})
    r = efc.invoke_function("svc", "ok", payload=b"evt", headers={"x-fc-log-type": "Tail"})
    assert r.data == b""
    assert "X-Fc-Error-Type" not in r.headers
    assert "event evt" in base64.b64decode(r.headers["X-Fc-Log-Result"]).decode()
    status, err = invoke_error(efc, "svc", "bad")
    assert status == 200 and "exit code 3" in err["errorMessage"]
    efc.create_function("svc", "slow", "custom-container", "index.handler", memorySize=128, timeout=1,
                        customContainerConfig={"image": custom_image, "webServerMode": False,
                                               "command": '["sleep", "10"]'})
    status, err = invoke_error(efc, "svc", "slow")
    assert status == 200 and err["errorMessage"].startswith("Function timed out after 1 seconds")


CRASHY = BOOTSTRAP.replace('        if self.path == "/initialize":', '''        if body == b"crash":
            os._exit(1)
        if body == b"sleep":
            import time
            time.sleep(5)
        if self.path == "/initialize":''')


def test_custom_runtime_crash_and_timeout(efc, tmp_path):
    deploy(efc, tmp_path, {"bootstrap": CRASHY}, runtime="custom", handler="index.handler",
           executable=("bootstrap",), timeout=1)
    first = efc.invoke_function("svc", "fn", payload=b"a")
    status, err = invoke_error(efc, "svc", "fn", payload=b"crash")
    assert err["errorMessage"].startswith("Process exited unexpectedly before completing request")
    second = efc.invoke_function("svc", "fn", payload=b"b")
    assert second.data.startswith(b"b|") and second.headers["X-Fc-Instance-Id"] != first.headers["X-Fc-Instance-Id"]
    status, err = invoke_error(efc, "svc", "fn", payload=b"sleep")
    assert err["errorMessage"].startswith("Function timed out after 1 seconds")
    third = efc.invoke_function("svc", "fn", payload=b"c")
    assert third.data == b"c|fn|0|1|None" and third.headers["X-Fc-Instance-Id"] != second.headers["X-Fc-Instance-Id"]


def test_custom_runtime_that_cannot_start(efc, tmp_path, backend):
    deploy(efc, tmp_path, {"bootstrap": BOOTSTRAP}, runtime="custom", handler="index.handler")  # not executable
    status, err = invoke_error(efc, "svc", "fn")
    assert status == 412 and err["ErrorCode"] == "FunctionNotStarted"
    assert "ermission denied" in err["ErrorMessage"]
    if backend == "docker":  # nothing is left behind
        import docker
        engine = docker.from_env()
        try:
            left = engine.containers.list(all=True, filters={"label": "fc-emulator.function=svc/fn",
                                                              "status": "created"})
            assert [c for c in left if c.attrs["Config"]["Env"] and
                    f"FC_ACCOUNT_ID={efc.account_id}" in c.attrs["Config"]["Env"]] == []
        finally:
            engine.close()


@pytest.mark.parametrize("backend", ["docker"], indirect=True)
def test_custom_container_command_not_found(efc, tmp_path, custom_image):
    efc.create_service("svc")
    efc.create_function("svc", "fn", "custom-container", "index.handler", memorySize=128, timeout=10,
                        customContainerConfig={"image": custom_image, "webServerMode": False,
                                               "command": '["/no/such/binary"]'})
    status, err = invoke_error(efc, "svc", "fn")
    assert status == 412 and err["ErrorCode"] == "FunctionNotStarted"


# A custom runtime's bootstrap the way FC's samples write it: a shell script that starts the server.
VERSION_SERVER = r'''import os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        debian = open("/etc/debian_version").read().strip() if os.path.exists("/etc/debian_version") else "?"
        out = ("%s|%d.%d" % (debian, sys.version_info[0], sys.version_info[1])).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


HTTPServer(("0.0.0.0", int(os.environ.get("FC_CUSTOM_LISTEN_PORT") or 9000)), Handler).serve_forever()
'''


@pytest.mark.parametrize("runtime, debian, python", [
    ("custom", "11", "3.9"), ("custom.debian10", "11", "3.9"),  # buster is not reachable offline: nearest
    ("custom.debian11", "11", "3.9"), ("custom.debian12", "12", "3.11")])
def test_custom_runtimes_report_their_system(efc, tmp_path, backend, runtime, debian, python):
    """Each custom runtime runs on its own image's Debian and Python (runtimes.md §15); on the process
    backend the bootstrap runs on the host."""
    deploy(efc, tmp_path, {"bootstrap": "#!/bin/bash\nexec python3 server.py\n", "server.py": VERSION_SERVER},
           runtime=runtime, handler="index.handler", executable=("bootstrap",))
    got_debian, got_python = efc.invoke_function("svc", "fn", payload=b"v").data.decode().split("|")
    if backend == "docker":
        assert (got_debian.split(".")[0], got_python) == (debian, python)
    else:  # the host's own system and python3
        assert got_python.startswith("3.") and got_debian
