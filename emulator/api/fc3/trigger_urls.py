"""FC 3.0 HTTP trigger URLs (fc3-api.md §7.2, §7.5), served on the emulator's port two ways:

- path-routed (what `httpTrigger.urlInternet` says): `<public-url>/fcapp/<sub>/<path>`;
- host-routed: a Host of `<sub>.<region>.fcapp.run`, `<sub>.<region>-vpc.fcapp.run`,
  `<sub>.<region>.fcapp.localhost` or `<sub>.localhost` (curl --resolve, -H Host:, browsers).

Either way the function sees `/<path>`: built-in runtimes of FC 3.0 functions as event v1
(invocation/http_v3.py), custom runtimes and containers the request itself; FC 2.0 functions (S$G) keep
FC 2.0's HTTP handlers. Methods, authType and limits are checked by FC 2.0's proxy helpers.
"""
from __future__ import annotations

from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator import errors
from emulator.api.fc3.triggers import FCAPP, find_http
from emulator.api.fc3.wire import fc3_error_response
from emulator.api.proxy import METHODS, check_access, check_limits, request_host, run_http
from emulator.invocation.http_v3 import HttpRequestV3
from emulator.store import resources as res

router = APIRouter(tags=["FC 3.0 HTTP triggers"])


def _not_found(sub: str) -> errors.FCError:
    return errors.FCError(404, "TriggerNotFound", f"no HTTP trigger has the address '{sub}'")


def _lookup(request: Request, sub: str) -> tuple[str, dict, dict]:
    """(account, index row body, trigger body) of a subdomain."""
    with request.app.state.db.read() as s:
        index = find_http(s, sub)
        if index is None:
            raise _not_found(sub)
        b = index.body
        row = res.get(s, index.account_id, "trigger", f"{b['service']}/{b['function']}", b["trigger"])
        if row is None:
            raise _not_found(sub)
        return index.account_id, b, row.body


async def serve(request: Request, sub: str, raw_rest: str, intranet: bool) -> Response:
    """One trigger request; `raw_rest` is the path after the trigger's address, still percent-encoded."""
    account, index, trigger = _lookup(request, sub)
    config = trigger.get("triggerConfig") or {}
    if config.get("disableURLInternet") and not intranet:
        raise errors.FCError(403, "AccessDenied", f"the public address of HTTP trigger '{index['trigger']}' is "
                                                  f"disabled (disableURLInternet)")
    await check_access(request, trigger)
    body = await request.body()
    check_limits(request, body)
    query = request.scope.get("query_string", b"").decode("latin-1")
    raw_rest = raw_rest or "/"
    region = request.app.state.settings.region
    http = HttpRequestV3(method=request.method, path=unquote(raw_rest),
                         request_uri=raw_rest + (f"?{query}" if query else ""), query_string=query,
                         headers=[(k, v) for k, v in request.headers.items()],
                         client_ip=request.client.host if request.client else "",
                         host=request.headers.get("host", ""), base_path=None,
                         domain_name=f"{sub}.{region}.fcapp.run",
                         protocol=f"HTTP/{request.scope.get('http_version', '1.1')}")
    return await run_http(request, account, index["service"], trigger.get("qualifier") or None, index["function"],
                          http, body)


@router.api_route(f"/{FCAPP}/{{sub}}", methods=METHODS, include_in_schema=False)
@router.api_route(f"/{FCAPP}/{{sub}}/{{rest:path}}", methods=METHODS)
async def fcapp(sub: str, request: Request, rest: str = ""):
    raw = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0] or request.url.path
    prefix = f"/{FCAPP}/{sub}"
    raw_rest = raw[len(prefix):] if raw.startswith(prefix) else "/" + rest
    try:
        return await serve(request, sub, raw_rest, intranet=False)
    except errors.FCError as exc:
        return fc3_error_response(request, exc)


def _host_sub(host: str) -> tuple[str, bool] | None:
    """(subdomain, intranet) of a trigger Host, or None."""
    labels = host.split(".")
    if len(labels) == 4 and labels[2:] == ["fcapp", "run"]:
        return labels[0], labels[1].endswith("-vpc")
    if len(labels) == 4 and labels[2:] == ["fcapp", "localhost"]:
        return labels[0], False
    if len(labels) == 2 and labels[1] == "localhost":
        return labels[0], False
    return None


class TriggerHosts:
    """Requests whose Host names a trigger go to it. `<x>.localhost` is claimed only when x is a trigger's
    subdomain (otherwise it stays a custom domain `<x>.<suffix>`, handled further in)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = request_host(scope)
            hit = _host_sub(host) if host.endswith(("fcapp.run", "localhost")) else None
            if hit is not None:
                request = Request(scope, receive)
                sub, intranet = hit
                if not host.endswith(".run") and not host.endswith(".fcapp.localhost"):
                    with request.app.state.db.read() as s:
                        if find_http(s, sub) is None:
                            await self.app(scope, receive, send)
                            return
                raw = scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0] or scope["path"]
                try:
                    response = await serve(request, sub, raw, intranet)
                except errors.FCError as exc:
                    response = fc3_error_response(request, exc)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
