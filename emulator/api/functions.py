"""Functions: CRUD and GetFunctionCode (fc-api.md §2.3)."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.context import Ctx, fc_ctx
from emulator.api.wire import check_if_match, fc_json, json_body, no_content, page_params, paged, split_qualifier
from emulator.model import runtimes
from emulator.model.function import (FUNCTION_DEFAULTS, Code, FunctionCreate, FunctionFields, apply_function_fields,
                                     check_function)
from emulator.model.names import check_name
from emulator.store import layers as layer_store
from emulator.store import resources as res
from emulator.store import snapshots
from emulator.store.code import Package

router = APIRouter(tags=["functions"])


def _require_service(s: Session, ctx: Ctx, svc: str) -> res.ResourceRow:
    return res.require(s, ctx.account, "service", "", svc, lambda: errors.service_not_found(svc))


def _require_function(s: Session, ctx: Ctx, svc: str, fn: str) -> res.ResourceRow:
    _require_service(s, ctx, svc)
    return res.require(s, ctx.account, "function", svc, fn, lambda: errors.function_not_found(svc, fn))


def _check_shape(data: dict) -> None:
    """Rules that need the merged function (create, or stored + update)."""
    runtime = data.get("runtime")
    if runtime == runtimes.CONTAINER:
        if not (data.get("customContainerConfig") or {}).get("image"):
            raise errors.invalid_argument("customContainerConfig.image is required for runtime custom-container")
    elif data.get("customContainerConfig"):
        raise errors.invalid_argument("customContainerConfig is only allowed with runtime custom-container")
    if not data.get("handler"):
        raise errors.invalid_argument("handler is required")
    check_function(data)


def _resolve_layers(s: Session, ctx: Ctx, data: dict) -> None:
    """`layers` must name stored layer versions; store them in ARN form with their V2 twins."""
    arns, v2 = [], []
    for value in data.get("layers") or []:
        row = layer_store.resolve(s, ctx.account, value)
        arns.append(row.body["arn"])
        v2.append(row.body["arnV2"])
    data["layers"], data["layersArnV2"] = arns, v2


def _package(ctx: Ctx, code: Code | None) -> Package | None:
    """The checked zip of the request (fetched and checked before any lock is taken)."""
    if code is None:
        return None
    return ctx.request.app.state.code.prepare(code.given(), ctx.request.headers.get("x-fc-code-checksum"))


def _put_code(ctx: Ctx, data: dict, pkg: Package) -> None:
    """Written last, once every rule has passed: a refused request stores nothing."""
    data["codeChecksum"], data["codeSize"] = ctx.request.app.state.code.put(pkg.data, pkg.checksum)


@router.post("/services/{service}/functions")
def create_function(service: str, ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    req = FunctionCreate.parse(body)
    name = check_name("function", req.functionName)
    if not req.runtime:
        raise errors.invalid_argument("runtime is required")
    data = apply_function_fields({**FUNCTION_DEFAULTS, "functionId": str(uuid.uuid4()), "functionName": name}, req)
    if req.runtime in runtimes.CUSTOM + (runtimes.CONTAINER,) and not data.get("handler"):
        data["handler"] = "index.handler"
    if req.code is not None and req.customContainerConfig is not None:
        raise errors.invalid_argument("code and customContainerConfig cannot both be set")
    _check_shape(data)
    if req.runtime != runtimes.CONTAINER and req.code is None:
        raise errors.invalid_argument("code is required")
    with ctx.db.read() as s:  # a missing service is the first thing to report, before the zip
        _require_service(s, ctx, service)
    pkg = _package(ctx, req.code)
    with ctx.db.write() as s:
        _require_service(s, ctx, service)
        if res.get(s, ctx.account, "function", service, name) is not None:
            raise _function_conflict(service, name)
        _resolve_layers(s, ctx, data)
        if pkg is not None:
            _put_code(ctx, data, pkg)
        row = res.insert(s, ctx.account, "function", service, name, data,
                         lambda: _function_conflict(service, name))
        return fc_json(row.out(), row.etag)


def _function_conflict(service: str, name: str):
    return errors.already_exists("FunctionAlreadyExists", f"function '{name}' already exists in service '{service}'")


@router.get("/services/{service}/functions")
def list_functions(service: str, ctx: Ctx = Depends(fc_ctx)):
    svc, qualifier = split_qualifier(ctx.request, service)
    p = page_params(ctx.request)
    with ctx.db.read() as s:
        snap = snapshots.resolve(s, ctx.account, svc, qualifier)
        items, token = snap.functions(s, p)
    return fc_json(paged("functions", items, token))


@router.get("/services/{service}/functions/{function}")
def get_function(service: str, function: str, ctx: Ctx = Depends(fc_ctx)):
    svc, qualifier = split_qualifier(ctx.request, service)
    with ctx.db.read() as s:
        snap = snapshots.resolve(s, ctx.account, svc, qualifier)
        body, etag = snap.function(s, function)
    return fc_json(body, etag)


@router.put("/services/{service}/functions/{function}")
def update_function(service: str, function: str, ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    req = FunctionFields.parse(body)
    with ctx.db.read() as s:  # report a missing service/function before checking the zip
        _require_function(s, ctx, service, function)
    pkg = _package(ctx, req.code)
    with ctx.db.write() as s:
        row = _require_function(s, ctx, service, function)
        check_if_match(ctx.request, row.etag)
        data = apply_function_fields(row.body, req)
        if req.runtime is not None and req.runtime != row.body.get("runtime") and (
                runtimes.CONTAINER in (req.runtime, row.body.get("runtime"))):
            raise errors.invalid_argument("runtime cannot be changed to or from custom-container")
        _check_shape(data)
        if pkg is not None and data.get("runtime") == runtimes.CONTAINER:
            raise errors.invalid_argument("code cannot be set for runtime custom-container")
        if req.layers is not None:
            _resolve_layers(s, ctx, data)
        if pkg is not None:
            _put_code(ctx, data, pkg)
        row = res.update(s, row, data)
        return fc_json(row.out(), row.etag)


@router.delete("/services/{service}/functions/{function}")
def delete_function(service: str, function: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.write() as s:
        row = _require_function(s, ctx, service, function)
        check_if_match(ctx.request, row.etag)
        if res.count(s, ctx.account, "trigger", f"{service}/{function}"):
            raise errors.not_empty("FunctionNotEmpty", f"function '{function}' has active triggers")
        for cfg in res.all_rows(s, ctx.account, "async_config", f"{service}/{function}"):
            res.delete(s, cfg)
        res.delete(s, row)
    return no_content()


@router.get("/services/{service}/functions/{function}/code")
def get_function_code(service: str, function: str, ctx: Ctx = Depends(fc_ctx)):
    svc, qualifier = split_qualifier(ctx.request, service)
    with ctx.db.read() as s:
        snap = snapshots.resolve(s, ctx.account, svc, qualifier)
        body, _ = snap.function(s, function)
    checksum = body.get("codeChecksum") or ""
    if not checksum:
        raise errors.invalid_argument(f"function '{function}' has no code package (runtime custom-container)")
    return fc_json({"url": ctx.request.app.state.code.download_url(checksum), "checksum": checksum})
