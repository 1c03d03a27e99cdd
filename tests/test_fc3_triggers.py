"""FC 3.0 triggers (fc3-api.md §4.4, §7) through the official Python SDK `alibabacloud-fc20230330`: CRUD with
triggerConfig round-tripping as the same JSON string, HTTP trigger URLs on the emulator (§7.5) called with
plain HTTP, event v1 for built-in runtimes (§7.3) on both backends, a timer on an FC 3.0 function, errors in
FC 3.0's shape with stored state unchanged, and triggers surviving a restart."""
from __future__ import annotations

import base64
import json
import time

import pytest
import requests
from alibabacloud_fc20230330 import models as m

from tests.helpers import Server
from tests.test_fc3_functions import api_error, create, sdk

# Written the way FC 3.0's docs write HTTP-trigger handlers of built-in runtimes: the event is the request
# as JSON (bytes in Python, a Buffer in Node.js); the answer is {statusCode, headers, body, isBase64Encoded}.
PY_HTTP = {"index.py": (
    "import base64, json\n"
    "def handler(event, context):\n"
    "    event = json.loads(event)\n"
    "    body = event['body']\n"
    "    if event['isBase64Encoded']:\n"
    "        body = base64.b64decode(body).decode('latin-1')\n"
    "    echo = {'event': event, 'body': body, 'function': context.function.name}\n"
    "    return {\n"
    "        'statusCode': 201,\n"
    "        'headers': {'Content-Type': 'application/json', 'X-Custom': 'yes'},\n"
    "        'body': json.dumps(echo),\n"
    "        'isBase64Encoded': False,\n"
    "    }\n")}

NODE_HTTP = {"index.js": (
    "exports.handler = async (event, context) => {\n"
    "  const req = JSON.parse(event.toString());\n"
    "  let body = req.body;\n"
    "  if (req.isBase64Encoded) {\n"
    "    body = Buffer.from(req.body, 'base64').toString('latin1');\n"
    "  }\n"
    "  const echo = { event: req, body: body, function: context.function.name };\n"
    "  return {\n"
    "    statusCode: 201,\n"
    "    headers: { 'Content-Type': 'application/json', 'X-Custom': 'yes' },\n"
    "    body: Buffer.from(JSON.stringify(echo)).toString('base64'),\n"
    "    isBase64Encoded: true,\n"
    "  };\n"
    "};\n")}

PLAIN_PY = {"index.py": "def handler(event, context):\n    return 'plain ' + str(len(event))\n"}

HTTP_CONFIG = json.dumps({"authType": "anonymous", "methods": ["GET", "POST"]})


def http_trigger(client, fn: str, name: str = "http", config: str = HTTP_CONFIG, qualifier: str | None = None):
    body = m.CreateTriggerInput(trigger_name=name, trigger_type="http", trigger_config=config, qualifier=qualifier)
    return client.create_trigger(fn, m.CreateTriggerRequest(body=body)).body


def timer_trigger(client, fn: str, name: str, cron: str, payload: str = "tick", enable: bool = True):
    config = json.dumps({"cronExpression": cron, "payload": payload, "enable": enable})
    body = m.CreateTriggerInput(trigger_name=name, trigger_type="timer", trigger_config=config)
    return client.create_trigger(fn, m.CreateTriggerRequest(body=body)).body


# ---- CRUD -----------------------------------------------------------------------------------------------

