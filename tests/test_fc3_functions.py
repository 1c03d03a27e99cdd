"""FC 3.0 (2023-03-30) functions, InvokeFunction, versions and aliases through the official Python SDK
`alibabacloud-fc20230330` (fc3-api.md §4.1-4.3, §5, §6, §9.7), plus plain HTTP for what the SDK hides
(error shape on unknown routes, ACS3 strict mode). Every SDK response is deserialised by the SDK's models."""
from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
import requests
from alibabacloud_fc20230330 import models as m
from alibabacloud_fc20230330.client import Client
from alibabacloud_openapi_util.client import Client as OpenApiUtil
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config
from darabonba.runtime import RuntimeOptions

from tests.helpers import AK_ID, AK_SECRET, Server, make_zip, zip_b64

PY_CODE = {"index.py": (
    "import os\n"
    "def handler(event, context):\n"
    "    print('log line for ' + event.decode())\n"
    "    if event == b'fail':\n"
    "        raise ValueError('boom')\n"
    "    return 'hello ' + event.decode() + ' ' + os.environ.get('GREETING', '-') + ' ' + context.function.name\n")}


class Fc3Client(Client):
    """The SDK's client, in a test's own account: FC 3.0 resolves the account from X-Fc-Account-Id
    when the Host names none (fc3-api.md §0), so tests sharing one emulator stay apart."""

    def __init__(self, config: Config, account: str):
        super().__init__(config)
        self._account = account

    def call_api(self, params, request, runtime):
        request.headers = {**(request.headers or {}), "x-fc-account-id": self._account}
        return super().call_api(params, request, runtime)


def sdk(server: Server, account: str, ak: str = AK_ID, secret: str = AK_SECRET) -> Fc3Client:
    return Fc3Client(Config(endpoint=f"127.0.0.1:{server.port}", protocol="http", access_key_id=ak,
                            access_key_secret=secret, region_id="cn-hangzhou", read_timeout=60000), account)


@pytest.fixture
def c3(server, account):
    return sdk(server, account)


@pytest.fixture
def e3(exec_server, account):
    return sdk(exec_server, account)


def create(client, name: str, files=None, runtime="python3.10", **fields) -> m.Function:
    body = m.CreateFunctionInput(function_name=name, runtime=runtime, handler=fields.pop("handler", "index.handler"),
                                 code=m.InputCodeLocation(zip_file=zip_b64(files or PY_CODE)), **fields)
    r = client.create_function(m.CreateFunctionRequest(body=body))
    assert r.status_code == 200
    return r.body


def get(client, name: str, qualifier: str | None = None) -> m.Function:
    return client.get_function(name, m.GetFunctionRequest(qualifier=qualifier)).body


def invoke(client, name: str, payload: bytes = b"", qualifier: str | None = None, **headers):
    return client.invoke_function_with_options(name, m.InvokeFunctionRequest(body=payload, qualifier=qualifier),
                                               m.InvokeFunctionHeaders(**headers), RuntimeOptions())


def api_error(call) -> dict:
    """The 4xx of an SDK call: the SDK parsed Code/Message/RequestId from FC 3.0's error body."""
    with pytest.raises(ClientException) as info:
        call()
    exc = info.value
    assert exc.code and exc.message and exc.request_id, exc
    assert set(exc.data) >= {"Code", "Message", "RequestId", "statusCode"}
    assert "fc3:" not in exc.message  # the hidden service never shows
    return {"status": exc.status_code, "code": exc.code, "message": exc.data["Message"]}


def raw(server: Server, account: str, method: str, path: str, **kw) -> requests.Response:
    headers = {"x-fc-account-id": account, **kw.pop("headers", {})}
    return requests.request(method, f"{server.url}/2023-03-30{path}", headers=headers, timeout=60, **kw)


def wait_idle(server: Server) -> None:
    assert requests.post(f"{server.url}/_emulator/wait-idle?timeout=60", timeout=70).status_code == 200


# ---- the SDK smoke sequence (§9.7), on both backends ---------------------------------------------

