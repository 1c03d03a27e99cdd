"""dotnetcore2.1 / dotnetcore3.1 (runtimes.md §14) on both backends: functions written as FC's docs write
them, compiled here from C# with Mono's mcs against the .NET Core 3.1 runtime into a `dotnet publish`-style
folder (<Asm>.dll, .deps.json, .runtimeconfig.json, Aliyun.Serverless.Core.dll,
Microsoft.Extensions.Logging.Abstractions.dll, Newtonsoft.Json.dll), zipped flat."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from emulator.execution import dotnet_agent
from emulator.execution.artifacts import RUNTIMES_SRC
from tests.helpers import invoke_with_tail, log_tail, runtime_server, deploy, fc_client

V1 = "/2016-08-15"
ASM = "HelloFcApp"

HELLO = r'''
using System;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Aliyun.Serverless.Core;
using Microsoft.Extensions.Logging;
using Newtonsoft.Json;

namespace Example
{
    public class Hello
    {
        private int counter;  // one Hello per instance: the initializer's 1, then 2 per call

        public void Initialize(IFcContext context)
        {
            counter += 1;
            context.Logger.LogInformation("initialized {0}", context.FunctionParam.FunctionName);
        }

        public async Task<Stream> StreamHandler(Stream input, IFcContext context)
        {
            ILogger logger = context.Logger;
            string s = await new StreamReader(input).ReadToEndAsync();
            if (s == "log")
            {
                logger.LogTrace("at trace"); logger.LogDebug("at debug"); logger.LogInformation("at {Level}", "info");
                logger.LogWarning("at warning"); logger.LogError("at error"); logger.LogCritical("at critical");
                Console.WriteLine("raw stdout"); Console.Error.WriteLine("raw stderr");
            }
            else if (s == "ctx")
            {
                IFunctionParameter p = context.FunctionParam;
                s = string.Join("|", context.RequestId, p.FunctionName, p.FunctionHandler, p.MemoryLimitInMB,
                    p.FunctionTimeout.TotalSeconds, context.Credentials.AccessKeyId, context.ServiceMeta.Name,
                    context.Region, Environment.GetEnvironmentVariable("FC_FUNCTION_NAME"),
                    typeof(IFcContext).Assembly.Location.StartsWith(Environment.GetEnvironmentVariable("FC_FUNC_CODE_PATH")));
            }
            else if (s == "fail")
            {
                await Task.Delay(1);
                throw new InvalidOperationException("oops");
            }
            else if (s == "sleep")
            {
                Thread.Sleep(5000);
            }
            else if (s == "exit")
            {
                Environment.Exit(3);
            }
            counter += 2;
            var output = new MemoryStream(Encoding.UTF8.GetBytes(s.ToUpperInvariant() + " " + counter));
            output.Seek(0, SeekOrigin.Begin);
            return output;
        }

        public static Stream Echo(Stream input)
        {
            var copy = new MemoryStream();
            input.CopyTo(copy);
            copy.Seek(0, SeekOrigin.Begin);
            return copy;
        }

        public static void Throw(Stream input, IFcContext context)
        {
            throw new ArgumentException("bad event");
        }
    }

    public class Person
    {
        public string FirstName { get; set; }
        [JsonProperty("years")]
        public int Age { get; set; }
        public Address Home { get; set; }
    }

    public class Address
    {
        public string City { get; set; }
    }

    public class Greeting
    {
        public string Message { get; set; }
        public int NextAge { get; set; }
        public string City { get; set; }
    }

    public class Poco
    {
        public static Greeting Greet(Person p, IFcContext context)
        {
            return new Greeting { Message = "Hello " + p.FirstName, NextAge = p.Age + 1, City = p.Home.City };
        }

        public async Task<Greeting> GreetAsync(Person p)
        {
            await Task.Delay(1);
            return new Greeting { Message = "Later " + p.FirstName, NextAge = p.Age + 2 };
        }

        [FcSerializer(typeof(ShoutingSerializer))]
        public static Greeting Shout(Person p)
        {
            return new Greeting { Message = "hey " + p.FirstName };
        }
    }

    public class ShoutingSerializer : IFcSerializer
    {
        public T Deserialize<T>(Stream requestStream)
        {
            var p = new Person { FirstName = new StreamReader(requestStream).ReadToEnd() };
            return (T)(object)p;
        }

        public void Serialize<T>(T response, Stream responseStream)
        {
            var bytes = Encoding.UTF8.GetBytes(((Greeting)(object)response).Message.ToUpperInvariant());
            responseStream.Write(bytes, 0, bytes.Length);
        }
    }
}
'''


def _deps_json() -> str:
    """What `dotnet publish` writes for a netcoreapp3.1 library referencing FC's packages."""
    def pkg(name, version, asm_version, tfm="netstandard2.0"):
        return {f"{name}/{version}": {"runtime": {f"lib/{tfm}/{name}.dll": {"assemblyVersion": asm_version,
                                                                            "fileVersion": asm_version}}}}
    target = {f"{ASM}/1.0.0": {"dependencies": {"Aliyun.Serverless.Core": "1.0.1", "Newtonsoft.Json": "6.0.8"},
                               "runtime": {f"{ASM}.dll": {}}},
              **pkg("Aliyun.Serverless.Core", "1.0.1", "0.0.0.0"),
              **pkg("Microsoft.Extensions.Logging.Abstractions", "2.1.1", "2.1.1.0"),
              **pkg("Newtonsoft.Json", "6.0.8", "6.0.0.0", "net45")}
    target["Aliyun.Serverless.Core/1.0.1"]["dependencies"] = {"Microsoft.Extensions.Logging.Abstractions": "2.1.1"}
    libraries = {f"{ASM}/1.0.0": {"type": "project", "serviceable": False, "sha512": ""}}
    for key in target:
        if key != f"{ASM}/1.0.0":
            libraries[key] = {"type": "package", "serviceable": True, "sha512": "",
                              "path": key.lower(), "hashPath": key.lower().replace("/", ".") + ".nupkg.sha512"}
    return json.dumps({"runtimeTarget": {"name": ".NETCoreApp,Version=v3.1", "signature": ""},
                       "compilationOptions": {}, "targets": {".NETCoreApp,Version=v3.1": target},
                       "libraries": libraries}, indent=2)


