"""The instance pool end to end (issue 3): concurrency, scale-out, throttling, idle reclamation,
retirement on update, provisioned instances and orphan clean-up."""
from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fc2.fc_exceptions import FcError

from tests.helpers import AK_ID, AK_SECRET, Server, deploy, fc_client, fc_error, new_account, write_zip

SLOW_PY = "import time\ndef handler(event, context):\n    time.sleep(0.5)\n    return 'done'\n"


def _parallel(client, n: int, qualifier=None):
    """n simultaneous invocations: [(response or FcError, when it finished)]."""
    def one(_):
        try:
            r = client.invoke_function("svc", "fn", qualifier=qualifier)
        except FcError as exc:
            r = exc
        return r, time.monotonic()
    with ThreadPoolExecutor(n) as ex:
        return list(ex.map(one, range(n)))


def test_instance_concurrency_shares_one_instance(efc, tmp_path):
    deploy(efc, tmp_path, {"index.py": SLOW_PY}, instanceConcurrency=4)
    efc.invoke_function("svc", "fn")  # warm
    t0 = time.monotonic()
    results = _parallel(efc, 4)
    elapsed = time.monotonic() - t0
    ids = {r.headers["X-Fc-Instance-Id"] for r, _ in results}
    assert len(ids) == 1
    assert all(r.data == b"done" for r, _ in results)
    assert elapsed < 1.4  # together, not one after another (4 x 0.5 s)
    ends = [t for _, t in results]
    assert max(ends) - min(ends) < 0.3


def test_concurrent_cold_start_joins_one_instance(efc, tmp_path):
    deploy(efc, tmp_path, {"index.py": SLOW_PY}, instanceConcurrency=4)
    results = _parallel(efc, 4)  # the first call starts an instance, the others wait for it
    assert len({r.headers["X-Fc-Instance-Id"] for r, _ in results}) == 1
    ends = [t for _, t in results]
    assert max(ends) - min(ends) < 0.3


def test_scale_out_one_instance_per_call(efc, tmp_path):
    deploy(efc, tmp_path, {"index.py": SLOW_PY})
    results = _parallel(efc, 3)
    assert all(r.data == b"done" for r, _ in results)
    assert len({r.headers["X-Fc-Instance-Id"] for r, _ in results}) == 3


def test_on_demand_maximum_throttles(efc, tmp_path):
    deploy(efc, tmp_path, {"index.py": SLOW_PY})
    efc.put_on_demand_config("svc", "LATEST", "fn", 1)
    efc.invoke_function("svc", "fn")  # the one instance is warm
    results = _parallel(efc, 3)
    ok = [r for r, _ in results if not isinstance(r, FcError)]
    throttled = [r for r, _ in results if isinstance(r, FcError)]
    assert len(ok) == 1 and ok[0].data == b"done"
    assert len(throttled) == 2
    for exc in throttled:
        assert exc.status_code == 429
        assert exc.err_code == "ResourceThrottled"
    # once it is free, calls go through again
    assert efc.invoke_function("svc", "fn").data == b"done"


def test_idle_instance_is_reclaimed(backend, tmp_path):
    srv = Server(tmp_path / "fc", "--executor", backend, "--instance-idle-timeout", "1",
                 "--access-key", f"{AK_ID}:{AK_SECRET}").start()
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.py": "def handler(event, context):\n    return 'hi'\n"})
        first = client.invoke_function("svc", "fn").headers["X-Fc-Instance-Id"]
        assert client.invoke_function("svc", "fn").headers["X-Fc-Instance-Id"] == first  # warm
        # a provisioned instance is never reclaimed
        deploy(client, tmp_path, {"index.py": "def handler(event, context):\n    return 'p'\n"}, name="prov")
        client.put_provision_config("svc", "LATEST", "prov", 1)
        _wait_current(client, "prov", 1)
        provisioned = client.invoke_function("svc", "prov").headers["X-Fc-Instance-Id"]
        time.sleep(3)
        assert client.invoke_function("svc", "fn").headers["X-Fc-Instance-Id"] != first
        assert client.invoke_function("svc", "prov").headers["X-Fc-Instance-Id"] == provisioned
    finally:
        srv.stop()
    assert "reclaimed after" in srv.log()


