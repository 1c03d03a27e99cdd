"""The Java agent's classes: runtimes/java/src compiled once per source hash with the host's `javac
--release 8` (so they run on Java 8 and newer) into $XDG_CACHE_HOME/fc-emulator/java-agent/<hash>/,
then copied beside the other agents (artifacts.py), which both backends mount at /var/fc/runtime."""
from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import zipfile
from pathlib import Path

from emulator.execution import caches
from emulator.store.folders import build_once

log = logging.getLogger("fc_emulator")

CLASSES = "java/classes"  # under the runtimes dir: the agent's class path
MAIN = "aliyun.serverless.runtime.Agent"
_COMPILE_TIMEOUT_S = 300
# The servlet API of HttpRequestHandler (runtimes.md §12.5): Debian's libservlet-api-java (4.0.1, a superset
# of the 3.1 API fc-java-core depends on). Its classes are unpacked beside the agent's, so both
# backends find them on the agent's class path; without it the agent is built without HTTP-trigger support.
SERVLET_JARS = ("/usr/share/java/servlet-api.jar", "/usr/share/java/javax.servlet-api.jar",
                "/usr/share/java/servlet-api-3.1.jar")


def _sources(src_root: Path) -> list[Path]:
    return sorted((src_root / "java" / "src").rglob("*.java"))


def servlet_jar() -> Path | None:
    return next((Path(p) for p in SERVLET_JARS if Path(p).is_file()), None)


def _needs_servlet(p: Path) -> bool:
    text = p.read_bytes()
    return b"import javax.servlet" in text or b"import com.aliyun.fc.runtime.HttpRequestHandler" in text


def _cache_root() -> Path:
    return caches.cache_dir("java-agent")


def compiled(src_root: Path) -> Path | None:
    """The compiled classes for the current sources, built now if needed; None without a usable javac
    (the server log says what to install; java instances then fail to start with a 412)."""
    files = _sources(src_root)
    if not files:
        return None
    servlet = servlet_jar()
    if servlet is None:
        files = [p for p in files if not _needs_servlet(p)]
    digest = hashlib.sha256()
    st = servlet.stat() if servlet else None
    digest.update(f"servlet API {servlet}:{st.st_size}:{st.st_mtime_ns}".encode() if st else b"no servlet API")
    for p in files:
        digest.update(str(p.relative_to(src_root)).encode())
        digest.update(p.read_bytes())
    target = _cache_root() / digest.hexdigest()[:16]
    if target.exists():
        return target
    javac = shutil.which("javac")
    if servlet is None:
        log.warning("HTTP triggers of java8/java11 functions need the servlet API on this host to build the "
                    "Java agent with HttpRequestHandler (e.g. apt-get install libservlet-api-java)")
    if not javac:
        log.warning("the java8/java11 runtimes need a JDK on this host to build their agent once "
                    "(javac not found: e.g. apt-get install openjdk-17-jdk-headless)")
        return None

    def build(tmp: Path) -> None:
        cp = ["-cp", str(servlet)] if servlet else []
        argv = [javac, "--release", "8", "-nowarn", "-encoding", "UTF-8", *cp, "-d", str(tmp), *map(str, files)]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=_COMPILE_TIMEOUT_S,
                             stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            raise RuntimeError(f"javac failed on the Java agent: {out.stderr.strip()[-2000:]}")
        if servlet:
            with zipfile.ZipFile(servlet) as z:
                z.extractall(tmp, [n for n in z.namelist() if n.startswith("javax/")])
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
