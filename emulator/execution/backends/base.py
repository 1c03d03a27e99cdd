"""The Backend interface."""
from __future__ import annotations

import asyncio

import socket
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from emulator import errors
from emulator.execution.logs import InstanceLog
from emulator.execution.spec import InstanceSpec


@dataclass
class Started:
    """A started instance server: where to reach it, and how to stop it."""
    instance_id: str
    host: str
    port: int
    log: InstanceLog
    handle: object = None  # the backend's own (Popen, Container)
    extra: dict = field(default_factory=dict)


class StartFailed(Exception):
    """The instance could not be started; the message is shown to the caller."""


class ExecSession(ABC):
    """A command running inside an instance (InstanceExec, fc-api.md §2.12). Blocking calls:
    the exec bridge runs them on threads of its own."""

    @abstractmethod
    def read(self) -> tuple[int, bytes] | None:
        """The next output chunk as (1 stdout | 2 stderr, bytes); None once the output has ended."""

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Feed the command's stdin."""

    @abstractmethod
    def close_stdin(self) -> None:
        ...

    @abstractmethod
    def resize(self, width: int, height: int) -> None:
        """The terminal's size (tty sessions; ignored otherwise)."""

    @abstractmethod
    def wait(self) -> int | None:
        """The exit status once the command has ended (None if unknown)."""

    @abstractmethod
    def kill(self) -> None:
        """End the command and release its streams."""


class Backend(ABC):
    name: str = "?"
    # the server's event loop, once it runs (Pools.start): a backend may read instance output on it
    loop: "asyncio.AbstractEventLoop | None" = None

    @abstractmethod
    def start(self, spec: InstanceSpec, instance_id: str, log: InstanceLog, standby: bool = False) -> Started:
        """Start the server (blocking: called from a worker thread); `standby`: one that waits for its
        function (only backends whose `standby_key` is not None are asked)."""

    def standby_key(self, spec: InstanceSpec) -> tuple | None:
        """What makes standby instances for `spec` interchangeable (standby.py); None: always a fresh start."""
        return None

    def assign(self, started: Started, spec: InstanceSpec) -> dict[str, str]:
        """Give a standby `spec`'s code, layers and limits (blocking); the environment the agent is to take."""
        raise NotImplementedError

    @abstractmethod
    def alive(self, started: Started) -> bool:
        ...

    @abstractmethod
    def listening(self, started: Started) -> bool:
        """Is the server accepting connections on its port yet (runtimes.md §2.1: a TCP check)?"""

    @abstractmethod
    def stop(self, started: Started) -> None:
        """Stop and remove the instance (blocking)."""

    def max_memory_mb(self, started: Started) -> float | None:
        return None

    def run_to_exit(self, spec: InstanceSpec, instance_id: str, event: bytes, log: InstanceLog,
                    timeout: float) -> int:
        """custom-container with webServerMode false: one container run per event; its exit code."""
        raise errors.invalid_argument("custom-container functions need the Docker backend "
                                      "(fc-emulator serve --executor docker)")

    def exec_start(self, started: Started, argv: list[str], tty: bool, stdin: bool) -> ExecSession:
        """Run `argv` inside the instance, with its working folder and environment (InstanceExec)."""
        raise errors.invalid_argument(f"the {self.name} backend cannot run commands in an instance")

    def cleanup_orphans(self, live: set[str] | None = None) -> int:
        """Remove instances a killed emulator left; `live`: the ids of the live replicas on this data dir,
        whose instances stay (emulator/replica.py). Returns how many were removed."""
        return 0

    def remove_replica(self, replica_id: str) -> int:
        """Remove the instances of a dead replica of the same database (a shared engine)."""
        return 0

    def close(self) -> None:
        pass


def tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
