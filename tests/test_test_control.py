"""Test control (/_emulator/reset, /_emulator/snapshot, /_emulator/clock) and its CLI (fc-emulator reset,
snapshot export|import, clock show|advance|reset), against the real server."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
import requests

from tests.helpers import AK_ID, AK_SECRET, ROOT, Server, fc_client, new_account, write_zip, zip_b64

ECHO = {"index.py": "def handler(event, context):\n    return event\n"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("control") / "fc", "--executor", "process", "--async-retry-base-delay", "0.1",
               "--access-key", f"{AK_ID}:{AK_SECRET}").start()
    yield s
    s.stop()


def cli(server: Server, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "emulator", *args, "--url", server.url], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def h(account: str) -> dict:
    return {"X-Fc-Account-Id": account}


def wait_idle(server: Server) -> None:
    assert requests.post(f"{server.url}/_emulator/wait-idle?timeout=60").status_code == 200


def records(server: Server, account: str, **params) -> list[dict]:
    r = requests.get(f"{server.url}/_emulator/invocations", headers=h(account), params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    return r.json()["invocations"]


def make_function(client, tmp_path, service: str, function: str, files=ECHO, **kw) -> None:
    try:
        client.create_service(service)
    except Exception as exc:  # noqa: BLE001 - the service exists
        assert "ServiceAlreadyExists" in str(exc)
    client.create_function(service, function, "python3.10", "index.handler", codeZipFile=write_zip(tmp_path, files),
                           memorySize=128, timeout=10, **kw)


def timer(client, service, function, name, cron, enable=True, payload="", qualifier=None):
    client.create_trigger(service, function, name, "timer", {"cronExpression": cron, "enable": enable,
                                                             "payload": payload}, "", "", qualifier=qualifier)


# ---- virtual clock ---------------------------------------------------------------------------------

def test_clock_advance_fires_every_moment_in_order(srv, tmp_path):
    account = new_account()
    fc = fc_client(srv, account)
    make_function(fc, tmp_path, "daily", "job")
    timer(fc, "daily", "job", "nine", "0 0 9 * * *", payload="report")
    timer(fc, "daily", "job", "six-hourly", "0 0 */6 * * *", payload="sweep")
    timer(fc, "daily", "job", "off", "* * * * * *", enable=False)

    out = cli(srv, "clock", "advance", "3d", "--account", account).stdout.splitlines()
    lines = [line.split() for line in out[:-1]]
    assert out[-1].startswith(f"account {account}: ") and out[-1].endswith("15 firing(s)"), out
    nine = [m for m, trig, _ in lines if trig == "daily/job/nine"]
    assert len(nine) == 3 and all(m.endswith("T09:00:00Z") for m in nine)
    days = [datetime.fromisoformat(m.replace("Z", "+00:00")) for m in nine]
    assert [b - a for a, b in zip(days, days[1:])] == [timedelta(days=1)] * 2
    assert len([1 for _, trig, _ in lines if trig == "daily/job/six-hourly"]) == 12
    assert [m for m, _, _ in lines] == sorted(m for m, _, _ in lines)  # in order across triggers
    assert not [1 for _, trig, _ in lines if trig == "daily/job/off"]

    wait_idle(srv)
    recs = records(srv, account, service="daily", function="job")
    assert len(recs) == 15 and all(r["status"] == "succeeded" for r in recs)
    events = {r["requestId"]: json.loads(r["payloadPreview"]) for r in recs}
    for moment, trig, request_id in lines:  # the event carries the virtual moment, as FC's triggerTime
        assert events[request_id] == {"triggerTime": moment, "triggerName": trig.rsplit("/", 1)[1],
                                      "payload": "report" if trig.endswith("nine") else "sweep"}

    shown = requests.get(f"{srv.url}/_emulator/clock", headers=h(account)).json()
    assert shown["virtual"] is True and shown["offsetSeconds"] == 3 * 86400
    assert {t["trigger"] for t in shown["timers"]} == {"daily/job/nine", "daily/job/six-hourly"}
    other = requests.get(f"{srv.url}/_emulator/clock", headers=h(new_account())).json()
    assert other["virtual"] is False and other["offsetSeconds"] == 0  # clocks are per account

    # a manual firing carries the account's (virtual) now
    fired = requests.post(f"{srv.url}/_emulator/services/daily/functions/job/triggers/nine/fire", headers=h(account))
    wait_idle(srv)
    manual = records(srv, account, requestId=fired.json()["requestId"])[0]
    assert json.loads(manual["payloadPreview"])["triggerTime"][:10] == shown["now"][:10]

    assert "(real time)" in cli(srv, "clock", "reset", "--account", account).stdout
    assert requests.get(f"{srv.url}/_emulator/clock", headers=h(account)).json()["offsetSeconds"] == 0


def test_clock_advance_wait_runs_firings_one_after_another(srv, tmp_path):
    account = new_account()
    fc = fc_client(srv, account)
    make_function(fc, tmp_path, "hourly", "slow", {"index.py": "import time\ndef handler(event, context):\n"
                                                               "    time.sleep(0.3)\n    return event\n"},
                  instanceConcurrency=5)
    timer(fc, "hourly", "slow", "tick", "0 0 * * * *")
    r = requests.post(f"{srv.url}/_emulator/clock/advance", params={"by": "3h", "wait": "true"}, headers=h(account))
    assert r.status_code == 200 and len(r.json()["firings"]) == 3, r.text
    wait_idle(srv)
    recs = sorted(records(srv, account, function="slow"), key=lambda x: x["startTimeMs"])
    assert len(recs) == 3
    for a, b in zip(recs, recs[1:]):  # each ran after the one before had finished
        assert b["startTimeMs"] >= a["startTimeMs"] + a["durationMs"] - 1
    moments = [json.loads(x["payloadPreview"])["triggerTime"] for x in recs]
    assert moments == [f["moment"] for f in r.json()["firings"]]


def test_clock_advance_refuses_a_flood_and_bad_durations(srv, tmp_path):
    account = new_account()
    fc = fc_client(srv, account)
    make_function(fc, tmp_path, "busy", "fn")
    timer(fc, "busy", "fn", "every-second", "* * * * * *")
    for by in ("1d", "abc", "0", "-5m"):
        r = requests.post(f"{srv.url}/_emulator/clock/advance", params={"by": by}, headers=h(account))
        assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument", (by, r.text)
    assert "10000" in requests.post(f"{srv.url}/_emulator/clock/advance", params={"by": "1d"},
                                    headers=h(account)).json()["ErrorMessage"]
    assert requests.get(f"{srv.url}/_emulator/clock", headers=h(account)).json()["offsetSeconds"] == 0
    failed = cli(srv, "clock", "advance", "1d", "--account", account, ok=False)
    assert failed.returncode == 1 and "400 InvalidArgument" in failed.stderr
    fc.delete_trigger("busy", "fn", "every-second")


# ---- reset -----------------------------------------------------------------------------------------

def _metric_accounts(server: Server) -> set[str]:
    from prometheus_client.parser import text_string_to_metric_families
    text = requests.get(f"{server.url}/metrics").text
    return {s.labels["account"] for fam in text_string_to_metric_families(text) for s in fam.samples
            if "account" in s.labels}


def test_reset_one_account_leaves_the_others(srv, tmp_path):
    a, b = new_account(), new_account()
    for account in (a, b):
        fc = fc_client(srv, account)
        make_function(fc, tmp_path, "svc", "fn")
        timer(fc, "svc", "fn", "nine", "0 0 9 * * *")
        assert fc.invoke_function("svc", "fn", payload="x").data == b"x"
        fc.invoke_function("svc", "fn", payload="y", headers={"x-fc-invocation-type": "Async"})
    requests.post(f"{srv.url}/_emulator/clock/advance", params={"by": "1d"}, headers=h(a))
    wait_idle(srv)
    assert {a, b} <= _metric_accounts(srv)

    out = cli(srv, "reset", "--account", a).stdout
    assert out.startswith(f"reset account {a}: deleted 3 resources, 3 records, 2 asyncEvents"), out
    assert re.search(r"; [1-9]\d* instance\(s\) stopped$", out.strip()), out
    fa, fb = fc_client(srv, a), fc_client(srv, b)
    assert fa.list_services().data["services"] == []
    assert records(srv, a) == []
    assert requests.get(f"{srv.url}/_emulator/clock", headers=h(a)).json()["offsetSeconds"] == 0
    assert a not in _metric_accounts(srv) and b in _metric_accounts(srv)
    assert [s["serviceName"] for s in fb.list_services().data["services"]] == ["svc"]
    assert len(records(srv, b)) == 2 and fb.invoke_function("svc", "fn", payload="z").data == b"z"

    # the same names again, other code: nothing cached from before the reset answers
    make_function(fa, tmp_path, "svc", "fn", {"index.py": "def handler(event, context):\n    return 'new'\n"})
    assert fa.invoke_function("svc", "fn").data == b"new"
    wait_idle(srv)
    assert [r["payloadPreview"] for r in records(srv, a)] == [""]


def test_reset_all_accounts(tmp_path):
    s = Server(tmp_path / "fc", "--executor", "process").start()
    try:
        for account in (new_account(), new_account()):
            fc = fc_client(s, account)
            make_function(fc, tmp_path, "svc", "fn")
            fc.invoke_function("svc", "fn")
            requests.post(f"{s.url}/_emulator/clock/advance", params={"by": "1h"}, headers=h(account))
        wait_idle(s)
        out = cli(s, "reset", "--all").stdout
        assert out.startswith("reset every account: deleted 4 resources, 2 records"), out
        r = requests.get(f"{s.url}/_emulator/invocations", params={"limit": 10})
        assert r.json()["invocations"] == []
        assert _metric_accounts(s) == set()
        assert requests.get(f"{s.url}/_emulator/clock", headers=h(account)).json()["offsetSeconds"] == 0
    finally:
        s.stop()


def test_strict_mode_asks_for_a_signature(tmp_path):
    s = Server(tmp_path / "fc", "--executor", "process", "--auth", "strict",
               env={"FC_EMULATOR_ACCESS_KEYS": f"{AK_ID}:{AK_SECRET}"}).start()
    try:
        for method, path in (("POST", "/_emulator/reset"), ("GET", "/_emulator/snapshot"),
                             ("POST", "/_emulator/snapshot"), ("GET", "/_emulator/clock"),
                             ("POST", "/_emulator/clock/advance?by=1h"), ("POST", "/_emulator/clock/reset")):
            r = requests.request(method, s.url + path)
            assert r.status_code == 403 and r.json()["ErrorCode"] == "AccessDenied", (path, r.text)
        # the CLI signs with FC_EMULATOR_ACCESS_KEYS' first key (inherited from the environment here)
        env_cli = subprocess.run([sys.executable, "-m", "emulator", "clock", "advance", "1h", "--url", s.url],
                                 cwd=ROOT, capture_output=True, text=True, timeout=60,
                                 env={**__import__("os").environ, "FC_EMULATOR_ACCESS_KEYS": f"{AK_ID}:{AK_SECRET}"})
        assert env_cli.returncode == 0 and "0 firing(s)" in env_cli.stdout, env_cli.stderr
        snap = tmp_path / "s.zip"
        for args in (["reset"], ["snapshot", "export", str(snap)], ["snapshot", "import", str(snap)]):
            r = subprocess.run([sys.executable, "-m", "emulator", *args, "--url", s.url,
                                "--access-key", f"{AK_ID}:{AK_SECRET}"], cwd=ROOT, capture_output=True, text=True,
                               timeout=60)
            assert r.returncode == 0, (args, r.stderr)
    finally:
        s.stop()


# ---- snapshot --------------------------------------------------------------------------------------

def _state(server: Server, account: str) -> dict:
    """What a user sees of the account through FC's API (times and etags included)."""
    get = lambda path, **kw: requests.get(server.url + path, headers=h(account), **kw)  # noqa: E731
    out = {}
    for path in ("/2016-08-15/services", "/2016-08-15/services/app", "/2016-08-15/services/app/functions",
                 "/2016-08-15/services/app/functions/main", "/2016-08-15/services/app.1/functions/main",
                 "/2016-08-15/services/app/functions/main/triggers", "/2016-08-15/services/app/versions",
                 "/2016-08-15/services/app/aliases", "/2016-08-15/services/app/aliases/prod",
                 "/2016-08-15/services/app/functions/main/async-invoke-configs",
                 "/2016-08-15/layers", "/2016-08-15/layers/lib/versions/1", "/2016-08-15/custom-domains",
                 "/2023-03-30/functions/f3", "/2023-03-30/functions"):
        r = get(path)
        assert r.status_code == 200, (path, r.text)
        out[path] = r.json()
        out[path + " etag"] = r.headers.get("Etag")
    # URLs name the emulator that answers, and code download links are signed with its own key
    text = json.dumps(out).replace(server.url, "EMULATOR").replace(f"127.0.0.1:{server.port}", "EMULATOR")
    return json.loads(re.sub(r"Expires=\d+&Signature=[0-9a-f]+", "SIGNED", text))


