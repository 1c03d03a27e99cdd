"""Nothing outlives the emulator, custom runtimes on caPort, bounded logs (issue 12, items 7-9).

Process backend: children a function starts in a session of their own (setsid, double fork) die with
their instance, at a clean shutdown, and at the next start after a `kill -9`; a bootstrap that listens on
FC's fixed caPort works (a network namespace per instance, as root) or fails at once saying why; an
invocation record keeps at most --records-max-log-bytes of a 10 MB log (its tail).
"""
from __future__ import annotations

import base64
import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.helpers import Server, deploy, fc_client, free_port, new_account

# A handler that starts two children that escape its process group: `setsid` (a new session) and a
# double fork whose grandchild calls setsid too. Their argv carries the payload, the test's marker.
SPAWNER = r'''
import os, subprocess, sys

LOOP = "import time\nwhile True: time.sleep(0.5)"

def handler(event, context):
    marker = event.decode()
    subprocess.Popen(["setsid", sys.executable, "-c", LOOP, marker + "-setsid"],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.execv(sys.executable, [sys.executable, "-c", LOOP, marker + "-double-fork"])
        os._exit(0)
    os.waitpid(pid, 0)
    return "started"
'''


def with_marker(marker: str) -> list[int]:
    """Processes whose command line carries `marker`."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(int(name))
    return found


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def start_spawners(srv: Server, tmp_path: Path) -> tuple:
    account = new_account()
    client = fc_client(srv, account)
    deploy(client, tmp_path, {"index.py": SPAWNER}, runtime="python3.10", timeout=10)
    marker = f"fc-orphan-{uuid.uuid4().hex}"
    assert client.invoke_function("svc", "fn", payload=marker).data == b"started"
    assert wait_for(lambda: len(with_marker(marker)) == 2), "the function's children did not start"
    return client, marker


@pytest.fixture
def server_dir(tmp_path):
    return tmp_path / "fc"


def test_sigterm_leaves_no_process(server_dir, tmp_path):
    srv = Server(server_dir, "--executor", "process").start()
    try:
        _, marker = start_spawners(srv, tmp_path)
    finally:
        t0 = time.monotonic()
        srv.stop()
    assert srv.proc.returncode is not None and time.monotonic() - t0 < 10
    assert wait_for(lambda: not with_marker(marker), 5), f"left behind: {with_marker(marker)}"


def test_kill9_then_restart_leaves_no_process(server_dir, tmp_path):
    srv = Server(server_dir, "--executor", "process").start()
    try:
        client, marker = start_spawners(srv, tmp_path)
        iid = client.list_instances("svc", "LATEST", "fn").data["instances"][0]["instanceId"]
        agents = [pid for pid in with_marker("agent.py") if f"FC_INSTANCE_ID={iid}".encode()
                  in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")]
        assert agents, "the instance's agent process was not found"
        srv.kill()
        # the agent dies with the emulator (PR_SET_PDEATHSIG); the setsid'ed children are still there ...
        assert wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in agents), 5)
        assert len(with_marker(marker)) == 2
        # ... until the emulator starts again on the same data dir
        srv = Server(server_dir, "--executor", "process").start()
        assert wait_for(lambda: not with_marker(marker), 5), f"left behind: {with_marker(marker)}"
        assert "removed 1 instance(s) left by an earlier emulator" in srv.log()
    finally:
        srv.stop()


def test_other_data_dirs_processes_survive_a_restart(tmp_path):
    """The markers are per data dir: one emulator's start-up cleanup leaves another's instances alone."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Server(tmp_path / "a" / "fc", "--executor", "process").start()
    try:
        client, marker = start_spawners(a, tmp_path)
        b = Server(tmp_path / "b" / "fc", "--executor", "process").start()
        b.stop()
        assert len(with_marker(marker)) == 2
        assert client.invoke_function("svc", "fn", payload=marker + "-again").data == b"started"
    finally:
        a.stop()
    assert wait_for(lambda: not with_marker(marker), 5)


