"""Layers: publish/list/get/delete versions, list layers, get by ARN, ACL (fc-api.md §2.11).

A `layer` row exists while the layer has versions and holds its ACL; each version is a
`layer_version` row under the layer's name. Version numbers come from a counter that is never
dropped, so a number is never reused, even after every version was deleted.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.context import Ctx, fc_ctx
from emulator.api.wire import fc_json, json_body, no_content, page_params, paged
from emulator.model.layer import ACL_PRIVATE, ACL_PUBLIC, LayerVersionCreate, layer_out
from emulator.model.names import check_name
from emulator.model.numbers import parse_int
from emulator.store import layers as layer_store
from emulator.store import resources as res

router = APIRouter(tags=["layers"])


def _out(ctx: Ctx, row: res.ResourceRow) -> dict:
    url = ctx.request.app.state.code.download_url(row.body["codeChecksum"])
    return layer_out(row.out(created="createTime", modified=None), url)


def _require_layer(s: Session, ctx: Ctx, name: str) -> res.ResourceRow:
    return res.require(s, ctx.account, "layer", "", name, lambda: errors.layer_not_found(name))


def _require_version(s: Session, ctx: Ctx, name: str, version: str) -> res.ResourceRow:
    return res.require(s, ctx.account, "layer_version", name, version,
                       lambda: errors.layer_version_not_found(name, version))


def _versions(s: Session, ctx: Ctx, name: str) -> list[res.ResourceRow]:
    """A layer's versions in numeric order (names are decimal strings, so not byte order)."""
    return sorted(res.all_rows(s, ctx.account, "layer_version", name), key=lambda r: int(r.name))


def _flag(ctx: Ctx, *names: str) -> bool | None:
    """A boolean query parameter (`true`/`false`) under any of `names`; None when absent."""
    for name in names:
        raw = ctx.request.query_params.get(name)
        if raw:
            if raw.lower() not in ("true", "false"):
                raise errors.invalid_argument(f"{name} is set to an invalid value (allowed: true | false, "
                                              f"actual: '{raw}')")
            return raw.lower() == "true"
    return None


@router.post("/layers/{layer}/versions")
def publish_layer_version(layer: str, ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    name = check_name("layer", layer)
    req = LayerVersionCreate.parse(body)
    if req.code is None:
        raise errors.invalid_argument("code is required")
    code = ctx.request.app.state.code
    pkg = code.prepare(req.code.given(), ctx.request.headers.get("x-fc-code-checksum"))
    with ctx.db.write() as s:
        head = res.get(s, ctx.account, "layer", "", name)
        if head is None:
            head = res.insert(s, ctx.account, "layer", "", name, {"layerName": name, "acl": ACL_PRIVATE},
                              lambda: errors.internal_error())
        version = res.next_id(s, ctx.account, "layer_version", name)
        checksum, size = code.put(pkg.data, pkg.checksum)
        data = {
            "layerName": name, "version": version, "description": req.description,
            "codeSize": size, "codeChecksum": checksum, "compatibleRuntime": req.compatibleRuntime,
            "acl": head.body["acl"], "arn": layer_store.arn(ctx.account, name, version),
            "arnV2": layer_store.arn_v2(ctx.settings.region, ctx.account, name, version), "license": "",
        }
        row = res.insert(s, ctx.account, "layer_version", name, str(version), data, lambda: errors.internal_error())
        out = _out(ctx, row)
    out["codesize"] = size  # the 2021 SDK's CreateLayerVersion response model reads this spelling
    return fc_json(out)


@router.get("/layers/{layer}/versions")
def list_layer_versions(layer: str, ctx: Ctx = Depends(fc_ctx)):
    p = page_params(ctx.request)
    raw = ctx.request.query_params.get("startVersion") or "1"
    start = parse_int(raw)
    if start is None or start < 1:
        raise errors.invalid_argument(f"startVersion is set to an invalid value (actual: '{raw[:100]}')")
    with ctx.db.read() as s:
        _require_layer(s, ctx, layer)
        rows = [r for r in _versions(s, ctx, layer) if int(r.name) >= start]
        items = [_out(ctx, r) for r in rows[:p.limit]]
    body = {"layers": items}
    if len(rows) > p.limit:
        body["nextVersion"] = int(rows[p.limit].name)
    return fc_json(body)


@router.get("/layers/{layer}/versions/{version}")
def get_layer_version(layer: str, version: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.read() as s:
        return fc_json(_out(ctx, _require_version(s, ctx, layer, version)))


@router.delete("/layers/{layer}/versions/{version}")
def delete_layer_version(layer: str, version: str, ctx: Ctx = Depends(fc_ctx)):
    # Functions that use the version keep it in their `layers` (as in FC, deleting does not touch them).
    with ctx.db.write() as s:
        res.delete(s, _require_version(s, ctx, layer, version))
        if not res.count(s, ctx.account, "layer_version", layer):
            head = res.get(s, ctx.account, "layer", "", layer)
            if head is not None:
                res.delete(s, head)
    return no_content()


@router.get("/layers")
def list_layers(ctx: Ctx = Depends(fc_ctx)):
    """Each layer shown as its newest version, in name order."""
    p = page_params(ctx.request)
    public = _flag(ctx, "public", "isPublic")
    if _flag(ctx, "official"):
        return fc_json(paged("layers", [], None))  # the emulator has no official (Alibaba-owned) layers
    with ctx.db.read() as s:
        if not public:
            heads, token = res.page(s, ctx.account, "layer", "", p)
        else:
            heads, token = res.page_in_memory([h for h in res.all_rows(s, ctx.account, "layer", "")
                                               if h.body.get("acl") == ACL_PUBLIC], lambda h: h.name, p)
        items = []
        for head in heads:
            versions = _versions(s, ctx, head.name)
            if versions:
                items.append(_out(ctx, versions[-1]))
    return fc_json(paged("layers", items, token))


@router.get("/layerarn/{arn:path}")
def get_layer_version_by_arn(arn: str, ctx: Ctx = Depends(fc_ctx)):
    name, version = layer_store.parse_arn(arn)
    with ctx.db.read() as s:
        row = layer_store.find(s, ctx.account, arn)
        if row is None:
            raise errors.layer_version_not_found(name, version)
        return fc_json(_out(ctx, row))


@router.put("/layers/{layer}/acl")
def put_layer_acl(layer: str, ctx: Ctx = Depends(fc_ctx)):
    public = _flag(ctx, "public")
    if public is None:
        raise errors.invalid_argument("public is required (true | false)")
    acl = ACL_PUBLIC if public else ACL_PRIVATE
    with ctx.db.write() as s:
        head = _require_layer(s, ctx, layer)
        res.update(s, head, {**head.body, "acl": acl})
        for row in res.all_rows(s, ctx.account, "layer_version", layer):
            res.update(s, row, {**row.body, "acl": acl})
    return Response(status_code=200)
