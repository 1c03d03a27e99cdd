"""Layers over plain HTTP (aliyun-fc2 has no layer calls) and the 2021 SDK (fc-api.md §2.11)."""
from __future__ import annotations

import base64
import re
from urllib.parse import quote

import fastcrc
import pytest
import requests
from alibabacloud_fc_open20210406 import models as m21
from alibabacloud_fc_open20210406.client import Client as Client21
from alibabacloud_tea_openapi import models as openapi_models
from alibabacloud_tea_util.models import RuntimeOptions

from tests.helpers import AK_ID, AK_SECRET, HELLO_PY, make_zip, zip_b64

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def url(server, path: str, prefix: str = "2016-08-15") -> str:
    return f"{server.url}/{prefix}{path}"


def publish(http, server, name: str = "lib", **body) -> requests.Response:
    body.setdefault("code", {"zipFile": zip_b64({"python/lib.py": f"NAME = {name!r}\n"})})
    return http.post(url(server, f"/layers/{name}/versions"), json=body)


def publish_ok(http, server, name: str = "lib", **body) -> dict:
    r = publish(http, server, name, **body)
    assert r.status_code == 200, r.text
    return r.json()


def versions(http, server, name: str, **params) -> requests.Response:
    return http.get(url(server, f"/layers/{name}/versions"), params=params)


def test_publish_and_get(http, server, account):
    data = make_zip({"python/lib.py": "X = 1\n"})
    r = publish(http, server, "lib", description="first", compatibleRuntime=["python3", "python3.9"],
                code={"zipFile": base64.b64encode(data).decode()})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    layer = r.json()
    assert layer["layerName"] == "lib" and layer["version"] == 1 and layer["description"] == "first"
    assert layer["compatibleRuntime"] == ["python3", "python3.9"]
    assert layer["codeSize"] == len(data) and layer["codeChecksum"] == str(fastcrc.crc64.xz(data))
    assert layer["acl"] == 0
    assert ISO.match(layer["createTime"])
    assert re.fullmatch(r"[0-9a-f]{32}#lib#1", layer["arn"])
    assert layer["arnV2"] == f"acs:fc:cn-hangzhou:{account}:layers/lib/versions/1"
    assert layer["code"]["repositoryType"] == "OSS"
    dl = requests.get(layer["code"]["location"])
    assert dl.status_code == 200 and dl.content == data
    assert dl.headers["x-oss-hash-crc64ecma"] == layer["codeChecksum"]

    got = http.get(url(server, "/layers/lib/versions/1")).json()
    assert {k: v for k, v in got.items() if k != "code"} == {
        k: v for k, v in layer.items() if k not in ("code", "codesize")}


def test_publish_from_oss(http, server, account):
    data = make_zip({"nodejs/node_modules/x/index.js": "module.exports = 1\n"})
    obj = server.data_dir / "oss" / "layer-bucket" / account / "x.zip"
    obj.parent.mkdir(parents=True, exist_ok=True)
    obj.write_bytes(data)
    layer = publish_ok(http, server, "fromoss", code={"ossBucketName": "layer-bucket", "ossObjectName": f"{account}/x.zip"})
    assert layer["codeChecksum"] == str(fastcrc.crc64.xz(data)) and layer["codeSize"] == len(data)
    r = publish(http, server, "fromoss", code={"ossBucketName": "layer-bucket", "ossObjectName": "missing.zip"})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    assert "missing.zip" in r.json()["ErrorMessage"]
    assert [v["version"] for v in versions(http, server, "fromoss").json()["layers"]] == [1]


@pytest.mark.parametrize("body,words", [
    ({"description": "d" * 257}, "description is too long"),
    ({"compatibleRuntime": ["python9"]}, "Runtime is set to an invalid value"),
    ({"compatibleRuntime": "python3"}, "expected an array"),
    ({"code": None}, "code is required"),
    ({"code": {"zipFile": zip_b64({"../escape.py": "x"})}}, "points outside the code folder"),
    ({"code": {"zipFile": "bm90IGEgemlw"}}, "not a valid zip"),
])
def test_publish_rejects_bad_input(http, server, body, words):
    r = publish(http, server, "bad", **body)
    assert r.status_code == 400, r.text
    assert r.json()["ErrorCode"] == "InvalidArgument" and words in r.json()["ErrorMessage"]
    assert versions(http, server, "bad").status_code == 404
    assert http.get(url(server, "/layers")).json()["layers"] == []


