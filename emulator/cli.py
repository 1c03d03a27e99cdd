"""The `fc-emulator` command line."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from emulator import clock_cli, events_cli, records_cli, reset_cli, snapshot_cli
from emulator.devtools import deploy_cli, invoke_cli
from emulator.config import (Settings, argv_without_access_keys, default_data_dir, parse_access_keys, parse_duration,
                             parse_pairs, read_access_keys_file)


def _env(name: str, default=None):
    return os.environ.get(f"FC_EMULATOR_{name}", default)


def _standby_settings(args) -> dict:
    """--standby N / RUNTIME=N (repeatable; FC_EMULATOR_STANDBY comma-separated, the flags win)."""
    count, runtimes = 1, {}
    for item in [i for i in (_env("STANDBY") or "").split(",") if i.strip()] + args.standby:
        name, _, value = item.strip().rpartition("=")
        if not value.isdigit():
            raise SystemExit(f"--standby: expected N or RUNTIME=N, got {item!r}")
        if name:
            runtimes[name] = int(value)
        else:
            count = int(value)
    return {"standby": count, "standby_runtimes": runtimes, "standby_memory_mb": args.standby_memory}


def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the emulator's HTTP server")
    p.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="bind address [FC_EMULATOR_HOST]")
    p.add_argument("--port", type=int, default=int(_env("PORT", "9000")), help="port [FC_EMULATOR_PORT]")
    p.add_argument("--data-dir", default=_env("DATA_DIR", str(default_data_dir())),
                   help="where the database and code live [FC_EMULATOR_DATA_DIR]")
    p.add_argument("--public-url", default=_env("PUBLIC_URL", ""),
                   help="base URL put in code download links [FC_EMULATOR_PUBLIC_URL]")
    p.add_argument("--access-key", action="append", default=[],
                   help="ID:SECRET, repeatable [FC_EMULATOR_ACCESS_KEYS, comma-separated]; moved out of the "
                        "command line at start (others can read it), better use the variable or --access-keys-file")
    p.add_argument("--access-keys-file", default=_env("ACCESS_KEYS_FILE", ""),
                   help="file of ID:SECRET lines [FC_EMULATOR_ACCESS_KEYS_FILE]")
    p.add_argument("--auth", choices=["default", "strict"], default=_env("AUTH", "default"),
                   help="signature checking mode [FC_EMULATOR_AUTH]")
    p.add_argument("--account-id", default=_env("ACCOUNT_ID", "1234567890123456"),
                   help="account used when a request names none [FC_EMULATOR_ACCOUNT_ID]")
    p.add_argument("--region", default=_env("REGION", "cn-hangzhou"), help="region id [FC_EMULATOR_REGION]")
    p.add_argument("--oss-dir", default=_env("OSS_DIR"),
                   help="local folder standing in for OSS, <dir>/<bucket>/<object> [FC_EMULATOR_OSS_DIR]")
    p.add_argument("--database-url", default=_env("DATABASE_URL", ""),
                   help="SQLAlchemy URL; default sqlite in the data dir [FC_EMULATOR_DATABASE_URL]")
    p.add_argument("--max-code-size", type=int, default=int(_env("MAX_CODE_SIZE", str(100 * 1024 * 1024))),
                   help="largest code zip in bytes (CodeSizeLimit) [FC_EMULATOR_MAX_CODE_SIZE]")
    p.add_argument("--max-inline-code-size", type=int,
                   default=int(_env("MAX_INLINE_CODE_SIZE", str(50 * 1024 * 1024))),
                   help="largest decoded code.zipFile in bytes [FC_EMULATOR_MAX_INLINE_CODE_SIZE]")
    p.add_argument("--max-unzipped-size", type=int, default=int(_env("MAX_UNZIPPED_SIZE", str(500 * 1024 * 1024))),
                   help="largest unpacked code size in bytes [FC_EMULATOR_MAX_UNZIPPED_SIZE]")
    p.add_argument("--log-level", default=_env("LOG_LEVEL", "info"), help="[FC_EMULATOR_LOG_LEVEL]")
    p.add_argument("--executor", choices=["auto", "docker", "process"], default=_env("EXECUTOR", "auto"),
                   help="where instances run; auto picks Docker when reachable [FC_EMULATOR_EXECUTOR]")
    p.add_argument("--instance-idle-timeout", type=float, default=float(_env("INSTANCE_IDLE_TIMEOUT", "300")),
                   help="seconds before an idle instance is reclaimed [FC_EMULATOR_INSTANCE_IDLE_TIMEOUT]")
    p.add_argument("--max-instances", type=int, default=int(_env("MAX_INSTANCES", "10")),
                   help="instances per function version without an on-demand config [FC_EMULATOR_MAX_INSTANCES]")
    p.add_argument("--standby", action="append", default=[],
                   help="standby instances kept per runtime used since start: N, or RUNTIME=N, repeatable; "
                        "0 = none (default 1) [FC_EMULATOR_STANDBY, comma-separated]")
    p.add_argument("--standby-memory", type=int, default=int(_env("STANDBY_MEMORY", "512")),
                   help="MB the standby instances may use in total [FC_EMULATOR_STANDBY_MEMORY]")
    p.add_argument("--runtime-image", default=_env("RUNTIME_IMAGE", ""),
                   help="one Docker image for every runtime, instead of each runtime's own fc-emulator/<runtime> [FC_EMULATOR_RUNTIME_IMAGE]")
    p.add_argument("--runtime-images", action="append", default=[],
                   help="RUNTIME=IMAGE override, repeatable [FC_EMULATOR_RUNTIME_IMAGES, comma-separated]")
    _add_interpreter_flag(p)
    p.add_argument("--custom-domain-suffix", default=_env("CUSTOM_DOMAIN_SUFFIX", "localhost"),
                   help="a Host of <domain>.<suffix> is routed to custom domain <domain> "
                        "[FC_EMULATOR_CUSTOM_DOMAIN_SUFFIX]")
    p.add_argument("--docker-network", default=_env("DOCKER_NETWORK", ""),
                   help="reach instances over this Docker network (automatic when the emulator runs in a "
                        "container) [FC_EMULATOR_DOCKER_NETWORK]")
    p.add_argument("--docker-remote", choices=["auto", "on", "off"], default=_env("DOCKER_REMOTE", "auto"),
                   help="the Docker engine is on another host: code, layers and agents are copied into volumes "
                        "there instead of bind-mounted; auto = on when DOCKER_HOST is set and not unix:// "
                        "[FC_EMULATOR_DOCKER_REMOTE]")
    p.add_argument("--async-workers", type=int, default=int(_env("ASYNC_WORKERS", "8")),
                   help="async events run at once [FC_EMULATOR_ASYNC_WORKERS]")
    p.add_argument("--async-retry-base-delay", type=float, default=float(_env("ASYNC_RETRY_BASE_DELAY", "0.5")),
                   help="seconds before the first async retry; each next one waits twice as long "
                        "[FC_EMULATOR_ASYNC_RETRY_BASE_DELAY]")
    p.add_argument("--records-max-count", type=int, default=int(_env("RECORDS_MAX_COUNT", "10000")),
                   help="invocation records kept (the newest); 0 = no limit [FC_EMULATOR_RECORDS_MAX_COUNT]")
    p.add_argument("--records-max-age", default=_env("RECORDS_MAX_AGE", "7d"),
                   help="how long invocation records are kept: 3600, 30m, 12h, 7d; 0 = no limit "
                        "[FC_EMULATOR_RECORDS_MAX_AGE]")
    p.add_argument("--records-max-log-bytes", type=int, default=int(_env("RECORDS_MAX_LOG_BYTES", "65536")),
                   help="log bytes kept per invocation record (the tail); 0 = no limit "
                        "[FC_EMULATOR_RECORDS_MAX_LOG_BYTES]")
    p.add_argument("--metrics", choices=["auto", "open", "signed", "off"], default=_env("METRICS", "auto"),
                   help="GET /metrics (Prometheus): open to anyone, signed by a configured key, or off; auto = "
                        "open, or signed with --auth strict [FC_EMULATOR_METRICS]")
    p.add_argument("--instance-user", default=_env("INSTANCE_USER", "auto"),
                   help="process backend: the user instances run as; auto = fc-emulator-fn (created when missing, "
                        "else nobody) when the emulator runs as root, else the emulator's own user "
                        "[FC_EMULATOR_INSTANCE_USER]")
    p.add_argument("--debug", action="append", default=[], metavar="all|SERVICE/FUNCTION|FUNCTION",
                   help="start these functions' instances with a debugger on a port published on 127.0.0.1 "
                        "(debugpy, --inspect, JDWP); repeatable [FC_EMULATOR_DEBUG, comma-separated]")
    p.add_argument("--instance-network", choices=["auto", "host"], default=_env("INSTANCE_NETWORK", "auto"),
                   help="process backend: auto gives each custom-runtime instance a network namespace of its "
                        "own when run as root (it can listen on caPort); host shares the host's network "
                        "[FC_EMULATOR_INSTANCE_NETWORK]")


def _add_images(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("images", help="build and list the runtime images of the Docker backend")
    isub = p.add_subparsers(dest="images_command", required=True)
    b = isub.add_parser("build", help="build fc-emulator/<runtime>:latest for the named runtimes "
                                      "(default: every runtime that can run; `all`: every runtime)")
    b.add_argument("runtimes", nargs="*", metavar="RUNTIME")
    b.add_argument("--offline", action="store_true",
                   help="no registry (as root): debootstrap Debian suites and `docker import` them")
    b.add_argument("--if-missing", action="store_true", help="skip the images that are already there")
    b.add_argument("--without-builtin-modules", action="store_true",
                   help="leave out FC's preinstalled Python/Node.js packages (smaller, quicker to build)")
    b.add_argument("--mirror", default=_env("DEBIAN_MIRROR"),
                   help="Debian mirror for --offline; default: the host's apt sources [FC_EMULATOR_DEBIAN_MIRROR]")
    ls = isub.add_parser("list", help="each runtime's image, whether it is present, and its language version")
    ls.add_argument("runtimes", nargs="*", metavar="RUNTIME", help="default: every runtime")


def _add_triggers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("triggers", help="act on the triggers of a running emulator")
    tsub = p.add_subparsers(dest="triggers_command", required=True)
    f = tsub.add_parser("fire", help="fire a Timer trigger now (an async invocation with FC's timer event)")
    f.add_argument("service")
    f.add_argument("function")
    f.add_argument("trigger")
    f.add_argument("--url", default=records_cli.default_url(),
                   help="the emulator [FC_EMULATOR_URL, else http://127.0.0.1:$FC_EMULATOR_PORT]")
    f.add_argument("--account-id", default=_env("ACCOUNT_ID"),
                   help="the trigger's account; default: the emulator's [FC_EMULATOR_ACCOUNT_ID]")
    records_cli.add_key_flag(f)


def triggers(args: argparse.Namespace) -> int:
    """POST /_emulator/.../fire; prints `fired <requestId>`, or FC's error on stderr (exit 1)."""
    from urllib.parse import quote

    path = (f"/_emulator/services/{quote(args.service, safe='')}/functions/{quote(args.function, safe='')}"
            f"/triggers/{quote(args.trigger, safe='')}/fire")
    try:
        r = records_cli.call(args, "POST", path, timeout=60)
    except records_cli.ApiError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if r.status_code != 200:
        print(records_cli.error_text(r), file=sys.stderr)
        return 1
    print(f"fired {r.json()['requestId']}")
    return 0


