#!/usr/bin/env python3
"""Faulty-function storm: does a healthy function stay fast while others misbehave?

    python3 bench/storm.py [--backend process|docker|both] [--calls 100] [--rate 20] [--quick]

For each backend it starts its own emulator (loopback, free port, fresh data dir) and deploys a healthy
Python handler and six faulty ones. A pacer calls the healthy one at --rate calls/s (raw kept-alive HTTP)
for a baseline phase; then --calls faulty calls run, 8 at a time, while the pacer goes on:

- raising:        raise Exception                          (handled: FC's UnhandledInvocationError)
- exiting:        os._exit(3)                              (the instance crashes, the next call cold-starts)
- timing-out:     sleep past a 1 s timeout                 (the instance is thrown away)
- over-allocating: 1 GB in a 128 MB function               (MemoryError / out-of-memory kill)
- forking:        10 children in sessions of their own, each sleeping 120 s (killed with the instance)
- 10 MB logging:  10 000 lines of 1 KB                     (the record keeps its tail)

It prints the healthy function's p50/p99 before and during the storm and their ratio (target: during-storm
p99 within 10x of before), what the faulty calls got, whether any healthy call failed, the database's
growth, and how many processes the forking function left after the emulator stopped (target 0).
Bounded: at most --calls faulty calls, each phase at most --budget seconds.
"""
from __future__ import annotations

import argparse
import http.client
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.helpers import Server, fc_client, write_zip  # noqa: E402

ACCOUNT = "1888000000000002"
RUNTIME = "python3.9"
STORM_CONCURRENCY = 8

HEALTHY = "def handler(event, context):\n    return 'ok'\n"
FAULTY = {
    "raising": ("def handler(event, context):\n    raise Exception('storm: raised on purpose')\n", {}),
    "exiting": ("import os\n\ndef handler(event, context):\n    os._exit(3)\n", {}),
    "timing-out": ("import time\n\ndef handler(event, context):\n    time.sleep(5)\n    return 'late'\n",
                   {"timeout": 1}),
    "over-allocating": ("def handler(event, context):\n    block = bytearray(1024 * 1024 * 1024)\n"
                        "    return str(len(block))\n", {}),
    "forking": ("import os, subprocess, sys\n\ndef handler(event, context):\n"
                "    for i in range(10):\n"
                "        subprocess.Popen(['setsid', sys.executable, '-c', 'import time; time.sleep(120)',\n"
                "                          event.decode()], stdin=subprocess.DEVNULL,\n"
                "                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
                "    return 'forked'\n", {}),
    "logging-10mb": ("import sys\n\ndef handler(event, context):\n    line = 'x' * 1023 + '\\n'\n"
                     "    for _ in range(10_000):\n        sys.stdout.write(line)\n    return 'logged'\n",
                     {"timeout": 30}),
}


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))] if s else float("nan")


class Caller:
    """Raw kept-alive HTTP InvokeFunction (X-Fc-Account-Id, no signature), one connection per thread."""

    def __init__(self, port: int):
        self.port = port
        self.local = threading.local()

    def invoke(self, function: str, payload: bytes = b"", timeout: float = 60) -> tuple[int, str]:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("POST", f"/2016-08-15/services/storm/functions/{function}/invocations", body=payload,
                         headers={"X-Fc-Account-Id": ACCOUNT})
            r = conn.getresponse()
            r.read()
            return r.status, r.getheader("X-Fc-Error-Type") or ""
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self.local.conn = None
            return 0, type(exc).__name__


class Pacer(threading.Thread):
    """Calls the healthy function at `rate`/s; each latency is tagged with the phase it started in."""

    def __init__(self, caller: Caller, rate: float):
        super().__init__(daemon=True)
        self.caller = caller
        self.interval = 1 / rate
        self.phase = "before"
        self.samples: dict[str, list[float]] = {"before": [], "during": [], "after": []}
        self.failures: Counter = Counter()
        self.stop_event = threading.Event()

    def run(self) -> None:
        next_at = time.perf_counter()
        while not self.stop_event.is_set():
            phase = self.phase
            t = time.perf_counter()
            status, error = self.caller.invoke("healthy")
            ms = (time.perf_counter() - t) * 1000
            if status == 200 and not error:
                self.samples[phase].append(ms)
            else:
                self.failures[f"{phase}: {status} {error}"] += 1
            next_at += self.interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                self.stop_event.wait(delay)
            else:
                next_at = time.perf_counter()  # behind: don't burst to catch up


def with_marker(marker: str) -> int:
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                    count += 1
            except OSError:
                pass
    return count


def db_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("fc.db*"))


