"""On-demand, provision and async-invoke configs (fc-api.md §2.9).

Store kinds (emulator/store/resources.py): `on_demand` (parent "", name
`services/{svc}.{q}/functions/{fn}`), `provision` (parent "", name `{uid}#{svc}#{q}#{fn}`),
`async_config` (parent "svc/fn", name = qualifier).
"""
from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.context import Ctx, fc_ctx
from emulator.api.wire import check_if_match, fc_json, json_body, no_content, page_params, paged, split_qualifier
from emulator.execution import provision
from emulator.model.configs import AsyncConfigBody, OnDemandBody, ProvisionBody
from emulator.model.numbers import is_decimal
from emulator.store import resources as res
from emulator.store import snapshots
from emulator.store.resources import Page

router = APIRouter(tags=["configs"])


def _target(s: Session, ctx: Ctx, service_segment: str, fn: str, alias_or_latest: bool) -> tuple[str, str]:
    """(service, qualifier) after checking that the function exists as of that qualifier."""
    svc, qualifier = split_qualifier(ctx.request, service_segment)
    q = qualifier or snapshots.LATEST
    if alias_or_latest and is_decimal(q):
        raise errors.invalid_argument(f"qualifier '{q}' is invalid: this config can only be set on an alias or LATEST")
    snapshots.resolve(s, ctx.account, svc, q).function(s, fn)
    return svc, q


# --- on-demand -------------------------------------------------------------------------------------

def on_demand_resource(svc: str, q: str, fn: str) -> str:
    return f"services/{svc}.{q}/functions/{fn}"


