"""Code packages (fc-api.md §7): decode, check, checksum and store each zip once by checksum.

Zips live in the data dir's `code/` folder; on a database shared by replicas (PostgreSQL) also in the
database (store/blobs.py), and a replica that lacks one fetches it on first use (`path`)."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import os
import secrets
import shutil
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import fastcrc

from emulator import errors
from emulator.store import local_code
from emulator.store.blobs import Blobs, ChecksumMismatch, shared
from emulator.config import Settings
from emulator.store.folders import build_once


def crc64(data: bytes) -> str:
    """CRC-64/XZ (ECMA-182, reflected) as an unsigned decimal string, like OSS's x-oss-hash-crc64ecma."""
    return str(fastcrc.crc64.xz(data))


@dataclass(frozen=True)
class Package:
    """A checked zip, not yet on disk: callers write it (CodeStore.put) only once every other
    rule of the request has passed, so a refused request leaves nothing behind."""
    data: bytes
    checksum: str

    @property
    def size(self) -> int:
        return len(self.data)


def _unsafe_member(name: str) -> bool:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return True
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return ".." in parts


MAX_LINK_TARGET = 4096
MAX_LINK_HOPS = 40  # as Linux's own limit on links followed while resolving one path


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _parts(name: str) -> list[str]:
    """The path components an entry is unpacked to (as zipfile does: empty, `.` and `..` dropped)."""
    return [p for p in name.split("/") if p not in ("", ".", "..")]


def _resolves_inside(links: dict[str, str], start: list[str], target: str) -> bool:
    """Whether `target`, read from folder `start` of the package, stays inside it once the package's
    own links on the way are followed (lexical checks miss `a/link-to-root/..`)."""
    if target.startswith("/"):
        return False
    todo, cur, hops = target.split("/"), list(start), 0
    while todo:
        part = todo.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not cur:
                return False
            cur.pop()
            continue
        cur.append(part)
        link = links.get("/".join(cur))
        if link is not None:
            hops += 1
            if hops > MAX_LINK_HOPS or link.startswith("/"):
                return False
            cur.pop()
            todo = link.split("/") + todo
    return True


def _check_links(zf: zipfile.ZipFile) -> None:
    """Links stay links (node_modules/.bin), but none may point outside the package, and no entry may
    lie under one or share its name: unpacking would write through the link."""
    links: dict[str, str] = {}
    for info in zf.infolist():
        if _is_link(info):
            if info.file_size > MAX_LINK_TARGET:
                raise errors.invalid_argument(
                    f"code package is invalid: the symbolic link '{info.filename}' has a target longer "
                    f"than {MAX_LINK_TARGET} bytes")
            try:
                links["/".join(_parts(info.filename))] = zf.read(info).decode()
            except UnicodeDecodeError:
                raise errors.invalid_argument(
                    f"code package is invalid: the symbolic link '{info.filename}' has a target that is "
                    "not UTF-8") from None
    if not links:
        return
    for name, target in links.items():
        if not _resolves_inside(links, name.split("/")[:-1], target):
            raise errors.invalid_argument(
                f"code package is invalid: the symbolic link '{name}' points outside the code folder")
    seen: set[str] = set()
    for info in zf.infolist():
        parts = _parts(info.filename)
        key = "/".join(parts)
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in links:
                raise errors.invalid_argument(
                    f"code package is invalid: entry '{info.filename}' lies under the symbolic link '{prefix}'")
        if key in links and key in seen:
            raise errors.invalid_argument(
                f"code package is invalid: entry '{info.filename}' has the same path as the symbolic link '{key}'")
        seen.add(key)


def protect_data_dir(settings: Settings) -> None:
    """Secrets readable by the emulator's user only (fc.db and its WAL files, url-signing.key: 0600);
    the data dir and the code folders can be entered, not listed, by others: process-backend
    instances (which may run as another user, instance_user.py) reach their own code by its path."""
    data = settings.data_dir
    secrets_ = [data / "url-signing.key"]
    if not settings.database_url:
        secrets_ += [data / "fc.db", data / "fc.db-wal", data / "fc.db-shm"]
    for path in secrets_:
        try:
            path.chmod(0o600)
        except FileNotFoundError:
            pass
    for folder in (data, data / "code", data / "code" / "unpacked"):
        try:
            mode = stat.S_IMODE(folder.stat().st_mode)
            if mode & 0o066:
                folder.chmod(mode & ~0o066)
        except OSError:  # not ours to change (a mounted volume): left as it is
            pass