def test_instance_stop_kills_its_setsid_children(server_dir, tmp_path):
    srv = Server(server_dir, "--executor", "process").start()
    try:
        client, first = start_spawners(srv, tmp_path)
        # any change of the function retires its instances: the old one stops, with its children
        client.update_function("svc", "fn", environmentVariables={"V": "2"})
        second = f"fc-orphan-{uuid.uuid4().hex}"
        assert client.invoke_function("svc", "fn", payload=second).data == b"started"
        assert wait_for(lambda: not with_marker(first), 5), f"left behind: {with_marker(first)}"
        assert wait_for(lambda: len(with_marker(second)) == 2)
    finally:
        srv.stop()
    assert wait_for(lambda: not with_marker(second), 5)


# ---- custom runtimes on caPort ---------------------------------------------------------------------

# FC's samples hard-code the port: this one listens on 9000 whatever the environment says.
BOOTSTRAP_9000 = r'''#!/usr/bin/env python3
import os, socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        out = json.dumps({"event": body.decode(), "port": self.server.server_address[1],
                          "listen": os.environ.get("FC_CUSTOM_LISTEN_PORT"),
                          "instance": os.environ.get("FC_INSTANCE_ID")}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

import json
ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
'''


def bootstrap(port: int) -> str:
    return BOOTSTRAP_9000.replace("PORT)", f"{port})")


@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace per instance needs root (CI runs as root)")
def test_bootstrap_on_port_9000_runs_on_the_process_backend(server_dir, tmp_path):
    srv = Server(server_dir, "--executor", "process").start()
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"bootstrap": bootstrap(9000)}, runtime="custom", executable=("bootstrap",),
               caPort=9000, instanceConcurrency=1)
        t0 = time.monotonic()
        first = json.loads(client.invoke_function("svc", "fn", payload=b"one").data)
        assert time.monotonic() - t0 < 10
        assert first["event"] == "one" and first["port"] == 9000 and first["listen"] == "9000"
        # two instances at once, each with its own port 9000
        with ThreadPoolExecutor(2) as pool:
            outs = list(pool.map(lambda p: json.loads(client.invoke_function(
                "svc", "fn", payload=p, headers={"x-fc-invocation-type": "Sync"}).data), [b"slow"] * 2))
        assert {o["event"] for o in outs} == {"slow"}
        r = requests.get(srv.url + "/_emulator/invocations", params={"function": "fn"},
                         headers={"X-Fc-Account-Id": client.account_id})
        assert all(rec["status"] == "succeeded" for rec in r.json()["invocations"])
    finally:
        t0 = time.monotonic()
        srv.stop()
    assert time.monotonic() - t0 < 10


@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace per instance needs root (CI runs as root)")
def test_bootstrap_on_another_port_than_caport_fails_fast(server_dir, tmp_path):
    srv = Server(server_dir, "--executor", "process").start()
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"bootstrap": bootstrap(8081)}, runtime="custom", executable=("bootstrap",),
               caPort=9000)
        t0 = time.monotonic()
        r = requests.post(srv.url + "/2016-08-15/services/svc/functions/fn/invocations", data=b"x",
                          headers={"X-Fc-Account-Id": client.account_id})
        assert time.monotonic() - t0 < 5
        assert r.status_code == 412 and r.json()["ErrorCode"] == "FunctionNotStarted"
        assert r.json()["ErrorMessage"].startswith("the custom runtime listens on port 8081, not on its caPort 9000")
        assert client.get_function("svc", "fn").data["caPort"] == 9000
    finally:
        t0 = time.monotonic()
        srv.stop()
    assert time.monotonic() - t0 < 10


