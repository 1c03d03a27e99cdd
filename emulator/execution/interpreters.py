"""The process backend's interpreters: which host binary runs each runtime's agent."""
from __future__ import annotations

import shutil
import sys

from emulator.execution import catalog
from emulator.execution.backends.base import StartFailed
from emulator.execution.spec import InstanceSpec


def resolve(spec: InstanceSpec) -> str:
    """The host interpreter for `spec`'s agent, or StartFailed naming what to install."""
    kind = spec.kind
    if kind in (catalog.PYTHON, catalog.GO1):
        return sys.executable
    if kind == catalog.NODEJS:
        node = shutil.which("node")
        if not node:
            raise StartFailed("the process backend needs `node` on PATH to run Node.js functions")
        return node
    raise StartFailed(f"the process backend cannot run the runtime '{spec.runtime}'")
