"""A built-in agent's output on the Docker backend goes through a named pipe the emulator reads
(backends/docker_output.OutputPipe), not through the engine. Real containers: stdout and stderr in one
ordered log, a crashed instance's last words, a crash-and-restart cycle that leaks neither pipes nor file
descriptors, and nothing left after shutdown."""
from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import Server, deploy, docker_problem, fc_client, new_account

LOUD = r'''
import os, sys
def handler(event, context):
    if event == b"crash":
        print("last words", flush=True)
        os._exit(3)
    if event == b"long":
        sys.stdout.write("x" * 200000 + "\n")  # longer than a pipe's buffer: read in pieces
        return "ok"
    for i in range(3):
        print("out %d" % i, flush=True)
        print("err %d" % i, file=sys.stderr, flush=True)
    return "ok"
'''


@pytest.fixture
def docker_server(tmp_path):
    problem = docker_problem()
    if problem:
        if os.environ.get("FC_EMULATOR_TEST_DOCKER") == "1":
            pytest.fail(f"Docker tests required but Docker is not usable: {problem}")
        pytest.skip(f"Docker not usable: {problem}")
    srv = Server(tmp_path / "fc", "--executor", "docker", "--standby", "0").start()
    yield srv
    srv.stop()


def _tail(client, payload: bytes) -> str:
    r = client.invoke_function("svc", "fn", payload=payload, headers={"x-fc-log-type": "Tail"})
    return base64.b64decode(r.headers["X-Fc-Log-Result"]).decode()


def _pipe_fds(pid: int) -> list[str]:
    """What the emulator's open descriptors on instance pipes point at."""
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:  # closed meanwhile
            pass
    return [t for t in targets if "/pipes/" in t]


def test_output_through_the_pipe_in_order_and_nothing_leaks(docker_server, tmp_path):
    account = new_account()
    client = fc_client(docker_server, account)
    deploy(client, tmp_path, {"index.py": LOUD}, runtime="python3.9", timeout=10)
    pipes = Path(docker_server.data_dir) / "pipes"

    lines = _tail(client, b"hi").splitlines()
    order = [line for line in lines if line.startswith(("out ", "err "))]
    assert order == ["out 0", "err 0", "out 1", "err 1", "out 2", "err 2"]  # one stream, in the order written
    long = _tail(client, b"long").splitlines()  # the tail is FC's last 4 KB: x's, then the End marker
    assert set(long[0]) == {"x"} and long[-2].startswith("FC Invoke End RequestId: ")
    assert len(os.listdir(pipes)) == 1  # the instance's pipe

    def crash_and_restart():  # a crash ends the instance; the next call starts another with its own pipe
        r = requests.post(f"{docker_server.url}/2016-08-15/services/svc/functions/fn/invocations", data=b"crash",
                          headers={"X-Fc-Account-Id": account, "X-Fc-Log-Type": "Tail"}, timeout=30)
        assert r.status_code == 200 and r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
        assert r.json()["errorMessage"].startswith("Process exited unexpectedly")
        assert "last words" in base64.b64decode(r.headers["X-Fc-Log-Result"]).decode()
        assert client.invoke_function("svc", "fn", payload=b"hi").data == b"ok"

    for _ in range(4):
        crash_and_restart()
    deadline = time.monotonic() + 10
    while len(os.listdir(pipes)) != 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(os.listdir(pipes)) == 1, os.listdir(pipes)  # the dead instances' pipes are gone
    live = _pipe_fds(docker_server.proc.pid)  # and so are their readers: one descriptor, the live instance's
    assert len(live) == 1 and "(deleted)" not in live[0] and live[0].endswith("/output"), live

    docker_server.stop()
    assert not pipes.exists() or not os.listdir(pipes)