def images(args: argparse.Namespace) -> int:
    import docker

    from emulator.execution import images as img

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - no engine, no socket access, ...
        print(f"cannot reach the Docker engine: {exc}", file=sys.stderr)
        return 1
    try:
        if args.images_command == "list":
            runtimes = img.targets(args.runtimes) if args.runtimes else list(img.catalog.RUNTIMES.values())
            print(img.table(img.status(client, runtimes)))
            return 0
        if args.without_builtin_modules:
            os.environ[img.NO_MODULES_ENV] = "1"
        img.build(client, img.targets(args.runtimes), offline=args.offline, if_missing=args.if_missing,
                  mirror=args.mirror, echo=lambda line: print(line, flush=True))
        return 0
    except img.BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()


def _add_interpreter_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--interpreter", action="append", default=[], metavar="RUNTIME=PATH",
                   help="the binary the process backend runs RUNTIME's agent with, e.g. python2.7=/usr/bin/python2.7; "
                        "repeatable [FC_EMULATOR_INTERPRETERS, comma-separated]")


def _interpreter_settings(args: argparse.Namespace) -> dict[str, str]:
    from emulator.execution.interpreters import check_config
    return check_config(parse_pairs(([_env("INTERPRETERS")] if _env("INTERPRETERS") else []) + args.interpreter))


