"""The FC 3.0 Function resource (fc3-api.md §5) and its mapping onto the engine (§8.2).

An FC 3.0 function F is stored as the engine pair (hidden service `fc3:F`, function F). The function row
keeps the FC 3.0 view as the client gave it (`fc3`: what GetFunction echoes, versions freeze it with the
row) next to the FC 2.0-shaped fields the engine runs (handler, caPort, customContainerConfig with JSON
string command/args, initializer, layers, ...). The service row gets the service-level settings FC 2.0
keeps there (role, logConfig, vpcConfig, nasConfig, ossMountConfig, tracingConfig, internetAccess).
"""
from __future__ import annotations

import json
from typing import Any

from pydantic import Field, field_validator

from emulator import errors
from emulator.model import runtimes
from emulator.model.base import Description, FCModel
from emulator.model.function import FUNCTION_DEFAULTS, FunctionFields
from emulator.model.service import SERVICE_DEFAULTS

SERVICE_LEVEL = ("role", "logConfig", "vpcConfig", "nasConfig", "ossMountConfig", "tracingConfig", "internetAccess")
# always shown by GetFunction (§5.3), with these values when never set
VIEW_DEFAULTS: dict[str, Any] = {
    "description": "", "timeout": 3, "memorySize": 128, "role": "", "internetAccess": True,
    "disableOndemand": False, "instanceIsolationMode": "SHARE", "sessionAffinity": "NONE",
    "environmentVariables": {},
}
ISOLATION_MODES = ("SHARE", "SESSION_EXCLUSIVE", "REQUEST_EXCLUSIVE")
SESSION_AFFINITIES = ("NONE", "MCP_SSE", "GENERATED_COOKIE", "HEADER_FIELD", "MCP_STREAMABLE")
INJECT_CREDENTIALS = ("None", "Env", "Request", "All")
WEB_RUNTIMES = runtimes.CUSTOM + (runtimes.CONTAINER,)
MAX_MEMORY = 32768


class Code3(FCModel):
    zipFile: str | None = None
    ossBucketName: str | None = None
    ossObjectName: str | None = None
    checksum: str | None = None

    def location(self) -> dict:
        return {k: v for k, v in self.given().items() if k != "checksum"}


class HealthCheck3(FCModel):
    httpGetUrl: str | None = Field(default=None, max_length=2048)
    initialDelaySeconds: int | None = Field(default=None, ge=0, le=120)
    periodSeconds: int | None = Field(default=None, ge=1, le=120)
    timeoutSeconds: int | None = Field(default=None, ge=1, le=3)
    failureThreshold: int | None = Field(default=None, ge=1, le=120)
    successThreshold: int | None = Field(default=None, ge=1, le=120)


class CustomRuntimeConfig3(FCModel):
    command: list[str] | None = None
    args: list[str] | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    healthCheckConfig: HealthCheck3 | None = None


class CustomContainerConfig3(FCModel):
    image: str | None = None
    entrypoint: list[str] | None = None  # FC 2.0's command (the container's start command)
    command: list[str] | None = None  # FC 2.0's args
    port: int | None = Field(default=None, ge=1, le=65535)
    healthCheckConfig: HealthCheck3 | None = None
    acrInstanceId: str | None = None
    accelerationType: str | None = None
    registryConfig: dict | None = None

    @field_validator("accelerationType")
    @classmethod
    def _acceleration(cls, v):
        if v is not None and v not in ("Default", "None"):
            raise ValueError(f"customContainerConfig.accelerationType is set to an invalid value "
                             f"(allowed: Default | None, actual: '{v}')")
        return v


class Hook3(FCModel):
    handler: str | None = None
    command: list[str] | None = None
    timeout: int | None = Field(default=None, ge=1, le=900)


class Lifecycle3(FCModel):
    initializer: Hook3 | None = None
    preStop: Hook3 | None = None  # FC 3.0 has no preFreeze: ignored if sent


class GpuConfig3(FCModel):
    gpuType: str | None = None
    gpuMemorySize: int | None = None


