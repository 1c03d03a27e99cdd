"""Functions through aliyun-fc2 and plain HTTP (fc-api.md §2.3, §4, §5, §6, §7)."""
from __future__ import annotations

import re
import time
import uuid

import fastcrc
import pytest
import requests
from fc2.fc_exceptions import FcError

from tests.helpers import HELLO_PY, fc_error, make_zip, zip_b64

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def svc(fc):
    fc.create_service("s")
    return "s"


@pytest.fixture
def hello_zip(tmp_path):
    path = tmp_path / "hello.zip"
    path.write_bytes(make_zip(HELLO_PY))
    return path


def url(server, path: str, prefix: str = "2016-08-15") -> str:
    return f"{server.url}/{prefix}{path}"


def minimal(name: str = "f", **extra) -> dict:
    return {"functionName": name, "runtime": "python3", "handler": "index.handler",
            "code": {"zipFile": zip_b64(HELLO_PY)}, **extra}


def crc(data: bytes) -> str:
    return str(fastcrc.crc64.xz(data))


def publish_layer(http, server, name: str = "lib") -> dict:
    r = http.post(url(server, f"/layers/{name}/versions"),
                  json={"code": {"zipFile": zip_b64({"python/lib.py": "X = 1\n"})}, "compatibleRuntime": ["python3"]})
    assert r.status_code == 200, r.text
    return r.json()


# ---- create and defaults ----------------------------------------------------------------------

def test_create_with_sdk(fc, svc, hello_zip):
    r = fc.create_function(svc, "f", "python3", "index.handler", codeZipFile=str(hello_zip),
                           description="hi", environmentVariables={"a": "1"}, instanceConcurrency=5)
    d = r.data
    assert d["functionName"] == "f" and d["runtime"] == "python3" and d["handler"] == "index.handler"
    assert d["description"] == "hi" and d["environmentVariables"] == {"a": "1"}
    assert d["instanceConcurrency"] == 5
    # What aliyun-fc2 itself sends by default (§2.3 table notes).
    assert d["memorySize"] == 256 and d["timeout"] == 60 and d["initializationTimeout"] == 30
    assert d["instanceType"] == "e1"
    assert d["codeSize"] == hello_zip.stat().st_size
    assert d["codeChecksum"] == crc(hello_zip.read_bytes())
    uuid.UUID(d["functionId"])
    assert ISO.match(d["createdTime"]) and ISO.match(d["lastModifiedTime"])
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["Etag"])

    got = fc.get_function(svc, "f")
    assert got.data == d
    assert got.headers["Etag"] == r.headers["Etag"]


def test_defaults_when_omitted(http, server, svc):
    r = http.post(url(server, "/services/s/functions"), json=minimal())
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    d = r.json()
    assert {k: d[k] for k in ("description", "initializer", "timeout", "initializationTimeout", "memorySize",
                              "instanceConcurrency", "instanceType", "environmentVariables", "caPort",
                              "layers", "layersArnV2", "diskSize")} == {
        "description": "", "initializer": "", "timeout": 3, "initializationTimeout": 3, "memorySize": 128,
        "instanceConcurrency": 1, "instanceType": "e1", "environmentVariables": {}, "caPort": 9000,
        "layers": [], "layersArnV2": [], "diskSize": 512}
    for key in ("customContainerConfig", "customRuntimeConfig", "customDNS", "customHealthCheckConfig",
                "instanceLifecycleConfig", "cpu", "gpuMemorySize", "instanceSoftConcurrency"):
        assert key in d


def test_null_is_absent_and_keys_are_case_insensitive(http, server, svc):
    body = {"FunctionName": "f", "Runtime": "python3", "Handler": "index.handler", "Timeout": None,
            "Description": None, "MemorySize": 512, "Code": {"ZipFile": zip_b64(HELLO_PY)},
            "EnvironmentVariables": {"K": "v"}}
    r = http.post(url(server, "/services/s/functions"), json=body)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["timeout"] == 3 and d["description"] == "" and d["memorySize"] == 512
    assert d["environmentVariables"] == {"K": "v"}


