"""Serverless Devs' code upload (fc3-api.md §4.18, §9.2 steps 9-10), served locally:

1. `GET /2016-08-15/tempBucketToken` (FC 2.0 API): a temporary bucket, an object name and STS-style
   credentials (ali-oss refuses to start without non-empty keys).
2. OSS PutObject sent to `FC_CODE_TEMP_OSS_ENDPOINT=http://127.0.0.1:<port>`: with an IP-literal endpoint
   ali-oss puts the bucket in neither the host nor the path (`PUT /<AccountID>/<objectName>`), so the bucket
   comes from a `Host: <bucket>.oss-…` header when there is one, else it is the temporary bucket.
   The object lands in the local OSS folder (`--oss-dir`), where CreateFunction/UpdateFunction/
   CreateLayerVersion read `code {ossBucketName, ossObjectName}` (store/code.py `read_oss`).

In strict mode only the credentials the emulator handed out may upload (the key id carries an HMAC tag).
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.api.context import Ctx, fc_ctx
from emulator.api.wire import fc_json

router = APIRouter(tags=["code upload"])

STS_PREFIX = "STS.fcemu"
_BUCKET_HOST = re.compile(r"^([a-z0-9][a-z0-9-]{1,61}[a-z0-9])\.oss-[a-z0-9-]+(\.aliyuncs\.com)?$")


def temp_bucket(region: str) -> str:
    return f"fc-temp-code-{region}"


def _key_id(code, nonce: str) -> str:
    return f"{STS_PREFIX}{nonce}.{code._sign('temp-oss:' + nonce, 0)[:24]}"


def _issued(code, key_id: str) -> bool:
    m = re.fullmatch(re.escape(STS_PREFIX) + r"([0-9a-f]{16})\.([0-9a-f]{24})", key_id)
    return bool(m) and secrets.compare_digest(_key_id(code, m.group(1)), key_id)


@router.get("/tempBucketToken")
def get_temp_bucket_token(ctx: Ctx = Depends(fc_ctx)):
    code = ctx.request.app.state.code
    nonce = secrets.token_hex(8)
    expires = datetime.fromtimestamp(time.time() + 3600, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return fc_json({
        "credentials": {"AccessKeyId": _key_id(code, nonce), "AccessKeySecret": secrets.token_hex(16),
                        "SecurityToken": secrets.token_urlsafe(24), "Expiration": expires},
        "ossBucket": temp_bucket(ctx.settings.region),
        "objectName": f"{uuid.uuid4().hex}.zip",
        "ossRegion": f"oss-{ctx.settings.region}",
    })


def _oss_error(status: int, code: str, message: str, request_id: str) -> Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>{request_id}</RequestId></Error>")
    return Response(body, status_code=status, media_type="application/xml", headers={"x-oss-request-id": request_id})


class OssUploads:
    """PUT requests signed with OSS's scheme (`Authorization: OSS <ak>:<sig>`) are OSS PutObject calls:
    no FC API route is ever signed that way, so nothing else is caught."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "PUT":
            auth = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
            if auth.startswith(b"OSS "):
                request = Request(scope, receive)
                response = await self._put(request, auth.decode("latin-1")[4:].split(":", 1)[0])
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _put(self, request: Request, key_id: str) -> Response:
        state = request.app.state
        settings = state.settings
        rid = getattr(request.state, "request_id", "") or uuid.uuid4().hex
        if settings.strict_auth and not _issued(state.code, key_id):
            return _oss_error(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist: use "
                                                         "the credentials of GET /2016-08-15/tempBucketToken", rid)
        host = request.headers.get("host", "").rsplit(":", 1)[0].lower()
        m = _BUCKET_HOST.match(host)
        bucket = m.group(1) if m else temp_bucket(settings.region)
        key = request.url.path.lstrip("/")
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts) or "\\" in key or len(key) > 1023:
            return _oss_error(400, "InvalidObjectName", "The object name is invalid", rid)
        length = int(request.headers.get("content-length") or 0)
        if length > settings.max_code_size:
            return _oss_error(400, "EntityTooLarge", f"the object is larger than the code size limit "
                                                     f"({settings.max_code_size} bytes)", rid)
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > settings.max_code_size:
                return _oss_error(400, "EntityTooLarge", f"the object is larger than the code size limit "
                                                         f"({settings.max_code_size} bytes)", rid)
        _write(Path(settings.oss_dir), bucket, parts, bytes(data))
        etag = '"' + hashlib.md5(data).hexdigest().upper() + '"'  # noqa: S324 - OSS's ETag is the MD5
        return Response(b"", status_code=200, headers={"ETag": etag, "x-oss-request-id": rid})


def _write(root: Path, bucket: str, parts: list[str], data: bytes) -> None:
    """Atomically, so a reader never sees half an object."""
    path = root.joinpath(bucket, *parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
