"""FC 3.0 instances (list, exec), tags v2, VPC bindings, layers, custom domains, regions, resource groups,
sessions and snapshots (fc3-api.md §4.5, §4.6, §4.12-4.18, §8.3) through the official Python SDK
`alibabacloud-fc20230330`: every response deserialises through the SDK's models; every 4xx carries
Code/Message/RequestId and leaves the stored state as it was."""
from __future__ import annotations

import json
import threading

import requests
from alibabacloud_fc20230330 import models as m
from websocket import WebSocketConnectionClosedException

from tests.helpers import fc_client, zip_b64
from tests.test_fc3_functions import api_error, create, get, invoke, raw, sdk

ECHO_EVENT = {"index.py": "import json\ndef handler(event, context):\n    e = json.loads(event)\n"
                          "    return {'statusCode': 201, 'headers': {'x-got': e['rawPath']},\n"
                          "            'body': json.dumps({'path': e['rawPath'], 'domain': "
                          "e['requestContext']['domainName'], 'q': e['queryParameters']})}\n"}


def arn(account: str, name: str) -> str:
    return f"acs:fc:cn-hangzhou:{account}:functions/{name}"


# ---- tags v2 ---------------------------------------------------------------------------------------

def _tags(c3, account, *names, **kw) -> list[tuple[str, str, str]]:
    req = m.ListTagResourcesRequest(resource_type="function", resource_id=[arn(account, n) for n in names] or None,
                                    **kw)
    out = c3.list_tag_resources(req).body
    assert isinstance(out, m.ListTagResourcesOutput) and out.request_id
    assert all(r.resource_type == "ALIYUN::FC::FUNCTION" for r in out.tag_resources)
    return [(r.resource_id.rsplit("/", 1)[1], r.tag_key, r.tag_value) for r in out.tag_resources]


def test_tags_v2_round_trip(server, account):
    c3 = sdk(server, account)
    create(c3, "ta", tags=[m.Tag(key="env", value="dev")])
    create(c3, "tb")
    r = c3.tag_resources(m.TagResourcesRequest(body=m.TagResourcesInput(
        resource_id=[arn(account, "ta"), arn(account, "tb")], resource_type="FUNCTION",
        tag=[m.Tag(key="team", value="a"), m.Tag(key="x", value="")])))
    assert r.status_code == 200
    assert _tags(c3, account, "ta") == [("ta", "env", "dev"), ("ta", "team", "a"), ("ta", "x", "")]
    assert _tags(c3, account) == [("ta", "env", "dev"), ("ta", "team", "a"), ("ta", "x", ""),
                                  ("tb", "team", "a"), ("tb", "x", "")]
    assert [t[0] for t in _tags(c3, account, tag=[m.Tag(key="env", value="dev")])] == ["ta"] * 3
    # paging: Limit/NextToken walk the rows one by one
    seen, token = [], None
    for _ in range(10):
        out = c3.list_tag_resources(m.ListTagResourcesRequest(resource_type="function", limit=2,
                                                              next_token=token)).body
        seen += [(x.resource_id.rsplit("/", 1)[1], x.tag_key) for x in out.tag_resources]
        token = out.next_token
        if not token:
            break
    assert seen == [("ta", "env"), ("ta", "team"), ("ta", "x"), ("tb", "team"), ("tb", "x")]
    assert {t.key: t.value for t in get(c3, "ta").tags} == {"env": "dev", "team": "a", "x": ""}

    before = _tags(c3, account)
    for call, code in (
            (lambda: c3.tag_resources(m.TagResourcesRequest(body=m.TagResourcesInput(
                resource_id=[arn(account, "ta"), arn(account, "nope")], resource_type="function",
                tag=[m.Tag(key="k", value="v")]))), "FunctionNotFound"),
            (lambda: c3.tag_resources(m.TagResourcesRequest(body=m.TagResourcesInput(
                resource_id=[arn(account, "ta")], resource_type="function",
                tag=[m.Tag(key="aliyun-x", value="v")]))), "InvalidArgument"),
            (lambda: c3.tag_resources(m.TagResourcesRequest(body=m.TagResourcesInput(
                resource_id=[arn(account, "ta")], resource_type="service", tag=[m.Tag(key="k", value="v")]))),
             "InvalidArgument"),
            (lambda: c3.tag_resources(m.TagResourcesRequest(body=m.TagResourcesInput(
                resource_id=["acs:fc:cn-hangzhou:999:functions/ta"], resource_type="function",
                tag=[m.Tag(key="k", value="v")]))), "InvalidArgument"),
            (lambda: c3.untag_resources(m.UntagResourcesRequest(resource_type="function",
                                                                resource_id=[arn(account, "ta")])), "InvalidArgument")):
        assert api_error(call)["code"] == code
    assert _tags(c3, account) == before

    c3.untag_resources(m.UntagResourcesRequest(resource_type="function", resource_id=[arn(account, "ta")],
                                               tag_key=["team", "missing"]))
    c3.untag_resources(m.UntagResourcesRequest(resource_type="ALIYUN::FC::FUNCTION",
                                               resource_id=[arn(account, "tb")], all=True))
    assert _tags(c3, account) == [("ta", "env", "dev"), ("ta", "x", "")]
    assert get(c3, "tb").tags == []  # the SDK's model reads an absent `tags` as []
    assert "tags" not in raw(server, account, "GET", "/functions/tb").json()  # omitted when none (§4.14)
    assert [f.function_name for f in c3.list_functions(m.ListFunctionsRequest(
        tags=[m.Tag(key="env", value="dev")])).body.functions] == ["ta"]