def test_sdk_smoke_sequence(e3, exec_server, account):
    created = create(e3, "smoke", environment_variables={"GREETING": "v1"}, memory_size=256, timeout=10,
                     description="first")
    assert created.function_name == "smoke" and created.memory_size == 256 and created.description == "first"
    assert created.function_arn.endswith(f":{account}:functions/smoke")
    assert created.code_checksum and created.code_size > 0 and created.role == ""
    create(e3, "smoke2")

    got = get(e3, "smoke")
    assert got.to_map() == created.to_map()

    page1 = e3.list_functions(m.ListFunctionsRequest(prefix="smoke", limit=1)).body
    assert [f.function_name for f in page1.functions] == ["smoke"] and page1.next_token
    page2 = e3.list_functions(m.ListFunctionsRequest(prefix="smoke", limit=1, next_token=page1.next_token)).body
    assert [f.function_name for f in page2.functions] == ["smoke2"] and page2.next_token is None

    updated = e3.update_function("smoke", m.UpdateFunctionRequest(body=m.UpdateFunctionInput(
        environment_variables={"GREETING": "v2"}))).body
    assert updated.environment_variables == {"GREETING": "v2"} and updated.memory_size == 256
    assert updated.created_time == created.created_time and updated.description == "first"

    r = invoke(e3, "smoke", b"world", x_fc_log_type="Tail")
    assert r.status_code == 200 and r.body.read() == b"hello world v2 smoke"
    assert r.headers["x-fc-request-id"].startswith("1-")
    assert r.headers["x-fc-invocation-service-version"] == "LATEST"
    assert r.headers["x-fc-code-checksum"] == created.code_checksum and r.headers["x-fc-instance-id"]
    assert "log line for world" in base64.b64decode(r.headers["x-fc-log-result"]).decode()
    assert "x-fc-error-type" not in r.headers

    failed = invoke(e3, "smoke", b"fail")
    assert failed.status_code == 200 and failed.headers["x-fc-error-type"] == "UnhandledInvocationError"
    err = json.loads(failed.body.read())
    assert err["errorType"] == "ValueError" and err["errorMessage"] == "boom"

    a = invoke(e3, "smoke", b"async", x_fc_invocation_type="Async")
    assert a.status_code == 202 and a.body.read() == b""
    task = "task_" + uuid.uuid4().hex[:8]
    t = invoke(e3, "smoke", b"tasked", x_fc_invocation_type="Async", x_fc_async_task_id=task)
    assert t.status_code == 202 and t.headers["x-fc-async-task-id"] == task
    wait_idle(exec_server)
    recs = requests.get(f"{exec_server.url}/_emulator/invocations?function=smoke",
                        headers={"x-fc-account-id": account}, timeout=30).json()["invocations"]
    assert {r["requestId"] for r in recs} >= {r.headers["x-fc-request-id"], a.headers["x-fc-request-id"]}
    assert {r["serviceName"] for r in recs} == {"fc3:smoke"}
    assert any(r["kind"] == "async" and r["status"] == "succeeded" for r in recs), recs

    v1 = e3.publish_function_version("smoke", m.PublishFunctionVersionRequest(
        body=m.PublishVersionInput(description="v one"))).body
    assert v1.version_id == "1" and v1.description == "v one"
    alias = e3.create_alias("smoke", m.CreateAliasRequest(body=m.CreateAliasInput(alias_name="prod", version_id="1"))).body
    assert alias.alias_name == "prod" and alias.version_id == "1"
    e3.update_function("smoke", m.UpdateFunctionRequest(body=m.UpdateFunctionInput(
        environment_variables={"GREETING": "v3"})))
    assert get(e3, "smoke", "prod").environment_variables == {"GREETING": "v2"}
    assert get(e3, "smoke").environment_variables == {"GREETING": "v3"}
    r = invoke(e3, "smoke", b"x", qualifier="prod")
    assert r.body.read() == b"hello x v2 smoke" and r.headers["x-fc-invocation-service-version"] == "1"
    assert invoke(e3, "smoke", b"x").body.read() == b"hello x v3 smoke"

    code = e3.get_function_code("smoke", m.GetFunctionCodeRequest(qualifier="1")).body
    assert code.checksum == created.code_checksum and requests.get(code.url, timeout=30).content[:2] == b"PK"

    # delete in reverse; then every call is a 404 carrying Code
    e3.delete_alias("smoke", "prod")
    e3.delete_function_version("smoke", "1")
    assert e3.delete_function("smoke").status_code == 204
    e3.delete_function("smoke2")
    assert api_error(lambda: get(e3, "smoke"))["code"] == "FunctionNotFound"
    assert api_error(lambda: invoke(e3, "smoke", b"x"))["code"] == "FunctionNotFound"
    assert e3.list_functions(m.ListFunctionsRequest(prefix="smoke")).body.functions == []


def test_invoke_errors_and_qualifiers(e3):
    create(e3, "inv")
    assert api_error(lambda: invoke(e3, "inv", b"", qualifier="9")) == {
        "status": 404, "code": "VersionNotFound", "message": "version '9' of function 'inv' does not exist"}
    assert api_error(lambda: invoke(e3, "inv", b"", qualifier="nope"))["code"] == "AliasNotFound"
    assert api_error(lambda: invoke(e3, "inv", b"", x_fc_invocation_type="Async", x_fc_log_type="Tail"))[
        "code"] == "InvalidArgument"
    assert api_error(lambda: invoke(e3, "inv", b"", x_fc_invocation_type="Later"))["code"] == "InvalidArgument"
    assert api_error(lambda: invoke(e3, "inv", b"", x_fc_invocation_type="Async", x_fc_async_task_id="9bad"))[
        "code"] == "InvalidArgument"
    assert api_error(lambda: invoke(e3, "ghost", b""))["message"] == "function 'ghost' does not exist"


