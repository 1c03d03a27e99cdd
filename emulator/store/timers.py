"""Timer firings: one row per (trigger, scheduled moment), so that a moment fires once even when
several emulator processes share a data dir, and a restart knows what already fired."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import DateTime, Integer, String, UniqueConstraint, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from emulator.store.db import Base

KEEP = timedelta(hours=1)


class TimerFiring(Base):
    __tablename__ = "timer_firings"
    __table_args__ = (UniqueConstraint("account_id", "trigger", "scheduled_at", name="uq_timer_firing"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(512))  # svc/fn/trigger
    scheduled_at: Mapped[datetime] = mapped_column(DateTime)
    request_id: Mapped[str] = mapped_column(String(64))


def claim(s: Session, account: str, trigger: str, scheduled_at: datetime, request_id: str) -> bool:
    """True for the one process that records this moment first (call inside a write transaction)."""
    if s.scalar(select(TimerFiring.id).where(TimerFiring.account_id == account, TimerFiring.trigger == trigger,
                                             TimerFiring.scheduled_at == scheduled_at)) is not None:
        return False
    try:
        with s.begin_nested():  # a savepoint: a lost race on a non-SQLite database leaves the session usable
            s.add(TimerFiring(account_id=account, trigger=trigger, scheduled_at=scheduled_at, request_id=request_id))
    except IntegrityError:
        return False
    # Older moments are never claimed again (the clock moves on): keep an hour, so the table stays small
    # while the newest row (what a restart compares with) always stays.
    s.execute(delete(TimerFiring).where(TimerFiring.account_id == account, TimerFiring.trigger == trigger,
                                        TimerFiring.scheduled_at < scheduled_at - KEEP))
    return True


def last_fired(s: Session, account: str, trigger: str) -> datetime | None:
    return s.scalar(select(func.max(TimerFiring.scheduled_at)).where(
        TimerFiring.account_id == account, TimerFiring.trigger == trigger))
