#!/usr/bin/env python3
"""Invocation benchmark: warm latency, emulator overhead, cold start and throughput, per backend.

    python3 bench/invoke.py [--backend process|docker|both] [--quick]

For each backend it starts its own emulator (loopback, free port, fresh data dir) and measures:
1. warm sync invoke latency (p50/p99) of a trivial Python handler through aliyun-fc2 and through
   raw kept-alive HTTP (X-Fc-Account-Id, no signature), and the same call through FC 3.0's InvokeFunction
   (POST /2023-03-30/functions/f/invocations: latency and emulator CPU within 10% of FC 2.0's);
2. the same call made straight to a runtime agent started the way the backend starts it (the floor);
   emulator overhead = p50(raw HTTP via emulator) - p50(direct agent);
3. cold start: the first invocation of a fresh function (median of samples) against a bare start of
   the agent (`docker run` / a process) until it has answered its first call;
4. throughput at concurrency 1, 8, 32 (instanceConcurrency 32), raw HTTP, with an asyncio client
   whose own ceiling is measured against the direct agent and against a null HTTP server.
Results are printed as a markdown table, with the targets beside them.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.helpers import Server, fc_client, free_port, write_zip  # noqa: E402

ACCOUNT = "1888000000000001"
RUNTIME = "python3.9"
PAYLOAD = b'{"name": "v"}'
BENCH_LABEL = "fc-emulator-bench"
MEMORY_MB = 128
GO1_FIXTURE = ROOT.parent / "shared" / "fixtures" / "go1" / "event-main"
JAVA_FIXTURE = ROOT.parent / "shared" / "fixtures" / "java" / "java8-1.0.0.jar"


@dataclass(frozen=True)
class Workload:
    """A trivial function of one runtime family: its files (name -> text or bytes), handler, initializer."""
    runtime: str
    files: dict
    handler: str
    initializer: str = ""


def workload(runtime: str) -> Workload:
    if runtime.startswith("python"):
        return Workload(runtime, {"index.py": "def handler(event, context):\n    return 'ok'\n"}, "index.handler")
    if runtime.startswith("nodejs"):
        return Workload(runtime, {"index.js": "exports.handler = function (event, context, callback) {\n"
                                              "  callback(null, 'ok');\n};\n"}, "index.handler")
    if runtime == "go1":  # a real go1 binary built with FC's Go SDK (shared/fixtures/go1)
        return Workload(runtime, {"event-main": GO1_FIXTURE.read_bytes()}, "event-main", "")
    if runtime.startswith("java"):  # FC's demo fat jar (shared/fixtures/java): a StreamRequestHandler
        return Workload(runtime, {"java8-1.0.0.jar": JAVA_FIXTURE.read_bytes()}, "examples.Hello::handleRequest")
    if runtime.startswith("dotnetcore"):  # a static Stream handler, compiled here with mcs (tests/test_dotnet.py)
        return Workload(runtime, {"Bench.dll": dotnet_function()}, "Bench::Bench.Fn::Handler")
    if runtime.startswith("php"):
        return Workload(runtime, {"index.php": "<?php\nfunction handler($event, $context) {\n    return 'ok';\n}\n"},
                        "index.handler")
    raise SystemExit(f"no bench workload for runtime {runtime}")


def dotnet_function() -> bytes:
    """Bench.dll: `public static Stream Handler(Stream input)` answering ok."""
    from emulator.execution import dotnet_agent
    mcs, framework = dotnet_agent.mcs(), dotnet_agent.framework_dir()
    if not mcs or not framework:
        raise SystemExit("dotnetcore runtimes need mcs and the .NET Core 3.1 runtime (see scripts/test)")
    with tempfile.TemporaryDirectory() as d:
        src, out = Path(d) / "Bench.cs", Path(d) / "Bench.dll"
        src.write_text("using System.IO;\nnamespace Bench {\n  public class Fn {\n    public static Stream Handler("
                       "Stream input) { return new MemoryStream(new byte[] { 111, 107 }); }\n  }\n}\n")
        subprocess.run([mcs, "-nostdlib", "-noconfig", "-target:library", f"-out:{out}",
                        *dotnet_agent.references(framework), str(src)], check=True, capture_output=True, timeout=300)
        return out.read_bytes()


def spec_for(w: Workload, code_dir: Path):
    """An InstanceSpec like the emulator's, to start the agent the way the backend does."""
    from emulator.execution.spec import InstanceSpec
    return InstanceSpec(account=ACCOUNT, region="cn-hangzhou", service="s", function="f", qualifier="LATEST",
                        version_id="LATEST", runtime=w.runtime, handler=w.handler, initializer=w.initializer,
                        timeout=3, initialization_timeout=3, memory_mb=MEMORY_MB, concurrency=1, ca_port=9000,
                        code_checksum="", revision="", code_dir=code_dir)

