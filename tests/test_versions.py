"""Versions through aliyun-fc2 and plain HTTP (fc-api.md §2.6, §4, §5, §8)."""
from __future__ import annotations

import pytest
from fc2.fc_exceptions import FcError

from tests.helpers import HELLO_PY, fc_error, make_zip, zip_b64


@pytest.fixture
def code_zip(tmp_path):
    path = tmp_path / "code.zip"
    path.write_bytes(make_zip(HELLO_PY))
    return str(path)


def new_function(fc, svc, fn, code_zip, **kw):
    return fc.create_function(svc, fn, handler="index.handler", runtime="python3.9", codeZipFile=code_zip, **kw)


def test_publish_list_delete_ids_never_reused(fc):
    fc.create_service("vs")
    r = fc.publish_version("vs", "test service v1")
    assert r.data["versionId"] == "1"
    assert r.data["description"] == "test service v1"
    assert set(r.data) == {"versionId", "description", "createdTime", "lastModifiedTime"}

    # Nothing changed since v1: refused, and nothing is stored.
    with pytest.raises(FcError) as e:
        fc.publish_version("vs", "test service v2")
    assert e.value.status_code == 400
    err = fc_error(e)
    assert err["ErrorCode"] == "InvalidArgument"
    assert err["ErrorMessage"].startswith("service 'vs' has not changed since version '1'")
    assert [v["versionId"] for v in fc.list_versions("vs").data["versions"]] == ["1"]

    # A service with versions cannot be deleted (py-test).
    with pytest.raises(FcError) as e:
        fc.delete_service("vs")
    assert e.value.status_code == 409

    fc.delete_version("vs", "1")
    assert fc.list_versions("vs", limit=2).data == {"versions": [], "direction": "BACKWARD"}

    # With no version left, publishing an unchanged service is allowed; the id is not reused.
    assert fc.publish_version("vs").data["versionId"] == "2"
    for i in range(3, 8):
        fc.update_service("vs", description=f"service description{i}")
        r = fc.publish_version("vs", f"test service v{i}")
        assert r.data["versionId"] == str(i)
        assert r.data["description"] == f"test service v{i}"
    assert [v["versionId"] for v in fc.list_versions("vs").data["versions"]] == ["7", "6", "5", "4", "3", "2"]


def test_publish_description_defaults_to_empty(http, server):
    http.post(server.url + "/2021-04-06/services", json={"serviceName": "vd"})
    r = http.post(server.url + "/2021-04-06/services/vd/versions", json={"description": None})
    assert r.status_code == 200, r.text
    assert r.json()["description"] == "" and r.json()["versionId"] == "1"
    # an empty body is also fine
    http.put(server.url + "/2021-04-06/services/vd", json={"description": "x"})
    r = http.post(server.url + "/2021-04-06/services/vd/versions")
    assert r.status_code == 200 and r.json()["versionId"] == "2"


def test_publish_if_match(fc):
    etag = fc.create_service("vim").headers["Etag"]
    with pytest.raises(FcError) as e:
        fc.publish_version("vim", "x", headers={"if-match": "0" * 32})
    assert e.value.status_code == 412
    assert fc_error(e)["ErrorCode"] == "PreconditionFailed"
    assert fc_error(e)["ErrorMessage"] == "the resource being modified has been changed"
    assert fc.list_versions("vim").data["versions"] == []
    assert fc.publish_version("vim", "x", headers={"if-match": etag}).data["versionId"] == "1"


def test_publish_bad_body(http, server):
    http.post(server.url + "/2016-08-15/services", json={"serviceName": "vbad"})
    r = http.post(server.url + "/2016-08-15/services/vbad/versions", json={"description": 5})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    assert "description" in r.json()["ErrorMessage"]
    r = http.post(server.url + "/2016-08-15/services/vbad/versions", json={"description": "d" * 257})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    assert http.get(server.url + "/2016-08-15/services/vbad/versions").json()["versions"] == []


