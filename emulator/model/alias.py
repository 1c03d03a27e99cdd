"""Aliases (fc-api.md §2.6): a name pointing at a version, plus weighted canary versions."""
from __future__ import annotations

from pydantic import Field, field_validator

from emulator.model.base import Description, FCModel

RESOLVE_POLICIES = ("Random", "Content")


class PolicyItem(FCModel):
    key: str | None = None
    operator: str | None = None
    type: str | None = None
    value: str | None = None


class RoutePolicy(FCModel):
    condition: str | None = None
    policyItems: list[PolicyItem] = Field(default_factory=list)


class AliasFields(FCModel):
    """Body of UpdateAlias (partial), and the rest of CreateAlias."""
    versionId: str | None = None
    description: Description = None
    additionalVersionWeight: dict[str, float] | None = None
    resolvePolicy: str | None = None
    routePolicy: RoutePolicy | None = None


    @field_validator("additionalVersionWeight")
    @classmethod
    def _weights(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is None:
            return v
        for version, weight in v.items():
            if not 0 <= weight <= 1:
                raise ValueError(f"additionalVersionWeight of version '{version}' is set to an invalid value "
                                 f"(allowed: 0 to 1, actual: {go_float(weight)})")
        if sum(v.values()) > 1 + 1e-9:
            raise ValueError(f"the sum of additionalVersionWeight must not exceed 1 "
                             f"(actual: {go_float(sum(v.values()))})")
        return v

    @field_validator("resolvePolicy")
    @classmethod
    def _resolve_policy(cls, v: str | None) -> str | None:
        if v is not None and v not in RESOLVE_POLICIES:
            raise ValueError(f"resolvePolicy is set to an invalid value (allowed: Random, Content, actual: '{v}')")
        return v


class AliasCreate(AliasFields):
    aliasName: str | None = None


ALIAS_DEFAULTS = {
    "description": "",  # java-test: "" when unset
    "additionalVersionWeight": None,  # java-test: null when unset
    "resolvePolicy": None,
    "routePolicy": None,
}


def go_float(x: float) -> str:
    """A float as Go's %v prints it (1 not 1.0)."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e21 else repr(float(x))


def go_weights(weights: dict[str, float]) -> str:
    """A weight map as Go's %+v prints it: map[1:0.5 2:0.25] (keys sorted)."""
    return "map[" + " ".join(f"{k}:{go_float(v)}" for k, v in sorted(weights.items())) + "]"
