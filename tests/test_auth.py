"""Authentication and accounts (fc-api.md §0 Host, §1): the FC scheme through aliyun-fc2, signed URLs
built by hand, strict and default modes, keys from flags and FC_EMULATOR_ACCESS_KEYS, account isolation."""
from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import hmac
import time
from urllib.parse import quote, urlencode

import fc2
import pytest
import requests
from alibabacloud_gateway_fc_util.client import Client as FCUtil
from fc2.auth import Auth
from fc2.fc_exceptions import FcError
from starlette.requests import Request

from emulator.api.auth import canonical_fc_headers, fc_sign, fc_string_to_sign, proxy_resource, verify
from emulator.config import Settings
from emulator.errors import FCError
from tests.helpers import AK_ID, Server, fc_client, fc_error, new_account

SIG_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
                "Check your access key and signing method.")
STRICT_ACCOUNT = "998877665544"


def sign(secret: str, string_to_sign: str) -> str:
    """§1.1 by hand: Base64(HMAC-SHA256(secret, StringToSign))."""
    return base64.b64encode(hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).digest()).decode()


def http_date(offset: float = 0) -> str:
    return email.utils.formatdate(time.time() + offset, usegmt=True)


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """Strict mode; ak1 from the flag, ak2/ak3 from FC_EMULATOR_ACCESS_KEYS."""
    srv = Server(tmp_path_factory.mktemp("strict") / "d", "--auth", "strict", "--access-key", "ak1:sk1",
                 "--account-id", STRICT_ACCOUNT, env={"FC_EMULATOR_ACCESS_KEYS": "ak2:sk2, ak3:sk3"}).start()
    yield srv
    srv.stop()


def sdk(server: Server, ak: str, secret: str) -> fc2.Client:
    return fc2.Client(endpoint=server.url, accessKeyID=ak, accessKeySecret=secret, Timeout=30)


def service_names(server: Server, account: str = STRICT_ACCOUNT) -> list[str]:
    c = fc_client(server, account, "ak1", "sk1")
    return [s["serviceName"] for s in c.list_services(limit=100).data["services"]]


# ---- pure signing functions: the §1.1 test vectors ----------------------------------------

def test_vector_1_management_request():
    headers = {"content-type": "application/json", "date": "Mon, 02 Jan 2006 15:04:05 GMT",
               "x-fc-account-id": "123456"}
    sts = fc_string_to_sign("GET", headers, canonical_fc_headers(headers.items()), "/2016-08-15/services")
    assert sts == ("GET\n\napplication/json\nMon, 02 Jan 2006 15:04:05 GMT\n"
                   "x-fc-account-id:123456\n/2016-08-15/services")
    assert fc_sign("secret", sts) == "hMs1WYxyU4UTrJHYluRPkKTefeBe5pqShg+dbgJsgbw="


def test_vector_2_proxy_with_query():
    headers = {"content-md5": "ef5b43a0fe1d5b401b62c3ba33a7a3d6", "content-type": "text/json",
               "x-fc-trace-id": "trace-id"}
    query = [("x", "xyz"), ("x", "456"), ("a", "123 45"), ("x-fc-expires", "1583221068"),
             ("x-fc-access-key-id", "akID"), ("x-fc-security-token", "stsToken")]
    resource = proxy_resource("/2016-08-15/proxy/service.LATEST/func/abc 123", query)
    sts = fc_string_to_sign("GET", headers, canonical_fc_headers(headers.items()), resource, date="1583221068")
    assert fc_sign("S9MWOBG0AOWHSO9HPASP216QOPHT5YR4NLH3A", sts) == "QFdNhz0Dl+onUM/MvpX940WFH3H8OHayZHbby1c01aI="


def test_vector_3_signed_url():
    path = "/2016-08-15/proxy/service/func/"
    with_token = [("x-fc-access-key-id", "akid"), ("x-fc-expires", "1583339600"), ("x-fc-security-token", "stsToken")]
    sts = fc_string_to_sign("GET", {}, "", proxy_resource(path, with_token), date="1583339600")
    assert fc_sign("akSec", sts) == "Yi0jCBQ6cTZc+tN8wtYUz9FbYNijx5jDiE3sVNW6XwA="
    sts = fc_string_to_sign("GET", {}, "", proxy_resource(path, with_token[:2]), date="1583339600")
    assert fc_sign("akSec", sts) == "6Rc4KxEAv3+lHpbNQWceIUqWVWq3ewxhadlJBRzZ0XQ="


