"""`fc-emulator events put SOURCE ...`: fire event-source triggers of a running emulator through
POST /_emulator/events/{source} (plain HTTP, the account as X-Fc-Account-Id, signed when a key is set).

Each source has flags for its essentials; `--data JSON` adds any other field (flags win)."""
from __future__ import annotations

import argparse
import json
import sys

from emulator.records_cli import ApiError, add_key_flag, call, default_url, error_text

COMMANDS = ("events",)

# source -> (flag, body key, type, help); required flags are checked by the emulator, which names them
FLAGS: dict[str, list[tuple[str, str, type, str]]] = {
    "oss": [("--bucket", "bucket", str, "bucket name (the trigger's sourceArn names it)"),
            ("--key", "key", str, "object key"),
            ("--event", "eventName", str, "ObjectCreated:PutObject (default), ObjectRemoved:DeleteObject, ..."),
            ("--size", "size", int, "object size in bytes")],
    "log": [("--project", "project", str, "SLS project"), ("--logstore", "logstore", str, "source logstore"),
            ("--shard-id", "shardId", int, "shard id (default 0)")],
    "mns_topic": [("--topic", "topic", str, "topic name"), ("--message", "message", str, "message body"),
                  ("--tag", "tag", str, "message tag (matched against filterTag)")],
    "tablestore": [("--instance", "instance", str, "instance name"), ("--table", "table", str, "table name"),
                   ("--type", "type", str, "PutRow (default) | UpdateRow | DeleteRow")],
    "cdn_events": [("--event", "eventName", str, "CachedObjectsRefreshed, LogFileCreated, CdnDomainStarted, ..."),
                   ("--domain", "domain", str, "accelerated domain")],
    "eventbridge": [("--source-type", "eventSourceType", str, "Default (default), MNS, RocketMQ, RabbitMQ, Kafka, ..."),
                    ("--source", "source", str, "CloudEvent source"), ("--type", "type", str, "CloudEvent type"),
                    ("--subject", "subject", str, "CloudEvent subject"),
                    ("--body", "body", str, "message body for MNS/RocketMQ/... sources")],
    "rds": [("--instance", "instance", str, "RDS instance id"), ("--database", "database", str, "database"),
            ("--table", "table", str, "table"), ("--operation", "operation", str, "INSERT (default) | UPDATE | ...")],
}


def add_parsers(sub: argparse._SubParsersAction, env) -> None:
    p = sub.add_parser("events", help="fire event-source triggers (OSS, Log, MNS, ...) of a running emulator")
    esub = p.add_subparsers(dest="events_command", required=True)
    put = esub.add_parser("put", help="put one event; matching triggers fire as FC would fire them")
    sources = put.add_subparsers(dest="source", required=True, metavar="SOURCE")
    for source, flags in FLAGS.items():
        sp = sources.add_parser(source, help=f"a {source} event")
        for flag, key, type_, help_ in flags:
            sp.add_argument(flag, dest=f"field_{key}", metavar=flag[2:].upper().replace("-", "_"), type=type_,
                            help=help_)
        sp.add_argument("--data", default="", help="JSON object of more fields, e.g. '{\"eTag\": \"...\"}'")
        sp.add_argument("--url", default=default_url(),
                        help="the emulator [FC_EMULATOR_URL, else http://127.0.0.1:$FC_EMULATOR_PORT]")
        sp.add_argument("--account-id", default=env("ACCOUNT_ID"),
                        help="account whose triggers fire; default: the emulator's [FC_EMULATOR_ACCOUNT_ID]")
        sp.add_argument("--json", action="store_true", help="print the emulator's answer as JSON")
        add_key_flag(sp)


def body_of(args: argparse.Namespace) -> dict:
    body: dict = {}
    if args.data:
        try:
            body = json.loads(args.data)
        except ValueError as exc:
            raise SystemExit(f"fc-emulator events put: --data is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise SystemExit("fc-emulator events put: --data must be a JSON object")
    for name, value in vars(args).items():
        if name.startswith("field_") and value is not None:
            body[name[len("field_"):]] = value
    return body


def table(matched: list[dict]) -> str:
    header = ("TRIGGER", "FUNCTION", "INVOCATION", "REQUEST ID", "STATUS")
    rows = [(m["triggerName"], f"{m['serviceName']}/{m['functionName']}"
             + ("" if m["qualifier"] == "LATEST" else f"@{m['qualifier']}"), m["invocationType"], m["requestId"],
             m["status"] + (f" ({m.get('errorType') or m.get('errorCode')})"
                            if m.get("errorType") or m.get("errorCode") else "")) for m in matched]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows])


def run(args: argparse.Namespace) -> int:
    try:
        r = call(args, "POST", f"/_emulator/events/{args.source}", body=body_of(args), timeout=600)
    except ApiError as exc:
        print(f"fc-emulator events put: {exc}", file=sys.stderr)
        return 1
    if r.status_code != 200:
        print(f"fc-emulator events put: {error_text(r)}", file=sys.stderr)
        return 1
    answer = r.json()
    if args.json:
        print(json.dumps(answer, indent=2))
    elif answer["matched"]:
        print(table(answer["matched"]))
    else:
        print(f"no {args.source} trigger matched", file=sys.stderr)
    return 0
