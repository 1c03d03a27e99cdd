"""`fc-emulator clock show|advance DURATION|reset`: an account's virtual clock for Timer triggers in a
running emulator (/_emulator/clock): advancing it fires every timer moment in between, in order."""
from __future__ import annotations

import argparse

from emulator.reset_cli import add_common, request

COMMANDS = ("clock",)


def add_parsers(sub: argparse._SubParsersAction, env) -> None:
    p = sub.add_parser("clock", help="the virtual clock of Timer triggers (per account)")
    csub = p.add_subparsers(dest="clock_command", required=True)
    s = csub.add_parser("show", help="the account's clock and each timer's next moment")
    add_common(s, env)
    a = csub.add_parser("advance", help="move the clock forward; every timer moment in between fires, in order")
    a.add_argument("duration", help="90s, 30m, 12h, 3d, 1w")
    add_common(a, env)
    a.add_argument("--wait", action="store_true",
                   help="each firing's invocation (retries included) finishes before the next fires")
    r = csub.add_parser("reset", help="back to the real clock")
    add_common(r, env)


def _show(out: dict) -> None:
    ahead = f" ({out['offsetSeconds']:g} s ahead of the real clock)" if out.get("virtual") else " (real time)"
    print(f"account {out['accountId']}: {out['now']}{ahead}")
    for t in out["timers"]:
        print(f"  {t['trigger']}  {t['cronExpression']}  next {t['nextMoment'] or 'never'}")


def run(args: argparse.Namespace) -> int:
    if args.clock_command == "show":
        r = request(args, "GET", "/_emulator/clock")
    elif args.clock_command == "reset":
        r = request(args, "POST", "/_emulator/clock/reset")
    else:
        params = {"by": args.duration, **({"wait": "true"} if args.wait else {})}
        r = request(args, "POST", "/_emulator/clock/advance", params=params, timeout=3600)
    if r is None:
        return 1
    out = r.json()
    if args.clock_command != "advance":
        _show(out)
        return 0
    for f in out["firings"]:
        print(f"{f['moment']}  {f['trigger']}  {f.get('requestId') or f.get('error')}")
    print(f"account {out['accountId']}: {out['from']} -> {out['to']}, {len(out['firings'])} firing(s)")
    return 0
