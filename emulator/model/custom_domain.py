"""Custom domains (fc-api.md §2.7). Routes are stored as FC shows them, in order, so the
request-routing code can read `body["routeConfig"]["routes"]` directly."""
from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from emulator.errors import invalid_argument
from emulator.model.base import FCModel
from emulator.model.names import name_error

PROTOCOLS = ("HTTP", "HTTPS", "HTTP,HTTPS")
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS")
TLS_VERSIONS = ("TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
API_VERSION = "2016-08-15"
# An exact path, or a prefix ending in the wildcard segment "/*" (e.g. /login/*).
_ROUTE_PATH = re.compile(r"^/[^*]*(\*)?$")


class RewriteConfig(FCModel):
    equalRules: list[dict] | None = None
    wildcardRules: list[dict] | None = None
    regexRules: list[dict] | None = None


class PathConfig(FCModel):
    path: str | None = None
    serviceName: str | None = None
    functionName: str | None = None
    qualifier: str | None = None
    methods: list[str] | None = None
    rewriteConfig: RewriteConfig | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not _ROUTE_PATH.fullmatch(v) or ("*" in v and not v.endswith("/*")):
            raise ValueError(f"routeConfig path '{v}' is invalid: it must start with '/' and may only end "
                             f"with the wildcard '/*'")
        return v

    @field_validator("methods")
    @classmethod
    def _methods(cls, v: list[str]) -> list[str]:
        for m in v:
            if m.upper() not in HTTP_METHODS:
                raise ValueError(f"routeConfig method '{m}' is invalid (allowed: {', '.join(HTTP_METHODS)})")
        return v

    @model_validator(mode="after")
    def _required(self) -> "PathConfig":
        for key in ("path", "serviceName", "functionName"):
            if not getattr(self, key):
                raise ValueError(f"routeConfig route {key} is required")
        # a route can only ever reach a function by valid names
        problem = name_error("service", self.serviceName, "routeConfig route serviceName") or \
            name_error("function", self.functionName, "routeConfig route functionName")
        if problem:
            raise ValueError(problem)
        return self

    def out(self) -> dict:
        """A route as FC returns it: the four core keys always (qualifier may be null), the rest when set."""
        route = {"path": self.path, "serviceName": self.serviceName, "functionName": self.functionName,
                 "qualifier": self.qualifier}
        if self.methods is not None:
            route["methods"] = list(self.methods)
        if self.rewriteConfig is not None:
            route["rewriteConfig"] = self.rewriteConfig.given()
        return route


class RouteConfig(FCModel):
    routes: list[PathConfig] = Field(default_factory=list)

    @field_validator("routes")
    @classmethod
    def _unique_paths(cls, v: list[PathConfig]) -> list[PathConfig]:
        seen: set[str] = set()
        for route in v:
            if route.path in seen:
                raise ValueError(f"routeConfig path '{route.path}' is duplicated")
            seen.add(route.path)
        return v

    def out(self) -> dict:
        return {"routes": [r.out() for r in self.routes]}


class CertConfig(FCModel):
    certName: str | None = None
    certificate: str | None = None
    privateKey: str | None = None


class TLSConfig(FCModel):
    minVersion: str | None = None
    maxVersion: str | None = None
    cipherSuites: list[str] | None = None

    @field_validator("minVersion", "maxVersion")
    @classmethod
    def _version(cls, v: str) -> str:
        if v not in TLS_VERSIONS:
            raise ValueError(f"tlsConfig version '{v}' is invalid (allowed: {', '.join(TLS_VERSIONS)})")
        return v


class WAFConfig(FCModel):
    enableWAF: bool = False


class DomainFields(FCModel):
    """Body of UpdateCustomDomain (partial), and the rest of CreateCustomDomain."""
    protocol: str | None = None
    routeConfig: RouteConfig | None = None
    certConfig: CertConfig | None = None
    tlsConfig: TLSConfig | None = None
    wafConfig: WAFConfig | None = None

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, v: str) -> str:
        if v not in PROTOCOLS:
            raise ValueError(f"protocol is set to an invalid value (allowed: HTTP, HTTPS, HTTP,HTTPS, actual: '{v}')")
        return v


class DomainCreate(DomainFields):
    domainName: str | None = None


DOMAIN_DEFAULTS = {
    "protocol": "HTTP",
    "apiVersion": API_VERSION,
    "routeConfig": {"routes": []},
    "certConfig": None,
    "tlsConfig": None,
    "wafConfig": None,
}


def apply_domain_fields(stored: dict, fields: DomainFields) -> dict:
    """A partial update: only given keys change; each config is replaced whole. The private key
    is kept out of sight (`_privateKey`) and FC shows `privateKey: null`."""
    out = dict(stored)
    given = fields.given()
    if "protocol" in given:
        out["protocol"] = fields.protocol
    if "routeConfig" in given:
        out["routeConfig"] = fields.routeConfig.out()
    if "tlsConfig" in given:
        out["tlsConfig"] = fields.tlsConfig.given()
    if "wafConfig" in given:
        out["wafConfig"] = fields.wafConfig.full()
    if "certConfig" in given:
        cert = fields.certConfig
        # GET shows privateKey null, so a read-modify-write cycle keeps the stored key.
        key = cert.privateKey or (stored.get("_privateKey") if cert.certificate ==
                                  (stored.get("certConfig") or {}).get("certificate") else None)
        if not cert.certName or not cert.certificate or not key:
            raise invalid_argument("certConfig requires certName, certificate and privateKey")
        if "-----BEGIN" not in cert.certificate or "-----BEGIN" not in key:
            raise invalid_argument("certConfig certificate and privateKey must be PEM encoded")
        out["certConfig"] = {"certName": cert.certName, "certificate": cert.certificate, "privateKey": None}
        out["_privateKey"] = key
    if "HTTPS" in out["protocol"] and not out.get("certConfig"):
        raise invalid_argument(f"certConfig is required when protocol is {out['protocol']}")
    return out
