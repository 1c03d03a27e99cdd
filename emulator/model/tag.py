"""Tags on services (fc-api.md §2.8)."""
from __future__ import annotations

import re

from pydantic import Field, field_validator

from emulator.errors import invalid_argument
from emulator.model.base import FCModel

MAX_TAGS = 20
# acs:fc:<region>:<account>:services/<svc>, or the partial form services/<svc>
_ARN = re.compile(r"^(?:acs:fc:(?P<region>[^:]*):(?P<account>[^:]*):)?services/(?P<service>[^/]+)$")


class TagResource(FCModel):
    resourceArn: str | None = None
    tags: dict[str, str] | None = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        if not v:
            raise ValueError("tags is required and must contain 1 to 20 tags")
        if len(v) > MAX_TAGS:
            raise ValueError(f"tags exceeds the limit (max: {MAX_TAGS}, actual: {len(v)})")
        for key, value in v.items():
            if not key or len(key) > 128:
                raise ValueError(f"tag key '{key}' is invalid: it must be 1 to 128 characters")
            if len(value) > 256:
                raise ValueError(f"tag value of '{key}' is too long (max: 256, actual: {len(value)})")
        return v


class UntagResource(FCModel):
    resourceArn: str | None = None
    tagKeys: list[str] | None = None
    all_: bool | None = Field(default=None, alias="all")


def parse_arn(arn: str | None) -> tuple[str | None, str | None, str]:
    """(region, account, service) from a full or partial service ARN; anything else is refused."""
    if not arn:
        raise invalid_argument("resourceArn is required")
    m = _ARN.fullmatch(arn)
    if not m:
        raise invalid_argument(f"resourceArn '{arn}' is invalid: only services can be tagged "
                               f"(acs:fc:<region>:<account>:services/<serviceName> or services/<serviceName>)")
    return m["region"], m["account"], m["service"]


def full_arn(region: str, account: str, service: str) -> str:
    return f"acs:fc:{region}:{account}:services/{service}"