def test_update_retires_old_instance(efc, tmp_path):
    deploy(efc, tmp_path, {"index.py": "def handler(event, context):\n    return 'old'\n"})
    old = efc.invoke_function("svc", "fn")
    assert old.data == b"old"
    efc.update_function("svc", "fn", codeZipFile=write_zip(
        tmp_path, {"index.py": "def handler(event, context):\n    return 'new'\n"}))
    new = efc.invoke_function("svc", "fn")
    assert new.data == b"new"
    assert new.headers["X-Fc-Instance-Id"] != old.headers["X-Fc-Instance-Id"]
    # a configuration-only change retires it too
    efc.update_function("svc", "fn", environmentVariables={"A": "1"})
    assert efc.invoke_function("svc", "fn").headers["X-Fc-Instance-Id"] != new.headers["X-Fc-Instance-Id"]


def _wait_current(client, fn: str, n: int, qualifier: str = "LATEST") -> None:
    deadline = time.monotonic() + 30
    while client.get_provision_config("svc", qualifier, fn).data["current"] != n:
        assert time.monotonic() < deadline, "the provisioned instances never became ready"
        time.sleep(0.1)


COLD_PY = """
import os
calls = 0
def handler(event, context):
    global calls
    calls += 1
    return str(calls)
"""


def test_provision_config_prewarms(efc, tmp_path):
    deploy(efc, tmp_path, {"index.py": COLD_PY})
    r = efc.put_provision_config("svc", "LATEST", "fn", 1)
    assert r.data["target"] == 1
    _wait_current(efc, "fn", 1)
    t0 = time.monotonic()
    first = efc.invoke_function("svc", "fn")
    assert first.data == b"1"  # served by the pre-started instance
    assert time.monotonic() - t0 < 0.5  # no cold start
    second = efc.invoke_function("svc", "fn")
    assert second.headers["X-Fc-Instance-Id"] == first.headers["X-Fc-Instance-Id"]
    # new code: the provisioned instance is replaced by one running it
    efc.update_function("svc", "fn", codeZipFile=write_zip(tmp_path, {"index.py": COLD_PY.replace("+= 1", "+= 10")}))
    third = efc.invoke_function("svc", "fn")
    assert third.data == b"10" and third.headers["X-Fc-Instance-Id"] != first.headers["X-Fc-Instance-Id"]
    _wait_current(efc, "fn", 1)
    # target 0 gives the instance back
    efc.put_provision_config("svc", "LATEST", "fn", 0)
    with pytest.raises(FcError) as e:
        efc.get_provision_config("svc", "LATEST", "fn")
    assert fc_error(e)["ErrorCode"] == "ProvisionConfigNotFound"


def test_provision_on_an_alias(efc, tmp_path):
    deploy(efc, tmp_path, {"index.py": SLOW_PY})  # slow, so the two calls below overlap
    efc.publish_version("svc")
    efc.create_alias("svc", "prod", "1")
    efc.put_provision_config("svc", "prod", "fn", 2)
    _wait_current(efc, "fn", 2, "prod")
    assert efc.get_provision_config("svc", "prod", "fn").data["currentError"] == ""
    ids = {r.headers["X-Fc-Instance-Id"] for r, _ in _parallel(efc, 2, qualifier="prod")}
    assert len(ids) == 2  # both calls found a provisioned instance of version 1
    assert efc.invoke_function("svc", "fn", qualifier="1").headers["X-Fc-Instance-Id"] in ids


def test_update_during_a_call(efc, tmp_path):
    deploy(efc, tmp_path, {"index.py": "import time\ndef handler(event, context):\n    time.sleep(1)\n"
                                       "    return 'old'\n"})
    efc.invoke_function("svc", "fn")
    with ThreadPoolExecutor(1) as ex:
        running = ex.submit(efc.invoke_function, "svc", "fn")
        time.sleep(0.3)
        efc.update_function("svc", "fn", codeZipFile=write_zip(
            tmp_path, {"index.py": "def handler(event, context):\n    return 'new'\n"}))
        new = efc.invoke_function("svc", "fn")
        old = running.result()
    assert (old.data, new.data) == (b"old", b"new")  # the call in flight finished on the old code
    assert old.headers["X-Fc-Instance-Id"] != new.headers["X-Fc-Instance-Id"]


NODE_SLOW = "exports.handler = (e, c, cb) => setTimeout(() => cb(null, 'done'), 500);\n"


