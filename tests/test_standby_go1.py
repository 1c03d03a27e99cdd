"""Standby instances of go1 (issue 13): a pre-started runtime-API bridge that becomes a function's instance
starts the function's binary at POST /assign exactly as a fresh bridge starts it at its own start (same argv,
environment, working folder, user, limits, signal state, file descriptors, first log), never carries one
function's configuration or binary into another's, refuses a binary that cannot start (the function then
starts afresh and fails as a fresh start does), and is reclaimed at shutdown and after a kill -9.

The probe is a small runtime-API client in Python (the go1 runtime runs any executable, as tests/test_go1.py
does); the real SDK's binary (../shared/fixtures/go1) checks the first log and the initializer."""
from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from tests.helpers import ROOT, Server, deploy, fc_client, free_port, new_account
from tests.test_standby import left_standbys, owner_of, standbys_ready, wait_for

FIXTURES = Path(os.environ.get("FC_EMULATOR_FIXTURES", ROOT.parent / "shared" / "fixtures")) / "go1"

# What the started binary sees, read the way a Go program would read it (os.Environ, os.Getwd, os.Args,
# syscall.Getrlimit, /proc/self/status for ids, groups, capabilities and signal state, /proc/self/fd).
PROBE = r'''#!/usr/bin/env python3
import json, os, sys, time, urllib.request
API = "http://" + os.environ["FC_RUNTIME_API"] + "/2020-11-11/runtime/invocation/"

def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None

def status():
    keep = ("Uid", "Gid", "Groups", "SigBlk", "SigIgn", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
            "NoNewPrivs", "Seccomp", "Cpus_allowed_list", "Umask")
    lines = (line.split(":", 1) for line in read("/proc/self/status").splitlines())
    return {k: v.strip() for k, v in lines if k in keep}

def fds():
    out = {}
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        out[fd] = target.split(":")[0] if target.startswith(("pipe:", "socket:", "anon_inode:")) else target
    return out

def report():
    parent = read("/proc/%d/cmdline" % os.getppid()) or ""
    return {"env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv, "files": sorted(os.listdir(".")),
            "status": status(), "limits": read("/proc/self/limits"), "fds": fds(),
            "cgroup": read("/sys/fs/cgroup/memory.max") or read("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
            "parent": parent.split("\0"), "parent_is_bridge": parent.endswith("bridge.py\0") or "bridge.py" in parent}

while True:
    with urllib.request.urlopen(API + "next") as r:
        rid, body = r.headers["x-fc-request-id"], r.read()
    if body == b"hold":
        time.sleep(2)
    print("FC Invoke Start RequestId: " + rid, flush=True)
    print("probe says hi", flush=True)
    result = json.dumps(report()).encode()
    print("FC Invoke End RequestId: " + rid, flush=True)
    urllib.request.urlopen(urllib.request.Request(API + rid + "/response", data=result, method="POST")).read()
'''

_STAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?Z?")


def start(tmp_path, backend: str, *args: str) -> Server:
    return Server(tmp_path / "fc", "--executor", backend, "--standby", "1", "--instance-idle-timeout", "60",
                  *args).start()


def deploy_go1(client, tmp_path, files: dict, handler: str, **kwargs) -> None:
    deploy(client, tmp_path, files, runtime="go1", handler=handler, executable=tuple(files), **kwargs)


def call(client, name: str, payload: bytes, service: str = "svc") -> tuple[str, bytes, list[str]]:
    """(instance id, answer, the invocation's log without request id, time stamps and duration line)."""
    r = client.invoke_function(service, name, payload=payload, headers={"x-fc-log-type": "Tail"})
    rid = r.headers["X-Fc-Request-Id"]
    lines = base64.b64decode(r.headers["X-Fc-Log-Result"]).decode().splitlines()
    return (r.headers["X-Fc-Instance-Id"], r.data.replace(rid.encode(), b"<request>"),
            [_STAMP.sub("<time>", line.replace(rid, "<request>")) for line in lines if not line.startswith("Duration: ")])


def fresh_then_standby(srv: Server, client, name: str, payload: bytes = b"probe"):
    """The function's first call (a fresh start), then a call while that instance is busy: a standby."""
    fresh = call(client, name, payload)
    assert wait_for(lambda: standbys_ready(srv) == 1), "no standby instance was started"
    hold = threading.Thread(target=client.invoke_function, args=("svc", name), kwargs={"payload": b"hold"})
    hold.start()  # keeps the fresh instance busy, so the next call needs a second instance
    time.sleep(0.5)
    taken = call(client, name, payload)
    hold.join()
    assert taken[0] != fresh[0]
    assert f"instance {taken[0]} of svc/{name} taken over from the standby pool" in srv.log()
    return fresh, taken


