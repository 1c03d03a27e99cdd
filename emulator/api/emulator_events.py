"""Event-source triggers fired locally, under /_emulator (not FC's API).

POST /_emulator/events/{source}      source: oss | log | mns_topic | tablestore | cdn_events | eventbridge | rds
body: the essentials of one event, e.g. {"bucket": "b", "key": "photos/a.png", "eventName": "ObjectCreated:PutObject",
"size": 1024} (per source: docs/events.md).

Every trigger of that type in the caller's account whose sourceArn and filters match fires with FC's event for
that source, invoked as FC invokes it: Async ones are queued (answer at once), Sync ones run before the answer.
Answer: {"source", "matched": [{serviceName, functionName, triggerName, qualifier, invocationType, requestId,
status: Enqueued | Succeeded | Failed | Refused, ...}]}; no match = an empty list.
"""
from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emulator import errors
from emulator.api.auth import account_of
from emulator.invocation.sync import Invocation
from emulator.model.base import parse_json
from emulator.store import resources as res
from emulator.triggers import events

router = APIRouter(prefix="/_emulator", tags=["emulator"])
RESULT_BYTES = 4096  # a sync function's result, as text, in the answer


async def _essentials_body(request: Request) -> dict:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = parse_json(raw)
    except ValueError as exc:
        raise errors.invalid_argument(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise errors.invalid_argument("the request body must be a JSON object")
    return body


def _triggers(db, account: str, trigger_type: str) -> list[events.Trigger]:
    with db.read() as s:
        rows = [r for r in res.all_rows(s, account, "trigger") if r.body.get("triggerType") == trigger_type]
        return sorted((events.trigger_of(r) for r in rows), key=lambda t: (t.service, t.function, t.name))


async def _fire(app, account: str, source: events.Source, t: events.Trigger, payload: bytes) -> dict:
    style = source.invocation(t)
    request_id = str(uuid.uuid4())
    answer = {"serviceName": t.service, "functionName": t.function, "triggerName": t.name, "qualifier": t.qualifier,
              "invocationType": style, "requestId": request_id}
    try:
        if style == events.ASYNC:
            await app.state.async_invoker.enqueue(account=account, service=t.service, qualifier=t.qualifier,
                                                  function=t.function, payload=payload, request_id=request_id,
                                                  headers={}, invocation_id=None, stateful_enable=None)
            return {**answer, "status": "Enqueued"}
        # Sync sources call the function and wait; a source that retries (Log's jobConfig.maxRetryTime)
        # runs a failed task again at once, as attempts of the same request.
        for attempt in range(1 + source.retries(t)):
            out = await app.state.invoker.invoke(Invocation(
                account=account, service=t.service, qualifier=t.qualifier, function=t.function, payload=payload,
                request_id=request_id, retry_count=attempt, kind="event"))
            if out.ok:
                break
    except errors.FCError as exc:  # the function is gone, cannot start, is throttled ...
        return {**answer, "status": "Refused", "errorCode": exc.code, "errorMessage": exc.message}
    return {**answer, "status": "Succeeded" if out.ok else "Failed", "errorType": out.error_type,
            "attempts": attempt + 1, "result": out.body[:RESULT_BYTES].decode("utf-8", errors="replace")}


@router.post("/events/{source}")
async def put_event(source: str, request: Request):
    app = request.app
    src = events.source_of(source)
    account = account_of(request, app.state.settings)
    env = events.Env(account=account, region=app.state.settings.region)
    essentials = src.essentials(await _essentials_body(request), env)
    triggers = await asyncio.to_thread(_triggers, app.state.db, account, src.name)
    try:
        fired = [(t, src.build(t, essentials, env)) for t in triggers if src.fires(t, essentials, env)]
    except ValueError as exc:  # a value the source's encoding cannot carry
        raise errors.invalid_argument(str(exc)) from None
    matched = await asyncio.gather(*(_fire(app, account, src, t, payload) for t, payload in fired))
    return JSONResponse({"source": src.name, "matched": list(matched)})
