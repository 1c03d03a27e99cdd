"""Stateful async invocations (fc-api.md §2.10) run by the async worker: statuses and events, list
filters, get, and stop of a queued, a running and a finished task, on both backends."""
from __future__ import annotations

import time

import requests

from tests.helpers import deploy, invoke_async, stateful_task, wait_async_idle

V1 = "/2016-08-15"
# sleeps as many seconds as the event says
SLOW = {"index.py": "import time\ndef handler(event, context):\n    time.sleep(float(event or b'0'))\n"
                    "    return b'slept ' + event\n"}




def wait_status(server, account: str, task_id: str, status: str, timeout: float = 30) -> dict:
    deadline = time.time() + timeout
    while True:
        task = stateful_task(server, account, "svc", "slow", task_id)
        if task["status"] == status or time.time() > deadline:
            return task
        time.sleep(0.05)


def test_stop_queued_running_and_finished_tasks_and_list_filters(afc, aserver, tmp_path):
    acct = afc.account_id
    deploy(afc, tmp_path, SLOW, name="slow", timeout=30)
    afc.put_function_async_invoke_config("svc", "LATEST", "slow", {"statefulInvocation": True})
    r = requests.put(aserver.url + f"{V1}/services/svc.LATEST/functions/slow/on-demand-config",
                     json={"maximumInstanceCount": 1}, headers={"X-Fc-Account-Id": acct})
    assert r.status_code == 200, r.text
    tasks = aserver.url + f"{V1}/services/svc/functions/slow/stateful-async-invocations"
    h = {"X-Fc-Account-Id": acct}

    def stop(task_id: str) -> requests.Response:
        return requests.put(f"{tasks}/{task_id}", headers=h)

    invoke_async(afc, "svc", "slow", b"0", task_id="done-1")
    wait_async_idle(aserver)  # done-1 finished; its instance stays warm
    assert stateful_task(aserver, acct, "svc", "slow", "done-1")["status"] == "Succeeded"

    invoke_async(afc, "svc", "slow", b"20", task_id="run-1")
    running = wait_status(aserver, acct, "run-1", "Running")
    assert running["status"] == "Running" and running["events"][-1]["status"] == "Running"
    time.sleep(0.3)  # let the call reach the instance
    invoke_async(afc, "svc", "slow", b"0", task_id="queued-1")  # the only instance is busy: it waits
    queued = stateful_task(aserver, acct, "svc", "slow", "queued-1")
    assert queued["status"] in ("Enqueued", "Running")

    # stop a queued task
    assert stop("queued-1").status_code == 200
    queued = stateful_task(aserver, acct, "svc", "slow", "queued-1")
    assert queued["status"] == "Stopped" and "returnPayload" not in queued

    # stop a running one: its call is cancelled at once (it would sleep 20 s)
    t0 = time.time()
    r = stop("run-1")
    assert r.status_code == 200 and r.json() == {}
    assert time.time() - t0 < 10
    stopped = stateful_task(aserver, acct, "svc", "slow", "run-1")
    assert stopped["status"] == "Stopped" and stopped["endTime"] >= stopped["startedTime"]
    assert [e["status"] for e in stopped["events"]][-2:] == ["Stopping", "Stopped"]

    # a finished task: 400 InvalidArgument; a stopped one: 412 AsyncInvocationStopped; unknown: 404
    r = stop("done-1")
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    assert r.json()["ErrorMessage"] == "stateful async invocation 'done-1' has already finished (status: Succeeded)"
    r = stop("queued-1")
    assert r.status_code == 412 and r.json()["ErrorCode"] == "AsyncInvocationStopped"
    r = stop("nope")
    assert r.status_code == 404 and r.json()["ErrorCode"] == "StatefulAsyncInvocationNotFound"
    assert stateful_task(aserver, acct, "svc", "slow", "done-1")["status"] == "Succeeded"  # unchanged

    # the stopped call gave its instance slot back
    invoke_async(afc, "svc", "slow", b"0", task_id="after-1")
    wait_async_idle(aserver)
    after = stateful_task(aserver, acct, "svc", "slow", "after-1")
    assert after["status"] == "Succeeded" and after["returnPayload"] == "slept 0"

    # list with filters
    def ids(**params) -> list[str]:
        r = requests.get(tasks, params=params, headers=h)
        assert r.status_code == 200, r.text
        return [t["invocationId"] for t in r.json().get("invocations") or []]

    order = ["done-1", "run-1", "queued-1", "after-1"]
    assert ids(sortOrderByTime="asc") == order
    assert ids() == ids(sortOrderByTime="desc") == order[::-1]
    assert ids(status="Stopped", sortOrderByTime="asc") == ["run-1", "queued-1"]
    assert ids(status="Succeeded", sortOrderByTime="asc") == ["done-1", "after-1"]
    assert ids(status="Running") == []
    assert ids(invocationIdPrefix="run-") == ["run-1"]
    started = {t: stateful_task(aserver, acct, "svc", "slow", t)["startedTime"] for t in order}
    assert ids(startedTimeBegin=started["run-1"], startedTimeEnd=started["queued-1"],
               sortOrderByTime="asc") == ["run-1", "queued-1"]
    page1 = requests.get(tasks, params={"limit": 3, "sortOrderByTime": "asc"}, headers=h).json()
    assert [t["invocationId"] for t in page1["invocations"]] == order[:3] and page1["nextToken"] == "after-1"
    page2 = requests.get(tasks, params={"limit": 3, "sortOrderByTime": "asc", "nextToken": "after-1"}, headers=h)
    assert [t["invocationId"] for t in page2.json()["invocations"]] == ["after-1"]
    assert "nextToken" not in page2.json()
    listed = requests.get(tasks, params={"includePayload": "true"}, headers=h).json()["invocations"]
    assert {t["invocationId"]: t["invocationPayload"] for t in listed} == {
        "done-1": "0", "run-1": "20", "queued-1": "0", "after-1": "0"}
    assert all("invocationPayload" not in t for t in requests.get(tasks, headers=h).json()["invocations"])
    assert ids(qualifier="LATEST", sortOrderByTime="asc") == order
    r = requests.get(tasks, params={"status": "Nope"}, headers=h)
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"

    # get: FC's Invocation object
    done = stateful_task(aserver, acct, "svc", "slow", "done-1")
    assert {"serviceName", "functionName", "qualifier", "invocationId", "requestId", "status", "startedTime",
            "endTime", "durationMs", "alreadyRetriedTimes", "instanceId", "returnPayload", "events",
            "invocationPayload"} <= set(done)
    assert (done["serviceName"], done["functionName"], done["qualifier"]) == ("svc", "slow", "LATEST")
    assert [e["eventId"] for e in done["events"]] == [1, 2, 3]

    fns = requests.get(aserver.url + f"{V1}/stateful-async-invocation-functions", headers=h).json()
    assert fns["data"] == [{"serviceName": "svc", "functionName": "slow", "qualifier": "LATEST"}]


def test_enable_header_and_plain_async_calls(afc, aserver, tmp_path):
    """Without the config, X-Fc-Stateful-Async-Invocation-Enable: true makes a task (id = request id);
    plain async calls are not listed."""
    deploy(afc, tmp_path, SLOW, name="slow")
    plain = invoke_async(afc, "svc", "slow", b"0")
    on = afc.invoke_function("svc", "slow", payload=b"0", headers={
        "x-fc-invocation-type": "Async", "x-fc-stateful-async-invocation-enable": "true"})
    rid = on.headers["X-Fc-Request-Id"]
    assert on.headers["X-Fc-Stateful-Async-Invocation-Id"] == rid
    assert "X-Fc-Stateful-Async-Invocation-Id" not in plain.headers
    wait_async_idle(aserver)
    r = requests.get(aserver.url + f"{V1}/services/svc/functions/slow/stateful-async-invocations",
                     headers={"X-Fc-Account-Id": afc.account_id})
    assert [t["invocationId"] for t in r.json()["invocations"]] == [rid]
    assert r.json()["invocations"][0]["status"] == "Succeeded"
