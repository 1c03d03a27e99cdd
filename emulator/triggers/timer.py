"""Timer triggers (fc-api.md §2.5): APScheduler jobs on FC's cron dialect, rebuilt from the database.

- Each firing is an asynchronous invocation of the trigger's qualifier with FC's timer event
  `{"triggerTime", "triggerName", "payload"}`.
- A scheduled moment fires once: a row in `timer_firings` is claimed first (several processes may
  share a data dir).
- Missed moments (a long pause, or downtime before a restart) are coalesced into one firing of the
  latest missed moment, never replayed as a burst.
"""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import select

from emulator import errors
from emulator.model import cron
from emulator.store import resources as res
from emulator.store import timers as firings
from emulator.store.async_queue import QueueDB
from emulator.store.db import Database
from emulator.store.resources import ResourceRow

log = logging.getLogger("fc_emulator.timer")
logging.getLogger("apscheduler").setLevel(logging.WARNING)  # our own log line says what fired
UTC = timezone.utc
RECONCILE_S = 5.0  # also pick up changes made by other processes sharing the data dir


class FCCronTrigger(BaseTrigger):
    """APScheduler's view of an FC cron expression (six fields, `?`, names, CRON_TZ=, @every)."""

    def __init__(self, expression: str):
        self.expression = expression

    def get_next_fire_time(self, previous_fire_time, now):
        return cron.next_fire(self.expression, previous_fire_time or now - timedelta(microseconds=1))

    def __str__(self) -> str:
        return f"fc-cron[{self.expression}]"


@dataclass(frozen=True)
class Timer:
    account: str
    service: str
    function: str
    name: str
    qualifier: str
    expression: str
    payload: str
    enabled: bool
    created: datetime

    @property
    def key(self) -> str:
        return f"{self.account}/{self.service}/{self.function}/{self.name}"

    @property
    def trigger_path(self) -> str:
        return f"{self.service}/{self.function}/{self.name}"


def timer_of(row: ResourceRow) -> Timer:
    svc, fn = row.parent.split("/", 1)
    config = row.body.get("triggerConfig") or {}
    if isinstance(config, str):
        config = json.loads(config or "{}")
    return Timer(account=row.account_id, service=svc, function=fn, name=row.name,
                 qualifier=row.body.get("qualifier") or "LATEST", expression=config.get("cronExpression", ""),
                 payload=config.get("payload") or "", enabled=config.get("enable", True) is not False,
                 created=row.created_time.replace(tzinfo=UTC))


def timer_event(timer: Timer, moment: datetime) -> bytes:
    return json.dumps({"triggerTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "triggerName": timer.name, "payload": timer.payload}).encode()


class TimerScheduler:
    def __init__(self, db: Database, async_invoker):
        self.db = db
        self.async_invoker = async_invoker
        self.qdb = QueueDB(db)  # claims bypass Database.write(): they change no resource, so no cache goes stale
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._timers: dict[str, Timer] = {}
        self._generation = -1
        self._watch: asyncio.Task | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        self.scheduler.start()
        await self.reconcile(catch_up=True)
        self._watch = asyncio.create_task(self._follow())

    async def close(self) -> None:
        if self._watch:
            self._watch.cancel()
        self.scheduler.shutdown(wait=False)

    def changed(self) -> None:
        """Triggers were written: reconcile now (callable from any thread)."""
        loop = self.scheduler._eventloop  # noqa: SLF001 - the loop APScheduler runs on
        loop.call_soon_threadsafe(self._wake.set)

    async def _follow(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), RECONCILE_S)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.reconcile()
            except Exception:  # noqa: BLE001 - keep following
                log.exception("could not reconcile timer triggers")

    def _load(self) -> list[Timer]:
        with self.db.read() as s:
            rows = s.scalars(select(ResourceRow).where(ResourceRow.kind == "trigger"))
            return [timer_of(r) for r in rows if r.body.get("triggerType") == "timer"]

    async def reconcile(self, catch_up: bool = False) -> None:
        """Make the jobs match the stored, enabled timer triggers."""
        timers = {t.key: t for t in await asyncio.to_thread(self._load) if t.enabled and t.expression}
        for key in set(self._timers) - set(timers):
            self.scheduler.remove_job(key)
            log.info("timer %s unscheduled", key)
        for key, timer in timers.items():
            if self._timers.get(key) == timer:
                continue
            self.scheduler.add_job(self._on_time, FCCronTrigger(timer.expression), args=[key], id=key,
                                   replace_existing=True, coalesce=True, misfire_grace_time=None, max_instances=1)
            log.info("timer %s scheduled: %s", key, timer.expression)
            if catch_up:
                await self._catch_up(timer)
        self._timers = timers

    async def _catch_up(self, timer: Timer) -> None:
        """After downtime: the latest missed moment fires once (coalesced), older ones never."""
        moment = cron.prev_fire(timer.expression, datetime.now(UTC))
        if moment is None or moment < timer.created:
            return
        last = await asyncio.to_thread(self._last_fired, timer)
        if last is None or last.replace(tzinfo=UTC) < moment:
            try:
                await self.fire(timer, moment)
            except errors.FCError as exc:
                log.warning("timer %s could not catch up %s: %s %s", timer.key, moment.isoformat(), exc.code,
                            exc.message)

    def _last_fired(self, timer: Timer):
        with self.db.read() as s:
            return firings.last_fired(s, timer.account, timer.trigger_path)

    async def _on_time(self, key: str) -> None:
        timer = self._timers.get(key)
        if timer is None:
            return
        moment = cron.prev_fire(timer.expression, datetime.now(UTC))  # the latest due moment (coalesced)
        if moment is None:
            return
        try:
            await self.fire(timer, moment)
        except errors.FCError as exc:  # e.g. the trigger's alias was deleted: FC would not invoke either
            log.warning("timer %s could not fire for %s: %s %s", key, moment.isoformat(), exc.code, exc.message)

    def _claim(self, timer: Timer, moment: datetime, request_id: str) -> bool | None:
        """Record the moment as fired: True; False when another process recorded it first; None when the
        trigger is no longer this enabled timer (changed or deleted through another process since our last
        reconcile), so that a disable takes effect at once in every process."""
        with self.qdb.write() as s:
            row = res.get(s, timer.account, "trigger", f"{timer.service}/{timer.function}", timer.name)
            if row is None or row.body.get("triggerType") != "timer":
                return None
            now = timer_of(row)
            if not now.enabled or now.expression != timer.expression:
                return None
            return firings.claim(s, timer.account, timer.trigger_path, moment.replace(tzinfo=None), request_id)

    async def fire(self, timer: Timer, moment: datetime, claim: bool = True) -> str | None:
        """Enqueue one firing; returns its request id, or None when it did not fire (another process fired
        this moment, or the trigger changed under us)."""
        request_id = str(uuid.uuid4())
        if claim:
            claimed = await asyncio.to_thread(self._claim, timer, moment, request_id)
            if claimed is None:
                self._wake.set()  # our jobs are stale: reconcile now
            if not claimed:
                return None
        await self.async_invoker.enqueue(account=timer.account, service=timer.service, qualifier=timer.qualifier,
                                         function=timer.function, payload=timer_event(timer, moment),
                                         request_id=request_id, headers={}, invocation_id=None, stateful_enable=None)
        log.info("timer %s fired for %s: %s", timer.key, moment.isoformat(), request_id)
        return request_id

    async def fire_now(self, row: ResourceRow) -> str:
        """Fire a timer trigger at once (tests don't wait for the clock)."""
        return await self.fire(timer_of(row), datetime.now(UTC).replace(microsecond=0), claim=False)
