"""The async invocation queue (fc-api.md §2.4, §2.10): one row per accepted event, kept until it
finishes, so a killed emulator loses nothing. The same rows are FC's stateful async invocations
("async tasks") when `stateful` is set: `status` uses FC's task vocabulary for every event.

Life of a row: Enqueued (due at `next_run`) -> Running (claimed by a worker, `lease_*` set) ->
Succeeded | Failed | Expired | Stopped, or back to Enqueued for a retry. A stop of a running task
goes through Stopping. Times are epoch seconds (floats) except FC's millisecond fields.

Every function takes a Session; writes must run inside `QueueDB.write()` (one transaction, which
on SQLite holds the write lock from its first statement, so a claim cannot be taken twice).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import (JSON, BigInteger, Boolean, Float, Index, Integer, LargeBinary, String, Text, UniqueConstraint,
                        delete, func, select, update)
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from emulator.store.db import Base, Database, refused_values

ENQUEUED, RUNNING, STOPPING = "Enqueued", "Running", "Stopping"
SUCCEEDED, FAILED, STOPPED, EXPIRED = "Succeeded", "Failed", "Stopped", "Expired"
PENDING = (ENQUEUED, RUNNING, STOPPING)
FINISHED = (SUCCEEDED, FAILED, STOPPED, EXPIRED)
# a claim's lease: the replica holding it renews it at every heartbeat (emulator/replica.py), and
# a replica that stops renewing is dead: its events are taken over (store/replicas.py take_over)
LEASE_S = 10.0
FINISHED_RETENTION_S = 7 * 86400


class AsyncEvent(Base):
    __tablename__ = "async_events"
    __table_args__ = (
        UniqueConstraint("account_id", "service", "function", "invocation_id", name="uq_async_invocation_id"),
        Index("ix_async_due", "status", "next_run"),
        Index("ix_async_function", "account_id", "service", "function", "enqueued_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(128))
    qualifier: Mapped[str] = mapped_column(String(128))  # as invoked: LATEST, a version id or an alias
    function: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    invocation_id: Mapped[str | None] = mapped_column(String(128), nullable=True)  # stateful tasks only
    stateful: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(16), default="async")  # async | destination
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict] = mapped_column(JSON, default=dict)  # tracing headers of the original request
    status: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer, default=0)  # runs started (a throttled run does not count)
    throttles: Mapped[int] = mapped_column(Integer, default=0)
    enqueued_at: Mapped[float] = mapped_column(Float)
    next_run: Mapped[float] = mapped_column(Float)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    result: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    error_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    instance_id: Mapped[str] = mapped_column(String(128), default="")
    destination_status: Mapped[str] = mapped_column(String(32), default="")
    events: Mapped[list] = mapped_column(JSON, default=list)  # FC's task events

    def add_event(self, status: str, detail: str = "", at: float | None = None) -> None:
        """Append one of FC's task events ({eventId, status, timestamp ms, eventDetail})."""
        events = list(self.events or [])  # a new list, so the JSON column is seen as changed
        events.append({"eventId": len(events) + 1, "status": status,
                       "timestamp": int((at or time.time()) * 1000), "eventDetail": detail})
        self.events = events


class Delivery(Base):
    """A result delivered to an MNS queue/topic or an EventBridge bus: kept so users can read it back."""
    __tablename__ = "destination_deliveries"
    __table_args__ = (Index("ix_delivery_account", "account_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(String(512))  # the ARN from the async config
    type: Mapped[str] = mapped_column(String(16))  # mns-queue | mns-topic | eventbridge
    name: Mapped[str] = mapped_column(String(256))  # queue, topic or bus name
    condition: Mapped[str] = mapped_column(String(16))  # onSuccess | onFailure
    request_id: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(128))
    qualifier: Mapped[str] = mapped_column(String(128))
    function: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict] = mapped_column(JSON)
    delivered_at: Mapped[float] = mapped_column(Float)

    def out(self) -> dict:
        return {"id": self.id, "destination": self.destination, "type": self.type, "name": self.name,
                "condition": self.condition, "requestId": self.request_id, "serviceName": self.service,
                "qualifier": self.qualifier, "functionName": self.function,
                "deliveredTime": int(self.delivered_at * 1000), "payload": self.payload}


