"""An instance's output, sliced into per-invocation logs by FC's markers (runtimes.md §2.6, §6).

The backend's reader thread feeds lines in; invocations wait (without polling) for their End marker.
Lines printed outside any invocation (the runtime banner) go into the next invocation's log, as FC does.
"""
from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections import deque

_MARKER = re.compile(r"^FC (Invoke|Initialize|PreFreeze|PreStop) (Start|End) RequestId: ([^,\s]+)")
MAX_LINES_PER_INVOCATION = 10_000

log = logging.getLogger("fc_emulator.instance")


class InstanceLog:
    def __init__(self, instance_id: str, loop: asyncio.AbstractEventLoop | None = None):
        self.instance_id = instance_id
        self._loop = loop
        self._lock = threading.Lock()
        self._pending: list[str] = []  # lines outside any invocation
        self._open: dict[str, list[str]] = {}
        self._closed: dict[str, list[str]] = {}
        self._closed_order: deque[str] = deque()
        self._waiters: dict[str, list[asyncio.Future]] = {}
        self.tail: deque[str] = deque(maxlen=200)  # recent output, for start-up errors
        self.ended = threading.Event()
        self._activity: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    def watch(self) -> asyncio.Event:
        """An event set whenever output arrives (agents print their banner once they listen)."""
        event = asyncio.Event()
        self._activity = (asyncio.get_running_loop(), event)
        return event

    def unwatch(self) -> None:
        self._activity = None

    def feed(self, line: str) -> None:
        line = line.rstrip("\r\n")
        log.debug("[%s] %s", self.instance_id, line)
        if self._activity is not None:
            loop, event = self._activity
            loop.call_soon_threadsafe(event.set)
        with self._lock:
            self.tail.append(line)
            m = _MARKER.match(line)
            # Invocations are keyed by request id; the initializer (same request id) by "Initialize:<id>",
            # and its lines lead the invocation's log, as in FC's console.
            key = m and (m.group(3) if m.group(1) == "Invoke" else f"{m.group(1)}:{m.group(3)}")
            if m and m.group(2) == "Start":
                earlier = self._closed.pop(f"Initialize:{key}", []) if m.group(1) == "Invoke" else []
                self._open[key] = earlier + self._pending + [line]
                self._pending = []
                return
            if m and m.group(2) == "End":
                rid = key
                lines = self._open.pop(rid, None)
                if lines is None:
                    lines = []
                lines.append(line)
                self._close(rid, lines)
                return
            if not self._open:
                self._pending.append(line)
                del self._pending[:-MAX_LINES_PER_INVOCATION]
                return
            for lines in self._open.values():  # with concurrency > 1, lines can't be told apart
                if len(lines) < MAX_LINES_PER_INVOCATION:
                    lines.append(line)

    def _close(self, rid: str, lines: list[str]) -> None:
        self._closed[rid] = lines
        self._closed_order.append(rid)
        while len(self._closed_order) > 256:
            self._closed.pop(self._closed_order.popleft(), None)
        for fut in self._waiters.pop(rid, []):
            self._resolve(fut)

    def _resolve(self, fut: asyncio.Future) -> None:
        loop = fut.get_loop()
        loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(None))

    def close(self) -> None:
        """The instance's output ended: wake every waiter."""
        with self._lock:
            waiters = [f for fs in self._waiters.values() for f in fs]
            self._waiters.clear()
        for fut in waiters:
            self._resolve(fut)
        self.ended.set()

    async def wait_end(self, rid: str, timeout: float) -> None:
        """Wait until `rid`'s End marker has been read (or the output ends, or `timeout`)."""
        with self._lock:
            if rid in self._closed or self.ended.is_set():
                return
            fut = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(rid, []).append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            pass

    def take(self, rid: str) -> list[str]:
        """The log of `rid`: closed if its End marker came, else what has been read so far."""
        with self._lock:
            if rid in self._closed:
                return self._closed.pop(rid)
            if rid in self._open:
                return list(self._open[rid])
            return []

    def recent(self, n: int = 50) -> str:
        with self._lock:
            return "\n".join(list(self.tail)[-n:])