def test_alias_weights_route_invocations(e3):
    create(e3, "canary", environment_variables={"GREETING": "one"})
    e3.publish_function_version("canary", m.PublishFunctionVersionRequest(body=m.PublishVersionInput()))
    e3.update_function("canary", m.UpdateFunctionRequest(body=m.UpdateFunctionInput(
        environment_variables={"GREETING": "two"})))
    e3.publish_function_version("canary", m.PublishFunctionVersionRequest(body=m.PublishVersionInput()))
    e3.create_alias("canary", m.CreateAliasRequest(body=m.CreateAliasInput(
        alias_name="live", version_id="1", additional_version_weight={"2": 1.0})))
    for _ in range(3):  # weight 1 on version 2: every call runs version 2
        r = invoke(e3, "canary", b"c", qualifier="live")
        assert r.body.read() == b"hello c two canary" and r.headers["x-fc-invocation-service-version"] == "2"
    e3.update_alias("canary", "live", m.UpdateAliasRequest(body=m.UpdateAliasInput(additional_version_weight={})))
    r = invoke(e3, "canary", b"c", qualifier="live")
    assert r.body.read() == b"hello c one canary" and r.headers["x-fc-invocation-service-version"] == "1"


# ---- the Function resource (§5) -------------------------------------------------------------------

def test_minimal_function_shape(c3, server, account):
    """§5.3: defaults always shown, unset optional fields omitted (fc3's deploy output compares exactly)."""
    create(c3, "plain", runtime="python3.9", memory_size=128, timeout=60)
    body = raw(server, account, "GET", "/functions/plain").json()
    assert {k: body[k] for k in ("description", "role", "internetAccess", "disableOndemand", "instanceIsolationMode",
                                 "sessionAffinity", "memorySize", "timeout", "environmentVariables")} == {
        "description": "", "role": "", "internetAccess": True, "disableOndemand": False,
        "instanceIsolationMode": "SHARE", "sessionAffinity": "NONE", "memorySize": 128, "timeout": 60,
        "environmentVariables": {}}
    for absent in ("cpu", "diskSize", "instanceConcurrency", "layers", "tags", "customDNS", "customRuntimeConfig",
                   "customContainerConfig", "instanceLifecycleConfig", "gpuConfig", "state", "lastUpdateStatus",
                   "vpcConfig", "logConfig", "nasConfig", "tracingConfig", "code"):
        assert absent not in body, absent
    assert body["functionId"] and body["resourceGroupId"] and body["createdTime"].endswith("Z")


FULL = {
    "functionName": "full", "runtime": "custom.debian10", "handler": "index.handler", "description": "all fields",
    "code": {"zipFile": zip_b64({"bootstrap": "#!/bin/sh\n"})}, "cpu": 0.5, "memorySize": 1024, "diskSize": 10240,
    "timeout": 30, "instanceConcurrency": 10, "environmentVariables": {"A": "1"},
    "customRuntimeConfig": {"command": ["python3", "app.py"], "args": ["--x"], "port": 8080,
                            "healthCheckConfig": {"httpGetUrl": "/ready", "periodSeconds": 5}},
    "customDNS": {"nameServers": ["1.1.1.1"], "searches": [], "dnsOptions": [{"name": "ndots", "value": "2"}]},
    "instanceLifecycleConfig": {"initializer": {"handler": "index.init", "timeout": 5},
                                "preStop": {"handler": "index.stop", "timeout": 2}},
    "role": "acs:ram::123:role/fc", "logConfig": {"project": "p", "logstore": "s", "enableRequestMetrics": True,
                                                   "enableLlmMetrics": True, "logBeginRule": "DefaultRegex"},
    "vpcConfig": {"vpcId": "vpc-1", "vSwitchIds": ["vsw-1"], "securityGroupId": "sg-1"},
    "nasConfig": {"userId": 10, "groupId": 10, "mountPoints": [{"serverAddr": "nas:/", "mountDir": "/mnt/nas",
                                                                  "enableTLS": False}]},
    "ossMountConfig": {"mountPoints": [{"bucketName": "bkt", "bucketPath": "/", "endpoint": "http://oss",
                                        "mountDir": "/mnt/oss", "readOnly": True}]},
    "tracingConfig": {"type": "Jaeger", "params": {"endpoint": "http://jaeger"}}, "internetAccess": False,
    "disableOndemand": True, "instanceIsolationMode": "SESSION_EXCLUSIVE", "sessionAffinity": "GENERATED_COOKIE",
    "sessionAffinityConfig": "{\"cookieName\":\"c\"}", "idleTimeout": 60, "enableLongLiving": True,
    "disableInjectCredentials": "Env", "resourceGroupId": "rg-x", "tags": [{"Key": "team", "Value": "a"}],
}