class QueueDB:
    """Sessions for the queue. Writes bypass `Database.write()` on purpose: that bumps the generation
    that invalidates cached invocation targets, and queue rows never change a target."""

    def __init__(self, db: Database):
        self.db = db
        self._write = sessionmaker(db.engine.execution_options(fc_write=True), expire_on_commit=False)

    def read(self):
        return self.db.read()

    @contextmanager
    def write(self) -> Iterator[Session]:
        with refused_values(), self._write() as session, session.begin():  # a NUL in an id: 400 on PostgreSQL
            yield session


# --- queue -----------------------------------------------------------------------------------------

def find_task(s: Session, account: str, service: str, function: str, invocation_id: str) -> AsyncEvent | None:
    return s.scalars(select(AsyncEvent).where(
        AsyncEvent.account_id == account, AsyncEvent.service == service, AsyncEvent.function == function,
        AsyncEvent.invocation_id == invocation_id)).first()


def enqueue(s: Session, *, account: str, service: str, qualifier: str, function: str, request_id: str,
            payload: bytes, kind: str = "async", headers: dict | None = None, invocation_id: str | None = None,
            stateful: bool = False, now: float | None = None) -> AsyncEvent:
    now = now or time.time()
    ev = AsyncEvent(account_id=account, service=service, qualifier=qualifier, function=function,
                    request_id=request_id, invocation_id=invocation_id, stateful=stateful, kind=kind,
                    payload=payload, headers=headers or {}, status=ENQUEUED, attempt=0, throttles=0,
                    enqueued_at=now, next_run=now, events=[])
    ev.add_event(ENQUEUED, "", now)
    s.add(ev)
    s.flush()
    return ev


def claim(s: Session, owner: str, now: float | None = None) -> tuple[AsyncEvent | None, float | None]:
    """Take the oldest due event (Running, attempt + 1, leased to `owner`); else the next due time."""
    now = now or time.time()
    ev = s.scalars(select(AsyncEvent).where(AsyncEvent.status == ENQUEUED, AsyncEvent.next_run <= now)
                   .order_by(AsyncEvent.next_run, AsyncEvent.id).limit(1)
                   .with_for_update(skip_locked=True)).first()  # FOR UPDATE is a no-op on SQLite
    if ev is None:
        return None, s.scalar(select(func.min(AsyncEvent.next_run)).where(AsyncEvent.status == ENQUEUED))
    ev.status = RUNNING
    ev.attempt += 1
    ev.lease_owner, ev.lease_until = owner, now + LEASE_S
    return ev, None


def requeue_orphans(s: Session, owner: str) -> int:
    """Events another (killed) emulator process was running: queue them again, at least once.
    The interrupted run does not count as an attempt."""
    rows = s.scalars(select(AsyncEvent).where(AsyncEvent.status.in_((RUNNING, STOPPING)),
                                              (AsyncEvent.lease_owner != owner) | AsyncEvent.lease_owner.is_(None)))
    n = 0
    now = time.time()
    for ev in rows:
        if ev.status == STOPPING:
            finish(ev, STOPPED, now, detail="stopped while the emulator was down")
        else:
            ev.status, ev.next_run, ev.attempt = ENQUEUED, now, max(0, ev.attempt - 1)
            ev.lease_owner = ev.lease_until = None
            ev.add_event(ENQUEUED, "requeued after an emulator restart", now)
        n += 1
    return n


