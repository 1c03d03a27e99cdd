"""The .NET agent's assemblies: runtimes/dotnet/src compiled once per source hash with Debian's `mcs`
(mono-mcs) against the .NET Core 3.1 runtime's own assemblies (the toolchains cache, from PyPI's
dotnetcore2 wheel) into $XDG_CACHE_HOME/fc-emulator/dotnet-agent/<hash>/, then copied beside the other
agents (artifacts.py) as dotnet/bin, which both backends mount at /var/fc/runtime.

bin/Aliyun.Serverless.CA.dll is the host (`dotnet` runs it); bin/lib holds what the function's load context
may take when the function ships no copy of its own (runtimes.md §14.7): Aliyun.Serverless.Core (FC's
interfaces), Microsoft.Extensions.Logging.Abstractions 2.1.1.0 (the members function code binds to, under
Microsoft's public key), Newtonsoft.Json (Debian's libnewtonsoft-json5.0-cil) with the
System.Security.Permissions stand-in it needs on .NET Core, and the agent itself (Aliyun.Serverless.Runtime).
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
from pathlib import Path

from emulator.execution import caches, toolchains
from emulator.store.folders import build_once

log = logging.getLogger("fc_emulator")

BIN = "dotnet/bin"  # under the runtimes dir
LAUNCHER = "dotnet/agent.sh"  # sets FC's library path and ICU, then runs bin/Aliyun.Serverless.CA.dll
JSON_NET = ("/usr/lib/cli/Newtonsoft.Json-5.0/Newtonsoft.Json.dll",)  # Debian: libnewtonsoft-json5.0-cil
_COMPILE_TIMEOUT_S = 300
# Microsoft's ASP.NET Core public key (token adb9793829ddae60): Logging.Abstractions carries it, so code
# compiled against ours or the real package names the same identity. Delay-signed: .NET Core checks no signature.
ASPNETCORE_PUBLIC_KEY = (
    "0024000004800000940000000602000000240000525341310004000001000100f33a29044fa9d740c9b3213a93e57c84b472c84e"
    "0b8a0e1ae48e67a9f8f6de9d5f7f3d52ac23e48ac51801f1dc950abe901da34d2a9e3baadb141a17c77ef3c565dd5ee5054b91cf6"
    "3bb3c6ab83f72ab3aafe93d0fc3c2348b764fafb0b1c0733de51459aeab46580384bf9d74c4e28164b7cde247f891ba07891c9d87"
    "2ad2bb")
# (assembly = its sources' folder under runtimes/dotnet/src, kind, references among the ones built before it)
ASSEMBLIES = (
    ("Microsoft.Extensions.Logging.Abstractions", "library", ()),
    ("Aliyun.Serverless.Core", "library", ("Microsoft.Extensions.Logging.Abstractions",)),
    ("System.Security.Permissions", "library", ()),
    ("Aliyun.Serverless.Runtime", "library", ("Microsoft.Extensions.Logging.Abstractions", "Aliyun.Serverless.Core")),
    ("Aliyun.Serverless.CA", "exe", ()),
)
RUNTIMECONFIG = {"runtimeOptions": {"tfm": "netcoreapp3.1", "rollForward": "Major",
                                    "framework": {"name": "Microsoft.NETCore.App", "version": "3.1.0"},
                                    "configProperties": {"System.GC.Concurrent": False}}}


def json_net() -> Path | None:
    return next((Path(p) for p in JSON_NET if Path(p).is_file()), None)


def framework_dir() -> Path | None:
    """The .NET Core 3.1 shared framework the agent (and the tests' functions) compile against."""
    return toolchains.dotnet_framework()


def references(framework: Path) -> list[str]:
    """mcs -r: arguments for every assembly of the framework (facades included, as a csproj would)."""
    return [f"-r:{p}" for p in sorted(framework.glob("*.dll"))
            if not p.name.startswith(("Microsoft.DiaSymReader", "System.Runtime.WindowsRuntime"))]  # Windows only


def mcs() -> str | None:
    return shutil.which("mcs")


def _sources(src_root: Path, name: str) -> list[Path]:
    return sorted((src_root / "dotnet" / "src" / name).glob("*.cs"))


def problem(src_root: Path) -> str | None:
    """Why the agent cannot be built here (the 412 a dotnet instance answers), or None once it is built."""
    if compiled(src_root) is not None:
        return None
    if framework_dir() is None:
        return ("the .NET agent could not be built: fc-emulator compiles it against the .NET Core 3.1 runtime, "
                "which is not on this host: run `fc-emulator interpreters fetch dotnetcore3.1` (PyPI's dotnetcore2 "
                "wheel), then restart it")
    if mcs() is None:
        return ("the .NET agent could not be built: fc-emulator compiles it with Mono's C# compiler on its own host "
                "(apt-get install mono-mcs), then restart it")
    return "the .NET agent could not be built (the server log says why)"


def compiled(src_root: Path) -> Path | None:
    """The bin folder for the current sources, built now if needed; None without mcs or the 3.1 runtime."""
    framework = framework_dir()
    newtonsoft = json_net()
    digest = hashlib.sha256(f"framework {framework.name if framework else None}".encode())
    digest.update(f"json.net {newtonsoft}:{newtonsoft.stat().st_size if newtonsoft else 0}".encode())
    for name, _kind, _refs in ASSEMBLIES:
        for p in _sources(src_root, name):
            digest.update(str(p.relative_to(src_root)).encode())
            digest.update(p.read_bytes())
    target = caches.cache_dir("dotnet-agent") / digest.hexdigest()[:16]
    if target.exists():
        return target
    compiler = mcs()
    if framework is None or compiler is None:
        log.warning("the dotnetcore2.1/dotnetcore3.1 runtimes need %s on this host to build their agent once",
                    "the .NET Core 3.1 runtime (fc-emulator interpreters fetch dotnetcore3.1)" if framework is None
                    else "Mono's C# compiler (apt-get install mono-mcs)")
        return None
    if newtonsoft is None:
        log.warning("POCO handlers of .NET functions that ship no Newtonsoft.Json need Debian's Json.NET on this "
                    "host (apt-get install libnewtonsoft-json5.0-cil)")

    def build(tmp: Path) -> None:
        out = tmp / "bin"
        lib = out / "lib"
        lib.mkdir(parents=True)
        keyfile = tmp / "aspnetcore.pub"
        keyfile.write_bytes(bytes.fromhex(ASPNETCORE_PUBLIC_KEY))
        refs = references(framework)
        for name, kind, deps in ASSEMBLIES:
            dest = (out if kind == "exe" else lib) / f"{name}.dll"
            argv = [compiler, "-nostdlib", "-noconfig", "-nologo", "-optimize+", "-debug-", "-warn:0",
                    f"-target:{kind}", f"-out:{dest}", *refs, *(f"-r:{lib / d}.dll" for d in deps)]
            if name == "Microsoft.Extensions.Logging.Abstractions":
                argv += ["-delaysign+", f"-keyfile:{keyfile}"]
            run = subprocess.run([*argv, *map(str, _sources(src_root, name))], capture_output=True, text=True,
                                 timeout=_COMPILE_TIMEOUT_S, stdin=subprocess.DEVNULL)
            if run.returncode != 0:
                raise RuntimeError(f"mcs failed on {name}: {(run.stdout + run.stderr).strip()[-2000:]}")
        keyfile.unlink()
        if newtonsoft:
            shutil.copyfile(newtonsoft, lib / "Newtonsoft.Json.dll")
        (out / "Aliyun.Serverless.CA.runtimeconfig.json").write_text(json.dumps(RUNTIMECONFIG, indent=2))
        for p in [tmp, *tmp.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
    try:
        return build_once(target, build)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        log.warning("the .NET agent could not be built: %s", exc)
        return None


def install(src_root: Path, runtimes_copy: Path) -> None:
    """Copy the compiled agent into a runtimes copy being built (runtimes_copy/dotnet/bin)."""
    built = compiled(src_root)
    if built is not None:
        shutil.copytree(built / "bin", runtimes_copy / BIN)


def available(src_root: Path) -> bool:
    """Part of the runtimes copy's identity: a copy made without mcs is rebuilt once it can be built."""
    return compiled(src_root) is not None
