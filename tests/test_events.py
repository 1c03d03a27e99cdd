"""Event-source triggers fired locally (issue 5 part 4): POST /_emulator/events/{source} and
`fc-emulator events put`, FC's event JSON per source, each trigger's own filters, and FC's invocation
style (OSS, MNS, CDN async; Log, TableStore, RDS sync; EventBridge per asyncInvocationType).

The deployed function logs the event it received (base64) and returns it, so the invocation records
(/_emulator/invocations, read after /_emulator/wait-idle) show exactly what the function was given."""
from __future__ import annotations

import base64
import hashlib
import json
import struct
import subprocess
import sys

import requests

from tests.helpers import ROOT, Server, deploy, wait_async_idle, write_zip

EVENT_LOGGER = {"index.py": "import base64\n\ndef handler(event, context):\n"
                            "    print('EVENT ' + base64.b64encode(event).decode())\n    return event\n"}
FAILING = {"index.py": "def handler(event, context):\n    raise Exception('cannot parse')\n"}


# ---- helpers ------------------------------------------------------------------------------------------

def put(server: Server, account: str, source: str, body) -> requests.Response:
    kwargs = {"data": body} if isinstance(body, (bytes, str)) else {"json": body}
    return requests.post(f"{server.url}/_emulator/events/{source}", headers={"X-Fc-Account-Id": account},
                         timeout=120, **kwargs)


def put_ok(server: Server, account: str, source: str, body: dict) -> list[dict]:
    r = put(server, account, source, body)
    assert r.status_code == 200, r.text
    assert r.json()["source"] == source
    return r.json()["matched"]


def records(server: Server, account: str, fn: str | None = None) -> list[dict]:
    """Invocation records (oldest first), each with `event`: the bytes the function logged receiving."""
    wait_async_idle(server)
    params = {"order": "asc", "limit": 1000, **({"function": fn} if fn else {})}
    r = requests.get(server.url + "/_emulator/invocations", params=params, headers={"X-Fc-Account-Id": account})
    assert r.status_code == 200, r.text
    out = []
    for rec in r.json()["invocations"]:
        logged = [line.split("EVENT ", 1)[1] for line in rec["logs"] if "EVENT " in line]
        received = base64.b64decode(logged[0]) if logged else None
        assert received is None or received == base64.b64decode(rec["payloadHead"])  # what FC sent is what ran
        out.append({**rec, "event": received})
    return out


def only(matched: list[dict], fn: str, invocation: str, status: str) -> dict:
    assert [m["functionName"] for m in matched] == [fn], matched
    m = matched[0]
    assert m["invocationType"] == invocation and m["status"] == status, m
    return m


def received(server: Server, account: str, fn: str, request_id: str, kind: str) -> bytes:
    recs = [r for r in records(server, account, fn) if r["requestId"] == request_id]
    assert len(recs) == 1, recs
    assert recs[0]["kind"] == kind and recs[0]["status"] == "succeeded", recs[0]
    return recs[0]["event"]


def cbor_decode(data: bytes):
    """Enough of RFC 8949 to read TableStore events (ints, strings, bytes, arrays, maps, simple values)."""
    def item(i: int):
        major, info = data[i] >> 5, data[i] & 31
        i += 1
        if major == 7:
            if info == 27:
                return struct.unpack(">d", data[i:i + 8])[0], i + 8
            return {20: False, 21: True, 22: None}[info], i
        if info < 24:
            n = info
        else:
            size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
            n, i = int.from_bytes(data[i:i + size], "big"), i + size
        if major == 0:
            return n, i
        if major == 1:
            return -1 - n, i
        if major in (2, 3):
            raw = data[i:i + n]
            return (raw if major == 2 else raw.decode()), i + n
        out = [] if major == 4 else {}
        for _ in range(n):
            if major == 4:
                v, i = item(i)
                out.append(v)
            else:
                k, i = item(i)
                out[k], i = item(i)
        return out, i
    value, end = item(0)
    assert end == len(data)
    return value