def test_every_field_round_trips(c3, server, account):
    r = raw(server, account, "POST", "/functions", json=FULL)
    assert r.status_code == 200, r.text
    body = raw(server, account, "GET", "/functions/full").json()
    for key, value in FULL.items():
        if key not in ("code", "tags"):
            assert body[key] == value, key
    assert body["tags"] == [{"Key": "team", "Value": "a"}]
    # ... and through the SDK's models
    f = get(c3, "full")
    assert f.custom_runtime_config.port == 8080 and f.instance_lifecycle_config.pre_stop.handler == "index.stop"
    assert f.log_config.enable_llm_metrics is True and f.tags[0].key == "team"


def test_update_is_partial_and_empty_configs_clear(c3, server, account):
    r = raw(server, account, "POST", "/functions", json={**FULL, "functionName": "upd"})
    assert r.status_code == 200, r.text
    before = get(c3, "upd")
    # fc3's deploy sends a whole block of "empty" configs: they mean "not configured"
    after = c3.update_function("upd", m.UpdateFunctionRequest(body=m.UpdateFunctionInput(
        environment_variables={"B": "2"}, vpc_config=m.VPCConfig(vpc_id="", v_switch_ids=[], security_group_id=""),
        nas_config=m.NASConfig(user_id=0, group_id=0, mount_points=[]), tracing_config=m.TracingConfig(),
        log_config=m.LogConfig(project="", logstore="", log_begin_rule="None"), layers=[]))).body
    assert after.environment_variables == {"B": "2"}  # replaced whole
    assert after.vpc_config is None and after.nas_config is None and after.log_config is None
    assert after.tracing_config is None and not after.layers
    assert after.custom_runtime_config.to_map() == before.custom_runtime_config.to_map()  # untouched
    assert after.memory_size == 1024 and after.role == "acs:ram::123:role/fc"
    assert after.created_time == before.created_time and after.function_id == before.function_id


ERROR_CASES = [
    ("POST", "/functions", {"functionName": "bad name", "runtime": "python3.10", "handler": "i.h",
                            "code": {"zipFile": zip_b64(PY_CODE)}}, 400, "InvalidArgument"),
    ("POST", "/functions", {"functionName": "a$b", "runtime": "python3.10", "handler": "i.h",
                            "code": {"zipFile": zip_b64(PY_CODE)}}, 400, "InvalidArgument"),
    ("POST", "/functions", {"functionName": "x1", "runtime": "cobol", "handler": "i.h",
                            "code": {"zipFile": zip_b64(PY_CODE)}}, 400, "InvalidArgument"),
    ("POST", "/functions", {"functionName": "x2", "runtime": "python3.10", "handler": "i.h"}, 400, "InvalidArgument"),
    ("POST", "/functions", {"functionName": "x3", "runtime": "python3.10", "handler": "i.h", "memorySize": 100,
                            "code": {"zipFile": zip_b64(PY_CODE)}}, 400, "InvalidArgument"),
    ("POST", "/functions", {"functionName": "x4", "runtime": "python3.10", "handler": "i.h", "cpu": 2,
                            "memorySize": 512, "code": {"zipFile": zip_b64(PY_CODE)}}, 400, "InvalidArgument"),
    ("POST", "/functions", {"functionName": "x5", "runtime": "python3.10", "handler": "i.h",
                            "code": {"zipFile": "not base64!"}}, 400, "InvalidArgument"),
    ("POST", "/functions", {"functionName": "x6", "runtime": "python3.10", "handler": "i.h", "timeout": "3",
                            "code": {"zipFile": zip_b64(PY_CODE)}}, 400, "InvalidArgument"),
    ("POST", "/functions", {"functionName": "x7", "runtime": "python3.10", "handler": "i.h",
                            "code": {"zipFile": zip_b64(PY_CODE), "checksum": "123"}}, 400, "InvalidArgument"),
    ("POST", "/functions", {"functionName": "x8", "runtime": "python3.10", "handler": "i.h",
                            "layers": ["acs:fc:cn-hangzhou:1:layers/none/versions/1"],
                            "code": {"zipFile": zip_b64(PY_CODE)}}, 400, "InvalidArgument"),
    ("POST", "/functions", {"functionName": "keep", "runtime": "python3.10", "handler": "i.h",
                            "code": {"zipFile": zip_b64(PY_CODE)}}, 409, "FunctionAlreadyExists"),
    ("PUT", "/functions/keep", {"memorySize": 130}, 400, "InvalidArgument"),
    ("PUT", "/functions/keep", {"runtime": "custom-container"}, 400, "InvalidArgument"),
    ("PUT", "/functions/keep", {"instanceLifecycleConfig": {"initializer": {"handler": "a.b", "command": ["x"]}}},
     400, "InvalidArgument"),
    ("PUT", "/functions/ghost", {"memorySize": 256}, 404, "FunctionNotFound"),
    ("DELETE", "/functions/ghost", None, 404, "FunctionNotFound"),
    ("GET", "/functions/keep?qualifier=7", None, 404, "VersionNotFound"),
    ("GET", "/functions/keep?qualifier=blue", None, 404, "AliasNotFound"),
    ("GET", "/functions?limit=0", None, 400, "InvalidArgument"),
    ("GET", "/functions?fcVersion=v4", None, 400, "InvalidArgument"),
    ("POST", "/functions/keep/versions", {"description": "x" * 300}, 400, "InvalidArgument"),
    ("DELETE", "/functions/keep/versions/9", None, 404, "VersionNotFound"),
    ("GET", "/functions/keep/versions?direction=UP", None, 400, "InvalidArgument"),
    ("POST", "/functions/keep/aliases", {"aliasName": "a1", "versionId": "5"}, 404, "VersionNotFound"),
    ("POST", "/functions/keep/aliases", {"aliasName": "LATEST", "versionId": "1"}, 400, "InvalidArgument"),
    ("POST", "/functions/keep/aliases", {"aliasName": "a2"}, 400, "InvalidArgument"),
    ("GET", "/functions/keep/aliases/none", None, 404, "AliasNotFound"),
    ("PUT", "/functions/keep/aliases/none", {"versionId": "1"}, 404, "AliasNotFound"),
    ("DELETE", "/functions/keep/aliases/none", None, 404, "AliasNotFound"),
    ("POST", "/functions/ghost/invocations", None, 404, "FunctionNotFound"),
    ("POST", "/functions", "{not json", 400, "InvalidArgument"),
    ("GET", "/nothing/here", None, 400, "PathNotSupported"),
    ("PATCH", "/functions/keep", None, 400, "PathNotSupported"),
]


