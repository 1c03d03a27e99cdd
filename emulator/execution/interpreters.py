"""The process backend's interpreters: which host binary runs each runtime's agent.

Per runtime, in this order (README "Process backend: interpreters"):
  1. the one configured for it (`--interpreter RUNTIME=PATH`, FC_EMULATOR_INTERPRETERS);
  2. the exact version: Python `pythonX.Y` on PATH, then pyenv's versions/X.Y.*/bin/pythonX.Y;
     Node.js the cached official binary of the major (toolchains.py), then `node` on PATH of that major;
  3. the nearest version of the same language (Python: same major; Python 2 code never runs on 3),
     said once in each instance's log;
  4. none: the instance does not start (412 FunctionNotStarted naming what to install).
go1 runs its runtime-API bridge on the emulator's own Python.

Every binary is run once to learn its version (and, for pyenv shims, the real executable behind it);
exact finds are kept for the server's lifetime, the rest are looked up again at each instance start
(cheaply: probes are cached) so an interpreter installed meanwhile is used without a restart.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from emulator.execution import catalog
from emulator.execution.backends.base import StartFailed
from emulator.execution.spec import InstanceSpec

log = logging.getLogger("fc_emulator")

EXACT, NEAREST, MISSING = "exact", "nearest", "missing"
JAVA = "java"  # the probe kind for Java (Python: False, Node.js: True)
PHP = "php"  # the probe kind for PHP
DOTNET = "dotnet"  # the probe kind for .NET (`dotnet --list-runtimes`)
_HOSTED = (catalog.PYTHON, catalog.NODEJS, catalog.GO1, catalog.JAVA, catalog.PHP, catalog.DOTNET)
SETTING = "--interpreter RUNTIME=PATH (FC_EMULATOR_INTERPRETERS)"
_PROBE_TIMEOUT_S = 20
_PY_PROBE = "import sys; sys.stdout.write('%d.%d.%d ' % tuple(sys.version_info[:3]) + (sys.executable or ''))"
_NODE_PROBE = "process.stdout.write(process.versions.node + ' ' + process.execPath)"
_PY_NAME = re.compile(r"^python(\d)\.(\d+)$")
_PYENV_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


@dataclass(frozen=True)
class Interpreter:
    """What the process backend runs `runtime`'s agent with."""
    runtime: str
    wanted: str  # the language version FC runs: "2.7", "3.6", "14" (Node major); "" for go1
    status: str  # exact | nearest | missing
    path: str = ""  # the binary (the real one behind a pyenv shim)
    version: str = ""  # what it reports: "3.9.18", "20.11.1"
    source: str = ""  # configured | PATH | pyenv | toolchains | emulator

    @property
    def language(self) -> str:
        fam = catalog.family(self.runtime)
        return ("Node.js" if fam == catalog.NODEJS else "Java" if fam == catalog.JAVA
                else "PHP" if fam == catalog.PHP else ".NET Core" if fam == catalog.DOTNET else "Python")

    def notice(self) -> str:
        """The line a nearest interpreter puts in the function's log (not one the user configured)."""
        if self.status != NEAREST or self.source == "configured" or self.language == ".NET Core":
            return ""  # (the .NET agent says itself which runtime it runs on)
        if self.language == "PHP":
            return (f"fc-emulator: {self.runtime} runs on PHP {self.version} here "
                    f"(no PHP {self.wanted} found; --interpreter {self.runtime}=PATH sets one)")
        if self.language == "Java":
            return (f"fc-emulator: {self.runtime} runs on Java {self.version} here "
                    f"(no Java {self.wanted} found; --interpreter {self.runtime}=PATH sets one)")
        if self.language == "Node.js":
            hint = f"`fc-emulator interpreters fetch {self.runtime}` or --interpreter {self.runtime}=PATH sets one"
            return (f"fc-emulator: {self.runtime} runs on Node.js {self.version} here "
                    f"(no Node.js {self.wanted} found; {hint})")
        return (f"fc-emulator: {self.runtime} runs on Python {self.version} here "
                f"(no python{self.wanted} found; --interpreter {self.runtime}=PATH sets one)")

    def missing_message(self) -> str:
        """Why the instance can't start: what to install, and the setting. No host path."""
        rt, want = self.runtime, self.wanted
        if self.source == "configured":
            return (f"the interpreter configured for the runtime '{rt}' (--interpreter {rt}=PATH, "
                    f"FC_EMULATOR_INTERPRETERS) cannot be run on this host: point it at a {self.language} {want} "
                    f"binary (the server log names the path tried)")
        if self.language == ".NET Core":
            return (f"the runtime '{rt}' needs .NET Core {want}, and the process backend found no .NET Core 3.1 or "
                    f"later on this host: run `fc-emulator interpreters fetch {rt}` (the .NET Core 3.1 runtime, from "
                    f"PyPI's dotnetcore2 wheel), put a `dotnet` with Microsoft.NETCore.App 3.1 on PATH, or set one "
                    f"with --interpreter {rt}=PATH (FC_EMULATOR_INTERPRETERS)")
        if self.language == "PHP":
            return (f"the runtime '{rt}' needs PHP {want}, and the process backend found no `php` (7 or later) on "
                    f"this host: install PHP's command-line interpreter (e.g. `apt-get install php-cli`) so that `php` "
                    f"is on PATH, or set one with --interpreter {rt}=PATH (FC_EMULATOR_INTERPRETERS)")
        if self.language == "Java":
            return (f"the runtime '{rt}' needs Java {want}, and the process backend found no `java` on this host: "
                    f"install a JRE (e.g. openjdk-{want if want != '8' else '11'}-jre-headless) so that `java` is on "
                    f"PATH, or set one with --interpreter {rt}=PATH (FC_EMULATOR_INTERPRETERS)")
        if self.language == "Node.js":
            return (f"the runtime '{rt}' needs Node.js {want}, and the process backend found no Node.js on this "
                    f"host: run `fc-emulator interpreters fetch {rt}` (the official binary, from the npm registry), "
                    f"put `node` {want} on PATH, or set one with --interpreter {rt}=PATH (FC_EMULATOR_INTERPRETERS)")
        why = " (Python 3 cannot run Python 2 code)" if want.startswith("2") else ""
        return (f"the runtime '{rt}' needs Python {want}, and the process backend found no python{want} on this "
                f"host{why}: install Python {want} (e.g. `pyenv install {want}`, or your system's python{want} "
                f"package) so that python{want} is on PATH or under $(pyenv root)/versions, or set one with "
                f"--interpreter {rt}=PATH (FC_EMULATOR_INTERPRETERS)")


