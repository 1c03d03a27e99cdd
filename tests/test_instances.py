"""ListInstances and InstanceExec (fc-api.md §2.12) on both backends, through aliyun-fc2."""
from __future__ import annotations

import json
import threading
import time

import pytest
import requests
from fc2.fc_exceptions import FcError

from tests.helpers import HELLO_PY, deploy, fc_client, fc_error

FN = "fn"


def _warm(client, tmp_path, qualifier=None) -> str:
    """Deploy (once) and invoke: the id of the instance that served the call."""
    try:
        client.get_function("svc", FN)
    except FcError:
        deploy(client, tmp_path, HELLO_PY, name=FN)
    r = client.invoke_function("svc", FN, qualifier=qualifier)
    assert r.data == b"hello world"
    return r.headers["X-Fc-Instance-Id"]


def _list(client, qualifier="LATEST", **params) -> list[dict]:
    return client.list_instances("svc", qualifier, FN, params).data["instances"]


class Session:
    """One InstanceExec session through aliyun-fc2's instance_exec and its hooks."""

    def __init__(self, client, instance_id: str, command: list[str], *, qualifier="LATEST", inputs=(),
                 on_open=None, **params):
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.errors: list = []
        self.closed = threading.Event()
        self.inputs = inputs
        self.custom_open = on_open
        hooks = {"on_open": self._open, "on_stdout": lambda ws, m: self.stdout.append(m),
                 "on_stderr": lambda ws, m: self.stderr.append(m), "on_error": lambda ws, e: self.errors.append(e),
                 "on_close": lambda ws: self.closed.set()}
        params = {"command": command, "stdin": False, "stdout": True, "stderr": True, "tty": False,
                  "idleTimeout": 60, **params}
        self.ws = client.instance_exec("svc", qualifier, FN, instance_id, params=params, hooks=hooks)

    def _open(self, ws):
        if self.custom_open:
            self.custom_open(ws)
        for data in self.inputs:
            ws.send(data)

    def run(self, timeout: float = 30) -> "Session":
        t = threading.Thread(target=self.ws.start, daemon=True)
        t.start()
        t.join(timeout)
        assert not t.is_alive(), f"the session did not end; stdout={self.out!r} errors={self.errors!r}"
        return self

    @property
    def out(self) -> str:
        return "".join(self.stdout)

    @property
    def err(self) -> str:
        return "".join(self.stderr)

    def server_errors(self) -> list[str]:
        """Channel 3 texts (aliyun-fc2 reports them as 'Server error: …')."""
        return [e for e in self.errors if isinstance(e, str) and e.startswith("Server error: ")]

    def closed_with(self) -> list[str]:
        """aliyun-fc2 knows no channel 5: it reports the close frame as an unknown message type."""
        return [str(e) for e in self.errors if "unknown message type: 5" in str(e)]


# ---- ListInstances ------------------------------------------------------------------------------

def test_list_instances_during_a_warm_period(efc, tmp_path):
    iid = _warm(efc, tmp_path)
    assert _list(efc) == [{"instanceId": iid, "versionId": 0}]
    assert _warm(efc, tmp_path) == iid  # still warm: the same instance
    # a published version and an alias have instances of their own
    efc.publish_version("svc")
    efc.create_alias("svc", "prod", "1")
    assert _list(efc, "1") == []
    v1 = _warm(efc, tmp_path, qualifier="1")
    assert v1 != iid
    assert _list(efc, "1") == [{"instanceId": v1, "versionId": 1}]
    assert _list(efc, "prod") == [{"instanceId": v1, "versionId": 1}]
    assert _list(efc) == [{"instanceId": iid, "versionId": 0}]
    # the 2021 style (?qualifier=) names the same version
    url = efc.endpoint + f"/2016-08-15/services/svc/functions/{FN}/instances?qualifier=1"
    got = requests.get(url, headers={"X-Fc-Account-Id": efc.account_id}).json()
    assert got == {"instances": [{"instanceId": v1, "versionId": 1}]}


