"""Runtime images of the Docker backend: one per FC runtime, `fc-emulator/<runtime>:latest`
(catalog.py). The agents are mounted at /var/fc/runtime, not baked in, so an image never needs
rebuilding for them. Online builds start from the official image of each language and version
(online.py); offline builds from Debian suites via debootstrap, one image per recipe tagged for
each of its runtimes (offline.py). Every image carries labels saying how it was built and which
language version is inside (labels.py), which `images list` shows."""
from __future__ import annotations

import os
from dataclasses import dataclass

from emulator.execution import catalog
from emulator.execution.catalog import Runtime
from emulator.execution.images import labels
from emulator.execution.images.offline import NO_MODULES_ENV
from emulator.execution.images.steps import BuildError, Clock

__all__ = ["NO_MODULES_ENV", "BuildError", "Row", "build", "default_runtimes", "present", "status", "targets"]


def default_runtimes() -> list[Runtime]:
    """What `images build` builds when no runtime is named: every runtime that can run today."""
    return [rt for rt in catalog.RUNTIMES.values() if rt.family in catalog.RUNNABLE]


def targets(names: list[str]) -> list[Runtime]:
    """The runtimes named (`all` = every runtime in the catalog); none named = default_runtimes()."""
    if not names:
        return default_runtimes()
    if "all" in names:
        return list(catalog.RUNTIMES.values())
    unknown = [n for n in names if n not in catalog.RUNTIMES]
    if unknown:
        raise BuildError(f"unknown runtime {', '.join(unknown)}; known: {', '.join(catalog.RUNTIMES)} (or all)")
    return [catalog.RUNTIMES[n] for n in dict.fromkeys(names)]


def present(client, image: str) -> bool:
    return _inspect(client, image) is not None


def _inspect(client, image: str):
    from docker.errors import ImageNotFound
    try:
        return client.images.get(image)
    except ImageNotFound:
        return None


def build(client, runtimes: list[Runtime], *, offline: bool, if_missing: bool = False, mirror: str | None = None,
          echo=print) -> list[Runtime]:
    """Build the images of `runtimes` (only the missing ones with if_missing); returns those built."""
    clock = Clock(echo)
    todo = [rt for rt in runtimes if not (if_missing and present(client, rt.image))]
    for rt in runtimes:
        if rt not in todo:
            clock.step(f"{rt.image} is present")
    if not todo:
        return []
    if offline:
        from emulator.execution.images import mirror as apt_mirror
        from emulator.execution.images import offline as off
        mirror = (mirror or apt_mirror.host_mirror() or "").rstrip("/") or None
        # One image per recipe, tagged for every runtime on it (named or not), so runtimes that share a
        # recipe never run different builds of it.
        recipes: dict[str, list[Runtime]] = {}
        for rt in todo:
            recipes.setdefault(rt.offline_recipe, [])
        for rt in catalog.RUNTIMES.values():
            if rt.offline_recipe in recipes:
                recipes[rt.offline_recipe].append(rt)
        clock.step(f"offline build of {len(recipes)} recipe(s) for {sum(map(len, recipes.values()))} runtime(s); "
                   f"Debian mirror {mirror or '(debootstrap default)'}; cache {off.cache_dir()}")
        off.build(client, recipes, mirror, clock)
        todo = [rt for runtimes_of in recipes.values() for rt in runtimes_of]
    else:
        from emulator.execution.images import online
        online.build(client, todo, clock)
    clock.step(f"done: {', '.join(rt.name for rt in todo)}")
    return todo


@dataclass
class Row:
    runtime: str
    image: str
    present: bool
    fc_language: str  # what FC runs
    language: str  # what the image has ("" when missing)
    match: str  # exact | nearest | ? | ""
    build: str  # offline | online | "" (not built by fc-emulator)


def image_overrides() -> tuple[str, dict[str, str]]:
    """The images `serve` would use from the environment (FC_EMULATOR_RUNTIME_IMAGE[S])."""
    from emulator.config import parse_pairs
    pairs = os.environ.get("FC_EMULATOR_RUNTIME_IMAGES")
    return os.environ.get("FC_EMULATOR_RUNTIME_IMAGE", ""), parse_pairs([pairs] if pairs else [])


def status(client, runtimes: list[Runtime]) -> list[Row]:
    """Each runtime's image, whether it is there, and the language version inside (its label, or
    asked once from the interpreter for an image fc-emulator did not build)."""
    single, per_runtime = image_overrides()
    asked: dict[tuple, str] = {}  # one image mapped to many runtimes is asked once per question
    rows = []
    for rt in runtimes:
        image = per_runtime.get(rt.name) or single or rt.image
        found = _inspect(client, image)
        if found is None:
            rows.append(Row(rt.name, image, False, rt.language, "", "", ""))
            continue
        image_labels = found.labels or {}
        language = image_labels.get(labels.LANGUAGE)
        if not language:
            key = (found.id, repr(labels.version_commands(rt)))
            language = asked[key] if key in asked else asked.setdefault(key, _ask(client, image, rt))
        build_kind = image_labels.get(labels.BUILD, "")
        rows.append(Row(rt.name, image, True, rt.language, language, labels.match(rt, language, build_kind),
                        build_kind))
    return rows


def _ask(client, image: str, rt: Runtime) -> str:
    def run(argv: list[str]) -> str:
        return client.containers.run(image, argv, remove=True, stdout=True, stderr=True).decode(errors="replace")
    return labels.language_from(run, rt)


def table(rows: list[Row]) -> str:
    header = ("RUNTIME", "IMAGE", "STATUS", "FC RUNS", "IMAGE HAS", "MATCH", "BUILD")
    data = [(r.runtime, r.image, "present" if r.present else "missing", r.fc_language, r.language or "-",
             r.match or "-", r.build or "-") for r in rows]
    widths = [max(len(str(x[i])) for x in [header, *data]) for i in range(len(header))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in [header, *data])
