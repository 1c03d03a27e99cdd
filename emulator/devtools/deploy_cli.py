"""`fc-emulator deploy [FILE] [--watch]`: create or update every resource of an s.yaml or a template.yml on a
running emulator (deploy_spec.py reads the file), one line per resource, with the HTTP trigger URLs.

Idempotent: each resource is created, and updated when it already exists (FC's 409 *AlreadyExists). Code from a
local folder is zipped and uploaded; with --watch the function gets the folder itself (hot reload:
`code.ossBucketName: local`), so every change is live within a second. An emulator that cannot see the folder (it
runs in a container) refuses that: then this command watches the folder and uploads a new zip on every change.
--watch also redeploys when the file itself changes; Ctrl-C stops it."""
from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from emulator.devtools.client import ApiError, Client, add_flags
from emulator.devtools.deploy_spec import Plan, SpecError, Step, load
from emulator.store.local_code import LOCAL_BUCKET, zip_folder

DEFAULT_FILES = ("s.yaml", "s.yml", "template.yml", "template.yaml")


def add_parser(sub: argparse._SubParsersAction, env) -> None:
    p = sub.add_parser("deploy", help="deploy an s.yaml (Serverless Devs fc/fc3) or template.yml (funcraft) to a "
                                      "running emulator; idempotent")
    p.add_argument("file", nargs="?", default=None,
                   help=f"default: the first of {', '.join(DEFAULT_FILES)} in the current folder")
    p.add_argument("--watch", "-w", action="store_true",
                   help="keep functions in sync with their code folders (hot reload) and the file; Ctrl-C stops")
    add_flags(p, env)


def _find(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    for name in DEFAULT_FILES:
        if Path(name).is_file():
            return Path(name)
    raise SpecError(f"no {' / '.join(DEFAULT_FILES)} here: name the file to deploy")


def _shown(path: Path) -> str:
    try:
        return "./" + str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class Deployer:
    def __init__(self, client: Client, watch: bool):
        self.client = client
        self.watch = watch
        self.zipped_folders: dict[Path, list[Step]] = {}  # --watch, when the emulator cannot see a folder

    def _code(self, step: Step, local: bool) -> tuple[dict, str]:
        path = step.code
        if path.is_file():
            return {"zipFile": base64.b64encode(path.read_bytes()).decode()}, f"{_shown(path)}, uploaded"
        if not path.is_dir():
            raise SpecError(f"{step.label}: the code path {_shown(path)} does not exist")
        if local:
            return {"ossBucketName": LOCAL_BUCKET, "ossObjectName": str(path)}, f"{_shown(path)}, live: hot reload"
        data = zip_folder(path)
        return {"zipFile": base64.b64encode(data).decode()}, f"{_shown(path)}, {len(data) / 1024:.1f} KB zipped"

    def _send(self, step: Step, body: dict):
        try:
            return "created", self.client.request("POST", step.create_path, body=body)
        except ApiError as exc:
            if exc.status != 409:
                raise
        update = {k: v for k, v in body.items() if k not in step.name_fields}
        if step.update_only is not None:
            update = {k: v for k, v in update.items() if k in step.update_only}
        return "updated", self.client.request("PUT", step.update_path, body=update)

    def apply(self, step: Step) -> str:
        body = dict(step.body)
        if step.kind == "trigger3" and isinstance(body.get("triggerConfig"), dict):
            body["triggerConfig"] = json.dumps(body["triggerConfig"])  # FC 3.0 carries it as a string
        note = ""
        if step.code is not None:
            local = self.watch and step.code.is_dir() and step.code not in self.zipped_folders
            body["code"], note = self._code(step, local)
            try:
                action, r = self._send(step, body)
            except ApiError as exc:
                if not (local and exc.code == "InvalidArgument"):
                    raise
                self.zipped_folders.setdefault(step.code, []).append(step)  # the emulator cannot see it: zip
                body["code"], note = self._code(step, False)
                note += ", re-uploaded on change"
                action, r = self._send(step, body)
        else:
            action, r = self._send(step, body)
        line = f"{step.label}: {action}" + (f" ({note})" if note else "")
        url = self._url(step, r)
        return line + (f"\n    {url}" if url else "")

    def _url(self, step: Step, r) -> str:
        try:
            out = r.json()
        except ValueError:
            return ""
        if step.kind == "trigger" and out.get("triggerType") == "http":
            return out.get("urlInternet", "")
        if step.kind == "trigger3" and out.get("triggerType") == "http":
            return (out.get("httpTrigger") or {}).get("urlInternet", "")
        if step.kind == "custom domain":
            netloc = urlsplit(self.client.url).netloc
            port = f":{netloc.rsplit(':', 1)[1]}" if ":" in netloc else ""
            return f"http://{step.body['domainName']}.localhost{port}/  (or Host: {step.body['domainName']})"
        return ""

    def deploy(self, plan: Plan) -> int:
        failed = 0
        for line in plan.skipped:
            print(f"skipped {line}")
        for step in plan.steps:
            try:
                print(self.apply(step), flush=True)
            except (ApiError, SpecError, OSError) as exc:
                print(f"{step.label}: failed: {exc}", flush=True)
                failed += 1
        return failed


def run(args: argparse.Namespace) -> int:
    try:
        path = _find(args.file).resolve()
        plan = load(path)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    client = Client(args)
    deployer = Deployer(client, args.watch)
    try:
        failed = deployer.deploy(plan)
        if not args.watch:
            return 1 if failed else 0
        return _watch(path, deployer)
    except KeyboardInterrupt:
        return 0
    finally:
        client.close()


def _watch(path: Path, deployer: Deployer) -> int:
    """Redeploy on a change of the file; upload a new zip of a folder the emulator could not watch itself."""
    from watchfiles import watch

    from emulator.execution.hot_reload import CodeFilter

    print(f"watching {_shown(path)}" + "".join(f", {_shown(f)}" for f in deployer.zipped_folders)
          + " (Ctrl-C to stop)", flush=True)
    code_filter = CodeFilter()
    for changes in watch(path.parent, *deployer.zipped_folders, debounce=200, step=50,
                         watch_filter=lambda change, p: code_filter(change, p)):
        changed = {Path(p) for _, p in changes}
        stamp = time.strftime("%H:%M:%S")
        if path in changed:
            try:
                plan = load(path)
            except SpecError as exc:
                print(f"[{stamp}] {exc}", flush=True)
                continue
            print(f"[{stamp}] {_shown(path)} changed: deploying", flush=True)
            deployer.deploy(plan)
            continue
        for folder, steps in deployer.zipped_folders.items():
            if any(p == folder or folder in p.parents for p in changed):
                for step in steps:
                    try:
                        print(f"[{stamp}] {deployer.apply(step)}", flush=True)
                    except (ApiError, SpecError, OSError) as exc:
                        print(f"[{stamp}] {step.label}: failed: {exc}", flush=True)
    return 0