def test_list_instances_filters_and_pages(efc, tmp_path):
    deploy(efc, tmp_path, {"index.py": "import time\ndef handler(e, c):\n    time.sleep(0.5)\n    return 'ok'\n"},
           name=FN)
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(3) as ex:
        ids = sorted({r.headers["X-Fc-Instance-Id"] for r in ex.map(lambda _: efc.invoke_function("svc", FN),
                                                                    range(3))})
    assert len(ids) == 3
    assert [i["instanceId"] for i in _list(efc)] == ids
    assert _list(efc, instanceIds=[ids[1]]) == [{"instanceId": ids[1], "versionId": 0}]
    assert [i["instanceId"] for i in _list(efc, instanceIds=[ids[0], ids[2], "c-nope"])] == [ids[0], ids[2]]
    assert _list(efc, instanceIds=["c-nope"]) == []
    page = efc.list_instances("svc", "LATEST", FN, {"limit": 2}).data
    assert [i["instanceId"] for i in page["instances"]] == ids[:2] and page["nextToken"] == ids[2]
    page = efc.list_instances("svc", "LATEST", FN, {"limit": 2, "nextToken": page["nextToken"]}).data
    assert [i["instanceId"] for i in page["instances"]] == ids[2:] and "nextToken" not in page
    assert len(_list(efc, limit=0)) == 3  # 0: all of them
    with pytest.raises(FcError) as exc:
        _list(efc, limit=1001)
    assert exc.value.status_code == 400 and fc_error(exc)["ErrorCode"] == "InvalidArgument"


def test_list_instances_not_found(efc, tmp_path):
    with pytest.raises(FcError) as exc:
        _list(efc)
    assert exc.value.status_code == 404 and fc_error(exc)["ErrorCode"] == "ServiceNotFound"
    efc.create_service("svc")
    with pytest.raises(FcError) as exc:
        _list(efc)
    assert exc.value.status_code == 404 and fc_error(exc)["ErrorCode"] == "FunctionNotFound"
    deploy(efc, tmp_path, HELLO_PY, name=FN)
    assert _list(efc) == []  # nothing has run yet
    with pytest.raises(FcError) as exc:
        _list(efc, "prod")
    assert fc_error(exc)["ErrorCode"] == "AliasNotFound"


# ---- InstanceExec -------------------------------------------------------------------------------

def test_exec_echo_hi(efc, tmp_path):
    iid = _warm(efc, tmp_path)
    s = Session(efc, iid, ["echo", "hi"]).run()
    assert s.out == "hi\n"
    assert s.err == "" and s.server_errors() == []
    assert s.closed_with() and s.closed.is_set()


def test_exec_stdin(efc, tmp_path):
    iid = _warm(efc, tmp_path)
    # an empty stdin frame ends the input, so `cat` exits after echoing it
    s = Session(efc, iid, ["cat"], stdin=True, inputs=["abc", ""]).run()
    assert s.out == "abc"

    # without the end of input the client closes the session once it has what it wants
    seen = []

    def on_stdout(ws, m):
        seen.append(m)
        if "abc" in "".join(seen):
            ws.close()
    s = Session(efc, iid, ["cat"], stdin=True, inputs=["abc"])
    s.ws.on_stdout = on_stdout
    s.run()
    assert "".join(seen) == "abc"
    assert _list(efc) == [{"instanceId": iid, "versionId": 0}]  # the instance lives on
    assert efc.invoke_function("svc", FN).headers["X-Fc-Instance-Id"] == iid


def test_exec_stderr_channel(efc, tmp_path):
    iid = _warm(efc, tmp_path)
    s = Session(efc, iid, ["sh", "-c", "echo out; echo err >&2"]).run()
    assert s.out == "out\n" and s.err == "err\n"
    s = Session(efc, iid, ["sh", "-c", "echo out; echo err >&2"], stderr=False).run()
    assert s.out == "out\n" and s.err == ""


def test_exec_tty(efc, tmp_path):
    iid = _warm(efc, tmp_path)
    s = Session(efc, iid, ["sh", "-c", "tty"], tty=True).run()
    assert s.out.startswith("/dev/pts/") and s.out.endswith("\r\n")  # a terminal translates newlines
    s = Session(efc, iid, ["sh", "-c", "tty"]).run()
    assert s.out.strip() == "not a tty"


def test_exec_tty_resize_and_interactive_shell(efc, tmp_path):
    iid = _warm(efc, tmp_path)

    def resize(ews):
        ews.ws.send(chr(4) + json.dumps({"width": 100, "height": 40}))
    s = Session(efc, iid, ["sh", "-c", "read x; stty size"], tty=True, stdin=True, on_open=resize,
                inputs=["go\r"]).run()
    assert "40 100" in s.out

    # an interactive shell, ended by `exit`
    s = Session(efc, iid, ["sh"], tty=True, stdin=True, inputs=["echo $((6*7))\r", "exit\r"]).run()
    assert "42" in s.out


