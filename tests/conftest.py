from __future__ import annotations

import pytest
import requests

from tests.helpers import AK_ID, AK_SECRET, Server, fc_client, new_account


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
