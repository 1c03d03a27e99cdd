"""FC 3.0 function configs (fc3-api.md §4.7, §4.9-4.11, §8.3): async invoke, concurrency, provision, scaling.

- async invoke config of (F, q) = the engine's `async_config` row of (fc3:F/F, q): the async queue applies
  its retries, event age and destinations, and `asyncTask` is FC 2.0's `statefulInvocation`;
- provision config of (F, q) = the engine's `provision` row (same resource name), so the pool keeps
  `target` instances warm as for FC 2.0; `defaultTarget` and `alwaysAllocateGPU` are kept beside it;
- concurrency (kind `fc3_concurrency`, name = FC 3.0 name) and scaling configs (kind `fc3_scaling`,
  parent svc/fn, name = qualifier) are stored and echoed: nothing local enforces them.
"""
from __future__ import annotations

import re

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.configs import _provision_out, provision_resource, write_provision
from emulator.api.fc3.auth import Ctx3, fc3_ctx
from emulator.api.fc3.functions import DELETE_HOOKS
from emulator.api.fc3.triggers import require_pair
from emulator.api.fc3.wire import (engine_pair, fc3_json, fc3_name, function_arn, json_body, no_content, page_params, paged,
                                   qualifier_of)
from emulator.execution import provision
from emulator.model.configs import AsyncConfigBody, ProvisionBody
from emulator.model.numbers import is_decimal
from emulator.store import resources as res
from emulator.store import snapshots

router = APIRouter(tags=["FC 3.0 configs"])


def _target(s: Session, ctx: Ctx3, name: str, alias_or_latest: bool) -> tuple[str, str, str]:
    """(service, function, qualifier) after checking the function exists as of `?qualifier=`."""
    svc, fn = require_pair(s, ctx, name)
    q = qualifier_of(ctx.request)
    if alias_or_latest and is_decimal(q):
        raise errors.invalid_argument(f"qualifier '{q}' is invalid: this config can only be set on an alias or LATEST")
    snapshots.resolve(s, ctx.account, svc, q).function(s, fn)
    return svc, fn, q


def _functions_filter(ctx: Ctx3) -> str | None:
    return ctx.request.query_params.get("functionName") or None


# ---- async invoke config ---------------------------------------------------------------------------

_FC3_DEST = re.compile(r"^acs:fc:([^:]+):([^:]*):functions/([^/]+)(?:/([^/]+))?$")
_ENGINE_DEST = re.compile(r"^acs:fc:([^:]+):([^:]*):services/([^./]+)(?:\.([^/]+))?/functions/([^/]+)$")
_PLACEHOLDER = "acs:fc:r:0:services/s/functions/f"  # passes FC 2.0's validation in place of an FC 3.0 ARN


def _engine_destinations(engine: dict) -> tuple[dict, dict[str, str]]:
    """FC 3.0 function destinations (`acs:fc:<r>:<uid>:functions/F[/q]`) in the engine's form
    (`…:services/fc3:F.q/functions/F`); other destinations go through FC 2.0's checks unchanged."""
    config = engine.get("destinationConfig")
    if not isinstance(config, dict):
        return engine, {}
    config, arns = dict(config), {}
    for when, dest in config.items():
        arn = dest.get("destination") if isinstance(dest, dict) else None
        m = _FC3_DEST.match(arn) if isinstance(arn, str) else None
        if m:
            region, uid, name, q = m.groups()
            svc, fn = engine_pair(name)
            arns[when] = f"acs:fc:{region}:{uid}:services/{svc}.{q or 'LATEST'}/functions/{fn}"
            config[when] = {**dest, "destination": _PLACEHOLDER}
    return {**engine, "destinationConfig": config}, arns


def _fc3_destination(arn: str) -> str:
    m = _ENGINE_DEST.match(arn or "")
    if not m:
        return arn
    region, uid, svc, q, fn = m.groups()
    return function_arn(region, uid, fc3_name(svc, fn), q)


