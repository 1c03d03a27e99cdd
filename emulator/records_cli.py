"""`fc-emulator invocations` and `fc-emulator logs`: the invocation records of a running emulator,
read through its /_emulator/invocations API (plain HTTP, the account as X-Fc-Account-Id).

Also the HTTP client every CLI command of a running emulator shares (`call`): it signs with FC's
scheme when it has a key, which a strict emulator asks for on /_emulator too."""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from datetime import datetime
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

COMMANDS = ("invocations", "logs")
FOLLOW_BATCH = 200


def default_url() -> str:
    return os.environ.get("FC_EMULATOR_URL") or f"http://127.0.0.1:{os.environ.get('FC_EMULATOR_PORT', '9000')}"


def add_key_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--access-key", default=None, metavar="ID:SECRET",
                   help="sign requests with this key (a strict emulator asks for it) [FC_EMULATOR_ACCESS_KEY_ID "
                        "and FC_EMULATOR_ACCESS_KEY_SECRET, else the first of FC_EMULATOR_ACCESS_KEYS]")


def access_key(args: argparse.Namespace) -> tuple[str, str] | None:
    """The key to sign with: --access-key, else the environment, else none (unsigned)."""
    raw = getattr(args, "access_key", None)
    if not raw and os.environ.get("FC_EMULATOR_ACCESS_KEY_ID"):
        return os.environ["FC_EMULATOR_ACCESS_KEY_ID"], os.environ.get("FC_EMULATOR_ACCESS_KEY_SECRET", "")
    raw = raw or os.environ.get("FC_EMULATOR_ACCESS_KEYS", "").split(",")[0].strip()
    if not raw:
        return None
    key_id, sep, secret = raw.partition(":")
    if not sep or not key_id or not secret:
        raise ApiError("an access key must look like ID:SECRET")
    return key_id, secret


def sign(method: str, url: str, headers: dict[str, str], key: tuple[str, str]) -> None:
    """Add Date and FC's `Authorization: FC id:signature` (fc-api.md §1.1; the path only is signed)."""
    headers.setdefault("Date", formatdate(usegmt=True))
    lower = {k.lower(): v for k, v in headers.items()}
    fc_headers = "".join(f"{k}:{v}\n" for k, v in sorted(lower.items()) if k.startswith("x-fc-"))
    to_sign = "\n".join([method.upper(), lower.get("content-md5", ""), lower.get("content-type", ""),
                         lower["date"], fc_headers + unquote(urlsplit(url).path)])
    digest = hmac.new(key[1].encode(), to_sign.encode(), hashlib.sha256).digest()
    headers["Authorization"] = f"FC {key[0]}:{base64.b64encode(digest).decode()}"


def call(args: argparse.Namespace, method: str, path: str, *, params: dict | None = None,
         body: dict | None = None, timeout: float = 30):
    """One request to the emulator at args.url, in args.account_id's account, signed when a key is set.
    Raises ApiError when the emulator cannot be reached."""
    import requests

    headers = {"X-Fc-Account-Id": args.account_id} if getattr(args, "account_id", None) else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
        headers["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
    url = args.url.rstrip("/") + path
    key = access_key(args)
    if key:
        sign(method, url, headers, key)
    try:
        return requests.request(method, url, params=params, data=data, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise ApiError(f"cannot reach the emulator at {args.url}: {exc}") from None


def error_text(r) -> str:
    """`403 AccessDenied: ...` from FC's error body, or the start of whatever came back."""
    try:
        body = r.json()
        return f"{r.status_code} {body.get('ErrorCode')}: {body.get('ErrorMessage')}"
    except ValueError:
        return f"{r.status_code} {r.text[:300]}"


def add_parsers(sub: argparse._SubParsersAction, env) -> None:
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", default=default_url(),
                       help="the emulator [FC_EMULATOR_URL, else http://127.0.0.1:$FC_EMULATOR_PORT]")
        add_key_flag(p)
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
    r = call(args, "GET", "/_emulator/invocations", params={k: v for k, v in params.items() if v not in ("", None)})
    if r.status_code != 200:
        raise ApiError(error_text(r))
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
