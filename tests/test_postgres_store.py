"""The store on SQLite and on PostgreSQL (issue 15): concurrent writes have one winner and no server error,
version and layer numbers never collide, listings keep FC's byte order, and code packages and layers are
shared by every emulator on one PostgreSQL database (fetched on first use, checksum checked).

The `server` tests run on both stores (this module is in conftest's PG_SUITES); the sharing tests start
their own emulators on a fresh PostgreSQL database (`pg_url`)."""
from __future__ import annotations

import hashlib
import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import fastcrc
import psycopg
import pytest
import requests
from sqlalchemy.engine import make_url

from tests.helpers import HELLO_PY, Server, fc_client, new_account, zip_b64

API = "/2016-08-15"


def together(n: int, call) -> list[requests.Response]:
    """`call(i)` from n threads released at once; every answer."""
    barrier = threading.Barrier(n)

    def run(i: int) -> requests.Response:
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def statuses(answers: list[requests.Response]) -> Counter:
    return Counter(r.status_code for r in answers)


def no_server_error(answers: list[requests.Response]) -> None:
    bad = [(r.status_code, r.text[:300]) for r in answers if r.status_code >= 500]
    assert not bad, bad


def service(http, server, name: str = "s") -> requests.Response:
    r = http.post(server.url + API + "/services", json={"serviceName": name})
    assert r.status_code == 200, r.text
    return r


def function(http, server, svc: str = "s", name: str = "f", files: dict | None = None) -> requests.Response:
    r = http.post(server.url + API + f"/services/{svc}/functions", json={
        "functionName": name, "runtime": "python3.9", "handler": "index.handler",
        "code": {"zipFile": zip_b64(files or HELLO_PY)}})
    assert r.status_code == 200, r.text
    return r


# ---- races on one emulator: exactly one winner, a lost race answers FC's 4xx ----------------------------

def test_if_match_updates_have_exactly_one_winner(http, server):
    etag = service(http, server).headers["Etag"]
    for round_ in range(5):
        answers = together(20, lambda i: http.put(server.url + API + "/services/s", headers={"If-Match": etag},
                                                  json={"description": f"round {round_} writer {i}"}))
        no_server_error(answers)
        assert statuses(answers) == {200: 1, 412: 19}, statuses(answers)
        winner = next(r for r in answers if r.status_code == 200)
        assert all(r.json()["ErrorCode"] == "PreconditionFailed" for r in answers if r.status_code == 412)
        got = http.get(server.url + API + "/services/s")
        assert got.json()["description"] == winner.json()["description"]  # the winner's write is the one kept
        etag = got.headers["Etag"]
        assert etag == winner.headers["Etag"]


def test_if_match_function_updates_have_exactly_one_winner(http, server):
    service(http, server)
    etag = function(http, server).headers["Etag"]
    answers = together(20, lambda i: http.put(server.url + API + "/services/s/functions/f",
                                              headers={"If-Match": etag}, json={"memorySize": 128 + 64 * (i % 4)}))
    no_server_error(answers)
    assert statuses(answers) == {200: 1, 412: 19}, statuses(answers)


def test_concurrent_layer_publishes_get_distinct_numbers(http, server):
    n = 12
    answers = together(n, lambda i: http.post(server.url + API + "/layers/lib/versions", json={
        "compatibleRuntime": ["python3.9"], "code": {"zipFile": zip_b64({"python/lib.py": f"N = {i}\n"})}}))
    no_server_error(answers)
    assert statuses(answers) == {200: n}
    assert sorted(r.json()["version"] for r in answers) == list(range(1, n + 1))
    listed = http.get(server.url + API + "/layers/lib/versions", params={"limit": 100}).json()["layers"]
    assert [v["version"] for v in listed] == list(range(1, n + 1))
    # every version keeps its own code
    by_version = {r.json()["version"]: r.json()["codeChecksum"] for r in answers}
    assert {v["version"]: v["codeChecksum"] for v in listed} == by_version


