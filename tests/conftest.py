from __future__ import annotations

import os

import pytest
import requests

from tests.helpers import AK_ID, AK_SECRET, Server, async_server, docker_problem, fc_client, new_account


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One emulator for the session (default auth mode, one configured key); tests use their own account."""
    srv = Server(tmp_path_factory.mktemp("data") / "fc", "--access-key", f"{AK_ID}:{AK_SECRET}").start()
    yield srv
    srv.stop()


@pytest.fixture
def account() -> str:
    return new_account()


@pytest.fixture
def fc(server, account):
    """An aliyun-fc2 client in a fresh account on the shared server."""
    return fc_client(server, account)


@pytest.fixture
def http(server, account):
    """Plain HTTP to the shared server, in the same account as `fc`."""
    session = requests.Session()
    session.headers["X-Fc-Account-Id"] = account
    session.base = server.url
    yield session
    session.close()


# ---- execution: the same scenarios on both backends ---------------------------------------------

@pytest.fixture(scope="session", params=["process", "docker"])
def backend(request) -> str:
    """The executor under test. Docker tests skip when no engine (or image) is reachable, unless
    FC_EMULATOR_TEST_DOCKER=1 (CI), where that is a failure."""
    if request.param == "docker":
        problem = docker_problem()
        if problem:
            if os.environ.get("FC_EMULATOR_TEST_DOCKER") == "1":
                pytest.fail(f"Docker tests required but Docker is not usable: {problem}")
            pytest.skip(f"Docker not usable: {problem}")
    return request.param


@pytest.fixture(scope="session")
def exec_server(backend, tmp_path_factory):
    """An emulator running instances on `backend`; idle instances reclaimed after 30 s."""
    srv = Server(tmp_path_factory.mktemp(f"exec-{backend}") / "fc", "--executor", backend,
                 "--instance-idle-timeout", "30", "--access-key", f"{AK_ID}:{AK_SECRET}").start()
    yield srv
    srv.stop()


@pytest.fixture
def efc(exec_server, account):
    """aliyun-fc2 against the executing server, in a fresh account."""
    return fc_client(exec_server, account)


@pytest.fixture(scope="session")
def aserver(backend, tmp_path_factory):
    """An emulator on `backend` with a short async retry back-off (0.1 s, 0.2 s, ...)."""
    srv = async_server(tmp_path_factory.mktemp(f"async-{backend}") / "fc", backend)
    yield srv
    srv.stop()


@pytest.fixture
def afc(aserver, account):
    """aliyun-fc2 against the async-testing server, in a fresh account."""
    return fc_client(aserver, account)