def hosted_runtimes() -> list[str]:
    """Runtimes whose agent the process backend runs on a host interpreter."""
    return [name for name, rt in catalog.RUNTIMES.items() if rt.family in _HOSTED]


def check_config(configured: dict[str, str]) -> dict[str, str]:
    """--interpreter settings: only runtimes that run on a host interpreter (a typo is an error)."""
    hosted = hosted_runtimes()
    for runtime in configured:
        if runtime not in hosted:
            raise ValueError(f"--interpreter {runtime}=...: not a runtime with a host interpreter "
                             f"(one of: {', '.join(hosted)})")
    return dict(configured)


class Interpreters:
    def __init__(self, configured: dict[str, str] | None = None):
        self.configured = check_config(configured or {})
        self._lock = threading.Lock()
        self._probes: dict[tuple, tuple[str, str] | None] = {}  # (path, mtime, size) -> (version, real path)
        self._exact: dict[str, Interpreter] = {}
        self._warned: set[tuple[str, str]] = set()

    # ---- the backend's entry point

    def resolve(self, spec: InstanceSpec) -> Interpreter:
        """The interpreter for `spec`'s agent; StartFailed (412) naming what to install when there is none."""
        if spec.kind not in _HOSTED:
            raise StartFailed(f"the process backend cannot run the runtime '{spec.runtime}'")
        found = self.lookup(spec.runtime)
        if found.status == MISSING:
            raise StartFailed(found.missing_message())
        return found

    def lookup(self, runtime: str) -> Interpreter:
        with self._lock:
            cached = self._exact.get(runtime)
            if cached is not None:
                return cached
            found = self._lookup(runtime)
            if found.status == EXACT:
                self._exact[runtime] = found
            return found

    def _lookup(self, runtime: str) -> Interpreter:
        rt = catalog.get(runtime)
        node = rt.family == catalog.NODEJS or (JAVA if rt.family == catalog.JAVA else PHP if rt.family == catalog.PHP
                                               else DOTNET if rt.family == catalog.DOTNET else False)
        wanted = rt.version if rt.family != catalog.GO1 else ""  # go1: any Python 3 runs its bridge
        if runtime in self.configured:
            return self._configured(runtime, wanted, self.configured[runtime], node)
        if rt.family == catalog.GO1:
            v = sys.version_info
            return Interpreter(runtime, "", EXACT, sys.executable, f"{v[0]}.{v[1]}.{v[2]}", "emulator")
        if node == PHP:  # `php7.2` on PATH, else `php` of PHP 7 or later (a nearest one is said in the log)
            for name in (f"php{wanted}", "php"):
                on_path = shutil.which(name)
                found = on_path and self._accept(runtime, wanted, on_path, "PATH", node=PHP, exact_only=False)
                if found and int(found.version.split(".")[0]) >= 7:
                    return found
            return Interpreter(runtime, wanted, MISSING)
        if node == DOTNET:  # the cached .NET Core 3.1 (toolchains.py), else `dotnet` on PATH with 3.1 or later
            for path, source in ((_toolchain_dotnet(), "toolchains"), (shutil.which("dotnet"), "PATH")):
                found = path and self._accept(runtime, wanted, str(path), source, node=DOTNET, exact_only=False)
                if found:
                    return found
            return Interpreter(runtime, wanted, MISSING)
        if node == JAVA:  # `java` on PATH, whatever its major (a nearest one is said in the log)
            on_path = shutil.which("java")
            found = on_path and self._accept(runtime, wanted, on_path, "PATH", node=JAVA, exact_only=False)
            return found or Interpreter(runtime, wanted, MISSING)
        return self._node(runtime, wanted) if node else self._python(runtime, wanted)

    def _configured(self, runtime: str, wanted: str, setting: str, node: bool) -> Interpreter:
        path = setting if "/" in setting else (shutil.which(setting) or setting)
        probed = self._probe(path, node)
        if probed is None:
            if (runtime, setting) not in self._warned:  # the server log names the path; the 412 does not
                self._warned.add((runtime, setting))
                log.warning("--interpreter %s=%s: cannot be run", runtime, setting)
            return Interpreter(runtime, wanted, MISSING, source="configured")
        version, real = probed
        status = EXACT if _same(version, wanted) else NEAREST
        # the user chose it: used whatever its version, without a log line (the real binary behind a shim,
        # which would not find its version in the instance's environment)
        return Interpreter(runtime, wanted, status, real or path, version, "configured")

    # ---- Python

    def _python(self, runtime: str, wanted: str) -> Interpreter:
        name = f"python{wanted}"
        on_path = shutil.which(name)
        if on_path:  # a pyenv shim is on PATH even when its version isn't selected: it must really run
            found = self._accept(runtime, wanted, on_path, "PATH", node=False, exact_only=True)
            if found:
                return found
        for binary in _pyenv_binaries(wanted):
            found = self._accept(runtime, wanted, str(binary), "pyenv", node=False, exact_only=True)
            if found:
                return found
        if wanted.startswith("2"):  # Python 3 cannot run Python 2 code: no nearest
            return Interpreter(runtime, wanted, MISSING)
        return self._nearest(runtime, wanted, _python_candidates(wanted), node=False)

    # ---- Node.js

    def _node(self, runtime: str, wanted: str) -> Interpreter:
        cached = _toolchain_node(int(wanted))
        if cached:
            found = self._accept(runtime, wanted, str(cached), "toolchains", node=True, exact_only=True)
            if found:
                return found
        on_path = shutil.which("node")
        if on_path:
            found = self._accept(runtime, wanted, on_path, "PATH", node=True, exact_only=True)
            if found:
                return found
        candidates = [(on_path, "PATH", None)] if on_path else []
        for major in _node_majors():
            binary = _toolchain_node(major) if major != int(wanted) else None
            if binary:
                candidates.append((str(binary), "toolchains", f"{major}"))
        return self._nearest(runtime, wanted, candidates, node=True)

    # ---- shared

    def _accept(self, runtime, wanted, path, source, node, exact_only) -> Interpreter | None:
        probed = self._probe(path, node)
        if probed is None:
            return None
        version, real = probed
        if exact_only and not _same(version, wanted):
            return None
        return Interpreter(runtime, wanted, EXACT if _same(version, wanted) else NEAREST, real or path, version, source)

    def _nearest(self, runtime: str, wanted: str, candidates: list[tuple[str, str, str | None]],
                 node: bool) -> Interpreter:
        """The same major's closest version (a tie goes to the newer one). Candidates carry the version
        their name claims; those without one are probed to rank them."""
        ranked = []
        for path, source, claimed in candidates:
            if claimed is None:
                probed = self._probe(path, node)
                if probed is None:
                    continue
                claimed = probed[0]
            if _distance(claimed, wanted) is not None:
                ranked.append((_distance(claimed, wanted), path, source))
        for _, path, source in sorted(ranked, key=lambda r: r[0]):  # stable: PATH, pyenv, then the emulator's
            found = self._accept(runtime, wanted, path, source, node, exact_only=False)
            if found and _distance(found.version, wanted) is not None:
                return found
        return Interpreter(runtime, wanted, MISSING)

    def _probe(self, path: str, node: bool) -> tuple[str, str] | None:
        """(version, real executable) that `path` reports when run, or None; once per file."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (path, st.st_mtime_ns, st.st_size)
        if key not in self._probes:
            self._probes[key] = _run_probe(path, node)
        return self._probes[key]


def _run_probe(path: str, node) -> tuple[str, str] | None:
    if node == JAVA:
        return _run_java_probe(path)
    if node == DOTNET:
        return _run_dotnet_probe(path)
    if node == PHP:  # PHP_BINARY: the real executable behind /usr/bin/php's alternatives link
        argv = [path, "-n", "-r", "echo PHP_VERSION, ' ', PHP_BINARY;"]
    else:
        argv = [path, "-e", _NODE_PROBE] if node else [path, "-c", _PY_PROBE]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S,
                             stdin=subprocess.DEVNULL, cwd="/")
    except (OSError, subprocess.SubprocessError):
        return None
    version, _, real = out.stdout.strip().partition(" ")
    if out.returncode != 0 or not re.match(r"^\d+\.\d+\.\d+", version):
        return None
    return version, real.strip()


def _run_java_probe(path: str) -> tuple[str, str] | None:
    """`java -version`'s `version "17.0.15"` / `"1.8.0_292"` as 17.0.15 / 8.0.292."""
    try:
        out = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S,
                             stdin=subprocess.DEVNULL, cwd="/")
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(?:1\.)?(\d+)(?:\.(\d+))?(?:\.(\d+))?', out.stderr + out.stdout)
    if out.returncode != 0 or not m:
        return None
    return f"{m[1]}.{m[2] or 0}.{m[3] or 0}", os.path.realpath(path)


