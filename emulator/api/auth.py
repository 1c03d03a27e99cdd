"""Request authentication (fc-api.md §1) and the caller's account (§0, issue: accounts).

Schemes: `FC <ak>:<sig>` (fc2 SDKs), `ACS3-HMAC-SHA256 Credential=…` (2021 Tea SDK),
`acs <ak>:<sig>` (ROA v2), and the signed-URL query form (`x-fc-signature`).

Default mode: a request with no signature, or signed with a key we don't know, is accepted;
a key we know with the wrong secret is refused. Strict mode refuses all of those.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Iterable
from urllib.parse import quote, unquote, unquote_plus

from fastapi import Request

from emulator.config import Settings
from emulator.model.numbers import is_decimal
from emulator.errors import (FCError, access_denied, invalid_access_key, invalid_argument, missing_header,
                             service_not_found, signature_not_match)

MAX_SKEW_SECONDS = 15 * 60


@dataclass
class Caller:
    account_id: str
    access_key_id: str | None = None


# ---- FC scheme -------------------------------------------------------------------------

def canonical_fc_headers(headers: Iterable[tuple[str, str]]) -> str:
    items = sorted((k.lower(), v) for k, v in headers if k.lower().startswith("x-fc-"))
    return "".join(f"{k}:{v}\n" for k, v in items)


def proxy_resource(path: str, query: list[tuple[str, str]]) -> str:
    """HTTP-trigger resource: decoded path, "\n", sorted `k=v` pairs joined by "\n" (§1.1)."""
    pairs = sorted(f"{k}={v}" for k, v in query)
    return path + "\n" + "\n".join(pairs)


def fc_string_to_sign(method: str, headers: dict[str, str], fc_headers: str, resource: str,
                      date: str | None = None) -> str:
    return "\n".join([
        method.upper(),
        headers.get("content-md5", ""),
        headers.get("content-type", ""),
        headers.get("date", "") if date is None else date,
        fc_headers + resource,
    ])


def fc_sign(secret: str, string_to_sign: str) -> str:
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def decoded_query(request: Request) -> list[tuple[str, str]]:
    """Query pairs decoded as FC signs them (`+` is a space)."""
    raw = request.scope.get("query_string", b"").decode("latin-1")
    pairs = []
    for part in raw.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        pairs.append((unquote_plus(k), unquote_plus(v)))
    return pairs


# ---- ACS3 and acs (2021 Tea SDK) -------------------------------------------------------

def _acs3_parts(value: str) -> dict[str, str]:
    parts = {}
    for item in value.split(","):
        k, _, v = item.strip().partition("=")
        parts[k] = v
    return parts


def acs3_signature(secret: str, method: str, raw_path: str, query: list[tuple[str, str]],
                   headers: dict[str, str], signed: list[str], payload_hash: str) -> str:
    canonical_query = "&".join(f"{k}={quote(v, safe='~')}" for k, v in sorted(query))
    canonical_headers = "".join(f"{h}:{headers.get(h, '').strip()}\n" for h in signed)
    canonical = "\n".join([method.upper(), raw_path or "/", canonical_query, canonical_headers,
                           ";".join(signed), payload_hash])
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def acs_v2_signature(secret: str, method: str, path: str, query: list[tuple[str, str]],
                     headers: dict[str, str]) -> str:
    acs = "".join(f"{k}:{v}\n" for k, v in sorted((k, v) for k, v in headers.items() if k.startswith("x-acs-")))
    resource = path
    if query:
        resource += "?" + "&".join(k if v == "" else f"{k}={v}" for k, v in sorted(query))
    to_sign = "\n".join([method.upper(), headers.get("accept", ""), headers.get("content-md5", ""),
                         headers.get("content-type", ""), headers.get("date", "")]) + "\n" + acs + resource
    return base64.b64encode(hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


# ---- verification ----------------------------------------------------------------------

def _check_date(headers: dict[str, str], strict: bool) -> None:
    """Strict mode only: the request time must be within 15 minutes of ours (§1.1)."""
    if not strict:
        return
    raw = headers.get("date") or headers.get("x-fc-date")
    when: datetime | None = None
    if raw:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            when = None
    elif headers.get("x-acs-date"):  # ACS3 signs x-acs-date (ISO 8601) and sends no Date
        raw = headers["x-acs-date"]
        try:
            when = datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            when = None
    else:
        raise missing_header("Date")
    if when is None:
        raise access_denied(f"the Date header '{raw}' is not a valid RFC 1123 date")
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    skew = abs(time.time() - when.timestamp())
    if skew > MAX_SKEW_SECONDS:
        raise access_denied("the difference between the request time and the server's time is too large "
                            f"({int(skew)} seconds, allowed: {MAX_SKEW_SECONDS})")


def content_md5_forms(body: bytes) -> tuple[str, ...]:
    """The body's MD5 as FC's SDKs send it (fc-api.md §1.1): hex (Go), Base64 of the digest (Java),
    Base64 of the hex text (Node)."""
    digest = hashlib.md5(body)
    hex_text = digest.hexdigest()
    return (hex_text, base64.b64encode(digest.digest()).decode(), base64.b64encode(hex_text.encode()).decode())


async def _check_content_md5(request: Request, headers: dict[str, str], strict: bool) -> None:
    """Strict mode: a signed Content-MD5 must be the body's, or the body was not the one signed."""
    sent = headers.get("content-md5", "").strip()
    if not strict or not sent:
        return
    forms = content_md5_forms(await request.body())
    if sent.lower() != forms[0] and sent not in forms[1:]:
        raise invalid_argument("the Content-MD5 header does not match the MD5 of the request body "
                               "(hex or Base64 of the digest, or Base64 of its hex form)")