def _async_out(ctx: Ctx3, row: res.ResourceRow) -> dict:
    b = row.body
    name = fc3_name(b["service"], b["function"])
    out = {"functionArn": function_arn(ctx.region, ctx.account, name, b["qualifier"]),
           "asyncTask": bool(b.get("statefulInvocation")),
           "maxAsyncEventAgeInSeconds": b.get("maxAsyncEventAgeInSeconds") or 86400,
           "maxAsyncRetryAttempts": 3 if b.get("maxAsyncRetryAttempts") is None else b["maxAsyncRetryAttempts"],
           "createdTime": res.iso(row.created_time), "lastModifiedTime": res.iso(row.last_modified_time)}
    if b.get("destinationConfig"):
        out["destinationConfig"] = {k: {**v, "destination": _fc3_destination(v.get("destination"))}
                                    for k, v in b["destinationConfig"].items() if v}
    return out


@router.put("/functions/{function}/async-invoke-config")
def put_async_invoke_config(function: str, ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    age = body.get("maxAsyncEventAgeInSeconds")
    if age is not None and (not isinstance(age, int) or isinstance(age, bool) or not 1 <= age <= 604800):
        raise errors.invalid_argument(f"maxAsyncEventAgeInSeconds is set to an invalid value (allowed: 1 to 604800, "
                                      f"actual: {age!r})")
    engine = {k: v for k, v in body.items() if k in ("destinationConfig", "maxAsyncRetryAttempts")}
    destination = engine.get("destinationConfig")
    if isinstance(destination, dict) and not any(destination.values()):
        engine.pop("destinationConfig")  # {} or {onSuccess: null, ...}: no destinations
    engine, arns = _engine_destinations(engine)
    req = AsyncConfigBody.parse({**engine, "statefulInvocation": body.get("asyncTask")})
    stored = req.stored()
    for when, arn in arns.items():
        stored["destinationConfig"][when]["destination"] = arn
    with ctx.db.write() as s:
        svc, fn, q = _target(s, ctx, function, alias_or_latest=False)
        data = {"service": svc, "function": fn, "qualifier": q, **stored, "maxAsyncEventAgeInSeconds": age}
        row = res.get(s, ctx.account, "async_config", f"{svc}/{fn}", q)
        if row is None:
            row = res.insert(s, ctx.account, "async_config", f"{svc}/{fn}", q, data, errors.internal_error)
        else:
            row = res.update(s, row, data)
        return fc3_json(_async_out(ctx, row))


def _require_async(s: Session, ctx: Ctx3, function: str) -> res.ResourceRow:
    svc, fn, q = _target(s, ctx, function, alias_or_latest=False)
    return res.require(s, ctx.account, "async_config", f"{svc}/{fn}", q, lambda: errors.FCError(
        404, "AsyncConfigNotExists", f"the async invoke config of function '{function}' (qualifier '{q}') "
                                     f"does not exist"))


@router.get("/functions/{function}/async-invoke-config")
def get_async_invoke_config(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.read() as s:
        return fc3_json(_async_out(ctx, _require_async(s, ctx, function)))


@router.delete("/functions/{function}/async-invoke-config")
def delete_async_invoke_config(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.write() as s:
        res.delete(s, _require_async(s, ctx, function))
    return no_content()


def _page_by_key(items: list[tuple[str, dict]], ctx: Ctx3) -> tuple[list[dict], str | None]:
    p = page_params(ctx.request)
    items = sorted((i for i in items if not p.next_token or i[0] >= p.next_token), key=lambda i: i[0])
    token = items[p.limit][0] if len(items) > p.limit else None
    return [b for _, b in items[:p.limit]], token


@router.get("/async-invoke-configs")
def list_async_invoke_configs(ctx: Ctx3 = Depends(fc3_ctx)):
    only = _functions_filter(ctx)
    with ctx.db.read() as s:
        rows = res.all_rows(s, ctx.account, "async_config")
        items = [(f"{fc3_name(r.body['service'], r.body['function'])}/{r.name}", _async_out(ctx, r)) for r in rows
                 if not only or fc3_name(r.body["service"], r.body["function"]) == only]
    configs, token = _page_by_key(items, ctx)
    return fc3_json(paged("configs", configs, token))


# ---- concurrency -----------------------------------------------------------------------------------

CONCURRENCY = "fc3_concurrency"


def _concurrency_out(ctx: Ctx3, row: res.ResourceRow) -> dict:
    return {"functionArn": function_arn(ctx.region, ctx.account, row.name),
            "reservedConcurrency": row.body["reservedConcurrency"]}


@router.put("/functions/{function}/concurrency")
def put_concurrency_config(function: str, ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    value = body.get("reservedConcurrency")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise errors.invalid_argument(f"reservedConcurrency is required: a non-negative integer (actual: {value!r})")
    with ctx.db.write() as s:
        require_pair(s, ctx, function)
        row = res.get(s, ctx.account, CONCURRENCY, "", function)
        data = {"reservedConcurrency": value}
        row = res.insert(s, ctx.account, CONCURRENCY, "", function, data, errors.internal_error) if row is None \
            else res.update(s, row, data)
        return fc3_json(_concurrency_out(ctx, row))


def _require_concurrency(s: Session, ctx: Ctx3, function: str) -> res.ResourceRow:
    require_pair(s, ctx, function)
    return res.require(s, ctx.account, CONCURRENCY, "", function, lambda: errors.FCError(
        404, "ConcurrencyConfigNotFound", f"the concurrency config of function '{function}' does not exist"))


@router.get("/functions/{function}/concurrency")
def get_concurrency_config(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.read() as s:
        return fc3_json(_concurrency_out(ctx, _require_concurrency(s, ctx, function)))


@router.delete("/functions/{function}/concurrency")
def delete_concurrency_config(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.write() as s:
        res.delete(s, _require_concurrency(s, ctx, function))
    return no_content()


@router.get("/concurrency-configs")
def list_concurrency_configs(ctx: Ctx3 = Depends(fc3_ctx)):
    only = _functions_filter(ctx)
    with ctx.db.read() as s:
        items = [(r.name, _concurrency_out(ctx, r)) for r in res.all_rows(s, ctx.account, CONCURRENCY)
                 if not only or r.name == only]
    configs, token = _page_by_key(items, ctx)
    return fc3_json(paged("configs", configs, token))


# ---- provision -------------------------------------------------------------------------------------

def _provision_fc3(ctx: Ctx3, body: dict) -> dict:
    _, svc, q, fn = body["resource"].split("#", 3)
    out = _provision_out(ctx, body, with_error=True)
    out.pop("resource")
    out["functionArn"] = function_arn(ctx.region, ctx.account, fc3_name(svc, fn), q)
    out["defaultTarget"] = body.get("_defaultTarget", body["target"])
    out["alwaysAllocateGPU"] = body.get("_alwaysAllocateGPU", True)
    return out


@router.put("/functions/{function}/provision-config")
def put_provision_config(function: str, ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    target = body.get("defaultTarget", body.get("target"))
    engine = {k: body[k] for k in ("scheduledActions", "targetTrackingPolicies", "alwaysAllocateCPU") if k in body}
    req = ProvisionBody.parse({**engine, "target": target})
    full = req.full()
    gpu = body.get("alwaysAllocateGPU")
    with ctx.db.write() as s:
        svc, fn, q = _target(s, ctx, function, alias_or_latest=True)
        resource = provision_resource(ctx.account, svc, q, fn)
        data = {"resource": resource, "target": req.target, "scheduledActions": full["scheduledActions"] or [],
                "targetTrackingPolicies": full["targetTrackingPolicies"] or [],
                "alwaysAllocateCPU": req.alwaysAllocateCPU, "_defaultTarget": req.target,
                "_alwaysAllocateGPU": True if gpu is None else bool(gpu)}
        write_provision(s, ctx.account, resource, data, req.is_empty())
    provision.apply(ctx.request.app.state, ctx.account, svc, q, fn, req.target)
    return fc3_json(_provision_fc3(ctx, data))


@router.get("/functions/{function}/provision-config")
def get_provision_config(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    """Nothing configured: 200 without functionArn (the fc3 component reads that as "none", §4.10)."""
    with ctx.db.read() as s:
        svc, fn, q = _target(s, ctx, function, alias_or_latest=True)
        row = res.get(s, ctx.account, "provision", "", provision_resource(ctx.account, svc, q, fn))
        body = dict(row.body) if row is not None else None
    return fc3_json(_provision_fc3(ctx, body) if body else {})


@router.delete("/functions/{function}/provision-config")
def delete_provision_config(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.write() as s:
        svc, fn, q = _target(s, ctx, function, alias_or_latest=True)
        row = res.get(s, ctx.account, "provision", "", provision_resource(ctx.account, svc, q, fn))
        if row is not None:
            res.delete(s, row)
    provision.apply(ctx.request.app.state, ctx.account, svc, q, fn, 0)
    return no_content()


@router.get("/provision-configs")
def list_provision_configs(ctx: Ctx3 = Depends(fc3_ctx)):
    only = _functions_filter(ctx)
    with ctx.db.read() as s:
        bodies = [dict(r.body) for r in res.all_rows(s, ctx.account, "provision")]
    items = []
    for b in bodies:
        _, svc, q, fn = b["resource"].split("#", 3)
        name = fc3_name(svc, fn)
        if not only or name == only:
            items.append((f"{name}/{q}", _provision_fc3(ctx, b)))
    configs, token = _page_by_key(items, ctx)
    return fc3_json(paged("provisionConfigs", configs, token))


# ---- scaling ---------------------------------------------------------------------------------------

SCALING = "fc3_scaling"
_SCALING_FIELDS = ("minInstances", "residentPoolId", "horizontalScalingPolicies", "scheduledPolicies",
                   "enableMixMode", "enableOnDemandScaling", "requestDispatchPolicy")


def _scaling_out(ctx: Ctx3, row: res.ResourceRow) -> dict:
    svc, fn = row.parent.split("/", 1)
    out = {"functionArn": function_arn(ctx.region, ctx.account, fc3_name(svc, fn), row.name),
           **{k: v for k, v in row.body.items() if not k.startswith("_")}}
    out["currentInstances"] = out["targetInstances"] = row.body.get("minInstances") or 0
    return out


@router.put("/functions/{function}/scaling-config")
def put_scaling_config(function: str, ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    data = {k: body[k] for k in _SCALING_FIELDS if body.get(k) is not None}
    n = data.get("minInstances")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 10000):
        raise errors.invalid_argument(f"minInstances is set to an invalid value (allowed: 0 to 10000, actual: {n!r})")
    for key in ("horizontalScalingPolicies", "scheduledPolicies"):
        if key in data and not isinstance(data[key], list):
            raise errors.invalid_argument(f"{key} must be a list")
    with ctx.db.write() as s:
        svc, fn, q = _target(s, ctx, function, alias_or_latest=True)
        row = res.get(s, ctx.account, SCALING, f"{svc}/{fn}", q)
        row = res.insert(s, ctx.account, SCALING, f"{svc}/{fn}", q, data, errors.internal_error) if row is None \
            else res.update(s, row, data)
        return fc3_json(_scaling_out(ctx, row))


@router.get("/functions/{function}/scaling-config")
def get_scaling_config(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    """Nothing configured: 200 without functionArn, as the provision config (§4.11)."""
    with ctx.db.read() as s:
        svc, fn, q = _target(s, ctx, function, alias_or_latest=True)
        row = res.get(s, ctx.account, SCALING, f"{svc}/{fn}", q)
        return fc3_json(_scaling_out(ctx, row) if row is not None else {})


@router.delete("/functions/{function}/scaling-config")
def delete_scaling_config(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.write() as s:
        svc, fn, q = _target(s, ctx, function, alias_or_latest=True)
        row = res.get(s, ctx.account, SCALING, f"{svc}/{fn}", q)
        if row is not None:
            res.delete(s, row)
    return no_content()


@router.get("/scaling-configs")
def list_scaling_configs(ctx: Ctx3 = Depends(fc3_ctx)):
    only = _functions_filter(ctx)
    with ctx.db.read() as s:
        items = []
        for r in res.all_rows(s, ctx.account, SCALING):
            name = fc3_name(*r.parent.split("/", 1))
            if not only or name == only:
                items.append((f"{name}/{r.name}", _scaling_out(ctx, r)))
    configs, token = _page_by_key(items, ctx)
    return fc3_json(paged("scalingConfigs", configs, token))


def _drop_concurrency(s: Session, account: str, svc: str, fn: str) -> None:
    """A deleted function's concurrency config goes with it (a recreated function starts without one)."""
    row = res.get(s, account, CONCURRENCY, "", fc3_name(svc, fn))
    if row is not None:
        res.delete(s, row)


DELETE_HOOKS.append(_drop_concurrency)