def test_trigger_crud_round_trips_config_and_errors_keep_state(server, account):
    c3 = sdk(server, account)
    create(c3, "fn", PLAIN_PY)
    config = '{"methods":["GET","POST"],"authType":"anonymous","disableURLInternet":false}'
    t = http_trigger(c3, "fn", config=config)
    assert isinstance(t, m.Trigger)
    assert t.trigger_config == config  # byte for byte: the fc3 component compares it key by key
    assert t.trigger_type == "http" and t.qualifier == "LATEST" and t.trigger_id
    assert t.http_trigger.url_internet.startswith(server.url + "/fcapp/fn-")
    assert t.source_arn is None and t.invocation_role is None and t.status is None and t.target_arn is None
    got = c3.get_trigger("fn", "http").body
    assert got.to_map() == t.to_map()

    timer = timer_trigger(c3, "fn", "tick", "0 0 3 * * *")
    assert json.loads(timer.trigger_config) == {"cronExpression": "0 0 3 * * *", "payload": "tick", "enable": True}
    assert timer.http_trigger is None and timer.target_arn.endswith(":functions/fn")

    listed = c3.list_triggers("fn", m.ListTriggersRequest(limit=1)).body
    assert [x.trigger_name for x in listed.triggers] == ["http"] and listed.next_token == "tick"
    rest = c3.list_triggers("fn", m.ListTriggersRequest(limit=1, next_token=listed.next_token)).body
    assert [x.trigger_name for x in rest.triggers] == ["tick"] and rest.next_token is None

    new_config = json.dumps({"cronExpression": "@every 5m", "enable": False})
    upd = c3.update_trigger("fn", "tick", m.UpdateTriggerRequest(
        body=m.UpdateTriggerInput(trigger_config=new_config, description="later"))).body
    assert upd.trigger_config == new_config and upd.description == "later"
    assert upd.created_time == timer.created_time

    # 4xx: Code/Message/RequestId, and nothing changes
    err = api_error(lambda: http_trigger(c3, "fn", config=config))
    assert err["code"] == "TriggerAlreadyExists"
    err = api_error(lambda: c3.get_trigger("fn", "nope"))
    assert err["code"] == "TriggerNotFound" and "nope" in err["message"]
    err = api_error(lambda: c3.get_trigger("ghost", "http"))
    assert err["code"] == "FunctionNotFound" and "fc3:" not in err["message"]
    err = api_error(lambda: timer_trigger(c3, "fn", "bad", "not a cron"))
    assert err["code"] == "InvalidArgument"
    err = api_error(lambda: http_trigger(c3, "fn", name="second"))  # one HTTP trigger per qualifier
    assert err["code"] == "InvalidArgument"
    err = api_error(lambda: c3.update_trigger("fn", "tick", m.UpdateTriggerRequest(
        body=m.UpdateTriggerInput(trigger_config="{not json"))))
    assert err["code"] == "InvalidArgument"
    err = api_error(lambda: c3.delete_function("fn"))
    assert err["code"] == "FunctionNotEmpty"
    names = [x.trigger_name for x in c3.list_triggers("fn", m.ListTriggersRequest()).body.triggers]
    assert names == ["http", "tick"]
    assert c3.get_trigger("fn", "tick").body.trigger_config == new_config

    assert c3.delete_trigger("fn", "tick").status_code == 204
    assert c3.delete_trigger("fn", "http").status_code == 204
    assert c3.list_triggers("fn", m.ListTriggersRequest()).body.triggers == []
    r = requests.get(t.http_trigger.url_internet + "/x")
    assert r.status_code == 404 and r.json()["Code"] == "TriggerNotFound" and r.json()["RequestId"]
    assert c3.delete_function("fn").status_code == 204


def test_raw_http_error_shape_under_2023(server, account):
    body = {"triggerName": "t", "triggerType": "http", "triggerConfig": HTTP_CONFIG}
    r = requests.post(server.url + "/2023-03-30/functions/nofn/triggers", data=json.dumps(body),
                      headers={"x-fc-account-id": account, "content-type": "application/json"})
    assert r.status_code == 404 and set(r.json()) == {"Code", "Message", "RequestId"}


# ---- HTTP triggers: event v1 --------------------------------------------------------------------------

@pytest.mark.parametrize("runtime,files,handler", [("python3.10", PY_HTTP, "index.handler"),
                                                   ("nodejs18", NODE_HTTP, "index.handler")])
