"""Aliases through aliyun-fc2 and plain HTTP (fc-api.md §2.6, §4, §5, §8)."""
from __future__ import annotations

import random
import time
from collections import Counter

import pytest
from fc2.fc_exceptions import FcError

from emulator.store.snapshots import pick_version
from tests.helpers import fc_error


def _service_with_versions(fc, svc, n):
    fc.create_service(svc, description="d0")
    for i in range(n):
        fc.update_service(svc, description=f"desc v{i + 1}")
        fc.publish_version(svc, f"v{i + 1}")


def test_crud(fc):
    _service_with_versions(fc, "as", 3)
    r = fc.create_alias("as", "test", "1", "test alias", {"2": 0.1})
    d = r.data
    assert d["aliasName"] == "test" and d["versionId"] == "1"
    assert d["description"] == "test alias"
    assert d["additionalVersionWeight"] == {"2": 0.1}
    assert "createdTime" in d and "lastModifiedTime" in d
    assert len(r.headers["Etag"]) == 32

    g = fc.get_alias("as", "test")
    assert g.data == d and g.headers["Etag"] == r.headers["Etag"]

    time.sleep(1.1)
    u = fc.update_alias("as", "test", "2", "test alias_update", {"3": 0.8})
    assert u.data["versionId"] == "2" and u.data["description"] == "test alias_update"
    assert u.data["additionalVersionWeight"] == {"3": 0.8}
    assert u.data["createdTime"] == d["createdTime"] and u.data["lastModifiedTime"] > d["lastModifiedTime"]
    assert u.headers["Etag"] != r.headers["Etag"]

    fc.delete_alias("as", "test")
    with pytest.raises(FcError) as e:
        fc.get_alias("as", "test")
    assert e.value.status_code == 404
    assert fc_error(e)["ErrorCode"] == "AliasNotFound"
    assert fc_error(e)["ErrorMessage"] == "alias 'test' of service 'as' does not exist"


def test_defaults_when_unset(http, server):
    """java-test: description "" and additionalVersionWeight null when unset."""
    base = server.url + "/2016-08-15/services"
    http.post(base, json={"serviceName": "adef"})
    http.post(base + "/adef/versions", json={})
    r = http.post(base + "/adef/aliases", json={"aliasName": "a", "versionId": "1", "description": None})
    assert r.status_code == 200, r.text
    assert r.json()["description"] == ""
    assert r.json()["additionalVersionWeight"] is None
    assert r.json()["resolvePolicy"] is None and r.json()["routePolicy"] is None


def test_partial_update_and_case_insensitive_keys(http, server):
    base = server.url + "/2021-04-06/services"
    http.post(base, json={"serviceName": "apart"})
    http.post(base + "/apart/versions", json={})
    http.put(base + "/apart", json={"description": "x"})
    http.post(base + "/apart/versions", json={})
    r = http.post(base + "/apart/aliases", json={
        "AliasName": "a", "VersionId": "2", "Description": "d", "AdditionalVersionWeight": {"1": 0.5},
        "resolvePolicy": "Content",
        "routePolicy": {"condition": "AND", "policyItems": [{"key": "x-a", "operator": "=", "type": "Header",
                                                              "value": "1"}]}})
    assert r.status_code == 200, r.text
    assert r.json()["routePolicy"]["policyItems"][0]["key"] == "x-a"
    r = http.put(base + "/apart/aliases/a", json={"description": "changed"})
    d = r.json()
    assert d["description"] == "changed" and d["versionId"] == "2"
    assert d["additionalVersionWeight"] == {"1": 0.5} and d["resolvePolicy"] == "Content"
    # a present empty value is applied: clears description and weights
    d = http.put(base + "/apart/aliases/a", json={"description": "", "additionalVersionWeight": {}}).json()
    assert d["description"] == "" and d["additionalVersionWeight"] == {}


