"""Invocation records: one row per attempt of every invocation (sync, async, retry, destination, ...),
read through the emulator's own API (/_emulator/invocations), never FC's.

Rows are written in batches by the Recorder (emulator/invocation/records.py) on its own connection, not
through `Database.write()`: that bumps the generation that invalidates the call path's caches, and a
record is not a change to FC's resources. `seq` (the primary key) orders rows by when they were recorded,
so `after=<seq>` is a gap-free cursor for `logs --follow`.
"""
from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, LargeBinary, String, delete, func, insert, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from emulator.store.db import Base, Database

PAYLOAD_HEAD_BYTES = 4096


class RecordRow(Base):
    __tablename__ = "invocation_records"
    __table_args__ = (
        Index("ix_records_account_seq", "account_id", "seq"),
        Index("ix_records_account_fn", "account_id", "service", "function", "seq"),
        Index("ix_records_request", "account_id", "request_id"),
        Index("ix_records_started", "started_ms"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(128))
    function: Mapped[str] = mapped_column(String(128))
    qualifier: Mapped[str] = mapped_column(String(128), default="LATEST")
    version_id: Mapped[str] = mapped_column(String(32), default="")
    kind: Mapped[str] = mapped_column(String(32), default="sync")
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    started_ms: Mapped[int] = mapped_column(BigInteger)  # epoch milliseconds
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(32))
    error_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    cold: Mapped[bool] = mapped_column(Boolean, default=False)
    instance_id: Mapped[str] = mapped_column(String(128), default="")
    payload_size: Mapped[int] = mapped_column(Integer, default=0)
    payload_head: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    log_lines: Mapped[list] = mapped_column(JSON, default=list)

    def out(self) -> dict[str, Any]:
        head = self.payload_head or b""
        return {
            "seq": self.seq,
            "requestId": self.request_id,
            "accountId": self.account_id,
            "serviceName": self.service,
            "functionName": self.function,
            "qualifier": self.qualifier,
            "versionId": self.version_id,
            "kind": self.kind,
            "attempt": self.attempt,
            "startTime": iso_ms(self.started_ms),
            "startTimeMs": self.started_ms,
            "durationMs": round(self.duration_ms, 3),
            "status": self.status,
            "errorType": self.error_type,
            "errorMessage": self.error_message,
            "coldStart": self.cold,
            "instanceId": self.instance_id,
            "payloadSize": self.payload_size,
            "payloadHead": base64.b64encode(head).decode(),
            "payloadPreview": head.decode("utf-8", errors="replace"),
            "payloadTruncated": self.payload_size > len(head),
            "logs": list(self.log_lines or []),
        }


ROW_DEFAULTS = {"qualifier": "LATEST", "version_id": "", "kind": "sync", "attempt": 1, "duration_ms": 0.0,
                "error_type": None, "error_message": None, "cold": False, "instance_id": "", "payload_size": 0,
                "payload_head": b"", "log_lines": []}


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@dataclass
class Filters:
    account: str
    service: str = ""
    function: str = ""
    qualifier: str = ""
    status: str = ""
    kind: str = ""
    request_id: str = ""
    instance_id: str = ""
    since_ms: int | None = None
    until_ms: int | None = None
    after: int | None = None  # seq cursor (exclusive)


_INSERT = insert(RecordRow.__table__)
_COLUMNS = tuple(c.name for c in RecordRow.__table__.columns if c.name != "seq")
_QMARK_INSERT = (f"INSERT INTO {RecordRow.__tablename__} ({', '.join(_COLUMNS)}) "
                 f"VALUES ({', '.join('?' * len(_COLUMNS))})")


def _driver_row(row: dict) -> tuple:
    """A record as the DB-API takes it: the JSON column as the JSON type stores it (json.dumps)."""
    return tuple(json.dumps(row[c]) if c == "log_lines" else row[c] for c in _COLUMNS)