# ---- OSS ----------------------------------------------------------------------------------------------

def oss_triggers(client, account: str, tmp_path) -> None:
    """Two functions on bucket b1 with different key filters, and one on bucket b2."""
    for fn in ("pngs", "texts"):
        deploy(client, tmp_path, EVENT_LOGGER, name=fn)
    client.create_trigger("svc", "pngs", "png", "oss",
                          {"events": ["oss:ObjectCreated:*"], "filter": {"key": {"prefix": "photos/", "suffix": ".png"}}},
                          f"acs:oss:cn-hangzhou:{account}:b1", "")
    client.create_trigger("svc", "texts", "txt", "oss",
                          {"events": ["oss:ObjectCreated:PostObject", "oss:ObjectRemoved:DeleteObject"],
                           "filter": {"key": {"prefix": "logs/", "suffix": ".txt"}}},
                          f"acs:oss:cn-hangzhou:{account}:b1", "")
    client.create_trigger("svc", "texts", "other-bucket", "oss", {"events": ["oss:ObjectCreated:*"]},
                          f"acs:oss:cn-hangzhou:{account}:b2", "")


def test_oss_put_reaches_only_the_function_whose_filter_matches(efc, exec_server, account, tmp_path):
    oss_triggers(efc, account, tmp_path)
    m = only(put_ok(exec_server, account, "oss", {"bucket": "b1", "key": "photos/cat.png", "size": 1234}),
             "pngs", "Async", "Enqueued")
    assert m["triggerName"] == "png" and m["qualifier"] == "LATEST"
    event = json.loads(received(exec_server, account, "pngs", m["requestId"], "async"))
    [e] = event["events"]
    assert e["eventName"] == "ObjectCreated:PutObject" and e["eventSource"] == "acs:oss"
    assert e["eventVersion"] == "1.0" and e["region"] == "cn-hangzhou"
    assert e["oss"]["bucket"] == {"arn": f"acs:oss:cn-hangzhou:{account}:b1", "name": "b1",
                                  "ownerIdentity": account, "virtualBucket": ""}
    assert e["oss"]["object"]["key"] == "photos/cat.png"
    assert e["oss"]["object"]["size"] == e["oss"]["object"]["deltaSize"] == 1234
    assert e["oss"]["ossSchemaVersion"] == "1.0" and e["userIdentity"] == {"principalId": account}
    assert e["requestParameters"]["sourceIPAddress"] and e["responseElements"]["requestId"]
    assert e["eventTime"].endswith("Z")
    assert records(exec_server, account, "texts") == []

    # the event name given with the `oss:` prefix; only `texts` listens to PostObject under logs/*.txt
    m = only(put_ok(exec_server, account, "oss", {"bucket": "b1", "key": "logs/app.txt",
                                                 "eventName": "oss:ObjectCreated:PostObject"}),
             "texts", "Async", "Enqueued")
    e = json.loads(received(exec_server, account, "texts", m["requestId"], "async"))["events"][0]
    assert e["eventName"] == "ObjectCreated:PostObject" and e["oss"]["object"]["key"] == "logs/app.txt"
    assert len(records(exec_server, account, "pngs")) == 1


def test_oss_events_that_match_no_filter_invoke_nothing(efc, exec_server, account, tmp_path):
    oss_triggers(efc, account, tmp_path)
    for body in ({"bucket": "b1", "key": "photos/cat.jpg"},           # suffix
                 {"bucket": "b1", "key": "videos/cat.png"},           # prefix
                 {"bucket": "b1", "key": "logs/app.txt"},             # PutObject is not among texts' events
                 {"bucket": "b1", "key": "photos/cat.png", "eventName": "ObjectRemoved:DeleteObject"},
                 {"bucket": "b3", "key": "photos/cat.png"}):          # no trigger on that bucket
        assert put_ok(exec_server, account, "oss", body) == [], body
    assert records(exec_server, account) == []


# ---- Log (SLS) ----------------------------------------------------------------------------------------