def _secret_for(settings: Settings, key_id: str) -> str | None:
    """The configured secret; None = unknown key, which only default mode lets through."""
    secret = settings.access_keys.get(key_id)
    if secret is None and settings.strict_auth:
        raise invalid_access_key(key_id)
    return secret


def _matches(got: str, *wanted: str) -> None:
    got = got.strip()
    # compare_digest raises TypeError on non-ASCII text (a 500): such a signature matches nothing
    if not got.isascii() or not any(hmac.compare_digest(got, w) for w in wanted):
        raise signature_not_match()


def _path(request: Request) -> str:
    """The URL-decoded path as the SDKs sign it (scope path: a decoded `?` stays in the path)."""
    return request.scope.get("root_path", "") + request.scope.get("path", "")


def _raw_path(request: Request) -> str:
    """The path exactly as sent (ACS3 and ROA v2 sign the percent-encoded form)."""
    raw = request.scope.get("raw_path")
    if not raw:
        return quote(_path(request), safe="/~")
    return raw.decode("latin-1").split("?", 1)[0]


def _raw_query(request: Request) -> str:
    return request.scope.get("query_string", b"").decode("latin-1")


def _fc_resources(request: Request, path: str, query: list[tuple[str, str]], sign_query: bool) -> list[str]:
    """Candidate CanonicalizedResource values for the FC scheme.

    Management APIs sign the path only. HTTP-trigger paths add the sorted query (§1.1); the 2021
    SDK's invoke_httptrigger appends the query in received order instead (§1.3), accepted too.
    """
    if not sign_query:
        return [path]
    resources = [proxy_resource(path, query)]
    raw = _raw_query(request)
    if raw:
        received = path + "\n" + "\n".join(unquote(raw).split("&"))
        if received not in resources:
            resources.append(received)
    return resources


async def verify(request: Request, settings: Settings, sign_query: bool = False) -> str | None:
    """Check the request's signature; returns the access key id, if any.

    `sign_query`: HTTP-trigger paths sign the sorted query too (§1.1).
    """
    headers = {k.lower(): v for k, v in request.headers.items()}
    query = decoded_query(request)
    path = _path(request)
    query_keys = {k for k, _ in query}

    if "x-fc-signature" in query_keys and "authorization" not in headers:
        key_id = _verify_signed_url(request, settings, headers, query, path)
        await _check_content_md5(request, headers, settings.strict_auth)
        return key_id

    auth = headers.get("authorization", "").strip()
    if not auth:
        if settings.strict_auth:
            raise access_denied("the request is not signed: the Authorization header is missing")
        return None
    scheme, _, cred = auth.partition(" ")
    scheme_l = scheme.lower()

    if scheme_l == "fc":
        key_id, _, sig = cred.strip().partition(":")
        secret = _secret_for(settings, key_id)
        if secret is None:
            return key_id
        _check_date(headers, settings.strict_auth)
        fc_headers = canonical_fc_headers(headers.items())
        wanted = [fc_sign(secret, fc_string_to_sign(request.method, headers, fc_headers, resource))
                  for resource in _fc_resources(request, path, query, sign_query)]
        _matches(sig, *wanted)
        await _check_content_md5(request, headers, settings.strict_auth)
        return key_id

    if scheme_l == "acs3-hmac-sha256":
        parts = _acs3_parts(cred)
        key_id = parts.get("Credential", "")
        secret = _secret_for(settings, key_id)
        if secret is None:
            return key_id
        _check_date(headers, settings.strict_auth)
        body = await request.body()
        payload = hashlib.sha256(body).hexdigest()
        if headers.get("x-acs-content-sha256", payload) != payload:
            raise signature_not_match()
        signed = [h for h in parts.get("SignedHeaders", "").split(";") if h]
        want = acs3_signature(secret, request.method, _raw_path(request), query, headers, signed, payload)
        _matches(parts.get("Signature", ""), want)
        return key_id

    if scheme_l == "acs":
        key_id, _, sig = cred.strip().partition(":")
        secret = _secret_for(settings, key_id)
        if secret is None:
            return key_id
        _check_date(headers, settings.strict_auth)
        want = acs_v2_signature(secret, request.method, _raw_path(request), query, headers)
        _matches(sig, want)
        await _check_content_md5(request, headers, settings.strict_auth)
        return key_id

    if settings.strict_auth:
        raise signature_not_match()
    return None


