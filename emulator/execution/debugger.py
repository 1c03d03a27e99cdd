"""Debugging (issue 14): instances of chosen functions start with a debugger listening on a port published on
127.0.0.1: debugpy for Python (from PyPI, copied beside the agents and put on the instance's path by a small
launcher), the inspector for Node.js (`--inspect`), JDWP for Java (`-agentlib:jdwp`).

Which functions: `--debug all|SERVICE/FUNCTION|FUNCTION` (repeatable; FUNCTION alone names an FC 3.0 function,
or an FC 2.0 one in any service) or `EMULATOR_DEBUG=true` among the function's environment variables.
The port is said in the server log when the instance starts and in ListInstances (`debugPort`).
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from emulator.execution import catalog
from emulator.execution.backends.base import StartFailed
from emulator.model.names import is_fc3_service
from emulator.store.folders import build_once

ENV_FLAG = "EMULATOR_DEBUG"  # FC reserves FC_* names for itself
CONTAINER_PORTS = {catalog.PYTHON: 5678, catalog.NODEJS: 9229, catalog.JAVA: 5005}  # the usual ones, in Docker
TOOLS_IN_CONTAINER = "/var/fc/debug"
DEBUGGERS = {catalog.PYTHON: "debugpy", catalog.NODEJS: "Node.js inspector", catalog.JAVA: "JDWP"}

# Python 2.7 to 3.12 syntax: runs the agent as `python agent.py` would, after starting debugpy when it can
LAUNCHER = '''"""fc-emulator: start debugpy, then the agent (python launch.py HOST:PORT AGENT [ARGS])."""
import os
import runpy
import sys

here = os.path.dirname(os.path.abspath(__file__))
host, _, port = sys.argv[1].rpartition(":")
agent = sys.argv[2]
sys.path.insert(0, here)
try:
    import debugpy
    debugpy.listen((host, int(port)))
except Exception as exc:  # debugpy needs Python 3.8+: the function runs, without a debugger
    sys.stderr.write("fc-emulator: debugpy could not start on this Python (%s): %s\\n" % (sys.version.split()[0], exc))
finally:
    sys.path.remove(here)
sys.argv = [agent] + sys.argv[3:]
sys.path[0] = os.path.dirname(agent)
runpy.run_path(agent, run_name="__main__")
'''


def wanted(targets: tuple[str, ...], service: str, function: str, env: dict) -> bool:
    if str(env.get(ENV_FLAG, "")).lower() in ("1", "true", "yes"):
        return True
    for target in targets:
        if target == "all" or target == f"{service}/{function}":
            return True
        if "/" not in target and target == function:
            return True
    return False


def supported(kind: str, runtime: str) -> bool:
    return kind in CONTAINER_PORTS and runtime != "nodejs4.4"  # Node 4 has no --inspect (6.3+)


def tools_dir(data_dir: Path) -> Path:
    """debugpy and the launcher, under the data dir (Docker mounts it at /var/fc/debug)."""
    try:
        import debugpy
    except ImportError:
        raise StartFailed("--debug needs debugpy beside fc-emulator for Python functions: pip install debugpy") from None
    src = Path(debugpy.__file__).resolve().parent
    digest = hashlib.sha256(f"{debugpy.__version__}\n{LAUNCHER}".encode()).hexdigest()[:16]

    def build(tmp: Path) -> None:
        shutil.copytree(src, tmp / "debugpy", ignore=shutil.ignore_patterns("__pycache__"))
        (tmp / "launch.py").write_text(LAUNCHER)
        for root, dirs, files in os.walk(tmp):  # instances may run as another user
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)
            for name in files:
                os.chmod(os.path.join(root, name), 0o644)
        tmp.chmod(0o755)
    return build_once(data_dir / "debug" / digest, build)


def command(kind: str, argv: list[str], host: str, port: int, tools: str) -> list[str]:
    """The agent's command line with the debugger listening on host:port."""
    if kind == catalog.PYTHON:  # [python, -W, ignore, agent.py] -> [python, -W, ignore, launch.py, addr, agent.py]
        return argv[:-1] + [f"{tools}/launch.py", f"{host}:{port}", argv[-1]]
    if kind == catalog.NODEJS:
        return [argv[0], f"--inspect={host}:{port}"] + argv[1:]
    if kind == catalog.JAVA:
        return [argv[0], f"-agentlib:jdwp=transport=dt_socket,server=y,suspend=n,address={host}:{port}"] + argv[1:]
    return argv


def shown_name(service: str, function: str) -> str:
    return function if is_fc3_service(service) else f"{service}/{function}"
