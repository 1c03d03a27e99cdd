"""Hardening (issue 12 items 3-6): symbolic links in code zips, Content-MD5 in strict mode, /_emulator in
strict mode, /health, and what process-backend code can read of the emulator's secrets."""
from __future__ import annotations

import base64
import email.utils
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
import requests

from emulator.api.auth import fc_sign, fc_string_to_sign
from emulator.config import Settings
from emulator.execution.artifacts import merge_tree
from emulator.store.code import CodeStore
from tests.helpers import HELLO_PY, ROOT, Server, fc_client, fc_error, new_account

STRICT_KEY, STRICT_SECRET = "sec-ak", "sec-sk-0123456789"


def link_zip(entries: list[tuple[str, str | bytes, bool]]) -> bytes:
    """A zip of (name, content, is_link) entries; links carry their target as content, as `zip -y` does."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content, is_link in entries:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = ((stat.S_IFLNK | 0o777) if is_link else (stat.S_IFREG | 0o644)) << 16
            zf.writestr(info, content)
    return buf.getvalue()


INDEX = ("index.py", HELLO_PY["index.py"], False)


def create(http_session, server: Server, svc: str, fn: str, data: bytes, runtime: str = "python3.9",
           handler: str = "index.handler") -> requests.Response:
    return http_session.post(f"{server.url}/2016-08-15/services/{svc}/functions", json={
        "functionName": fn, "runtime": runtime, "handler": handler,
        "code": {"zipFile": base64.b64encode(data).decode()}})


def code_files(server: Server) -> set[str]:
    return {p.name for p in (server.data_dir / "code").glob("*.zip")}


# ---- 3. symbolic links in code packages ---------------------------------------------------------------

@pytest.mark.parametrize("entries, message", [
    ([INDEX, ("d", "/tmp", True), ("d/pwned.txt", "x", False)],
     "the symbolic link 'd' points outside the code folder"),
    ([INDEX, ("d", "../../../../tmp", True)], "the symbolic link 'd' points outside the code folder"),
    # a link may stay inside lexically and still leave through another link: a/b/c/p is the root
    ([INDEX, ("a/b/c/p", "../../..", True), ("q", "a/b/c/p/..", True)],
     "the symbolic link 'q' points outside the code folder"),
    # a link inside the package is kept, but nothing may be unpacked through it
    ([INDEX, ("sub/keep.txt", "k", False), ("d", "sub", True), ("d/pwned.txt", "x", False)],
     "entry 'd/pwned.txt' lies under the symbolic link 'd'"),
    ([INDEX, ("d", "sub", True), ("d", "x", False)], "entry 'd' has the same path as the symbolic link 'd'"),
])
def test_zip_with_unsafe_link_is_refused(server, http, account, entries, message):
    http.post(server.url + "/2016-08-15/services", json={"serviceName": "links"}).raise_for_status()
    before = code_files(server)
    r = create(http, server, "links", "f", link_zip(entries))
    assert r.status_code == 400, r.text
    assert r.json()["ErrorCode"] == "InvalidArgument"
    assert r.json()["ErrorMessage"] == f"code package is invalid: {message}"
    assert http.get(server.url + "/2016-08-15/services/links/functions").json()["functions"] == []
    assert code_files(server) == before
    # a layer is the same kind of package
    r = http.post(server.url + "/2016-08-15/layers/bad-links/versions",
                  json={"code": {"zipFile": base64.b64encode(link_zip(entries)).decode()},
                        "compatibleRuntime": ["python3.9"]})
    assert r.status_code == 400 and r.json()["ErrorMessage"] == f"code package is invalid: {message}"
    assert http.get(server.url + "/2016-08-15/layers").json()["layers"] == []


def test_links_inside_the_package_stay_links(efc, exec_server):
    """node_modules/.bin style links are kept as links and work in the instance, on both backends."""
    index = ("import os\n"
             "def handler(event, context):\n"
             "    return '%s %s' % (os.path.islink('bin/tool'), open('bin/tool').read())\n")
    data = link_zip([("index.py", index, False), ("pkg/cli.txt", "the tool", False),
                     ("bin/tool", "../pkg/cli.txt", True)])
    efc.create_service("links-ok")
    fn = efc.create_function("links-ok", "f", handler="index.handler", runtime="python3.9",
                             codeZipFile=_write(data)).data
    assert fn["codeSize"] == len(data)
    assert efc.invoke_function("links-ok", "f").data == b"True the tool"


def _write(data: bytes) -> str:
    fd, path = tempfile.mkstemp(suffix=".zip")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def test_unpacking_a_stored_package_never_writes_through_a_link(tmp_path):
    """A package stored before uploads were checked: unpacking skips what would go through a link,
    and files lose set-id bits."""
    outside = tmp_path / "outside"
    outside.mkdir()
    store = CodeStore(Settings(data_dir=tmp_path / "data"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content, mode in [("d", str(outside), stat.S_IFLNK | 0o777), ("d/pwned.txt", "x", 0o100644),
                                    ("e", "inside.txt", stat.S_IFLNK | 0o777), ("e", "through", 0o100644),
                                    ("tool", "#!/bin/sh\n", 0o104755)]:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zf.writestr(info, content)
    checksum, _ = store.put(buf.getvalue())
    unpacked = store.extract(checksum)
    assert list(outside.iterdir()) == []
    assert os.readlink(unpacked / "d") == str(outside) and os.readlink(unpacked / "e") == "inside.txt"
    assert not (tmp_path / "data" / "code" / "unpacked" / checksum / "inside.txt").exists()
    assert stat.S_IMODE((unpacked / "tool").stat().st_mode) == 0o755


def test_merging_layers_never_writes_through_a_link(tmp_path):
    """Layers merge into /opt with the first-listed winning; a link in one never carries another's files."""
    outside, first, second, merged = (tmp_path / n for n in ("outside", "first", "second", "merged"))
    for d in (outside, first / "python", second / "lib", merged):
        d.mkdir(parents=True)
    os.symlink(str(outside), first / "lib")
    (first / "python" / "a.py").write_text("first")
    (second / "lib" / "x.so").write_text("x")
    (second / "python").mkdir()
    (second / "python" / "a.py").write_text("second")
    (second / "python" / "b.py").write_text("second")
    merge_tree(first, merged)
    merge_tree(second, merged)
    assert list(outside.iterdir()) == []
    assert os.readlink(merged / "lib") == str(outside)
    assert (merged / "python" / "a.py").read_text() == "first"
    assert (merged / "python" / "b.py").read_text() == "second"


