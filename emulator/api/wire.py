"""FC's wire conventions shared by every endpoint (fc-api.md §0, §4): request ids, header
casing, JSON bodies, Etag/If-Match, pagination parameters and qualifiers."""
from __future__ import annotations

import json
import time
import uuid
from functools import lru_cache
from email.utils import formatdate
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.errors import FCError, invalid_argument, precondition_failed
from emulator.model.base import parse_json
from emulator.model.numbers import parse_int
from emulator.store.resources import Page

API_VERSIONS = ("2016-08-15", "2021-04-06")
FC3_PREFIX = "/2023-03-30"  # FC 3.0 (emulator/api/fc3): its own error shape and request ids


def new_request_id(path: str) -> str:
    """FC 2.0: a UUID; FC 3.0: `1-<8 hex Unix seconds>-<24 hex>` as FC 3.0 answers (fc3-api.md §0)."""
    if path.startswith(FC3_PREFIX):
        return f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    return str(uuid.uuid4())


@lru_cache(maxsize=512)
def go_canonical(name: str) -> str:
    """Go's CanonicalMIMEHeaderKey: x-fc-request-id -> X-Fc-Request-Id, etag -> Etag."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


class _Cased(bytes):
    """A header name that keeps its case on the wire. uvicorn's httptools protocol lower-cases each
    name by calling .lower() on it (its h11 protocol keeps the case, at twice the CPU per request), and
    FC's SDKs read `Etag` and `X-Fc-Request-Id` case-sensitively (fc-api.md §0)."""

    def lower(self) -> bytes:  # type: ignore[override]
        return self


# uvicorn compares these lower-cased to frame the response: they go out lower-case, which every HTTP
# client reads alike (SDKs look them up case-insensitively)
_FRAMING = {b"content-length", b"transfer-encoding", b"connection"}


@lru_cache(maxsize=512)
def _canonical_bytes(name: bytes) -> bytes:
    low = bytes(name).lower()
    if low in _FRAMING:
        return low
    return _Cased(go_canonical(name.decode("latin-1")).encode("latin-1"))


_REQUEST_ID, _DATE = _Cased(b"X-Fc-Request-Id"), _Cased(b"Date")


def _http_date(_cache=[0, b""]) -> bytes:  # noqa: B006 - a one-second cache of the Date header
    now = int(time.time())
    if _cache[0] != now:
        _cache[0], _cache[1] = now, formatdate(now, usegmt=True).encode()
    return _cache[1]


def canonical_headers(raw: list[tuple[bytes, bytes]], request_id: str) -> list[tuple[bytes, bytes]]:
    """A response's headers as FC sends them: Go-cased names, an X-Fc-Request-Id, a Date."""
    headers = []
    has_id = False
    for k, v in raw:
        name = _canonical_bytes(k)
        has_id = has_id or name == b"X-Fc-Request-Id"
        headers.append((name, v))
    if not has_id:
        headers.append((_REQUEST_ID, request_id.encode()))
    headers.append((_DATE, _http_date()))
    return headers


class WireMiddleware:
    """Gives every response an X-Fc-Request-Id and sends header names in Go's canonical case
    (the PHP SDK reads `Etag` and `X-Fc-Request-Id` case-sensitively)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id(scope["path"])
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": canonical_headers(message.get("headers", []), request_id)}
            await send(message)

        await self.app(scope, receive, send_wrapper)


class FCJSONResponse(JSONResponse):
    """A JSON answer; a string that is not valid Unicode (stored before parse_json refused lone
    surrogates) goes out \\u-escaped instead of turning every later read into a 500."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


def request_id(request: Request) -> str:
    return request.state.request_id


def error_response(request: Request, exc: FCError) -> JSONResponse:
    if request.scope.get("path", "").startswith(FC3_PREFIX):  # FC 3.0: {Code, Message, RequestId} only
        from emulator.api.fc3.wire import fc3_error_response
        return fc3_error_response(request, exc)
    body = exc.body()
    body["RequestId"] = getattr(request.state, "request_id", "")
    # The 2021 Tea SDKs read Code/Message (fc-api.md §5; alibabacloud_tea_openapi reads
    # `Code`/`code`, `Message`/`message`, `RequestId`); the fc2 SDKs read ErrorCode/ErrorMessage.
    body.update(Code=exc.code, Message=exc.message)
    return FCJSONResponse(body, status_code=exc.status, headers={"X-Fc-Request-Id": body["RequestId"]})


async def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is `{}`."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = parse_json(raw)  # strict: what is stored can always be echoed (emulator/model/base.py)
    except ValueError as exc:
        raise invalid_argument(f"the request body is not valid JSON: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise invalid_argument("the request body must be a JSON object")
    return data


def fc_json(body: Any, etag: str | None = None, status: int = 200) -> JSONResponse:
    headers = {"Etag": etag} if etag else None
    return FCJSONResponse(body, status_code=status, headers=headers)


def no_content() -> Response:
    return Response(status_code=204)


def check_if_match(request: Request, etag: str) -> None:
    """If-Match against the stored Etag (fc-api.md §8.3); absent header = unconditional."""
    want = request.headers.get("if-match")
    if want and want.strip().strip('"') != etag:
        raise precondition_failed()


def page_params(request: Request, max_limit: int = 100, default_limit: int = 20) -> Page:
    q = request.query_params
    raw = q.get("limit") or ""
    limit = default_limit
    if raw:
        limit = parse_int(raw)
        if limit is None:  # ASCII digits only, as Go's strconv reads them
            raise invalid_argument(f"limit is set to an invalid value (actual: '{raw[:100]}')")
        if limit < 1 or limit > max_limit:
            raise invalid_argument(f"limit is set to an invalid value (allowed: 1 to {max_limit}, actual: {limit})")
    return Page(limit=limit, next_token=q.get("nextToken") or "", prefix=q.get("prefix") or "",
                start_key=q.get("startKey") or "")


def paged(key: str, items: list, next_token: str | None, **extra) -> dict:
    """A list body; `nextToken` is present only when there is a next page (§4)."""
    body: dict[str, Any] = {key: items, **extra}
    if next_token:
        body["nextToken"] = next_token
    return body


def split_qualifier(request: Request, service_segment: str) -> tuple[str, str | None]:
    """`svc.q` (2016 style) or `?qualifier=q` (2021 style), accepted under both prefixes."""
    svc, dot, qualifier = service_segment.partition(".")
    if not dot and request.scope.get("query_string"):
        qualifier = request.query_params.get("qualifier") or ""
    return svc, (qualifier or None)
