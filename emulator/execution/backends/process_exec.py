"""InstanceExec on the process backend: a command run with an instance's own working folder, environment and
user, through a pty for tty sessions and pipes otherwise."""
from __future__ import annotations

import fcntl
import os
import pty
import queue
import signal
import struct
import subprocess
import termios
import threading

from emulator.execution.backends.base import ExecSession, StartFailed
from emulator.execution.instance_user import InstanceUser


class ProcessExec(ExecSession):
    """InstanceExec on the process backend: a pty for tty sessions, pipes otherwise."""

    def __init__(self, argv: list[str], cwd: str, env: dict[str, str], tty: bool, stdin: bool,
                 run_as: InstanceUser | None = None):
        creds = run_as.popen_kwargs() if run_as else {}  # the instance's own user
        self._out: queue.Queue = queue.Queue()
        self._master: int | None = None
        try:
            if tty:
                master, slave = pty.openpty()
                self._master = self._stdin_fd = master
                try:
                    # a session of its own, with the pty as its controlling terminal (job control, SIGHUP)
                    self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
                                                 start_new_session=True, preexec_fn=_controlling_tty, **creds)
                finally:
                    os.close(slave)
                streams = [(1, master, lambda: os.close(master))]
            else:
                self.proc = subprocess.Popen(argv, cwd=cwd, env=env,
                                             stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                             **creds)
                self._stdin_fd = self.proc.stdin.fileno() if self.proc.stdin else None
                out, err = self.proc.stdout, self.proc.stderr
                streams = [(1, out.fileno(), out.close), (2, err.fileno(), err.close)]
        except OSError as exc:
            if self._master is not None:
                os.close(self._master)
            raise StartFailed(f'exec: "{argv[0]}": {exc.strerror}') from None
        self._open = len(streams)
        for channel, fd, closer in streams:
            threading.Thread(target=self._pump, args=(channel, fd, closer), daemon=True, name=f"exec-{channel}").start()

    def _pump(self, channel: int, fd: int, closer) -> None:
        """Forward one stream until it ends; the pump owns (and closes) its descriptor."""
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the pty's last writer is gone
                data = b""
            if not data:
                break
            self._out.put((channel, data))
        if fd == self._master:  # the pty master is also stdin
            self._stdin_fd = None
        try:
            closer()
        except OSError:
            pass
        self._out.put(None)

    def read(self) -> tuple[int, bytes] | None:
        while self._open:
            item = self._out.get()
            if item is not None:
                return item
            self._open -= 1
        return None

    def write(self, data: bytes) -> None:
        if self._stdin_fd is not None:
            try:
                os.write(self._stdin_fd, data)
            except OSError:
                pass

    def close_stdin(self) -> None:
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            self._stdin_fd = None
        elif self._master is not None:
            self.write(b"\x04")  # a pty has no half-close: send the terminal's end-of-file

    def resize(self, width: int, height: int) -> None:
        if self._stdin_fd is not None and self._stdin_fd == self._master:
            try:
                fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
            except OSError:
                pass

    def wait(self) -> int | None:
        code = self.proc.wait()
        return 128 - code if code < 0 else code  # killed by a signal: the shell's 128+N

    def kill(self) -> None:
        """Kill the command's process group; the pumps see the streams end and close them."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass


def _controlling_tty() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
