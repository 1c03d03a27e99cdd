"""On-demand, provision and async-invoke configs (fc-api.md §2.9): request bodies and their rules."""
from __future__ import annotations

import re
from datetime import datetime

from pydantic import Field, field_validator, model_validator

from emulator.model import cron
from emulator.model.base import FCModel

MAX_SCHEDULED_ACTIONS = 100
MAX_TRACKING_POLICIES = 100
METRIC_TYPES = ("ProvisionedConcurrencyUtilization", "CPUUtilization", "MemoryUtilization")
_AT = re.compile(r"^at\((.*)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")

# Async destinations FC accepts (§2.9); the EventBridge bus form is FC's usual ARN shape (unconfirmed).
DESTINATION_FORMS = (
    "acs:fc:<region>:<uid>:services/<service>[.<qualifier>]/functions/<function>",
    "acs:mns:<region>:<uid>:/queues/<queue>/messages",
    "acs:mns:<region>:<uid>:/topics/<topic>/messages",
    "acs:eventbridge:<region>:<uid>:eventbus/<bus>",
)
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_DESTINATIONS = (
    re.compile(rf"^acs:fc:[^:]+:[^:]*:services/{_NAME}(\.[A-Za-z0-9_-]+)?/functions/{_NAME}$"),
    re.compile(r"^acs:mns:[^:]+:[^:]*:/queues/[A-Za-z0-9-]+/messages$"),
    re.compile(r"^acs:mns:[^:]+:[^:]*:/topics/[A-Za-z0-9-]+/messages$"),
    re.compile(r"^acs:eventbridge:[^:]+:[^:]*:eventbus/[A-Za-z0-9_.-]+$"),
)


def in_range(field: str, v: int | float | None, low: int, high: int):
    if v is not None and not low <= v <= high:
        raise ValueError(f"{field} is set to an invalid value (allowed: {low} to {high}, actual: {v})")
    return v


def is_utc_time(value: str) -> bool:
    """FC's UTC time form: 2020-10-10T10:10:10Z."""
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False
    return True


# --- on-demand -------------------------------------------------------------------------------------

class OnDemandBody(FCModel):
    maximumInstanceCount: int | None = Field(default=None, validate_default=True)

    @field_validator("maximumInstanceCount")
    @classmethod
    def _required(cls, v):
        if v is None:
            raise ValueError("maximumInstanceCount is required")
        return in_range("maximumInstanceCount", v, 0, 10000)


# --- provision -------------------------------------------------------------------------------------

def _check_window(start: str | None, end: str | None) -> None:
    for v in (start, end):
        if v is not None and not is_utc_time(v):
            kind = "StartTime" if v is start else "EndTime"
            raise ValueError(f"The {kind} is not in UTC time format (example: '2020-10-10T10:10:10Z', actual: '{v}')")
    if start and end and end < start:
        raise ValueError(f"The EndTime '{end}' is earlier than the StartTime '{start}'")


class ScheduledAction(FCModel):
    name: str | None = None
    startTime: str | None = None
    endTime: str | None = None
    target: int | None = None
    scheduleExpression: str | None = None

    @model_validator(mode="after")
    def _rules(self):
        if not self.name:
            raise ValueError("The name of a scheduled action is required")
        _check_window(self.startTime, self.endTime)
        if self.target is None:
            raise ValueError(f"The target of scheduled action '{self.name}' is required")
        in_range("target", self.target, 0, 10000)
        expr = self.scheduleExpression or ""
        if not _schedule_ok(expr):
            raise ValueError("The ScheduleExpression should be atTime or cron expression (example: "
                             "['at(2020-10-10T10:10:10Z)', 'cron(0 */30 * * * *)'], actual: "
                             f"'{self.scheduleExpression}')")
        return self


def _schedule_ok(expr: str) -> bool:
    at = _AT.fullmatch(expr)
    if at:
        return is_utc_time(at.group(1))
    spec = _CRON.fullmatch(expr)
    if spec:
        try:
            cron.validate(spec.group(1))
        except ValueError:
            return False
        return True
    return False