def test_missing_service_and_version(fc):
    with pytest.raises(FcError) as e:
        fc.publish_version("nosvc")
    assert e.value.status_code == 404
    assert fc_error(e)["ErrorMessage"] == "service 'nosvc' does not exist"
    with pytest.raises(FcError) as e:
        fc.list_versions("nosvc")
    assert fc_error(e)["ErrorCode"] == "ServiceNotFound"
    fc.create_service("vm")
    with pytest.raises(FcError) as e:
        fc.delete_version("vm", "3")
    assert e.value.status_code == 404
    assert fc_error(e) == {**fc_error(e), "ErrorCode": "VersionNotFound",
                           "ErrorMessage": "version '3' of service 'vm' does not exist"}
    with pytest.raises(FcError) as e:
        fc.get_service("vm", qualifier="3")
    assert fc_error(e)["ErrorCode"] == "VersionNotFound"
    assert fc_error(e)["ErrorMessage"] == "version '3' of service 'vm' does not exist"


def _publish_n(fc, svc, n):
    fc.create_service(svc)
    for i in range(n):
        fc.update_service(svc, description=f"d{i}")
        fc.publish_version(svc, f"v{i + 1}")


def test_pagination_backward_forward(fc):
    _publish_n(fc, "vp", 10)
    # 10 items / limit 3 -> 4 calls, newest first by default
    seen, token, calls = [], None, 0
    while True:
        r = fc.list_versions("vp", limit=3, nextToken=token).data
        calls += 1
        assert r["direction"] == "BACKWARD"
        seen += [v["versionId"] for v in r["versions"]]
        token = r.get("nextToken")
        if not token:
            assert "nextToken" not in r
            break
    assert seen == [str(i) for i in range(10, 0, -1)] and calls == 4

    seen, token, calls = [], None, 0
    while True:
        r = fc.list_versions("vp", limit=3, nextToken=token, direction="FORWARD").data
        calls += 1
        assert r["direction"] == "FORWARD"
        seen += [v["versionId"] for v in r["versions"]]
        token = r.get("nextToken")
        if not token:
            break
    assert seen == [str(i) for i in range(1, 11)] and calls == 4

    # numeric order, not byte order: startKey is inclusive in the listing's direction
    assert [v["versionId"] for v in fc.list_versions("vp", startKey="9", limit=3).data["versions"]] == ["9", "8", "7"]
    assert [v["versionId"] for v in fc.list_versions("vp", startKey="9", direction="FORWARD").data["versions"]] == [
        "9", "10"]
    assert fc.list_versions("vp", limit=3).data["nextToken"] == "7"


def test_list_bad_parameters(http, server):
    http.post(server.url + "/2016-08-15/services", json={"serviceName": "vlb"})
    base = server.url + "/2016-08-15/services/vlb/versions"
    for query in ({"direction": "SIDEWAYS"}, {"limit": "101"}, {"limit": "x"}, {"startKey": "abc"}):
        r = http.get(base, params=query)
        assert r.status_code == 400, query
        assert r.json()["ErrorCode"] == "InvalidArgument"


