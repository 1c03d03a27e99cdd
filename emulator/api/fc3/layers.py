"""FC 3.0 layers (fc3-api.md §4.6, §8.3): the one layer store, through FC 2.0's handlers (api/layers.py).

What FC 3.0 changes is the Layer object: `acl` is a string ("0" private, "1" public), the ARN is
`layerVersionArn` (acs:fc:<region>:<uid>:layers/<name>/versions/<n>; FC 2.0's `<hash>#<name>#<n>` is not
shown), and `license` is kept. PutLayerACL takes `public=true|false` or `acl=0|1` and answers 204.
A layer published through either API is usable by functions of both.
"""
from __future__ import annotations

import json

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from emulator import errors
from emulator.api import layers as fc2
from emulator.api.fc3.auth import Ctx3, fc3_ctx
from emulator.api.fc3.wire import fc3_json, json_body, no_content, query_bool
from emulator.model.layer import ACL_PRIVATE, ACL_PUBLIC, LayerVersionCreate
from emulator.store import resources as res

router = APIRouter(tags=["FC 3.0 layers"])

_FC2_ONLY = ("arn", "arnV2", "codesize")
MAX_LICENSE = 2048


def layer_v3(layer: dict) -> dict:
    out = {k: v for k, v in layer.items() if k not in _FC2_ONLY}
    out["acl"] = str(layer.get("acl", ACL_PRIVATE))
    out["layerVersionArn"] = layer.get("arnV2")
    return out


def _body(response: Response) -> dict:
    return json.loads(response.body)


@router.post("/layers/{layer}/versions")
def create_layer_version(layer: str, ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    license_ = body.get("license")
    if license_ is not None and (not isinstance(license_, str) or len(license_) > MAX_LICENSE):
        raise errors.invalid_argument(f"license must be a string of at most {MAX_LICENSE} characters")
    code = body.get("code")
    checksum = code.get("checksum") if isinstance(code, dict) else None
    if checksum:  # FC 2.0's publish takes the checksum as a header: check it before anything is stored
        req = LayerVersionCreate.parse(body)
        if req.code is not None:
            try:
                ctx.request.app.state.code.prepare(req.code.given(), str(checksum))
            except errors.FCError as exc:
                if exc.code != "InvalidArgument":
                    raise
                raise errors.invalid_argument(exc.message.replace("X-Fc-Code-Checksum", "code.checksum")) from None
    out = _body(fc2.publish_layer_version(layer, ctx, body))
    if license_:
        with ctx.db.write() as s:  # the version exists now; FC 2.0's publish keeps an empty license
            row = res.get(s, ctx.account, "layer_version", out["layerName"], str(out["version"]))
            if row is not None:
                res.update(s, row, {**row.body, "license": license_})
                out["license"] = license_
    return fc3_json(layer_v3(out))


@router.get("/layers/{layer}/versions")
def list_layer_versions(layer: str, ctx: Ctx3 = Depends(fc3_ctx)):
    out = _body(fc2.list_layer_versions(layer, ctx))
    out["layers"] = [layer_v3(x) for x in out["layers"]]
    return fc3_json(out)


@router.get("/layers/{layer}/versions/{version}")
def get_layer_version(layer: str, version: str, ctx: Ctx3 = Depends(fc3_ctx)):
    return fc3_json(layer_v3(_body(fc2.get_layer_version(layer, version, ctx))))


@router.delete("/layers/{layer}/versions/{version}")
def delete_layer_version(layer: str, version: str, ctx: Ctx3 = Depends(fc3_ctx)):
    fc2.delete_layer_version(layer, version, ctx)
    return no_content()


@router.get("/layers")
def list_layers(ctx: Ctx3 = Depends(fc3_ctx)):
    out = _body(fc2.list_layers(ctx))
    out["layers"] = [layer_v3(x) for x in out["layers"]]
    return fc3_json(out)


@router.get("/layerarn/{arn:path}")
def get_layer_version_by_arn(arn: str, ctx: Ctx3 = Depends(fc3_ctx)):
    return fc3_json(layer_v3(_body(fc2.get_layer_version_by_arn(arn, ctx))))


@router.put("/layers/{layer}/acl")
def put_layer_acl(layer: str, ctx: Ctx3 = Depends(fc3_ctx)):
    public = query_bool(ctx.request, "public")
    raw_acl = ctx.request.query_params.get("acl") or ""
    if raw_acl and raw_acl not in ("0", "1"):
        raise errors.invalid_argument(f"acl is set to an invalid value (allowed: 0 | 1, actual: '{raw_acl[:40]}')")
    if raw_acl and public is not None and (raw_acl == "1") != public:
        raise errors.invalid_argument(f"acl={raw_acl} and public={str(public).lower()} disagree")
    if public is None and not raw_acl:
        raise errors.invalid_argument("public (true | false) or acl (0 | 1) is required")
    acl = ACL_PUBLIC if (public if public is not None else raw_acl == "1") else ACL_PRIVATE
    with ctx.db.write() as s:
        head = fc2._require_layer(s, ctx, layer)
        res.update(s, head, {**head.body, "acl": acl})
        for row in res.all_rows(s, ctx.account, "layer_version", layer):
            res.update(s, row, {**row.body, "acl": acl})
    return no_content()
