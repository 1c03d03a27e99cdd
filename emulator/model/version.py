"""Service versions (fc-api.md §2.6)."""
from __future__ import annotations


from emulator.model.base import Description, FCModel

DIRECTIONS = ("BACKWARD", "FORWARD")  # BACKWARD = newest first (the default)


class VersionCreate(FCModel):
    """Body of PublishServiceVersion."""
    description: Description = None

