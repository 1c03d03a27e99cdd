"""The Docker backend: one container per instance, through the docker SDK.

Code is bind-mounted read-only at /code, the agents at /var/fc/runtime, merged layers at /opt, and
/tmp is a tmpfs. Memory is limited to memorySize. Ports are published on 127.0.0.1 only; when the
emulator itself runs in a container (docker compose), instances are its siblings: paths are
translated to the host's and instances are reached over the emulator's own Docker network.
"""
from __future__ import annotations

import asyncio

import hashlib
import logging
import shutil
import socket
import threading
from pathlib import Path

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from emulator.config import Settings
from emulator.execution import catalog, debugger
from emulator.execution.artifacts import Artifacts, link_tree
from emulator.execution.backends import docker_output
from emulator.execution.backends.base import Backend, ExecSession, Started, StartFailed, free_port, tcp_open
from emulator.execution.backends.docker_exec import DockerExec
from emulator.execution.environment import (STANDBY_FLAG, STANDBY_KINDS, instance_env, standby_env,
                                             standby_fits)
from emulator.execution.logs import InstanceLog
from emulator.execution.launch import agent_command
from emulator.execution.spec import InstanceSpec, container_command

log = logging.getLogger("fc_emulator.docker")

AGENT_PORT = 9000
LABEL = "fc-emulator"
TMP_SIZE = "512m"  # FC's default disk (runtimes.md §1)
OUTPUT_IN_CONTAINER = "/var/fc/output"  # a built-in agent's stdout and stderr: the named pipe we read


class DockerUnavailable(Exception):
    pass


def build_hint(image: str, runtime: str = "") -> str:
    what = runtime or "RUNTIME"
    return (f"the Docker image '{image}' is not present. Build it with `fc-emulator images build {what}` "
            f"(offline: `fc-emulator images build --offline {what}`), or map another image "
            f"with --runtime-images {what}=IMAGE")