def test_seed_document_parameters(http, server, svc):
    # fc-api-notes.md lists these for CreateFunction; nested keys as capitalised there.
    layer = publish_layer(http, server)
    body = minimal(
        description="seed", initializer="index.init", initializationTimeout=10, caPort=9000,
        environmentVariables={"STAGE": "dev"},
        vpcConfig={"VpcId": "vpc-1", "VSwitchIds": ["vsw-1"]},
        logConfig={"Project": "proj", "Logstore": "store"},
        nasConfig={"MountPoints": [{"serverAddr": "nas:/", "mountDir": "/mnt/nas"}], "UserId": 10, "GroupId": 10},
        mountPoints=[{"serverAddr": "nas2:/", "mountDir": "/mnt/two"}],
        caEnable=True, caFiles=[{"name": "ca.pem", "content": "-----BEGIN-----"}],
        layers=[layer["arn"]])
    body["code"]["ossAccessKeyId"] = "ignored"  # the seed's OSS example adds keys FC does not need
    r = http.post(url(server, "/services/s/functions"), json=body)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["initializer"] == "index.init" and d["initializationTimeout"] == 10
    assert d["vpcConfig"]["vpcId"] == "vpc-1" and d["vpcConfig"]["vSwitchIds"] == ["vsw-1"]
    assert d["logConfig"]["project"] == "proj" and d["logConfig"]["logstore"] == "store"
    assert d["nasConfig"]["userId"] == 10 and d["nasConfig"]["mountPoints"][0]["mountDir"] == "/mnt/nas"
    assert d["mountPoints"][0]["mountDir"] == "/mnt/two"
    assert d["caEnable"] is True and d["caFiles"] == [{"name": "ca.pem", "content": "-----BEGIN-----"}]
    assert d["layers"] == [layer["arn"]] and d["layersArnV2"] == [layer["arnV2"]]
    assert http.get(url(server, "/services/s/functions/f")).json() == d


def test_all_config_fields_echoed(http, server, svc):
    body = minimal(
        runtime="custom", handler="index.handler", caPort=8080, cpu=1, memorySize=2048, diskSize=10240,
        instanceType="c1", instanceConcurrency=20, instanceSoftConcurrency=10,
        customRuntimeConfig={"command": ["python3"], "args": ["server.py"]},
        customDNS={"nameServers": ["8.8.8.8"], "searches": ["svc.local"], "dnsOptions": [{"name": "ndots", "value": "2"}]},
        customHealthCheckConfig={"httpGetUrl": "/ready"},
        instanceLifecycleConfig={"preStop": {"handler": "index.stop", "timeout": 5}})
    r = http.post(url(server, "/services/s/functions"), json=body)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["caPort"] == 8080 and d["cpu"] == 1 and d["diskSize"] == 10240 and d["instanceType"] == "c1"
    assert d["instanceSoftConcurrency"] == 10
    assert d["customRuntimeConfig"] == {"command": ["python3"], "args": ["server.py"]}
    assert d["customDNS"]["dnsOptions"] == [{"name": "ndots", "value": "2"}]
    assert d["customHealthCheckConfig"]["httpGetUrl"] == "/ready"
    assert d["customHealthCheckConfig"]["periodSeconds"] == 3  # defaults filled in
    assert d["instanceLifecycleConfig"]["preStop"] == {"handler": "index.stop", "timeout": 5}


def test_custom_container(fc, svc):
    cfg = {"image": "registry.cn-hangzhou.aliyuncs.com/ns/app:v1", "command": '["/code/myserver"]',
           "args": '["--port", "8080"]', "accelerationType": "None"}
    r = fc.create_function(svc, "c", "custom-container", "not-used", customContainerConfig=cfg, caPort=8080)
    d = r.data
    assert d["runtime"] == "custom-container" and d["caPort"] == 8080
    assert d["customContainerConfig"]["image"] == cfg["image"]
    assert d["customContainerConfig"]["command"] == '["/code/myserver"]'
    assert d["customContainerConfig"]["accelerationInfo"] == {"status": "Ready"}
    assert d["codeSize"] == 0 and d["codeChecksum"] == ""


