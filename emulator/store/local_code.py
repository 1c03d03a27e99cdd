"""Code from a local folder (hot reload, issue 14), the way LocalStack uses a magic bucket name:
`code: {"ossBucketName": "local", "ossObjectName": "/abs/path/to/folder"}`.

OSS object names never start with `/`, so an absolute object name in bucket `local` cannot be an object of the
local OSS folder (`<oss-dir>/local/<key>` with a relative key still is). The function stores
`codeChecksum: "local:/abs/path/to/folder"` and `codeSize: 0`; instances run the folder itself (process
backend: their code folder; Docker: bind-mounted read-only at /code) and execution/hot_reload.py retires them
when a file in it changes.
"""
from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

from emulator import errors
from emulator.execution.spec import LOCAL_CODE_PREFIX

LOCAL_BUCKET = "local"
SKIPPED_DIRS = {"__pycache__", ".git", ".hg", ".svn"}  # not code: left out of zips made from a folder


def requested(code: dict) -> bool:
    obj = code.get("ossObjectName") or ""
    return code.get("ossBucketName") == LOCAL_BUCKET and isinstance(obj, str) and obj.startswith("/")


def is_local(checksum: str | None) -> bool:
    return bool(checksum) and checksum.startswith(LOCAL_CODE_PREFIX)


def folder_of(checksum: str) -> Path:
    return Path(checksum[len(LOCAL_CODE_PREFIX):])


def checksum_for(code: dict, data_dir: Path) -> str:
    """The stored codeChecksum of a local-folder code request, after checking the folder."""
    if code.get("zipFile"):
        raise errors.invalid_argument("code: only one of zipFile and ossBucketName/ossObjectName may be set")
    folder = Path(os.path.normpath(code["ossObjectName"]))
    if not folder.is_dir():
        raise errors.invalid_argument("code: ossBucketName 'local' names a folder of the emulator's host in "
                                      "ossObjectName, and there is no folder at that path")
    folder = folder.resolve()
    data = data_dir.resolve()
    if folder == Path("/") or folder == data or folder in data.parents or data in folder.parents:
        raise errors.invalid_argument("code: the local folder may not be the root folder, nor contain or lie "
                                      "inside the emulator's data dir")
    return LOCAL_CODE_PREFIX + str(folder)


def zip_folder(folder: Path, limit: int | None = None) -> bytes:
    """The folder as a code package (links kept as links, modes kept; bytecode and VCS folders left out)."""
    buf = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
            rel_root = Path(root).relative_to(folder)
            for name in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
                path = Path(root) / name
                arc = (rel_root / name).as_posix()
                st = path.lstat()
                info = zipfile.ZipInfo(arc)
                info.external_attr = (st.st_mode & 0xFFFF) << 16
                if stat.S_ISLNK(st.st_mode):
                    zf.writestr(info, os.readlink(path))
                elif stat.S_ISREG(st.st_mode):
                    total += st.st_size
                    if limit is not None and total > limit:
                        raise errors.invalid_argument(f"code folder is larger than the limit ({limit} bytes)")
                    info.compress_type = zipfile.ZIP_DEFLATED
                    zf.writestr(info, path.read_bytes())
    return buf.getvalue()
