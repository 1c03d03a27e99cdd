"""FC 3.0 triggers (fc3-api.md §4.4, §7.1, §8.3): CRUD under /2023-03-30/functions/{fn}/triggers.

A trigger of FC 3.0 function F is the engine's trigger of (hidden service `fc3:F`, F), so timers, event
sources and HTTP triggers fire exactly as in FC 2.0. What FC 3.0 adds is kept beside it in the row:
- `_fc3Config`: triggerConfig exactly as the client sent it (a JSON string, echoed verbatim: the fc3
  component compares it key for key); the engine's `triggerConfig` is its validated object form;
- `_fc3Sub`: the HTTP trigger's subdomain `<function>-<10 letters>`, fixed for its lifetime, with an
  index row (kind `fc3_http`, name = subdomain) so a URL finds its trigger in any account (§7.5).
"""
from __future__ import annotations

import json
import random
import string
import uuid

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.fc3.auth import Ctx3, fc3_ctx
from emulator.api.fc3.functions import lookup
from emulator.api.fc3.wire import fc3_json, function_arn, json_body, no_content, page_params, paged
from emulator.api.triggers import _check_qualifier, _check_single_http, _fired_by_clock_changed, _source_arn
from emulator.model.base import parse_json
from emulator.model.names import check_name
from emulator.model.trigger import TriggerCreate, TriggerFields, canonical_type, check_source_arn, parse_config
from emulator.store import resources as res
from emulator.store import snapshots

router = APIRouter(tags=["FC 3.0 triggers"])

HTTP_INDEX = "fc3_http"  # kind of the subdomain -> trigger index rows (parent "")
FCAPP = "fcapp"  # path-routed trigger URLs: <public-url>/fcapp/<sub>/<path>


def require_pair(s: Session, ctx: Ctx3, name: str) -> tuple[str, str]:
    """The engine pair of FC 3.0 function `name` (F, or S$G for an FC 2.0 pair), or 404."""
    svc, fn, _, _ = lookup(s, ctx.account, name)
    return svc, fn


# ---- triggerConfig ---------------------------------------------------------------------------------

def _config_text(raw) -> tuple[str, dict]:
    """(the string to echo, the parsed object). The SDKs send a JSON string; an object is accepted too."""
    if raw is None or raw == "":
        return "{}", {}
    if isinstance(raw, str):
        try:
            value = parse_json(raw)
        except ValueError as exc:
            raise errors.invalid_argument(f"triggerConfig is not valid JSON: {exc}") from None
        text = raw
    else:
        value, text = raw, json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
    if not isinstance(value, dict):
        raise errors.invalid_argument("triggerConfig must be a JSON object")
    return text, value


def _engine_config(trigger_type: str, value: dict) -> dict:
    """What the engine acts on. FC 3.0 HTTP additions: `authType: jwt` (tokens are not checked locally:
    it runs as anonymous), `authConfig` as an object (the fc3 component's form), `corsConfig` (stored)."""
    if trigger_type == "http":
        value = dict(value)
        if isinstance(value.get("authType"), str) and value["authType"].lower() == "jwt":
            value["authType"] = "anonymous"
        if value.get("authConfig") is not None and not isinstance(value["authConfig"], str):
            value["authConfig"] = json.dumps(value["authConfig"], separators=(",", ":"))
    return parse_config(trigger_type, value)


# ---- HTTP URLs -------------------------------------------------------------------------------------

def _new_sub(function: str) -> str:
    base = "".join(c if c.isalnum() or c == "-" else "-" for c in function.lower()).strip("-")[:52] or "fn"
    return f"{base}-{''.join(random.choices(string.ascii_lowercase, k=10))}"


def find_http(s: Session, sub: str) -> res.ResourceRow | None:
    """The index row of an HTTP trigger's subdomain, whichever account owns it."""
    return s.scalars(select(res.ResourceRow).where(res.ResourceRow.kind == HTTP_INDEX,
                                                   res.ResourceRow.name == sub.lower())).first()


def _add_http_index(s: Session, ctx: Ctx3, svc: str, fn: str, trigger: str) -> str:
    for _ in range(5):
        sub = _new_sub(fn)
        if find_http(s, sub) is None:
            res.insert(s, ctx.account, HTTP_INDEX, "", sub, {"service": svc, "function": fn, "trigger": trigger},
                       lambda: errors.internal_error())
            return sub
    raise errors.internal_error()


def _drop_http_index(s: Session, account: str, body: dict) -> None:
    sub = body.get("_fc3Sub")
    if sub:
        row = res.get(s, account, HTTP_INDEX, "", sub)
        if row is not None:
            res.delete(s, row)


def trigger_urls(ctx: Ctx3, sub: str) -> dict:
    """§7.5: path-routed URLs on the emulator; host-routed `<sub>.<region>.fcapp.run` works too."""
    url = f"{ctx.settings.base_url}/{FCAPP}/{sub}"
    return {"urlInternet": url, "urlIntranet": url}


# ---- rendering -------------------------------------------------------------------------------------