def test_snapshot_round_trip_on_a_fresh_data_dir(srv, tmp_path_factory, tmp_path):
    account = new_account()
    fc = fc_client(srv, account)
    post = lambda path, body: requests.post(srv.url + path, headers=h(account), json=body)  # noqa: E731
    layer = post("/2016-08-15/layers/lib/versions", {"code": {"zipFile": zip_b64({"python/lib.py": "WHO = 'layer'\n"})},
                                                     "compatibleRuntime": ["python3.10"], "description": "shared"})
    assert layer.status_code == 200, layer.text
    fc.create_service("app", description="the app")
    code = "import lib\ndef handler(event, context):\n    return '%s ' + lib.WHO\n"
    fc.create_function("app", "main", "python3.10", "index.handler", memorySize=256, timeout=7,
                       codeZipFile=write_zip(tmp_path, {"index.py": code % "v1"}),
                       environmentVariables={"STAGE": "test"})
    r = requests.put(f"{srv.url}/2016-08-15/services/app/functions/main", headers=h(account),
                     json={"layers": [layer.json()["arn"]]})
    assert r.status_code == 200, r.text
    assert fc.publish_version("app", "first").data["versionId"] == "1"
    fc.update_function("app", "main", codeZipFile=write_zip(tmp_path, {"index.py": code % "v2"}))
    fc.create_alias("app", "prod", "1")
    timer(fc, "app", "main", "nine", "0 0 9 * * *", payload="daily", qualifier="prod")
    fc.create_trigger("app", "main", "web", "http", {"authType": "anonymous", "methods": ["GET"]}, "", "")
    fc.put_function_async_invoke_config("app", "LATEST", "main", {"maxAsyncRetryAttempts": 1})
    fc.create_custom_domain("example.com", protocol="HTTP",
                            routeConfig={"routes": [{"path": "/*", "serviceName": "app", "functionName": "main"}]})
    r = post("/2023-03-30/functions", {"functionName": "f3", "runtime": "python3.10", "handler": "index.handler",
                                       "code": {"zipFile": zip_b64({"index.py": "def handler(e, c):\n    return 'fc3'\n"})}})
    assert r.status_code == 200, r.text
    assert fc.invoke_function("app", "main").data == b"v2 layer"
    before = _state(srv, account)

    path = tmp_path / "state.zip"
    out = cli(srv, "snapshot", "export", str(path), "--account", account).stdout
    assert out.startswith(f"exported {account} to ") and path.stat().st_size > 0

    fresh = Server(tmp_path_factory.mktemp("fresh") / "fc", "--executor", "process").start()
    try:
        for _ in range(2):  # importing again replaces the account's state: same result, no conflict
            out = cli(fresh, "snapshot", "import", str(path)).stdout
            assert out.startswith(f"imported account {account}: ") and "4 code package(s)" in out, out
            assert _state(fresh, account) == before
        f2 = fc_client(fresh, account)
        assert f2.invoke_function("app", "main").data == b"v2 layer"
        assert f2.invoke_function("app", "main", qualifier="prod").data == b"v1 layer"
        assert requests.get(f"{fresh.url}/2016-08-15/proxy/app/main/", headers=h(account)).status_code != 404
        r = requests.post(f"{fresh.url}/2023-03-30/functions/f3/invocations", headers=h(account))
        assert r.status_code == 200 and r.content == b"fc3", r.text
        # the imported timer runs on the new emulator's clock (it keeps its prod qualifier)
        shown = requests.get(f"{fresh.url}/_emulator/clock", headers=h(account)).json()
        assert [t["trigger"] for t in shown["timers"]] == ["app/main/nine"]
        fired = requests.post(f"{fresh.url}/_emulator/clock/advance?by=1d", headers=h(account)).json()["firings"]
        wait_idle(fresh)
        rec = records(fresh, account, requestId=fired[0]["requestId"])[0]
        assert rec["qualifier"] == "prod" and rec["versionId"] == "1"
        # new versions continue the numbering
        assert f2.publish_version("app", "second").data["versionId"] == "2"

        bad = requests.post(f"{fresh.url}/_emulator/snapshot", data=b"not a zip", headers=h(account))
        assert bad.status_code == 400 and bad.json()["ErrorCode"] == "InvalidArgument"
        assert f2.get_function("app", "main").data["functionName"] == "main"  # a refused import changes nothing
    finally:
        fresh.stop()
