"""Name rules (fc-api.md §6). Patterns are applied with fullmatch: `$` alone also matches before a
final newline, which let `"nl\n"` through as a name."""
from __future__ import annotations

import re

from emulator.errors import invalid_argument

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_LAYER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_DOMAIN = re.compile(r"^(?=.{1,253}\Z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
STATEFUL_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")

LIMITS = {"service": 128, "function": 64, "trigger": 128, "alias": 128, "layer": 128}


def name_error(kind: str, name: object, field: str | None = None) -> str | None:
    """FC's message when `name` breaks the rules for `kind`, else None."""
    limit = LIMITS[kind]
    field = field or {"service": "serviceName", "function": "functionName", "trigger": "triggerName",
                      "alias": "aliasName", "layer": "layerName"}[kind]
    if not isinstance(name, str) or not name:
        return f"{field} is required"
    if len(name) > limit or not _NAME.fullmatch(name):
        return (f"{field} '{name[:200]}' is invalid: it must be 1 to {limit} characters of letters, digits, "
                f"'_' and '-', and must not start with a digit or '-'")
    if kind == "alias" and name == "LATEST":
        return "aliasName 'LATEST' is reserved"
    return None


def check_name(kind: str, name: str) -> str:
    """Raise FC's InvalidArgument when `name` breaks the rules for `kind`."""
    problem = name_error(kind, name)
    if problem:
        raise invalid_argument(problem)
    return name


def check_domain(name: str) -> str:
    if not isinstance(name, str) or not _DOMAIN.fullmatch(name):
        raise invalid_argument(f"domainName '{name}' is invalid: it must be a DNS name")
    return name.lower()


# FC 3.0 (fc3-api.md §8.1): a function F created through /2023-03-30 lives in the one engine as the pair
# (hidden service "fc3:F", function F). ':' is illegal in FC 2.0 names, so no FC 2.0 client can create,
# list or address that service, and it never collides with an FC 2.0 service named F.
FC3_SERVICE_PREFIX = "fc3:"


def fc3_service(function: str) -> str:
    return FC3_SERVICE_PREFIX + function


def is_fc3_service(service: str) -> bool:
    return service.startswith(FC3_SERVICE_PREFIX)
