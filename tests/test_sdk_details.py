"""FC-Open and SDK details (issue 12 item 10): GetService with a qualifier shows the version's
description; every error body carries the 2021 SDKs' Code/Message beside FC's ErrorCode/ErrorMessage;
the 2021 API's event sources and VPC bindings are stored and listed, GPU instances answer FC's error;
tracing baggage sent as `x-fc-tracing-opentracing-span-context-baggage-<key>` reaches the function."""
from __future__ import annotations

import base64
import json
import time

import fc2
import pytest
import requests
from alibabacloud_fc_open20210406 import models as m
from alibabacloud_fc_open20210406.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.exceptions import ClientException

from tests.helpers import (AK_ID, AK_SECRET, HELLO_PY, Server, deploy, fc_client, fc_error, wait_async_idle,
                           zip_b64)

ACCOUNT = "120120120120"
ARN = "acs:mns:cn-hangzhou:120120120120:/queues/q1/messages"
ARN2 = "acs:rocketmq:cn-hangzhou:120120120120:instances/i-1/topics/t"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("sdkdetails") / "d", "--access-key", f"{AK_ID}:{AK_SECRET}",
               "--account-id", ACCOUNT).start()
    yield s
    s.stop()


@pytest.fixture
def fc(srv):
    return fc_client(srv, ACCOUNT)


@pytest.fixture
def tea(srv) -> Client:
    return Client(open_api_models.Config(access_key_id=AK_ID, access_key_secret=AK_SECRET,
                                         endpoint=f"127.0.0.1:{srv.port}", protocol="http", region_id="cn-hangzhou"))


@pytest.fixture
def http(srv):
    session = requests.Session()
    session.headers["X-Fc-Account-Id"] = ACCOUNT
    yield session
    session.close()


def unique(prefix: str) -> str:
    return f"{prefix}_{time.time_ns()}"


# ---- GetService with a qualifier ------------------------------------------------------------------

def test_get_service_qualifier_shows_the_version_description(fc):
    """aliyun/fc-python-sdk test/version_test.py::test_get_service, step by step (its alias weights
    the alias's own version, which FC's AdditionalVersionContainsMajorVersion forbids: weight none)."""
    svc = unique("svc")
    fc.create_service(svc, description="这是测试service")
    v1 = fc.publish_version(svc, "test service v1 desc").data["versionId"]

    got = fc.get_service(svc, qualifier=v1, headers={"x-fc-trace-id": "t-1"}).data
    assert got["serviceName"] == svc and got["description"] == "test service v1 desc"
    assert fc.get_service(svc).data["description"] == "这是测试service"

    fc.update_service(svc, "update test service v2 desc")
    v2 = fc.publish_version(svc, "test service v2 desc").data["versionId"]
    assert fc.get_service(svc, qualifier=v2).data["description"] == "test service v2 desc"
    assert fc.get_service(svc).data["description"] == "update test service v2 desc"

    fc.create_alias(svc, "test", v1, "test alias")
    got = fc.get_service(svc, qualifier="test").data
    assert got["serviceName"] == svc and got["description"] == "test service v1 desc"
    # The version keeps the service as it was: its id and the rest of its configuration.
    assert got["serviceId"] == fc.get_service(svc).data["serviceId"]


def test_get_service_qualifier_2021_style(fc, http, srv):
    svc = unique("svc")
    fc.create_service(svc, description="live")
    v1 = fc.publish_version(svc, "").data["versionId"]
    r = http.get(f"{srv.url}/2021-04-06/services/{svc}", params={"qualifier": v1})
    assert r.status_code == 200 and r.json()["description"] == ""  # a version published without one
    r = http.get(f"{srv.url}/2021-04-06/services/{svc}", params={"qualifier": "9"})
    assert r.status_code == 404 and r.json()["ErrorCode"] == "VersionNotFound"


# ---- error bodies -----------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["2016-08-15", "2021-04-06"])
def test_error_body_has_both_spellings_under_both_prefixes(http, srv, prefix):
    r = http.get(f"{srv.url}/{prefix}/services/nope_{time.time_ns()}")
    body = r.json()
    assert r.status_code == 404
    assert body["ErrorCode"] == body["Code"] == "ServiceNotFound"
    assert body["ErrorMessage"] == body["Message"] and "does not exist" in body["Message"]
    assert body["RequestId"] == r.headers["X-Fc-Request-Id"]


