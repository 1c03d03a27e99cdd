"""`fc-emulator serve`: flags and their FC_EMULATOR_* variables, health, OpenAPI docs."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import requests

from tests.helpers import ROOT, free_port


def test_environment_variables_configure_serve(tmp_path):
    port = free_port()
    env = {**os.environ, "FC_EMULATOR_PORT": str(port), "FC_EMULATOR_HOST": "127.0.0.1",
           "FC_EMULATOR_DATA_DIR": str(tmp_path / "envdata"), "FC_EMULATOR_ACCOUNT_ID": "4242",
           "FC_EMULATOR_AUTH": "strict", "FC_EMULATOR_ACCESS_KEYS": "k1:s1"}
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                health = requests.get(base + "/health", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.05)
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "ok" and body["auth"] == "strict"
        assert "dataDir" not in body  # /health answers anyone: no host path (issue 12)
        assert (tmp_path / "envdata" / "fc.db").exists()
        # strict mode from the environment: an unsigned call is refused
        assert requests.get(base + "/2016-08-15/services").status_code == 403
        assert requests.get(base + "/docs").status_code == 200
        spec = requests.get(base + "/openapi.json").json()
        assert "/2016-08-15/services" in spec["paths"] and "/2021-04-06/services" in spec["paths"]
    finally:
        proc.terminate()
        proc.wait(10)


def test_help_lists_every_flag():
    out = subprocess.run([sys.executable, "-m", "emulator", "serve", "--help"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    for flag in ("--host", "--port", "--data-dir", "--access-key", "--auth", "--account-id", "--oss-dir"):
        assert flag in out
    for env in ("FC_EMULATOR_HOST", "FC_EMULATOR_PORT", "FC_EMULATOR_DATA_DIR", "FC_EMULATOR_ACCESS_KEYS"):
        assert env in out


def test_serve_on_a_busy_port_fails_at_once(tmp_path):
    """One clear line and exit 1, before anything says "serving" or touches the data dir."""
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "emulator", "serve", "--port", str(port), "--data-dir",
                            str(tmp_path / "fc"), "--executor", "process"], cwd=ROOT, capture_output=True,
                           text=True, timeout=60)
    assert r.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in r.stderr
    assert "serving" not in r.stderr + r.stdout and "startup complete" not in r.stderr + r.stdout
    assert not (tmp_path / "fc").exists()
