"""The Recorder: an Invoker listener that turns every finished invocation into an invocation record.

Off the caller's path: the listener only collects the log and queues a row; one background task writes
the queue in batches (one transaction per batch, in a worker thread), and another prunes by count and age.
`pending` counts invocations finished but not yet written, so "wait until idle" can include them.
"""
from __future__ import annotations

import asyncio
import json
import logging

from emulator.execution import logs
from emulator.invocation.sync import Invocation, Invoker, Outcome
from emulator.store.records import PAYLOAD_HEAD_BYTES, Records

log = logging.getLogger("fc_emulator.records")

BATCH_MAX = 500
# Records wait this long to be written together: one transaction per call would cost the sequential
# warm path as much CPU as the call itself. wait-idle asks for an immediate flush instead of waiting.
LINGER_S = 0.2
RETENTION_INTERVAL_S = 1.0


def error_message(out: Outcome) -> str | None:
    """FC's error body is {"errorMessage": ...}; keep its message (or the start of the raw body)."""
    if not out.error_type:
        return None
    try:
        body = json.loads(out.body)
        message = body.get("errorMessage") if isinstance(body, dict) else None
    except (ValueError, UnicodeDecodeError):
        message = None
    if not isinstance(message, str):
        message = out.body[:1024].decode("utf-8", errors="replace")
    return message[:2048]


class Recorder:
    def __init__(self, records: Records, invoker: Invoker, max_count: int, max_age_s: float,
                 max_log_bytes: int = 65536):
        self.records = records
        self.invoker = invoker
        self.max_count = max_count
        self.max_age_s = max_age_s
        self.max_log_bytes = max_log_bytes  # per record: the log's tail, after a note of what was cut
        logs.keep_at_least(max_log_bytes)  # instances must keep at least that much of each invocation's log
        self._queue: list[dict] = []
        self._wake: asyncio.Event | None = None
        self._urgent: asyncio.Event | None = None
        self._inflight = 0  # listeners started but not yet queued (collecting logs)
        self._writing = 0
        self._tasks: list[asyncio.Task] = []

    @property
    def pending(self) -> int:
        """Finished invocations whose record is not in the database yet."""
        return self._inflight + len(self._queue) + self._writing

    # ---- the listener ----

    def __call__(self, inv: Invocation, out: Outcome):
        # A plain function, called synchronously by Invoker.invoke: counted before the invoker's
        # `running` drops to what wait-idle sees, so an idle check can't slip between the two.
        self._inflight += 1
        return self._record(inv, out)

    async def _record(self, inv: Invocation, out: Outcome) -> None:
        try:
            lines = await self.invoker.collect_log(inv, out)
            self.add(
                request_id=inv.request_id, account_id=inv.account, service=inv.service, function=inv.function,
                qualifier=inv.qualifier or "LATEST", version_id=out.version_id, kind=inv.kind,
                attempt=inv.retry_count + 1, started_ms=int(inv.started_at * 1000), duration_ms=out.duration_ms,
                status="succeeded" if out.ok else "failed", error_type=out.error_type,
                error_message=error_message(out), cold=out.cold, instance_id=out.instance_id,
                payload_size=len(inv.payload), payload_head=bytes(inv.payload[:PAYLOAD_HEAD_BYTES]),
                log_lines=list(lines))
        except Exception:  # noqa: BLE001 - a record must never break an invocation
            log.exception("could not record invocation %s", inv.request_id)
        finally:
            self._inflight -= 1

    def add(self, **row) -> None:
        """Queue one record (also for layers that record without invoking, e.g. a dropped async event).
        Columns: see store/records.py RecordRow; request_id, account_id, service, function, started_ms
        and status are required. The log is cut to its last `max_log_bytes` here, so the queue is bounded too."""
        if row.get("log_lines"):
            row["log_lines"] = logs.keep_tail(row["log_lines"], self.max_log_bytes)
        self._queue.append(row)
        if self._wake is not None:
            self._wake.set()

    # ---- background work ----

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()
        self._tasks = [asyncio.create_task(self._flush_loop()), asyncio.create_task(self._retention_loop())]

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.flush()

    async def flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:BATCH_MAX], self._queue[BATCH_MAX:]
            self._writing += len(batch)
            try:
                await asyncio.to_thread(self.records.insert, batch)
            except Exception:  # noqa: BLE001 - keep serving; the batch is lost, say so
                log.exception("could not write %d invocation record(s)", len(batch))
            finally:
                self._writing -= len(batch)

    def flush_soon(self) -> None:
        """Write what is queued now rather than after the linger (someone is waiting for it)."""
        if self._urgent is not None:
            self._urgent.set()

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            if len(self._queue) < BATCH_MAX and not self._urgent.is_set():
                try:
                    await asyncio.wait_for(self._urgent.wait(), LINGER_S)
                except asyncio.TimeoutError:
                    pass
            self._wake.clear()
            self._urgent.clear()
            await self.flush()

    async def _retention_loop(self) -> None:
        while True:
            await asyncio.sleep(RETENTION_INTERVAL_S)
            try:
                removed = await asyncio.to_thread(self.records.prune, self.max_count, self.max_age_s)
                if removed:
                    log.debug("pruned %d invocation record(s)", removed)
            except Exception:  # noqa: BLE001
                log.exception("could not prune invocation records")