def test_fc2_sdk_still_reads_its_keys(fc):
    with pytest.raises(fc2.fc_exceptions.FcError) as e:
        fc.get_service(unique("nope"))
    assert e.value.status_code == 404 and e.value.err_code == "ServiceNotFound"
    assert fc_error(e)["Code"] == "ServiceNotFound"


def test_2021_sdk_raises_fc_code_and_message(tea, fc):
    svc = unique("svc")
    tea.create_service(m.CreateServiceRequest(service_name=svc, description="d"))
    with pytest.raises(ClientException) as e:
        tea.create_service(m.CreateServiceRequest(service_name=svc, description="other"))
    assert e.value.status_code == 409 and e.value.code == "ServiceAlreadyExists"
    assert f"service '{svc}' already exists" in e.value.message
    with pytest.raises(ClientException) as e:
        tea.get_function(svc, "missing", m.GetFunctionRequest())
    assert e.value.status_code == 404 and e.value.code == "FunctionNotFound"
    assert f"function 'missing' does not exist in service '{svc}'" in e.value.message
    assert fc.get_service(svc).data["description"] == "d"  # the refused create changed nothing


# ---- event sources (2021) ---------------------------------------------------------------------------

def make_function(tea, svc: str, fn: str = "fn") -> None:
    tea.create_function(svc, m.CreateFunctionRequest(
        function_name=fn, runtime="python3.9", handler="index.handler", code=m.Code(zip_file=zip_b64(HELLO_PY))))


def arns(tea, svc: str, fn: str = "fn", qualifier: str | None = None) -> list[str]:
    got = tea.list_event_sources(svc, fn, m.ListEventSourcesRequest(qualifier=qualifier)).body.event_sources
    return [e.source_arn for e in got]


def test_event_sources_register_list_deregister(tea):
    svc = unique("svc")
    tea.create_service(m.CreateServiceRequest(service_name=svc))
    make_function(tea, svc)
    assert arns(tea, svc) == []

    out = tea.register_event_source(svc, "fn", m.RegisterEventSourceRequest(source_arn=ARN)).body
    assert out.source_arn == ARN and out.created_time.endswith("Z")
    tea.register_event_source(svc, "fn", m.RegisterEventSourceRequest(source_arn=ARN2))
    assert arns(tea, svc) == sorted([ARN, ARN2])

    with pytest.raises(ClientException) as e:
        tea.register_event_source(svc, "fn", m.RegisterEventSourceRequest(source_arn=ARN))
    assert e.value.status_code == 409 and e.value.code == "EventSourceAlreadyExists"
    assert arns(tea, svc) == sorted([ARN, ARN2])

    # The ARN travels in the path (its '/' percent-encoded by the SDK).
    tea.deregister_event_source(svc, "fn", ARN, m.DeregisterEventSourceRequest())
    assert arns(tea, svc) == [ARN2]
    with pytest.raises(ClientException) as e:
        tea.deregister_event_source(svc, "fn", ARN, m.DeregisterEventSourceRequest())
    assert e.value.status_code == 404 and e.value.code == "EventSourceNotFound"
    assert arns(tea, svc) == [ARN2]


def test_event_sources_are_per_qualifier(tea, fc):
    svc = unique("svc")
    tea.create_service(m.CreateServiceRequest(service_name=svc))
    make_function(tea, svc)
    v1 = fc.publish_version(svc).data["versionId"]
    tea.register_event_source(svc, "fn", m.RegisterEventSourceRequest(source_arn=ARN, qualifier=v1))
    assert arns(tea, svc, qualifier=v1) == [ARN]
    assert arns(tea, svc) == [] and arns(tea, svc, qualifier="LATEST") == []
    with pytest.raises(ClientException) as e:
        tea.register_event_source(svc, "fn", m.RegisterEventSourceRequest(source_arn=ARN, qualifier="7"))
    assert e.value.status_code == 404 and e.value.code == "VersionNotFound"


