"""Services (fc-api.md §2.2)."""
from __future__ import annotations

from pydantic import Field

from emulator.model.base import Description, FCModel


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
    description: Description = None
    role: str | None = None
    logConfig: LogConfig | None = None
    vpcConfig: VpcConfig | None = None
    internetAccess: bool | None = None
    nasConfig: NasConfig | None = None
    tracingConfig: TracingConfig | None = None
    ossMountConfig: OssMountConfig | None = None



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
