#!/usr/bin/env python3
"""Two checkouts of the emulator side by side, interleaved in one run: CPU per warm call and throughput.

    python3 bench/compare.py REV [REV2] [--backend process|docker] [--rounds 4] [--seconds 4]

REV (and REV2, default: this work tree) are git revisions; each is checked out into a temporary git
worktree and served by this venv's Python. Rounds alternate A, B, A, B... so that whatever else the
machine does weighs on both alike; each round starts a fresh server, warms a trivial python3.9 function,
then measures the server's CPU per warm raw-HTTP call and the throughput at concurrency 32
(instanceConcurrency 32). The table shows the median of the rounds and B/A.
Use it to bisect a regression: `git bisect run` can call it with `--fail-above 1.1`.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402

import invoke as ib  # noqa: E402
from tests import helpers  # noqa: E402


def checkout(rev: str, into: Path) -> Path:
    """A worktree of `rev` (the current tree, uncommitted changes included, for '.')."""
    if rev == ".":
        return ROOT
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(into), rev],
                   check=True, capture_output=True)
    return into


def one_round(root: Path, backend: str, seconds: float, work: Path) -> tuple[float, float]:
    """(server CPU ms per warm call, inv/s at c=32) for the emulator in `root`."""
    data = Path(tempfile.mkdtemp(dir=work))
    helpers.ROOT = root  # Server runs `python -m emulator` from there
    server = helpers.Server(data / "data", "--executor", backend, "--log-level", "warning").start(60)
    try:
        http = requests.Session()
        http.headers["X-Fc-Account-Id"] = ib.ACCOUNT
        http.post(f"{server.url}/2016-08-15/services", json={"serviceName": "s"}).raise_for_status()
        w = ib.workload("python3.9")
        ib.create_function(http, server.url, "f", w, data)
        ib.create_function(http, server.url, "f32", w, data, concurrency=32)
        raw = ib.RawCaller(server.port, ib.emulator_path("f"), ib.EMULATOR_HEADERS)
        for _ in range(200):
            raw()
        n, cpu0, t0 = 0, ib.cpu_seconds(server.proc.pid), time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            raw()
            n += 1
        cpu = (ib.cpu_seconds(server.proc.pid) - cpu0) * 1000 / n
        raw.close()
        profile = ib.Profile(calls=0, series_budget=0, cold_samples=0, level_calls=4000, level_budget=seconds,
                             pairs=0, pair_calls=0, pair_budget=0)
        tput = ib.throughput(server.port, ib.emulator_path("f32"), ib.EMULATOR_HEADERS, 32, profile)
        return cpu, tput
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", help="git revision A")
    ap.add_argument("b", nargs="?", default=".", help="git revision B (default: this work tree as it is)")
    ap.add_argument("--backend", choices=["process", "docker"], default="process")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=4.0, help="seconds per measurement in a round")
    ap.add_argument("--fail-above", type=float, default=0.0,
                    help="exit 1 when B's CPU per call exceeds A's by this ratio (for git bisect run)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fc-compare-"))
    roots = {}
    try:
        for label, rev in (("A", args.a), ("B", args.b)):
            roots[label] = checkout(rev, work / f"tree-{label}")
        figures: dict[str, list[tuple[float, float]]] = {"A": [], "B": []}
        for i in range(args.rounds):
            for label in ("A", "B") if i % 2 == 0 else ("B", "A"):
                figures[label].append(one_round(roots[label], args.backend, args.seconds, work))
                cpu, tput = figures[label][-1]
                print(f"round {i + 1} {label}: {cpu:.3f} ms CPU/call, {tput:.0f} inv/s at c=32", file=sys.stderr)
        med = {k: (statistics.median(c for c, _ in v), statistics.median(t for _, t in v)) for k, v in figures.items()}
        print(f"\n| {args.backend} backend, median of {args.rounds} interleaved rounds | A `{args.a}` | "
              f"B `{args.b}` | B/A |\n|---|---|---|---|")
        print(f"| emulator CPU per warm call (ms) | {med['A'][0]:.3f} | {med['B'][0]:.3f} | "
              f"{med['B'][0] / med['A'][0]:.2f} |")
        print(f"| throughput at c=32 (inv/s) | {med['A'][1]:.0f} | {med['B'][1]:.0f} | {med['B'][1] / med['A'][1]:.2f} |")
        if args.fail_above and med["B"][0] / med["A"][0] > args.fail_above:
            sys.exit(1)
    finally:
        for label, root in roots.items():
            if root != ROOT:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(root)],
                               capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