def test_every_4xx_has_code_and_changes_nothing(c3, server, account):
    create(c3, "keep")
    c3.publish_function_version("keep", m.PublishFunctionVersionRequest(body=m.PublishVersionInput()))
    c3.create_alias("keep", m.CreateAliasRequest(body=m.CreateAliasInput(alias_name="stable", version_id="1")))

    def state():
        return (raw(server, account, "GET", "/functions").json(), raw(server, account, "GET", "/functions/keep").json(),
                raw(server, account, "GET", "/functions/keep/versions").json(),
                raw(server, account, "GET", "/functions/keep/aliases").json())

    before = state()
    for method, path, body, status, code in ERROR_CASES:
        kw = {"data": body} if isinstance(body, str) else {"json": body} if body is not None else {}
        r = raw(server, account, method, path, **kw)
        assert r.status_code == status, (method, path, r.text)
        err = r.json()
        assert set(err) == {"Code", "Message", "RequestId"}, err
        assert err["Code"] == code and err["Message"] and "fc3:" not in err["Message"], (path, err)
        assert err["RequestId"] == r.headers["x-fc-request-id"] and err["RequestId"].startswith("1-")
    assert state() == before
    # the weights rule of FC 2.0 aliases holds (and is reported through the SDK as a 4xx with a code)
    e = api_error(lambda: c3.update_alias("keep", "stable", m.UpdateAliasRequest(
        body=m.UpdateAliasInput(additional_version_weight={"1": 0.5}))))
    assert e["code"] == "AdditionalVersionContainsMajorVersion"
    assert state() == before


