"""kill -9 of the emulator loses no accepted async event (issue 4): after a restart the queue is picked
up again; each event runs at least once, and exactly once unless it was running at the kill."""
from __future__ import annotations

import collections
import time

import requests

from tests.helpers import async_server, deploy, fc_client, invoke_async, new_account, stateful_task, wait_async_idle

V1 = "/2016-08-15"
# appends its event to $OUT_DIR/runs (process backend: a host folder), then takes 0.3 s
SLOW = {"index.py": "import os, time\n"
                    "def handler(event, context):\n"
                    "    out = os.environ.get('OUT_DIR', '')\n"
                    "    if os.path.isdir(out):\n"
                    "        with open(os.path.join(out, 'runs'), 'ab') as f:\n"
                    "            f.write(event + b'\\n')\n"
                    "    time.sleep(0.3)\n"
                    "    return event\n"}
N = 20


def statuses(server, account: str) -> dict[str, str]:
    r = requests.get(server.url + f"{V1}/services/svc/functions/slow/stateful-async-invocations",
                     params={"limit": 100}, headers={"X-Fc-Account-Id": account})
    assert r.status_code == 200, r.text
    return {t["invocationId"]: t["status"] for t in r.json().get("invocations") or []}


def test_queued_events_survive_kill_9(backend, tmp_path):
    data = tmp_path / "fc"
    out = tmp_path / "out"
    out.mkdir()
    account = new_account()
    srv = async_server(data, backend)
    try:
        fc = fc_client(srv, account)
        deploy(fc, tmp_path, SLOW, name="slow", environmentVariables={"OUT_DIR": str(out)})
        r = requests.put(srv.url + f"{V1}/services/svc.LATEST/functions/slow/on-demand-config",
                         json={"maximumInstanceCount": 1}, headers={"X-Fc-Account-Id": account})
        assert r.status_code == 200, r.text
        ids = [f"job-{i:02d}" for i in range(N)]
        for task_id in ids:
            assert invoke_async(fc, "svc", "slow", task_id.encode(), task_id=task_id).data == b""
        deadline = time.time() + 60
        while sum(s == "Succeeded" for s in statuses(srv, account).values()) < 2 and time.time() < deadline:
            time.sleep(0.05)
        before = statuses(srv, account)
        assert len(before) == N and "Enqueued" in before.values()
    finally:
        srv.kill()

    srv = async_server(data, backend)  # same data dir, new process
    try:
        wait_async_idle(srv, timeout=120)
        after = statuses(srv, account)
        assert after == {task_id: "Succeeded" for task_id in ids}
        throttled = 0
        for task_id in ids:
            task = stateful_task(srv, account, "svc", "slow", task_id)
            assert task["returnPayload"] == task_id
            assert [e["status"] for e in task["events"]].count("Succeeded") == 1
            # throttled tries (one instance, several async workers) neither count nor pile up events
            assert [e["status"] for e in task["events"]].count("Running") <= 2
            assert task["alreadyRetriedTimes"] == 0
            throttled += any(e["eventDetail"].startswith("ResourceThrottled") for e in task["events"])
        assert throttled > 0
        requeued = [t for t in ids if any("restart" in e["eventDetail"]
                                          for e in stateful_task(srv, account, "svc", "slow", t)["events"])]
        # only events the killed emulator had claimed (at most one per async worker) were queued again
        assert len(requeued) <= 8
        if backend == "process":  # the instances wrote what they ran on the host
            runs = collections.Counter((out / "runs").read_text().split())
            assert set(runs) == set(ids)
            assert sum(n - 1 for n in runs.values()) <= 1  # one instance: at most one event was mid-run
    finally:
        srv.stop()
