"""HTTP triggers (fc-api.md §3): /{2016-08-15|2021-04-06}/proxy/{svc}[.{q}]/{fn}/{path…}, any method."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from emulator import errors
from emulator.api.auth import account_of, verify
from emulator.api.invocations import SYNC_PAYLOAD_LIMIT
from emulator.api.wire import split_qualifier
from emulator.invocation.http import HttpRequest
from emulator.invocation.http_v3 import HttpRequestV3
from emulator.invocation.sync import Invocation, Outcome
from emulator.model.names import is_fc3_service
from emulator.store import resources as res
from emulator.store import snapshots

router = APIRouter(tags=["http triggers"])

METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"]
PATH_QUERY_LIMIT = 4096
HEADERS_LIMIT = 8192


def http_trigger(request: Request, account: str, svc: str, qualifier: str | None, fn: str) -> dict:
    """The function's HTTP trigger for the qualifier (one per version/alias), or FC's 404s."""
    db = request.app.state.db
    q = qualifier or snapshots.LATEST
    with db.read() as s:
        snapshots.resolve(s, account, svc, q).function(s, fn)
        for row in res.all_rows(s, account, "trigger", f"{svc}/{fn}"):
            body = row.body
            if body.get("triggerType") == "http" and (body.get("qualifier") or snapshots.LATEST) == q:
                return body
    raise errors.trigger_not_found(fn, "http")


def check_limits(request: Request, body: bytes) -> None:
    target = request.scope.get("raw_path", b"") + b"?" + request.scope.get("query_string", b"")
    if len(target) > PATH_QUERY_LIMIT:
        raise errors.invalid_argument(f"the request path and query are too long (max: {PATH_QUERY_LIMIT} bytes)")
    size = sum(len(k) + len(v) for k, v in request.headers.raw)
    if size > HEADERS_LIMIT:
        raise errors.invalid_argument(f"the request headers are too large (max: {HEADERS_LIMIT} bytes)")
    if len(body) > SYNC_PAYLOAD_LIMIT:
        raise errors.entity_too_large(SYNC_PAYLOAD_LIMIT)


async def check_access(request: Request, trigger: dict) -> None:
    """`methods`, then `authType: function` signatures (a signature is required even in default mode)."""
    config = trigger.get("triggerConfig") or {}
    methods = [m.upper() for m in config.get("methods") or METHODS]
    if request.method not in methods:
        raise errors.FCError(403, "FCCommonError", f"method '{request.method}' is not allowed by the HTTP trigger "
                                                   f"(allowed: {', '.join(methods)})")
    if (config.get("authType") or "function").lower() == "function":
        signed = "authorization" in request.headers or "x-fc-signature" in request.query_params
        if not signed:
            raise errors.access_denied("the HTTP trigger requires a signed request (authType: function)")
        await verify(request, request.app.state.settings, sign_query=True)


async def run_http(request: Request, account: str, svc: str, qualifier: str | None, fn: str,
                   http: HttpRequest, body: bytes) -> Response:
    inv = Invocation(account=account, service=svc, qualifier=qualifier, function=fn, payload=body,
                     request_id=request.state.request_id, kind="http", http=http)
    out = await request.app.state.invoker.invoke(inv)
    return http_response(out)


def http_response(out: Outcome) -> Response:
    if out.error_type:
        # A crashed or failing function: 502 with the function's error JSON (lower-case keys, §3 step 7).
        return Response(out.body, status_code=502, media_type="application/json")
    headers = out.http_headers or []
    if sum(len(k) + len(v) for k, v in headers) > HEADERS_LIMIT:  # runtimes.md §2.5
        raise errors.FCError(502, "BadResponse", f"the function's response headers are too large (max: "
                                                 f"{HEADERS_LIMIT} bytes)")
    response = Response(out.body, status_code=out.http_status or 200)
    for k, v in headers:
        response.headers.append(k, v)
    if "content-type" not in response.headers:
        response.headers["content-type"] = "application/octet-stream"
    return response


@router.api_route("/proxy/{service}/{function}", methods=METHODS, include_in_schema=False)
@router.api_route("/proxy/{service}/{function}/{rest:path}", methods=METHODS)
async def proxy(service: str, function: str, request: Request, rest: str = ""):
    svc, qualifier = split_qualifier(request, service)
    if is_fc3_service(svc):  # an FC 3.0 function's hidden service: not addressable through FC 2.0
        raise errors.service_not_found(svc)
    account = account_of(request, request.app.state.settings)
    trigger = http_trigger(request, account, svc, qualifier, function)
    await check_access(request, trigger)
    body = await request.body()
    check_limits(request, body)
    raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    version = raw_path.split("/", 2)[1]
    query = request.scope.get("query_string", b"").decode("latin-1")
    http = HttpRequest(method=request.method, path="/" + rest,
                       request_uri=raw_path + (f"?{query}" if query else ""), query_string=query,
                       headers=[(k, v) for k, v in request.headers.items()],
                       client_ip=request.client.host if request.client else "",
                       host=request.headers.get("host", ""), base_path=f"/{version}/proxy/{service}/{function}/")
    response = await run_http(request, account, svc, qualifier, function, http, body)
    response.headers.setdefault("content-disposition", "attachment")  # FC forces it on its default domain (§2.5)
    return response


# ---- custom domains (fc-api.md §2.7) ----------------------------------------------------------

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0", ""}


def request_host(scope) -> str:
    """The Host header without its port, lower-case (on every request: keep it cheap)."""
    raw = next((v for k, v in scope["headers"] if k == b"host"), b"")
    return raw.decode("latin-1").rsplit(":", 1)[0].lower()


def _is_local(host: str) -> bool:
    return host in _LOCAL_HOSTS or host.replace(".", "").isdigit()


def is_local_host(scope) -> bool:
    """The emulator's own address (a loopback name or an IP): never a custom domain."""
    return _is_local(request_host(scope))


