"""What instances mount: the unpacked code, the merged layers (/opt) and the runtime agents,
all kept under the data dir so that Docker can bind-mount them (also from a sibling container)."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from emulator.execution import dotnet_agent, java_agent
from emulator.store.code import CodeStore
from emulator.store.folders import build_once

RUNTIMES_SRC = Path(__file__).resolve().parents[2] / "runtimes"


class Artifacts:
    def __init__(self, data_dir: Path, code: CodeStore):
        self.data_dir = data_dir
        self.code = code
        self.runtimes_dir = self._install_runtimes()

    def _install_runtimes(self) -> Path:
        """A copy of runtimes/ under the data dir, one per content hash (instances mount it)."""
        digest = hashlib.sha256()
        files = sorted(p for p in RUNTIMES_SRC.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        for p in files:
            digest.update(str(p.relative_to(RUNTIMES_SRC)).encode())
            digest.update(p.read_bytes())
        digest.update(b"java-agent" if java_agent.available(RUNTIMES_SRC) else b"")  # javac installed later: new copy
        digest.update(b"dotnet-agent" if dotnet_agent.available(RUNTIMES_SRC) else b"")  # likewise mcs, .NET 3.1

        def copy(tmp: Path) -> None:
            for p in files:
                dest = tmp / p.relative_to(RUNTIMES_SRC)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(p, dest)
            java_agent.install(RUNTIMES_SRC, tmp)  # the Java agent's compiled classes
            dotnet_agent.install(RUNTIMES_SRC, tmp)  # the .NET agent's assemblies
            tmp.chmod(0o755)  # instances read it, also as another user (mkdtemp made it 0700)
        return build_once(self.data_dir / "runtimes" / digest.hexdigest()[:16], copy)

    def code_dir(self, checksum: str) -> Path:
        return self.code.extract(checksum)

    def opt_dir(self, layer_checksums: list[str]) -> Path | None:
        """Layers merged into one folder; on a name clash the layer listed first wins (runtimes.md §1)."""
        if not layer_checksums:
            return None

        def merge(tmp: Path) -> None:
            for checksum in layer_checksums:
                merge_tree(self.code.extract(checksum), tmp)
            tmp.chmod(0o755)
        return build_once(self.data_dir / "opt" / hashlib.sha256("#".join(layer_checksums).encode()).hexdigest()[:16],
                          merge)


def merge_tree(src: Path, dst: Path) -> None:
    """Copy `src` into `dst`, keeping what `dst` already has (so the layer merged first wins) and never
    writing through a symbolic link: links are copied as links, and nothing goes under one."""
    todo = [(src, dst)]
    while todo:
        src_dir, dst_dir = todo.pop()
        with os.scandir(src_dir) as entries:
            for entry in entries:
                target = dst_dir / entry.name
                if entry.is_symlink():
                    if not os.path.lexists(target):
                        os.symlink(os.readlink(entry.path), target)
                elif entry.is_dir(follow_symlinks=False):
                    if not os.path.lexists(target):
                        target.mkdir()
                        shutil.copystat(entry.path, target)
                    if target.is_dir() and not target.is_symlink():
                        todo.append((Path(entry.path), target))
                elif not os.path.lexists(target):
                    shutil.copy2(entry.path, target, follow_symlinks=False)


def link_tree(src: Path, dst: Path) -> None:
    """Make the empty folder `dst` look exactly like `src` (a standby container's /code, mounted before its
    function was known): files hard-linked (the same inodes: content, mode, owner, times; copied where a
    link is refused), links as links, folders with their mode, owner and times."""
    for root, dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        target = dst if rel == "." else dst / rel
        for name in dirs:
            if os.path.islink(os.path.join(root, name)):  # os.walk lists links to folders here
                files.append(name)
            else:
                (target / name).mkdir()
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
        for name in files:
            s, d = os.path.join(root, name), target / name
            if os.path.islink(s):
                os.symlink(os.readlink(s), d)
            else:
                try:
                    os.link(s, d)
                except OSError:  # another file system, or protected_hardlinks for a non-root emulator
                    shutil.copy2(s, d)
    for root, _, _ in os.walk(src, topdown=False):  # folder times last: filling them changed them
        target, st = dst / os.path.relpath(root, src), os.stat(root)
        try:
            os.chown(target, st.st_uid, st.st_gid)
        except PermissionError:
            pass
        shutil.copystat(root, target)
