"""FC's wire rules for request bodies (fc-api.md §0).

- keys are matched case-insensitively (FC's server is Go),
- JSON `null` means "absent",
- types are checked strictly: `"20"` is not an integer,
- a failed validation is a 400 InvalidArgument, never a 422,
- JSON text is parsed strictly (`parse_json`): UTF-8 only, no NaN/Infinity, no lone surrogates,
  bounded nesting, so whatever is stored can be echoed back as valid JSON.
"""
from __future__ import annotations

import json
import re
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator

from emulator.errors import FCError, invalid_argument
from emulator.model.numbers import INT64_MAX, INT64_MIN, finite

M = TypeVar("M", bound="FCModel")

# Far deeper than any FC body; far below Python's recursion limit, which pydantic, SQLAlchemy's JSON
# column and the response encoder all hit (a RecursionError was a 500) long before Go's 10000.
MAX_JSON_DEPTH = 100
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not finite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _has_surrogate(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None  # isascii() is O(1) in CPython


def _check_tree(data: Any) -> None:
    """Nesting depth and lone surrogates (a JSON `\\ud800` escape): neither could be stored and echoed."""
    stack = [(data, 1, "")]
    while stack:
        node, depth, where = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"it is nested too deeply (max: {MAX_JSON_DEPTH} levels)")
        if isinstance(node, dict):
            for key, value in node.items():
                path = f"{where}.{key}" if where else key
                if _has_surrogate(key):
                    raise ValueError(f"the key {json.dumps(key)[:80]} holds a lone surrogate (not valid Unicode)")
                if isinstance(value, (dict, list)):
                    stack.append((value, depth + 1, path))
                elif isinstance(value, str) and _has_surrogate(value):
                    raise ValueError(f"{path} holds a lone surrogate (not valid Unicode)")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                if isinstance(value, (dict, list)):
                    stack.append((value, depth + 1, f"{where}[{i}]"))
                elif isinstance(value, str) and _has_surrogate(value):
                    raise ValueError(f"{where}[{i}] holds a lone surrogate (not valid Unicode)")
        elif isinstance(node, str) and _has_surrogate(node):
            raise ValueError("the string holds a lone surrogate (not valid Unicode)")


def parse_json(raw: bytes | str) -> Any:
    """JSON text as FC's Go server accepts it; ValueError says what is wrong (without echoing the text)."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")  # strict: invalid UTF-8 (encoded surrogates too) raises ValueError
    try:
        data = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError(f"it is nested too deeply (max: {MAX_JSON_DEPTH} levels)") from None
    except ValueError as exc:
        if str(exc).startswith("Exceeds the limit"):  # Python's 4300-digit guard on int()
            raise ValueError("a number has too many digits") from None
        raise
    _check_tree(data)
    return data


class FCModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _fc_wire_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        by_lower: dict[str, str] = {}
        for name, f in cls.model_fields.items():
            by_lower[name.lower()] = f.alias or name
            if f.alias:
                by_lower[f.alias.lower()] = f.alias
        out: dict[str, Any] = {}
        for key, value in data.items():
            if value is None:
                continue
            canonical = by_lower.get(str(key).lower(), key)
            if type(value) is int and not INT64_MIN <= value <= INT64_MAX:  # Go's int64 at most
                raise ValueError(f"{canonical} is set to an invalid value (out of range, actual: {str(value)[:40]})")
            out[canonical] = value
        return out

    @classmethod
    def parse(cls: type[M], data: Any) -> M:
        """Validate a decoded JSON body; errors become FC's InvalidArgument."""
        if not isinstance(data, dict):
            raise invalid_argument("the request body must be a JSON object")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise validation_error(exc) from None

    def given(self) -> dict[str, Any]:
        """The fields the client actually sent (for partial updates), as plain JSON values."""
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)

    def full(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def merged_into(self, stored: dict, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        """A partial update: each given field replaces the stored one whole (nested objects with
        their defaults filled in); fields not given keep their stored values."""
        given = self.model_fields_set - set(skip)
        return {**stored, **self.model_dump(mode="json", by_alias=True, include=given)}


def _check_description(v: str | None) -> str | None:
    if v is not None and len(v) > 256:
        raise ValueError(f"description is too long (max: 256, actual: {len(v)})")
    return v


# FC's description rule (≤256 characters), shared by every resource that has one.
Description = Annotated[str | None, AfterValidator(_check_description)]


_TYPE_WORDS = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "bool_type": "a boolean", "string_type": "a string",
    "dict_type": "an object", "list_type": "an array", "model_type": "an object",
    "model_attributes_type": "an object",
}


def validation_error(exc: ValidationError) -> FCError:
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
    kind = err["type"]
    if kind in _TYPE_WORDS:
        return invalid_argument(f"{loc} is set to an invalid value: expected {_TYPE_WORDS[kind]}, "
                                f"actual: {json.dumps(err.get('input'), default=str)[:200]}")
    if kind == "value_error":
        # our own validators raise ValueError with FC's full message
        return invalid_argument(str(err["ctx"]["error"]))
    msg = err["msg"]
    return invalid_argument(f"{loc}: {msg}" if loc else msg)
