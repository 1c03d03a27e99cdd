"""GPU instances (2021-04-06 ClaimGPUInstance / ReleaseGPUInstance): `POST /gpuInstances`,
`DELETE /gpuInstances/{id}`. FC rents out a GPU virtual machine with a public IP here; that has no
local meaning, so the emulator answers with FC's error body and says so."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from emulator import errors
from emulator.api.context import Ctx, fc_ctx

router = APIRouter(tags=["gpu instances"])

_WHY = "GPU instances (ECS servers with a GPU and a public IP) have no local meaning in the emulator"


@router.post("/gpuInstances")
def claim_gpu_instance(ctx: Ctx = Depends(fc_ctx)):
    raise errors.FCError(400, "NotSupported", f"ClaimGPUInstance is not supported: {_WHY}")


@router.delete("/gpuInstances/{instance_id}")
def release_gpu_instance(instance_id: str, ctx: Ctx = Depends(fc_ctx)):
    # Nothing can have been claimed, so every id is unknown.
    raise errors.FCError(404, "GPUInstanceNotFound",
                         f"GPU instance does not exist: {_WHY}, so none was ever claimed")