class Fc3FunctionFields(FCModel):
    """UpdateFunction's body; CreateFunction adds functionName, resourceGroupId and tags."""
    description: Description = None
    runtime: str | None = None
    handler: str | None = Field(default=None, max_length=128)
    code: Code3 | None = None
    customContainerConfig: CustomContainerConfig3 | None = None
    customRuntimeConfig: CustomRuntimeConfig3 | None = None
    customDNS: dict | None = None
    cpu: float | None = None
    memorySize: int | None = None
    diskSize: int | None = None
    timeout: int | None = None
    instanceConcurrency: int | None = Field(default=None, ge=1, le=200)
    environmentVariables: dict[str, str] | None = None
    instanceLifecycleConfig: Lifecycle3 | None = None
    layers: list[str] | None = None
    gpuConfig: GpuConfig3 | None = None
    role: str | None = Field(default=None, max_length=300)
    logConfig: dict | None = None
    vpcConfig: dict | None = None
    nasConfig: dict | None = None
    ossMountConfig: dict | None = None
    polarFsConfig: dict | None = None
    juiceFsConfig: dict | None = None
    microSandboxConfig: dict | None = None
    tracingConfig: dict | None = None
    internetAccess: bool | None = None
    disableOndemand: bool | None = None
    instanceIsolationMode: str | None = None
    sessionAffinity: str | None = None
    sessionAffinityConfig: str | None = None
    idleTimeout: int | None = None
    enableLongLiving: bool | None = None
    disableInjectCredentials: str | None = None

    @field_validator("runtime")
    @classmethod
    def _runtime(cls, v):
        if v is not None and v not in runtimes.ALL:
            raise ValueError(runtimes.invalid_runtime_message(v))
        return v

    @field_validator("instanceIsolationMode", "sessionAffinity", "disableInjectCredentials")
    @classmethod
    def _enum(cls, v, info):
        allowed = {"instanceIsolationMode": ISOLATION_MODES, "sessionAffinity": SESSION_AFFINITIES,
                   "disableInjectCredentials": INJECT_CREDENTIALS}[info.field_name]
        if v is not None and v not in allowed:
            raise ValueError(f"{info.field_name} is set to an invalid value (allowed: {' | '.join(allowed)}, "
                             f"actual: '{v}')")
        return v


class Fc3FunctionCreate(Fc3FunctionFields):
    functionName: str | None = None
    resourceGroupId: str | None = None
    tags: list[dict] | None = None


# ---- the FC 3.0 view ------------------------------------------------------------------------------

def _empty(key: str, value: Any) -> bool:
    """§0: deployment tools send "empty" configs; they mean "not configured"."""
    if value is None:
        return True
    if key == "environmentVariables":
        return False  # `{}` is a value: it clears the variables, and GetFunction always shows the map
    if key == "logConfig":
        return not (value.get("project") or value.get("logstore"))
    if key == "vpcConfig":
        return not value.get("vpcId")
    if key in ("nasConfig", "ossMountConfig", "polarFsConfig", "juiceFsConfig"):
        return not value.get("mountPoints")
    if isinstance(value, dict):
        return all(_empty("", v) for v in value.values())
    if isinstance(value, (list, str)):
        return not value
    return False


def merge_view(stored: dict, fields: Fc3FunctionFields) -> dict:
    """A partial update of the view: given keys replace stored ones whole; empty configs are removed."""
    given = fields.given()
    for key in ("code", "functionName", "tags"):
        given.pop(key, None)
    view = {**stored, **given}
    return {k: v for k, v in view.items() if not _empty(k, v)}


