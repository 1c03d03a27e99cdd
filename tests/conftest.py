from __future__ import annotations

import os
import re
import uuid

import pytest
import requests

from tests.helpers import AK_ID, AK_SECRET, Server, async_server, docker_problem, fc_client, new_account


# ---- the store: SQLite, and PostgreSQL where FC_EMULATOR_TEST_POSTGRES_URL names a server --------------

PG_ENV = "FC_EMULATOR_TEST_POSTGRES_URL"  # an admin URL (postgresql+psycopg://...): scripts/test exports it
# Modules whose `server`, `exec_server` and `aserver` run on SQLite and on PostgreSQL: the store, async, timer,
# records and concurrency suites (on PostgreSQL with the process backend only: the store does not depend on it).
PG_SUITES = {"test_services", "test_functions", "test_versions", "test_aliases", "test_layers", "test_triggers",
             "test_custom_domains", "test_configs", "test_tags", "test_code", "test_async", "test_stateful",
             "test_timers", "test_records", "test_postgres_store"}


def pytest_generate_tests(metafunc):
    if "database" in metafunc.fixturenames and metafunc.module.__name__.rsplit(".", 1)[-1] in PG_SUITES:
        metafunc.parametrize("database", ["sqlite", "postgres"], indirect=True, scope="session")


def _on_postgres(item) -> bool:
    return getattr(item, "callspec", None) is not None and item.callspec.params.get("database") == "postgres"


@pytest.hookimpl(trylast=True)  # after pytest's own reordering by fixture parameters
def pytest_collection_modifyitems(config, items):
    dropped = [i for i in items if _on_postgres(i) and i.callspec.params.get("backend") == "docker"]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    # The PostgreSQL variants run last: a test that does not parametrise `database` gets whichever server
    # is alive, and that must be a SQLite one.
    items[:] = [i for i in items if not _on_postgres(i)] + [i for i in items if _on_postgres(i) and i not in dropped]


def _pg_admin_url() -> str:
    """FC_EMULATOR_TEST_POSTGRES_URL; without it PostgreSQL tests skip, or fail under CI=true (as Docker's do)."""
    url = os.environ.get(PG_ENV, "")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL tests required but {PG_ENV} is not set (scripts/test starts a server)")
        pytest.skip(f"no PostgreSQL: set {PG_ENV} (scripts/test does, as root)")
    return url


@pytest.fixture(scope="session")
def new_pg_database():
    """`new_pg_database(label) -> url`: a fresh, empty database (dropped at the end of the session). Its default
    collation is ICU's en-US where the server has ICU, so that nothing leans on the byte order of a C locale."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(_pg_admin_url())
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    made: list[str] = []

    def make(label: str) -> str:
        name = f"fct_{re.sub('[^a-z0-9]+', '_', label.lower())[-30:]}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            try:
                conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'")
            except psycopg.Error:  # a server without ICU
                conn.execute(f"CREATE DATABASE {name}")
        made.append(name)
        return admin.set(database=name).render_as_string(hide_password=False)

    yield make
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in made:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def pg_url(new_pg_database, request) -> str:
    """A fresh PostgreSQL database for this test module (postgresql+psycopg://...)."""
    return new_pg_database(request.module.__name__)


@pytest.fixture(scope="session")
def database(request) -> str:
    """The store under test: "sqlite" (the data dir's fc.db) or "postgres" (PG_SUITES modules run both)."""
    return getattr(request, "param", "sqlite")


def database_args(request, database: str, label: str) -> list[str]:
    """`--database-url` of a fresh PostgreSQL database for one server, or nothing for SQLite."""
    if database == "sqlite":
        return []
    return ["--database-url", request.getfixturevalue("new_pg_database")(label)]


@pytest.fixture(scope="session")
def server(tmp_path_factory, database, request):
    """One emulator for the session (default auth mode, one configured key); tests use their own account."""
    srv = Server(tmp_path_factory.mktemp("data") / "fc", *database_args(request, database, "server"),
                 "--access-key", f"{AK_ID}:{AK_SECRET}").start()
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
def exec_server(backend, tmp_path_factory, database, request):
    """An emulator running instances on `backend`; idle instances reclaimed after 30 s."""
    srv = Server(tmp_path_factory.mktemp(f"exec-{backend}") / "fc", *database_args(request, database, "exec"),
                 "--executor", backend,
                 "--instance-idle-timeout", "30", "--access-key", f"{AK_ID}:{AK_SECRET}").start()
    yield srv
    srv.stop()


@pytest.fixture
def efc(exec_server, account):
    """aliyun-fc2 against the executing server, in a fresh account."""
    return fc_client(exec_server, account)


@pytest.fixture(scope="session")
def aserver(backend, tmp_path_factory, database, request):
    """An emulator on `backend` with a short async retry back-off (0.1 s, 0.2 s, ...)."""
    srv = async_server(tmp_path_factory.mktemp(f"async-{backend}") / "fc", backend,
                       *database_args(request, database, "async"))
    yield srv
    srv.stop()


@pytest.fixture
def afc(aserver, account):
    """aliyun-fc2 against the async-testing server, in a fresh account."""
    return fc_client(aserver, account)
