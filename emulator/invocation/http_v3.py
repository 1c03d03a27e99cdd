"""FC 3.0 HTTP triggers of built-in runtimes (fc3-api.md §7.3): the request becomes an event ("event v1")
for the ordinary `handler(event, context)`, and the handler's `{statusCode, headers, body, isBase64Encoded}`
answer becomes the HTTP response. Custom runtimes and containers keep FC 2.0's passthrough (§7.4, http.py).

Only functions created through /2023-03-30 (hidden service `fc3:F`) take this path: FC 2.0-native functions
keep WSGI / (req, resp) handlers (§8.4 pitfall 3).
"""
from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qsl, unquote

from emulator.execution.agent import AgentResponse
from emulator.execution.environment import request_headers
from emulator.execution.spec import InstanceSpec
from emulator.invocation.http import HttpRequest, _filter, _title
from emulator.invocation.results import Call, error_type
from emulator.model.names import is_fc3_service

# Content types whose bodies reach the handler as text (when they decode as UTF-8); all others are Base64.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
               "application/x-www-form-urlencoded", "application/x-javascript", "application/ecmascript")
_TEXT_SUFFIXES = ("+json", "+xml")


@dataclass
class HttpRequestV3(HttpRequest):
    """An FC 3.0 trigger request: `path`/`request_uri` are what follows the trigger's URL (no emulator
    prefix); `domain_name` is the trigger's real-style host `<sub>.<region>.fcapp.run`."""
    domain_name: str = ""
    protocol: str = "HTTP/1.1"


def applies(spec: InstanceSpec) -> bool:
    """Event v1 for built-in runtimes of FC 3.0-native functions."""
    return spec.builtin_agent and is_fc3_service(spec.service)


def _is_text(content_type: str, body: bytes) -> bool:
    ct = content_type.split(";", 1)[0].strip().lower()
    if ct and not (ct.startswith(_TEXT_TYPES) or ct.endswith(_TEXT_SUFFIXES)):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True  # a textual type, or none at all with a UTF-8 body


def _joined(pairs) -> dict[str, str]:
    """Repeated names joined with ',' (§7.3)."""
    out: dict[str, str] = {}
    for k, v in pairs:
        out[k] = f"{out[k]},{v}" if k in out else v
    return out


def event_v1(req: HttpRequest, body: bytes, account: str, request_id: str, started_at: float) -> dict:
    headers = _joined((_title(k), v) for k, v in req.forwarded_headers())
    content_type = next((v for k, v in req.headers if k.lower() == "content-type"), "")
    text = _is_text(content_type, body)
    raw_path = req.request_uri.split("?", 1)[0] or "/"
    domain = getattr(req, "domain_name", "") or req.host
    ms = int(started_at * 1000)
    return {
        "version": "v1",
        "rawPath": raw_path,
        "body": body.decode("utf-8") if text else base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": not text,
        "headers": headers,
        "queryParameters": _joined(parse_qsl(req.query_string, keep_blank_values=True)),
        "requestContext": {
            "accountId": account,
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "http": {"method": req.method, "path": unquote(raw_path), "protocol": getattr(req, "protocol", "HTTP/1.1"),
                     "sourceIp": req.client_ip, "userAgent": headers.get("User-Agent", "")},
            "requestId": request_id,
            "time": datetime.fromtimestamp(started_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "timeEpoch": str(ms),
        },
    }


def request_for(spec: InstanceSpec, inv) -> tuple[str, str, dict, bytes]:
    """(method, path, headers, payload): an ordinary event call whose event is the request."""
    event = event_v1(inv.http, inv.payload, spec.account, inv.request_id, getattr(inv, "started_at", time.time()))
    headers = {**request_headers(spec, inv.request_id, "/invoke", inv.retry_count),
               "content-type": "application/octet-stream"}
    return "POST", "/invoke", headers, json.dumps(event).encode()


def result(r: AgentResponse, memory: float) -> Call:
    """The handler's answer as an HTTP response: `{statusCode, headers, body, isBase64Encoded}` is mapped;
    any other answer is a 200 whose body is what the handler returned. An error stays an error (502)."""
    failed = error_type(r)
    if failed:
        return Call(r.body, failed, memory)
    answer = None
    try:
        answer = json.loads(r.body) if r.body.lstrip()[:1] in (b"{", b"[") else None
    except ValueError:
        pass
    if isinstance(answer, dict) and "statusCode" in answer:
        return _mapped(answer, memory, r.body)
    content_type = "application/json" if answer is not None else "text/plain; charset=utf-8"
    return Call(r.body, None, memory, http_status=200, http_headers=[("content-type", content_type)])


def _mapped(answer: dict, memory: float, raw: bytes) -> Call:
    try:
        status = int(answer["statusCode"])
        if not 100 <= status <= 599:
            raise ValueError(status)
    except (TypeError, ValueError):
        return Call(json.dumps({"errorMessage": f"the function returned an invalid statusCode: "
                                                f"{answer.get('statusCode')!r}"}).encode(), "UnhandledInvocationError",
                    memory)
    body = answer.get("body")
    if body is None:
        data = b""
    elif isinstance(body, str):
        if answer.get("isBase64Encoded"):
            try:
                data = base64.b64decode(body)
            except ValueError:
                return Call(json.dumps({"errorMessage": "the function returned isBase64Encoded: true with a body "
                                                        "that is not Base64"}).encode(), "UnhandledInvocationError",
                            memory)
        else:
            data = body.encode("utf-8")
    else:  # an object or number as body: its JSON text
        data = json.dumps(body).encode()
    pairs = []
    for k, v in (answer.get("headers") or {}).items():
        values = v if isinstance(v, list) else [v]
        pairs.extend((str(k), v if isinstance(v, str) else json.dumps(v)) for v in values)
    return Call(data, None, memory, http_status=status, http_headers=_filter(pairs))
