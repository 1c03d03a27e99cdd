"""Triggers (fc-api.md §2.5): the create/update body, trigger types and one triggerConfig model per type.

A stored triggerConfig is what the client sent with known keys in FC's spelling, a few values
normalised (HTTP authType lower-case, methods upper-case), nulls dropped, and unknown keys kept as
sent (the seed document's HTTP `url`, py-test's log `maxRetryime`): FC echoes the config back.
"""
from __future__ import annotations

import json
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from emulator.errors import invalid_argument
from emulator.model import cron
from emulator.model.base import Description, FCModel, parse_json

# Canonical (lower-case) trigger types; the Go SDK fails to decode any other spelling.
TRIGGER_TYPES = ("oss", "log", "timer", "http", "tablestore", "cdn_events", "mns_topic", "eventbridge", "rds")
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS")
HTTP_AUTH_TYPES = ("anonymous", "function")
OSS_EVENTS = tuple(
    [f"oss:ObjectCreated:{e}" for e in ("*", "PutObject", "PutSymlink", "PostObject", "CopyObject",
                                        "InitiateMultipartUpload", "UploadPart", "UploadPartCopy",
                                        "CompleteMultipartUpload", "AppendObject")]
    + [f"oss:ObjectRemoved:{e}" for e in ("DeleteObject", "DeleteObjects", "AbortMultipartUpload")]
    + [f"oss:ObjectReplication:{e}" for e in ("ObjectCreated", "ObjectRemoved", "ObjectModified")])
MNS_FORMATS = ("STREAM", "JSON")
MNS_STRATEGIES = ("BACKOFF_RETRY", "EXPONENTIAL_DECAY_RETRY")
EVENTBRIDGE_SOURCES = ("Default", "MNS", "RocketMQ", "RabbitMQ", "Kafka", "DTS", "MQTT")
RDS_FORMATS = ("json", "protobuf", "sql")
# Event sources whose ARN the client supplies, and the ARN's service label.
SOURCE_ARN_SERVICE = {"oss": "oss", "log": "log", "mns_topic": "mns", "cdn_events": "cdn",
                      "tablestore": "ots", "rds": "rds"}


def canonical_type(value: Any) -> str:
    """`Timer`, `HTTP`, `MNS_TOPIC` … -> FC's lower-case triggerType."""
    if not isinstance(value, str) or not value:
        raise invalid_argument("triggerType is required")
    t = value.lower()
    if t not in TRIGGER_TYPES:
        raise invalid_argument(f"triggerType is set to an invalid value (allowed: {' | '.join(TRIGGER_TYPES)}, "
                               f"actual: '{value}')")
    return t


