"""FC's built-in modules in the Docker images: copied from the cache into an offline image's root file
system (where FC keeps them), or installed by the online Dockerfile (builtin_modules.py has the lists)."""
from __future__ import annotations

import shutil
import struct
from pathlib import Path

from emulator.execution import catalog
from emulator.execution.builtin_modules import (RUNTIME_SETS, SETS, Echo, ModuleSet, install, minor, module_set,
                                                python_binary)


def recipe_set(recipe: str) -> tuple[ModuleSet, str] | None:
    """The set an offline image recipe carries, and its Python minor ('' for Node.js): several FC
    runtimes share one recipe (python3.6 ... python3.9 all run bullseye's 3.9): the image gets the list of
    the runtime whose language the recipe gives, else of the newest runtime on it."""
    r = catalog.OFFLINE_RECIPES[recipe]
    if r.node_major is not None:
        runtime = "nodejs4.4" if r.node_major == 4 else f"nodejs{r.node_major}"
        return (SETS[RUNTIME_SETS[runtime]], "") if runtime in RUNTIME_SETS else None
    users = [rt for rt in catalog.RUNTIMES.values() if rt.offline_recipe == recipe and rt.family == catalog.PYTHON]
    if not users:
        return None
    version = minor(r.language.split()[-1])
    exact = [rt for rt in users if rt.version == version]
    newest = max(users, key=lambda rt: tuple(int(p) for p in rt.version.split(".")))
    return SETS[RUNTIME_SETS[(exact or [newest])[0].name]], version


def install_into_rootfs(recipe: str, rootfs: Path, echo: Echo = print) -> dict[str, str]:
    """Copy the recipe's set into an offline image's root file system, where FC keeps them: Python's
    /usr/local/lib/pythonX.Y/dist-packages (on the sys.path of Debian's pythonX.Y, after the standard
    library), Node's /usr/local/lib/node_modules (on the agent's NODE_PATH, as on FC). Installs the set
    into the cache first when missing (a Python of the image's minor from the host: same ABI). Returns
    the ENV the image needs."""
    found = recipe_set(recipe)
    if found is None:
        return {}
    mset, version = found
    src = install(mset, python_binary(version) if version else None, echo)
    if mset.family == catalog.NODEJS:
        dest = rootfs / "usr/local/lib/node_modules"
        echo(f"   FC's built-in modules of {mset.name} -> /{dest.relative_to(rootfs)}")
        shutil.copytree(src / "node_modules", dest, symlinks=True, dirs_exist_ok=True)
        return {"NODE_PATH": "/usr/local/lib/node_modules"}  # FC's images set it too (node and exec sessions)
    dest = rootfs / f"usr/local/lib/python{version}/dist-packages"
    echo(f"   FC's built-in modules of {mset.name} -> /{dest.relative_to(rootfs)}")
    shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True)
    _drop_unloadable(rootfs, dest, echo)
    return {}


def _drop_unloadable(rootfs: Path, dest: Path, echo: Echo) -> None:
    """C extensions pip built from source on a shared-library Python (pyenv's 2.7: crcmod, regex) need
    libpythonX.Y.so, which Debian's static interpreter lacks: leave them out where the image has no such
    library (crcmod falls back to pure Python)."""
    libs = {p.name for d in ("usr/lib/x86_64-linux-gnu", "usr/lib", "usr/local/lib", "lib/x86_64-linux-gnu")
            for p in (rootfs / d).glob("libpython*.so*")}
    dropped = []
    for so in dest.rglob("*.so"):
        missing = [n for n in _needed(so) if n.startswith("libpython") and n not in libs]
        if missing:
            so.unlink()
            dropped.append(str(so.relative_to(dest)))
    if dropped:
        echo(f"   left out C extensions needing a libpython the image lacks: {', '.join(sorted(dropped))}")


def _needed(path: Path) -> list[str]:
    """DT_NEEDED of a little-endian ELF64 shared object ([] when it is not one)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    out = []
    for sh in sections:
        if sh[1] != 6:  # SHT_DYNAMIC
            continue
        strtab = sections[sh[6]]
        for off in range(sh[4], sh[4] + sh[5], 16):
            tag, val = struct.unpack_from("<qQ", data, off)
            if tag == 1:  # DT_NEEDED
                start = strtab[4] + val
                out.append(data[start:data.index(b"\0", start)].decode())
    return out


def dockerfile_snippet(runtime: str) -> str:
    """Dockerfile lines for the online build (official python:/node: images, a registry at hand)."""
    mset = module_set(runtime)
    if mset is None:
        return ""
    if mset.family == catalog.NODEJS:
        return ("RUN npm install --global --no-audit --no-fund " + " ".join(mset.packages)
                + " && npm cache clean --force\n")
    pins = (mset.constraints if catalog.get(runtime).version == mset.python else "").split() + mset.compat.split()
    lines, flags = "", ""
    if pins:
        lines = "RUN printf '%s\\n' " + " ".join(f"'{p}'" for p in pins) + " > /tmp/fc-constraints.txt\n"
        flags = "-c /tmp/fc-constraints.txt "
    return lines + f"RUN pip install --no-cache-dir {flags}" + " ".join(mset.packages) + "\n"


