"""HTTP-trigger requests to an instance (runtimes.md §2.2, §3.2, §2.5).

Built-in runtimes get `POST /invoke` with the request described in `x-fc-http-params` and answer
with the response described the same way. Custom runtimes and containers get the client's request
itself, with `x-fc-control-path: /http-invoke`, and answer it directly.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from emulator.execution.agent import AgentResponse
from emulator.execution.environment import request_headers
from emulator.execution.spec import InstanceSpec
from emulator.invocation.results import Call, error_type

# Hop-by-hop and platform headers: not forwarded to the function, nor back to the client (§2.3, §2.5).
_DROPPED_REQUEST = {"connection", "keep-alive", "host", "content-length", "transfer-encoding", "authorization"}
DROPPED_RESPONSE = {"connection", "content-length", "date", "keep-alive", "server", "upgrade", "transfer-encoding"}


@dataclass
class HttpRequest:
    method: str
    path: str  # what the function sees: /rest of the URL, decoded
    request_uri: str  # the full original URI, with the query
    query_string: str  # raw
    headers: list[tuple[str, str]] = field(default_factory=list)
    client_ip: str = ""
    host: str = ""
    base_path: str | None = None  # x-fc-base-path: /2016-08-15/proxy/svc/fn/ (not for custom domains)

    def forwarded_headers(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.headers
                if k.lower() not in _DROPPED_REQUEST and not k.lower().startswith("x-fc-")]


def http_params(req: HttpRequest) -> str:
    headers_map: dict[str, list[str]] = {}
    for k, v in req.forwarded_headers():
        headers_map.setdefault(_title(k), []).append(v)
    if req.host:
        headers_map.setdefault("Host", [req.host])
    queries_map: dict[str, list[str]] = {}
    for k, v in parse_qsl(req.query_string, keep_blank_values=True):
        queries_map.setdefault(k, []).append(v)
    params = {"path": req.path, "method": req.method, "requestURI": req.request_uri, "clientIP": req.client_ip,
              "host": req.host, "headersMap": headers_map, "queriesMap": queries_map}
    return base64.b64encode(json.dumps(params).encode()).decode()


def _title(name: str) -> str:
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


def http_request_for(spec: InstanceSpec, inv) -> tuple[str, str, list[tuple[str, str]] | dict]:
    """(method, path, headers) of the request that carries `inv.http` to this instance."""
    req: HttpRequest = inv.http
    fc = request_headers(spec, inv.request_id, "/http-invoke", inv.retry_count)
    if spec.builtin_agent:
        content_type = next((v for k, v in req.headers if k.lower() == "content-type"), "application/octet-stream")
        fc.update({"x-fc-control-path": "/invoke", "x-fc-http-params": http_params(req),
                   "content-type": content_type})
        return "POST", "/invoke", fc
    headers = req.forwarded_headers() + list(fc.items())
    if req.host:
        headers.append(("host", req.host))
    if req.base_path:
        headers.append(("x-fc-base-path", req.base_path))
    path = req.request_uri if req.base_path else req.path + (f"?{req.query_string}" if req.query_string else "")
    return req.method, path, headers


def http_result(spec: InstanceSpec, r: AgentResponse, memory: float) -> Call:
    """The function's HTTP response, or its error."""
    if spec.builtin_agent:
        encoded = r.headers.get("x-fc-http-params")
        if r.status != 200 or not encoded:
            return Call(r.body, error_type(r) or "UnhandledInvocationError", memory)
        meta = json.loads(base64.b64decode(encoded))
        pairs = [(k, v) for k, values in (meta.get("headersMap") or {}).items() for v in values]
        if not pairs and meta.get("headers"):
            pairs = list(meta["headers"].items())
        return Call(r.body, None, memory, http_status=int(meta.get("status") or 200), http_headers=_filter(pairs))
    pairs = [(k, v) for k, v in r.headers.items()]
    return Call(r.body, None, memory, http_status=r.status, http_headers=_filter(pairs))


def _filter(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in pairs if k.lower() not in DROPPED_RESPONSE and not k.lower().startswith("x-fc-")]
