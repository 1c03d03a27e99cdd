"""FC 3.0 custom domains (fc3-api.md §4.5, §8.3): the one custom-domain store (api/custom_domains.py).

Routes name functions directly: an FC 3.0 route `{path, functionName: F, qualifier}` is stored in the
engine's form `{serviceName: "fc3:F", functionName: F, ...}` (an `S$G` name as `{S, G}`), so the request
router (api/proxy.py CustomDomains) serves FC 2.0 and FC 3.0 routes alike; FC 3.0 routes need no HTTP
trigger and built-in runtimes get FC 3.0's HTTP event. FC 2.0 routes show as `S$G` here. FC 3.0's
`authConfig`, `corsConfig` and `isE2B` are kept beside the FC 2.0 fields (`_fc3*`, hidden from FC 2.0).
"""
from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.custom_domains import _conflict, find_domain
from emulator.api.fc3.auth import Ctx3, fc3_ctx
from emulator.api.fc3.wire import (
    engine_pair,
    fc3_json,
    fc3_name,
    json_body,
    no_content,
    page_params,
    paged,
)
from emulator.model.custom_domain import (
    DOMAIN_DEFAULTS,
    DomainFields,
    PathConfig,
    apply_domain_fields,
)
from emulator.model.names import check_domain
from emulator.store import resources as res

router = APIRouter(tags=["FC 3.0 custom domains"])

API_VERSION = "2023-03-30"
AUTH_TYPES = ("anonymous", "function", "jwt")
_EXTRAS = {"authConfig": "_fc3AuthConfig", "corsConfig": "_fc3CorsConfig", "isE2B": "_fc3IsE2B"}
MAX_PATH = 2048


def _route(raw) -> dict:
    """One FC 3.0 route in the engine's form, checked by FC 2.0's rules (path, methods, names)."""
    if not isinstance(raw, dict):
        raise errors.invalid_argument("routeConfig routes must be objects")
    name = raw.get("functionName")
    if not isinstance(name, str) or not name:
        raise errors.invalid_argument("routeConfig route functionName is required")
    path = raw.get("path")
    if isinstance(path, str) and len(path) > MAX_PATH:
        raise errors.invalid_argument(f"routeConfig path is too long (max: {MAX_PATH} characters)")
    svc, fn = engine_pair(name)
    # the hidden service's name is not a valid FC 2.0 name: validate with the function's own name
    checked = PathConfig.parse({**{k: v for k, v in raw.items() if k != "serviceName"},
                                "serviceName": fn if svc.startswith("fc3:") else svc, "functionName": fn})
    out = checked.out()
    out["serviceName"] = svc
    rewrite = out.get("rewriteConfig")
    if rewrite is not None and not any(rewrite.get(k) for k in ("equalRules", "wildcardRules", "regexRules")):
        out.pop("rewriteConfig")  # the SDK sends three empty rule lists: no rewriting
    return out


def _routes(body: dict) -> list[dict] | None:
    config = body.get("routeConfig")
    if config is None:
        return None
    if not isinstance(config, dict) or not isinstance(config.get("routes", []), list):
        raise errors.invalid_argument("routeConfig must be {\"routes\": [...]}")
    routes = [_route(r) for r in config.get("routes") or []]
    paths = [r["path"] for r in routes]
    dup = next((p for p in paths if paths.count(p) > 1), None)
    if dup:
        raise errors.invalid_argument(f"routeConfig path '{dup}' is duplicated")
    return routes


def _extras(body: dict) -> dict:
    out = {}
    auth = body.get("authConfig")
    if auth is not None:
        if not isinstance(auth, dict):
            raise errors.invalid_argument("authConfig must be an object {authType, authInfo}")
        kind = auth.get("authType")
        if kind is not None and (not isinstance(kind, str) or kind.lower() not in AUTH_TYPES):
            raise errors.invalid_argument(f"authConfig.authType is set to an invalid value (allowed: "
                                          f"{' | '.join(AUTH_TYPES)}, actual: '{str(kind)[:40]}')")
        out["_fc3AuthConfig"] = auth
    cors = body.get("corsConfig")
    if cors is not None:
        if not isinstance(cors, dict):
            raise errors.invalid_argument("corsConfig must be an object")
        out["_fc3CorsConfig"] = cors
    if body.get("isE2B") is not None:
        if not isinstance(body["isE2B"], bool):
            raise errors.invalid_argument("isE2B must be a boolean")
        out["_fc3IsE2B"] = body["isE2B"]
    return out


def _apply(stored: dict, body: dict) -> dict:
    fc2_fields = {k: v for k, v in body.items() if k not in ("routeConfig", "domainName", *_EXTRAS)}
    routes = _routes(body)
    extras = _extras(body)
    data = apply_domain_fields(stored, DomainFields.parse(fc2_fields))
    if routes is not None:
        data["routeConfig"] = {"routes": routes}
    return {**data, **extras}


def domain_out(row: res.ResourceRow) -> dict:
    b = row.out()
    out = {k: v for k, v in b.items() if v is not None and k != "routeConfig"}
    routes = []
    for r in (b.get("routeConfig") or {}).get("routes") or []:
        route = {"path": r["path"], "functionName": fc3_name(r["serviceName"], r["functionName"])}
        route.update({k: r[k] for k in ("qualifier", "methods", "rewriteConfig") if r.get(k) is not None})
        routes.append(route)
    out["routeConfig"] = {"routes": routes}
    for key, hidden in _EXTRAS.items():
        if row.body.get(hidden) is not None:
            out[key] = row.body[hidden]
    out["subdomainCount"] = "1"
    return out


def _require(s: Session, ctx: Ctx3, domain: str) -> res.ResourceRow:
    return res.require(s, ctx.account, "custom_domain", "", domain, lambda: errors.domain_not_found(domain))


@router.post("/custom-domains")
def create_custom_domain(ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    name = body.get("domainName")
    if not isinstance(name, str) or not name:
        raise errors.invalid_argument("domainName is required")
    check_domain(name)  # no DNS check (DomainNameNotResolved) offline
    data = _apply({"domainName": name, "accountId": ctx.account, **DOMAIN_DEFAULTS, "apiVersion": API_VERSION},
                  body)
    with ctx.db.write() as s:
        if find_domain(s, name) is not None:  # one account per domain: requests are routed without one
            raise _conflict(name)
        row = res.insert(s, ctx.account, "custom_domain", "", name, data, lambda: _conflict(name))
        return fc3_json(domain_out(row))


@router.get("/custom-domains")
def list_custom_domains(ctx: Ctx3 = Depends(fc3_ctx)):
    p = page_params(ctx.request)
    with ctx.db.read() as s:
        rows, token = res.page(s, ctx.account, "custom_domain", "", p)
        return fc3_json(paged("customDomains", [domain_out(r) for r in rows], token))


@router.get("/custom-domains/{domain}")
def get_custom_domain(domain: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.read() as s:
        return fc3_json(domain_out(_require(s, ctx, domain)))


@router.put("/custom-domains/{domain}")
def update_custom_domain(domain: str, ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    with ctx.db.write() as s:
        row = _require(s, ctx, domain)
        row = res.update(s, row, _apply(row.body, body))
        return fc3_json(domain_out(row))


@router.delete("/custom-domains/{domain}")
def delete_custom_domain(domain: str, ctx: Ctx3 = Depends(fc3_ctx)):
    with ctx.db.write() as s:
        res.delete(s, _require(s, ctx, domain))
    return no_content()