TARGETS = {"warm_p50": 3.0, "overhead": 1.0, "cold_ratio": 0.5, "cpu": 0.5, "tput32_ratio": 0.7}  # issue 13
FC3_RATIO = 1.10  # issue 11: an FC 3.0 warm invoke costs what an FC 2.0 one does, within 10%


@dataclass
class Profile:
    calls: int          # latency samples per series
    series_budget: float  # seconds per latency series
    cold_samples: int
    level_calls: int    # throughput: calls per concurrency level
    level_budget: float  # seconds per concurrency level
    pairs: int          # concurrency 32: rounds of (direct agent, via emulator), interleaved
    pair_calls: int     # calls per side and round
    pair_budget: float  # seconds per side and round


FULL = Profile(calls=2000, series_budget=30, cold_samples=5, level_calls=3000, level_budget=5,
               pairs=3, pair_calls=12000, pair_budget=4)
QUICK = Profile(calls=300, series_budget=8, cold_samples=3, level_calls=1000, level_budget=1.5,
                pairs=1, pair_calls=3000, pair_budget=1.5)


# ------------------------------------------------------------------ statistics


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its reaped children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def series(call, profile: Profile, warmup: int = 30) -> list[float]:
    """Latencies (ms) of `call`, sequential, bounded in count and time."""
    for _ in range(warmup):
        call()
    out = []
    deadline = time.perf_counter() + profile.series_budget
    while len(out) < profile.calls and time.perf_counter() < deadline:
        t = time.perf_counter()
        call()
        out.append((time.perf_counter() - t) * 1000)
    return out


# ------------------------------------------------------------------ the agent, started by hand


def agent_headers(request_id: str, function: str = "f", handler: str = "index.handler") -> dict[str, str]:
    """What the emulator sends with /invoke (docs/runtime-protocol.md)."""
    return {
        "x-fc-request-id": request_id, "x-fc-access-key-id": "local-access-key-id",
        "x-fc-access-key-secret": "local-access-key-secret", "x-fc-security-token": "",
        "x-fc-function-name": function, "x-fc-function-handler": handler,
        "x-fc-function-memory": str(MEMORY_MB), "x-fc-function-timeout": "3", "x-fc-function-initializer": "",
        "x-fc-initialization-timeout": "3", "x-fc-region": "cn-hangzhou", "x-fc-account-id": ACCOUNT,
        "x-fc-qualifier": "LATEST", "x-fc-version-id": "", "x-fc-service-name": "s",
        "x-fc-service-logproject": "", "x-fc-service-logstore": "", "x-fc-control-path": "/invoke",
        "x-fc-retry-count": "0", "content-type": "application/octet-stream",
    }