@router.put("/services/{service}/functions/{function}/on-demand-config")
def put_on_demand_config(service: str, function: str, ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    req = OnDemandBody.parse(body)
    with ctx.db.write() as s:
        svc, q = _target(s, ctx, service, function, alias_or_latest=True)
        resource = on_demand_resource(svc, q, function)
        data = {"resource": resource, "maximumInstanceCount": req.maximumInstanceCount}
        row = res.get(s, ctx.account, "on_demand", "", resource)
        if row is None:
            row = res.insert(s, ctx.account, "on_demand", "", resource, data, errors.internal_error)
        else:
            check_if_match(ctx.request, row.etag)
            row = res.update(s, row, data)
        return fc_json(dict(row.body), row.etag)


def _require_on_demand(s: Session, ctx: Ctx, service: str, function: str) -> res.ResourceRow:
    svc, q = _target(s, ctx, service, function, alias_or_latest=True)
    resource = on_demand_resource(svc, q, function)
    return res.require(s, ctx.account, "on_demand", "", resource, lambda: errors.on_demand_config_not_found(resource))


@router.get("/services/{service}/functions/{function}/on-demand-config")
def get_on_demand_config(service: str, function: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.read() as s:
        row = _require_on_demand(s, ctx, service, function)
        return fc_json(dict(row.body), row.etag)


@router.delete("/services/{service}/functions/{function}/on-demand-config")
def delete_on_demand_config(service: str, function: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.write() as s:
        row = _require_on_demand(s, ctx, service, function)
        check_if_match(ctx.request, row.etag)
        res.delete(s, row)
    return no_content()


@router.get("/on-demand-configs")
def list_on_demand_configs(ctx: Ctx = Depends(fc_ctx)):
    p = page_params(ctx.request)
    with ctx.db.read() as s:
        rows, token = res.page(s, ctx.account, "on_demand", "", p)
    body = paged("configs", [dict(r.body) for r in rows], token)
    if not rows:
        del body["configs"]  # py-test: `configs` is absent (None) when there are none
    return fc_json(body)


# --- provision -------------------------------------------------------------------------------------

def provision_resource(account: str, svc: str, q: str, fn: str) -> str:
    return f"{account}#{svc}#{q}#{fn}"


def provisioned_instances(ctx: Ctx, resource: str) -> tuple[int, str]:
    """(current, currentError) for a provision config: what the instance pool has ready."""
    return provision.current(ctx.request.app.state, resource)


def _provision_out(ctx: Ctx, body: dict, with_error: bool = False) -> dict:
    current, error = provisioned_instances(ctx, body["resource"])
    out = {"resource": body["resource"], "target": body["target"], "current": current}
    if with_error:
        out["currentError"] = error
    out.update({k: body[k] for k in ("scheduledActions", "targetTrackingPolicies", "alwaysAllocateCPU")})
    return out


@router.put("/services/{service}/functions/{function}/provision-config")
def put_provision_config(service: str, function: str, ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    req = ProvisionBody.parse(body)
    full = req.full()
    with ctx.db.write() as s:
        svc, q = _target(s, ctx, service, function, alias_or_latest=True)
        resource = provision_resource(ctx.account, svc, q, function)
        data = {"resource": resource, "target": req.target,
                "scheduledActions": full["scheduledActions"] or [],
                "targetTrackingPolicies": full["targetTrackingPolicies"] or [],
                "alwaysAllocateCPU": req.alwaysAllocateCPU}
        write_provision(s, ctx.account, resource, data, req.is_empty())
    provision.apply(ctx.request.app.state, ctx.account, svc, q, function, req.target)
    return fc_json(_provision_out(ctx, data))


def write_provision(s, account: str, resource: str, data: dict, empty: bool) -> None:
    """Store a provision config; target 0 without scaling rules removes it (both APIs)."""
    row = res.get(s, account, "provision", "", resource)
    if empty:
        if row is not None:
            res.delete(s, row)
    elif row is None:
        res.insert(s, account, "provision", "", resource, data, errors.internal_error)
    else:
        res.update(s, row, data)


@router.get("/services/{service}/functions/{function}/provision-config")
def get_provision_config(service: str, function: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.read() as s:
        svc, q = _target(s, ctx, service, function, alias_or_latest=True)
        resource = provision_resource(ctx.account, svc, q, function)
        row = res.require(s, ctx.account, "provision", "", resource,
                          lambda: errors.provision_config_not_found(resource))
        body = dict(row.body)
    return fc_json(_provision_out(ctx, body, with_error=True))


@router.get("/provision-configs")
def list_provision_configs(ctx: Ctx = Depends(fc_ctx)):
    p = page_params(ctx.request)
    svc = ctx.request.query_params.get("serviceName") or ""
    q = ctx.request.query_params.get("qualifier") or ""
    if q and not svc:
        raise errors.invalid_argument("serviceName is required when qualifier is set")
    prefix = f"{ctx.account}#" + (f"{svc}#" if svc else "") + (f"{q}#" if q else "")
    with ctx.db.read() as s:
        rows, token = res.page(s, ctx.account, "provision", "",
                               Page(limit=p.limit, next_token=p.next_token, prefix=prefix))
        bodies = [dict(r.body) for r in rows]
    return fc_json(paged("provisionConfigs", [_provision_out(ctx, b) for b in bodies], token))


# --- async invoke ----------------------------------------------------------------------------------

@router.put("/services/{service}/functions/{function}/async-invoke-config")
def put_async_invoke_config(service: str, function: str, ctx: Ctx = Depends(fc_ctx),
                            body: dict = Depends(json_body)):
    req = AsyncConfigBody.parse(body)
    with ctx.db.write() as s:
        svc, q = _target(s, ctx, service, function, alias_or_latest=False)
        data = {"service": svc, "function": function, "qualifier": q, **req.stored()}
        row = res.get(s, ctx.account, "async_config", f"{svc}/{function}", q)
        if row is None:
            row = res.insert(s, ctx.account, "async_config", f"{svc}/{function}", q, data, errors.internal_error)
        else:
            row = res.update(s, row, data)
        return fc_json(row.out(), row.etag)


def _require_async(s: Session, ctx: Ctx, service: str, function: str) -> res.ResourceRow:
    svc, q = _target(s, ctx, service, function, alias_or_latest=False)
    return res.require(s, ctx.account, "async_config", f"{svc}/{function}", q,
                       lambda: errors.async_config_not_found(svc, function))


@router.get("/services/{service}/functions/{function}/async-invoke-config")
def get_async_invoke_config(service: str, function: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.read() as s:
        row = _require_async(s, ctx, service, function)
        return fc_json(row.out(), row.etag)


@router.delete("/services/{service}/functions/{function}/async-invoke-config")
def delete_async_invoke_config(service: str, function: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.write() as s:
        res.delete(s, _require_async(s, ctx, service, function))
    return no_content()


@router.get("/services/{service}/functions/{function}/async-invoke-configs")
def list_async_invoke_configs(service: str, function: str, ctx: Ctx = Depends(fc_ctx)):
    p = page_params(ctx.request)
    with ctx.db.read() as s:
        res.require(s, ctx.account, "service", "", service, lambda: errors.service_not_found(service))
        res.require(s, ctx.account, "function", service, function,
                    lambda: errors.function_not_found(service, function))
        rows, token = res.page(s, ctx.account, "async_config", f"{service}/{function}",
                               Page(limit=p.limit, next_token=p.next_token))
        configs = [r.out() for r in rows]
    body: dict = {"configs": configs} if configs else {}
    body["nextToken"] = token or ""  # always present here (py-test, java-test)
    return fc_json(body)