def log_config(logstore: str, enable: bool = True, retries: int = 0) -> dict:
    return {"sourceConfig": {"logstore": logstore}, "jobConfig": {"maxRetryTime": retries, "triggerInterval": 60},
            "functionParameter": {"dest": "archive"}, "logConfig": {"project": "fc-logs", "logstore": "fc"},
            "enable": enable}


def test_log_trigger_is_invoked_synchronously_with_the_sls_event(efc, exec_server, account, tmp_path):
    for fn in ("etl", "off"):
        deploy(efc, tmp_path, EVENT_LOGGER, name=fn)
    deploy(efc, tmp_path, FAILING, name="broken")
    arn = f"acs:log:cn-hangzhou:{account}:project/p1"
    efc.create_trigger("svc", "etl", "sls", "log", log_config("ls1"), arn, "")
    efc.create_trigger("svc", "off", "sls", "log", log_config("ls1", enable=False), arn, "")  # disabled
    efc.create_trigger("svc", "broken", "sls", "log", log_config("ls2", retries=2), arn, "")

    m = only(put_ok(exec_server, account, "log", {"project": "p1", "logstore": "ls1", "shardId": 2}),
             "etl", "Sync", "Succeeded")
    event = json.loads(m["result"])  # a sync source answers with the function's result
    assert event["parameter"] == {"dest": "archive"}
    src = event["source"]
    assert (src["projectName"], src["logstoreName"], src["shardId"]) == ("p1", "ls1", 2)
    assert src["endpoint"] == "http://cn-hangzhou-intranet.log.aliyuncs.com"
    assert base64.b64decode(src["beginCursor"]) and base64.b64decode(src["endCursor"])
    assert len(event["jobName"]) == 40 and event["taskId"] and isinstance(event["cursorTime"], int)
    assert json.loads(received(exec_server, account, "etl", m["requestId"], "event")) == event
    assert records(exec_server, account, "off") == []

    # jobConfig.maxRetryTime: a failing task runs again, as attempts of one request
    m = only(put_ok(exec_server, account, "log", {"project": "p1", "logstore": "ls2"}), "broken", "Sync", "Failed")
    assert m["attempts"] == 3 and m["errorType"] == "UnhandledInvocationError"
    recs = records(exec_server, account, "broken")
    assert [(r["requestId"], r["attempt"], r["status"]) for r in recs] == [(m["requestId"], n, "failed")
                                                                        for n in (1, 2, 3)]
    assert put_ok(exec_server, account, "log", {"project": "p2", "logstore": "ls1"}) == []


# ---- MNS topic ----------------------------------------------------------------------------------------

def test_mns_topic_filter_tag_and_both_content_formats(efc, exec_server, account, tmp_path):
    for fn in ("stream", "tagged"):
        deploy(efc, tmp_path, EVENT_LOGGER, name=fn)
    arn = f"acs:mns:cn-hangzhou:{account}:/topics/orders"
    efc.create_trigger("svc", "stream", "mns", "mns_topic", {"notifyContentFormat": "STREAM"}, arn, "")
    efc.create_trigger("svc", "tagged", "mns", "mns_topic", {"notifyContentFormat": "JSON", "filterTag": "vip"},
                       arn, "")

    m = only(put_ok(exec_server, account, "mns_topic", {"topic": "orders", "message": "hello"}),
             "stream", "Async", "Enqueued")
    assert received(exec_server, account, "stream", m["requestId"], "async") == b"hello"  # STREAM: the body

    matched = put_ok(exec_server, account, "mns_topic", {"topic": "orders", "message": "big order", "tag": "vip"})
    assert sorted(x["functionName"] for x in matched) == ["stream", "tagged"]
    ids = {x["functionName"]: x["requestId"] for x in matched}
    assert received(exec_server, account, "stream", ids["stream"], "async") == b"big order"
    event = json.loads(received(exec_server, account, "tagged", ids["tagged"], "async"))
    assert event["Message"] == "big order" and event["TopicName"] == "orders" and event["MessageTag"] == "vip"
    assert event["TopicOwner"] == event["Subscriber"] == account
    assert event["MessageMD5"] == hashlib.md5(b"big order").hexdigest().upper()
    assert isinstance(event["PublishTime"], int) and event["MessageId"] and event["SubscriptionName"]
    assert put_ok(exec_server, account, "mns_topic", {"topic": "refunds", "message": "x", "tag": "vip"}) == []


