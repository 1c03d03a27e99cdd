"""The instance pool: one per function version. Warm reuse, up to `instanceConcurrency` calls per
instance, scale-out up to the maximum instance count, idle reclaim, provisioned instances, and
retirement of instances whose code or configuration changed (runtimes.md §7)."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass

from emulator import errors
from emulator.execution.agent import AgentClient
from emulator.execution.backends.base import Backend
from emulator.execution.debugger import DEBUGGERS
from emulator.execution.hot_reload import FolderWatcher
from emulator.execution.instance import Instance
from emulator.execution.spec import InstanceSpec
from emulator.execution.standby import Standbys

log = logging.getLogger("fc_emulator.pool")


def throttled(limit: int) -> errors.FCError:
    return errors.FCError(429, "ResourceThrottled",
                          f"Reserve resource exceeded limit: all {limit} instances of the function are busy "
                          f"(maximumInstanceCount {limit})")


@dataclass
class Lease:
    instance: Instance
    cold: bool


class FunctionPool:
    def __init__(self, key: tuple, backend: Backend, agent: AgentClient, standbys: Standbys | None = None,
                 watcher: FolderWatcher | None = None, registry=None):
        self.key = key
        self.registry = registry  # emulator.replica.Replica: instance slots counted across replicas
        self.backend = backend
        self.agent = agent
        self.standbys = standbys
        self.watcher = watcher  # hot reload of local-folder code (hot_reload.py)
        self.instances: list[Instance] = []
        self.revision: str | None = None
        self.provision_error = ""  # why the last provisioned instance failed to start (currentError)
        self.provision_shortfall = ""  # why fewer than the target were started (currentError)

    def _retire_old(self, spec: InstanceSpec) -> None:
        if self.revision == spec.revision:
            return
        self.revision = spec.revision
        self.retire(spec)

    def retire(self, spec: InstanceSpec | None = None) -> int:
        """Retire every instance (a change of the function, or of its local code folder): idle ones stop now,
        busy ones after their calls; provisioned ones are replaced. Returns how many were retired."""
        old, self.instances = self.instances, []
        for inst in old:
            inst.retired = True
            self._free(inst)
            if inst.inflight == 0:
                asyncio.create_task(inst.stop())
        spec = spec or next((inst.spec for inst in old), None)
        for _ in range(sum(1 for inst in old if inst.provisioned and inst.alive)):  # provisioned: replaced
            self._new_instance(spec, f"provision-{int(time.time() * 1000)}", provisioned=True)
        return len(old)

    def _new_instance(self, spec: InstanceSpec, request_id: str, provisioned: bool = False,
                      limit: int | None = None) -> Instance:
        """An instance, in the pool at once (concurrent callers share it while it starts); with `limit`,
        it first takes a function-wide slot from the registry (replica.py), else it fails as throttled."""
        if spec.local_code and self.watcher is not None:
            self.watcher.watch(spec.code_dir, self)
        inst = Instance(spec, self.backend, self.agent, provisioned=provisioned, standbys=self.standbys)
        # its row in instance_slots (replica heartbeat); None until the registry gave it one
        inst.slot = None if limit is not None and self.registry is not None else uuid.uuid4().hex
        self.instances.append(inst)
        asyncio.create_task(self._start(inst, request_id, limit))
        return inst

    async def _start(self, inst: Instance, request_id: str, limit: int | None = None) -> None:
        t0 = time.monotonic()
        if limit is not None and self.registry is not None:
            others_here = sum(1 for i in self.instances if i is not inst)
            slot = await self.registry.reserve(self.key, limit, others_here)
            if slot is None:  # every slot is taken on the other replicas
                if inst in self.instances:
                    self.instances.remove(inst)
                inst.error = throttled(limit)
                inst.ready.set()
                return
            inst.slot = slot
        await inst.start(request_id)
        if inst.error is not None:
            if inst in self.instances:
                self.instances.remove(inst)
                self._free(inst)
            log.warning("instance %s of %s failed to start: %s", inst.id, "/".join(self.key[1:]), inst.error)
            if inst.provisioned:
                self.provision_error = str(inst.error)
        else:
            if inst.provisioned:
                self.provision_error = ""
            log.info("instance %s of %s started in %.0f ms", inst.id, "/".join(self.key[1:]),
                     (time.monotonic() - t0) * 1000)
            if inst.debug_port:
                log.info("instance %s of %s: %s listening on 127.0.0.1:%d", inst.id, "/".join(self.key[1:]),
                         DEBUGGERS[inst.spec.kind], inst.debug_port)

    async def acquire(self, spec: InstanceSpec, max_instances: int, request_id: str) -> Lease:
        """A slot on an instance: a warm one with room, else one starting, else a new one (cold)."""
        self._retire_old(spec)
        best = None
        for inst in self.instances:
            if inst.alive and inst.inflight < spec.concurrency and (best is None or (
                    inst.ready.is_set(), inst.inflight) > (best.ready.is_set(), best.inflight)):
                best = inst
        cold = False
        if best is None:
            if len(self.instances) >= max_instances:
                raise throttled(max_instances)
            # the limit is function-wide: the new instance counts the other replicas' before it starts
            best, cold = self._new_instance(spec, request_id, limit=max_instances), True
        best.inflight += 1
        if not best.ready.is_set():
            try:
                await best.ready.wait()
            except asyncio.CancelledError:  # a stopped async task gives its slot back
                best.inflight -= 1
                raise
        if best.error is not None:
            best.inflight -= 1
            raise best.error
        return Lease(best, cold)

    def release(self, lease: Lease, broken: bool = False) -> None:
        inst = lease.instance
        inst.inflight -= 1
        inst.served += 1
        inst.last_used = time.monotonic()
        if broken or (inst.retired and inst.inflight == 0):
            self.discard(inst)

    def discard(self, inst: Instance) -> None:
        """Throw an instance away (crash, timeout): the next call cold-starts."""
        if inst in self.instances:
            self.instances.remove(inst)
            self._free(inst)
        asyncio.create_task(inst.stop())

    def reap(self, idle_timeout: float) -> None:
        now = time.monotonic()
        for inst in list(self.instances):
            if (not inst.provisioned and inst.ready.is_set() and inst.inflight == 0
                    and now - inst.last_used > idle_timeout):
                log.info("instance %s of %s reclaimed after %.0f s idle", inst.id, "/".join(self.key[1:]),
                         now - inst.last_used)
                self.discard(inst)

    def provision(self, spec: InstanceSpec, target: int) -> None:
        """Keep `target` provisioned instances (pre-warmed, never reclaimed when idle)."""
        self._retire_old(spec)
        current = [i for i in self.instances if i.provisioned and i.alive]
        for _ in range(target - len(current)):
            self._new_instance(spec, f"provision-{int(time.time() * 1000)}", provisioned=True)
        for inst in current[target:]:
            inst.provisioned = False  # reclaimed like any idle instance

    def _free(self, inst: Instance) -> None:
        if self.registry is not None:
            self.registry.release(getattr(inst, "slot", None))

    def provisioned_count(self) -> int:
        return sum(1 for i in self.instances if i.provisioned and i.alive and i.ready.is_set())

    async def close(self) -> None:
        instances, self.instances = self.instances, []
        await asyncio.gather(*(inst.stop() for inst in instances), return_exceptions=True)


class Pools:
    """Every function version's pool, and the idle reaper."""

    def __init__(self, backend: Backend, agent: AgentClient, idle_timeout: float, max_instances: int,
                 standbys: Standbys | None = None):
        self.backend = backend
        self.agent = agent
        self.standbys = standbys  # pre-started instances a new one takes over (standby.py)
        self.watcher = FolderWatcher()  # local code folders: a change retires their instances
        self.idle_timeout = idle_timeout
        self.max_instances = max_instances
        self.pools: dict[tuple, FunctionPool] = {}
        self.provisioned: dict[str, tuple] = {}  # provision config resource -> pool key
        self.registry = None  # emulator.replica.Replica, set by the app: slots across replicas
        self._reaper: asyncio.Task | None = None

    def pool(self, key: tuple) -> FunctionPool:
        p = self.pools.get(key)
        if p is None:
            p = self.pools[key] = FunctionPool(key, self.backend, self.agent, self.standbys, self.watcher,
                                               self.registry)
        return p

    def yield_idle(self, key: tuple) -> None:
        """Another replica needs a slot of this function version: give up one idle instance (replica.py)."""
        p = self.pools.get(key)
        idle = [i for i in (p.instances if p else []) if i.ready.is_set() and i.inflight == 0 and not i.provisioned]
        if idle:
            log.info("instance %s of %s stopped: another replica needs its slot", idle[0].id, "/".join(key[1:]))
            p.discard(idle[0])

    def find(self, key: tuple) -> FunctionPool | None:
        return self.pools.get(key)

    def live_instances(self, key: tuple) -> list[Instance]:
        """The started, ready instances of one function version (ListInstances, InstanceExec)."""
        p = self.pools.get(key)
        if p is None:
            return []
        return [i for i in list(p.instances)
                if i.alive and not i.retired and i.ready.is_set() and i.started is not None]

    async def start(self) -> None:
        self.backend.loop = asyncio.get_running_loop()
        self._reaper = asyncio.create_task(self._reap_forever())

    async def _reap_forever(self) -> None:
        interval = max(0.2, min(5.0, self.idle_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            for p in list(self.pools.values()):
                p.reap(self.idle_timeout)
            if self.standbys:
                self.standbys.reap(self.idle_timeout)

    async def close(self) -> None:
        if self._reaper:
            self._reaper.cancel()
        await self.watcher.close()
        if self.standbys:
            await self.standbys.close()
        await asyncio.gather(*(p.close() for p in self.pools.values()), return_exceptions=True)
        await self.agent.close()
        await asyncio.to_thread(self.backend.close)
