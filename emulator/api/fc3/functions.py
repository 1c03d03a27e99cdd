"""FC 3.0 functions (fc3-api.md §4.1, §5): Create/Get/Update/Delete/List and GetFunctionCode.

F is the engine pair (hidden service `fc3:F`, function F); an FC 2.0 pair (S, G) is shown and addressed
as `S$G` (read and invoke only: it is changed through the FC 2.0 API). Helpers other fc3 modules use:
`lookup` (the pair of a name, or FunctionNotFound), `function_view` (the Function object as of a
qualifier) and DELETE_HOOKS (stores of their own that die with the function).
"""
from __future__ import annotations

import uuid
from typing import Callable

from fastapi import APIRouter, Depends
from sqlalchemy import or_
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.fc3.auth import Ctx3, fc3_ctx
from emulator.api.fc3.function_fields import (WEB_RUNTIMES, Fc3FunctionCreate, Fc3FunctionFields, check_view,
                                              engine_function, engine_service, function_out, merge_view, view_of_fc2)
from emulator.api.fc3.wire import (engine_pair, fc3_json, fc3_name, function_arn, json_body, no_content,
                                   page_params, paged, qualifier_of, query_json_list)
from emulator.model import runtimes
from emulator.model.names import check_name, fc3_service, is_fc3_service
from emulator.model.service import SERVICE_DEFAULTS
from emulator.store import layers as layer_store
from emulator.store import resources as res
from emulator.store import snapshots
from emulator.store.code import Package

router = APIRouter(tags=["fc3-functions"])

# Called inside DeleteFunction's write transaction with (session, account, service, function): stores
# kept outside the rows this module removes (everything under the hidden service) drop theirs here.
DELETE_HOOKS: list[Callable[[Session, str, str, str], None]] = []


def function_not_found(name: str) -> errors.FCError:
    return errors.FCError(404, "FunctionNotFound", f"function '{name}' does not exist")


def lookup(s: Session, account: str, name: str) -> tuple[str, str, res.ResourceRow, res.ResourceRow]:
    """(service, function, service row, function row) of a live FC 3.0 name, or FunctionNotFound."""
    svc, fn = engine_pair(name)
    svc_row = res.get(s, account, "service", "", svc)
    fn_row = res.get(s, account, "function", svc, fn) if svc_row is not None else None
    if fn_row is None:
        raise function_not_found(name)
    return svc, fn, svc_row, fn_row


def _snapshot(s: Session, account: str, name: str, qualifier: str) -> tuple[snapshots.Snapshot, dict]:
    svc, fn = engine_pair(name)
    try:
        snap = snapshots.resolve(s, account, svc, qualifier)
        body, _ = snap.function(s, fn)
    except errors.FCError as exc:
        if exc.code in ("ServiceNotFound", "FunctionNotFound"):
            raise function_not_found(name) from None
        raise
    return snap, body


def _layer_objects(s: Session, account: str, arns: list[str]) -> list[dict]:
    out = []
    for arn in arns:
        row = layer_store.find(s, account, arn)
        out.append({"arn": arn, "size": int(row.body.get("codeSize", 0)) if row else 0})
    return out


def function_view(s: Session, ctx: Ctx3, name: str, qualifier: str = "LATEST", listing: bool = False) -> dict:
    """The Function object of `name` as of `qualifier` (§5.3)."""
    snap, body = _snapshot(s, ctx.account, name, qualifier)
    live = res.get(s, ctx.account, "service", "", snap.service)
    tags = (live.body.get("_tags") if live is not None else None) or None
    if "fc3" in body:
        view = body["fc3"]
    else:
        view = view_of_fc2(snap.service_out(), body, _layer_objects(s, ctx.account, body.get("layersArnV2") or []))
    return function_out(view, body, name=name, arn=function_arn(ctx.region, ctx.account, name), tags=tags,
                        listing=listing)


def _check_tags(tags: list[dict] | None) -> dict:
    out = {}
    for tag in tags or []:
        key, value = tag.get("Key", tag.get("key")), tag.get("Value", tag.get("value", ""))
        if not isinstance(key, str) or not key or len(key) > 64 or key.startswith(("aliyun", "acs:")):
            raise errors.invalid_argument(f"tag key '{str(key)[:100]}' is invalid: 1 to 64 characters, not starting "
                                          f"with 'aliyun' or 'acs:'")
        if not isinstance(value, str) or len(value) > 128:
            raise errors.invalid_argument(f"the value of tag '{key}' is invalid: a string of at most 128 characters")
        out[key] = value
    if len(out) > 20:
        raise errors.invalid_argument(f"a resource can have at most 20 tags (actual: {len(out)})")
    return out