def test_tags_v2_apart_from_fc2_service_tags(server, account, fc):
    """FC 2.0 tags are on service ARNs; FC 3.0's on function ARNs: neither API sees the other's."""
    c3 = sdk(server, account)
    create(c3, "f3", tags=[m.Tag(key="k3", value="v3")])
    fc.create_service("s2")
    fc.tag_resource("services/s2", {"k2": "v2"})
    assert _tags(c3, account) == [("f3", "k3", "v3")]
    assert fc.get_resource_tags("services/s2").data["tags"] == {"k2": "v2"}
    for call in (lambda: fc.tag_resource("services/fc3:f3", {"k": "v"}),
                 lambda: fc.get_resource_tags("services/fc3:f3")):
        try:
            call()
            raise AssertionError("FC 2.0 reached a hidden service")
        except Exception as exc:  # aliyun-fc2's FcError
            assert getattr(exc, "status_code", None) == 404, exc
    assert _tags(c3, account) == [("f3", "k3", "v3")]


# ---- VPC bindings ----------------------------------------------------------------------------------

def test_vpc_bindings(server, account):
    c3 = sdk(server, account)
    create(c3, "vb")
    assert c3.list_vpc_bindings("vb").body.vpc_ids == []
    for vpc in ("vpc-b", "vpc-a"):
        r = c3.create_vpc_binding("vb", m.CreateVpcBindingRequest(body=m.CreateVpcBindingInput(vpc_id=vpc)))
        assert r.status_code == 200
    out = c3.list_vpc_bindings("vb").body
    assert isinstance(out, m.ListVpcBindingsOutput) and sorted(out.vpc_ids) == ["vpc-a", "vpc-b"]
    for call, status, code in (
            (lambda: c3.create_vpc_binding("vb", m.CreateVpcBindingRequest(body=m.CreateVpcBindingInput(
                vpc_id="vpc-a"))), 409, "VpcBindingAlreadyExists"),
            (lambda: c3.create_vpc_binding("vb", m.CreateVpcBindingRequest(body=m.CreateVpcBindingInput())),
             400, "InvalidArgument"),
            (lambda: c3.create_vpc_binding("nope", m.CreateVpcBindingRequest(body=m.CreateVpcBindingInput(
                vpc_id="vpc-c"))), 404, "FunctionNotFound"),
            (lambda: c3.delete_vpc_binding("vb", "vpc-zzz"), 404, "VpcBindingNotFound")):
        err = api_error(call)
        assert (err["status"], err["code"]) == (status, code), err
    assert sorted(c3.list_vpc_bindings("vb").body.vpc_ids) == ["vpc-a", "vpc-b"]
    assert c3.delete_vpc_binding("vb", "vpc-a").status_code == 204
    assert c3.list_vpc_bindings("vb").body.vpc_ids == ["vpc-b"]
    # the bindings go with the function
    c3.delete_function("vb")
    create(c3, "vb")
    assert c3.list_vpc_bindings("vb").body.vpc_ids == []


# ---- layers ----------------------------------------------------------------------------------------

def _layer(c3, name: str, **kw) -> m.Layer:
    body = m.CreateLayerVersionInput(code=m.InputCodeLocation(zip_file=zip_b64({"python/helper.py": "X = 41\n"})),
                                     compatible_runtime=["python3.10"], description="d", **kw)
    return c3.create_layer_version(name, m.CreateLayerVersionRequest(body=body)).body


def _stable(layer: m.Layer) -> dict:
    """A layer's fields minus its code URL, whose signature and expiry are minted per response."""
    got = layer.to_map()
    assert got["code"].pop("location").startswith("http://127.0.0.1:")
    return got