def release(s: Session, event_id: int) -> None:
    """Give back a claimed event untouched (the emulator is shutting down)."""
    ev = s.get(AsyncEvent, event_id)
    if ev is not None and ev.status in (RUNNING, STOPPING):
        ev.status, ev.next_run, ev.attempt = ENQUEUED, time.time(), max(0, ev.attempt - 1)
        ev.lease_owner = ev.lease_until = None
        ev.add_event(ENQUEUED, "requeued: the emulator shut down while it ran")


def finish(ev: AsyncEvent, status: str, now: float, detail: str = "") -> None:
    ev.status, ev.ended_at = status, now
    ev.lease_owner = ev.lease_until = None
    ev.add_event(status, detail, now)


def wake_throttled(s: Session, account: str, service: str, function: str) -> bool:
    """An instance of the function freed a slot: its oldest throttled event is due now.
    False when it has no throttled event waiting."""
    now = time.time()
    event_id = s.scalar(select(AsyncEvent.id).where(
        AsyncEvent.status == ENQUEUED, AsyncEvent.throttles > 0, AsyncEvent.account_id == account,
        AsyncEvent.service == service, AsyncEvent.function == function).order_by(AsyncEvent.id).limit(1))
    if event_id is None:
        return False
    s.execute(update(AsyncEvent).where(AsyncEvent.id == event_id, AsyncEvent.next_run > now).values(next_run=now))
    return True


def pending(s: Session) -> int:
    return s.scalar(select(func.count()).select_from(AsyncEvent).where(AsyncEvent.status.in_(PENDING))) or 0


def prune(s: Session, now: float | None = None) -> int:
    """Forget finished events after a week (their invocation records live elsewhere)."""
    cutoff = (now or time.time()) - FINISHED_RETENTION_S
    return s.execute(delete(AsyncEvent).where(AsyncEvent.status.in_(FINISHED),
                                              AsyncEvent.ended_at < cutoff)).rowcount


# --- stateful invocations (§2.10) ------------------------------------------------------------------

def list_tasks(s: Session, account: str, service: str, function: str, *, qualifier: str | None, id_prefix: str,
               status: str | None, started_begin: int | None, started_end: int | None,
               order: str) -> list[AsyncEvent]:
    """A function's tasks matching the filters, ordered by start time (ms filters are inclusive)."""
    q = select(AsyncEvent).where(AsyncEvent.account_id == account, AsyncEvent.service == service,
                                 AsyncEvent.function == function, AsyncEvent.stateful.is_(True))
    if qualifier is not None:
        q = q.where(AsyncEvent.qualifier == qualifier)
    if status is not None:
        q = q.where(AsyncEvent.status == status)
    if started_begin is not None:
        q = q.where(AsyncEvent.enqueued_at >= started_begin / 1000)
    if started_end is not None:
        q = q.where(AsyncEvent.enqueued_at < (started_end + 1) / 1000)
    if order == "asc":
        q = q.order_by(AsyncEvent.enqueued_at, AsyncEvent.id)
    else:
        q = q.order_by(AsyncEvent.enqueued_at.desc(), AsyncEvent.id.desc())
    return [ev for ev in s.scalars(q) if (ev.invocation_id or "").startswith(id_prefix)]


# --- destinations ----------------------------------------------------------------------------------

def add_delivery(s: Session, **fields) -> Delivery:
    d = Delivery(delivered_at=time.time(), **fields)
    s.add(d)
    return d


def list_deliveries(s: Session, account: str, *, destination: str = "", name: str = "", request_id: str = "",
                    service: str = "", function: str = "", limit: int = 1000) -> list[Delivery]:
    q = select(Delivery).where(Delivery.account_id == account)
    for col, value in ((Delivery.destination, destination), (Delivery.name, name), (Delivery.request_id, request_id),
                       (Delivery.service, service), (Delivery.function, function)):
        if value:
            q = q.where(col == value)
    return list(s.scalars(q.order_by(Delivery.id).limit(limit)))