def check_view(view: dict) -> None:
    """Rules over the merged function (create, or stored + update)."""
    runtime = view.get("runtime")
    if not runtime:
        raise errors.invalid_argument("runtime is required")
    if not view.get("handler"):
        raise errors.invalid_argument("handler is required")
    if runtime == runtimes.CONTAINER:
        if not (view.get("customContainerConfig") or {}).get("image"):
            raise errors.invalid_argument("customContainerConfig.image is required for runtime custom-container")
    elif view.get("customContainerConfig"):
        raise errors.invalid_argument("customContainerConfig is only allowed with runtime custom-container")
    for hook in ("initializer", "preStop"):
        h = (view.get("instanceLifecycleConfig") or {}).get(hook) or {}
        if h.get("handler") and h.get("command"):
            raise errors.invalid_argument(f"instanceLifecycleConfig.{hook}: handler and command are mutually exclusive")
    memory, cpu = view.get("memorySize", 128), view.get("cpu")
    if memory < 128 or memory > MAX_MEMORY or memory % 64:
        raise errors.invalid_argument(f"memorySize is set to an invalid value (allowed: multiples of 64 from 128 "
                                      f"to {MAX_MEMORY}, actual: {memory})")
    if cpu is not None:
        if not 0.05 <= cpu <= 16 or abs(round(cpu / 0.05) * 0.05 - cpu) > 1e-9:
            raise errors.invalid_argument(f"cpu is set to an invalid value (allowed: multiples of 0.05 from 0.05 "
                                          f"to 16, actual: {cpu})")
        ratio = memory / 1024 / cpu
        if not 1 - 1e-9 <= ratio <= 4 + 1e-9:
            raise errors.invalid_argument(f"the ratio of cpu to memorySize (GB) must be between 1:1 and 1:4 "
                                          f"(cpu: {cpu}, memorySize: {memory})")
    # FC 2.0's own checks for the fields both APIs share (timeout, disk, environment variable names)
    FunctionFields.parse({k: view[k] for k in ("timeout", "diskSize", "environmentVariables") if k in view})


# ---- view -> engine -------------------------------------------------------------------------------

def engine_function(view: dict, stored: dict | None = None) -> dict:
    """The FC 2.0-shaped fields the engine runs, from the view (code and layers are set apart)."""
    runtime = view["runtime"]
    fn = {**FUNCTION_DEFAULTS, **(stored or {})}
    for key in ("description", "timeout", "memorySize", "environmentVariables"):
        fn[key] = view.get(key, VIEW_DEFAULTS[key])
    fn.update(runtime=runtime, handler=view["handler"], cpu=view.get("cpu"), diskSize=view.get("diskSize", 512),
              customDNS=view.get("customDNS"), customRuntimeConfig=None, customContainerConfig=None,
              customHealthCheckConfig=None, caPort=9000, instanceType="e1", gpuMemorySize=None)
    # FC 3.0 runs built-in runtimes one request per instance (§5.1); custom runtimes keep their setting
    fn["instanceConcurrency"] = view.get("instanceConcurrency", 1) if runtime in WEB_RUNTIMES else 1
    crc, cc = view.get("customRuntimeConfig") or {}, view.get("customContainerConfig") or {}
    web = cc if runtime == runtimes.CONTAINER else crc
    if runtime in runtimes.CUSTOM:
        fn["customRuntimeConfig"] = {"command": crc.get("command") or [], "args": crc.get("args") or []}
    if runtime == runtimes.CONTAINER:
        fn["customContainerConfig"] = {
            "image": cc.get("image"), "command": json.dumps(cc["entrypoint"]) if cc.get("entrypoint") else "",
            "args": json.dumps(cc["command"]) if cc.get("command") else "",
            "accelerationType": cc.get("accelerationType") or "Default", "instanceID": cc.get("acrInstanceId") or "",
            "webServerMode": True, "accelerationInfo": {"status": "Ready"}}
    if web.get("port"):
        fn["caPort"] = web["port"]
    if web.get("healthCheckConfig"):
        fn["customHealthCheckConfig"] = web["healthCheckConfig"]
    life = view.get("instanceLifecycleConfig") or {}
    init, pre = life.get("initializer") or {}, life.get("preStop") or {}
    fn["initializer"] = init.get("handler") or ""
    fn["initializationTimeout"] = init.get("timeout") or 3
    fn["instanceLifecycleConfig"] = {"preFreeze": {"handler": "", "timeout": 3},
                                     "preStop": {"handler": pre.get("handler") or "", "timeout": pre.get("timeout") or 3}}
    gpu = view.get("gpuConfig") or {}
    if gpu.get("gpuType"):
        fn["instanceType"], fn["gpuMemorySize"] = gpu["gpuType"], gpu.get("gpuMemorySize")
    return fn


