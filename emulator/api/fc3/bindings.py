"""FC 3.0 VPC bindings (fc3-api.md §4.13): stored and listed only, as FC 2.0's (api/bindings.py).

F's bindings are the hidden service's (fc3:F), so they die with the function; an `S$G` name lists its
service's bindings (changed through the FC 2.0 API). CreateVpcBinding answers 200 with an empty body.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends

from emulator import errors
from emulator.api.bindings import KIND, _bind, _service_id, _unbind, _vpc_id
from emulator.api.fc3.auth import Ctx3, fc3_ctx
from emulator.api.fc3.triggers import require_pair
from emulator.api.fc3.wire import fc3_json, json_body
from emulator.model.names import is_fc3_service
from emulator.model.vpc_binding import check_vpc_id
from emulator.store import resources as res

router = APIRouter(tags=["FC 3.0 VPC bindings"])


def _fc3_service(ctx: Ctx3, name: str) -> str:
    with ctx.db.read() as s:
        svc, _ = require_pair(s, ctx, name)
    if not is_fc3_service(svc):
        raise errors.invalid_argument(f"function '{name}' is an FC 2.0 function: bind VPCs to its service "
                                      f"'{svc}' through the FC 2.0 API (/2021-04-06/services/{svc}/bindings)")
    return svc


@router.post("/functions/{function}/vpc-bindings")
def create_vpc_binding(function: str, ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    vpc_id = _vpc_id(body)
    return _bind(ctx, _fc3_service(ctx, function), vpc_id)


@router.get("/functions/{function}/vpc-bindings")
def list_vpc_bindings(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.read() as s:
        svc, _ = require_pair(s, ctx, function)
        service_id = _service_id(s, ctx, svc)
        rows = res.all_rows(s, ctx.account, KIND, svc)
        return fc3_json({"vpcIds": [r.name for r in rows if r.body.get("_serviceId", "") == service_id]})


@router.delete("/functions/{function}/vpc-bindings/{vpc_id}")
def delete_vpc_binding(function: str, vpc_id: str, ctx: Ctx3 = Depends(fc3_ctx)):
    try:
        check_vpc_id(vpc_id)
    except ValueError as exc:
        raise errors.invalid_argument(str(exc)) from None
    return _unbind(ctx, _fc3_service(ctx, function), vpc_id)
