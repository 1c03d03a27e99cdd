"""The embedded backend: each instance is a child process running the agent (or the user's custom
server) with the host's python3/node, a working folder of its own and a memory rlimit."""
from __future__ import annotations

import fcntl
import os
import pty
import queue
import resource
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

from emulator.execution import builtin_modules
from emulator.execution.instance_user import InstanceUser, InstanceUsers
from emulator.execution.interpreters import Interpreters
from emulator.execution.backends.base import Backend, ExecSession, Started, StartFailed, free_port, tcp_open
from emulator.execution.environment import instance_env
from emulator.execution.launch import agent_command
from emulator.execution.logs import InstanceLog
from emulator.execution.spec import InstanceSpec

# Python reserves address space beyond what it uses: allow this much on top of memorySize before
# RLIMIT_AS refuses an allocation, plus a thread stack (8 MB) per concurrent request.
ADDRESS_SPACE_HEADROOM_MB = 512
THREAD_STACK_MB = 8


class ProcessBackend(Backend):
    name = "process"

    def __init__(self, data_dir: Path, runtimes_dir: Path, interpreters: Interpreters | None = None,
                 users: InstanceUsers | None = None):
        self.instances_dir = data_dir / "instances"
        self.users = users or InstanceUsers(None)  # who instances run as (instance_user.py)
        self.runtimes_dir = runtimes_dir
        self.interpreters = interpreters or Interpreters()

    def _command(self, spec: InstanceSpec, log: InstanceLog) -> list[str]:
        if spec.builtin_agent:
            found = self.interpreters.resolve(spec)  # StartFailed (412) naming what to install
            if found.notice():  # a nearest version: said in the instance's first invocation log
                log.feed(found.notice())
            return agent_command(spec, found.path, str(self.runtimes_dir))
        code = str(spec.code_dir)
        return [code + arg[len("/code"):] if arg == "/code" or arg.startswith("/code/") else arg
                for arg in spec.command]

    def start(self, spec: InstanceSpec, instance_id: str, log: InstanceLog) -> Started:
        if spec.kind == "container":
            raise StartFailed("custom-container functions need the Docker backend (fc-emulator serve --executor docker)")
        workdir = self.instances_dir / instance_id
        tmp = workdir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        port = free_port()
        # MALLOC_ARENA_MAX: glibc would reserve a 64 MB arena per thread, exhausting RLIMIT_AS under load.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp), "TMPDIR": str(tmp),
               "MALLOC_ARENA_MAX": "2",
               **instance_env(spec, instance_id, code_path=str(spec.code_dir), port=port, host="127.0.0.1",
                              opt_path=str(spec.opt_dir) if spec.opt_dir else None)}
        cmd = self._command(spec, log)
        modules = None
        if builtin_modules.module_set(spec.runtime):  # FC's built-in modules (oss2, raw-body, ...), after code, layers
            notice, modules = builtin_modules.instance_paths(
                spec, self.interpreters.lookup(spec.runtime).version, env)
            if notice:
                log.feed(notice)
        run_as = self.users.for_paths([cmd[0] if os.path.isabs(cmd[0]) else None, spec.code_dir, spec.opt_dir,
                                       self.runtimes_dir if spec.builtin_agent else None, modules and modules[0]])
        if isinstance(run_as, str):
            raise StartFailed(run_as)
        run_as.own(tmp)
        headroom = ADDRESS_SPACE_HEADROOM_MB + THREAD_STACK_MB * spec.concurrency
        limit = (spec.memory_mb + headroom) * 1024 * 1024 if spec.kind == "python" else None

        def limits():
            run_as.become()
            if limit:
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        try:
            proc = subprocess.Popen(cmd, cwd=spec.code_dir, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=limits)
        except OSError as exc:
            shown = spec.command[0] if spec.command else cmd[0].rsplit("/", 1)[-1]  # as the instance sees it
            raise StartFailed(f"the instance could not be started: {shown}: {exc.strerror}") from None
        (workdir / "pid").write_text(str(proc.pid))  # so a restarted emulator can clean up after a kill -9
        # the instance's output names paths as the instance would see them on FC, never the host's
        shown = [(str(spec.code_dir), "/code"), (str(self.runtimes_dir), "/var/fc/runtime"), (str(tmp), "/tmp")]
        if spec.opt_dir:
            shown.append((str(spec.opt_dir), "/opt"))
        if modules:
            shown.append(modules)
        threading.Thread(target=_pump, args=(proc, log, shown), name=f"log-{instance_id}", daemon=True).start()
        return Started(instance_id, "127.0.0.1", port, log, handle=proc, extra={"workdir": workdir})

    def alive(self, started: Started) -> bool:
        return started.handle.poll() is None

    def listening(self, started: Started) -> bool:
        return tcp_open(started.host, started.port)

    def stop(self, started: Started) -> None:
        proc: subprocess.Popen = started.handle
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(2)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        shutil.rmtree(started.extra.get("workdir", ""), ignore_errors=True)

    def max_memory_mb(self, started: Started) -> float | None:
        try:
            for line in Path(f"/proc/{started.handle.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except (OSError, ValueError):
            pass
        return None

    def exec_start(self, started: Started, argv: list[str], tty: bool, stdin: bool) -> ExecSession:
        """A child process with the instance's own working folder and environment, read from /proc."""
        pid = started.handle.pid
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            raw = Path(f"/proc/{pid}/environ").read_bytes()
            env = dict(item.split("=", 1) for item in raw.decode("utf-8", "replace").split("\0") if "=" in item)
        except OSError:
            raise StartFailed("the instance is no longer running") from None
        return ProcessExec(argv, cwd, env, tty, stdin, self.users.of_process(pid))

    def cleanup_orphans(self) -> int:
        """Instances left by a killed emulator: their processes and working folders."""
        if not self.instances_dir.exists():
            return 0
        count = 0
        for d in self.instances_dir.iterdir():
            _kill_orphan(d)
            shutil.rmtree(d, ignore_errors=True)
            count += 1
        return count


def _kill_orphan(workdir: Path) -> None:
    try:
        pid = int((workdir / "pid").read_text())
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except (OSError, ValueError):
        return
    if f"FC_INSTANCE_ID={workdir.name}".encode() in environ.split(b"\0"):  # still ours, not a reused pid
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _pump(proc: subprocess.Popen, log: InstanceLog, shown: list[tuple[str, str]]) -> None:
    for raw in iter(proc.stdout.readline, b""):
        line = raw.decode("utf-8", "replace")
        for host, inside in shown:
            if host in line:
                line = line.replace(host, inside)
        log.feed(line)
    proc.stdout.close()
    log.close()


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
