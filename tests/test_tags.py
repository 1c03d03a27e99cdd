"""Tags on services through aliyun-fc2 and plain HTTP (fc-api.md §2.8, §2.2 tag filter)."""
from __future__ import annotations

import pytest
from fc2.fc_exceptions import FcError

from tests.helpers import fc_error

REGION = "cn-hangzhou"  # the emulator's default region


def test_py_sdk_flow(fc, account):
    """The py-test tag scenario, with full ARNs."""
    for i in range(3):
        name = f"test_tag_{i}"
        fc.create_service(name)
        arn = f"acs:fc:{REGION}:{account}:services/{name}"
        assert "requestId" in fc.tag_resource(arn, {"k3": "v3"}).data
        fc.tag_resource(arn, {"k1": "v1"} if i % 2 == 0 else {"k2": "v2"})
        resp = fc.get_resource_tags(arn).data
        assert resp["resourceArn"] == arn
        assert resp["tags"] == ({"k1": "v1", "k3": "v3"} if i % 2 == 0 else {"k2": "v2", "k3": "v3"})

        assert "requestId" in fc.untag_resource(arn, ["k3"]).data
        resp = fc.get_resource_tags(arn).data
        assert resp["tags"] == ({"k1": "v1"} if i % 2 == 0 else {"k2": "v2"})

        fc.untag_resource(arn, [], True)
        resp = fc.get_resource_tags(arn).data
        assert resp["resourceArn"] == arn and resp["tags"] == {}


def test_partial_arn_answers_with_full_arn(fc, account):
    fc.create_service("tp")
    assert fc.get_resource_tags("services/tp").data == {
        "resourceArn": f"acs:fc:{REGION}:{account}:services/tp", "tags": {}}
    fc.tag_resource("services/tp", {"empty": "", "k": "v"})
    assert fc.get_resource_tags("services/tp").data["tags"] == {"empty": "", "k": "v"}
    # overwriting a value keeps one key
    fc.tag_resource("services/tp", {"k": "v2"})
    assert fc.get_resource_tags("services/tp").data["tags"] == {"empty": "", "k": "v2"}
    # a full ARN with another region is the same service; the answer keeps that region
    arn = f"acs:fc:cn-shanghai:{account}:services/tp"
    assert fc.get_resource_tags(arn).data["resourceArn"] == arn


def test_tags_do_not_touch_service_etag_or_versions(fc):
    r = fc.create_service("tv")
    fc.publish_version("tv")
    fc.tag_resource("services/tv", {"k": "v"})
    got = fc.get_service("tv")
    assert got.headers["Etag"] == r.headers["Etag"]
    assert got.data["lastModifiedTime"] == r.data["lastModifiedTime"]
    assert "_tags" not in got.data and "tags" not in got.data
    # tagging is not a change that allows a new version
    with pytest.raises(FcError) as e:
        fc.publish_version("tv")
    assert e.value.status_code == 400
    # the tag filter on ListServices sees the tags
    assert [s["serviceName"] for s in fc.list_services(tags={"k": "v"}).data["services"]] == ["tv"]
    fc.untag_resource("services/tv", ["k"])
    assert fc.list_services(tags={"k": ""}).data["services"] == []


def test_untag_2021_put_and_all_rules(http, server):
    base = server.url + "/2021-04-06"
    http.post(base + "/services", json={"serviceName": "tu"})
    http.post(base + "/tag", json={"resourceArn": "services/tu", "tags": {"a": "1", "b": "2", "c": "3"}})
    r = http.put(base + "/tag", json={"resourceArn": "services/tu", "tagKeys": ["a", "missing"]})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json") and r.json()
    assert http.get(base + "/tag", params={"resourceArn": "services/tu"}).json()["tags"] == {"b": "2", "c": "3"}
    # `all` counts only when tagKeys is empty
    http.put(base + "/tag", json={"resourceArn": "services/tu", "tagKeys": ["b"], "all": True})
    assert http.get(base + "/tag", params={"resourceArn": "services/tu"}).json()["tags"] == {"c": "3"}
    # neither keys nor all: refused, nothing removed
    r = http.put(base + "/tag", json={"resourceArn": "services/tu"})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    assert http.get(base + "/tag", params={"resourceArn": "services/tu"}).json()["tags"] == {"c": "3"}
    r = http.delete(server.url + "/2016-08-15/tag", json={"resourceArn": "services/tu", "tagKeys": [], "all": True})
    assert r.status_code == 200 and r.json()
    assert http.get(base + "/tag", params={"resourceArn": "services/tu"}).json()["tags"] == {}


