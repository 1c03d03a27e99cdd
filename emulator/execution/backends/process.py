"""The embedded backend: each instance is a child process running the agent (or the user's custom
server) with the host's python3/node, a working folder of its own and a memory rlimit."""
from __future__ import annotations

import asyncio

import errno
import os
import time
import resource
import shutil
import signal
import subprocess
import threading
from pathlib import Path

from emulator.execution import builtin_modules, debugger
from emulator.execution.instance_user import InstanceUser, InstanceUsers
from emulator.execution.interpreters import Interpreters
from concurrent.futures import ThreadPoolExecutor

from emulator.execution.backends import isolation
from emulator.execution.backends.base import Backend, ExecSession, Started, StartFailed, free_port, tcp_open
from emulator.execution.backends.process_exec import ProcessExec
from emulator.execution.artifacts import link_tree
from emulator.execution.backends.fd_reader import read_fd
from emulator.execution.environment import STANDBY_KINDS, instance_env, standby_env, standby_fits
from emulator.execution.launch import agent_command
from emulator.execution.logs import InstanceLog
from emulator.execution.spec import InstanceSpec

# util-linux's setpriv sets the death signal in the child without a preexec_fn (see _spawn_fast)
SETPRIV = shutil.which("setpriv") or ""

# Python reserves address space beyond what it uses: allow this much on top of memorySize before
# RLIMIT_AS refuses an allocation, plus a thread stack (8 MB) per concurrent request.
ADDRESS_SPACE_HEADROOM_MB = 512
THREAD_STACK_MB = 8
LINE_CHUNK_BYTES = 65536  # output is read in lines of at most this much


