"""Folders derived from stored content (unpacked code, merged layers, agent copies), built once."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable


def build_once(target: Path, build: Callable[[Path], None]) -> Path:
    """`target`, built by `build(tmp)` in a temporary folder beside it and renamed into place, so
    nobody sees a half-built folder; when two builders race, the first rename wins."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        build(tmp)
        tmp.rename(target)
    except OSError:
        if not target.exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
