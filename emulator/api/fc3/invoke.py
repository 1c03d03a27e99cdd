"""FC 3.0 InvokeFunction (fc3-api.md §6): POST /2023-03-30/functions/{fn}/invocations[?qualifier=q].

The same call path as FC 2.0's InvokeFunction (api/invocations.py: limits, Tail logs, headers, the
async queue); what differs is the name (F -> hidden service `fc3:F`, `S$G` -> FC 2.0's pair), the async
task header (`x-fc-async-task-id` in and out, FC 2.0's stateful invocation id in the engine) and the
error shape. Function errors are 200 with `x-fc-error-type`, never API errors. The emulator's front
(api/front.py) serves this path directly, like FC 2.0's, without FastAPI's layers.
"""
from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from emulator import errors
from emulator.api.auth import Caller
from emulator.api.fc3.auth import authenticate_fc3
from emulator.api.fc3.wire import engine_pair
from emulator.api.invocations import _handle_async, handle_invoke

router = APIRouter(tags=["fc3-invocations"])

FC3_INVOKE_PATH = re.compile(r"^/2023-03-30/functions/([^/]+)/invocations$")
TASK_HEADER = "x-fc-async-task-id"


@router.post("/functions/{function}/invocations")
async def invoke_function(function: str, request: Request, caller: Caller = Depends(authenticate_fc3)):
    return await handle_invoke3(request, caller, function)


async def handle_invoke3(request: Request, caller: Caller, name: str) -> Response:
    svc, function = engine_pair(name)
    try:
        task_id = request.headers.get(TASK_HEADER)
        if (request.headers.get("x-fc-invocation-type") or ("Async" if task_id else "Sync")) != "Async":
            return await handle_invoke(request, caller, svc, function)  # sync (and its argument checks)
        qualifier = request.query_params.get("qualifier") or None if request.scope.get("query_string") else None
        response = await _handle_async(request, caller, svc, qualifier, function,
                                       request.headers.get("x-fc-log-type") or "None", task_id)
    except errors.FCError as exc:
        if exc.code in ("ServiceNotFound", "FunctionNotFound"):
            raise errors.FCError(404, "FunctionNotFound", f"function '{name}' does not exist") from None
        raise errors.FCError(exc.status, exc.code, exc.message.replace("StatefulAsyncInvocationId", TASK_HEADER)
                             .replace("stateful async invocation", "async task")) from None
    # FC 3.0 names the task in its own header (the engine keeps it as a stateful invocation id)
    task = response.headers.get("x-fc-stateful-async-invocation-id")
    if task is not None:
        del response.headers["x-fc-stateful-async-invocation-id"]
        response.headers[TASK_HEADER] = task
    return response