class TargetTrackingPolicy(FCModel):
    name: str | None = None
    startTime: str | None = None
    endTime: str | None = None
    metricType: str | None = None
    metricTarget: float | None = None
    minCapacity: int | None = None
    maxCapacity: int | None = None

    @model_validator(mode="after")
    def _rules(self):
        if not self.name:
            raise ValueError("The name of a target tracking policy is required")
        _check_window(self.startTime, self.endTime)
        if self.metricType not in METRIC_TYPES:
            raise ValueError(f"MetricType is set to an invalid value (allowed: {' | '.join(METRIC_TYPES)}, "
                             f"actual: '{self.metricType}')")
        if self.metricTarget is None or not 0 < self.metricTarget <= 1:
            raise ValueError(f"MetricTarget is set to an invalid value (allowed: (0, 1], actual: {self.metricTarget})")
        if self.minCapacity is None or self.maxCapacity is None or self.minCapacity > self.maxCapacity:
            raise ValueError(f"MinCapacity must not be greater than MaxCapacity (min: {self.minCapacity}, "
                             f"max: {self.maxCapacity})")
        return self


def _unique(items: list, what: str, field: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            raise ValueError(f"Duplicate {what} name '{item.name}' in {field} is not allowed")
        seen.add(item.name)


class ProvisionBody(FCModel):
    target: int | None = Field(default=None, validate_default=True)
    scheduledActions: list[ScheduledAction] | None = None
    targetTrackingPolicies: list[TargetTrackingPolicy] | None = None
    alwaysAllocateCPU: bool = True

    @field_validator("target")
    @classmethod
    def _target(cls, v):
        if v is None:
            raise ValueError("target is required")
        return in_range("target", v, 0, 10000)

    @field_validator("scheduledActions", mode="before")
    @classmethod
    def _action_count(cls, v):
        if isinstance(v, list) and len(v) > MAX_SCHEDULED_ACTIONS:
            raise ValueError(f"ScheduledActions contains too many values (max: {MAX_SCHEDULED_ACTIONS}, "
                             f"actual: {len(v)})")
        return v

    @field_validator("targetTrackingPolicies", mode="before")
    @classmethod
    def _policy_count(cls, v):
        if isinstance(v, list) and len(v) > MAX_TRACKING_POLICIES:
            raise ValueError(f"TargetTrackingPolicies contains too many values (max: {MAX_TRACKING_POLICIES}, "
                             f"actual: {len(v)})")
        return v

    @model_validator(mode="after")
    def _names(self):
        _unique(self.scheduledActions or [], "action", "ScheduledActions")
        _unique(self.targetTrackingPolicies or [], "policy", "TargetTrackingPolicies")
        return self

    def is_empty(self) -> bool:
        """target 0 with no scaling rules: FC keeps nothing (py-test tears down with target 0)."""
        return self.target == 0 and not self.scheduledActions and not self.targetTrackingPolicies


# --- async invoke ----------------------------------------------------------------------------------

class Destination(FCModel):
    destination: str | None = None

    @field_validator("destination")
    @classmethod
    def _arn(cls, v):
        if v is not None and not any(p.fullmatch(v) for p in _DESTINATIONS):
            raise ValueError(f"destination '{v}' is invalid: expected one of {', '.join(DESTINATION_FORMS)}")
        return v


class DestinationConfig(FCModel):
    onSuccess: Destination | None = None
    onFailure: Destination | None = None


class AsyncConfigBody(FCModel):
    destinationConfig: DestinationConfig | None = None
    maxAsyncEventAgeInSeconds: int | None = None
    maxAsyncRetryAttempts: int | None = None
    statefulInvocation: bool | None = None

    @field_validator("maxAsyncEventAgeInSeconds")
    @classmethod
    def _age(cls, v):
        return in_range("maxAsyncEventAgeInSeconds", v, 1, 86400)

    @field_validator("maxAsyncRetryAttempts")
    @classmethod
    def _retries(cls, v):
        return in_range("maxAsyncRetryAttempts", v, 0, 8)

    def stored(self) -> dict:
        """PUT replaces the config; unset values are null as java-test sees them."""
        return {
            "destinationConfig": self.destinationConfig.full() if self.destinationConfig else None,
            "maxAsyncEventAgeInSeconds": self.maxAsyncEventAgeInSeconds,
            "maxAsyncRetryAttempts": self.maxAsyncRetryAttempts,
            "statefulInvocation": bool(self.statefulInvocation),
        }
