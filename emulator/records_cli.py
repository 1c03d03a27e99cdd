"""`fc-emulator invocations` and `fc-emulator logs`: the invocation records of a running emulator,
read through its /_emulator/invocations API (plain HTTP, the account as X-Fc-Account-Id)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime

COMMANDS = ("invocations", "logs")
FOLLOW_BATCH = 200


def default_url() -> str:
    return os.environ.get("FC_EMULATOR_URL") or f"http://127.0.0.1:{os.environ.get('FC_EMULATOR_PORT', '9000')}"


def add_parsers(sub: argparse._SubParsersAction, env) -> None:
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", default=default_url(),
                       help="the emulator [FC_EMULATOR_URL, else http://127.0.0.1:$FC_EMULATOR_PORT]")
        p.add_argument("--account-id", default=env("ACCOUNT_ID"),
                       help="account whose records to show; default: the emulator's [FC_EMULATOR_ACCOUNT_ID]")
        p.add_argument("--json", action="store_true", help="raw records as JSON")

    p = sub.add_parser("invocations", help="list invocation records (newest last)")
    common(p)
    p.add_argument("--service", default="")
    p.add_argument("--function", default="")
    p.add_argument("--qualifier", default="")
    p.add_argument("--status", default="", help="succeeded | failed | ...")
    p.add_argument("--kind", default="", help="sync | async | destination | ...")
    p.add_argument("--request-id", default="")
    p.add_argument("--since", default="", help="10m, 2h, 1d, an ISO 8601 time or epoch seconds")
    p.add_argument("--until", default="")
    p.add_argument("--limit", type=int, default=50, help="at most this many (newest), 1-1000")

    p = sub.add_parser("logs", help="print the log lines of a function's invocations")
    common(p)
    p.add_argument("service")
    p.add_argument("function")
    p.add_argument("--qualifier", default="")
    p.add_argument("--since", default="", help="10m, 2h, 1d, an ISO 8601 time or epoch seconds")
    p.add_argument("--limit", type=int, default=20, help="the last N invocations first shown, 1-1000")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new invocations (Ctrl-C to stop)")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between polls with --follow")


class ApiError(Exception):
    pass


def _get(args: argparse.Namespace, params: dict) -> dict:
    import requests

    headers = {"X-Fc-Account-Id": args.account_id} if args.account_id else {}
    url = args.url.rstrip("/") + "/_emulator/invocations"
    try:
        r = requests.get(url, params={k: v for k, v in params.items() if v not in ("", None)}, headers=headers,
                         timeout=30)
    except requests.RequestException as exc:
        raise ApiError(f"cannot reach the emulator at {args.url}: {exc}") from None
    if r.status_code != 200:
        try:
            body = r.json()
            message = f"{body.get('ErrorCode')}: {body.get('ErrorMessage')}"
        except ValueError:
            message = r.text[:300]
        raise ApiError(f"{r.status_code} {message}")
    return r.json()


def _local_time(record: dict) -> str:
    return datetime.fromtimestamp(record["startTimeMs"] / 1000).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _function(record: dict) -> str:
    q = record.get("qualifier") or "LATEST"
    name = f"{record['serviceName']}/{record['functionName']}"
    return name if q == "LATEST" else f"{name}@{q}"


def _status(record: dict) -> str:
    return record["status"] + (f" ({record['errorType']})" if record.get("errorType") else "")


def table(records: list[dict]) -> str:
    header = ("TIME", "REQUEST ID", "FUNCTION", "KIND", "ATTEMPT", "STATUS", "DURATION", "START")
    rows = [(_local_time(r), r["requestId"], _function(r), r["kind"], str(r["attempt"]), _status(r),
             f"{r['durationMs']:.1f} ms", "cold" if r["coldStart"] else "warm") for r in records]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows])


def header_line(r: dict) -> str:
    parts = [_local_time(r), r["requestId"], _function(r), r["kind"], f"attempt {r['attempt']}", _status(r),
             f"{r['durationMs']:.1f} ms", "cold" if r["coldStart"] else "warm"]
    if r.get("instanceId"):
        parts.append(f"instance {r['instanceId']}")
    return "=== " + "  ".join(parts)


def _print_log(args: argparse.Namespace, record: dict) -> None:
    if args.json:
        print(json.dumps(record), flush=True)
        return
    print(header_line(record))
    for line in record.get("logs") or []:
        print(line)
    if record.get("errorMessage"):
        print(f"error: {record['errorMessage']}")
    print(flush=True)


def invocations(args: argparse.Namespace) -> int:
    body = _get(args, {"service": args.service, "function": args.function, "qualifier": args.qualifier,
                       "status": args.status, "kind": args.kind, "requestId": args.request_id,
                       "since": args.since, "until": args.until, "limit": args.limit})
    records = body["invocations"]
    if args.json:
        print(json.dumps(records, indent=2))
    elif records:
        print(table(list(reversed(records))))  # the API gives newest first; a terminal reads downwards
    else:
        print("no invocations recorded", file=sys.stderr)
    return 0


def logs(args: argparse.Namespace) -> int:
    base = {"service": args.service, "function": args.function, "qualifier": args.qualifier}
    body = _get(args, {**base, "since": args.since, "limit": args.limit})
    records = list(reversed(body["invocations"]))
    for record in records:
        _print_log(args, record)
    if not args.follow:
        if not records and not args.json:
            print(f"no invocations of {args.service}/{args.function} recorded", file=sys.stderr)
        return 0
    # `seq` orders records as they are written, so polling after the last one seen misses nothing.
    last = max((r["seq"] for r in records), default=None)
    if last is None:
        latest = _get(args, {**base, "limit": 1})["invocations"]
        last = latest[0]["seq"] if latest else 0
    try:
        while True:
            time.sleep(args.interval)
            try:
                page = _get(args, {**base, "after": last, "order": "asc", "limit": FOLLOW_BATCH})["invocations"]
            except ApiError as exc:  # the emulator restarting: say so and keep following
                print(f"fc-emulator logs: {exc}", file=sys.stderr, flush=True)
                continue
            for record in page:
                _print_log(args, record)
                last = record["seq"]
    except KeyboardInterrupt:
        return 0


def run(args: argparse.Namespace) -> int:
    try:
        return invocations(args) if args.command == "invocations" else logs(args)
    except ApiError as exc:
        print(f"fc-emulator {args.command}: {exc}", file=sys.stderr)
        return 1