def test_event_sources_errors_leave_nothing(tea, http, srv):
    svc = unique("svc")
    tea.create_service(m.CreateServiceRequest(service_name=svc))
    make_function(tea, svc)
    base = f"{srv.url}/2021-04-06/services/{svc}/functions/fn/event-sources"
    for body in ({}, {"sourceArn": ""}, {"sourceArn": "not-an-arn"}, {"sourceArn": 5},
                 {"sourceArn": ARN + "\n"}, {"sourceArn": "acs:mns:x:1:" + "a" * 600}):
        r = http.post(base, json=body)
        assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument", (body, r.text)
        assert "sourceArn" in r.json()["ErrorMessage"]
    r = http.post(f"{srv.url}/2021-04-06/services/{svc}/functions/nofn/event-sources", json={"sourceArn": ARN})
    assert r.status_code == 404 and r.json()["ErrorCode"] == "FunctionNotFound"
    r = http.get(f"{srv.url}/2021-04-06/services/nosvc_{time.time_ns()}/functions/fn/event-sources")
    assert r.status_code == 404 and r.json()["ErrorCode"] == "ServiceNotFound"
    assert http.get(base).json() == {"eventSources": []}


def test_event_sources_2016_path_and_a_recreated_function_starts_empty(tea, fc, http, srv):
    svc = unique("svc")
    tea.create_service(m.CreateServiceRequest(service_name=svc))
    make_function(tea, svc)
    base = f"{srv.url}/2016-08-15/services/{svc}/functions/fn/event-sources"
    r = http.post(base, json={"sourceArn": ARN})
    assert r.status_code == 200 and r.json()["sourceArn"] == ARN
    assert [e["sourceArn"] for e in http.get(base).json()["eventSources"]] == [ARN]
    fc.delete_function(svc, "fn")
    make_function(tea, svc)
    assert http.get(base).json() == {"eventSources": []}
    r = http.delete(f"{base}/{ARN}")
    assert r.status_code == 404 and r.json()["ErrorCode"] == "EventSourceNotFound"
    assert http.post(base, json={"sourceArn": ARN}).status_code == 200  # not a conflict with the old one
    assert http.delete(f"{base}/{ARN}").status_code == 204


# ---- VPC bindings -----------------------------------------------------------------------------------

def vpcs(tea, svc: str) -> list[str]:
    return tea.list_vpc_bindings(svc).body.vpc_ids


def test_vpc_bindings_create_list_delete(tea):
    svc = unique("svc")
    tea.create_service(m.CreateServiceRequest(service_name=svc))
    assert vpcs(tea, svc) == []
    tea.create_vpc_binding(svc, m.CreateVpcBindingRequest(vpc_id="vpc-bp2"))
    tea.create_vpc_binding(svc, m.CreateVpcBindingRequest(vpc_id="vpc-bp1"))
    assert vpcs(tea, svc) == ["vpc-bp1", "vpc-bp2"]
    with pytest.raises(ClientException) as e:
        tea.create_vpc_binding(svc, m.CreateVpcBindingRequest(vpc_id="vpc-bp1"))
    assert e.value.status_code == 409 and e.value.code == "VpcBindingAlreadyExists"
    tea.delete_vpc_binding(svc, "vpc-bp1")
    assert vpcs(tea, svc) == ["vpc-bp2"]
    with pytest.raises(ClientException) as e:
        tea.delete_vpc_binding(svc, "vpc-bp1")
    assert e.value.status_code == 404 and e.value.code == "VpcBindingNotFound"
    with pytest.raises(ClientException) as e:
        tea.list_vpc_bindings(unique("nosvc"))
    assert e.value.status_code == 404 and e.value.code == "ServiceNotFound"
    assert vpcs(tea, svc) == ["vpc-bp2"]


def test_vpc_bindings_bad_ids_and_java_2016_paths(tea, fc, http, srv):
    svc = unique("svc")
    fc.create_service(svc)
    base = f"{srv.url}/2016-08-15/services/{svc}"
    for body in ({}, {"vpcId": ""}, {"vpcId": 7}, {"vpcId": "vpc\n"}, {"vpcId": "a/b"}, {"vpcId": "v" * 129}):
        r = http.post(base + "/bindings", json=body)
        assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument", (body, r.text)
    # Java's fc-java-sdk: POST/DELETE /services/{svc}/binding with {vpcId}, GET .../bindings
    assert http.post(base + "/binding", json={"serviceName": svc, "vpcId": "vpc-j"}).status_code == 200
    assert http.get(base + "/bindings").json() == {"vpcIds": ["vpc-j"]}
    assert http.delete(base + "/binding", json={"serviceName": svc, "vpcId": "vpc-j"}).status_code == 204
    assert http.get(base + "/bindings").json() == {"vpcIds": []}
    # A binding belongs to the service: a recreated service of that name has none.
    assert http.post(base + "/bindings", json={"vpcId": "vpc-x"}).status_code == 200
    fc.delete_service(svc)
    fc.create_service(svc)
    assert vpcs(tea, svc) == []


