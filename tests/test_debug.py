"""Debugging (issue 14): functions chosen with `--debug` (or EMULATOR_DEBUG among their variables) start with
a debugger on a port published on 127.0.0.1, said in the server log and in ListInstances (`debugPort`):
debugpy answers the Debug Adapter Protocol, Node's inspector its /json/list, Java's JDWP its handshake. Other
functions start as always. Both backends."""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import requests

from tests.helpers import AK_ID, AK_SECRET, ROOT, Server, deploy, fc_client, new_account

FIXTURE_JAR = Path(os.environ.get("FC_EMULATOR_FIXTURES", ROOT.parent / "shared" / "fixtures")) / "java" / "java8-1.0.0.jar"
PY = {"index.py": "def handler(event, context):\n    return 'py ok'\n"}
JS = {"index.js": "exports.handler = (event, context, callback) => callback(null, 'js ok');\n"}


@pytest.fixture(scope="module")
def dserver(backend, tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp(f"debug-{backend}") / "fc", "--executor", backend,
                 "--debug", "dbg/py", "--debug", "hello-java", "--access-key", f"{AK_ID}:{AK_SECRET}").start()
    yield srv
    srv.stop()


def _instances(client, service: str, function: str) -> list[dict]:
    return client.list_instances(service, "LATEST", function).data["instances"]


def _dap_initialize(port: int) -> dict:
    """The Debug Adapter Protocol's first request, as VS Code sends it; the adapter's response."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        body = json.dumps({"seq": 1, "type": "request", "command": "initialize",
                           "arguments": {"clientID": "test", "adapterID": "python"}}).encode()
        s.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                assert chunk, "the debug adapter closed the connection"
                buf += chunk
            head, _, buf = buf.partition(b"\r\n\r\n")
            size = int(head.split(b":")[1])
            while len(buf) < size:
                buf += s.recv(65536)
            message, buf = json.loads(buf[:size]), buf[size:]
            if message.get("type") == "response":
                return message


def test_python_function_gets_debugpy(dserver, tmp_path, backend):
    fc = fc_client(dserver, new_account())
    deploy(fc, tmp_path, PY, service="dbg", name="py")
    deploy(fc, tmp_path, PY, service="dbg", name="plain")
    assert fc.invoke_function("dbg", "py").data == b"py ok"
    assert fc.invoke_function("dbg", "plain").data == b"py ok"
    [inst] = _instances(fc, "dbg", "py")
    port = inst["debugPort"]
    assert f"instance {inst['instanceId']} of dbg/py/LATEST: debugpy listening on 127.0.0.1:{port}" in dserver.log()
    response = _dap_initialize(port)
    assert response["command"] == "initialize" and response["success"] is True
    assert response["body"]["supportsConfigurationDoneRequest"] is True
    assert fc.invoke_function("dbg", "py").data == b"py ok"  # still serving, same instance
    assert [i["instanceId"] for i in _instances(fc, "dbg", "py")] == [inst["instanceId"]]
    assert [set(i) for i in _instances(fc, "dbg", "plain")] == [{"instanceId", "versionId"}]  # not chosen


def test_node_function_chosen_by_its_variable_gets_the_inspector(dserver, tmp_path):
    fc = fc_client(dserver, new_account())
    deploy(fc, tmp_path, JS, service="web", name="js", runtime="nodejs20",
           environmentVariables={"EMULATOR_DEBUG": "true"})
    assert fc.invoke_function("web", "js").data == b"js ok"
    [inst] = _instances(fc, "web", "js")
    port = inst["debugPort"]
    assert f"Node.js inspector listening on 127.0.0.1:{port}" in dserver.log()
    targets = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
    assert len(targets) == 1 and targets[0]["type"] == "node"
    assert targets[0]["webSocketDebuggerUrl"].startswith("ws://")
    version = requests.get(f"http://127.0.0.1:{port}/json/version", timeout=10).json()
    assert version["Browser"].startswith("node.js/v20")


def test_java_function_gets_jdwp(dserver, tmp_path):
    fc = fc_client(dserver, new_account())
    deploy(fc, tmp_path, {"java8-1.0.0.jar": FIXTURE_JAR.read_bytes()}, service="jsvc", name="hello-java",
           runtime="java11", handler="examples.Hello::handleRequest", memorySize=512, timeout=30)
    assert fc.invoke_function("jsvc", "hello-java", payload="x").data
    [inst] = _instances(fc, "jsvc", "hello-java")
    with socket.create_connection(("127.0.0.1", inst["debugPort"]), timeout=30) as s:
        s.sendall(b"JDWP-Handshake")
        got = b""
        while len(got) < 14:
            chunk = s.recv(14 - len(got))
            assert chunk, "JDWP closed the connection"
            got += chunk
    assert got == b"JDWP-Handshake"
    assert f"JDWP listening on 127.0.0.1:{inst['debugPort']}" in dserver.log()
