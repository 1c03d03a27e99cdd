"""`docker compose up` end to end: the emulator in a container starts instances as siblings
(Docker-only; the emulator image is built on the offline runtime image with wheels from the host)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest
import requests

from tests.helpers import HELLO_PY, ROOT, RUNTIME_IMAGE, docker_problem, free_port, make_zip


def _compose_command() -> list[str] | None:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.fixture(scope="module")
def compose_emulator():
    problem = docker_problem() or (None if _compose_command() else "neither `docker compose` nor docker-compose")
    if problem:
        if os.environ.get("FC_EMULATOR_TEST_DOCKER") == "1":
            pytest.fail(f"compose test required but not possible: {problem}")
        pytest.skip(problem)
    wheels = list((ROOT / "wheels").glob("*.whl"))
    if not wheels or min(w.stat().st_mtime for w in wheels) < (ROOT / "pyproject.toml").stat().st_mtime:
        for w in wheels:  # dependencies changed since they were built
            w.unlink()
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "-w", str(ROOT / "wheels"), str(ROOT)],
                       check=True)
    port = free_port()
    project = f"fcetest{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "FC_EMULATOR_PORT": str(port), "FC_EMULATOR_BASE_IMAGE": RUNTIME_IMAGE}
    compose = _compose_command() + ["-p", project]
    subprocess.run(compose + ["up", "-d", "--build"], cwd=ROOT, env=env, check=True, capture_output=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if requests.get(base + "/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        yield base
    finally:
        logs = subprocess.run(compose + ["logs"], cwd=ROOT, env=env, capture_output=True, text=True).stdout
        subprocess.run(compose + ["down", "-v"], cwd=ROOT, env=env, capture_output=True)
        print(logs[-3000:])


def test_compose_up_runs_functions_in_sibling_containers(compose_emulator, tmp_path):
    import fc2
    client = fc2.Client(endpoint=compose_emulator, accessKeyID="any", accessKeySecret="any")
    assert requests.get(compose_emulator + "/health").json()["status"] == "ok"
    client.create_service("compose")
    code = tmp_path / "code.zip"
    code.write_bytes(make_zip({**HELLO_PY, "data.txt": "from the volume"}))
    client.create_function("compose", "hello", handler="index.handler", runtime="python3.9",
                           codeZipFile=str(code))
    first = client.invoke_function("compose", "hello", payload="x")
    second = client.invoke_function("compose", "hello", payload="x")
    assert first.data == b"hello world" and second.data == b"hello world"
    assert first.headers["X-Fc-Instance-Id"] == second.headers["X-Fc-Instance-Id"]