# ---- GPU instances ----------------------------------------------------------------------------------

def test_gpu_instances_have_no_local_meaning(tea, http, srv):
    with pytest.raises(ClientException) as e:
        tea.claim_gpuinstance(m.ClaimGPUInstanceRequest(instance_type="ecs.gn6i", image_id="m-1"))
    assert e.value.status_code == 400 and e.value.code == "NotSupported"
    assert "no local meaning" in e.value.message
    with pytest.raises(ClientException) as e:
        tea.release_gpuinstance("i-123")
    assert e.value.status_code == 404 and e.value.code == "GPUInstanceNotFound"
    r = http.post(f"{srv.url}/2016-08-15/gpuInstances", json={})
    assert r.status_code == 400 and r.json()["Code"] == "NotSupported"


# ---- tracing baggage --------------------------------------------------------------------------------

TRACING_PY = {"index.py": (
    "import json\n"
    "def handler(event, context):\n"
    "    t = context.tracing\n"
    "    return json.dumps({'openTracingSpanContext': t.span_context,\n"
    "                       'openTracingSpanBaggages': t.span_baggages})\n")}
TRACING_JS = {"index.js": (
    "exports.handler = function (event, context, callback) {\n"
    "  callback(null, JSON.stringify(context.tracing));\n"
    "};\n")}


@pytest.mark.parametrize("runtime,files", [("python3.9", TRACING_PY), ("nodejs14", TRACING_JS)])
def test_tracing_baggage_headers_reach_the_function(efc, tmp_path, runtime, files):
    """fc-nodejs-sdk test/client.test.js 'invoke function with tracing': the SDK's per-key baggage
    headers arrive in context.tracing.openTracingSpanBaggages (span_baggages in Python)."""
    svc = unique("trace")
    deploy(efc, tmp_path, files, service=svc, runtime=runtime)
    headers = {"x-fc-tracing-opentracing-span-context": "124ed43254b54966:124ed43254b54966:0:1",
               "x-fc-tracing-opentracing-span-context-baggage-key": "val",
               "X-Fc-Tracing-Opentracing-Span-Context-Baggage-Other-Key": "v2"}
    out = json.loads(efc.invoke_function(svc, "fn", payload=b"{}", headers=headers).data)
    assert "124ed43254b54966" in out["openTracingSpanContext"]
    assert out["openTracingSpanBaggages"] == {"key": "val", "other-key": "v2"}

    # The internal header a caller may send itself is kept; per-key headers win on the same key.
    internal = base64.b64encode(json.dumps({"a": "1", "key": "old"}).encode()).decode()
    headers["x-fc-tracing-opentracing-span-baggages"] = internal
    out = json.loads(efc.invoke_function(svc, "fn", payload=b"{}", headers=headers).data)
    assert out["openTracingSpanBaggages"] == {"a": "1", "key": "val", "other-key": "v2"}

    out = json.loads(efc.invoke_function(svc, "fn", payload=b"{}").data)
    assert out["openTracingSpanBaggages"] == {}


def test_tracing_baggage_reaches_an_async_invocation(efc, exec_server, tmp_path):
    """Async events keep the caller's tracing headers; the baggage is folded the same way."""
    svc = unique("trace")
    files = {"index.py": "import json\ndef handler(event, context):\n"
                         "    print('BAGGAGE=' + json.dumps(context.tracing.span_baggages, sort_keys=True))\n"}
    deploy(efc, tmp_path, files, service=svc, runtime="python3.9")
    r = efc.invoke_function(svc, "fn", payload=b"{}", headers={
        "x-fc-invocation-type": "Async", "x-fc-tracing-opentracing-span-context": "1:1:0:1",
        "x-fc-tracing-opentracing-span-context-baggage-k": "v"})
    assert r.headers["x-fc-request-id"]
    wait_async_idle(exec_server)
    rec = requests.get(f"{exec_server.url}/_emulator/invocations/{r.headers['x-fc-request-id']}",
                       headers={"X-Fc-Account-Id": efc.account_id})
    assert rec.status_code == 200, rec.text
    assert any('BAGGAGE={"k": "v"}' in line for line in rec.json()["logs"]), rec.json()["logs"]