def view(seen: dict, instance: str) -> dict:
    """What the binary saw, with what differs between any two instances (id, ports, container name) named."""
    seen = json.loads(json.dumps(seen).replace(instance, "<instance>"))
    for name in ("FC_SERVER_PORT", "FC_CUSTOM_LISTEN_PORT", "HOSTNAME", "FC_RUNTIME_API"):
        if name in seen["env"]:
            seen["env"][name] = "<per instance>"
    return seen


def test_a_standby_starts_the_binary_as_a_fresh_start_does(backend, tmp_path):
    srv = start(tmp_path, backend)
    try:
        client = fc_client(srv, new_account())
        deploy_go1(client, tmp_path, {"probe": PROBE, "data.txt": "x"}, "probe", memorySize=256,
                   environmentVariables={"MINE": "1", "GREETING": "héllo wörld", "GOGC": "50"})
        (fresh_id, fresh, fresh_log), (taken_id, taken, taken_log) = fresh_then_standby(srv, client, "fn")
        fresh, taken = view(json.loads(fresh), fresh_id), view(json.loads(taken), taken_id)
        assert taken["env"] == fresh["env"]
        assert taken == fresh
        assert taken_log == fresh_log == ["FC Invoke Start RequestId: <request>", "probe says hi",
                                          "FC Invoke End RequestId: <request>"]
        assert taken["env"]["MINE"] == "1" and taken["env"]["GREETING"] == "héllo wörld"
        assert taken["env"]["GOGC"] == "50"  # read by the Go runtime at the binary's start: honoured
        assert "FC_EMULATOR_STANDBY" not in taken["env"]
        assert len(taken["argv"]) == 1 and taken["argv"][0].endswith("/probe")
        assert taken["parent_is_bridge"] and taken["fds"]["0"] == "/dev/null"
        if backend == "docker":
            assert taken["cwd"] == "/code" and taken["cgroup"] == str(256 * 1024 * 1024)
    finally:
        srv.stop()


def test_the_sdks_binary_from_a_standby_logs_and_initializes_as_a_fresh_one(backend, tmp_path):
    """The same SDK function in two services: the first starts afresh, the second takes the standby."""
    srv = start(tmp_path, backend)
    try:
        client = fc_client(srv, new_account())
        for service in ("one", "two"):
            deploy(client, tmp_path, {"main": (FIXTURES / "event-main").read_bytes()}, service=service,
                   runtime="go1", handler="main", executable=("main",), initializer="main.initialize")
        payload = json.dumps({"name": "x"}).encode()
        fresh_id, fresh, fresh_log = call(client, "fn", payload, "one")
        assert wait_for(lambda: standbys_ready(srv) == 1)
        taken_id, taken, taken_log = call(client, "fn", payload, "two")
        assert f"instance {taken_id} of two/fn taken over from the standby pool" in srv.log()
        assert f"instance {fresh_id} of one/fn taken over" not in srv.log()
        assert json.loads(taken) == json.loads(fresh) == {"greeting": "hello x", "requestId": "<request>",
                                                          "function": "fn", "inits": 1, "calls": 1}
        assert taken_log == fresh_log
        assert "FC Initialize Start RequestId: <request>" in taken_log and "initialized" in taken_log
    finally:
        srv.stop()


def test_functions_never_see_each_others_binary_or_configuration(backend, tmp_path):
    srv = start(tmp_path, backend)
    try:
        client = fc_client(srv, new_account())
        configs = {"a": ({"A_ONLY": "a"}, 128), "b": ({"B_ONLY": "b"}, 512), "c": ({}, 256)}
        for name, (env, memory) in configs.items():  # each its own binary name: named at assignment
            deploy_go1(client, tmp_path, {f"{name}-main": PROBE, f"{name}.txt": name}, f"{name}-main", name=name,
                       memorySize=memory, environmentVariables=env)
        for i, (name, (env, memory)) in enumerate(configs.items()):
            if i:  # the first one starts afresh, the others take a standby
                assert wait_for(lambda: standbys_ready(srv) == 1)
            instance, answer, _ = call(client, name, b"probe")
            seen = json.loads(answer)
            assert (f"instance {instance} of svc/{name} taken over" in srv.log()) == bool(i)
            assert seen["files"] == sorted([f"{name}-main", f"{name}.txt"])
            assert seen["argv"][0].endswith(f"/{name}-main")
            assert seen["env"]["FC_FUNCTION_NAME"] == name and seen["env"]["FC_FUNCTION_HANDLER"] == f"{name}-main"
            assert seen["env"]["FC_FUNCTION_MEMORY_SIZE"] == str(memory)
            others = {k for n, (e, _) in configs.items() if n != name for k in e}
            assert env.items() <= seen["env"].items() and not others & set(seen["env"])
            if backend == "docker":
                assert seen["cgroup"] == str(memory * 1024 * 1024)
    finally:
        srv.stop()


