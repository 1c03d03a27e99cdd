"""InvokeFunction end to end (issue 3): real code on both backends, through aliyun-fc2."""
from __future__ import annotations

import base64
import json
import struct
import zlib

import pytest
from fc2.fc_exceptions import FcError

from tests.helpers import deploy, fc_error, write_zip

HELLO_NODE = {"index.js": "exports.handler = (event, context, callback) => callback(null, 'hello ' + event);\n"}
HELLO_PY = {"index.py": "def handler(event, context):\n    return b'hello ' + event\n"}


def test_python_hello_world(efc, tmp_path):
    deploy(efc, tmp_path, HELLO_PY)
    r = efc.invoke_function("svc", "fn", payload=b"world")
    assert r.data == b"hello world"
    assert "json" not in r.headers["Content-Type"]
    assert "X-Fc-Error-Type" not in r.headers
    assert r.headers["X-Fc-Invocation-Service-Version"] == "LATEST"
    assert r.headers["X-Fc-Instance-Id"]
    assert r.headers["X-Fc-Code-Checksum"] == efc.get_function("svc", "fn").data["codeChecksum"]
    assert int(r.headers["X-Fc-Invocation-Duration"]) >= 1
    assert float(r.headers["X-Fc-Max-Memory-Usage"]) > 0


def test_nodejs_hello_world(efc, tmp_path):
    deploy(efc, tmp_path, HELLO_NODE, runtime="nodejs18")
    r = efc.invoke_function("svc", "fn", payload=b"world")
    assert r.data == b"hello world"
    assert "json" not in r.headers["Content-Type"]
    assert "X-Fc-Error-Type" not in r.headers


def test_initializer_state_survives_on_a_warm_instance(efc, tmp_path):
    code = ("counter = 0\n"
            "def init(context):\n    global counter\n    counter += 1\n"
            "def handler(event, context):\n    global counter\n    counter += 1\n    return counter\n")
    deploy(efc, tmp_path, {"index.py": code}, initializer="index.init", initializationTimeout=10)
    first = efc.invoke_function("svc", "fn")
    second = efc.invoke_function("svc", "fn")
    assert (first.data, second.data) == (b"2", b"3")
    assert first.headers["X-Fc-Instance-Id"] == second.headers["X-Fc-Instance-Id"]


def test_nodejs_initializer(efc, tmp_path):
    code = ("let n = 0;\n"
            "exports.init = (context, callback) => { n += 1; callback(null, ''); };\n"
            "exports.handler = (event, context, callback) => { n += 1; callback(null, String(n)); };\n")
    deploy(efc, tmp_path, {"index.js": code}, runtime="nodejs18", initializer="index.init")
    assert [efc.invoke_function("svc", "fn").data for _ in range(2)] == [b"2", b"3"]


CONTEXT_PY = """
import json, os
def handler(event, context):
    return json.dumps({
        "requestId": context.request_id, "account": context.account_id, "region": context.region,
        "function": [context.function.name, context.function.handler, context.function.memory,
                     context.function.timeout],
        "service": [context.service.name, context.service.qualifier, context.service.version_id],
        "credentials": bool(context.credentials.access_key_id),
        "env": {k: v for k, v in os.environ.items() if k.startswith("FC_") or k in ("MY_VAR", "OTHER")},
    })
"""