# ---- TableStore ---------------------------------------------------------------------------------------

def test_tablestore_row_change_arrives_as_cbor(efc, exec_server, account, tmp_path):
    deploy(efc, tmp_path, EVENT_LOGGER, name="stream")
    efc.create_trigger("svc", "stream", "ots", "tablestore", {},
                       f"acs:ots:cn-hangzhou:{account}:instance/shop/table/orders", "")
    m = only(put_ok(exec_server, account, "tablestore", {"instance": "shop", "table": "orders",
                                                         "primaryKey": {"id": 7}, "columns": {"item": "tea"}}),
             "stream", "Sync", "Succeeded")
    event = cbor_decode(received(exec_server, account, "stream", m["requestId"], "event"))
    assert event["Version"] == "Sync-v1"
    [rec] = event["Records"]
    assert rec["Type"] == "PutRow" and isinstance(rec["Info"]["Timestamp"], int)
    assert rec["PrimaryKey"] == [{"ColumnName": "id", "Value": 7}]
    [col] = rec["Columns"]
    assert (col["Type"], col["ColumnName"], col["Value"]) == ("Put", "item", "tea") and col["Timestamp"] > 0
    assert put_ok(exec_server, account, "tablestore", {"instance": "shop", "table": "users"}) == []


# ---- CDN events ---------------------------------------------------------------------------------------

def test_cdn_event_filtered_by_event_name_and_domain(efc, exec_server, account, tmp_path):
    deploy(efc, tmp_path, EVENT_LOGGER, name="cdn")
    efc.create_trigger("svc", "cdn", "refresh", "cdn_events",
                       {"eventName": "CachedObjectsRefreshed", "eventVersion": "1.0.0", "notes": "n",
                        "filter": {"domain": ["example.com"]}}, f"acs:cdn:*:{account}", "")
    m = only(put_ok(exec_server, account, "cdn_events", {"eventName": "CachedObjectsRefreshed",
                                                         "domain": "example.com",
                                                         "eventParameter": {"objectPath": ["/a.jpg"]}}),
             "cdn", "Async", "Enqueued")
    [e] = json.loads(received(exec_server, account, "cdn", m["requestId"], "async"))["events"]
    assert (e["eventName"], e["eventVersion"], e["eventSource"]) == ("CachedObjectsRefreshed", "1.0.0", "cdn")
    assert e["resource"] == {"domain": "example.com"} and e["userIdentity"] == {"aliUid": account}
    assert e["eventParameter"]["objectPath"] == ["/a.jpg"] and e["eventParameter"]["domain"] == "example.com"
    assert e["region"] == "cn-hangzhou" and e["traceId"] and e["eventTime"]
    assert put_ok(exec_server, account, "cdn_events", {"eventName": "CachedObjectsRefreshed",
                                                       "domain": "other.com"}) == []
    assert put_ok(exec_server, account, "cdn_events", {"eventName": "LogFileCreated", "domain": "example.com"}) == []


# ---- EventBridge --------------------------------------------------------------------------------------

