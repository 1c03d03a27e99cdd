"""Async destinations (fc-api.md §2.9): what FC sends after an async invocation succeeds (onSuccess)
or fails for good (onFailure), and where it goes.

A Function Compute ARN gets the payload as a new async invocation of that function (kind
"destination"). MNS queues/topics and EventBridge buses are not reachable offline: the payload is
stored as delivered and read back through /_emulator/destinations.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from emulator.store import async_queue as queue
from emulator.store import resources as res
from emulator.store import snapshots

_FC = re.compile(r"^acs:fc:(?P<region>[^:]+):(?P<uid>[^:]*):services/(?P<service>[^./]+)(\.(?P<qualifier>[^/]+))?"
                 r"/functions/(?P<function>[^/]+)$")
_MNS = re.compile(r"^acs:mns:[^:]+:[^:]*:/(?P<what>queues|topics)/(?P<name>[^/]+)/messages$")
_EB = re.compile(r"^acs:eventbridge:[^:]+:[^:]*:eventbus/(?P<name>.+)$")

SUCCESS, FAILURE = "onSuccess", "onFailure"
DEFAULT_RETRIES = 3  # FC's default maxAsyncRetryAttempts
DEFAULT_MAX_AGE_S = 86400  # FC's default maxAsyncEventAgeInSeconds


@dataclass
class Policy:
    """The async-invoke config of the invoked qualifier, with FC's defaults."""
    retries: int
    max_age: int
    on_success: str
    on_failure: str
    stateful: bool


def policy(s, account: str, service: str, qualifier: str, function: str) -> Policy:
    row = res.get(s, account, "async_config", f"{service}/{function}", qualifier or snapshots.LATEST)
    body = row.body if row is not None else {}
    dest = body.get("destinationConfig") or {}
    retries = body.get("maxAsyncRetryAttempts")
    return Policy(retries=DEFAULT_RETRIES if retries is None else int(retries),
                  max_age=int(body.get("maxAsyncEventAgeInSeconds") or DEFAULT_MAX_AGE_S),
                  on_success=((dest.get("onSuccess") or {}).get("destination") or ""),
                  on_failure=((dest.get("onFailure") or {}).get("destination") or ""),
                  stateful=bool(body.get("statefulInvocation")))


@dataclass
class Result:
    """How an async event ended, in the terms of FC's destination payload."""
    status_code: int  # 200 when the function ran (function errors included), else the API error's status
    condition: str  # "" on success; the error type (UnhandledInvocationError, EventAgeExceeded, ...)
    error_message: str  # responseContext.functionError
    response: bytes  # the function's response body (its error JSON on a function error)


def function_arn(region: str, account: str, service: str, qualifier: str, function: str) -> str:
    return f"acs:fc:{region}:{account}:services/{service}.{qualifier}/functions/{function}"


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def payload(ev: queue.AsyncEvent, region: str, result: Result) -> dict:
    """FC's destination payload (the same shape FunctionGraph copied): the original event, the
    request context and the function's response. `timestamp` is epoch seconds."""
    return {
        "timestamp": int(time.time()),
        "requestContext": {
            "requestId": ev.request_id,
            "functionArn": function_arn(region, ev.account_id, ev.service, ev.qualifier, ev.function),
            "condition": result.condition,
            "approximateInvokeCount": ev.attempt,
        },
        "requestPayload": _text(ev.payload),
        "responseContext": {"statusCode": result.status_code, "functionError": result.error_message},
        "responsePayload": _text(result.response),
    }


def deliver(s: Session, ev: queue.AsyncEvent, condition: str, arn: str, body: dict) -> str:
    """Send `body` to `arn` inside the caller's transaction; returns the new request id for a function
    destination, "" otherwise."""
    m = _FC.match(arn)
    if m:
        request_id = str(uuid.uuid4())
        account, service = m.group("uid") or ev.account_id, m.group("service")
        qualifier, function = m.group("qualifier") or snapshots.LATEST, m.group("function")
        stateful = policy(s, account, service, qualifier, function).stateful  # the target's own config
        queue.enqueue(s, account=account, service=service, qualifier=qualifier, function=function,
                      request_id=request_id, payload=json.dumps(body).encode(), kind="destination",
                      invocation_id=request_id if stateful else None, stateful=stateful)
        return request_id
    mns, eb = _MNS.match(arn), _EB.match(arn)
    if mns:
        kind, name = ("mns-queue" if mns.group("what") == "queues" else "mns-topic"), mns.group("name")
    elif eb:
        kind, name = "eventbridge", eb.group("name")
    else:  # the config model only stores the forms above
        raise ValueError(f"unsupported destination {arn!r}")
    queue.add_delivery(s, account_id=ev.account_id, destination=arn, type=kind, name=name, condition=condition,
                       request_id=ev.request_id, service=ev.service, qualifier=ev.qualifier, function=ev.function,
                       payload=body)
    return ""
