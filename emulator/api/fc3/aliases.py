"""FC 3.0 aliases (fc3-api.md §4.3): the aliases of the function's hidden service, with FC 2.0's rules
(not `LATEST`, versions must exist, weights 0..1 summing to at most 1, never the main version) and
weighted routing on invoke (store/snapshots.py `pick_version`)."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.aliases import check_alias_versions
from emulator.api.fc3.auth import Ctx3, fc3_ctx
from emulator.api.fc3.functions import lookup
from emulator.api.fc3.wire import fc3_json, json_body, no_content, page_params, paged
from emulator.model.alias import AliasCreate, AliasFields
from emulator.model.names import check_name
from emulator.store import resources as res

router = APIRouter(tags=["fc3-aliases"])

FIELDS = ("aliasName", "versionId", "description", "additionalVersionWeight", "createdTime", "lastModifiedTime")


def alias_out(row: res.ResourceRow) -> dict:
    body = row.out()
    return {k: body[k] for k in FIELDS if body.get(k) is not None}


def _require_alias(s: Session, account: str, svc: str, function: str, alias: str) -> res.ResourceRow:
    return res.require(s, account, "alias", svc, alias, lambda: errors.FCError(
        404, "AliasNotFound", f"alias '{alias}' of function '{function}' does not exist"))


def _check_versions(s: Session, account: str, svc: str, function: str, data: dict) -> None:
    check_alias_versions(s, account, svc, data, lambda v: errors.FCError(
        404, "VersionNotFound", f"version '{v}' of function '{function}' does not exist"))


def _fields(body: dict) -> dict:
    """FC 3.0 aliases have no resolvePolicy/routePolicy (FC 2.0's content routing)."""
    return {k: v for k, v in body.items() if k.lower() not in ("resolvepolicy", "routepolicy")}


@router.post("/functions/{function}/aliases")
def create_alias(function: str, ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    req = AliasCreate.parse(_fields(body))
    name = check_name("alias", req.aliasName)
    if req.versionId is not None and len(req.versionId) > 10:
        raise errors.invalid_argument(f"versionId '{req.versionId[:40]}' is invalid: 1 to 10 characters")
    data = {"aliasName": name, "versionId": req.versionId, "description": req.description or "",
            "additionalVersionWeight": req.additionalVersionWeight or None}
    with ctx.db.write() as s:
        svc, _, _, _ = lookup(s, ctx.account, function)
        _check_versions(s, ctx.account, svc, function, data)
        row = res.insert(s, ctx.account, "alias", svc, name, data, lambda: errors.already_exists(
            "AliasAlreadyExists", f"alias '{name}' already exists in function '{function}'"))
        return fc3_json(alias_out(row))


@router.get("/functions/{function}/aliases")
def list_aliases(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    p = page_params(ctx.request)
    with ctx.db.read() as s:
        svc, _, _, _ = lookup(s, ctx.account, function)
        rows, token = res.page(s, ctx.account, "alias", svc, p)
        return fc3_json(paged("aliases", [alias_out(r) for r in rows], token))


@router.get("/functions/{function}/aliases/{alias}")
def get_alias(function: str, alias: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.read() as s:
        svc, _, _, _ = lookup(s, ctx.account, function)
        return fc3_json(alias_out(_require_alias(s, ctx.account, svc, function, alias)))


@router.put("/functions/{function}/aliases/{alias}")
def update_alias(function: str, alias: str, ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    req = AliasFields.parse(_fields(body))
    with ctx.db.write() as s:
        svc, _, _, _ = lookup(s, ctx.account, function)
        row = _require_alias(s, ctx.account, svc, function, alias)
        data = req.merged_into(row.body, skip=("resolvePolicy", "routePolicy"))
        if data.get("additionalVersionWeight") == {}:
            data["additionalVersionWeight"] = None
        _check_versions(s, ctx.account, svc, function, data)
        row = res.update(s, row, data)
        return fc3_json(alias_out(row))


@router.delete("/functions/{function}/aliases/{alias}")
def delete_alias(function: str, alias: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.write() as s:
        svc, _, _, _ = lookup(s, ctx.account, function)
        res.delete(s, _require_alias(s, ctx.account, svc, function, alias))
    return no_content()
