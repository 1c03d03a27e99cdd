"""The process backend's interpreter for each runtime (issue 8): a configured one wins, else the exact
version (PATH, pyenv; a pyenv shim that does not run is passed over), else the nearest version, said
once in the instance's log, else 412 FunctionNotStarted naming what to install. And
`fc-emulator interpreters list | fetch`. Servers run with a PATH and pyenv root of the test's making.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fc2.fc_exceptions import FcError

from emulator.execution import toolchains
from emulator.execution.interpreters import EXACT, Interpreters
from tests.helpers import AK_ID, AK_SECRET, ROOT, Server, deploy, fc_client, new_account
from tests.test_python_versions import VERSION_PY, invoke_tail

NODE_VERSION_JS = """
exports.handler = function (event, context, callback) { callback(null, process.versions.node); };
"""


def _exact(runtime: str) -> str:
    found = Interpreters().lookup(runtime)
    if found.status != EXACT:
        message = f"{runtime}: no exact interpreter on this host"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found.path


def _python_dir(version: str) -> Path:
    """A real pyenv-style version folder of Python `version` (X.Y) on this host."""
    return Path(_exact(f"python{version}")).parent.parent


def _server(tmp_path: Path, *args: str, env: dict | None = None) -> Server:
    return Server(tmp_path / "fc", "--executor", "process", "--access-key", f"{AK_ID}:{AK_SECRET}", *args,
                  env=env).start()


@pytest.fixture
def empty_bin(tmp_path) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    return d


def _pyenv_root(tmp_path: Path, *versions: str) -> Path:
    """A pyenv root holding only `versions` (links to this host's real ones)."""
    root = tmp_path / "pyenv"
    (root / "versions").mkdir(parents=True)
    for v in versions:
        real = _python_dir(v)
        (root / "versions" / real.name).symlink_to(real)
    return root


def test_configured_interpreter_wins(tmp_path):
    """--interpreter and FC_EMULATOR_INTERPRETERS point a runtime at a binary, whatever its version."""
    py310, py37 = _exact("python3.10"), _exact("python3.7")
    srv = _server(tmp_path, "--interpreter", f"python3.9={py310}", env={"FC_EMULATOR_INTERPRETERS": f"python3.8={py37}"})
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.py": VERSION_PY}, name="a", runtime="python3.9")
        deploy(client, tmp_path, {"index.py": VERSION_PY}, name="b", runtime="python3.8")
        r, log = invoke_tail(client, srv, "a")
        assert r.content == b"3.10"
        assert " runs on " not in log  # the user chose it: no nearest-version notice
        assert invoke_tail(client, srv, "b")[0].content == b"3.7"
    finally:
        srv.stop()


def test_failing_shim_on_path_is_passed_over(tmp_path, empty_bin):
    """A pyenv shim is on PATH whether or not its version is selected: the lookup runs it first."""
    shim = empty_bin / "python3.6"
    shim.write_text("#!/bin/sh\necho \"pyenv: python3.6: command not found\" >&2\nexit 127\n")
    shim.chmod(0o755)
    root = _pyenv_root(tmp_path, "3.6")
    srv = _server(tmp_path, env={"PATH": str(empty_bin), "PYENV_ROOT": str(root)})
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.py": VERSION_PY}, name="v", runtime="python3.6")
        r, log = invoke_tail(client, srv, "v")
        assert r.content == b"3.6" and " runs on " not in log
    finally:
        srv.stop()


def test_nearest_python_says_so_once(tmp_path, empty_bin):
    root = _pyenv_root(tmp_path, "3.9")
    real = Interpreters().lookup("python3.9").version
    srv = _server(tmp_path, env={"PATH": str(empty_bin), "PYENV_ROOT": str(root)})
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.py": VERSION_PY}, name="v", runtime="python3.6")
        first, log1 = invoke_tail(client, srv, "v")
        second, log2 = invoke_tail(client, srv, "v")
        assert first.content == second.content == b"3.9"
        assert first.headers["X-Fc-Instance-Id"] == second.headers["X-Fc-Instance-Id"]
        notice = (f"fc-emulator: python3.6 runs on Python {real} here "
                  f"(no python3.6 found; --interpreter python3.6=PATH sets one)")
        assert log1.splitlines().count(notice) == 1, log1
        assert " runs on " not in log2, log2
    finally:
        srv.stop()


def test_nearest_node_says_so_once(tmp_path, empty_bin):
    """No Node 14 cached or on PATH: nodejs14 runs on the `node` there is, and says so."""
    node = shutil.which("node") or toolchains.node_binary(20)
    if not node:
        pytest.skip("no node on this host")
    (empty_bin / "node").symlink_to(node)
    version = subprocess.run([node, "-p", "process.versions.node"], capture_output=True, text=True).stdout.strip()
    if version.startswith("14."):
        pytest.skip("the host's node is Node 14")
    srv = _server(tmp_path, env={"PATH": str(empty_bin), "FC_EMULATOR_TOOLCHAINS_DIR": str(tmp_path / "none")})
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.js": NODE_VERSION_JS}, name="n", runtime="nodejs14")
        r, log = invoke_tail(client, srv, "n")
        assert r.content.decode() == version
        notice = (f"fc-emulator: nodejs14 runs on Node.js {version} here (no Node.js 14 found; "
                  f"`fc-emulator interpreters fetch nodejs14` or --interpreter nodejs14=PATH sets one)")
        assert log.splitlines().count(notice) == 1, log
    finally:
        srv.stop()


def _assert_412(client, function: str, *needles: str, data_dir: Path) -> str:
    with pytest.raises(FcError) as exc:
        client.invoke_function("svc", function, payload=b"x")
    assert exc.value.status_code == 412
    assert exc.value.err_code == "FunctionNotStarted"
    message = exc.value.message
    for needle in needles:
        assert needle in message, message
    assert str(data_dir) not in message and "/tmp/" not in message, message  # no host path
    return message


def test_missing_interpreter_fails_at_once_with_412(tmp_path, empty_bin):
    root = tmp_path / "no-pyenv"
    (root / "versions").mkdir(parents=True)
    srv = _server(tmp_path, "--interpreter", f"python3.9={tmp_path}/nope/python3.9",
                  env={"PATH": str(empty_bin), "PYENV_ROOT": str(root)})
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.py": VERSION_PY}, name="py27", runtime="python2.7")
        deploy(client, tmp_path, {"index.py": VERSION_PY}, name="py39", runtime="python3.9")
        _assert_412(client, "py27", "'python2.7'", "Python 2.7", "pyenv install 2.7", "--interpreter python2.7=PATH",
                    "FC_EMULATOR_INTERPRETERS", "Python 3 cannot run Python 2 code", data_dir=srv.data_dir)
        # a configured interpreter that can't run is not replaced by another: the setting is named, not its path
        _assert_412(client, "py39", "'python3.9'", "--interpreter python3.9=PATH", "Python 3.9 binary",
                    data_dir=srv.data_dir)
        assert "--interpreter python3.9=" in srv.log()  # the server log names the path tried
    finally:
        srv.stop()


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emulator", "interpreters", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def test_interpreters_list(tmp_path, empty_bin):
    root = _pyenv_root(tmp_path, "3.9", "2.7")
    out = _cli("list", "--interpreter", "python3.10=/nonexistent/python",
               env={"PATH": str(empty_bin), "PYENV_ROOT": str(root), "FC_EMULATOR_TOOLCHAINS_DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:]}
    py39 = Interpreters().lookup("python3.9")
    assert rows["python2.7"][1:3] == ["exact", Interpreters().lookup("python2.7").version]
    assert rows["python3.9"][1:4] == ["exact", py39.version, str(root / "versions" / Path(py39.path).parent.parent.name
                                                                 / "bin" / "python3.9")]
    assert rows["python3.6"][1:3] == ["nearest", py39.version]
    assert rows["python3.10"][1:2] == ["missing"] and "/nonexistent/python (configured: cannot be run)" in \
        " ".join(rows["python3.10"])
    assert rows["nodejs14"][1] == "missing"  # no node on PATH, no cached binaries
    assert rows["go1"][1] == "exact"
    assert set(rows) >= {"python3", "python3.7", "python3.8", "nodejs4.4", "nodejs20"}


def test_interpreters_fetch(tmp_path):
    refused = _cli("fetch", "python3.9")
    assert refused.returncode == 2 and "not a nodejs runtime" in refused.stderr and "pyenv" in refused.stderr
    if toolchains.node_binary(20) is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Node.js 20 is not in the toolchains cache (scripts/test fetches it)")
        pytest.skip("Node.js 20 is not in the toolchains cache")
    out = _cli("fetch", "nodejs20")
    assert out.returncode == 0 and re.search(r"^Node\.js 20: present", out.stdout, re.M), out.stdout + out.stderr
