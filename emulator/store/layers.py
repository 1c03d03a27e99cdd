"""Layer ARNs (fc-api.md §2.11): `<hash>#<layerName>#<version>` and
`acs:fc:<region>:<uid>:layers/<layerName>/versions/<version>` both name a stored layer version."""
from __future__ import annotations

import hashlib
import re

from sqlalchemy.orm import Session

from emulator import errors
from emulator.store import resources as res

_ARN_V2 = re.compile(r"^acs:fc:[^:]*:(\d*):layers/([^/]+)/versions/(\d+)$")


def arn_hash(account: str, layer: str) -> str:
    return hashlib.md5(f"{account}#{layer}".encode()).hexdigest()


def arn(account: str, layer: str, version: int) -> str:
    return f"{arn_hash(account, layer)}#{layer}#{version}"


def arn_v2(region: str, account: str, layer: str, version: int) -> str:
    return f"acs:fc:{region}:{account}:layers/{layer}/versions/{version}"


def parse_arn(value: str) -> tuple[str, str]:
    """(layerName, version) from either ARN form, or InvalidArgument."""
    m = _ARN_V2.match(value)
    if m:
        return m.group(2), m.group(3)
    parts = value.split("#")
    if len(parts) == 3 and parts[1] and parts[2].isdigit():
        return parts[1], parts[2]
    raise errors.invalid_argument(f"layer ARN '{value}' is invalid")


def find(s: Session, account: str, value: str) -> res.ResourceRow | None:
    """The stored layer version an ARN names exactly (hash or account included), if any."""
    layer, version = parse_arn(value)
    row = res.get(s, account, "layer_version", layer, version)
    if row is None or value not in (row.body.get("arn"), row.body.get("arnV2")):
        return None
    return row


def resolve(s: Session, account: str, value: str) -> res.ResourceRow:
    """The stored layer version an ARN names, or InvalidArgument (the function can't be created)."""
    row = find(s, account, value)
    if row is None:
        raise errors.invalid_argument(f"layer '{value}' does not exist")
    return row
