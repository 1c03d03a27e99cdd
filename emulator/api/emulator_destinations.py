"""What async invocations delivered to MNS queues/topics and EventBridge buses, which the emulator
cannot reach: read back under our own prefix (/_emulator), not FC's. The account is named as for
FC's API (X-Fc-Account-Id, a numeric host label, or the default); no signature is needed.

GET /_emulator/destinations?destination=<ARN>&name=<queue|topic|bus>&requestId=&service=&function=
    -> {"deliveries": [{id, destination, type, name, condition, requestId, serviceName, qualifier,
                        functionName, deliveredTime, payload}, ...]}   (oldest first)
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emulator.api.auth import account_of
from emulator.store import async_queue as queue

router = APIRouter(prefix="/_emulator", tags=["emulator"])


@router.get("/destinations")
def list_deliveries(request: Request):
    q = request.query_params
    account = account_of(request, request.app.state.settings)
    with request.app.state.db.read() as s:
        rows = queue.list_deliveries(s, account, destination=q.get("destination") or "", name=q.get("name") or "",
                                     request_id=q.get("requestId") or "", service=q.get("service") or "",
                                     function=q.get("function") or "")
        return JSONResponse({"deliveries": [r.out() for r in rows]})