class CodeStore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.root = settings.data_dir / "code"
        (self.root / "unpacked").mkdir(parents=True, exist_ok=True)
        key_file = settings.data_dir / "url-signing.key"
        if not key_file.exists():
            try:
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(secrets.token_bytes(32))
            except FileExistsError:  # another emulator on this data dir made it first
                pass
        self._url_key = key_file.read_bytes()
        protect_data_dir(settings)
        self.blobs = Blobs(settings.db_url) if shared(settings.db_url) else None

    # ---- getting the zip ----------------------------------------------------------------

    def zip_from_request(self, code: dict) -> bytes:
        """`{zipFile}` or `{ossBucketName, ossObjectName}`, exactly one (§2.3)."""
        zip_b64 = code.get("zipFile")
        bucket, obj = code.get("ossBucketName"), code.get("ossObjectName")
        if zip_b64 and (bucket or obj):
            raise errors.invalid_argument("code: only one of zipFile and ossBucketName/ossObjectName may be set")
        if zip_b64:
            return self.decode_zip_file(zip_b64)
        if bucket and obj:
            return self.read_oss(bucket, obj)
        raise errors.invalid_argument("code: zipFile or both ossBucketName and ossObjectName are required")

    def decode_zip_file(self, text: str) -> bytes:
        limit = self.settings.max_inline_code_size
        if len(text) > (limit * 4) // 3 + 8:
            raise errors.invalid_argument(f"code.zipFile is too large (max: {limit} bytes after decoding)")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise errors.invalid_argument("code.zipFile is not valid base64") from None
        if len(data) > limit:
            raise errors.invalid_argument(f"code.zipFile is too large (max: {limit} bytes, actual: {len(data)})")
        return data

    def read_oss(self, bucket: str, obj: str) -> bytes:
        """OSS stands in as <oss_dir>/<bucket>/<object>; nothing outside the bucket folder is readable."""
        root = self.settings.oss_dir.resolve()
        base = (root / bucket).resolve()
        path = (base / obj).resolve()
        if base.parent != root or base not in path.parents or not path.is_file():
            raise errors.oss_object_not_found(bucket, obj)
        size = path.stat().st_size
        if size > self.settings.max_code_size:
            raise errors.invalid_argument(
                f"code size exceeds the limit (max: {self.settings.max_code_size} bytes, actual: {size})")
        return path.read_bytes()

    # ---- checking and storing -----------------------------------------------------------

    def check_zip(self, data: bytes) -> None:
        """A valid archive, no member outside the folder, and a bounded unpacked size."""
        if len(data) > self.settings.max_code_size:
            raise errors.invalid_argument(
                f"code size exceeds the limit (max: {self.settings.max_code_size} bytes, actual: {len(data)})")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                total = 0
                for info in zf.infolist():
                    if _unsafe_member(info.filename):
                        raise errors.invalid_argument(
                            f"code package is invalid: entry '{info.filename}' points outside the code folder")
                    total += info.file_size
                    if total > self.settings.max_unzipped_size:
                        raise errors.invalid_argument(
                            "code package is invalid: the unzipped size exceeds the limit "
                            f"({self.settings.max_unzipped_size} bytes)")
                _check_links(zf)
                bad = zf.testzip()
                if bad is not None:
                    raise errors.invalid_argument(f"code package is invalid: entry '{bad}' is corrupt")
        except errors.FCError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as exc:
            raise errors.invalid_argument(f"code package is not a valid zip file: {exc}") from None

    def put(self, data: bytes, checksum: str | None = None) -> tuple[str, int]:
        """Store the zip (once per checksum); returns (codeChecksum, codeSize)."""
        checksum = checksum or crc64(data)
        if local_code.is_local(checksum):  # nothing to store: the folder is the code
            return checksum, 0
        path = self._file(checksum)
        if not path.exists():
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".part")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        if self.blobs is not None:
            self.blobs.put(checksum, data)
        return checksum, len(data)

    def prepare(self, code: dict, header_checksum: str | None = None) -> "Package":
        """Everything but the write: fetch, check and checksum the package (no lock held)."""
        if local_code.requested(code):  # a local folder, run as it is (hot reload)
            return Package(b"", local_code.checksum_for(code, self.settings.data_dir))
        data = self.zip_from_request(code)
        self.check_zip(data)
        checksum = crc64(data)
        if header_checksum and header_checksum.strip() != checksum:
            raise errors.invalid_argument(
                f"the code checksum in X-Fc-Code-Checksum ({header_checksum.strip()}) does not match "
                f"the package's CRC-64 ({checksum})")
        return Package(data, checksum)

    def store_request_code(self, code: dict, header_checksum: str | None = None) -> tuple[str, int]:
        pkg = self.prepare(code, header_checksum)
        return self.put(pkg.data, pkg.checksum)

    def _file(self, checksum: str) -> Path:
        return self.root / f"{checksum}.zip"

    def path(self, checksum: str) -> Path:
        """The zip in this replica's data dir, fetched from the database first when it is not there yet
        (a function created through another replica). A zip stored nowhere gives a path that does not exist."""
        path = self._file(checksum)
        if not path.exists() and self.blobs is not None:
            try:
                self.blobs.fetch(checksum, path)
            except ChecksumMismatch as exc:
                raise errors.FCError(500, "InternalServerError", str(exc)) from None
        return path

    def exists(self, checksum: str) -> bool:
        return self._file(checksum).exists() or (self.blobs is not None and self.blobs.has(checksum))

    def extract(self, checksum: str) -> Path:
        """The package unpacked under code/unpacked/<checksum>/ (done once; used by execution)."""
        if local_code.is_local(checksum):
            return local_code.folder_of(checksum)
        def unpack(tmp: Path) -> None:
            with zipfile.ZipFile(self.path(checksum)) as zf:  # fetched from the database if need be
                for info in zf.infolist():
                    _unpack_entry(zf, info, tmp)
            tmp.chmod(0o755)  # instances read it, also as another user (mkdtemp made it 0700)
        return build_once(self.root / "unpacked" / checksum, unpack)

    # ---- download URLs (GetFunctionCode) ------------------------------------------------

    def download_url(self, checksum: str, ttl: int = 3600) -> str:
        if local_code.is_local(checksum):  # the folder as it is now, zipped
            folder = local_code.folder_of(checksum)
            if not folder.is_dir():
                raise errors.invalid_argument("the function's local code folder no longer exists")
            checksum, _ = self.put(local_code.zip_folder(folder, self.settings.max_unzipped_size))
        expires = int(time.time()) + ttl
        sig = self._sign(checksum, expires)
        return f"{self.settings.base_url}/_emulator/code/{checksum}.zip?Expires={expires}&Signature={sig}"

    def verify_download(self, checksum: str, expires: str, signature: str) -> bool:
        if not (expires.isascii() and expires.isdigit()) or int(expires) < time.time():
            return False
        return hmac.compare_digest(self._sign(checksum, int(expires)), signature)

    def _sign(self, checksum: str, expires: int) -> str:
        return hmac.new(self._url_key, f"{checksum}:{expires}".encode(), hashlib.sha256).hexdigest()


def _unpack_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, root: Path) -> None:
    """One entry under `root`, never written through a symbolic link: uploads refuse such packages, and
    one stored before that rule gets the entry skipped. Files keep their permission bits, made
    readable by all, without set-id bits (instances run as another user than the emulator's)."""
    parts = _parts(info.filename)
    if not parts:
        return
    parent = root
    for part in parts[:-1]:
        parent = parent / part
        if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
            return
        if not parent.exists():
            parent.mkdir()
    dest = parent / parts[-1]
    if os.path.lexists(dest) and (dest.is_symlink() or info.is_dir() or _is_link(info)):
        return
    if _is_link(info):
        os.symlink(zf.read(info).decode(errors="replace"), dest)
    elif info.is_dir():
        dest.mkdir()
    else:
        try:
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        except OSError:  # a folder of that name, or a link
            return
        with os.fdopen(fd, "wb") as out, zf.open(info) as src:
            shutil.copyfileobj(src, out, 1 << 20)
        mode = (info.external_attr >> 16) & 0o777
        if mode:
            os.chmod(dest, mode | 0o444)