# ---- 4 and 5: strict mode -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    base = tmp_path_factory.mktemp("strict-sec")
    keys = base / "keys"
    keys.write_text(f"# the emulator's keys\n{STRICT_KEY}:{STRICT_SECRET}\n")
    srv = Server(base / "d", "--auth", "strict", "--access-keys-file", str(keys), "--executor", "process").start()
    yield srv
    srv.stop()


def signed(method: str, path: str, body: bytes = b"", md5: str | None = None, account: str = "") -> dict:
    headers = {"Date": email.utils.formatdate(usegmt=True), "Content-Type": "application/json"}
    if md5 is not None:
        headers["Content-MD5"] = md5
    if account:
        headers["X-Fc-Account-Id"] = account
    low = {k.lower(): v for k, v in headers.items()}
    fc = "".join(f"{k}:{v}\n" for k, v in sorted(low.items()) if k.startswith("x-fc-"))
    headers["Authorization"] = f"FC {STRICT_KEY}:{fc_sign(STRICT_SECRET, fc_string_to_sign(method, low, fc, path))}"
    return headers


def services(server: Server, account: str) -> list[str]:
    r = requests.get(server.url + "/2016-08-15/services", headers=signed("GET", "/2016-08-15/services",
                                                                          account=account))
    assert r.status_code == 200, r.text
    return [s["serviceName"] for s in r.json()["services"]]


def test_strict_content_md5_must_match_the_body(strict):
    account = new_account()
    path = "/2016-08-15/services"
    signed_body = json.dumps({"serviceName": "signed"}).encode()
    sent_body = json.dumps({"serviceName": "swapped"}).encode()
    digest = hashlib.md5(signed_body)
    for md5 in (digest.hexdigest(), base64.b64encode(digest.digest()).decode(),
                base64.b64encode(digest.hexdigest().encode()).decode()):
        r = requests.post(strict.url + path, data=sent_body, headers=signed("POST", path, sent_body, md5, account))
        assert r.status_code == 400, r.text
        assert r.json()["ErrorCode"] == "InvalidArgument"
        assert r.json()["ErrorMessage"].startswith("the Content-MD5 header does not match the MD5 of the request body")
    assert services(strict, account) == []
    # the three encodings FC's SDKs send (Go hex, Java Base64, Node Base64 of hex) all pass with the right body
    for i, md5 in enumerate((digest.hexdigest().upper(), base64.b64encode(digest.digest()).decode(),
                             base64.b64encode(digest.hexdigest().encode()).decode())):
        body = json.dumps({"serviceName": f"signed{i}"}).encode()
        d = hashlib.md5(body)
        md5 = [d.hexdigest().upper(), base64.b64encode(d.digest()).decode(),
               base64.b64encode(d.hexdigest().encode()).decode()][i]
        r = requests.post(strict.url + path, data=body, headers=signed("POST", path, body, md5, account))
        assert r.status_code == 200, r.text
    assert services(strict, account) == ["signed0", "signed1", "signed2"]


