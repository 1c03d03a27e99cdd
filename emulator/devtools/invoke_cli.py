"""`fc-emulator invoke SERVICE/FUNCTION` (FC 2.0) or `invoke FUNCTION` (FC 3.0): InvokeFunction from the shell.

The result goes to stdout as the function returned it; with --tail the invocation's log (X-Fc-Log-Result) goes
to stderr first. Exit status 1 for a function error (X-Fc-Error-Type) or an API error, else 0. --async prints
the accepted request id."""
from __future__ import annotations

import argparse
import base64
import sys
from urllib.parse import quote

from emulator.devtools.client import FC2, FC3, ApiError, Client, add_flags


def add_parser(sub: argparse._SubParsersAction, env) -> None:
    p = sub.add_parser("invoke", help="invoke a function of a running emulator: SERVICE/FUNCTION (FC 2.0) or "
                                      "FUNCTION (FC 3.0)")
    p.add_argument("target", metavar="SERVICE/FUNCTION|FUNCTION")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--payload", "-p", default=None, help="the event, as text")
    src.add_argument("--payload-file", "-f", default=None, help="the event, read from a file (- = stdin)")
    p.add_argument("--qualifier", "-q", default="", help="a version or an alias (default LATEST)")
    p.add_argument("--async", dest="is_async", action="store_true", help="an async invocation: prints its request id")
    p.add_argument("--tail", action="store_true", help="print the invocation's log (to stderr)")
    add_flags(p, env)


def _payload(args) -> bytes:
    if args.payload_file == "-":
        return sys.stdin.buffer.read()
    if args.payload_file:
        with open(args.payload_file, "rb") as f:
            return f.read()
    return (args.payload or "").encode()


def path_and_params(target: str, qualifier: str) -> tuple[str, dict]:
    service, sep, function = target.partition("/")
    if not sep:  # FC 3.0: one name
        return f"{FC3}/functions/{quote(target, safe='')}/invocations", ({"qualifier": qualifier} if qualifier else {})
    if not service or not function:
        raise ApiError(0, "InvalidArgument", f"expected SERVICE/FUNCTION or FUNCTION, got {target!r}")
    svc = quote(service, safe="") + (f".{quote(qualifier, safe='')}" if qualifier else "")
    return f"{FC2}/services/{svc}/functions/{quote(function, safe='')}/invocations", {}


def run(args: argparse.Namespace) -> int:
    try:
        path, params = path_and_params(args.target, args.qualifier)
        data = _payload(args)
    except (ApiError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    headers = {"X-Fc-Invocation-Type": "Async" if args.is_async else "Sync"}
    if args.tail and not args.is_async:
        headers["X-Fc-Log-Type"] = "Tail"
    client = Client(args, timeout=3600)
    try:
        r = client.request("POST", path, data=data, headers=headers, params=params)
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    lower = {k.lower(): v for k, v in r.headers.items()}
    if args.is_async:
        print(f"accepted {lower.get('x-fc-request-id', '')}")
        return 0
    if args.tail and lower.get("x-fc-log-result"):
        sys.stderr.write(base64.b64decode(lower["x-fc-log-result"]).decode("utf-8", "replace"))
        sys.stderr.flush()
    sys.stdout.buffer.write(r.body)
    if r.body and not r.body.endswith(b"\n") and sys.stdout.isatty():
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()
    if lower.get("x-fc-error-type"):
        print(f"function error ({lower['x-fc-error-type']}), request id {lower.get('x-fc-request-id', '')}",
              file=sys.stderr)
        return 1
    return 0
