"""Deleting everything stored for some accounts (test control's reset): resources, invocation records,
async events and stateful tasks, destination deliveries and timer firings. Code packages stay: they are
stored once per checksum and may be shared with other accounts."""
from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from emulator.store.async_queue import RUNNING, STOPPING, AsyncEvent, Delivery
from emulator.store.records import RecordRow
from emulator.store.resources import ResourceRow
from emulator.store.timers import TimerFiring

TABLES = {"resources": ResourceRow, "records": RecordRow, "asyncEvents": AsyncEvent, "deliveries": Delivery,
          "timerFirings": TimerFiring}


def _where(table, accounts: list[str] | None):
    stmt = delete(table)
    return stmt if accounts is None else stmt.where(table.account_id.in_(accounts))


def resources(s: Session, accounts: list[str] | None) -> int:
    return s.execute(_where(ResourceRow, accounts)).rowcount or 0


def activity(s: Session, accounts: list[str] | None) -> dict[str, int]:
    """Everything but the resources; counts per table."""
    return {name: s.execute(_where(table, accounts)).rowcount or 0
            for name, table in TABLES.items() if table is not ResourceRow}


def running_events(s: Session, accounts: list[str] | None) -> list[int]:
    """Async events a worker runs now (their tasks are cancelled before the rows go)."""
    q = select(AsyncEvent.id).where(AsyncEvent.status.in_((RUNNING, STOPPING)))
    if accounts is not None:
        q = q.where(AsyncEvent.account_id.in_(accounts))
    return list(s.scalars(q))


def accounts_in_use(s: Session) -> list[str]:
    """Every account anything is stored for."""
    found: set[str] = set()
    for table in TABLES.values():
        found.update(s.scalars(select(table.account_id).distinct()))
    return sorted(found)
