"""Firing triggers from tests, under /_emulator (not FC's API): timers now, and event sources."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emulator import errors
from emulator.api.auth import account_of
from emulator.store import resources as res

router = APIRouter(prefix="/_emulator", tags=["emulator"])


@router.post("/services/{service}/functions/{function}/triggers/{trigger}/fire")
async def fire_trigger(service: str, function: str, trigger: str, request: Request):
    """Fire a Timer trigger now, with FC's timer event; answers {"requestId"} of the async invocation."""
    account = account_of(request, request.app.state.settings)
    db = request.app.state.db
    with db.read() as s:
        row = res.get(s, account, "trigger", f"{service}/{function}", trigger)
    if row is None:
        raise errors.trigger_not_found(function, trigger)
    if row.body.get("triggerType") != "timer":
        raise errors.invalid_argument(f"trigger '{trigger}' is a '{row.body.get('triggerType')}' trigger: fire "
                                      f"event-source triggers with POST /_emulator/events/<source>")
    request_id = await request.app.state.timers.fire_now(row)
    return JSONResponse({"requestId": request_id})
