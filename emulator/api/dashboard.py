"""The web dashboard (issue 14 item 1): static pages served from the package, and one JSON snapshot of an
account for them, under the emulator's own prefix.

GET /                         a small page linking the dashboard, the API docs and /health
GET /_emulator/ui             the dashboard (emulator/api/dashboard/index.html, app.js, style.css)
GET /_emulator/ui/{asset}     its script and style sheet
GET /_emulator/dashboard      {accountId, accounts, services: [...], fc3Functions: [...], queue, running, busy}:
                              every service and function of the caller's account with its configuration,
                              triggers (with a Timer's next firing), qualifiers and live instances; the async
                              queue; the invocations in progress with their log so far

The pages hold no data and answer anyone (as /health does); the JSON is signed like every /_emulator route
in strict mode, and the page signs its requests in the browser (FC's scheme, HMAC-SHA256, app.js). Records,
actions (invoke, fire a timer, put an event) go through the existing endpoints: FC's InvokeFunction (2.0 or
3.0), /_emulator/invocations, /_emulator/services/…/fire and /_emulator/events/{source}.
"""
from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timezone
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from sqlalchemy import select

from emulator import __version__, errors
from emulator.api.auth import account_of, authenticate_emulator
from emulator.api.proxy import is_local_host
from emulator.model import cron
from emulator.model.names import FC3_SERVICE_PREFIX, is_fc3_service
from emulator.store import async_queue as queue
from emulator.store import resources as res
from emulator.store.resources import ResourceRow, iso

router = APIRouter(tags=["emulator"])
STATIC = Path(__file__).resolve().parent / "dashboard"
ASSETS = {"app.js": "text/javascript", "sign.js": "text/javascript", "style.css": "text/css"}
FINISHED_SHOWN = 30  # finished async events listed after the pending ones (newest first)
PENDING_SHOWN = 200
UTC = timezone.utc

