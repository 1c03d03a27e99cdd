"""From (service, qualifier, function) to the InstanceSpec that runs it, cached until the next write."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from emulator.config import Settings
from emulator.execution.artifacts import Artifacts
from emulator.execution import catalog, debugger
from emulator.execution.spec import InstanceSpec, start_command
from emulator.model import runtimes
from emulator.store import layers as layer_store
from emulator.store import resources as res
from emulator.store import snapshots
from emulator.store.db import Database


@dataclass
class _Entry:
    generation: int
    alias: dict | None
    version_id: str
    max_instances: int
    specs: dict[str, InstanceSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    spec: InstanceSpec
    max_instances: int


class Targets:
    def __init__(self, db: Database, artifacts: Artifacts, settings: Settings):
        self.db = db
        self.artifacts = artifacts
        self.settings = settings
        self._cache: dict[tuple, _Entry] = {}
        self._lock = threading.Lock()

    def cached(self, account: str, service: str, qualifier: str | None, function: str, rnd: float) -> Target | None:
        """The fast path: no I/O when nothing was written since the entry was made."""
        entry = self._cache.get((account, service, qualifier or "LATEST", function))
        if entry is None or entry.generation != self.db.generation:
            return None
        version = snapshots.pick_version(entry.alias, rnd) if entry.alias else entry.version_id
        spec = entry.specs.get(version)
        return Target(spec, entry.max_instances) if spec else None

    def resolve(self, account: str, service: str, qualifier: str | None, function: str, rnd: float) -> Target:
        """Blocking (database, unzip): call from a worker thread."""
        q = qualifier or "LATEST"
        key = (account, service, q, function)
        generation = self.db.generation
        with self.db.read() as s:
            snap = snapshots.resolve(s, account, service, q)
            snap.function(s, function)  # FunctionNotFound before anything else
            entry = self._cache.get(key)
            if entry is None or entry.generation != generation:
                entry = _Entry(generation, snap.alias, snap.version_id, self._max_instances(s, account, service, q,
                                                                                              function))
            version = snapshots.pick_version(entry.alias, rnd) if entry.alias else entry.version_id
            spec = entry.specs.get(version)
            if spec is None:
                picked = snap if version == snap.version_id else snapshots.resolve(s, account, service, version)
                spec = self._build(s, picked, q, function)
                entry.specs[version] = spec
        with self._lock:
            self._cache[key] = entry
        return Target(spec, entry.max_instances)

    def spec_for(self, account: str, service: str, qualifier: str, function: str) -> InstanceSpec:
        """The spec without alias weights (provisioned instances run the alias's main version)."""
        with self.db.read() as s:
            return self._build(s, snapshots.resolve(s, account, service, qualifier), qualifier, function)

    def _max_instances(self, s, account: str, service: str, q: str, function: str) -> int:
        row = res.get(s, account, "on_demand", "", f"services/{service}.{q}/functions/{function}")
        if row is not None and row.body.get("maximumInstanceCount") is not None:
            return int(row.body["maximumInstanceCount"])
        return self.settings.max_instances

    def _build(self, s, snap: snapshots.Snapshot, qualifier: str, function: str) -> InstanceSpec:
        fn, fn_etag = snap.function(s, function)
        svc = snap.service_out()
        runtime = fn["runtime"]
        code_dir = self.artifacts.code_dir(fn["codeChecksum"]) if fn.get("codeChecksum") else None
        layer_sums = []
        for arn in fn.get("layers") or []:
            layer_sums.append(layer_store.resolve(s, snap.account, arn).body["codeChecksum"])
        log_config = svc.get("logConfig") or {}
        return InstanceSpec(
            account=snap.account, region=self.settings.region, service=snap.service, function=function,
            qualifier=qualifier, version_id=snap.version_id, runtime=runtime, handler=fn.get("handler") or "",
            initializer=fn.get("initializer") or "", timeout=int(fn.get("timeout") or 3),
            initialization_timeout=int(fn.get("initializationTimeout") or 3),
            memory_mb=int(fn.get("memorySize") or 128), concurrency=int(fn.get("instanceConcurrency") or 1),
            ca_port=int(fn.get("caPort") or 9000), code_checksum=fn.get("codeChecksum") or "",
            revision=f"{snap.service_etag}:{fn_etag}", env=dict(fn.get("environmentVariables") or {}),
            code_dir=code_dir, opt_dir=self.artifacts.opt_dir(layer_sums),
            command=start_command(fn) if catalog.family(runtime) == catalog.CUSTOM else (),
            container=fn.get("customContainerConfig") if runtime == runtimes.CONTAINER else None,
            log_project=log_config.get("project", ""), log_store=log_config.get("logstore", ""),
            debug=debugger.supported(catalog.family(runtime), runtime) and debugger.wanted(
                self.settings.debug, snap.service, function, fn.get("environmentVariables") or {}))
