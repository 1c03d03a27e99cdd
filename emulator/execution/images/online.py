"""Online image build (a registry is reachable): each runtime's image is `FROM` the official public
image of its language and version (catalog `online_base`), so every runtime gets its exact version.
Custom runtimes get Node.js next to Python by copying the official binary out of `node:<N>-slim`
(no apt: the Debian releases of old bases are archived). The language version is read from the
built image once and kept as a label."""
from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import time
from pathlib import Path

from emulator.execution import catalog
from emulator.execution.catalog import Runtime
from emulator.execution.images import labels
from emulator.execution.images.offline import NO_MODULES_ENV
from emulator.execution.images.steps import BuildError, Clock

# The Node.js major each custom runtime has beside its Python (runtimes.md §15).
CUSTOM_NODE = {"custom": 10, "custom.debian10": 20, "custom.debian11": 18, "custom.debian12": 20}


def dockerfile(rt: Runtime) -> str:
    lines = [f"FROM {rt.online_base}"]
    if rt.family == catalog.CUSTOM:
        major = CUSTOM_NODE.get(rt.name, 20)
        lines.append(f"COPY --from=node:{major}-slim /usr/local/bin/node /usr/local/bin/node")
    if rt.family == catalog.PHP:  # FC's extensions (runtimes.md §13.9) that build from PHP's own sources, no apt
        lines.append("RUN docker-php-ext-install -j2 bcmath calendar exif mysqli pcntl pdo_mysql shmop sockets "
                     "sysvmsg sysvsem sysvshm")
    lines += builtin_modules_snippet(rt).splitlines()
    lines += [f'LABEL {labels.BUILD}="online" {labels.BASE}="{rt.online_base}"',
              "ENV LANG=C.UTF-8"]
    return "\n".join(lines) + "\n"


def builtin_modules_snippet(rt: Runtime) -> str:
    """Dockerfile lines installing FC's built-in modules, when builtin_modules provides them.
    Hook: builtin_modules.dockerfile_snippet(runtime) -> str."""
    if os.environ.get(NO_MODULES_ENV) == "1" or importlib.util.find_spec("emulator.execution.builtin_modules") is None:
        return ""
    from emulator.execution import builtin_modules
    snippet = getattr(builtin_modules, "dockerfile_snippet", None)
    return snippet(rt.name) if snippet else ""


def build(client, runtimes: list[Runtime], clock: Clock) -> None:
    for rt in runtimes:
        context = Path(tempfile.mkdtemp(prefix="fc-image-"))
        try:
            (context / "Dockerfile").write_text(dockerfile(rt))
            clock.step(f"{rt.name}: docker build FROM {rt.online_base}")
            _docker_build(client, clock, context, rt.image)
            language = labels.language_from(lambda argv: _run_in(client, rt.image, argv), rt)
            clock.step(f"{rt.name}: {language}")
            (context / "Dockerfile").write_text(f'FROM {rt.image}\nLABEL {labels.LANGUAGE}="{language}"\n')
            _docker_build(client, clock, context, rt.image)
        finally:
            shutil.rmtree(context, ignore_errors=True)


def _docker_build(client, clock: Clock, context: Path, tag: str) -> None:
    last = time.monotonic()
    for chunk in client.api.build(path=str(context), tag=tag, rm=True, decode=True):
        if "error" in chunk:
            raise BuildError(f"docker build of {tag} failed: {chunk['error'].strip()}")
        line = (chunk.get("stream") or chunk.get("status") or "").strip()
        if line and time.monotonic() - last >= 10:
            last = time.monotonic()
            clock.step(f"  {tag}: {line[:110]}")


def _run_in(client, image: str, argv: list[str]) -> str:
    out = client.containers.run(image, argv, remove=True, stdout=True, stderr=True)
    return out.decode(errors="replace")

