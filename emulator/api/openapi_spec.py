"""What /openapi.json says about each operation (emulator/api/openapi.py builds it): FC's action
name, the body model, query parameters and headers, and the rules the models check in validators,
written as JSON Schema."""
from __future__ import annotations

from typing import Any

from emulator.api.stateful import STATUSES
from emulator.model import runtimes
from emulator.model.alias import RESOLVE_POLICIES, AliasCreate, AliasFields
from emulator.model.configs import METRIC_TYPES, AsyncConfigBody, OnDemandBody, ProvisionBody
from emulator.model.custom_domain import HTTP_METHODS, PROTOCOLS, TLS_VERSIONS, DomainCreate, DomainFields
from emulator.model.event_source import MAX_ARN, SOURCE_ARN, EventSourceCreate
from emulator.model.function import INSTANCE_TYPES, MAX_LAYERS, MAX_MEMORY, FunctionCreate, FunctionFields
from emulator.model.layer import LayerVersionCreate
from emulator.model.names import LIMITS, STATEFUL_ID
from emulator.model.service import ServiceCreate, ServiceFields
from emulator.model.tag import MAX_TAGS, TagResource, UntagResource
from emulator.model.trigger import (CONFIG_MODELS, EVENTBRIDGE_SOURCES, HTTP_AUTH_TYPES, MNS_FORMATS,
                                    MNS_STRATEGIES, OSS_EVENTS, RDS_FORMATS, TRIGGER_TYPES, TriggerCreate,
                                    TriggerFields)
from emulator.model.version import DIRECTIONS, VersionCreate
from emulator.model.vpc_binding import VPC_ID, VpcBindingCreate

REF = "#/components/schemas/{model}"
BODIES = [ServiceCreate, ServiceFields, FunctionCreate, FunctionFields, TriggerCreate, TriggerFields, VersionCreate,
          AliasCreate, AliasFields, DomainCreate, DomainFields, TagResource, UntagResource, OnDemandBody,
          ProvisionBody, AsyncConfigBody, LayerVersionCreate, EventSourceCreate, VpcBindingCreate,
          *CONFIG_MODELS.values()]


def _name(kind: str) -> dict:
    return {"type": "string", "minLength": 1, "maxLength": LIMITS[kind], "pattern": r"^[A-Za-z_][A-Za-z0-9_-]*$"}


def _int(low: int | None = None, high: int | None = None, **extra) -> dict:
    out: dict[str, Any] = {"type": "integer", **extra}
    if low is not None:
        out["minimum"] = low
    if high is not None:
        out["maximum"] = high
    return out


def _enum(values) -> dict:
    return {"type": "string", "enum": list(values)}


STRING = {"type": "string"}
# Python's end-of-string \Z is JSON Schema's (ECMA 262) $.
ARN = {"type": "string", "minLength": 1, "maxLength": MAX_ARN, "pattern": SOURCE_ARN.pattern.replace(r"\Z", "$")}
VPC = {"type": "string", "pattern": VPC_ID.pattern.replace(r"\Z", "$")}
TAG_ARN = r"^(acs:fc:[^:]*:[^:]*:)?services/[^/]+$"
BOOL_TEXT = {"type": "string", "enum": ["true", "false"]}

