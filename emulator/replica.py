"""This process as one replica of several sharing a database (the table side: store/replicas.py).

- Identity and liveness: a row per replica, renewed every HEARTBEAT_S by a thread of its own (a busy
  event loop does not stop it). The same write renews this replica's async leases (LEASE_S), so
  leases live exactly as long as their replica.
- Take-over: each heartbeat also looks for dead replicas; the first to see one queues its events
  again, forgets its instance slots and removes its leftover containers (shared Docker engine).
- Changes made through another replica: on PostgreSQL every resource write sends `NOTIFY
  fc_changes` in its transaction, and a listener thread bumps `Database.generation` when one
  arrives, so the call path's caches (targets, custom domains) keep their one-integer check and
  cost nothing per call. Other databases (SQLite shared by processes) get the same from a revision
  row read at each heartbeat when another replica is alive.
- Queued work and stops: `NOTIFY fc_async` wakes idle replicas' claimers, `NOTIFY fc_stop` reaches
  the replica running a stateful task; the heartbeat reads both from the tables too (a safety net).
- Function-wide instance limits: slots in `instance_slots`, taken before a cold start.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid

from sqlalchemy import event, text

from emulator.store import replicas as rows
from emulator.store.async_queue import QueueDB
from emulator.store.db import Database

log = logging.getLogger("fc_emulator.replica")

LEASE_S = 10.0  # an async claim's lease, renewed at every heartbeat
CHANNELS = ("fc_changes", "fc_async", "fc_stop", "fc_yield")
YIELD_WAITS_S = (0.05, 0.1, 0.2)  # a full function: wait this long for another replica to give up an idle instance


class Replica:
    def __init__(self, db: Database, owner: str, url: str):
        self.id = uuid.uuid4().hex
        self.db = db
        self.qdb = QueueDB(db)  # its writes change no resource: no generation bump
        self.owner = owner  # the data dir's marker, as the backends label instances
        self.url = url
        self.pg = db.engine.dialect.name == "postgresql"
        self.live: set[str] = {self.id}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pools = None  # execution.pool.Pools: its instances are this replica's slots
        self.on_kick = None  # () -> None, on the loop: queued async work may be waiting
        self.on_stop = None  # (event ids) -> None, on the loop: stop these running events
        self.on_changed: list = []  # () -> None, from any thread: another replica changed resources
        self.on_dead = None  # (replica id) -> int, from the heartbeat thread: remove its instances
        self.listening = not self.pg
        self._revision: int | None = None
        self._halt = threading.Event()
        self._threads: list[threading.Thread] = []
        event.listen(db._write, "before_commit", self._before_commit)  # noqa: SLF001 - every resource write

    @property
    def peers(self) -> int:
        return len(self.live) - 1

    # --- lifecycle ---------------------------------------------------------------------------------

    def join(self) -> set[str]:
        """Register, and take back what dead replicas left (blocking, before the backend cleans up):
        the ids of the live replicas on this data dir, this one included."""
        now = time.time()
        with self.qdb.write() as s:
            rows.register(s, self.id, self.owner, self.url, now)
        with self.qdb.write() as s:
            live, dead = rows.live_rows(s, now)
            self.live = {r.id for r in live} | {self.id}
            taken = rows.take_over(s, [r.id for r in dead], self.live, now)
        if taken:
            log.info("requeued %d async event(s) left running by a replica that is gone", taken)
        if self.peers:
            log.info("replica %s joins %d other live replica(s)", self.id[:8], self.peers)
        return {r.id for r in live if r.owner == self.owner} | {self.id}

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._spawn(self._beat_forever, "replica-heartbeat")
        if self.pg:
            self._spawn(self._listen_forever, "replica-listen")

    def _spawn(self, target, name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def close(self) -> None:
        """Stop beating and leave (after the async worker gave its events back and instances stopped)."""
        self._halt.set()
        for t in self._threads:
            t.join(timeout=3)
        try:
            with self.qdb.write() as s:
                rows.leave(s, self.id)
        except Exception:  # noqa: BLE001 - the row then dies of old age
            log.warning("could not remove replica %s's row", self.id[:8])

    # --- heartbeat ---------------------------------------------------------------------------------

    def _beat_forever(self) -> None:
        while not self._halt.wait(rows.HEARTBEAT_S):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - a database hiccup: the next beat tries again
                log.exception("replica heartbeat failed")

    def beat(self) -> None:
        now = time.time()
        slots = self._local_slots()
        with self.qdb.write() as s:
            stopping = rows.heartbeat(s, self.id, now, LEASE_S)
            if stopping is None:
                log.warning("replica %s was taken for dead (no heartbeat for %.0f s): joining again; its running "
                            "async events run again elsewhere", self.id[:8], rows.DEAD_AFTER_S)
                rows.register(s, self.id, self.owner, self.url, now)
                stopping = []
            live, dead = rows.live_rows(s, now)
            self.live = {r.id for r in live} | {self.id}
            dead_ids = [r.id for r in dead]
            taken = rows.take_over(s, dead_ids, self.live, now) if dead_ids else 0
            rows.sync(s, self.id, slots)
            rev = rows.revision(s) if not self.pg and self.peers else None
        for rid in dead_ids:
            log.warning("replica %s is gone (last heartbeat %.1f s ago)", rid[:8],
                        now - next(r.heartbeat_at for r in dead if r.id == rid))
            if self.on_dead is not None:
                try:
                    removed = self.on_dead(rid)
                    if removed:
                        log.info("removed %d instance(s) of replica %s", removed, rid[:8])
                except Exception:  # noqa: BLE001
                    log.exception("could not remove replica %s's instances", rid[:8])
        if taken:
            log.info("requeued %d async event(s) of gone replica(s)", taken)
        if (taken or self.peers) and self.on_kick is not None:
            self._on_loop(self.on_kick)  # taken-over events, or retries another replica scheduled
        if stopping and self.on_stop is not None:
            self._on_loop(self.on_stop, stopping)
        if rev is not None and rev != self._revision:
            if self._revision is not None:
                self.changed_elsewhere()
            self._revision = rev
        if not self.listening:  # notifications may be lost: treat every beat as a change
            self.changed_elsewhere()

    def _on_loop(self, fn, *args) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)

    def _local_slots(self) -> dict:
        """{slot id: (pool key, provisioned, ready)} of this replica's live instances."""
        out = {}
        pools = self.pools
        if pools is None:
            return out
        for key, pool in list(pools.pools.items()):
            for inst in list(pool.instances):
                slot = getattr(inst, "slot", None)
                if slot and inst.alive:
                    out[slot] = (key, bool(inst.provisioned), inst.ready.is_set())
        return out

    # --- notifications -----------------------------------------------------------------------------

    def _before_commit(self, session) -> None:
        """Every resource write tells the other replicas, in its own transaction (sent on commit)."""
        if self.pg:
            session.execute(text("SELECT pg_notify('fc_changes', :p)"), {"p": self.id})
        else:
            rows.bump_revision(session)

    def notify(self, session, channel: str, payload: str = "") -> None:
        """Inside a write transaction: tell the other replicas (PostgreSQL; others poll)."""
        if self.pg:
            session.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": payload or self.id})

    def changed_elsewhere(self) -> None:
        self.db.generation += 1  # every cached target and domain is stale
        for fn in self.on_changed:
            try:
                fn()
            except Exception:  # noqa: BLE001
                log.exception("change listener failed")

    def _listen_forever(self) -> None:
        import psycopg

        url = self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._halt.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    for channel in CHANNELS:
                        conn.execute(f"LISTEN {channel}")
                    self.listening = True
                    self.changed_elsewhere()  # whatever happened while we were not listening
                    while not self._halt.is_set():
                        for n in conn.notifies(timeout=1.0):
                            self._on_notify(n.channel, n.payload)
            except Exception as exc:  # noqa: BLE001 - reconnect; meanwhile every heartbeat counts as a change
                if not self._halt.is_set():
                    log.warning("replica listener lost its connection (%s); reconnecting", type(exc).__name__)
            self.listening = False
            self._halt.wait(1.0)

    def _on_notify(self, channel: str, payload: str) -> None:
        if channel == "fc_changes":
            if payload != self.id:
                self.changed_elsewhere()
        elif channel == "fc_async":
            if payload != self.id and self.on_kick is not None:
                self._on_loop(self.on_kick)
        elif channel == "fc_yield":
            rid, _, key = payload.partition(":")
            if rid != self.id and self.pools is not None:
                self._on_loop(self.pools.yield_idle, tuple(key.split("\x1f")))
        elif channel == "fc_stop":
            rid, _, event_id = payload.partition(":")
            if rid == self.id and event_id.isdigit() and self.on_stop is not None:
                self._on_loop(self.on_stop, [int(event_id)])

    # --- function-wide instance slots --------------------------------------------------------------

    async def reserve(self, key: tuple, limit: int, local: int, provisioned: bool = False) -> str | None:
        """A slot for a new instance of the function version `key`, or None when all `limit` are taken
        across the replicas. Alone on SQLite the slot is only counted in memory (written at the next
        heartbeat), so a single emulator's cold start costs no database write."""
        slot = uuid.uuid4().hex
        if not self.pg and not self.peers:
            return slot if local < limit else None

        def take() -> bool:
            with self.qdb.write() as s:
                return rows.reserve(s, self.id, slot, key, limit, set(self.live), local, provisioned)

        def ask_yield() -> None:
            with self.qdb.write() as s:
                self.notify(s, "fc_yield", f"{self.id}:" + "\x1f".join(key))

        if await asyncio.to_thread(take):
            return slot
        if not (self.pg and self.peers):
            return None
        # The slots are taken elsewhere: an idle instance on another replica gives its slot up (FC would
        # route the call to it; a replica can only run its own), else this call is throttled.
        await asyncio.to_thread(ask_yield)
        for wait in YIELD_WAITS_S:
            await asyncio.sleep(wait)
            if await asyncio.to_thread(take):
                return slot
        return None

    def release(self, slot: str | None) -> None:
        """An instance is gone: free its slot now (the heartbeat would, later)."""
        if not slot or (not self.pg and not self.peers):
            return

        def drop() -> None:
            with self.qdb.write() as s:
                rows.release(s, slot)
        if self.loop is not None:
            self.loop.run_in_executor(None, drop)

    def count_elsewhere(self, key: tuple, *, provisioned: bool | None = None, ready: bool | None = None) -> int:
        """Instances of `key` on the other live replicas (blocking)."""
        if not self.peers:
            return 0
        with self.qdb.read() as s:
            return rows.count(s, key, set(self.live), exclude=self.id, provisioned=provisioned, ready=ready)

    def status(self) -> dict:
        with self.qdb.read() as s:
            live, _ = rows.live_rows(s, time.time())
        return {"replicaId": self.id, "replicas": [{"replicaId": r.id, "url": r.url, "startedTime": r.started_at,
                                                     "heartbeatTime": r.heartbeat_at} for r in live]}
