"""An instance's output, sliced into per-invocation logs by FC's markers (runtimes.md §2.6, §6).

The backend's reader thread feeds lines in; invocations wait (without polling) for their End marker.
Lines printed outside any invocation (the runtime banner) go into the next invocation's log, as FC does.
Each invocation's log is bounded in memory (lines and bytes): its tail is kept, after a note saying how
much was cut, so a function printing 10 MB doesn't keep 10 MB here.
"""
from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections import deque

_MARKER = re.compile(r"^FC (Invoke|Initialize|PreFreeze|PreStop) (Start|End) RequestId: ([^,\s]+)")
MAX_LINES_PER_INVOCATION = 10_000
# Kept per invocation in memory (characters, about bytes); the Recorder raises it to its own cap when larger.
MAX_BYTES_PER_INVOCATION = 1 << 20
HEAD_BYTES = 8192  # the lines up to an invocation's Start marker (banner, notices) are kept when this short
TAIL_LINE_CHARS = 2048  # `tail` (start-up errors) keeps this much of each line
_CUT = re.compile(r"^\.\.\. \[(\d+) bytes of log cut")


def cut_note(cut_bytes: int, kept: int) -> str:
    return f"... [{cut_bytes} bytes of log cut here; the last {kept} bytes follow]"


def keep_at_least(max_bytes: int) -> None:
    """Keep at least `max_bytes` of each invocation's log in memory (the records' cap)."""
    global MAX_BYTES_PER_INVOCATION
    MAX_BYTES_PER_INVOCATION = max(MAX_BYTES_PER_INVOCATION, max_bytes)


def keep_tail(lines: list[str], max_bytes: int) -> list[str]:
    """The last `max_bytes` (UTF-8, a newline per line) of a log, after its head (the lines up to FC's first
    marker, when short) and a note saying how much was cut (an earlier cut's note counts in). 0 = all."""
    if max_bytes <= 0 or (sum(map(len, lines)) + len(lines)) * 4 <= max_bytes:  # fits even at 4 bytes a character
        return lines
    sizes = [(len(line) if line.isascii() else len(line.encode())) + 1 for line in lines]
    if sum(sizes) <= max_bytes:
        return lines
    first = next((i for i, line in enumerate(lines[:8]) if _MARKER.match(line)), None)
    head = lines[:first + 1] if first is not None and sum(sizes[:first + 1]) <= min(HEAD_BYTES, max_bytes // 2) else []
    start, cut = len(head), 0
    m = _CUT.match(lines[start]) if start < len(lines) else None
    if m:  # cut before: count it once, and don't keep the old note
        cut, start = int(m.group(1)), start + 1
    budget = max_bytes - sum(sizes[:len(head)]) - len(cut_note(10**15, max_bytes)) - 1  # room for the note
    kept: list[str] = []
    i = len(lines)
    while i > start and sizes[i - 1] <= budget:
        i -= 1
        budget -= sizes[i]
        kept.append(lines[i])
    if i > start and budget > 1 and not kept:  # one line bigger than the cap: its own tail
        raw = lines[i - 1].encode()[-(budget - 1):]
        kept.append(raw.decode("utf-8", "ignore"))
        cut += len(lines[i - 1].encode()) - len(raw)
        i -= 1
    cut += sum(sizes[start:i])
    kept.reverse()
    return head + [cut_note(cut, max_bytes)] + kept


class _Buffer:
    """One invocation's lines, bounded: its head (up to FC's Start marker, when short) and the newest lines."""
    __slots__ = ("head", "lines", "size", "cut")

    def __init__(self, lines: list[str] = ()):
        self.head: list[str] = []
        self.lines: deque[str] = deque()
        self.size = 0
        self.cut = 0
        for line in lines:
            self.add(line)

    def add(self, line: str) -> None:
        if not self.head and not self.cut and self.size <= HEAD_BYTES and _MARKER.match(line):
            self.head = [*self.lines, line]
            self.lines.clear()
            self.size = 0
            return
        limit = MAX_BYTES_PER_INVOCATION
        if len(line) > limit:
            self.cut += len(line) - limit
            line = line[-limit:]
        self.lines.append(line)
        self.size += len(line) + 1
        while self.size > limit or len(self.lines) > MAX_LINES_PER_INVOCATION:
            dropped = self.lines.popleft()
            self.size -= len(dropped) + 1
            self.cut += len(dropped) + 1

    def out(self) -> list[str]:
        note = [cut_note(self.cut, MAX_BYTES_PER_INVOCATION)] if self.cut else []
        return self.head + note + list(self.lines)

log = logging.getLogger("fc_emulator.instance")


class InstanceLog:
    def __init__(self, instance_id: str, loop: asyncio.AbstractEventLoop | None = None):
        self.instance_id = instance_id
        self._loop = loop
        self._lock = threading.Lock()
        self._pending = _Buffer()  # lines outside any invocation
        self._open: dict[str, _Buffer] = {}
        self._closed: dict[str, _Buffer] = {}
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
            self.tail.append(line if len(line) <= TAIL_LINE_CHARS else line[:TAIL_LINE_CHARS] + " ...")
            m = _MARKER.match(line)
            # Invocations are keyed by request id; the initializer (same request id) by "Initialize:<id>",
            # and its lines lead the invocation's log, as in FC's console.
            key = m and (m.group(3) if m.group(1) == "Invoke" else f"{m.group(1)}:{m.group(3)}")
            if m and m.group(2) == "Start":
                earlier = self._closed.pop(f"Initialize:{key}", None) if m.group(1) == "Invoke" else None
                buf = _Buffer((earlier.out() if earlier else []) + self._pending.out())
                buf.add(line)
                self._open[key] = buf
                self._pending = _Buffer()
                return
            if m and m.group(2) == "End":
                rid = key
                buf = self._open.pop(rid, None) or _Buffer()
                buf.add(line)
                self._close(rid, buf)
                return
            if not self._open:
                self._pending.add(line)
                return
            for buf in self._open.values():  # with concurrency > 1, lines can't be told apart
                buf.add(line)

    def _close(self, rid: str, buf: _Buffer) -> None:
        self._closed[rid] = buf
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
                return self._closed.pop(rid).out()
            if rid in self._open:
                return self._open[rid].out()
            return []

    def running(self, max_lines: int = 200) -> dict[str, list[str]]:
        """The logs so far of the invocations in progress (Start marker read, End not yet): the dashboard's tail."""
        with self._lock:
            return {rid: buf.out()[-max_lines:] for rid, buf in self._open.items() if ":" not in rid}

    def recent(self, n: int = 50) -> str:
        with self._lock:
            return "\n".join(list(self.tail)[-n:])
