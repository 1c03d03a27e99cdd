"""`fc-emulator deploy` (Serverless Devs s.yaml: the fc and fc3 components; funcraft template.yml) and
`fc-emulator invoke`, run as a user would: the CLI in a child process against a running emulator. Each file has
an HTTP and a Timer trigger and is deployed twice (created, then updated: idempotent)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import AK_ID, AK_SECRET, ROOT, Server, fc_client, new_account

CODE = {"index.py": '''import os

def handler(event, context):
    print("log line from " + context.function.name)
    return "hello " + event.decode() + " " + os.environ.get("GREETING", "")

def web(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"web " + environ["PATH_INFO"].encode()]

def fail(event, context):
    raise ValueError("boom")

def http3(event, context):  # FC 3.0: HTTP triggers send event v1, the answer is {statusCode, body}
    import json
    return json.dumps({"statusCode": 200, "body": "fc3 " + json.loads(event)["rawPath"]})
'''}

S_YAML_FC = '''edition: 1.0.0
name: demo-app
access: default
vars:
  region: cn-hangzhou
  service: demo
services:
  hello:
    component: devsapp/fc
    props:
      region: ${vars.region}
      service:
        name: ${vars.service}
        description: deployed from s.yaml
        logConfig: auto
      function:
        name: hello
        runtime: python3.10
        codeUri: ./code
        handler: index.handler
        memorySize: 128
        timeout: 10
        environmentVariables:
          GREETING: ${env(DEPLOY_TEST_GREETING)}
      triggers:
        - name: daily
          type: timer
          config:
            cronExpression: '0 0 9 * * *'
            enable: true
            payload: tick
  web:
    component: fc@dev
    props:
      region: ${vars.region}
      service:
        name: ${vars.service}
      function:
        name: web
        runtime: python3.10
        codeUri: ./code
        handler: index.web
      triggers:
        - name: http
          type: http
          config:
            authType: anonymous
            methods: [GET, POST]
      customDomains:
        - domainName: demo.example.com
          protocol: HTTP
          routeConfigs:
            - path: /*
'''

S_YAML_FC3 = '''edition: 3.0.0
name: fc3-app
access: default
resources:
  hello:
    component: fc3
    props:
      region: cn-hangzhou
      functionName: hello3
      runtime: python3.10
      code: ./code
      handler: index.http3
      memorySize: 128
      timeout: 10
      triggers:
        - triggerName: http
          triggerType: http
          triggerConfig:
            authType: anonymous
            methods: [GET]
        - triggerName: daily
          triggerType: timer
          triggerConfig:
            cronExpression: '0 0 9 * * *'
            enable: true
            payload: tick
'''

TEMPLATE_YML = '''ROSTemplateFormatVersion: '2015-09-01'
Transform: 'Aliyun::Serverless-2018-04-03'
Resources:
  fun-svc:
    Type: 'Aliyun::Serverless::Service'
    Properties:
      Description: deployed from template.yml
      Role: !GetAtt FunRole.Arn
    web:
      Type: 'Aliyun::Serverless::Function'
      Properties:
        Handler: index.web
        Runtime: python3.10
        CodeUri: './code'
        Timeout: 10
        MemorySize: 128
        EnvironmentVariables:
          MY_KEY: value
      Events:
        http-trigger:
          Type: HTTP
          Properties:
            AuthType: ANONYMOUS
            Methods: ['GET', 'POST']
        daily:
          Type: Timer
          Properties:
            CronExpression: '0 0 9 * * *'
            Enable: true
            Payload: tick
  fun.example.com:
    Type: 'Aliyun::Serverless::CustomDomain'
    Properties:
      Protocol: HTTP
      RouteConfig:
        routes:
          '/*':
            ServiceName: fun-svc
            FunctionName: web
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("deploy") / "fc", "--executor", "process",
                 "--access-key", f"{AK_ID}:{AK_SECRET}").start()
    yield srv
    srv.stop()


def cli(server, account, *args, cwd=None, env=None, key=True) -> subprocess.CompletedProcess:
    extra = ["--url", server.url, "--account-id", account] + (["--access-key", f"{AK_ID}:{AK_SECRET}"] if key else [])
    return subprocess.run([sys.executable, "-m", "emulator", *args, *extra], cwd=cwd or ROOT, capture_output=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def project(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / "code").mkdir(exist_ok=True)
    for file, content in CODE.items():
        (tmp_path / "code" / file).write_text(content)
    (tmp_path / name).write_text(text)
    return tmp_path


def lines(out: bytes) -> list[str]:
    return [line for line in out.decode().splitlines() if not line.startswith("    ")]


def test_s_yaml_fc_component_deployed_twice_then_invoked(server, tmp_path):
    account = new_account()
    folder = project(tmp_path, "s.yaml", S_YAML_FC)
    env = {"DEPLOY_TEST_GREETING": "from-env"}
    first = cli(server, account, "deploy", cwd=folder, env=env)  # s.yaml found in the current folder
    assert first.returncode == 0, first.stderr
    assert lines(first.stdout) == [
        "service demo: created",
        "function demo/hello: created (./code, %s)" % re.search(r"\(\./code, ([0-9.]+ KB zipped)\)",
                                                                first.stdout.decode()).group(1),
        "trigger demo/hello/daily: created",
        "service demo: updated",  # the second component names the same service
        "function demo/web: created (./code, %s)" % re.findall(r"[0-9.]+ KB zipped", first.stdout.decode())[1],
        "trigger demo/web/http: created",
        "custom domain demo.example.com: created"]
    url = f"{server.url}/2016-08-15/proxy/demo.LATEST/web/"
    assert f"\n    {url}\n" in first.stdout.decode()  # the HTTP trigger's URL, under its line
    acct = {"X-Fc-Account-Id": account}  # the tests' own account (a user's default account needs none)
    assert requests.get(url + "a/b", headers=acct, timeout=30).text == "web /a/b"
    assert requests.get(server.url + "/page", headers={"Host": "demo.example.com", **acct},
                        timeout=30).text == "web /page"

    second = cli(server, account, "deploy", str(folder / "s.yaml"), env=env)
    assert second.returncode == 0, second.stderr
    assert [line.split(":")[1].split()[0] for line in lines(second.stdout)] == ["updated"] * 7

    fc = fc_client(server, account)
    assert [s["serviceName"] for s in fc.list_services().data["services"]] == ["demo"]
    assert fc.get_service("demo").data["description"] == "deployed from s.yaml"
    assert sorted(f["functionName"] for f in fc.list_functions("demo").data["functions"]) == ["hello", "web"]
    fn = fc.get_function("demo", "hello").data
    assert fn["environmentVariables"] == {"GREETING": "from-env"} and fn["runtime"] == "python3.10"
    timer = fc.get_trigger("demo", "hello", "daily").data
    assert timer["triggerType"] == "timer"
    assert timer["triggerConfig"] == {"cronExpression": "0 0 9 * * *", "enable": True, "payload": "tick"}
    assert fc.get_trigger("demo", "web", "http").data["triggerConfig"]["methods"] == ["GET", "POST"]

    # invoke: payload, tail, payload file, qualifier, async, function and API errors
    r = cli(server, account, "invoke", "demo/hello", "--payload", "world", "--tail")
    assert r.returncode == 0 and r.stdout == b"hello world from-env"
    assert "log line from hello" in r.stderr.decode() and "FC Invoke End" in r.stderr.decode()
    (tmp_path / "event.json").write_bytes(b'file')
    r = cli(server, account, "invoke", "demo/hello", "--payload-file", str(tmp_path / "event.json"))
    assert r.returncode == 0 and r.stdout == b"hello file from-env" and r.stderr == b""
    version = fc.publish_version("demo").data["versionId"]
    fc.update_function("demo", "hello", environmentVariables={"GREETING": "latest"})
    assert cli(server, account, "invoke", "demo/hello", "-p", "v", "--qualifier", version).stdout == b"hello v from-env"
    assert cli(server, account, "invoke", "demo/hello", "-p", "v").stdout == b"hello v latest"
    r = cli(server, account, "invoke", "demo/hello", "--async", "-p", "later")
    assert r.returncode == 0 and re.fullmatch(rb"accepted [0-9a-f-]{36}\n", r.stdout)
    fc.update_function("demo", "hello", handler="index.fail")
    r = cli(server, account, "invoke", "demo/hello")
    assert r.returncode == 1 and json.loads(r.stdout)["errorMessage"] == "boom"
    assert "function error (UnhandledInvocationError)" in r.stderr.decode()
    r = cli(server, account, "invoke", "demo/nope")
    assert r.returncode == 1 and r.stdout == b""
    assert r.stderr.decode().startswith("error: 404 FunctionNotFound")


def test_template_yml_deployed_twice(server, tmp_path):
    account = new_account()
    folder = project(tmp_path, "template.yml", TEMPLATE_YML)
    for action in ("created", "updated"):
        r = cli(server, account, "deploy", cwd=folder)
        assert r.returncode == 0, r.stderr
        assert [re.sub(r" \(.*", "", line) for line in lines(r.stdout)] == [
            f"service fun-svc: {action}", f"function fun-svc/web: {action}",
            f"trigger fun-svc/web/http-trigger: {action}", f"trigger fun-svc/web/daily: {action}",
            f"custom domain fun.example.com: {action}"]
        url = f"{server.url}/2016-08-15/proxy/fun-svc.LATEST/web/"
        assert f"\n    {url}\n" in r.stdout.decode()
    fc = fc_client(server, account)
    fn = fc.get_function("fun-svc", "web").data
    assert fn["handler"] == "index.web" and fn["timeout"] == 10 and fn["environmentVariables"] == {"MY_KEY": "value"}
    http = fc.get_trigger("fun-svc", "web", "http-trigger").data
    assert http["triggerConfig"]["authType"] == "anonymous" and http["triggerConfig"]["methods"] == ["GET", "POST"]
    timer = fc.get_trigger("fun-svc", "web", "daily").data["triggerConfig"]
    assert timer == {"cronExpression": "0 0 9 * * *", "enable": True, "payload": "tick"}
    acct = {"X-Fc-Account-Id": account}
    assert requests.post(f"{server.url}/2016-08-15/proxy/fun-svc/web/x", headers=acct, timeout=30).text == "web /x"
    assert requests.get(f"http://127.0.0.1:{server.port}/y", headers={"Host": "fun.example.com", **acct},
                        timeout=30).text == "web /y"


def test_s_yaml_fc3_component_deployed_twice_then_invoked(server, tmp_path):
    account = new_account()
    folder = project(tmp_path, "s.yaml", S_YAML_FC3)
    urls = []
    for action in ("created", "updated"):
        r = cli(server, account, "deploy", "s.yaml", cwd=folder)
        assert r.returncode == 0, r.stderr
        assert [re.sub(r" \(\./code.*", "", line) for line in lines(r.stdout)] == [
            f"function hello3 (FC 3.0): {action}", f"trigger hello3/http (FC 3.0): {action}",
            f"trigger hello3/daily (FC 3.0): {action}"]
        urls.append(re.search(r"\n    (http://\S+)\n", r.stdout.decode()).group(1))
    assert urls[0] == urls[1] and "/fcapp/" in urls[0]
    assert requests.get(urls[0] + "/p", timeout=30).text == "fc3 /p"
    fn = requests.get(f"{server.url}/2023-03-30/functions/hello3", headers={"X-Fc-Account-Id": account},
                      timeout=10).json()
    assert fn["handler"] == "index.http3" and fn["runtime"] == "python3.10"
    r = cli(server, account, "invoke", "hello3", "--payload", '{"rawPath": "/cli"}', "--tail")
    assert r.returncode == 0 and json.loads(r.stdout) == {"statusCode": 200, "body": "fc3 /cli"}
    assert "FC Invoke End" in r.stderr.decode()
    r = cli(server, account, "invoke", "hello3", "--payload", "not json")
    assert r.returncode == 1 and "function error" in r.stderr.decode()


def test_deploy_watch_keeps_the_function_in_sync(server, tmp_path):
    account = new_account()
    folder = project(tmp_path, "s.yaml", S_YAML_FC)
    args = [sys.executable, "-m", "emulator", "deploy", "--watch", "--url", server.url, "--account-id", account]
    proc = subprocess.Popen(args, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        out = b""
        while b"watching ./s.yaml" not in out:
            line = proc.stdout.readline()
            assert line, out
            out += line
        assert b"function demo/hello: created (./code, live: hot reload)" in out
        fc = fc_client(server, account)
        assert fc.invoke_function("demo", "hello", payload="a").data == b"hello a "
        index = folder / "code" / "index.py"
        index.write_text(index.read_text().replace('"hello "', '"HELLO "'))
        time.sleep(1.0)
        assert fc.invoke_function("demo", "hello", payload="a").data == b"HELLO a "
        # the file itself: a changed setting is deployed
        (folder / "s.yaml").write_text(S_YAML_FC.replace("timeout: 10", "timeout: 20"))
        deadline = time.monotonic() + 10
        while fc.get_function("demo", "hello").data["timeout"] != 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert fc.get_function("demo", "hello").data["timeout"] == 20
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    assert proc.returncode == 0


def test_strict_emulator_needs_the_key(tmp_path_factory, tmp_path):
    srv = Server(tmp_path_factory.mktemp("deploy-strict") / "fc", "--executor", "process", "--auth", "strict",
                 "--access-key", f"{AK_ID}:{AK_SECRET}").start()
    try:
        folder = project(tmp_path, "template.yml", TEMPLATE_YML)
        account = new_account()
        r = cli(srv, account, "deploy", cwd=folder, key=False)
        assert r.returncode == 1 and "AccessDenied" in r.stdout.decode()
        r = cli(srv, account, "deploy", cwd=folder)
        assert r.returncode == 0, r.stdout
        r = cli(srv, account, "invoke", "fun-svc/web", key=False)
        assert r.returncode == 1 and "AccessDenied" in r.stderr.decode()
    finally:
        srv.stop()