def test_a_binary_that_cannot_start_fails_as_on_a_fresh_start(backend, tmp_path):
    """The standby refuses it and exits; the function starts afresh and reports why, without host paths."""
    srv = start(tmp_path, backend)
    try:
        account = new_account()
        client = fc_client(srv, account)
        deploy_go1(client, tmp_path, {"probe": PROBE}, "probe", name="good")
        deploy(client, tmp_path, {"main": (FIXTURES / "event-main").read_bytes()}, name="missing",
               runtime="go1", handler="nope", executable=("main",))
        deploy(client, tmp_path, {"main": "#!/bin/sh\necho 'cannot start'\nexit 3\n"}, name="exits",
               runtime="go1", handler="main", executable=("main",))
        call(client, "good", b"probe")
        url = f"{srv.url}/2016-08-15/services/svc/functions/%s/invocations"
        headers = {"X-Fc-Account-Id": account}
        for name, words in (("missing", ("/code/nope", "does not exist")),
                            ("exits", ("exited before it was ready", "cannot start"))):
            assert wait_for(lambda: standbys_ready(srv) == 1)
            r = requests.post(url % name, data=b"{}", headers=headers, timeout=60)
            assert r.status_code == 412, (r.text, srv.log()[-4000:])
            message = r.json()["ErrorMessage"]
            assert r.json()["ErrorCode"] == "FunctionNotStarted"
            assert all(w in message for w in words), message
            assert str(srv.data_dir) not in message and str(ROOT) not in message, message
            assert re.search(rf"standby instance \S+ could not take {name}: the standby instance refused", srv.log())
        # the good function still takes a standby
        assert wait_for(lambda: standbys_ready(srv) == 1)
        hold = threading.Thread(target=client.invoke_function, args=("svc", "good"), kwargs={"payload": b"hold"})
        hold.start()
        time.sleep(0.5)
        instance, _, _ = call(client, "good", b"probe")
        hold.join()
        assert f"instance {instance} of svc/good taken over from the standby pool" in srv.log()
    finally:
        srv.stop()


def _owned_processes(data: Path) -> list[int]:
    """Every process carrying the emulator's owner marker: bridges and the binaries they started."""
    want = f"FC_EMULATOR_OWNER={owner_of(data)}".encode()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if want in Path(f"/proc/{name}/environ").read_bytes().split(b"\0"):
                    found.append(int(name))
            except OSError:
                pass
    return found


def _owned_containers(data: Path) -> list:
    import docker
    engine = docker.from_env()
    try:
        return engine.containers.list(all=True, filters={"label": [f"fc-emulator.owner={owner_of(data)}"]})
    finally:
        engine.close()


def test_standbys_and_their_binaries_are_reclaimed_at_shutdown_and_after_kill9(backend, tmp_path):
    data = tmp_path / "fc"
    account = new_account()
    srv = start(tmp_path, backend)
    try:
        client = fc_client(srv, account)
        deploy_go1(client, tmp_path, {"probe": PROBE}, "probe")
        fresh_then_standby(srv, client, "fn")  # a taken standby: a bridge and its binary
        assert wait_for(lambda: standbys_ready(srv) == 1)
        if backend == "process":
            assert len(_owned_processes(data)) >= 5  # two instances (bridge + binary each), one standby
    finally:
        srv.stop()
    assert wait_for(lambda: not left_standbys(backend, data), 10), "a standby outlived the emulator"
    if backend == "process":
        assert wait_for(lambda: not _owned_processes(data), 10), "a bridge or binary outlived the emulator"

    srv = start(tmp_path, backend)
    try:
        client = fc_client(srv, account)
        fresh_then_standby(srv, client, "fn")
        assert wait_for(lambda: standbys_ready(srv) == 1)
        srv.kill()
        if backend == "process":  # bridges die with the emulator, binaries with their bridge (PR_SET_PDEATHSIG)
            assert wait_for(lambda: not _owned_processes(data), 10), "a bridge or binary outlived a kill -9"
        else:  # containers stay until the next start on the same data dir: two instances, one standby
            assert len(_owned_containers(data)) == 3
        srv = start(tmp_path, backend)
        assert not left_standbys(backend, data)
        if backend == "docker":
            assert not _owned_containers(data)
        assert not (data / "standby").exists() or not any((data / "standby").iterdir())
    finally:
        srv.stop()


