"""Qualifiers (fc-api.md §0, §2.6): LATEST is live, a version is a frozen snapshot of the
service and all its functions, and an alias points at a version (plus weighted extras).

Everything that reads "the service/function as of qualifier q" goes through `resolve`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from emulator import errors
from emulator.store import resources as res

LATEST = "LATEST"


@dataclass
class Snapshot:
    account: str
    service: str
    qualifier: str  # what the caller named: LATEST, a version id or an alias
    version_id: str  # what it resolved to: LATEST or a version id
    service_body: dict  # FC's Service object (times included)
    service_etag: str
    alias: dict | None = None  # the alias object when the qualifier named one
    _frozen_functions: dict | None = field(default=None, repr=False)  # name -> Function object (versions)

    @property
    def is_latest(self) -> bool:
        return self.version_id == LATEST

    def service_out(self) -> dict:
        return dict(self.service_body)

    def function(self, s: Session, name: str) -> tuple[dict, str]:
        """(Function object, etag) as of this qualifier, or FunctionNotFound."""
        if self._frozen_functions is None:
            row = res.require(s, self.account, "function", self.service, name,
                              lambda: errors.function_not_found(self.service, name))
            return row.out(), row.etag
        fn = self._frozen_functions.get(name)
        if fn is None:
            raise errors.function_not_found(self.service, name)
        return dict(fn["body"]), fn["etag"]

    def functions(self, s: Session, p: res.Page) -> tuple[list[dict], str | None]:
        if self._frozen_functions is None:
            rows, token = res.page(s, self.account, "function", self.service, p)
            return [r.out() for r in rows], token
        names, token = res.page_in_memory(sorted(self._frozen_functions), lambda n: n, p)
        return [dict(self._frozen_functions[n]["body"]) for n in names], token


def freeze(s: Session, account: str, service_row: res.ResourceRow) -> dict:
    """What a published version keeps: the service and every function, with their etags."""
    functions = {r.name: {"body": r.out(), "etag": r.etag}
                 for r in res.all_rows(s, account, "function", service_row.name)}
    return {"service": {"body": service_row.out(), "etag": service_row.etag}, "functions": functions}


def resolve(s: Session, account: str, service: str, qualifier: str | None) -> Snapshot:
    row = res.require(s, account, "service", "", service, lambda: errors.service_not_found(service))
    q = qualifier or LATEST
    if q == LATEST:
        return Snapshot(account, service, q, LATEST, row.out(), row.etag)
    alias = None
    version_id = q
    if not q.isdigit():
        alias_row = res.require(s, account, "alias", service, q, lambda: errors.alias_not_found(service, q))
        alias = alias_row.out()
        version_id = str(alias["versionId"])
    version = res.require(s, account, "version", service, version_id,
                          lambda: errors.version_not_found(service, version_id))
    frozen = version.body["_frozen"]
    return Snapshot(account, service, q, version_id, dict(frozen["service"]["body"]),
                    frozen["service"]["etag"], alias=alias, _frozen_functions=frozen["functions"])


def _config(frozen: dict) -> dict:
    """A frozen snapshot without modification times, for "did anything change?" checks."""
    def strip(body: dict) -> dict:
        return {k: v for k, v in body.items() if k != "lastModifiedTime"}
    return {"service": strip(frozen["service"]["body"]),
            "functions": {n: strip(f["body"]) for n, f in frozen["functions"].items()}}


def same_config(a: dict, b: dict) -> bool:
    """True when two `freeze` results hold the same service and function configuration and code."""
    return _config(a) == _config(b)


def pick_version(alias: dict, rnd: float) -> str:
    """The version an invocation through `alias` runs: each additionalVersionWeight entry takes its
    share of the draw `rnd` (uniform in [0, 1)), the alias's own versionId takes the rest."""
    edge = 0.0
    weights = alias.get("additionalVersionWeight") or {}
    for version, weight in sorted(weights.items(), key=lambda kv: (len(kv[0]), kv[0])):  # numeric order
        edge += weight
        if rnd < edge:
            return str(version)
    return str(alias["versionId"])


def resolve_for_invoke(s: Session, account: str, service: str, qualifier: str | None, rnd: float) -> Snapshot:
    """Like `resolve`, but an alias with weights is resolved to the version drawn by `pick_version`
    (the alias object stays on the Snapshot)."""
    snap = resolve(s, account, service, qualifier)
    if snap.alias is None:
        return snap
    version_id = pick_version(snap.alias, rnd)
    if version_id == snap.version_id:
        return snap
    picked = resolve(s, account, service, version_id)
    picked.qualifier, picked.alias = snap.qualifier, snap.alias
    return picked
