"""Everything survives a restart on the same data dir, after SIGTERM and after kill -9 (issue: persistence):
same ids, etags, timestamps, checksums and code bytes."""
from __future__ import annotations

import base64

import pytest
import requests

from tests.helpers import HELLO_PY, Server, fc_client, make_zip, new_account

SVC, FN, DOMAIN, LAYER = "persist", "fn", "persist.example.com", "persist-layer"
FN_ZIP = make_zip({**HELLO_PY, "data.txt": "function code"})
LAYER_ZIP = make_zip({"python/lib.py": "X = 1\n"})
LAYER_B64 = base64.b64encode(LAYER_ZIP).decode()
VOLATILE = {"url", "location", "requestId", "RequestId"}  # signed download links, per-call request ids


def strip(value):
    """Drop per-call fields (signed URLs carry an expiry) so bodies compare across restarts."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def api(srv: Server, account: str, method: str, path: str, **kw) -> requests.Response:
    r = requests.request(method, srv.url + "/2016-08-15" + path, headers={"X-Fc-Account-Id": account}, **kw)
    assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
    return r


def populate(srv: Server, account: str, tmp_path) -> None:
    fc = fc_client(srv, account)
    fc.create_service(SVC, description="kept", logConfig={"project": "p", "logstore": "l"})
    zip_path = tmp_path / "code.zip"
    zip_path.write_bytes(FN_ZIP)
    fc.create_function(SVC, FN, "python3.9", "index.handler", codeZipFile=str(zip_path),
                       environmentVariables={"A": "1"}, description="v1")
    layer = api(srv, account, "POST", f"/layers/{LAYER}/versions",
                json={"description": "lib", "compatibleRuntime": ["python3.9"],
                      "code": {"zipFile": LAYER_B64}}).json()
    api(srv, account, "PUT", f"/services/{SVC}/functions/{FN}", json={"layers": [layer["arn"]]})
    fc.create_trigger(SVC, FN, "timer", "timer", {"cronExpression": "@every 60m", "payload": "p", "enable": False},
                      "", "")
    fc.create_trigger(SVC, FN, "web", "http", {"authType": "anonymous", "methods": ["GET", "POST"]}, None, "")
    fc.publish_version(SVC, description="first")
    fc.create_alias(SVC, "prod", "1", description="production")
    fc.create_custom_domain(DOMAIN, protocol="HTTP", routeConfig={
        "routes": [{"path": "/*", "serviceName": SVC, "functionName": FN, "qualifier": "prod"}]})
    fc.tag_resource(f"services/{SVC}", {"team": "core", "empty": ""})
    fc.put_on_demand_config(SVC, "prod", FN, 7)
    fc.put_function_async_invoke_config(SVC, "prod", FN, {"maxAsyncRetryAttempts": 2,
                                                         "maxAsyncEventAgeInSeconds": 300})


def state(srv: Server, account: str) -> dict:
    """Everything populate() made, as the API shows it, with Etags."""
    fc = fc_client(srv, account)
    out = {}

    def keep(key, resp):
        out[key] = (strip(resp.data), resp.headers.get("Etag"))

    keep("services", fc.list_services())
    keep("service", fc.get_service(SVC))
    keep("service@1", fc.get_service(SVC, qualifier="1"))
    keep("function", fc.get_function(SVC, FN))
    keep("function@prod", fc.get_function(SVC, FN, qualifier="prod"))
    keep("functions@1", fc.list_functions(SVC, qualifier="1"))
    keep("timer", fc.get_trigger(SVC, FN, "timer"))
    keep("web", fc.get_trigger(SVC, FN, "web"))
    keep("triggers", fc.list_triggers(SVC, FN))
    keep("versions", fc.list_versions(SVC))
    keep("alias", fc.get_alias(SVC, "prod"))
    keep("domain", fc.get_custom_domain(DOMAIN))
    keep("tags", fc.get_resource_tags(f"services/{SVC}"))
    keep("on-demand", fc.get_on_demand_config(SVC, "prod", FN))
    keep("async", fc.get_function_async_invoke_config(SVC, "prod", FN))
    layer = api(srv, account, "GET", f"/layers/{LAYER}/versions/1")
    out["layer"] = strip(layer.json())
    out["layers"] = strip(api(srv, account, "GET", "/layers").json())

    # The code itself, downloaded through the links the API hands out.
    code = fc.get_function_code(SVC, FN).data
    out["code"] = (code["checksum"], requests.get(code["url"]).content == FN_ZIP)
    layer_zip = requests.get(layer.json()["code"]["location"]).content
    out["layer-code"] = layer_zip == LAYER_ZIP
    return out


def check_populated(st: dict) -> None:
    """A few direct checks, so equality across restarts is not equality of two empty answers."""
    assert st["service"][0]["description"] == "kept" and st["service"][1]
    assert st["function"][0]["environmentVariables"] == {"A": "1"}
    assert st["function"][0]["layers"] and st["function"][1]
    assert st["code"][1] is True and st["code"][0] == st["function"][0]["codeChecksum"]
    assert st["layer-code"] is True
    assert [t["triggerName"] for t in st["triggers"][0]["triggers"]] == ["timer", "web"]
    assert [v["versionId"] for v in st["versions"][0]["versions"]] == ["1"]
    assert st["alias"][0]["versionId"] == "1"
    assert st["domain"][0]["routeConfig"]["routes"][0]["qualifier"] == "prod"
    assert st["tags"][0]["tags"] == {"team": "core", "empty": ""}
    assert st["on-demand"][0]["maximumInstanceCount"] == 7
    assert st["async"][0]["maxAsyncRetryAttempts"] == 2
    assert st["layer"]["version"] == 1


@pytest.mark.parametrize("how", ["sigterm", "kill-9"])
def test_everything_survives_restart(tmp_path, how):
    srv = Server(tmp_path / "d", "--access-key", "ak:sk")
    account = new_account()
    srv.start()
    try:
        populate(srv, account, tmp_path)
        before = state(srv, account)
        check_populated(before)
    finally:
        srv.stop() if how == "sigterm" else srv.kill()

    srv.start()
    try:
        after = state(srv, account)
        assert after == before

        # Work goes on: counters continue (version ids are never reused), etags move on update.
        fc = fc_client(srv, account)
        upd = fc.update_function(SVC, FN, description="v2")
        assert upd.headers["Etag"] != before["function"][1]
        assert fc.publish_version(SVC).data["versionId"] == "2"
        layer = api(srv, account, "POST", f"/layers/{LAYER}/versions",
                    json={"code": {"zipFile": LAYER_B64}, "compatibleRuntime": ["python3.9"]}).json()
        assert layer["version"] == 2
    finally:
        srv.stop()

    # The post-restart writes are durable too, and the earlier state is untouched.
    srv.start()
    try:
        fc = fc_client(srv, account)
        assert [v["versionId"] for v in fc.list_versions(SVC).data["versions"]] == ["2", "1"]
        assert fc.get_function(SVC, FN).data["description"] == "v2"
        assert strip(fc.get_trigger(SVC, FN, "web").data) == before["web"][0]
        assert strip(fc.get_custom_domain(DOMAIN).data) == before["domain"][0]
    finally:
        srv.stop()