def _package(ctx: Ctx3, req: Fc3FunctionFields) -> Package | None:
    """The checked zip (fetched before any lock is taken); `code.checksum` must be its CRC-64."""
    if req.code is None:
        return None
    location = req.code.location()
    if not location:
        raise errors.invalid_argument("code must name a zipFile or an ossBucketName and ossObjectName")
    pkg = ctx.request.app.state.code.prepare(location)
    if req.code.checksum and req.code.checksum.strip() != pkg.checksum:
        raise errors.invalid_argument(f"code.checksum ({req.code.checksum.strip()[:40]}) does not match the "
                                      f"package's CRC-64 ({pkg.checksum})")
    return pkg


def _apply_layers(s: Session, ctx: Ctx3, view: dict, fn: dict) -> None:
    """`layers` (ARNs in) must name stored layer versions: the engine gets both ARN forms, the view
    keeps `[{arn, size}]` as FC 3.0 answers them."""
    arns, v2, shown = [], [], []
    for item in view.get("layers") or []:
        value = item["arn"] if isinstance(item, dict) else item
        row = layer_store.resolve(s, ctx.account, value)
        arns.append(row.body["arn"])
        v2.append(row.body["arnV2"])
        shown.append({"arn": row.body["arnV2"], "size": int(row.body.get("codeSize", 0))})
    fn["layers"], fn["layersArnV2"] = arns, v2
    if shown:
        view["layers"] = shown
    else:
        view.pop("layers", None)


def _put_code(ctx: Ctx3, fn: dict, pkg: Package | None) -> None:
    if pkg is not None:  # written last, once every rule passed: a refused request stores nothing
        fn["codeChecksum"], fn["codeSize"] = ctx.request.app.state.code.put(pkg.data, pkg.checksum)


def _out(ctx: Ctx3, name: str, view: dict, fn_row: res.ResourceRow, tags: dict | None):
    return fc3_json(function_out(view, fn_row.out(), name=name, arn=function_arn(ctx.region, ctx.account, name),
                                 tags=tags or None))


