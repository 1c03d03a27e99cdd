#!/usr/bin/env python3
"""Replicas on PostgreSQL, in one run: sync throughput with 1, 2 and 3 replicas on one database, and the
control plane's p50 on PostgreSQL next to SQLite (one replica each).

    python3 bench/replicas.py [--pg-url postgresql+psycopg://user@127.0.0.1:5432/postgres] [--seconds 5]
                              [--backend process|docker] [--replicas 1,2,3]

--pg-url (default: $FC_EMULATOR_TEST_POSTGRES_URL) is an admin URL: each configuration gets a fresh
database, dropped at the end. Each replica is `fc-emulator serve` with its own data dir; the load
generator (asyncio, kept-alive connections, concurrency 32, trivial python3.9 handler with
instanceConcurrency 32) spreads its connections over the replicas, as a round-robin balancer would.
All processes share this machine's cores, so the scaling it shows is bounded by them.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402

import invoke as ib  # noqa: E402
from tests import helpers  # noqa: E402

CONCURRENCY = 32


def new_database(admin: str, label: str) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(admin)
    name = f"fcbench_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.set(database=name).render_as_string(hide_password=False)


def drop_databases(admin: str, names: list[str]) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    with psycopg.connect(make_url(admin).set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def start(work: Path, name: str, backend: str, db_url: str | None) -> helpers.Server:
    args = ["--executor", backend, "--log-level", "warning"]
    if db_url:
        args += ["--database-url", db_url]
    return helpers.Server(work / name, *args).start(60)


async def _load(ports: list[int], request: bytes, calls: int, budget: float) -> tuple[float, int, bytes]:
    state = {"left": calls, "done": 0, "errors": 0, "last_error": b""}
    t = time.perf_counter()
    await asyncio.gather(*(ib._worker(ports[i % len(ports)], request, state, t + budget)  # noqa: SLF001
                           for i in range(CONCURRENCY)))
    return state["done"] / (time.perf_counter() - t), state["errors"], state["last_error"]


def throughput(work: Path, backend: str, admin: str, n: int, seconds: float, made: list[str]) -> float:
    url = new_database(admin, f"r{n}")
    made.append(url.rsplit("/", 1)[1])
    servers = [start(work, f"tput{n}-{i}", backend, url) for i in range(n)]
    try:
        http = requests.Session()
        http.headers["X-Fc-Account-Id"] = ib.ACCOUNT
        http.post(f"{servers[0].url}/2016-08-15/services", json={"serviceName": "s"}).raise_for_status()
        ib.create_function(http, servers[0].url, "f32", ib.workload("python3.9"), work, concurrency=32)
        request = ib._request_bytes(ib.emulator_path("f32"), ib.EMULATOR_HEADERS)  # noqa: SLF001
        ports = [s.port for s in servers]
        asyncio.run(_load(ports, request, CONCURRENCY * 20 * n, 20))  # warm: connections, one instance each
        rate, errors, last = asyncio.run(_load(ports, request, 10 ** 9, seconds))
        if errors:
            print(f"  ! {errors} failed calls with {n} replica(s): {last!r}", file=sys.stderr)
        return rate
    finally:
        for s in servers:
            s.stop()


def control_plane(work: Path, backend: str, db_url: str | None, calls: int) -> dict[str, float]:
    """p50 (ms) of GetFunction, UpdateFunction, ListFunctions and CreateService + DeleteService."""
    server = start(work, f"cp-{'pg' if db_url else 'sqlite'}", backend, db_url)
    try:
        http = requests.Session()
        http.headers["X-Fc-Account-Id"] = ib.ACCOUNT
        base = f"{server.url}/2016-08-15/services"
        http.post(base, json={"serviceName": "s"}).raise_for_status()
        ib.create_function(http, server.url, "f", ib.workload("python3.9"), work)
        ops = {
            "GetFunction": lambda i: http.get(f"{base}/s/functions/f"),
            "UpdateFunction": lambda i: http.put(f"{base}/s/functions/f", json={"description": f"d{i}"}),
            "ListFunctions": lambda i: http.get(f"{base}/s/functions?limit=20"),
            "CreateService+DeleteService": lambda i: (http.post(base, json={"serviceName": f"x{i}"}),
                                                      http.delete(f"{base}/x{i}"))[-1],
        }
        out = {}
        for name, op in ops.items():
            times = []
            for i in range(calls):
                t = time.perf_counter()
                r = op(i)
                times.append((time.perf_counter() - t) * 1000)
                if r.status_code >= 300:
                    raise RuntimeError(f"{name}: {r.status_code} {r.text[:200]}")
            out[name] = statistics.median(times[calls // 10:])  # the first tenth warms up
        return out
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg-url", default=os.environ.get("FC_EMULATOR_TEST_POSTGRES_URL", ""))
    ap.add_argument("--backend", choices=["process", "docker"], default="process")
    ap.add_argument("--replicas", default="1,2,3")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--calls", type=int, default=200, help="calls per control-plane operation")
    args = ap.parse_args()
    if not args.pg_url:
        sys.exit("no PostgreSQL: pass --pg-url or set FC_EMULATOR_TEST_POSTGRES_URL")
    work = Path(tempfile.mkdtemp(prefix="fc-replicas-bench-"))
    made: list[str] = []
    try:
        rates = {}
        for n in (int(x) for x in args.replicas.split(",")):
            rates[n] = throughput(work, args.backend, args.pg_url, n, args.seconds, made)
            print(f"{n} replica(s): {rates[n]:.0f} inv/s", file=sys.stderr)
        pg_url = new_database(args.pg_url, "cp")
        made.append(pg_url.rsplit("/", 1)[1])
        cp = {"SQLite": control_plane(work, args.backend, None, args.calls),
              "PostgreSQL": control_plane(work, args.backend, pg_url, args.calls)}
        first = rates[min(rates)]
        print(f"\n| replicas on PostgreSQL ({args.backend}, c={CONCURRENCY}, {os.cpu_count()} cores) | sync inv/s "
              f"| vs 1 |\n|---|---|---|")
        for n, rate in rates.items():
            print(f"| {n} | {rate:.0f} | {rate / first:.2f}× |")
        print("\n| control plane p50 (ms), one replica | SQLite | PostgreSQL |\n|---|---|---|")
        for op in cp["SQLite"]:
            print(f"| {op} | {cp['SQLite'][op]:.2f} | {cp['PostgreSQL'][op]:.2f} |")
    finally:
        drop_databases(args.pg_url, made)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
