"""Standby instances (issue 13): agents started before their function is known, so that a function's first
call does not wait for a process or container to start, as FC hides most cold starts behind pre-started
sandboxes.

A standby is an `Instance` started with `standby=True`: the runtime's agent, with the same command line, user,
image and mounts as a fresh instance, only the function-independent part of the environment
(environment.standby_env) and no function. When a function's instance starts, it takes a standby whose key
(`Backend.standby_key`: runtime, agent command line, user, image, ...) matches its own; the backend gives it
the function's code, layers and memory limit (`Backend.assign`) and the agent receives exactly the environment a
fresh start would have had (POST /assign, docs/runtime-protocol.md), then sets up sys.path / NODE_PATH and its
working folder as it would at start. The standby's instance id, port and log become the instance's.

Which standbys are kept: `count` per key (per runtime: `--standby`), for every key a function used since the
emulator started; refilled shortly after one is taken; within `memory_mb` in total; a key nobody used for the
idle timeout loses its standbys. Standby processes and containers carry the owner marker / label of every
instance, so they are stopped at shutdown and swept at the next start like any other.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field

from emulator.execution.agent import AgentClient
from emulator.execution.backends.base import Backend, StartFailed
from emulator.execution.spec import InstanceSpec

log = logging.getLogger("fc_emulator.standby")

REFILL_DELAY_S = 0.1  # after a take: let the instance that took it answer its first call before a new start
GUESS_MB = 64  # a standby's memory until it can be read (Python agent ~10 MB, Node ~40 MB, plus the container)


@dataclass
class _Kind:
    """The standbys of one key, and the function spec that last asked for it (the template of new ones: only
    its runtime-wide parts reach a standby)."""
    template: InstanceSpec
    used: float
    ready: list = field(default_factory=list)  # started Instances waiting for a function
    starting: int = 0
    filling: asyncio.Task | None = None


class Standbys:
    def __init__(self, backend: Backend, agent: AgentClient, count: int, per_runtime: dict[str, int],
                 memory_mb: int):
        self.backend = backend
        self.agent = agent
        self.count = count
        self.per_runtime = per_runtime
        self.memory_mb = memory_mb
        self.kinds: dict[tuple, _Kind] = {}
        self.closed = False

    def wanted(self, runtime: str) -> int:
        return self.per_runtime.get(runtime, self.count)

    async def take(self, spec: InstanceSpec):
        """A started standby for `spec` (no longer in the pool), or None; either way, its key is kept filled."""
        if self.closed or self.wanted(spec.runtime) <= 0 or spec.local_code or spec.debug:  # set at start
            return None
        key = await asyncio.to_thread(self.backend.standby_key, spec)
        if key is None:
            return None
        kind = self.kinds.get(key)
        if kind is None:
            kind = self.kinds[key] = _Kind(spec, time.monotonic())
        kind.template, kind.used = spec, time.monotonic()
        standby = None
        while kind.ready and standby is None:
            candidate = kind.ready.pop(0)
            standby = candidate if candidate.alive else None
        asyncio.get_running_loop().call_later(REFILL_DELAY_S, self._fill, key)
        return standby

    async def assign(self, standby, spec: InstanceSpec) -> None:
        """Give `standby` its function: code, layers, limits (backend), then the environment (the agent)."""
        env = await asyncio.to_thread(self.backend.assign, standby.started, spec)
        body = json.dumps({"env": env}).encode()
        r = await self.agent.request("POST", standby.started.host, standby.started.port, "/assign",
                                     {"content-type": "application/json", "x-fc-control-path": "/assign"}, body)
        if r.status != 200:
            raise StartFailed(f"the standby instance refused its function: {r.status} {r.body[:200]!r}")

    # ---- keeping the pool filled

    def _fill(self, key: tuple) -> None:
        kind = self.kinds.get(key)
        if kind is not None and not self.closed and (kind.filling is None or kind.filling.done()):
            kind.filling = asyncio.create_task(self._fill_kind(key, kind))

    async def _fill_kind(self, key: tuple, kind: _Kind) -> None:
        from emulator.execution.instance import Instance  # instance.py imports this module
        while (not self.closed and self.kinds.get(key) is kind
               and len(kind.ready) + kind.starting < self.wanted(kind.template.runtime)):
            if self.memory() + GUESS_MB > self.memory_mb:
                log.info("standby pool at its memory bound (%d MB): no standby for %s", self.memory_mb,
                         kind.template.runtime)
                return
            inst = Instance(kind.template, self.backend, self.agent)
            kind.starting += 1
            try:
                await inst.start("", standby=True)
            finally:
                kind.starting -= 1
            if inst.error is not None:
                log.warning("standby instance of %s failed to start: %s", kind.template.runtime, inst.error)
                return
            if self.closed or self.kinds.get(key) is not kind:
                await inst.stop()
                return
            kind.ready.append(inst)
            log.info("standby instance %s of %s ready", inst.id, kind.template.runtime)

    def memory(self) -> float:
        """MB used by the pool: each ready standby's peak resident size, a guess for those starting."""
        total = 0.0
        for kind in self.kinds.values():
            total += kind.starting * GUESS_MB
            total += sum(inst.memory_mb() or GUESS_MB for inst in kind.ready)
        return total

    def status(self) -> dict:
        """GET /_emulator/standby: standby instances ready per runtime, their memory, and the settings."""
        runtimes: dict[str, int] = {}
        for kind in self.kinds.values():
            runtimes[kind.template.runtime] = runtimes.get(kind.template.runtime, 0) + len(kind.ready)
        return {"instances": sum(runtimes.values()), "runtimes": runtimes, "memoryMB": round(self.memory(), 1),
                "memoryLimitMB": self.memory_mb, "count": self.count, "countPerRuntime": self.per_runtime}

    # ---- reclaiming

    def reap(self, idle_timeout: float) -> None:
        """Keys nobody used for `idle_timeout` lose their standbys (reclaimed like idle instances)."""
        now = time.monotonic()
        for key, kind in list(self.kinds.items()):
            if now - kind.used > idle_timeout:
                del self.kinds[key]
                for inst in kind.ready:
                    asyncio.create_task(inst.stop())

    async def close(self) -> None:
        self.closed = True
        kinds, self.kinds = list(self.kinds.values()), {}
        for kind in kinds:
            if kind.filling is not None:
                kind.filling.cancel()  # a standby being started is swept by the backend's close
        await asyncio.gather(*(inst.stop() for kind in kinds for inst in kind.ready), return_exceptions=True)
