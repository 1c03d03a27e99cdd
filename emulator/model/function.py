"""Functions (fc-api.md §2.3): the create/update body, defaults and limits."""
from __future__ import annotations

import json
import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from emulator.model import runtimes
from emulator.model.base import FCModel

_ENV_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_RESERVED_ENV = {"accessKeyID", "accessKeySecret", "securityToken", "topic"}
INSTANCE_TYPES = ("e1", "c1", "fc.gpu.tesla.1", "fc.gpu.ampere.1", "g1")


class Code(FCModel):
    zipFile: str | None = None
    ossBucketName: str | None = None
    ossObjectName: str | None = None


class CustomContainerConfig(FCModel):
    image: str | None = None
    command: str | None = None  # a JSON array in a string (§2.3)
    args: str | None = None
    accelerationType: str | None = None
    instanceID: str | None = None
    webServerMode: bool | None = None

    @field_validator("command", "args")
    @classmethod
    def _json_array(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return v
        try:
            parsed = json.loads(v)
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
    description: str | None = None
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
    # Accepted as the seed document lists them (fc-api-notes.md); stored and echoed.
    vpcConfig: dict | None = None
    logConfig: dict | None = None
    nasConfig: dict | None = None
    mountPoints: list[dict] | None = None
    caEnable: bool | None = None
    caFiles: list[dict] | None = None

    @field_validator("description")
    @classmethod
    def _description(cls, v):
        if v is not None and len(v) > 256:
            raise ValueError(f"description is too long (max: 256, actual: {len(v)})")
        return v

    @field_validator("runtime")
    @classmethod
    def _runtime(cls, v):
        if v is not None and v not in runtimes.ALL:
            raise ValueError(runtimes.invalid_runtime_message(v))
        return v

    @field_validator("memorySize")
    @classmethod
    def _memory(cls, v):
        if v is not None and (v < 128 or v > 32768 or v % 64):
            raise ValueError(f"MemorySize is set to an invalid value (allowed: multiples of 64 from 128 to 32768, "
                             f"actual: {v})")
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
            if not _ENV_KEY.match(key):
                raise ValueError(f"environment variable name '{key}' is invalid: it must start with a letter and "
                                 f"contain only letters, digits and '_'")
            if key.startswith("FC_") or key in _RESERVED_ENV:
                raise ValueError(f"environment variable name '{key}' is reserved")
        size = sum(len(k) + len(val) for k, val in v.items())
        if size > 4096:
            raise ValueError(f"environment variables are too large (max: 4096 bytes, actual: {size})")
        return v

    @model_validator(mode="after")
    def _soft_concurrency(self):
        if (self.instanceSoftConcurrency is not None and self.instanceConcurrency is not None
                and self.instanceSoftConcurrency > self.instanceConcurrency):
            raise ValueError("instanceSoftConcurrency must not be greater than instanceConcurrency")
        return self


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
    """Partial update: given keys replace stored ones (nested objects whole); `code` is handled apart."""
    out = dict(stored)
    for key, value in fields.given().items():
        if key == "code":
            continue
        model = getattr(fields, key)
        out[key] = model.full() if isinstance(model, FCModel) else value
    return out
