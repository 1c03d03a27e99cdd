"""Timer triggers (fc-api.md §2.5): APScheduler jobs on FC's cron dialect, rebuilt from the database.

- Each firing is an asynchronous invocation of the trigger's qualifier with FC's timer event
  `{"triggerTime", "triggerName", "payload"}`.
- A scheduled moment fires once: a row in `timer_firings` is claimed first (several processes may
  share a data dir).
- Missed moments (a long pause, or downtime before a restart) are coalesced into one firing of the
  latest missed moment, never replayed as a burst.
- A virtual clock per account (tests): `advance(account, seconds)` fires every moment in between, in
  order, with the moment as `triggerTime`; the account's timers then run that far ahead of the real
  clock until `reset_clock` (kept in memory: a restart starts from the real clock again).
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
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
MAX_ADVANCE_FIRINGS = 10000  # one clock advance fires at most this many moments (an @every 1s over a year: no)
MAX_ADVANCE_S = 10 * 366 * 86400.0
WAIT_POLL_S = 0.01


class FCCronTrigger(BaseTrigger):
    """APScheduler's view of an FC cron expression (six fields, `?`, names, CRON_TZ=, @every), on the
    account's clock: moments are computed in virtual time and handed to APScheduler in real time."""

    def __init__(self, expression: str, offset_s: float = 0.0):
        self.expression = expression
        self.shift = timedelta(seconds=offset_s)

    def get_next_fire_time(self, previous_fire_time, now):
        after = previous_fire_time + self.shift if previous_fire_time else now + self.shift - timedelta(microseconds=1)
        moment = cron.next_fire(self.expression, after)
        return moment - self.shift if moment is not None else None

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
    def __init__(self, db: Database, async_invoker, on_fire=None):
        self.db = db
        self.async_invoker = async_invoker
        # on_fire(account, service, function, trigger, source, lateness_s | None): metrics (api/metrics.py)
        self.on_fire = on_fire
        self.offsets: dict[str, float] = {}  # account -> seconds its timer clock runs ahead of the real one
        self._advancing: set[str] = set()  # accounts whose clock advance is firing: their jobs wait
        self._advance_lock = asyncio.Lock()
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
            self.scheduler.add_job(self._on_time, FCCronTrigger(timer.expression, self.offsets.get(timer.account, 0.0)),
                                   args=[key], id=key,
                                   replace_existing=True, coalesce=True, misfire_grace_time=None, max_instances=1)
            log.info("timer %s scheduled: %s", key, timer.expression)
            if catch_up:
                await self._catch_up(timer)
        self._timers = timers

    async def _catch_up(self, timer: Timer) -> None:
        """After downtime: the latest missed moment fires once (coalesced), older ones never."""
        moment = cron.prev_fire(timer.expression, self.now(timer.account))
        if moment is None or moment < timer.created:
            return
        last = await asyncio.to_thread(self._last_fired, timer)
        if last is None or last.replace(tzinfo=UTC) < moment:
            try:
                await self.fire(timer, moment, source="catch_up")
            except errors.FCError as exc:
                log.warning("timer %s could not catch up %s: %s %s", timer.key, moment.isoformat(), exc.code,
                            exc.message)

    def _last_fired(self, timer: Timer):
        with self.db.read() as s:
            return firings.last_fired(s, timer.account, timer.trigger_path)

    async def _on_time(self, key: str) -> None:
        timer = self._timers.get(key)
        if timer is None or timer.account in self._advancing:  # the advance fires every moment, in order
            return
        moment = cron.prev_fire(timer.expression, self.now(timer.account))  # the latest due moment (coalesced)
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

    async def fire(self, timer: Timer, moment: datetime, claim: bool = True, source: str = "schedule") -> str | None:
        """Enqueue one firing; returns its request id, or None when it did not fire (another process fired
        this moment, or the trigger changed under us). `source`: schedule | catch_up | manual | clock."""
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
        if self.on_fire is not None:
            late = None
            if source in ("schedule", "catch_up"):  # real seconds since the moment came, on the account's clock
                late = time.time() - (moment.timestamp() - self.offsets.get(timer.account, 0.0))
            try:
                self.on_fire(timer.account, timer.service, timer.function, timer.name, source, late)
            except Exception:  # noqa: BLE001 - counting must never stop a firing
                log.exception("timer metrics hook failed")
        return request_id

    async def fire_now(self, row: ResourceRow) -> str:
        """Fire a timer trigger at once (tests don't wait for the clock); triggerTime is the account's now."""
        timer = timer_of(row)
        return await self.fire(timer, self.now(timer.account).replace(microsecond=0), claim=False, source="manual")

    # ---- the virtual clock (test control: /_emulator/clock) ----------------------------------------

    def now(self, account: str) -> datetime:
        """The account's timer clock: the real clock plus the account's advances."""
        return datetime.now(UTC) + timedelta(seconds=self.offsets.get(account, 0.0))

    async def timers_of(self, account: str) -> list[Timer]:
        return [t for t in await asyncio.to_thread(self._load) if t.account == account and t.enabled and t.expression]

    async def advance(self, account: str, seconds: float, wait: bool = False, wait_timeout: float = 600.0) -> dict:
        """Move the account's timer clock `seconds` ahead: every moment of its enabled timers in between
        fires (an async invocation each, claimed like a scheduled firing), ordered by moment then trigger.
        `wait`: each firing's async event (retries included) finishes before the next is fired, as on FC
        where the moments are hours apart. Answers {from, to, firings: [{trigger, moment, requestId}]}."""
        if not 0 < seconds <= MAX_ADVANCE_S:
            raise errors.invalid_argument(f"the clock moves forward by more than 0 and at most "
                                          f"{MAX_ADVANCE_S / 86400:.0f} days, got {seconds:g} seconds")
        async with self._advance_lock:
            start = self.now(account)
            end = start + timedelta(seconds=seconds)
            plan = []
            for timer in await self.timers_of(account):
                for moment in moments_between(timer.expression, start, end, MAX_ADVANCE_FIRINGS + 1 - len(plan)):
                    plan.append((moment, timer.trigger_path, timer))
                if len(plan) > MAX_ADVANCE_FIRINGS:
                    raise errors.invalid_argument(
                        f"advancing the clock by {seconds:g} seconds would fire more than {MAX_ADVANCE_FIRINGS} "
                        f"timer moments (trigger {timer.trigger_path}: '{timer.expression}'); advance by less "
                        f"or disable the trigger")
            plan.sort(key=lambda p: (p[0], p[1]))
            self._advancing.add(account)
            self.offsets[account] = self.offsets.get(account, 0.0) + seconds
            fired = []
            try:
                for moment, path, timer in plan:
                    try:
                        request_id = await self.fire(timer, moment, source="clock")
                    except errors.FCError as exc:  # e.g. the trigger's alias is gone: FC would not invoke either
                        fired.append({"trigger": path, "moment": iso(moment), "error": f"{exc.code}: {exc.message}"})
                        continue
                    if request_id is None:  # already fired (another process), or the trigger changed
                        continue
                    fired.append({"trigger": path, "moment": iso(moment), "requestId": request_id})
                    if wait:
                        await self._wait_finished(request_id, wait_timeout)
            finally:
                self._advancing.discard(account)
                await self._reschedule(account)
            return {"accountId": account, "from": iso(start), "to": iso(end), "offsetSeconds": self.offsets[account],
                    "firings": fired}

    async def reset_clock(self, account: str | None = None) -> None:
        """Back to the real clock (one account, or every account when None)."""
        async with self._advance_lock:
            accounts = list(self.offsets) if account is None else [account]
            for acc in accounts:
                self.offsets.pop(acc, None)
                await self._reschedule(acc)

    async def clock(self, account: str) -> dict:
        """The account's clock and each enabled timer's next moment on it."""
        now = self.now(account)
        nxt = [{"trigger": t.trigger_path, "cronExpression": t.expression,
                "nextMoment": iso(m) if (m := cron.next_fire(t.expression, now)) else None}
               for t in await self.timers_of(account)]
        return {"accountId": account, "now": iso(now), "offsetSeconds": self.offsets.get(account, 0.0),
                "virtual": account in self.offsets, "timers": sorted(nxt, key=lambda x: (x["nextMoment"] or "~",
                                                                                         x["trigger"]))}

    async def _reschedule(self, account: str) -> None:
        """The account's jobs again, on its clock as it is now."""
        for key in [k for k, t in self._timers.items() if t.account == account]:
            del self._timers[key]
        await self.reconcile()

    async def _wait_finished(self, request_id: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await asyncio.to_thread(self._finished, request_id):
                return
            await asyncio.sleep(WAIT_POLL_S)
        raise errors.FCError(408, "RequestTimeout", f"the firing {request_id} did not finish within {timeout:g} s")

    def _finished(self, request_id: str) -> bool:
        from emulator.store.async_queue import FINISHED, AsyncEvent
        with self.db.read() as s:
            status = s.scalar(select(AsyncEvent.status).where(AsyncEvent.request_id == request_id))
        return status is None or status in FINISHED


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def moments_between(expression: str, start: datetime, end: datetime, limit: int) -> list[datetime]:
    """The expression's moments in (start, end], at most `limit` of them."""
    out: list[datetime] = []
    after = start
    while len(out) < limit:
        chunk = cron.next_fires(expression, after, min(256, limit - len(out)))
        for moment in chunk:
            if moment > end:
                return out
            out.append(moment)
        if not chunk:
            return out
        after = chunk[-1]
    return out
