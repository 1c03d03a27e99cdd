"""Aliases: CRUD under /services/{svc}/aliases (fc-api.md §2.6). An alias names a version and
optional canary versions with weights; GET /services/{svc}.{alias} resolves through it."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.context import Ctx, fc_ctx
from emulator.api.wire import check_if_match, fc_json, json_body, no_content, page_params, paged
from emulator.model.alias import ALIAS_DEFAULTS, AliasCreate, AliasFields, go_weights
from emulator.model.names import check_name
from emulator.store import resources as res

router = APIRouter(tags=["aliases"])


def _require_service(s: Session, ctx: Ctx, svc: str) -> res.ResourceRow:
    return res.require(s, ctx.account, "service", "", svc, lambda: errors.service_not_found(svc))


def _require_alias(s: Session, ctx: Ctx, svc: str, alias: str) -> res.ResourceRow:
    return res.require(s, ctx.account, "alias", svc, alias, lambda: errors.alias_not_found(svc, alias))


def check_alias_versions(s: Session, account: str, svc: str, data: dict, missing) -> None:
    """The merged alias must point at stored versions, and not weight its own main version (both APIs);
    `missing(version)` is the API's VersionNotFound error."""
    main = data.get("versionId")
    if not main:
        raise errors.invalid_argument("versionId is required")
    weights = data.get("additionalVersionWeight") or {}
    if main in weights:
        raise errors.additional_version_contains_major(go_weights(weights), main)
    for version in (main, *weights):
        res.require(s, account, "version", svc, version, lambda v=version: missing(v))


@router.post("/services/{service}/aliases")
def create_alias(service: str, ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    req = AliasCreate.parse(body)
    name = check_name("alias", req.aliasName)
    data = req.merged_into({"aliasName": name, "versionId": None, **ALIAS_DEFAULTS})
    data.pop("aliasName", None)
    data = {"aliasName": name, **data}
    with ctx.db.write() as s:
        _require_service(s, ctx, service)
        check_alias_versions(s, ctx.account, service, data, lambda v: errors.version_not_found(service, v))
        row = res.insert(s, ctx.account, "alias", service, name, data, lambda: errors.already_exists(
            "AliasAlreadyExists", f"alias '{name}' already exists in service '{service}'"))
        return fc_json(row.out(), row.etag)


@router.get("/services/{service}/aliases")
def list_aliases(service: str, ctx: Ctx = Depends(fc_ctx)):
    p = page_params(ctx.request)
    with ctx.db.read() as s:
        _require_service(s, ctx, service)
        rows, token = res.page(s, ctx.account, "alias", service, p)
        return fc_json(paged("aliases", [r.out() for r in rows], token))


@router.get("/services/{service}/aliases/{alias}")
def get_alias(service: str, alias: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.read() as s:
        _require_service(s, ctx, service)
        row = _require_alias(s, ctx, service, alias)
        return fc_json(row.out(), row.etag)


@router.put("/services/{service}/aliases/{alias}")
def update_alias(service: str, alias: str, ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    req = AliasFields.parse(body)
    with ctx.db.write() as s:
        _require_service(s, ctx, service)
        row = _require_alias(s, ctx, service, alias)
        check_if_match(ctx.request, row.etag)
        data = req.merged_into(row.body)
        check_alias_versions(s, ctx.account, service, data, lambda v: errors.version_not_found(service, v))
        row = res.update(s, row, data)
        return fc_json(row.out(), row.etag)


@router.delete("/services/{service}/aliases/{alias}")
def delete_alias(service: str, alias: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.write() as s:
        _require_service(s, ctx, service)
        row = _require_alias(s, ctx, service, alias)
        check_if_match(ctx.request, row.etag)
        res.delete(s, row)
    return no_content()
