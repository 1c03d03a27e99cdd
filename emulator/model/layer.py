"""Layers (fc-api.md §2.11): the CreateLayerVersion body and the Layer object."""
from __future__ import annotations

from pydantic import field_validator

from emulator.model import runtimes
from emulator.model.base import Description, FCModel
from emulator.model.function import Code

ACL_PRIVATE, ACL_PUBLIC = 0, 1


class LayerVersionCreate(FCModel):
    """`code` arrives as `Code` from the 2021 SDK: keys are matched case-insensitively."""
    description: Description = ""
    code: Code | None = None
    compatibleRuntime: list[str] = []


    @field_validator("compatibleRuntime")
    @classmethod
    def _runtimes(cls, v: list[str]) -> list[str]:
        for runtime in v:
            if runtime not in runtimes.ALL:
                raise ValueError("compatibleRuntime: " + runtimes.invalid_runtime_message(runtime))
        return v


def layer_out(stored: dict, code_url: str) -> dict:
    """The Layer object; the code location is a fresh download link each time (like OSS's signed URL)."""
    return {**stored, "code": {"repositoryType": "OSS", "location": code_url}}
