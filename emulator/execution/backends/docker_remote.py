"""The Docker backend on an engine that is not on this host (DOCKER_HOST=tcp://..., ssh://...).

Nothing of the emulator's own folders can be bind-mounted there, so the code, the merged layers and the
agents (the runtimes copy, with the compiled Java and .NET agents) travel through the engine's API: each goes
into a named volume once per content (code checksum, layer set, runtimes digest), filled by a helper container
that is created, never started, given the folder with put_archive and removed; instances mount those volumes
read-only at /code, /opt and /var/fc/runtime. Measured against copying into every container before its start
(create -> put_archive -> start): a start takes ~260-300 ms with volumes and ~410-450 ms with the copy, and only
a volume keeps /code read-only for code that runs as root. A function run from a local folder (hot reload)
gets a volume of its own per instance, filled at its start.

Ports are published on the engine's host (127.0.0.1 when DOCKER_HOST names a loopback address, else every
interface), on a port the engine picks, and reached at DOCKER_HOST's host. Readiness is checked through the
published port (the engine's processes are not ours to see), the output is read from the engine's attach
stream over TCP (docker_output), and no standby instances are kept: a standby would need its code uploaded at
assignment, an engine round trip of the order of a fresh start. Containers, fill helpers and volumes carry the
owner label (this host and data dir) and the replica's id; volumes are the replica's own. A replica removes
its own at shutdown, and those of dead replicas (kill -9) at its start or when it sees them die.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import tarfile
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

from docker.errors import APIError, ImageNotFound, NotFound
from docker.types import Mount

from emulator.config import Settings
from emulator.execution.artifacts import Artifacts
from emulator.execution.backends.base import Started, StartFailed
from emulator.execution.backends.docker import LABEL, DockerBackend, _proxy_backend_up
from emulator.execution.spec import InstanceSpec

log = logging.getLogger("fc_emulator.docker")

LOOPBACK = ("localhost", "127.0.0.1", "::1")


def is_remote(setting: str, docker_host: str | None = None) -> bool:
    """--docker-remote on|off|auto; auto: remote unless the engine is reached on a local Unix socket."""
    if setting in ("on", "off"):
        return setting == "on"
    host = os.environ.get("DOCKER_HOST", "") if docker_host is None else docker_host
    return bool(host) and not host.startswith("unix://")


def engine_host(docker_host: str) -> str:
    """The host the engine runs on, where its published ports are reached."""
    return (urlsplit(docker_host).hostname if "://" in docker_host else None) or "127.0.0.1"


class RemoteDockerBackend(DockerBackend):
    name = "docker"
    local = False

    def __init__(self, settings: Settings, artifacts: Artifacts):
        super().__init__(settings, artifacts)
        docker_host = os.environ.get("DOCKER_HOST", "")
        # two emulator hosts may use the same data dir path on one engine: they must not sweep each other's
        self.owner = hashlib.sha256(f"{socket.gethostname()}:{settings.data_dir.resolve()}".encode()).hexdigest()[:16]
        self.engine_host = engine_host(docker_host)
        self.publish_ip = "127.0.0.1" if self.engine_host in LOOPBACK or self.engine_host.startswith("127.") \
            else "0.0.0.0"
        if self.network:
            log.warning("--docker-network is ignored with a remote Docker engine: instances publish their ports")
            self.network = ""
        self.output_pipes = False  # a named pipe on this host means nothing to another host's containers
        self._filled: set[str] = set()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        log.info("remote Docker engine %s: code, layers and agents go into volumes; ports on %s of %s",
                 docker_host or "(default)", self.publish_ip, self.engine_host)

    def _inspect_self(self) -> None:
        """Our own container (compose) is on another engine, if any: nothing to learn from this one."""

    def _check_image(self, image: str, runtime: str) -> None:
        if image in self._images_seen:
            return
        try:
            self.client.images.get(image)
        except ImageNotFound:
            raise StartFailed(f"the Docker image '{image}' is not present on the remote Docker engine. Load it "
                              f"there with `docker save {image} | DOCKER_HOST=<engine> docker load`, or map "
                              f"another image with --runtime-images {runtime or 'RUNTIME'}=IMAGE") from None
        self._images_seen.add(image)

    # ---- what an instance mounts: named volumes, filled once

    def _container_args(self, spec: InstanceSpec, instance_id: str, standby: bool = False,
                        pipe: bool = False) -> dict:
        args = super()._container_args(spec, instance_id, standby, pipe)
        args.pop("volumes", None)
        if spec.kind != "container":
            args["mounts"] = self._volume_mounts(spec, instance_id, args["image"])
        args["ports"] = {f"{args['_port']}/tcp": (self.publish_ip, None)}  # the engine picks a free port
        return args

    def _volume_mounts(self, spec: InstanceSpec, instance_id: str, image: str) -> list[Mount]:
        runtimes = self.artifacts.runtimes_dir
        code_key = f"i-{instance_id}" if spec.local_code else spec.code_checksum  # a local folder changes
        wanted = [("/var/fc/runtime", f"rt-{runtimes.name}", runtimes),
                  ("/code", f"code-{_digest(code_key)}", spec.code_dir)]
        if spec.opt_dir:
            wanted.append(("/opt", f"opt-{spec.opt_dir.name}", spec.opt_dir))
        mounts = []
        for target, key, folder in wanted:
            name = self._volume_name(key)
            self._fill(name, folder, image)
            mounts.append(Mount(target, name, type="volume", read_only=True, no_copy=True))
        return mounts

    def _volume_name(self, key: str) -> str:
        """A replica's own: replicas of one data dir never share (nor remove) each other's volumes."""
        return f"fc-{(self.replica or self.owner)[:16]}-{key}"

    def _fill(self, name: str, folder: Path, image: str) -> None:
        """Create volume `name` holding `folder`, once (concurrent starts wait for the first)."""
        with self._locks_lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            if name in self._filled:
                return
            labels = {LABEL: "1", f"{LABEL}.owner": self.owner, f"{LABEL}.replica": self.replica}
            helper = None
            try:
                self.client.volumes.create(name, labels=labels)
                # not an instance's labels: the sweep of instances must not count a helper
                helper = self.client.containers.create(
                    image, ["true"], labels={f"{LABEL}.fill": self.owner, f"{LABEL}.replica": self.replica},
                    mounts=[Mount("/v", name, type="volume")])
                with tempfile.TemporaryFile() as tar:
                    with tarfile.open(fileobj=tar, mode="w") as tf:
                        tf.add(folder, arcname=".")  # links stay links, modes and owners as they are
                    tar.seek(0)
                    helper.put_archive("/v", tar)
            except (APIError, OSError) as exc:
                self._remove_volume(name)
                raise StartFailed(f"the instance's files could not be copied to the Docker engine: "
                                  f"{getattr(exc, 'explanation', None) or exc}") from None
            finally:
                if helper is not None:
                    try:
                        helper.remove(force=True)
                    except (NotFound, APIError):
                        pass
            self._filled.add(name)

    def _remove_volume(self, name: str) -> None:
        self._filled.discard(name)
        try:
            self.client.volumes.get(name).remove(force=True)
        except (NotFound, APIError):
            pass

    # ---- reaching the instance

    def start(self, spec: InstanceSpec, instance_id: str, log_, standby: bool = False) -> Started:
        try:
            return super().start(spec, instance_id, log_, standby)
        except StartFailed as exc:  # the engine's pick raced another engine on the same host: pick again
            if "already in use" not in str(exc) and "already allocated" not in str(exc):
                raise
        return super().start(spec, instance_id, log_, standby)

    def _address(self, container, port: int, args: dict) -> tuple[str, int]:
        container.reload()
        bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(f"{port}/tcp") or []
        if not bindings:  # it exited at once: the readiness check reports that, with its output
            return self.engine_host, 0
        return self.engine_host, int(bindings[0]["HostPort"])

    def listening(self, started: Started) -> bool:
        return _proxy_backend_up(started.host, started.port)

    def standby_key(self, spec: InstanceSpec) -> tuple | None:
        return None

    def max_memory_mb(self, started: Started) -> float | None:
        return None  # the engine's cgroups are not on this host; the agents report their own peak

    # ---- clean-up

    def stop(self, started: Started) -> None:
        super().stop(started)
        local_code = self._volume_name(f"code-{_digest('i-' + started.instance_id)}")
        if local_code in self._filled:
            self._remove_volume(local_code)

    def cleanup_orphans(self, live: set[str] | None = None) -> int:
        removed = super().cleanup_orphans(live)
        self._remove_volumes(lambda replica: replica not in (live or set()))  # live replicas keep theirs
        return removed

    def remove_replica(self, replica_id: str) -> int:
        removed = super().remove_replica(replica_id)
        self._remove_volumes(lambda replica: replica == replica_id)
        return removed

    def close(self) -> None:
        """This replica's containers, then its volumes (a volume in use cannot be removed)."""
        mine = (self.replica, "")
        self._remove_containers([c for c in self._ours() if c.labels.get(f"{LABEL}.replica", "") in mine])
        self._remove_volumes(lambda replica: replica in mine)
        super().close()

    def _remove_volumes(self, which) -> None:
        """Our volumes whose replica label satisfies `which` (fill helpers first: they hold them)."""
        for c in self.client.containers.list(all=True, filters={"label": f"{LABEL}.fill={self.owner}"}):
            if which(c.labels.get(f"{LABEL}.replica", "")):
                try:
                    c.remove(force=True)
                except (NotFound, APIError):
                    pass
        for volume in self.client.volumes.list(filters={"label": f"{LABEL}.owner={self.owner}"}):
            if which((volume.attrs.get("Labels") or {}).get(f"{LABEL}.replica", "")):
                self._remove_volume(volume.name)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]