def test_versions_and_aliases(c3):
    create(c3, "ver")
    assert c3.list_function_versions("ver", m.ListFunctionVersionsRequest()).body.versions == []
    for i in range(3):
        c3.update_function("ver", m.UpdateFunctionRequest(body=m.UpdateFunctionInput(description=f"d{i}")))
        v = c3.publish_function_version("ver", m.PublishFunctionVersionRequest(
            body=m.PublishVersionInput(description=f"v{i}"))).body
        assert v.version_id == str(i + 1) and v.created_time and v.last_modified_time
    # an UpdateFunction with the same values still counts as a change (fc3's deploy, then publish)
    c3.update_function("ver", m.UpdateFunctionRequest(body=m.UpdateFunctionInput(description="d2")))
    assert c3.publish_function_version("ver", m.PublishFunctionVersionRequest(
        body=m.PublishVersionInput())).body.version_id == "4"
    assert api_error(lambda: c3.publish_function_version("ver", m.PublishFunctionVersionRequest(
        body=m.PublishVersionInput())))["code"] == "InvalidArgument"  # nothing changed since 4
    back = c3.list_function_versions("ver", m.ListFunctionVersionsRequest(limit=2)).body
    assert [v.version_id for v in back.versions] == ["4", "3"] and back.direction == "BACKWARD"
    rest = c3.list_function_versions("ver", m.ListFunctionVersionsRequest(limit=2, next_token=back.next_token)).body
    assert [v.version_id for v in rest.versions] == ["2", "1"] and rest.next_token is None
    fwd = c3.list_function_versions("ver", m.ListFunctionVersionsRequest(direction="FORWARD")).body
    assert [v.version_id for v in fwd.versions] == ["1", "2", "3", "4"]
    assert get(c3, "ver", "2").description == "d1" and get(c3, "ver", "2").function_name == "ver"

    a = c3.create_alias("ver", m.CreateAliasRequest(body=m.CreateAliasInput(
        alias_name="blue", version_id="2", description="b", additional_version_weight={"3": 0.25}))).body
    assert (a.alias_name, a.version_id, a.description, a.additional_version_weight) == ("blue", "2", "b", {"3": 0.25})
    assert api_error(lambda: c3.create_alias("ver", m.CreateAliasRequest(body=m.CreateAliasInput(
        alias_name="blue", version_id="1"))))["code"] == "AliasAlreadyExists"
    c3.create_alias("ver", m.CreateAliasRequest(body=m.CreateAliasInput(alias_name="green", version_id="1")))
    u = c3.update_alias("ver", "blue", m.UpdateAliasRequest(body=m.UpdateAliasInput(version_id="4"))).body
    assert u.version_id == "4" and u.additional_version_weight == {"3": 0.25} and u.description == "b"
    assert c3.get_alias("ver", "blue").body.to_map() == u.to_map()
    page = c3.list_aliases("ver", m.ListAliasesRequest(limit=1)).body
    assert [x.alias_name for x in page.aliases] == ["blue"] and page.next_token == "green"
    assert [x.alias_name for x in c3.list_aliases("ver", m.ListAliasesRequest(prefix="gr")).body.aliases] == ["green"]
    assert get(c3, "ver", "blue").description == "d2"
    assert c3.delete_alias("ver", "green").status_code == 204
    assert c3.delete_function_version("ver", "1").status_code == 204
    assert [v.version_id for v in c3.list_function_versions("ver", m.ListFunctionVersionsRequest()).body.versions] == [
        "4", "3", "2"]
    # DeleteFunction takes the versions and aliases with it; a new function of that name starts afresh
    c3.delete_function("ver")
    create(c3, "ver")
    assert c3.list_function_versions("ver", m.ListFunctionVersionsRequest()).body.versions == []
    assert c3.list_aliases("ver", m.ListAliasesRequest()).body.aliases == []
    c3.update_function("ver", m.UpdateFunctionRequest(body=m.UpdateFunctionInput(description="new")))
    assert c3.publish_function_version("ver", m.PublishFunctionVersionRequest(
        body=m.PublishVersionInput())).body.version_id == "1"


# ---- FC 2.0 and FC 3.0 on one engine (§8.1) -------------------------------------------------------

def test_fc2_pairs_show_as_service_dollar_function(c3, fc, server, account):
    fc.create_service("svc2")
    r = requests.post(f"{server.url}/2016-08-15/services/svc2/functions", headers={"x-fc-account-id": account},
                      json={"functionName": "g", "runtime": "python3.10", "handler": "index.handler",
                            "code": {"zipFile": zip_b64(PY_CODE)}})
    assert r.status_code == 200, r.text
    create(c3, "native")
    everything = [f.function_name for f in c3.list_functions(m.ListFunctionsRequest()).body.functions]
    assert everything == ["native", "svc2$g"]
    assert [f.function_name for f in c3.list_functions(m.ListFunctionsRequest(fc_version="v3")).body.functions] == [
        "native"]
    assert [f.function_name for f in c3.list_functions(m.ListFunctionsRequest(fc_version="v2")).body.functions] == [
        "svc2$g"]
    pair = get(c3, "svc2$g")
    assert pair.function_name == "svc2$g" and pair.runtime == "python3.10"
    assert pair.function_arn.endswith(":functions/svc2$g")
    assert api_error(lambda: c3.delete_function("svc2$g"))["code"] == "InvalidArgument"
    assert api_error(lambda: get(c3, "svc2$nope"))["code"] == "FunctionNotFound"
    # FC 2.0 never sees the hidden service of an FC 3.0 function
    services = requests.get(f"{server.url}/2016-08-15/services", headers={"x-fc-account-id": account}).json()
    assert [s["serviceName"] for s in services["services"]] == ["svc2"]
    r = requests.get(f"{server.url}/2016-08-15/services/fc3:native/functions/native",
                     headers={"x-fc-account-id": account})
    assert r.status_code == 404 and r.json()["ErrorCode"] == "ServiceNotFound"
    r = requests.post(f"{server.url}/2016-08-15/services/fc3:native/functions/native/invocations",
                      headers={"x-fc-account-id": account})
    assert r.status_code == 404 and r.json()["ErrorCode"] == "ServiceNotFound"
    # an FC 2.0 service named like an FC 3.0 function does not collide with it
    fc.create_service("native")
    assert get(c3, "native").function_name == "native"


def test_host_names_account_and_region(server):
    """§0: `<uid>.<region>.fc.aliyuncs.com` names both; FC 3.0 requests carry no account otherwise."""
    uid = str(int(time.time() * 1000))
    host = f"{uid}.cn-shanghai.fc.aliyuncs.com"
    r = requests.post(f"{server.url}/2023-03-30/functions", headers={"Host": host}, json={
        "functionName": "hosted", "runtime": "python3.10", "handler": "index.handler",
        "code": {"zipFile": zip_b64(PY_CODE)}})
    assert r.status_code == 200, r.text
    assert r.json()["functionArn"] == f"acs:fc:cn-shanghai:{uid}:functions/hosted"
    r = requests.get(f"{server.url}/2023-03-30/functions/hosted", headers={"x-fc-account-id": uid})
    assert r.json()["functionArn"] == f"acs:fc:cn-hangzhou:{uid}:functions/hosted"


