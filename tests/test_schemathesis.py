"""/openapi.json describes FC's bodies, query parameters and errors, and a bounded schemathesis run
against it (issue 12) gets no 5xx: examples, boundary values and random (valid and invalid)
requests for every operation, half of them on resources that exist.

The run is deterministic (a fixed seed) and bounded (a few examples per operation, ~1 minute on
2 cores). For a longer local run: FC_FUZZ_EXAMPLES=50 FC_FUZZ_SEED=<n> pytest tests/test_schemathesis.py
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from tests.helpers import HELLO_PY, ROOT, Server, zip_b64

EXAMPLES = int(os.environ.get("FC_FUZZ_EXAMPLES", "5"))
SEED = int(os.environ.get("FC_FUZZ_SEED", "20261125"))
RUN_TIMEOUT_S = 300 + 20 * EXAMPLES


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("fuzz") / "fc", "--executor", "process").start()
    yield srv
    srv.stop()


def _doc(server: Server) -> dict:
    r = requests.get(server.url + "/openapi.json", timeout=30)
    assert r.status_code == 200
    return r.json()


def _ops(doc: dict):
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield method, path, op


def test_openapi_document_describes_bodies_parameters_and_errors(fuzz_server):
    doc = _doc(fuzz_server)
    ops = list(_ops(doc))
    ids = [op["operationId"] for _, _, op in ops]
    assert len(ids) == len(set(ids)) > 140
    for method, path, op in ops:
        assert op["summary"] and " " not in op["summary"], (method, path)  # FC's action name
        assert "422" not in op["responses"]  # FC answers 400 InvalidArgument, never 422
        assert op["responses"]["default"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/FCError"}
    error = doc["components"]["schemas"]["FCError"]
    assert error["required"] == ["ErrorCode", "ErrorMessage"]

    def op(method: str, path: str, version: str = "2021-04-06") -> dict:
        return doc["paths"][f"/{version}{path}"][method]

    def params(o: dict) -> dict:
        return {(p["in"], p["name"]): p for p in o["parameters"]}

    create = op("post", "/services")
    assert create["summary"] == "CreateService"
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ServiceCreate"}
    schemas = doc["components"]["schemas"]
    svc = schemas["ServiceCreate"]
    assert svc["required"] == ["serviceName"]
    assert svc["properties"]["serviceName"] == {"type": "string", "minLength": 1, "maxLength": 128,
                                                "pattern": "^[A-Za-z_][A-Za-z0-9_-]*$"}
    assert svc["properties"]["logConfig"]["anyOf"][0] == {"$ref": "#/components/schemas/LogConfig"}
    fn = schemas["FunctionCreate"]["properties"]
    assert fn["timeout"]["anyOf"][0] == {"type": "integer", "minimum": 1, "maximum": 86400}
    assert fn["memorySize"]["anyOf"][0] == {"type": "integer", "minimum": 128, "maximum": 32768, "multipleOf": 64}
    assert "python3.10" in fn["runtime"]["enum"] and "custom-container" in fn["runtime"]["enum"]
    assert schemas["TriggerCreate"]["properties"]["triggerType"]["enum"][:4] == ["oss", "log", "timer", "http"]
    assert {"$ref": "#/components/schemas/TimerConfig"} in schemas["TriggerCreate"]["properties"]["triggerConfig"]["anyOf"]
    assert "sourceConfig" in schemas["TriggerLogConfig"]["properties"]
    assert schemas["AsyncConfigBody"]["properties"]["maxAsyncRetryAttempts"]["anyOf"][0] == {
        "type": "integer", "minimum": 0, "maximum": 8}

    listing = params(op("get", "/services"))
    assert listing[("query", "limit")]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert {("query", n) for n in ("nextToken", "prefix", "startKey")} <= set(listing)
    assert ("query", "qualifier") in params(op("get", "/services/{service}/functions/{function}"))
    invoke = op("post", "/services/{service}/functions/{function}/invocations", "2016-08-15")
    assert invoke["summary"] == "InvokeFunction"
    assert params(invoke)[("header", "X-Fc-Invocation-Type")]["schema"]["enum"] == ["Sync", "Async"]
    assert invoke["requestBody"]["content"]["application/octet-stream"]["schema"]["format"] == "binary"
    assert params(op("get", "/services/{service}/versions"))[("query", "direction")]["schema"]["enum"] == [
        "BACKWARD", "FORWARD"]
    stateful = params(op("get", "/services/{service}/functions/{function}/stateful-async-invocations"))
    assert "Succeeded" in stateful[("query", "status")]["schema"]["enum"]
    assert params(op("put", "/layers/{layer}/acl"))[("query", "public")]["required"] is True
    assert params(op("put", "/services/{service}"))[("header", "If-Match")]
    records = params(doc["paths"]["/_emulator/invocations"]["get"])
    assert records[("query", "limit")]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000}
    # every FC 2.0 handler that reads a JSON body has one described (FC 3.0's operations are listed, bodies not yet)
    for method, path, o in ops:
        if path.startswith("/2023-03-30"):
            continue
        if o["summary"] in ("CreateService", "UpdateFunction", "CreateTrigger", "PutProvisionConfig", "TagResource",
                            "UntagResource", "PublishLayerVersion", "CreateCustomDomain", "UpdateAlias"):
            assert "$ref" in o["requestBody"]["content"]["application/json"]["schema"], (method, path)


def _seed(url: str) -> None:
    """The resources tests/schemathesis_hooks.py points half the generated paths at (default account)."""
    session = requests.Session()

    def ok(method: str, path: str, **kwargs) -> None:
        r = session.request(method, f"{url}/2016-08-15{path}", timeout=60, **kwargs)
        assert r.status_code < 300, (path, r.status_code, r.text)

    ok("POST", "/services", json={"serviceName": "svc"})
    ok("POST", "/services/svc/functions", json={"functionName": "fn", "runtime": "python3.10",
                                                "handler": "index.handler", "code": {"zipFile": zip_b64(HELLO_PY)}})
    ok("POST", "/services/svc/functions/fn/triggers", json={
        "triggerName": "trg", "triggerType": "http", "triggerConfig": {"authType": "anonymous", "methods": ["GET"]}})
    ok("POST", "/services/svc/versions", json={})
    ok("POST", "/services/svc/aliases", json={"aliasName": "prod", "versionId": "1"})
    ok("POST", "/layers/lyr/versions", json={"code": {"zipFile": zip_b64({"python/lib.py": "X = 1\n"})},
                                             "compatibleRuntime": ["python3.10"]})
    ok("POST", "/custom-domains", json={"domainName": "example.com", "routeConfig": {
        "routes": [{"path": "/*", "serviceName": "svc", "functionName": "fn"}]}})
    ok("POST", "/tag", json={"resourceArn": "services/svc", "tags": {"team": "fuzz"}})
    ok("PUT", "/services/svc/functions/fn/async-invoke-config", json={"maxAsyncRetryAttempts": 1})
    ok("POST", "/services/svc/functions/fn/invocations", data=b"{}")


def test_schemathesis_run_finds_no_server_error(fuzz_server, tmp_path):
    _seed(fuzz_server.url)
    argv = [sys.executable, "-c", "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())",
            "run", f"{fuzz_server.url}/openapi.json", "--checks", "not_a_server_error",
            "--phases", "examples,coverage,fuzzing", "--max-examples", str(EXAMPLES), "--seed", str(SEED),
            "--workers", "1", "--request-timeout", "60", "--generation-database", "none", "--no-color",
            "--report", "junit", "--report-dir", str(tmp_path / "report")]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(ROOT / "tests" / "schemathesis_hooks.py")}
    run = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-12000:]
    tested = next(line for line in out.splitlines() if line.strip().startswith("Tested:"))
    assert int(tested.split(":")[1]) > 140, out[-4000:]
    assert "internal error on" not in fuzz_server.log(), fuzz_server.log()[-8000:]
    # the emulator still answers, and the reads that list what the fuzzer may have stored work
    for path in ("/services", "/custom-domains", "/layers", "/tags", "/on-demand-configs", "/provision-configs"):
        r = requests.get(f"{fuzz_server.url}/2021-04-06{path}", timeout=30)
        assert r.status_code == 200, (path, r.text)
