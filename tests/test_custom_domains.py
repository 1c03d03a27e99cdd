"""Custom domains through aliyun-fc2 and plain HTTP (fc-api.md §2.7, §4, §5)."""
from __future__ import annotations

import time

import pytest
from fc2.fc_exceptions import FcError

from tests.helpers import fc_error

CERT = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEfake\n-----END RSA PRIVATE KEY-----\n"
ROUTES = {"routes": [
    {"serviceName": "s1", "functionName": "f1", "path": "/a", "qualifier": None},
    {"serviceName": "s2", "functionName": "f2", "path": "/b", "qualifier": None},
]}


def test_py_sdk_flow(fc, account):
    """The py-test custom-domain scenario, mixed-case name included."""
    name = f"pythonSDK.cn-hongkong.{account}.cname-test.fc.aliyun-inc.com"
    r = fc.create_custom_domain(name)
    d = r.data
    assert d["domainName"] == name and d["protocol"] == "HTTP"
    assert d["accountId"] == account and d["apiVersion"] == "2016-08-15"
    assert d["routeConfig"] == {"routes": []}
    assert "createdTime" in d and "lastModifiedTime" in d
    assert len(r.headers["Etag"]) == 32

    with pytest.raises(FcError) as e:
        fc.create_custom_domain(name)
    assert e.value.status_code == 409
    assert fc_error(e)["ErrorCode"] == "DomainNameAlreadyExists"

    assert fc.get_custom_domain(name).data == d

    cert = {"certName": "test-ssl", "privateKey": KEY, "certificate": CERT}
    time.sleep(1.1)
    u = fc.update_custom_domain(name, "HTTP,HTTPS", ROUTES, certConfig=cert).data
    assert u["protocol"] == "HTTP,HTTPS"
    assert u["routeConfig"] == ROUTES
    assert u["certConfig"] == {"certName": "test-ssl", "certificate": CERT, "privateKey": None}
    assert u["createdTime"] == d["createdTime"] and u["lastModifiedTime"] > d["lastModifiedTime"]

    u = fc.update_custom_domain(name, "HTTP", ROUTES).data
    assert u["protocol"] == "HTTP" and u["routeConfig"] == ROUTES
    assert u["certConfig"]["certName"] == "test-ssl"  # partial update keeps the certificate

    listed = fc.list_custom_domains(prefix="pythonSDK").data
    assert len(listed) == 1 and [x["domainName"] for x in listed["customDomains"]] == [name]

    fc.delete_custom_domain(name)
    with pytest.raises(FcError) as e:
        fc.get_custom_domain(name)
    assert e.value.status_code == 404
    assert fc_error(e)["ErrorCode"] == "DomainNameNotFound"
    assert fc_error(e)["ErrorMessage"] == f"domain name '{name}' does not exist"

    d = fc.create_custom_domain(name, "HTTP,HTTPS", certConfig=cert).data
    assert d["certConfig"]["certificate"] == CERT and d["certConfig"]["privateKey"] is None


def test_routes_keep_order_and_values(http, server):
    routes = [
        {"path": "/z", "serviceName": "s", "functionName": "f", "qualifier": "prod", "methods": ["GET", "POST"]},
        {"path": "/login/*", "serviceName": "s", "functionName": "g", "qualifier": None},
        {"path": "/a", "serviceName": "s", "functionName": "h", "qualifier": "1",
         "rewriteConfig": {"equalRules": [{"match": "/old", "replacement": "/new"}]}},
    ]
    body = {"DomainName": "order.example.com", "RouteConfig": {"Routes": routes},
            "tlsConfig": {"minVersion": "TLSv1.2", "cipherSuites": ["TLS_RSA_WITH_AES_128_CBC_SHA"]},
            "wafConfig": {"enableWAF": True}}
    r = http.post(server.url + "/2021-04-06/custom-domains", json=body)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["routeConfig"]["routes"] == routes
    assert d["tlsConfig"] == {"minVersion": "TLSv1.2", "cipherSuites": ["TLS_RSA_WITH_AES_128_CBC_SHA"]}
    assert d["wafConfig"] == {"enableWAF": True}
    assert d["certConfig"] is None
    assert http.get(server.url + "/2016-08-15/custom-domains/order.example.com").json() == d

    # null values on update mean "absent"; an empty routes list clears the routes
    r = http.put(server.url + "/2021-04-06/custom-domains/order.example.com",
                 json={"protocol": None, "routeConfig": {"routes": []}})
    assert r.json()["routeConfig"] == {"routes": []} and r.json()["protocol"] == "HTTP"
    assert r.json()["wafConfig"] == {"enableWAF": True}