def test_bad_layer_name(http, server):
    r = publish(http, server, "1bad")
    assert r.status_code == 400 and r.json()["ErrorMessage"].startswith("layerName '1bad' is invalid")


def test_versions_count_up_and_are_never_reused(http, server):
    assert [publish_ok(http, server)["version"] for _ in range(3)] == [1, 2, 3]
    assert http.delete(url(server, "/layers/lib/versions/3")).status_code == 204
    assert publish_ok(http, server)["version"] == 4
    for v in ("1", "2", "4"):
        assert http.delete(url(server, f"/layers/lib/versions/{v}")).status_code == 204
    # every version gone: the layer is gone, but its numbers stay used
    assert versions(http, server, "lib").status_code == 404
    assert publish_ok(http, server)["version"] == 5


def test_get_and_delete_missing(http, server):
    publish_ok(http, server)
    r = http.get(url(server, "/layers/lib/versions/9"))
    assert r.status_code == 404
    assert r.json() == {**r.json(), "ErrorCode": "LayerVersionNotFound",
                        "ErrorMessage": "layer 'lib' version '9' does not exist"}
    assert http.delete(url(server, "/layers/lib/versions/9")).status_code == 404
    assert http.get(url(server, "/layers/nolayer/versions/1")).json()["ErrorCode"] == "LayerVersionNotFound"
    r = versions(http, server, "nolayer")
    assert r.status_code == 404 and r.json()["ErrorCode"] == "LayerNotFound"
    assert r.json()["ErrorMessage"] == "layer 'nolayer' does not exist"


def test_list_versions_pages(http, server):
    for _ in range(12):
        publish_ok(http, server)
    http.delete(url(server, "/layers/lib/versions/5"))
    page = versions(http, server, "lib", limit=4).json()
    assert [v["version"] for v in page["layers"]] == [1, 2, 3, 4] and page["nextVersion"] == 6
    page = versions(http, server, "lib", limit=4, startVersion=page["nextVersion"]).json()
    assert [v["version"] for v in page["layers"]] == [6, 7, 8, 9] and page["nextVersion"] == 10
    page = versions(http, server, "lib", limit=4, startVersion=10).json()
    assert [v["version"] for v in page["layers"]] == [10, 11, 12] and "nextVersion" not in page
    assert [v["version"] for v in versions(http, server, "lib").json()["layers"]] == [
        1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12]  # numeric order, not "10" < "2"
    assert versions(http, server, "lib", startVersion="x").status_code == 400
    assert versions(http, server, "lib", limit=101).status_code == 400


def test_list_layers(http, server):
    for name in ("b-layer", "a-layer", "c-other", "a-layer"):
        publish_ok(http, server, name, description=name)
    r = http.get(url(server, "/layers"))
    assert r.status_code == 200
    layers = r.json()["layers"]
    assert [(x["layerName"], x["version"]) for x in layers] == [("a-layer", 2), ("b-layer", 1), ("c-other", 1)]
    assert "nextToken" not in r.json()

    page = http.get(url(server, "/layers"), params={"limit": 2}).json()
    assert [x["layerName"] for x in page["layers"]] == ["a-layer", "b-layer"] and page["nextToken"] == "c-other"
    page = http.get(url(server, "/layers"), params={"limit": 2, "nextToken": page["nextToken"]}).json()
    assert [x["layerName"] for x in page["layers"]] == ["c-other"] and "nextToken" not in page
    assert [x["layerName"] for x in http.get(url(server, "/layers"), params={"prefix": "a-"}).json()["layers"]] == [
        "a-layer"]
    assert [x["layerName"] for x in http.get(url(server, "/layers"), params={"startKey": "b"}).json()["layers"]] == [
        "b-layer", "c-other"]
    assert http.get(url(server, "/layers"), params={"official": "true"}).json() == {"layers": []}