def test_at_most_20_tags(fc, http, server):
    fc.create_service("t20")
    many = {f"k{i}": "v" for i in range(21)}
    r = http.post(server.url + "/2016-08-15/tag", json={"resourceArn": "services/t20", "tags": many})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    fc.tag_resource("services/t20", {f"k{i}": "v" for i in range(15)})
    with pytest.raises(FcError) as e:
        fc.tag_resource("services/t20", {f"n{i}": "v" for i in range(6)})
    assert e.value.status_code == 400 and fc_error(e)["ErrorCode"] == "InvalidArgument"
    assert len(fc.get_resource_tags("services/t20").data["tags"]) == 15
    fc.tag_resource("services/t20", {f"n{i}": "v" for i in range(5)})
    assert len(fc.get_resource_tags("services/t20").data["tags"]) == 20


@pytest.mark.parametrize("body", [
    {"tags": {"k": "v"}},
    {"resourceArn": "services/tb"},
    {"resourceArn": "services/tb", "tags": {}},
    {"resourceArn": "services/tb", "tags": {"": "v"}},
    {"resourceArn": "services/tb", "tags": {"k" * 129: "v"}},
    {"resourceArn": "services/tb", "tags": {"k": "v" * 257}},
    {"resourceArn": "services/tb", "tags": {"k": 1}},
    {"resourceArn": "services/tb/functions/f", "tags": {"k": "v"}},
    {"resourceArn": "acs:fc:cn-hangzhou:999:services/tb", "tags": {"k": "v"}},
    {"resourceArn": "layers/x", "tags": {"k": "v"}},
])
def test_bad_tag_requests(http, server, body):
    http.post(server.url + "/2016-08-15/services", json={"serviceName": "tb"})
    r = http.post(server.url + "/2016-08-15/tag", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["ErrorCode"] == "InvalidArgument" and r.json()["ErrorMessage"]
    assert http.get(server.url + "/2016-08-15/tag", params={"resourceArn": "services/tb"}).json()["tags"] == {}


def test_missing_service_and_arn(fc, http, server):
    with pytest.raises(FcError) as e:
        fc.tag_resource("services/nosvc", {"k": "v"})
    assert e.value.status_code == 404 and fc_error(e)["ErrorMessage"] == "service 'nosvc' does not exist"
    with pytest.raises(FcError) as e:
        fc.get_resource_tags("services/nosvc")
    assert fc_error(e)["ErrorCode"] == "ServiceNotFound"
    with pytest.raises(FcError) as e:
        fc.untag_resource("services/nosvc", ["k"])
    assert fc_error(e)["ErrorCode"] == "ServiceNotFound"
    r = http.get(server.url + "/2016-08-15/tag")
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"


def test_list_tagged_resources(http, server, account):
    base = server.url + "/2021-04-06"
    for i in range(7):
        http.post(base + "/services", json={"serviceName": f"lt{i}"})
        if i != 3:
            http.post(base + "/tag", json={"resourceArn": f"services/lt{i}", "tags": {"n": str(i)}})
    seen, token, calls = [], None, 0
    while True:
        params = {"limit": 2, **({"nextToken": token} if token else {})}
        r = http.get(base + "/tags", params=params).json()
        calls += 1
        seen += r["resources"]
        token = r.get("nextToken")
        if not token:
            break
    assert calls == 3
    assert [x["resourceArn"] for x in seen] == [f"acs:fc:{REGION}:{account}:services/lt{i}" for i in (0, 1, 2, 4, 5, 6)]
    assert seen[3]["tags"] == {"n": "4"}


def test_list_tagged_resources_empty(http, server):
    assert http.get(server.url + "/2021-04-06/tags").json() == {"resources": []}
