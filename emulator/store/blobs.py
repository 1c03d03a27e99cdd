"""Code packages and layers in the database, so that every replica on it can run every function.

On SQLite the data dir's `code/` folder is the only store (SQLite is shared only by processes on one
host, which share the data dir). On any other database (PostgreSQL) each zip is also kept in
`code_blobs`, in chunks of 4 MiB, written in one transaction: a package is either whole or absent. A
replica that lacks a zip fetches it once into its own `code/` folder (CodeStore.path) and checks the
CRC-64 that names it before anyone uses it.

The blobs have their own small connection pool: a write may run while the caller holds the resource
write lock (store/db.py) on a connection of the main pool, and must never wait for that pool.
"""
from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import fastcrc
from sqlalchemy import BigInteger, Integer, LargeBinary, String, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from emulator.store.db import Base

CHUNK = 4 << 20


class CodeBlob(Base):
    __tablename__ = "code_blobs"

    checksum: Mapped[str] = mapped_column(String(32), primary_key=True)  # CRC-64 as a decimal string
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)  # of the whole package (every chunk says it)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ChecksumMismatch(Exception):
    pass


def shared(url: str) -> bool:
    """Whether packages go to the database too (any database but SQLite)."""
    return not url.startswith("sqlite")


class Blobs:
    def __init__(self, url: str):
        self.url = url
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        with self._lock:  # made on first use: a replica that never stores or fetches code opens nothing
            if self._engine is None:
                self._engine = create_engine(self.url, pool_pre_ping=True, pool_size=1, max_overflow=3,
                                             pool_timeout=120)
            return self._engine

    def has(self, checksum: str) -> bool:
        with self.engine.connect() as conn:
            return conn.scalar(select(CodeBlob.seq).where(CodeBlob.checksum == checksum, CodeBlob.seq == 0)) \
                is not None

    def put(self, checksum: str, data: bytes) -> None:
        """Store the package unless it is there (content-addressed: the same checksum, the same bytes)."""
        if self.has(checksum):
            return
        rows = [{"checksum": checksum, "seq": i, "size": len(data), "data": data[off:off + CHUNK]}
                for i, off in enumerate(range(0, max(len(data), 1), CHUNK))]
        try:
            with self.engine.begin() as conn:
                conn.execute(CodeBlob.__table__.insert(), rows)
        except IntegrityError:  # another replica stored it first: waited for its commit, so it is whole
            pass

    def fetch(self, checksum: str, dest: Path) -> bool:
        """Write the package to `dest` (atomically) after checking its CRC-64; False when it is not stored."""
        fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
        try:
            crc, size, total = None, 0, None
            with os.fdopen(fd, "wb") as out, self.engine.connect() as conn:
                result = conn.execution_options(stream_results=True, max_row_buffer=2).execute(
                    select(CodeBlob.seq, CodeBlob.size, CodeBlob.data)
                    .where(CodeBlob.checksum == checksum).order_by(CodeBlob.seq))
                for seq, whole, chunk in result:
                    chunk = bytes(chunk)
                    crc = fastcrc.crc64.xz(chunk, crc) if crc is not None else fastcrc.crc64.xz(chunk)
                    size += len(chunk)
                    total = whole
                    out.write(chunk)
            if total is None:
                return False
            if size != total or str(crc) != checksum:
                raise ChecksumMismatch(f"code package {checksum} in the database is damaged "
                                       f"(CRC-64 {crc}, {size} of {total} bytes)")
            os.replace(tmp, dest)
            tmp = None
            return True
        finally:
            if tmp is not None:
                os.unlink(tmp)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