def _run_dotnet_probe(path: str) -> tuple[str, str] | None:
    """The oldest Microsoft.NETCore.App >= 3.1 that `dotnet --list-runtimes` names (the agent's floor)."""
    try:
        out = subprocess.run([path, "--list-runtimes"], capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S,
                             stdin=subprocess.DEVNULL, cwd="/", env={**os.environ, "DOTNET_CLI_TELEMETRY_OPTOUT": "1"})
    except (OSError, subprocess.SubprocessError):
        return None
    found = sorted((int(m[1]), int(m[2]), int(m[3])) for m in
                   re.finditer(r"^Microsoft\.NETCore\.App (\d+)\.(\d+)\.(\d+)", out.stdout, re.M))
    usable = [v for v in found if v >= (3, 1, 0)]
    if out.returncode != 0 or not usable:
        return None
    return ".".join(map(str, usable[0])), os.path.realpath(path)


def _toolchain_dotnet() -> Path | None:
    try:
        from emulator.execution import toolchains
    except ImportError:
        return None
    return toolchains.dotnet_binary(fetch=False, echo=None)


def _same(version: str, wanted: str) -> bool:
    """Does `version` (3.9.18, 20.11.1) give what FC runs (3.9, 20; "" = any)?"""
    return not wanted or version == wanted or version.startswith(wanted + ".")