def test_container_rules(http, server, svc):
    base = {"functionName": "c", "runtime": "custom-container", "handler": "h"}
    cases = [
        ({**base}, "customContainerConfig.image is required"),
        ({**base, "customContainerConfig": {"image": "i", "command": "/bin/app"}}, "JSON array"),
        ({**base, "customContainerConfig": {"image": "i"}, "code": {"zipFile": zip_b64(HELLO_PY)}},
         "code and customContainerConfig"),
        ({**minimal("c"), "customContainerConfig": {"image": "i"}}, "code and customContainerConfig"),
    ]
    for body, words in cases:
        r = http.post(url(server, "/services/s/functions"), json=body)
        assert r.status_code == 400, body
        assert r.json()["ErrorCode"] == "InvalidArgument" and words in r.json()["ErrorMessage"], r.text
    assert http.get(url(server, "/services/s/functions")).json()["functions"] == []


# ---- code sources -------------------------------------------------------------------------------

def test_code_dir_and_oss(fc, svc, server, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "index.py").write_text(HELLO_PY["index.py"])
    d = fc.create_function(svc, "from-dir", "python3", "index.handler", codeDir=str(tmp_path / "src")).data
    assert d["codeSize"] > 0

    data = make_zip({"index.py": "def handler(e, c):\n    return 'oss'\n"})
    obj = server.data_dir / "oss" / "my-bucket" / fc.account_id / "s" / "code.zip"
    obj.parent.mkdir(parents=True, exist_ok=True)
    obj.write_bytes(data)
    d = fc.create_function(svc, "from-oss", "python3", "index.handler", codeOSSBucket="my-bucket",
                           codeOSSObject=f"{fc.account_id}/s/code.zip").data
    assert d["codeSize"] == len(data) and d["codeChecksum"] == crc(data)


def test_missing_oss_object(fc, svc):
    with pytest.raises(FcError) as e:
        fc.create_function(svc, "f", "python3", "index.handler", codeOSSBucket="no-bucket", codeOSSObject="x.zip")
    err = fc_error(e)
    assert e.value.status_code == 400 and err["ErrorCode"] == "InvalidArgument"
    assert err["ErrorMessage"] == ("OSS object 'x.zip' does not exist in bucket 'no-bucket', "
                                   "or you do not have permission to access it")
    with pytest.raises(FcError) as e:
        fc.get_function(svc, "f")
    assert e.value.status_code == 404


def test_code_checksum_header(fc, svc, hello_zip):
    right = crc(hello_zip.read_bytes())
    d = fc.create_function(svc, "ok", "python3", "index.handler", codeZipFile=str(hello_zip),
                           headers={"x-fc-code-checksum": right}).data
    assert d["codeChecksum"] == right
    with pytest.raises(FcError) as e:
        fc.create_function(svc, "bad", "python3", "index.handler", codeZipFile=str(hello_zip),
                           headers={"x-fc-code-checksum": "12345"})
    assert e.value.status_code == 400 and fc_error(e)["ErrorCode"] == "InvalidArgument"
    assert "X-Fc-Code-Checksum" in fc_error(e)["ErrorMessage"]
    with pytest.raises(FcError):
        fc.get_function(svc, "bad")
    # on update too: the function keeps its code
    other = hello_zip.parent / "other.zip"
    other.write_bytes(make_zip({"index.py": "x = 2\n"}))
    with pytest.raises(FcError) as e:
        fc.update_function(svc, "ok", codeZipFile=str(other), headers={"x-fc-code-checksum": right})
    assert e.value.status_code == 400
    assert fc.get_function(svc, "ok").data["codeChecksum"] == right


def test_get_function_code(fc, svc, hello_zip):
    data = hello_zip.read_bytes()
    fc.create_function(svc, "f", "python3", "index.handler", codeZipFile=str(hello_zip))
    r = fc.get_function_code(svc, "f")
    assert set(r.data) == {"url", "checksum"}
    assert r.data["checksum"] == fc.get_function(svc, "f").data["codeChecksum"]
    dl = requests.get(r.data["url"])  # plain HTTP, no signature: the URL is presigned like OSS's
    assert dl.status_code == 200
    assert dl.content == data
    assert str(fastcrc.crc64.xz(dl.content)) == r.data["checksum"]
    assert dl.headers["x-oss-hash-crc64ecma"] == r.data["checksum"]


def test_get_function_code_errors(fc, svc):
    with pytest.raises(FcError) as e:
        fc.get_function_code(svc, "nope")
    assert fc_error(e)["ErrorMessage"] == "function 'nope' does not exist in service 's'"
    with pytest.raises(FcError) as e:
        fc.get_function_code("nos", "nope")
    assert fc_error(e)["ErrorCode"] == "ServiceNotFound"


