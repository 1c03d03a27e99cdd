"""FC 3.0 instances (fc3-api.md §4.12, §4.18): ListInstances and the instance-exec WebSocket.

The instances are the engine's (FC 2.0's ListInstances/InstanceExec internals, api/instances.py): F's are
those of (fc3:F, F), an `S$G` name's those of (S, G). FC 3.0 differences:
- list parameters arrive as JSON arrays in one string (`instanceIds=["c-1"]`, `instanceStatus=[...]`),
  booleans as True/true (§0); `versionId` is a string ("0" for LATEST); times are epoch milliseconds;
- exec (`s instance exec`) is signed with FC 2.0's `FC` scheme or ACS3; fc3's client sends stdin as raw
  frames without a channel byte, so a frame is stdin unless it starts with 0x00 (stdin) or is a resize
  (0x04 + JSON); handshake errors carry FC 3.0's Code/Message and the ErrorCode/ErrorMessage fc3 reads.
"""
from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Depends, Request, WebSocket

from emulator import errors
from emulator.api.fc3.auth import Ctx3, authenticate_fc3, fc3_ctx
from emulator.api.fc3.functions import lookup
from emulator.api.fc3.triggers import require_pair
from emulator.api.fc3.wire import (
    fc3_error,
    fc3_json,
    qualifier_of,
    query_bool,
    query_json_list,
)
from emulator.api.instances import (
    MAX_LIMIT,
    _finish,
    run_exec,
    _http_request,
    _limit,
    _live,
    _options,
    _versions,
)
from emulator.api.wire import FCJSONResponse
from emulator.execution import exec as instance_exec
from emulator.store import snapshots

router = APIRouter(tags=["FC 3.0 instances"])
log = logging.getLogger("fc_emulator.instances")

RUNNING = "Running"  # the only status a live instance has locally (FC also shows Destroyed ones)


def _pair(ctx: Ctx3, name: str) -> tuple[str, str]:
    with ctx.db.read() as s:
        return require_pair(s, ctx, name)


def _strings(request: Request, name: str) -> set[str] | None:
    values = query_json_list(request, name)
    if values is None:
        return None
    if not all(isinstance(v, str) for v in values):
        raise errors.invalid_argument(f"{name} must be a JSON array of strings")
    return set(values)


def _ms(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name) or ""
    if not raw:
        return None
    if not raw.isdigit():
        raise errors.invalid_argument(f"{name} is set to an invalid value: epoch milliseconds expected, "
                                      f"actual: '{raw[:100]}'")
    return int(raw)


@router.get("/functions/{function}/instances")
def list_instances(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    request = ctx.request
    q = request.query_params
    limit = _limit(q.get("limit") or "")
    wanted = _strings(request, "instanceIds")
    statuses = _strings(request, "instanceStatus")
    query_bool(request, "withAllActive")  # checked only: every live instance is active locally
    begin, end = _ms(request, "startTimeMs"), _ms(request, "endTimeMs")
    start_key = q.get("startKey") or q.get("nextToken") or ""
    qualifier = qualifier_of(request)
    svc, fn = _pair(ctx, function)
    versions = _versions(ctx.db, ctx.account, svc, qualifier, fn)
    items = []
    for inst, version in _live(request, ctx.account, svc, fn, versions):
        created = int(inst.created * 1000)
        if (wanted is not None and inst.id not in wanted) or (statuses is not None and RUNNING not in statuses):
            continue
        if (begin is not None and created < begin) or (end is not None and created > end):
            continue
        if inst.id < start_key:
            continue
        items.append({"instanceId": inst.id, "versionId": "0" if version == snapshots.LATEST else version,
                      "qualifier": qualifier, "status": RUNNING, "createdTimeMs": created})
    items.sort(key=lambda i: i["instanceId"])
    return fc3_json({"instances": items[:min(limit, MAX_LIMIT)], "requestId": request.state.request_id})


# ---- exec -------------------------------------------------------------------------------------------

def _frame(data: bytes) -> tuple[int, bytes]:
    """fc3 sends raw stdin (no channel byte); FC 2.0 clients prefix 0x00 (stdin) or 0x04 (resize JSON)."""
    if not data:
        return instance_exec.STDIN, b""
    if data[0] == instance_exec.STDIN:
        return instance_exec.STDIN, data[1:]
    if data[0] == instance_exec.RESIZE and data[1:2] == b"{":
        return instance_exec.RESIZE, data[1:]
    return instance_exec.STDIN, data


def _handshake_error(request: Request, exc: errors.FCError):
    exc = fc3_error(exc)
    rid = getattr(request.state, "request_id", "")
    return FCJSONResponse({"Code": exc.code, "Message": exc.message, "RequestId": rid,
                           "ErrorCode": exc.code, "ErrorMessage": exc.message}, status_code=exc.status,
                          headers={"x-fc-request-id": rid})


async def _refuse(ws: WebSocket, request: Request, exc: errors.FCError) -> None:
    response = _handshake_error(request, exc)
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(response)
        return
    await ws.accept()
    await _finish(ws, error=response.body.decode())


@router.websocket("/functions/{function}/instances/{instance_id}/exec")
async def exec_instance(ws: WebSocket, function: str, instance_id: str):
    request = _http_request(ws)
    try:
        caller = await authenticate_fc3(request)
        opts = _options(ws)
        qualifier = ws.query_params.get("qualifier") or snapshots.LATEST
        account = caller.account_id

        def find() -> tuple[str, str, list[str]]:
            with request.app.state.db.read() as s:
                svc, fn, _, _ = lookup(s, account, function)
            return svc, fn, _versions(request.app.state.db, account, svc, qualifier, fn)

        svc, fn, versions = await asyncio.to_thread(find)
        instance = next((inst for inst, _ in _live(request, account, svc, fn, versions) if inst.id == instance_id),
                        None)
        if instance is None:
            raise errors.FCError(404, "InstanceNotFound", f"instance '{instance_id}' of function '{function}' "
                                                          f"does not exist or is not running")
    except errors.FCError as exc:
        await _refuse(ws, request, exc)
        return
    await run_exec(ws, instance, opts, _frame, function)
