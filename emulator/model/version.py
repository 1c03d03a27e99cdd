"""Service versions (fc-api.md §2.6)."""
from __future__ import annotations

from pydantic import field_validator

from emulator.model.base import FCModel

DIRECTIONS = ("BACKWARD", "FORWARD")  # BACKWARD = newest first (the default)


class VersionCreate(FCModel):
    """Body of PublishServiceVersion."""
    description: str | None = None

    @field_validator("description")
    @classmethod
    def _description(cls, v: str | None) -> str | None:
        if v is not None and len(v) > 256:
            raise ValueError(f"description is too long (max: 256, actual: {len(v)})")
        return v
