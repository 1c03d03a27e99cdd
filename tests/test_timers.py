"""Timer triggers (issue 5 part 1, fc-api.md §2.5): FC's cron dialect, firings as async invocations with
FC's timer event, coalesced catch-up after a restart, one firing per moment across processes, fire-now.
Firings are read from the invocation records (/_emulator/invocations), never from sleeps alone."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import requests
from fc2.fc_exceptions import FcError

from tests.helpers import (AK_ID, AK_SECRET, HELLO_PY, ROOT, Server, deploy, fc_client, fc_error, wait_async_idle,
                           zip_b64)

# The function logs the event exactly as it received it, so the records show what FC would have delivered.
EVENT_LOGGER = {"index.py": "def handler(event, context):\n    print('EVENT ' + event.decode())\n    return event\n"}
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
EVERY_SECOND = "*/1 * * * * *"


def timer_config(expr: str, payload: str = "tick", enable: bool = True) -> dict:
    return {"cronExpression": expr, "payload": payload, "enable": enable}


def firings(server: Server, account: str, fn: str = "fn") -> list[dict]:
    """Each firing's record, oldest first, with the event the function logged as `event`."""
    r = requests.get(server.url + "/_emulator/invocations", params={"function": fn, "order": "asc", "limit": 1000},
                     headers={"X-Fc-Account-Id": account})
    assert r.status_code == 200, r.text
    out = []
    for rec in r.json()["invocations"]:
        lines = [line.split("EVENT ", 1)[1] for line in rec["logs"] if "EVENT " in line]
        event = json.loads(lines[0]) if lines else {}
        if "triggerName" in event:  # not the warm-up call
            out.append({**rec, "event": event})
    return out


def wait_firings(server: Server, account: str, count: int, timeout: float = 15, fn: str = "fn") -> list[dict]:
    deadline = time.time() + timeout
    while True:
        got = firings(server, account, fn)
        if len(got) >= count or time.time() > deadline:
            return got
        time.sleep(0.1)


