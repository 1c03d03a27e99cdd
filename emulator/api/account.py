"""Account-level helpers (fc-api.md §2.1, §2.13): account settings, account configs and
reserved capacities (an emulator has none)."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from emulator.api.context import Ctx, fc_ctx
from emulator.api.wire import fc_json, page_params, paged

router = APIRouter(tags=["account"])


@router.get("/account-settings")
def get_account_settings(ctx: Ctx = Depends(fc_ctx)):
    region = ctx.settings.region
    body: dict = {"availableAZs": [f"{region}-a", f"{region}-b", f"{region}-c"]}
    if ctx.request.url.path.startswith("/2021-04-06/"):  # defaultRole is a 2021 field
        body["defaultRole"] = f"acs:ram::{ctx.account}:role/aliyunfcdefaultrole"
    return fc_json(body)


def _account_configs(ctx: Ctx) -> dict[str, str]:
    # Values are strings on the wire (node-test).
    return {"CodeSizeLimit": str(ctx.settings.max_code_size)}


@router.get("/accountConfigs")
def get_account_configs(ctx: Ctx = Depends(fc_ctx)):
    known = _account_configs(ctx)
    wanted = ctx.request.query_params.getlist("config") or list(known)
    return fc_json({name: known[name] for name in wanted if name in known})


def _reserved_capacities(ctx: Ctx):
    page_params(ctx.request)  # validates limit like every list
    return fc_json(paged("reservedCapacities", [], None))


@router.get("/reservedCapacities")
def list_reserved_capacities_2016(ctx: Ctx = Depends(fc_ctx)):
    return _reserved_capacities(ctx)


@router.get("/reserved-capacities")
def list_reserved_capacities_2021(ctx: Ctx = Depends(fc_ctx)):
    return _reserved_capacities(ctx)