def test_layers(server, account):
    c3 = sdk(server, account)
    v1 = _layer(c3, "lib", license="MIT")
    assert isinstance(v1, m.Layer) and v1.version == 1 and v1.acl == "0" and v1.license == "MIT"
    assert v1.layer_version_arn == f"acs:fc:cn-hangzhou:{account}:layers/lib/versions/1"
    assert v1.code.repository_type == "OSS" and v1.code.location and v1.code_size > 0 and v1.create_time
    v2 = _layer(c3, "lib")
    assert v2.version == 2 and v2.code_checksum == v1.code_checksum
    assert _stable(c3.get_layer_version("lib", "1").body) == _stable(v1)
    by_arn = c3.get_layer_version_by_arn(v1.layer_version_arn).body
    assert _stable(by_arn) == _stable(v1)
    page = c3.list_layer_versions("lib", m.ListLayerVersionsRequest(limit=1)).body
    assert [x.version for x in page.layers] == [1] and page.next_version == 2
    page = c3.list_layer_versions("lib", m.ListLayerVersionsRequest(start_version="2", limit=1)).body
    assert [x.version for x in page.layers] == [2] and page.next_version is None
    listed = c3.list_layers(m.ListLayersRequest()).body
    assert [(x.layer_name, x.version) for x in listed.layers] == [("lib", 2)] and listed.next_token is None
    assert c3.list_layers(m.ListLayersRequest(public="true")).body.layers == []
    assert c3.list_layers(m.ListLayersRequest(official="true")).body.layers == []

    assert c3.put_layer_acl("lib", m.PutLayerACLRequest(public="true")).status_code == 204
    assert c3.get_layer_version("lib", "2").body.acl == "1"
    assert [x.layer_name for x in c3.list_layers(m.ListLayersRequest(public="True")).body.layers] == ["lib"]
    assert c3.put_layer_acl("lib", m.PutLayerACLRequest(acl="0")).status_code == 204
    assert c3.get_layer_version("lib", "1").body.acl == "0"

    for call, status, code in (
            (lambda: c3.get_layer_version("lib", "9"), 404, "LayerVersionNotFound"),
            (lambda: c3.get_layer_version_by_arn(f"acs:fc:cn-hangzhou:{account}:layers/lib/versions/9"), 404,
             "LayerVersionNotFound"),
            (lambda: c3.put_layer_acl("lib", m.PutLayerACLRequest(acl="7")), 400, "InvalidArgument"),
            (lambda: c3.put_layer_acl("nope", m.PutLayerACLRequest(public="true")), 404, "LayerNotFound"),
            (lambda: c3.create_layer_version("lib", m.CreateLayerVersionRequest(body=m.CreateLayerVersionInput(
                code=m.InputCodeLocation(zip_file=zip_b64({"a": "b"}), checksum="123")))), 400, "InvalidArgument"),
            (lambda: c3.create_layer_version("lib", m.CreateLayerVersionRequest(body=m.CreateLayerVersionInput(
                compatible_runtime=["cobol"], code=m.InputCodeLocation(zip_file=zip_b64({"a": "b"}))))),
             400, "InvalidArgument")):
        err = api_error(call)
        assert (err["status"], err["code"]) == (status, code), err
    assert [x.version for x in c3.list_layer_versions("lib", m.ListLayerVersionsRequest()).body.layers] == [1, 2]
    assert c3.get_layer_version("lib", "1").body.acl == "0"

    # a function uses the layer (FC 3.0 ARN in, [{arn, size}] out) and imports from it
    create(c3, "uses", {"index.py": "import helper\ndef handler(event, context):\n    return str(helper.X + 1)\n"},
           layers=[v1.layer_version_arn])
    assert [(x.arn, x.size) for x in get(c3, "uses").layers] == [(v1.layer_version_arn, v1.code_size)]
    assert c3.delete_layer_version("lib", "2").status_code == 204
    assert [x.version for x in c3.list_layer_versions("lib", m.ListLayerVersionsRequest()).body.layers] == [1]


def test_layer_published_through_fc2_is_seen_by_fc3(server, account, http):
    r = http.post(f"{server.url}/2016-08-15/layers/shared/versions", json={
        "compatibleRuntime": ["python3.10"], "code": {"zipFile": zip_b64({"python/a.py": ""})},
        "description": "from fc2"})
    assert r.status_code == 200 and r.json()["acl"] == 0
    c3 = sdk(server, account)
    got = c3.get_layer_version("shared", "1").body
    assert got.description == "from fc2" and got.acl == "0" and got.layer_version_arn.endswith("layers/shared/versions/1")


