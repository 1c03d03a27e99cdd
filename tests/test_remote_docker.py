"""Instances on a Docker engine that is not the emulator's own (issue 15): a second dockerd on this host, on
tcp://127.0.0.1:<port> with its own data root, exec root and bridge, stands in for a remote host. Code, layers
and agents reach its containers without a bind mount of the emulator's folders (checked by inspecting them),
output comes over TCP, ports are published on that engine, and its containers and volumes are swept by label.

The engine needs root (a bridge interface, overlay mounts): skipped otherwise, a failure under CI=true or
FC_EMULATOR_TEST_DOCKER=1. Images are copied into it with `docker save | docker load` (about 10 s each here).
"""
from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import docker
import pytest
import requests

from tests.helpers import AK_ID, AK_SECRET, Server, deploy, docker_problem, fc_client, free_port, new_account, \
    zip_b64

IMAGES = ("fc-emulator/python3.9:latest", "fc-emulator/nodejs18:latest")  # only what the tests run
LABEL = "fc-emulator"


def _unusable(reason: str, required: bool = False):
    if required or os.environ.get("CI") == "true":
        pytest.fail(f"remote Docker tests required but not possible: {reason}")
    pytest.skip(reason)


def _free_subnet() -> str:
    """A /24 for the engine's bridge that no route of this host uses yet (the bridge needs one; instances
    are never reached at it, only through ports the engine publishes on 127.0.0.1)."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    for third in range(213, 250):
        if f"10.{third}." not in routes:
            return f"10.{third}.0"
    raise RuntimeError("no free 10.x.0.0/24 for the test engine's bridge")


class Engine:
    """A second dockerd: TCP only (no Unix socket that could shadow the host's), its own data root, exec
    root (and so its own containerd), pid file and bridge; no iptables rules (they would clash with the
    first engine's): published ports go through the engine's userland proxy."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="fcrd-"))  # short: containerd's socket path lives under it
        self.port = free_port()
        self.url = f"tcp://127.0.0.1:{self.port}"
        self.bridge = f"fcrd{os.getpid() % 100000}"
        self.proc: subprocess.Popen | None = None
        self.timings: dict[str, float] = {}

    def start(self) -> "Engine":
        subnet = _free_subnet()
        subprocess.run(["ip", "link", "add", self.bridge, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", f"{subnet}.1/24", "dev", self.bridge], check=True)
        subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True)
        t0 = time.monotonic()
        self.log = open(self.dir / "dockerd.log", "wb")
        self.proc = subprocess.Popen(
            ["dockerd", "-H", self.url, "--data-root", str(self.dir / "data"), "--exec-root", str(self.dir / "exec"),
             "--pidfile", str(self.dir / "dockerd.pid"), "--bridge", self.bridge, "--iptables=false",
             "--ip6tables=false", "--ip-masq=false"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.client = docker.DockerClient(base_url=self.url, timeout=120)  # asks the engine's version
                break
            except Exception:  # noqa: BLE001 - not up yet
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the test engine did not start:\n{(self.dir / 'dockerd.log').read_text()[-2000:]}")
                time.sleep(0.2)
        self.timings["engine start s"] = time.monotonic() - t0
        for image in IMAGES:
            t0 = time.monotonic()
            save = subprocess.Popen(["docker", "-H", "unix:///var/run/docker.sock", "save", image],
                                    stdout=subprocess.PIPE)
            subprocess.run(["docker", "-H", self.url, "load", "-q"], stdin=save.stdout, check=True,
                           stdout=subprocess.DEVNULL)
            save.stdout.close()
            assert save.wait() == 0, f"docker save {image} failed"
            self.timings[f"load {image} s"] = time.monotonic() - t0
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # dockerd stops its containers, its containerd and unmounts
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        with open("/proc/mounts") as f:  # whatever a killed engine left mounted under its folders
            left = [line.split()[1] for line in f if line.split()[1].startswith(str(self.dir))]
        for mount in sorted(left, reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def engine():
    if os.geteuid() != 0:
        _unusable("a second Docker engine needs root")
    docker_required = os.environ.get("FC_EMULATOR_TEST_DOCKER") == "1"
    for tool in ("dockerd", "ip"):
        if not shutil.which(tool):
            _unusable(f"{tool} is not installed", docker_required)
    problem = docker_problem()
    if problem:
        _unusable(f"the local Docker engine is not usable: {problem}", docker_required)
    eng = Engine()
    try:
        eng.start()
        print(f"\nremote test engine {eng.url}: " + ", ".join(f"{k} {v:.1f}" for k, v in eng.timings.items()))
        yield eng
    finally:
        eng.stop()


@pytest.fixture(scope="module")
def remote_server(engine, tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("remote") / "fc", "--executor", "docker", "--access-key",
                 f"{AK_ID}:{AK_SECRET}", "--instance-idle-timeout", "120",
                 env={"DOCKER_HOST": engine.url}).start()
    yield srv
    srv.stop()


def _ours(engine: Engine, service: str) -> list:
    return [c for c in engine.client.containers.list(all=True, filters={"label": LABEL})
            if c.labels.get(f"{LABEL}.function", "").startswith(f"{service}/")]


def _assert_no_bind_mounts(container, server: Server) -> None:
    attrs = container.attrs
    assert not attrs["HostConfig"].get("Binds"), attrs["HostConfig"]["Binds"]
    mounts = {m["Destination"]: m for m in attrs["Mounts"]}
    assert all(m["Type"] == "volume" for m in mounts.values()), mounts
    for target in ("/code", "/var/fc/runtime"):
        assert mounts[target]["RW"] is False, mounts[target]
    emulator_paths = (str(server.data_dir), str(server.data_dir.resolve()), str(Path(__file__).parents[1]))
    for m in mounts.values():
        assert not m["Source"].startswith(emulator_paths), m
    ports = attrs["HostConfig"]["PortBindings"]
    assert [b["HostIp"] for bindings in ports.values() for b in bindings] == ["127.0.0.1"], ports


PY_SRC = """import os

def handler(event, context):
    print('python says hi')
    try:
        open('/code/new.txt', 'w')
        writable = 'writable'
    except OSError as exc:
        writable = 'read-only' if exc.errno == 30 else str(exc)
    import lib
    return '|'.join([writable, lib.NAME, ','.join(sorted(os.listdir('/var/fc/runtime'))),
                     str(os.path.isdir('/var/fc/runtime/java/classes'))])
"""


def test_python_with_a_layer_runs_on_the_remote_engine_without_bind_mounts(engine, remote_server):
    account = new_account()
    http = requests.Session()
    http.headers["X-Fc-Account-Id"] = account
    api = f"{remote_server.url}/2016-08-15"
    r = http.post(f"{api}/layers/lib/versions", json={"code": {"zipFile": zip_b64({"python/lib.py": "NAME = 'layer'\n"})},
                                                     "compatibleRuntime": ["python3.9"]})
    assert r.status_code == 200, r.text
    layer = r.json()["arn"]
    assert http.post(f"{api}/services", json={"serviceName": "rd-py"}).status_code == 200
    r = http.post(f"{api}/services/rd-py/functions", json={
        "functionName": "fn", "runtime": "python3.9", "handler": "index.handler", "memorySize": 128,
        "timeout": 10, "code": {"zipFile": zip_b64({"index.py": PY_SRC})}, "layers": [layer]})
    assert r.status_code == 200, r.text

    fc = fc_client(remote_server, account)
    t0 = time.monotonic()
    r = fc.invoke_function("rd-py", "fn", payload=b"{}", headers={"x-fc-log-type": "Tail"})
    cold = time.monotonic() - t0
    writable, layer_name, agents, java_agent = r.data.decode().split("|")
    assert writable == "read-only" and layer_name == "layer"  # /code read-only, the layer at /opt
    assert {"python", "nodejs", "java", "dotnet"} <= set(agents.split(","))  # the whole runtimes copy
    compiled = any((remote_server.data_dir / "runtimes").glob("*/java/classes"))
    assert java_agent == str(compiled)  # the compiled Java agent travels with the rest (when javac built it)
    tail = base64.b64decode(r.headers["x-fc-log-result"]).decode()
    assert "python says hi" in tail  # the container's output, read over TCP
    t0 = time.monotonic()
    assert fc.invoke_function("rd-py", "fn", payload=b"{}").data == r.data
    warm = time.monotonic() - t0
    print(f"\nremote python: cold {cold * 1000:.0f} ms, warm {warm * 1000:.1f} ms")

    containers = _ours(engine, "rd-py")
    assert len(containers) == 1
    _assert_no_bind_mounts(containers[0], remote_server)
    assert {m["Destination"] for m in containers[0].attrs["Mounts"]} == {"/code", "/opt", "/var/fc/runtime"}
    local = docker.from_env()
    try:  # nothing of this function on the emulator's own engine
        assert not [c for c in local.containers.list(all=True, filters={"label": f"{LABEL}.function=rd-py/fn"})]
    finally:
        local.close()
    status = requests.get(f"{remote_server.url}/_emulator/standby").json()
    assert status["instances"] == 0  # standby instances are not kept on a remote engine


def test_nodejs_runs_on_the_remote_engine(engine, remote_server, tmp_path):
    fc = fc_client(remote_server, new_account())
    deploy(fc, tmp_path, {"index.js": "exports.handler = (e, c, cb) => { console.log('node says hi'); "
                                      "cb(null, process.version + ' ' + require('fs').readdirSync('/code')); };"},
           service="rd-node", runtime="nodejs18")
    r = fc.invoke_function("rd-node", "fn", payload=b"{}", headers={"x-fc-log-type": "Tail"})
    assert r.data.decode().startswith("v18.") and r.data.decode().endswith(" index.js")
    assert "node says hi" in base64.b64decode(r.headers["x-fc-log-result"]).decode()
    containers = _ours(engine, "rd-node")
    assert len(containers) == 1
    _assert_no_bind_mounts(containers[0], remote_server)


def test_same_code_is_copied_once(engine, remote_server, tmp_path):
    """Two functions with the same package share one code volume on the engine."""
    fc = fc_client(remote_server, new_account())
    files = {"index.py": "def handler(event, context):\n    return 'same'\n"}
    for name in ("a", "b"):
        deploy(fc, tmp_path, files, service="rd-same", name=name, runtime="python3.9")
        assert fc.invoke_function("rd-same", name).data == b"same"
    code = [{m["Name"] for m in c.attrs["Mounts"] if m["Destination"] == "/code"} for c in _ours(engine, "rd-same")]
    assert len(code) == 2 and code[0] == code[1]


def test_orphans_on_the_remote_engine_are_swept_by_label(engine, tmp_path):
    """A kill -9 leaves containers and volumes on the engine; the next start on the same data dir removes
    them, and a clean shutdown leaves nothing."""
    srv = Server(tmp_path / "fc", "--executor", "docker", "--access-key", f"{AK_ID}:{AK_SECRET}",
                 env={"DOCKER_HOST": engine.url}).start()
    fc = fc_client(srv, new_account())
    deploy(fc, tmp_path, {"index.py": "def handler(event, context):\n    return 'orphan'\n"}, service="rd-orphan",
           runtime="python3.9")
    assert fc.invoke_function("rd-orphan", "fn").data == b"orphan"
    left = _ours(engine, "rd-orphan")
    assert len(left) == 1
    owner = left[0].labels[f"{LABEL}.owner"]
    volumes = engine.client.volumes.list(filters={"label": f"{LABEL}.owner={owner}"})
    assert len(volumes) == 2  # the runtimes copy and the code
    srv.kill()
    assert _ours(engine, "rd-orphan")

    srv = Server(tmp_path / "fc", "--executor", "docker", "--access-key", f"{AK_ID}:{AK_SECRET}",
                 env={"DOCKER_HOST": engine.url}).start()
    try:
        assert not _ours(engine, "rd-orphan")
        assert not engine.client.volumes.list(filters={"label": f"{LABEL}.owner={owner}"})
        assert "removed 1 instance(s)" in srv.log()
        fc = fc_client(srv, fc.account_id)
        assert fc.invoke_function("rd-orphan", "fn").data == b"orphan"  # volumes filled again
    finally:
        srv.stop()
    assert not engine.client.containers.list(all=True, filters={"label": f"{LABEL}.owner={owner}"})
    assert not engine.client.volumes.list(filters={"label": f"{LABEL}.owner={owner}"})


def test_local_folder_code_is_copied_per_instance(engine, remote_server, tmp_path):
    """Hot reload on a remote engine: the folder is copied into a volume of the instance's own at its start;
    an edit retires the instance, and the next one gets the new files; its volume goes with it."""
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "index.py").write_text("def handler(event, context):\n    return open('/code/v.txt').read()\n")
    (folder / "v.txt").write_text("v1")
    fc = fc_client(remote_server, new_account())
    fc.create_service("rd-hot")
    fc.create_function("rd-hot", "fn", "python3.9", "index.handler", codeOSSBucket="local",
                       codeOSSObject=str(folder), memorySize=128, timeout=10)
    assert fc.invoke_function("rd-hot", "fn").data == b"v1"
    first = _ours(engine, "rd-hot")
    assert len(first) == 1
    _assert_no_bind_mounts(first[0], remote_server)
    volume = next(m["Name"] for m in first[0].attrs["Mounts"] if m["Destination"] == "/code")

    tmp = folder / "v.tmp"
    tmp.write_text("v2")
    tmp.replace(folder / "v.txt")
    deadline = time.monotonic() + 10
    while _ours(engine, "rd-hot") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _ours(engine, "rd-hot"), "the instance was not retired after the edit"
    assert fc.invoke_function("rd-hot", "fn").data == b"v2"
    assert volume not in {v.name for v in engine.client.volumes.list()}  # the old instance's copy is gone


def test_instance_exec_on_the_remote_engine(engine, remote_server, tmp_path):
    """InstanceExec reaches the container through the engine's TCP API (stdout and stderr apart); /code is read-only."""
    from tests.test_instances import Session  # one InstanceExec session through aliyun-fc2
    fc = fc_client(remote_server, new_account())
    deploy(fc, tmp_path, {"index.py": "def handler(event, context):\n    return 'up'\n"}, runtime="python3.9")
    r = fc.invoke_function("svc", "fn")
    assert r.data == b"up"
    s = Session(fc, r.headers["X-Fc-Instance-Id"], ["sh", "-c", "grep ' /code ' /proc/mounts; echo err >&2"]).run()
    fields = s.out.split()
    assert fields[1] == "/code" and "ro" in fields[3].split(","), s.out
    assert s.err == "err\n" and s.server_errors() == []
