"""Service versions: publish, list, delete (fc-api.md §2.6). A version is a frozen snapshot of
the service and all its functions (store/snapshots.py); ids count from 1 and are never reused."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.context import Ctx, fc_ctx
from emulator.api.wire import check_if_match, fc_json, json_body, no_content, page_params, paged
from emulator.model.version import DIRECTIONS, VersionCreate
from emulator.model.numbers import is_decimal
from emulator.store import resources as res
from emulator.store import snapshots

router = APIRouter(tags=["versions"])


def _require_service(s: Session, ctx: Ctx, svc: str) -> res.ResourceRow:
    return res.require(s, ctx.account, "service", "", svc, lambda: errors.service_not_found(svc))


def _versions(s: Session, ctx: Ctx, svc: str) -> list[res.ResourceRow]:
    """Every version of `svc`, oldest first (ids are numbers, so not byte order)."""
    return sorted(res.all_rows(s, ctx.account, "version", svc), key=lambda r: int(r.name))


@router.post("/services/{service}/versions")
def publish_version(service: str, ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    req = VersionCreate.parse(body)
    with ctx.db.write() as s:
        row = _require_service(s, ctx, service)
        check_if_match(ctx.request, row.etag)
        frozen = snapshots.freeze(s, ctx.account, row)
        existing = _versions(s, ctx, service)
        if existing and snapshots.same_config(existing[-1].body["_frozen"], frozen):
            raise errors.invalid_argument(
                f"service '{service}' has not changed since version '{existing[-1].name}': "
                f"a new version can only be published after the service or a function has changed")
        version_id = str(res.next_id(s, ctx.account, "version", service))
        data = {"versionId": version_id, "description": req.description or "", "_frozen": frozen}
        vrow = res.insert(s, ctx.account, "version", service, version_id, data, errors.internal_error)
        return fc_json(vrow.out())


@router.get("/services/{service}/versions")
def list_versions(service: str, ctx: Ctx = Depends(fc_ctx)):
    p = page_params(ctx.request)
    direction = ctx.request.query_params.get("direction") or "BACKWARD"
    if direction not in DIRECTIONS:
        raise errors.invalid_argument(f"direction is set to an invalid value (allowed: BACKWARD, FORWARD, "
                                      f"actual: '{direction}')")
    bound = p.next_token or p.start_key
    if bound and not is_decimal(bound):
        raise errors.invalid_argument(f"startKey/nextToken '{bound[:100]}' is not a version id")
    with ctx.db.read() as s:
        _require_service(s, ctx, service)
        rows = _versions(s, ctx, service)
    if direction == "BACKWARD":
        rows.reverse()
    if bound:  # inclusive, in the listing's direction
        newer = direction == "FORWARD"
        rows = [r for r in rows if (int(r.name) >= int(bound) if newer else int(r.name) <= int(bound))]
    token = rows[p.limit].name if len(rows) > p.limit else None
    return fc_json(paged("versions", [r.out() for r in rows[:p.limit]], token, direction=direction))


@router.delete("/services/{service}/versions/{version_id}")
def delete_version(service: str, version_id: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.write() as s:
        _require_service(s, ctx, service)
        row = res.require(s, ctx.account, "version", service, version_id,
                          lambda: errors.version_not_found(service, version_id))
        # Like FC (its SDK tests delete versions before the aliases on them), an alias may be left
        # pointing at a deleted version; calls through it then get VersionNotFound.
        res.delete(s, row)
    return no_content()
