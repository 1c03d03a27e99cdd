"""ListInstances and InstanceExec (fc-api.md §2.12).

GET /services/{svc}[.{q}]/functions/{fn}/instances lists the live instances of the function
version(s) the qualifier resolves to (an alias: its version and its weighted extras).
GET …/instances/{id}/exec is a WebSocket: every frame's first character is its channel
(0 stdin, 1 stdout, 2 stderr, 3 server error, 4 resize, 5 close), the rest its payload.
Frames are sent as text, as aliyun-fc2 reads them (`ord(msg[0])`); binary frames from a client
are accepted too.
"""
from __future__ import annotations

import asyncio
import logging
import uuid

from fastapi import APIRouter, Depends, Request, WebSocket
from starlette.websockets import WebSocketDisconnect

from emulator import errors
from emulator.api.auth import authenticate
from emulator.api.context import Ctx, fc_ctx
from emulator.api.wire import error_response, paged, split_qualifier
from emulator.execution import exec as instance_exec
from emulator.execution.instance import Instance
from emulator.model.numbers import parse_int
from emulator.store import snapshots
from emulator.store.db import Database

router = APIRouter(tags=["instances"])
log = logging.getLogger("fc_emulator.instances")

MAX_LIMIT = 1000
MAX_IDLE_TIMEOUT_S = 86400


def _versions(db: Database, account: str, svc: str, qualifier: str | None, function: str) -> list[str]:
    """The versions a qualifier runs: LATEST, a version, or an alias's version plus its weighted ones.
    FC's 404s for a missing service, alias, version or function."""
    with db.read() as s:
        snap = snapshots.resolve(s, account, svc, qualifier)
        snap.function(s, function)
    extra = list(((snap.alias or {}).get("additionalVersionWeight") or {}).keys())
    return [snap.version_id] + [str(v) for v in extra if str(v) != snap.version_id]


def _live(request, account: str, svc: str, function: str, versions: list[str]) -> list[tuple[Instance, str]]:
    pools = request.app.state.pools
    return [(inst, v) for v in versions for inst in pools.live_instances((account, svc, function, v))]


def _limit(raw: str) -> int:
    """0 or absent: every instance (at most 1000)."""
    if not raw:
        return MAX_LIMIT
    limit = parse_int(raw)
    if limit is None:
        raise errors.invalid_argument(f"limit is set to an invalid value (actual: '{raw[:100]}')")
    if limit < 0 or limit > MAX_LIMIT:
        raise errors.invalid_argument(f"limit is set to an invalid value (allowed: 0 to {MAX_LIMIT}, actual: {limit})")
    return limit or MAX_LIMIT


@router.get("/services/{service}/functions/{function}/instances")
def list_instances(service: str, function: str, ctx: Ctx = Depends(fc_ctx)):
    svc, qualifier = split_qualifier(ctx.request, service)
    q = ctx.request.query_params
    limit = _limit(q.get("limit") or "")
    wanted = {i.strip() for raw in q.getlist("instanceIds") for i in raw.split(",") if i.strip()}
    token = q.get("nextToken") or ""
    versions = _versions(ctx.db, ctx.account, svc, qualifier, function)
    items = sorted(({"instanceId": inst.id, "versionId": 0 if v == snapshots.LATEST else int(v),
                     **({"debugPort": inst.debug_port} if inst.debug_port else {})}  # fc-emulator --debug
                    for inst, v in _live(ctx.request, ctx.account, svc, function, versions)
                    if not wanted or inst.id in wanted), key=lambda i: i["instanceId"])
    items = [i for i in items if i["instanceId"] >= token]
    next_token = items[limit]["instanceId"] if len(items) > limit else None
    return paged("instances", items[:limit], next_token)


# ---- exec -----------------------------------------------------------------------------------------

