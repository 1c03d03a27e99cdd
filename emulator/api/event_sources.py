"""Event sources of a function (2021-04-06 RegisterEventSource / ListEventSources /
DeregisterEventSource): POST/GET .../functions/{fn}/event-sources, DELETE .../event-sources/{arn}.

Stored per qualifier (`?qualifier=`, or `svc.q` in 2016 style) and listed; nothing delivers from
them locally. A record belongs to one function: rows left by a deleted function are not shown for
a new function of the same name (the function id is kept beside the ARN)."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.context import Ctx, fc_ctx
from emulator.api.wire import fc_json, json_body, no_content, split_qualifier
from emulator.model.event_source import EventSourceCreate, check_source_arn
from emulator.store import resources as res
from emulator.store import snapshots

router = APIRouter(tags=["event sources"])
KIND = "event_source"


def _scope(s: Session, ctx: Ctx, service: str, fn: str) -> tuple[str, str]:
    """(parent key, function id) of the function as of the request's qualifier; FC's 404s when the
    service, qualifier or function does not exist."""
    svc, qualifier = split_qualifier(ctx.request, service)
    snap = snapshots.resolve(s, ctx.account, svc, qualifier)
    body, _ = snap.function(s, fn)
    return f"{svc}/{fn}/{snap.qualifier}", body.get("functionId", "")


def _current(rows: list[res.ResourceRow], function_id: str) -> list[res.ResourceRow]:
    return [r for r in rows if r.body.get("_functionId", "") == function_id]


def _out(row: res.ResourceRow) -> dict:
    return row.out(modified=None)  # FC's EventSource: sourceArn, createdTime


def _not_found(fn: str, arn: str) -> errors.FCError:
    return errors.FCError(404, "EventSourceNotFound", f"event source '{arn}' does not exist in function '{fn}'")


@router.post("/services/{service}/functions/{function}/event-sources")
def register_event_source(service: str, function: str, ctx: Ctx = Depends(fc_ctx),
                          body: dict = Depends(json_body)):
    req = EventSourceCreate.parse(body)
    if not req.sourceArn:
        raise errors.invalid_argument("sourceArn is required")
    with ctx.db.write() as s:
        parent, function_id = _scope(s, ctx, service, function)
        old = res.get(s, ctx.account, KIND, parent, req.sourceArn)
        if old is not None and old.body.get("_functionId", "") != function_id:
            res.delete(s, old)  # left by a deleted function of the same name
        row = res.insert(s, ctx.account, KIND, parent, req.sourceArn,
                         {"sourceArn": req.sourceArn, "_functionId": function_id},
                         lambda: errors.already_exists("EventSourceAlreadyExists",
                                                       f"event source '{req.sourceArn}' already exists "
                                                       f"in function '{function}'"))
        return fc_json(_out(row))


@router.get("/services/{service}/functions/{function}/event-sources")
def list_event_sources(service: str, function: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.read() as s:
        parent, function_id = _scope(s, ctx, service, function)
        rows = _current(res.all_rows(s, ctx.account, KIND, parent), function_id)
        return fc_json({"eventSources": [_out(r) for r in rows]})


@router.delete("/services/{service}/functions/{function}/event-sources/{source_arn:path}")
def deregister_event_source(service: str, function: str, source_arn: str, ctx: Ctx = Depends(fc_ctx)):
    try:
        check_source_arn(source_arn)
    except ValueError as exc:
        raise errors.invalid_argument(str(exc)) from None
    with ctx.db.write() as s:
        parent, function_id = _scope(s, ctx, service, function)
        row = res.get(s, ctx.account, KIND, parent, source_arn)
        if row is None or row.body.get("_functionId", "") != function_id:
            raise _not_found(function, source_arn)
        res.delete(s, row)
    return no_content()
