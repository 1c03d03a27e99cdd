"""`fc-emulator modules install | list`: FC's built-in modules for the process backend
(execution/builtin_modules.py). Docker images get theirs when they are built."""
from __future__ import annotations

import time

from emulator.execution import builtin_modules as bm
from emulator.execution import catalog


def _runtimes(names: list[str]) -> list[str]:
    if not names:
        return list(bm.RUNTIME_SETS)
    unknown = [n for n in names if n not in bm.RUNTIME_SETS]
    if unknown:
        raise ValueError(f"no built-in modules for {', '.join(unknown)}: FC has them for "
                         f"{', '.join(bm.RUNTIME_SETS)}")
    return names


def _target(runtime: str, interpreters) -> tuple[bm.ModuleSet, str | None, str, str]:
    """(set, Python binary, its minor, why not) for the interpreter the process backend runs `runtime` on."""
    mset = bm.module_set(runtime)
    if mset.family == catalog.NODEJS:
        return mset, None, "", ""
    found = interpreters.lookup(runtime)
    if not found.path:
        return mset, None, "", f"no Python for {runtime} on this host (see `fc-emulator interpreters list`)"
    return mset, found.path, bm.minor(found.version), ""


def install(names: list[str], configured: dict[str, str]) -> int:
    from emulator.execution.interpreters import Interpreters
    interpreters = Interpreters(configured)
    failed = 0
    for runtime in _runtimes(names):
        start = time.monotonic()
        mset, python, minor, why = _target(runtime, interpreters)
        if why:
            print(f"== {runtime}: skipped: {why}", flush=True)
            failed += 1
            continue
        print(f"== {runtime}: FC's {mset.name} modules", flush=True)
        existed = bm.folder(mset, minor).is_dir()
        try:
            path = bm.install(mset, python, echo=lambda line: print(line, flush=True))
        except bm.ModulesError as exc:
            print(f"   failed: {exc}", flush=True)
            failed += 1
            continue
        note = "already installed" if existed else "installed"
        print(f"   {note}: {path.name} ({bm.size_mb(path):.0f} MB) in {time.monotonic() - start:.1f}s", flush=True)
    return 1 if failed else 0


def list_() -> int:
    print(f"{'runtime':<12} {'FC list':<11} {'modules':<60}")
    for runtime, name in bm.RUNTIME_SETS.items():
        mset = bm.SETS[name]
        names = ", ".join(p.split("==")[0] if "==" in p else p.rsplit("@", 1)[0] for p in mset.packages)
        print(f"{runtime:<12} {name:<11} {names}")
    print(f"\ninstalled in {bm.modules_dir()}:")
    for path in bm.installed_sets():
        print(f"  {path.name:<22} {bm.size_mb(path):6.0f} MB")
    return 0