def render(ctx: Ctx3, name: str, row: res.ResourceRow) -> dict:
    """The FC 3.0 Trigger object. Unset optional fields are omitted (the fc3 component compares the
    whole trigger after dropping nulls)."""
    b = row.body
    q = b.get("qualifier") or snapshots.LATEST
    config = b.get("_fc3Config")
    if config is None:  # an FC 2.0 trigger seen through S$G
        config = json.dumps(b.get("triggerConfig") or {}, separators=(",", ":"), ensure_ascii=False)
    out = {"triggerName": row.name, "triggerId": b.get("triggerId") or "", "triggerType": b.get("triggerType"),
           "triggerConfig": config, "qualifier": q, "description": b.get("description") or "",
           "createdTime": res.iso(row.created_time), "lastModifiedTime": res.iso(row.last_modified_time)}
    for key in ("sourceArn", "invocationRole"):
        if b.get(key):
            out[key] = b[key]
    if b.get("triggerType") == "http":
        sub = b.get("_fc3Sub")
        out["httpTrigger"] = trigger_urls(ctx, sub) if sub else {
            "urlInternet": f"{ctx.settings.base_url}/2016-08-15/proxy/{row.parent.split('/')[0]}.{q}/"
                           f"{row.parent.split('/', 1)[1]}/", "urlIntranet": ""}
    else:
        out["status"] = b.get("status") or "Success"
        out["targetArn"] = function_arn(ctx.region, ctx.account, name, q)
    return out


# ---- operations ------------------------------------------------------------------------------------

def _require_trigger(s: Session, ctx: Ctx3, name: str, trigger: str) -> tuple[str, str, res.ResourceRow]:
    svc, fn = require_pair(s, ctx, name)
    row = res.require(s, ctx.account, "trigger", f"{svc}/{fn}", trigger,
                      lambda: errors.trigger_not_found(name, trigger))
    return svc, fn, row


@router.post("/functions/{function}/triggers")
def create_trigger(function: str, ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    req = TriggerCreate.parse(body)
    name = check_name("trigger", req.triggerName)
    trigger_type = canonical_type(req.triggerType)
    text, value = _config_text(req.triggerConfig)
    config = _engine_config(trigger_type, value)
    check_source_arn(trigger_type, req.sourceArn)
    with ctx.db.write() as s:
        svc, fn = require_pair(s, ctx, function)
        data = {
            "triggerName": name, "triggerId": str(uuid.uuid4()), "triggerType": trigger_type,
            "description": req.description or "", "sourceArn": None, "invocationRole": req.invocationRole or "",
            "qualifier": req.qualifier or snapshots.LATEST, "triggerConfig": config, "status": "Success",
            "_fc3Config": text,
        }
        data["sourceArn"] = _source_arn(ctx, svc, fn, name, data, req.sourceArn)
        _check_qualifier(s, ctx, svc, fn, data["qualifier"])
        _check_single_http(s, ctx, svc, fn, name, data)
        conflict = lambda: errors.already_exists(  # noqa: E731
            "TriggerAlreadyExists", f"trigger '{name}' already exists in function '{function}'")
        if res.get(s, ctx.account, "trigger", f"{svc}/{fn}", name) is not None:
            raise conflict()
        if trigger_type == "http":
            data["_fc3Sub"] = _add_http_index(s, ctx, svc, fn, name)
        row = res.insert(s, ctx.account, "trigger", f"{svc}/{fn}", name, data, conflict)
        out = render(ctx, function, row)
    _fired_by_clock_changed(ctx, trigger_type)
    return fc3_json(out)


@router.get("/functions/{function}/triggers")
def list_triggers(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    p = page_params(ctx.request)
    with ctx.db.read() as s:
        svc, fn = require_pair(s, ctx, function)
        rows, token = res.page(s, ctx.account, "trigger", f"{svc}/{fn}", p)
        return fc3_json(paged("triggers", [render(ctx, function, r) for r in rows], token))


@router.get("/functions/{function}/triggers/{trigger}")
def get_trigger(function: str, trigger: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.read() as s:
        _, _, row = _require_trigger(s, ctx, function, trigger)
        return fc3_json(render(ctx, function, row))


@router.put("/functions/{function}/triggers/{trigger}")
def update_trigger(function: str, trigger: str, ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    req = TriggerFields.parse(body)
    given = req.given()
    with ctx.db.write() as s:
        svc, fn, row = _require_trigger(s, ctx, function, trigger)
        data = dict(row.body)
        if "triggerConfig" in given:  # replaced whole, as FC does
            text, value = _config_text(req.triggerConfig)
            data["triggerConfig"] = _engine_config(data["triggerType"], value)
            data["_fc3Config"] = text
        for key in ("invocationRole", "description"):
            if key in given:
                data[key] = given[key] or ""
        if req.qualifier is not None:
            _check_qualifier(s, ctx, svc, fn, req.qualifier)
            data["qualifier"] = req.qualifier
        _check_single_http(s, ctx, svc, fn, trigger, data)
        if data["triggerType"] == "eventbridge":
            data["sourceArn"] = _source_arn(ctx, svc, fn, trigger, data, None)
        row = res.update(s, row, data)
        out = render(ctx, function, row)
    _fired_by_clock_changed(ctx, data["triggerType"])
    return fc3_json(out)


@router.delete("/functions/{function}/triggers/{trigger}")
def delete_trigger(function: str, trigger: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.write() as s:
        _, _, row = _require_trigger(s, ctx, function, trigger)
        _drop_http_index(s, ctx.account, row.body)
        trigger_type = row.body.get("triggerType", "")
        res.delete(s, row)
    _fired_by_clock_changed(ctx, trigger_type)
    return no_content()
