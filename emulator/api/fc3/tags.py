"""FC 3.0 tags v2 (fc3-api.md §4.14, §8.3): TagResources / UntagResources / ListTagResources on function ARNs.

POP-style: PascalCase bodies and parameters, list parameters as one JSON array string (`ResourceId=["acs:.."]`,
`TagKey=[..]`, `Tag=[{"Key":..,"Value":..}]`). Function F's tags live where CreateFunction's `tags` land (the
hidden service's `_tags`, which GetFunction and ListFunctions' `tags` filter read). That is a key space of
its own: FC 2.0 tags name service ARNs and FC 2.0 never sees hidden services. FC 2.0 pairs (`S$G`) are
tagged through their service with the FC 2.0 API: tags-v2 refuses them.
"""
from __future__ import annotations

import base64
import re

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.fc3.auth import Ctx3, fc3_ctx
from emulator.api.fc3.functions import _check_tags, lookup
from emulator.api.fc3.wire import (
    fc3_json,
    function_arn,
    json_body,
    query_bool,
    query_json_list,
)
from emulator.model.names import is_fc3_service
from emulator.model.numbers import parse_int
from emulator.store import resources as res

router = APIRouter(tags=["FC 3.0 tags"])

RESOURCE_TYPE = "ALIYUN::FC::FUNCTION"
_TYPES = ("function", "aliyun::fc::function")
_ARN = re.compile(r"^(?:acs:fc:[^:]*:(?P<account>[^:]*):)?functions/(?P<name>[^/]+)$")
MAX_RESOURCES = 50
MAX_KEYS = 50


def _check_type(value) -> None:
    if not isinstance(value, str) or value.lower() not in _TYPES:
        raise errors.invalid_argument(f"ResourceType is set to an invalid value (allowed: function | "
                                      f"{RESOURCE_TYPE}, actual: '{str(value)[:60]}')")


def _name_of(ctx: Ctx3, arn) -> str:
    """The function an ARN names: `acs:fc:<region>:<uid>:functions/<name>` (or `functions/<name>`, a bare name)."""
    if not isinstance(arn, str) or not arn:
        raise errors.invalid_argument("ResourceId must list function ARNs (acs:fc:<region>:<uid>:functions/<name>)")
    m = _ARN.match(arn)
    if m is None:
        if "/" in arn or ":" in arn:
            raise errors.invalid_argument(f"ResourceId '{arn[:200]}' is not a function ARN "
                                          f"(acs:fc:<region>:<uid>:functions/<name>)")
        return arn
    if m["account"] and m["account"] != ctx.account:
        raise errors.invalid_argument(f"ResourceId '{arn[:200]}' names account '{m['account']}', but the "
                                      f"request is for account '{ctx.account}'")
    return m["name"]


def _resource_ids(ctx: Ctx3, values) -> list[str]:
    if not isinstance(values, list) or not values:
        raise errors.invalid_argument("ResourceId is required: a list of 1 to 50 function ARNs")
    if len(values) > MAX_RESOURCES:
        raise errors.invalid_argument(f"ResourceId lists too many resources (max: {MAX_RESOURCES}, "
                                      f"actual: {len(values)})")
    return [_name_of(ctx, v) for v in values]


def _tagged(s: Session, ctx: Ctx3, name: str) -> res.ResourceRow:
    """The row holding F's tags (its hidden service), or FunctionNotFound / refused for FC 2.0 pairs."""
    svc, _, svc_row, _ = lookup(s, ctx.account, name)
    if not is_fc3_service(svc):
        raise errors.invalid_argument(f"function '{name}' is an FC 2.0 function: its tags are its service's "
                                      f"(tag acs:fc:<region>:<uid>:services/{svc} through the FC 2.0 API)")
    return svc_row


def _set_tags(s: Session, row: res.ResourceRow, tags: dict) -> None:
    # Tags are not configuration: the function's lastModifiedTime stays (as FC 2.0's tags on services).
    body = {k: v for k, v in row.body.items() if k != "_tags"}
    if tags:
        body["_tags"] = tags
    row.body = body
    s.flush()


def _check_key(key) -> None:
    if isinstance(key, str) and ("http://" in key or "https://" in key):
        raise errors.invalid_argument(f"tag key '{key[:100]}' is invalid: it must not contain http:// or https://")