def agent_env(w: Workload, code_dir: str, port: int, host: str, tmp: str | None = None) -> dict[str, str]:
    env = {
        "LANG": "C.UTF-8", "FC_FUNC_CODE_PATH": code_dir, "FC_SERVER_PORT": str(port), "FC_SERVER_HOST": host,
        "FC_CUSTOM_LISTEN_PORT": str(port), "FC_ACCOUNT_ID": ACCOUNT, "FC_REGION": "cn-hangzhou",
        "FC_SERVICE_NAME": "s", "FC_FUNCTION_NAME": "f", "FC_FUNCTION_HANDLER": w.handler,
        "FC_FUNCTION_MEMORY_SIZE": str(MEMORY_MB), "FC_QUALIFIER": "LATEST", "FC_INSTANCE_ID": "bench",
        "FC_RUNTIME": w.runtime, "ALIBABA_CLOUD_ACCESS_KEY_ID": "local-access-key-id",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "local-access-key-secret", "ALIBABA_CLOUD_SECURITY_TOKEN": "",
    }
    if tmp:
        env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), HOME=tmp, TMPDIR=tmp)
    return env


def first_answer(port: int, handler: str, budget: float = 60) -> None:
    """Poll until the agent answers an /invoke (docker-proxy accepts before the agent listens)."""
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("POST", "/invoke", body=PAYLOAD, headers=agent_headers(uuid.uuid4().hex, handler=handler))
            r = conn.getresponse()
            r.read()
            if r.status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        time.sleep(0.002)
    raise RuntimeError(f"agent on port {port} never answered")


