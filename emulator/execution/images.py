"""Runtime images: every built-in and custom runtime runs in one Debian image with python3 and
nodejs; the agents are mounted, not baked in, so the image never needs rebuilding for them.

Online, the image is built from the public `debian:bookworm-slim`. Offline (no registry), it is
bootstrapped with debootstrap from a Debian mirror and imported with `docker import`.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

DEFAULT_IMAGE = "fc-emulator/runtime:latest"
PACKAGES = ("python3", "nodejs")
DOCKERFILE = f"""FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends {' '.join(PACKAGES)} \\
    && rm -rf /var/lib/apt/lists/*
ENV LANG=C.UTF-8
"""


def build_online(client, image: str = DEFAULT_IMAGE) -> None:
    client.images.build(fileobj=io.BytesIO(DOCKERFILE.encode()), tag=image, rm=True, pull=True)


def build_offline(client, image: str = DEFAULT_IMAGE, mirror: str = "http://deb.debian.org/debian",
                  suite: str = "bookworm", echo=print) -> None:
    if not shutil.which("debootstrap"):
        raise SystemExit("debootstrap is not installed (apt-get install -y debootstrap)")
    if os.geteuid() != 0:
        raise SystemExit("debootstrap needs root: run `sudo fc-emulator images build --offline`")
    work = Path(tempfile.mkdtemp(prefix="fc-rootfs-"))
    try:
        rootfs = work / "rootfs"
        echo(f"debootstrap {suite} from {mirror} into {rootfs} (about a minute)")
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", suite, str(rootfs),
                        mirror], check=True, stdout=subprocess.DEVNULL)
        tarball = work / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-c", "-f", str(tarball), "."], check=True)
        repository, _, tag = image.partition(":")
        echo(f"docker import -> {image}")
        client.api.import_image(src=str(tarball), repository=repository, tag=tag or "latest",
                                changes=["ENV LANG=C.UTF-8"])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def present(client, image: str) -> bool:
    from docker.errors import ImageNotFound
    try:
        client.images.get(image)
        return True
    except ImageNotFound:
        return False
