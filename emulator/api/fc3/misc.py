"""FC 3.0 operations with little or no local meaning (fc3-api.md §4.15-4.17).

- DescribeRegions: the emulator serves one region, the configured one (and the one a request's Host
  names, when it differs), so the SDK's model deserialises and tools that pick a region find it.
- ChangeResourceGroup: a label on the function; GetFunction shows the new `resourceGroupId`.
- Sessions and snapshots: the emulator keeps neither (no session-bound instances, no instance snapshots).
  Creating or changing one is refused with 400 `NotSupported` and a message saying so; lists are empty and
  reads of an id are 404 `SessionNotFound` / `SnapshotNotFound`, after the function itself is checked.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends

from emulator import errors
from emulator.api.fc3.auth import Ctx3, fc3_ctx
from emulator.api.fc3.functions import lookup
from emulator.api.fc3.wire import (
    DEFAULT_RESOURCE_GROUP,
    fc3_json,
    json_body,
    page_params,
)
from emulator.model.names import is_fc3_service

router = APIRouter(tags=["FC 3.0 account, sessions, snapshots"])

NOT_SUPPORTED = "NotSupported"


# ---- account ----------------------------------------------------------------------------------------

@router.get("/regions")
def describe_regions(ctx: Ctx3 = Depends(fc3_ctx)):
    language = ctx.request.query_params.get("AcceptLanguage") or ""
    if language and language not in ("zh-CN", "en-US", "ja"):
        raise errors.invalid_argument(f"AcceptLanguage is set to an invalid value (allowed: zh-CN | en-US | ja, "
                                      f"actual: '{language[:40]}')")
    regions = [ctx.settings.region] + ([ctx.region] if ctx.region != ctx.settings.region else [])
    return fc3_json({"Regions": {"Region": [{"RegionId": r, "LocalName": r} for r in regions]}})


@router.put("/resource-groups")
def change_resource_group(ctx: Ctx3 = Depends(fc3_ctx), body: dict = Depends(json_body)):
    new, name, kind = body.get("NewResourceGroupId"), body.get("ResourceId"), body.get("ResourceType")
    if not isinstance(new, str) or not new:
        raise errors.invalid_argument("NewResourceGroupId is required")
    if not isinstance(name, str) or not name:
        raise errors.invalid_argument("ResourceId (a function name) is required")
    if kind is not None and (not isinstance(kind, str) or kind.lower() != "function"):
        raise errors.invalid_argument(f"ResourceType is set to an invalid value (allowed: function, "
                                      f"actual: '{str(kind)[:40]}')")
    with ctx.db.write() as s:
        svc, _, _, fn_row = lookup(s, ctx.account, name)
        if not is_fc3_service(svc):
            raise errors.invalid_argument(f"function '{name}' is an FC 2.0 function: it has no resource group "
                                          f"of its own")
        view = dict(fn_row.body.get("fc3") or {})
        old = view.get("resourceGroupId") or DEFAULT_RESOURCE_GROUP
        view["resourceGroupId"] = new
        # a label, not configuration: lastModifiedTime and the version counter stay as they are
        fn_row.body = {**fn_row.body, "fc3": view}
        s.flush()
    return fc3_json({"NewResourceGroupId": new, "OldResourceGroupId": old, "ResourceId": name})


# ---- sessions, snapshots ------------------------------------------------------------------------------

def _function(ctx: Ctx3, name: str) -> None:
    with ctx.db.read() as s:
        lookup(s, ctx.account, name)


def _sessions_unsupported(what: str) -> errors.FCError:
    return errors.FCError(400, NOT_SUPPORTED, f"{what}: sessions are not emulated (fc-emulator keeps no "
                                              f"session-bound instances); invoke the function instead")


def _snapshots_unsupported(what: str) -> errors.FCError:
    return errors.FCError(400, NOT_SUPPORTED, f"{what}: instance snapshots are not emulated by fc-emulator")


def _no_session(function: str, session_id: str) -> errors.FCError:
    return errors.FCError(404, "SessionNotFound", f"session '{session_id}' of function '{function}' does not exist "
                                                  f"(fc-emulator keeps no sessions)")


def _no_snapshot(function: str, snapshot_id: str) -> errors.FCError:
    return errors.FCError(404, "SnapshotNotFound", f"snapshot '{snapshot_id}' of function '{function}' does not "
                                                   f"exist (fc-emulator keeps no snapshots)")


@router.post("/functions/{function}/sessions")
def create_session(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    _function(ctx, function)
    raise _sessions_unsupported("CreateSession")


@router.get("/functions/{function}/sessions")
def list_sessions(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    page_params(ctx.request)  # checks limit like every list
    _function(ctx, function)
    return fc3_json({"sessions": []})


@router.get("/functions/{function}/sessions/{session_id}")
@router.delete("/functions/{function}/sessions/{session_id}")
def get_or_delete_session(function: str, session_id: str, ctx: Ctx3 = Depends(fc3_ctx)):
    _function(ctx, function)
    raise _no_session(function, session_id)


@router.put("/functions/{function}/sessions/{session_id}")
@router.put("/functions/{function}/sessions/{session_id}/pause")
@router.put("/functions/{function}/sessions/{session_id}/resume")
def change_session(function: str, session_id: str, ctx: Ctx3 = Depends(fc3_ctx)):
    _function(ctx, function)
    raise _no_session(function, session_id)


@router.post("/functions/{function}/snapshots")
def create_snapshot(function: str, ctx: Ctx3 = Depends(fc3_ctx)):
    _function(ctx, function)
    raise _snapshots_unsupported("CreateSnapshot")


@router.get("/functions/{function}/snapshots/{snapshot_id}")
@router.delete("/functions/{function}/snapshots/{snapshot_id}")
def get_or_delete_snapshot(function: str, snapshot_id: str, ctx: Ctx3 = Depends(fc3_ctx)):
    _function(ctx, function)
    raise _no_snapshot(function, snapshot_id)


@router.get("/snapshots")
def list_snapshots(ctx: Ctx3 = Depends(fc3_ctx)):
    page_params(ctx.request)
    name = ctx.request.query_params.get("functionName") or ""
    if ctx.request.query_params.get("sessionId") and not name:
        raise errors.invalid_argument("sessionId requires functionName")
    if name:
        _function(ctx, name)
    return fc3_json({"snapshots": []})