# ---- update -------------------------------------------------------------------------------------

def test_update_is_partial_and_env_is_replaced_whole(fc, svc, hello_zip):
    created = fc.create_function(svc, "f", "python3", "index.handler", codeZipFile=str(hello_zip),
                                 description="d", environmentVariables={"a": "1", "b": "2"})
    time.sleep(1.1)
    r = fc.update_function(svc, "f", environmentVariables={"newTestKey": "v"})
    d = r.data
    assert d["environmentVariables"] == {"newTestKey": "v"}
    assert d["description"] == "d" and d["memorySize"] == 256 and d["handler"] == "index.handler"
    assert d["codeChecksum"] == created.data["codeChecksum"]
    assert d["createdTime"] == created.data["createdTime"]
    assert d["lastModifiedTime"] > created.data["lastModifiedTime"]
    assert r.headers["Etag"] != created.headers["Etag"]
    assert d["functionId"] == created.data["functionId"]

    d = fc.update_function(svc, "f", memorySize=512).data  # no env given: kept
    assert d["environmentVariables"] == {"newTestKey": "v"} and d["memorySize"] == 512
    d = fc.update_function(svc, "f", environmentVariables={}).data  # present but empty: cleared
    assert d["environmentVariables"] == {}
    assert fc.get_function(svc, "f").data == d


def test_update_empty_values_and_nested_objects(http, server, svc):
    http.post(url(server, "/services/s/functions"), json=minimal(
        description="x", customDNS={"nameServers": ["1.1.1.1"], "searches": ["a"]}))
    r = http.put(url(server, "/services/s/functions/f"), json={"description": "", "customDNS": {"searches": ["b"]},
                                                                "runtime": None, "timeout": None})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["description"] == "" and d["runtime"] == "python3" and d["timeout"] == 3
    assert d["customDNS"] == {"nameServers": [], "searches": ["b"], "dnsOptions": []}  # replaced whole


def test_update_code_changes_checksum(fc, svc, hello_zip, tmp_path):
    old = fc.create_function(svc, "f", "python3", "index.handler", codeZipFile=str(hello_zip)).data
    new_zip = tmp_path / "new.zip"
    new_zip.write_bytes(make_zip({"index.py": "def handler(e, c):\n    return 'v2'\n"}))
    d = fc.update_function(svc, "f", codeZipFile=str(new_zip)).data
    assert d["codeChecksum"] != old["codeChecksum"]
    assert d["codeChecksum"] == crc(new_zip.read_bytes()) and d["codeSize"] == new_zip.stat().st_size
    code = fc.get_function_code(svc, "f").data
    assert code["checksum"] == d["codeChecksum"]
    assert requests.get(code["url"]).content == new_zip.read_bytes()


def test_if_match(fc, svc, hello_zip):
    r = fc.create_function(svc, "f", "python3", "index.handler", codeZipFile=str(hello_zip))
    with pytest.raises(FcError) as e:
        fc.update_function(svc, "f", description="x", headers={"if-match": "0" * 32})
    assert e.value.status_code == 412
    assert fc_error(e) == {**fc_error(e), "ErrorCode": "PreconditionFailed",
                           "ErrorMessage": "the resource being modified has been changed"}
    assert fc.get_function(svc, "f").data == r.data
    u = fc.update_function(svc, "f", description="x", headers={"if-match": r.headers["Etag"]})
    assert u.data["description"] == "x"
    with pytest.raises(FcError) as e:
        fc.delete_function(svc, "f", headers={"if-match": r.headers["Etag"]})  # stale now
    assert e.value.status_code == 412
    fc.delete_function(svc, "f", headers={"if-match": u.headers["Etag"]})


def test_update_validation_changes_nothing(http, server, svc):
    created = http.post(url(server, "/services/s/functions"), json=minimal()).json()
    for body in ({"runtime": "cobol"}, {"memorySize": 100}, {"timeout": "20"}, {"handler": ""},
                 {"environmentVariables": {"a": 1}}, {"layers": ["abc#nolayer#1"]},
                 {"customContainerConfig": {"image": "i"}}, {"memorySize": 4096},
                 {"instanceSoftConcurrency": 5}):
        r = http.put(url(server, "/services/s/functions/f"), json=body)
        assert r.status_code == 400, body
        assert r.json()["ErrorCode"] == "InvalidArgument"
    assert http.get(url(server, "/services/s/functions/f")).json() == created


