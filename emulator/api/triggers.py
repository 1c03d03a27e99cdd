"""Triggers: CRUD under /services/{svc}/functions/{fn}/triggers (fc-api.md §2.5)."""
from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.context import Ctx, fc_ctx
from emulator.api.wire import check_if_match, fc_json, json_body, no_content, page_params, paged
from emulator.model.names import check_name
from emulator.model.trigger import (TriggerCreate, TriggerFields, canonical_type, check_source_arn,
                                    eventbridge_source_arn, parse_config)
from emulator.store import resources as res
from emulator.store import snapshots

router = APIRouter(tags=["triggers"])

# Event sources FC itself owns: the stored sourceArn is null whatever the client sent (go-test).
_NO_SOURCE_ARN = ("http", "timer")


def _require_function(s: Session, ctx: Ctx, svc: str, fn: str) -> None:
    res.require(s, ctx.account, "service", "", svc, lambda: errors.service_not_found(svc))
    res.require(s, ctx.account, "function", svc, fn, lambda: errors.function_not_found(svc, fn))


def _check_qualifier(s: Session, ctx: Ctx, svc: str, fn: str, qualifier: str) -> None:
    """The qualifier must name LATEST, a version or an alias in which the function exists."""
    snapshots.resolve(s, ctx.account, svc, qualifier).function(s, fn)


def _check_single_http(s: Session, ctx: Ctx, svc: str, fn: str, name: str, data: dict) -> None:
    """The HTTP proxy finds a function's HTTP trigger by qualifier, so there is one per qualifier."""
    if data["triggerType"] != "http":
        return
    for row in res.all_rows(s, ctx.account, "trigger", f"{svc}/{fn}"):
        if row.name != name and row.body.get("triggerType") == "http" and \
                row.body.get("qualifier") == data["qualifier"]:
            raise errors.invalid_argument(
                f"function '{fn}' already has an HTTP trigger '{row.name}' for qualifier '{data['qualifier']}'")


def proxy_url(base_url: str, svc: str, qualifier: str, fn: str) -> str:
    return f"{base_url}/2016-08-15/proxy/{svc}.{qualifier}/{fn}/"


def render(ctx: Ctx, svc: str, fn: str, row: res.ResourceRow) -> dict:
    """The Trigger object; URLs are derived from this emulator's address at read time."""
    body = row.out()
    q = body.get("qualifier") or snapshots.LATEST
    is_http = body.get("triggerType") == "http"
    url = proxy_url(ctx.settings.base_url, svc, q, fn) if is_http else ""
    body["urlInternet"] = url
    body["urlIntranet"] = url
    body["domainName"] = urlsplit(ctx.settings.base_url).netloc if is_http else ""
    body["targetArn"] = f"acs:fc:{ctx.settings.region}:{ctx.account}:services/{svc}.{q}/functions/{fn}"
    if ctx.request.url.path.startswith("/2021-04-06/"):
        # the 2021-04-06 SDK models triggerConfig as a JSON string
        body["triggerConfig"] = json.dumps(body.get("triggerConfig") or {}, separators=(",", ":"))
    return body


def _source_arn(ctx: Ctx, svc: str, fn: str, name: str, data: dict, given: str | None) -> str | None:
    t = data["triggerType"]
    if t in _NO_SOURCE_ARN:
        return None
    if t == "eventbridge":
        return eventbridge_source_arn(ctx.settings.region, ctx.account, svc, fn, name, data["triggerConfig"])
    return given


@router.post("/services/{service}/functions/{function}/triggers")
def create_trigger(service: str, function: str, ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    req = TriggerCreate.parse(body)
    name = check_name("trigger", req.triggerName)
    trigger_type = canonical_type(req.triggerType)
    config = parse_config(trigger_type, req.triggerConfig)
    check_source_arn(trigger_type, req.sourceArn)
    data = {
        "triggerName": name, "triggerId": str(uuid.uuid4()), "triggerType": trigger_type,
        "description": req.description or "", "sourceArn": None,
        "invocationRole": req.invocationRole or "", "qualifier": req.qualifier or snapshots.LATEST,
        "triggerConfig": config, "status": "Success",
    }
    data["sourceArn"] = _source_arn(ctx, service, function, name, data, req.sourceArn)
    with ctx.db.write() as s:
        _require_function(s, ctx, service, function)
        _check_qualifier(s, ctx, service, function, data["qualifier"])
        _check_single_http(s, ctx, service, function, name, data)
        row = res.insert(s, ctx.account, "trigger", f"{service}/{function}", name, data, lambda: errors.already_exists(
            "TriggerAlreadyExists", f"trigger '{name}' already exists in function '{function}'"))
    _fired_by_clock_changed(ctx, trigger_type)
    return fc_json(render(ctx, service, function, row), row.etag)


def _fired_by_clock_changed(ctx: Ctx, trigger_type: str) -> None:
    """Timer jobs follow every create, update, delete and `enable` change at once."""
    timers = getattr(ctx.request.app.state, "timers", None)
    if trigger_type == "timer" and timers is not None:
        timers.changed()


@router.get("/services/{service}/functions/{function}/triggers")
def list_triggers(service: str, function: str, ctx: Ctx = Depends(fc_ctx)):
    p = page_params(ctx.request)
    with ctx.db.read() as s:
        _require_function(s, ctx, service, function)
        rows, token = res.page(s, ctx.account, "trigger", f"{service}/{function}", p)
        return fc_json(paged("triggers", [render(ctx, service, function, r) for r in rows], token))


def _require_trigger(s: Session, ctx: Ctx, svc: str, fn: str, name: str) -> res.ResourceRow:
    _require_function(s, ctx, svc, fn)
    return res.require(s, ctx.account, "trigger", f"{svc}/{fn}", name, lambda: errors.trigger_not_found(fn, name))


@router.get("/services/{service}/functions/{function}/triggers/{trigger}")
def get_trigger(service: str, function: str, trigger: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.read() as s:
        row = _require_trigger(s, ctx, service, function, trigger)
        return fc_json(render(ctx, service, function, row), row.etag)


@router.put("/services/{service}/functions/{function}/triggers/{trigger}")
def update_trigger(service: str, function: str, trigger: str, ctx: Ctx = Depends(fc_ctx),
                   body: dict = Depends(json_body)):
    req = TriggerFields.parse(body)
    given = req.given()
    with ctx.db.write() as s:
        row = _require_trigger(s, ctx, service, function, trigger)
        check_if_match(ctx.request, row.etag)
        data = dict(row.body)
        if "triggerConfig" in given:  # replaced whole, as FC does
            data["triggerConfig"] = parse_config(data["triggerType"], req.triggerConfig)
        for key in ("invocationRole", "description"):
            if key in given:
                data[key] = given[key]
        if req.qualifier is not None:
            data["qualifier"] = req.qualifier
            _check_qualifier(s, ctx, service, function, req.qualifier)
        _check_single_http(s, ctx, service, function, trigger, data)
        if data["triggerType"] == "eventbridge":
            data["sourceArn"] = _source_arn(ctx, service, function, trigger, data, None)
        row = res.update(s, row, data)
    _fired_by_clock_changed(ctx, data["triggerType"])
    return fc_json(render(ctx, service, function, row), row.etag)


@router.delete("/services/{service}/functions/{function}/triggers/{trigger}")
def delete_trigger(service: str, function: str, trigger: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.write() as s:
        row = _require_trigger(s, ctx, service, function, trigger)
        check_if_match(ctx.request, row.etag)
        res.delete(s, row)
    _fired_by_clock_changed(ctx, row.body.get("triggerType", ""))
    return no_content()