# ---- custom domains --------------------------------------------------------------------------------

def test_custom_domain_routes_to_fc3_function(exec_server, account, efc):
    c3 = sdk(exec_server, account)
    create(c3, "web", ECHO_EVENT)
    domain = f"d{account}.example.com"
    routes = m.RouteConfig(routes=[m.PathConfig(path="/api/*", function_name="web", methods=["GET", "POST"]),
                                   m.PathConfig(path="/v", function_name="web", qualifier="LATEST")])
    made = c3.create_custom_domain(m.CreateCustomDomainRequest(body=m.CreateCustomDomainInput(
        domain_name=domain, protocol="HTTP", route_config=routes,
        auth_config=m.AuthConfig(auth_type="anonymous")))).body
    assert isinstance(made, m.CustomDomain) and made.domain_name == domain and made.account_id == account
    assert made.api_version == "2023-03-30" and made.protocol == "HTTP" and made.created_time
    assert [(r.path, r.function_name, r.qualifier, r.methods) for r in made.route_config.routes] == [
        ("/api/*", "web", None, ["GET", "POST"]), ("/v", "web", "LATEST", None)]
    assert made.auth_config.auth_type == "anonymous"
    assert c3.get_custom_domain(domain).body.to_map() == made.to_map()
    assert [d.domain_name for d in c3.list_custom_domains(m.ListCustomDomainsRequest()).body.custom_domains] == [domain]

    # a request to the domain reaches the function with FC 3.0's HTTP event, no HTTP trigger needed
    r = requests.get(f"{exec_server.url}/api/x%20y?a=1", headers={"Host": domain}, timeout=60)
    assert r.status_code == 201, r.text
    assert r.json() == {"path": "/api/x%20y", "domain": domain, "q": {"a": "1"}} and r.headers["x-got"] == "/api/x%20y"
    assert requests.delete(f"{exec_server.url}/api/x", headers={"Host": domain}, timeout=60).status_code == 403

    # errors change nothing
    before = c3.get_custom_domain(domain).body.to_map()
    for call, status, code in (
            (lambda: c3.create_custom_domain(m.CreateCustomDomainRequest(body=m.CreateCustomDomainInput(
                domain_name=domain))), 409, "DomainNameAlreadyExists"),
            (lambda: c3.update_custom_domain(domain, m.UpdateCustomDomainRequest(body=m.UpdateCustomDomainInput(
                route_config=m.RouteConfig(routes=[m.PathConfig(path="no-slash", function_name="web")])))),
             400, "InvalidArgument"),
            (lambda: c3.update_custom_domain(domain, m.UpdateCustomDomainRequest(body=m.UpdateCustomDomainInput(
                protocol="HTTPS"))), 400, "InvalidArgument"),
            (lambda: c3.get_custom_domain("nope.example.com"), 404, "DomainNameNotFound")):
        err = api_error(call)
        assert (err["status"], err["code"]) == (status, code), err
    assert c3.get_custom_domain(domain).body.to_map() == before

    # an FC 2.0 pair is routed as S$G; the FC 2.0 API sees the same domain with {serviceName, functionName}
    efc.create_service("s2")
    updated = c3.update_custom_domain(domain, m.UpdateCustomDomainRequest(body=m.UpdateCustomDomainInput(
        route_config=m.RouteConfig(routes=[m.PathConfig(path="/old", function_name="s2$g2")])))).body
    assert [(r.path, r.function_name) for r in updated.route_config.routes] == [("/old", "s2$g2")]
    fc2_view = efc.get_custom_domain(domain).data
    assert [(r["serviceName"], r["functionName"]) for r in fc2_view["routeConfig"]["routes"]] == [("s2", "g2")]
    assert c3.delete_custom_domain(domain).status_code == 204
    assert api_error(lambda: c3.get_custom_domain(domain))["code"] == "DomainNameNotFound"


# ---- instances -------------------------------------------------------------------------------------

def _exec_frames(fc, path: str, params: dict, send: list[bytes] = ()) -> list:
    frames = []
    ws = fc.websocket(path, params)
    ws.on_message = lambda _ws, msg: frames.append(msg)
    ws.on_error = lambda _ws, e: None if isinstance(e, WebSocketConnectionClosedException) else frames.append(e)

    def opened(w):
        for data in send:
            w.send(data, opcode=0x2)
    ws.on_open = opened
    t = threading.Thread(target=ws.run_forever, daemon=True)
    t.start()
    t.join(30)
    assert not t.is_alive()
    return frames


