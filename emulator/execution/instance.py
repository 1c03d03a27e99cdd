"""One FC instance: start -> listening -> initialize (once) -> serve -> stop (runtimes.md §7)."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid

from emulator.execution import catalog, dotnet_agent, java_agent
from emulator.execution.artifacts import RUNTIMES_SRC
from emulator.execution.agent import AgentClient, AgentGone, AgentResponse
from emulator.execution.backends.base import Backend, Started, StartFailed
from emulator.execution.environment import request_headers
from emulator.execution.launch import not_runnable_message
from emulator.execution.logs import InstanceLog
from emulator.execution.spec import InstanceSpec

log = logging.getLogger("fc_emulator.pool")

READINESS_BUDGET_S = 120  # runtimes.md §2.1: the server must listen within 120 s


class InitializerFailed(Exception):
    def __init__(self, response: AgentResponse | None, message: str):
        super().__init__(message)
        self.response = response
        self.message = message


class Instance:
    def __init__(self, spec: InstanceSpec, backend: Backend, agent: AgentClient, provisioned: bool = False,
                 standbys=None):
        self.spec = spec
        self.standbys = standbys  # standby.Standbys: pre-started agents this instance may take over
        self.backend = backend
        self.agent = agent
        self.id = f"c-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:12]}"
        self.provisioned = provisioned
        self.log = InstanceLog(self.id)
        self.started: Started | None = None
        self.ready = asyncio.Event()
        self.error: BaseException | None = None
        self.inflight = 0  # reserved slots, including callers waiting for the start
        self.served = 0
        self.created = time.time()
        self.last_used = time.monotonic()
        self.retired = False
        self.stopping = False

    @property
    def debug_port(self) -> int | None:
        """The 127.0.0.1 port of its debugger (debugger.py), if it was started with one."""
        return self.started.extra.get("debug_port") if self.started is not None else None

    @property
    def alive(self) -> bool:
        return self.error is None and not self.stopping

    async def start(self, request_id: str, standby: bool = False) -> None:
        """Start the server (or take over a standby one), wait until it listens, run the initializer; sets
        `ready` either way. `standby`: start an agent without a function instead (standby.py)."""
        try:
            if not catalog.runnable(self.spec.runtime):
                raise StartFailed(not_runnable_message(self.spec.runtime))
            if self.spec.kind == catalog.JAVA and not await asyncio.to_thread(java_agent.available, RUNTIMES_SRC):
                raise StartFailed("the Java agent could not be built: fc-emulator compiles it with a JDK's javac "
                                  "on its own host (apt-get install default-jdk-headless), then restart it")
            if self.spec.kind == catalog.DOTNET:
                problem = await asyncio.to_thread(dotnet_agent.problem, RUNTIMES_SRC)
                if problem:
                    raise StartFailed(problem)
            if standby or not await self._take_standby():
                self.started = await asyncio.to_thread(self.backend.start, self.spec, self.id, self.log, standby)
                await self._wait_listening()
            if self.spec.initializer and self.spec.kind != "container" and not standby:
                await self._initialize(request_id)
        except BaseException as exc:  # noqa: BLE001 - every failure is the caller's error
            self.error = exc
            await self.stop()
        finally:
            self.ready.set()

    async def _take_standby(self) -> bool:
        """Become a standby instance of this runtime, given this function (standby.py); False if none fits.
        Provisioned instances start in the background, as on FC: standbys are kept for calls waiting."""
        standby = not self.provisioned and self.standbys and await self.standbys.take(self.spec)
        if not standby:
            return False
        try:
            await self.standbys.assign(standby, self.spec)
        except Exception as exc:  # noqa: BLE001 - it died or refused: start afresh instead
            log.warning("standby instance %s could not take %s: %s", standby.id, self.spec.function, exc)
            await standby.stop()
            return False
        self.id, self.log, self.started = standby.id, standby.log, standby.started
        log.info("instance %s of %s/%s taken over from the standby pool", self.id, self.spec.service,
                 self.spec.function)
        return True

    async def _wait_listening(self) -> None:
        """Check the port whenever the instance prints something (our agents print their banner once
        they listen), and otherwise at growing intervals, like FC's TCP check."""
        deadline = time.monotonic() + READINESS_BUDGET_S
        delay = 0.002
        output = self.log.watch()
        try:
            await self._poll_listening(deadline, delay, output)
        finally:
            self.log.unwatch()

    async def _poll_listening(self, deadline: float, delay: float, output: asyncio.Event) -> None:
        checks = 0
        while True:
            output.clear()
            if await asyncio.to_thread(self.backend.listening, self.started):
                return
            checks += 1
            # liveness costs an engine call on Docker: ask every few checks only
            if checks % 4 == 0 and not await asyncio.to_thread(self.backend.alive, self.started):
                await asyncio.to_thread(self.log.ended.wait, 1)
                raise StartFailed(f"the instance exited before it was ready to serve.\n"
                                  f"Logs:\n{self.log.recent()}")
            if time.monotonic() > deadline:
                raise StartFailed(f"Function instance health check failed on port {self.spec.ca_port} in "
                                  f"{READINESS_BUDGET_S} seconds.\nLogs:\n{self.log.recent()}")
            try:
                await asyncio.wait_for(output.wait(), delay)
            except asyncio.TimeoutError:
                delay = min(delay * 2, 0.02)

    async def _initialize(self, request_id: str) -> None:
        headers = request_headers(self.spec, request_id, "/initialize")
        try:
            r = await asyncio.wait_for(
                self.agent.request("POST", self.started.host, self.started.port, "/initialize", headers),
                self.spec.initialization_timeout)
        except asyncio.TimeoutError:
            raise InitializerFailed(None, f"Function initialization timed out after "
                                          f"{self.spec.initialization_timeout} seconds") from None
        except AgentGone:
            raise InitializerFailed(None, "Process exited unexpectedly before completing initialization") from None
        if r.status // 100 != 2:
            raise InitializerFailed(r, r.body.decode("utf-8", "replace"))

    async def call(self, method: str, path: str, headers: dict, body: bytes) -> AgentResponse:
        return await self.agent.request(method, self.started.host, self.started.port, path, headers, body)

    def memory_mb(self, response: AgentResponse | None = None) -> float:
        if response is not None and response.headers.get("x-fc-max-memory-usage"):
            try:
                return float(response.headers["x-fc-max-memory-usage"])
            except ValueError:
                pass
        if self.started is not None:
            return self.backend.max_memory_mb(self.started) or 0.0
        return 0.0

    async def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        if self.started is not None:
            await asyncio.to_thread(self.backend.stop, self.started)