def _add_interpreters(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("interpreters", help="the host interpreters the process backend runs each runtime with")
    isub = p.add_subparsers(dest="interpreters_command", required=True)
    _add_interpreter_flag(isub.add_parser("list", help="per runtime: the binary, its version, exact/nearest/missing"))
    f = isub.add_parser("fetch", help="download the official Node.js binaries of the nodejs runtimes (from npm)")
    f.add_argument("runtimes", nargs="*", metavar="RUNTIME", help="nodejs runtimes (default: all)")


def interpreters(args: argparse.Namespace) -> int:
    from emulator import interpreters_cli
    if args.interpreters_command == "list":
        return interpreters_cli.list_(_interpreter_settings(args))
    return interpreters_cli.fetch(args.runtimes)


def _add_modules(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("modules", help="FC's built-in modules (oss2, raw-body, ...) for the process backend")
    msub = p.add_subparsers(dest="modules_command", required=True)
    i = msub.add_parser("install", help="install the named runtimes' modules (default: all) from PyPI and npm")
    i.add_argument("runtimes", nargs="*", metavar="RUNTIME", help="python and nodejs runtimes (default: all)")
    _add_interpreter_flag(i)
    msub.add_parser("list", help="each runtime's modules, and the sets installed")


def modules(args: argparse.Namespace) -> int:
    from emulator import modules_cli
    if args.modules_command == "list":
        return modules_cli.list_()
    return modules_cli.install(args.runtimes, _interpreter_settings(args))


def settings_from_args(args: argparse.Namespace) -> Settings:
    from_file = read_access_keys_file(args.access_keys_file) if args.access_keys_file else []
    keys = parse_access_keys(([_env("ACCESS_KEYS")] if _env("ACCESS_KEYS") else []) + from_file + args.access_key)
    return Settings(
        host=args.host,
        port=args.port,
        data_dir=Path(args.data_dir),
        public_url=args.public_url,
        access_keys=keys,
        auth=args.auth,
        account_id=args.account_id,
        region=args.region,
        oss_dir=Path(args.oss_dir) if args.oss_dir else None,
        database_url=args.database_url,
        max_code_size=args.max_code_size,
        max_inline_code_size=args.max_inline_code_size,
        max_unzipped_size=args.max_unzipped_size,
        log_level=args.log_level,
        executor=args.executor,
        instance_idle_timeout=args.instance_idle_timeout,
        max_instances=args.max_instances,
        **_standby_settings(args),
        runtime_image=args.runtime_image,
        runtime_images=parse_pairs(([_env("RUNTIME_IMAGES")] if _env("RUNTIME_IMAGES") else []) + args.runtime_images),
        interpreters=_interpreter_settings(args),
        docker_network=args.docker_network,
        docker_remote=args.docker_remote,
        custom_domain_suffix=args.custom_domain_suffix,
        async_workers=args.async_workers,
        async_retry_base_delay=args.async_retry_base_delay,
        records_max_count=args.records_max_count,
        records_max_age=parse_duration(args.records_max_age),
        records_max_log_bytes=args.records_max_log_bytes,
        instance_network=args.instance_network,
        instance_user=args.instance_user,
        debug=tuple(t.strip() for item in ([_env("DEBUG")] if _env("DEBUG") else []) + args.debug
                    for t in item.split(",") if t.strip()),
        metrics=args.metrics,
    )


def _reexec_without_keys() -> None:
    """`--access-key ID:SECRET` is in /proc/<pid>/cmdline, which every local user (and process-backend
    code) can read: start again, same pid, with the keys in the environment instead (readable by our
    own user only)."""
    clean, keys = argv_without_access_keys(sys.argv[1:])
    if not keys:  # an abbreviated flag (--access-k): leave it, rather than loop
        return
    env = dict(os.environ)
    env["FC_EMULATOR_ACCESS_KEYS"] = ",".join(filter(None, [env.get("FC_EMULATOR_ACCESS_KEYS", ""), *keys]))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "emulator", *clean], env)