def _distance(version: str, wanted: str) -> tuple[int, int] | None:
    """Rank of `version` as a stand-in for `wanted`: Python needs the same major (then the closest
    minor), Node.js any major (the closest); ties go to the newer. None = unusable."""
    have = [int(p) for p in re.findall(r"\d+", version)[:2]]
    want = [int(p) for p in wanted.split(".")]
    if len(want) == 1:  # Node.js major
        return (abs(have[0] - want[0]), -have[0])
    if have[0] != want[0] or len(have) < 2:
        return None
    return (abs(have[1] - want[1]), -have[1])


def pyenv_roots() -> list[Path]:
    """$PYENV_ROOT, the root of the `pyenv` on PATH, ~/.pyenv (what `pyenv root` would say)."""
    roots = []
    if os.environ.get("PYENV_ROOT"):
        roots.append(Path(os.environ["PYENV_ROOT"]))
    else:
        exe = shutil.which("pyenv")
        if exe:
            roots.append(Path(os.path.realpath(exe)).parent.parent)  # <root>/bin/pyenv or <root>/libexec/pyenv
        roots.append(Path.home() / ".pyenv")
    out = []
    for root in roots:
        if root not in out and (root / "versions").is_dir():
            out.append(root)
    return out


def _pyenv_versions() -> list[tuple[tuple[int, int, int], Path]]:
    found = []
    for root in pyenv_roots():
        try:
            entries = list((root / "versions").iterdir())
        except OSError:
            continue
        for d in entries:
            m = _PYENV_VERSION.match(d.name)
            if m:
                found.append(((int(m[1]), int(m[2]), int(m[3])), d))
    return sorted(found, reverse=True)  # newest patch first


