"""Standby instances of php7.2 (issue 13): a pre-started PHP agent that becomes a function's instance shows the
function exactly what a fresh start shows (getenv(), $_ENV, $_SERVER, working folder, include path,
memory_limit, loaded ini files and extensions, declared classes, the logger's level, FC_SERVER_PATH, memory
limit, first log), never carries one function's configuration into another's, and is reclaimed at shutdown.
What PHP reads only at start (the code's extension/*.ini through PHP_INI_SCAN_DIR, its shared libraries
through LD_LIBRARY_PATH, a PHP* variable of the function's own) makes the function start afresh."""
from __future__ import annotations

import base64
import json
import re

import pytest
import requests

from tests.helpers import Server, deploy, fc_client, new_account, zip_b64
from tests.test_standby import fresh_and_taken, left_standbys, standbys_ready, wait_for

RUNTIME = "php7.2"

# FC's PHP event function: handler($event, $context), the logger in $GLOBALS['fcLogger'] (runtimes.md §13)
PHP_PROBE = r'''<?php
$loadedAt = getcwd();

function cgroup_limit() {
    foreach (array('/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes') as $p) {
        if (is_readable($p)) {
            return trim(file_get_contents($p));
        }
    }
    return null;
}

function handler($event, $context) {
    global $loadedAt;
    if ($event === 'hold') {
        sleep(2);
        return 'held';
    }
    $logger = $GLOBALS['fcLogger'];
    $logger->debug('not at the default level');
    $logger->info('probe ' . $context['function']['name']);
    echo "echoed\n";
    $server = $_SERVER;
    unset($server['REQUEST_TIME'], $server['REQUEST_TIME_FLOAT']);  // when the instance started
    $files = scandir('.');
    sort($files);
    $included = get_included_files();
    sort($included);
    $classes = get_declared_classes();
    sort($classes);
    $extensions = get_loaded_extensions();
    sort($extensions);
    return json_encode(array(
        'env' => getenv(), '_ENV' => $_ENV, '_SERVER' => $server, 'cwd' => getcwd(), 'loadedAt' => $loadedAt,
        'include_path' => get_include_path(), 'memory_limit' => ini_get('memory_limit'),
        'precision' => ini_get('precision'), 'ini' => php_ini_loaded_file(), 'scanned' => php_ini_scanned_files(),
        'extensions' => $extensions, 'classes' => $classes, 'included' => $included, 'files' => $files,
        'level' => $logger->getLevel(), 'server_path' => getenv('FC_SERVER_PATH'), 'cgroup' => cgroup_limit(),
        'ids' => function_exists('posix_getuid') ? array(posix_getuid(), posix_getgid(), posix_getgroups()) : null,
        'umask' => umask(), 'tz' => date_default_timezone_get(), 'tmp' => sys_get_temp_dir(),
        'time_ok' => abs($_SERVER['REQUEST_TIME_FLOAT'] - microtime(true)) < 600,
    ));
}
'''

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")


def probe(client, name: str, payload: bytes = b"probe") -> tuple[str, dict, list[str]]:
    """(instance id, what the function saw, its invocation's log without request id, times and durations)."""
    r = client.invoke_function("svc", name, payload=payload, headers={"x-fc-log-type": "Tail"})
    rid = r.headers["X-Fc-Request-Id"]
    lines = base64.b64decode(r.headers["X-Fc-Log-Result"]).decode().splitlines()
    return (r.headers["X-Fc-Instance-Id"], json.loads(r.data),
            [STAMP.sub("<time> ", line.replace(rid, "<request>")) for line in lines
             if not line.startswith("Duration: ")])


def same_view(seen: dict, instance: str) -> dict:
    """What the function saw, with what differs between any two instances (their id, port) named."""
    view = json.loads(json.dumps(seen, sort_keys=True).replace(instance, "<instance>"))
    for where in ("env", "_ENV", "_SERVER"):
        for name in ("FC_SERVER_PORT", "FC_CUSTOM_LISTEN_PORT", "HOSTNAME"):  # HOSTNAME: Docker's container id
            if name in view[where]:
                view[where][name] = "<per instance>"
    return view