def engine_service(view: dict, stored: dict) -> dict:
    """The hidden service with the view's service-level settings (absent = FC 2.0's default)."""
    svc = dict(stored)
    for key in SERVICE_LEVEL:
        svc[key] = view.get(key, VIEW_DEFAULTS.get(key, SERVICE_DEFAULTS[key]))
    return svc


# ---- engine -> FC 3.0 response --------------------------------------------------------------------

def function_out(view: dict, fn: dict, *, name: str, arn: str, tags: dict | None, listing: bool = False) -> dict:
    """The Function object (§5.3): defaults always shown, unset optional fields omitted."""
    out = {**VIEW_DEFAULTS, **view}
    out.update(functionName=name, functionId=fn.get("functionId", ""), functionArn=arn,
               codeSize=fn.get("codeSize", 0), codeChecksum=fn.get("codeChecksum", ""),
               createdTime=fn.get("createdTime"), lastModifiedTime=fn.get("lastModifiedTime"))
    out.setdefault("resourceGroupId", _default_group())
    if out.get("customContainerConfig"):
        cc = dict(out["customContainerConfig"])
        cc.setdefault("resolvedImageUri", cc.get("image"))
        cc["accelerationInfo"] = {"status": "Ready"}
        out["customContainerConfig"] = cc
        if not listing:  # images are local: ready at once (fc3 polls these for containers only)
            out.update(state="Active", lastUpdateStatus="Successful")
    if tags:
        out["tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    return out


def _default_group() -> str:
    from emulator.api.fc3.wire import DEFAULT_RESOURCE_GROUP
    return DEFAULT_RESOURCE_GROUP


def view_of_fc2(svc: dict, fn: dict, layers: list[dict]) -> dict:
    """The FC 3.0 view of an FC 2.0 pair (S, G), shown as `S$G` (§8.1)."""
    view = {k: fn[k] for k in ("description", "runtime", "handler", "timeout", "memorySize", "environmentVariables",
                               "diskSize", "instanceConcurrency") if fn.get(k) is not None}
    for k in ("cpu", "customDNS"):
        if fn.get(k):
            view[k] = fn[k]
    for k in SERVICE_LEVEL:
        if k in svc and not _empty(k, svc[k]):
            view[k] = svc[k]
    runtime = fn.get("runtime")
    if runtime in runtimes.CUSTOM:
        crc = fn.get("customRuntimeConfig") or {}
        view["customRuntimeConfig"] = {"command": crc.get("command") or [], "args": crc.get("args") or [],
                                       "port": fn.get("caPort") or 9000}
    if runtime == runtimes.CONTAINER and fn.get("customContainerConfig"):
        cc = fn["customContainerConfig"]
        view["customContainerConfig"] = {
            "image": cc.get("image"), "entrypoint": json.loads(cc["command"]) if cc.get("command") else [],
            "command": json.loads(cc["args"]) if cc.get("args") else [], "port": fn.get("caPort") or 9000,
            "accelerationType": cc.get("accelerationType") or "Default"}
    life: dict = {}
    if fn.get("initializer"):
        life["initializer"] = {"handler": fn["initializer"], "timeout": fn.get("initializationTimeout") or 3}
    pre = ((fn.get("instanceLifecycleConfig") or {}).get("preStop") or {})
    if pre.get("handler"):
        life["preStop"] = {"handler": pre["handler"], "timeout": pre.get("timeout") or 3}
    if life:
        view["instanceLifecycleConfig"] = life
    if layers:
        view["layers"] = layers
    return view
