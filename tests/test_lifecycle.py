"""The issue's "done when", with aliyun-fc2 only: service -> function -> trigger -> version -> alias ->
custom domain -> tags, then delete everything in the order FC requires (fc-api.md §8.2) and find the
account empty."""
from __future__ import annotations

import pytest
from fc2.fc_exceptions import FcError

from tests.helpers import HELLO_PY, fc_error, make_zip

SVC, FN, TRIGGER, ALIAS, DOMAIN = "life-svc", "life-fn", "life-timer", "live", "life.example.com"


def refused(call, status: int, code: str | None = None) -> dict:
    with pytest.raises(FcError) as e:
        call()
    assert e.value.status_code == status, str(e.value)
    err = fc_error(e)
    if code:
        assert err["ErrorCode"] == code, err
    return err


def test_full_lifecycle(fc, tmp_path):
    # ---- build ----
    svc = fc.create_service(SVC, description="lifecycle").data
    zip_path = tmp_path / "code.zip"
    zip_path.write_bytes(make_zip(HELLO_PY))
    fn = fc.create_function(SVC, FN, "python3.9", "index.handler", codeZipFile=str(zip_path)).data
    assert fn["codeSize"] == zip_path.stat().st_size and fn["codeChecksum"]
    trig = fc.create_trigger(SVC, FN, TRIGGER, "timer",
                             {"cronExpression": "@every 30m", "payload": "tick", "enable": False}, "", "").data
    assert trig["triggerType"] == "timer" and trig["triggerConfig"]["cronExpression"] == "@every 30m"
    ver = fc.publish_version(SVC, description="v1").data
    assert ver["versionId"] == "1"
    alias = fc.create_alias(SVC, ALIAS, "1", description="current").data
    assert alias["aliasName"] == ALIAS and alias["versionId"] == "1"
    dom = fc.create_custom_domain(DOMAIN, protocol="HTTP", routeConfig={
        "routes": [{"path": "/*", "serviceName": SVC, "functionName": FN, "qualifier": ALIAS}]}).data
    assert dom["domainName"] == DOMAIN and dom["routeConfig"]["routes"][0]["serviceName"] == SVC
    fc.tag_resource(f"services/{SVC}", {"env": "test", "owner": "lifecycle"})

    # ---- everything is there ----
    assert [s["serviceName"] for s in fc.list_services().data["services"]] == [SVC]
    assert fc.get_service(SVC).data["serviceId"] == svc["serviceId"]
    assert [f["functionName"] for f in fc.list_functions(SVC).data["functions"]] == [FN]
    assert [f["functionName"] for f in fc.list_functions(SVC, qualifier=ALIAS).data["functions"]] == [FN]
    assert [t["triggerName"] for t in fc.list_triggers(SVC, FN).data["triggers"]] == [TRIGGER]
    assert [v["versionId"] for v in fc.list_versions(SVC).data["versions"]] == ["1"]
    assert [a["aliasName"] for a in fc.list_aliases(SVC).data["aliases"]] == [ALIAS]
    assert [d["domainName"] for d in fc.list_custom_domains().data["customDomains"]] == [DOMAIN]
    tags = fc.get_resource_tags(f"services/{SVC}").data
    assert tags["tags"] == {"env": "test", "owner": "lifecycle"}
    assert tags["resourceArn"].endswith(f":services/{SVC}") and tags["resourceArn"].startswith("acs:fc:")

    # ---- FC's delete order is enforced, and a refused delete changes nothing ----
    err = refused(lambda: fc.delete_service(SVC), 409, "ServiceNotEmpty")
    assert SVC in err["ErrorMessage"]
    refused(lambda: fc.delete_function(SVC, FN), 409)  # it still has a trigger
    assert fc.get_function(SVC, FN).data["functionId"] == fn["functionId"]
    assert fc.get_trigger(SVC, FN, TRIGGER).data["triggerId"] == trig["triggerId"]

    # ---- tear down in order: domain and tags, trigger, function, alias, version, service ----
    fc.untag_resource(f"services/{SVC}", [], deleteAll=True)
    assert fc.get_resource_tags(f"services/{SVC}").data["tags"] == {}
    fc.delete_custom_domain(DOMAIN)
    refused(lambda: fc.get_custom_domain(DOMAIN), 404, "DomainNameNotFound")
    fc.delete_trigger(SVC, FN, TRIGGER)
    refused(lambda: fc.get_trigger(SVC, FN, TRIGGER), 404, "TriggerNotFound")
    fc.delete_function(SVC, FN)
    refused(lambda: fc.get_function(SVC, FN), 404, "FunctionNotFound")
    # Versions and aliases still hold the service.
    refused(lambda: fc.delete_service(SVC), 409, "ServiceNotEmpty")
    fc.delete_alias(SVC, ALIAS)
    refused(lambda: fc.get_alias(SVC, ALIAS), 404, "AliasNotFound")
    fc.delete_version(SVC, "1")
    assert fc.list_versions(SVC).data["versions"] == []
    fc.delete_service(SVC)
    refused(lambda: fc.get_service(SVC), 404, "ServiceNotFound")

    # ---- the account is empty ----
    assert fc.list_services().data["services"] == []
    assert fc.list_custom_domains().data["customDomains"] == []
    refused(lambda: fc.list_functions(SVC), 404, "ServiceNotFound")
    refused(lambda: fc.get_resource_tags(f"services/{SVC}"), 404)

    # The same names can be used again from scratch, and version ids restart with the new service.
    fc.create_service(SVC)
    fc.create_function(SVC, FN, "python3.9", "index.handler", codeZipFile=str(zip_path))
    assert fc.publish_version(SVC).data["versionId"] == "1"