EMULATOR_ROUTES = [
    ("GET", "/_emulator/invocations"),
    ("GET", "/_emulator/invocations/some-request-id"),
    ("POST", "/_emulator/wait-idle"),
    ("GET", "/_emulator/destinations"),
    ("POST", "/_emulator/events/oss"),
    ("POST", "/_emulator/services/s/functions/f/triggers/t/fire"),
    ("GET", "/_emulator/standby"),
    ("GET", "/_emulator/dashboard"),
]


@pytest.mark.parametrize("method, path", EMULATOR_ROUTES)
def test_strict_emulator_routes_need_a_signature(strict, method, path):
    r = requests.request(method, strict.url + path, json={"bucket": "b", "key": "k"})
    assert r.status_code == 403, r.text
    assert r.json()["ErrorCode"] == "AccessDenied"
    assert "not signed" in r.json()["ErrorMessage"]
    r = requests.request(method, strict.url + path, headers={"Authorization": "FC ghost:abc",
                                                              "Date": email.utils.formatdate(usegmt=True)})
    assert r.status_code == 403 and r.json()["ErrorCode"] == "InvalidAccessKeyID"
    body = json.dumps({"bucket": "b", "key": "k"}).encode()
    r = requests.request(method, strict.url + path, data=body, headers=signed(method, path, body))
    assert r.status_code != 403, r.text
    assert r.status_code < 500, r.text
    if path in ("/_emulator/invocations", "/_emulator/wait-idle", "/_emulator/destinations", "/_emulator/events/oss",
                "/_emulator/standby", "/_emulator/dashboard"):
        assert r.status_code == 200, r.text
    elif path.endswith("/fire"):
        assert r.json()["ErrorCode"] == "TriggerNotFound"


def test_default_mode_emulator_routes_stay_open(server, account):
    r = requests.get(server.url + "/_emulator/invocations", headers={"X-Fc-Account-Id": account})
    assert r.status_code == 200 and r.json()["invocations"] == []


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FC_EMULATOR_")}
    return subprocess.run([sys.executable, "-m", "emulator", *args], cwd=ROOT, env={**clean, **(env or {})},
                          capture_output=True, text=True, timeout=120)


def test_cli_signs_for_a_strict_emulator(strict):
    account = new_account()
    base = ["--url", strict.url, "--account-id", account]
    r = cli("invocations", *base)
    assert r.returncode == 1 and "403 AccessDenied" in r.stderr
    key_env = {"FC_EMULATOR_ACCESS_KEY_ID": STRICT_KEY, "FC_EMULATOR_ACCESS_KEY_SECRET": STRICT_SECRET}
    r = cli("invocations", *base, env=key_env)
    assert r.returncode == 0, r.stderr
    assert "no invocations recorded" in r.stderr
    r = cli("events", "put", "oss", "--bucket", "b", "--key", "k", *base, env=key_env)
    assert r.returncode == 0 and "no oss trigger matched" in r.stderr, r.stderr
    r = cli("events", "put", "oss", "--bucket", "b", "--key", "k", *base)
    assert r.returncode == 1 and "403 AccessDenied" in r.stderr
    r = cli("triggers", "fire", "s", "f", "t", *base, "--access-key", f"{STRICT_KEY}:{STRICT_SECRET}")
    assert r.returncode == 1 and "404 TriggerNotFound" in r.stderr, r.stderr
    r = cli("triggers", "fire", "s", "f", "t", *base, "--access-key", f"{STRICT_KEY}:wrong")
    assert r.returncode == 1 and "403 SignatureNotMatch" in r.stderr, r.stderr
    r = cli("logs", "s", "f", *base, env={"FC_EMULATOR_ACCESS_KEYS": f"{STRICT_KEY}:{STRICT_SECRET}"})
    assert r.returncode == 0 and "no invocations of s/f recorded" in r.stderr, r.stderr


def test_health_shows_no_path(server, strict):
    for srv in (server, strict):
        r = requests.get(srv.url + "/health")
        assert r.status_code == 200
        body = r.json()
        assert body["status"] == "ok" and set(body) == {"status", "version", "auth"}
        assert str(srv.data_dir) not in r.text and "/" not in json.dumps(body)


# ---- 6. what process-backend code can read ------------------------------------------------------------

