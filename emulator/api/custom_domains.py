"""Custom domains: CRUD under /custom-domains (fc-api.md §2.7). Routing requests by domain
reads the stored `routeConfig.routes` (kept in order, as FC shows them)."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emulator import errors
from emulator.api.context import Ctx, fc_ctx
from emulator.api.wire import check_if_match, fc_json, json_body, no_content, page_params, paged
from emulator.model.custom_domain import DOMAIN_DEFAULTS, DomainCreate, DomainFields, apply_domain_fields
from emulator.model.names import check_domain
from emulator.store import resources as res

router = APIRouter(tags=["custom_domains"])


def find_domain(s: Session, host: str) -> res.ResourceRow | None:
    """The domain a request's Host names, in whichever account owns it (DNS names ignore case)."""
    return s.scalars(select(res.ResourceRow).where(
        res.ResourceRow.kind == "custom_domain", func.lower(res.ResourceRow.name) == host.lower())).first()


def _conflict(name: str) -> errors.FCError:
    return errors.already_exists("DomainNameAlreadyExists", f"domain name '{name}' already exists")


def _require_domain(s: Session, ctx: Ctx, domain: str) -> res.ResourceRow:
    return res.require(s, ctx.account, "custom_domain", "", domain, lambda: errors.domain_not_found(domain))


@router.post("/custom-domains")
def create_custom_domain(ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    req = DomainCreate.parse(body)
    if not req.domainName:
        raise errors.invalid_argument("domainName is required")
    name = req.domainName
    check_domain(name)  # real FC also checks DNS resolution (DomainNameNotResolved); an emulator can't
    data = apply_domain_fields({"domainName": name, "accountId": ctx.account, **DOMAIN_DEFAULTS}, req)
    with ctx.db.write() as s:
        # A domain belongs to one account only, so requests to it can be routed without one.
        if find_domain(s, name) is not None:
            raise _conflict(name)
        row = res.insert(s, ctx.account, "custom_domain", "", name, data, lambda: _conflict(name))
        return fc_json(row.out(), row.etag)


@router.get("/custom-domains")
def list_custom_domains(ctx: Ctx = Depends(fc_ctx)):
    p = page_params(ctx.request)
    with ctx.db.read() as s:
        rows, token = res.page(s, ctx.account, "custom_domain", "", p)
        return fc_json(paged("customDomains", [r.out() for r in rows], token))


@router.get("/custom-domains/{domain}")
def get_custom_domain(domain: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.read() as s:
        row = _require_domain(s, ctx, domain)
        return fc_json(row.out(), row.etag)


@router.put("/custom-domains/{domain}")
def update_custom_domain(domain: str, ctx: Ctx = Depends(fc_ctx), body: dict = Depends(json_body)):
    req = DomainFields.parse(body)
    with ctx.db.write() as s:
        row = _require_domain(s, ctx, domain)
        check_if_match(ctx.request, row.etag)
        row = res.update(s, row, apply_domain_fields(row.body, req))
        return fc_json(row.out(), row.etag)


@router.delete("/custom-domains/{domain}")
def delete_custom_domain(domain: str, ctx: Ctx = Depends(fc_ctx)):
    with ctx.db.write() as s:
        row = _require_domain(s, ctx, domain)
        check_if_match(ctx.request, row.etag)
        res.delete(s, row)
    return no_content()
