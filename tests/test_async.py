"""Async invocations (issue 4 part 1, fc-api.md §2.4, §2.9): the queue, retries with back-off, event
age, destinations (FC functions, MNS, EventBridge) and the async payload limit, on both backends."""
from __future__ import annotations

import json
import time

import pytest
import requests
from fc2.fc_exceptions import FcError

from tests.helpers import (deploy, fc_error, invoke_async, stateful_task,
                           wait_async_idle)

V1 = "/2016-08-15"
HELLO = {"index.py": "def handler(event, context):\n    return b'hello ' + event\n"}
ECHO = {"index.py": "def handler(event, context):\n    return event\n"}
BOOM = {"index.py": "def handler(event, context):\n    raise Exception('boom ' + event.decode())\n"}
SLOW_BOOM = {"index.py": "import time\ndef handler(event, context):\n    time.sleep(0.6)\n    raise Exception('slow')\n"}




def fn_arn(account: str, fn: str, svc: str = "svc") -> str:
    return f"acs:fc:cn-hangzhou:{account}:services/{svc}.LATEST/functions/{fn}"


def record(server, account: str, request_id: str) -> dict | None:
    """The invocation record (/_emulator/invocations), when that API is there."""
    r = requests.get(server.url + f"/_emulator/invocations/{request_id}", headers={"X-Fc-Account-Id": account})
    return r.json() if r.status_code == 200 else None


def sink_payloads(server, account: str, fn: str = "sink") -> list[dict]:
    """What a stateful echo function received: its tasks' return payloads, oldest first."""
    r = requests.get(server.url + f"{V1}/services/svc/functions/{fn}/stateful-async-invocations",
                     params={"sortOrderByTime": "asc"}, headers={"X-Fc-Account-Id": account})
    assert r.status_code == 200
    tasks = r.json().get("invocations") or []
    assert all(t["status"] == "Succeeded" for t in tasks), tasks
    return [json.loads(t["returnPayload"]) for t in tasks]


def deploy_sink(afc, tmp_path) -> None:
    """An echo function whose async invocations are stateful, so what it got can be read back."""
    deploy(afc, tmp_path, ECHO, name="sink")
    afc.put_function_async_invoke_config("svc", "LATEST", "sink", {"statefulInvocation": True})


def test_async_call_answers_202_and_succeeds(afc, aserver, tmp_path):
    deploy(afc, tmp_path, HELLO)
    r = invoke_async(afc, "svc", "fn", b"world")
    rid = r.headers["X-Fc-Request-Id"]
    assert r.data == b"" and len(rid) == 36
    assert "X-Fc-Stateful-Async-Invocation-Id" not in r.headers
    t = invoke_async(afc, "svc", "fn", b"task", task_id="job-1")
    assert t.headers["X-Fc-Stateful-Async-Invocation-Id"] == "job-1"
    wait_async_idle(aserver)

    task = stateful_task(aserver, afc.account_id, "svc", "fn", "job-1")
    assert task["status"] == "Succeeded" and task["returnPayload"] == "hello task"
    assert task["requestId"] == t.headers["X-Fc-Request-Id"] and task["alreadyRetriedTimes"] == 0
    assert [e["status"] for e in task["events"]] == ["Enqueued", "Running", "Succeeded"]
    assert task["endTime"] >= task["startedTime"] and task["instanceId"]
    rec = record(aserver, afc.account_id, rid)  # the plain async call, through the records API
    assert rec is not None and (rec["kind"], rec["status"], rec["attempt"]) == ("async", "succeeded", 1)


def test_failing_function_is_retried_then_on_failure_gets_fc_payload(afc, aserver, tmp_path):
    deploy(afc, tmp_path, BOOM, name="bad")
    deploy_sink(afc, tmp_path)
    afc.put_function_async_invoke_config("svc", "LATEST", "bad", {
        "maxAsyncRetryAttempts": 2, "destinationConfig": {"onFailure": {"destination": fn_arn(afc.account_id, "sink")}}})
    r = invoke_async(afc, "svc", "bad", b"ev", task_id="b1")
    wait_async_idle(aserver)

    task = stateful_task(aserver, afc.account_id, "svc", "bad", "b1")
    assert task["status"] == "Failed" and task["alreadyRetriedTimes"] == 2
    assert task["invocationErrorMessage"] == "boom ev" and task["destinationStatus"] == "Succeeded"
    runs = [e["timestamp"] for e in task["events"] if e["status"] == "Running"]
    assert len(runs) == 3  # the first run and exactly maxAsyncRetryAttempts retries
    # back-off: base 0.1 s, then 0.2 s (each gap also includes the failed run)
    assert runs[1] - runs[0] >= 95 and runs[2] - runs[1] >= 195

    [got] = sink_payloads(aserver, afc.account_id)
    assert set(got) == {"timestamp", "requestContext", "requestPayload", "responseContext", "responsePayload"}
    assert abs(got["timestamp"] - time.time()) < 60
    assert got["requestContext"] == {"requestId": r.headers["X-Fc-Request-Id"],
                                     "functionArn": fn_arn(afc.account_id, "bad"),
                                     "condition": "UnhandledInvocationError", "approximateInvokeCount": 3}
    assert got["requestPayload"] == "ev"
    assert got["responseContext"] == {"statusCode": 200, "functionError": "boom ev"}
    assert json.loads(got["responsePayload"])["errorMessage"] == "boom ev"
    rec = record(aserver, afc.account_id, r.headers["X-Fc-Request-Id"])
    if rec is not None:
        assert rec["attempts"] == [1, 2, 3] and rec["status"] == "failed"


