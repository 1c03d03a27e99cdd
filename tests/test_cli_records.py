"""`fc-emulator invocations` and `fc-emulator logs [--follow]`, run as users run them (subprocesses),
against real invocations on both backends."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time

import requests

from tests.helpers import ROOT, deploy, invoke_error

CODE = {"index.py": (
    "def handler(event, context):\n"
    "    print('LOGLINE ' + event.decode())\n"
    "    if event == b'fail':\n"
    "        raise ValueError('boom')\n"
    "    return 'ok'\n")}


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emulator", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def idle(server) -> None:
    assert requests.post(server.url + "/_emulator/wait-idle?timeout=10").status_code == 200


def test_invocations_json_and_table(efc, exec_server, tmp_path):
    deploy(efc, tmp_path, CODE)
    ok = efc.invoke_function("svc", "fn", payload=b"one").headers["X-Fc-Request-Id"]
    invoke_error(efc, "svc", "fn", payload=b"fail")
    idle(exec_server)
    acc = ["--url", exec_server.url, "--account-id", efc.account_id]

    out = cli("invocations", *acc, "--json")
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout)
    assert [(r["payloadPreview"], r["status"]) for r in records] == [("fail", "failed"), ("one", "succeeded")]
    assert records[1]["requestId"] == ok and records[1]["coldStart"] is True

    out = cli("invocations", *acc, "--status", "failed", "--json")
    assert [r["payloadPreview"] for r in json.loads(out.stdout)] == ["fail"]
    out = cli("invocations", *acc, "--since", "10m", "--limit", "1", "--json")
    assert [r["payloadPreview"] for r in json.loads(out.stdout)] == ["fail"]

    # the table: a header and one row per invocation, oldest first
    out = cli("invocations", *acc, "--service", "svc", "--function", "fn")
    assert out.returncode == 0, out.stderr
    header, first, second = out.stdout.strip().splitlines()
    assert header.split() == ["TIME", "REQUEST", "ID", "FUNCTION", "KIND", "ATTEMPT", "STATUS", "DURATION", "START"]
    assert ok in first and "svc/fn" in first and "succeeded" in first and first.endswith("cold")
    assert "failed (UnhandledInvocationError)" in second and second.endswith("warm")

    # the URL from FC_EMULATOR_URL; nothing for another account
    out = cli("invocations", "--account-id", "1", "--json", env={"FC_EMULATOR_URL": exec_server.url})
    assert out.returncode == 0 and json.loads(out.stdout) == []


def test_invocations_bad_input_and_no_server(exec_server):
    out = cli("invocations", "--url", exec_server.url, "--since", "yesterday")
    assert out.returncode == 1 and "InvalidArgument" in out.stderr and "since" in out.stderr
    out = cli("invocations", "--url", "http://127.0.0.1:9")
    assert out.returncode == 1 and "cannot reach the emulator" in out.stderr


def test_logs(efc, exec_server, tmp_path):
    deploy(efc, tmp_path, CODE)
    deploy(efc, tmp_path, CODE, name="other")
    rid = efc.invoke_function("svc", "fn", payload=b"alpha").headers["X-Fc-Request-Id"]
    efc.invoke_function("svc", "fn", payload=b"beta")
    efc.invoke_function("svc", "other", payload=b"gamma")
    idle(exec_server)
    out = cli("logs", "svc", "fn", "--url", exec_server.url, "--account-id", efc.account_id)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.index("LOGLINE alpha") < text.index("LOGLINE beta")
    assert "gamma" not in text
    headers = [line for line in text.splitlines() if line.startswith("=== ")]
    assert len(headers) == 2
    assert rid in headers[0] and "svc/fn" in headers[0] and "succeeded" in headers[0] and "cold" in headers[0]
    assert f"FC Invoke Start RequestId: {rid}" in text and f"FC Invoke End RequestId: {rid}" in text

    out = cli("logs", "svc", "fn", "--json", "--url", exec_server.url, "--account-id", efc.account_id)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["payloadPreview"] for r in lines] == ["alpha", "beta"]
    assert "LOGLINE beta" in lines[1]["logs"]


def test_logs_follow_picks_up_new_invocations(efc, exec_server, tmp_path):
    deploy(efc, tmp_path, CODE)
    efc.invoke_function("svc", "fn", payload=b"before")
    idle(exec_server)
    proc = subprocess.Popen([sys.executable, "-u", "-m", "emulator", "logs", "svc", "fn", "--follow",
                             "--interval", "0.2", "--url", exec_server.url, "--account-id", efc.account_id],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()

    def wait_for(text: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if text in lines.get(timeout=0.2):
                    return
            except queue.Empty:
                pass
        raise AssertionError(f"{text!r} not printed within {timeout}s")

    try:
        wait_for("LOGLINE before")  # the existing invocation first
        t0 = time.monotonic()
        rid = efc.invoke_function("svc", "fn", payload=b"after").headers["X-Fc-Request-Id"]
        wait_for(rid)
        wait_for("LOGLINE after")
        assert time.monotonic() - t0 < 5
        assert proc.poll() is None  # still following
    finally:
        proc.terminate()
        proc.wait(10)