def test_weights_validated_and_nothing_changes(fc, http, server):
    _service_with_versions(fc, "aw", 3)
    fc.create_alias("aw", "prod", "1")
    base = server.url + "/2016-08-15/services/aw/aliases"
    cases = [
        ({"aliasName": "x", "versionId": "1", "additionalVersionWeight": {"2": 1.5}}, 400, "InvalidArgument"),
        ({"aliasName": "x", "versionId": "1", "additionalVersionWeight": {"2": -0.1}}, 400, "InvalidArgument"),
        ({"aliasName": "x", "versionId": "1", "additionalVersionWeight": {"2": 0.6, "3": 0.5}}, 400,
         "InvalidArgument"),
        ({"aliasName": "x", "versionId": "1", "additionalVersionWeight": {"2": "0.5"}}, 400, "InvalidArgument"),
        ({"aliasName": "x", "versionId": "1", "additionalVersionWeight": {"9": 0.5}}, 404, "VersionNotFound"),
        ({"aliasName": "x", "versionId": "9"}, 404, "VersionNotFound"),
        ({"aliasName": "x"}, 400, "InvalidArgument"),
        ({"aliasName": "x", "versionId": 1}, 400, "InvalidArgument"),
        ({"aliasName": "x", "versionId": "1", "resolvePolicy": "Sometimes"}, 400, "InvalidArgument"),
        ({"aliasName": "x", "versionId": "1", "description": "d" * 257}, 400, "InvalidArgument"),
    ]
    for body, status, code in cases:
        r = http.post(base, json=body)
        assert (r.status_code, r.json()["ErrorCode"]) == (status, code), (body, r.text)
    r = http.post(base, json={"aliasName": "x", "versionId": "1", "additionalVersionWeight": {"9": 0.5}})
    assert r.json()["ErrorMessage"] == "version '9' of service 'aw' does not exist"
    assert [a["aliasName"] for a in fc.list_aliases("aw").data["aliases"]] == ["prod"]

    before = fc.get_alias("aw", "prod")
    r = http.put(base + "/prod", json={"additionalVersionWeight": {"2": 0.7, "3": 0.7}})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    r = http.put(base + "/prod", json={"versionId": "7"})
    assert r.status_code == 404 and r.json()["ErrorMessage"] == "version '7' of service 'aw' does not exist"
    after = fc.get_alias("aw", "prod")
    assert after.data == before.data and after.headers["Etag"] == before.headers["Etag"]

    # weights summing to exactly 1 are fine
    assert fc.create_alias("aw", "full", "1", additionalVersionWeight={"2": 0.5, "3": 0.5}).data[
        "additionalVersionWeight"] == {"2": 0.5, "3": 0.5}


def test_additional_weight_contains_major_version(fc):
    _service_with_versions(fc, "amaj", 2)
    with pytest.raises(FcError) as e:
        fc.create_alias("amaj", "test", "1", "test alias", {"1": 0.9})
    assert e.value.status_code == 400
    assert fc_error(e)["ErrorCode"] == "AdditionalVersionContainsMajorVersion"
    assert fc_error(e)["ErrorMessage"] == "additionalVersionWeight map[1:0.9] should not contain major version 1"
    fc.create_alias("amaj", "test", "1", additionalVersionWeight={"2": 1})
    # switching the main version onto a weighted one is the same mistake
    with pytest.raises(FcError) as e:
        fc.update_alias("amaj", "test", "2")
    assert fc_error(e)["ErrorMessage"] == "additionalVersionWeight map[2:1] should not contain major version 2"
    assert fc.get_alias("amaj", "test").data["versionId"] == "1"


@pytest.mark.parametrize("name", ["LATEST", "1abc", "-a", "a.b", "a" * 129, ""])
def test_bad_alias_names(http, server, name):
    base = server.url + "/2016-08-15/services"
    http.post(base, json={"serviceName": "aname"})
    http.post(base + "/aname/versions", json={})
    r = http.post(base + "/aname/aliases", json={"aliasName": name, "versionId": "1"})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument", r.text
    assert http.get(base + "/aname/aliases").json() == {"aliases": []}