def test_bootstrap_on_a_fixed_port_fails_fast_without_a_namespace(server_dir, tmp_path):
    """--instance-network host (what a non-root emulator gets): the server listens elsewhere than
    $FC_CUSTOM_LISTEN_PORT, and the call fails at once saying why and what to do."""
    srv = Server(server_dir, "--executor", "process", "--instance-network", "host").start()
    try:
        client = fc_client(srv, new_account())
        fixed = free_port()
        deploy(client, tmp_path, {"bootstrap": bootstrap(fixed)}, runtime="custom", executable=("bootstrap",),
               caPort=fixed)
        t0 = time.monotonic()
        r = requests.post(srv.url + "/2016-08-15/services/svc/functions/fn/invocations", data=b"x",
                          headers={"X-Fc-Account-Id": client.account_id})
        assert time.monotonic() - t0 < 5
        assert r.status_code == 412, r.text
        body = r.json()
        assert body["ErrorCode"] == "FunctionNotStarted"
        message = body["ErrorMessage"]
        assert f"listens on port {fixed}, not on $FC_CUSTOM_LISTEN_PORT" in message
        assert "--instance-network host is set" in message and "--executor docker" in message
        assert str(server_dir) not in message
        # a taken port (here: the emulator's own) also fails at once, saying so
        deploy(client, tmp_path, {"bootstrap": bootstrap(srv.port)}, name="taken", runtime="custom",
               executable=("bootstrap",), caPort=srv.port)
        t0 = time.monotonic()
        r = requests.post(srv.url + "/2016-08-15/services/svc/functions/taken/invocations", data=b"x",
                          headers={"X-Fc-Account-Id": client.account_id})
        assert time.monotonic() - t0 < 5
        assert r.status_code == 412 and r.json()["ErrorCode"] == "FunctionNotStarted"
        assert "the port it wants is in use" in r.json()["ErrorMessage"]
        # nothing was stored about it: the function is unchanged and still answers the same way
        assert client.get_function("svc", "fn").data["caPort"] == fixed
    finally:
        t0 = time.monotonic()
        srv.stop()
    assert time.monotonic() - t0 < 10


# ---- bounded logs ----------------------------------------------------------------------------------

LOUD = r'''
import sys

def handler(event, context):
    if event == b"one-line":
        sys.stdout.write("y" * 10_000_000 + "\n")
    else:
        chunk = "x" * 999 + "\n"
        for _ in range(10_000):
            sys.stdout.write(chunk)
    print("the very end")
    sys.stdout.flush()
    return "done"
'''


def db_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("fc.db*"))


@pytest.mark.parametrize("cap", [None, 4096])
def test_a_10mb_log_is_capped_in_its_record(server_dir, tmp_path, cap):
    args = ["--executor", "process"] + (["--records-max-log-bytes", str(cap)] if cap else [])
    srv = Server(server_dir, *args).start()
    limit = cap or 65536
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.py": LOUD}, runtime="python3.10", timeout=30, memorySize=512)
        requests.post(srv.url + "/_emulator/wait-idle?timeout=30")
        before = db_bytes(server_dir)
        for payload in (b"lines", b"one-line", b"lines"):
            r = client.invoke_function("svc", "fn", payload=payload, headers={"x-fc-log-type": "Tail"})
            assert r.data == b"done"
            tail = base64.b64decode(r.headers["X-Fc-Log-Result"])
            assert len(tail) <= 4096 and b"the very end" in tail  # FC's Tail: the last 4 KB
        assert requests.post(srv.url + "/_emulator/wait-idle?timeout=30").status_code == 200
        records = requests.get(srv.url + "/_emulator/invocations", params={"function": "fn"},
                               headers={"X-Fc-Account-Id": client.account_id}).json()["invocations"]
        assert len(records) == 3
        for rec in records:
            lines = rec["logs"]
            assert sum(len(line.encode()) + 1 for line in lines) <= limit
            start = next(i for i, line in enumerate(lines) if line.startswith("FC Invoke Start RequestId: "))
            assert start <= 2  # after a notice or two of the cold start, if any
            note = lines[start + 1]
            assert note.startswith("... [") and "bytes of log cut here" in note
            cut = int(note.split("[", 1)[1].split()[0])
            assert cut > 9_000_000
            assert lines[-2:] == ["the very end", f"FC Invoke End RequestId: {rec['requestId']}"]
        # the database grew by the capped logs, not by 30 MB
        assert db_bytes(server_dir) - before < 2_000_000
        # the emulator still serves
        assert client.invoke_function("svc", "fn", payload=b"lines").data == b"done"
    finally:
        srv.stop()
