"""The call path every invocation takes (sync API calls now; async, timers and HTTP triggers reuse it):
qualifier -> spec -> pool -> instance -> agent -> FC's outcome."""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from emulator import errors
from emulator.execution.agent import AgentGone
from emulator.execution.backends.base import StartFailed
from emulator.execution.environment import request_headers
from emulator.execution.instance import InitializerFailed, Instance
from emulator.execution.logs import InstanceLog
from emulator.execution.pool import Pools
from emulator.invocation.http import HttpRequest, http_request_for, http_result
from emulator.invocation import http_v3
from emulator.invocation.results import UNHANDLED, Call, error_body, error_type
from emulator.invocation.targets import Targets

log = logging.getLogger("fc_emulator.invoke")

TAIL_BYTES = 4096
LOG_WAIT_S = 1.0  # how long to wait for a custom server's End marker once it has answered


@dataclass
class Invocation:
    account: str
    service: str
    qualifier: str | None
    function: str
    payload: bytes
    request_id: str
    want_log: bool = False
    retry_count: int = 0
    extra_headers: dict = field(default_factory=dict)  # tracing headers from the caller
    kind: str = "sync"  # sync | async | destination | timer | http ...
    http: HttpRequest | None = None  # an HTTP-trigger request (then `payload` is its body)
    started_at: float = field(default_factory=time.time)  # epoch seconds


@dataclass
class Outcome:
    body: bytes
    error_type: str | None
    instance_id: str
    cold: bool
    duration_ms: float
    memory_mb: float
    memory_size: int
    version_id: str
    code_checksum: str
    log_lines: list[str]
    instance: Instance | None = field(default=None, repr=False)
    log_task: asyncio.Future | None = field(default=None, repr=False)
    http_status: int | None = None  # HTTP triggers: the function's own status and headers
    http_headers: list[tuple[str, str]] | None = None

    @property
    def ok(self) -> bool:
        return self.error_type is None

    def log_text(self) -> str:
        summary = (f"Duration: {self.duration_ms:.2f} ms, Billed Duration: {max(1, round(self.duration_ms))} ms, "
                   f"Memory Size: {self.memory_size} MB, Max Memory Used: {self.memory_mb:.2f} MB")
        return "\n".join(self.log_lines + [summary]) + "\n"

    def log_tail_b64(self) -> str:
        return base64.b64encode(self.log_text().encode()[-TAIL_BYTES:]).decode()


def rejected(inv: Invocation, exc: errors.FCError) -> Outcome:
    """An invocation the platform refused (429, 412): recorded with FC's error code as its error type."""
    return Outcome(body=json.dumps(exc.body()).encode(), error_type=exc.code, instance_id="", cold=False,
                   duration_ms=(time.time() - inv.started_at) * 1000, memory_mb=0.0, memory_size=0, version_id="",
                   code_checksum="", log_lines=[])


TRACING = "x-fc-tracing-"
BAGGAGE_PREFIX = "x-fc-tracing-opentracing-span-context-baggage-"  # one header per key (the SDKs' form)
BAGGAGES = "x-fc-tracing-opentracing-span-baggages"  # base64 JSON object, what the agents read


def tracing_headers(items) -> dict[str, str]:
    """The caller's x-fc-tracing-* headers (lower-case names) as the agents read them: baggage sent
    as `...-span-context-baggage-<key>: <value>` is folded into FC's base64 JSON baggage header (over
    the keys of one the caller sent itself). One pass over the headers: this runs on every call."""
    out: dict[str, str] = {}
    baggage: dict[str, str] | None = None
    for k, v in items:
        if k.startswith(TRACING):
            if k.startswith(BAGGAGE_PREFIX):
                if baggage is None:
                    baggage = {}
                baggage[k[len(BAGGAGE_PREFIX):]] = v
            else:
                out[k] = v
    if baggage:
        merged: dict = {}
        if BAGGAGES in out:
            try:
                sent = json.loads(base64.b64decode(out[BAGGAGES], validate=True))
                merged = sent if isinstance(sent, dict) else {}
            except ValueError:  # not base64 / not JSON: the per-key headers alone
                pass
        merged.update(baggage)
        out[BAGGAGES] = base64.b64encode(json.dumps(merged).encode()).decode()
    return out


Listener = Callable[[Invocation, "Outcome"], "Awaitable[None] | None"]