def test_eventbridge_filter_pattern_source_type_and_invocation_type(efc, exec_server, account, tmp_path):
    for fn in ("ossrule", "queue", "off"):
        deploy(efc, tmp_path, EVENT_LOGGER, name=fn)
    pattern = {"source": ["acs.oss"], "type": [{"prefix": "oss:ObjectCreated"}], "data": {"region": ["cn-hangzhou"]}}
    efc.create_trigger("svc", "ossrule", "eb", "eventbridge",
                       {"triggerEnable": True, "asyncInvocationType": False,
                        "eventRuleFilterPattern": json.dumps(pattern),
                        "eventSourceConfig": {"eventSourceType": "Default"}}, "", "")
    efc.create_trigger("svc", "queue", "eb", "eventbridge",
                       {"triggerEnable": True, "asyncInvocationType": True, "eventRuleFilterPattern": "{}",
                        "eventSourceConfig": {"eventSourceType": "MNS", "eventSourceParameters": {
                            "sourceMNSParameters": {"RegionId": "cn-hangzhou", "QueueName": "q1",
                                                    "IsBase64Decode": False}}}}, "", "")
    efc.create_trigger("svc", "off", "eb", "eventbridge",
                       {"triggerEnable": False, "asyncInvocationType": False, "eventRuleFilterPattern": "{}",
                        "eventSourceConfig": {"eventSourceType": "Default"}}, "", "")

    body = {"source": "acs.oss", "type": "oss:ObjectCreated:PutObject", "subject": "acs:oss:cn-hangzhou:1:b/k",
            "data": {"region": "cn-hangzhou", "key": "k"}}
    m = only(put_ok(exec_server, account, "eventbridge", body), "ossrule", "Sync", "Succeeded")
    event = json.loads(received(exec_server, account, "ossrule", m["requestId"], "event"))
    assert (event["source"], event["type"], event["specversion"]) == ("acs.oss", "oss:ObjectCreated:PutObject", "1.0")
    assert event["data"] == body["data"] and event["subject"] == body["subject"]
    assert event["aliyunaccountid"] == account and event["aliyunregionid"] == "cn-hangzhou"
    assert event["aliyuneventbusname"] == "default" and event["id"] and event["time"]
    for miss in ({**body, "source": "acs.ecs"}, {**body, "type": "oss:ObjectRemoved:DeleteObject"},
                 {**body, "data": {"region": "cn-beijing"}}):
        assert put_ok(exec_server, account, "eventbridge", miss) == [], miss

    m = only(put_ok(exec_server, account, "eventbridge", {"eventSourceType": "MNS", "sourceParameters":
                                                          {"QueueName": "q1"}, "body": "hello"}),
             "queue", "Async", "Enqueued")
    event = json.loads(received(exec_server, account, "queue", m["requestId"], "async"))
    assert (event["source"], event["type"]) == ("acs:mns", "mns:Queue:SendMessage")
    assert event["data"]["messageBody"] == "hello" and event["aliyuneventbusname"] == "MNS-queue-eb"
    assert put_ok(exec_server, account, "eventbridge", {"eventSourceType": "MNS",
                                                        "sourceParameters": {"QueueName": "q2"}}) == []
    assert records(exec_server, account, "off") == []


# ---- RDS ----------------------------------------------------------------------------------------------

def test_rds_change_filtered_by_instance_and_subscription_objects(efc, exec_server, account, tmp_path):
    deploy(efc, tmp_path, EVENT_LOGGER, name="cdc")
    efc.create_trigger("svc", "cdc", "rds", "rds", {"subscriptionObjects": ["shop.orders"], "retry": 1,
                                                    "concurrency": 1, "eventFormat": "json"},
                       f"acs:rds:cn-hangzhou:{account}:dbinstance/rm-1", "")
    m = only(put_ok(exec_server, account, "rds", {"instance": "rm-1", "database": "shop", "table": "orders",
                                                  "operation": "insert", "after": {"id": 1, "item": "tea"}}),
             "cdc", "Sync", "Succeeded")
    [rec] = json.loads(received(exec_server, account, "cdc", m["requestId"], "event"))["records"]
    assert (rec["operation"], rec["objectName"], rec["instanceId"]) == ("INSERT", "shop.orders", "rm-1")
    assert rec["afterImages"] == {"id": 1, "item": "tea"} and rec["beforeImages"] is None
    assert put_ok(exec_server, account, "rds", {"instance": "rm-1", "database": "shop", "table": "users"}) == []
    assert put_ok(exec_server, account, "rds", {"instance": "rm-2", "database": "shop", "table": "orders"}) == []