def test_on_success_invokes_a_function(afc, aserver, tmp_path):
    deploy(afc, tmp_path, HELLO)
    deploy_sink(afc, tmp_path)
    afc.put_function_async_invoke_config("svc", "LATEST", "fn", {
        "destinationConfig": {"onSuccess": {"destination": fn_arn(afc.account_id, "sink")}}})
    r = invoke_async(afc, "svc", "fn", b"you")
    afc.invoke_function("svc", "fn", payload=b"sync")  # sync calls have no destinations
    wait_async_idle(aserver)
    [got] = sink_payloads(aserver, afc.account_id)
    assert got["requestContext"]["requestId"] == r.headers["X-Fc-Request-Id"]
    assert got["requestContext"]["condition"] == "" and got["requestContext"]["approximateInvokeCount"] == 1
    assert got["requestPayload"] == "you" and got["responsePayload"] == "hello you"
    assert got["responseContext"] == {"statusCode": 200, "functionError": ""}


def test_mns_and_eventbridge_deliveries_are_recorded(afc, aserver, tmp_path):
    acct = afc.account_id
    queue_arn = f"acs:mns:cn-hangzhou:{acct}:/queues/results/messages"
    bus_arn = f"acs:eventbridge:cn-hangzhou:{acct}:eventbus/default"
    deploy(afc, tmp_path, HELLO)
    deploy(afc, tmp_path, BOOM, name="bad")
    afc.put_function_async_invoke_config("svc", "LATEST", "fn", {
        "destinationConfig": {"onSuccess": {"destination": queue_arn}, "onFailure": {"destination": bus_arn}}})
    afc.put_function_async_invoke_config("svc", "LATEST", "bad", {
        "maxAsyncRetryAttempts": 0, "destinationConfig": {"onFailure": {"destination": bus_arn}}})
    ok = invoke_async(afc, "svc", "fn", b"mns").headers["X-Fc-Request-Id"]
    bad = invoke_async(afc, "svc", "bad", b"eb").headers["X-Fc-Request-Id"]
    wait_async_idle(aserver)

    url = aserver.url + "/_emulator/destinations"
    got = requests.get(url, headers={"X-Fc-Account-Id": acct}).json()["deliveries"]
    assert len(got) == 2
    by_name = {d["name"]: d for d in requests.get(url, params={"destination": queue_arn},
                                                  headers={"X-Fc-Account-Id": acct}).json()["deliveries"]}
    mns = by_name["results"]
    assert (mns["type"], mns["condition"], mns["requestId"], mns["functionName"]) == ("mns-queue", "onSuccess", ok, "fn")
    assert mns["payload"]["responsePayload"] == "hello mns" and mns["payload"]["requestContext"]["condition"] == ""
    [eb] = requests.get(url, params={"requestId": bad}, headers={"X-Fc-Account-Id": acct}).json()["deliveries"]
    assert (eb["type"], eb["name"], eb["condition"]) == ("eventbridge", "default", "onFailure")
    assert eb["payload"]["requestContext"]["approximateInvokeCount"] == 1  # maxAsyncRetryAttempts 0: no retry
    assert eb["payload"]["responseContext"]["functionError"] == "boom eb"
    # other accounts see nothing
    assert requests.get(url, headers={"X-Fc-Account-Id": "1"}).json() == {"deliveries": []}


def test_an_event_older_than_its_max_age_is_dropped(afc, aserver, tmp_path):
    deploy(afc, tmp_path, SLOW_BOOM, name="slow")
    queue_arn = f"acs:mns:cn-hangzhou:{afc.account_id}:/queues/dead/messages"
    afc.put_function_async_invoke_config("svc", "LATEST", "slow", {
        "maxAsyncRetryAttempts": 8, "maxAsyncEventAgeInSeconds": 1,
        "destinationConfig": {"onFailure": {"destination": queue_arn}}})
    invoke_async(afc, "svc", "slow", b"old", task_id="old-1")
    wait_async_idle(aserver)
    task = stateful_task(aserver, afc.account_id, "svc", "slow", "old-1")
    assert task["status"] == "Expired" and task["events"][-1]["status"] == "Expired"
    assert 1 <= task["alreadyRetriedTimes"] + 1 < 9  # ran, but not all 9 times: dropped when too old
    assert "maxAsyncEventAgeInSeconds" in task["invocationErrorMessage"]
    [d] = requests.get(aserver.url + "/_emulator/destinations", params={"name": "dead"},
                       headers={"X-Fc-Account-Id": afc.account_id}).json()["deliveries"]
    assert d["payload"]["requestContext"]["condition"] == "EventAgeExceeded"


