"""GET /metrics (Prometheus text format): the values after known calls, on both backends, and who may read it."""
from __future__ import annotations

import threading
import time

import fc2
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from emulator.records_cli import sign
from tests.helpers import AK_ID, AK_SECRET, Server, fc_client, new_account, write_zip

INVOKE_ROUTE = "/2016-08-15/services/{service}/functions/{function}/invocations"


def scrape(server: Server, **kwargs) -> dict[tuple, float]:
    """{(sample name, sorted label items): value}"""
    r = requests.get(f"{server.url}/metrics", **kwargs)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(r.text) for s in fam.samples}


def value(samples: dict, name: str, **labels) -> float:
    """The sum over the samples of `name` whose labels include `labels` (0 when none)."""
    want = {k: str(v) for k, v in labels.items()}
    return sum(v for (n, items), v in samples.items() if n == name and want.items() <= dict(items).items())


def deploy(fc, tmp_path, service: str, function: str, source: str, **kw) -> None:
    try:
        fc.create_service(service)
    except fc2.fc_exceptions.FcError as exc:
        assert exc.err_code == "ServiceAlreadyExists"
    fc.create_function(service, function, "python3.10", "index.handler", memorySize=128, timeout=20,
                       codeZipFile=write_zip(tmp_path, {"index.py": source}), **kw)


def wait_idle(server: Server) -> None:
    assert requests.post(f"{server.url}/_emulator/wait-idle?timeout=60").status_code == 200


@pytest.fixture(scope="module")
def msrv(backend, tmp_path_factory):
    s = Server(tmp_path_factory.mktemp(f"metrics-{backend}") / "fc", "--executor", backend,
               "--access-key", f"{AK_ID}:{AK_SECRET}").start()
    yield s
    s.stop()


def test_invocation_metrics_after_known_calls(msrv, tmp_path):
    account = new_account()
    fc = fc_client(msrv, account)
    deploy(fc, tmp_path, "m", "ok", "def handler(event, context):\n    return 'ok'\n")
    deploy(fc, tmp_path, "m", "bad", "def handler(event, context):\n    raise ValueError('no')\n")
    before = scrape(msrv)
    for _ in range(3):
        assert fc.invoke_function("m", "ok").data == b"ok"
    with pytest.raises(fc2.fc_exceptions.FcError):
        fc.invoke_function("m", "bad")
    fc.invoke_function("m", "ok", headers={"x-fc-invocation-type": "Async"})
    wait_idle(msrv)
    after = scrape(msrv)

    fn = {"account": account, "service": "m", "function": "ok", "qualifier": "LATEST"}
    assert value(after, "fc_invocations_total", **fn, kind="sync", status="succeeded") == 3
    assert value(after, "fc_invocations_total", **fn, kind="async", status="succeeded") == 1
    bad = {**fn, "function": "bad"}
    assert value(after, "fc_invocations_total", **bad, kind="sync", status="UnhandledInvocationError") == 1
    assert value(after, "fc_invocations_total", **bad, status="succeeded") == 0
    assert value(after, "fc_invocation_duration_seconds_count", **fn) == 4
    assert value(after, "fc_invocation_duration_seconds_bucket", **fn, le="+Inf") == 4
    assert 0 < value(after, "fc_invocation_duration_seconds_sum", **fn) < 60
    assert value(after, "fc_cold_starts_total", **fn) == 1  # then warm
    assert value(after, "fc_cold_starts_total", **bad) == 1
    assert value(after, "fc_throttles_total", **fn) == 0
    live = {"account": account, "service": "m", "function": "ok", "version": "LATEST"}
    assert value(after, "fc_instances", **live, state="idle") == 1

    def delta(**labels):
        return value(after, "fc_http_requests_total", **labels) - value(before, "fc_http_requests_total", **labels)
    # sync calls answer 200 (a function error too, with X-Fc-Error-Type), the async one 202
    assert delta(method="POST", route=INVOKE_ROUTE, status=200) == 4
    assert delta(method="POST", route=INVOKE_ROUTE, status=202) == 1
    assert delta(method="POST", route="/_emulator/wait-idle", status=200) == 1
    assert delta(method="GET", route="/metrics", status=200) == 1
    routes = {dict(items)["route"] for (n, items) in after if n == "fc_http_requests_total"}
    assert not [r for r in routes if "/m/" in r or r.endswith("/m")]  # templates, never raw paths
    assert "/2016-08-15/services/{service}/functions" in routes


