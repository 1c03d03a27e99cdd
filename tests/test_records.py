"""Invocation records (/_emulator/invocations) and wait-until-idle (/_emulator/wait-idle), issue 4 part 2:
real invocations on both backends through aliyun-fc2, the records read back over plain HTTP."""
from __future__ import annotations

import base64
import threading
import time

import requests

from tests.helpers import AK_ID, AK_SECRET, Server, deploy, fc_client, invoke_error, new_account

CODE = {"index.py": (
    "import time\n"
    "def handler(event, context):\n"
    "    print('MARKER-' + event[:10].decode(errors='replace'))\n"
    "    if event.startswith(b'fail'):\n"
    "        raise ValueError('boom ' + event.decode())\n"
    "    if event.startswith(b'sleep'):\n"
    "        time.sleep(float(event[5:] or 1))\n"
    "    return 'ok'\n")}


def records(server, account, **params) -> dict:
    r = requests.get(server.url + "/_emulator/invocations", params=params, headers={"X-Fc-Account-Id": account})
    assert r.status_code == 200, r.text
    return r.json()


def wait_idle(server, timeout: float = 10) -> requests.Response:
    return requests.post(server.url + f"/_emulator/wait-idle?timeout={timeout}")


def test_sync_invocations_are_recorded_with_every_field(efc, exec_server, tmp_path):
    deploy(efc, tmp_path, CODE)
    big = b"first" + b"x" * 5000 + "é".encode()
    cold = efc.invoke_function("svc", "fn", payload=big)
    warm = efc.invoke_function("svc", "fn", payload=b"second")
    assert wait_idle(exec_server).status_code == 200

    newest, oldest = records(exec_server, efc.account_id)["invocations"]
    assert oldest["requestId"] == cold.headers["X-Fc-Request-Id"]
    assert newest["requestId"] == warm.headers["X-Fc-Request-Id"]
    assert (oldest["coldStart"], newest["coldStart"]) == (True, False)
    assert oldest["instanceId"] == newest["instanceId"] == cold.headers["X-Fc-Instance-Id"]
    for rec in (oldest, newest):
        assert rec["accountId"] == efc.account_id
        assert (rec["serviceName"], rec["functionName"], rec["qualifier"], rec["versionId"]) == (
            "svc", "fn", "LATEST", "LATEST")
        assert (rec["kind"], rec["attempt"], rec["status"], rec["errorType"]) == ("sync", 1, "succeeded", None)
        assert rec["durationMs"] > 0
        assert abs(rec["startTimeMs"] / 1000 - time.time()) < 60
        assert rec["startTime"].endswith("Z")
    assert newest["seq"] > oldest["seq"]
    assert newest["startTimeMs"] >= oldest["startTimeMs"] + oldest["durationMs"] - 1

    # payload: size, the first 4 KB as base64 and as a utf-8 preview
    assert oldest["payloadSize"] == len(big) and oldest["payloadTruncated"] is True
    assert base64.b64decode(oldest["payloadHead"]) == big[:4096]
    assert oldest["payloadPreview"] == big[:4096].decode()
    assert (newest["payloadSize"], newest["payloadPreview"], newest["payloadTruncated"]) == (6, "second", False)

    # log lines, between FC's markers
    rid = newest["requestId"]
    assert newest["logs"][0] == f"FC Invoke Start RequestId: {rid}"
    assert newest["logs"][-1] == f"FC Invoke End RequestId: {rid}"
    assert "MARKER-second" in newest["logs"]
    assert "MARKER-firstxxxxx" in oldest["logs"]

    # one record by request id
    r = requests.get(exec_server.url + f"/_emulator/invocations/{rid}", headers={"X-Fc-Account-Id": efc.account_id})
    assert r.status_code == 200
    assert {k: v for k, v in r.json().items() if k != "attempts"} == newest
    assert r.json()["attempts"] == [1]


def test_failures_are_recorded_with_the_error_type(efc, exec_server, tmp_path):
    deploy(efc, tmp_path, CODE)
    status, body = invoke_error(efc, "svc", "fn", payload=b"fail-now")
    assert body["errorMessage"] == "boom fail-now"
    assert wait_idle(exec_server).status_code == 200
    (rec,) = records(exec_server, efc.account_id)["invocations"]
    assert rec["status"] == "failed"
    assert rec["errorType"] == "UnhandledInvocationError"
    assert rec["errorMessage"] == "boom fail-now"
    assert "MARKER-fail-now" in rec["logs"]
    assert rec["logs"][-1].startswith(f"FC Invoke End RequestId: {rec['requestId']}")


