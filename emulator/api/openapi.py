"""The OpenAPI document (/openapi.json): every FC operation with FC's action name, its JSON body
from the pydantic models in emulator/model, its query parameters and headers, and FC's error body.

Handlers read bodies and query strings themselves (wire.json_body, page_params), so FastAPI sees
neither; emulator/api/openapi_spec.py describes them, and the document is built once, when it is
first asked for. Nothing here runs per request.
"""
from __future__ import annotations

import copy
import inspect
import json
import re
import warnings

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic.json_schema import models_json_schema

from emulator.api.openapi_spec import (BINARY, BODIES, CONFIG_MODELS, EMULATOR_OPS, ERROR, HEADERS, JSON, NARROW,
                                       OPS, PATH_PARAMS, PROXY, QUERY, REF, RENAME, REQUIRED, STRING, Op)
from emulator.api.wire import API_VERSIONS, json_body


def describe(app: FastAPI, routers: list[APIRouter]) -> None:
    """Serve the complete document at /openapi.json, built once on first use. `routers` are FC's,
    mounted under each API version."""
    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = build(app, routers)
        return app.openapi_schema
    app.openapi = openapi  # type: ignore[method-assign]


def build(app: FastAPI, routers: list[APIRouter]) -> dict:
    with warnings.catch_warnings():  # several methods per route: operationIds are set below
        warnings.simplefilter("ignore")
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    doc["components"] = {"schemas": {**_body_schemas(), "FCError": ERROR}}
    handlers = {(m.lower(), r.path_format): r.endpoint for router in routers for r in router.routes
                if isinstance(r, APIRoute) for m in r.methods}
    used: set[str] = set()
    for path, ops in doc["paths"].items():
        version, sub = _split(path)
        for method, op in ops.items():
            op["responses"] = {"200": {"description": "FC's answer"},
                               "default": {"description": "FC's error", "content": {JSON: {"schema": _ref("FCError")}}}}
            spec = (OPS.get((method, sub)) if version else EMULATOR_OPS.get((method, sub)))
            if sub == PROXY:
                spec = ("InvokeHTTPTrigger", BINARY if method in ("post", "put", "patch", "delete") else None, (), ())
            _describe(op, method, spec or _undescribed(op, handlers.get((method, sub))), version, used)
    return doc


def _undescribed(op: dict, handler) -> Op:
    """A route not in the tables yet: its handler's name, and a JSON object body if it reads one."""
    if handler is None:
        return op.get("summary", "").replace(" ", ""), None, (), ()
    action = "".join(w.capitalize() for w in handler.__name__.split("_"))
    reads_body = any(getattr(p.default, "dependency", None) is json_body
                     for p in inspect.signature(handler).parameters.values())
    return action, ({"type": "object"} if reads_body else None), (), ()


def _split(path: str) -> tuple[str | None, str]:
    for version in API_VERSIONS:
        if path.startswith(f"/{version}/"):
            return version, path[len(version) + 1:]
    return None, path


def _describe(op: dict, method: str, spec: Op, version: str | None, used: set[str]) -> None:
    action, body, query, headers = spec
    op["summary"] = action
    op_id = action + (f"_{version.replace('-', '')}" if version else "")
    if op_id in used:  # one action on several methods or paths (UntagResource, InvokeHTTPTrigger ...)
        op_id, n = f"{op_id}_{method}", 1
        while op_id in used:
            n += 1
            op_id = f"{op_id.rsplit('#', 1)[0]}#{n}"
    used.add(op_id)
    op["operationId"] = op_id
    params = [p for p in op.get("parameters", []) if p["in"] == "path"]
    for p in params:
        p["schema"] = copy.deepcopy(PATH_PARAMS.get(p["name"], STRING))
        if "description" in p["schema"]:
            p["description"] = p["schema"].pop("description")
    for key in query:
        schema, text = QUERY[key]
        params.append({"name": key.split(":")[0], "in": "query", "required": _required_query(action, key),
                       "description": text, "schema": copy.deepcopy(schema),
                       **({"style": "form", "explode": True} if schema.get("type") == "array" else {})})
    for name in (*headers, "X-Fc-Account-Id"):
        schema, text = HEADERS.get(name, (STRING, "the account to act for (default: the emulator's account)"))
        params.append({"name": name, "in": "header", "required": False, "description": text,
                       "schema": copy.deepcopy(schema)})
    op["parameters"] = params
    if action == "ListServices":
        op["description"] = "tag_<key>=<value> query parameters keep services with that tag (any value if empty)."
    if body is None:
        op.pop("requestBody", None)
    elif body == BINARY:
        op["requestBody"] = {"content": {BINARY: {"schema": {"type": "string", "format": "binary"}}}}
    elif isinstance(body, dict):
        op["requestBody"] = {"content": {JSON: {"schema": body}}}
    else:
        op["requestBody"] = {"required": body.__name__ in REQUIRED, "content": {JSON: {"schema": _ref(body.__name__)}}}


def _required_query(action: str, key: str) -> bool:
    return (action, key) in {("PutLayerACL", "public"), ("GetResourceTags", "resourceArn")}


def _ref(name: str) -> dict:
    return {"$ref": REF.format(model=name)}


def _body_schemas() -> dict[str, dict]:
    """Every body model and the models inside them, with FC's names, limits and required fields."""
    _, top = models_json_schema([(m, "validation") for m in BODIES], ref_template=REF)
    defs = top["$defs"]
    text = re.sub(r'"#/components/schemas/(emulator__model__\w+)"',
                  lambda m: f'"#/components/schemas/{RENAME[m.group(1)]}"', json.dumps(defs))
    defs = {RENAME.get(k, k): v for k, v in json.loads(text).items()}
    bases = {m.__name__: [b.__name__ for b in reversed(m.__mro__) if b.__name__ in NARROW] for m in BODIES}
    for name, schema in defs.items():
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        for model in bases.get(name, [name]):  # a Create body has its Fields' rules too
            for field, extra in NARROW.get(model, {}).items():
                _narrow(schema["properties"][field], extra)
        if name in REQUIRED:
            schema["required"] = REQUIRED[name]
            for field in REQUIRED[name]:
                schema["properties"][field] = _not_null(schema["properties"][field])
    for name in ("TriggerCreate", "TriggerFields"):
        # a config object per trigger type, or the same as a JSON string (the 2021 SDK sends that)
        defs[name]["properties"]["triggerConfig"] = {
            "anyOf": [*(_ref(m.__name__) for m in CONFIG_MODELS.values()), {"type": "string"}, {"type": "null"}]}
    return defs


def _narrow(prop: dict, extra: dict) -> None:
    """Add `extra` to the non-null branch of `prop` (pydantic writes `X | None` as anyOf [X, null])."""
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") != "null":
            _merge(branch, extra)


def _merge(into: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _not_null(prop: dict) -> dict:
    """A required field: null would mean absent (base.FCModel), so it is not offered."""
    branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
    out = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
    return {**out, **branches[0]} if len(branches) == 1 else {**out, "anyOf": branches}
