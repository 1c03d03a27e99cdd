"""Event sources registered on a function (2021-04-06 RegisterEventSource, fc-api.md §2.0).

FC records that an event source (an MNS queue, a RocketMQ group...) delivers to a function; the
emulator stores and lists the record, nothing more: no event source runs locally (use
`/_emulator/events` or a trigger to deliver events)."""
from __future__ import annotations

import re

from pydantic import field_validator

from emulator.model.base import FCModel

# An Alibaba Cloud ARN: acs:<product>:<region>:<account>:<resource>, printable ASCII without spaces.
SOURCE_ARN = re.compile(r"^acs:[a-z0-9-]+:[\x21-\x7e]*\Z")
MAX_ARN = 512  # the resource table's name column


def check_source_arn(arn: object) -> str:
    """The ARN's rule, shared by the body (register) and the path (deregister)."""
    if not isinstance(arn, str) or not arn:
        raise ValueError("sourceArn is required")
    if len(arn) > MAX_ARN or not SOURCE_ARN.match(arn):
        raise ValueError(f"sourceArn is invalid: it must be an ARN of the form "
                         f"'acs:<product>:<region>:<accountId>:<resource>' of at most {MAX_ARN} printable "
                         f"ASCII characters")
    return arn


class EventSourceCreate(FCModel):
    """Body of RegisterEventSource."""
    sourceArn: str | None = None

    @field_validator("sourceArn")
    @classmethod
    def _arn(cls, v: str | None) -> str | None:
        return None if v is None else check_source_arn(v)