def test_proxy_resource_without_query_ends_with_newline():
    # fc-go-sdk issue #32: the resource of a query-less proxy call is the path plus "\n".
    assert proxy_resource("/2016-08-15/proxy/s/f/", []) == "/2016-08-15/proxy/s/f/\n"


# ---- strict mode, driven with aliyun-fc2 --------------------------------------------------

def test_strict_right_secret_passes_for_flag_and_env_keys(strict):
    for ak, secret, name in (("ak1", "sk1", "by-flag"), ("ak2", "sk2", "by-env"), ("ak3", "sk3", "by-env-2")):
        c = sdk(strict, ak, secret)
        r = c.create_service(name, description=ak)
        assert r.data["serviceName"] == name and r.data["description"] == ak
        assert c.get_service(name).data["serviceId"] == r.data["serviceId"]
    # fc2.Client sends no account: everything lands in --account-id.
    assert {"by-flag", "by-env", "by-env-2"} <= set(service_names(strict))


def test_strict_wrong_secret_is_signature_not_match(strict):
    before = service_names(strict)
    with pytest.raises(FcError) as e:
        sdk(strict, "ak1", "not-sk1").create_service("wrong-secret")
    assert e.value.status_code == 403
    err = fc_error(e)
    assert err["ErrorCode"] == "SignatureNotMatch" and err["ErrorMessage"] == SIG_MISMATCH
    assert e.value.request_id and len(e.value.request_id) == 36
    # An env key used with another key's secret fails too.
    with pytest.raises(FcError) as e:
        sdk(strict, "ak2", "sk1").list_services()
    assert fc_error(e)["ErrorCode"] == "SignatureNotMatch"
    assert service_names(strict) == before


def test_strict_unknown_key_is_invalid_access_key_id(strict):
    before = service_names(strict)
    with pytest.raises(FcError) as e:
        sdk(strict, "nobody", "sk1").create_service("unknown-key")
    assert e.value.status_code == 403
    assert fc_error(e)["ErrorCode"] == "InvalidAccessKeyID"
    assert fc_error(e)["ErrorMessage"] == "invalid access key ID 'nobody'"
    assert service_names(strict) == before


def test_strict_skewed_date_is_rejected(strict):
    c = sdk(strict, "ak1", "sk1")
    c.create_service("skew")
    for offset in (-16 * 60, 16 * 60, -3600 * 24):
        with pytest.raises(FcError) as e:
            # The SDK signs whatever Date it sends, so the signature itself is right.
            c.update_service("skew", description="late", headers={"date": http_date(offset)})
        assert e.value.status_code == 403
        assert fc_error(e)["ErrorCode"] == "AccessDenied"
        assert "time" in fc_error(e)["ErrorMessage"]
    assert c.get_service("skew").data["description"] == ""
    # Within 15 minutes is fine.
    r = c.update_service("skew", description="ok", headers={"date": http_date(-10 * 60)})
    assert r.data["description"] == "ok"


def test_strict_missing_authorization_is_rejected(strict):
    r = requests.post(strict.url + "/2016-08-15/services", json={"serviceName": "unsigned"},
                      headers={"Date": http_date()})
    assert r.status_code == 403
    assert r.json()["ErrorCode"] == "AccessDenied" and "Authorization" in r.json()["ErrorMessage"]
    assert r.headers["Content-Type"].startswith("application/json")
    assert "unsigned" not in service_names(strict)


def test_strict_missing_date_is_400(strict):
    path = "/2016-08-15/services"
    sig = sign("sk1", "GET\n\n\n\n" + path)  # signed with an empty Date slot
    r = requests.get(strict.url + path, headers={"Authorization": f"FC ak1:{sig}"})
    assert r.status_code == 400
    assert r.json()["ErrorCode"] == "MissingRequiredHeader"
    assert r.json()["ErrorMessage"] == "required HTTP header Date was not specified"


def test_strict_unknown_scheme_is_rejected(strict):
    r = requests.get(strict.url + "/2016-08-15/services", headers={"Authorization": "Bearer abc",
                                                                    "Date": http_date()})
    assert r.status_code == 403
    assert r.json()["ErrorCode"] == "SignatureNotMatch"


