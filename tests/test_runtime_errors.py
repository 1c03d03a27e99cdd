"""Runtimes that need something the backend lacks get a clear error at once, never a hang
(go1 is tested in test_go1.py)."""
from __future__ import annotations

import time

import pytest
from fc2.fc_exceptions import FcError

from tests.helpers import Server, deploy, docker_problem, fc_client, fc_error, new_account


def test_custom_container_on_the_process_backend_names_docker(tmp_path):
    srv = Server(tmp_path / "fc", "--executor", "process").start()
    try:
        client = fc_client(srv, new_account())
        client.create_service("svc")
        client.create_function("svc", "box", "custom-container", "index.handler",
                               customContainerConfig={"image": "anything:latest"})
        with pytest.raises(FcError) as e:
            client.invoke_function("svc", "box")
        assert e.value.status_code == 412
        assert fc_error(e)["ErrorCode"] == "FunctionNotStarted"
        assert "Docker backend" in fc_error(e)["ErrorMessage"]
    finally:
        srv.stop()


def test_missing_runtime_image_says_how_to_build_it(tmp_path):
    problem = docker_problem()
    if problem:
        pytest.skip(problem)
    srv = Server(tmp_path / "fc", "--executor", "docker", "--runtime-image", "fc-emulator/no-such-image:1").start()
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.py": "def handler(e, c):\n    return 'x'\n"})
        t0 = time.monotonic()
        with pytest.raises(FcError) as e:
            client.invoke_function("svc", "fn")
        assert time.monotonic() - t0 < 10
        assert e.value.status_code == 412
        body = fc_error(e)
        assert body["ErrorCode"] == "FunctionNotStarted"
        assert "fc-emulator/no-such-image:1" in body["ErrorMessage"]
        assert "fc-emulator images build" in body["ErrorMessage"]
    finally:
        srv.stop()
