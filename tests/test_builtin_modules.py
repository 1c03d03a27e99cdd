"""FC's built-in modules (issue 8 item 5): code that works on FC imports `oss2`, `tablestore`, `fc2` and
requires `raw-body`, `@alicloud/fc2` without shipping them, at the versions FC lists for its runtime.
Both backends: the process backend from the folders `fc-emulator modules install` prepares (scripts/test
runs it for these runtimes), the Docker backend from the runtime images, which carry them.
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest
import requests

from emulator.execution import builtin_modules
from tests.helpers import AK_ID, AK_SECRET, Server, deploy, fc_client, new_account

# runtime -> versions FC lists for it (oss2, tablestore, aliyun-fc2)
PYTHON = {
    "python2.7": {"oss2": "2.9.1", "tablestore": "5.1.0", "fc2": "2.3.0"},
    "python3.9": {"oss2": "2.15.0", "tablestore": "5.2.1", "fc2": "2.5.0"},
}
# runtime -> versions FC lists for it (raw-body, @alicloud/fc2)
NODE = {
    "nodejs8": {"raw-body": "2.3.2", "@alicloud/fc2": "2.1.0"},
    "nodejs18": {"raw-body": "2.5.2", "@alicloud/fc2": "2.6.6"},
}

# Python 2 and 3 alike: the handler returns what it imported, and from where (FC's folder, not ours).
PY_HANDLER = """# -*- coding: utf-8 -*-
import json
import oss2, tablestore, fc2

def handler(event, context):
    client = fc2.Client(endpoint='http://127.0.0.1:1', accessKeyID='a', accessKeySecret='b')
    return json.dumps({'oss2': oss2.__version__, 'tablestore': tablestore.__version__,
                       'fc2': fc2.__version__, 'client': type(client).__name__, 'where': oss2.__file__})
"""

# What FC's Node.js SDK test function does: read the body with raw-body; here also the FC SDK.
NODE_HANDLER = """'use strict';
var getRawBody = require('raw-body');
var FCClient = require('@alicloud/fc2');
exports.handler = function (event, context, callback) {
  var client = new FCClient('123', {accessKeyID: 'a', accessKeySecret: 'b', region: 'cn-hangzhou'});
  callback(null, JSON.stringify({
    'raw-body': require('raw-body/package.json').version,
    '@alicloud/fc2': require('@alicloud/fc2/package.json').version,
    rawBody: typeof getRawBody, client: typeof client.invokeFunction,
    where: require.resolve('raw-body'),
  }));
};
"""


@pytest.mark.parametrize("runtime", sorted(PYTHON))
def test_python_function_imports_fc_builtin_modules(backend, efc, tmp_path, runtime):
    name = deploy(efc, tmp_path, {"index.py": PY_HANDLER}, runtime=runtime, name=f"mods-{runtime.replace('.', '-')}")
    got = json.loads(efc.invoke_function("svc", name).data)
    assert {k: got[k] for k in ("oss2", "tablestore", "fc2")} == PYTHON[runtime]
    assert got["client"] == "Client"
    assert not got["where"].startswith("/code/") and "/oss2/__init__.py" in got["where"], got["where"]


@pytest.mark.parametrize("runtime", sorted(NODE))
def test_nodejs_function_requires_fc_builtin_modules(backend, efc, tmp_path, runtime):
    name = deploy(efc, tmp_path, {"index.js": NODE_HANDLER}, runtime=runtime, name=f"mods-{runtime}")
    got = json.loads(efc.invoke_function("svc", name).data)
    assert {k: got[k] for k in ("raw-body", "@alicloud/fc2")} == NODE[runtime]
    assert got["rawBody"] == "function" and got["client"] == "function"
    assert not got["where"].startswith("/code/") and "/node_modules/raw-body/" in got["where"], got["where"]


def test_the_users_own_copy_wins(backend, efc, tmp_path):
    """A module in the code package comes before the built-in one, as on FC (code folder first)."""
    deploy(efc, tmp_path, {
        "index.py": "import oss2\ndef handler(event, context):\n    return oss2.__version__ + ' ' + oss2.__file__\n",
        "oss2/__init__.py": "__version__ = 'mine'\n",
    }, runtime="python3.9", name="own-py")
    version, where = efc.invoke_function("svc", "own-py").data.decode().split()
    assert version == "mine" and where.endswith("/oss2/__init__.py") and "/modules/" not in where
    deploy(efc, tmp_path, {
        "index.js": "exports.handler = (e, c, cb) => cb(null, require('raw-body/package.json').version "
                    "+ ' ' + require.resolve('raw-body'));\n",
        "node_modules/raw-body/package.json": '{"name": "raw-body", "version": "0.0.1-mine"}',
        "node_modules/raw-body/index.js": "module.exports = function () {};\n",
    }, runtime="nodejs18", name="own-js")
    version, where = efc.invoke_function("svc", "own-js").data.decode().split()
    assert version == "0.0.1-mine" and where.endswith("/node_modules/raw-body/index.js") and "/modules/" not in where


def test_process_backend_says_how_to_install_missing_modules(tmp_path):
    """Without the folder, the import fails as it would without FC's modules, and the function's log
    says (once) which command installs them."""
    empty = tmp_path / "no-modules"
    empty.mkdir()
    srv = Server(tmp_path / "fc", "--executor", "process", "--access-key", f"{AK_ID}:{AK_SECRET}",
                 env={"FC_EMULATOR_MODULES_DIR": str(empty)}).start()
    try:
        account = new_account()
        deploy(fc_client(srv, account), tmp_path, {"index.js": NODE_HANDLER}, runtime="nodejs18", name="nomods")
        r = requests.post(f"{srv.url}/2016-08-15/services/svc/functions/nomods/invocations", data=b"",
                          headers={"X-Fc-Account-Id": account, "X-Fc-Log-Type": "Tail"}, timeout=60)
        text = base64.b64decode(r.headers["X-Fc-Log-Result"]).decode()
        assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
        assert "Cannot find module 'raw-body'" in r.json()["errorMessage"]
        assert text.count("run `fc-emulator modules install nodejs18`") == 1, text
        assert str(empty) not in text + r.text
    finally:
        srv.stop()


def test_modules_cli_lists_each_runtimes_set():
    out = subprocess.run([sys.executable, "-m", "emulator", "modules", "list"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split()[1] for line in out.stdout.splitlines()[1:] if line.strip()
            and not line.startswith(("installed", " "))}
    assert rows["nodejs20"] == "nodejs18" and rows["python3"] == "python3.6" and rows["python2.7"] == "python2.7"
    bad = subprocess.run([sys.executable, "-m", "emulator", "modules", "install", "java11"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "no built-in modules for java11" in bad.stderr


def test_online_dockerfile_installs_fc_versions():
    node = builtin_modules.dockerfile_snippet("nodejs18")
    assert "npm install --global" in node and "raw-body@2.5.2" in node and "@alicloud/fc2@2.6.6" in node
    py = builtin_modules.dockerfile_snippet("python3.9")
    assert "pip install" in py and "oss2==2.15.0" in py and "-c /tmp/fc-constraints.txt" in py
    assert builtin_modules.dockerfile_snippet("go1") == ""