def route_for(routes: list[dict], path: str) -> dict | None:
    """The route whose path matches, the longest pattern first; `/x/*` matches /x and everything under it."""
    def matches(pattern: str) -> bool:
        if pattern.endswith("/*"):
            return path.startswith(pattern[:-1]) or path == pattern[:-2]
        return path == pattern
    for route in sorted(routes, key=lambda r: len(r.get("path") or ""), reverse=True):
        if matches(route.get("path") or ""):
            return route
    return None


def check_route_method(domain: dict, route: dict, method: str) -> None:
    """The matched route's `methods` restrict it (no fall-through to a shorter route: paths are unique, so
    the longest match is the route the user meant)."""
    allowed = [m.upper() for m in route.get("methods") or []]
    if allowed and method not in allowed:
        raise errors.FCError(403, "FCCommonError", f"method '{method}' is not allowed by route '{route['path']}' of "
                                                   f"custom domain '{domain['domainName']}' (allowed: "
                                                   f"{', '.join(allowed)})")


class CustomDomains:
    """Routes requests whose Host is a custom domain (or `<domain>.<suffix>`, e.g. example.com.localhost)
    to the function its routeConfig names. Other requests pass through."""

    def __init__(self, app):
        self.app = app
        self._cache: dict[str, tuple[int, dict | None]] = {}

    def _domain(self, state, host: str) -> dict | None:
        from emulator.api.custom_domains import find_domain

        db = state.db
        hit = self._cache.get(host)
        if hit and hit[0] == db.generation:
            return hit[1]
        generation = db.generation
        suffix = "." + state.settings.custom_domain_suffix.strip(".") if state.settings.custom_domain_suffix else None
        names = [host] + ([host[: -len(suffix)]] if suffix and host.endswith(suffix) else [])
        found = None
        with db.read() as s:
            for name in names:
                row = find_domain(s, name)
                if row is not None:
                    found = {**row.body, "_account": row.account_id}
                    break
        if len(self._cache) > 1024:  # any Host may be sent: keep the cache bounded
            self._cache.clear()
        self._cache[host] = (generation, found)
        return found

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = request_host(scope)
        if _is_local(host):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        domain = self._domain(request.app.state, host)
        if domain is None:
            await self.app(scope, receive, send)
            return
        try:
            response = await self._serve(request, domain)
        except errors.FCError as exc:
            from emulator.api.wire import error_response
            response = error_response(request, exc)
        await response(scope, receive, send)

    async def _serve(self, request: Request, domain: dict) -> Response:
        path = request.url.path
        route = route_for((domain.get("routeConfig") or {}).get("routes") or [], path)
        if route is None:
            raise errors.FCError(404, "RouteNotFound", f"no route of custom domain '{domain['domainName']}' "
                                                       f"matches {request.method} {path}")
        check_route_method(domain, route, request.method)
        account, svc, fn = domain["_account"], route["serviceName"], route["functionName"]
        qualifier = route.get("qualifier") or None
        fc3 = is_fc3_service(svc)
        if fc3:  # FC 3.0 routes reach the function itself, no HTTP trigger (fc3-api.md §4.5)
            trigger = _fc3_route_target(request, account, svc, qualifier, fn, domain)
        else:
            trigger = http_trigger(request, account, svc, qualifier, fn)
        await check_access(request, trigger)
        body = await request.body()
        check_limits(request, body)
        query = request.scope.get("query_string", b"").decode("latin-1")
        raw_path = request.scope.get("raw_path", b"").decode("latin-1") or path
        http = (HttpRequestV3 if fc3 else HttpRequest)(
            method=request.method, path=path, request_uri=raw_path + (f"?{query}" if query else ""),
            query_string=query, headers=[(k, v) for k, v in request.headers.items()],
            client_ip=request.client.host if request.client else "", host=request.headers.get("host", ""),
            base_path=None)
        if fc3:
            http.domain_name = request_host(request.scope)
        return await run_http(request, account, svc, qualifier, fn, http, body)


def _fc3_route_target(request: Request, account: str, svc: str, qualifier: str | None, fn: str,
                      domain: dict) -> dict:
    """An FC 3.0 route's function must exist; the domain's authConfig stands in for a trigger's
    (`function`: signed requests; `anonymous` and `jwt`, whose tokens are not checked locally: anyone)."""
    from emulator.api.fc3.wire import fc3_error
    try:
        with request.app.state.db.read() as s:
            snapshots.resolve(s, account, svc, qualifier or snapshots.LATEST).function(s, fn)
    except errors.FCError as exc:
        raise fc3_error(exc) from None
    auth = ((domain.get("_fc3AuthConfig") or {}).get("authType") or "anonymous").lower()
    return {"triggerConfig": {"authType": "function" if auth == "function" else "anonymous"}}
