"""Functions (fc-api.md §2.3): the create/update body, defaults and limits."""
from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from emulator.errors import invalid_argument
from emulator.model import runtimes
from emulator.model.base import Description, FCModel, parse_json
from emulator.model.service import LogConfig, NasConfig, NasMountPoint, VpcConfig

_ENV_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_RESERVED_ENV = {"accessKeyID", "accessKeySecret", "securityToken", "topic"}
INSTANCE_TYPES = ("e1", "c1", "fc.gpu.tesla.1", "fc.gpu.ampere.1", "g1")
MAX_MEMORY = 32768
MAX_E1_MEMORY = 3072  # elastic instances without a cpu setting (§6)
MAX_LAYERS = 5


def memory_message(v: int, limit: int) -> str:
    return (f"MemorySize is set to an invalid value (allowed: multiples of 64 from 128 to {limit}, "
            f"actual: {v})")


class Code(FCModel):
    zipFile: str | None = None
    ossBucketName: str | None = None
    ossObjectName: str | None = None


class CustomContainerConfig(FCModel):
    image: str | None = None
    command: str = ""  # a JSON array in a string (§2.3)
    args: str = ""
    accelerationType: str = "Default"
    instanceID: str = ""
    webServerMode: bool = True

    @field_validator("accelerationType")
    @classmethod
    def _acceleration(cls, v: str) -> str:
        if v not in ("Default", "None"):
            raise ValueError(f"customContainerConfig.accelerationType is set to an invalid value "
                             f"(allowed: Default | None, actual: '{v}')")
        return v

    @field_validator("command", "args")
    @classmethod
    def _json_array(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return v
        try:
            parsed = parse_json(v)
        except ValueError:
            parsed = None
        if not isinstance(parsed, list) or not all(isinstance(x, str) for x in parsed):
            raise ValueError(f"customContainerConfig command/args must be a JSON array of strings, actual: '{v}'")
        return v


class CustomRuntimeConfig(FCModel):
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)


class DnsOption(FCModel):
    name: str = ""
    value: str = ""


class CustomDNS(FCModel):
    nameServers: list[str] = Field(default_factory=list)
    searches: list[str] = Field(default_factory=list)
    dnsOptions: list[DnsOption] = Field(default_factory=list)


class CustomHealthCheckConfig(FCModel):
    httpGetUrl: str = ""
    initialDelaySeconds: int = 0
    periodSeconds: int = 3
    timeoutSeconds: int = 1
    failureThreshold: int = 3
    successThreshold: int = 1


class LifecycleHook(FCModel):
    handler: str = ""
    timeout: int = 3


class InstanceLifecycleConfig(FCModel):
    preFreeze: LifecycleHook | None = None
    preStop: LifecycleHook | None = None


