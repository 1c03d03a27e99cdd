"""The FC 3.0 Node SDK `@alicloud/fc20230330` (npm) against the emulator: create, get, invoke (Tail), an HTTP
trigger and a call to its URL, a 404's Code, delete (fc3-api.md §9.7, issue 11 "Done when"). The SDK is
installed with the host's npm into ~/.cache/fc-emulator/npm/fc20230330-<version> the first time (a few
seconds); tests/node/fc3_round.js drives it and prints what the SDK's models deserialised."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import AK_ID, AK_SECRET, new_account, zip_b64

SDK_VERSION = "4.7.6"  # the version fc3-api.md's captures were made with
CACHE = Path(os.environ.get("FC_EMULATOR_CACHE", Path.home() / ".cache" / "fc-emulator")) / "npm"
SCRIPT = Path(__file__).parent / "node" / "fc3_round.js"

HANDLER = {"index.py": (
    "import json, os\n"
    "def handler(event, context):\n"
    "    print('node sdk call')\n"
    "    try:\n"
    "        e = json.loads(event)\n"
    "    except ValueError:\n"
    "        e = None\n"
    "    if isinstance(e, dict) and e.get('version') == 'v1':\n"
    "        return {'statusCode': 200, 'headers': {'content-type': 'application/json'},\n"
    "                'body': json.dumps({'path': e['rawPath'], 'q': e['queryParameters']})}\n"
    "    return os.environ['GREETING'] + ' ' + event.decode()\n")}


def _missing(reason: str):
    if os.environ.get("CI") == "true" or os.environ.get("FC_EMULATOR_TEST_DOCKER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node_sdk() -> Path:
    """node_modules holding @alicloud/fc20230330 (and @alicloud/openapi-core, its client core)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        _missing("node and npm are needed for the FC 3.0 Node SDK test")
    folder = CACHE / f"fc20230330-{SDK_VERSION}"
    modules = folder / "node_modules"
    if not (modules / "@alicloud" / "fc20230330" / "package.json").exists():
        folder.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--silent",
                            f"@alicloud/fc20230330@{SDK_VERSION}"], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            _missing(f"npm could not install @alicloud/fc20230330@{SDK_VERSION}: {r.stderr[-2000:]}")
    return modules


def test_node_sdk_create_invoke_http_trigger(server, node_sdk, tmp_path):
    account = new_account()
    zip_file = tmp_path / "code.b64"
    zip_file.write_text(zip_b64(HANDLER))
    env = {**os.environ, "NODE_PATH": str(node_sdk), "FC_AK_ID": AK_ID, "FC_AK_SECRET": AK_SECRET}
    r = subprocess.run(["node", str(SCRIPT), f"127.0.0.1:{server.port}", account, "nodefn", str(zip_file)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["created"] == {"status": 200, "isFunction": True, "functionName": "nodefn", "memorySize": 256,
                              "arn": f"acs:fc:cn-hangzhou:{account}:functions/nodefn"}
    assert out["got"]["runtime"] == "python3.10" and out["got"]["env"] == {"GREETING": "hi"}
    assert out["got"]["checksum"].isdigit()
    assert out["invoked"]["status"] == 200 and out["invoked"]["body"] == "hi world"
    assert "node sdk call" in out["invoked"]["log"]
    trigger = out["trigger"]
    assert trigger["status"] == 200 and trigger["isTrigger"] is True
    assert json.loads(trigger["config"]) == {"authType": "anonymous", "methods": ["GET", "POST"]}
    assert trigger["url"].startswith(f"{server.url}/fcapp/nodefn-")
    assert out["http"]["status"] == 200
    assert json.loads(out["http"]["body"]) == {"path": "/some/path", "q": {"x": "1"}}
    missing = out["missing"]
    assert missing["code"] == "FunctionNotFound" and missing["statusCode"] == 404 and missing["requestId"]
    assert "function 'no-such-fn' does not exist" in missing["message"]
    assert out["deleted"] == 204