# ---- restart --------------------------------------------------------------------------------------

def test_restart_keeps_functions_versions_aliases(tmp_path, account):
    srv = Server(tmp_path / "fc", "--executor", "process", "--access-key", f"{AK_ID}:{AK_SECRET}").start()
    try:
        c = sdk(srv, account)
        create(c, "durable", environment_variables={"GREETING": "one"})
        c.publish_function_version("durable", m.PublishFunctionVersionRequest(body=m.PublishVersionInput()))
        c.update_function("durable", m.UpdateFunctionRequest(body=m.UpdateFunctionInput(
            environment_variables={"GREETING": "two"})))
        c.create_alias("durable", m.CreateAliasRequest(body=m.CreateAliasInput(alias_name="prod", version_id="1")))
        before = (get(c, "durable").to_map(), get(c, "durable", "prod").to_map())
    finally:
        srv.stop()
    srv.start()
    try:
        c = sdk(srv, account)
        assert (get(c, "durable").to_map(), get(c, "durable", "prod").to_map()) == before
        assert c.get_alias("durable", "prod").body.version_id == "1"
        assert invoke(c, "durable", b"r", qualifier="prod").body.read() == b"hello r one durable"
        assert invoke(c, "durable", b"r").body.read() == b"hello r two durable"
    finally:
        srv.stop()


# ---- ACS3 in strict mode (§1) ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def strict_server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("strict3") / "fc", "--auth", "strict", "--executor", "process",
                 "--access-key", f"{AK_ID}:{AK_SECRET}").start()
    yield srv
    srv.stop()


def test_strict_mode_checks_acs3_signatures(strict_server, account):
    good = sdk(strict_server, account)
    create(good, "signed")
    # signed query values and a signed, percent-encoded path work
    assert good.list_functions(m.ListFunctionsRequest(prefix="sig ned/+", limit=5)).body.functions == []
    assert get(good, "signed", "LATEST").function_name == "signed"
    assert api_error(lambda: get(good, "a$b"))["code"] == "FunctionNotFound"  # `a%24b` signed as sent

    wrong = sdk(strict_server, account, secret="not-the-secret")
    e = api_error(lambda: get(wrong, "signed"))
    assert e["status"] == 403 and e["code"] == "SignatureNotMatch"
    assert e["message"].startswith("The request signature we calculated does not match")
    e = api_error(lambda: get(sdk(strict_server, account, ak="nobody"), "signed"))
    assert (e["status"], e["code"]) == (403, "InvalidAccessKeyID")

    r = raw(strict_server, account, "GET", "/functions/signed")  # plain HTTP, no Authorization
    assert r.status_code == 403 and set(r.json()) == {"Code", "Message", "RequestId"}
    assert r.json()["Code"] == "AccessDenied"
    r = raw(strict_server, account, "POST", "/functions/signed/invocations")  # the fast path checks too
    assert r.status_code == 403 and r.json()["Code"] == "AccessDenied"


def test_strict_mode_plain_http_invoke(strict_server, account):
    """A hand-signed InvokeFunction (the fast path): a correct signature passes, a changed body does not."""
    import hashlib
    import hmac
    from urllib.parse import quote

    create(sdk(strict_server, account), "handsigned")
    path, body = "/2023-03-30/functions/handsigned/invocations", b"payload"

    def send(sign_body: bytes, send_body: bytes, secret: str = AK_SECRET):
        h = {"host": f"127.0.0.1:{strict_server.port}", "x-acs-date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "x-acs-content-sha256": hashlib.sha256(sign_body).hexdigest(), "x-fc-account-id": account,
             "x-acs-signature-nonce": uuid.uuid4().hex}
        signed = sorted(h)
        canonical = "\n".join(["POST", quote(path, safe="/~"), "qualifier=LATEST",
                               "".join(f"{k}:{h[k]}\n" for k in signed), ";".join(signed), h["x-acs-content-sha256"]])
        to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        sig = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        h["Authorization"] = f"ACS3-HMAC-SHA256 Credential={AK_ID},SignedHeaders={';'.join(signed)},Signature={sig}"
        return requests.post(f"{strict_server.url}{path}?qualifier=LATEST", headers=h, data=send_body, timeout=60)

    r = send(body, body)
    assert r.status_code == 200 and r.content == b"hello payload - handsigned", r.text
    for bad in (send(body, b"other body"), send(body, body, secret="wrong")):
        assert bad.status_code == 403 and bad.json()["Code"] == "SignatureNotMatch", bad.text


