"""`--executor auto|docker|process`: auto picks Docker when an engine can be reached."""
from __future__ import annotations

import logging

from emulator.config import Settings
from emulator.execution.artifacts import Artifacts
from emulator.execution.backends.base import Backend
from emulator.execution.backends.process import ProcessBackend
from emulator.execution.instance_user import InstanceUsers
from emulator.execution.interpreters import Interpreters

log = logging.getLogger("fc_emulator")


def make_backend(settings: Settings, artifacts: Artifacts) -> Backend:
    if settings.executor in ("auto", "docker"):
        from emulator.execution.backends.docker import DockerBackend, DockerUnavailable
        from emulator.execution.backends.docker_remote import RemoteDockerBackend, is_remote
        try:
            backend = (RemoteDockerBackend if is_remote(settings.docker_remote) else DockerBackend)(settings, artifacts)
            log.info("executor: docker (chosen by --executor %s)", settings.executor)
            return backend
        except DockerUnavailable as exc:
            if settings.executor == "docker":
                raise SystemExit(f"--executor docker: no Docker engine can be reached ({exc})") from None
            log.info("executor: process (no Docker engine reachable: %s)", exc)
    else:
        log.info("executor: process (chosen by --executor process)")
    try:
        users = InstanceUsers(settings.instance_user)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    return ProcessBackend(settings.data_dir, artifacts.runtimes_dir, Interpreters(settings.interpreters),
                          instance_network=settings.instance_network, users=users)