class ProcessBackend(Backend):
    name = "process"

    def __init__(self, data_dir: Path, runtimes_dir: Path, interpreters: Interpreters | None = None,
                 instance_network: str = "auto", users: InstanceUsers | None = None):
        self.instances_dir = data_dir / "instances"
        self.users = users or InstanceUsers(None)  # who instances run as (instance_user.py)
        self.runtimes_dir = runtimes_dir
        self.interpreters = interpreters or Interpreters()
        self.instance_network = instance_network  # auto | host (isolation.netns_problem)
        self.owner = isolation.owner_marker(data_dir)  # in every instance's environment
        self.cgroups = isolation.Cgroups(self.owner)
        # PR_SET_PDEATHSIG fires when the *thread* that forked the child ends: fork from threads that
        # live as long as the backend, never from a pool thread that may retire.
        self._spawner = ThreadPoolExecutor(2, thread_name_prefix="spawn")

    def _command(self, spec: InstanceSpec, log: InstanceLog) -> list[str]:
        if spec.builtin_agent:
            found = self.interpreters.resolve(spec)  # StartFailed (412) naming what to install
            if found.notice():  # a nearest version: said in the instance's first invocation log
                log.feed(found.notice())
            return agent_command(spec, found.path, str(self.runtimes_dir))
        code = str(spec.code_dir)
        return [code + arg[len("/code"):] if arg == "/code" or arg.startswith("/code/") else arg
                for arg in spec.command]

    def _env(self, spec: InstanceSpec, instance_id: str, tmp: Path, port: int) -> tuple[dict, str, tuple | None]:
        """The instance's environment; the built-in modules' notice and (host folder, FC's folder)."""
        # MALLOC_ARENA_MAX: glibc would reserve a 64 MB arena per thread, exhausting RLIMIT_AS under load.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp), "TMPDIR": str(tmp),
               "MALLOC_ARENA_MAX": "2",
               **instance_env(spec, instance_id, code_path=str(spec.code_dir), port=port,
                              host="127.0.0.1", opt_path=str(spec.opt_dir) if spec.opt_dir else None),
               isolation.OWNER_ENV: self.owner}  # finds every process of the instance (isolation.py)
        notice, modules = "", None
        if builtin_modules.module_set(spec.runtime):  # FC's built-in modules (oss2, raw-body, ...), after code, layers
            notice, modules = builtin_modules.instance_paths(
                spec, self.interpreters.lookup(spec.runtime).version, env)
        return env, notice, modules

    def _memory_limit(self, spec: InstanceSpec) -> int | None:
        headroom = ADDRESS_SPACE_HEADROOM_MB + THREAD_STACK_MB * spec.concurrency
        return (spec.memory_mb + headroom) * 1024 * 1024 if spec.kind == "python" else None

    def start(self, spec: InstanceSpec, instance_id: str, log: InstanceLog, standby: bool = False) -> Started:
        """Start an instance of `spec`; with `standby`, an agent of its runtime that waits for its function
        (standby.py): only the function-independent part of the environment, no memory limit yet, its own
        folder as working folder; `assign` gives it the rest."""
        if spec.kind == "container":
            raise StartFailed("custom-container functions need the Docker backend (fc-emulator serve --executor docker)")
        workdir = self.instances_dir / instance_id
        tmp = workdir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        if standby:
            (workdir / "standby").touch()  # not counted as a function's instance when swept
        port = free_port()
        # a custom runtime's own server gets a network namespace when it can, so it can listen on caPort
        netns = spec.kind == "custom" and not isolation.netns_problem(self.instance_network)
        env, notice, modules = self._env(spec, instance_id, tmp, spec.ca_port if netns else port)
        cmd = self._command(spec, log)
        debug_port = None
        if spec.debug and not standby:  # a debugger on a 127.0.0.1 port of its own (debugger.py)
            debug_port = free_port()
            tools = debugger.tools_dir(self.instances_dir.parent) if spec.kind == "python" else None
            cmd = debugger.command(spec.kind, cmd, "127.0.0.1", debug_port, str(tools))
        if notice:
            log.feed(notice)
        run_as = self.users.for_paths([cmd[0] if os.path.isabs(cmd[0]) else None, spec.code_dir, spec.opt_dir,
                                       self.runtimes_dir if spec.builtin_agent else None, modules and modules[0]])
        if isinstance(run_as, str):
            raise StartFailed(run_as)
        run_as.own(tmp)
        limit = self._memory_limit(spec)
        cwd = spec.code_dir
        if standby:
            env, limit, cwd = standby_env(env), None, tmp
            if spec.kind == "java":  # a JVM cannot change folders: it starts in the one `assign` fills with the code
                cwd = workdir / "code"
                cwd.mkdir()

        cgroup = self.cgroups.create(instance_id)
        emulator_pid = os.getpid()

        if not netns and SETPRIV:
            proc = self._spawn_fast(spec, cmd, env, run_as, cgroup, limit, cwd)
        else:
            proc = self._spawn(spec, cmd, env, run_as, cgroup, limit, netns, emulator_pid, cwd)
        relay = None
        if netns:
            try:
                relay = isolation.Relay(proc.pid, spec.ca_port, instance_id)
            except OSError as exc:
                self._kill(proc, cgroup, instance_id)
                raise StartFailed(f"the instance's network could not be set up: {exc.strerror or exc}") from None
        (workdir / "pid").write_text(str(proc.pid))  # so a restarted emulator can clean up after a kill -9
        # the instance's output names paths as the instance would see them on FC, never the host's
        shown = [(str(self.runtimes_dir), "/var/fc/runtime"), (str(tmp), "/tmp")]
        if modules:
            shown.append(modules)
        if not standby:
            shown[0:0] = _function_paths(spec)
        if self.loop is not None:  # read on the event loop: no thread wake-up and hand-over per line
            asyncio.run_coroutine_threadsafe(_read_output(proc, log, shown), self.loop)
        else:
            threading.Thread(target=_pump, args=(proc, log, shown), name=f"log-{instance_id}", daemon=True).start()
        extra = {"workdir": workdir, "cgroup": cgroup, "relay": relay, "ca_port": spec.ca_port,
                 "host_network": spec.kind == "custom" and not netns, "checked": 0.0, "shown": shown,
                 "debug_port": debug_port}
        return Started(instance_id, "127.0.0.1", relay.port if relay else port, log, handle=proc, extra=extra)

    def standby_key(self, spec: InstanceSpec) -> tuple | None:
        """What makes standbys of `spec` interchangeable (standby.py): the agent's command line (interpreter,
        and Node's heap size), the user it runs as and the built-in modules; None if none can serve it."""
        if spec.kind not in STANDBY_KINDS or not standby_fits(spec):
            return None
        try:
            found = self.interpreters.resolve(spec)
        except StartFailed:
            return None
        if spec.kind == "java" and int(found.version.split(".")[0] or 0) >= 24:
            return None  # a standby sets its environment with sun.misc.Unsafe, which Java 24+ warns about in the log
        cmd = agent_command(spec, found.path, str(self.runtimes_dir))
        modules = builtin_modules.module_set(spec.runtime) and builtin_modules.instance_paths(
            spec, found.version, {})[1]
        run_as = self.users.for_paths([cmd[0], spec.code_dir, spec.opt_dir, self.runtimes_dir,
                                       modules and modules[0]])
        if isinstance(run_as, str):
            return None
        return (spec.runtime, tuple(cmd), run_as.uid, run_as.gid, modules)

    def assign(self, started: Started, spec: InstanceSpec) -> dict[str, str]:
        """Make a standby `spec`'s instance: its memory limit on the process now; the environment of a fresh
        start, which the caller hands to the agent (POST /assign)."""
        proc: subprocess.Popen = started.handle
        tmp = started.extra["workdir"] / "tmp"
        env = self._env(spec, started.instance_id, tmp, started.port)[0]
        limit = self._memory_limit(spec)
        if limit:
            try:
                resource.prlimit(proc.pid, resource.RLIMIT_AS, (limit, limit))
            except OSError:
                raise StartFailed("the instance exited before it was ready to serve") from None
        started.extra["shown"][0:0] = _function_paths(spec)
        if spec.kind == "java":  # its working folder gets the code as hard links (the agent names the code folder)
            link_tree(spec.code_dir, started.extra["workdir"] / "code")
            started.extra["shown"][0:0] = [(str(started.extra["workdir"] / "code"), "/code")]
        (started.extra["workdir"] / "standby").unlink(missing_ok=True)
        started.extra["env"] = env  # InstanceExec: /proc/<pid>/environ still shows the standby's first one
        return env


    def _spawn(self, spec: InstanceSpec, cmd: list[str], env: dict, run_as: InstanceUser, cgroup: str | None,
               limit: int | None, netns: bool, emulator_pid: int, cwd: Path) -> subprocess.Popen:
        """fork + preexec_fn: what a network namespace needs (unshare in the child)."""
        def limits():
            # root's work first (cgroup, namespace), then any change of user, then the death signal
            if cgroup:
                try:
                    isolation.join_cgroup(cgroup)
                except OSError:
                    pass  # the environment marker still finds the instance's processes
            if netns:
                isolation.enter_new_netns()
            run_as.become()
            if limit:
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            isolation.die_with_parent(emulator_pid)

        try:
            return self._spawner.submit(
                subprocess.Popen, cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=limits).result()
        except (OSError, subprocess.SubprocessError) as exc:
            raise self._start_failed(spec, cmd, cgroup, exc) from None

    def _spawn_fast(self, spec: InstanceSpec, cmd: list[str], env: dict, run_as: InstanceUser, cgroup: str | None,
                    limit: int | None, cwd: Path) -> subprocess.Popen:
        """No preexec_fn, so Python can vfork (forking the emulator costs ~20 ms per start): setpriv
        (util-linux) sets the death signal just before the agent's exec, after any change of user; the
        memory limit and the cgroup follow right after the start, before the agent starts anything."""
        program = cmd[0] if "/" in cmd[0] else shutil.which(cmd[0], path=env.get("PATH")) or cmd[0]
        program = os.path.join(spec.code_dir or "", program)  # a relative path is the code folder's
        if not os.access(program, os.X_OK):  # setpriv would start and fail: say it as a failed start does
            code = errno.EACCES if os.path.exists(program) else errno.ENOENT
            raise self._start_failed(spec, cmd, cgroup, OSError(code, os.strerror(code)))
        try:
            proc = self._spawner.submit(
                subprocess.Popen, [SETPRIV, "--pdeathsig", "KILL"] + cmd, cwd=cwd, env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                **run_as.popen_kwargs()).result()
        except (OSError, subprocess.SubprocessError) as exc:
            raise self._start_failed(spec, cmd, cgroup, exc) from None
        try:
            if limit:
                resource.prlimit(proc.pid, resource.RLIMIT_AS, (limit, limit))
            if cgroup:
                with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                    f.write(str(proc.pid))
        except OSError:
            pass  # it is gone already (the readiness check says why); the environment marker still finds it
        return proc

    def _start_failed(self, spec: InstanceSpec, cmd: list[str], cgroup: str | None, exc: Exception) -> StartFailed:
        if cgroup:
            self.cgroups.kill(cgroup)
        shown = spec.command[0] if spec.command else cmd[0].rsplit("/", 1)[-1]  # as the instance sees it
        return StartFailed(f"the instance could not be started: {shown}: {getattr(exc, 'strerror', None) or exc}")

    def alive(self, started: Started) -> bool:
        return started.handle.poll() is None

    def listening(self, started: Started) -> bool:
        if started.extra.get("relay"):  # the relay always accepts: look inside the namespace instead
            ports = isolation.listening_in(started.handle.pid)
            if started.extra["ca_port"] in ports:
                return True
            if ports and _persists(started):  # would time out after 120 s: say so now
                raise StartFailed(f"the custom runtime listens on port {min(ports)}, not on its caPort "
                                  f"{started.extra['ca_port']} ($FC_CUSTOM_LISTEN_PORT): set caPort to the port "
                                  f"the server listens on, or make it listen on $FC_CUSTOM_LISTEN_PORT")
            return False
        if tcp_open(started.host, started.port):
            return True
        if started.extra.get("host_network"):
            self._check_custom_port(started)
        return False

    def _check_custom_port(self, started: Started) -> None:
        """A custom runtime sharing the host's network that listens elsewhere than $FC_CUSTOM_LISTEN_PORT
        (caPort, typically 9000) would never be reached: say so now rather than after 120 s."""
        proc: subprocess.Popen = started.handle
        exited = proc.poll() is not None
        now = time.monotonic()
        if not exited and now - started.extra["checked"] < 0.25:
            return
        started.extra["checked"] = now
        why = isolation.netns_problem(self.instance_network)
        advice = ("Listen on $FC_CUSTOM_LISTEN_PORT (or $FC_SERVER_PORT), give each instance a network "
                  f"namespace of its own (run the emulator as root, without --instance-network host), or use "
                  f"the Docker backend (--executor docker).")
        if exited:
            started.log.ended.wait(1)
            recent = started.log.recent()
            if "in use" in recent.lower():  # EADDRINUSE: its fixed port is taken on the shared network
                raise StartFailed(f"the custom runtime exited before it was ready to serve: the port it wants is in "
                                  f"use. On the process backend, instances share the host's network here ({why}). "
                                  f"{advice}\nLogs:\n{recent}")
            return
        pids = self.cgroups.pids(started.extra.get("cgroup")) or \
            isolation.marked_pids(self.owner, started.instance_id)
        elsewhere = sorted(isolation.listening_ports(pids) - {started.port})
        if elsewhere and _persists(started):
            raise StartFailed(f"the custom runtime listens on port {elsewhere[0]}, not on $FC_CUSTOM_LISTEN_PORT "
                              f"({started.port}): on the process backend, instances share the host's network here "
                              f"({why}). {advice}")

    def stop(self, started: Started) -> None:
        proc: subprocess.Popen = started.handle
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(2)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self._kill(proc, started.extra.get("cgroup"), started.instance_id)
        if started.extra.get("relay"):
            started.extra["relay"].close()
        shutil.rmtree(started.extra.get("workdir", ""), ignore_errors=True)

    def _kill(self, proc: subprocess.Popen, cgroup: str | None, instance_id: str) -> None:
        """Everything the instance started, also in sessions of their own (setsid, double fork)."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if cgroup:
            self.cgroups.kill(cgroup)
        isolation.kill_marked(self.owner, instance_id)
        proc.wait()

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
            env = started.extra.get("env") or env  # a standby's environ is its first one, not its function's
        except OSError:
            raise StartFailed("the instance is no longer running") from None
        return ProcessExec(argv, cwd, env, tty, stdin, self.users.of_process(pid))

    def cleanup_orphans(self, live: set[str] | None = None) -> int:
        """Instances left by a killed emulator: their processes (all of them: by cgroup and by the
        environment marker) and working folders. Not while another live replica uses this data dir:
        the processes and folders may be its own (a killed one's died with it: PR_SET_PDEATHSIG)."""
        if live and len(live) > 1:
            return 0
        self.cgroups.sweep()
        isolation.kill_marked(self.owner)
        if not self.instances_dir.exists():
            return 0
        count = 0
        for d in self.instances_dir.iterdir():
            _kill_orphan(d)
            count += not (d / "standby").exists()  # standbys had no function yet: not worth a word
            shutil.rmtree(d, ignore_errors=True)
        return count

    def close(self) -> None:
        """After the pools stopped their instances: whatever is still marked as ours (an instance that
        was starting, a straggler) goes too."""
        self.cgroups.sweep()
        isolation.kill_marked(self.owner)
        if self.cgroups.base is not None:
            try:
                self.cgroups.base.rmdir()
            except OSError:
                pass
        self._spawner.shutdown(wait=False)


def _function_paths(spec: InstanceSpec) -> list[tuple[str, str]]:
    """The function's host folders in the instance's output -> where FC has them."""
    return [(str(spec.code_dir), "/code")] + ([(str(spec.opt_dir), "/opt")] if spec.opt_dir else [])


def _persists(started: Started, seconds: float = 0.5) -> bool:
    """A server listening on another port than ours for `seconds` (not on its way to ours too)."""
    since = started.extra.setdefault("elsewhere_since", time.monotonic())
    return time.monotonic() - since >= seconds


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


def _feed(log: InstanceLog, raw: bytes, shown: list[tuple[str, str]]) -> None:
    line = raw.decode("utf-8", "replace")
    for host, inside in shown:
        if host in line:
            line = line.replace(host, inside)
    log.feed(line)


def _pump(proc: subprocess.Popen, log: InstanceLog, shown: list[tuple[str, str]]) -> None:
    for raw in iter(lambda: proc.stdout.readline(LINE_CHUNK_BYTES), b""):  # a 10 MB line arrives in pieces
        _feed(log, raw, shown)
    proc.stdout.close()
    log.close()


class _OutputReader(asyncio.Protocol):
    """An instance's output read on the event loop, in lines of at most LINE_CHUNK_BYTES (as _pump)."""

    def __init__(self, log: InstanceLog, shown: list[tuple[str, str]]):
        self.log, self.shown = log, shown
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        start = 0
        while True:
            end = buf.find(b"\n", start, start + LINE_CHUNK_BYTES)
            if end < 0:
                if len(buf) - start < LINE_CHUNK_BYTES:
                    break
                end = start + LINE_CHUNK_BYTES - 1  # a long line goes on in pieces
            _feed(self.log, buf[start:end + 1], self.shown)
            start = end + 1
        self.buf = buf[start:]

    def connection_lost(self, exc) -> None:
        if self.buf:
            _feed(self.log, self.buf, self.shown)
            self.buf = b""
        self.log.close()


async def _read_output(proc: subprocess.Popen, log: InstanceLog, shown: list[tuple[str, str]]) -> None:
    fd = os.dup(proc.stdout.fileno())  # ours alone (fd_reader.py); Popen's copy is closed here, once
    proc.stdout.close()
    read_fd(asyncio.get_running_loop(), fd, _OutputReader(log, shown))
