"""Account settings, account configs and reserved capacities (fc-api.md §2.1, §2.13)."""
from __future__ import annotations

import requests

from tests.helpers import Server


def test_account_settings_2016(fc):
    r = fc.get_account_settings()
    assert r.data == {"availableAZs": ["cn-hangzhou-a", "cn-hangzhou-b", "cn-hangzhou-c"]}
    assert r.headers["X-Fc-Request-Id"]


def test_account_settings_2021_has_default_role(http, server, account):
    r = http.get(server.url + "/2021-04-06/account-settings")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert r.json()["availableAZs"] and all(az.startswith("cn-hangzhou-") for az in r.json()["availableAZs"])
    assert r.json()["defaultRole"] == f"acs:ram::{account}:role/aliyunfcdefaultrole"


def test_account_configs_are_strings(http, server):
    r = http.get(server.url + "/2016-08-15/accountConfigs", params=[("config", "CodeSizeLimit")])
    assert r.status_code == 200
    assert r.json() == {"CodeSizeLimit": "104857600"}
    # unknown names are left out; no names = every known config
    r = http.get(server.url + "/2016-08-15/accountConfigs", params=[("config", "CodeSizeLimit"), ("config", "Nope")])
    assert r.json() == {"CodeSizeLimit": "104857600"}
    assert http.get(server.url + "/2016-08-15/accountConfigs").json() == {"CodeSizeLimit": "104857600"}


def test_reserved_capacities_empty(fc, http, server):
    assert fc.list_reserved_capacities().data == {"reservedCapacities": []}
    assert fc.list_reserved_capacities(limit=5).data == {"reservedCapacities": []}
    r = http.get(server.url + "/2021-04-06/reserved-capacities")
    assert r.status_code == 200 and r.json() == {"reservedCapacities": []}
    r = http.get(server.url + "/2021-04-06/reserved-capacities", params={"limit": "101"})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"


def test_region_follows_the_setting(tmp_path):
    srv = Server(tmp_path / "fc", "--region", "cn-shanghai").start()
    try:
        r = requests.get(srv.url + "/2016-08-15/account-settings", headers={"X-Fc-Account-Id": "42"})
        assert r.json()["availableAZs"][0] == "cn-shanghai-a"
        requests.post(srv.url + "/2016-08-15/services", json={"serviceName": "s"}, headers={"X-Fc-Account-Id": "42"})
        r = requests.get(srv.url + "/2016-08-15/tag", params={"resourceArn": "services/s"},
                         headers={"X-Fc-Account-Id": "42"})
        assert r.json() == {"resourceArn": "acs:fc:cn-shanghai:42:services/s", "tags": {}}
    finally:
        srv.stop()
