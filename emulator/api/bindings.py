"""VPC bindings of a service: 2021-04-06 `POST/GET /services/{svc}/bindings`,
`DELETE /services/{svc}/bindings/{vpcId}`; the Java SDK's 2016 `POST/DELETE /services/{svc}/binding`
with `{vpcId}` in the body (fc-api.md §2.0).

Stored and listed only: locally every function is reachable without a VPC. Like event sources, a
binding belongs to one service (its id is kept), so a recreated service starts with none."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.context import Ctx, fc_ctx
from emulator.api.wire import fc_json, json_body, no_content
from emulator.model.vpc_binding import VpcBindingCreate, check_vpc_id
from emulator.store import resources as res

router = APIRouter(tags=["vpc bindings"])
KIND = "vpc_binding"


def _service_id(s: Session, ctx: Ctx, svc: str) -> str:
    row = res.require(s, ctx.account, "service", "", svc, lambda: errors.service_not_found(svc))
    return row.body.get("serviceId", "")


def _vpc_id(body: dict) -> str:
    req = VpcBindingCreate.parse(body)
    if not req.vpcId:
        raise errors.invalid_argument("vpcId is required")
    return req.vpcId


def _bind(ctx: Ctx, svc: str, vpc_id: str) -> Response:
    with ctx.db.write() as s:
        service_id = _service_id(s, ctx, svc)
        old = res.get(s, ctx.account, KIND, svc, vpc_id)
        if old is not None and old.body.get("_serviceId", "") != service_id:
            res.delete(s, old)  # left by a deleted service of the same name
        res.insert(s, ctx.account, KIND, svc, vpc_id, {"vpcId": vpc_id, "_serviceId": service_id},
                   lambda: errors.already_exists("VpcBindingAlreadyExists",
                                                 f"vpc '{vpc_id}' is already bound to service '{svc}'"))
    return Response(status_code=200)


def _unbind(ctx: Ctx, svc: str, vpc_id: str) -> Response:
    with ctx.db.write() as s:
        service_id = _service_id(s, ctx, svc)
        row = res.get(s, ctx.account, KIND, svc, vpc_id)
        if row is None or row.body.get("_serviceId", "") != service_id:
            raise errors.FCError(404, "VpcBindingNotFound", f"vpc '{vpc_id}' is not bound to service '{svc}'")
        res.delete(s, row)
    return no_content()


@router.post("/services/{service}/bindings")
def create_vpc_binding(service: str, ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    return _bind(ctx, service, _vpc_id(body))


@router.post("/services/{service}/binding")  # Java SDK, 2016-08-15
def create_vpc_binding_2016(service: str, ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    return _bind(ctx, service, _vpc_id(body))


@router.get("/services/{service}/bindings")
def list_vpc_bindings(service: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.read() as s:
        service_id = _service_id(s, ctx, service)
        rows = res.all_rows(s, ctx.account, KIND, service)
        return fc_json({"vpcIds": [r.name for r in rows if r.body.get("_serviceId", "") == service_id]})


@router.delete("/services/{service}/bindings/{vpc_id}")
def delete_vpc_binding(service: str, vpc_id: str, ctx: Ctx = Depends(fc_ctx)):
    try:
        check_vpc_id(vpc_id)
    except ValueError as exc:
        raise errors.invalid_argument(str(exc)) from None
    return _unbind(ctx, service, vpc_id)


@router.delete("/services/{service}/binding")  # Java SDK, 2016-08-15: the id is in the body
def delete_vpc_binding_2016(service: str, ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    return _unbind(ctx, service, _vpc_id(body))
