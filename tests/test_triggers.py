"""Triggers through aliyun-fc2 and plain HTTP (fc-api.md §2.5, §4, §5, §8), and the cron dialect."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
from fc2.fc_exceptions import FcError

from emulator.model import cron
from tests.helpers import HELLO_PY, fc_error, zip_b64

V1 = "/2016-08-15"
OSS_CONFIG = {"events": ["oss:ObjectCreated:*"], "filter": {"key": {"prefix": "pre", "suffix": "suf"}}}
OSS_ARN = "acs:oss:cn-hangzhou:123:my-bucket"
ROLE = "acs:ram::123:role/fc-invoke"


def setup_function_(http, server, svc="s", fns=("f",)):
    assert http.post(server.url + V1 + "/services", json={"serviceName": svc}).status_code == 200
    for fn in fns:
        r = http.post(server.url + f"{V1}/services/{svc}/functions",
                      json={"functionName": fn, "runtime": "python3", "handler": "index.handler",
                            "code": {"zipFile": zip_b64(HELLO_PY)}})
        assert r.status_code == 200, r.text


def triggers_url(server, svc="s", fn="f"):
    return server.url + f"{V1}/services/{svc}/functions/{fn}/triggers"


def names(http, server, svc="s", fn="f"):
    return [t["triggerName"] for t in http.get(triggers_url(server, svc, fn)).json()["triggers"]]


# --- CRUD through the SDK ---------------------------------------------------------------------------

def test_oss_trigger_crud(fc, http, server):
    setup_function_(http, server)
    r = fc.create_trigger("s", "f", "t", "oss", OSS_CONFIG, OSS_ARN, ROLE)
    d = r.data
    assert d["triggerName"] == "t" and d["triggerType"] == "oss"
    assert d["sourceArn"] == OSS_ARN and d["invocationRole"] == ROLE
    assert d["triggerConfig"] == OSS_CONFIG
    assert d["qualifier"] == "LATEST" and d["description"] == ""
    assert len(d["triggerId"]) == 36 and d["createdTime"].endswith("Z") and "lastModifiedTime" in d
    assert d["targetArn"].endswith(f":{fc.account_id}:services/s.LATEST/functions/f")
    assert d["urlInternet"] == "" and d["status"] == "Success"
    etag = r.headers["Etag"]
    assert len(etag) == 32

    got = fc.get_trigger("s", "f", "t")
    assert got.data == d and got.headers["Etag"] == etag

    time.sleep(1.05)
    new_config = {"events": ["oss:ObjectRemoved:DeleteObject"], "filter": {"key": {"prefix": "p2", "suffix": "s2"}}}
    upd = fc.update_trigger("s", "f", "t", new_config, "acs:ram::123:role/other", description="d2")
    u = upd.data
    assert u["triggerConfig"] == new_config and u["invocationRole"] == "acs:ram::123:role/other"
    assert u["description"] == "d2" and u["sourceArn"] == OSS_ARN and u["triggerId"] == d["triggerId"]
    assert u["createdTime"] == d["createdTime"] and u["lastModifiedTime"] > d["lastModifiedTime"]
    assert upd.headers["Etag"] != etag

    fc.delete_trigger("s", "f", "t")
    with pytest.raises(FcError) as e:
        fc.get_trigger("s", "f", "t")
    assert e.value.status_code == 404
    assert fc_error(e)["ErrorCode"] == "TriggerNotFound"
    assert fc_error(e)["ErrorMessage"] == "trigger 't' does not exist in function 'f'"
    with pytest.raises(FcError) as e:
        fc.delete_trigger("s", "f", "t")
    assert e.value.status_code == 404


def test_partial_update_keeps_other_fields(fc, http, server):
    setup_function_(http, server)
    fc.create_trigger("s", "f", "t", "oss", OSS_CONFIG, OSS_ARN, ROLE, description="keep me")
    r = fc.update_trigger("s", "f", "t", invocationRole="acs:ram::123:role/new")
    assert r.data["invocationRole"] == "acs:ram::123:role/new"
    assert r.data["triggerConfig"] == OSS_CONFIG and r.data["description"] == "keep me"
    # null means absent (the Go SDK sends every unset field as null)
    r = http.put(triggers_url(server) + "/t", json={"triggerConfig": None, "description": None,
                                                    "invocationRole": None, "qualifier": None})
    assert r.status_code == 200, r.text
    assert r.json()["triggerConfig"] == OSS_CONFIG and r.json()["description"] == "keep me"


def test_list_pagination_five_by_two(fc, http, server):
    setup_function_(http, server)
    for i in range(5):
        cfg = {"events": ["oss:ObjectCreated:*"], "filter": {"key": {"prefix": f"p{i}", "suffix": f"s{i}"}}}
        fc.create_trigger("s", "f", f"t{i}", "oss", cfg, OSS_ARN, ROLE)
    assert len(fc.list_triggers("s", "f").data["triggers"]) == 5
    resp = fc.list_triggers("s", "f", limit=2).data
    seen = [t["triggerName"] for t in resp["triggers"]]
    calls = 1
    while resp.get("nextToken"):
        resp = fc.list_triggers("s", "f", limit=2, nextToken=resp["nextToken"]).data
        seen += [t["triggerName"] for t in resp["triggers"]]
        calls += 1
    assert calls == 3 and seen == [f"t{i}" for i in range(5)]
    assert "nextToken" not in resp
    assert [t["triggerName"] for t in fc.list_triggers("s", "f", prefix="t1").data["triggers"]] == ["t1"]
    assert [t["triggerName"] for t in fc.list_triggers("s", "f", startKey="t3").data["triggers"]] == ["t3", "t4"]
    r = http.get(triggers_url(server), params={"prefix": "", "startKey": "", "nextToken": "", "limit": "2"})
    assert [t["triggerName"] for t in r.json()["triggers"]] == ["t0", "t1"] and r.json()["nextToken"] == "t2"


def test_empty_list_is_an_array(fc, http, server):
    setup_function_(http, server)
    assert fc.list_triggers("s", "f").data == {"triggers": []}


def test_missing_parents_and_duplicates(fc, http, server):
    setup_function_(http, server)
    with pytest.raises(FcError) as e:
        fc.create_trigger("nope", "f", "t", "oss", OSS_CONFIG, OSS_ARN, ROLE)
    assert e.value.status_code == 404 and fc_error(e)["ErrorCode"] == "ServiceNotFound"
    with pytest.raises(FcError) as e:
        fc.create_trigger("s", "nope", "t", "oss", OSS_CONFIG, OSS_ARN, ROLE)
    assert fc_error(e)["ErrorCode"] == "FunctionNotFound"
    assert fc_error(e)["ErrorMessage"] == "function 'nope' does not exist in service 's'"
    with pytest.raises(FcError) as e:
        fc.list_triggers("s", "nope")
    assert e.value.status_code == 404
    with pytest.raises(FcError) as e:
        fc.update_trigger("s", "f", "ghost", OSS_CONFIG, ROLE)
    assert fc_error(e)["ErrorCode"] == "TriggerNotFound"

    fc.create_trigger("s", "f", "t", "oss", OSS_CONFIG, OSS_ARN, ROLE)
    with pytest.raises(FcError) as e:
        fc.create_trigger("s", "f", "t", "oss", {"events": ["oss:ObjectCreated:PutObject"]}, OSS_ARN, ROLE)
    assert e.value.status_code == 409 and fc_error(e)["ErrorCode"] == "TriggerAlreadyExists"
    assert fc.get_trigger("s", "f", "t").data["triggerConfig"] == OSS_CONFIG  # unchanged


def test_if_match(fc, http, server):
    setup_function_(http, server)
    etag = fc.create_trigger("s", "f", "t", "oss", OSS_CONFIG, OSS_ARN, ROLE).headers["Etag"]
    with pytest.raises(FcError) as e:
        fc.update_trigger("s", "f", "t", description="x", headers={"if-match": "0" * 32})
    assert e.value.status_code == 412 and fc_error(e)["ErrorCode"] == "PreconditionFailed"
    assert fc.get_trigger("s", "f", "t").data["description"] == ""
    etag2 = fc.update_trigger("s", "f", "t", description="x", headers={"if-match": etag}).headers["Etag"]
    with pytest.raises(FcError) as e:
        fc.delete_trigger("s", "f", "t", headers={"if-match": etag})
    assert e.value.status_code == 412
    fc.delete_trigger("s", "f", "t", headers={"if-match": etag2})
    assert names(http, server) == []


def test_function_with_triggers_cannot_be_deleted(fc, http, server):
    setup_function_(http, server)
    fc.create_trigger("s", "f", "t", "timer", {"cronExpression": "@every 5m", "enable": False}, "", "")
    with pytest.raises(FcError) as e:
        fc.delete_function("s", "f")
    assert e.value.status_code == 409 and fc_error(e)["ErrorCode"] == "FunctionNotEmpty"
    assert fc_error(e)["ErrorMessage"] == "function 'f' has active triggers"
    assert fc.get_function("s", "f").data["functionName"] == "f"
    fc.delete_trigger("s", "f", "t")
    fc.delete_function("s", "f")


def test_trigger_name_rules(http, server):
    setup_function_(http, server)
    for bad in ("1abc", "-x", "a.b", "x" * 129):
        r = http.post(triggers_url(server), json={"triggerName": bad, "triggerType": "timer",
                                                  "triggerConfig": {"cronExpression": "@every 1m"}})
        assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument", bad
        assert "triggerName" in r.json()["ErrorMessage"]
    r = http.post(triggers_url(server), json={"triggerType": "timer", "triggerConfig": {"cronExpression": "@every 1m"}})
    assert r.json()["ErrorMessage"] == "triggerName is required"
    assert names(http, server) == []


# --- trigger types ----------------------------------------------------------------------------------

@pytest.mark.parametrize("sent,canonical", [
    ("Timer", "timer"), ("HTTP", "http"), ("OSS", "oss"), ("Log", "log"), ("MNS_TOPIC", "mns_topic"),
    ("cdn_events", "cdn_events"), ("TableStore", "tablestore"), ("EventBridge", "eventbridge"), ("RDS", "rds")])
def test_trigger_type_case_insensitive(http, server, sent, canonical):
    setup_function_(http, server)
    configs = {
        "timer": ({"cronExpression": "0 0 9 * * ?"}, None),
        "http": ({"authType": "anonymous", "methods": ["GET"]}, None),
        "oss": (OSS_CONFIG, OSS_ARN),
        "log": ({"sourceConfig": {"logstore": "src"}, "jobConfig": {"maxRetryTime": 3, "triggerInterval": 60},
                 "functionParameter": {}, "logConfig": {"project": "p", "logstore": "l"}, "enable": True},
                "acs:log:cn-hangzhou:123:project/p"),
        "mns_topic": ({"filterTag": "tag", "notifyContentFormat": "JSON", "notifyStrategy": "BACKOFF_RETRY"},
                      "acs:mns:cn-hangzhou:123:/topics/t1"),
        "cdn_events": ({"eventName": "LogFileCreated", "eventVersion": "1.0.0", "notes": "n",
                        "filter": {"domain": ["example.com"]}}, "acs:cdn:*:123"),
        "tablestore": ({}, "acs:ots:cn-hangzhou:123:instance/i/table/t"),
        "eventbridge": ({"triggerEnable": True, "asyncInvocationType": False, "eventRuleFilterPattern": "{}",
                         "eventSourceConfig": {"eventSourceType": "Default"}}, None),
        "rds": ({"subscriptionObjects": ["db.table"], "retry": 2, "concurrency": 1, "eventFormat": "json"},
                "acs:rds:cn-hangzhou:123:dbinstance/rm-1"),
    }
    config, arn = configs[canonical]
    r = http.post(triggers_url(server), json={"triggerName": "t", "triggerType": sent, "triggerConfig": config,
                                              "sourceArn": arn, "invocationRole": ROLE})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["triggerType"] == canonical
    assert http.get(triggers_url(server) + "/t").json()["triggerType"] == canonical
    if canonical not in ("timer", "http"):
        expected = dict(config)
        assert d["triggerConfig"] == expected
    if canonical in ("oss", "log", "mns_topic", "cdn_events", "tablestore", "rds"):
        assert d["sourceArn"] == arn


def test_unknown_trigger_type(http, server):
    setup_function_(http, server)
    r = http.post(triggers_url(server), json={"triggerName": "t", "triggerType": "kafka", "triggerConfig": {}})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    assert r.json()["ErrorMessage"].startswith("triggerType is set to an invalid value (allowed: oss | log | timer")
    assert "actual: 'kafka'" in r.json()["ErrorMessage"]
    r = http.post(triggers_url(server), json={"triggerName": "t", "triggerConfig": {}})
    assert r.json()["ErrorMessage"] == "triggerType is required"
    assert names(http, server) == []


def test_seed_document_examples(http, server):
    """fc-api-notes.md CreateTrigger: `Timer` and `HTTP` with `"qualifier": "LATEST"`, as written."""
    setup_function_(http, server, "my-service", ("my-function",))
    timer = {"serviceName": "my-service", "functionName": "my-function", "triggerName": "my-timer-trigger",
             "triggerType": "Timer",
             "triggerConfig": {"cronExpression": "0 0 9 * * ?", "enable": True, "payload": "{\"key\": \"value\"}"},
             "qualifier": "LATEST"}
    r = http.post(triggers_url(server, "my-service", "my-function"), json=timer)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["triggerType"] == "timer" and d["qualifier"] == "LATEST"
    assert d["triggerConfig"] == timer["triggerConfig"]

    web = {"serviceName": "my-service", "functionName": "my-function", "triggerName": "my-http-trigger",
           "triggerType": "HTTP",
           "triggerConfig": {"authType": "ANONYMOUS", "methods": ["GET", "POST"], "url": "/my-endpoint"},
           "qualifier": "LATEST"}
    r = http.post(triggers_url(server, "my-service", "my-function"), json=web)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["triggerType"] == "http"
    assert d["triggerConfig"] == {"authType": "anonymous", "methods": ["GET", "POST"], "url": "/my-endpoint"}
    assert d["sourceArn"] is None
    url = f"{server.url}/2016-08-15/proxy/my-service.LATEST/my-function/"
    assert d["urlInternet"] == url and d["urlIntranet"] == url
    assert d["domainName"] == f"127.0.0.1:{server.port}"
    got = http.get(triggers_url(server, "my-service", "my-function") + "/my-http-trigger").json()
    assert got["triggerConfig"]["url"] == "/my-endpoint"


# --- http -------------------------------------------------------------------------------------------

def test_http_trigger_rules(fc, http, server):
    setup_function_(http, server)
    r = fc.create_trigger("s", "f", "h", "http", {"authType": "function", "methods": ["get", "Post", "GET"]},
                          "dummy_arn", "")
    d = r.data
    assert d["sourceArn"] is None and d["invocationRole"] == ""
    assert d["triggerConfig"] == {"authType": "function", "methods": ["GET", "POST"]}
    # default authType is function; methods default to all of them
    r = http.put(triggers_url(server) + "/h", json={"triggerConfig": {"disableURLInternet": True, "authConfig": "x"}})
    assert r.json()["triggerConfig"] == {"authType": "function", "methods": list(
        ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS")), "disableURLInternet": True, "authConfig": "x"}
    before = http.get(triggers_url(server) + "/h").json()
    for bad, msg in [
        ({"authType": "custom", "methods": ["GET"]},
         "authType is set to an invalid value (allowed: anonymous | function, actual: 'custom')"),
        ({"methods": ["GET", "FETCH"]},
         "methods contains an invalid value (allowed: GET | POST | PUT | DELETE | HEAD | PATCH | OPTIONS, "
         "actual: 'FETCH')"),
        ({"methods": "GET"}, "triggerConfig.methods is set to an invalid value: expected an array, actual: \"GET\""),
        ({"methods": []}, "methods must not be empty (allowed: GET | POST | PUT | DELETE | HEAD | PATCH | OPTIONS)"),
        ({"disableURLInternet": "yes"},
         "triggerConfig.disableURLInternet is set to an invalid value: expected a boolean, actual: \"yes\""),
    ]:
        r = http.put(triggers_url(server) + "/h", json={"triggerConfig": bad})
        assert r.status_code == 400, bad
        assert r.json() == {**r.json(), "ErrorCode": "InvalidArgument", "ErrorMessage": msg}
    assert http.get(triggers_url(server) + "/h").json() == before


def test_one_http_trigger_per_qualifier(http, server):
    setup_function_(http, server)
    cfg = {"authType": "anonymous", "methods": ["GET"]}
    assert http.post(triggers_url(server), json={"triggerName": "h1", "triggerType": "http",
                                                 "triggerConfig": cfg}).status_code == 200
    r = http.post(triggers_url(server), json={"triggerName": "h2", "triggerType": "http", "triggerConfig": cfg})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    assert r.json()["ErrorMessage"] == "function 'f' already has an HTTP trigger 'h1' for qualifier 'LATEST'"
    assert names(http, server) == ["h1"]


def test_qualifier_must_exist(http, server):
    setup_function_(http, server)
    cfg = {"cronExpression": "@every 1m"}
    r = http.post(triggers_url(server), json={"triggerName": "t", "triggerType": "timer", "triggerConfig": cfg,
                                              "qualifier": "prod"})
    assert r.status_code == 404 and r.json()["ErrorCode"] == "AliasNotFound"
    r = http.post(triggers_url(server), json={"triggerName": "t", "triggerType": "timer", "triggerConfig": cfg,
                                              "qualifier": "3"})
    assert r.status_code == 404 and r.json()["ErrorCode"] == "VersionNotFound"
    assert names(http, server) == []
    # a published version and an alias to it work; the HTTP URL names the qualifier
    assert http.post(server.url + V1 + "/services/s/versions", json={}).json()["versionId"] == "1"
    assert http.post(server.url + V1 + "/services/s/aliases",
                     json={"aliasName": "prod", "versionId": "1"}).status_code == 200
    r = http.post(triggers_url(server), json={"triggerName": "h", "triggerType": "http", "qualifier": "prod",
                                              "triggerConfig": {"authType": "anonymous", "methods": ["GET"]}})
    assert r.status_code == 200, r.text
    assert r.json()["urlInternet"] == f"{server.url}/2016-08-15/proxy/s.prod/f/"
    assert r.json()["targetArn"].endswith(":services/s.prod/functions/f")
    r = http.put(triggers_url(server) + "/h", json={"qualifier": "1"})
    assert r.json()["qualifier"] == "1" and r.json()["urlInternet"].endswith("/proxy/s.1/f/")
    r = http.put(triggers_url(server) + "/h", json={"qualifier": "nope"})
    assert r.status_code == 404 and http.get(triggers_url(server) + "/h").json()["qualifier"] == "1"


# --- timer ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr", ["0 0 9 * * ?", "*/1 * * * * *", "@every 1m", "@every 1h30m", "@every 90s",
                                  "0 30 8 ? JAN-MAR MON-FRI", "0 0/15 * * * *", "0 0 4 1 * *",
                                  "CRON_TZ=Asia/Shanghai 0 0 4 1 * *"])
def test_timer_expressions_accepted(fc, http, server, expr):
    setup_function_(http, server)
    d = fc.create_trigger("s", "f", "t", "timer", {"cronExpression": expr, "enable": True, "payload": "p"},
                          "", "").data
    assert d["triggerConfig"] == {"cronExpression": expr, "enable": True, "payload": "p"}
    assert d["sourceArn"] is None


@pytest.mark.parametrize("expr,reason", [
    ("* * * * *", "expected 6 fields (seconds minutes hours day-of-month month day-of-week), got 5"),
    ("0 61 * * * *", "minutes value 61 is out of range (0-59)"),
    ("0 0 25 * * *", "hours value 25 is out of range (0-23)"),
    ("? * * * * *", "'?' is only allowed in day-of-month and day-of-week, not in seconds"),
    ("0 0 0 * FOO *", "'FOO' is not a valid value for month"),
    ("0 */0 * * * *", "'*/0' has an invalid step in minutes"),
    ("@every 5ms", "'5ms' is not a duration (examples: 1m, 1h30m, 90s)"),
    ("@daily", "the only descriptor supported is '@every <duration>'"),
    ("CRON_TZ=Mars/Base 0 0 0 * * *", "unknown time zone 'Mars/Base'"),
])
def test_timer_bad_expression_on_create_and_update(http, server, expr, reason):
    setup_function_(http, server)
    r = http.post(triggers_url(server), json={"triggerName": "t", "triggerType": "timer",
                                              "triggerConfig": {"cronExpression": expr}})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    assert r.json()["ErrorMessage"] == f"cronExpression '{expr}' is invalid: {reason}"
    assert names(http, server) == []
    assert http.post(triggers_url(server), json={"triggerName": "t", "triggerType": "timer",
                                                 "triggerConfig": {"cronExpression": "@every 1m"}}).status_code == 200
    r = http.put(triggers_url(server) + "/t", json={"triggerConfig": {"cronExpression": expr}})
    assert r.status_code == 400 and r.json()["ErrorMessage"] == f"cronExpression '{expr}' is invalid: {reason}"
    assert http.get(triggers_url(server) + "/t").json()["triggerConfig"]["cronExpression"] == "@every 1m"


def test_timer_config_types(http, server):
    setup_function_(http, server)
    for cfg, msg in [
        ({}, "triggerConfig.cronExpression is required"),
        ({"cronExpression": "@every 1m", "enable": "true"},
         "triggerConfig.enable is set to an invalid value: expected a boolean, actual: \"true\""),
        ({"cronExpression": "@every 1m", "payload": {"a": 1}},
         "triggerConfig.payload is set to an invalid value: expected a string, actual: {\"a\": 1}"),
    ]:
        r = http.post(triggers_url(server), json={"triggerName": "t", "triggerType": "timer", "triggerConfig": cfg})
        assert r.status_code == 400 and r.json()["ErrorMessage"] == msg, cfg
    r = http.post(triggers_url(server), json={"triggerName": "t", "triggerType": "timer",
                                              "triggerConfig": {"CronExpression": "@every 1m"}})
    assert r.json()["triggerConfig"] == {"cronExpression": "@every 1m", "enable": True}


def test_cron_next_fire():
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert cron.next_fire("0 0 9 * * ?", base) == datetime(2024, 1, 1, 9, tzinfo=timezone.utc)
    assert cron.next_fires("*/1 * * * * *", base, 2) == [datetime(2024, 1, 1, 0, 0, s, tzinfo=timezone.utc)
                                                         for s in (1, 2)]
    assert cron.next_fires("@every 1h30m", base, 2) == [datetime(2024, 1, 1, 1, 30, tzinfo=timezone.utc),
                                                        datetime(2024, 1, 1, 3, tzinfo=timezone.utc)]
    assert cron.next_fire("@every 90s", datetime(2024, 1, 1, 0, 0, 0, 500000)) == \
        datetime(2024, 1, 1, 0, 1, 30, tzinfo=timezone.utc)  # naive = UTC, whole seconds
    # 04:00 in Shanghai on the 1st = 20:00 UTC the day before
    assert cron.next_fire("CRON_TZ=Asia/Shanghai 0 0 4 1 * *", base) == \
        datetime(2024, 1, 31, 20, tzinfo=timezone.utc)
    from zoneinfo import ZoneInfo
    assert cron.next_fire("0 0 4 1 * *", base, ZoneInfo("Asia/Shanghai")) == \
        datetime(2024, 1, 31, 20, tzinfo=timezone.utc)
    assert cron.next_fire("0 0 12 ? * MON", base) == datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    assert cron.next_fire("0 0 0 31 2 *", base) is None  # February 31st never comes
    with pytest.raises(ValueError):
        cron.next_fire("bad", base)


# --- other event sources ----------------------------------------------------------------------------

def test_oss_rules(http, server):
    setup_function_(http, server)
    base = {"triggerName": "t", "triggerType": "oss", "sourceArn": OSS_ARN, "invocationRole": ROLE}
    for cfg, arn, msg in [
        ({"events": ["oss:ObjectCreated:Put"]}, OSS_ARN, "events contains an invalid value"),
        ({"events": []}, OSS_ARN, "triggerConfig.events is required"),
        ({"filter": {"key": {"prefix": "a"}}}, OSS_ARN, "triggerConfig.events is required"),
        ({"events": ["oss:ObjectCreated:*"], "filter": {"key": {"prefix": 1}}}, OSS_ARN,
         "triggerConfig.filter.key.prefix is set to an invalid value: expected a string, actual: 1"),
        (OSS_CONFIG, None, "sourceArn is required for trigger type 'oss'"),
        (OSS_CONFIG, "acs:log:cn-hangzhou:123:project/p",
         "sourceArn is set to an invalid value for trigger type 'oss' (expected: "
         "'acs:oss:<region>:<accountId>:<resource>', actual: 'acs:log:cn-hangzhou:123:project/p')"),
    ]:
        r = http.post(triggers_url(server), json={**base, "triggerConfig": cfg, "sourceArn": arn})
        assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument", cfg
        assert r.json()["ErrorMessage"].startswith(msg), r.json()
    every = ["oss:ObjectCreated:PutObject", "oss:ObjectCreated:PostObject", "oss:ObjectCreated:CopyObject",
             "oss:ObjectCreated:CompleteMultipartUpload", "oss:ObjectCreated:AppendObject",
             "oss:ObjectCreated:PutSymlink", "oss:ObjectRemoved:DeleteObjects",
             "oss:ObjectRemoved:AbortMultipartUpload", "oss:ObjectReplication:ObjectModified"]
    r = http.post(triggers_url(server), json={**base, "triggerConfig": {"events": every}})
    assert r.status_code == 200 and r.json()["triggerConfig"] == {"events": every}


def test_log_and_others_validated(http, server):
    setup_function_(http, server)
    log_arn = "acs:log:cn-hangzhou:123:project/p"
    cases = [
        ("log", log_arn, {"jobConfig": {"triggerInterval": 60}}, "triggerConfig.sourceConfig.logstore is required"),
        ("log", log_arn, {"sourceConfig": {"logstore": "x"}, "jobConfig": {"triggerInterval": 1}},
         "triggerInterval is set to an invalid value (allowed: 3 to 600, actual: 1)"),
        ("log", log_arn, {"sourceConfig": {"logstore": "x"}, "enable": "no"},
         "triggerConfig.enable is set to an invalid value: expected a boolean, actual: \"no\""),
        ("mns_topic", "acs:mns:cn-hangzhou:123:/topics/t", {"notifyContentFormat": "XML"},
         "notifyContentFormat is set to an invalid value (allowed: STREAM | JSON, actual: 'XML')"),
        ("mns_topic", "acs:mns:cn-hangzhou:123:/topics/t", {"notifyStrategy": "NEVER"},
         "notifyStrategy is set to an invalid value (allowed: BACKOFF_RETRY | EXPONENTIAL_DECAY_RETRY, "
         "actual: 'NEVER')"),
        ("cdn_events", "acs:cdn:*:123", {"eventVersion": "1.0.0"}, "triggerConfig.eventName is required"),
        ("cdn_events", "acs:cdn:*:123", {"eventName": "e", "filter": {"domain": "x.com"}},
         "triggerConfig.filter.domain is set to an invalid value: expected an array, actual: \"x.com\""),
        ("tablestore", None, {}, "sourceArn is required for trigger type 'tablestore'"),
        ("rds", "acs:rds:cn-hangzhou:123:dbinstance/rm", {"eventFormat": "xml"},
         "eventFormat is set to an invalid value (allowed: json | protobuf | sql, actual: 'xml')"),
        ("rds", "acs:rds:cn-hangzhou:123:dbinstance/rm", {"retry": 9},
         "retry is set to an invalid value (allowed: 0 to 3, actual: 9)"),
        ("eventbridge", None, {"eventRuleFilterPattern": "not json"},
         "eventRuleFilterPattern must be a JSON object in a string, actual: 'not json'"),
        ("eventbridge", None, {"eventSourceConfig": {"eventSourceType": "SQS"}},
         "eventSourceType is set to an invalid value (allowed: Default | MNS | RocketMQ | RabbitMQ | Kafka | DTS | "
         "MQTT, actual: 'SQS')"),
        ("timer", None, "{not json", "triggerConfig is not valid JSON: '{not json'"),
        ("timer", None, ["x"], "triggerConfig must be a JSON object"),
    ]
    for t, arn, cfg, msg in cases:
        r = http.post(triggers_url(server), json={"triggerName": "t", "triggerType": t, "sourceArn": arn,
                                                  "triggerConfig": cfg})
        assert r.status_code == 400, (t, cfg, r.text)
        assert r.json()["ErrorMessage"] == msg, r.json()
    assert names(http, server) == []


def test_py_test_log_config_echoed(fc, http, server):
    """py-test's log config has a misspelt `maxRetryime`; FC echoes the config as given."""
    setup_function_(http, server)
    cfg = {"sourceConfig": {"logstore": "store_source"}, "jobConfig": {"triggerInterval": 60, "maxRetryime": 0},
           "functionParameter": {}, "logConfig": {"project": "proj", "logstore": "store"}, "enable": False}
    d = fc.create_trigger("s", "f", "t", "log", cfg, "acs:log:cn-hangzhou:123:project/proj", ROLE).data
    assert d["triggerConfig"] == cfg
    cfg2 = {**cfg, "jobConfig": {"maxRetryime": 4, "triggerInterval": 80}}
    d = fc.update_trigger("s", "f", "t", cfg2, ROLE).data
    assert d["triggerConfig"]["jobConfig"]["triggerInterval"] == 80 and d["triggerConfig"] == cfg2


