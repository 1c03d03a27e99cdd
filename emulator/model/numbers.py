"""Numbers in query strings, headers and path segments, read as FC's Go server reads them (strconv).

`str.isdigit()` is true for `²` and `٣`, and `int()` accepts `٣`, ` 7 `, `1_000` and 4,000-digit
strings: neither is what FC accepts, and the leftovers (OverflowError in SQLite, ValueError from
`int('²')`) became 500s. Everything here is ASCII-only and bounded to int64.
"""
from __future__ import annotations

import math
import re

INT64_MAX = 2 ** 63 - 1
INT64_MIN = -2 ** 63
_DECIMAL = re.compile(r"[0-9]{1,19}")
_SIGNED = re.compile(r"-?[0-9]{1,19}")


def is_decimal(text: object) -> bool:
    """ASCII digits only (at most 19, so the value fits in int64 after a range check)."""
    return isinstance(text, str) and _DECIMAL.fullmatch(text) is not None and int(text) <= INT64_MAX


def parse_int(text: object, signed: bool = True) -> int | None:
    """The int64 `text` spells in ASCII (an optional '-', then digits), else None."""
    if not isinstance(text, str) or (_SIGNED if signed else _DECIMAL).fullmatch(text) is None:
        return None
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else None


def finite(value: float) -> bool:
    return math.isfinite(value)
