"""FC 3.0 async tasks (fc3-api.md §4.8, §8.3): FC 2.0's stateful async invocations, renamed.

A task is an async event with `asyncTask` on (the engine's `statefulInvocation`), created by an async
InvokeFunction; `taskId` is the invocation id (`x-fc-async-task-id`, or one generated).
"""
from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Depends

from emulator import errors
from emulator.api.fc3.auth import Ctx3, fc3_ctx
from emulator.api.fc3.triggers import require_pair
from emulator.api.fc3.wire import fc3_json, fc3_name, function_arn, no_content, paged
from emulator.api.stateful import get_invocation, list_invocations, parse_query, render
from emulator.store import snapshots

router = APIRouter(tags=["FC 3.0 async tasks"])

_RENAMED = {"invocationId": "taskId", "invocationPayload": "taskPayload", "invocationErrorMessage": "taskErrorMessage"}


def _task(ctx: Ctx3, item: dict) -> dict:
    out = {_RENAMED.get(k, k): v for k, v in item.items() if k not in ("serviceName", "functionName")}
    name = fc3_name(item["serviceName"], item["functionName"])
    out["functionArn"] = function_arn(ctx.region, ctx.account, name, item.get("qualifier"))
    return out


def _resolve(s, ctx: Ctx3, function: str) -> tuple[str, str, str | None]:
    svc, fn = require_pair(s, ctx, function)
    qualifier = ctx.request.query_params.get("qualifier") or None
    snapshots.resolve(s, ctx.account, svc, qualifier or snapshots.LATEST).function(s, fn)
    return svc, fn, qualifier


@router.get("/functions/{function}/async-tasks")
def list_async_tasks(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.read() as s:
        svc, fn, qualifier = _resolve(s, ctx, function)
        query = parse_query(ctx.request, qualifier)
        query.id_prefix = ctx.request.query_params.get("prefix") or ""  # FC 3.0 names it `prefix`
        items, token = list_invocations(s, ctx.account, svc, fn, query)
    return fc3_json(paged("tasks", [_task(ctx, i) for i in items], token))


@router.get("/functions/{function}/async-tasks/{task_id}")
def get_async_task(function: str, task_id: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.read() as s:
        svc, fn, _ = _resolve(s, ctx, function)
        try:
            ev = get_invocation(s, ctx.account, svc, fn, task_id)
        except errors.FCError as exc:
            if exc.status != 404:
                raise
            raise errors.FCError(404, "AsyncTaskNotFound", f"async task '{task_id}' of function '{function}' "
                                                           f"does not exist") from None
        return fc3_json(_task(ctx, render(ev, True)))


@router.put("/functions/{function}/async-tasks/{task_id}/stop")
async def stop_async_task(function: str, task_id: str, ctx: Ctx3 = Depends(fc3_ctx)):
    """Queued: Stopped at once; running: cancelled (the instance is thrown away); finished: 400."""
    def check() -> tuple[str, str]:
        with ctx.db.read() as s:
            svc, fn, _ = _resolve(s, ctx, function)
            try:
                get_invocation(s, ctx.account, svc, fn, task_id)
            except errors.FCError as exc:
                if exc.status == 404:
                    raise errors.FCError(404, "AsyncTaskNotFound", f"async task '{task_id}' of function "
                                                                   f"'{function}' does not exist") from None
                raise
            return svc, fn

    svc, fn = await anyio.to_thread.run_sync(check)
    await ctx.request.app.state.async_invoker.stop(ctx.account, svc, fn, task_id)
    return no_content()
