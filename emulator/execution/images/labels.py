"""What a runtime image says about itself (Docker labels set at build time) and how its language
version compares with what FC runs (runtimes.md §15): exact, or the nearest one a source had."""
from __future__ import annotations

import re
from typing import Callable

from emulator.execution import catalog
from emulator.execution.catalog import Runtime

BUILD = "fc-emulator.build"  # offline | online
RECIPE = "fc-emulator.recipe"  # the offline recipe (catalog.OFFLINE_RECIPES)
BASE = "fc-emulator.base"  # what it was built from
LANGUAGE = "fc-emulator.language"  # e.g. "Python 3.9.2", "Node.js v8.17.0", as the interpreter reported it


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def version_commands(rt: Runtime) -> list[tuple[str, list[str]]]:
    """(prefix, argv) whose output, joined, names the language version inside an image of `rt`."""
    fam = rt.family
    if fam == catalog.PYTHON:
        return [("", [rt.interpreter, "--version"])]
    if fam == catalog.NODEJS:
        return [("Node.js ", ["node", "--version"])]
    if fam == catalog.GO1:
        return [("", ["python3", "--version"])]
    if fam == catalog.CUSTOM:
        return [("", ["python3", "--version"]), ("Node.js ", ["node", "--version"])]
    if fam == catalog.JAVA:
        return [("", ["java", "-version"])]
    if fam == catalog.PHP:
        return [("", ["php", "--version"])]
    return [("", ["dotnet", "--list-runtimes"])]


def language_from(run: Callable[[list[str]], str], rt: Runtime) -> str:
    """Ask the interpreters (through `run`, which returns their output or raises) for their versions."""
    parts = []
    for prefix, argv in version_commands(rt):
        try:
            line = _first_line(run(argv))
        except Exception:  # noqa: BLE001 - a missing interpreter: say so, the image is still usable for others
            line = f"no {argv[0]}"
        line = re.sub(r'^openjdk version "([^"]+)".*', r"OpenJDK \1", line)  # -> "OpenJDK 11.0.24"
        line = re.sub(r"^Microsoft\.NETCore\.App (\S+).*", r".NET Core \1", line)  # `dotnet --list-runtimes`
        parts.append(prefix + re.sub(r"\s*\(.*$", "", line).replace('"', ""))  # "PHP 7.4.33 (cli) ..." -> "PHP 7.4.33"
    return ", ".join(parts)


def _wanted(rt: Runtime) -> str | None:
    """The version FC runs that must match (major.minor for Python/PHP, the major for Node/Java)."""
    return rt.version or None


def _found(rt: Runtime, language: str) -> str | None:
    patterns = {catalog.PYTHON: r"Python (\d+\.\d+)", catalog.NODEJS: r"v(\d+)\.", catalog.PHP: r"PHP (\d+\.\d+)",
                catalog.JAVA: r"OpenJDK (?:1\.)?(\d+)", catalog.DOTNET: r"(?:NETCore\.App|\.NET Core) (\d+\.\d+)"}
    pattern = patterns.get(rt.family)
    m = re.search(pattern, language) if pattern else None
    return m.group(1) if m else None


def match(rt: Runtime, language: str, build: str) -> str:
    """'exact' when the image runs FC's version of the language, 'nearest' when not, 'none' when the image
    lacks the interpreter, '?' when unknown."""
    if language and all(part.startswith("no ") for part in language.split(", ")):
        return "none"
    wanted = _wanted(rt)
    if wanted and rt.family != catalog.CUSTOM:
        found = _found(rt, language)
        if found is None:
            return "?"
        return "exact" if found == wanted else "nearest"
    if rt.family == catalog.GO1:
        return "exact"  # the user ships a static binary: any Linux image runs it as FC does
    # custom runtimes: what FC documents (Debian release, Python, Node.js) is in the catalog per build
    return "exact" if build == "online" or rt.offline_exact else "nearest"