def test_the_bridge_waits_for_its_function(tmp_path):
    """The standby protocol of the bridge itself (docs/runtime-protocol.md), started as the process backend
    starts it: 400 before /assign, a bad assignment refused, 200 once the binary asks for its first
    invocation, /assign unknown afterwards, and the environment of the assignment only."""
    code = tmp_path / "code"
    code.mkdir()
    # straight to an interpreter: a version manager's `python3` shim on PATH adds its own variables
    (code / "probe").write_text(PROBE.replace("/usr/bin/env python3", os.path.realpath(sys.executable), 1))
    (code / "probe").chmod(0o755)
    port = free_port()
    first = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "FC_SERVER_PORT": str(port),
             "FC_SERVER_HOST": "127.0.0.1", "FC_INSTANCE_ID": "i-1", "FC_EMULATOR_STANDBY": "1"}
    bridge = subprocess.Popen([sys.executable, "-W", "ignore", str(ROOT / "runtimes" / "go1" / "bridge.py")],
                              env=first, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _answers(base), 10)
        r = requests.post(base + "/invoke", data=b"{}", headers={"x-fc-request-id": "r0"}, timeout=5)
        assert r.status_code == 400 and r.json() == {"errorMessage": "this standby instance has no function yet"}
        r = requests.post(base + "/assign", data=b'{"env": ["x"]}', timeout=5)
        assert r.status_code == 400
        env = {"FC_FUNC_CODE_PATH": str(code), "FC_FUNCTION_HANDLER": "probe", "FC_SERVER_PORT": str(port),
               "MINE": "yes"}
        r = requests.post(base + "/assign", json={"env": env}, timeout=30)
        assert r.status_code == 200 and r.json() == {}
        r = requests.post(base + "/assign", json={"env": env}, timeout=5)
        assert r.status_code == 400 and r.json() == {"errorMessage": "unknown path"}
        r = requests.post(base + "/invoke", data=b"probe", headers={"x-fc-request-id": "r1"}, timeout=10)
        assert r.status_code == 200, r.text
        seen = r.json()
        assert seen["cwd"] == str(code) and seen["argv"] == [str(code / "probe")]
        assert set(seen["env"]) == set(first) - {"FC_EMULATOR_STANDBY"} | set(env) | {"FC_RUNTIME_API"}
        assert seen["env"]["MINE"] == "yes"
        bridge.send_signal(signal.SIGTERM)
        assert bridge.wait(5) == 143
    finally:
        if bridge.poll() is None:
            bridge.kill()
            bridge.wait()


def test_a_standby_bridge_refuses_a_binary_that_exits_and_ends(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "main").write_text("#!/bin/sh\nexit 3\n")
    (code / "main").chmod(0o755)
    port = free_port()
    first = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "FC_SERVER_PORT": str(port),
             "FC_SERVER_HOST": "127.0.0.1", "FC_EMULATOR_STANDBY": "1"}
    bridge = subprocess.Popen([sys.executable, "-W", "ignore", str(ROOT / "runtimes" / "go1" / "bridge.py")],
                              env=first, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _answers(base), 10)
        r = requests.post(base + "/assign", json={"env": {"FC_FUNC_CODE_PATH": str(code),
                                                          "FC_FUNCTION_HANDLER": "main"}}, timeout=30)
        assert r.status_code == 400
        assert r.json() == {"errorMessage": "the function's binary exited before asking for an invocation"}
        assert bridge.wait(5) == 3
        assert bridge.stdout.read() == b""  # the fresh start that follows says why, in the function's log
    finally:
        if bridge.poll() is None:
            bridge.kill()
            bridge.wait()


def _answers(base: str) -> bool:
    try:
        requests.get(base + "/", timeout=1)
        return True
    except requests.ConnectionError:
        return False