def test_filters(efc, exec_server, tmp_path):
    deploy(efc, tmp_path, CODE, service="s1", name="a")
    deploy(efc, tmp_path, CODE, service="s1", name="b")
    deploy(efc, tmp_path, CODE, service="s2", name="a")
    efc.publish_version("s1")
    efc.invoke_function("s1", "a", payload=b"1")
    efc.invoke_function("s1", "a", payload=b"2", qualifier="1")
    invoke_error(efc, "s1", "b", payload=b"fail")
    efc.invoke_function("s2", "a", payload=b"3")
    assert wait_idle(exec_server).status_code == 200
    acc = efc.account_id

    def names(**params):
        return sorted(f"{r['serviceName']}/{r['functionName']}:{r['payloadPreview']}"
                      for r in records(exec_server, acc, **params)["invocations"])

    assert names() == ["s1/a:1", "s1/a:2", "s1/b:fail", "s2/a:3"]
    assert names(service="s1") == ["s1/a:1", "s1/a:2", "s1/b:fail"]
    assert names(function="a") == ["s1/a:1", "s1/a:2", "s2/a:3"]
    assert names(service="s1", function="a") == ["s1/a:1", "s1/a:2"]
    assert names(qualifier="1") == ["s1/a:2"]
    (versioned,) = records(exec_server, acc, qualifier="1")["invocations"]
    assert versioned["versionId"] == "1"
    assert names(status="failed") == ["s1/b:fail"]
    assert names(status="succeeded", service="s2") == ["s2/a:3"]
    assert names(kind="sync") == names()
    assert names(kind="async") == []
    assert names(since="10m") == names()
    assert names(since=str(time.time() + 60)) == []
    assert names(until="2000-01-01T00:00:00Z") == []
    assert names(since="2000-01-01T00:00:00Z") == names()
    rid = records(exec_server, acc, status="failed")["invocations"][0]["requestId"]
    assert names(requestId=rid) == ["s1/b:fail"]


def test_paging(efc, exec_server, tmp_path):
    deploy(efc, tmp_path, CODE)
    for i in range(5):
        efc.invoke_function("svc", "fn", payload=str(i).encode())
    assert wait_idle(exec_server).status_code == 200
    seen, token = [], None
    while True:
        body = records(exec_server, efc.account_id, limit=2, **({"nextToken": token} if token else {}))
        assert len(body["invocations"]) <= 2
        seen += [r["payloadPreview"] for r in body["invocations"]]
        token = body.get("nextToken")
        if not token:
            break
    assert seen == ["4", "3", "2", "1", "0"]  # newest first
    body = records(exec_server, efc.account_id, order="asc", limit=3)
    assert [r["payloadPreview"] for r in body["invocations"]] == ["0", "1", "2"]
    rest = records(exec_server, efc.account_id, order="asc", limit=3, nextToken=body["nextToken"])
    assert [r["payloadPreview"] for r in rest["invocations"]] == ["3", "4"] and "nextToken" not in rest
    after = body["invocations"][-1]["seq"]
    assert [r["payloadPreview"] for r in records(exec_server, efc.account_id, after=after, order="asc")[
        "invocations"]] == ["3", "4"]


def test_records_are_per_account(efc, exec_server, tmp_path):
    deploy(efc, tmp_path, CODE)
    rid = efc.invoke_function("svc", "fn", payload=b"mine").headers["X-Fc-Request-Id"]
    assert wait_idle(exec_server).status_code == 200
    other = new_account()
    assert records(exec_server, other)["invocations"] == []
    r = requests.get(exec_server.url + f"/_emulator/invocations/{rid}", headers={"X-Fc-Account-Id": other})
    assert r.status_code == 404
    assert r.json()["ErrorCode"] == "InvocationNotFound"
    # the account named by a numeric host label, as FC's endpoints do
    r = requests.get(exec_server.url + "/_emulator/invocations",
                     headers={"Host": f"{efc.account_id}.cn-hangzhou.fc.aliyuncs.com"})
    assert [x["requestId"] for x in r.json()["invocations"]] == [rid]