@router.post("/tags-v2")
def tag_resources(ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    _check_type(body.get("ResourceType"))
    names = _resource_ids(ctx, body.get("ResourceId"))
    given = body.get("Tag")
    if not isinstance(given, list) or not given or not all(isinstance(t, dict) for t in given):
        raise errors.invalid_argument("Tag is required: a list of 1 to 20 {Key, Value} objects")
    for tag in given:
        _check_key(tag.get("Key"))
    new = _check_tags(given)
    with ctx.db.write() as s:
        rows = [_tagged(s, ctx, n) for n in names]  # every resource checked before any changes
        merged = [{**(r.body.get("_tags") or {}), **new} for r in rows]
        for name, tags in zip(names, merged):
            if len(tags) > 20:
                raise errors.invalid_argument(f"function '{name}' would have {len(tags)} tags (max: 20)")
        for row, tags in zip(rows, merged):
            _set_tags(s, row, tags)
    return Response(status_code=200)


@router.delete("/tags-v2")
def untag_resources(ctx: Ctx3 = Depends(fc3_ctx)):
    request = ctx.request
    _check_type(request.query_params.get("ResourceType"))
    names = _resource_ids(ctx, query_json_list(request, "ResourceId"))
    keys = query_json_list(request, "TagKey")
    remove_all = query_bool(request, "All")
    if keys is not None and (len(keys) > MAX_KEYS or not all(isinstance(k, str) and k for k in keys)):
        raise errors.invalid_argument(f"TagKey must be a list of at most {MAX_KEYS} tag keys")
    if not keys and not remove_all:
        raise errors.invalid_argument("TagKey is required unless All is true")
    with ctx.db.write() as s:
        rows = [_tagged(s, ctx, n) for n in names]
        for row in rows:
            tags = dict(row.body.get("_tags") or {})
            if keys:  # All counts only when no keys are named (as FC 2.0's untag)
                for key in keys:
                    tags.pop(key, None)
            else:
                tags = {}
            _set_tags(s, row, tags)
    return Response(status_code=200)


def _limit(raw: str) -> int:
    if not raw:
        return 20
    limit = parse_int(raw)
    if limit is None or not 1 <= limit <= 100:
        raise errors.invalid_argument(f"Limit is set to an invalid value (allowed: 1 to 100, actual: '{raw[:60]}')")
    return limit


def _token(name: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{name}\n{key}".encode()).decode()


def _from_token(raw: str) -> tuple[str, str]:
    try:
        name, _, key = base64.urlsafe_b64decode(raw.encode()).decode().partition("\n")
    except (ValueError, UnicodeDecodeError):
        raise errors.invalid_argument(f"NextToken '{raw[:100]}' is invalid") from None
    return name, key


@router.get("/tags-v2")
def list_tag_resources(ctx: Ctx3 = Depends(fc3_ctx)):
    request = ctx.request
    q = request.query_params
    _check_type(q.get("ResourceType"))
    ids = query_json_list(request, "ResourceId")
    filters = query_json_list(request, "Tag") or []
    if len(filters) > 20 or not all(isinstance(t, dict) and isinstance(t.get("Key"), str) for t in filters):
        raise errors.invalid_argument("Tag must be a list of at most 20 {Key, Value} filters")
    limit = _limit(q.get("Limit") or "")
    start = _from_token(q["NextToken"]) if q.get("NextToken") else None
    with ctx.db.read() as s:
        if ids:
            names = _resource_ids(ctx, ids)
            tagged = {n: _tagged(s, ctx, n).body.get("_tags") or {} for n in names}
        else:
            tagged = {r.name[len("fc3:"):]: r.body["_tags"] for r in res.all_rows(s, ctx.account, "service", "")
                      if is_fc3_service(r.name) and r.body.get("_tags")}
    rows = []
    for name in sorted(tagged):
        tags = tagged[name]
        if not all(f["Key"] in tags and ("Value" not in f or f.get("Value") in (None, tags[f["Key"]]))
                   for f in filters):
            continue
        for key in sorted(tags):
            if start is None or (name, key) >= start:
                rows.append((name, key, tags[key]))
    body: dict = {"TagResources": [{"ResourceId": function_arn(ctx.region, ctx.account, n), "ResourceType":
                                    RESOURCE_TYPE, "TagKey": k, "TagValue": v} for n, k, v in rows[:limit]],
                  "RequestId": request.state.request_id}
    if len(rows) > limit:
        body["NextToken"] = _token(rows[limit][0], rows[limit][1])
    return fc3_json(body)