def test_http_trigger_event_v1(exec_server, account, runtime, files, handler):
    c3 = sdk(exec_server, account)
    create(c3, "web", files, runtime=runtime, handler=handler)
    t = http_trigger(c3, "web")
    url = t.http_trigger.url_internet
    r = requests.post(url + "/a%20b/c", params=[("x", "1"), ("x", "2"), ("y", "")], data="hello FC",
                      headers={"Content-Type": "text/plain", "X-Fc-Secret": "dropped", "X-Mine": "m"})
    assert r.status_code == 201, r.text
    assert r.headers["x-custom"] == "yes" and r.headers["content-type"] == "application/json"
    assert r.headers["x-fc-request-id"]
    echo = r.json()
    ev = echo["event"]
    assert echo["function"] == "web" and echo["body"] == "hello FC"
    assert ev["version"] == "v1" and ev["rawPath"] == "/a%20b/c" and ev["isBase64Encoded"] is False
    assert ev["queryParameters"] == {"x": "1,2", "y": ""}
    assert ev["headers"]["X-Mine"] == "m" and ev["headers"]["Content-Type"] == "text/plain"
    assert not any(k.lower().startswith("x-fc-") for k in ev["headers"])
    ctx = ev["requestContext"]
    sub = url.rsplit("/", 1)[1]
    assert ctx["accountId"] == account and ctx["domainPrefix"] == sub
    assert ctx["domainName"] == f"{sub}.cn-hangzhou.fcapp.run"
    assert ctx["http"]["method"] == "POST" and ctx["http"]["path"] == "/a b/c"
    assert ctx["http"]["sourceIp"] == "127.0.0.1" and ctx["http"]["userAgent"].startswith("python-requests")
    assert ctx["requestId"] == r.headers["x-fc-request-id"]
    assert isinstance(ctx["timeEpoch"], str) and abs(int(ctx["timeEpoch"]) / 1000 - time.time()) < 60

    binary = bytes(range(256))
    r = requests.post(url, data=binary, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201
    echo = r.json()
    assert echo["event"]["isBase64Encoded"] is True and echo["event"]["rawPath"] == "/"
    assert base64.b64decode(echo["event"]["body"]) == binary and echo["body"] == binary.decode("latin-1")

    # host-routed: the trigger's real-style host reaches the same function; the path is the whole path
    r = requests.get(exec_server.url + "/p/q", headers={"Host": f"{sub}.cn-hangzhou.fcapp.run"})
    assert r.status_code == 201 and r.json()["event"]["rawPath"] == "/p/q"
    r = requests.delete(url)  # methods: GET, POST
    assert r.status_code == 403
    assert c3.get_trigger("web", "http").body.http_trigger.url_internet == url  # fixed for the trigger's life


def test_http_trigger_plain_answers_and_errors(exec_server, account):
    """A handler that returns no {statusCode} struct: 200 with its bytes. A failing handler: 502."""
    c3 = sdk(exec_server, account)
    code = {"index.py": (
        "import json\n"
        "def handler(event, context):\n"
        "    req = json.loads(event)\n"
        "    if req['rawPath'] == '/fail':\n"
        "        raise ValueError('boom')\n"
        "    if req['rawPath'] == '/json':\n"
        "        return {'no': 'status'}\n"
        "    return 'plain text'\n")}
    create(c3, "plain", code)
    url = http_trigger(c3, "plain").http_trigger.url_internet
    r = requests.get(url + "/x")
    assert r.status_code == 200 and r.text == "plain text"
    r = requests.get(url + "/json")
    assert r.status_code == 200 and r.json() == {"no": "status"}
    r = requests.get(url + "/fail")
    assert r.status_code == 502 and "boom" in r.json()["errorMessage"]


def test_http_trigger_auth_function_and_disabled_url(server, account):
    c3 = sdk(server, account)
    create(c3, "guarded", PLAIN_PY)
    t = http_trigger(c3, "guarded", config=json.dumps({"authType": "function", "methods": ["GET"]}))
    r = requests.get(t.http_trigger.url_internet)
    assert r.status_code == 403 and r.json()["Code"] == "AccessDenied"
    c3.update_trigger("guarded", "http", m.UpdateTriggerRequest(body=m.UpdateTriggerInput(
        trigger_config=json.dumps({"authType": "anonymous", "methods": ["GET"], "disableURLInternet": True}))))
    r = requests.get(t.http_trigger.url_internet)
    assert r.status_code == 403 and "disableURLInternet" in r.json()["Message"]


# ---- timers ---------------------------------------------------------------------------------------------

def test_timer_on_fc3_function_fires(server, account):
    c3 = sdk(server, account)
    create(c3, "clock", {"index.py": "def handler(event, context):\n    print('EVENT ' + event.decode())\n"
                                     "    return event\n"})
    timer_trigger(c3, "clock", "every", "*/1 * * * * *", payload="beat")
    deadline = time.time() + 20
    events = []
    while time.time() < deadline and not events:
        r = requests.get(server.url + "/_emulator/invocations", params={"function": "clock", "limit": 100},
                         headers={"X-Fc-Account-Id": account})
        assert r.status_code == 200
        for rec in r.json()["invocations"]:
            events += [json.loads(line.split("EVENT ", 1)[1]) for line in rec["logs"] if "EVENT " in line]
        time.sleep(0.2)
    assert events, "the timer never fired"
    assert events[0]["triggerName"] == "every" and events[0]["payload"] == "beat"
    c3.update_trigger("clock", "every", m.UpdateTriggerRequest(body=m.UpdateTriggerInput(
        trigger_config=json.dumps({"cronExpression": "*/1 * * * * *", "enable": False}))))


# ---- restart --------------------------------------------------------------------------------------------

def test_restart_keeps_triggers(tmp_path, account):
    srv = Server(tmp_path / "fc", "--executor", "process").start()
    try:
        c3 = sdk(srv, account)
        create(c3, "keep", PLAIN_PY)
        t = http_trigger(c3, "keep")
        timer_trigger(c3, "keep", "nightly", "0 0 3 * * *")
    finally:
        srv.stop()
    srv2 = Server(tmp_path / "fc", "--executor", "process")
    srv2.port = srv.port  # the same address: the trigger URL is derived from it
    srv2.start()
    try:
        c3 = sdk(srv2, account)
        again = c3.get_trigger("keep", "http").body
        assert again.to_map() == t.to_map()
        assert [x.trigger_name for x in c3.list_triggers("keep", m.ListTriggersRequest()).body.triggers] == \
            ["http", "nightly"]
        r = requests.post(again.http_trigger.url_internet + "/z", data=b"abc")
        assert r.status_code == 200 and r.text.startswith("plain ")
    finally:
        srv2.stop()
