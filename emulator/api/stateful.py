"""Stateful async invocations ("async tasks", fc-api.md §2.10): list, get, stop, and the functions
that have them enabled.

The async worker owns the invocations themselves; this module reads them through the small store
functions below (kind `stateful_invocation`, parent "svc/fn", name = invocationId, body = FC's
Invocation object plus private "_" keys), so the worker only has to write those rows.
"""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.context import Ctx, fc_ctx
from emulator.api.wire import fc_json, page_params, split_qualifier
from emulator.store import resources as res
from emulator.store import snapshots

router = APIRouter(tags=["stateful"])

KIND = "stateful_invocation"
STATUSES = ("Enqueued", "Dequeued", "Running", "Succeeded", "Failed", "Stopped", "Stopping", "Expired", "Invalid")
FINISHED = ("Succeeded", "Failed", "Stopped", "Expired", "Invalid")


@dataclass
class InvocationQuery:
    """ListStatefulAsyncInvocations' filters, validated."""
    qualifier: str | None = None  # None: every qualifier
    id_prefix: str = ""
    status: str | None = None
    started_begin: int | None = None  # epoch ms, inclusive
    started_end: int | None = None  # epoch ms, inclusive
    order: str = "desc"
    include_payload: bool = False
    limit: int = 20
    next_token: str = ""


def _epoch_ms(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name) or ""
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise errors.invalid_argument(f"{name} is set to an invalid value (expected: epoch milliseconds, "
                                      f"actual: '{raw}')")
    return value


def parse_query(request: Request, qualifier: str | None) -> InvocationQuery:
    q = request.query_params
    p = page_params(request)
    status = q.get("status") or None
    if status is not None and status not in STATUSES:
        raise errors.invalid_argument(f"status is set to an invalid value (allowed: {' | '.join(STATUSES)}, "
                                      f"actual: '{status}')")
    order = (q.get("sortOrderByTime") or "desc").lower()
    if order not in ("asc", "desc"):
        raise errors.invalid_argument(f"sortOrderByTime is set to an invalid value (allowed: asc | desc, "
                                      f"actual: '{q.get('sortOrderByTime')}')")
    payload = (q.get("includePayload") or "false").lower()
    if payload not in ("true", "false"):
        raise errors.invalid_argument(f"includePayload is set to an invalid value (allowed: true | false, "
                                      f"actual: '{q.get('includePayload')}')")
    begin, end = _epoch_ms(request, "startedTimeBegin"), _epoch_ms(request, "startedTimeEnd")
    if begin is not None and end is not None and end < begin:
        raise errors.invalid_argument(f"startedTimeEnd ({end}) is earlier than startedTimeBegin ({begin})")
    return InvocationQuery(qualifier=qualifier, id_prefix=q.get("invocationIdPrefix") or "", status=status,
                           started_begin=begin, started_end=end, order=order, include_payload=payload == "true",
                           limit=p.limit, next_token=p.next_token)


# --- store access (the async worker writes these rows) ---------------------------------------------

def _public(body: dict, include_payload: bool) -> dict:
    out = {k: v for k, v in body.items() if not k.startswith("_")}
    if not include_payload:
        out.pop("invocationPayload", None)
    return out


def list_invocations(s: Session, account: str, svc: str, fn: str,
                     query: InvocationQuery) -> tuple[list[dict], str | None]:
    """One page of a function's invocations, newest first unless asc; token = next page's first id."""
    def keep(b: dict) -> bool:
        started = b.get("startedTime") or 0
        return ((query.qualifier is None or b.get("qualifier") == query.qualifier)
                and b.get("invocationId", "").startswith(query.id_prefix)
                and (query.status is None or b.get("status") == query.status)
                and (query.started_begin is None or started >= query.started_begin)
                and (query.started_end is None or started <= query.started_end))

    bodies = [r.body for r in res.all_rows(s, account, KIND, f"{svc}/{fn}") if keep(r.body)]
    bodies.sort(key=lambda b: (b.get("startedTime") or 0, b.get("invocationId", "")), reverse=query.order == "desc")
    ids = [b["invocationId"] for b in bodies]
    start = ids.index(query.next_token) if query.next_token in ids else (len(ids) if query.next_token else 0)
    page = bodies[start:start + query.limit]
    token = ids[start + query.limit] if len(ids) > start + query.limit else None
    return [_public(b, query.include_payload) for b in page], token


