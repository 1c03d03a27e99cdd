"""Standby instances of the .NET runtimes (issue 13) on both backends: a pre-started `dotnet` host that becomes a
function's instance at POST /assign must be indistinguishable from a fresh start (environment as
Environment.GetEnvironmentVariable and the C library's getenv show it, a child process's, working folder, the
function's load context: its assembly, .deps.json, its own Aliyun.Serverless.Core; the GC's memory limit, first
log), must never carry one function's configuration into another's, and must be reclaimed at shutdown. A
function that sets a variable .NET reads only at start (DOTNET_*, COMPlus_*, ...) or ships shared libraries
starts afresh."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from emulator.execution import dotnet_agent
from emulator.execution.artifacts import RUNTIMES_SRC
from tests.helpers import Server, deploy, fc_client, new_account
from tests.test_dotnet import ASM, build_publish
from tests.test_standby import (fresh_and_taken, left_standbys, probe, same_instance_view, standbys_ready,
                                wait_for)

PROBE = r'''
using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using System.Text;
using System.Threading;
using Aliyun.Serverless.Core;
using Microsoft.Extensions.Logging;
using Newtonsoft.Json;

namespace Example
{
    public class Probe
    {
        [DllImport("libc.so.6")] private static extern IntPtr getenv(string name);
        [DllImport("libc.so.6")] private static extern uint getuid();
        [DllImport("libc.so.6")] private static extern uint getgid();

        private static string Native(string name)
        {
            IntPtr p = getenv(name);
            return p == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(p);
        }

        private static string Cgroup()
        {
            foreach (string p in new[] { "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes" })
            {
                if (File.Exists(p)) return File.ReadAllText(p).Trim();
            }
            return null;
        }

        public Stream Handler(Stream input, IFcContext context)
        {
            string s = new StreamReader(input).ReadToEnd();
            if (s == "hold")
            {
                Thread.Sleep(2000);
                return new MemoryStream(Encoding.UTF8.GetBytes("held"));
            }
            context.Logger.LogInformation("probe of {0}", context.FunctionParam.FunctionName);
            Console.WriteLine("raw stdout");
            var env = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
            {
                env[(string)e.Key] = (string)e.Value;
            }
            var native = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (string name in env.Keys)
            {
                native[name] = Native(name);
            }
            var child = Process.Start(new ProcessStartInfo("/bin/sh", "-c env") { RedirectStandardOutput = true,
                                                                                   UseShellExecute = false });
            var childEnv = child.StandardOutput.ReadToEnd().Split('\n').Where(l => l.Length > 0).OrderBy(l => l, StringComparer.Ordinal).ToList();
            child.WaitForExit();
            AssemblyLoadContext alc = AssemblyLoadContext.GetLoadContext(typeof(Probe).Assembly);
            var result = new Dictionary<string, object>
            {
                { "env", env },
                { "native", native },
                { "child", childEnv },
                { "cwd", Environment.CurrentDirectory },
                { "files", Directory.GetFiles(".").Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal).ToList() },
                { "args", Environment.GetCommandLineArgs() },
                { "base", AppContext.BaseDirectory },
                { "context", alc.GetType().FullName },
                { "loaded", alc.Assemblies.Select(a => a.GetName().Name + " " + a.Location).OrderBy(n => n, StringComparer.Ordinal).ToList() },
                { "core", typeof(IFcContext).Assembly.Location },
                { "json", typeof(JsonConvert).Assembly.Location },
                { "ids", new[] { getuid(), getgid() } },
                { "gc", GC.GetGCMemoryInfo().TotalAvailableMemoryBytes },
                { "cgroup", Cgroup() },
                { "memory", context.FunctionParam.MemoryLimitInMB },
                { "temp", Path.GetTempPath() },
            };
            return new MemoryStream(Encoding.UTF8.GetBytes(JsonConvert.SerializeObject(result)));
        }
    }
}
'''


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict[str, bytes]:
    """The probe's publish folder (as `dotnet publish` lays it out: assembly, .deps.json, FC's packages)."""
    out = build_publish(tmp_path_factory.mktemp("dotnet-probe"), PROBE)
    return {p.name: p.read_bytes() for p in out.iterdir()}


def deploy_probe(client, tmp_path: Path, files: dict, name: str = "fn", **kwargs) -> str:
    kwargs.setdefault("runtime", "dotnetcore3.1")
    return deploy(client, tmp_path, files, name=name, handler=f"{ASM}::Example.Probe::Handler", **kwargs)


def view(seen: dict, instance: str) -> dict:
    """What the function saw, without what differs between any two instances (id, port, container name)."""
    shown = same_instance_view(seen, instance)
    for section in ("native",):
        for name in ("FC_SERVER_PORT", "FC_CUSTOM_LISTEN_PORT", "HOSTNAME"):
            if name in shown[section]:
                shown[section][name] = "<per instance>"
    shown["child"] = [line for line in shown["child"]
                      if not line.startswith(("FC_SERVER_PORT=", "FC_CUSTOM_LISTEN_PORT=", "HOSTNAME="))]
    return shown


def timeless(log: list[str]) -> list[str]:
    return [re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", "<time>", line) for line in log]


def taken_over(srv: Server, instance: str, name: str = "fn") -> bool:
    return f"instance {instance} of svc/{name} taken over from the standby pool" in srv.log()


@pytest.mark.parametrize("runtime", ["dotnetcore3.1", "dotnetcore2.1"])
def test_a_standby_is_a_fresh_start(backend, runtime, published, tmp_path):
    """The same function on a fresh instance and on one taken from the standby pool sees the same."""
    srv = Server(tmp_path / "fc", "--executor", backend, "--standby", "1").start()
    try:
        client = fc_client(srv, new_account())
        deploy_probe(client, tmp_path, published, runtime=runtime, memorySize=256,
                     environmentVariables={"MINE": "1", "GREETING": "héllo wörld"})
        (fresh_id, fresh, fresh_log), (standby_id, taken, taken_log) = fresh_and_taken(
            srv, client, ready_timeout=60)
        assert not taken_over(srv, fresh_id) and taken_over(srv, standby_id)
        taken_view, fresh_view = view(taken, standby_id), view(fresh, fresh_id)
        assert taken_view["env"] == fresh_view["env"]
        assert taken_view["native"] == fresh_view["native"] == taken_view["env"]
        assert taken_view["child"] == fresh_view["child"]
        assert taken_view == fresh_view
        assert timeless(taken_log) == timeless(fresh_log)
        assert "FC_EMULATOR_STANDBY" not in taken["env"] and not any("FC_EMULATOR_STANDBY" in line for line in taken["child"])
        assert taken["env"]["GREETING"] == "héllo wörld" and taken["native"]["GREETING"] == "héllo wörld"
        code = taken["env"]["FC_FUNC_CODE_PATH"]
        assert taken["cwd"] == code and taken["env"]["PATH"].startswith(code + ":")
        assert taken["env"]["LD_LIBRARY_PATH"].startswith(f"{code}:{code}/lib:{code}/runtimes/linux-x64/native")
        assert taken["core"] == f"{code}/Aliyun.Serverless.Core.dll"  # the function's own copy, as at a fresh start
        assert taken["json"] == f"{code}/Newtonsoft.Json.dll"
        assert taken["files"] == sorted(published)
        if backend == "docker":
            assert taken["cgroup"] == str(256 * 1024 * 1024)
    finally:
        srv.stop()


def test_functions_never_see_each_others_configuration(backend, published, tmp_path):
    """Functions taking standbys one after another each get their own code, environment and memory; one whose
    memory differs on Docker (.NET sizes its GC heap from the container's limit at start), sets a DOTNET_
    variable or ships a shared library starts afresh."""
    srv = Server(tmp_path / "fc", "--executor", backend, "--standby", "1").start()
    try:
        client = fc_client(srv, new_account())
        configs = {  # name: (variables, memory, extra files, takes a standby)
            "a": ({"A_ONLY": "a"}, 128, {}, False),  # the runtime's first use: afresh
            "b": ({"B_ONLY": "b"}, 128, {}, True),
            "c": ({}, 512, {}, backend == "process"),
            "d": ({"DOTNET_gcServer": "0"}, 128, {}, False),
            "e": ({}, 128, {"lib/libnothing.so": b"\x7fELF"}, False),
            "f": ({"F_ONLY": "f"}, 128, {"f.txt": b"f"}, True),
        }
        for name, (env, memory, extra, takes) in configs.items():
            deploy_probe(client, tmp_path, {**published, **extra}, name=name, memorySize=memory,
                         environmentVariables=env)
        for i, (name, (env, memory, extra, takes)) in enumerate(configs.items()):
            if i:
                # a standby of this function's kind: on Docker one of 512 MB appears only after c asked for it
                wait_for(lambda: standbys_ready(srv) >= 1, 30)
                time.sleep(0.3)
            instance, seen, log = probe(client, name)
            assert taken_over(srv, instance, name) == takes, name
            assert set(seen["files"]) == set(published) | {n for n in extra if "/" not in n}
            assert seen["env"]["FC_FUNCTION_NAME"] == name and seen["memory"] == memory
            assert seen["env"]["FC_FUNCTION_MEMORY_SIZE"] == str(memory)
            others = {k for n, (e, *_rest) in configs.items() if n != name for k in e}
            assert env.items() <= seen["env"].items() and not others & set(seen["env"])
            assert env.items() <= seen["native"].items()
            assert any(f"probe of {name}" in line for line in log)
            if backend == "docker":
                assert seen["cgroup"] == str(memory * 1024 * 1024)
                assert seen["gc"] <= memory * 1024 * 1024
    finally:
        srv.stop()


def test_standbys_are_reclaimed_at_shutdown(backend, published, tmp_path):
    data = tmp_path / "fc"
    srv = Server(data, "--executor", backend, "--standby", "1").start()
    try:
        client = fc_client(srv, new_account())
        deploy_probe(client, tmp_path, published)
        probe(client, "fn")
        assert wait_for(lambda: standbys_ready(srv) == 1, 60)
        assert len(left_standbys(backend, data)) == 1
    finally:
        srv.stop()
    assert wait_for(lambda: not left_standbys(backend, data), 10), "a standby outlived the emulator"


def test_the_standby_host_answers_only_assign_until_assigned(published, tmp_path):
    """The protocol itself, on the host started by hand as the emulator starts it: banner, 400 for every call
    before POST /assign, 200 {} for it (on a connection that then goes on serving), then /assign is an unknown
    path and the function runs."""
    import os
    import socket

    from emulator.execution import toolchains
    from tests.helpers import free_port

    agent = tmp_path / "runtime" / "dotnet"
    shutil.copytree(dotnet_agent.compiled(RUNTIMES_SRC) / "bin", agent / "bin")
    shutil.copyfile(RUNTIMES_SRC / "dotnet" / "agent.sh", agent / "agent.sh")
    code = tmp_path / "code"
    code.mkdir()
    for name, data in published.items():
        (code / name).write_bytes(data)
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8", "FC_SERVER_PORT": str(port),
           "FC_SERVER_HOST": "127.0.0.1", "FC_RUNTIME": "dotnetcore3.1", "FC_EMULATOR_STANDBY": "1"}
    proc = subprocess.Popen(["/bin/sh", str(agent / "agent.sh"), str(toolchains.dotnet_binary())], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert proc.stdout.readline() == b"FunctionCompute dotnetcore3.1 runtime inited.\n"

        def call(conn, method, path, body=b"", headers=""):
            conn.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{headers}\r\n"
                         .encode() + body)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(1)
                assert chunk, "the connection closed"
                head += chunk
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            data = b""
            while len(data) < length:
                data += conn.recv(length - len(data))
            return int(head.split(b" ")[1]), data

        for method, path in (("POST", "/invoke"), ("GET", "/"), ("POST", "/initialize")):
            with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
                status, data = call(conn, method, path, b"x", "x-fc-request-id: r0\r\n")
                assert status == 400 and b"no function yet" in data
        function_env = {**{k: v for k, v in env.items() if k != "FC_EMULATOR_STANDBY"},
                        "FC_FUNC_CODE_PATH": str(code), "FC_FUNCTION_HANDLER": f"{ASM}::Example.Probe::Handler",
                        "FC_FUNCTION_NAME": "fn", "EMPTY": "", "QUOTED": 'a "b" \\ c\u00e9'}
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            assert call(conn, "POST", "/assign", json.dumps({"env": function_env}).encode(),
                        "Content-Type: application/json\r\n") == (200, b"{}")
            status, data = call(conn, "POST", "/invoke", b"probe", "x-fc-request-id: r1\r\nx-fc-function-memory: 128\r\n")
            assert status == 200, data
            seen = json.loads(data)
            assert seen["cwd"] == str(code) and seen["core"] == str(code / "Aliyun.Serverless.Core.dll")
            assert seen["env"]["EMPTY"] == "" and seen["env"]["QUOTED"] == 'a "b" \\ c\u00e9'
            assert seen["native"]["QUOTED"] == 'a "b" \\ c\u00e9' and "FC_EMULATOR_STANDBY" not in seen["env"]
            status, data = call(conn, "POST", "/assign", json.dumps({"env": {}}).encode())
            assert status == 400 and b"unknown path '/assign'" in data
    finally:
        proc.kill()
        proc.wait()
