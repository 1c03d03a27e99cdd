"""The database: one SQLAlchemy engine, SQLite in WAL mode by default, or PostgreSQL.

Reads use plain (deferred) transactions. A resource write (`Database.write()`) is serialised with
every other one, so a check-then-act inside it (If-Match, "delete only if empty", the next version
number) cannot race: on SQLite it takes the write lock up front (`BEGIN IMMEDIATE`); on PostgreSQL
(READ COMMITTED) its first statement takes one transaction-scoped advisory lock, shared by every
replica on the database, and each later statement sees what the previous holder committed.
Queue and record writes (`execution_options(fc_write=True)` alone) skip that lock on PostgreSQL.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import String, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from emulator import errors


class Base(DeclarativeBase):
    pass


def byte_ordered(length: int) -> dict:
    """mapped_column() arguments of a string compared and sorted by bytes on every database, as FC lists
    names (prefix, startKey): SQLite compares bytes already; PostgreSQL needs COLLATE "C"."""
    return {"type_": String(length).with_variant(String(length, collation="C"), "postgresql"),
            "info": {"byte_order": True}}


WRITE_LOCK = 0x46435752  # "FCWR": the advisory lock key of resource writes on PostgreSQL
SCHEMA_LOCK = 0x46435343  # "FCSC": creating the tables
LOCK_TIMEOUT = "30s"  # as SQLite's busy_timeout: a writer that waits longer fails instead of hanging


def _postgres_engine(url: str) -> Engine:
    # At most 48 connections per replica (FastAPI's 40 threads + the queue and records): a server's
    # max_connections must cover replicas x 48 under full load (PostgreSQL's default of 100: 2 replicas).
    engine = create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=40, pool_timeout=60)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        dbapi_conn.commit()  # a SET inside a transaction that is rolled back would not stay

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get("fc_serial"):
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")

    return engine


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                           pool_size=16, max_overflow=32)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # let SQLAlchemy emit BEGIN itself (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("fc_write") else "BEGIN")

    return engine


@contextmanager
def refused_values() -> Iterator[None]:
    """A value the database cannot hold (PostgreSQL: longer than its column, a NUL character; SQLite
    takes both) is the request's fault: 400, not 500."""
    try:
        yield
    except DataError as exc:
        raise errors.invalid_argument("a value of the request is too long or holds a character that "
                                      f"cannot be stored ({type(exc.orig).__name__})") from None


class Database:
    def __init__(self, url: str):
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
            self.engine = _sqlite_engine(url)
        elif url.startswith(("postgresql:", "postgresql+")):
            self.engine = _postgres_engine(url)
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.engine.execution_options(fc_write=True, fc_serial=True),
                                   expire_on_commit=False)
        # Bumped after every committed write in this process: caches of stored state compare it.
        self.generation = 0

    def create_all(self) -> None:
        # Import every table module so its classes are registered on Base.metadata.
        from emulator.store import tables  # noqa: F401

        if not self.is_postgres:
            Base.metadata.create_all(self.engine)
            return
        with self.engine.begin() as conn:
            # Replicas start together: one creates the tables, the others wait and find them.
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
            Base.metadata.create_all(conn)
            for table in Base.metadata.sorted_tables:  # databases made before these columns said COLLATE "C"
                for col in table.columns:
                    if not col.info.get("byte_order"):
                        continue
                    found = conn.exec_driver_sql(
                        "SELECT collation_name FROM information_schema.columns WHERE table_schema = current_schema() "
                        f"AND table_name = '{table.name}' AND column_name = '{col.name}'").scalar()
                    if found != "C":
                        conn.exec_driver_sql(f'ALTER TABLE {table.name} ALTER COLUMN {col.name} '
                                             f'TYPE varchar({col.type.length}) COLLATE "C"')

    @contextmanager
    def read(self) -> Iterator[Session]:
        with refused_values(), self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        with refused_values(), self._write() as session, session.begin():
            yield session
        self.generation += 1

    def close(self) -> None:
        self.engine.dispose()