def test_concurrent_version_publishes_one_per_change(http, server):
    service(http, server)
    function(http, server)
    answers = together(10, lambda i: http.post(server.url + API + "/services/s/versions", json={"description": "v"}))
    no_server_error(answers)
    assert statuses(answers) == {200: 1, 400: 9}, statuses(answers)  # nothing changed after the first
    assert all("has not changed" in r.json()["ErrorMessage"] for r in answers if r.status_code == 400)

    # publishes racing with updates: each publish that wins gets the next id, none collides
    def publish_or_update(i: int) -> requests.Response:
        if i % 2:
            return http.put(server.url + API + "/services/s/functions/f", json={"description": f"d{i}"})
        return http.post(server.url + API + "/services/s/versions", json={})
    answers = together(16, publish_or_update)
    no_server_error(answers)
    published = [int(r.json()["versionId"]) for r in answers if r.request.method == "POST" and r.status_code == 200]
    listed = http.get(server.url + API + "/services/s/versions", params={"limit": 100}).json()["versions"]
    ids = sorted(int(v["versionId"]) for v in listed)
    assert ids == list(range(1, len(ids) + 1)) and sorted(published) == ids[1:]


def test_concurrent_creates_of_one_name(http, server):
    answers = together(20, lambda i: http.post(server.url + API + "/services", json={"serviceName": "same"}))
    no_server_error(answers)
    assert statuses(answers) == {200: 1, 409: 19}
    service(http, server, "other")
    answers = together(20, lambda i: http.post(server.url + API + "/services/other/functions", json={
        "functionName": "f", "runtime": "python3.9", "handler": "index.handler",
        "code": {"zipFile": zip_b64({"index.py": f"def handler(e, c):\n    return '{i}'\n"})}}))
    no_server_error(answers)
    assert statuses(answers) == {200: 1, 409: 19}


def test_delete_racing_creates_leaves_no_orphan(http, server):
    """DeleteService only when empty, racing CreateFunction under it: either the delete or the creates lose."""
    for round_ in range(3):
        name = f"race{round_}"
        service(http, server, name)

        def act(i: int) -> requests.Response:
            if i == 0:
                return http.delete(server.url + API + f"/services/{name}")
            return http.post(server.url + API + f"/services/{name}/functions", json={
                "functionName": f"f{i}", "runtime": "python3.9", "handler": "index.handler",
                "code": {"zipFile": zip_b64(HELLO_PY)}})
        answers = together(8, act)
        no_server_error(answers)
        deleted = answers[0].status_code == 204
        made = [r for r in answers[1:] if r.status_code == 200]
        if deleted:  # functions made before the delete would have made it fail: none got in
            assert not made and http.get(server.url + API + f"/services/{name}").status_code == 404
        else:
            assert answers[0].status_code == 409 and made
            listed = http.get(server.url + API + f"/services/{name}/functions").json()["functions"]
            assert len(listed) == len(made)


def test_listings_are_in_byte_order(http, server):
    """FC lists names in byte order (prefix, startKey, nextToken); a PostgreSQL database whose default
    collation is linguistic (the tests make ICU en-US ones) must not change that."""
    names = ["a-1", "B", "_x", "A", "b", "Z9", "a_2", "a2"]
    for name in names:
        service(http, server, name)
    got, token = [], None
    while True:
        params = {"limit": 3, **({"nextToken": token} if token else {})}
        body = http.get(server.url + API + "/services", params=params).json()
        got += [s["serviceName"] for s in body["services"]]
        token = body.get("nextToken")
        if not token:
            break
    assert got == sorted(names, key=lambda n: n.encode())
    body = http.get(server.url + API + "/services", params={"prefix": "a", "startKey": "a2"}).json()
    assert [s["serviceName"] for s in body["services"]] == ["a2", "a_2"]


# ---- code shared by the emulators on one PostgreSQL database ---------------------------------------------

@pytest.fixture
def replicas(pg_url, tmp_path):
    """Two emulators (process backend) on one PostgreSQL database, each with its own data dir."""
    servers = [Server(tmp_path / f"r{i}", "--database-url", pg_url, "--executor", "process",
                      "--standby", "0").start() for i in range(2)]
    yield servers
    for s in servers:
        s.stop()


def _session(account: str) -> requests.Session:
    http = requests.Session()
    http.headers["X-Fc-Account-Id"] = account
    return http


