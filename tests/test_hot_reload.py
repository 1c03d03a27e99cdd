"""Hot reload (issue 14): a function whose code is a local folder (`ossBucketName: local`, `ossObjectName:
/abs/folder`) runs the folder itself; a change to a file retires its instances, so a call made a second after
the edit runs the new code. Both backends, Python and Node.js."""
from __future__ import annotations

import io
import time
import zipfile

import fc2.fc_exceptions
import pytest
import requests

from tests.helpers import fc_error, make_zip

SOURCES = {
    "python3.10": ("index.py", "import helper\n\ndef handler(event, context):\n    return helper.VALUE\n",
                   "helper.py", "VALUE = {!r}\n"),
    "nodejs20": ("index.js", "exports.handler = (event, context, cb) => cb(null, require('./helper').value);\n",
                 "helper.js", "exports.value = {!r};\n"),
}


def _write(path, text):
    tmp = path.with_suffix(".tmp")  # as editors save: a new file renamed over the old one
    tmp.write_text(text)
    tmp.replace(path)


@pytest.mark.parametrize("runtime", sorted(SOURCES))
def test_edit_is_seen_by_the_next_call_within_a_second(efc, exec_server, tmp_path, runtime):
    index, index_src, helper, helper_src = SOURCES[runtime]
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / index).write_text(index_src)
    (folder / helper).write_text(helper_src.format("v1"))
    efc.create_service("hot")
    efc.create_function("hot", "fn", runtime, "index.handler", codeOSSBucket="local", codeOSSObject=str(folder),
                        memorySize=128, timeout=10)
    fn = efc.get_function("hot", "fn").data
    assert fn["codeChecksum"] == f"local:{folder}" and fn["codeSize"] == 0
    assert efc.invoke_function("hot", "fn").data == b"v1"
    assert efc.invoke_function("hot", "fn").data == b"v1"  # warm: the same instance
    ids = {i["instanceId"] for i in efc.list_instances("hot", "LATEST", "fn").data["instances"]}
    assert len(ids) == 1

    for n in (2, 3):  # every edit, not only the first
        _write(folder / helper, helper_src.format(f"v{n}"))
        t0 = time.monotonic()
        while efc.list_instances("hot", "LATEST", "fn").data["instances"] and time.monotonic() - t0 < 3:
            time.sleep(0.02)
        assert time.monotonic() - t0 < 1.0, "the instance was not retired within a second of the edit"
        assert efc.invoke_function("hot", "fn").data == f"v{n}".encode()
    assert not ids & {i["instanceId"] for i in efc.list_instances("hot", "LATEST", "fn").data["instances"]}
    assert "hot reload: /code/" + helper + " changed" in exec_server.log()

    assert efc.list_instances("hot", "LATEST", "fn").data["instances"]
    (folder / "extra.txt").write_text("new file")  # a new file counts too
    time.sleep(1.0)
    assert efc.list_instances("hot", "LATEST", "fn").data["instances"] == []  # retired before anyone called

    # GetFunctionCode: the folder as it is now, zipped
    code = efc.get_function_code("hot", "fn").data
    with zipfile.ZipFile(io.BytesIO(requests.get(code["url"], timeout=10).content)) as zf:
        assert zf.read(helper).decode() == helper_src.format("v3")
        assert zf.read("extra.txt") == b"new file"


def test_the_local_oss_bucket_still_reads_objects(efc, exec_server, tmp_path):
    """`local` with a relative object name is an object of the local OSS folder, as before."""
    bucket = exec_server.data_dir / "oss" / "local"
    bucket.mkdir(parents=True, exist_ok=True)
    (bucket / "pkg.zip").write_bytes(make_zip({"index.py": "def handler(e, c):\n    return 'from oss'\n"}))
    efc.create_service("oss")
    efc.create_function("oss", "fn", "python3.10", "index.handler", codeOSSBucket="local", codeOSSObject="pkg.zip")
    fn = efc.get_function("oss", "fn").data
    assert fn["codeChecksum"].isdigit() and fn["codeSize"] > 0
    assert efc.invoke_function("oss", "fn").data == b"from oss"


def test_bad_local_folders_are_refused(efc, exec_server, tmp_path):
    efc.create_service("bad")
    for path in (str(tmp_path / "missing"), "/", str(exec_server.data_dir), str(exec_server.data_dir / "code")):
        with pytest.raises(fc2.fc_exceptions.FcError) as exc:
            efc.create_function("bad", "fn", "python3.10", "index.handler", codeOSSBucket="local",
                                codeOSSObject=path)
        err = fc_error(exc)
        assert exc.value.status_code == 400 and err["ErrorCode"] == "InvalidArgument"
        assert path not in err["ErrorMessage"] or path == "/"
    assert efc.list_functions("bad").data["functions"] == []