def test_acs3_test_vectors():
    """fc3-api.md §1.2's vectors (computed with the SDK's signer) against the emulator's verifier."""
    from emulator.api.auth import acs3_signature

    def headers(action, nonce, body=b"", extra=None):
        import hashlib
        return {"host": "127.0.0.1:9000", "x-acs-version": "2023-03-30", "x-acs-action": action,
                "x-acs-date": "2024-01-01T00:00:00Z", "x-acs-signature-nonce": nonce,
                "x-acs-content-sha256": hashlib.sha256(body).hexdigest(), **(extra or {})}

    v1 = headers("GetFunction", "nonce-1", extra={"accept": "application/json"})
    assert acs3_signature("SECRET", "GET", "/2023-03-30/functions/f1", [("qualifier", "LATEST")], v1, sorted(v1),
                          v1["x-acs-content-sha256"]) == "9304b2c92bf55d6ef1d99d9ad606ecbbddbb7c2da9236ad2dec62b2cb5429242"
    body = b'{"functionName":"f1","handler":"index.handler","runtime":"python3.10"}'
    v2 = headers("CreateFunction", "nonce-2", body, {"content-type": "application/json; charset=utf-8"})
    assert acs3_signature("SECRET", "POST", "/2023-03-30/functions", [], v2, sorted(v2),
                          v2["x-acs-content-sha256"]) == "ff9338e1e0e14290bfb982901b8e2c79d7ced6e0bcffa3c33f3597d806ebeed7"
    v3 = headers("ListTagResources", "nonce-3")
    query = [("ResourceType", "function"), ("ResourceId", '["acs:fc:cn-hangzhou:123:functions/f1"]'), ("Limit", "10")]
    assert acs3_signature("SECRET", "GET", "/2023-03-30/tags-v2", query, v3, sorted(v3), v3["x-acs-content-sha256"]) \
        == "1c517877af601ef1a14fe855cff425304501224ae04b1145a3cb88eb6590d248"
    v4 = headers("GetLayerVersionByArn", "nonce-4")
    assert acs3_signature("SECRET", "GET", "/2023-03-30/layerarn/acs%3Afc%3Acn-hangzhou%3A123%3Alayers%2Fl1%2F"
                          "versions%2F1", [], v4, sorted(v4), v4["x-acs-content-sha256"]) \
        == "1b8765dbfa079d68e70e07bebaad876d8ba6c5a237017eef126eb211ea5dce5a"


def test_delete_refused_while_triggers_exist(c3, server, account):
    create(c3, "trig")
    c3.create_trigger("trig", m.CreateTriggerRequest(body=m.CreateTriggerInput(
        trigger_name="t1", trigger_type="timer",
        trigger_config=json.dumps({"cronExpression": "@every 60m", "enable": False}))))
    before = raw(server, account, "GET", "/functions/trig").json()
    e = api_error(lambda: c3.delete_function("trig"))
    assert (e["status"], e["code"]) == (409, "FunctionNotEmpty") and "trig" in e["message"]
    assert raw(server, account, "GET", "/functions/trig").json() == before
    c3.delete_trigger("trig", "t1")
    assert c3.delete_function("trig").status_code == 204
    assert api_error(lambda: get(c3, "trig"))["code"] == "FunctionNotFound"


def test_fc3_function_code_sees_no_service(fc3_server_for_env):
    """An FC 3.0 function has no service: its code never sees the engine's hidden one."""
    url = fc3_server_for_env.url
    code = base64.b64encode(make_zip({"index.py": "import os, json\n"
                                      "def handler(event, context):\n"
                                      "    return json.dumps([os.environ.get('FC_SERVICE_NAME'), context.service.name,"
                                      " os.environ.get('FC_FUNCTION_NAME')])\n"})).decode()
    r = requests.post(f"{url}/2023-03-30/functions", json={"functionName": "envfn", "runtime": "python3.9",
                                                           "handler": "index.handler", "code": {"zipFile": code}})
    assert r.status_code == 200, r.text
    r = requests.post(f"{url}/2023-03-30/functions/envfn/invocations", data=b"{}")
    assert r.status_code == 200 and json.loads(r.content) == ["", "", "envfn"], r.text


@pytest.fixture(scope="module")
def fc3_server_for_env(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("fc3-env") / "fc", "--executor", "process").start()
    yield srv
    srv.stop()


def test_fc2_proxy_path_cannot_reach_an_fc3_function(fc3_server_for_env):
    url = fc3_server_for_env.url
    r = requests.post(f"{url}/2023-03-30/functions", json={"functionName": "hidden", "runtime": "python3.9",
                                                           "handler": "index.handler", "code": {"zipFile": zip_b64(
                                                               {"index.py": "def handler(e, c):\n    return 'x'\n"})}})
    assert r.status_code == 200, r.text
    for path in ("/2016-08-15/proxy/fc3:hidden/hidden/", "/2016-08-15/proxy/fc3%3Ahidden/hidden/x"):
        r = requests.get(url + path)
        assert r.status_code == 404 and r.json()["ErrorCode"] == "ServiceNotFound", (path, r.text)