@pytest.mark.parametrize("memory", [256, 4096])  # above 3072 MB memory_limit is the function's memory size
def test_a_php_standby_is_a_fresh_start(backend, memory, tmp_path):
    srv = Server(tmp_path / "fc", "--executor", backend, "--standby", "1").start()
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.php": PHP_PROBE, "data.txt": "x"}, runtime=RUNTIME, memorySize=memory,
               instanceType="c1" if memory > 3072 else "e1",
               environmentVariables={"MINE": "1", "GREETING": "héllo wörld"})
        (fresh_id, fresh, fresh_log), (taken_id, taken, taken_log) = fresh_and_taken(srv, client, probe=probe)
        assert f"instance {taken_id} of svc/fn taken over from the standby pool" in srv.log()
        taken_view, fresh_view = same_view(taken, taken_id), same_view(fresh, fresh_id)
        for part in ("env", "_ENV", "_SERVER"):
            assert taken_view[part] == fresh_view[part], part
        assert taken_view == fresh_view
        assert taken_log == fresh_log
        assert "<time> <request> [INFO] probe fn" in taken_log and "echoed" in taken_log
        assert not any("not at the default level" in line for line in taken_log)
        env = taken["env"]
        assert env["MINE"] == "1" and env["GREETING"] == "héllo wörld" and "FC_EMULATOR_STANDBY" not in env
        assert "FC_EMULATOR_STANDBY" not in taken["_ENV"] and "FC_EMULATOR_STANDBY" not in taken["_SERVER"]
        assert taken["server_path"] == taken["_ENV"]["FC_SERVER_PATH"] == "/var/fc/runtime/php7.2"
        assert "FC_SERVER_PORT" not in taken["_ENV"] and env["FC_SERVER_PORT"]  # FC's agent keeps only some FC_*
        assert taken["memory_limit"] == ("3072M" if memory <= 3072 else f"{memory}M")
        assert taken["cwd"] == taken["loadedAt"] == env["FC_FUNC_CODE_PATH"]
        assert taken["include_path"].endswith(":/opt/php") and taken["level"] == 200 and taken["time_ok"]
        if backend == "docker":
            assert taken["cgroup"] == str(memory * 1024 * 1024)
    finally:
        srv.stop()


def test_a_php_standby_with_layers_is_a_fresh_start(backend, tmp_path):
    """A layer's php/ folder is on the include path (runtimes.md §13.1): a function with a layer sees its
    libraries, and the same include path, included files and view, on a standby as on a fresh instance."""
    srv = Server(tmp_path / "fc", "--executor", backend, "--standby", "1").start()
    try:
        client = fc_client(srv, new_account())
        headers = {"X-Fc-Account-Id": client.account_id}
        layer = requests.post(srv.url + "/2016-08-15/layers/greet/versions", headers=headers, json={
            "code": {"zipFile": zip_b64({"php/greet.php": "<?php\nfunction greet() { return 'from a layer'; }\n"})},
            "compatibleRuntime": [RUNTIME]})
        assert layer.status_code == 200, layer.text
        uses_layer = "<?php\nrequire_once 'greet.php';\nrequire __DIR__ . '/index.php';\n"
        deploy(client, tmp_path, {"index.php": PHP_PROBE, "layered.php": uses_layer}, runtime=RUNTIME,
               handler="layered.handler")
        # aliyun-fc2 has no `layers` parameter: set it with UpdateFunction over plain HTTP
        r = requests.put(srv.url + "/2016-08-15/services/svc/functions/fn", headers=headers,
                         json={"layers": [layer.json()["arn"]]})
        assert r.status_code == 200, r.text
        (fresh_id, fresh, fresh_log), (taken_id, taken, taken_log) = fresh_and_taken(srv, client, probe=probe)
        assert f"instance {taken_id} of svc/fn taken over from the standby pool" in srv.log()
        assert same_view(taken, taken_id) == same_view(fresh, fresh_id)
        assert taken_log == fresh_log
        assert any(f.endswith("/php/greet.php") for f in taken["included"])
        assert taken["include_path"].endswith(":" + taken["env"]["FC_EMULATOR_OPT_DIR"] + "/php")
    finally:
        srv.stop()


