"""FC 3.0 function versions (fc3-api.md §4.2): the versions of the function's hidden service, so a version
freezes the function with every service-level setting (store/snapshots.py), ids never reused.

Unlike FC 2.0, every successful Create/UpdateFunction counts as a change (the function row's
`fc3Serial` moves), so publishing right after an update with identical values succeeds (§4.2).
"""
from __future__ import annotations

from fastapi import APIRouter, Depends

from emulator import errors
from emulator.api.fc3.auth import Ctx3, fc3_ctx
from emulator.api.fc3.functions import lookup
from emulator.api.fc3.wire import fc3_json, json_body, no_content, page_params, paged
from emulator.model.numbers import is_decimal
from emulator.model.version import DIRECTIONS, VersionCreate
from emulator.store import resources as res
from emulator.store import snapshots

router = APIRouter(tags=["fc3-versions"])


def version_out(row: res.ResourceRow) -> dict:
    body = row.out()
    return {k: body[k] for k in ("versionId", "description", "createdTime", "lastModifiedTime")}


def _versions(s, account: str, svc: str) -> list[res.ResourceRow]:
    return sorted(res.all_rows(s, account, "version", svc), key=lambda r: int(r.name))


@router.post("/functions/{function}/versions")
def publish_version(function: str, ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    req = VersionCreate.parse(body)
    with ctx.db.write() as s:
        svc, _, svc_row, _ = lookup(s, ctx.account, function)
        frozen = snapshots.freeze(s, ctx.account, svc_row)
        existing = _versions(s, ctx.account, svc)
        if existing and snapshots.same_config(existing[-1].body["_frozen"], frozen):
            raise errors.invalid_argument(f"function '{function}' has not changed since version "
                                          f"'{existing[-1].name}': publish after an UpdateFunction")
        version_id = str(res.next_id(s, ctx.account, "version", svc))
        data = {"versionId": version_id, "description": req.description or "", "_frozen": frozen}
        row = res.insert(s, ctx.account, "version", svc, version_id, data, errors.internal_error)
        return fc3_json(version_out(row))


@router.get("/functions/{function}/versions")
def list_versions(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    p = page_params(ctx.request)
    direction = ctx.request.query_params.get("direction") or "BACKWARD"
    if direction not in DIRECTIONS:
        raise errors.invalid_argument(f"direction is set to an invalid value (allowed: BACKWARD | FORWARD, "
                                      f"actual: '{direction[:40]}')")
    if p.next_token and not is_decimal(p.next_token):
        raise errors.invalid_argument(f"nextToken '{p.next_token[:100]}' is not a version id")
    with ctx.db.read() as s:
        svc, _, _, _ = lookup(s, ctx.account, function)
        rows = _versions(s, ctx.account, svc)
    if direction == "BACKWARD":
        rows.reverse()
    if p.next_token:  # inclusive, in the listing's direction
        bound = int(p.next_token)
        rows = [r for r in rows if (int(r.name) >= bound if direction == "FORWARD" else int(r.name) <= bound)]
    token = rows[p.limit].name if len(rows) > p.limit else None
    return fc3_json(paged("versions", [version_out(r) for r in rows[:p.limit]], token, direction=direction))


@router.delete("/functions/{function}/versions/{version_id}")
def delete_version(function: str, version_id: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.write() as s:
        svc, _, _, _ = lookup(s, ctx.account, function)
        row = res.require(s, ctx.account, "version", svc, version_id, lambda: errors.FCError(
            404, "VersionNotFound", f"version '{version_id}' of function '{function}' does not exist"))
        # as FC 2.0: aliases may be left naming it (calls through them then get VersionNotFound)
        res.delete(s, row)
    return no_content()
