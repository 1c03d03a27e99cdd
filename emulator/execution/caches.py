"""Where fc-emulator keeps what it fetches or builds once per machine (base rootfs, Node binaries,
built-in modules, the compiled Java agent): `$XDG_CACHE_HOME/fc-emulator/<part>` (else ~/.cache),
unless the part's own variable names a folder."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir(part: str = "", override_env: str = "") -> Path:
    explicit = os.environ.get(override_env) if override_env else None
    if explicit:
        return Path(explicit).expanduser()
    root = Path(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")) / "fc-emulator"
    return root / part if part else root