def serve(settings: Settings) -> None:
    import logging

    import uvicorn

    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from emulator.api.http_protocol import FCHttpToolsProtocol
    from emulator.app import create_app

    _check_port_free(settings.host, settings.port)  # before anything says "serving"
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                access_log=False, server_header=False, date_header=False,
                # uvloop when installed and httptools: half the CPU per request of h11 (header names
                # keep their case through it: api/wire.py)
                loop="auto", http=FCHttpToolsProtocol)


def _check_port_free(host: str, port: int) -> None:
    """Fail at once, with one clear line, when the address is taken (as uvicorn would, but later)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise SystemExit(f"fc-emulator: cannot listen on {host}:{port}: {exc.strerror} "
                             f"(another server uses it? choose --port / FC_EMULATOR_PORT)") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="fc-emulator", description="Alibaba Cloud Function Compute emulator (FC 2.0 and FC 3.0 APIs)")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    _add_images(sub)
    _add_triggers(sub)
    _add_interpreters(sub)
    _add_modules(sub)
    records_cli.add_parsers(sub, _env)
    events_cli.add_parsers(sub, _env)
    for control in (reset_cli, snapshot_cli, clock_cli):  # test control (/_emulator/reset, snapshot, clock)
        control.add_parsers(sub, _env)
    invoke_cli.add_parser(sub, _env)  # fc-emulator invoke / deploy (emulator/devtools/)
    deploy_cli.add_parser(sub, _env)
    args = parser.parse_args(argv)
    if args.command == "invoke":
        sys.exit(invoke_cli.run(args))
    if args.command == "deploy":
        sys.exit(deploy_cli.run(args))
    if args.command == "images":
        sys.exit(images(args))
    if args.command == "triggers":
        sys.exit(triggers(args))
    if args.command == "interpreters":
        try:
            sys.exit(interpreters(args))
        except ValueError as exc:
            parser.error(str(exc))
    if args.command == "modules":
        try:
            sys.exit(modules(args))
        except ValueError as exc:
            parser.error(str(exc))
    if args.command in events_cli.COMMANDS:
        sys.exit(events_cli.run(args))
    for control in (reset_cli, snapshot_cli, clock_cli):
        if args.command in control.COMMANDS:
            sys.exit(control.run(args))
    if args.command in records_cli.COMMANDS:
        sys.exit(records_cli.run(args))
    if args.command == "serve":
        try:
            settings = settings_from_args(args)
        except ValueError as exc:
            parser.error(str(exc))
        if args.access_key and argv is None:
            _reexec_without_keys()
        serve(settings)
    else:  # pragma: no cover - argparse enforces the choices
        parser.print_help()
        sys.exit(2)