class FunctionFields(FCModel):
    """The body of UpdateFunction; CreateFunction adds the name."""
    description: Description = None
    runtime: str | None = None
    handler: str | None = None
    initializer: str | None = None
    timeout: int | None = Field(default=None, ge=1, le=86400)
    initializationTimeout: int | None = Field(default=None, ge=1, le=300)
    memorySize: int | None = None
    instanceConcurrency: int | None = Field(default=None, ge=1, le=200)
    instanceSoftConcurrency: int | None = Field(default=None, ge=1, le=200)
    instanceType: str | None = None
    code: Code | None = None
    environmentVariables: dict[str, str] | None = None
    customContainerConfig: CustomContainerConfig | None = None
    caPort: int | None = Field(default=None, ge=1, le=65535)
    customRuntimeConfig: CustomRuntimeConfig | None = None
    customDNS: CustomDNS | None = None
    customHealthCheckConfig: CustomHealthCheckConfig | None = None
    instanceLifecycleConfig: InstanceLifecycleConfig | None = None
    layers: list[str] | None = None
    cpu: float | None = None
    diskSize: int | None = None
    gpuMemorySize: int | None = None
    # The seed document lists these for CreateFunction (fc-api-notes.md); FC 2.0 keeps them on
    # the service, so here they are only stored and echoed (nested keys in any case, like services).
    vpcConfig: VpcConfig | None = None
    logConfig: LogConfig | None = None
    nasConfig: NasConfig | None = None
    mountPoints: list[NasMountPoint] | None = None
    caEnable: bool | None = None
    caFiles: list[dict] | None = None


    @field_validator("runtime")
    @classmethod
    def _runtime(cls, v):
        if v is not None and v not in runtimes.ALL:
            raise ValueError(runtimes.invalid_runtime_message(v))
        return v

    @field_validator("memorySize")
    @classmethod
    def _memory(cls, v):
        if v is not None and (v < 128 or v > MAX_MEMORY or v % 64):
            raise ValueError(memory_message(v, MAX_MEMORY))
        return v

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, v):
        if v is not None and not 0.05 <= v <= 16:
            raise ValueError(f"cpu is set to an invalid value (allowed: 0.05 to 16, actual: {v})")
        return v

    @field_validator("layers")
    @classmethod
    def _layers(cls, v):
        if v is not None and len(v) > MAX_LAYERS:
            raise ValueError(f"layers is set to an invalid value: a function can use at most {MAX_LAYERS} "
                             f"layers, actual: {len(v)}")
        return v

    @field_validator("instanceType")
    @classmethod
    def _instance_type(cls, v):
        if v is not None and v not in INSTANCE_TYPES:
            raise ValueError(f"InstanceType is set to an invalid value (allowed: {' | '.join(INSTANCE_TYPES)}, "
                             f"actual: '{v}')")
        return v

    @field_validator("diskSize")
    @classmethod
    def _disk(cls, v):
        if v is not None and v not in (512, 10240):
            raise ValueError(f"DiskSize is set to an invalid value (allowed: 512 | 10240, actual: {v})")
        return v

    @field_validator("environmentVariables")
    @classmethod
    def _env(cls, v):
        if v is None:
            return v
        for key in v:
            if not _ENV_KEY.fullmatch(key):
                raise ValueError(f"environment variable name '{key}' is invalid: it must start with a letter and "
                                 f"contain only letters, digits and '_'")
            if key.startswith("FC_") or key in _RESERVED_ENV:
                raise ValueError(f"environment variable name '{key}' is reserved")
        size = sum(len(k) + len(val) for k, val in v.items())
        if size > 4096:
            raise ValueError(f"environment variables are too large (max: 4096 bytes, actual: {size})")
        return v


class FunctionCreate(FunctionFields):
    functionName: str | None = None


FUNCTION_DEFAULTS: dict[str, Any] = {
    "description": "",
    "initializer": "",
    "timeout": 3,
    "initializationTimeout": 3,
    "memorySize": 128,
    "instanceConcurrency": 1,
    "instanceSoftConcurrency": None,
    "instanceType": "e1",
    "environmentVariables": {},
    "customContainerConfig": None,
    "caPort": 9000,
    "customRuntimeConfig": None,
    "customDNS": None,
    "customHealthCheckConfig": None,
    "instanceLifecycleConfig": {"preFreeze": {"handler": "", "timeout": 3}, "preStop": {"handler": "", "timeout": 3}},
    "layers": [],
    "layersArnV2": [],
    "cpu": None,
    "diskSize": 512,
    "gpuMemorySize": None,
    "codeSize": 0,
    "codeChecksum": "",
}


def apply_function_fields(stored: dict, fields: FunctionFields) -> dict:
    """Partial update: given keys replace stored ones whole (nested objects with their defaults,
    so `environmentVariables: {}` clears); `code` is handled apart."""
    out = fields.merged_into(stored, skip=("code",))
    if out.get("customContainerConfig"):
        out["customContainerConfig"] = {**out["customContainerConfig"], "accelerationInfo": {"status": "Ready"}}
    return out


def check_function(data: dict) -> None:
    """Rules over the merged function (create, or stored + update): FC's full messages."""
    memory, itype = data.get("memorySize"), data.get("instanceType")
    if itype == "e1" and data.get("cpu") is None and memory and memory > MAX_E1_MEMORY:
        raise invalid_argument(memory_message(memory, MAX_E1_MEMORY) + " for instanceType e1")
    soft, hard = data.get("instanceSoftConcurrency"), data.get("instanceConcurrency")
    if soft is not None and hard is not None and soft > hard:
        raise invalid_argument(f"instanceSoftConcurrency ({soft}) must not be greater than "
                               f"instanceConcurrency ({hard})")
