"""VPC bindings of a service (2021-04-06 CreateVpcBinding; Java's 2016 `/binding`, fc-api.md §2.0).

A binding lets a VPC reach the service's functions privately. Locally every function is reachable
from the host anyway, so the emulator stores and lists the VPC ids, nothing more."""
from __future__ import annotations

import re

from pydantic import field_validator

from emulator.model.base import FCModel

# VPC ids look like vpc-bp1...; accept FC's name charset so a test id such as `vpc_1` works too.
VPC_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}\Z")


def check_vpc_id(vpc_id: object) -> str:
    if not isinstance(vpc_id, str) or not vpc_id:
        raise ValueError("vpcId is required")
    if not VPC_ID.match(vpc_id):
        raise ValueError("vpcId is invalid: it must be 1 to 128 characters of letters, digits, '_' and '-', "
                         "starting with a letter or digit")
    return vpc_id


class VpcBindingCreate(FCModel):
    """Body of CreateVpcBinding (and of Java's 2016 DELETE /binding)."""
    vpcId: str | None = None

    @field_validator("vpcId")
    @classmethod
    def _vpc(cls, v: str | None) -> str | None:
        return None if v is None else check_vpc_id(v)