@router.post("/functions")
def create_function(ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    req = Fc3FunctionCreate.parse(body)
    name = check_name("function", req.functionName)
    view = merge_view({}, req)
    if view.get("runtime") in WEB_RUNTIMES and not view.get("handler"):
        view["handler"] = "index.handler"  # meaningless there; FC 2.0 fills it the same way
    if req.code is not None and req.customContainerConfig is not None:
        raise errors.invalid_argument("code and customContainerConfig cannot both be set")
    check_view(view)
    if view["runtime"] != runtimes.CONTAINER and req.code is None:
        raise errors.invalid_argument("code is required")
    tags = _check_tags(req.tags)
    svc = fc3_service(name)
    pkg = _package(ctx, req)
    with ctx.db.write() as s:
        conflict = lambda: errors.already_exists("FunctionAlreadyExists", f"function '{name}' already exists")  # noqa: E731
        if res.get(s, ctx.account, "service", "", svc) is not None:
            raise conflict()
        fn = engine_function(view)
        _apply_layers(s, ctx, view, fn)
        _put_code(ctx, fn, pkg)
        fn.update(functionId=str(uuid.uuid4()), functionName=name, fc3=view, fc3Serial=1)
        svc_body = engine_service(view, {**SERVICE_DEFAULTS, "serviceName": svc, "serviceId": str(uuid.uuid4())})
        if tags:
            svc_body["_tags"] = tags  # where FC 2.0 keeps a service's tags: the function's resource here
        res.insert(s, ctx.account, "service", "", svc, svc_body, conflict)
        row = res.insert(s, ctx.account, "function", svc, name, fn, conflict)
        return _out(ctx, name, view, row, tags)


@router.get("/functions/{function}")
def get_function(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.read() as s:
        return fc3_json(function_view(s, ctx, function, qualifier_of(ctx.request)))


def _fc3_only(name: str, svc: str) -> None:
    if not is_fc3_service(svc):
        raise errors.invalid_argument(f"function '{name}' is an FC 2.0 function (service '{svc}'): change it "
                                      f"through the FC 2.0 API (/2021-04-06/services/{svc}/...)")


@router.put("/functions/{function}")
def update_function(function: str, ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    req = Fc3FunctionFields.parse(body)
    with ctx.db.read() as s:  # a missing function is reported before the zip is looked at
        svc, _, _, _ = lookup(s, ctx.account, function)
    _fc3_only(function, svc)
    pkg = _package(ctx, req)
    with ctx.db.write() as s:
        svc, fn_name, svc_row, fn_row = lookup(s, ctx.account, function)
        stored = fn_row.body["fc3"]
        view = merge_view(stored, req)
        if req.runtime is not None and req.runtime != stored.get("runtime") and (
                runtimes.CONTAINER in (req.runtime, stored.get("runtime"))):
            raise errors.invalid_argument("runtime cannot be changed to or from custom-container")
        check_view(view)
        if pkg is not None and view["runtime"] == runtimes.CONTAINER:
            raise errors.invalid_argument("code cannot be set for runtime custom-container")
        fn = engine_function(view, fn_row.body)
        if req.layers is not None:
            _apply_layers(s, ctx, view, fn)
        _put_code(ctx, fn, pkg)
        # every successful update counts as a change for PublishFunctionVersion (§4.2)
        fn.update(fc3=view, fc3Serial=int(fn_row.body.get("fc3Serial", 0)) + 1)
        svc_body = engine_service(view, svc_row.body)
        if svc_body != svc_row.body:
            res.update(s, svc_row, svc_body)
        fn_row = res.update(s, fn_row, fn)
        return _out(ctx, function, view, fn_row, svc_row.body.get("_tags"))


@router.delete("/functions/{function}")
def delete_function(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.write() as s:
        svc, fn, svc_row, fn_row = lookup(s, ctx.account, function)
        _fc3_only(function, svc)
        if res.count(s, ctx.account, "trigger", f"{svc}/{fn}"):
            raise errors.not_empty("FunctionNotEmpty", f"function '{function}' has triggers: delete them first")
        for hook in DELETE_HOOKS:
            hook(s, ctx.account, svc, fn)
        _drop_everything_of(s, ctx.account, svc, fn)
    return no_content()


def _drop_everything_of(s: Session, account: str, svc: str, fn: str) -> None:
    """The hidden service goes with its function: versions, aliases, configs, the version counter."""
    rows = s.query(res.ResourceRow).filter(
        res.ResourceRow.account_id == account,
        or_(res.ResourceRow.parent == svc, res.ResourceRow.parent.startswith(svc + "/", autoescape=True))).all()
    rows += [r for r in res.all_rows(s, account, "on_demand", "")
             if r.name.startswith(f"services/{svc}.") and r.name.endswith(f"/functions/{fn}")]
    rows += [r for r in res.all_rows(s, account, "provision", "") if r.name.split("#")[1:2] == [svc]]
    for row in rows:
        s.delete(row)
    s.flush()
    res.drop_counter(s, account, "version", svc)
    svc_row = res.get(s, account, "service", "", svc)
    if svc_row is not None:
        res.delete(s, svc_row)


def _matches(ctx: Ctx3, view: dict, svc_body: dict, tags: list | None) -> bool:
    q = ctx.request.query_params
    if q.get("runtime") and view.get("runtime") != q["runtime"]:
        return False
    if q.get("description") and q["description"] not in (view.get("description") or ""):
        return False
    if q.get("resourceGroupId") and view.get("resourceGroupId", "rg-default") != q["resourceGroupId"]:
        return False
    if q.get("gpuType") and (view.get("gpuConfig") or {}).get("gpuType") != q["gpuType"]:
        return False
    have = svc_body.get("_tags") or {}
    return all(isinstance(t, dict) and have.get(t.get("Key")) == t.get("Value") for t in tags or [])


@router.get("/functions")
def list_functions(ctx: Ctx3 = Depends(fc3_ctx)):
    p = page_params(ctx.request)
    q = ctx.request.query_params
    fc_version = q.get("fcVersion") or ""
    if fc_version not in ("", "v2", "v3"):
        raise errors.invalid_argument(f"fcVersion is set to an invalid value (allowed: v2 | v3, actual: "
                                      f"'{fc_version[:40]}')")
    tags = query_json_list(ctx.request, "tags")
    wanted_name = q.get("functionName") or ""
    with ctx.db.read() as s:
        services = {r.name: r for r in res.all_rows(s, ctx.account, "service", "")}
        names = []
        for row in res.all_rows(s, ctx.account, "function"):
            v3 = is_fc3_service(row.parent)
            if (fc_version == "v3" and not v3) or (fc_version == "v2" and v3) or row.parent not in services:
                continue
            name = fc3_name(row.parent, row.name)
            if wanted_name and wanted_name not in name:
                continue
            names.append(name)
        items = []
        for name in sorted(names):
            if not name.startswith(p.prefix) or (p.next_token and name < p.next_token):
                continue
            svc, _ = engine_pair(name)
            view = function_view(s, ctx, name, listing=True)
            if not _matches(ctx, view, services[svc].body, tags):
                continue
            items.append(view)
            if len(items) > p.limit:
                break
    token = items[p.limit]["functionName"] if len(items) > p.limit else None
    for item in items:
        item.pop("state", None)
        item.pop("lastUpdateStatus", None)
    return fc3_json(paged("functions", items[:p.limit], token))


@router.get("/functions/{function}/code")
def get_function_code(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.read() as s:
        _, body = _snapshot(s, ctx.account, function, qualifier_of(ctx.request))
    checksum = body.get("codeChecksum") or ""
    if not checksum:
        raise errors.invalid_argument(f"function '{function}' has no code package (runtime custom-container)")
    return fc3_json({"url": ctx.request.app.state.code.download_url(checksum), "checksum": checksum})