@pytest.mark.parametrize("body", [
    {},
    {"domainName": "bad_name.example.com"},
    {"domainName": "-lead.example.com"},
    {"domainName": "sp ace.example.com"},
    {"domainName": "a" * 64 + ".com"},
    {"domainName": 5},
    {"domainName": "ok.example.com", "protocol": "FTP"},
    {"domainName": "ok.example.com", "protocol": "HTTPS"},  # HTTPS needs a certificate
    {"domainName": "ok.example.com", "protocol": "HTTPS", "certConfig": {"certName": "c", "certificate": CERT}},
    {"domainName": "ok.example.com", "protocol": "HTTPS",
     "certConfig": {"certName": "c", "certificate": "not pem", "privateKey": KEY}},
    {"domainName": "ok.example.com", "routeConfig": {"routes": [{"path": "a", "serviceName": "s",
                                                                 "functionName": "f"}]}},
    {"domainName": "ok.example.com", "routeConfig": {"routes": [{"path": "/a*b", "serviceName": "s",
                                                                 "functionName": "f"}]}},
    {"domainName": "ok.example.com", "routeConfig": {"routes": [{"path": "/a", "functionName": "f"}]}},
    {"domainName": "ok.example.com", "routeConfig": {"routes": [
        {"path": "/a", "serviceName": "s", "functionName": "f"},
        {"path": "/a", "serviceName": "s", "functionName": "g"}]}},
    {"domainName": "ok.example.com", "routeConfig": {"routes": [
        {"path": "/a", "serviceName": "s", "functionName": "f", "methods": ["FETCH"]}]}},
    {"domainName": "ok.example.com", "tlsConfig": {"minVersion": "SSLv3"}},
    {"domainName": "ok.example.com", "wafConfig": {"enableWAF": "yes"}},
])
def test_bad_input_is_400_and_nothing_stored(http, server, body):
    r = http.post(server.url + "/2016-08-15/custom-domains", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["ErrorCode"] == "InvalidArgument" and r.json()["ErrorMessage"]
    assert http.get(server.url + "/2016-08-15/custom-domains").json() == {"customDomains": []}


def test_bad_update_changes_nothing(fc, http, server):
    before = fc.create_custom_domain("keep.example.com", routeConfig=ROUTES)
    r = http.put(server.url + "/2016-08-15/custom-domains/keep.example.com", json={"protocol": "HTTPS"})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    after = fc.get_custom_domain("keep.example.com")
    assert after.data == before.data and after.headers["Etag"] == before.headers["Etag"]
    with pytest.raises(FcError) as e:
        fc.update_custom_domain("missing.example.com", "HTTP")
    assert e.value.status_code == 404 and fc_error(e)["ErrorCode"] == "DomainNameNotFound"
    with pytest.raises(FcError) as e:
        fc.delete_custom_domain("missing.example.com")
    assert fc_error(e)["ErrorMessage"] == "domain name 'missing.example.com' does not exist"


def test_cert_key_kept_on_read_modify_write(http, server):
    base = server.url + "/2016-08-15/custom-domains"
    cert = {"certName": "c", "certificate": CERT, "privateKey": KEY}
    http.post(base, json={"domainName": "rmw.example.com", "protocol": "HTTPS", "certConfig": cert})
    got = http.get(base + "/rmw.example.com").json()
    assert got["certConfig"]["privateKey"] is None
    # sending back what GET showed (privateKey null) keeps the stored key
    r = http.put(base + "/rmw.example.com", json={"certConfig": {**got["certConfig"], "certName": "c2"}})
    assert r.status_code == 200, r.text
    assert r.json()["certConfig"] == {"certName": "c2", "certificate": CERT, "privateKey": None}
    # a new certificate needs its own key
    other = CERT.replace("fake", "other")
    r = http.put(base + "/rmw.example.com", json={"certConfig": {"certName": "c3", "certificate": other}})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"


def test_if_match(fc):
    etag = fc.create_custom_domain("im.example.com").headers["Etag"]
    with pytest.raises(FcError) as e:
        fc.update_custom_domain("im.example.com", "HTTP", headers={"if-match": "0" * 32})
    assert e.value.status_code == 412 and fc_error(e)["ErrorCode"] == "PreconditionFailed"
    with pytest.raises(FcError) as e:
        fc.delete_custom_domain("im.example.com", headers={"if-match": "0" * 32})
    assert e.value.status_code == 412
    fc.delete_custom_domain("im.example.com", headers={"if-match": etag})
    assert fc.list_custom_domains().data == {"customDomains": []}


def test_pagination(fc):
    names = [f"d{i}.example.com" for i in range(10)]
    for n in reversed(names):
        fc.create_custom_domain(n)
    seen, token, calls = [], None, 0
    while True:
        r = fc.list_custom_domains(limit=3, nextToken=token).data
        calls += 1
        seen += [d["domainName"] for d in r["customDomains"]]
        token = r.get("nextToken")
        if not token:
            assert "nextToken" not in r
            break
    assert seen == names and calls == 4
    assert [d["domainName"] for d in fc.list_custom_domains(startKey="d7").data["customDomains"]] == names[7:]
    assert [d["domainName"] for d in fc.list_custom_domains(prefix="d3.").data["customDomains"]] == [names[3]]


def test_a_domain_belongs_to_one_account(fc, server):
    from tests.helpers import fc_client, new_account
    fc.create_custom_domain("iso.example.com")
    other = fc_client(server, new_account())
    assert other.list_custom_domains().data == {"customDomains": []}
    with pytest.raises(FcError) as e:
        other.create_custom_domain("ISO.example.com")
    assert e.value.status_code == 409 and fc_error(e)["ErrorCode"] == "DomainNameAlreadyExists"
    with pytest.raises(FcError) as e:
        other.get_custom_domain("iso.example.com")
    assert e.value.status_code == 404
    fc.delete_custom_domain("iso.example.com")
    assert other.create_custom_domain("iso.example.com").data["accountId"] == other.account_id
