"""InstanceExec on the Docker backend (`docker exec` through the engine's API)."""
from __future__ import annotations

import os
import signal
import socket

from docker.errors import APIError, NotFound
from docker.utils.socket import frames_iter

from emulator.execution.backends.base import ExecSession, StartFailed


class DockerExec(ExecSession):
    """InstanceExec on the Docker backend: exec_create + exec_start(socket=True) on the raw socket;
    without a tty the engine multiplexes stdout and stderr in 8-byte-headed frames."""

    def __init__(self, api, container_id: str, argv: list[str], tty: bool, stdin: bool, env: dict | None = None,
                 local: bool = True):
        self.api = api
        self.local = local  # the engine's process ids are this host's
        try:  # env: a standby's function environment (the container's own is a part of it)
            self.exec_id = api.exec_create(container_id, argv, stdin=stdin, tty=tty, environment=env)["Id"]
            sock = api.exec_start(self.exec_id, tty=tty, socket=True)
        except (NotFound, APIError) as exc:
            raise StartFailed(f"exec: {exc.explanation or exc}") from None
        self._sock = getattr(sock, "_sock", sock)  # the socket under the engine's SocketIO
        self._keep = sock
        self._frames = frames_iter(self._sock, tty)

    def read(self) -> tuple[int, bytes] | None:
        """The reader owns the socket: it closes it once the stream has ended."""
        try:
            return next(self._frames)
        except (StopIteration, OSError, ValueError):
            for s in (self._keep, self._sock):
                try:
                    s.close()
                except OSError:
                    pass
            return None

    def write(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError:
            pass

    def close_stdin(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def resize(self, width: int, height: int) -> None:
        try:
            self.api.exec_resize(self.exec_id, height=height, width=width)
        except (NotFound, APIError):
            pass

    def _inspect(self) -> dict:
        try:
            return self.api.exec_inspect(self.exec_id)
        except (NotFound, APIError):
            return {}

    def wait(self) -> int | None:
        code = self._inspect().get("ExitCode")
        return int(code) if code is not None else None

    def kill(self) -> None:
        info = self._inspect()
        # The engine has no "kill exec" call: signal its process when it runs on this host (not possible
        # from inside compose, where the socket's closing ends a tty session and stdin only).
        if self.local and info.get("Running") and info.get("Pid"):
            try:
                os.kill(int(info["Pid"]), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the reader, which closes the socket
        except OSError:
            pass
