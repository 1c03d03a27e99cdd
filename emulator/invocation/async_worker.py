"""Async invocations (fc-api.md §2.4, §2.9, §2.10): accept into the queue table, run through the same
`Invoker.invoke` as sync calls, retry, expire, deliver to destinations, stop.

Scheduling: one claimer takes due events (a write transaction, so a claim is taken once) and runs up
to `--async-workers` of them at a time. When nothing is due it sleeps until the next due time or
until an event is enqueued; there is no polling. Events a killed emulator left Running are queued
again at start-up: an event runs at least once, and exactly once unless the emulator dies mid-run.

Retries (FC's documented policy, https://www.alibabacloud.com/help/en/functioncompute/fc-2-0/user-guide/retry-policy):
- function errors (Handled/UnhandledInvocationError, timeouts, crashes): retried up to
  maxAsyncRetryAttempts (default 3) times, the n-th retry `base * 2^(n-1)` seconds after the failure;
- throttling (429 ResourceThrottled): retried without using an attempt, `base * 2^(k-1)` after the
  k-th throttle (capped at 32 * base), and at once when an instance of the function frees a slot;
- other errors (the function or service is gone, the instance cannot start): not retried.
`base` is `--async-retry-base-delay`, default 0.5 s: FC documents 0.5 s, 1 s, 2 s, ... for throttles
and no interval for function errors, so both use the same schedule.
An event older than maxAsyncEventAgeInSeconds (default 86400) when its turn comes is dropped as
Expired and sent to the onFailure destination with condition EventAgeExceeded.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid

from emulator import errors
from emulator.config import Settings
from emulator.invocation import destinations
from emulator.invocation.destinations import FAILURE, SUCCESS, Result, policy
from emulator.invocation.sync import Invocation, Invoker, Outcome
from emulator.store import async_queue as queue
from emulator.store import snapshots
from emulator.store.async_queue import AsyncEvent, QueueDB
from emulator.store.db import Database

log = logging.getLogger("fc_emulator.async")

THROTTLE_CAP = 32  # throttle back-off stops growing at 32 * base
STOP_WAIT_S = 10.0
INVOCATION_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")


def _error_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")
    if isinstance(data, dict) and isinstance(data.get("errorMessage"), str):
        return data["errorMessage"]
    return body.decode("utf-8", errors="replace")


class AsyncInvoker:
    def __init__(self, db: Database, invoker: Invoker, settings: Settings):
        self.qdb = QueueDB(db)
        self.invoker = invoker
        self.region = settings.region
        self.workers = max(1, int(settings.async_workers))
        self.base_delay = float(settings.async_retry_base_delay)
        self.owner = uuid.uuid4().hex  # this process's lease name (the replica's id once `replica` is set)
        self.replica = None  # emulator.replica.Replica: leases, wake-ups and stops across replicas
        self._runs: dict[int, asyncio.Task] = {}
        self._stop_requested: set[int] = set()
        self._throttled: set[tuple[str, str, str]] = set()  # functions with throttled events waiting
        self._gen = 0
        self._changed: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._scheduler: asyncio.Task | None = None
        self._closing = False

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self._changed = asyncio.Event()
        self._slots = asyncio.Semaphore(self.workers)
        requeued = 0
        if self.replica is None:  # else the replica took back what dead replicas left (replica.join)
            requeued = await asyncio.to_thread(self._write, queue.requeue_orphans, self.owner)
        else:
            self.owner = self.replica.id
            self.replica.on_kick = self._kick
            self.replica.on_stop = self.stop_local
        pruned = await asyncio.to_thread(self._write, queue.prune)
        if requeued:
            log.info("requeued %d async event(s) left running by an earlier emulator", requeued)
        if pruned:
            log.info("forgot %d async event(s) finished more than a week ago", pruned)
        self.invoker.listeners.append(self._on_invocation)
        self._scheduler = asyncio.create_task(self._schedule())

    async def close(self) -> None:
        """Stop taking events; events still running are given back to the queue for the next start."""
        self._closing = True
        if self._scheduler is not None:
            self._scheduler.cancel()
        runs = dict(self._runs)
        for task in runs.values():
            task.cancel()
        await asyncio.gather(*runs.values(), return_exceptions=True)
        for event_id in runs:
            await asyncio.to_thread(self._write, queue.release, event_id)

    def _write(self, fn, *args):
        with self.qdb.write() as s:
            return fn(s, *args)

    async def cancel(self, event_ids: list[int]) -> None:
        """Test control's reset: stop these running events at once (their rows are about to go)."""
        tasks = [self._runs[i] for i in event_ids if i in self._runs]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def pending(self) -> int:
        """Events queued (including retries waiting for their back-off) or running."""
        def count() -> int:
            with self.qdb.read() as s:
                return queue.pending(s)
        return await asyncio.to_thread(count)

    # --- accept ------------------------------------------------------------------------------------

    async def enqueue(self, *, account: str, service: str, qualifier: str | None, function: str, payload: bytes,
                      request_id: str, headers: dict, invocation_id: str | None,
                      stateful_enable: bool | None) -> str | None:
        """Accept an event (FunctionNotFound & co. at once, as FC does); the stateful invocation id or None."""
        if invocation_id is not None and not INVOCATION_ID.match(invocation_id):
            raise errors.invalid_argument(
                f"StatefulAsyncInvocationId is set to an invalid value (must match "
                f"'^[A-Za-z_][A-Za-z0-9_-]{{0,127}}$', actual: '{invocation_id}')")
        q = qualifier or snapshots.LATEST

        def accept(s) -> str | None:
            snapshots.resolve(s, account, service, q).function(s, function)
            stateful = invocation_id is not None or (
                stateful_enable if stateful_enable is not None else policy(s, account, service, q, function).stateful)
            task_id = (invocation_id or request_id) if stateful else None
            if task_id is not None and queue.find_task(s, account, service, function, task_id) is not None:
                raise errors.stateful_invocation_exists(task_id)
            queue.enqueue(s, account=account, service=service, qualifier=q, function=function,
                          request_id=request_id, payload=payload, headers=headers, invocation_id=task_id,
                          stateful=stateful)
            if self.replica is not None:
                self.replica.notify(s, "fc_async")  # idle replicas claim it too
            return task_id

        task_id = await asyncio.to_thread(self._write, accept)
        self._kick()
        return task_id

    def _kick(self) -> None:
        """Something changed in the queue: wake the claimer if it is idle."""
        self._gen += 1
        if self._changed is not None:
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    # --- schedule ----------------------------------------------------------------------------------

    async def _schedule(self) -> None:
        assert self._slots is not None
        while True:
            await self._slots.acquire()
            gen, changed = self._gen, self._changed
            try:
                ev, due = await asyncio.to_thread(self._write, self._claim)
            except Exception:  # noqa: BLE001 - a locked or broken database: try again shortly
                log.exception("claiming an async event failed")
                self._slots.release()
                await asyncio.sleep(1)
                continue
            if ev is None:
                self._slots.release()
                if due is not None and due <= time.time():
                    continue  # the claimed event had expired: look again at once
                if gen == self._gen:
                    timeout = None if due is None else max(0.0, due - time.time()) + 0.001
                    try:
                        await asyncio.wait_for(changed.wait(), timeout)
                    except asyncio.TimeoutError:
                        pass
                continue
            task = asyncio.create_task(self._run(ev))
            self._runs[ev.id] = task
            task.add_done_callback(lambda _t, event_id=ev.id: self._ran(event_id))

    def _ran(self, event_id: int) -> None:
        self._runs.pop(event_id, None)
        self._stop_requested.discard(event_id)
        if self._slots is not None:
            self._slots.release()

    async def _on_invocation(self, inv: Invocation, out: Outcome) -> None:
        """A call finished, so an instance slot is free: the function's oldest throttled event may go."""
        key = (inv.account, inv.service, inv.function)
        if key not in self._throttled or not out.instance_id:  # a refused call freed no slot
            return
        woke = await asyncio.to_thread(self._write, queue.wake_throttled, *key)
        if woke:
            self._kick()
        else:
            self._throttled.discard(key)

    # --- run ---------------------------------------------------------------------------------------

    async def _run(self, ev: AsyncEvent) -> None:
        try:
            inv = Invocation(account=ev.account_id, service=ev.service, qualifier=ev.qualifier, function=ev.function,
                             payload=ev.payload, request_id=ev.request_id, retry_count=ev.attempt - 1,
                             extra_headers=dict(ev.headers or {}), kind=ev.kind)
            try:
                out = await self.invoker.invoke(inv)
            except errors.FCError as exc:
                if exc.status == 429:
                    self._throttled.add((ev.account_id, ev.service, ev.function))
                    await asyncio.to_thread(self._write, self._throttle, ev.id, exc)
                    self._kick()
                    return
                result = Result(exc.status, exc.code, exc.message, json.dumps(exc.body()).encode())
                if exc.status >= 500:  # the emulator's own failure: recorded, and retried like any other
                    self.invoker.record_refusal(inv, exc)
                await asyncio.to_thread(self._write, self._settle, ev.id, result, None, exc.status >= 500)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep the worker alive; the event fails
                log.exception("async invocation %s failed inside the emulator", ev.request_id)
                err = errors.internal_error()
                result = Result(err.status, err.code, f"{err.message} ({type(exc).__name__})",
                                json.dumps(err.body()).encode())
                self.invoker.record_refusal(inv, err)  # recorded, and retried like any other failure
                await asyncio.to_thread(self._write, self._settle, ev.id, result, None, True)
                return
            if out.ok:
                result = Result(200, "", "", out.body)
            else:
                result = Result(200, out.error_type or "", _error_message(out.body), out.body)
            await asyncio.to_thread(self._write, self._settle, ev.id, result, out, not out.ok)
        except asyncio.CancelledError:
            if self._closing or ev.id not in self._stop_requested:
                raise
            await asyncio.to_thread(self._write, self._stopped, ev.id)
        finally:
            self._kick()  # a destination or a retry may be due

    def _claim(self, s) -> tuple[AsyncEvent | None, float | None]:
        """The next due event, recorded as Running; one past its age is expired instead
        (then (None, now): look again)."""
        ev, due = queue.claim(s, self.owner)
        if ev is None or self._begin(s, ev):
            return ev, due
        return None, time.time()

    def _begin(self, s, ev: AsyncEvent) -> bool:
        """Expire an event past its age, or record the attempt as Running."""
        pol = policy(s, ev.account_id, ev.service, ev.qualifier, ev.function)
        now = time.time()
        age = now - ev.enqueued_at
        if age > pol.max_age:
            ev.attempt -= 1  # this claim did not run
            ev.error_type = "EventAgeExceeded"
            ev.error_message = (f"the event is {age:.1f} s old, older than maxAsyncEventAgeInSeconds "
                                f"({pol.max_age}); dropped")
            queue.finish(ev, queue.EXPIRED, now, ev.error_message)
            self._deliver(s, ev, pol.on_failure, FAILURE,
                          Result(410, "EventAgeExceeded", ev.error_message, ev.result or b""))
            log.info("async %s %s/%s expired after %.1f s", ev.request_id, ev.service, ev.function, age)
            return False
        ev.add_event(queue.RUNNING, f"attempt {ev.attempt}", now)
        return True

    def _throttle(self, s, event_id: int, exc: errors.FCError) -> None:
        ev = s.get(AsyncEvent, event_id)
        if ev is None or ev.status not in (queue.RUNNING, queue.STOPPING) or ev.lease_owner != self.owner:
            return
        now = time.time()
        if ev.status == queue.STOPPING:
            queue.finish(ev, queue.STOPPED, now)
            return
        ev.attempt -= 1  # FC: a throttled run is not an attempt
        ev.throttles += 1
        delay = min(self.base_delay * 2 ** (ev.throttles - 1), self.base_delay * THROTTLE_CAP)
        ev.status, ev.next_run = queue.ENQUEUED, now + delay
        ev.lease_owner = ev.lease_until = None
        # one event for a run of throttles, not two per try (a busy function may throttle for hours)
        events = list(ev.events or [])
        if events and events[-1]["status"] == queue.RUNNING:
            events.pop()
        detail = f"{exc.code} ({ev.throttles} time(s)): retry in {delay:g} s"
        if events and events[-1]["status"] == queue.ENQUEUED and events[-1]["eventDetail"].startswith(exc.code):
            events[-1] = {**events[-1], "timestamp": int(now * 1000), "eventDetail": detail}
            ev.events = events
        else:
            ev.events = events
            ev.add_event(queue.ENQUEUED, detail, now)

    def _settle(self, s, event_id: int, result: Result, out: Outcome | None, retryable: bool) -> None:
        """Record an attempt's outcome: schedule a retry, or finish and deliver to the destination."""
        ev = s.get(AsyncEvent, event_id)
        if ev is None or ev.status not in (queue.RUNNING, queue.STOPPING) or ev.lease_owner != self.owner:
            return
        now = time.time()
        pol = policy(s, ev.account_id, ev.service, ev.qualifier, ev.function)
        if out is not None:
            ev.instance_id, ev.duration_ms = out.instance_id, int(round(out.duration_ms))
        ev.result = result.response
        ev.error_type = result.condition or None
        ev.error_message = result.error_message or None
        ok = result.status_code == 200 and not result.condition
        if ev.status == queue.STOPPING and not ok:
            queue.finish(ev, queue.STOPPED, now, "stopped")
            return
        retries_done = ev.attempt - 1
        if retryable and retries_done < pol.retries:
            delay = self.base_delay * 2 ** retries_done
            ev.status, ev.next_run = queue.ENQUEUED, now + delay
            ev.lease_owner = ev.lease_until = None
            ev.add_event(queue.ENQUEUED, f"{result.condition}: {result.error_message}; "
                                         f"retry {retries_done + 1} of {pol.retries} in {delay:g} s", now)
            return
        status = queue.SUCCEEDED if ok else queue.FAILED
        queue.finish(ev, status, now, "" if ok else f"{result.condition}: {result.error_message}")
        self._deliver(s, ev, pol.on_success if ok else pol.on_failure, SUCCESS if ok else FAILURE, result)

    def _deliver(self, s, ev: AsyncEvent, arn: str, condition: str, result: Result) -> None:
        if not arn:
            return
        body = destinations.payload(ev, self.region, result)
        try:
            destinations.deliver(s, ev, condition, arn, body)
            ev.destination_status = queue.SUCCEEDED
        except ValueError as exc:
            log.warning("async %s: %s", ev.request_id, exc)
            ev.destination_status = queue.FAILED

    def _stopped(self, s, event_id: int) -> None:
        ev = s.get(AsyncEvent, event_id)
        if ev is not None and ev.status in (queue.RUNNING, queue.STOPPING) and ev.lease_owner == self.owner:
            queue.finish(ev, queue.STOPPED, time.time(), "stopped while running")

    # --- stop (StopStatefulAsyncInvocation) --------------------------------------------------------

    async def stop(self, account: str, service: str, function: str, invocation_id: str) -> None:
        """A queued task is Stopped at once; a running one has its call cancelled (the instance is
        thrown away, as FC kills it); a finished one is FC's error."""
        def request(s) -> tuple[int, str | None] | None:
            ev = queue.find_task(s, account, service, function, invocation_id)
            if ev is None or not ev.stateful:
                raise errors.stateful_invocation_not_found(invocation_id)
            if ev.status == queue.STOPPED:
                raise errors.async_invocation_stopped(invocation_id)
            if ev.status in queue.FINISHED:
                raise errors.invalid_argument(f"stateful async invocation '{invocation_id}' has already "
                                              f"finished (status: {ev.status})")
            if ev.status == queue.ENQUEUED:
                queue.finish(ev, queue.STOPPED, time.time(), "stopped before it ran")
                return None
            if ev.status == queue.RUNNING:
                ev.status = queue.STOPPING
                ev.add_event(queue.STOPPING, "", time.time())
            if self.replica is not None and ev.lease_owner and ev.lease_owner != self.owner:
                self.replica.notify(s, "fc_stop", f"{ev.lease_owner}:{ev.id}")  # the replica running it
            return ev.id, ev.lease_owner

        asked = await asyncio.to_thread(self._write, request)
        if asked is None:
            self._kick()
            return
        event_id, owner = asked
        task = self._runs.get(event_id)
        if task is not None:
            self._stop_requested.add(event_id)
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_WAIT_S)
        elif owner and owner != self.owner:
            await self._wait_stopped(event_id)

    def stop_local(self, event_ids: list[int]) -> None:
        """Another replica asked to stop these events (NOTIFY fc_stop, or seen Stopping at a heartbeat)."""
        for event_id in event_ids:
            task = self._runs.get(event_id)
            if task is not None and event_id not in self._stop_requested:
                self._stop_requested.add(event_id)
                task.cancel()

    async def _wait_stopped(self, event_id: int) -> None:
        """Answer once the replica running the task has stopped it (or STOP_WAIT_S passed)."""
        def status() -> str | None:
            with self.qdb.read() as s:
                ev = s.get(AsyncEvent, event_id)
                return ev.status if ev is not None else None
        deadline = time.monotonic() + STOP_WAIT_S
        while time.monotonic() < deadline and await asyncio.to_thread(status) in (queue.RUNNING, queue.STOPPING):
            await asyncio.sleep(0.05)
