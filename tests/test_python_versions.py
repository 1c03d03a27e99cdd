"""Every Python runtime runs its function on its own Python (issue 8), on both backends: the process
backend with the host interpreter of that version (pyenv's here and in CI, found without
configuration), the Docker backend in the runtime's image `fc-emulator/<runtime>:latest`, whose
offline build has the nearest Python where Debian has no exact one (the catalog says which).
python2.7 runs Python 2 code on Python 2.7, with FC's event type, logger and error JSON.
"""
from __future__ import annotations

import base64
import os
import re

import pytest
import requests

from emulator.execution import catalog
from emulator.execution.interpreters import EXACT, Interpreters
from tests.helpers import deploy, invoke_error

V1 = "/2016-08-15"

VERSION_PY = """
import logging, sys
def handler(event, context):
    logging.info('running on %s', sys.version.split()[0])
    return '%d.%d' % sys.version_info[:2]
"""

# FC's python2.7 samples: print statements, str events, the root logger.
PY2 = """
import logging, sys
logger = logging.getLogger()

def handler(event, context):
    print 'printed by python', sys.version_info[0]
    logger.info('event is a %s: %s', type(event).__name__, event)
    return sys.version

def fail(event, context):
    helper(event)

def helper(event):
    raise ValueError('py2 boom: ' + event)
"""

PY3_ONLY = """
def handler(event, context):
    return f"{event}"
"""


def _require(backend: str, runtime: str) -> None:
    """The runtime's Python must be where the backend looks: skip (fail in CI) otherwise."""
    rt = catalog.get(runtime)
    if backend == "process":
        found = Interpreters().lookup(runtime)
        missing = None if found.status == EXACT else (
            f"no Python {rt.version} on this host for {runtime} (pyenv install {rt.version})")
        required = os.environ.get("CI") == "true"
    else:
        missing = None if _image_labels(rt.image) is not None else (
            f"image {rt.image} missing (fc-emulator images build --offline {runtime})")
        required = os.environ.get("FC_EMULATOR_TEST_DOCKER") == "1"
    if missing:
        if required:
            pytest.fail(missing)
        pytest.skip(missing)


def _image_labels(image: str) -> dict | None:
    import docker
    client = docker.from_env()
    try:
        return client.images.get(image).labels or {}
    except docker.errors.ImageNotFound:
        return None
    finally:
        client.close()


def expected_version(backend: str, runtime: str) -> str:
    """major.minor the function must report: FC's on the process backend (exact via pyenv); in Docker
    what the catalog says the image's build gives (online: FC's; offline: the recipe's, maybe nearest)."""
    rt = catalog.get(runtime)
    if backend == "process":
        return rt.version
    labels = _image_labels(rt.image) or {}
    language = rt.language if labels.get("fc-emulator.build") == "online" else \
        catalog.OFFLINE_RECIPES[rt.offline_recipe].language
    version = re.search(r"\d+\.\d+", language).group(0)
    assert labels.get("fc-emulator.language", "").startswith(f"Python {version}."), labels  # image agrees
    return version


def invoke_tail(client, server, function: str, payload: bytes = b"") -> tuple[requests.Response, str]:
    path = f"{V1}/services/svc/functions/{function}/invocations"
    headers = client._build_common_headers("POST", path, {"x-fc-log-type": "Tail"})
    r = requests.post(server.url + path, data=payload, headers=headers, timeout=120)
    assert r.status_code == 200, r.text
    return r, base64.b64decode(r.headers.get("X-Fc-Log-Result", "")).decode("utf-8", "replace")


@pytest.mark.parametrize("runtime", ["python2.7", "python3", "python3.6", "python3.9", "python3.10"])
def test_function_runs_on_its_python(efc, exec_server, backend, tmp_path, runtime):
    _require(backend, runtime)
    deploy(efc, tmp_path, {"index.py": VERSION_PY}, name="version", runtime=runtime)
    r, log = invoke_tail(efc, exec_server, "version")
    assert "X-Fc-Error-Type" not in r.headers, r.text
    want = expected_version(backend, runtime)
    assert r.content.decode() == want
    request_id = r.headers["X-Fc-Request-Id"]
    assert re.search(rf"Z {request_id} \[INFO\] running on {re.escape(want)}\.\d+", log), log
    if backend == "process":  # the exact version: nothing to say
        assert " runs on " not in log, log  # no nearest-version notice


def test_python27_runs_python2_code(efc, exec_server, backend, tmp_path):
    _require(backend, "python2.7")
    deploy(efc, tmp_path, {"index.py": PY2}, name="py2", runtime="python2.7")
    r, log = invoke_tail(efc, exec_server, "py2", b"hello")
    assert "X-Fc-Error-Type" not in r.headers, r.text
    assert r.content.decode().startswith("2.7.")  # sys.version
    request_id = r.headers["X-Fc-Request-Id"]
    lines = log.splitlines()
    assert "printed by python 2" in lines, log
    assert any(re.match(rf"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {request_id} \[INFO\] event is a str: hello$",
                        line) for line in lines), log
    assert f"FC Invoke End RequestId: {request_id}" in lines


def test_python27_error_is_fc_error_json(efc, backend, tmp_path):
    _require(backend, "python2.7")
    deploy(efc, tmp_path, {"index.py": PY2}, name="py2fail", runtime="python2.7", handler="index.fail")
    status, err = invoke_error(efc, "svc", "py2fail", payload=b"bad")
    assert err["errorType"] == "ValueError" and err["errorMessage"] == "py2 boom: bad"
    frames = err["stackTrace"]
    assert [f[2:] for f in frames] == [["in fail", "helper(event)"], ["in helper", "raise ValueError('py2 boom: ' + event)"]]
    assert all(f[0] == 'File "/code/index.py"' and f[1].startswith("line ") for f in frames)  # FC's path, not the host's


def test_python27_rejects_python3_syntax(efc, backend, tmp_path):
    """It really is Python 2: an f-string is a syntax error there, as on FC's python2.7."""
    _require(backend, "python2.7")
    deploy(efc, tmp_path, {"index.py": PY3_ONLY}, name="py3only", runtime="python2.7")
    _, err = invoke_error(efc, "svc", "py3only", payload=b"x")
    assert (err["errorType"], err["errorMessage"]) == ("UserCodeSyntaxError", "Syntax error in module 'index'")
