"""InstanceExec (fc-api.md §2.12): run a command inside an instance and relay its streams.

Transport-neutral: the caller gives `send(channel, text)` and `receive() -> (channel, bytes) | None`;
api/instances.py plugs a WebSocket in. The channels are FC's frame channels.
"""
from __future__ import annotations

import asyncio
import codecs
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from emulator.execution.backends.base import Backend, ExecSession, StartFailed
from emulator.execution.instance import Instance

log = logging.getLogger("fc_emulator.exec")

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = range(6)
DEFAULT_IDLE_TIMEOUT_S = 600

Send = Callable[[int, str], Awaitable[None]]
Receive = Callable[[], Awaitable["tuple[int, bytes] | None"]]


@dataclass
class ExecOptions:
    argv: list[str]
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    tty: bool = False
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT_S


@dataclass
class ExecResult:
    exit_code: int | None  # None: the session ended before the command did
    reason: str = ""  # why it ended early (idle, client gone, instance stopped)


async def run(instance: Instance, backend: Backend, opts: ExecOptions, send: Send, receive: Receive) -> ExecResult:
    """Start the command, relay stdin/stdout/stderr/resize until it exits, the client leaves, the
    session is idle for `idle_timeout` or the instance stops. Raises StartFailed if it can't start."""
    session = await asyncio.to_thread(backend.exec_start, instance.started, opts.argv, opts.tty, opts.stdin)
    relay = _Relay(instance, session, opts, send, receive)
    try:
        return await relay.run()
    finally:
        await asyncio.to_thread(session.kill)


class _Relay:
    def __init__(self, instance: Instance, session: ExecSession, opts: ExecOptions, send: Send, receive: Receive):
        self.instance = instance
        self.session = session
        self.opts = opts
        self.send = send
        self.receive = receive
        self.last_activity = time.monotonic()
        self.output: asyncio.Queue = asyncio.Queue()
        self.decoders = {STDOUT: codecs.getincrementaldecoder("utf-8")("replace"),
                         STDERR: codecs.getincrementaldecoder("utf-8")("replace")}

    def touch(self) -> None:
        self.last_activity = time.monotonic()
        self.instance.last_used = self.last_activity  # an instance in use is not reclaimed as idle

    async def run(self) -> ExecResult:
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._read_output, args=(loop,), daemon=True, name="exec-output").start()
        tasks = {asyncio.create_task(self._forward_output()): "exited",
                 asyncio.create_task(self._forward_input()): "client",
                 asyncio.create_task(self._watch()): "watch"}
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        first = next(iter(done))
        if first.exception() is not None:  # sending or receiving failed: the client is gone
            log.debug("exec session ended: %r", first.exception())
            return ExecResult(None, "the client closed the session")
        if tasks[first] == "exited":
            return ExecResult(await asyncio.to_thread(self.session.wait))
        reason = first.result() if tasks[first] == "watch" else "the client closed the session"
        return ExecResult(None, reason)

    def _read_output(self, loop: asyncio.AbstractEventLoop) -> None:
        """A thread per session: the backend's reads block."""
        try:
            while (item := self.session.read()) is not None:
                loop.call_soon_threadsafe(self.output.put_nowait, item)
        except Exception:  # noqa: BLE001 - a broken stream ends the output like EOF
            log.debug("exec output ended with an error", exc_info=True)
        finally:
            try:
                loop.call_soon_threadsafe(self.output.put_nowait, None)
            except RuntimeError:  # the loop is gone (shutdown)
                pass

    async def _forward_output(self) -> None:
        while (item := await self.output.get()) is not None:
            self.touch()
            channel, data = item
            text = self.decoders[channel].decode(data)
            if text and (self.opts.stdout if channel == STDOUT else self.opts.stderr):
                await self.send(channel, text)
        for channel, decoder in self.decoders.items():
            rest = decoder.decode(b"", final=True)
            if rest and (self.opts.stdout if channel == STDOUT else self.opts.stderr):
                await self.send(channel, rest)

    async def _forward_input(self) -> None:
        while (frame := await self.receive()) is not None:
            self.touch()
            channel, payload = frame
            if channel == STDIN and self.opts.stdin:
                if payload:
                    await asyncio.to_thread(self.session.write, payload)
                else:  # an empty stdin frame: end of input (lets `cat`, `wc` and friends finish)
                    await asyncio.to_thread(self.session.close_stdin)
            elif channel == RESIZE:
                size = _terminal_size(payload)
                if size:
                    await asyncio.to_thread(self.session.resize, *size)

    async def _watch(self) -> str:
        interval = max(0.05, min(1.0, self.opts.idle_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            if not self.instance.alive:
                await self._error("the instance has stopped")
                return "instance stopped"
            idle = time.monotonic() - self.last_activity
            if idle >= self.opts.idle_timeout:
                await self._error(f"the session was closed after {self.opts.idle_timeout:g} seconds without input "
                                  f"or output (idleTimeout)")
                return "idle"

    async def _error(self, message: str) -> None:
        try:
            await self.send(ERROR, message)
        except Exception:  # noqa: BLE001 - the client may be gone already
            pass


def _terminal_size(payload: bytes) -> tuple[int, int] | None:
    """A resize frame: {"width": columns, "height": rows} (keys in any case)."""
    try:
        body = {str(k).lower(): v for k, v in json.loads(payload).items()}
        width, height = int(body["width"]), int(body["height"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return (width, height) if 0 < width < 65536 and 0 < height < 65536 else None


__all__ = ["ExecOptions", "ExecResult", "StartFailed", "run", "STDIN", "STDOUT", "STDERR", "ERROR", "RESIZE",
           "CLOSE"]