def _pyenv_binaries(wanted: str) -> list[Path]:
    return [d / "bin" / f"python{wanted}" for v, d in _pyenv_versions() if f"{v[0]}.{v[1]}" == wanted
            and (d / "bin" / f"python{wanted}").is_file()]


def _python_candidates(wanted: str) -> list[tuple[str, str, str | None]]:
    """Other Pythons of the same major: pythonX.Y on PATH, pyenv's versions, python3, the emulator's own."""
    major = wanted.split(".")[0]
    out: list[tuple[str, str, str | None]] = []
    for d in os.environ.get("PATH", "").split(os.pathsep):
        try:
            names = os.listdir(d or ".")
        except OSError:
            continue
        for name in names:
            m = _PY_NAME.match(name)
            if m and m[1] == major:
                out.append((os.path.join(d, name), "PATH", f"{m[1]}.{m[2]}"))
    for v, d in _pyenv_versions():
        binary = d / "bin" / f"python{v[0]}.{v[1]}"
        if str(v[0]) == major and binary.is_file():
            out.append((str(binary), "pyenv", f"{v[0]}.{v[1]}.{v[2]}"))
    generic = shutil.which(f"python{major}")
    if generic:
        out.append((generic, "PATH", None))
    if major == "3":
        v = sys.version_info
        out.append((sys.executable, "emulator", f"{v[0]}.{v[1]}.{v[2]}"))
    return out


def _toolchain_node(major: int) -> Path | None:
    """The cached official Node.js binary (toolchains.py), when that module and binary are there."""
    try:
        from emulator.execution import toolchains
    except ImportError:
        return None
    return toolchains.node_binary(major, fetch=False, echo=None)


def _node_majors() -> list[int]:
    return sorted({int(rt.version) for rt in catalog.RUNTIMES.values() if rt.family == catalog.NODEJS})


_default: Interpreters | None = None


def resolve(spec: InstanceSpec) -> str:
    """The binary for `spec` with no --interpreter settings (the process backend uses its own Interpreters)."""
    global _default
    if _default is None:
        _default = Interpreters()
    return _default.resolve(spec).path