def get_invocation(s: Session, account: str, svc: str, fn: str, invocation_id: str) -> res.ResourceRow:
    return res.require(s, account, KIND, f"{svc}/{fn}", invocation_id,
                       lambda: errors.stateful_invocation_not_found(invocation_id))


def stop_invocation(s: Session, account: str, svc: str, fn: str, invocation_id: str) -> dict:
    """Ask the worker to stop a task: it sees `Stopping` and finishes the job."""
    row = get_invocation(s, account, svc, fn, invocation_id)
    status = row.body.get("status")
    if status == "Stopped":
        raise errors.async_invocation_stopped(invocation_id)
    if status in FINISHED:
        raise errors.invalid_argument(f"stateful async invocation '{invocation_id}' has already finished "
                                      f"(status: {status})")
    row = res.update(s, row, {**row.body, "status": "Stopping"})
    return _public(row.body, False)


# --- API -------------------------------------------------------------------------------------------

def _resolve(s: Session, ctx: Ctx, service_segment: str, fn: str) -> tuple[str, str | None]:
    svc, qualifier = split_qualifier(ctx.request, service_segment)
    snapshots.resolve(s, ctx.account, svc, qualifier).function(s, fn)
    return svc, qualifier


@router.get("/services/{service}/functions/{function}/stateful-async-invocations")
def list_stateful_async_invocations(service: str, function: str, ctx: Ctx = Depends(fc_ctx)):
    svc, qualifier = split_qualifier(ctx.request, service)
    query = parse_query(ctx.request, qualifier)
    with ctx.db.read() as s:
        _resolve(s, ctx, service, function)
        items, token = list_invocations(s, ctx.account, svc, function, query)
    body: dict = {}
    if items:  # `invocations` is absent when there are none (java-test asserts null)
        body["invocations"] = items
    if token:
        body["nextToken"] = token
    return fc_json(body)


@router.get("/services/{service}/functions/{function}/stateful-async-invocations/{invocation_id}")
def get_stateful_async_invocation(service: str, function: str, invocation_id: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.read() as s:
        svc, _ = _resolve(s, ctx, service, function)
        row = get_invocation(s, ctx.account, svc, function, invocation_id)
        return fc_json(_public(row.body, True))


@router.put("/services/{service}/functions/{function}/stateful-async-invocations/{invocation_id}")
def stop_stateful_async_invocation(service: str, function: str, invocation_id: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.write() as s:
        svc, _ = _resolve(s, ctx, service, function)
        stop_invocation(s, ctx.account, svc, function, invocation_id)
    return fc_json({})


@router.get("/stateful-async-invocation-functions")
def list_stateful_async_invocation_functions(ctx: Ctx = Depends(fc_ctx)):
    """Functions whose async config turns stateful invocation on, by service/function/qualifier."""
    p = page_params(ctx.request)
    with ctx.db.read() as s:
        rows = [r for r in res.all_rows(s, ctx.account, "async_config") if r.body.get("statefulInvocation")]
    items = sorted(({"serviceName": r.body["service"], "functionName": r.body["function"],
                     "qualifier": r.body["qualifier"]} for r in rows),
                   key=lambda d: (d["serviceName"], d["functionName"], d["qualifier"]))
    keys = ["/".join((d["serviceName"], d["functionName"], d["qualifier"])) for d in items]
    start = next((i for i, k in enumerate(keys) if k >= p.next_token), len(keys)) if p.next_token else 0
    page = items[start:start + p.limit]
    body: dict = {"data": page}
    if len(items) > start + p.limit:
        body["nextToken"] = keys[start + p.limit]
    return fc_json(body)