def test_update_missing(fc, svc):
    with pytest.raises(FcError) as e:
        fc.update_function(svc, "nope", description="x")
    assert e.value.status_code == 404
    assert fc_error(e)["ErrorMessage"] == "function 'nope' does not exist in service 's'"


# ---- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["1abc", "-abc", "a.b", "a b", "ab/c", "x" * 65, "函数"])
def test_bad_names(fc, svc, hello_zip, name):
    with pytest.raises(FcError) as e:
        fc.create_function(svc, name, "python3", "index.handler", codeZipFile=str(hello_zip))
    assert e.value.status_code == 400
    assert fc_error(e)["ErrorCode"] == "InvalidArgument"
    assert "is invalid" in fc_error(e)["ErrorMessage"]
    assert fc.list_functions(svc).data["functions"] == []


def test_good_names(fc, svc, hello_zip):
    for name in ("_x", "Ab-c_9", "x" * 64):
        fc.create_function(svc, name, "python3", "index.handler", codeZipFile=str(hello_zip))
    assert len(fc.list_functions(svc).data["functions"]) == 3


def test_name_message(http, server, svc):
    r = http.post(url(server, "/services/s/functions"), json=minimal("9lives"))
    assert r.status_code == 400
    assert r.json()["ErrorMessage"].startswith("functionName '9lives' is invalid")
    r = http.post(url(server, "/services/s/functions"), json={**minimal(), "functionName": None})
    assert r.json()["ErrorMessage"] == "functionName is required"


def test_unknown_runtime(fc, svc, hello_zip):
    with pytest.raises(FcError) as e:
        fc.create_function(svc, "f", "python9", "index.handler", codeZipFile=str(hello_zip))
    assert e.value.status_code == 400
    assert fc_error(e)["ErrorCode"] == "InvalidArgument"
    assert "Runtime is set to an invalid value" in fc_error(e)["ErrorMessage"]


@pytest.mark.parametrize("runtime", ["python3.9", "nodejs14", "java11", "php7.2", "custom", "custom.debian10",
                                     "go1", "dotnetcore3.1", "python3.10", "nodejs16"])
def test_known_runtimes(fc, svc, hello_zip, runtime):
    assert fc.create_function(svc, "f", runtime, "index.handler", codeZipFile=str(hello_zip)).data["runtime"] == runtime


@pytest.mark.parametrize("field,value,words", [
    ("timeout", "20", "timeout is set to an invalid value: expected an integer"),
    ("memorySize", 256.5, "memorySize is set to an invalid value"),
    ("environmentVariables", {"a": 1}, "environmentVariables.a is set to an invalid value"),
    ("environmentVariables", ["a"], "expected an object"),
    ("description", 5, "expected a string"),
    ("layers", "arn", "expected an array"),
    ("caEnable", "yes", "expected a boolean"),
    ("timeout", 0, "timeout"),
    ("timeout", 86401, "timeout"),
    ("initializationTimeout", 301, "initializationTimeout"),
    ("instanceConcurrency", 0, "instanceConcurrency"),
    ("instanceType", "x9", "InstanceType is set to an invalid value"),
    ("diskSize", 1024, "DiskSize is set to an invalid value"),
    ("description", "d" * 257, "description is too long"),
    ("environmentVariables", {"1bad": "v"}, "environment variable name '1bad' is invalid"),
    ("code", "zip", "expected an object"),
])
def test_wrong_values(http, server, svc, field, value, words):
    r = http.post(url(server, "/services/s/functions"), json={**minimal(), field: value})
    assert r.status_code == 400, r.text
    assert r.json()["ErrorCode"] == "InvalidArgument"
    assert words in r.json()["ErrorMessage"], r.text
    assert http.get(url(server, "/services/s/functions")).json()["functions"] == []


