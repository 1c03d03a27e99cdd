"""`fc-emulator interpreters list | fetch`: what the process backend runs each runtime with."""
from __future__ import annotations

import sys

from emulator.execution import catalog
from emulator.execution.interpreters import MISSING, Interpreters, hosted_runtimes


def list_(configured: dict[str, str]) -> int:
    """One line per runtime: runtime, exact|nearest|missing, version, binary (source). Exit 0."""
    found = Interpreters(configured)
    rows = [("RUNTIME", "STATUS", "VERSION", "BINARY")]
    for runtime in hosted_runtimes():
        it = found.lookup(runtime)
        wanted = f"{it.language} {it.wanted}" if it.wanted else "any Python 3 (runtime API bridge)"
        if it.status == MISSING:
            setting = configured.get(runtime)
            rows.append((runtime, MISSING, f"(wants {wanted})",
                         f"{setting} (configured: cannot be run)" if setting else "-"))
        else:
            rows.append((runtime, it.status, it.version, f"{it.path} ({it.source})"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[3])
    return 0


def fetch(runtimes: list[str]) -> int:
    """Download the official Node.js binary of each named nodejs runtime's major (default: all)."""
    from emulator.execution import toolchains

    majors: list[int] = []
    dotnet = False  # dotnetcore2.1/3.1: the .NET Core 3.1 runtime, from PyPI's dotnetcore2 wheel
    for name in runtimes:
        rt = catalog.RUNTIMES.get(name)
        if rt is not None and rt.family == catalog.DOTNET:
            dotnet = True
            continue
        if rt is None or rt.family != catalog.NODEJS:
            hint = (f"; install Python {rt.version} (pyenv or your package manager) or set --interpreter "
                    f"{name}=PATH" if rt is not None and rt.family == catalog.PYTHON else "")
            print(f"fc-emulator interpreters fetch: '{name}' is not a nodejs runtime: only Node.js binaries are "
                  f"fetched{hint}", file=sys.stderr)
            return 2
        if int(rt.version) not in majors:
            majors.append(int(rt.version))
    try:
        if dotnet:
            cached = toolchains.dotnet_binary()
            print(f".NET Core 3.1: present ({cached})") if cached else toolchains.dotnet_binary(fetch=True, echo=print)
            if not majors:
                return 0
        for major in majors or toolchains.node_majors():
            cached = toolchains.node_binary(major)  # already there: say so
            if cached is None:
                toolchains.node_binary(major, fetch=True, echo=print)
            else:
                print(f"Node.js {major}: present ({cached})")
    except toolchains.ToolchainError as exc:
        print(f"fc-emulator interpreters fetch: {exc}", file=sys.stderr)
        return 1
    return 0