def _one_of(field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{field} is set to an invalid value (allowed: {' | '.join(allowed)}, actual: '{value}')")


def _in_range(field: str, v: int | None, low: int, high: int) -> int | None:
    if v is not None and not low <= v <= high:
        raise ValueError(f"{field} is set to an invalid value (allowed: {low} to {high}, actual: {v})")
    return v


class ConfigModel(FCModel):
    """A triggerConfig part: unknown keys are kept (FC echoes what it was given)."""
    model_config = ConfigDict(strict=True, extra="allow", populate_by_name=True)


# --- timer -----------------------------------------------------------------------------------------

class TimerConfig(ConfigModel):
    cronExpression: str | None = Field(default=None, validate_default=True)
    payload: str | None = None
    enable: bool = True  # stored explicitly so the scheduler never guesses

    @field_validator("cronExpression")
    @classmethod
    def _cron(cls, v):
        if v is None:
            raise ValueError("triggerConfig.cronExpression is required")
        return cron.validate(v)


# --- http ------------------------------------------------------------------------------------------

class HttpConfig(ConfigModel):
    authType: str = "function"
    methods: list[str] = Field(default_factory=lambda: list(HTTP_METHODS))
    authConfig: str | None = None
    disableURLInternet: bool | None = None

    @field_validator("authType")
    @classmethod
    def _auth(cls, v: str) -> str:
        if v.lower() not in HTTP_AUTH_TYPES:  # `ANONYMOUS` (seed document) is fine
            _one_of("authType", v, HTTP_AUTH_TYPES)
        return v.lower()

    @field_validator("methods")
    @classmethod
    def _methods(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError(f"methods must not be empty (allowed: {' | '.join(HTTP_METHODS)})")
        out: list[str] = []
        for m in v:
            if m.upper() not in HTTP_METHODS:
                raise ValueError(f"methods contains an invalid value (allowed: {' | '.join(HTTP_METHODS)}, "
                                 f"actual: '{m}')")
            if m.upper() not in out:
                out.append(m.upper())
        return out


# --- oss -------------------------------------------------------------------------------------------

class OssKey(ConfigModel):
    prefix: str | None = None
    suffix: str | None = None


class OssFilter(ConfigModel):
    key: OssKey | None = None


class OssConfig(ConfigModel):
    events: list[str] | None = Field(default=None, validate_default=True)
    filter: OssFilter | None = None

    @field_validator("events")
    @classmethod
    def _events(cls, v):
        if not v:
            raise ValueError("triggerConfig.events is required")
        for e in v:
            if e not in OSS_EVENTS:
                raise ValueError(f"events contains an invalid value (allowed: {' | '.join(OSS_EVENTS)}, "
                                 f"actual: '{e}')")
        return v


# --- log -------------------------------------------------------------------------------------------

class LogSourceConfig(ConfigModel):
    logstore: str | None = None


class LogJobConfig(ConfigModel):
    maxRetryTime: int | None = None
    triggerInterval: int | None = None

    @field_validator("maxRetryTime")
    @classmethod
    def _retries(cls, v):
        return _in_range("maxRetryTime", v, 0, 100)

    @field_validator("triggerInterval")
    @classmethod
    def _interval(cls, v):
        return _in_range("triggerInterval", v, 3, 600)


class LogLogConfig(ConfigModel):
    project: str | None = None
    logstore: str | None = None


class LogConfig(ConfigModel):
    sourceConfig: LogSourceConfig | None = Field(default=None, validate_default=True)
    jobConfig: LogJobConfig | None = None
    functionParameter: dict | None = None
    logConfig: LogLogConfig | None = None
    enable: bool | None = None

    @field_validator("sourceConfig")
    @classmethod
    def _source(cls, v):
        if v is None or not v.logstore:
            raise ValueError("triggerConfig.sourceConfig.logstore is required")
        return v


# --- mns_topic, cdn_events, tablestore, rds --------------------------------------------------------

class MnsTopicConfig(ConfigModel):
    filterTag: str | None = None
    notifyContentFormat: str | None = None
    notifyStrategy: str | None = None

    @field_validator("notifyContentFormat")
    @classmethod
    def _format(cls, v):
        if v is not None:
            _one_of("notifyContentFormat", v, MNS_FORMATS)
        return v

    @field_validator("notifyStrategy")
    @classmethod
    def _strategy(cls, v):
        if v is not None:
            _one_of("notifyStrategy", v, MNS_STRATEGIES)
        return v


class CdnEventsConfig(ConfigModel):
    eventName: str | None = Field(default=None, validate_default=True)
    eventVersion: str | None = None
    notes: str | None = None
    filter: dict[str, list[str]] | None = None

    @field_validator("eventName")
    @classmethod
    def _name(cls, v):
        if not v:
            raise ValueError("triggerConfig.eventName is required")
        return v


class TableStoreConfig(ConfigModel):
    """FC takes `{}`; anything given is kept."""


class RdsConfig(ConfigModel):
    subscriptionObjects: list[str] | None = None
    retry: int | None = None
    concurrency: int | None = None
    eventFormat: str | None = None

    @field_validator("retry")
    @classmethod
    def _retry(cls, v):
        return _in_range("retry", v, 0, 3)

    @field_validator("concurrency")
    @classmethod
    def _concurrency(cls, v):
        return _in_range("concurrency", v, 1, 5)

    @field_validator("eventFormat")
    @classmethod
    def _format(cls, v):
        if v is not None:
            _one_of("eventFormat", v, RDS_FORMATS)
        return v


# --- eventbridge -----------------------------------------------------------------------------------

class EventSourceConfig(ConfigModel):
    eventSourceType: str = "Default"
    eventSourceParameters: dict | None = None

    @field_validator("eventSourceType")
    @classmethod
    def _type(cls, v):
        _one_of("eventSourceType", v, EVENTBRIDGE_SOURCES)
        return v


class EventBridgeConfig(ConfigModel):
    triggerEnable: bool | None = None
    asyncInvocationType: bool | None = None
    eventRuleFilterPattern: str | None = None
    eventSourceConfig: EventSourceConfig | None = None
    runOptions: dict | None = None
    eventSinkConfig: dict | None = None

    @field_validator("eventRuleFilterPattern")
    @classmethod
    def _pattern(cls, v):
        if v is not None:
            try:
                ok = isinstance(parse_json(v), dict)
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(f"eventRuleFilterPattern must be a JSON object in a string, actual: '{v}'")
        return v


CONFIG_MODELS: dict[str, type[ConfigModel]] = {
    "timer": TimerConfig, "http": HttpConfig, "oss": OssConfig, "log": LogConfig,
    "mns_topic": MnsTopicConfig, "cdn_events": CdnEventsConfig, "tablestore": TableStoreConfig,
    "eventbridge": EventBridgeConfig, "rds": RdsConfig,
}
# Defaults FC fills in, written into the stored config (fields with a default in the model).
_STORED_DEFAULTS = {"timer": ("enable",), "http": ("authType", "methods")}


def _config_body(model: type[ConfigModel]) -> type[FCModel]:
    """{"triggerConfig": <model>} so errors name `triggerConfig.<field>`."""
    class Body(FCModel):
        triggerConfig: model  # type: ignore[valid-type]
    return Body


_BODIES = {t: _config_body(m) for t, m in CONFIG_MODELS.items()}


def parse_config(trigger_type: str, raw: Any) -> dict:
    """Validate `triggerConfig` for `trigger_type`; returns the config to store."""
    if isinstance(raw, str):  # the 2021-04-06 SDK sends triggerConfig as a JSON string
        try:
            raw = parse_json(raw)  # as strict as a body: it is stored and echoed
        except json.JSONDecodeError:
            raise invalid_argument(f"triggerConfig is not valid JSON: '{raw[:200]}'") from None
        except ValueError as exc:  # valid syntax, but NaN, a lone surrogate, too deep...
            raise invalid_argument(f"triggerConfig is not valid JSON: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise invalid_argument("triggerConfig must be a JSON object")
    parsed = _BODIES[trigger_type].parse({"triggerConfig": raw}).triggerConfig
    out = parsed.given()
    full = parsed.full()
    for key in _STORED_DEFAULTS.get(trigger_type, ()):
        out.setdefault(key, full[key])
    return out


class TriggerFields(FCModel):
    """UpdateTrigger's body (partial); CreateTrigger adds name, type and sourceArn."""
    triggerConfig: Any = None
    invocationRole: str | None = None
    qualifier: str | None = None
    description: Description = None


    @field_validator("qualifier")
    @classmethod
    def _qualifier(cls, v):
        return v or None  # "" = unset (LATEST)


class TriggerCreate(TriggerFields):
    triggerName: str | None = None
    triggerType: str | None = None
    sourceArn: str | None = None


def check_source_arn(trigger_type: str, arn: str | None) -> None:
    """Event sources the client names must come with an ARN of the right service."""
    service = SOURCE_ARN_SERVICE.get(trigger_type)
    if service is None:
        return
    if not arn:
        raise invalid_argument(f"sourceArn is required for trigger type '{trigger_type}'")
    parts = arn.split(":", 4)  # the resource part is absent for CDN: acs:cdn:*:<uid>
    if len(parts) < 4 or parts[0] != "acs" or parts[1] != service or (len(parts) == 5 and not parts[4]):
        raise invalid_argument(f"sourceArn is set to an invalid value for trigger type '{trigger_type}' "
                               f"(expected: 'acs:{service}:<region>:<accountId>:<resource>', actual: '{arn}')")


def eventbridge_source_arn(region: str, account: str, svc: str, fn: str, trigger: str, config: dict) -> str:
    """FC creates the EventBridge rule itself and reports its ARN (§2.5)."""
    source_type = (config.get("eventSourceConfig") or {}).get("eventSourceType") or "Default"
    bus = "default" if source_type == "Default" else f"{source_type}-{fn}-{trigger}"
    return f"acs:eventbridge:{region}:{account}:eventbus/{bus}/rule/{svc}-{fn}-{trigger}"