def test_eventbridge_source_arn_is_computed(http, server, account):
    setup_function_(http, server)
    cfg = {"triggerEnable": True, "asyncInvocationType": False, "eventRuleFilterPattern": "{\"source\":[\"x\"]}",
           "eventSourceConfig": {"eventSourceType": "Default"}}
    r = http.post(triggers_url(server), headers={"x-fc-enable-eventbridge-trigger": "enable"},
                  json={"triggerName": "eb", "triggerType": "eventbridge", "triggerConfig": cfg,
                        "sourceArn": "ignored", "invocationRole": ROLE})
    assert r.status_code == 200, r.text
    assert r.json()["sourceArn"] == f"acs:eventbridge:cn-hangzhou:{account}:eventbus/default/rule/s-f-eb"
    mns = {**cfg, "eventSourceConfig": {"eventSourceType": "MNS", "eventSourceParameters": {
        "sourceMNSParameters": {"RegionId": "cn-hangzhou", "QueueName": "q", "IsBase64Decode": True}}}}
    r = http.put(triggers_url(server) + "/eb", json={"triggerConfig": mns})
    assert r.json()["sourceArn"] == f"acs:eventbridge:cn-hangzhou:{account}:eventbus/MNS-f-eb/rule/s-f-eb"
    assert r.json()["triggerConfig"]["eventSourceConfig"] == mns["eventSourceConfig"]


def test_2021_prefix_takes_and_returns_config_as_string(http, server):
    """The 2021-04-06 Tea SDK models triggerConfig as a JSON string, both ways."""
    setup_function_(http, server)
    url = server.url + "/2021-04-06/services/s/functions/f/triggers"
    r = http.post(url, json={"triggerName": "t", "triggerType": "timer",
                             "triggerConfig": json.dumps({"cronExpression": "@every 1m", "enable": False})})
    assert r.status_code == 200, r.text
    assert json.loads(r.json()["triggerConfig"]) == {"cronExpression": "@every 1m", "enable": False}
    assert http.get(triggers_url(server) + "/t").json()["triggerConfig"] == {"cronExpression": "@every 1m",
                                                                            "enable": False}