# --- rules the models check in validators, as JSON Schema (model name -> field -> schema) ----------
NARROW: dict[str, dict[str, dict]] = {
    "ServiceCreate": {"serviceName": _name("service")},
    "ServiceFields": {"description": {"maxLength": 256}},
    "FunctionFields": {
        "description": {"maxLength": 256}, "runtime": _enum(runtimes.ALL), "instanceType": _enum(INSTANCE_TYPES),
        "memorySize": _int(128, MAX_MEMORY, multipleOf=64), "cpu": {"minimum": 0.05, "maximum": 16},
        "diskSize": {"enum": [512, 10240]}, "layers": {"maxItems": MAX_LAYERS},
        "environmentVariables": {"propertyNames": {"pattern": r"^[A-Za-z][A-Za-z0-9_]*$"}},
    },
    "CustomContainerConfig": {"accelerationType": _enum(("Default", "None"))},
    "TriggerFields": {"description": {"maxLength": 256}},
    "TriggerCreate": {"triggerName": _name("trigger"), "triggerType": _enum(TRIGGER_TYPES)},
    "HttpConfig": {"authType": _enum(HTTP_AUTH_TYPES), "methods": {"items": _enum(HTTP_METHODS), "minItems": 1}},
    "OssConfig": {"events": {"items": _enum(OSS_EVENTS), "minItems": 1}},
    "TriggerLogJobConfig": {"maxRetryTime": _int(0, 100), "triggerInterval": _int(3, 600)},
    "LogJobConfig": {"maxRetryTime": _int(0, 100), "triggerInterval": _int(3, 600)},
    "MnsTopicConfig": {"notifyContentFormat": _enum(MNS_FORMATS), "notifyStrategy": _enum(MNS_STRATEGIES)},
    "RdsConfig": {"retry": _int(0, 3), "concurrency": _int(1, 5), "eventFormat": _enum(RDS_FORMATS)},
    "EventSourceConfig": {"eventSourceType": _enum(EVENTBRIDGE_SOURCES)},
    "VersionCreate": {"description": {"maxLength": 256}},
    "AliasFields": {"description": {"maxLength": 256}, "resolvePolicy": _enum(RESOLVE_POLICIES),
                    "additionalVersionWeight": {"additionalProperties": {"minimum": 0, "maximum": 1}}},
    "AliasCreate": {"aliasName": {**_name("alias"), "not": {"const": "LATEST"}}},
    "DomainFields": {"protocol": _enum(PROTOCOLS)},
    "DomainCreate": {"domainName": {"maxLength": 253}},
    "PathConfig": {"path": {"pattern": r"^/[^*]*(/\*)?$"}, "methods": {"items": _enum(HTTP_METHODS)}},
    "TLSConfig": {"minVersion": _enum(TLS_VERSIONS), "maxVersion": _enum(TLS_VERSIONS)},
    "TagResource": {"tags": {"minProperties": 1, "maxProperties": MAX_TAGS,
                             "propertyNames": {"minLength": 1, "maxLength": 128},
                             "additionalProperties": {"maxLength": 256}},
                    "resourceArn": {"pattern": TAG_ARN}},
    "UntagResource": {"resourceArn": {"pattern": TAG_ARN}},
    "OnDemandBody": {"maximumInstanceCount": _int(0, 10000)},
    "ProvisionBody": {"target": _int(0, 10000), "scheduledActions": {"maxItems": 100},
                      "targetTrackingPolicies": {"maxItems": 100}},
    "ScheduledAction": {"target": _int(0, 10000)},
    "TargetTrackingPolicy": {"metricType": _enum(METRIC_TYPES), "metricTarget": {"exclusiveMinimum": 0, "maximum": 1}},
    "AsyncConfigBody": {"maxAsyncEventAgeInSeconds": _int(1, 86400), "maxAsyncRetryAttempts": _int(0, 8)},
    "EventSourceCreate": {"sourceArn": ARN},
    "VpcBindingCreate": {"vpcId": VPC},
    "LayerVersionCreate": {"description": {"maxLength": 256}, "compatibleRuntime": {"items": _enum(runtimes.ALL)}},
}
REQUIRED = {"ServiceCreate": ["serviceName"], "FunctionCreate": ["functionName", "runtime"],
            "TriggerCreate": ["triggerName", "triggerType"], "AliasCreate": ["aliasName", "versionId"],
            "DomainCreate": ["domainName"], "TagResource": ["resourceArn", "tags"], "UntagResource": ["resourceArn"],
            "OnDemandBody": ["maximumInstanceCount"], "EventSourceCreate": ["sourceArn"], "VpcBindingCreate": ["vpcId"], "ProvisionBody": ["target"], "LayerVersionCreate": ["code"],
            "TimerConfig": ["cronExpression"], "OssConfig": ["events"], "CdnEventsConfig": ["eventName"]}
