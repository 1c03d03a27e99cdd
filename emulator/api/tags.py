"""Tags on services (fc-api.md §2.8): POST /tag, DELETE /tag (2016) and PUT /tag (2021) to untag,
GET /tag?resourceArn=, GET /tags (2021). Tags live in the service body under `_tags`, where
GET /services?tag_k=v filters on them."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.context import Ctx, fc_ctx
from emulator.api.wire import fc_json, json_body, page_params, paged, request_id
from emulator.model.names import is_fc3_service
from emulator.model.tag import MAX_TAGS, TagResource, UntagResource, full_arn, parse_arn
from emulator.store import resources as res

router = APIRouter(tags=["tags"])


def _tagged_service(s: Session, ctx: Ctx, arn: str | None) -> tuple[res.ResourceRow, str]:
    """The service an ARN names, and the full ARN FC answers with (the region as the caller wrote it)."""
    region, account, svc = parse_arn(arn)
    if is_fc3_service(svc):  # an FC 3.0 function's hidden service: its tags are FC 3.0's (tags-v2)
        raise errors.service_not_found(svc)
    if account and account != ctx.account:
        raise errors.invalid_argument(f"resourceArn '{arn}' names account '{account}', "
                                      f"but the request is for account '{ctx.account}'")
    row = res.require(s, ctx.account, "service", "", svc, lambda: errors.service_not_found(svc))
    return row, full_arn(region or ctx.settings.region, ctx.account, svc)


def _set_tags(s: Session, row: res.ResourceRow, tags: dict) -> None:
    # Tags are not service configuration: keep the service's Etag and lastModifiedTime.
    row.body = {**row.body, "_tags": tags}
    s.flush()


@router.post("/tag")
def tag_resource(ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    req = TagResource.parse(body)
    if req.tags is None:
        raise errors.invalid_argument("tags is required and must contain 1 to 20 tags")
    with ctx.db.write() as s:
        row, _ = _tagged_service(s, ctx, req.resourceArn)
        tags = {**row.body.get("_tags", {}), **req.tags}
        if len(tags) > MAX_TAGS:
            raise errors.invalid_argument(f"a resource can have at most {MAX_TAGS} tags (actual: {len(tags)})")
        _set_tags(s, row, tags)
    return fc_json({"requestId": request_id(ctx.request)})


def _untag(ctx: Ctx, body: dict):
    req = UntagResource.parse(body)
    with ctx.db.write() as s:
        row, _ = _tagged_service(s, ctx, req.resourceArn)
        tags = dict(row.body.get("_tags", {}))
        if req.tagKeys:  # `all` counts only when no keys are named (§2.8)
            for key in req.tagKeys:
                tags.pop(key, None)
        elif req.all_:
            tags = {}
        else:
            raise errors.invalid_argument("tagKeys is required unless all is true")
        _set_tags(s, row, tags)
    # aliyun-fc2's untag_resource calls r.json(): always a JSON body.
    return fc_json({"requestId": request_id(ctx.request)})


@router.delete("/tag")
def untag_resource_2016(ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    return _untag(ctx, body)


@router.put("/tag")
def untag_resource_2021(ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    return _untag(ctx, body)


@router.get("/tag")
def get_resource_tags(ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.read() as s:
        row, arn = _tagged_service(s, ctx, ctx.request.query_params.get("resourceArn"))
        return fc_json({"resourceArn": arn, "tags": dict(row.body.get("_tags", {}))})


@router.get("/tags")
def list_tagged_resources(ctx: Ctx = Depends(fc_ctx)):
    p = page_params(ctx.request)
    with ctx.db.read() as s:
        tagged = [r for r in res.all_rows(s, ctx.account, "service", "")
                  if r.body.get("_tags") and not r.name.startswith("fc3:")]  # FC 3.0's hidden services
    rows, token = res.page_in_memory(tagged, lambda r: r.name, p)
    items = [{"resourceArn": full_arn(ctx.settings.region, ctx.account, r.name), "tags": dict(r.body["_tags"])}
             for r in rows]
    return fc_json(paged("resources", items, token))
