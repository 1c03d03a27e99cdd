"""What `fc-emulator deploy` reads: a Serverless Devs `s.yaml` (the FC 2.0 `fc` component's
service/function/triggers/customDomains, the `fc3` component's function and triggers) or a funcraft
`template.yml` (ROS-style Aliyun::Serverless::Service/Function/CustomDomain with Events), turned into the FC API
requests that create each resource (`Step`s, in dependency order). Code stays a local path here; deploy_cli.py
zips it or hands the folder to the emulator (hot reload)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import yaml

from emulator.devtools.client import FC2, FC3


class SpecError(Exception):
    pass


@dataclass
class Step:
    kind: str  # service | function | trigger | custom domain (FC 2.0); function3 | trigger3 (FC 3.0)
    label: str  # what the output line names
    create_path: str
    body: dict  # the create body; the update body is it without the name fields
    update_path: str
    name_fields: tuple[str, ...] = ()
    code: Path | None = None  # a folder or a zip, put into body["code"] at deploy time
    update_only: tuple[str, ...] | None = None  # keys an update may carry (FC 2.0 triggers)
    url_hint: str = ""  # custom domains: where to reach it locally

    def update_body(self) -> dict:
        body = {k: v for k, v in self.body.items() if k not in self.name_fields}
        if self.update_only is not None:
            body = {k: v for k, v in body.items() if k in self.update_only}
        return body


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _q(name: str) -> str:
    return quote(str(name), safe="")


# ---- loading: YAML with ROS/funcraft tags, Serverless Devs variables

class _Loader(yaml.SafeLoader):
    pass


def _any_tag(loader, suffix, node):  # !Ref, !GetAtt, !Sub, ...: kept as their plain value
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


_Loader.add_multi_constructor("!", _any_tag)

_VAR = re.compile(r"\$\{\s*([^}]+?)\s*\}")
_ENV_CALL = re.compile(r"""env\(\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?\s*(?:,\s*['"]?([^'")]*)['"]?\s*)?\)""")


def _lookup(expr: str, doc: dict):
    m = _ENV_CALL.fullmatch(expr)
    if m:
        return os.environ.get(m.group(1), m.group(2) if m.group(2) is not None else "")
    if expr.startswith("env."):
        return os.environ.get(expr[4:], "")
    if expr.startswith("vars."):
        value = doc.get("vars") or {}
        for part in expr[5:].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            raise SpecError(f"${{{expr}}}: no such variable under vars")
        return value
    raise SpecError(f"${{{expr}}}: only ${{vars.NAME}}, ${{env.NAME}} and ${{env('NAME')}} are understood here")


def _expand(value, doc: dict):
    if isinstance(value, dict):
        return {k: _expand(v, doc) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, doc) for v in value]
    if isinstance(value, str):
        whole = _VAR.fullmatch(value.strip())
        if whole:  # the whole value: keep its type (a number, a map)
            return _expand(_lookup(whole.group(1), doc), doc)
        return _VAR.sub(lambda m: str(_lookup(m.group(1), doc)), value)
    return value


def load(path: Path) -> Plan:
    try:
        doc = yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{path.name}: {exc}") from None
    if not isinstance(doc, dict):
        raise SpecError(f"{path.name}: not a YAML mapping")
    base = path.parent.resolve()
    if "Resources" in doc and ("ROSTemplateFormatVersion" in doc or "Transform" in doc):
        return _funcraft(doc["Resources"] or {}, base)
    doc = {**doc, "vars": _expand(doc.get("vars") or {}, {"vars": {}})}
    items = doc.get("resources") or doc.get("services")
    if not isinstance(items, dict):
        raise SpecError(f"{path.name}: neither an s.yaml (services: or resources:) nor a funcraft template.yml "
                        "(ROSTemplateFormatVersion and Resources:)")
    plan = Plan()
    for key, item in items.items():
        component = str((item or {}).get("component", ""))
        name = component.split("@")[0].rsplit("/", 1)[-1]
        props = _expand((item or {}).get("props") or {}, doc)
        if name in ("fc", "fc-deploy"):
            _fc2_component(props, base, plan)
        elif name == "fc3":
            _fc3_component(props, base, plan)
        else:
            plan.skipped.append(f"{key}: component '{component}' is not emulated")
    return plan


def _path(value, base: Path) -> Path:
    if isinstance(value, dict):  # codeUri: {src: ./code, excludes: [...]}
        value = value.get("src") or value.get("Src") or "."
    return (base / os.path.expanduser(str(value))).resolve()


# ---- Serverless Devs, FC 2.0 `fc` component

# set up in the cloud by the tools when a string (`auto`, `Enable`): nothing to do locally
_STRUCTS = ("logConfig", "vpcConfig", "nasConfig", "tracingConfig", "ossMountConfig")


def _pick(src: dict, keys: tuple[str, ...]) -> dict:
    return {k: src[k] for k in keys if k in src and src[k] is not None
            and not (k in _STRUCTS and not isinstance(src[k], dict))
            and not (k == "role" and not isinstance(src[k], str))}  # role: {name, policies} is made by the tools


_SERVICE_KEYS = ("description", "internetAccess", "role", "logConfig", "vpcConfig", "nasConfig", "tracingConfig",
                 "ossMountConfig")
_FUNCTION_KEYS = ("description", "handler", "runtime", "memorySize", "timeout", "caPort", "customContainerConfig",
                  "customRuntimeConfig", "customDNS", "customHealthCheckConfig", "environmentVariables",
                  "initializationTimeout", "initializer", "instanceConcurrency", "instanceType", "layers",
                  "instanceLifecycleConfig", "cpu", "diskSize", "gpuMemorySize")
_TRIGGER_UPDATE = ("triggerConfig", "qualifier", "description", "invocationRole")


def _fc2_component(props: dict, base: Path, plan: Plan) -> None:
    service = props.get("service") or {}
    svc = service.get("name") or (props.get("function") or {}).get("service")
    if not svc:
        raise SpecError("an fc component needs service.name")
    body = {"serviceName": svc, **_pick(service, _SERVICE_KEYS)}
    plan.steps.append(Step("service", f"service {svc}", f"{FC2}/services", body, f"{FC2}/services/{_q(svc)}",
                           ("serviceName",)))
    function = props.get("function")
    if function:
        _fc2_function(svc, function, base, plan)
        fn = function.get("name")
        for trig in props.get("triggers") or []:
            tbody = {"triggerName": trig.get("name"), "triggerType": str(trig.get("type", "")).lower(),
                     "triggerConfig": trig.get("config") or {}}
            for src, dst in (("qualifier", "qualifier"), ("role", "invocationRole"), ("sourceArn", "sourceArn"),
                             ("description", "description")):
                if trig.get(src):
                    tbody[dst] = trig[src]
            _fc2_trigger(svc, fn, tbody, plan)
    for domain in props.get("customDomains") or []:
        routes = []
        for route in domain.get("routeConfigs") or domain.get("routes") or []:
            r = {"path": route.get("path", "/*"), "serviceName": route.get("serviceName") or svc,
                 "functionName": route.get("functionName") or (function or {}).get("name")}
            for k in ("methods", "qualifier"):
                if route.get(k):
                    r[k] = route[k]
            routes.append(r)
        name = domain.get("domainName") or "auto"
        if name.lower() == "auto":  # FC makes <function>.<service>.<account>.<region>.fc.devsapp.net
            fn0 = routes[0]["functionName"] if routes else "fn"
            name = re.sub(r"[^a-z0-9.-]", "-", f"{fn0}.{svc}.fc.devsapp.net".lower())
        _custom_domain(name, {"protocol": domain.get("protocol", "HTTP"), "routeConfig": {"routes": routes}}, plan)


def _fc2_function(svc: str, function: dict, base: Path, plan: Plan) -> None:
    fn = function.get("name")
    if not fn:
        raise SpecError(f"a function of service {svc} has no name")
    body = {"functionName": fn, **{k: function[k] for k in _FUNCTION_KEYS if k in function}}
    if body.get("layers") is None and function.get("layer"):
        body["layers"] = function["layer"]
    code = None
    if function.get("ossBucket") and function.get("ossKey"):
        body["code"] = {"ossBucketName": function["ossBucket"], "ossObjectName": function["ossKey"]}
    elif function.get("codeUri") or function.get("CodeUri") or not body.get("customContainerConfig"):
        code = _path(function.get("codeUri") or function.get("CodeUri") or ".", base)
    plan.steps.append(Step("function", f"function {svc}/{fn}", f"{FC2}/services/{_q(svc)}/functions", body,
                           f"{FC2}/services/{_q(svc)}/functions/{_q(fn)}", ("functionName",), code=code))


def _fc2_trigger(svc: str, fn: str, body: dict, plan: Plan) -> None:
    name = body["triggerName"]
    if body["triggerType"] == "http" and isinstance(body["triggerConfig"].get("authType"), str):
        body["triggerConfig"]["authType"] = body["triggerConfig"]["authType"].lower()
    plan.steps.append(Step("trigger", f"trigger {svc}/{fn}/{name}",
                           f"{FC2}/services/{_q(svc)}/functions/{_q(fn)}/triggers", body,
                           f"{FC2}/services/{_q(svc)}/functions/{_q(fn)}/triggers/{_q(name)}",
                           ("triggerName", "triggerType"), update_only=_TRIGGER_UPDATE))


def _custom_domain(name: str, body: dict, plan: Plan) -> None:
    plan.steps.append(Step("custom domain", f"custom domain {name}", f"{FC2}/custom-domains",
                           {"domainName": name, **body}, f"{FC2}/custom-domains/{_q(name)}", ("domainName",)))


# ---- Serverless Devs, FC 3.0 `fc3` component

_FC3_KEYS = ("description", "runtime", "handler", "memorySize", "timeout", "cpu", "diskSize", "environmentVariables",
             "instanceConcurrency", "layers", "customRuntimeConfig", "customContainerConfig", "customDNS",
             "initializer", "initializationTimeout", "instanceLifecycleConfig", "internetAccess", "role",
             "logConfig", "vpcConfig", "nasConfig", "ossMountConfig", "gpuConfig", "tracingConfig", "tags")


def _fc3_component(props: dict, base: Path, plan: Plan) -> None:
    fn = props.get("functionName")
    if not fn:
        raise SpecError("an fc3 component needs functionName")
    body = {"functionName": fn, **_pick(props, _FC3_KEYS)}
    code = None
    if isinstance(props.get("code"), dict) and props["code"].get("ossBucketName"):
        body["code"] = props["code"]
    elif props.get("code") or not body.get("customContainerConfig"):
        code = _path(props.get("code") or ".", base)
    plan.steps.append(Step("function3", f"function {fn} (FC 3.0)", f"{FC3}/functions", body,
                           f"{FC3}/functions/{_q(fn)}", ("functionName",), code=code))
    for trig in props.get("triggers") or []:
        name = trig.get("triggerName")
        cfg = trig.get("triggerConfig") or {}
        if str(trig.get("triggerType", "")).lower() == "http" and isinstance(cfg.get("authType"), str):
            cfg = {**cfg, "authType": cfg["authType"].lower()}
        tbody = {"triggerName": name, "triggerType": str(trig.get("triggerType", "")).lower(),
                 "triggerConfig": cfg, **{k: trig[k] for k in ("qualifier", "description", "invocationRole",
                                                              "sourceArn") if trig.get(k)}}
        plan.steps.append(Step("trigger3", f"trigger {fn}/{name} (FC 3.0)", f"{FC3}/functions/{_q(fn)}/triggers",
                               tbody, f"{FC3}/functions/{_q(fn)}/triggers/{_q(name)}", ("triggerName", "triggerType"),
                               update_only=("triggerConfig", "qualifier", "description", "invocationRole")))
    if props.get("customDomain"):
        plan.skipped.append(f"{fn}: the fc3 component's customDomain (use an fc component's customDomains)")


# ---- funcraft template.yml (ROS: Aliyun::Serverless-2018-04-03)

_EVENT_TYPES = {"http": "http", "timer": "timer", "oss": "oss", "log": "log", "mnstopic": "mns_topic",
                "tablestore": "tablestore", "cdn": "cdn_events", "rds": "rds", "eventbridge": "eventbridge"}
_FUN_FUNCTION = {"Handler": "handler", "Runtime": "runtime", "Description": "description", "Timeout": "timeout",
                 "MemorySize": "memorySize", "Initializer": "initializer", "InitializationTimeout":
                 "initializationTimeout", "InstanceConcurrency": "instanceConcurrency", "CAPort": "caPort",
                 "InstanceType": "instanceType", "Layers": "layers", "EnvironmentVariables": "environmentVariables",
                 "CustomContainerConfig": "customContainerConfig", "InstanceLifecycleConfig":
                 "instanceLifecycleConfig", "CustomDNS": "customDNS"}


def _camel(value):
    """ROS property names (PascalCase) to FC's (camelCase), all the way down."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:] if isinstance(k, str) else k): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _funcraft(resources: dict, base: Path) -> Plan:
    plan = Plan()
    domains = []
    for svc, res in resources.items():
        kind = (res or {}).get("Type", "")
        if kind == "Aliyun::Serverless::CustomDomain":
            domains.append((svc, res.get("Properties") or {}))
            continue
        if kind != "Aliyun::Serverless::Service":
            plan.skipped.append(f"{svc}: {kind or 'a resource without Type'} is not emulated")
            continue
        props = _camel(res.get("Properties") or {})
        body = {"serviceName": svc, **_pick(props, _SERVICE_KEYS)}
        plan.steps.append(Step("service", f"service {svc}", f"{FC2}/services", body, f"{FC2}/services/{_q(svc)}",
                               ("serviceName",)))
        for fn, fres in res.items():
            if not isinstance(fres, dict) or fres.get("Type") != "Aliyun::Serverless::Function":
                continue
            fprops = fres.get("Properties") or {}
            function = {"name": fn, **{dst: fprops[src] for src, dst in _FUN_FUNCTION.items() if src in fprops}}
            if function.get("customContainerConfig"):
                function["customContainerConfig"] = _camel(function["customContainerConfig"])
            if fprops.get("CodeUri"):
                function["codeUri"] = fprops["CodeUri"]
            _fc2_function(svc, function, base, plan)
            for tname, event in (fres.get("Events") or {}).items():
                ttype = _EVENT_TYPES.get(str(event.get("Type", "")).lower().replace("_", ""))
                if not ttype:
                    plan.skipped.append(f"{svc}/{fn}/{tname}: event type {event.get('Type')} is not emulated")
                    continue
                cfg = _camel(event.get("Properties") or {})
                tbody = {"triggerName": tname, "triggerType": ttype}
                for k in ("qualifier", "invocationRole", "sourceArn"):
                    if cfg.get(k):
                        tbody[k] = cfg.pop(k)
                    else:
                        cfg.pop(k, None)
                tbody["triggerConfig"] = cfg
                _fc2_trigger(svc, fn, tbody, plan)
    for name, props in domains:
        routes = []
        for path, route in ((props.get("RouteConfig") or {}).get("routes") or {}).items():
            routes.append({"path": path, **_camel(route)})
        _custom_domain(name, {"protocol": props.get("Protocol", "HTTP"), "routeConfig": {"routes": routes}}, plan)
    return plan