def test_code_and_layers_created_on_one_emulator_run_on_another(replicas):
    a, b = replicas
    account = new_account()
    http, fb = _session(account), fc_client(b, account)
    r = http.post(a.url + API + "/layers/lib/versions", json={"compatibleRuntime": ["python3.9"], "code": {
        "zipFile": zip_b64({"python/shared_lib.py": "WORD = 'from a layer'\n"})}})
    assert r.status_code == 200, r.text
    layer_arn = r.json()["arn"]
    service(http, a)
    r = http.post(a.url + API + "/services/s/functions", json={
        "functionName": "f", "runtime": "python3.9", "handler": "index.handler", "layers": [layer_arn],
        "code": {"zipFile": zip_b64({"index.py": "import shared_lib\n"
                                                 "def handler(event, context):\n    return 'hello ' + shared_lib.WORD\n"})}})
    assert r.status_code == 200, r.text
    checksum = r.json()["codeChecksum"]
    # B never saw the packages: it fetches the function's code and the layer from the database
    assert not list((b.data_dir / "code").glob("*.zip"))
    assert fb.invoke_function("s", "f").data == b"hello from a layer"
    assert len(list((b.data_dir / "code").glob("*.zip"))) == 2  # cached: the function's zip and the layer's
    assert fc_client(a, account).invoke_function("s", "f").data == b"hello from a layer"
    # GetFunctionCode through B: B's own download link, serving the very bytes the checksum names
    url = fb.get_function_code("s", "f").data["url"]
    assert url.startswith(b.url)
    got = requests.get(url)
    assert got.status_code == 200 and str(fastcrc.crc64.xz(got.content)) == checksum
    # an update through A is a new package, which B fetches too
    r = http.put(a.url + API + "/services/s/functions/f", json={"layers": [], "code": {"zipFile": zip_b64(
        {"index.py": "def handler(event, context):\n    return 'v2'\n"})}})
    assert r.status_code == 200, r.text
    # (B's caches of the function itself are another helper's work: a write through B refreshes them here)
    assert http.put(b.url + API + "/services/s/functions/f", json={"description": "d"}).status_code == 200
    assert fb.invoke_function("s", "f").data == b"v2"


def _sql(pg_url: str, statement: str, *args) -> list:
    dsn = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(statement, args)
        return cur.fetchall() if cur.description else []


def test_a_damaged_package_in_the_database_is_refused(replicas, pg_url):
    a, b = replicas
    account = new_account()
    http = _session(account)
    service(http, a)
    r = http.post(a.url + API + "/services/s/functions", json={
        "functionName": "f", "runtime": "python3.9", "handler": "index.handler",
        "code": {"zipFile": zip_b64({"index.py": "def handler(e, c):\n    return 'ok'\n", "pad.txt": "x" * 5000})}})
    assert r.status_code == 200, r.text
    checksum = r.json()["codeChecksum"]
    rows = _sql(pg_url, "SELECT seq, size, length(data) FROM code_blobs WHERE checksum = %s", checksum)
    assert rows == [(0, rows[0][1], rows[0][1])]  # one chunk holding the whole zip
    _sql(pg_url, "UPDATE code_blobs SET data = overlay(data placing '\\xff'::bytea from 40 for 1) "
                 "WHERE checksum = %s", checksum)
    r = http.post(b.url + API + "/services/s/functions/f/invocations")
    # the server's own data is bad: an internal error that says so (and retried, were it an async event)
    assert r.status_code == 500 and r.json()["ErrorCode"] == "InternalServerError"
    assert "damaged" in r.text and str(b.data_dir) not in r.text, r.text
    assert not (b.data_dir / "code" / f"{checksum}.zip").exists()  # nothing cached from a bad copy
    assert fc_client(a, account).invoke_function("s", "f").data == b"ok"  # A has its own good copy


def test_a_package_larger_than_a_chunk_arrives_whole(replicas, pg_url):
    """Zips are kept in 4 MiB chunks: a 9 MiB one (three chunks) is put together in order on the other emulator."""
    a, b = replicas
    account = new_account()
    http = _session(account)
    service(http, a)
    blob = os.urandom(9 << 20)  # incompressible: the zip is as large
    code = {"index.py": "import hashlib, os\ndef handler(event, context):\n"
                        "    return hashlib.sha256(open(os.path.join(os.path.dirname(__file__), 'blob.bin'), 'rb')"
                        ".read()).hexdigest()\n", "blob.bin": blob}
    r = http.post(a.url + API + "/services/s/functions", json={
        "functionName": "f", "runtime": "python3.9", "handler": "index.handler", "code": {"zipFile": zip_b64(code)}})
    assert r.status_code == 200, r.text
    rows = _sql(pg_url, "SELECT seq, length(data) FROM code_blobs WHERE checksum = %s ORDER BY seq",
                r.json()["codeChecksum"])
    assert [seq for seq, _ in rows] == [0, 1, 2] and sum(n for _, n in rows) == r.json()["codeSize"]
    assert fc_client(b, account).invoke_function("s", "f").data.decode() == hashlib.sha256(blob).hexdigest()