# ---- bad input ----------------------------------------------------------------------------------------

def test_bad_events_get_fc_errors_and_invoke_nothing(server, fc, account, tmp_path):
    fc.create_service("svc")
    fc.create_function("svc", "fn", "python3.10", "index.handler", codeZipFile=write_zip(tmp_path, EVENT_LOGGER))
    fc.create_trigger("svc", "fn", "t", "oss", {"events": ["oss:ObjectCreated:*"]},
                      f"acs:oss:cn-hangzhou:{account}:b1", "")
    cases = [
        ("sqs", {"bucket": "b1", "key": "k"}, ("event source is set to an invalid value (allowed: oss | log | "
                                               "mns_topic | tablestore | cdn_events | eventbridge | rds, actual: 'sqs')")),
        ("oss", {"key": "k"}, "bucket is required"),
        ("oss", {"bucket": "b1"}, "key is required"),
        ("oss", {"bucket": "b1", "key": "k", "size": -1}, "size must be an integer >= 0, actual: -1"),
        ("oss", {"bucket": "b1", "key": "k", "eventName": "ObjectCreated:*"}, "eventName is set to an invalid value"),
        ("oss", b"not json", "the request body is not valid JSON"),
        ("oss", b"[1]", "the request body must be a JSON object"),
        ("log", {"project": "p"}, "logstore is required"),
        ("mns_topic", {"topic": "t"}, "message is required"),
        ("eventbridge", {"eventSourceType": "SQS"}, "eventSourceType is set to an invalid value"),
        ("rds", {"instance": "rm", "operation": "MERGE"}, "operation is set to an invalid value"),
    ]
    for source, body, message in cases:
        r = put(server, account, source, body)
        assert r.status_code == 400, (source, body, r.text)
        assert r.json()["ErrorCode"] == "InvalidArgument" and r.json()["ErrorMessage"].startswith(message), r.json()
    wait_async_idle(server)
    r = requests.get(server.url + "/_emulator/invocations", headers={"X-Fc-Account-Id": account})
    assert r.json()["invocations"] == []


# ---- the CLI ------------------------------------------------------------------------------------------

def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emulator", "events", "put", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_cli_events_put_oss(efc, exec_server, account, tmp_path):
    oss_triggers(efc, account, tmp_path)
    where = ("--url", exec_server.url, "--account-id", account)
    done = cli("oss", "--bucket", "b1", "--key", "photos/dog.png", "--size", "42",
               "--data", '{"eTag": "5EB63BBBE01EEED093CB22BB8F5ACDC3"}', *where)
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.strip().splitlines()
    assert header.split() == ["TRIGGER", "FUNCTION", "INVOCATION", "REQUEST", "ID", "STATUS"]
    trigger, function, invocation, request_id, status = row.split()
    assert (trigger, function, invocation, status) == ("png", "svc/pngs", "Async", "Enqueued")
    [e] = json.loads(received(exec_server, account, "pngs", request_id, "async"))["events"]
    assert e["oss"]["object"] == {"deltaSize": 42, "eTag": "5EB63BBBE01EEED093CB22BB8F5ACDC3",
                                  "key": "photos/dog.png", "size": 42}

    done = cli("oss", "--bucket", "b1", "--key", "photos/dog.gif", *where)
    assert done.returncode == 0 and done.stdout == "" and "no oss trigger matched" in done.stderr
    done = cli("oss", "--bucket", "b1", "--key", "logs/a.txt", "--event", "ObjectRemoved:DeleteObject", "--json",
               *where)
    assert done.returncode == 0, done.stderr
    assert [m["functionName"] for m in json.loads(done.stdout)["matched"]] == ["texts"]
    done = cli("oss", "--bucket", "b1", *where)
    assert done.returncode == 1 and "400 InvalidArgument: key is required" in done.stderr
    assert len(records(exec_server, account, "pngs")) == 1 and len(records(exec_server, account, "texts")) == 1
