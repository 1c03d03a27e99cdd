"""Stateful async invocations ("async tasks", fc-api.md §2.10): list, get, stop, and the functions
that have them enabled.

The tasks are the async queue's rows with `stateful` set (emulator/store/async_queue.py); the async
worker (emulator/invocation/async_worker.py) runs them and stops running ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import anyio.to_thread

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.context import Ctx, fc_ctx
from emulator.api.wire import fc_json, page_params, split_qualifier
from emulator.model.numbers import parse_int
from emulator.store import async_queue as queue
from emulator.store import resources as res
from emulator.store import snapshots

router = APIRouter(tags=["stateful"])

STATUSES = ("Enqueued", "Dequeued", "Running", "Succeeded", "Failed", "Stopped", "Stopping", "Expired", "Invalid")


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
    value = parse_int(raw, signed=False)  # ASCII digits, int64: SQLite compares it
    if value is None:
        raise errors.invalid_argument(f"{name} is set to an invalid value (expected: epoch milliseconds, "
                                      f"actual: '{raw[:100]}')")
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


# --- store access ---------------------------------------------------------------------------------

def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")


def render(ev: queue.AsyncEvent, include_payload: bool) -> dict:
    """FC's Invocation object. startedTime is when the task was accepted (so queued tasks have one)."""
    body = {
        "serviceName": ev.service, "functionName": ev.function, "qualifier": ev.qualifier,
        "invocationId": ev.invocation_id, "requestId": ev.request_id, "status": ev.status,
        "startedTime": int(ev.enqueued_at * 1000),
        "endTime": int(ev.ended_at * 1000) if ev.ended_at else None,
        "durationMs": ev.duration_ms,
        "alreadyRetriedTimes": max(0, ev.attempt - 1),
        "instanceId": ev.instance_id or None,
        "destinationStatus": ev.destination_status or None,
        "invocationErrorMessage": ev.error_message if ev.status != queue.SUCCEEDED else None,
        "returnPayload": _text(ev.result) if ev.status == queue.SUCCEEDED else None,
        "events": list(ev.events or []),
    }
    if include_payload:
        body["invocationPayload"] = _text(ev.payload)
    return {k: v for k, v in body.items() if v is not None}


def list_invocations(s: Session, account: str, svc: str, fn: str,
                     query: InvocationQuery) -> tuple[list[dict], str | None]:
    """One page of a function's tasks, newest first unless asc; token = next page's first id."""
    rows = queue.list_tasks(s, account, svc, fn, qualifier=query.qualifier, id_prefix=query.id_prefix,
                            status=query.status, started_begin=query.started_begin, started_end=query.started_end,
                            order=query.order)
    ids = [ev.invocation_id for ev in rows]
    start = ids.index(query.next_token) if query.next_token in ids else (len(ids) if query.next_token else 0)
    page = rows[start:start + query.limit]
    token = ids[start + query.limit] if len(ids) > start + query.limit else None
    return [render(ev, query.include_payload) for ev in page], token


def get_invocation(s: Session, account: str, svc: str, fn: str, invocation_id: str) -> queue.AsyncEvent:
    ev = queue.find_task(s, account, svc, fn, invocation_id)
    if ev is None or not ev.stateful:
        raise errors.stateful_invocation_not_found(invocation_id)
    return ev


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
        return fc_json(render(get_invocation(s, ctx.account, svc, function, invocation_id), True))


@router.put("/services/{service}/functions/{function}/stateful-async-invocations/{invocation_id}")
async def stop_stateful_async_invocation(service: str, function: str, invocation_id: str, ctx: Ctx = Depends(fc_ctx)):
    """Queued: Stopped at once. Running: its call is cancelled and the instance thrown away (FC kills
    it); answered once it is Stopped. Finished: 400 InvalidArgument; already stopped: 412."""
    def check() -> str:
        with ctx.db.read() as s:
            return _resolve(s, ctx, service, function)[0]

    svc = await anyio.to_thread.run_sync(check)
    await ctx.request.app.state.async_invoker.stop(ctx.account, svc, function, invocation_id)
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