def test_strict_hand_signed_request_with_fc_headers(strict):
    """Every x-fc-* header is signed, sorted, empty values included (Go's `x-fc-account-id:`)."""
    path = "/2016-08-15/services"
    date = http_date()
    fc_headers = "x-fc-account-id:\nx-fc-trace-id:t-1\n"
    sig = sign("sk1", f"GET\n\napplication/json\n{date}\n{fc_headers}{path}")
    headers = {"Authorization": f"FC ak1:{sig}", "Date": date, "Content-Type": "application/json",
               "X-Fc-Trace-Id": "t-1", "X-Fc-Account-Id": ""}
    r = requests.get(strict.url + path, headers=headers)
    assert r.status_code == 200, r.text
    # Changing a signed header after signing breaks the signature.
    r = requests.get(strict.url + path, headers={**headers, "X-Fc-Trace-Id": "t-2"})
    assert r.status_code == 403 and r.json()["ErrorCode"] == "SignatureNotMatch"


# ---- signed URLs (§1.2), built by hand ----------------------------------------------------

def signed_url(server: Server, path: str, ak: str, secret: str, expires: int, extra: dict | None = None,
               content_type: str = "") -> str:
    query = {**(extra or {}), "x-fc-access-key-id": ak, "x-fc-expires": str(expires)}
    pairs = sorted(f"{k}={v}" for k, v in query.items())
    sts = f"GET\n\n{content_type}\n{expires}\n" + path + "\n" + "\n".join(pairs)
    return server.url + path + "?" + urlencode({**query, "x-fc-signature": sign(secret, sts)})


def test_signed_url_query_authentication(strict):
    sdk(strict, "ak1", "sk1").create_service("signed-url")
    path = "/2016-08-15/services/signed-url"
    url = signed_url(strict, path, "ak1", "sk1", int(time.time()) + 300, extra={"a": "b c"})
    r = requests.get(url)
    assert r.status_code == 200, r.text
    assert r.json()["serviceName"] == "signed-url"

    # Expired -> 403.
    r = requests.get(signed_url(strict, path, "ak1", "sk1", int(time.time()) - 5))
    assert r.status_code == 403 and r.json()["ErrorCode"] == "AccessDenied"
    # Wrong secret -> SignatureNotMatch; unknown key -> InvalidAccessKeyID.
    r = requests.get(signed_url(strict, path, "ak1", "bad", int(time.time()) + 300))
    assert r.status_code == 403 and r.json()["ErrorCode"] == "SignatureNotMatch"
    r = requests.get(signed_url(strict, path, "ghost", "sk1", int(time.time()) + 300))
    assert r.status_code == 403 and r.json()["ErrorMessage"] == "invalid access key ID 'ghost'"
    # Tampering with a signed query pair after signing.
    r = requests.get(url.replace("a=b+c", "a=zzz"))
    assert r.status_code == 403 and r.json()["ErrorCode"] == "SignatureNotMatch"


# ---- default mode (the shared server: key test-ak configured) -----------------------------

def test_default_mode_accepts_unsigned_and_unknown_keys(server, http, account):
    r = http.post(server.url + "/2016-08-15/services", json={"serviceName": "unsigned"})
    assert r.status_code == 200, r.text
    c = fc_client(server, account, ak="someone-else", secret="whatever")
    assert c.get_service("unsigned").data["serviceName"] == "unsigned"
    # A stale Date is not checked outside strict mode.
    assert fc_client(server, account).get_service("unsigned", headers={"date": http_date(-3600)}).data


def test_default_mode_known_key_wrong_secret_fails(server, http, account):
    with pytest.raises(FcError) as e:
        fc_client(server, account, ak=AK_ID, secret="not-the-secret").create_service("never")
    assert e.value.status_code == 403
    assert fc_error(e)["ErrorCode"] == "SignatureNotMatch" and fc_error(e)["ErrorMessage"] == SIG_MISMATCH
    assert http.get(server.url + "/2016-08-15/services").json()["services"] == []


def test_default_mode_signed_url_with_known_key_is_verified(server, http, account):
    http.post(server.url + "/2016-08-15/services", json={"serviceName": "s"})
    path = "/2016-08-15/services/s"
    hdr = {"X-Fc-Account-Id": account}
    # x-fc-account-id is an x-fc header, so it is signed.
    query = {"x-fc-access-key-id": AK_ID, "x-fc-expires": str(int(time.time()) + 60)}
    pairs = sorted(f"{k}={v}" for k, v in query.items())
    sts = f"GET\n\n\n{query['x-fc-expires']}\nx-fc-account-id:{account}\n{path}\n" + "\n".join(pairs)
    good = {**query, "x-fc-signature": sign("test-secret", sts)}
    assert requests.get(server.url + path, params=good, headers=hdr).status_code == 200
    bad = {**query, "x-fc-signature": sign("wrong", sts)}
    r = requests.get(server.url + path, params=bad, headers=hdr)
    assert r.status_code == 403 and r.json()["ErrorCode"] == "SignatureNotMatch"


