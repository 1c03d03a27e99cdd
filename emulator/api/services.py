"""Services: POST/GET/PUT/DELETE /services (fc-api.md §2.2)."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends

from emulator import errors
from emulator.api.context import Ctx, fc_ctx
from emulator.api.wire import check_if_match, fc_json, json_body, no_content, page_params, paged, split_qualifier
from emulator.model.names import check_name, is_fc3_service
from emulator.model.service import SERVICE_DEFAULTS, ServiceCreate, ServiceFields
from emulator.store import resources as res
from emulator.store import snapshots

router = APIRouter(tags=["services"])


def service_conflict(svc: str):
    return lambda: errors.already_exists("ServiceAlreadyExists", f"service '{svc}' already exists")


@router.post("/services")
def create_service(ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    req = ServiceCreate.parse(body)
    name = check_name("service", req.serviceName)
    data = req.merged_into({**SERVICE_DEFAULTS, "serviceName": name, "serviceId": str(uuid.uuid4())})
    data.pop("serviceName", None)
    data = {"serviceName": name, **data}
    with ctx.db.write() as s:
        row = res.insert(s, ctx.account, "service", "", name, data, service_conflict(name))
        return fc_json(row.out(), row.etag)


@router.get("/services")
def list_services(ctx: Ctx = Depends(fc_ctx)):
    p = page_params(ctx.request)
    tags = {k[4:]: v for k, v in ctx.request.query_params.items() if k.startswith("tag_")}
    with ctx.db.read() as s:
        # Tag filters are AND; an empty value matches any value of that key (§2.2). FC 3.0 functions'
        # hidden services (fc3:F) are never listed.
        matching = [r for r in res.all_rows(s, ctx.account, "service", "")
                    if not is_fc3_service(r.name) and _tags_match(r.body.get("_tags", {}), tags)]
    rows, token = res.page_in_memory(matching, lambda r: r.name, p)
    return fc_json(paged("services", [r.out() for r in rows], token))


def _tags_match(have: dict, want: dict) -> bool:
    return all(k in have and (v == "" or have[k] == v) for k, v in want.items())


@router.get("/services/{service}")
def get_service(service: str, ctx: Ctx = Depends(fc_ctx)):
    svc, qualifier = split_qualifier(ctx.request, service)
    with ctx.db.read() as s:
        snap = snapshots.resolve(s, ctx.account, svc, qualifier)
        body = snap.service_out()
        if not snap.is_latest:
            # FC answers a version or alias with the version's description (fc-python-sdk
            # version_test.py::test_get_service); the rest is the service as frozen.
            version = res.get(s, ctx.account, "version", svc, snap.version_id)
            body["description"] = (version.body.get("description") if version else None) or ""
        return fc_json(body, snap.service_etag)


@router.put("/services/{service}")
def update_service(service: str, ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    req = ServiceFields.parse(body)
    with ctx.db.write() as s:
        row = res.require(s, ctx.account, "service", "", service, lambda: errors.service_not_found(service))
        check_if_match(ctx.request, row.etag)
        row = res.update(s, row, req.merged_into(row.body))
        return fc_json(row.out(), row.etag)


@router.delete("/services/{service}")
def delete_service(service: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.write() as s:
        row = res.require(s, ctx.account, "service", "", service, lambda: errors.service_not_found(service))
        check_if_match(ctx.request, row.etag)
        for kind, word in (("function", "functions"), ("version", "versions"), ("alias", "aliases")):
            if res.count(s, ctx.account, kind, service):
                raise errors.not_empty("ServiceNotEmpty", f"service '{service}' has active '{word}'")
        res.drop_counter(s, ctx.account, "version", service)
        res.delete(s, row)
    return no_content()