class Invoker:
    def __init__(self, targets: Targets, pools: Pools):
        self.targets = targets
        self.pools = pools
        self.running = 0  # invocations in flight (sync and async), for "wait until idle"
        # called after every invocation, off the caller's path (invocation records, destinations)
        self.listeners: list[Listener] = []
        self._tasks: set[asyncio.Task] = set()

    async def resolve(self, inv: Invocation):
        rnd = random.random()
        target = self.targets.cached(inv.account, inv.service, inv.qualifier, inv.function, rnd)
        if target is None:
            target = await asyncio.to_thread(self.targets.resolve, inv.account, inv.service, inv.qualifier,
                                             inv.function, rnd)
        return target

    async def invoke(self, inv: Invocation) -> Outcome:
        self.running += 1
        try:
            out = await self._invoke(inv)
        except errors.FCError as exc:
            if exc.status in (412, 429):  # throttled, or the instance could not start: still an invocation
                self._notify(inv, rejected(inv, exc))
            raise
        finally:
            self.running -= 1
        self._notify(inv, out)
        return out

    def record_refusal(self, inv: Invocation, exc: errors.FCError) -> None:
        """An invocation that failed before it ran (the platform's error): its listeners still hear of it."""
        self._notify(inv, rejected(inv, exc))

    def _notify(self, inv: Invocation, out: Outcome) -> None:
        for listener in self.listeners:
            work = listener(inv, out)
            if work is None:  # a plain function that did its part inline (metrics): no task to run
                continue
            task = asyncio.create_task(work)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _invoke(self, inv: Invocation) -> Outcome:
        t0 = time.monotonic()
        target = await self.resolve(inv)
        spec = target.spec
        if not spec.web_server_mode:
            return await self._run_to_exit(inv, spec, t0)
        pool = self.pools.pool(spec.key)
        try:
            lease = await pool.acquire(spec, target.max_instances, inv.request_id)
        except StartFailed as exc:
            raise errors.FCError(412, "FunctionNotStarted", str(exc)) from None
        except InitializerFailed as exc:  # the instance was thrown away; the caller gets the error
            body = exc.response.body if exc.response is not None else error_body(exc.message)
            return self._outcome(inv, spec, t0, body, UNHANDLED, cold=True, memory=0.0, instance=None)
        call = None
        try:
            call = await self._call(lease.instance, spec, inv, t0)
        finally:
            pool.release(lease, broken=call is None or call.broken)
        out = self._outcome(inv, spec, t0, call.body, call.error_type, lease.cold, call.memory, lease.instance)
        out.http_status, out.http_headers = call.http_status, call.http_headers
        return out

    async def _call(self, inst: Instance, spec, inv: Invocation, t0: float) -> Call:
        payload = inv.payload
        event_v1 = inv.http is not None and http_v3.applies(spec)  # FC 3.0: the request as an event
        if inv.http is None:
            method, path = "POST", "/invoke"
            headers = {**request_headers(spec, inv.request_id, "/invoke", inv.retry_count), **inv.extra_headers,
                       "content-type": "application/octet-stream"}
        elif event_v1:
            method, path, headers, payload = http_v3.request_for(spec, inv)
        else:
            method, path, headers = http_request_for(spec, inv)
        try:
            r = await asyncio.wait_for(inst.call(method, path, headers, payload), spec.timeout)
        except asyncio.TimeoutError:
            memory = inst.memory_mb()
            return Call(error_body(f"Function timed out after {spec.timeout} seconds (maxMemoryUsage: {memory:.2f}MB)"),
                        UNHANDLED, memory, broken=True)
        except AgentGone:
            memory = inst.memory_mb()
            ms = (time.monotonic() - t0) * 1000
            return Call(error_body(f"Process exited unexpectedly before completing request "
                                    f"(duration: {ms:.0f}ms, maxMemoryUsage: {memory:.0f}MB)"), UNHANDLED, memory,
                        broken=True)
        if event_v1:
            return http_v3.result(r, inst.memory_mb(r))
        if inv.http is not None:
            return http_result(spec, r, inst.memory_mb(r))
        return Call(r.body, error_type(r), inst.memory_mb(r))

    async def _run_to_exit(self, inv: Invocation, spec, t0: float) -> Outcome:
        """custom-container, webServerMode false: one container run per event (runtimes.md §2.7).
        Success is exit code 0; the result body is empty and the output is the invocation's log."""
        log_ = InstanceLog(f"run-{inv.request_id[:8]}")
        try:
            code = await asyncio.to_thread(self.pools.backend.run_to_exit, spec, f"r-{inv.request_id}", inv.payload,
                                           log_, spec.timeout)
        except StartFailed as exc:
            raise errors.FCError(412, "FunctionNotStarted", str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the engine's wait timed out
            if "timed out" not in str(exc).lower() and "timeout" not in type(exc).__name__.lower():
                raise
            out = self._outcome(inv, spec, t0, error_body(f"Function timed out after {spec.timeout} seconds "
                                                           f"(maxMemoryUsage: 0.00MB)"), UNHANDLED, True, 0.0, None)
            out.log_lines = list(log_.tail)
            return out
        body, error = (b"", None) if code == 0 else (
            error_body(f"Process exited unexpectedly with exit code {code}"), UNHANDLED)
        out = self._outcome(inv, spec, t0, body, error, True, 0.0, None)
        out.log_lines = list(log_.tail)
        return out

    def _outcome(self, inv: Invocation, spec, t0: float, body: bytes, error_type: str | None, cold: bool,
                 memory: float, instance: Instance | None) -> Outcome:
        duration = (time.monotonic() - t0) * 1000
        out = Outcome(body=body, error_type=error_type, instance_id=instance.id if instance else "", cold=cold,
                      duration_ms=duration, memory_mb=memory, memory_size=spec.memory_mb,
                      version_id=spec.version_id, code_checksum=spec.code_checksum, log_lines=[], instance=instance)
        log.info("invoke %s %s %s/%s q=%s v=%s %.1fms %s %s instance=%s", inv.kind, inv.request_id, inv.service,
                 inv.function, inv.qualifier or "LATEST", spec.version_id, duration, "cold" if cold else "warm",
                 error_type or "ok", out.instance_id)
        return out

    async def collect_log(self, inv: Invocation, out: Outcome) -> list[str]:
        """The invocation's log lines (between FC's markers), waiting briefly for the End marker.
        Safe to call more than once (the Tail header and the invocation record both want them)."""
        if out.log_task is None:
            out.log_task = asyncio.ensure_future(self._collect_log(inv, out))
        return await asyncio.shield(out.log_task)

    async def _collect_log(self, inv: Invocation, out: Outcome) -> list[str]:
        if out.instance is not None:
            await out.instance.log.wait_end(inv.request_id, LOG_WAIT_S)
            out.log_lines = out.instance.log.take(inv.request_id)
        return out.log_lines