def test_bad_parameters(exec_server, efc):
    url = exec_server.url + "/_emulator/invocations"
    for params, field in (({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"), ({"limit": "x"}, "limit"),
                          ({"since": "yesterday"}, "since"), ({"order": "up"}, "order"),
                          ({"nextToken": "abc"}, "nextToken")):
        r = requests.get(url, params=params, headers={"X-Fc-Account-Id": efc.account_id})
        assert r.status_code == 400, params
        assert r.json()["ErrorCode"] == "InvalidArgument"
        assert field in r.json()["ErrorMessage"]
    r = requests.get(exec_server.url + "/_emulator/invocations/no-such-id")
    assert r.status_code == 404 and r.json()["ErrorCode"] == "InvocationNotFound"
    r = requests.post(exec_server.url + "/_emulator/wait-idle?timeout=soon")
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"


def test_wait_idle(efc, exec_server, tmp_path):
    deploy(efc, tmp_path, CODE)
    efc.invoke_function("svc", "fn", payload=b"warm-up")
    # idle: answers at once
    t0 = time.monotonic()
    r = requests.get(exec_server.url + "/_emulator/wait-idle?timeout=5")
    assert r.status_code == 200 and time.monotonic() - t0 < 1
    assert r.json() == {**r.json(), "idle": True, "running": 0, "asyncPending": 0, "recordsPending": 0}

    # a 1 s call in flight: waits for it, and its record is there when it returns
    result = {}
    caller = threading.Thread(target=lambda: result.update(
        r=efc.invoke_function("svc", "fn", payload=b"sleep1")))
    caller.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not wait_idle_busy(exec_server):
        time.sleep(0.01)
    t0 = time.monotonic()
    r = wait_idle(exec_server)
    waited = time.monotonic() - t0
    assert r.status_code == 200 and 0.3 < waited < 5, (r.text, waited)
    rid = result["r"].headers["X-Fc-Request-Id"]
    (rec,) = records(exec_server, efc.account_id, requestId=rid)["invocations"]
    assert rec["durationMs"] >= 1000
    caller.join()

    # times out: 408 with what is still going on
    caller = threading.Thread(target=lambda: efc.invoke_function("svc", "fn", payload=b"sleep2"))
    caller.start()
    while not wait_idle_busy(exec_server):
        time.sleep(0.01)
    t0 = time.monotonic()
    r = requests.post(exec_server.url + "/_emulator/wait-idle?timeout=0.3")
    assert r.status_code == 408
    assert 0.25 < time.monotonic() - t0 < 2
    assert r.json()["ErrorCode"] == "WaitIdleTimeout"
    assert "1 invocation(s) running" in r.json()["ErrorMessage"]
    caller.join()
    assert wait_idle(exec_server).status_code == 200


def wait_idle_busy(server) -> bool:
    """True while something runs (a zero timeout answers at once)."""
    return requests.post(server.url + "/_emulator/wait-idle?timeout=0").status_code == 408


def test_retention_by_count_and_age(tmp_path):
    counted = Server(tmp_path / "count", "--executor", "process", "--records-max-count", "5",
                     "--access-key", f"{AK_ID}:{AK_SECRET}").start()
    aged = Server(tmp_path / "age", "--executor", "process", "--access-key", f"{AK_ID}:{AK_SECRET}",
                  env={"FC_EMULATOR_RECORDS_MAX_AGE": "2s"}).start()
    try:
        account = new_account()
        fc = fc_client(counted, account)
        deploy(fc, tmp_path, CODE)
        for i in range(8):
            fc.invoke_function("svc", "fn", payload=str(i).encode())
        assert wait_idle(counted).status_code == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            kept = [r["payloadPreview"] for r in records(counted, account)["invocations"]]
            if len(kept) == 5:
                break
            time.sleep(0.1)
        assert kept == ["7", "6", "5", "4", "3"]  # the newest five

        fc = fc_client(aged, account)
        deploy(fc, tmp_path, CODE)
        fc.invoke_function("svc", "fn", payload=b"old")
        assert wait_idle(aged).status_code == 200
        assert len(records(aged, account)["invocations"]) == 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and records(aged, account)["invocations"]:
            time.sleep(0.2)
        assert records(aged, account)["invocations"] == []
    finally:
        counted.stop()
        aged.stop()
