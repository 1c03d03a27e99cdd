"""`fc-emulator snapshot export FILE` and `fc-emulator snapshot import FILE`: a running emulator's state
(services, functions with their code, triggers, versions, aliases, configs, layers, custom domains) in
one file, through GET and POST /_emulator/snapshot."""
from __future__ import annotations

import argparse
import base64
import hashlib
import sys
from pathlib import Path

from emulator import records_cli
from emulator.reset_cli import add_common, request

COMMANDS = ("snapshot",)


def add_parsers(sub: argparse._SubParsersAction, env) -> None:
    p = sub.add_parser("snapshot", help="export or import the state of a running emulator")
    ssub = p.add_subparsers(dest="snapshot_command", required=True)
    e = ssub.add_parser("export", help="write the account's resources and code (or every account's) to FILE")
    e.add_argument("file", metavar="FILE")
    add_common(e, env)
    e.add_argument("--all", action="store_true", help="every account")
    i = ssub.add_parser("import", help="recreate the state in FILE (its accounts are reset first)")
    i.add_argument("file", metavar="FILE")
    add_common(i, env)


def _post_file(args: argparse.Namespace, data: bytes):
    """POST the file itself (records_cli.call sends JSON), signed like every CLI request."""
    import requests

    url = args.url.rstrip("/") + "/_emulator/snapshot"
    headers = {"Content-Type": "application/zip",
               "Content-MD5": base64.b64encode(hashlib.md5(data).digest()).decode()}
    if args.account_id:
        headers["X-Fc-Account-Id"] = args.account_id
    try:
        key = records_cli.access_key(args)
        if key:
            records_cli.sign("POST", url, headers, key)
        return requests.post(url, data=data, headers=headers, timeout=600)
    except records_cli.ApiError as exc:
        print(str(exc), file=sys.stderr)
    except requests.RequestException as exc:
        print(f"cannot reach the emulator at {args.url}: {exc}", file=sys.stderr)
    return None


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if args.snapshot_command == "export":
        r = request(args, "GET", "/_emulator/snapshot", params={"all": "true"} if args.all else None, timeout=600)
        if r is None:
            return 1
        path.write_bytes(r.content)
        accounts = r.headers.get("x-fc-emulator-snapshot-accounts") or "no account"
        print(f"exported {accounts} to {path} ({len(r.content)} bytes)")
        return 0
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1
    r = _post_file(args, data)
    if r is None:
        return 1
    if r.status_code != 200:
        print(records_cli.error_text(r), file=sys.stderr)
        return 1
    out = r.json()
    counts = ", ".join(f"{n} {kind}" for kind, n in out["resources"].items()) or "no resources"
    print(f"imported account {', '.join(out['accounts'])}: {counts}; {out['codePackages']} code package(s)")
    return 0