class Records:
    """Queries and batched writes of invocation records."""

    def __init__(self, db: Database):
        self.db = db
        # BEGIN IMMEDIATE (like Database.write) without bumping db.generation
        self._write_engine = db.engine.execution_options(fc_write=True)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)

    # ---- writes (blocking: call from a worker thread) ----

    def insert(self, rows: Iterable[dict]) -> int:
        """One transaction, one executemany (Core, not ORM objects: this runs for every invocation)."""
        rows = [{**ROW_DEFAULTS, **r} for r in rows]
        if rows:
            with self._write_engine.begin() as conn:
                if conn.dialect.paramstyle == "qmark":  # SQLite: the driver's executemany, nothing per row
                    conn.exec_driver_sql(_QMARK_INSERT, [_driver_row(r) for r in rows])
                else:
                    conn.execute(_INSERT, rows)
        return len(rows)

    def prune(self, max_count: int, max_age_s: float, now: float | None = None) -> int:
        """Drop records beyond the newest `max_count` and those that started more than `max_age_s` ago
        (0 = no limit of that kind)."""
        cutoff_ms = int(((now or time.time()) - max_age_s) * 1000) if max_age_s > 0 else None
        with self.db.read() as s:  # most passes have nothing to do: look before taking the write lock
            keep_from = s.scalar(select(RecordRow.seq).order_by(RecordRow.seq.desc()).offset(max_count - 1)
                                 .limit(1)) if max_count > 0 else None
            oldest = s.scalar(select(func.min(RecordRow.started_ms)))
            first = s.scalar(select(func.min(RecordRow.seq)))
        over_count = keep_from is not None and first is not None and first < keep_from
        too_old = cutoff_ms is not None and oldest is not None and oldest < cutoff_ms
        if not (over_count or too_old):
            return 0
        removed = 0
        with self._write() as s, s.begin():
            if over_count:
                removed += s.execute(delete(RecordRow).where(RecordRow.seq < keep_from)).rowcount or 0
            if too_old:
                removed += s.execute(delete(RecordRow).where(RecordRow.started_ms < cutoff_ms)).rowcount or 0
        return removed

    # ---- reads ----

    def page(self, f: Filters, limit: int, next_token: int | None, ascending: bool) -> tuple[list[dict], int | None]:
        """Up to `limit` records, newest first (or oldest first); the token is the seq to continue from."""
        q = select(RecordRow).where(RecordRow.account_id == f.account)
        for column, value in ((RecordRow.service, f.service), (RecordRow.function, f.function),
                              (RecordRow.qualifier, f.qualifier), (RecordRow.status, f.status),
                              (RecordRow.kind, f.kind), (RecordRow.request_id, f.request_id),
                              (RecordRow.instance_id, f.instance_id)):
            if value:
                q = q.where(column == value)
        if f.since_ms is not None:
            q = q.where(RecordRow.started_ms >= f.since_ms)
        if f.until_ms is not None:
            q = q.where(RecordRow.started_ms < f.until_ms)
        if f.after is not None:
            q = q.where(RecordRow.seq > f.after)
        if next_token is not None:
            q = q.where(RecordRow.seq >= next_token if ascending else RecordRow.seq <= next_token)
        q = q.order_by(RecordRow.seq.asc() if ascending else RecordRow.seq.desc()).limit(limit + 1)
        with self.db.read() as s:
            rows = list(s.scalars(q))
        more = rows[limit].seq if len(rows) > limit else None
        return [r.out() for r in rows[:limit]], more

    def by_request(self, account: str, request_id: str) -> list[dict]:
        """Every attempt recorded under one request id, in order."""
        q = (select(RecordRow).where(RecordRow.account_id == account, RecordRow.request_id == request_id)
             .order_by(RecordRow.seq.asc()))
        with self.db.read() as s:
            return [r.out() for r in s.scalars(q)]

    def count(self) -> int:
        with self.db.read() as s:
            return s.scalar(select(func.count()).select_from(RecordRow)) or 0

