"""Replicas sharing one database: who is alive, and which function instances each one runs.

A replica is one `fc-emulator serve` process. It writes a row at start and renews `heartbeat_at`
every HEARTBEAT_S; a row older than DEAD_AFTER_S is a dead replica (killed, or its host gone). On the
replica's own host a dead process is seen at once (its pid is gone), so a restart right after
`kill -9` needs no wait. Whoever notices a dead replica takes its async events back (they run again:
at least once), forgets its instances and deletes its row.

`instance_slots` holds one row per function instance of every live replica: the count that makes
`maximumInstanceCount` and provisioned instances function-wide instead of per replica. A row is
written before the instance starts, under a per-function lock, so two replicas cannot both take
the last slot.
"""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from sqlalchemy import Boolean, Float, Index, Integer, String, delete, func, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from emulator.store import async_queue as queue
from emulator.store.async_queue import AsyncEvent
from emulator.store.db import Base

HEARTBEAT_S = 2.0
DEAD_AFTER_S = 8.0  # 4 missed heartbeats: a dead replica's events run elsewhere within ~10 s


class ReplicaRow(Base):
    __tablename__ = "replicas"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(128))  # hostname + boot id: same host = its pids can be checked
    pid: Mapped[int] = mapped_column(Integer)
    pid_start: Mapped[str] = mapped_column(String(32))  # the process's start time (a reused pid differs)
    owner: Mapped[str] = mapped_column(String(32))  # the data dir's marker (backends' owner label)
    url: Mapped[str] = mapped_column(String(256))
    started_at: Mapped[float] = mapped_column(Float)
    heartbeat_at: Mapped[float] = mapped_column(Float)


