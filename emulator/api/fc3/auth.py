"""FC 3.0 request authentication (fc3-api.md §1): ACS3-HMAC-SHA256 over the raw (still percent-encoded)
path, the canonical query and exactly the headers the request lists in SignedHeaders.

FC 2.0's rules (a `Date` header, `x-fc-account-id`) do not apply here. Default mode verifies only a key
the emulator knows (a wrong secret is refused); strict mode refuses unsigned requests, unknown keys and
bad signatures, and a signing time more than 15 minutes away. FC 2.0 clients inside Serverless Devs
sign some /2023-03-30 calls (instance exec) with the `FC` scheme: those go to FC 2.0's verifier.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

from fastapi import Depends, Request

from emulator import errors
from emulator.api import auth as fc2_auth
from emulator.api.auth import Caller, acs3_signature, decoded_query
from emulator.api.context import Ctx
from emulator.api.fc3.wire import account_of, region_of
from emulator.config import Settings

ACS3 = "acs3-hmac-sha256"
OTHER_ACS3 = ("acs3-hmac-sm3", "acs3-rsa-sha256")  # parsed, never verified (the SDK defaults never use them)
MAX_SKEW_SECONDS = fc2_auth.MAX_SKEW_SECONDS


def raw_path(request: Request) -> str:
    """The path exactly as on the request line (`a%24b` stays `a%24b`): what ACS3 signs."""
    raw = request.scope.get("raw_path")
    if not raw:
        return quote(request.scope.get("path", ""), safe="/~")
    return raw.decode("latin-1").split("?", 1)[0]


def parse_authorization(value: str) -> tuple[str, dict[str, str]]:
    """`ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=hex` -> (scheme, parts)."""
    scheme, _, rest = value.strip().partition(" ")
    parts = {}
    for item in rest.split(","):
        k, _, v = item.strip().partition("=")
        if k:
            parts[k] = v.strip()
    return scheme.lower(), parts


def _check_time(headers: dict[str, str]) -> None:
    raw = headers.get("x-acs-date", "")
    try:
        when = datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise errors.access_denied(f"x-acs-date '{raw[:64]}' is not a time like 2024-01-01T00:00:00Z") from None
    skew = abs(time.time() - when.timestamp())
    if skew > MAX_SKEW_SECONDS:
        raise errors.access_denied("the difference between the request time and the server's time is too large "
                                   f"({int(skew)} seconds, allowed: {MAX_SKEW_SECONDS})")


def _secret(settings: Settings, key_id: str) -> str | None:
    secret = settings.access_keys.get(key_id)
    if secret is None and settings.strict_auth:
        raise errors.invalid_access_key(key_id)
    return secret


async def verify_acs3(request: Request, settings: Settings, parts: dict[str, str]) -> str:
    """Checks one ACS3-HMAC-SHA256 request; returns its access key id."""
    key_id = parts.get("Credential", "")
    secret = _secret(settings, key_id)
    if secret is None:  # a key we don't know: default mode lets it through unverified
        return key_id
    headers = {k.lower(): v for k, v in request.headers.items()}
    if settings.strict_auth:
        _check_time(headers)
    payload = hashlib.sha256(await request.body()).hexdigest()
    if headers.get("x-acs-content-sha256", payload).strip().lower() != payload:
        raise errors.signature_not_match()  # the body is not the one that was signed
    signed = [h for h in parts.get("SignedHeaders", "").lower().split(";") if h]
    want = acs3_signature(secret, request.method, raw_path(request), decoded_query(request), headers, signed,
                          payload)
    fc2_auth._matches(parts.get("Signature", ""), want)
    return key_id


async def verify(request: Request, settings: Settings) -> str | None:
    auth = (request.headers.get("authorization") or "").strip()
    if not auth:
        if (request.headers.get("x-acs-signature-type") or "").upper() == "BEARERTOKEN" and not settings.strict_auth:
            return None  # bearer-token credentials carry no signature (§1.2)
        if settings.strict_auth:
            raise errors.access_denied("the request is not signed: the Authorization header is missing")
        return None
    scheme, parts = parse_authorization(auth)
    if scheme == ACS3:
        return await verify_acs3(request, settings, parts)
    if scheme in ("fc", "acs"):  # FC 2.0 clients (Serverless Devs' exec, ROA v2): FC 2.0's rules
        return await fc2_auth.verify(request, settings)
    if scheme in OTHER_ACS3:
        _secret(settings, parts.get("Credential", ""))
        if settings.strict_auth:
            raise errors.access_denied(f"signature algorithm {scheme.upper()} is not verified by the emulator: "
                                       f"use ACS3-HMAC-SHA256 in strict mode")
        return parts.get("Credential")
    if settings.strict_auth:
        raise errors.signature_not_match()
    return None


async def authenticate_fc3(request: Request) -> Caller:
    """Verifies the request and names its account (§0): the FC 3.0 twin of auth.authenticate."""
    settings: Settings = request.app.state.settings
    key_id = await verify(request, settings)
    caller = Caller(account_id=account_of(request, settings), access_key_id=key_id)
    request.state.caller = caller
    return caller


@dataclass
class Ctx3(Ctx):
    region: str = ""


def fc3_ctx(request: Request, caller: Caller = Depends(authenticate_fc3)) -> Ctx3:
    settings = request.app.state.settings
    return Ctx3(request=request, caller=caller, settings=settings, db=request.app.state.db,
                region=region_of(request, settings))
