"""Services through aliyun-fc2 and plain HTTP (fc-api.md §2.2, §0, §4, §5)."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fc2.fc_exceptions import FcError

from tests.helpers import HELLO_PY, fc_client, fc_error, zip_b64


def test_create_get_update_delete(fc):
    r = fc.create_service("svc1", description="d1")
    data = r.data
    assert data["serviceName"] == "svc1"
    assert data["description"] == "d1"
    for key in ("logConfig", "role", "createdTime", "lastModifiedTime", "serviceId"):
        assert key in data
    assert data["internetAccess"] is True
    etag = r.headers["Etag"]
    assert len(etag) == 32
    assert r.headers["X-Fc-Request-Id"]

    got = fc.get_service("svc1")
    assert got.data["serviceId"] == data["serviceId"]
    assert got.headers["Etag"] == etag

    time.sleep(1.1)
    upd = fc.update_service("svc1", description="d2", logConfig={"project": "p", "logstore": "l"})
    assert upd.data["description"] == "d2"
    assert upd.data["logConfig"]["project"] == "p"
    assert upd.data["createdTime"] == data["createdTime"]
    assert upd.data["lastModifiedTime"] > data["lastModifiedTime"]
    assert upd.headers["Etag"] != etag

    fc.delete_service("svc1")
    with pytest.raises(FcError) as e:
        fc.get_service("svc1")
    assert e.value.status_code == 404
    assert "ServiceNotFound" in str(e.value)


def test_duplicate_is_409(fc):
    fc.create_service("dup")
    with pytest.raises(FcError) as e:
        fc.create_service("dup")
    assert e.value.status_code == 409
    assert "ServiceAlreadyExists" in str(e.value)


def test_seed_document_example_parameters(http, server):
    # shared/seeds/fc-api-notes.md: capitalised nested keys, role given.
    body = {"serviceName": "seed-svc", "description": "x", "internetAccess": False, "role": "acs:ram::1:role/r",
            "vpcConfig": {"VpcId": "vpc-1", "VSwitchIds": ["vsw-1"]},
            "logConfig": {"Project": "proj", "Logstore": "store"},
            "nasConfig": {"MountPoints": [{"serverAddr": "a:/", "mountDir": "/mnt/a"}], "UserId": 10, "GroupId": 10}}
    r = http.post(server.url + "/2016-08-15/services", json=body)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["vpcConfig"]["vpcId"] == "vpc-1" and d["vpcConfig"]["vSwitchIds"] == ["vsw-1"]
    assert d["logConfig"] == {**d["logConfig"], "project": "proj", "logstore": "store"}
    assert d["nasConfig"]["userId"] == 10 and d["nasConfig"]["mountPoints"][0]["mountDir"] == "/mnt/a"
    assert d["internetAccess"] is False


def test_null_means_absent_and_partial_update(http, server):
    r = http.post(server.url + "/2016-08-15/services", json={"ServiceName": "n1", "description": None})
    assert r.status_code == 200, r.text
    assert r.json()["description"] == ""
    r = http.put(server.url + "/2016-08-15/services/n1", json={"Description": "kept", "role": None})
    assert r.json()["description"] == "kept" and r.json()["role"] == ""
    r = http.put(server.url + "/2016-08-15/services/n1", json={"role": "r"})
    assert r.json()["description"] == "kept" and r.json()["role"] == "r"


def test_if_match(fc):
    r = fc.create_service("im")
    with pytest.raises(FcError) as e:
        fc.update_service("im", description="x", headers={"if-match": "0" * 32})
    assert e.value.status_code == 412 and "PreconditionFailed" in str(e.value)
    fc.update_service("im", description="x", headers={"if-match": r.headers["Etag"]})


def test_pagination(fc):
    names = ["test_list_abc", "test_list_abd", "test_list_bcd", "test_list_bde", "test_list_cde"]
    for n in names:
        fc.create_service(n)
    assert [s["serviceName"] for s in fc.list_services().data["services"]] == names
    assert [s["serviceName"] for s in fc.list_services(prefix="test_list_ab").data["services"]] == names[:2]
    assert [s["serviceName"] for s in fc.list_services(startKey="test_list_b").data["services"]] == names[2:]
    r = fc.list_services(prefix="test_list_ab", startKey="test_list_abd").data
    assert [s["serviceName"] for s in r["services"]] == ["test_list_abd"]
    seen, token, calls = [], None, 0
    while True:
        r = fc.list_services(limit=2, nextToken=token).data
        calls += 1
        seen += [s["serviceName"] for s in r["services"]]
        token = r.get("nextToken")
        if not token:
            assert "nextToken" not in r
            break
    assert seen == names and calls == 3
    assert fc.list_services(prefix="x", nextToken="test_list_b").data["services"] == []


def test_empty_list(fc):
    assert fc.list_services().data == {"services": []}


def test_tag_filter(fc):
    for n, v in (("t1", "v3"), ("t2", "v4"), ("t3", None)):
        fc.create_service(n)
        if v:
            fc.tag_resource(f"services/{n}", {"k3": v})
    assert [s["serviceName"] for s in fc.list_services(tags={"k3": ""}).data["services"]] == ["t1", "t2"]
    assert [s["serviceName"] for s in fc.list_services(tags={"k3": "v4"}).data["services"]] == ["t2"]


@pytest.mark.parametrize("name", ["1abc", "-abc", "a" * 129, "has.dot", "sp ace", ""])
def test_bad_names(http, server, name):
    r = http.post(server.url + "/2016-08-15/services", json={"serviceName": name})
    assert r.status_code == 400
    assert r.json()["ErrorCode"] == "InvalidArgument"
    assert http.get(server.url + "/2016-08-15/services").json()["services"] == []


def test_malformed_json_and_wrong_types(http, server):
    r = http.post(server.url + "/2016-08-15/services", data=b'{"serviceName": "x",',
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    assert r.headers["Content-Type"].startswith("application/json")
    r = http.post(server.url + "/2016-08-15/services", json={"serviceName": "x", "internetAccess": "yes"})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    assert "internetAccess" in r.json()["ErrorMessage"]
    r = http.post(server.url + "/2016-08-15/services", json=["serviceName"])
    assert r.status_code == 400
    assert http.get(server.url + "/2016-08-15/services").json()["services"] == []


def test_unknown_path_is_path_not_supported(http, server):
    r = http.get(server.url + "/2016-08-15/nothing-here")
    assert r.status_code == 400
    assert r.json()["ErrorCode"] == "PathNotSupported"
    assert "X-Fc-Request-Id" in r.headers


def test_header_casing_on_the_wire(server, account):
    # requests folds header case; read the raw response line by line.
    import socket
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(f"GET /2016-08-15/services HTTP/1.1\r\nHost: x\r\nX-Fc-Account-Id: {account}\r\n"
                  f"Connection: close\r\n\r\n".encode())
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    head = raw.split(b"\r\n\r\n")[0].decode()
    assert "\r\nX-Fc-Request-Id: " in head
    assert "\r\nContent-Type: application/json" in head


def test_both_prefixes_and_qualifier_forms(http, server):
    assert http.post(server.url + "/2021-04-06/services", json={"serviceName": "p21"}).status_code == 200
    assert http.get(server.url + "/2016-08-15/services/p21").json()["serviceName"] == "p21"
    assert http.get(server.url + "/2021-04-06/services/p21?qualifier=LATEST").status_code == 200
    assert http.get(server.url + "/2021-04-06/services/p21.LATEST").status_code == 200


def test_accounts_are_isolated(server, fc):
    other = fc_client(server, "999000111")
    fc.create_service("mine")
    with pytest.raises(FcError) as e:
        other.get_service("mine")
    assert e.value.status_code == 404


def test_parallel_creates_one_wins(http, server):
    def create(_):
        return http.post(server.url + "/2016-08-15/services", json={"serviceName": "race"}).status_code

    with ThreadPoolExecutor(32) as pool:
        codes = list(pool.map(create, range(32)))
    assert codes.count(200) == 1 and codes.count(409) == 31


def test_delete_service_with_functions_is_409(fc, http, server):
    fc.create_service("busy")
    r = http.post(server.url + "/2016-08-15/services/busy/functions",
                  json={"functionName": "f", "handler": "index.handler", "runtime": "python3.9",
                        "code": {"zipFile": zip_b64(HELLO_PY)}})
    assert r.status_code == 200, r.text
    with pytest.raises(FcError) as e:
        fc.delete_service("busy")
    assert e.value.status_code == 409
    assert fc_error(e) == {**fc_error(e), "ErrorCode": "ServiceNotEmpty",
                           "ErrorMessage": "service 'busy' has active 'functions'"}
    assert fc.get_service("busy").data["serviceName"] == "busy"
