"""What an instance of one function version needs to start: built from the stored function."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from emulator.execution import catalog

LOCAL_CODE_PREFIX = "local:"  # codeChecksum of a function whose code is a local folder (store/code.py)


@dataclass(frozen=True)
class InstanceSpec:
    account: str
    region: str
    service: str
    function: str
    qualifier: str  # what the caller named
    version_id: str  # LATEST or a version id
    runtime: str
    handler: str
    initializer: str
    timeout: int
    initialization_timeout: int
    memory_mb: int
    concurrency: int
    ca_port: int
    code_checksum: str
    revision: str  # changes whenever code or configuration change: instances of an old one retire
    env: dict[str, str] = field(default_factory=dict)
    code_dir: Path | None = None
    opt_dir: Path | None = None
    command: tuple[str, ...] = ()  # custom runtimes: the server's command line (paths under /code)
    container: dict | None = None  # custom-container: customContainerConfig
    log_project: str = ""
    log_store: str = ""
    debug: bool = False  # start with a debugger listening (debugger.py)

    @property
    def kind(self) -> str:
        """The runtime's family (catalog): python | nodejs | go1 | java | php | dotnet (our agents),
        custom (the user's server) | container (a custom container)."""
        return catalog.family(self.runtime)

    @property
    def local_code(self) -> bool:
        """The code is a local folder run as it is (hot reload, store/code.py), not an unpacked zip."""
        return self.code_checksum.startswith(LOCAL_CODE_PREFIX)

    @property
    def builtin_agent(self) -> bool:
        """Served by one of our agents, which take HTTP-trigger calls as x-fc-http-params (runtimes.md §3.2)."""
        return self.kind in catalog.BUILTIN_AGENTS

    @property
    def web_server_mode(self) -> bool:
        return self.container is None or self.container.get("webServerMode", True) is not False

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The pool this instance belongs to: one per function version."""
        return (self.account, self.service, self.function, self.version_id)


def start_command(function: dict) -> tuple[str, ...]:
    """The custom runtime's server command (runtimes.md §2.1)."""
    cfg = function.get("customRuntimeConfig") or {}
    command = list(cfg.get("command") or []) + list(cfg.get("args") or [])
    return tuple(command) or ("/code/bootstrap",)


def container_command(cfg: dict) -> tuple[list[str] | None, list[str] | None]:
    """customContainerConfig command/args are JSON arrays in strings (fc-api.md §2.3)."""
    def parse(value):
        return json.loads(value) if value else None
    return parse(cfg.get("command")), parse(cfg.get("args"))
