"""The emulator's invocation records and wait-until-idle, under our own prefix (/_emulator), not FC's.

The account is named as FC APIs name it (X-Fc-Account-Id, a numeric host label, or the default);
no signature is needed. Errors use FC's JSON shape.

GET       /_emulator/invocations?service=&function=&qualifier=&status=&kind=&requestId=&instanceId=
                                 &since=&until=&after=&order=desc|asc&limit=&nextToken=
GET       /_emulator/invocations/{requestId}[?attempt=N]
GET|POST  /_emulator/wait-idle?timeout=S
"""
from __future__ import annotations

import asyncio
import math
import time
from datetime import datetime, timezone

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emulator import errors
from emulator.api.auth import account_of
from emulator.config import parse_duration
from emulator.model.numbers import INT64_MAX, INT64_MIN, parse_int
from emulator.store.records import Filters

router = APIRouter(prefix="/_emulator", tags=["emulator"])

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
WAIT_IDLE_DEFAULT_S = 30.0
WAIT_IDLE_MAX_S = 600.0
IDLE_POLL_S = 0.01


def parse_time(name: str, raw: str, now: float | None = None) -> int:
    """Epoch ms from an ISO 8601 time, epoch seconds or milliseconds, or a duration ago (`10m`).
    Only finite values within int64 milliseconds: NaN, 1e999 and 10^30 are refused, not a 500."""
    text = raw.strip()
    now = time.time() if now is None else now
    ms = None
    if text.isascii():  # float() takes '١' and '²' is not a number
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is not None:
            ms = number if abs(number) >= 1e11 else number * 1000  # a number this large is milliseconds
        if ms is None:
            try:
                when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
                if when.tzinfo is None:
                    when = when.replace(tzinfo=timezone.utc)
                ms = when.timestamp() * 1000
            except ValueError:
                pass
        if ms is None:
            try:
                ms = (now - parse_duration(text)) * 1000
            except ValueError:
                pass
    if ms is None or not math.isfinite(ms) or not INT64_MIN <= ms <= INT64_MAX:
        raise errors.invalid_argument(f"{name} is set to an invalid value (expected an ISO 8601 time, epoch "
                                      f"seconds or milliseconds, or a duration such as 10m; actual: '{raw[:100]}')")
    return int(ms)


def _int_param(name: str, raw: str | None, lo: int, hi: int | None = None) -> int | None:
    if raw is None or raw == "":
        return None
    value = parse_int(raw)  # ASCII digits within int64: SQLite compares it
    if value is None:
        raise errors.invalid_argument(f"{name} is set to an invalid value (actual: '{raw[:100]}')")
    if value < lo or (hi is not None and value > hi):
        allowed = f"{lo} to {hi}" if hi is not None else f">= {lo}"
        raise errors.invalid_argument(f"{name} is set to an invalid value (allowed: {allowed}, actual: {value})")
    return value


@router.get("/invocations")
def list_invocations(request: Request):
    q = request.query_params
    order = q.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise errors.invalid_argument(f"order is set to an invalid value (allowed: asc | desc, actual: '{order}')")
    limit = _int_param("limit", q.get("limit"), 1, MAX_LIMIT) or DEFAULT_LIMIT
    token = _int_param("nextToken", q.get("nextToken"), 0)
    filters = Filters(
        account=account_of(request, request.app.state.settings),
        service=q.get("service") or q.get("serviceName") or "",
        function=q.get("function") or q.get("functionName") or "",
        qualifier=q.get("qualifier") or "", status=q.get("status") or "", kind=q.get("kind") or "",
        request_id=q.get("requestId") or "", instance_id=q.get("instanceId") or "",
        since_ms=parse_time("since", q["since"]) if q.get("since") else None,
        until_ms=parse_time("until", q["until"]) if q.get("until") else None,
        after=_int_param("after", q.get("after"), 0))
    items, more = request.app.state.records.page(filters, limit, token, ascending=order == "asc")
    body = {"invocations": items}
    if more is not None:
        body["nextToken"] = str(more)
    return JSONResponse(body)


@router.get("/invocations/{request_id}")
def get_invocation(request_id: str, request: Request):
    """The record of one invocation: its last attempt, or `?attempt=N`; `attempts` lists them all."""
    attempt = _int_param("attempt", request.query_params.get("attempt"), 1)
    account = account_of(request, request.app.state.settings)
    records = request.app.state.records.by_request(account, request_id)
    chosen = [r for r in records if attempt is None or r["attempt"] == attempt]
    if not chosen:
        raise errors.FCError(404, "InvocationNotFound", f"invocation '{request_id}' has no record"
                             + (f" of attempt {attempt}" if attempt else ""))
    return JSONResponse({**chosen[-1], "attempts": [r["attempt"] for r in records]})


async def busy(app) -> dict[str, int]:
    """What is still going on: running invocations, queued or running async events, unwritten records."""
    async_invoker = getattr(app.state, "async_invoker", None)
    return {"running": app.state.invoker.running,
            "asyncPending": await async_invoker.pending() if async_invoker is not None else 0,
            "recordsPending": app.state.recorder.pending}


@router.api_route("/wait-idle", methods=["GET", "POST"])
async def wait_idle(request: Request):
    """200 once nothing runs, the async queue is empty and every record is written; 408 on timeout.
    A short poll (10 ms): the counters live in different layers, and polling them is cheap."""
    raw = request.query_params.get("timeout") or ""
    try:
        timeout = parse_duration(raw) if raw else WAIT_IDLE_DEFAULT_S
    except ValueError:
        raise errors.invalid_argument(f"timeout is set to an invalid value (actual: '{raw}')") from None
    if timeout > WAIT_IDLE_MAX_S:
        raise errors.invalid_argument(f"timeout is set to an invalid value (allowed: 0 to {WAIT_IDLE_MAX_S:.0f} "
                                      f"seconds, actual: {raw})")
    t0 = time.monotonic()
    deadline = t0 + timeout
    settled = 0
    while True:
        state = await busy(request.app)
        # idle twice in a row: a listener or async worker hands work on across one loop iteration
        settled = settled + 1 if not any(state.values()) else 0
        if state["recordsPending"] and not state["running"]:
            request.app.state.recorder.flush_soon()
        if settled >= 2:
            return JSONResponse({"idle": True, "waitedMs": round((time.monotonic() - t0) * 1000), **state})
        if settled == 0 and time.monotonic() >= deadline:
            raise errors.FCError(408, "WaitIdleTimeout",
                                 f"not idle after {timeout:g} seconds: {state['running']} invocation(s) running, "
                                 f"{state['asyncPending']} async event(s) queued or running, "
                                 f"{state['recordsPending']} record(s) not yet written")
        await asyncio.sleep(IDLE_POLL_S if settled == 0 else 0)