def _verify_signed_url(request: Request, settings: Settings, headers: dict[str, str],
                       query: list[tuple[str, str]], path: str) -> str | None:
    """Query authentication (§1.2): the Date slot is x-fc-expires; every pair but the signature is signed."""
    q = dict(query)
    key_id = q.get("x-fc-access-key-id", "")
    expires = q.get("x-fc-expires", "")
    if not is_decimal(expires):  # ASCII and int64: `²` is a digit to isdigit(), 5000 digits too many for int()
        raise access_denied(f"x-fc-expires '{expires}' is not a Unix time in seconds")
    if int(expires) < time.time():
        raise access_denied(f"the signed URL expired at {expires}")
    secret = _secret_for(settings, key_id)
    if secret is None:
        return key_id
    rest = [(k, v) for k, v in query if k != "x-fc-signature"]
    want = fc_sign(secret, fc_string_to_sign(request.method, headers, canonical_fc_headers(headers.items()),
                                             proxy_resource(path, rest), date=expires))
    # Base64 never holds a space: an unescaped `+` decoded as one is still the same signature.
    _matches(q["x-fc-signature"].replace(" ", "+"), want)
    return key_id


def account_of(request: Request, settings: Settings) -> str:
    """X-Fc-Account-Id if non-empty, else a numeric first host label, else the default."""
    header = (request.headers.get("x-fc-account-id") or "").strip().strip('"')
    if header:
        return header
    host = (request.headers.get("host") or "").split(":")[0]
    label = host.split(".")[0]
    if label.isdigit() and "." in host and not _is_ipv4(host):
        return label
    return settings.account_id


def _is_ipv4(host: str) -> bool:
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


async def authenticate(request: Request) -> Caller:
    """FastAPI dependency for FC API routes: verifies the signature, names the account."""
    settings: Settings = request.app.state.settings
    path = request.scope.get("path", "")
    if "/services/fc3:" in path:  # an FC 3.0 function's hidden service: FC 2.0 never sees it (fc3-api.md §8.1)
        raise service_not_found(path.split("/services/", 1)[1].split("/", 1)[0].split(".", 1)[0])
    key_id = await verify(request, settings)
    caller = Caller(account_id=account_of(request, settings), access_key_id=key_id)
    request.state.caller = caller
    return caller


async def authenticate_emulator(request: Request) -> Caller:
    """FastAPI dependency for the emulator's own endpoints (/_emulator/...: records, wait-idle,
    firing triggers, putting events, destinations). Default mode leaves them open, as FC's API; strict
    mode asks what FC's API asks: a request signed with a configured key (FC scheme, path only).
    Unlike FC 2.0's API, these routes may name an FC 3.0 function's hidden service (firing its timer)."""
    settings: Settings = request.app.state.settings
    key_id = await verify(request, settings)
    caller = Caller(account_id=account_of(request, settings), access_key_id=key_id)
    request.state.caller = caller
    return caller


def caller_of(request: Request) -> Caller:
    return request.state.caller


__all__ = ["Caller", "FCError", "authenticate", "authenticate_emulator", "caller_of", "verify", "account_of", "fc_sign",
           "fc_string_to_sign", "canonical_fc_headers", "proxy_resource"]