def test_nodejs_instance_concurrency(efc, tmp_path):
    deploy(efc, tmp_path, {"index.js": NODE_SLOW}, runtime="nodejs18", instanceConcurrency=4)
    efc.invoke_function("svc", "fn")
    t0 = time.monotonic()
    results = _parallel(efc, 4)
    assert time.monotonic() - t0 < 1.4
    assert len({r.headers["X-Fc-Instance-Id"] for r, _ in results}) == 1


def _pid_alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_orphan_processes_removed_at_start_up(tmp_path):
    data = tmp_path / "fc"
    args = ("--executor", "process", "--access-key", f"{AK_ID}:{AK_SECRET}")
    srv = Server(data, *args).start()
    account = new_account()
    pid = 0
    try:
        client = fc_client(srv, account)
        deploy(client, tmp_path, {"index.py": "def handler(event, context):\n    return 'hi'\n"})
        instance = client.invoke_function("svc", "fn").headers["X-Fc-Instance-Id"]
        srv.kill()
        pid = int((data / "instances" / instance / "pid").read_text())
        deadline = time.monotonic() + 5  # its own session, but it dies with the emulator (PR_SET_PDEATHSIG)
        while _pid_alive(pid):
            assert time.monotonic() < deadline, "the instance process outlived the emulator"
            time.sleep(0.05)
        assert (data / "instances" / instance).exists()  # what the killed emulator left ...
        again = Server(data, *args).start()
        try:
            assert not (data / "instances" / instance).exists()  # ... is removed at the next start
            assert fc_client(again, account).invoke_function("svc", "fn").data == b"hi"
        finally:
            again.stop()
    finally:
        srv.kill()
        if pid and _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("backend", ["docker"], indirect=True)
def test_orphan_containers_removed_at_start_up(backend, tmp_path):
    import docker
    data = tmp_path / "fc"
    args = ("--executor", "docker", "--access-key", f"{AK_ID}:{AK_SECRET}")
    srv = Server(data, *args).start()
    engine = docker.from_env()
    instance = "none"
    account = new_account()
    try:
        client = fc_client(srv, account)
        deploy(client, tmp_path, {"index.py": "def handler(event, context):\n    return 'hi'\n"})
        instance = client.invoke_function("svc", "fn").headers["X-Fc-Instance-Id"]
        srv.kill()
        left = engine.containers.list(all=True, filters={"label": f"fc-emulator.instance={instance}"})
        assert len(left) == 1 and left[0].labels.get("fc-emulator.owner")
        again = Server(data, *args).start()
        try:
            assert engine.containers.list(all=True, filters={"label": f"fc-emulator.instance={instance}"}) == []
            assert fc_client(again, account).invoke_function("svc", "fn").data == b"hi"  # still works
        finally:
            again.stop()
    finally:
        srv.kill()
        for c in engine.containers.list(all=True, filters={"label": "fc-emulator.instance=" + instance}):
            c.remove(force=True)
        engine.close()


def test_provisioned_instances_come_back_after_a_restart(backend, tmp_path):
    data = tmp_path / "fc"
    srv = Server(data, "--executor", backend).start()
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.py": COLD_PY})
        client.put_provision_config("svc", "LATEST", "fn", 1)
        _wait_current(client, "fn", 1)
    finally:
        srv.stop()
    srv = Server(data, "--executor", backend).start()
    try:
        client = fc_client(srv, client.account_id)
        _wait_current(client, "fn", 1)  # pre-warmed again at start-up, before any call
        t0 = time.monotonic()
        assert client.invoke_function("svc", "fn").data == b"1"
        assert time.monotonic() - t0 < 0.5
    finally:
        srv.stop()


def test_provision_target_beyond_the_local_limit(tmp_path):
    """A target above --max-instances starts that many and says why the rest are missing (currentError),
    instead of starting thousands of processes on a laptop."""
    srv = Server(tmp_path / "fc", "--executor", "process", "--max-instances", "2").start()
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.py": COLD_PY})
        assert client.put_provision_config("svc", "LATEST", "fn", 5).data["target"] == 5
        _wait_current(client, "fn", 2)
        time.sleep(0.5)
        cfg = client.get_provision_config("svc", "LATEST", "fn").data
        assert cfg["current"] == 2 and cfg["target"] == 5
        assert "at most 2 provisioned instances" in cfg["currentError"] and "3 of the target 5" in cfg["currentError"]
        assert len(client.list_instances("svc", "LATEST", "fn").data["instances"]) == 2
    finally:
        srv.stop()
