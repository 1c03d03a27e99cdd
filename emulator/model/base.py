"""FC's wire rules for request bodies (fc-api.md §0).

- keys are matched case-insensitively (FC's server is Go),
- JSON `null` means "absent",
- types are checked strictly: `"20"` is not an integer,
- a failed validation is a 400 InvalidArgument, never a 422.
"""
from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator

from emulator.errors import FCError, invalid_argument

M = TypeVar("M", bound="FCModel")


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
