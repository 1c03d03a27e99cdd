"""The Java agent's classes: runtimes/java/src compiled once per source hash with the host's `javac
--release 8` (so they run on Java 8 and newer) into $XDG_CACHE_HOME/fc-emulator/java-agent/<hash>/,
then copied beside the other agents (artifacts.py), which both backends mount at /var/fc/runtime."""
from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from pathlib import Path

from emulator.execution import caches
from emulator.store.folders import build_once

log = logging.getLogger("fc_emulator")

CLASSES = "java/classes"  # under the runtimes dir: the agent's class path
MAIN = "aliyun.serverless.runtime.Agent"
_COMPILE_TIMEOUT_S = 300


def _sources(src_root: Path) -> list[Path]:
    return sorted((src_root / "java" / "src").rglob("*.java"))


def _cache_root() -> Path:
    return caches.cache_dir("java-agent")


def compiled(src_root: Path) -> Path | None:
    """The compiled classes for the current sources, built now if needed; None without a usable javac
    (the server log says what to install; java instances then fail to start with a 412)."""
    files = _sources(src_root)
    if not files:
        return None
    digest = hashlib.sha256()
    for p in files:
        digest.update(str(p.relative_to(src_root)).encode())
        digest.update(p.read_bytes())
    target = _cache_root() / digest.hexdigest()[:16]
    if target.exists():
        return target
    javac = shutil.which("javac")
    if not javac:
        log.warning("the java8/java11 runtimes need a JDK on this host to build their agent once "
                    "(javac not found: e.g. apt-get install openjdk-17-jdk-headless)")
        return None

    def build(tmp: Path) -> None:
        argv = [javac, "--release", "8", "-nowarn", "-encoding", "UTF-8", "-d", str(tmp), *map(str, files)]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=_COMPILE_TIMEOUT_S,
                             stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            raise RuntimeError(f"javac failed on the Java agent: {out.stderr.strip()[-2000:]}")
        tmp.chmod(0o755)
    try:
        return build_once(target, build)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        log.warning("the Java agent could not be built: %s", exc)
        return None


def install(src_root: Path, runtimes_copy: Path) -> None:
    """Copy the compiled agent into a runtimes copy being built (runtimes_copy/java/classes)."""
    classes = compiled(src_root)
    if classes is not None:
        shutil.copytree(classes, runtimes_copy / CLASSES)


def available(src_root: Path) -> bool:
    """Part of the runtimes copy's identity: a copy made without javac is rebuilt once javac appears."""
    return compiled(src_root) is not None


def heap_flags(memory_mb: int) -> list[str]:
    """-Xmx/-Xms at 90 % / 30 % of memorySize, fc-docker's integer arithmetic (runtimes.md §12.1)."""
    return [f"-Xmx{memory_mb // 10 * 9}m", f"-Xms{memory_mb // 10 * 3}m"]
