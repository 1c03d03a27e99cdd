"""Standby instances (issue 13): a pre-started agent that becomes a function's instance must be
indistinguishable from a fresh start (environment, sys.path / module paths, working folder, user, memory
limit, loaded modules, first log), must never carry one function's configuration into another's, and must be
reclaimed at shutdown and after a kill -9 like any other instance."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import Server, deploy, fc_client, new_account

PY_PROBE = '''import json, os, resource, sys, time

def limit():
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):  # cgroup v2, v1
        try:
            return open(path).read().strip()
        except OSError:
            pass

def handler(event, context):
    if event == b"hold":
        time.sleep(2)
        return "held"
    return json.dumps({"env": dict(os.environ), "cwd": os.getcwd(), "path": sys.path, "argv": sys.argv,
                       "as": resource.getrlimit(resource.RLIMIT_AS), "ids": [os.getuid(), os.getgid(), os.getgroups()],
                       "modules": sorted(sys.modules), "files": sorted(os.listdir(".")), "cgroup": limit(),
                       "umask": os.umask(0o22)})
'''

JS_PROBE = '''const fs = require('fs');
const Module = require('module');
exports.handler = (event, context, callback) => {
  if (event.toString() === 'hold') return setTimeout(() => callback(null, 'held'), 2000);
  let cgroup = null;
  for (const p of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try { cgroup = cgroup || fs.readFileSync(p, 'utf8').trim(); } catch (_) { /* cgroup v1 or v2 */ }
  }
  callback(null, JSON.stringify({
    env: process.env, cwd: process.cwd(), paths: module.paths, globalPaths: Module.globalPaths,
    argv: process.argv, execArgv: process.execArgv, ids: [process.getuid(), process.getgid(), process.getgroups()],
    modules: Object.keys(require.cache), files: fs.readdirSync('.').sort(), cgroup,
    heap: require('v8').getHeapStatistics().heap_size_limit, tz: new Date(0).toString(),
  }));
};
'''

PROBES = {"python3.10": {"index.py": PY_PROBE}, "nodejs20": {"index.js": JS_PROBE}}


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def standbys_ready(srv: Server) -> int:
    return requests.get(srv.url + "/_emulator/standby", timeout=5).json()["instances"]


def probe(client, name: str, payload: bytes = b"probe") -> tuple[str, dict, list[str]]:
    """(instance id, what the function saw, its invocation's log without request id and durations)."""
    r = client.invoke_function("svc", name, payload=payload, headers={"x-fc-log-type": "Tail"})
    lines = base64.b64decode(r.headers["X-Fc-Log-Result"]).decode().splitlines()
    rid = r.headers["X-Fc-Request-Id"]
    return (r.headers["X-Fc-Instance-Id"], json.loads(r.data),
            [line.replace(rid, "<request>") for line in lines if not line.startswith("Duration: ")])


def fresh_and_taken(srv: Server, client, name: str = "fn", probe=probe, ready_timeout: float = 30.0) -> tuple:
    """The function's first call (a fresh start: its runtime's first use), then a call on a second instance,
    which takes the standby started meanwhile: ((id, seen, log) fresh, (id, seen, log) taken)."""
    fresh = probe(client, name)
    assert wait_for(lambda: standbys_ready(srv) == 1, ready_timeout), "no standby instance was started"
    hold = threading.Thread(target=client.invoke_function, args=("svc", name), kwargs={"payload": b"hold"})
    hold.start()  # keeps the fresh instance busy, so the next call needs a second instance
    time.sleep(0.5)
    taken = probe(client, name)
    hold.join()
    assert taken[0] != fresh[0]
    return fresh, taken


def same_instance_view(seen: dict, instance: str) -> dict:
    """What the function saw, with what differs between any two instances (their id, port) named."""
    text = json.dumps(seen, sort_keys=True).replace(instance, "<instance>")
    view = json.loads(text)
    for name in ("FC_SERVER_PORT", "FC_CUSTOM_LISTEN_PORT", "HOSTNAME"):  # HOSTNAME: Docker's container id
        if name in view["env"]:
            view["env"][name] = "<per instance>"
    return view


def owner_of(data: Path) -> str:
    return hashlib.sha256(str(data.resolve()).encode()).hexdigest()[:16]


def standby_processes(data: Path) -> list[int]:
    want = [f"FC_EMULATOR_OWNER={owner_of(data)}".encode(), b"FC_EMULATOR_STANDBY=1"]
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                env = Path(f"/proc/{name}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if all(w in env for w in want):
                found.append(int(name))
    return found


def standby_containers(data: Path) -> list:
    import docker
    engine = docker.from_env()
    try:
        return engine.containers.list(all=True, filters={"label": [f"fc-emulator.owner={owner_of(data)}",
                                                                    "fc-emulator.standby=1"]})
    finally:
        engine.close()


def left_standbys(backend: str, data: Path) -> list:
    return standby_processes(data) if backend == "process" else standby_containers(data)


@pytest.mark.parametrize("runtime", ["python3.10", "nodejs20"])
def test_a_standby_is_a_fresh_start(backend, runtime, tmp_path):
    """The same function on a fresh instance and on one taken from the standby pool sees the same."""
    srv = Server(tmp_path / "fc", "--executor", backend, "--standby", "1").start()
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, PROBES[runtime], runtime=runtime, memorySize=256,
               environmentVariables={"MINE": "1", "GREETING": "héllo wörld"})
        (fresh_id, fresh, fresh_log), (standby_id, taken, taken_log) = fresh_and_taken(srv, client)
        assert f"instance {standby_id} of svc/fn taken over from the standby pool" in srv.log()
        taken_view, fresh_view = same_instance_view(taken, standby_id), same_instance_view(fresh, fresh_id)
        assert taken_view["env"] == fresh_view["env"]
        assert taken_view == fresh_view
        assert taken_log == fresh_log
        assert taken["env"]["MINE"] == "1" and taken["env"]["GREETING"] == "héllo wörld"
        assert "FC_EMULATOR_STANDBY" not in taken["env"]
    finally:
        srv.stop()


def test_functions_never_see_each_others_configuration(backend, tmp_path):
    """Functions taking standbys one after another each get their own code, environment and memory limit."""
    srv = Server(tmp_path / "fc", "--executor", backend, "--standby", "1").start()
    try:
        client = fc_client(srv, new_account())
        configs = {"a": ({"A_ONLY": "a"}, 128), "b": ({"B_ONLY": "b"}, 512), "c": ({}, 256)}
        for name, (env, memory) in configs.items():
            deploy(client, tmp_path, {"index.py": PY_PROBE, f"{name}.txt": name}, name=name,
                   memorySize=memory, environmentVariables=env)
        for i, (name, (env, memory)) in enumerate(configs.items()):
            if i:  # the first one starts afresh, the others take a standby
                assert wait_for(lambda: standbys_ready(srv) == 1)
            instance, seen, _ = probe(client, name)
            assert (f"instance {instance} of svc/{name} taken over" in srv.log()) == bool(i)
            assert set(seen["files"]) - {"__pycache__"} == {"index.py", f"{name}.txt"}
            assert seen["env"]["FC_FUNCTION_NAME"] == name
            assert seen["env"]["FC_FUNCTION_MEMORY_SIZE"] == str(memory)
            others = {k for n, (e, _) in configs.items() if n != name for k in e}
            assert env.items() <= seen["env"].items() and not others & set(seen["env"])
            if backend == "docker":
                assert seen["cgroup"] == str(memory * 1024 * 1024)
            else:  # memorySize + 512 MB of address-space headroom + 8 MB per concurrent request
                assert seen["as"] == [(memory + 520) * 1024 * 1024] * 2
    finally:
        srv.stop()


def test_standbys_are_reclaimed_at_shutdown_and_after_kill9(backend, tmp_path):
    data = tmp_path / "fc"
    args = ("--executor", backend, "--standby", "1")
    srv = Server(data, *args).start()
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.py": PY_PROBE})
        probe(client, "fn")
        assert wait_for(lambda: standbys_ready(srv) == 1)
        assert len(left_standbys(backend, data)) == 1
    finally:
        srv.stop()
    assert wait_for(lambda: not left_standbys(backend, data), 10), "a standby outlived the emulator"

    srv = Server(data, *args).start()
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.py": PY_PROBE})
        probe(client, "fn")
        assert wait_for(lambda: standbys_ready(srv) == 1)
        srv.kill()
        if backend == "process":  # dies with the emulator (PR_SET_PDEATHSIG)
            assert wait_for(lambda: not left_standbys(backend, data), 10)
        else:  # a container stays until the next start on the same data dir
            assert len(left_standbys(backend, data)) == 1
        srv = Server(data, *args).start()
        assert not left_standbys(backend, data)
        assert not (data / "standby").exists() or not any((data / "standby").iterdir())
    finally:
        srv.stop()


def test_standby_zero_starts_none(tmp_path):
    srv = Server(tmp_path / "fc", "--executor", "process", "--standby", "0").start()
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.py": PY_PROBE})
        probe(client, "fn")
        time.sleep(0.5)
        assert requests.get(srv.url + "/_emulator/standby").json() == {
            "instances": 0, "runtimes": {}, "memoryMB": 0.0, "memoryLimitMB": 512, "count": 0, "countPerRuntime": {}}
        assert not standby_processes(tmp_path / "fc")
    finally:
        srv.stop()


def test_idle_standbys_are_reclaimed(tmp_path):
    """A runtime nobody started an instance of for the idle timeout loses its standbys."""
    srv = Server(tmp_path / "fc", "--executor", "process", "--standby", "1", "--instance-idle-timeout", "2").start()
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.py": PY_PROBE})
        probe(client, "fn")
        assert wait_for(lambda: standbys_ready(srv) == 1, 10)
        assert wait_for(lambda: standbys_ready(srv) == 0 and not standby_processes(tmp_path / "fc"), 10)
    finally:
        srv.stop()