def run(backend: str, args: argparse.Namespace, work: Path) -> dict:
    data = work / backend / "fc"
    data.parent.mkdir(parents=True)
    srv = Server(data, "--executor", backend, "--log-level", "warning").start()
    marker = f"storm-{uuid.uuid4().hex[:12]}"
    try:
        client = fc_client(srv, ACCOUNT)
        client.create_service("storm")
        client.create_function("storm", "healthy", RUNTIME, "index.handler", memorySize=128, timeout=10,
                               codeZipFile=write_zip(work, {"index.py": HEALTHY}))
        for name, (code, extra) in FAULTY.items():
            client.create_function("storm", name, RUNTIME, "index.handler", memorySize=extra.get("memory", 128),
                                   timeout=extra.get("timeout", 10), codeZipFile=write_zip(work, {"index.py": code}))
        caller = Caller(srv.port)
        for _ in range(20):  # warm the healthy instance and the connection
            caller.invoke("healthy")
        size_before = db_bytes(data)
        pacer = Pacer(caller, args.rate)
        pacer.start()
        time.sleep(args.baseline)

        chosen = args.kinds.split(",") if args.kinds else list(FAULTY)
        kinds = [chosen[i % len(chosen)] for i in range(args.calls)]
        random.Random(12).shuffle(kinds)
        outcomes: dict[str, Counter] = {k: Counter() for k in FAULTY}
        storm_caller = Caller(srv.port)
        deadline = time.monotonic() + args.budget

        def faulty(kind: str) -> None:
            if time.monotonic() > deadline:
                outcomes[kind]["skipped (budget)"] += 1
                return
            status, error = storm_caller.invoke(kind, marker.encode() if kind == "forking" else b"", timeout=60)
            outcomes[kind][f"{status} {error}".strip()] += 1

        pacer.phase = "during"
        t0 = time.monotonic()
        with ThreadPoolExecutor(STORM_CONCURRENCY) as pool:
            list(pool.map(faulty, kinds))
        storm_s = time.monotonic() - t0
        pacer.phase = "after"
        time.sleep(min(args.baseline, 3))
        pacer.stop_event.set()
        pacer.join(5)
        requests.post(srv.url + "/_emulator/wait-idle?timeout=30", timeout=40)
        size_after = db_bytes(data)
        forked_alive = with_marker(marker)
    finally:
        t_stop = time.monotonic()
        srv.stop()
        stop_s = time.monotonic() - t_stop
    time.sleep(0.5)
    return {"samples": pacer.samples, "failures": pacer.failures, "outcomes": outcomes, "storm_s": storm_s,
            "db_growth": size_after - size_before, "forked_alive": forked_alive, "left": with_marker(marker),
            "stop_s": stop_s}


def report(results: dict[str, dict], args: argparse.Namespace) -> None:
    backends = list(results)
    print(f"\nFaulty-function storm: {args.calls} faulty calls ({STORM_CONCURRENCY} at a time) while "
          f"a healthy {RUNTIME} function is called at {args.rate:g}/s\n")
    print("| metric | " + " | ".join(backends) + " | target |")
    print("|---|" + "---|" * len(backends) + "---|")

    def row(name: str, values: list[str], target: str = "") -> None:
        print(f"| {name} | " + " | ".join(values) + f" | {target} |")

    for phase in ("before", "during", "after"):
        row(f"healthy p50 / p99 {phase} the storm (ms)",
            [f"{pct(r['samples'][phase], 50):.2f} / {pct(r['samples'][phase], 99):.2f} "
             f"(n={len(r['samples'][phase])})" for r in results.values()])
    ratios = []
    for r in results.values():
        ratio = pct(r["samples"]["during"], 99) / pct(r["samples"]["before"], 99)
        ratios.append(f"{ratio:.2f}x {'✅' if ratio <= 10 else '❌'}")
    row("healthy p99 during / before", ratios, "≤ 10x")
    row("healthy max during the storm (ms)", [f"{max(r['samples']['during'], default=0):.1f}"
                                              for r in results.values()])
    row("healthy calls failed", [str(sum(r["failures"].values())) + (
        " (" + ", ".join(f"{k}: {v}" for k, v in r["failures"].items()) + ")" if r["failures"] else "")
        for r in results.values()], "0")
    row("storm duration (s)", [f"{r['storm_s']:.1f}" for r in results.values()])
    for kind in FAULTY:
        row(f"{kind}: answers", [", ".join(f"{k} ×{v}" for k, v in sorted(r["outcomes"][kind].items()))
                                 for r in results.values()])
    row("database growth (MB)", [f"{r['db_growth'] / 1e6:.2f}" for r in results.values()])
    row("forked children alive before shutdown", [str(r["forked_alive"]) for r in results.values()])
    row("forked children left after shutdown", [str(r["left"]) for r in results.values()], "0")
    row("shutdown (s)", [f"{r['stop_s']:.1f}" for r in results.values()])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["process", "docker", "both"], default="process")
    p.add_argument("--calls", type=int, default=100, help="faulty calls (spread over the six kinds)")
    p.add_argument("--rate", type=float, default=20, help="healthy calls per second")
    p.add_argument("--baseline", type=float, default=10, help="seconds of healthy calls before the storm")
    p.add_argument("--budget", type=float, default=180, help="at most this many seconds of storm")
    p.add_argument("--kinds", default="", help="only these faulty kinds, comma-separated (to see which one hurts)")
    p.add_argument("--quick", action="store_true", help="30 faulty calls, 5 s baseline")
    args = p.parse_args()
    if args.quick:
        args.calls, args.baseline = 30, 5
    backends = ["process", "docker"] if args.backend == "both" else [args.backend]
    results = {}
    with tempfile.TemporaryDirectory(prefix="fc-storm-") as tmp:
        for backend in backends:
            print(f"[{backend}] running ...", file=sys.stderr, flush=True)
            results[backend] = run(backend, args, Path(tmp))
    report(results, args)


if __name__ == "__main__":
    main()
