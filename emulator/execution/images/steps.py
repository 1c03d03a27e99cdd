"""Progress of an image build: one line per step with the time since the build began, and long
commands run with a line every few seconds (their latest output), so a user always sees progress."""
from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import deque
from typing import Callable


class BuildError(Exception):
    """An image could not be built; the message says which step and why."""


class Clock:
    def __init__(self, echo: Callable[[str], object] = print):
        self.started = time.monotonic()
        self._echo = echo

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def step(self, message: str) -> None:
        self._echo(f"[{self.elapsed():7.1f}s] {message}")


def run(clock: Clock, argv: list[str], what: str, *, env: dict | None = None, cwd=None,
        every: float = 10.0, timeout: float = 3600) -> str:
    """Run `argv`, echoing its latest output line at most every `every` seconds; BuildError with the
    tail of its output when it fails. Returns the whole output."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=full_env, cwd=cwd, text=True, errors="replace")
    tail: deque[str] = deque(maxlen=25)
    lines: list[str] = []
    last = time.monotonic()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            if not line:
                continue
            tail.append(line)
            lines.append(line)
            if time.monotonic() - last >= every:
                last = time.monotonic()
                clock.step(f"  {what}: {line[:110]}")
        code = proc.wait()
    finally:
        timer.cancel()
    if code != 0:
        detail = "\n".join(f"    {t}" for t in tail)
        raise BuildError(f"{what} failed (exit {code}):\n{detail}")
    return "\n".join(lines)