# ---- accounts -----------------------------------------------------------------------------

def test_accounts_isolated_by_header(server):
    a, b = new_account(), new_account()
    ca, cb = fc_client(server, a), fc_client(server, b)
    ca.create_service("mine", description="a")
    assert [s["serviceName"] for s in cb.list_services().data["services"]] == []
    with pytest.raises(FcError) as e:
        cb.get_service("mine")
    assert e.value.status_code == 404 and fc_error(e)["ErrorCode"] == "ServiceNotFound"
    with pytest.raises(FcError) as e:
        cb.delete_service("mine")
    assert e.value.status_code == 404
    # The same name is free in the other account, and each keeps its own.
    cb.create_service("mine", description="b")
    assert ca.get_service("mine").data["description"] == "a"
    assert cb.get_service("mine").data["description"] == "b"


def test_account_from_numeric_host_label(server):
    n, m = new_account(), new_account()
    host = f"{n}.cn-hangzhou.fc.aliyuncs.com"
    r = requests.post(server.url + "/2016-08-15/services", json={"serviceName": "by-host"}, headers={"Host": host})
    assert r.status_code == 200, r.text
    # Visible in account n by header, and by host with a port.
    names = lambda hdrs: [s["serviceName"] for s in
                          requests.get(server.url + "/2016-08-15/services", headers=hdrs).json()["services"]]
    assert names({"X-Fc-Account-Id": n}) == ["by-host"]
    assert names({"Host": f"{host}:443"}) == ["by-host"]
    # A non-empty header wins over the host; an empty one (Go's default) does not.
    assert names({"Host": host, "X-Fc-Account-Id": m}) == []
    assert names({"Host": host, "X-Fc-Account-Id": ""}) == ["by-host"]
    # A non-numeric first label or an IP address is no account.
    assert "by-host" not in names({"Host": "myacct.cn-hangzhou.fc.aliyuncs.com"})


def test_default_account_is_the_configured_one(strict):
    c = sdk(strict, "ak1", "sk1")
    c.create_service("default-acct")
    assert "default-acct" in service_names(strict, STRICT_ACCOUNT)
    assert "default-acct" not in service_names(strict, new_account())


# ---- HTTP-trigger (proxy) signing, as the proxy route will call verify(sign_query=True) --------

def _proxy_request(path: str, raw_query: str, headers: dict):
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": quote(path).encode(), "root_path": "",
             "query_string": raw_query.encode(), "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    return Request(scope)


def _verify(request: Request, tmp_path) -> str | None:
    settings = Settings(data_dir=tmp_path, access_keys={"ak": "sk"}, auth="strict")
    return asyncio.run(verify(request, settings, sign_query=True))


def test_proxy_signature_from_fc2_sorted_query(tmp_path):
    path = "/2016-08-15/proxy/s.LATEST/f/a b"
    headers = {"date": http_date(), "content-type": "text/plain", "x-fc-account-id": "1"}
    headers["authorization"] = Auth("ak", "sk").sign_request("GET", path, headers, {"x": "2", "a": "1 2"})
    # requests encodes the space as `+`; the SDK signed the unescaped text, sorted.
    assert _verify(_proxy_request(path, "x=2&a=1+2", headers), tmp_path) == "ak"
    tampered = _proxy_request(path, "x=3&a=1+2", headers)
    with pytest.raises(FCError) as e:
        _verify(tampered, tmp_path)
    assert e.value.status == 403 and e.value.code == "SignatureNotMatch"


def test_proxy_signature_from_2021_sdk_received_order(tmp_path):
    """alibabacloud_gateway_fc_util signs the query in received order, not sorted (§1.3)."""

    class Cred:
        get_access_key_id = staticmethod(lambda: "ak")
        get_access_key_secret = staticmethod(lambda: "sk")
        get_security_token = staticmethod(lambda: "")

    path = "/2016-08-15/proxy/s/f/"
    headers = {"date": http_date()}
    headers["authorization"] = FCUtil(Cred()).auth_string("GET", path, headers, "z=1&b=2")
    assert _verify(_proxy_request(path, "z=1&b=2", headers), tmp_path) == "ak"
    # With no query the resource is the path plus a lone "\n" (fc-go-sdk #32), in both SDKs.
    headers["authorization"] = FCUtil(Cred()).auth_string("GET", path, headers, "")
    assert _verify(_proxy_request(path, "", headers), tmp_path) == "ak"