def test_snapshot_of_functions_and_service(fc, http, server, code_zip):
    """py-test: v1 lists 3 functions, v2 lists 6; descriptions come from the snapshot."""
    fc.create_service("vsnap", description="svc v1 desc")
    for n in ("test_list_abc", "test_list_abd", "test_list_ade"):
        new_function(fc, "vsnap", n, code_zip, description=f"{n} one")
    v1 = fc.publish_version("vsnap", "v1").data["versionId"]
    checksum1 = fc.get_function("vsnap", "test_list_abc").data["codeChecksum"]
    for n in ("test_list_bcd", "test_list_bde", "test_list_zzz"):
        new_function(fc, "vsnap", n, code_zip)
    other = str(code_zip) + ".2"
    open(other, "wb").write(make_zip({"index.py": "def handler(e, c):\n    return 'v2'\n"}))
    fc.update_function("vsnap", "test_list_abc", codeZipFile=other, description="abc two")
    fc.update_service("vsnap", description="svc v2 desc")
    v2 = fc.publish_version("vsnap", "v2").data["versionId"]
    fc.update_service("vsnap", description="latest desc")
    fc.update_function("vsnap", "test_list_abc", description="abc latest")

    assert len(fc.list_functions("vsnap").data["functions"]) == 6
    r1 = fc.list_functions("vsnap", qualifier=v1).data["functions"]
    assert [f["functionName"] for f in r1] == ["test_list_abc", "test_list_abd", "test_list_ade"]
    assert r1[0]["description"] == "test_list_abc one"
    assert len(fc.list_functions("vsnap", qualifier=v2).data["functions"]) == 6

    # a version's GetService shows the version's description (fc-python-sdk version_test.py), the
    # rest of the service as frozen
    s1 = fc.get_service("vsnap", qualifier=v1).data
    assert s1["description"] == "v1" and s1["serviceId"] == fc.get_service("vsnap").data["serviceId"]
    assert fc.get_service("vsnap", qualifier=v2).data["description"] == "v2"
    assert fc.get_service("vsnap").data["description"] == "latest desc"
    assert fc.get_service("vsnap", qualifier="LATEST").data["description"] == "latest desc"

    f1 = fc.get_function("vsnap", "test_list_abc", qualifier=v1).data
    f2 = fc.get_function("vsnap", "test_list_abc", qualifier=v2).data
    assert f1["description"] == "test_list_abc one" and f2["description"] == "abc two"
    assert f1["codeChecksum"] == checksum1 != f2["codeChecksum"]
    assert fc.get_function_code("vsnap", "test_list_abc", qualifier=v1).data["checksum"] == checksum1
    with pytest.raises(FcError) as e:
        fc.get_function("vsnap", "test_list_zzz", qualifier=v1)
    assert fc_error(e)["ErrorMessage"] == "function 'test_list_zzz' does not exist in service 'vsnap'"

    # Both qualifier forms under both prefixes give the same snapshot.
    for prefix in ("/2016-08-15", "/2021-04-06"):
        a = http.get(f"{server.url}{prefix}/services/vsnap.1/functions").json()
        b = http.get(f"{server.url}{prefix}/services/vsnap/functions", params={"qualifier": "1"}).json()
        assert a == b and len(a["functions"]) == 3
        a = http.get(f"{server.url}{prefix}/services/vsnap.1").json()
        b = http.get(f"{server.url}{prefix}/services/vsnap", params={"qualifier": "1"}).json()
        assert a == b and a["description"] == "v1"


def test_function_change_alone_allows_publish(http, server):
    base = server.url + "/2016-08-15/services"
    http.post(base, json={"serviceName": "vfn"})
    http.post(base + "/vfn/functions", json={"functionName": "f", "runtime": "python3.9",
                                              "handler": "index.handler", "code": {"zipFile": zip_b64(HELLO_PY)}})
    assert http.post(base + "/vfn/versions", json={}).json()["versionId"] == "1"
    r = http.post(base + "/vfn/versions", json={})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    http.put(base + "/vfn/functions/f", json={"timeout": 30})
    assert http.post(base + "/vfn/versions", json={}).json()["versionId"] == "2"
    # Triggers are not part of a version; deleting a function is a change.
    http.delete(base + "/vfn/functions/f")
    assert http.post(base + "/vfn/versions", json={}).json()["versionId"] == "3"
    assert http.get(base + "/vfn.3/functions").json()["functions"] == []
    assert len(http.get(base + "/vfn.2/functions").json()["functions"]) == 1


def test_delete_version_used_by_alias_leaves_the_alias(fc):
    _publish_n(fc, "vdel", 2)
    fc.create_alias("vdel", "prod", "1")
    fc.delete_version("vdel", "1")
    assert [v["versionId"] for v in fc.list_versions("vdel").data["versions"]] == ["2"]
    assert fc.get_alias("vdel", "prod").data["versionId"] == "1"
    with pytest.raises(FcError) as e:
        fc.get_service("vdel", qualifier="prod")
    assert e.value.status_code == 404
    assert fc_error(e)["ErrorCode"] == "VersionNotFound"
    assert fc_error(e)["ErrorMessage"] == "version '1' of service 'vdel' does not exist"


def test_delete_returns_204_empty(http, server):
    base = server.url + "/2021-04-06/services"
    http.post(base, json={"serviceName": "v204"})
    http.post(base + "/v204/versions", json={})
    r = http.delete(base + "/v204/versions/1")
    assert r.status_code == 204 and r.content == b""
    # the service can go once its versions are gone, and a new one restarts at 1
    assert http.delete(base + "/v204").status_code == 204
    http.post(base, json={"serviceName": "v204"})
    assert http.post(base + "/v204/versions", json={}).json()["versionId"] == "1"


def test_accounts_are_isolated(fc, server):
    from tests.helpers import fc_client, new_account
    fc.create_service("viso")
    fc.publish_version("viso")
    other = fc_client(server, new_account())
    other.create_service("viso")
    assert other.list_versions("viso").data["versions"] == []
    assert other.publish_version("viso").data["versionId"] == "1"
