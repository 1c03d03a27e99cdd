"""Code packages (fc-api.md §7): zip checks, size limits, OSS, checksums, storage, downloads.

Runs its own emulator with small limits (--max-code-size / --max-unzipped-size) so the
limits can be crossed with tiny zips."""
from __future__ import annotations

import base64
import io
import os
import zipfile

import fastcrc
import pytest
import requests
from fc2.fc_exceptions import FcError

from tests.helpers import AK_ID, AK_SECRET, HELLO_PY, Server, fc_client, fc_error, make_zip, new_account

MAX_ZIP = 4096
MAX_UNZIPPED = 20000


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("code") / "fc", "--access-key", f"{AK_ID}:{AK_SECRET}",
                 "--max-code-size", str(MAX_ZIP), "--max-unzipped-size", str(MAX_UNZIPPED)).start()
    yield srv
    srv.stop()


@pytest.fixture
def sfc(small):
    client = fc_client(small, new_account())
    client.create_service("s")
    return client


def stored_packages(server: Server) -> set[str]:
    return {p for p in os.listdir(server.data_dir / "code") if p.endswith(".zip")}


def raw_zip(entries: dict[str, bytes]) -> bytes:
    """A zip whose entry names are written verbatim (zipfile.writestr keeps `../` and `/abs`)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return buf.getvalue()


def post_function(server: Server, client, body: dict, headers: dict | None = None) -> requests.Response:
    return requests.post(f"{server.url}/2016-08-15/services/s/functions", json=body,
                         headers={"X-Fc-Account-Id": client.account_id, **(headers or {})})


def fn_body(name: str, data: bytes) -> dict:
    return {"functionName": name, "runtime": "python3", "handler": "index.handler",
            "code": {"zipFile": base64.b64encode(data).decode()}}


def test_crc64_check_values():
    # §7: the algorithm FC and OSS use (x-oss-hash-crc64ecma).
    assert fastcrc.crc64.xz(b"") == 0
    assert fastcrc.crc64.xz(b"123456789") == 11051210869376104954
    assert fastcrc.crc64.xz(b"hello world") == 5981764153023615706


BAD_PACKAGES = {
    "not a zip": (b"this is not a zip file", "not a valid zip"),
    "parent entry": (raw_zip({"../evil.py": b"x"}), "points outside the code folder"),
    "nested parent entry": (raw_zip({"lib/../../evil.py": b"x"}), "points outside the code folder"),
    "absolute entry": (raw_zip({"/etc/evil.py": b"x"}), "points outside the code folder"),
    "unzipped too large": (make_zip({"big.bin": b"\0" * (MAX_UNZIPPED + 1)}), "unzipped size exceeds the limit"),
    "zip too large": (raw_zip({"random.bin": os.urandom(MAX_ZIP)}), "code size exceeds the limit"),
}


@pytest.mark.parametrize("case", list(BAD_PACKAGES))
def test_bad_package_on_create_stores_nothing(small, sfc, case):
    data, words = BAD_PACKAGES[case]
    before = stored_packages(small)
    r = post_function(small, sfc, fn_body("f", data))
    assert r.status_code == 400, r.text
    assert r.json()["ErrorCode"] == "InvalidArgument"
    assert words in r.json()["ErrorMessage"]
    with pytest.raises(FcError) as e:
        sfc.get_function("s", "f")
    assert fc_error(e)["ErrorCode"] == "FunctionNotFound"
    assert stored_packages(small) == before


@pytest.mark.parametrize("case", ["parent entry", "zip too large", "not a zip"])
def test_bad_package_on_update_changes_nothing(small, sfc, tmp_path, case):
    good = tmp_path / "good.zip"
    good.write_bytes(make_zip(HELLO_PY))
    created = sfc.create_function("s", "f", "python3", "index.handler", codeZipFile=str(good))
    before = stored_packages(small)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(BAD_PACKAGES[case][0])
    with pytest.raises(FcError) as e:
        sfc.update_function("s", "f", codeZipFile=str(bad), description="changed")
    assert e.value.status_code == 400 and fc_error(e)["ErrorCode"] == "InvalidArgument"
    got = sfc.get_function("s", "f")
    assert got.data == created.data
    assert got.headers["Etag"] == created.headers["Etag"]
    assert stored_packages(small) == before


def test_zip_with_symlinks_and_directories_is_accepted(sfc, tmp_path):
    # aliyun-fc2's zip_dir keeps empty folders as `dir/` entries and symlinks as links (§7).
    (tmp_path / "code" / "empty").mkdir(parents=True)
    (tmp_path / "code" / "index.py").write_text(HELLO_PY["index.py"])
    os.symlink("index.py", tmp_path / "code" / "link.py")
    r = sfc.create_function("s", "f", "python3", "index.handler", codeDir=str(tmp_path / "code"))
    assert r.data["codeSize"] > 0


def test_inline_base64_must_be_valid(small, sfc):
    r = post_function(small, sfc, {"functionName": "f", "runtime": "python3", "handler": "index.handler",
                                   "code": {"zipFile": "***not base64***"}})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"
    assert "base64" in r.json()["ErrorMessage"]


def test_code_needs_exactly_one_source(small, sfc):
    b64 = base64.b64encode(make_zip(HELLO_PY)).decode()
    for code in ({"zipFile": b64, "ossBucketName": "b", "ossObjectName": "o"}, {"ossBucketName": "b"}, {}):
        r = post_function(small, sfc, {"functionName": "f", "runtime": "python3", "handler": "index.handler",
                                       "code": code})
        assert r.status_code == 400, code
        assert r.json()["ErrorCode"] == "InvalidArgument"
    r = post_function(small, sfc, {"functionName": "f", "runtime": "python3", "handler": "index.handler"})
    assert r.status_code == 400 and r.json()["ErrorMessage"] == "code is required"
    assert requests.get(f"{small.url}/2016-08-15/services/s/functions",
                        headers={"X-Fc-Account-Id": sfc.account_id}).json()["functions"] == []


def test_oss_code_over_the_limit(small, sfc):
    bucket = small.data_dir / "oss" / "big-bucket"
    bucket.mkdir(parents=True, exist_ok=True)
    (bucket / "big.zip").write_bytes(raw_zip({"random.bin": os.urandom(MAX_ZIP)}))
    with pytest.raises(FcError) as e:
        sfc.create_function("s", "f", "python3", "index.handler", codeOSSBucket="big-bucket", codeOSSObject="big.zip")
    assert e.value.status_code == 400 and "code size exceeds the limit" in fc_error(e)["ErrorMessage"]


def test_oss_object_cannot_escape_the_bucket(small, sfc):
    # The object name is a key inside the bucket, never a path out of it.
    (small.data_dir / "secret.zip").write_bytes(make_zip(HELLO_PY))
    (small.data_dir / "oss" / "bk").mkdir(parents=True, exist_ok=True)
    for bucket, obj in (("bk", "../../secret.zip"), ("..", "secret.zip"), ("bk", "/etc/passwd")):
        r = post_function(small, sfc, {"functionName": "f", "runtime": "python3", "handler": "index.handler",
                                       "code": {"ossBucketName": bucket, "ossObjectName": obj}})
        assert r.status_code == 400, (bucket, obj)
        assert r.json()["ErrorCode"] == "InvalidArgument"


def test_same_package_is_stored_once(small, sfc, tmp_path):
    data = make_zip({"index.py": "def handler(e, c):\n    return 'once'\n"})
    path = tmp_path / "c.zip"
    path.write_bytes(data)
    checksum = str(fastcrc.crc64.xz(data))
    sfc.create_function("s", "a", "python3", "index.handler", codeZipFile=str(path))
    sfc.create_function("s", "b", "python3", "index.handler", codeZipFile=str(path))
    other = fc_client(small, new_account())
    other.create_service("s")
    other.create_function("s", "c", "python3", "index.handler", codeZipFile=str(path))
    assert f"{checksum}.zip" in stored_packages(small)
    assert (small.data_dir / "code" / f"{checksum}.zip").read_bytes() == data
    assert {sfc.get_function("s", n).data["codeChecksum"] for n in ("a", "b")} == {checksum}


def test_download_link_is_signed(small, sfc, tmp_path):
    path = tmp_path / "c.zip"
    path.write_bytes(make_zip(HELLO_PY))
    sfc.create_function("s", "f", "python3", "index.handler", codeZipFile=str(path))
    url = sfc.get_function_code("s", "f").data["url"]
    assert requests.get(url).status_code == 200
    tampered = url.replace("Signature=", "Signature=0")
    assert requests.get(tampered).status_code == 403