def test_context_and_environment(efc, tmp_path, backend):
    deploy(efc, tmp_path, {"index.py": CONTEXT_PY}, memorySize=256, timeout=7,
           environmentVariables={"MY_VAR": "my value", "OTHER": "x=y"})
    r = efc.invoke_function("svc", "fn", payload=b"{}")
    out = json.loads(r.data)
    assert out["requestId"] == r.headers["X-Fc-Request-Id"]
    assert out["account"] == efc.account_id
    assert out["region"]
    assert out["function"] == ["fn", "index.handler", 256, 7]
    assert out["service"] == ["svc", "LATEST", "LATEST"]
    assert out["credentials"] is True
    env = out["env"]
    assert env["MY_VAR"] == "my value" and env["OTHER"] == "x=y"
    assert env["FC_FUNCTION_NAME"] == "fn" and env["FC_SERVICE_NAME"] == "svc"
    assert env["FC_FUNCTION_HANDLER"] == "index.handler"
    assert env["FC_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["FC_ACCOUNT_ID"] == efc.account_id
    assert env["FC_INSTANCE_ID"] == r.headers["X-Fc-Instance-Id"]
    assert env["FC_RUNTIME"] == "python3.10"
    assert env["FC_QUALIFIER"] == "LATEST"
    assert env["FC_REGION"] == out["region"]
    if backend == "docker":
        assert env["FC_FUNC_CODE_PATH"] == "/code"


def _png(width: int = 64, height: int = 64) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes((x * 4 + y) % 256 for x in range(width * 3)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_binary_payload_round_trip(efc, tmp_path):
    deploy(efc, tmp_path, {"index.py": "def handler(event, context):\n    return event\n"})
    deploy(efc, tmp_path, {"index.js": "exports.handler = (event, context, cb) => cb(null, event);\n"},
           name="node", runtime="nodejs18")
    png = _png() + bytes(range(256))  # every byte value, including invalid UTF-8
    for fn in ("fn", "node"):
        r = efc.invoke_function("svc", fn, payload=png)
        assert r.data == png, fn
        assert "json" not in r.headers["Content-Type"]


TAIL_PY = """
import logging
def handler(event, context):
    print("a print line")
    logging.getLogger().info("a logging line")
    return "ok"
"""


def test_tail_log(efc, tmp_path):
    deploy(efc, tmp_path, {"index.py": TAIL_PY})
    r = efc.invoke_function("svc", "fn", headers={"x-fc-log-type": "Tail"})
    rid = r.headers["X-Fc-Request-Id"]
    text = base64.b64decode(r.headers["X-Fc-Log-Result"]).decode()
    assert f"FC Invoke Start RequestId: {rid}" in text
    assert f"FC Invoke End RequestId: {rid}" in text
    assert "a print line" in text
    assert f"{rid} [INFO] a logging line" in text
    assert text.index("Start RequestId") < text.index("a print line") < text.index("End RequestId")
    assert "Duration: " in text and "Billed Duration: " in text and "Memory Size: 128 MB" in text
    assert "FunctionCompute python3.10 runtime inited." in text  # the banner goes to the first call's log
    warm = base64.b64decode(efc.invoke_function("svc", "fn", headers={"x-fc-log-type": "Tail"})
                            .headers["X-Fc-Log-Result"]).decode()
    assert "runtime inited" not in warm and "a print line" in warm and rid not in warm
    # without Tail, no log header
    assert "X-Fc-Log-Result" not in efc.invoke_function("svc", "fn").headers


def test_tail_log_nodejs(efc, tmp_path):
    code = "exports.handler = (event, context, cb) => { console.log('from node'); cb(null, 'ok'); };\n"
    deploy(efc, tmp_path, {"index.js": code}, runtime="nodejs18")
    r = efc.invoke_function("svc", "fn", headers={"x-fc-log-type": "Tail"})
    text = base64.b64decode(r.headers["X-Fc-Log-Result"]).decode()
    rid = r.headers["X-Fc-Request-Id"]
    assert f"{rid} [verbose] from node" in text
    assert f"FC Invoke End RequestId: {rid}" in text and "Memory Size: 128 MB" in text


def test_bad_log_type(efc, tmp_path):
    deploy(efc, tmp_path, HELLO_PY)
    with pytest.raises(FcError) as e:
        efc.invoke_function("svc", "fn", headers={"x-fc-log-type": "Invalid"})
    assert e.value.status_code == 400
    message = "LogType is set to an invalid value (allowed: Tail | None, actual: 'Invalid')"
    assert fc_error(e) | {"RequestId": None} == {
        "ErrorCode": "InvalidArgument", "RequestId": None, "ErrorMessage": message,
        "Code": "InvalidArgument", "Message": message}


def test_payload_over_the_limit(efc, tmp_path, exec_server):
    deploy(efc, tmp_path, {"index.py": "def handler(event, context):\n    return str(len(event))\n"})
    limit = 32 * 1024 * 1024
    assert efc.invoke_function("svc", "fn", payload=b"x" * limit).data == str(limit).encode()
    with pytest.raises(FcError) as e:
        efc.invoke_function("svc", "fn", payload=b"x" * (limit + 1))
    assert e.value.status_code == 400
    assert fc_error(e)["ErrorCode"] == "EntityTooLarge"
    assert fc_error(e)["ErrorMessage"] == f"payload size exceeds maximum allowed size ({limit} bytes)"


def test_large_result(efc, tmp_path):
    deploy(efc, tmp_path, {"index.py": "import os\ndef handler(event, context):\n"
                                       "    return bytes(range(256)) * (int(event) // 256)\n"})
    size = 12 * 1024 * 1024
    r = efc.invoke_function("svc", "fn", payload=str(size).encode())
    assert r.data == bytes(range(256)) * (size // 256)


def test_unknown_function(efc, tmp_path):
    deploy(efc, tmp_path, HELLO_PY)
    with pytest.raises(FcError) as e:
        efc.invoke_function("svc", "nope")
    assert e.value.status_code == 404 and fc_error(e)["ErrorCode"] == "FunctionNotFound"


def _py(result: str) -> dict:
    return {"index.py": f"def handler(event, context):\n    return {result!r}\n"}


def test_versions_and_weighted_aliases(efc, tmp_path):
    deploy(efc, tmp_path, _py("one"))
    assert efc.publish_version("svc").data["versionId"] == "1"
    efc.update_function("svc", "fn", codeZipFile=write_zip(tmp_path, _py("two")))
    assert efc.publish_version("svc").data["versionId"] == "2"
    efc.update_function("svc", "fn", codeZipFile=write_zip(tmp_path, _py("3")))
    efc.create_alias("svc", "prod", "1")
    efc.create_alias("svc", "canary", "1", additionalVersionWeight={"2": 0.5})

    def call(q):
        r = efc.invoke_function("svc", "fn", qualifier=q)
        return r.data, r.headers["X-Fc-Invocation-Service-Version"]

    assert call("1") == (b"one", "1")
    assert call("2") == (b"two", "2")
    assert call("prod") == (b"one", "1")
    assert call(None) == (b"3", "LATEST")
    assert call("LATEST") == (b"3", "LATEST")
    seen = {call("canary") for _ in range(40)}
    assert seen == {(b"one", "1"), (b"two", "2")}


def test_layers_are_importable(efc, exec_server, tmp_path):
    # A layer's python/ folder is on sys.path (runtimes.md §1): /opt in Docker, its copy on the host.
    import requests
    from tests.helpers import zip_b64
    layer = requests.post(exec_server.url + "/2016-08-15/layers/mylib/versions",
                          headers={"X-Fc-Account-Id": efc.account_id},
                          json={"code": {"zipFile": zip_b64({"python/mylib.py": "WHO = 'from a layer'\n"})},
                                "compatibleRuntime": ["python3.10"]})
    assert layer.status_code == 200, layer.text
    deploy(efc, tmp_path, {"index.py": "import mylib\ndef handler(event, context):\n    return mylib.WHO\n"})
    # aliyun-fc2 has no `layers` parameter: set it with UpdateFunction over plain HTTP
    r = requests.put(exec_server.url + "/2016-08-15/services/svc/functions/fn",
                     headers={"X-Fc-Account-Id": efc.account_id}, json={"layers": [layer.json()["arn"]]})
    assert r.status_code == 200, r.text
    assert efc.invoke_function("svc", "fn").data == b"from a layer"
