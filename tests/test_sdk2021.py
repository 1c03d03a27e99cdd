"""The 2021-04-06 Tea SDK (alibabacloud_fc_open20210406) against a strict-mode server (fc-api.md §1.3, §2.0):
its ACS3-HMAC-SHA256 (and `acs` ROA v2) signatures verify, CRUD of services, functions and triggers works,
and FC's errors surface as the SDK's exceptions with FC's code."""
from __future__ import annotations

import json
import time

import pytest
from alibabacloud_fc_open20210406 import models as m
from alibabacloud_fc_open20210406.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_util import models as util_models

from tests.helpers import HELLO_PY, Server, fc_client, new_account, zip_b64

DEFAULT_ACCOUNT = "556677889900"


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("sdk2021") / "d", "--auth", "strict", "--access-key", "ak1:sk1",
                 "--account-id", DEFAULT_ACCOUNT).start()
    yield srv
    srv.stop()


def tea(server: Server, ak: str = "ak1", secret: str = "sk1", **extra) -> Client:
    return Client(open_api_models.Config(access_key_id=ak, access_key_secret=secret,
                                         endpoint=f"127.0.0.1:{server.port}", protocol="http",
                                         region_id="cn-hangzhou", **extra))


def unique(prefix: str) -> str:
    return f"{prefix}_{time.time_ns()}"


def config_of(trigger) -> dict:
    """The 2021 models type triggerConfig as a JSON string; accept either form back."""
    cfg = trigger.trigger_config
    return json.loads(cfg) if isinstance(cfg, str) else cfg


def test_service_crud(strict):
    c = tea(strict)
    name = unique("svc")
    created = c.create_service(m.CreateServiceRequest(service_name=name, description="d1")).body
    assert created.service_name == name and created.description == "d1" and created.service_id
    got = c.get_service(name, m.GetServiceRequest()).body
    assert got.service_id == created.service_id

    time.sleep(1.1)
    upd = c.update_service(name, m.UpdateServiceRequest(
        description="d2", log_config=m.LogConfig(project="p", logstore="l"))).body
    assert upd.description == "d2" and upd.log_config.project == "p" and upd.log_config.logstore == "l"
    assert upd.created_time == created.created_time and upd.last_modified_time > created.last_modified_time

    listed = c.list_services(m.ListServicesRequest(prefix=name, limit=10)).body
    assert [s.service_name for s in listed.services] == [name]

    c.delete_service(name)
    with pytest.raises(ClientException) as e:
        c.get_service(name, m.GetServiceRequest())
    assert e.value.status_code == 404 and e.value.code == "ServiceNotFound"
    assert e.value.data["ErrorMessage"] == f"service '{name}' does not exist"


def test_function_crud(strict):
    c = tea(strict)
    svc = unique("fsvc")
    c.create_service(m.CreateServiceRequest(service_name=svc))
    code = m.Code(zip_file=zip_b64(HELLO_PY))
    f = c.create_function(svc, m.CreateFunctionRequest(
        function_name="f1", runtime="python3.9", handler="index.handler", memory_size=256, timeout=30,
        environment_variables={"K": "V"}, code=code)).body
    assert f.function_name == "f1" and f.memory_size == 256 and f.environment_variables == {"K": "V"}
    assert f.code_checksum and f.code_size > 0

    got = c.get_function(svc, "f1", m.GetFunctionRequest()).body
    assert got.function_id == f.function_id and got.code_checksum == f.code_checksum

    # UpdateFunction sends `InstanceConcurrency` capitalised (§0): keys match case-insensitively.
    upd = c.update_function(svc, "f1", m.UpdateFunctionRequest(
        description="new", instance_concurrency=5, instance_type="c1", memory_size=512)).body
    assert upd.description == "new" and upd.instance_concurrency == 5 and upd.memory_size == 512
    assert upd.code_checksum == f.code_checksum and upd.environment_variables == {"K": "V"}

    c.create_function(svc, m.CreateFunctionRequest(function_name="f2", runtime="python3.9",
                                                   handler="index.handler", code=code))
    names = [x.function_name for x in c.list_functions(svc, m.ListFunctionsRequest()).body.functions]
    assert names == ["f1", "f2"]
    page = c.list_functions(svc, m.ListFunctionsRequest(limit=1)).body
    assert [x.function_name for x in page.functions] == ["f1"] and page.next_token == "f2"

    # A service with functions cannot go (§8.2).
    with pytest.raises(ClientException) as e:
        c.delete_service(svc)
    assert e.value.status_code == 409 and e.value.code == "ServiceNotEmpty"

    c.delete_function(svc, "f1")
    c.delete_function(svc, "f2")
    with pytest.raises(ClientException) as e:
        c.get_function(svc, "f1", m.GetFunctionRequest())
    assert e.value.status_code == 404 and e.value.code == "FunctionNotFound"
    c.delete_service(svc)


