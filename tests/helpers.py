"""Test helpers: start the real server through its CLI, build zips, make SDK clients."""
from __future__ import annotations

import base64
import io
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import fc2
import requests

ROOT = Path(__file__).resolve().parent.parent
AK_ID, AK_SECRET = "test-ak", "test-secret"
_accounts = itertools.count(int(time.time() * 1000) % 10**9 * 1000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`fc-emulator serve` in a child process, on a free port."""

    def __init__(self, data_dir: Path, *args: str, env: dict | None = None):
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self.env = env or {}
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "Server":
        env = {**os.environ, **self.env}
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "emulator", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir), *self.args],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()

    def kill(self) -> None:
        """kill -9: no shutdown handlers run."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def new_account() -> str:
    return str(next(_accounts))


class AccountClient(fc2.Client):
    """aliyun-fc2's Client, sending X-Fc-Account-Id as the Java and Node SDKs always do,
    so tests sharing one emulator stay apart."""

    def __init__(self, account_id: str, **kwargs):
        super().__init__(**kwargs)
        self.account_id = account_id

    def _build_common_headers(self, method, path, customHeaders={}, unescaped_queries=None):
        headers = {"x-fc-account-id": self.account_id, **(customHeaders or {})}
        return super()._build_common_headers(method, path, headers, unescaped_queries)


def fc_client(server: Server, account: str, ak: str = AK_ID, secret: str = AK_SECRET) -> AccountClient:
    return AccountClient(account, endpoint=server.url, accessKeyID=ak, accessKeySecret=secret, Timeout=60)


def make_zip(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return buf.getvalue()


def zip_b64(files: dict[str, str | bytes]) -> str:
    return base64.b64encode(make_zip(files)).decode()


HELLO_PY = {"index.py": "def handler(event, context):\n    return 'hello world'\n"}


def fc_error(exc_info) -> dict:
    """The JSON body of an aliyun-fc2 FcError: {"ErrorCode", "ErrorMessage", "RequestId"}."""
    import json
    return json.loads(exc_info.value.message)


# A per-runtime image with Python 3.11 both online (python:3.11-slim-bookworm) and offline (bookworm's
# python3): the base of the compose test's emulator image (host-built wheels need the same minor) and
# of the custom-container test image.
RUNTIME_IMAGE = os.environ.get("FC_EMULATOR_TEST_BASE_IMAGE", "fc-emulator/custom.debian12:latest")


def docker_images_needed() -> list[str]:
    """The runtime images the Docker variants use: every runnable runtime's (scripts/test builds them)."""
    from emulator.execution import images
    return sorted({rt.image for rt in images.default_runtimes()} | {RUNTIME_IMAGE})


def docker_problem() -> str | None:
    """Why the Docker backend can't be tested here, or None."""
    try:
        import docker
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "no Docker"
        return f"no engine: {exc}"
    try:
        have = {tag for image in client.images.list(name="fc-emulator/*") for tag in image.tags}
    finally:
        client.close()
    missing = [image for image in docker_images_needed() if image not in have]
    if missing:
        return f"runtime images missing: {', '.join(missing)} (fc-emulator images build --offline --if-missing)"
    return None


# ---- execution tests -----------------------------------------------------------------------------

def write_zip(directory: Path, files: dict[str, str | bytes], executable: tuple[str, ...] = ()) -> str:
    """A code package on disk (for codeZipFile); names in `executable` get mode 0755."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100755 if name in executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    path = Path(directory) / f"code-{next(_accounts)}.zip"
    path.write_bytes(buf.getvalue())
    return str(path)


def deploy(client, directory: Path, files: dict, *, service: str = "svc", name: str = "fn",
           runtime: str = "python3.10", handler: str = "index.handler", executable: tuple[str, ...] = (),
           **kwargs) -> str:
    """Create the service (once) and a function from `files`; returns the function name."""
    import fc2.fc_exceptions
    try:
        client.create_service(service)
    except fc2.fc_exceptions.FcError as exc:
        if exc.err_code != "ServiceAlreadyExists":
            raise
    kwargs.setdefault("memorySize", 128)
    kwargs.setdefault("timeout", 10)
    client.create_function(service, name, runtime, handler,
                           codeZipFile=write_zip(directory, files, executable), **kwargs)
    return name


def invoke_error(client, *args, **kwargs):
    """Invoke expecting a function error (aliyun-fc2 raises FcError): (status, error JSON)."""
    import json
    import fc2.fc_exceptions
    try:
        client.invoke_function(*args, **kwargs)
    except fc2.fc_exceptions.FcError as exc:
        return exc.status_code, json.loads(exc.message)
    raise AssertionError("the invocation succeeded")


# ---- async invocations ---------------------------------------------------------------------------

def async_server(directory: Path, backend: str, *args: str) -> Server:
    """An emulator on `backend` with a short async retry back-off (0.1 s, 0.2 s, ...)."""
    return Server(directory, "--executor", backend, "--async-retry-base-delay", "0.1", "--instance-idle-timeout", "30",
                  "--access-key", f"{AK_ID}:{AK_SECRET}", *args).start()


def invoke_async(client, service: str, function: str, payload: bytes = b"", task_id: str | None = None,
                 qualifier: str | None = None):
    """InvokeFunction with X-Fc-Invocation-Type: Async (and a stateful invocation id) through aliyun-fc2."""
    headers = {"x-fc-invocation-type": "Async"}
    if task_id:
        headers["x-fc-stateful-async-invocation-id"] = task_id
    return client.invoke_function(service, function, payload=payload, headers=headers, qualifier=qualifier)


def wait_async_idle(server: Server, timeout: float = 60) -> dict:
    r = requests.post(server.url + f"/_emulator/wait-idle?timeout={timeout}")
    assert r.status_code == 200, r.text
    return r.json()


def stateful_task(server: Server, account: str, service: str, function: str, task_id: str) -> dict:
    r = requests.get(server.url + f"/2016-08-15/services/{service}/functions/{function}/stateful-async-invocations/"
                     f"{task_id}", headers={"X-Fc-Account-Id": account})
    assert r.status_code == 200, r.text
    return r.json()


def runtime_server(backend: str, tmp_path_factory, name: str, *extra: str) -> Server:
    """A started emulator on `backend` for one runtime's tests (configured key, instances kept 60 s)."""
    args = ["--executor", backend, "--instance-idle-timeout", "60", "--access-key", f"{AK_ID}:{AK_SECRET}", *extra]
    return Server(tmp_path_factory.mktemp(f"{name}-{backend}") / "fc", *args).start()


def invoke_with_tail(server: Server, account: str, payload: bytes, fn: str = "fn",
                     service: str = "svc") -> requests.Response:
    """InvokeFunction over plain HTTP, asking for the log tail."""
    return requests.post(f"{server.url}/2016-08-15/services/{service}/functions/{fn}/invocations", data=payload,
                         headers={"X-Fc-Account-Id": account, "X-Fc-Log-Type": "Tail"}, timeout=60)


def log_tail(r: requests.Response) -> str:
    return base64.b64decode(r.headers["X-Fc-Log-Result"]).decode()
