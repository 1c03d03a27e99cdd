"""`fc-emulator reset [--account A] [--all]`: delete every resource and record of an account (or of every
account) in a running emulator, through POST /_emulator/reset."""
from __future__ import annotations

import argparse
import sys

from emulator import records_cli

COMMANDS = ("reset",)


def add_common(p: argparse.ArgumentParser, env) -> None:
    """--url, --access-key and --account (alias --account-id), shared by the test-control commands."""
    p.add_argument("--url", default=records_cli.default_url(),
                   help="the emulator [FC_EMULATOR_URL, else http://127.0.0.1:$FC_EMULATOR_PORT]")
    records_cli.add_key_flag(p)
    p.add_argument("--account", "--account-id", dest="account_id", default=env("ACCOUNT_ID"),
                   help="the account; default: the emulator's [FC_EMULATOR_ACCOUNT_ID]")


def add_parsers(sub: argparse._SubParsersAction, env) -> None:
    p = sub.add_parser("reset", help="delete every resource and record of an account (or of all), stop its "
                                     "instances and cancel its async events")
    add_common(p, env)
    p.add_argument("--all", action="store_true", help="every account, and every timer clock back to real time")


def request(args: argparse.Namespace, method: str, path: str, **kwargs):
    """records_cli.call, with FC's error (or the connection problem) on stderr as None."""
    try:
        r = records_cli.call(args, method, path, **kwargs)
    except records_cli.ApiError as exc:
        print(str(exc), file=sys.stderr)
        return None
    if r.status_code != 200:
        print(records_cli.error_text(r), file=sys.stderr)
        return None
    return r


def run(args: argparse.Namespace) -> int:
    r = request(args, "POST", "/_emulator/reset", params={"all": "true"} if args.all else None, timeout=120)
    if r is None:
        return 1
    out = r.json()
    who = "every account" if out["accounts"] == "all" else f"account {', '.join(out['accounts'])}"
    deleted = ", ".join(f"{n} {name}" for name, n in out["deleted"].items())
    print(f"reset {who}: deleted {deleted}; {out['instancesStopped']} instance(s) stopped")
    return 0