def build_publish(folder: Path, source: str) -> Path:
    """A publish folder of the C# `source` in `folder`, laid out as `dotnet publish` would (assembly ASM,
    .deps.json, .runtimeconfig.json, FC's packages and Json.NET beside it), compiled with mcs."""
    mcs, framework = dotnet_agent.mcs(), dotnet_agent.framework_dir()
    assert mcs and framework, "mcs and the .NET Core 3.1 runtime are needed (scripts/test installs both)"
    agent = dotnet_agent.compiled(RUNTIMES_SRC)
    newtonsoft = dotnet_agent.json_net()
    assert agent and newtonsoft, "the .NET agent and Debian's Json.NET (libnewtonsoft-json5.0-cil) are needed"
    lib = agent / "bin" / "lib"
    (folder / "Function.cs").write_text(source)
    out = folder / "publish"
    out.mkdir()
    refs = [lib / "Aliyun.Serverless.Core.dll", lib / "Microsoft.Extensions.Logging.Abstractions.dll", newtonsoft]
    run = subprocess.run([mcs, "-nostdlib", "-noconfig", "-target:library", f"-out:{out / (ASM + '.dll')}",
                          *dotnet_agent.references(framework), *(f"-r:{r}" for r in refs), str(folder / "Function.cs")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    for r in refs:
        shutil.copyfile(r, out / r.name)
    (out / f"{ASM}.deps.json").write_text(_deps_json())
    (out / f"{ASM}.runtimeconfig.json").write_text(json.dumps(
        {"runtimeOptions": {"tfm": "netcoreapp3.1", "framework": {"name": "Microsoft.NETCore.App", "version": "3.1.0"}}}))
    return out


@pytest.fixture(scope="module")
def publish(tmp_path_factory) -> Path:
    """The publish folder of HelloFcApp."""
    return build_publish(tmp_path_factory.mktemp("dotnet-publish"), HELLO)


@pytest.fixture(scope="module")
def dserver(backend, tmp_path_factory):
    srv = runtime_server(backend, tmp_path_factory, "dotnet")
    yield srv
    srv.stop()


@pytest.fixture
def dfc(dserver, account):
    return fc_client(dserver, account)


def files_of(folder: Path, only: tuple[str, ...] = ()) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if not only or p.name in only}


invoke = invoke_with_tail


def deploy_hello(client, tmp_path, publish: Path, handler: str = "Example.Hello::StreamHandler", **kwargs) -> str:
    kwargs.setdefault("runtime", "dotnetcore3.1")
    return deploy(client, tmp_path, files_of(publish), handler=f"{ASM}::{handler}", **kwargs)


@pytest.mark.parametrize("runtime", ["dotnetcore3.1", "dotnetcore2.1"])
def test_stream_handler_keeps_one_object_and_runs_the_initializer(dfc, dserver, account, tmp_path, publish, runtime):
    """FC's demo shape: an async Stream handler on an instance method, initializer on the same object
    (1, then 2 per call: 3 then 5); dotnetcore2.1 runs on 3.1 and its log says so once."""
    deploy_hello(dfc, tmp_path, publish, runtime=runtime, initializer=f"{ASM}::Example.Hello::Initialize")
    first = invoke(dserver, account, b"abc")
    assert first.status_code == 200 and first.content == b"ABC 3", first.text
    second = invoke(dserver, account, b"x")
    assert second.content == b"X 5" and second.headers["X-Fc-Instance-Id"] == first.headers["X-Fc-Instance-Id"]
    tail = log_tail(first)
    assert "FC Initialize Start RequestId: " in tail and f"[INFO] initialized fn" in tail
    assert f"FC Invoke End RequestId: {first.headers['X-Fc-Request-Id']}" in tail
    nearest = "fc-emulator: dotnetcore2.1 runs on .NET Core 3.1"
    assert (nearest in tail) == (runtime == "dotnetcore2.1"), tail
    assert nearest not in log_tail(second)


def test_context_and_the_functions_own_core_assembly(dfc, dserver, account, tmp_path, publish):
    deploy_hello(dfc, tmp_path, publish, memorySize=256, timeout=7)
    r = invoke(dserver, account, b"ctx")
    rid, name, handler, mem, timeout, ak, service, region, env_name, own_core = r.content.decode().split("|")
    assert (rid, name, handler, mem, timeout, service, env_name) == (
        r.headers["X-Fc-Request-Id"].upper(), "FN", f"{ASM}::EXAMPLE.HELLO::STREAMHANDLER".upper(), "256", "7",
        "SVC", "FN"), r.text
    assert ak and region
    assert own_core == "TRUE 2", "IFcContext comes from the function's own Aliyun.Serverless.Core.dll"


def test_without_bundled_libraries_the_agents_copies_serve(dfc, dserver, account, tmp_path, publish):
    """Only the function's DLL: Aliyun.Serverless.Core, Logging.Abstractions and Json.NET are the agent's."""
    deploy(dfc, tmp_path, files_of(publish, (f"{ASM}.dll",)), runtime="dotnetcore3.1",
           handler=f"{ASM}::Example.Hello::StreamHandler")
    r = invoke(dserver, account, b"log")
    assert r.status_code == 200 and r.content == b"LOG 2", r.text
    r = invoke(dserver, account, b"ctx")
    assert r.content.decode().split("|")[-1].startswith("FALSE"), r.text
    fn = deploy(dfc, tmp_path, files_of(publish, (f"{ASM}.dll",)), name="poco", runtime="dotnetcore3.1",
                handler=f"{ASM}::Example.Poco::Greet")
    r = invoke(dserver, account, json.dumps({"firstName": "FC", "years": 1, "home": {"city": "Hz"}}).encode(), fn=fn)
    assert r.json() == {"Message": "Hello FC", "NextAge": 2, "City": "Hz"}, r.text


def test_logger_lines_and_raw_output(dfc, dserver, account, tmp_path, publish):
    deploy_hello(dfc, tmp_path, publish)
    r = invoke(dserver, account, b"log")
    rid = r.headers["X-Fc-Request-Id"]
    lines = log_tail(r).splitlines()
    for text, level in (("at info", "INFO"), ("at warning", "WARNING"), ("at error", "ERROR"), ("at critical", "ERROR")):
        line = next(l for l in lines if l.endswith(text))
        stamp, who, tag, *_ = line.split(" ")
        assert stamp.endswith("Z") and "T" in stamp and len(stamp) == 24 and who == rid and tag == f"[{level}]", line
    assert not any("at trace" in l or "at debug" in l for l in lines)  # EnabledLogLevel: Information
    assert "raw stdout" in lines and "raw stderr" in lines


def test_poco_handlers_use_json_net_rules(dfc, dserver, account, tmp_path, publish):
    """PascalCase out as declared, case-insensitive in, [JsonProperty] names; static, instance, async Task<T>;
    [FcSerializer] swaps the serializer; bad JSON is a JsonSerializerException."""
    event = json.dumps({"firstname": "FC", "years": 41, "HOME": {"city": "Hangzhou"}, "unknown": 1}).encode()
    deploy_hello(dfc, tmp_path, publish, handler="Example.Poco::Greet")
    r = invoke(dserver, account, event)
    assert r.status_code == 200 and "X-Fc-Error-Type" not in r.headers, r.text
    assert r.json() == {"Message": "Hello FC", "NextAge": 42, "City": "Hangzhou"}
    bad = invoke(dserver, account, b'{"firstName": ')
    assert bad.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert bad.json()["errorType"] == "Aliyun.Serverless.Core.JsonSerializerException", bad.text
    assert bad.json()["errorMessage"].startswith("Error converting the request to type Example.Person")
    fn = deploy_hello(dfc, tmp_path, publish, name="later", handler="Example.Poco::GreetAsync")
    r = invoke(dserver, account, event, fn=fn)
    assert r.json() == {"Message": "Later FC", "NextAge": 43, "City": None}, r.text
    fn = deploy_hello(dfc, tmp_path, publish, name="shout", handler="Example.Poco::Shout")
    assert invoke(dserver, account, b"fc", fn=fn).content == b"HEY FC"
    fn = deploy_hello(dfc, tmp_path, publish, name="echo", handler="Example.Hello::Echo")
    assert invoke(dserver, account, bytes(range(256)), fn=fn).content == bytes(range(256))


def test_exceptions_are_unhandled_errors_with_type_and_frames(dfc, dserver, account, tmp_path, publish):
    deploy_hello(dfc, tmp_path, publish)
    r = invoke(dserver, account, b"fail")  # thrown after an await: no AggregateException
    assert r.status_code == 200 and r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    err = r.json()
    assert (err["errorMessage"], err["errorType"]) == ("oops", "System.InvalidOperationException"), err
    assert err["stackTrace"] and all(isinstance(f, str) for f in err["stackTrace"]), err
    assert any("Example.Hello" in f for f in err["stackTrace"]) and not any("Aliyun.Serverless" in f
                                                                           for f in err["stackTrace"]), err
    assert "Error: Unhandled function error" in log_tail(r)
    fn = deploy_hello(dfc, tmp_path, publish, name="throw", handler="Example.Hello::Throw")
    err = invoke(dserver, account, b"", fn=fn).json()
    assert err["errorType"] == "System.ArgumentException" and err["stackTrace"] == [
        "at Example.Hello.Throw(Stream input, IFcContext context)"], err


@pytest.mark.parametrize("handler, error_type, message", [
    ("Nope::Example.Hello::StreamHandler", "System.IO.FileNotFoundException",
     "Could not find the assembly 'Nope' of the handler: /code/Nope.dll does not exist"),
    (f"{ASM}::Example.Nope::StreamHandler", "System.TypeLoadException",
     f"Could not find the type 'Example.Nope' in the assembly '{ASM}'"),
    (f"{ASM}::Example.Hello::Nope", "System.MissingMethodException",
     "Could not find the method 'Nope' in the type 'Example.Hello'"),
    ("Example.Hello.StreamHandler", "System.ArgumentException",
     "Invalid handler 'Example.Hello.StreamHandler': expected Assembly::Namespace.Class::Method"),
])
def test_missing_assembly_class_or_method(dfc, dserver, account, tmp_path, publish, handler, error_type, message):
    deploy(dfc, tmp_path, files_of(publish), runtime="dotnetcore3.1", handler=handler)
    r = invoke(dserver, account, b"")
    assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert (r.json()["errorType"], r.json()["errorMessage"]) == (error_type, message), r.text


def test_timeout_and_environment_exit_replace_the_instance(dfc, dserver, account, tmp_path, publish):
    deploy_hello(dfc, tmp_path, publish, timeout=1)
    first = invoke(dserver, account, b"a")
    t0 = time.monotonic()
    r = invoke(dserver, account, b"sleep")
    assert time.monotonic() - t0 < 4.5
    assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert r.json()["errorMessage"].startswith("Function timed out after 1 seconds"), r.text
    again = invoke(dserver, account, b"b")
    assert again.content == b"B 2" and again.headers["X-Fc-Instance-Id"] != first.headers["X-Fc-Instance-Id"]
    r = invoke(dserver, account, b"exit")
    assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert r.json()["errorMessage"].startswith("Process exited unexpectedly before completing request"), r.text
    assert set(r.json()) == {"errorMessage"}
    after = invoke(dserver, account, b"c")
    assert after.content == b"C 2" and after.headers["X-Fc-Instance-Id"] != again.headers["X-Fc-Instance-Id"]


def test_http_trigger_fails_clearly(dfc, dserver, account, tmp_path, publish):
    """No ASP.NET Core offline, so no FcHttpEntrypoint: the call is a function error that says so (an HTTP
    trigger answers a function error with 502 and the error JSON)."""
    deploy_hello(dfc, tmp_path, publish)
    dfc.create_trigger("svc", "fn", "web", "http", {"authType": "anonymous", "methods": ["GET"]}, "", "")
    r = requests.get(f"{dserver.url}{V1}/proxy/svc/fn/path", headers={"X-Fc-Account-Id": account}, timeout=60)
    assert r.status_code == 502, (r.status_code, r.text)
    err = r.json()
    assert err["errorType"] == "System.NotSupportedException" and "ASP.NET Core" in err["errorMessage"], err
    assert "FcHttpEntrypoint" in err["errorMessage"]