def test_exec_sees_the_function_code(efc, tmp_path):
    iid = _warm(efc, tmp_path)
    s = Session(efc, iid, ["sh", "-c", 'pwd; ls "$FC_FUNC_CODE_PATH"; echo "$FC_FUNCTION_NAME $FC_INSTANCE_ID"']).run()
    lines = s.out.splitlines()
    code_path = Session(efc, iid, ["sh", "-c", 'echo "$FC_FUNC_CODE_PATH"']).run().out.strip()
    assert lines[0] == code_path
    assert "index.py" in lines[1:-1]
    assert lines[-1] == f"{FN} {iid}"


def _raw_frames(client, instance_id: str, params: dict) -> list[str]:
    """Every frame of a session, read with a plain WebSocket client signed by aliyun-fc2."""
    frames = []
    ws = client.websocket(f"/2016-08-15/services/svc.LATEST/functions/{FN}/instances/{instance_id}/exec", params)
    ws.on_message = lambda _ws, m: frames.append(m)
    t = threading.Thread(target=ws.run_forever, daemon=True)
    t.start()
    t.join(20)
    assert not t.is_alive()
    return frames


def test_exec_exit_status_in_the_close_frame(efc, tmp_path):
    """Channel 5 carries the command's exit status."""
    iid = _warm(efc, tmp_path)
    assert _raw_frames(efc, iid, {"command": ["sh", "-c", "echo bye; exit 3"]}) == ["\x01bye\n", "\x053"]
    assert _raw_frames(efc, iid, {"command": ["true"]}) == ["\x050"]


def test_exec_idle_timeout(efc, tmp_path):
    iid = _warm(efc, tmp_path)
    t0 = time.monotonic()
    s = Session(efc, iid, ["sleep", "30"], idleTimeout=1).run(timeout=15)
    assert time.monotonic() - t0 < 10
    assert any("idleTimeout" in e for e in s.server_errors())
    assert not s.closed_with()  # the command did not exit: no exit status


def test_exec_unknown_instance_and_bad_requests(efc, tmp_path):
    iid = _warm(efc, tmp_path)
    s = Session(efc, "c-00000000-00000000-000000000000", ["echo", "hi"]).run()
    assert s.out == ""
    [err] = [e for e in s.errors if not isinstance(e, str)]
    assert err.status_code == 404
    body = json.loads(err.resp_body)
    assert body["ErrorCode"] == "InstanceNotFound" and "c-00000000" in body["ErrorMessage"]
    # the instance belongs to LATEST, not to another function
    deploy(efc, tmp_path, HELLO_PY, name="other")
    s = Session(efc, iid, ["echo", "hi"])
    s.ws = efc.instance_exec("svc", "LATEST", "other", iid, params={"command": ["echo"]},
                             hooks={"on_error": lambda ws, e: s.errors.append(e)})
    s.run()
    assert [e.status_code for e in s.errors if not isinstance(e, str)] == [404]
    # unknown function: FC's 404; no command: 400
    for fn, params, status, code in (("nope", {"command": ["echo"]}, 404, "FunctionNotFound"),
                                     (FN, {"stdout": "true"}, 400, "InvalidArgument"),
                                     (FN, {"command": ["echo"], "tty": "maybe"}, 400, "InvalidArgument")):
        errs = []
        ws = efc.instance_exec("svc", "LATEST", fn, iid, params=params, hooks={"on_error": lambda w, e: errs.append(e)})
        ws.start()
        [e] = errs
        assert e.status_code == status and json.loads(e.resp_body)["ErrorCode"] == code


def test_exec_checks_the_signature(efc, exec_server, tmp_path):
    iid = _warm(efc, tmp_path)
    bad = fc_client(exec_server, efc.account_id, secret="wrong-secret")
    errs = []
    ws = bad.instance_exec("svc", "LATEST", FN, iid, params={"command": ["echo", "hi"]},
                           hooks={"on_error": lambda w, e: errs.append(e)})
    ws.start()
    [e] = errs
    assert e.status_code == 403 and json.loads(e.resp_body)["ErrorCode"] == "SignatureNotMatch"


def test_exec_unknown_command(efc, tmp_path):
    iid = _warm(efc, tmp_path)
    frames = _raw_frames(efc, iid, {"command": ["no-such-command-xyz"]})
    assert any("no-such-command-xyz" in f for f in frames)
    # the process backend can't start it (channel 3, no exit status); docker exec reports it and exits non-zero
    assert frames[-1][0] == "\x03" or (frames[-1][0] == "\x05" and frames[-1][1:] != "0")