class DockerBackend(Backend):
    name = "docker"
    local = True  # the engine runs on this host (its processes and cgroups are ours to see)

    def __init__(self, settings: Settings, artifacts: Artifacts):
        try:
            self.client = docker.from_env(timeout=120, max_pool_size=32)  # instances start in parallel
            self.client.ping()
        except DockerException as exc:
            raise DockerUnavailable(str(exc)) from None
        self.settings = settings
        self.artifacts = artifacts
        self.owner = hashlib.sha256(str(settings.data_dir.resolve()).encode()).hexdigest()[:16]
        self.replica = ""  # this replica's id (emulator/replica.py), on every container
        self._mounts: list[tuple[str, str]] = []  # (path in this container, path on the host)
        self.network = settings.docker_network
        self._inspect_self()
        self._images_seen: set[str] = set()
        self.standby_dir = settings.data_dir / "standby"  # each standby's /code (and /opt) until assigned
        # Built-in agents write their output into a named pipe the emulator reads (docker_output.OutputPipe)
        # rather than through the engine: that hop cost the engine and its shim ~0.1 ms of CPU per call.
        self.output_pipes = True
        self.pipes_dir = settings.data_dir / "pipes"

    def _inspect_self(self) -> None:
        """When we run in a container, learn our mounts and network (docker compose)."""
        if not Path("/.dockerenv").exists():
            return
        try:
            me = self.client.containers.get(socket.gethostname())
        except (NotFound, APIError):
            return
        for m in me.attrs.get("Mounts", []):
            self._mounts.append((m["Destination"].rstrip("/"), m["Source"].rstrip("/")))
        self._mounts.sort(key=lambda m: len(m[0]), reverse=True)
        if not self.network:
            networks = list(me.attrs.get("NetworkSettings", {}).get("Networks", {}))
            self.network = next((n for n in networks if n not in ("bridge", "host", "none")), networks[0] if networks else "")
        log.info("running in container %s: host mounts %s, network %r", me.short_id, self._mounts, self.network)

    def host_path(self, path: Path) -> str:
        p = str(path.resolve())
        for inside, host in self._mounts:
            if p == inside or p.startswith(inside + "/"):
                return host + p[len(inside):]
        return p

    def image_for(self, spec: InstanceSpec) -> str:
        if spec.kind == "container":
            return spec.container.get("image", "")
        return (self.settings.runtime_images.get(spec.runtime) or self.settings.runtime_image
                or catalog.get(spec.runtime).image)

    def _check_image(self, image: str, runtime: str) -> None:
        if image in self._images_seen:
            return
        try:
            self.client.images.get(image)
        except ImageNotFound:
            raise StartFailed(build_hint(image, runtime)) from None
        self._images_seen.add(image)

    def _labels(self, instance_id: str, spec: InstanceSpec) -> dict[str, str]:
        return {LABEL: "1", f"{LABEL}.owner": self.owner, f"{LABEL}.replica": self.replica,
                f"{LABEL}.instance": instance_id,
                f"{LABEL}.function": f"{spec.service}/{spec.function}", f"{LABEL}.version": spec.version_id}

    def _container_args(self, spec: InstanceSpec, instance_id: str, standby: bool = False,
                        pipe: bool = False) -> dict:
        port = spec.ca_port if spec.kind in ("custom", "container") else AGENT_PORT
        mem = f"{spec.memory_mb}m"
        volumes = {}
        debug_port = None
        code_dir, opt_dir = spec.code_dir, spec.opt_dir
        if standby:  # empty folders that receive the function's code and layers at assignment (artifacts.link_tree)
            code_dir = self.standby_dir / instance_id / "code"
            opt_dir = opt_dir and self.standby_dir / instance_id / "opt"
            for d in filter(None, (code_dir, opt_dir)):
                d.mkdir(parents=True)
        if spec.kind != "container":
            volumes[self.host_path(code_dir)] = {"bind": "/code", "mode": "ro"}
            volumes[self.host_path(self.artifacts.runtimes_dir)] = {"bind": "/var/fc/runtime", "mode": "ro"}
            if opt_dir:
                volumes[self.host_path(opt_dir)] = {"bind": "/opt", "mode": "ro"}
        env = instance_env(spec, instance_id, code_path="/code", port=port, opt_path="/opt" if spec.opt_dir else None)
        labels = self._labels(instance_id, spec)
        if standby:
            env = standby_env(env)
            labels.update({f"{LABEL}.function": "", f"{LABEL}.version": "", f"{LABEL}.standby": "1"})
        args = dict(
            image=self.image_for(spec), name=f"fc-{instance_id}", detach=True, labels=labels,
            environment=env,
            volumes=volumes, tmpfs={"/tmp": f"rw,size={TMP_SIZE},mode=1777"}, mem_limit=mem, memswap_limit=mem,
            stdin_open=False, tty=False)
        if spec.builtin_agent:
            # stderr joins stdout in the container: Docker keeps two streams and delivers them out of order, so
            # a function's stderr line could land after its End marker, outside its invocation's log
            argv = agent_command(spec, catalog.get(spec.runtime).interpreter, "/var/fc/runtime")
            if spec.debug and not standby:  # a debugger in the container, published on 127.0.0.1 (debugger.py)
                debug_port = debugger.CONTAINER_PORTS[spec.kind]
                argv = debugger.command(spec.kind, argv, "0.0.0.0", debug_port, debugger.TOOLS_IN_CONTAINER)
                if spec.kind == "python":
                    volumes[self.host_path(debugger.tools_dir(self.settings.data_dir))] = {
                        "bind": debugger.TOOLS_IN_CONTAINER, "mode": "ro"}
            redirect = f">{OUTPUT_IN_CONTAINER} 2>&1" if pipe else "2>&1"
            args.update(command=["/bin/sh", "-c", f'exec "$@" {redirect}', "sh", *argv], working_dir="/code")
        elif spec.kind == "custom":
            args.update(command=list(spec.command), working_dir="/code")
        else:
            command, cmd_args = container_command(spec.container)
            if command:
                args.update(entrypoint=command, command=cmd_args or [])
            elif cmd_args:
                args.update(command=cmd_args)
        if self.network:
            args["network"] = self.network
        else:
            args["ports"] = {f"{port}/tcp": ("127.0.0.1", free_port())}
            if debug_port:
                args["ports"][f"{debug_port}/tcp"] = ("127.0.0.1", free_port())
        return args | {"_port": port, "_debug": debug_port and args.get("ports", {}).get(f"{debug_port}/tcp",
                                                                                          (None, None))[1]}

    def start(self, spec: InstanceSpec, instance_id: str, log_: InstanceLog, standby: bool = False) -> Started:
        """Start an instance of `spec`; with `standby`, a container of its runtime that waits for its function
        (standby.py): same image, command, mounts and limits, empty /code (and /opt), only the
        function-independent part of the environment; `assign` gives it the rest."""
        self._check_image(self.image_for(spec), spec.runtime)
        pipe = None
        if self.output_pipes and spec.builtin_agent and self.loop is not None:
            pipe = docker_output.OutputPipe(self.pipes_dir / instance_id)
        args = self._container_args(spec, instance_id, standby, pipe=pipe is not None)
        port = args.pop("_port")
        debug_port = args.pop("_debug")
        if pipe is not None:
            args["volumes"][self.host_path(pipe.path)] = {"bind": OUTPUT_IN_CONTAINER, "mode": "rw"}
        try:
            container = self.client.containers.run(**args)
        except (ImageNotFound, APIError) as exc:
            if pipe is not None:
                pipe.close()
            if isinstance(exc, ImageNotFound):
                raise StartFailed(build_hint(args["image"], spec.runtime)) from None
            self._remove(args["name"])  # created but not started (e.g. the command can't be executed)
            shutil.rmtree(self.standby_dir / instance_id, ignore_errors=True)
            raise StartFailed(f"the instance container could not be started: {exc.explanation or exc}") from None
        address = docker_output.engine_address()
        if pipe is not None:
            asyncio.run_coroutine_threadsafe(pipe.read(log_), self.loop)
        elif self.loop is not None and address:  # read on the event loop: no thread hand-over per line
            asyncio.run_coroutine_threadsafe(docker_output.read_output(address, container.id, log_), self.loop)
        else:
            threading.Thread(target=docker_output.pump, args=(container, log_), name=f"log-{instance_id}",
                             daemon=True).start()
        host, host_port = self._address(container, port, args)
        return Started(instance_id, host, host_port, log_, handle=container,
                       extra={"port": port, "memory_mb": spec.memory_mb, "debug_port": debug_port, "pipe": pipe})

    def _address(self, container, port: int, args: dict) -> tuple[str, int]:
        """Where the emulator reaches the instance's port."""
        if self.network:
            return container.name, port
        return "127.0.0.1", args["ports"][f"{port}/tcp"][1]

    def standby_key(self, spec: InstanceSpec) -> tuple | None:
        """What makes standby containers of `spec` interchangeable (standby.py): image, command (Node's heap
        size is in it) and whether /opt is mounted; None if none can serve it. The memory limit is set at
        assignment."""
        if spec.kind not in STANDBY_KINDS or not standby_fits(spec):
            return None
        argv = agent_command(spec, catalog.get(spec.runtime).interpreter, "/var/fc/runtime")
        # .NET sizes its GC heap from the container's memory limit when it starts: a standby of the same limit
        memory = spec.memory_mb if spec.kind == catalog.DOTNET else None
        return (spec.runtime, self.image_for(spec), tuple(argv), spec.opt_dir is not None, memory)

    def assign(self, started: Started, spec: InstanceSpec) -> dict[str, str]:
        """Make a standby `spec`'s instance: its code (and layers) under the mounted folders, its memory limit
        (`docker update`); returns the environment of a fresh start, which the caller hands to the agent."""
        folder = self.standby_dir / started.instance_id
        link_tree(spec.code_dir, folder / "code")
        if spec.opt_dir:
            link_tree(spec.opt_dir, folder / "opt")
        if started.extra["memory_mb"] != spec.memory_mb:
            mem = f"{spec.memory_mb}m"
            try:
                started.handle.update(mem_limit=mem, memswap_limit=mem)
            except APIError as exc:
                raise StartFailed(f"the instance's memory limit could not be set: {exc.explanation or exc}") from None
            started.extra["memory_mb"] = spec.memory_mb
        env = instance_env(spec, started.instance_id, code_path="/code", port=started.extra["port"],
                           opt_path="/opt" if spec.opt_dir else None)
        started.extra["env"] = env  # InstanceExec: the container's own environment is the standby's first one
        return env

    def _remove(self, name: str) -> None:
        try:
            self.client.containers.get(name).remove(force=True)
        except (NotFound, APIError):
            pass

    def alive(self, started: Started) -> bool:
        try:
            started.handle.reload()
        except NotFound:
            return False
        return started.handle.status in ("created", "running")

    def listening(self, started: Started) -> bool:
        if self.network:
            return tcp_open(started.host, started.port)
        # Through a published port, docker-proxy accepts connections before the server listens, so look
        # at the container's own sockets (its network namespace, seen through its init process).
        pid = started.extra.get("pid")
        if not pid:
            started.handle.reload()
            if started.handle.status in ("exited", "dead"):  # docker-proxy may still accept for a moment
                return False
            pid = started.extra["pid"] = started.handle.attrs.get("State", {}).get("Pid") or 0
        state = _listening_in_netns(pid, started.extra["port"]) if pid else None
        if state is not None:
            started.extra["netns_seen"] = True
            return state
        if started.extra.get("netns_seen"):  # its sockets were visible and its process is gone: it exited (a
            return False  # loaded docker-proxy still accepting for a dead container must not count as ready)
        return _proxy_backend_up(started.host, started.port)

    def stop(self, started: Started) -> None:
        try:
            started.handle.remove(force=True)
        except NotFound:
            pass
        except APIError as exc:
            log.warning("could not remove container %s: %s", started.handle.name, exc)
        shutil.rmtree(self.standby_dir / started.instance_id, ignore_errors=True)
        if started.extra.get("pipe") is not None:
            started.extra["pipe"].close()

    def max_memory_mb(self, started: Started) -> float | None:
        cid = started.handle.id
        for path in (f"/sys/fs/cgroup/memory/docker/{cid}/memory.max_usage_in_bytes",
                     f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.peak"):
            try:
                return int(Path(path).read_text()) / (1024 * 1024)
            except (OSError, ValueError):
                continue
        return None

    def run_to_exit(self, spec: InstanceSpec, instance_id: str, event: bytes, log_: InstanceLog,
                    timeout: float) -> int:
        """webServerMode false: the container gets the event in FC_CUSTOM_CONTAINER_EVENT and must exit 0."""
        args = self._container_args(spec, instance_id)
        args.pop("_port")
        args.pop("_debug", None)  # a run to exit serves no debugger session
        args.pop("ports", None)
        args["environment"]["FC_CUSTOM_CONTAINER_EVENT"] = event.decode("utf-8", "replace")
        self._check_image(args["image"], spec.runtime)
        try:
            container = self.client.containers.run(**args)
        except APIError as exc:
            self._remove(args["name"])
            raise StartFailed(f"the container could not be started: {exc.explanation or exc}") from None
        try:
            result = container.wait(timeout=timeout)
            return int(result.get("StatusCode", 1))
        finally:
            # The output is read once the run is over: attaching to a container that has already
            # exited can hang, and the event's log would be lost.
            try:
                for line in container.logs(stdout=True, stderr=True).decode("utf-8", "replace").splitlines():
                    log_.feed(line)
            except (NotFound, APIError):
                pass
            log_.close()
            try:
                container.remove(force=True)
            except (NotFound, APIError):
                pass

    def exec_start(self, started: Started, argv: list[str], tty: bool, stdin: bool) -> ExecSession:
        """`docker exec`: the container's own working folder and environment."""
        env = started.extra.get("env")
        if env is not None:  # a standby's container still has the variable that made it wait for its function
            argv = ["env", "-u", STANDBY_FLAG, "--", *argv]
        return DockerExec(self.client.api, started.handle.id, argv, tty, stdin, env, local=self.local)

    def _ours(self):
        return self.client.containers.list(all=True, filters={"label": f"{LABEL}.owner={self.owner}"})

    def cleanup_orphans(self, live: set[str] | None = None) -> int:
        """Containers left by this data dir's earlier emulators; those of live replicas stay (emulator/replica.py)."""
        live = live or set()
        leftovers = [c for c in self._ours() if c.labels.get(f"{LABEL}.replica", "") not in live]
        self._remove_containers(leftovers)
        if len(live) <= 1:
            shutil.rmtree(self.standby_dir, ignore_errors=True)
            shutil.rmtree(self.pipes_dir, ignore_errors=True)
        return len(leftovers)

    def remove_replica(self, replica_id: str) -> int:
        """A dead replica's containers (the engine is shared): its id is unique, so any owner."""
        found = self.client.containers.list(all=True, filters={"label": f"{LABEL}.replica={replica_id}"})
        self._remove_containers(found)
        return len(found)

    def _remove_containers(self, containers) -> None:
        for c in containers:
            try:
                c.remove(force=True)
            except (NotFound, APIError):
                pass
            if c.labels.get(f"{LABEL}.owner") == self.owner:  # a standby's folder (none for others)
                shutil.rmtree(self.standby_dir / c.labels.get(f"{LABEL}.instance", "-"), ignore_errors=True)

    def close(self) -> None:
        mine = (self.replica, "")
        self._remove_containers([c for c in self._ours() if c.labels.get(f"{LABEL}.replica", "") in mine])
        self.client.close()


def _listening_in_netns(pid: int, port: int) -> bool | None:
    """Is something listening on `port` in the network namespace of `pid`? None if we can't see it."""
    found_table = False
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        found_table = True
        for line in lines:
            parts = line.split()
            if len(parts) > 3 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False if found_table else None


def _proxy_backend_up(host: str, port: int) -> bool:
    """docker-proxy closes an accepted connection at once when the container's port is closed."""
    try:
        with socket.create_connection((host, port), timeout=0.2) as s:
            s.settimeout(0.05)
            try:
                return s.recv(1) != b""
            except socket.timeout:
                return True
    except OSError:
        return False