def _flag(ws: WebSocket, name: str, default: bool) -> bool:
    raw = (ws.query_params.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false"):
        raise errors.invalid_argument(f"{name} is set to an invalid value (allowed: true | false, actual: '{raw}')")
    return raw == "true"


def _options(ws: WebSocket) -> instance_exec.ExecOptions:
    argv = ws.query_params.getlist("command")
    if not argv or not argv[0]:
        raise errors.invalid_argument("command is required: pass the command and its arguments as "
                                      "repeated `command` query parameters")
    raw = ws.query_params.get("idleTimeout") or ""
    idle = instance_exec.DEFAULT_IDLE_TIMEOUT_S
    if raw:
        idle = parse_int(raw) or -1
        if not 0 < idle <= MAX_IDLE_TIMEOUT_S:  # a timer of 10^20 s overflows
            raise errors.invalid_argument(f"idleTimeout is set to an invalid value (1 to {MAX_IDLE_TIMEOUT_S} "
                                          f"seconds, actual: '{raw[:100]}')")
    return instance_exec.ExecOptions(argv=argv, stdin=_flag(ws, "stdin", False), stdout=_flag(ws, "stdout", True),
                                     stderr=_flag(ws, "stderr", True), tty=_flag(ws, "tty", False), idle_timeout=idle)


def _http_request(ws: WebSocket) -> Request:
    """The handshake as an HTTP GET, for the FC signature check and FC's error responses."""
    async def no_body():
        return {"type": "http.request", "body": b"", "more_body": False}
    ws.scope.setdefault("state", {}).setdefault("request_id", str(uuid.uuid4()))
    return Request({**ws.scope, "type": "http", "method": "GET"}, no_body)


@router.websocket("/services/{service}/functions/{function}/instances/{instance_id}/exec")
async def exec_instance(ws: WebSocket, service: str, function: str, instance_id: str):
    request = _http_request(ws)
    try:
        caller = await authenticate(request)
        opts = _options(ws)
        svc, qualifier = split_qualifier(request, service)
        versions = await asyncio.to_thread(_versions, request.app.state.db, caller.account_id, svc, qualifier,
                                           function)
        instance = next((inst for inst, _ in _live(request, caller.account_id, svc, function, versions)
                         if inst.id == instance_id), None)
        if instance is None:
            raise errors.instance_not_found(svc, function, instance_id)
    except errors.FCError as exc:
        await _refuse(ws, request, exc)
        return
    await run_exec(ws, instance, opts, _frame, f"{svc}/{function}")


def _frame(data: bytes) -> tuple[int, bytes]:
    return (data[0], data[1:]) if data else (instance_exec.STDIN, b"")


async def run_exec(ws: WebSocket, instance: Instance, opts: instance_exec.ExecOptions, frame, label: str) -> None:
    """Accept the socket and run the command in the instance; `frame` splits a client frame into
    (channel, data) (both APIs' exec); the close frame when it ends."""
    await ws.accept()

    async def send(channel: int, text: str) -> None:
        await ws.send_text(chr(channel) + text)

    async def receive() -> tuple[int, bytes] | None:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return None
        data = message.get("bytes")
        if data is None:
            data = (message.get("text") or "").encode("utf-8")
        return frame(data)

    log.info("exec %s in instance %s of %s", opts.argv, instance.id, label)
    try:
        result = await instance_exec.run(instance, instance.backend, opts, send, receive)
    except instance_exec.StartFailed as exc:
        await _finish(ws, error=str(exc))
        return
    except WebSocketDisconnect:
        return
    log.info("exec %s in instance %s ended: %s", opts.argv, instance.id,
             f"exit status {result.exit_code}" if result.exit_code is not None else result.reason)
    await _finish(ws, exit_code=result.exit_code)


async def _refuse(ws: WebSocket, request: Request, exc: errors.FCError) -> None:
    """A handshake error: FC's JSON error as the HTTP answer, without upgrading (when the server can)."""
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(error_response(request, exc))
        return
    await ws.accept()
    await _finish(ws, error=error_response(request, exc).body.decode())


async def _finish(ws: WebSocket, exit_code: int | None = None, error: str = "") -> None:
    """The close frame (channel 5, payload: the exit status) when the command exited, then close."""
    try:
        if error:
            await ws.send_text(chr(instance_exec.ERROR) + error)
        if exit_code is not None:
            await ws.send_text(chr(instance_exec.CLOSE) + str(exit_code))
        await ws.close(1000)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client left first