PROBE_JS = """
const fs = require('fs');
exports.handler = (event, context, callback) => {
  const req = JSON.parse(event.toString());
  const out = {uid: process.getuid(), env: process.env, read: {}};
  for (const [name, path] of Object.entries(req.read)) {
    try { out.read[name] = fs.readFileSync(path).toString('latin1'); } catch (e) { out.read[name] = 'ERR ' + e.code; }
  }
  try { out.listing = fs.readdirSync(req.dataDir); } catch (e) { out.listing = 'ERR ' + e.code; }
  try { fs.writeFileSync(req.dataDir + '/fc.db', 'x', {flag: 'a'}); out.wrote = true; } catch (e) { out.wrote = 'ERR ' + e.code; }
  callback(null, JSON.stringify(out));
};
"""
SECRET = "argv-secret-5f3a"


@pytest.fixture(scope="module")
def exposed():
    """A process-backend emulator whose data dir others may enter (as on a machine where it is not
    under a private home), its key given the worst way: on the command line."""
    if not shutil.which("node"):
        pytest.skip("needs node on PATH (a Node.js that any user can run)")
    base = Path(tempfile.mkdtemp(prefix="fc-security-"))
    base.chmod(0o711)
    # node and FC's built-in modules from folders any user can enter (a cache under a 0700 /root is not)
    srv = Server(base / "data", "--executor", "process", "--auth", "strict", "--access-key", f"ak:{SECRET}",
                 "--interpreter", f"nodejs20={shutil.which('node')}",
                 env={"FC_EMULATOR_MODULES_DIR": str(base / "no-modules")}).start()
    yield srv
    srv.stop()
    shutil.rmtree(base, ignore_errors=True)


def probe(srv: Server, account: str | None = None) -> dict:
    account = account or new_account()
    c = fc_client(srv, account, "ak", SECRET)
    c.create_service("probe")
    from tests.helpers import zip_b64
    c.create_function("probe", "read", handler="index.handler", runtime="nodejs20",
                      codeZipFile=_write(base64.b64decode(zip_b64({"index.js": PROBE_JS}))))
    pid = srv.proc.pid
    data = srv.data_dir
    read = {"db": data / "fc.db", "wal": data / "fc.db-wal", "key": data / "url-signing.key",
            "cmdline": f"/proc/{pid}/cmdline", "environ": f"/proc/{pid}/environ"}
    payload = json.dumps({"read": {k: str(v) for k, v in read.items()}, "dataDir": str(data)})
    return json.loads(c.invoke_function("probe", "read", payload=payload).data)


def test_secrets_stay_out_of_argv_and_the_instance_environment(exposed):
    out = probe(exposed)
    cmdline = out["read"]["cmdline"]
    assert "serve" in cmdline and SECRET not in cmdline and "--access-key" not in cmdline
    assert SECRET not in json.dumps(out["env"])
    assert not [k for k in out["env"] if k.startswith("FC_EMULATOR_ACCESS")]
    assert out["env"]["HOME"].startswith(str(exposed.data_dir))  # its own tmp, not the emulator's home


def test_instances_cannot_read_the_data_dir_secrets(exposed):
    if os.geteuid() != 0:
        pytest.skip("instances run as another user only when the emulator runs as root")
    out = probe(exposed)
    assert out["uid"] != 0
    assert out["read"]["db"] == "ERR EACCES" and out["read"]["key"] == "ERR EACCES"
    assert out["read"]["wal"] in ("ERR EACCES", "ERR ENOENT")
    assert out["read"]["environ"] == "ERR EACCES"
    assert out["listing"] == "ERR EACCES" and out["wrote"] == "ERR EACCES"
    for name in ("fc.db", "url-signing.key"):
        assert stat.S_IMODE((exposed.data_dir / name).stat().st_mode) == 0o600
    assert "instances run as user fc-emulator-fn" in exposed.log()
    # InstanceExec runs as the instance's user too
    account = new_account()
    probe(exposed, account)
    c = fc_client(exposed, account, "ak", SECRET)
    [inst] = c.list_instances("probe", "LATEST", "read").data["instances"]
    out_, err_, errors_ = [], [], []
    ws = c.instance_exec("probe", "LATEST", "read", inst["instanceId"],
                         params={"command": ["sh", "-c", f"id -u; cat {exposed.data_dir}/fc.db"], "stdout": True,
                                 "stderr": True},
                         hooks={"on_stdout": lambda w, m: out_.append(m), "on_stderr": lambda w, m: err_.append(m),
                                "on_error": lambda w, e: errors_.append(e)})
    ws.start()
    assert "".join(out_).strip() == str(out["uid"])
    assert "Permission denied" in "".join(err_)
    # the database was not touched: the emulator still reads it
    assert fc_client(exposed, new_account(), "ak", SECRET).list_services().data["services"] == []
