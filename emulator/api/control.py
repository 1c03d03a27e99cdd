"""The emulator's own endpoints, outside FC's API: health, code downloads and the standby pool (under /_emulator)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse

from emulator import __version__, errors
from emulator.api.auth import authenticate_emulator
from emulator.model.numbers import is_decimal

router = APIRouter(tags=["emulator"])


@router.get("/health")
def health(request: Request):
    settings = request.app.state.settings
    # no data dir here: /health answers anyone, and the path tells where fc.db and the keys live
    return JSONResponse({"status": "ok", "version": __version__, "auth": settings.auth})


@router.get("/_emulator/standby", dependencies=[Depends(authenticate_emulator)])
def standby_pool(request: Request):
    """The standby pool (execution/standby.py): pre-started instances per runtime and their memory."""
    standbys = request.app.state.pools.standbys
    return JSONResponse(standbys.status() if standbys else {"instances": 0, "runtimes": {}, "memoryMB": 0.0})


@router.get("/_emulator/replicas", dependencies=[Depends(authenticate_emulator)])
def replicas(request: Request):
    """The live replicas sharing this emulator's database (emulator/replica.py), and which one answers."""
    return JSONResponse(request.app.state.replica.status())


@router.get("/_emulator/code/{checksum}.zip")
def download_code(checksum: str, request: Request):
    """GetFunctionCode's URL: a presigned link, like the OSS URL FC hands out."""
    code = request.app.state.code
    q = request.query_params
    expires, signature = q.get("Expires", ""), q.get("Signature", "")
    # ASCII only: `²`.isdigit() is true, int() of it fails, and hmac refuses non-ASCII strings
    if not (checksum.isascii() and checksum.isdigit() and is_decimal(expires) and signature.isascii()) or \
            not code.verify_download(checksum, expires, signature):
        raise errors.access_denied("the code download link is invalid or has expired")
    if not code.exists(checksum):
        raise errors.FCError(404, "NotFound", "code package does not exist")
    return FileResponse(code.path(checksum), media_type="application/zip",
                        headers={"x-oss-hash-crc64ecma": checksum})