def test_throttles_and_the_async_queue(msrv, tmp_path):
    account = new_account()
    fc = fc_client(msrv, account)
    deploy(fc, tmp_path, "q", "slow", "import time\ndef handler(event, context):\n    time.sleep(1.5)\n    return 'done'\n")
    fc.put_on_demand_config("q", "LATEST", "slow", 1)
    results = []
    calls = [threading.Thread(target=lambda: results.append(_status(fc))) for _ in range(2)]
    for t in calls:
        t.start()
        time.sleep(0.2)
    for t in calls:
        t.join(60)
    assert sorted(results) == [200, 429]
    fn = {"account": account, "service": "q", "function": "slow", "qualifier": "LATEST"}
    samples = scrape(msrv)
    assert value(samples, "fc_throttles_total", **fn) == 1
    assert value(samples, "fc_invocations_total", **fn, status="ResourceThrottled") == 1
    assert value(samples, "fc_invocations_total", **fn, status="succeeded") == 1

    for _ in range(3):
        fc.invoke_function("q", "slow", headers={"x-fc-invocation-type": "Async"})
    time.sleep(0.5)
    busy = scrape(msrv)
    assert value(busy, "fc_async_queue_depth", account=account) == 3
    assert value(busy, "fc_async_queue_depth", account=account, status="Running") >= 1
    assert value(busy, "fc_async_queue_oldest_age_seconds", account=account) >= 0.4
    wait_idle(msrv)
    idle = scrape(msrv)
    assert value(idle, "fc_async_queue_depth", account=account) == 0
    assert not [k for k in idle if k[0] == "fc_async_queue_oldest_age_seconds" and ("account", account) in k[1]]


def _status(fc) -> int:
    try:
        fc.invoke_function("q", "slow")
        return 200
    except fc2.fc_exceptions.FcError as exc:
        return exc.status_code


@pytest.fixture(scope="module")
def psrv(tmp_path_factory):
    """Timer metrics do not depend on the backend: one process-backend emulator checks them."""
    s = Server(tmp_path_factory.mktemp("metrics-timers") / "fc", "--executor", "process").start()
    yield s
    s.stop()


def test_timer_firings_and_lateness(psrv, tmp_path):
    msrv = psrv
    account = new_account()
    fc = fc_client(msrv, account)
    deploy(fc, tmp_path, "t", "fn", "def handler(event, context):\n    return event\n")
    fc.create_trigger("t", "fn", "every-second", "timer", {"cronExpression": "* * * * * *", "enable": True}, "", "")
    fc.create_trigger("t", "fn", "half-hourly", "timer", {"cronExpression": "0 */30 * * * *", "enable": True}, "", "")
    trig = {"account": account, "service": "t", "function": "fn"}
    deadline = time.time() + 10
    while value(scrape(msrv), "fc_timer_firings_total", **trig, trigger="every-second", source="schedule") < 2:
        assert time.time() < deadline, "the every-second timer did not fire twice in 10 s"
        time.sleep(0.3)
    fc.update_trigger("t", "fn", "every-second", {"cronExpression": "* * * * * *", "enable": False}, "", "")
    samples = scrape(msrv)
    count = value(samples, "fc_timer_lateness_seconds_count", **trig, trigger="every-second")
    assert count >= 2
    assert value(samples, "fc_timer_lateness_seconds_sum", **trig, trigger="every-second") / count < 1.0

    h = {"X-Fc-Account-Id": account}
    assert requests.post(f"{msrv.url}/_emulator/services/t/functions/fn/triggers/half-hourly/fire",
                         headers=h).status_code == 200
    assert len(requests.post(f"{msrv.url}/_emulator/clock/advance?by=1h", headers=h).json()["firings"]) == 2
    samples = scrape(msrv)
    assert value(samples, "fc_timer_firings_total", **trig, trigger="half-hourly", source="manual") == 1
    assert value(samples, "fc_timer_firings_total", **trig, trigger="half-hourly", source="clock") == 2
    assert value(samples, "fc_timer_lateness_seconds_count", **trig, trigger="half-hourly") == 0
    wait_idle(msrv)


def _signed_get(server: Server) -> requests.Response:
    url = f"{server.url}/metrics"
    headers: dict[str, str] = {}
    sign("GET", url, headers, (AK_ID, AK_SECRET))
    return requests.get(url, headers=headers)


@pytest.mark.parametrize("args, unsigned, signed", [
    (("--auth", "strict"), 403, 200),  # auto = signed in strict mode
    (("--auth", "strict", "--metrics", "open"), 200, 200),
    (("--metrics", "signed"), 403, 200),  # signed even in default mode
    (("--metrics", "off"), 400, 400),  # as any path the emulator does not serve: 400 PathNotSupported
])
def test_metrics_access(tmp_path, args, unsigned, signed):
    s = Server(tmp_path / "fc", "--executor", "process", *args,
               env={"FC_EMULATOR_ACCESS_KEYS": f"{AK_ID}:{AK_SECRET}"}).start()
    try:
        r = requests.get(f"{s.url}/metrics")
        assert r.status_code == unsigned, r.text
        if unsigned != 200:
            assert r.json()["ErrorCode"] == ("PathNotSupported" if unsigned == 400 else "AccessDenied")
        r = _signed_get(s)
        assert r.status_code == signed, r.text
        if signed == 200:
            assert "fc_http_requests_total" in r.text
    finally:
        s.stop()
