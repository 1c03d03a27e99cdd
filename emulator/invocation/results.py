"""How an instance's answer becomes FC's outcome: error types and FC's error bodies."""
from __future__ import annotations

import json
from dataclasses import dataclass

from emulator.execution.agent import AgentResponse

UNHANDLED = "UnhandledInvocationError"
HANDLED = "HandledInvocationError"


@dataclass
class Call:
    """What one request to an instance gave."""
    body: bytes
    error_type: str | None
    memory: float
    broken: bool = False  # the instance must be thrown away (timeout, crash)
    http_status: int | None = None  # HTTP triggers: the function's own status and headers
    http_headers: list[tuple[str, str]] | None = None


def error_body(message: str) -> bytes:
    return json.dumps({"errorMessage": message}).encode()


def error_type(r: AgentResponse) -> str | None:
    """200 ok; 417 a handled error (Node callback(err)); anything else unhandled (runtimes.md §2.4, §3.2)."""
    status = r.headers.get("x-fc-status") or str(r.status)
    if status == "417":
        return HANDLED
    if not status.startswith("2"):
        return UNHANDLED
    return None