class InstanceSlot(Base):
    __tablename__ = "instance_slots"
    __table_args__ = (Index("ix_slots_function", "account_id", "service", "function", "version_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    replica_id: Mapped[str] = mapped_column(String(32), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(128))
    function: Mapped[str] = mapped_column(String(128))
    version_id: Mapped[str] = mapped_column(String(32))
    provisioned: Mapped[bool] = mapped_column(Boolean, default=False)
    ready: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)


class Revision(Base):
    """Bumped by every resource write on databases without LISTEN/NOTIFY (SQLite shared by processes)."""
    __tablename__ = "resource_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rev: Mapped[int] = mapped_column(Integer, default=0)


def bump_revision(s: Session) -> None:
    if not s.execute(update(Revision).where(Revision.id == 1).values(rev=Revision.rev + 1)).rowcount:
        s.add(Revision(id=1, rev=1))


def revision(s: Session) -> int:
    return s.scalar(select(Revision.rev).where(Revision.id == 1)) or 0


# --- this process --------------------------------------------------------------------------------

def host_id() -> str:
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = ""
    return f"{socket.gethostname()}/{boot}"[:128]


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


# --- rows ------------------------------------------------------------------------------------------

def register(s: Session, replica_id: str, owner: str, url: str, now: float) -> None:
    s.add(ReplicaRow(id=replica_id, host=host_id(), pid=os.getpid(), pid_start=process_start(os.getpid()) or "",
                     owner=owner, url=url, started_at=now, heartbeat_at=now))


def heartbeat(s: Session, replica_id: str, now: float, lease_s: float) -> list[int] | None:
    """Renew the replica's row and its async leases; the ids of its events someone asked to stop.
    None when the row is gone: another replica took this one for dead (a long pause)."""
    if not s.execute(update(ReplicaRow).where(ReplicaRow.id == replica_id).values(heartbeat_at=now)).rowcount:
        return None
    s.execute(update(AsyncEvent).where(AsyncEvent.lease_owner == replica_id,
                                       AsyncEvent.status.in_((queue.RUNNING, queue.STOPPING)))
              .values(lease_until=now + lease_s))
    return list(s.scalars(select(AsyncEvent.id).where(AsyncEvent.lease_owner == replica_id,
                                                      AsyncEvent.status == queue.STOPPING)))


def is_dead(row: ReplicaRow, now: float, here: str) -> bool:
    if row.heartbeat_at < now - DEAD_AFTER_S:
        return True
    if row.host == here:  # same host: the process itself tells
        return process_start(row.pid) != row.pid_start
    return False


def live_rows(s: Session, now: float) -> tuple[list[ReplicaRow], list[ReplicaRow]]:
    """(live, dead) replicas."""
    here = host_id()
    live, dead = [], []
    for row in s.scalars(select(ReplicaRow)):
        (dead if is_dead(row, now, here) else live).append(row)
    return live, dead


def take_over(s: Session, dead_ids: list[str], live_ids: set[str], now: float) -> int:
    """Dead replicas' async events go back to the queue (the interrupted run is not an attempt), and
    so do events whose lease ran out or whose owner is no live replica; their rows and slots go."""
    orphaned = (AsyncEvent.lease_owner.is_(None) | AsyncEvent.lease_owner.not_in(live_ids)
                | (AsyncEvent.lease_until < now))
    rows = s.scalars(select(AsyncEvent).where(AsyncEvent.status.in_((queue.RUNNING, queue.STOPPING)), orphaned)
                     .with_for_update())
    n = 0
    for ev in rows:
        if ev.status == queue.STOPPING:
            queue.finish(ev, queue.STOPPED, now, detail="stopped: the replica running it is gone")
        else:
            ev.status, ev.next_run, ev.attempt = queue.ENQUEUED, now, max(0, ev.attempt - 1)
            ev.lease_owner = ev.lease_until = None
            ev.add_event(queue.ENQUEUED, "requeued: the emulator replica running it is gone", now)
        n += 1
    if dead_ids:
        s.execute(delete(InstanceSlot).where(InstanceSlot.replica_id.in_(dead_ids)))
        s.execute(delete(ReplicaRow).where(ReplicaRow.id.in_(dead_ids)))
    return n


def leave(s: Session, replica_id: str) -> None:
    s.execute(delete(InstanceSlot).where(InstanceSlot.replica_id == replica_id))
    s.execute(delete(ReplicaRow).where(ReplicaRow.id == replica_id))


# --- instance slots --------------------------------------------------------------------------------

def lock_function(s: Session, key: tuple) -> None:
    """Serialise slot changes of one function version: an advisory lock on PostgreSQL; SQLite's write
    transactions are serial already."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": "fc-slots|" + "|".join(key)})


def _of(key: tuple):
    account, service, function, version = key
    return (InstanceSlot.account_id == account, InstanceSlot.service == service, InstanceSlot.function == function,
            InstanceSlot.version_id == version)


def count(s: Session, key: tuple, live_ids: set[str], *, exclude: str = "", provisioned: bool | None = None,
          ready: bool | None = None) -> int:
    q = select(func.count()).select_from(InstanceSlot).where(*_of(key), InstanceSlot.replica_id.in_(live_ids))
    if exclude:
        q = q.where(InstanceSlot.replica_id != exclude)
    if provisioned is not None:
        q = q.where(InstanceSlot.provisioned.is_(provisioned))
    if ready is not None:
        q = q.where(InstanceSlot.ready.is_(ready))
    return s.scalar(q) or 0


def reserve(s: Session, replica_id: str, slot_id: str, key: tuple, limit: int, live_ids: set[str], local: int,
            provisioned: bool = False) -> bool:
    """Take a slot for a new instance if the function has fewer than `limit` instances on every live
    replica (`local` = this replica's own, counted in memory)."""
    lock_function(s, key)
    if count(s, key, live_ids, exclude=replica_id) + local >= limit:
        return False
    account, service, function, version = key
    s.add(InstanceSlot(id=slot_id, replica_id=replica_id, account_id=account, service=service, function=function,
                       version_id=version, provisioned=provisioned, ready=False, created_at=time.time()))
    return True


def sync(s: Session, replica_id: str, slots: dict[str, tuple[tuple, bool, bool]]) -> None:
    """Make this replica's rows match its instances: {slot id: (key, provisioned, ready)}."""
    stored = {row.id: row for row in s.scalars(select(InstanceSlot).where(InstanceSlot.replica_id == replica_id))}
    for slot_id, row in stored.items():
        if slot_id not in slots:
            s.delete(row)
    for slot_id, (key, provisioned, ready) in slots.items():
        row = stored.get(slot_id)
        if row is None:
            account, service, function, version = key
            s.add(InstanceSlot(id=slot_id, replica_id=replica_id, account_id=account, service=service,
                               function=function, version_id=version, provisioned=provisioned, ready=ready,
                               created_at=time.time()))
        elif (row.provisioned, row.ready) != (provisioned, ready):
            row.provisioned, row.ready = provisioned, ready


def release(s: Session, slot_id: str) -> None:
    s.execute(delete(InstanceSlot).where(InstanceSlot.id == slot_id))