def moment(event: dict) -> datetime:
    return datetime.strptime(event["triggerTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def fired_late_ms(rec: dict) -> float:
    """How long after its scheduled second a firing started."""
    return rec["startTimeMs"] - moment(rec["event"]).timestamp() * 1000


def warm(client, tmp_path, name: str = "fn") -> None:
    """Deploy the event logger and start its instance, so firings don't wait for a cold start."""
    deploy(client, tmp_path, EVENT_LOGGER, name=name)
    client.invoke_function("svc", name, payload=b"{}")


# ---- firing on the clock -----------------------------------------------------------------------------

def test_every_second_fires_on_time_and_stops_when_disabled(efc, exec_server, account, tmp_path):
    warm(efc, tmp_path)
    created = time.time()
    efc.create_trigger("svc", "fn", "tick", "timer", timer_config(EVERY_SECOND, "hello"), "", "")
    got = wait_firings(exec_server, account, 3, timeout=6)
    assert len(got) >= 3, got
    first3 = got[:3]
    assert first3[2]["startTimeMs"] / 1000 - created < 4.5  # three firings in about three seconds
    for rec in first3:
        ev = rec["event"]
        assert set(ev) == {"triggerTime", "triggerName", "payload"}
        assert RFC3339_UTC.match(ev["triggerTime"]) and ev["triggerName"] == "tick" and ev["payload"] == "hello"
        assert 0 <= fired_late_ms(rec) < 2000, rec
        assert rec["status"] == "succeeded" and rec["serviceName"] == "svc" and rec["qualifier"] == "LATEST"
        assert json.loads(rec["payloadPreview"]) == ev  # the record shows the event as enqueued
    seconds = [moment(r["event"]) for r in first3]
    assert [(b - a).total_seconds() for a, b in zip(seconds, seconds[1:])] == [1, 1]  # each second, once

    efc.update_trigger("svc", "fn", "tick", triggerConfig=timer_config(EVERY_SECOND, "hello", enable=False))
    wait_async_idle(exec_server)
    n = len(firings(exec_server, account))
    time.sleep(2.2)
    wait_async_idle(exec_server)
    assert len(firings(exec_server, account)) == n
    assert efc.get_trigger("svc", "fn", "tick").data["triggerConfig"]["enable"] is False


def test_every_interval_fires_on_its_multiples(efc, exec_server, account, tmp_path):
    """`@every 2s` fires at the multiples of two seconds (the same moments in every process)."""
    warm(efc, tmp_path)
    efc.create_trigger("svc", "fn", "every", "timer", timer_config("@every 2s", "p"), "", "")
    got = wait_firings(exec_server, account, 2, timeout=7)
    efc.delete_trigger("svc", "fn", "every")
    assert len(got) >= 2
    for rec in got[:2]:
        assert moment(rec["event"]).timestamp() % 2 == 0 and 0 <= fired_late_ms(rec) < 2000
        assert rec["event"]["triggerName"] == "every"
    assert (moment(got[1]["event"]) - moment(got[0]["event"])).total_seconds() == 2


def test_cron_fields_are_utc_unless_cron_tz_says_otherwise(efc, exec_server, account, tmp_path):
    """Every second of this hour and the next in Shanghai (UTC+8): with CRON_TZ it fires now; read as
    UTC the same hours are eight hours away, so the plain expression does not fire."""
    warm(efc, tmp_path, "sh")
    warm(efc, tmp_path, "utc")
    h = datetime.now(ZoneInfo("Asia/Shanghai")).hour
    hours = f"{h},{(h + 1) % 24}"
    efc.create_trigger("svc", "sh", "t", "timer", timer_config(f"CRON_TZ=Asia/Shanghai * * {hours} * * *"), "", "")
    efc.create_trigger("svc", "utc", "t", "timer", timer_config(f"* * {hours} * * *"), "", "")
    got = wait_firings(exec_server, account, 2, timeout=5, fn="sh")
    efc.delete_trigger("svc", "sh", "t")
    efc.delete_trigger("svc", "utc", "t")
    assert len(got) >= 2 and all(RFC3339_UTC.match(r["event"]["triggerTime"]) for r in got)  # still UTC
    assert all(0 <= fired_late_ms(r) < 2000 for r in got)
    assert firings(exec_server, account, "utc") == []


def test_deleted_timer_stops_firing(efc, exec_server, account, tmp_path):
    warm(efc, tmp_path)
    efc.create_trigger("svc", "fn", "t", "timer", timer_config(EVERY_SECOND), "", "")
    assert len(wait_firings(exec_server, account, 1, timeout=4)) >= 1
    efc.delete_trigger("svc", "fn", "t")
    wait_async_idle(exec_server)
    n = len(firings(exec_server, account))
    time.sleep(1.5)
    wait_async_idle(exec_server)
    assert len(firings(exec_server, account)) == n


def test_timer_on_an_alias_invokes_that_version(efc, exec_server, account, tmp_path):
    warm(efc, tmp_path)
    v = efc.publish_version("svc").data["versionId"]
    efc.create_alias("svc", "prod", v)
    efc.create_trigger("svc", "fn", "t", "timer", timer_config(EVERY_SECOND), "", "", qualifier="prod")
    got = wait_firings(exec_server, account, 1, timeout=6)
    efc.delete_trigger("svc", "fn", "t")
    assert got and got[0]["qualifier"] == "prod" and got[0]["versionId"] == v


# ---- the cron dialect at create time --------------------------------------------------------------

@pytest.mark.parametrize("expr", ["@every 1m", "@every 1h30m", "@every 90s", "@every 2h", "0 0 9 * * ?",
                                  "0 */5 * * * *", "0 0 12 ? * MON-FRI", "0 30 8 1,15 JAN-JUN *",
                                  "CRON_TZ=Asia/Shanghai 0 0 4 1 * *"])
def test_accepted_expressions_are_stored_as_sent(fc, expr):
    fc.create_service("s")
    _function(fc)
    t = fc.create_trigger("s", "f", "t", "timer", timer_config(expr, enable=False), "", "").data
    assert t["triggerConfig"] == timer_config(expr, enable=False) and t["triggerType"] == "timer"


def _function(fc) -> None:
    """Function s/f from an inline zip (aliyun-fc2's create_function wants a file; the REST body is simpler)."""
    r = requests.post(fc.endpoint + "/2016-08-15/services/s/functions", headers={"X-Fc-Account-Id": fc.account_id},
                      json={"functionName": "f", "runtime": "python3.9", "handler": "index.handler",
                            "code": {"zipFile": zip_b64(HELLO_PY)}})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("expr, reason", [
    ("* * * * *", "expected 6 fields"),
    ("60 * * * * *", "seconds value 60 is out of range (0-59)"),
    ("0 0 25 * * *", "hours value 25 is out of range (0-23)"),
    ("? * * * * *", "'?' is only allowed in day-of-month and day-of-week"),
    ("0 0 9 * FOO *", "'FOO' is not a valid value for month"),
    ("*/0 * * * * *", "invalid step"),
    ("@daily", "the only descriptor supported is '@every <duration>'"),
    ("@every", "the only descriptor supported"),
    ("@every 0s", "at least 1s"),
    ("@every 5x", "is not a duration"),
    ("@every 1m30", "is not a duration"),
    ("CRON_TZ=Mars/Olympus 0 0 * * * *", "unknown time zone 'Mars/Olympus'"),
])
def test_bad_expression_is_rejected_at_create(fc, expr, reason):
    fc.create_service("s")
    _function(fc)
    with pytest.raises(FcError) as e:
        fc.create_trigger("s", "f", "t", "timer", timer_config(expr), "", "")
    assert e.value.status_code == 400
    err = fc_error(e)
    assert err["ErrorCode"] == "InvalidArgument"
    assert err["ErrorMessage"].startswith(f"cronExpression '{expr}' is invalid: "), err
    assert reason in err["ErrorMessage"], err
    assert fc.list_triggers("s", "f").data["triggers"] == []  # nothing stored


def test_bad_expression_is_rejected_at_update_and_the_old_one_kept(fc):
    fc.create_service("s")
    _function(fc)
    before = fc.create_trigger("s", "f", "t", "timer", timer_config("@every 5m", enable=False), "", "").data
    with pytest.raises(FcError) as e:
        fc.update_trigger("s", "f", "t", triggerConfig=timer_config("0 0 9 * *"))
    assert e.value.status_code == 400 and fc_error(e)["ErrorCode"] == "InvalidArgument"
    assert fc.get_trigger("s", "f", "t").data == before


def test_missing_expression_is_rejected(fc):
    fc.create_service("s")
    _function(fc)
    with pytest.raises(FcError) as e:
        fc.create_trigger("s", "f", "t", "timer", {"payload": "x"}, "", "")
    assert e.value.status_code == 400 and fc_error(e)["ErrorMessage"] == "triggerConfig.cronExpression is required"


# ---- fire now ---------------------------------------------------------------------------------------

def test_fire_now_through_the_endpoint_and_the_cli(efc, exec_server, account, tmp_path):
    warm(efc, tmp_path)
    # a schedule that won't come round during the test: only fire-now makes it run
    efc.create_trigger("svc", "fn", "nightly", "timer", timer_config("0 0 3 1 1 *", "now!"), "", "")
    t0 = time.time()
    r = requests.post(exec_server.url + "/_emulator/services/svc/functions/fn/triggers/nightly/fire",
                      headers={"X-Fc-Account-Id": account})
    assert r.status_code == 200, r.text
    rid = r.json()["requestId"]
    cli = subprocess.run([sys.executable, "-m", "emulator", "triggers", "fire", "svc", "fn", "nightly",
                          "--url", exec_server.url, "--account-id", account],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    cli_rid = cli.stdout.strip().split()[-1]
    wait_async_idle(exec_server)
    got = {rec["requestId"]: rec for rec in firings(exec_server, account)}
    assert set(got) >= {rid, cli_rid} and rid != cli_rid
    for rec in (got[rid], got[cli_rid]):
        ev = rec["event"]
        assert ev["triggerName"] == "nightly" and ev["payload"] == "now!" and RFC3339_UTC.match(ev["triggerTime"])
        assert abs(moment(ev).timestamp() - t0) < 5 and rec["status"] == "succeeded"


def test_fire_now_errors(efc, exec_server, account, tmp_path):
    warm(efc, tmp_path)
    efc.create_trigger("svc", "fn", "web", "http", {"authType": "anonymous", "methods": ["GET"]}, "", "")
    base = exec_server.url + "/_emulator/services/svc/functions/fn/triggers"
    h = {"X-Fc-Account-Id": account}
    r = requests.post(base + "/nope/fire", headers=h)
    assert r.status_code == 404 and r.json()["ErrorCode"] == "TriggerNotFound"
    r = requests.post(base + "/web/fire", headers=h)
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    cli = subprocess.run([sys.executable, "-m", "emulator", "triggers", "fire", "svc", "fn", "nope",
                          "--url", exec_server.url, "--account-id", account],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 1 and "TriggerNotFound" in cli.stderr


# ---- restarts and several processes -----------------------------------------------------------------

def _timer_server(path, backend: str) -> Server:
    return Server(path, "--executor", backend, "--instance-idle-timeout", "30",
                  "--access-key", f"{AK_ID}:{AK_SECRET}").start()


def test_restart_keeps_firing_without_a_burst(backend, tmp_path, account):
    data = tmp_path / "fc"
    srv = _timer_server(data, backend)
    try:
        client = fc_client(srv, account)
        warm(client, tmp_path)
        client.create_trigger("svc", "fn", "t", "timer", timer_config(EVERY_SECOND), "", "")
        assert len(wait_firings(srv, account, 2, timeout=6)) >= 2
    finally:
        srv.stop()
    time.sleep(3)  # three scheduled seconds pass while no emulator runs
    restarting = time.time()
    srv = _timer_server(data, backend)
    try:
        before = [r for r in firings(srv, account) if r["startTimeMs"] / 1000 < restarting]
        last_before = max(moment(r["event"]).timestamp() for r in before)
        deadline = time.time() + 10
        while len(firings(srv, account)) < len(before) + 4 and time.time() < deadline:
            time.sleep(0.1)
        after = [moment(r["event"]).timestamp() for r in firings(srv, account)][len(before):]
        assert len(after) >= 4, after
        assert after == sorted(set(after)) and after[0] > last_before  # no moment twice, none replayed
        missed = [m for m in after if m < restarting - 1]
        assert len(missed) <= 1, after  # the whole downtime coalesced into at most one catch-up firing
        regular = after[len(missed):]
        assert all(b - a == 1 for a, b in zip(regular, regular[1:])), after  # then one per second
    finally:
        srv.stop()


def test_two_processes_on_one_data_dir_fire_each_moment_once(backend, tmp_path, account):
    data = tmp_path / "fc"
    a = _timer_server(data, backend)
    b = None
    try:
        client = fc_client(a, account)
        warm(client, tmp_path)
        client.create_trigger("svc", "fn", "t", "timer", timer_config(EVERY_SECOND), "", "")
        b = _timer_server(data, backend)  # reads the trigger at start-up: both processes now race each second
        fc_client(b, account).invoke_function("svc", "fn", payload=b"{}")  # warm in b too
        assert f"timer {account}/svc/fn/t scheduled" in b.log()
        time.sleep(3.2)
        client.update_trigger("svc", "fn", "t", triggerConfig=timer_config(EVERY_SECOND, enable=False))
        wait_async_idle(a)
        wait_async_idle(b)
        recs = firings(a, account)  # the records table is shared too
        by_moment = Counter(r["event"]["triggerTime"] for r in recs)
        assert len(by_moment) >= 4 and max(by_moment.values()) == 1, by_moment
        time.sleep(1.5)  # disabled through a: b, which has not re-read the triggers yet, must not fire either
        wait_async_idle(b)
        assert len(firings(a, account)) == len(recs)
    finally:
        a.stop()
        if b is not None:
            b.stop()