def test_php_functions_never_see_each_others_configuration(backend, tmp_path):
    """Functions taking standbys one after another each get their own code, environment and memory."""
    srv = Server(tmp_path / "fc", "--executor", backend, "--standby", "1").start()
    try:
        client = fc_client(srv, new_account())
        configs = {"a": ({"A_ONLY": "a"}, 128), "b": ({"B_ONLY": "b"}, 4096), "c": ({}, 512)}
        for name, (env, memory) in configs.items():
            deploy(client, tmp_path, {"index.php": PHP_PROBE, f"{name}.txt": name}, name=name, runtime=RUNTIME,
                   memorySize=memory, instanceType="c1" if memory > 3072 else "e1", environmentVariables=env)
        for i, (name, (env, memory)) in enumerate(configs.items()):
            if i:  # the first one starts afresh, the others take a standby
                assert wait_for(lambda: standbys_ready(srv) == 1)
            instance, seen, log = probe(client, name)
            assert (f"instance {instance} of svc/{name} taken over" in srv.log()) == bool(i)
            assert seen["files"] == [".", "..", f"{name}.txt", "index.php"]
            assert seen["env"]["FC_FUNCTION_NAME"] == seen["_ENV"]["FC_FUNCTION_NAME"] == name
            assert seen["env"]["FC_FUNCTION_MEMORY_SIZE"] == str(memory)
            assert seen["memory_limit"] == ("3072M" if memory <= 3072 else f"{memory}M")
            others = {k for n, (e, _) in configs.items() if n != name for k in e}
            for part in ("env", "_ENV", "_SERVER"):
                assert env.items() <= seen[part].items() and not others & set(seen[part])
            assert seen["include_path"].count(":/opt/php") == 1  # set once, as at a fresh start
            assert f"<time> <request> [INFO] probe {name}" in log
            if backend == "docker":
                assert seen["cgroup"] == str(memory * 1024 * 1024)
    finally:
        srv.stop()


def test_what_php_reads_at_start_makes_a_fresh_start(backend, tmp_path):
    """Ini files in the code's extension/ folder (PHP_INI_SCAN_DIR), shared libraries beside the code
    (LD_LIBRARY_PATH) and a PHP* variable of the function's own are read by PHP only when it starts: such a
    function never takes a standby, and its settings apply; the standby stays for the next function."""
    srv = Server(tmp_path / "fc", "--executor", backend, "--standby", "1").start()
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.php": PHP_PROBE}, name="first", runtime=RUNTIME)
        deploy(client, tmp_path, {"index.php": PHP_PROBE, "extension/mine.ini": "precision = 7\n"}, name="ini",
               runtime=RUNTIME)
        deploy(client, tmp_path, {"index.php": PHP_PROBE, "lib/libmine.so.1": "not really a library"},
               name="lib", runtime=RUNTIME)
        deploy(client, tmp_path, {"index.php": PHP_PROBE}, name="rc", runtime=RUNTIME,
               environmentVariables={"PHPRC": "/code"})
        probe(client, "first")
        for name in ("ini", "lib", "rc"):
            assert wait_for(lambda: standbys_ready(srv) == 1)
            instance, seen, _ = probe(client, name)
            assert f"instance {instance} of svc/{name} taken over" not in srv.log()
            if name == "ini":
                assert seen["precision"] == "7" and seen["scanned"].split(",")[0].strip().endswith(
                    "/extension/mine.ini")
        assert standbys_ready(srv) == 1
        deploy(client, tmp_path, {"index.php": PHP_PROBE}, name="plain", runtime=RUNTIME)
        instance, seen, _ = probe(client, "plain")
        assert f"instance {instance} of svc/plain taken over" in srv.log()
        assert seen["precision"] == "14"
    finally:
        srv.stop()


def test_php_standbys_are_reclaimed_at_shutdown(backend, tmp_path):
    data = tmp_path / "fc"
    srv = Server(data, "--executor", backend, "--standby", "1").start()
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, {"index.php": PHP_PROBE}, runtime=RUNTIME)
        probe(client, "fn")
        assert wait_for(lambda: standbys_ready(srv) == 1)
        assert len(left_standbys(backend, data)) == 1
    finally:
        srv.stop()
    assert wait_for(lambda: not left_standbys(backend, data), 10), "a standby outlived the emulator"