# Defs pydantic names by module when two models share a class name.
RENAME = {"emulator__model__service__LogConfig": "LogConfig", "emulator__model__trigger__LogConfig": "TriggerLogConfig"}

# --- parameters --------------------------------------------------------------------------------------
QUERY: dict[str, tuple[dict, str]] = {
    "limit": (_int(1, 100), "page size (FC's default 20)"),
    "nextToken": (STRING, "where the next page starts: the previous answer's nextToken"),
    "prefix": (STRING, "only names starting with this"),
    "startKey": (STRING, "only names from this one on (inclusive)"),
    "qualifier": (STRING, "a version id, an alias or LATEST (2021 style; 2016 style puts it after the service "
                          "name: svc.qualifier)"),
    "direction": (_enum(DIRECTIONS), "BACKWARD: newest first (default)"),
    "resourceArn": ({"type": "string", "pattern": TAG_ARN}, "acs:fc:<region>:<account>:services/<serviceName> or services/<serviceName>"),
    "config": ({"type": "array", "items": STRING}, "account config names, e.g. CodeSizeLimit (default: all)"),
    "serviceName": (STRING, "only this service's configs"),
    "startVersion": (_int(1), "the first layer version listed"),
    "public": (BOOL_TEXT, "only public layers (ListLayers); the new ACL (PutLayerACL)"),
    "isPublic": (BOOL_TEXT, "the 2021 SDK's name for public"),
    "official": (BOOL_TEXT, "Alibaba-owned layers (there are none offline)"),
    "invocationIdPrefix": (STRING, "only ids starting with this"),
    "status": (_enum(STATUSES), "only tasks in this state"),
    "startedTimeBegin": (_int(0), "epoch ms, inclusive"),
    "startedTimeEnd": (_int(0), "epoch ms, inclusive"),
    "sortOrderByTime": (_enum(("asc", "desc")), "desc: newest first (default)"),
    "includePayload": (BOOL_TEXT, "include each task's invocationPayload"),
    "instanceIds": ({"type": "array", "items": STRING}, "only these instances (also comma-separated)"),
    "limit:instances": (_int(0, 1000), "page size; 0 or absent: all (at most 1000)"),
    # /_emulator
    "Expires": (STRING, "epoch seconds, from GetFunctionCode's url"),
    "Signature": (STRING, "from GetFunctionCode's url"),
    "service": (STRING, "only this service"),
    "function": (STRING, "only this function"),
    "functionName": (STRING, "only this function"),
    "status:records": (STRING, "only records with this status (e.g. Succeeded, Failed)"),
    "kind": (STRING, "only records of this kind (sync, async, http, event ...)"),
    "requestId": (STRING, "only this request"),
    "instanceId": (STRING, "only this instance"),
    "since": (STRING, "ISO 8601 time, epoch seconds or ms, or a duration ago (10m)"),
    "until": (STRING, "ISO 8601 time, epoch seconds or ms, or a duration ago (10m)"),
    "after": (_int(0), "only records with a larger sequence number"),
    "order": (_enum(("asc", "desc")), "desc: newest first (default)"),
    "limit:records": (_int(1, 1000), "page size (default 100)"),
    "nextToken:records": (_int(0), "the previous answer's nextToken"),
    "attempt": (_int(1), "this attempt (default: the last)"),
    "timeout": (STRING, "how long to wait, e.g. 30 or 30s (at most 600 s)"),
    "destination": (STRING, "only deliveries to this ARN"),
    "name": (STRING, "only deliveries to this queue, topic or bus"),
}
HEADERS: dict[str, tuple[dict, str]] = {
    "If-Match": (STRING, "the Etag the resource must still have (412 PreconditionFailed otherwise)"),
    "X-Fc-Code-Checksum": (STRING, "crc64ecma of the code zip; checked when given"),
    "X-Fc-Invocation-Type": (_enum(("Sync", "Async")), "Sync (default) or Async (202, queued)"),
    "X-Fc-Log-Type": (_enum(("None", "Tail")), "Tail: the last 4 KB of the log in X-Fc-Log-Result"),
    "X-Fc-Stateful-Async-Invocation-Id": ({"type": "string", "pattern": STATEFUL_ID.pattern},
                                          "the task id of a stateful async invocation"),
    "X-Fc-Stateful-Async-Invocation-Enable": (BOOL_TEXT, "turn the stateful task on or off for this call"),
}
PAGE = ("limit", "nextToken", "prefix", "startKey")
PATH_PARAMS: dict[str, dict] = {
    "service": {"type": "string", "minLength": 1, "pattern": r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)?$",
                "description": "serviceName, or serviceName.qualifier (2016 style) where a qualifier applies",
                "example": "svc"},
    "function": {**_name("function"), "example": "fn"},
    "trigger": {**_name("trigger"), "example": "trg"},
    "alias": {**_name("alias"), "example": "prod"},
    "layer": {**_name("layer"), "example": "lyr"},
    "version_id": {"type": "string", "pattern": r"^[0-9]+$", "example": "1"},
    "version": {"type": "string", "pattern": r"^[0-9]+$", "example": "1"},
    "domain": {"type": "string", "maxLength": 253, "example": "example.com"},
    "invocation_id": {"type": "string", "pattern": STATEFUL_ID.pattern},
    "checksum": {"type": "string", "pattern": r"^[0-9]+$"},
    "source_arn": {**ARN, "example": "acs:mns:cn-hangzhou:123:/queues/q"},
    "vpc_id": {**VPC, "example": "vpc-1"},
    "source": _enum(("oss", "log", "mns_topic", "tablestore", "cdn_events", "eventbridge", "rds")),
}
JSON, BINARY = "application/json", "application/octet-stream"

