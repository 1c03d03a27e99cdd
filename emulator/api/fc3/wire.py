"""FC 3.0's wire conventions (fc3-api.md §0, §2): the error shape, account and region of a request,
function names on the engine, ARNs, JSON answers and query parsing. Shared by every fc3 module."""
from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from emulator import errors
from emulator.api.wire import FC3_PREFIX, FCJSONResponse, json_body, page_params, paged  # noqa: F401 (re-exported)
from emulator.config import Settings
from emulator.model.names import FC3_SERVICE_PREFIX, fc3_service, is_fc3_service

PREFIX = FC3_PREFIX
LATEST = "LATEST"
DEFAULT_RESOURCE_GROUP = "rg-default"  # FC shows the account's default group; ours is named this

# FC 2.0 messages name the hidden service (`fc3:F`): an FC 3.0 client must only ever see function F.
_FN_IN_SVC = re.compile(r"function '([^']*)' does not exist in service 'fc3:\1'")
_OF_SVC = re.compile(r" (?:in|of) service 'fc3:([^']*)'")
_SVC = re.compile(r"service 'fc3:([^']*)'")


def fc3_message(message: str) -> str:
    if FC3_SERVICE_PREFIX not in message:
        return message
    message = _FN_IN_SVC.sub(r"function '\1' does not exist", message)
    message = _OF_SVC.sub(r" of function '\1'", message)
    message = _SVC.sub(r"function '\1'", message)
    return message.replace(FC3_SERVICE_PREFIX, "")


def fc3_error(exc: errors.FCError) -> errors.FCError:
    """The FC 3.0 form of an engine error: a missing hidden service is a missing function."""
    code = exc.code
    if code == "ServiceNotFound" and FC3_SERVICE_PREFIX in exc.message:
        code = "FunctionNotFound"
    return errors.FCError(exc.status, code, fc3_message(exc.message))


def fc3_error_response(request: Request, exc: errors.FCError) -> Response:
    """Every error under /2023-03-30: {"Code","Message","RequestId"} (the Tea SDKs read exactly these)."""
    exc = fc3_error(exc)
    rid = getattr(request.state, "request_id", "")
    return FCJSONResponse({"Code": exc.code, "Message": exc.message, "RequestId": rid}, status_code=exc.status,
                          headers={"x-fc-request-id": rid, "x-acs-request-id": rid})


def fc3_json(body: Any, status: int = 200) -> Response:
    return FCJSONResponse(body, status_code=status)


def no_content() -> Response:
    return Response(status_code=204)


# ---- account, region ------------------------------------------------------------------------------

def _host(request: Request) -> str:
    return (request.headers.get("host") or "").split(":")[0].lower()


def _is_ip(host: str) -> bool:
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def account_of(request: Request, settings: Settings) -> str:
    """§0: a numeric first Host label (`<uid>.<region>.fc.aliyuncs.com`), else X-Fc-Account-Id
    (FC 2.0 clients, tests), else the configured default account."""
    host = _host(request)
    label = host.split(".")[0]
    if label.isdigit() and "." in host and not _is_ip(host):
        return label
    header = (request.headers.get("x-fc-account-id") or "").strip().strip('"')
    return header or settings.account_id


def region_of(request: Request, settings: Settings) -> str:
    """§0: `fcv3.<region>.…` or `<uid>.<region>.fc.…` name the region; else the configured one."""
    host = _host(request)
    parts = host.split(".")
    if len(parts) >= 4 and not _is_ip(host) and (parts[0] == "fcv3" or parts[0].isdigit()) and parts[1]:
        return parts[1]
    return settings.region


# ---- names ----------------------------------------------------------------------------------------

def engine_pair(name: str) -> tuple[str, str]:
    """FC 3.0 name -> (service, function) on the engine: `S$G` is FC 2.0's pair (S, G) (§8.1),
    anything else an FC 3.0 function F living in the hidden service `fc3:F`."""
    svc, dollar, fn = name.partition("$")
    if dollar and svc and fn:
        return svc, fn
    return fc3_service(name), name


def fc3_name(service: str, function: str) -> str:
    """The FC 3.0 name of an engine pair."""
    return function if is_fc3_service(service) else f"{service}${function}"


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    arn = f"acs:fc:{region}:{account}:functions/{name}"
    return f"{arn}/{qualifier}" if qualifier and qualifier != LATEST else arn


# ---- query parameters -----------------------------------------------------------------------------

def query_bool(request: Request, name: str) -> bool | None:
    """Python sends True/False, Node true/false (§0); empty = unset."""
    raw = request.query_params.get(name) or ""
    if not raw:
        return None
    low = raw.lower()
    if low not in ("true", "false"):
        raise errors.invalid_argument(f"{name} is set to an invalid value (allowed: true | false, actual: '{raw[:100]}')")
    return low == "true"


def query_json_list(request: Request, name: str) -> list | None:
    """List parameters arrive as one JSON array string (`tags=[{"Key":..}]`, `instanceIds=["a"]`)."""
    raw = request.query_params.get(name) or ""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, list):
        raise errors.invalid_argument(f"{name} is set to an invalid value: expected a JSON array, "
                                      f"actual: '{raw[:100]}'")
    return value


def qualifier_of(request: Request) -> str:
    return request.query_params.get("qualifier") or LATEST
