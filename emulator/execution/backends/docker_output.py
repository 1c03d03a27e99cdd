"""A container's output read on the event loop, split into lines for the InstanceLog: a built-in agent's
through a named pipe on this host (OutputPipe); any other container's through the engine's attach stream
(stdout and stderr multiplexed in 8-byte-headed frames, logs from the start) over its Unix socket or plain
TCP (DOCKER_HOST=tcp://...).

A reader thread per container (the docker SDK's blocking stream) cost a thread wake-up and hand-over per
log line, about a tenth of the emulator's CPU per warm call. Where the engine is reached otherwise (TLS,
ssh://), the backend keeps its thread (`pump`).
"""
from __future__ import annotations

import asyncio
import os
import shutil
import struct
import threading
from pathlib import Path
from urllib.parse import urlsplit

from emulator.execution.backends.fd_reader import read_fd
from emulator.execution.logs import InstanceLog

LINE_CHUNK_BYTES = 65536


def engine_address() -> str | tuple[str, int] | None:
    """The engine's Unix socket path or plain-TCP (host, port), if that is how it is reached; None for TLS
    (DOCKER_TLS_VERIFY, https://) and ssh://, which the docker SDK's own transport handles."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return "/var/run/docker.sock"
    if host.startswith("unix://"):
        return host[len("unix://"):]
    if host.startswith("tcp://") and not os.environ.get("DOCKER_TLS_VERIFY"):
        address = urlsplit(host)
        if address.hostname and address.port:
            return address.hostname, address.port
    return None


class _AttachStream(asyncio.Protocol):
    def __init__(self, log: InstanceLog):
        self.log = log
        self.transport: asyncio.Transport | None = None
        self.head: bytes | None = b""  # the HTTP answer to the attach request, until its blank line
        self.frames = b""
        self.line = b""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.head is not None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            if self.head.split(b" ", 2)[1:2] not in ([b"101"], [b"200"]):  # no such container: no output
                self.head = b""
                self.transport.close()
                return
            data, self.head = self.head[end + 4:], None
        self.frames += data
        while len(self.frames) >= 8:
            size = struct.unpack(">I", self.frames[4:8])[0]
            if len(self.frames) < 8 + size:
                break
            self._text(self.frames[8:8 + size])
            self.frames = self.frames[8 + size:]

    def _text(self, chunk: bytes) -> None:
        buf = self.line + chunk if self.line else chunk
        start = 0
        while True:
            end = buf.find(b"\n", start, start + LINE_CHUNK_BYTES)
            if end >= 0:
                self.log.feed(buf[start:end].decode("utf-8", "replace"))
                start = end + 1
            elif len(buf) - start >= LINE_CHUNK_BYTES:  # a long line goes on in pieces
                self.log.feed(buf[start:start + LINE_CHUNK_BYTES].decode("utf-8", "replace"))
                start += LINE_CHUNK_BYTES
            else:
                break
        self.line = buf[start:]

    def connection_lost(self, exc) -> None:
        if self.line:
            self.log.feed(self.line.decode("utf-8", "replace"))
        self.log.close()


async def read_output(address: str | tuple[str, int], container_id: str, log: InstanceLog) -> None:
    """Attach to the container's output (`engine_address()`); the log is closed when the stream ends (the
    container stopped)."""
    loop = asyncio.get_running_loop()
    try:
        if isinstance(address, tuple):
            transport, _ = await loop.create_connection(lambda: _AttachStream(log), *address)
        else:
            transport, _ = await loop.create_unix_connection(lambda: _AttachStream(log), address)
    except OSError:
        log.close()
        return
    transport.write(f"POST /containers/{container_id}/attach?logs=1&stream=1&stdout=1&stderr=1 HTTP/1.1\r\n"
                    f"Host: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n".encode())


class _PipeStream(_AttachStream):
    """Plain bytes, no HTTP answer and no frames."""

    def __init__(self, log: InstanceLog):
        super().__init__(log)
        self.head = None

    def data_received(self, data: bytes) -> None:
        self._text(data)


class OutputPipe:
    """A named pipe that a container's agent writes its stdout and stderr into (bind-mounted into the
    container; `exec "$@" >pipe 2>&1`). Through the engine each line cost a copy by the container's shim, a
    JSON log-file write and a framed copy by the engine (~0.1 ms of CPU per warm call between them); here it
    is one write and one read. It is opened for reading before the container starts, so the agent's open for
    writing never blocks and nothing is missed; the reader ends when the last writer closes (the container
    stopped), or at `close`."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "output"
        os.mkfifo(self.path, 0o600)
        os.chmod(self.path, 0o666)  # the agent's user in the container is not ours
        self._fd: int | None = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self._closed = False
        self._lock = threading.Lock()

    async def read(self, log: InstanceLog) -> None:
        with self._lock:  # `close` runs on a backend thread
            fd, self._fd = self._fd, None
        if fd is None:  # closed before it was read: the container did not start
            log.close()
            return
        read_fd(asyncio.get_running_loop(), fd, _PipeStream(log))

    def close(self) -> None:
        """The container is gone: end the reader, even if the agent never opened the pipe (a writer that
        comes and goes ends it), and remove the pipe."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            unread, self._fd = self._fd, None
        if unread is not None:
            os.close(unread)
        else:
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # no reader left: it has ended already
                pass
        shutil.rmtree(self.path.parent, ignore_errors=True)


def pump(container, log_: InstanceLog) -> None:
    """The container's output through the docker SDK's blocking stream (a thread per container)."""
    buf = b""
    try:
        for chunk in container.attach(stdout=True, stderr=True, stream=True, logs=True):
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                log_.feed(line.decode("utf-8", "replace"))
    except Exception:  # noqa: BLE001 - the container went away
        pass
    if buf:
        log_.feed(buf.decode("utf-8", "replace"))
    log_.close()