LANDING = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>fc-emulator</title>
<style>body{font:15px system-ui,sans-serif;margin:3em auto;max-width:40em;color:#1d2733}a{color:#0b62c4}</style>
</head><body><h1>fc-emulator {version}</h1><p>An offline emulator of Alibaba Cloud Function Compute.</p><ul>
<li><a href="/_emulator/ui">Dashboard</a>: services, functions, triggers, instances, invocations and logs</li>
<li><a href="/docs">API docs</a> (OpenAPI)</li><li><a href="/health">/health</a></li></ul></body></html>"""


@router.get("/", include_in_schema=False)
def landing(request: Request):
    if not is_local_host(request.scope):  # another Host is a (maybe deleted) custom domain: FC's answer
        raise errors.path_not_supported(request.method, request.url.path)
    return HTMLResponse(LANDING.replace("{version}", __version__))


@router.get("/_emulator/ui", include_in_schema=False)
def dashboard_page():
    return FileResponse(STATIC / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/_emulator/ui/{asset}", include_in_schema=False)
def dashboard_asset(asset: str):
    if asset not in ASSETS:  # a fixed set: no path from the request reaches the file system
        raise errors.FCError(404, "NotFound", f"no dashboard asset named '{asset[:100]}'")
    return FileResponse(STATIC / asset, media_type=ASSETS[asset], headers={"Cache-Control": "no-cache"})


# ---- the snapshot -----------------------------------------------------------------------------------

def _next_fire(trigger: dict, now: datetime) -> str | None:
    """A Timer trigger's next moment (UTC) after `now` (the account's timer clock), or None when it is disabled
    or can never fire."""
    if trigger.get("triggerType") != "timer":
        return None
    config = trigger.get("triggerConfig") or {}
    if isinstance(config, str):
        try:
            config = json.loads(config or "{}")
        except ValueError:
            return None
    if config.get("enable", True) is False or not config.get("cronExpression"):
        return None
    try:
        moment = cron.next_fire(config["cronExpression"], now)
    except ValueError:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _instances(app, account: str) -> tuple[dict[tuple[str, str], list[dict]], list[dict]]:
    """Live instances of every function version of the account, by (service, function); and the invocations
    running on them with their log so far (the live tail of what has no record yet)."""
    now = time.monotonic()
    out: dict[tuple[str, str], list[dict]] = {}
    running: list[dict] = []
    for key, pool in list(app.state.pools.pools.items()):
        acct, svc, fn, version = key[:4]
        if acct != account:
            continue
        for inst in list(pool.instances):
            if not inst.alive or inst.retired:
                continue
            ready = inst.ready.is_set() and inst.started is not None
            out.setdefault((svc, fn), []).append({
                "instanceId": inst.id, "versionId": version, "status": "Running" if ready else "Starting",
                "inflight": inst.inflight, "served": inst.served, "provisioned": inst.provisioned,
                "createdTime": datetime.fromtimestamp(inst.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "idleSeconds": round(now - inst.last_used, 1) if inst.inflight == 0 else 0})
            if inst.inflight:
                fc3 = is_fc3_service(svc)
                running.extend({"requestId": rid, "serviceName": None if fc3 else svc, "functionName": fn, "fc3": fc3,
                                "instanceId": inst.id, "logs": lines} for rid, lines in inst.log.running().items())
    return out, running


def _function(row: ResourceRow, triggers: list[ResourceRow], instances: list[dict], fc3: bool, now: datetime) -> dict:
    body = row.out()
    fc3_view = body.pop("fc3", None)  # an FC 3.0 function keeps FC 3.0's own view of itself beside the engine's
    config = fc3_view if fc3 and isinstance(fc3_view, dict) else body
    trigger_list = []
    for t in sorted(triggers, key=lambda r: r.name):
        tb = t.out()
        trigger_list.append({**tb, "triggerName": t.name, "nextFire": _next_fire(tb, now)})
    return {"functionName": row.name, "runtime": config.get("runtime") or body.get("runtime"),
            "handler": config.get("handler") or body.get("handler"), "config": config,
            "triggers": trigger_list, "instances": instances}


def _resources(s, account: str, instances: dict, now: datetime) -> tuple[list[dict], list[dict]]:
    rows = s.scalars(select(ResourceRow).where(
        ResourceRow.account_id == account,
        ResourceRow.kind.in_(("service", "function", "trigger", "version", "alias")))).all()
    by_kind: dict[str, list[ResourceRow]] = {}
    for r in rows:
        by_kind.setdefault(r.kind, []).append(r)
    triggers: dict[str, list[ResourceRow]] = {}
    for t in by_kind.get("trigger", []):
        triggers.setdefault(t.parent, []).append(t)
    qualifiers: dict[str, list[str]] = {}
    for v in sorted(by_kind.get("version", []), key=lambda r: int(r.name) if r.name.isdigit() else 0):
        qualifiers.setdefault(v.parent, []).append(v.name)
    for a in sorted(by_kind.get("alias", []), key=lambda r: r.name):
        qualifiers.setdefault(a.parent, []).append(a.name)
    functions: dict[str, list[ResourceRow]] = {}
    for f in sorted(by_kind.get("function", []), key=lambda r: r.name):
        functions.setdefault(f.parent, []).append(f)
    services, fc3_functions = [], []
    for svc in sorted(by_kind.get("service", []), key=lambda r: r.name):
        fc3 = is_fc3_service(svc.name)
        fns = [_function(f, triggers.get(f"{svc.name}/{f.name}", []), instances.get((svc.name, f.name), []), fc3, now)
               for f in functions.get(svc.name, [])]
        quals = ["LATEST", *qualifiers.get(svc.name, [])]
        if fc3:  # FC 3.0 function F is the engine pair (fc3:F, F): shown as F
            for fn in fns:
                fc3_functions.append({**fn, "engineService": svc.name, "qualifiers": quals})
            continue
        config = svc.out()
        config.pop("_tags", None)
        services.append({"serviceName": svc.name, "config": config, "qualifiers": quals, "functions": fns})
    return services, fc3_functions


def _queue(s, account: str) -> dict:
    base = select(queue.AsyncEvent).where(queue.AsyncEvent.account_id == account)
    pending = s.scalars(base.where(queue.AsyncEvent.status.in_(queue.PENDING))
                        .order_by(queue.AsyncEvent.next_run).limit(PENDING_SHOWN)).all()
    finished = s.scalars(base.where(queue.AsyncEvent.status.in_(queue.FINISHED))
                         .order_by(queue.AsyncEvent.id.desc()).limit(FINISHED_SHOWN)).all()
    now = time.time()

    def out(ev: queue.AsyncEvent) -> dict:
        fc3 = ev.service.startswith(FC3_SERVICE_PREFIX)
        return {"requestId": ev.request_id, "serviceName": None if fc3 else ev.service, "functionName": ev.function,
                "fc3": fc3, "qualifier": ev.qualifier, "kind": ev.kind, "status": ev.status, "attempt": ev.attempt,
                "throttles": ev.throttles, "statefulInvocationId": ev.invocation_id,
                "enqueuedTime": iso(datetime.fromtimestamp(ev.enqueued_at, UTC)),
                "ageSeconds": round(now - ev.enqueued_at, 1),
                "nextRunInSeconds": round(max(0.0, ev.next_run - now), 1) if ev.status == queue.ENQUEUED else None,
                "durationMs": ev.duration_ms, "errorType": ev.error_type, "payloadSize": len(ev.payload or b"")}

    return {"pending": [out(e) for e in pending], "finished": [out(e) for e in finished]}


def _snapshot(app, account: str, instances: dict, now: datetime) -> dict:
    with app.state.db.read() as s:
        services, fc3_functions = _resources(s, account, instances, now)
        accounts = sorted(set(s.scalars(select(ResourceRow.account_id).where(ResourceRow.kind == "service"))))
        return {"services": services, "fc3Functions": fc3_functions, "queue": _queue(s, account),
                "accounts": accounts}


@router.get("/_emulator/dashboard", dependencies=[Depends(authenticate_emulator)])
async def dashboard_state(request: Request):
    app = request.app
    settings = app.state.settings
    account = account_of(request, settings)
    instances, running = _instances(app, account)  # on the loop: pools are the loop's
    timers = getattr(app.state, "timers", None)
    now = timers.now(account) if hasattr(timers, "now") else datetime.now(UTC)  # the account's (virtual) timer clock
    snapshot = await asyncio.to_thread(_snapshot, app, account, instances, now)
    async_invoker = getattr(app.state, "async_invoker", None)
    busy = {"running": app.state.invoker.running, "recordsPending": app.state.recorder.pending,
            "asyncPending": await async_invoker.pending() if async_invoker is not None else 0}
    return JSONResponse({"accountId": account, "defaultAccountId": settings.account_id, "region": settings.region,
                         "auth": settings.auth, "version": __version__, "time": iso(datetime.now(UTC)),
                         "timerClock": iso(now), **snapshot, "running": running, "busy": busy})