def test_list_instances_and_exec(exec_server, account):
    c3 = sdk(exec_server, account)
    create(c3, "inst")
    assert c3.list_instances("inst", m.ListInstancesRequest()).body.instances == []
    r = invoke(c3, "inst", b"x")
    iid = r.headers["x-fc-instance-id"]
    out = c3.list_instances("inst", m.ListInstancesRequest(instance_ids=[iid], with_all_active=True,
                                                           instance_status=["Running"])).body
    assert isinstance(out, m.ListInstancesOutput) and out.request_id
    [info] = out.instances
    assert (info.instance_id, info.version_id, info.qualifier, info.status) == (iid, "0", "LATEST", "Running")
    assert isinstance(info.created_time_ms, int)
    assert c3.list_instances("inst", m.ListInstancesRequest(instance_ids=["c-other"])).body.instances == []
    assert c3.list_instances("inst", m.ListInstancesRequest(instance_status=["Destroyed"])).body.instances == []
    err = api_error(lambda: c3.list_instances("nope", m.ListInstancesRequest()))
    assert (err["status"], err["code"]) == (404, "FunctionNotFound")

    # exec as Serverless Devs does it: FC 2.0 signature, repeated `command`, raw stdin frames
    fc = fc_client(exec_server, account)
    path = f"/2023-03-30/functions/inst/instances/{iid}/exec"
    frames = _exec_frames(fc, path, {"command": ["sh", "-c", "echo out; echo err >&2; exit 3"], "stdout": "true",
                                     "stderr": "true", "qualifier": "LATEST", "FC_INSTANCE_EXEC_TIMEOUT": "600"})
    assert "\x01out\n" in frames and "\x02err\n" in frames and frames[-1] == "\x053"
    frames = _exec_frames(fc, path, {"command": ["head", "-c", "5"], "stdin": "true"}, send=[b"hel", b"lo"])
    assert "".join(f[1:] for f in frames if isinstance(f, str) and f[0] == "\x01") == "hello"
    assert frames[-1] == "\x050"
    [e] = _exec_frames(fc, "/2023-03-30/functions/inst/instances/c-nope/exec", {"command": ["true"]})
    body = json.loads(e.resp_body)
    assert e.status_code == 404 and body["Code"] == body["ErrorCode"] == "InstanceNotFound" and body["RequestId"]


# ---- account-level, sessions, snapshots -------------------------------------------------------------

def test_regions_resource_groups_sessions_snapshots(server, account):
    c3 = sdk(server, account)
    regions = c3.describe_regions(m.DescribeRegionsRequest(accept_language="en-US")).body
    assert [r.region_id for r in regions.regions.region] == ["cn-hangzhou"]

    create(c3, "rg")
    before = get(c3, "rg")
    assert before.resource_group_id
    out = c3.change_resource_group(m.ChangeResourceGroupRequest(body=m.ChangeResourceGroupInput(
        new_resource_group_id="rg-new", resource_id="rg", resource_type="function"))).body
    assert (out.new_resource_group_id, out.old_resource_group_id, out.resource_id) == (
        "rg-new", before.resource_group_id, "rg")
    after = get(c3, "rg")
    assert after.resource_group_id == "rg-new" and after.last_modified_time == before.last_modified_time
    err = api_error(lambda: c3.change_resource_group(m.ChangeResourceGroupRequest(body=m.ChangeResourceGroupInput(
        new_resource_group_id="rg-x", resource_id="nope", resource_type="function"))))
    assert err["code"] == "FunctionNotFound"

    err = api_error(lambda: c3.create_session("rg", m.CreateSessionRequest(body=m.CreateSessionInput())))
    assert (err["status"], err["code"]) == (400, "NotSupported") and "not emulated" in err["message"]
    assert c3.list_sessions("rg", m.ListSessionsRequest()).body.sessions == []
    assert api_error(lambda: c3.get_session("rg", "s1", m.GetSessionRequest()))["code"] == "SessionNotFound"
    assert api_error(lambda: c3.delete_session("rg", "s1", m.DeleteSessionRequest()))["code"] == "SessionNotFound"
    assert api_error(lambda: c3.list_sessions("nope", m.ListSessionsRequest()))["code"] == "FunctionNotFound"
    err = api_error(lambda: c3.create_snapshot("rg", m.CreateSnapshotRequest(body=m.CreateSnapshotInput(
        session_id="s1"))))
    assert (err["status"], err["code"]) == (400, "NotSupported")
    assert c3.list_snapshots(m.ListSnapshotsRequest(function_name="rg")).body.snapshots == []
    assert api_error(lambda: c3.get_snapshot("rg", "x", m.GetSnapshotRequest()))["code"] == "SnapshotNotFound"