def test_acl_and_public_filter(http, server):
    publish_ok(http, server, "pub")
    publish_ok(http, server, "priv")
    r = http.put(url(server, "/layers/pub/acl"), params={"public": "true"})
    assert r.status_code == 200
    assert http.get(url(server, "/layers/pub/versions/1")).json()["acl"] == 1
    assert publish_ok(http, server, "pub")["acl"] == 1  # new versions follow the layer's ACL
    for flag in ("public", "isPublic"):
        listed = http.get(url(server, "/layers"), params={flag: "true"}).json()["layers"]
        assert [(x["layerName"], x["version"]) for x in listed] == [("pub", 2)]
    assert len(http.get(url(server, "/layers"), params={"public": "false"}).json()["layers"]) == 2
    http.put(url(server, "/layers/pub/acl"), params={"public": "false"})
    assert http.get(url(server, "/layers"), params={"public": "true"}).json()["layers"] == []
    assert http.put(url(server, "/layers/nolayer/acl"), params={"public": "true"}).json()["ErrorCode"] == "LayerNotFound"
    r = http.put(url(server, "/layers/pub/acl"), params={"public": "maybe"})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"


def test_get_by_arn(http, server):
    layer = publish_ok(http, server)
    for arn in (layer["arn"], layer["arnV2"]):
        r = http.get(url(server, "/layerarn/" + quote(arn, safe="")))
        assert r.status_code == 200, r.text
        assert r.json()["arn"] == layer["arn"] and r.json()["version"] == 1
    wrong_hash = "0" * 32 + "#lib#1"
    r = http.get(url(server, "/layerarn/" + quote(wrong_hash, safe="")))
    assert r.status_code == 404 and r.json()["ErrorCode"] == "LayerVersionNotFound"
    r = http.get(url(server, "/layerarn/" + quote("garbage", safe="")))
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"


def test_layers_are_per_account(http, server, account):
    publish_ok(http, server)
    other = requests.get(url(server, "/layers"), headers={"X-Fc-Account-Id": account + "9"})
    assert other.json()["layers"] == []


def test_function_keeps_deleted_layer_reference(http, server):
    layer = publish_ok(http, server)
    http.post(url(server, "/services"), json={"serviceName": "s"})
    r = http.post(url(server, "/services/s/functions"), json={
        "functionName": "f", "runtime": "python3", "handler": "index.handler",
        "code": {"zipFile": zip_b64(HELLO_PY)}, "layers": [layer["arn"]]})
    assert r.status_code == 200, r.text
    assert http.delete(url(server, "/layers/lib/versions/1")).status_code == 204
    assert http.get(url(server, "/services/s/functions/f")).json()["layers"] == [layer["arn"]]


def test_2021_prefix_and_capitalised_code_key(http, server):
    r = http.post(url(server, "/layers/cap/versions", "2021-04-06"),
                  json={"Code": {"ZipFile": zip_b64({"a.py": "x"})}, "compatibleRuntime": ["custom"]})
    assert r.status_code == 200, r.text
    assert r.json()["codesize"] == r.json()["codeSize"]
    assert http.get(url(server, "/layers/cap/versions/1", "2021-04-06")).json()["compatibleRuntime"] == ["custom"]


def test_with_2021_sdk(server, account):
    client = Client21(openapi_models.Config(access_key_id=AK_ID, access_key_secret=AK_SECRET,
                                            endpoint=f"127.0.0.1:{server.port}", protocol="http",
                                            region_id="cn-hangzhou"))
    opts = RuntimeOptions()
    req = m21.CreateLayerVersionRequest(code=m21.Code(zip_file=zip_b64({"python/x.py": "X = 1\n"})),
                                        compatible_runtime=["python3"], description="via sdk")
    created = client.create_layer_version_with_options(
        "sdk-layer", req, m21.CreateLayerVersionHeaders(x_fc_account_id=account), opts)
    assert created.status_code == 200
    assert created.body.version == 1 and created.body.description == "via sdk"
    assert created.body.codesize > 0 and created.body.arn.endswith("#sdk-layer#1")

    listed = client.list_layer_versions_with_options(
        "sdk-layer", m21.ListLayerVersionsRequest(limit=10, start_version=1),
        m21.ListLayerVersionsHeaders(x_fc_account_id=account), opts)
    assert [x.version for x in listed.body.layers] == [1]
    assert listed.body.layers[0].code_checksum == created.body.code_checksum

    client.put_layer_aclwith_options("sdk-layer", m21.PutLayerACLRequest(public=True),
                                     m21.PutLayerACLHeaders(x_fc_account_id=account), opts)
    layers = client.list_layers_with_options(m21.ListLayersRequest(public=True, limit=10),
                                             m21.ListLayersHeaders(x_fc_account_id=account), opts)
    assert [(x.layer_name, x.acl) for x in layers.body.layers] == [("sdk-layer", 1)]
