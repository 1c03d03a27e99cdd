"""InvokeFunction (fc-api.md §2.4): POST /services/{svc}[.{q}]/functions/{fn}/invocations."""
from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator import errors
from emulator.api.auth import Caller, authenticate
from emulator.api.wire import error_response, split_qualifier
from emulator.invocation.sync import Invocation, Outcome, tracing_headers

router = APIRouter(tags=["invocations"])

SYNC_PAYLOAD_LIMIT = 32 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 128 * 1024  # fc-api.md §6
EXPOSE_HEADERS = ("Date,x-fc-request-id,x-fc-error-type,x-fc-code-checksum,x-fc-invocation-duration,"
                  "x-fc-max-memory-usage,x-fc-log-result,x-fc-invocation-code-version,x-fc-instance-id")


def outcome_headers(out: Outcome) -> dict[str, str]:
    headers = {
        "X-Fc-Code-Checksum": out.code_checksum,
        "X-Fc-Invocation-Duration": str(max(1, round(out.duration_ms))),
        "X-Fc-Max-Memory-Usage": f"{out.memory_mb:.2f}",
        "X-Fc-Invocation-Service-Version": out.version_id,
        "X-Fc-Instance-Id": out.instance_id,
        "Access-Control-Expose-Headers": EXPOSE_HEADERS,
    }
    if out.error_type:
        headers["X-Fc-Error-Type"] = out.error_type
    return headers


@router.post("/services/{service}/functions/{function}/invocations")
async def invoke_function(service: str, function: str, request: Request, caller: Caller = Depends(authenticate)):
    return await handle_invoke(request, caller, service, function)


async def handle_invoke(request: Request, caller: Caller, service: str, function: str) -> Response:
    svc, qualifier = split_qualifier(request, service)
    task_id = request.headers.get("x-fc-stateful-async-invocation-id")
    # a stateful invocation id implies Async (the SDKs send both)
    invocation_type = request.headers.get("x-fc-invocation-type") or ("Async" if task_id else "Sync")
    log_type = request.headers.get("x-fc-log-type") or "None"
    if invocation_type not in ("Sync", "Async"):
        raise errors.invalid_argument(
            f"InvocationType is set to an invalid value (allowed: Sync | Async, actual: '{invocation_type}')")
    if invocation_type == "Async":
        return await _handle_async(request, caller, svc, qualifier, function, log_type, task_id)
    if log_type not in ("Tail", "None"):
        raise errors.invalid_argument(f"LogType is set to an invalid value (allowed: Tail | None, actual: '{log_type}')")
    payload = await request.body()
    if len(payload) > SYNC_PAYLOAD_LIMIT:
        raise errors.entity_too_large(SYNC_PAYLOAD_LIMIT)
    inv = Invocation(account=caller.account_id, service=svc, qualifier=qualifier, function=function, payload=payload,
                     request_id=request.state.request_id, want_log=log_type == "Tail",
                     extra_headers=tracing_headers(request.headers.items()))
    invoker = request.app.state.invoker
    out = await invoker.invoke(inv)
    headers = outcome_headers(out)
    if inv.want_log:
        await invoker.collect_log(inv, out)
        headers["X-Fc-Log-Result"] = out.log_tail_b64()
    media = "application/json" if out.error_type else "application/octet-stream"
    return Response(content=out.body, status_code=200, headers=headers, media_type=media)


async def _handle_async(request: Request, caller: Caller, svc: str, qualifier: str | None, function: str,
                        log_type: str, task_id: str | None) -> Response:
    """202 at once; the event is in the queue (emulator/invocation/async_worker.py)."""
    if log_type != "None":
        raise errors.invalid_argument(f"LogType is set to an invalid value (allowed: None, actual: '{log_type}')")
    enable = (request.headers.get("x-fc-stateful-async-invocation-enable") or "").lower()
    if enable not in ("", "true", "false"):
        raise errors.invalid_argument(f"StatefulAsyncInvocationEnable is set to an invalid value (allowed: "
                                      f"true | false, actual: '{enable}')")
    payload = await request.body()
    if len(payload) > ASYNC_PAYLOAD_LIMIT:
        raise errors.entity_too_large(ASYNC_PAYLOAD_LIMIT)
    request_id = request.state.request_id
    task_id = await request.app.state.async_invoker.enqueue(
        account=caller.account_id, service=svc, qualifier=qualifier, function=function, payload=payload,
        request_id=request_id, headers=tracing_headers(request.headers.items()),
        invocation_id=task_id, stateful_enable=None if not enable else enable == "true")
    headers = {"X-Fc-Stateful-Async-Invocation-Id": task_id} if task_id else {}
    return Response(status_code=202, headers=headers)


INVOKE_PATH = re.compile(r"^/(?:2016-08-15|2021-04-06)/services/([^/]+)/functions/([^/]+)/invocations$")


class InvokeFastPath:
    """InvokeFunction is the hot path: serve it without FastAPI's router and dependency machinery
    (about half of the emulator's CPU per warm call). Same handler, same auth, same errors."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        m = scope["type"] == "http" and scope["method"] == "POST" and INVOKE_PATH.fullmatch(scope["path"])
        if not m:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)  # scope["app"] is the FastAPI app (Starlette sets it first)
        try:
            response = await handle_invoke(request, await authenticate(request), m.group(1), m.group(2))
        except errors.FCError as exc:
            response = error_response(request, exc)
        await response(scope, receive, send)
