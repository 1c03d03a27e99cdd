"""Services (fc-api.md §2.2)."""
from __future__ import annotations

from pydantic import Field, field_validator

from emulator.model.base import FCModel


class LogConfig(FCModel):
    project: str = ""
    logstore: str = ""
    enableRequestMetrics: bool = False
    enableInstanceMetrics: bool = False
    logBeginRule: str | None = None


class VpcConfig(FCModel):
    vpcId: str = ""
    vSwitchIds: list[str] = Field(default_factory=list)
    securityGroupId: str = ""
    role: str | None = None


class NasMountPoint(FCModel):
    serverAddr: str = ""
    mountDir: str = ""
    enableTLS: bool = False


class NasConfig(FCModel):
    userId: int = -1
    groupId: int = -1
    mountPoints: list[NasMountPoint] = Field(default_factory=list)


class TracingConfig(FCModel):
    type: str | None = None
    params: dict | None = None


class OssMountPoint(FCModel):
    bucketName: str = ""
    bucketPath: str = ""
    endpoint: str = ""
    mountDir: str = ""
    readOnly: bool = False


class OssMountConfig(FCModel):
    mountPoints: list[OssMountPoint] = Field(default_factory=list)


class ServiceFields(FCModel):
    """Everything but the name: the body of UpdateService, and the rest of CreateService."""
    description: str | None = None
    role: str | None = None
    logConfig: LogConfig | None = None
    vpcConfig: VpcConfig | None = None
    internetAccess: bool | None = None
    nasConfig: NasConfig | None = None
    tracingConfig: TracingConfig | None = None
    ossMountConfig: OssMountConfig | None = None

    @field_validator("description")
    @classmethod
    def _description(cls, v: str | None) -> str | None:
        if v is not None and len(v) > 256:
            raise ValueError(f"description is too long (max: 256, actual: {len(v)})")
        return v


class ServiceCreate(ServiceFields):
    serviceName: str | None = None


SERVICE_DEFAULTS = {
    "description": "",
    "role": "",
    "logConfig": LogConfig().full(),
    "vpcConfig": VpcConfig().full(),
    "internetAccess": True,
    "nasConfig": NasConfig().full(),
    "tracingConfig": TracingConfig().full(),
    "ossMountConfig": OssMountConfig().full(),
    "useSLRAuthentication": False,
}


def apply_service_fields(stored: dict, fields: ServiceFields) -> dict:
    """A partial update: only given keys change; nested configs are replaced whole."""
    out = dict(stored)
    for key, value in fields.given().items():
        model = getattr(fields, key)
        out[key] = model.full() if isinstance(model, FCModel) else value
    return out