def test_trigger_crud(strict):
    c = tea(strict)
    svc = unique("tsvc")
    c.create_service(m.CreateServiceRequest(service_name=svc))
    c.create_function(svc, m.CreateFunctionRequest(function_name="f", runtime="python3.9", handler="index.handler",
                                                   code=m.Code(zip_file=zip_b64(HELLO_PY))))
    timer_cfg = {"cronExpression": "@every 5m", "payload": "hi", "enable": True}
    t = c.create_trigger(svc, "f", m.CreateTriggerRequest(
        trigger_name="timer1", trigger_type="timer", trigger_config=json.dumps(timer_cfg),
        description="every five")).body
    assert t.trigger_name == "timer1" and t.trigger_type == "timer" and t.trigger_id
    assert config_of(t) == timer_cfg

    got = c.get_trigger(svc, "f", "timer1").body
    assert got.trigger_id == t.trigger_id and config_of(got) == timer_cfg

    new_cfg = {**timer_cfg, "cronExpression": "0 2 * * * *", "enable": False}
    upd = c.update_trigger(svc, "f", "timer1", m.UpdateTriggerRequest(trigger_config=json.dumps(new_cfg))).body
    assert config_of(upd) == new_cfg and upd.trigger_id == t.trigger_id
    assert upd.description == "every five"  # partial update keeps the rest

    http_cfg = {"authType": "anonymous", "methods": ["GET", "POST"]}
    h = c.create_trigger(svc, "f", m.CreateTriggerRequest(trigger_name="http1", trigger_type="http",
                                                          trigger_config=json.dumps(http_cfg))).body
    assert h.trigger_type == "http" and config_of(h)["authType"] == "anonymous"

    listed = c.list_triggers(svc, "f", m.ListTriggersRequest()).body.triggers
    assert [x.trigger_name for x in listed] == ["http1", "timer1"]
    page = c.list_triggers(svc, "f", m.ListTriggersRequest(limit=1)).body
    assert [x.trigger_name for x in page.triggers] == ["http1"] and page.next_token == "timer1"

    # A function with triggers cannot go (§8.2); then the triggers go.
    with pytest.raises(ClientException) as e:
        c.delete_function(svc, "f")
    assert e.value.status_code == 409
    c.delete_trigger(svc, "f", "timer1")
    c.delete_trigger(svc, "f", "http1")
    with pytest.raises(ClientException) as e:
        c.get_trigger(svc, "f", "timer1")
    assert e.value.status_code == 404 and e.value.code == "TriggerNotFound"
    assert c.list_triggers(svc, "f", m.ListTriggersRequest()).body.triggers == []
    c.delete_function(svc, "f")
    c.delete_service(svc)


def test_wrong_secret_and_unknown_key_fail(strict):
    name = unique("never")
    with pytest.raises(ClientException) as e:
        tea(strict, secret="not-sk1").create_service(m.CreateServiceRequest(service_name=name))
    assert e.value.status_code == 403 and e.value.code == "SignatureNotMatch"
    with pytest.raises(ClientException) as e:
        tea(strict, ak="ghost").list_services(m.ListServicesRequest())
    assert e.value.status_code == 403 and e.value.code == "InvalidAccessKeyID"
    assert e.value.data["ErrorMessage"] == "invalid access key ID 'ghost'"
    with pytest.raises(ClientException):
        tea(strict).get_service(name, m.GetServiceRequest())


def test_roa_v2_acs_signature(strict):
    """signature_algorithm='v2' makes the same SDK sign with `Authorization: acs AK:HMAC-SHA1` (§1.3)."""
    c = tea(strict, signature_algorithm="v2")
    name = unique("v2svc")
    c.create_service(m.CreateServiceRequest(service_name=name, description="v2"))
    listed = c.list_services(m.ListServicesRequest(prefix=name, limit=5)).body.services
    assert [(s.service_name, s.description) for s in listed] == [(name, "v2")]
    with pytest.raises(ClientException) as e:
        tea(strict, secret="bad", signature_algorithm="v2").get_service(name, m.GetServiceRequest())
    assert e.value.status_code == 403 and e.value.code == "SignatureNotMatch"
    c.delete_service(name)


def test_account_the_tea_sdk_sends(strict):
    """The Tea SDK sends X-Fc-Account-Id only when given in the *Headers model; otherwise the account is
    the endpoint's numeric first label, and for 127.0.0.1 the configured default."""
    c = tea(strict)
    runtime = util_models.RuntimeOptions()
    acct = new_account()
    name = unique("acct")
    c.create_service_with_options(m.CreateServiceRequest(service_name=name),
                                  m.CreateServiceHeaders(x_fc_account_id=acct), runtime)
    mine = c.list_services_with_options(m.ListServicesRequest(prefix=name),
                                        m.ListServicesHeaders(x_fc_account_id=acct), runtime).body.services
    assert [s.service_name for s in mine] == [name]
    # Not in the default account the header-less SDK lands in...
    assert c.list_services(m.ListServicesRequest(prefix=name)).body.services == []
    # ...and the fc2 SDK sees it in that account.
    assert fc_client(strict, acct, "ak1", "sk1").get_service(name).data["serviceName"] == name

    default = unique("dflt")
    c.create_service(m.CreateServiceRequest(service_name=default))
    assert fc_client(strict, DEFAULT_ACCOUNT, "ak1", "sk1").get_service(default).data["serviceName"] == default


def test_error_body_carries_both_spellings(strict):
    """2021 paths answer errors with FC's ErrorCode/ErrorMessage and the Tea SDK's Code/Message."""
    c = tea(strict)
    with pytest.raises(ClientException) as e:
        c.create_service(m.CreateServiceRequest(service_name="1-bad-name"))
    assert e.value.status_code == 400 and e.value.code == "InvalidArgument"
    assert e.value.data["ErrorCode"] == e.value.data["Code"] == "InvalidArgument"
    assert e.value.data["ErrorMessage"] == e.value.data["Message"]
    assert e.value.request_id and len(e.value.request_id) == 36