class Agent:
    """One runtime agent with the handler, started like the backend starts it (same command line, image,
    environment and mounts), with no emulator in between."""

    def __init__(self, backend: str, work: Path, w: Workload):
        self.backend = backend
        self.w = w
        self.code = work / f"code-{uuid.uuid4().hex[:6]}"
        self.code.mkdir(parents=True)
        for name, content in w.files.items():
            path = self.code / name
            if isinstance(content, bytes):
                path.write_bytes(content)
                path.chmod(0o755)
            else:
                path.write_text(content)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.container = None

    def start(self) -> float:
        """Start it and wait for its first answer; the seconds that took (the bare start)."""
        from emulator.execution import catalog, interpreters
        from emulator.execution.launch import agent_command

        spec = spec_for(self.w, self.code)
        runtimes = agent_runtimes(self.code.parent)
        if self.backend == "process":
            argv = agent_command(spec, interpreters.resolve(spec), str(runtimes))
        else:
            # as the backend starts it, its output into a sink that costs less than the emulator's reading
            # it through a named pipe (backends/docker_output.OutputPipe): the floor pays nothing for logs
            argv = ["/bin/sh", "-c", 'exec "$@" >/dev/null 2>&1', "sh",
                    *agent_command(spec, catalog.get(self.w.runtime).interpreter, "/var/fc/runtime")]
        t = time.perf_counter()
        if self.backend == "process":
            tmp = self.code.parent / (self.code.name + "-tmp")
            tmp.mkdir(exist_ok=True)
            self.proc = subprocess.Popen(
                argv, cwd=self.code, env=agent_env(self.w, str(self.code), self.port, "127.0.0.1", str(tmp)),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
        else:
            self.container = docker_client().containers.run(
                image_of(self.w.runtime), argv, detach=True,
                name=f"fc-bench-{uuid.uuid4().hex[:10]}", labels={BENCH_LABEL: "1"},
                environment=agent_env(self.w, "/code", 9000, "0.0.0.0"), working_dir="/code",
                volumes={str(self.code): {"bind": "/code", "mode": "ro"},
                         str(runtimes): {"bind": "/var/fc/runtime", "mode": "ro"}},
                tmpfs={"/tmp": "rw,size=512m,mode=1777"}, mem_limit=f"{MEMORY_MB}m",
                memswap_limit=f"{MEMORY_MB}m", ports={"9000/tcp": ("127.0.0.1", self.port)})
        first_answer(self.port, self.w.handler)
        return time.perf_counter() - t

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.container is not None:
            try:
                self.container.remove(force=True)
            except Exception:  # noqa: BLE001 - already gone
                pass


def agent_runtimes(work: Path) -> Path:
    """runtimes/ as instances get it: a copy with the Java and .NET agents' compiled code (java_agent.py,
    dotnet_agent.py)."""
    from emulator.execution import dotnet_agent, java_agent
    copy = work / "runtimes"
    if not copy.exists():
        shutil.copytree(ROOT / "runtimes", copy, ignore=shutil.ignore_patterns("__pycache__"))
        java_agent.install(ROOT / "runtimes", copy)
        dotnet_agent.install(ROOT / "runtimes", copy)
    return copy


_docker = None


def image_of(runtime: str) -> str:
    from emulator.execution import catalog
    return os.environ.get("FC_EMULATOR_RUNTIME_IMAGE") or catalog.get(runtime).image


def docker_client():
    global _docker
    if _docker is None:
        import docker
        _docker = docker.from_env(timeout=60)
    return _docker


# ------------------------------------------------------------------ sequential callers


class RawCaller:
    """A kept-alive http.client connection posting one fixed request."""

    def __init__(self, port: int, path: str, headers: dict[str, str]):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.path = path
        self.headers = headers

    def __call__(self) -> bytes:
        self.conn.request("POST", self.path, body=PAYLOAD, headers=self.headers)
        r = self.conn.getresponse()
        body = r.read()
        if r.status != 200 or r.getheader("x-fc-error-type"):
            raise RuntimeError(f"{self.path}: {r.status} {body[:300]!r}")
        return body

    def close(self) -> None:
        self.conn.close()


def emulator_path(function: str) -> str:
    return f"/2016-08-15/services/s/functions/{function}/invocations"


EMULATOR_HEADERS = {"X-Fc-Account-Id": ACCOUNT, "Content-Type": "application/octet-stream"}


# ------------------------------------------------------------------ asyncio load generator


def _request_bytes(path: str, headers: dict[str, str]) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(PAYLOAD)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + PAYLOAD


async def _worker(port: int, request: bytes, state: dict, deadline: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while state["left"] > 0 and time.perf_counter() < deadline:
            state["left"] -= 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            if head[9:12] != b"200" or b"\r\nx-fc-error-type:" in head.lower():
                state["errors"] += 1
                state["last_error"] = head[:12] + body[:200]
            state["done"] += 1
    finally:
        writer.close()


async def _load(port: int, request: bytes, concurrency: int, calls: int, budget: float) -> tuple[float, int, bytes]:
    state = {"left": calls, "done": 0, "errors": 0, "last_error": b""}
    t = time.perf_counter()
    await asyncio.gather(*(_worker(port, request, state, t + budget) for _ in range(concurrency)))
    elapsed = time.perf_counter() - t
    return state["done"] / elapsed, state["errors"], state["last_error"]


def throughput(port: int, path: str, headers: dict[str, str], concurrency: int, profile: Profile) -> float:
    request = _request_bytes(path, headers)
    asyncio.run(_load(port, request, concurrency, concurrency * 20, 10))  # warm: connections, instances
    rate, errors, last = asyncio.run(_load(port, request, concurrency, profile.level_calls, profile.level_budget))
    if errors:
        print(f"  ! {errors} failed calls at concurrency {concurrency}: {last!r}", file=sys.stderr)
    return rate


NULL_SERVER = r"""
import asyncio, sys
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 2\r\n\r\nok"
class P(asyncio.Protocol):
    def connection_made(self, t): self.t, self.buf = t, b""
    def data_received(self, data):
        self.buf += data
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i < 0: return
            n = 0
            for line in self.buf[:i].split(b"\r\n"):
                if line[:15].lower() == b"content-length:": n = int(line[15:])
            if len(self.buf) < i + 4 + n: return
            self.buf = self.buf[i + 4 + n:]
            self.t.write(ANSWER)
async def main():
    srv = await asyncio.get_running_loop().create_server(P, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    await srv.serve_forever()
asyncio.run(main())
"""


def client_ceiling(profile: Profile) -> float:
    """The load generator against a server that does nothing: what the client itself can drive."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", NULL_SERVER, str(port)], stdout=subprocess.PIPE)
    try:
        proc.stdout.readline()
        return throughput(port, "/", {}, 32, profile)
    finally:
        proc.terminate()
        proc.wait()


# ------------------------------------------------------------------ one backend


@dataclass
class Family:
    """One runtime's figures: cold start against a bare start, warm p50 against the direct agent."""
    runtime: str
    cold: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    direct: list[float] = field(default_factory=list)


@dataclass
class Results:
    backend: str
    sdk: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    direct: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    tput: dict[int, float] = field(default_factory=dict)
    direct_tput32: float = 0.0  # the median of pairs32's
    pairs32: list[tuple[float, float]] = field(default_factory=list)  # (direct agent, via emulator) per round
    server_cpu: float = 0.0  # the emulator's CPU ms per warm raw-HTTP call
    raw3: list[float] = field(default_factory=list)  # the same call through FC 3.0's InvokeFunction
    server_cpu3: float = 0.0
    families: dict[str, Family] = field(default_factory=dict)
    standby: dict = field(default_factory=dict)  # the standby pool at the end of the run (/_emulator/standby)


def standby_status(server: Server) -> dict:
    return requests.get(f"{server.url}/_emulator/standby", timeout=5).json()


def settle_standby(http: requests.Session, server: Server, w: Workload, work: Path) -> None:
    """The runtime in use, its standby started (a new function of a runtime already used is what the standby
    pool serves; the runtime's very first call is a fresh start), and no start still running beside the
    next measurement."""
    from emulator.execution import catalog
    from emulator.execution.environment import STANDBY_KINDS
    name = f"prime-{w.runtime.replace('.', '-')}"
    if not http.get(f"{server.url}/2016-08-15/services/s/functions/{name}").ok:
        create_function(http, server.url, name, w, work)
        RawCaller(server.port, emulator_path(name), EMULATOR_HEADERS)()
    status = standby_status(server)
    if catalog.family(w.runtime) not in STANDBY_KINDS or not status.get("countPerRuntime", {}).get(
            w.runtime, status.get("count", 0)):
        return  # no standby for this runtime (go1, java, ... or --standby 0)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not standby_status(server).get("runtimes", {}).get(w.runtime):
        time.sleep(0.05)


def create_function(http: requests.Session, url: str, name: str, w: Workload, work: Path,
                    concurrency: int = 1) -> None:
    executable = tuple(n for n, c in w.files.items() if isinstance(c, bytes))
    code = base64.b64encode(Path(write_zip(work, w.files, executable)).read_bytes()).decode()
    r = http.post(f"{url}/2016-08-15/services/s/functions", json={
        "functionName": name, "runtime": w.runtime, "handler": w.handler, "memorySize": MEMORY_MB,
        "timeout": 3, "instanceConcurrency": concurrency, "code": {"zipFile": code}})
    r.raise_for_status()


def cold_vs_bare(backend: str, http: requests.Session, server: Server, w: Workload, work: Path, samples: int,
                 cold: list[float], bare: list[float]) -> None:
    """The first call of a fresh function, then a bare start of the same agent, `samples` times."""
    caller = RawCaller(server.port, "/", EMULATOR_HEADERS)
    try:
        for i in range(samples):
            settle_standby(http, server, w, work)
            name = f"cold-{w.runtime.replace('.', '-')}-{i}"
            create_function(http, server.url, name, w, work)
            caller.path = emulator_path(name)
            t = time.perf_counter()
            caller()
            cold.append((time.perf_counter() - t) * 1000)
            http.delete(f"{server.url}/2016-08-15/services/s/functions/{name}")
            settle_standby(http, server, w, work)  # the refill is not counted in the bare start
            agent = Agent(backend, work, w)
            try:
                bare.append(agent.start() * 1000)
            finally:
                agent.stop()
    finally:
        caller.close()


def warm_vs_direct(backend: str, http: requests.Session, server: Server, w: Workload, work: Path,
                   profile: Profile, fam: Family) -> None:
    name = f"warm-{w.runtime.replace('.', '-')}"
    create_function(http, server.url, name, w, work)
    raw = RawCaller(server.port, emulator_path(name), EMULATOR_HEADERS)
    fam.raw = series(raw, profile)
    raw.close()
    agent = Agent(backend, work, w)
    agent.start()
    try:
        direct = RawCaller(agent.port, "/invoke", agent_headers(str(uuid.uuid4()), handler=w.handler))
        fam.direct = series(direct, profile)
        direct.close()
    finally:
        agent.stop()


def run_backend(backend: str, profile: Profile, work: Path, server_args: list[str], hold: float,
                runtimes: list[str]) -> Results:
    res = Results(backend)
    data = work / backend / "data"
    data.mkdir(parents=True)
    work = work / backend
    server = Server(data, "--executor", backend, *server_args).start(60)
    http = requests.Session()
    http.headers["X-Fc-Account-Id"] = ACCOUNT
    main = workload(RUNTIME)
    try:
        http.post(f"{server.url}/2016-08-15/services", json={"serviceName": "s"}).raise_for_status()
        create_function(http, server.url, "f", main, work)
        create_function(http, server.url, "f32", main, work, concurrency=32)

        # 1. warm latency through the emulator
        print(f"[{backend}] warm latency via aliyun-fc2 and raw HTTP", file=sys.stderr)
        fc = fc_client(server, ACCOUNT)
        res.sdk = series(lambda: fc.invoke_function("s", "f", payload=PAYLOAD), profile)
        raw = RawCaller(server.port, emulator_path("f"), EMULATOR_HEADERS)
        assert raw() == b"ok"
        cpu0 = cpu_seconds(server.proc.pid)
        res.raw = series(raw, profile)
        res.server_cpu = (cpu_seconds(server.proc.pid) - cpu0) * 1000 / (len(res.raw) + 30)
        if hold:  # keep the warm path busy so that a profiler can attach (--hold)
            print(f"[{backend}] holding warm load for {hold:.0f} s; server pid {server.proc.pid}", file=sys.stderr)
            end = time.monotonic() + hold
            while time.monotonic() < end:
                raw()
        raw.close()

        # 1b. the same function through FC 3.0's API (POST /2023-03-30/functions/f/invocations)
        print(f"[{backend}] warm latency via FC 3.0's InvokeFunction", file=sys.stderr)
        code = base64.b64encode(Path(write_zip(work, main.files)).read_bytes()).decode()
        http.post(f"{server.url}/2023-03-30/functions", json={
            "functionName": "f", "runtime": main.runtime, "handler": main.handler, "memorySize": MEMORY_MB,
            "timeout": 3, "code": {"zipFile": code}}).raise_for_status()
        raw3 = RawCaller(server.port, "/2023-03-30/functions/f/invocations", EMULATOR_HEADERS)
        assert raw3() == b"ok"
        settle_standby(http, server, main, work)  # the standby this first call took is refilled off the clock
        cpu0 = cpu_seconds(server.proc.pid)
        res.raw3 = series(raw3, profile)
        res.server_cpu3 = (cpu_seconds(server.proc.pid) - cpu0) * 1000 / (len(res.raw3) + 30)
        raw3.close()

        # 2. the floor: straight to an agent
        print(f"[{backend}] direct agent", file=sys.stderr)
        agent = Agent(backend, work, main)
        agent.start()
        try:
            direct = RawCaller(agent.port, "/invoke", agent_headers(str(uuid.uuid4())))
            res.direct = series(direct, profile)
            direct.close()
        finally:
            agent.stop()

        # 3. cold start against a bare start of the agent
        print(f"[{backend}] cold start x{profile.cold_samples}", file=sys.stderr)
        cold_vs_bare(backend, http, server, main, work, profile.cold_samples, res.cold, res.bare)

        # 4. throughput through the emulator, instanceConcurrency 32
        for c in (1, 8):
            print(f"[{backend}] throughput at concurrency {c}", file=sys.stderr)
            res.tput[c] = throughput(server.port, emulator_path("f32"), EMULATOR_HEADERS, c, profile)
        # at 32, against the direct agent: rounds of both, interleaved, so that a moment's noise weighs on
        # both alike (the direct figure alone moved 3200-4700 inv/s between single short runs)
        print(f"[{backend}] throughput at concurrency 32: {profile.pairs} rounds, direct agent and emulator",
              file=sys.stderr)
        level = replace(profile, level_calls=profile.pair_calls, level_budget=profile.pair_budget)
        agent = Agent(backend, work, main)
        agent.start()
        try:
            for _ in range(profile.pairs):
                res.pairs32.append((throughput(agent.port, "/invoke", agent_headers("load"), 32, level),
                                    throughput(server.port, emulator_path("f32"), EMULATOR_HEADERS, 32, level)))
        finally:
            agent.stop()
        res.direct_tput32 = statistics.median(d for d, _ in res.pairs32)
        res.tput[32] = statistics.median(e for _, e in res.pairs32)

        # 5. per runtime family: cold start and warm p50, each against its own floor
        for runtime in runtimes:
            print(f"[{backend}] {runtime}: cold start x{profile.cold_samples}, warm latency", file=sys.stderr)
            w, fam = workload(runtime), Family(runtime)
            cold_vs_bare(backend, http, server, w, work, profile.cold_samples, fam.cold, fam.bare)
            warm_vs_direct(backend, http, server, w, work, profile, fam)
            res.families[runtime] = fam
        res.standby = standby_status(server)
    finally:
        server.stop()
    return res


# ------------------------------------------------------------------ report


def mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def table(results: list[Results], ceiling: float) -> str:
    cols = [r.backend for r in results]
    rows = [("| metric | " + " | ".join(cols) + " | target |"), "|---|" + "---|" * len(cols) + "---|"]

    def row(name: str, cells: list[str], target: str = "") -> None:
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {target} |")

    def p(v: list[float]) -> str:
        return f"{pct(v, 50):.2f} / {pct(v, 99):.2f}"

    row("warm p50 / p99, aliyun-fc2 (ms)", [p(r.sdk) for r in results])
    row("warm p50 / p99, raw HTTP via emulator (ms)",
        [f"{p(r.raw)} {mark(pct(r.raw, 50) <= TARGETS['warm_p50'])}" for r in results],
        f"p50 ≤ {TARGETS['warm_p50']:g} ms")
    fc3 = [pct(r.raw3, 50) / pct(r.raw, 50) for r in results]
    row("warm p50 / p99, FC 3.0 InvokeFunction, raw HTTP (ms)",
        [f"{p(r.raw3)} ({x:.2f}× FC 2.0) {mark(x <= FC3_RATIO)}" for r, x in zip(results, fc3)],
        f"≤ {FC3_RATIO:g}× FC 2.0")
    row("emulator CPU per warm call, FC 3.0 (ms)",
        [f"{r.server_cpu3:.2f} ({r.server_cpu3 / r.server_cpu:.2f}× FC 2.0) "
         f"{mark(r.server_cpu3 <= FC3_RATIO * r.server_cpu)}" for r in results], f"≤ {FC3_RATIO:g}× FC 2.0")
    row("warm p50 / p99, direct agent (ms)", [p(r.direct) for r in results])
    over = [pct(r.raw, 50) - pct(r.direct, 50) for r in results]
    row("emulator overhead, p50 (ms)", [f"{o:.2f} {mark(o <= TARGETS['overhead'])}" for o in over],
        f"≤ {TARGETS['overhead']:g} ms")
    row("emulator CPU per warm call (ms)", [f"{r.server_cpu:.2f} {mark(r.server_cpu <= TARGETS['cpu'])}"
                                            for r in results], f"≤ {TARGETS['cpu']:g} ms")
    row("cold start, first invocation, median (ms)", [f"{statistics.median(r.cold):.0f}" for r in results])
    row("bare agent start + first call, median (ms)", [f"{statistics.median(r.bare):.0f}" for r in results])
    ratios = [statistics.median(r.cold) / statistics.median(r.bare) for r in results]
    row("cold / bare", [f"{x:.2f}× {mark(x <= TARGETS['cold_ratio'])}" for x in ratios],
        f"≤ {TARGETS['cold_ratio']:g}×")
    for c in (1, 8):
        row(f"throughput via emulator, concurrency {c} (inv/s)", [f"{r.tput[c]:.0f}" for r in results])
    row("concurrency 32, rounds (direct agent / via emulator, inv/s)",
        [", ".join(f"{d:.0f}/{e:.0f}" for d, e in r.pairs32) for r in results])
    row("throughput via emulator, concurrency 32, median (inv/s)", [f"{r.tput[32]:.0f}" for r in results])
    row("direct agent, concurrency 32, median (inv/s)", [f"{r.direct_tput32:.0f}" for r in results])
    shares = [r.tput[32] / r.direct_tput32 if r.direct_tput32 else 0.0 for r in results]
    row("throughput at concurrency 32: via emulator / direct", [f"{x:.0%} {mark(x >= TARGETS['tput32_ratio'])}"
                                                               for x in shares], f"≥ {TARGETS['tput32_ratio']:.0%}")
    row("client ceiling: null server, concurrency 32 (inv/s)", [f"{ceiling:.0f}"] * len(results))
    row("standby pool at the end: instances, memory (MB)",
        [f"{r.standby.get('instances', 0)}, {r.standby.get('memoryMB', 0):.0f} of {r.standby.get('memoryLimitMB', 0)}"
         for r in results], "")
    return "\n".join(rows)


def family_table(results: list[Results]) -> str:
    """Per runtime: cold start against a bare start of the same agent, warm p50 against the direct agent."""
    cols = [r.backend for r in results]
    rows = ["| runtime | metric | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for runtime in results[0].families:
        fams = [r.families[runtime] for r in results]
        cells = [f"{statistics.median(f.cold):.0f} / {statistics.median(f.bare):.0f} = "
                 f"{statistics.median(f.cold) / statistics.median(f.bare):.2f}×" for f in fams]
        rows.append(f"| {runtime} | cold first call / bare start, median (ms) | " + " | ".join(cells) + " |")
        cells = [f"{pct(f.raw, 50):.2f} / {pct(f.direct, 50):.2f} (+{pct(f.raw, 50) - pct(f.direct, 50):.2f})"
                 for f in fams]
        rows.append(f"| {runtime} | warm p50 via emulator / direct agent (ms) | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["process", "docker", "both"], default="both")
    ap.add_argument("--quick", action="store_true", help="fewer samples and shorter levels (about 1 minute)")
    ap.add_argument("--server-args", default="", help="extra `serve` arguments, e.g. '--log-level warning'")
    ap.add_argument("--hold", type=float, default=0, help="seconds of extra warm load for a profiler to attach")
    ap.add_argument("--runtimes", default="python3.9,nodejs20,go1,java11",
                    help="runtimes measured per family (cold start, warm p50), comma-separated")
    args = ap.parse_args()
    runtimes = [r for r in args.runtimes.split(",") if r]
    profile = QUICK if args.quick else FULL
    backends = ["process", "docker"] if args.backend == "both" else [args.backend]
    work = Path(tempfile.mkdtemp(prefix="fc-bench-"))
    results = []
    try:
        ceiling = client_ceiling(profile)
        for b in backends:
            results.append(run_backend(b, profile, work, shlex.split(args.server_args), args.hold, runtimes))
    finally:
        if "docker" in backends:
            for c in docker_client().containers.list(all=True, filters={"label": BENCH_LABEL}):
                c.remove(force=True)
        shutil.rmtree(work, ignore_errors=True)
    cmd = "python3 bench/invoke.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"\n{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"{profile.calls} warm calls per series, {profile.cold_samples} cold samples, "
          f"throughput levels of ≤ {profile.level_calls} calls / {profile.level_budget:g} s, at 32 "
          f"{profile.pairs} interleaved rounds of ≤ {profile.pair_calls} calls / {profile.pair_budget:g} s\n")
    print(table(results, ceiling))
    if runtimes:
        print("\nPer runtime family (each against the same agent started by hand):\n")
        print(family_table(results))
    print(f"\nCommand: `{cmd.strip()}`")


if __name__ == "__main__":
    main()