def test_not_json(http, server, svc):
    r = http.post(url(server, "/services/s/functions"), data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"


@pytest.mark.parametrize("memory,itype,ok", [
    (128, "e1", True), (3072, "e1", True), (1024, None, True), (32768, "c1", True),
    (100, None, False), (130, None, False), (4096, "e1", False), (32832, "c1", False), (0, None, False),
])
def test_memory_rules(http, server, svc, memory, itype, ok):
    body = minimal(memorySize=memory, **({"instanceType": itype} if itype else {}))
    r = http.post(url(server, "/services/s/functions"), json=body)
    assert (r.status_code == 200) == ok, r.text
    if ok:
        assert r.json()["memorySize"] == memory
    else:
        assert r.json()["ErrorCode"] == "InvalidArgument"
        assert "MemorySize is set to an invalid value" in r.json()["ErrorMessage"]


def test_larger_elastic_memory_with_cpu(http, server, svc):
    r = http.post(url(server, "/services/s/functions"), json=minimal(memorySize=4096, cpu=2))
    assert r.status_code == 200, r.text


def test_soft_concurrency_not_above_concurrency(http, server, svc):
    r = http.post(url(server, "/services/s/functions"), json=minimal(instanceConcurrency=5, instanceSoftConcurrency=6))
    assert r.status_code == 400 and "instanceSoftConcurrency" in r.json()["ErrorMessage"]


# ---- not found, conflicts, delete ---------------------------------------------------------------

def test_not_found_messages(fc, svc):
    with pytest.raises(FcError) as e:
        fc.get_function(svc, "nope")
    assert e.value.status_code == 404
    assert fc_error(e)["ErrorCode"] == "FunctionNotFound"
    assert fc_error(e)["ErrorMessage"] == "function 'nope' does not exist in service 's'"
    with pytest.raises(FcError) as e:
        fc.get_function("nosvc", "nope")
    assert e.value.status_code == 404
    assert fc_error(e)["ErrorCode"] == "ServiceNotFound"
    assert fc_error(e)["ErrorMessage"] == "service 'nosvc' does not exist"
    with pytest.raises(FcError) as e:
        fc.list_functions("nosvc")
    assert fc_error(e)["ErrorMessage"] == "service 'nosvc' does not exist"
    with pytest.raises(FcError) as e:
        fc.delete_function(svc, "nope")
    assert e.value.status_code == 404 and fc_error(e)["ErrorCode"] == "FunctionNotFound"


def test_create_in_missing_service(fc, hello_zip):
    with pytest.raises(FcError) as e:
        fc.create_function("nosvc", "f", "python3", "index.handler", codeZipFile=str(hello_zip))
    assert e.value.status_code == 404
    assert fc_error(e)["ErrorMessage"] == "service 'nosvc' does not exist"


def test_duplicate(fc, svc, hello_zip):
    first = fc.create_function(svc, "f", "python3", "index.handler", codeZipFile=str(hello_zip), description="1")
    with pytest.raises(FcError) as e:
        fc.create_function(svc, "f", "python3", "index.handler", codeZipFile=str(hello_zip), description="2")
    assert e.value.status_code == 409
    assert fc_error(e)["ErrorCode"] == "FunctionAlreadyExists"
    assert fc_error(e)["ErrorMessage"] == "function 'f' already exists in service 's'"
    assert fc.get_function(svc, "f").data == first.data


def test_same_name_in_other_service(fc, svc, hello_zip):
    fc.create_service("s2")
    fc.create_function(svc, "f", "python3", "index.handler", codeZipFile=str(hello_zip))
    fc.create_function("s2", "f", "python3", "index.handler", codeZipFile=str(hello_zip))
    assert fc.get_function("s2", "f").data["functionId"] != fc.get_function(svc, "f").data["functionId"]


def test_delete(fc, svc, hello_zip, http, server):
    fc.create_function(svc, "f", "python3", "index.handler", codeZipFile=str(hello_zip))
    r = http.delete(url(server, "/services/s/functions/f"))
    assert r.status_code == 204 and r.content == b""
    with pytest.raises(FcError) as e:
        fc.get_function(svc, "f")
    assert e.value.status_code == 404
    # the name is free again
    fc.create_function(svc, "f", "python3", "index.handler", codeZipFile=str(hello_zip))


def test_service_with_functions_cannot_be_deleted(fc, svc, hello_zip):
    fc.create_function(svc, "f", "python3", "index.handler", codeZipFile=str(hello_zip))
    with pytest.raises(FcError) as e:
        fc.delete_service(svc)
    assert e.value.status_code == 409
    fc.delete_function(svc, "f")
    fc.delete_service(svc)


# ---- list and pagination ------------------------------------------------------------------------

def test_list_pagination(fc, svc, hello_zip):
    names = ["test_list_abc", "test_list_abd", "test_list_ade", "test_list_bcd", "test_list_bde", "zzz", "Upper"]
    for n in names:
        fc.create_function(svc, n, "python3", "index.handler", codeZipFile=str(hello_zip))
    everything = [f["functionName"] for f in fc.list_functions(svc).data["functions"]]
    assert everything == sorted(names)  # byte order: "Upper" first
    assert "nextToken" not in fc.list_functions(svc).data

    seen, token, calls = [], None, 0
    while True:
        data = fc.list_functions(svc, limit=3, nextToken=token).data
        calls += 1
        seen += [f["functionName"] for f in data["functions"]]
        token = data.get("nextToken")
        if not token:
            break
        assert token == sorted(names)[len(seen)]  # the first name of the next page
    assert seen == sorted(names) and calls == 3

    data = fc.list_functions(svc, prefix="test_list_a").data
    assert [f["functionName"] for f in data["functions"]] == ["test_list_abc", "test_list_abd", "test_list_ade"]
    data = fc.list_functions(svc, startKey="test_list_b").data
    assert [f["functionName"] for f in data["functions"]] == ["test_list_bcd", "test_list_bde", "zzz"]
    data = fc.list_functions(svc, prefix="test_list_ab", startKey="test_list_abd").data
    assert [f["functionName"] for f in data["functions"]] == ["test_list_abd"]
    data = fc.list_functions(svc, prefix="x", nextToken="test_list_b").data
    assert data["functions"] == []


def test_list_empty_and_limits(http, server, svc):
    assert http.get(url(server, "/services/s/functions")).json() == {"functions": []}
    for bad in ("0", "101", "abc"):
        r = http.get(url(server, "/services/s/functions"), params={"limit": bad})
        assert r.status_code == 400 and r.json()["ErrorCode"] == "InvalidArgument"


# ---- layers on functions ------------------------------------------------------------------------

def test_layers_must_exist(http, server, svc):
    layer = publish_layer(http, server)
    for bad in ("0123456789abcdef#missing#1", layer["arn"].replace("#1", "#2"), "not-an-arn",
                "ffffffffffffffffffffffffffffffff#lib#1"):
        r = http.post(url(server, "/services/s/functions"), json=minimal(layers=[bad]))
        assert r.status_code == 400, bad
        assert r.json()["ErrorCode"] == "InvalidArgument"
    assert http.get(url(server, "/services/s/functions")).json()["functions"] == []

    r = http.post(url(server, "/services/s/functions"), json=minimal(layers=[layer["arnV2"]]))
    assert r.status_code == 200, r.text
    assert r.json()["layers"] == [layer["arn"]] and r.json()["layersArnV2"] == [layer["arnV2"]]
    r = http.put(url(server, "/services/s/functions/f"), json={"layers": []})
    assert r.json()["layers"] == [] and r.json()["layersArnV2"] == []


def test_at_most_five_layers(http, server, svc):
    arn = publish_layer(http, server)["arn"]
    r = http.post(url(server, "/services/s/functions"), json=minimal(layers=[arn] * 6))
    assert r.status_code == 400 and "at most 5 layers" in r.json()["ErrorMessage"]


# ---- 2021-04-06 prefix --------------------------------------------------------------------------

def test_2021_prefix(http, server, svc):
    r = http.post(url(server, "/services/s/functions", "2021-04-06"), json=minimal())
    assert r.status_code == 200, r.text
    checksum = r.json()["codeChecksum"]
    r = http.put(url(server, "/services/s/functions/f", "2021-04-06"), json={"InstanceConcurrency": 3})
    assert r.json()["instanceConcurrency"] == 3
    r = http.get(url(server, "/services/s/functions/f", "2021-04-06"), params={"qualifier": "LATEST"})
    assert r.status_code == 200 and r.json()["instanceConcurrency"] == 3
    r = http.get(url(server, "/services/s/functions/f/code", "2021-04-06"), params={"qualifier": "LATEST"})
    assert r.json()["checksum"] == checksum
    r = http.get(url(server, "/services/s.LATEST/functions", "2021-04-06"))
    assert [f["functionName"] for f in r.json()["functions"]] == ["f"]