def test_duplicate_missing_and_if_match(fc):
    _service_with_versions(fc, "adup", 1)
    etag = fc.create_alias("adup", "a", "1").headers["Etag"]
    with pytest.raises(FcError) as e:
        fc.create_alias("adup", "a", "1", "other")
    assert e.value.status_code == 409 and fc_error(e)["ErrorCode"] == "AliasAlreadyExists"
    assert fc.get_alias("adup", "a").data["description"] == ""

    with pytest.raises(FcError) as e:
        fc.update_alias("adup", "nope", "1", "x")
    assert e.value.status_code == 404 and fc_error(e)["ErrorCode"] == "AliasNotFound"
    with pytest.raises(FcError) as e:
        fc.delete_alias("adup", "nope")
    assert fc_error(e)["ErrorMessage"] == "alias 'nope' of service 'adup' does not exist"
    with pytest.raises(FcError) as e:
        fc.create_alias("nosvc", "a", "1")
    assert e.value.status_code == 404 and fc_error(e)["ErrorCode"] == "ServiceNotFound"

    for call in (lambda h: fc.update_alias("adup", "a", "1", "x", headers=h),
                 lambda h: fc.delete_alias("adup", "a", headers=h)):
        with pytest.raises(FcError) as e:
            call({"if-match": "0" * 32})
        assert e.value.status_code == 412 and fc_error(e)["ErrorCode"] == "PreconditionFailed"
    assert fc.get_alias("adup", "a").data["description"] == ""
    etag = fc.update_alias("adup", "a", "1", "x", headers={"if-match": etag}).headers["Etag"]
    fc.delete_alias("adup", "a", headers={"if-match": etag})
    assert fc.list_aliases("adup").data == {"aliases": []}


def test_pagination(fc):
    _service_with_versions(fc, "apg", 1)
    names = [f"alias_{c}" for c in "abcdefghij"]
    for n in reversed(names):
        fc.create_alias("apg", n, "1")
    seen, token, calls = [], None, 0
    while True:
        r = fc.list_aliases("apg", limit=3, nextToken=token).data
        calls += 1
        seen += [a["aliasName"] for a in r["aliases"]]
        token = r.get("nextToken")
        if not token:
            assert "nextToken" not in r
            break
    assert seen == names and calls == 4
    assert [a["aliasName"] for a in fc.list_aliases("apg", prefix="alias_b").data["aliases"]] == ["alias_b"]
    assert [a["aliasName"] for a in fc.list_aliases("apg", startKey="alias_h").data["aliases"]] == names[7:]


def test_qualifier_resolution_through_alias(fc, http, server):
    _service_with_versions(fc, "aq", 2)
    fc.update_service("aq", description="latest")
    fc.create_alias("aq", "test", "1", "test alias")
    fc.create_alias("aq", "prod", "2", additionalVersionWeight={"1": 0.5})
    # GetService through a qualifier shows the version's description (fc-python-sdk version_test.py)
    assert fc.get_service("aq", qualifier="test").data["description"] == "v1"
    assert fc.get_service("aq", qualifier="prod").data["description"] == "v2"
    for prefix in ("/2016-08-15", "/2021-04-06"):
        a = http.get(f"{server.url}{prefix}/services/aq.test").json()
        b = http.get(f"{server.url}{prefix}/services/aq", params={"qualifier": "test"}).json()
        assert a == b and a["description"] == "v1"
    fc.update_alias("aq", "test", "2")
    assert fc.get_service("aq", qualifier="test").data["description"] == "v2"
    with pytest.raises(FcError) as e:
        fc.get_service("aq", qualifier="missing")
    assert e.value.status_code == 404
    assert fc_error(e)["ErrorMessage"] == "alias 'missing' of service 'aq' does not exist"


def test_pick_version_honours_weights():
    alias = {"versionId": "1", "additionalVersionWeight": {"2": 0.25, "10": 0.25}}
    assert pick_version(alias, 0.0) == "2"
    assert pick_version(alias, 0.3) == "10"
    assert pick_version(alias, 0.5) == "1" and pick_version(alias, 0.99) == "1"
    assert pick_version({"versionId": "3", "additionalVersionWeight": None}, 0.0) == "3"
    rnd = random.Random(7)
    counts = Counter(pick_version(alias, rnd.random()) for _ in range(4000))
    assert 0.45 < counts["1"] / 4000 < 0.55 and 0.2 < counts["2"] / 4000 < 0.3
