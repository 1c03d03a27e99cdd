"""State snapshots (test control): every stored FC resource of some accounts, and the code packages
they name, in one zip file that recreates them in another emulator (another data dir, database or machine).

The file (`.zip`):
    manifest.json       {"format": "fc-emulator-snapshot", "version": 1, "exportedAt", "emulatorVersion",
                         "accounts": [...], "counts": {kind: n}, "missingCode": [...]}
    resources.json      [{"account", "kind", "parent", "name", "body", "etag", "createdTime", "lastModifiedTime"}]
    code/<crc64>.zip    each code package a function, a published version or a layer version names

Resources are rows of the one resources table (store/resources.py: services, functions, triggers,
versions, aliases, custom domains, layers, every config, tags, counters) taken as they are, with
their etags and times, so an SDK's If-Match and version numbering carry over. FC 3.0 functions are
rows there too (the hidden service `fc3:F`, model/names.py). Invocation records, the async queue and
destination deliveries are activity, not state: not exported.
"""
from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from emulator import __version__, errors
from emulator.store.code import CodeStore, crc64
from emulator.store.resources import ResourceRow

FORMAT, VERSION = "fc-emulator-snapshot", 1
MAX_ENTRIES = 1_000_000
_FIELDS = ("account", "kind", "parent", "name", "body", "etag", "createdTime", "lastModifiedTime")


def _checksums(value: Any) -> Iterator[str]:
    """Every `codeChecksum` in a body, however deep (a version's frozen functions hold theirs)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "codeChecksum" and isinstance(v, str) and v.isascii() and v.isdigit():
                yield v
            else:
                yield from _checksums(v)
    elif isinstance(value, list):
        for v in value:
            yield from _checksums(v)


def export(s: Session, code: CodeStore, accounts: list[str] | None) -> tuple[bytes, dict]:
    """(the snapshot file, its manifest) for `accounts`, or every account when None."""
    q = select(ResourceRow)
    if accounts is not None:
        q = q.where(ResourceRow.account_id.in_(accounts))
    rows = list(s.scalars(q.order_by(ResourceRow.account_id, ResourceRow.kind, ResourceRow.parent, ResourceRow.name)))
    entries = [{"account": r.account_id, "kind": r.kind, "parent": r.parent, "name": r.name, "body": r.body,
                "etag": r.etag, "createdTime": r.created_time.isoformat(),
                "lastModifiedTime": r.last_modified_time.isoformat()} for r in rows]
    sums = sorted({c for r in rows for c in _checksums(r.body)})
    missing = [c for c in sums if not code.exists(c)]
    manifest = {"format": FORMAT, "version": VERSION,
                "exportedAt": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "emulatorVersion": __version__,
                "accounts": sorted({r.account_id for r in rows} | set(accounts or [])),
                "counts": dict(sorted(Counter(r.kind for r in rows).items())), "missingCode": missing}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2), zipfile.ZIP_DEFLATED)
        zf.writestr("resources.json", json.dumps(entries), zipfile.ZIP_DEFLATED)
        for c in sums:
            if c not in missing:
                zf.write(code.path(c), f"code/{c}.zip", zipfile.ZIP_STORED)  # zips: compressing again gains nothing
    return buf.getvalue(), manifest


class Snapshot:
    """A snapshot file, read and checked (nothing written yet)."""

    def __init__(self, data: bytes, code: CodeStore):
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
            manifest = json.loads(zf.read("manifest.json"))
            entries = json.loads(zf.read("resources.json"))
        except (zipfile.BadZipFile, KeyError, ValueError, UnicodeDecodeError) as exc:
            raise errors.invalid_argument(f"not an fc-emulator snapshot file: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise errors.invalid_argument("not an fc-emulator snapshot file: manifest.json has no "
                                          f"\"format\": \"{FORMAT}\"")
        if manifest.get("version") != VERSION:
            raise errors.invalid_argument(f"snapshot version {manifest.get('version')!r} is not supported "
                                          f"(this emulator reads version {VERSION})")
        if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
            raise errors.invalid_argument("snapshot resources.json is not a list of resources")
        self.rows = [self._row(i, e) for i, e in enumerate(entries)]
        seen = set()
        for row in self.rows:
            key = (row.account_id, row.kind, row.parent, row.name)
            if key in seen:
                raise errors.invalid_argument(f"snapshot holds the {row.kind} '{row.parent}/{row.name}' twice")
            seen.add(key)
        accounts = manifest.get("accounts") or []
        if not isinstance(accounts, list) or not all(isinstance(a, str) and a for a in accounts):
            raise errors.invalid_argument("snapshot manifest.json: accounts must be a list of account ids")
        self.accounts = sorted(set(accounts) | {r.account_id for r in self.rows})
        self.code: dict[str, bytes] = {}
        for info in zf.infolist():
            if not info.filename.startswith("code/") or info.is_dir():
                continue
            checksum = info.filename[len("code/"):].removesuffix(".zip")
            package = zf.read(info)
            if crc64(package) != checksum:
                raise errors.invalid_argument(f"snapshot {info.filename} does not match its checksum")
            code.check_zip(package)  # the same rules as an upload
            self.code[checksum] = package

    @staticmethod
    def _row(i: int, e: Any) -> ResourceRow:
        if not isinstance(e, dict) or set(_FIELDS) - set(e):
            raise errors.invalid_argument(f"snapshot resource #{i} lacks some of {', '.join(_FIELDS)}")
        if not all(isinstance(e[k], str) for k in _FIELDS if k != "body") or not isinstance(e["body"], dict) \
                or not e["account"] or not e["kind"]:
            raise errors.invalid_argument(f"snapshot resource #{i} has a field of the wrong type")
        try:
            created, modified = (datetime.fromisoformat(e["createdTime"]), datetime.fromisoformat(e["lastModifiedTime"]))
        except ValueError:
            raise errors.invalid_argument(f"snapshot resource #{i} has an invalid time") from None
        return ResourceRow(account_id=e["account"], kind=e["kind"], parent=e["parent"], name=e["name"], body=e["body"],
                           etag=e["etag"], created_time=created.replace(tzinfo=None),
                           last_modified_time=modified.replace(tzinfo=None))

    def store_code(self, code: CodeStore) -> None:
        for checksum, package in self.code.items():
            code.put(package, checksum)

    def load(self, s: Session) -> dict[str, int]:
        """Insert the rows (the accounts were emptied first); counts by kind."""
        for row in self.rows:
            s.add(row)
        s.flush()
        return dict(sorted(Counter(r.kind for r in self.rows).items()))
