"""The ASGI app uvicorn serves: InvokeFunction on the emulator's own address goes straight to its
handler; every other request goes to the FastAPI app and its middleware.

InvokeFunction is the hot path. Through FastAPI it passed eight ASGI layers (uvicorn's proxy headers,
Starlette's error and exception middleware, FastAPI's body limit and telemetry, our wire, error barrier
and custom-domain layers) that cost about as much CPU as the rest of the call. Here the same handler
answers with the same wire conventions (wire.py: request id, Go-cased header names, Date) and the same
error mapping (FC's errors; anything unexpected is FC's 500, the kept-alive connection survives).
A Host that may be a custom domain keeps the full path, where CustomDomains decides.
"""
from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from starlette.types import Receive, Scope, Send

from emulator import errors
from emulator.api.auth import authenticate
from emulator.api.invocations import INVOKE_PATH, handle_invoke
from emulator.api.proxy import is_local_host
from emulator.api.fc3.auth import authenticate_fc3
from emulator.api.fc3.invoke import FC3_INVOKE_PATH, handle_invoke3
from emulator.api.wire import canonical_headers, error_response, new_request_id

log = logging.getLogger("fc_emulator")


# fc_http_requests_total's route label on the fast path: the templates FastAPI's routes carry
FAST_ROUTES = {"/2016-08-15": "/2016-08-15/services/{service}/functions/{function}/invocations",
               "/2021-04-06": "/2021-04-06/services/{service}/functions/{function}/invocations",
               "/2023-03-30": "/2023-03-30/functions/{function}/invocations"}


class Front:
    def __init__(self, app: FastAPI):
        self.app = app
        self.metrics = getattr(app.state, "metrics", None)  # api/metrics.py

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            m = INVOKE_PATH.fullmatch(scope["path"])
            if m is not None and is_local_host(scope):
                await self._invoke(scope, receive, send, m.group(1), m.group(2))
                return
            m = FC3_INVOKE_PATH.fullmatch(scope["path"])  # FC 3.0 InvokeFunction: the same fast path
            if m is not None and is_local_host(scope):
                await self._invoke(scope, receive, send, None, m.group(1))
                return
        await self.app(scope, receive, send)

    async def _invoke(self, scope: Scope, receive: Receive, send: Send, service: str | None, function: str) -> None:
        """`service` None: FC 3.0's InvokeFunction of `function` (an FC 3.0 name)."""
        scope["app"] = self.app  # what Starlette sets: handlers reach app.state through the request
        request_id = str(uuid.uuid4()) if service is not None else new_request_id(scope["path"])
        scope.setdefault("state", {})["request_id"] = request_id
        request = Request(scope, receive)
        try:
            if service is None:
                response = await handle_invoke3(request, await authenticate_fc3(request), function)
            else:
                response = await handle_invoke(request, await authenticate(request), service, function)
        except errors.FCError as exc:
            response = error_response(request, exc)
        except Exception:  # noqa: BLE001 - as ErrorBarrier: FC's 500, and the connection stays usable
            log.exception("internal error on POST %s", scope["path"])
            response = error_response(request, errors.internal_error())
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": canonical_headers(response.raw_headers, request_id)})
        await send({"type": "http.response.body", "body": response.body})
        if self.metrics is not None:
            self.metrics.count_http("POST", FAST_ROUTES[scope["path"][:11]], response.status_code)