def test_async_payload_limit_and_request_errors(afc, aserver, tmp_path):
    deploy(afc, tmp_path, HELLO)
    afc.put_function_async_invoke_config("svc", "LATEST", "fn", {"statefulInvocation": True})
    tasks = aserver.url + f"{V1}/services/svc/functions/fn/stateful-async-invocations"
    acct = {"X-Fc-Account-Id": afc.account_id}
    with pytest.raises(FcError) as e:
        invoke_async(afc, "svc", "fn", b"x" * (128 * 1024 + 1))
    message = "payload size exceeds maximum allowed size (131072 bytes)"
    assert e.value.status_code == 400 and fc_error(e) == {
        "ErrorCode": "EntityTooLarge", "ErrorMessage": message, "RequestId": e.value.request_id,
        "Code": "EntityTooLarge", "Message": message}
    assert requests.get(tasks, headers=acct).json() == {}  # nothing was queued

    headers = {"x-fc-invocation-type": "Async", "x-fc-log-type": "Tail"}
    with pytest.raises(FcError) as e:
        afc.invoke_function("svc", "fn", payload=b"", headers=headers)
    assert e.value.status_code == 400
    assert fc_error(e)["ErrorMessage"] == "LogType is set to an invalid value (allowed: None, actual: 'Tail')"
    with pytest.raises(FcError) as e:
        invoke_async(afc, "svc", "fn", task_id="1-starts-with-a-digit")
    assert e.value.status_code == 400 and fc_error(e)["ErrorCode"] == "InvalidArgument"
    with pytest.raises(FcError) as e:
        invoke_async(afc, "svc", "nope")
    assert e.value.status_code == 404 and fc_error(e)["ErrorCode"] == "FunctionNotFound"
    assert requests.get(tasks, headers=acct).json() == {}

    # exactly 128 KB is accepted; statefulInvocation in the config: the request id is the task id
    r = invoke_async(afc, "svc", "fn", b"y" * (128 * 1024))
    rid = r.headers["X-Fc-Request-Id"]
    assert r.headers["X-Fc-Stateful-Async-Invocation-Id"] == rid
    invoke_async(afc, "svc", "fn", b"z", task_id="taken")
    with pytest.raises(FcError) as e:  # a task id that is taken
        invoke_async(afc, "svc", "fn", b"again", task_id="taken")
    assert e.value.status_code == 409 and fc_error(e)["ErrorCode"] == "StatefulAsyncInvocationAlreadyExists"
    assert fc_error(e)["ErrorMessage"] == "stateful async invocation 'taken' already exists"
    wait_async_idle(aserver)
    assert stateful_task(aserver, afc.account_id, "svc", "fn", rid)["returnPayload"] == "hello " + "y" * 128 * 1024
    assert stateful_task(aserver, afc.account_id, "svc", "fn", "taken")["returnPayload"] == "hello z"
    listed = requests.get(tasks, headers=acct, params={"sortOrderByTime": "asc"}).json()["invocations"]
    assert [t["invocationId"] for t in listed] == [rid, "taken"]


def test_an_internal_error_is_recorded_and_retried(afc, aserver, tmp_path):
    """The emulator failing an event (here: its code package vanished from the data dir before the first
    instance unpacked it) is retried like a function error, and every attempt is recorded."""
    deploy(afc, tmp_path, {"index.py": "def handler(event, context):\n    return 'never'\n"}, name="lost")
    checksum = afc.get_function("svc", "lost").data["codeChecksum"]
    for package in aserver.data_dir.rglob(f"{checksum}*"):
        package.unlink() if package.is_file() else None
    if "--database-url" in aserver.args:  # PostgreSQL keeps packages in the database too: lose that copy as well
        import sqlalchemy
        engine = sqlalchemy.create_engine(aserver.args[aserver.args.index("--database-url") + 1])
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("DELETE FROM code_blobs WHERE checksum = :c"), {"c": checksum})
        engine.dispose()
    r = invoke_async(afc, "svc", "lost", b"x", task_id="lost-1")
    wait_async_idle(aserver)
    task = stateful_task(aserver, afc.account_id, "svc", "lost", "lost-1")
    assert task["status"] == "Failed" and task["alreadyRetriedTimes"] == 3, task
    rec = record(aserver, afc.account_id, r.headers["X-Fc-Request-Id"])
    assert rec is not None and rec["status"] == "failed", rec
    listing = requests.get(aserver.url + "/_emulator/invocations?function=lost",
                           headers={"X-Fc-Account-Id": afc.account_id}).json()
    attempts = [x for x in listing.get("invocations", listing.get("records", [])) if x["requestId"] == rec["requestId"]]
    assert len(attempts) == 4 and {x["errorType"] for x in attempts} == {"InternalServerError"}, attempts