# (method, path under the API version) -> (FC action, body model or content type, query, headers)
Op = tuple[str, Any, tuple[str, ...], tuple[str, ...]]
S, F = "/services/{service}", "/services/{service}/functions/{function}"
OPS: dict[tuple[str, str], Op] = {
    ("get", "/account-settings"): ("GetAccountSettings", None, (), ()),
    ("get", "/accountConfigs"): ("GetAccountConfigs", None, ("config",), ()),
    ("get", "/reservedCapacities"): ("ListReservedCapacities", None, PAGE, ()),
    ("get", "/reserved-capacities"): ("ListReservedCapacities", None, PAGE, ()),
    ("post", "/services"): ("CreateService", ServiceCreate, (), ()),
    ("get", "/services"): ("ListServices", None, PAGE, ()),
    ("get", S): ("GetService", None, ("qualifier",), ()),
    ("put", S): ("UpdateService", ServiceFields, (), ("If-Match",)),
    ("delete", S): ("DeleteService", None, (), ("If-Match",)),
    ("post", S + "/functions"): ("CreateFunction", FunctionCreate, (), ("X-Fc-Code-Checksum",)),
    ("get", S + "/functions"): ("ListFunctions", None, (*PAGE, "qualifier"), ()),
    ("get", F): ("GetFunction", None, ("qualifier",), ()),
    ("put", F): ("UpdateFunction", FunctionFields, (), ("If-Match", "X-Fc-Code-Checksum")),
    ("delete", F): ("DeleteFunction", None, (), ("If-Match",)),
    ("get", F + "/code"): ("GetFunctionCode", None, ("qualifier",), ()),
    ("post", F + "/triggers"): ("CreateTrigger", TriggerCreate, (), ()),
    ("get", F + "/triggers"): ("ListTriggers", None, PAGE, ()),
    ("get", F + "/triggers/{trigger}"): ("GetTrigger", None, (), ()),
    ("put", F + "/triggers/{trigger}"): ("UpdateTrigger", TriggerFields, (), ("If-Match",)),
    ("delete", F + "/triggers/{trigger}"): ("DeleteTrigger", None, (), ("If-Match",)),
    ("post", S + "/versions"): ("PublishServiceVersion", VersionCreate, (), ("If-Match",)),
    ("get", S + "/versions"): ("ListServiceVersions", None, (*PAGE, "direction"), ()),
    ("delete", S + "/versions/{version_id}"): ("DeleteServiceVersion", None, (), ()),
    ("post", S + "/aliases"): ("CreateAlias", AliasCreate, (), ()),
    ("get", S + "/aliases"): ("ListAliases", None, PAGE, ()),
    ("get", S + "/aliases/{alias}"): ("GetAlias", None, (), ()),
    ("put", S + "/aliases/{alias}"): ("UpdateAlias", AliasFields, (), ("If-Match",)),
    ("delete", S + "/aliases/{alias}"): ("DeleteAlias", None, (), ("If-Match",)),
    ("post", "/custom-domains"): ("CreateCustomDomain", DomainCreate, (), ()),
    ("get", "/custom-domains"): ("ListCustomDomains", None, PAGE, ()),
    ("get", "/custom-domains/{domain}"): ("GetCustomDomain", None, (), ()),
    ("put", "/custom-domains/{domain}"): ("UpdateCustomDomain", DomainFields, (), ("If-Match",)),
    ("delete", "/custom-domains/{domain}"): ("DeleteCustomDomain", None, (), ("If-Match",)),
    ("get", "/tag"): ("GetResourceTags", None, ("resourceArn",), ()),
    ("post", "/tag"): ("TagResource", TagResource, (), ()),
    ("delete", "/tag"): ("UntagResource", UntagResource, (), ()),
    ("put", "/tag"): ("UntagResource", UntagResource, (), ()),
    ("get", "/tags"): ("ListTaggedResources", None, PAGE, ()),
    ("put", F + "/on-demand-config"): ("PutFunctionOnDemandConfig", OnDemandBody, ("qualifier",), ("If-Match",)),
    ("get", F + "/on-demand-config"): ("GetFunctionOnDemandConfig", None, ("qualifier",), ()),
    ("delete", F + "/on-demand-config"): ("DeleteFunctionOnDemandConfig", None, ("qualifier",), ("If-Match",)),
    ("get", "/on-demand-configs"): ("ListOnDemandConfigs", None, PAGE, ()),
    ("put", F + "/provision-config"): ("PutProvisionConfig", ProvisionBody, ("qualifier",), ()),
    ("get", F + "/provision-config"): ("GetProvisionConfig", None, ("qualifier",), ()),
    ("get", "/provision-configs"): ("ListProvisionConfigs", None, (*PAGE, "serviceName", "qualifier"), ()),
    ("put", F + "/async-invoke-config"): ("PutFunctionAsyncInvokeConfig", AsyncConfigBody, ("qualifier",), ()),
    ("get", F + "/async-invoke-config"): ("GetFunctionAsyncInvokeConfig", None, ("qualifier",), ()),
    ("delete", F + "/async-invoke-config"): ("DeleteFunctionAsyncInvokeConfig", None, ("qualifier",), ()),
    ("get", F + "/async-invoke-configs"): ("ListFunctionAsyncInvokeConfigs", None, PAGE, ()),
    ("post", "/layers/{layer}/versions"): ("PublishLayerVersion", LayerVersionCreate, (), ("X-Fc-Code-Checksum",)),
    ("get", "/layers/{layer}/versions"): ("ListLayerVersions", None, ("limit", "startVersion"), ()),
    ("get", "/layers/{layer}/versions/{version}"): ("GetLayerVersion", None, (), ()),
    ("delete", "/layers/{layer}/versions/{version}"): ("DeleteLayerVersion", None, (), ()),
    ("get", "/layers"): ("ListLayers", None, (*PAGE, "public", "isPublic", "official"), ()),
    ("get", "/layerarn/{arn}"): ("GetLayerVersionByArn", None, (), ()),
    ("put", "/layers/{layer}/acl"): ("PutLayerACL", None, ("public",), ()),
    ("get", F + "/stateful-async-invocations"): (
        "ListStatefulAsyncInvocations", None,
        ("limit", "nextToken", "qualifier", "invocationIdPrefix", "status", "startedTimeBegin", "startedTimeEnd",
         "sortOrderByTime", "includePayload"), ()),
    ("get", F + "/stateful-async-invocations/{invocation_id}"): (
        "GetStatefulAsyncInvocation", None, ("qualifier",), ()),
    ("put", F + "/stateful-async-invocations/{invocation_id}"): (
        "StopStatefulAsyncInvocation", None, ("qualifier",), ()),
    ("get", "/stateful-async-invocation-functions"): ("ListStatefulAsyncInvocationFunctions", None, PAGE, ()),
    ("post", F + "/invocations"): (
        "InvokeFunction", BINARY, ("qualifier",),
        ("X-Fc-Invocation-Type", "X-Fc-Log-Type", "X-Fc-Stateful-Async-Invocation-Id",
         "X-Fc-Stateful-Async-Invocation-Enable")),
    ("post", F + "/event-sources"): ("RegisterEventSource", EventSourceCreate, ("qualifier",), ()),
    ("get", F + "/event-sources"): ("ListEventSources", None, ("qualifier",), ()),
    ("delete", F + "/event-sources/{source_arn}"): ("DeregisterEventSource", None, ("qualifier",), ()),
    ("post", S + "/bindings"): ("CreateVpcBinding", VpcBindingCreate, (), ()),
    ("post", S + "/binding"): ("CreateVpcBinding", VpcBindingCreate, (), ()),  # Java SDK, 2016
    ("get", S + "/bindings"): ("ListVpcBindings", None, (), ()),
    ("delete", S + "/bindings/{vpc_id}"): ("DeleteVpcBinding", None, (), ()),
    ("delete", S + "/binding"): ("DeleteVpcBinding", VpcBindingCreate, (), ()),  # Java SDK, 2016
    ("post", "/gpuInstances"): ("ClaimGPUInstance", None, (), ()),  # no local meaning: always NotSupported
    ("delete", "/gpuInstances/{instance_id}"): ("ReleaseGPUInstance", None, (), ()),
    ("get", F + "/instances"): ("ListInstances", None, ("qualifier", "limit:instances", "nextToken", "instanceIds"),
                                ()),
}
# The emulator's own endpoints (docs/design.md), outside FC's API versions.
EMULATOR_OPS: dict[tuple[str, str], Op] = {
    ("get", "/health"): ("Health", None, (), ()),
    ("get", "/_emulator/code/{checksum}.zip"): ("DownloadFunctionCode", None, ("Expires", "Signature"), ()),
    ("get", "/_emulator/invocations"): (
        "ListInvocationRecords", None,
        ("service", "serviceName", "function", "functionName", "qualifier", "status:records", "kind", "requestId",
         "instanceId", "since", "until", "after", "order", "limit:records", "nextToken:records"), ()),
    ("get", "/_emulator/invocations/{request_id}"): ("GetInvocationRecord", None, ("attempt",), ()),
    ("get", "/_emulator/wait-idle"): ("WaitIdle", None, ("timeout",), ()),
    ("post", "/_emulator/wait-idle"): ("WaitIdle", None, ("timeout",), ()),
    ("get", "/_emulator/destinations"): (
        "ListDestinationDeliveries", None, ("destination", "name", "requestId", "service", "function"), ()),
    ("post", "/_emulator/services/{service}/functions/{function}/triggers/{trigger}/fire"): (
        "FireTimerTrigger", None, (), ()),
    ("post", "/_emulator/events/{source}"): ("PutEvent", {"type": "object"}, (), ()),
}
# The HTTP trigger: any method, any body, any query; the function answers.
PROXY = "/proxy/{service}/{function}/{rest}"
ERROR = {
    "type": "object", "required": ["ErrorCode", "ErrorMessage"],
    "properties": {
        "ErrorCode": {"type": "string", "example": "ServiceNotFound"},
        "ErrorMessage": {"type": "string", "example": "service 'svc' does not exist"},
        "RequestId": {"type": "string"},
        "Code": {"type": "string", "description": "the same as ErrorCode (read by the 2021 SDKs)"},
        "Message": {"type": "string", "description": "the same as ErrorMessage (read by the 2021 SDKs)"},
    },
}
