"""java8 / java11 (runtimes.md §12): FC's own demo fat jar (`../shared/fixtures/java`, with fc-java-core
1.2.0 inside) and stream handlers this test compiles against that jar's interfaces, on both backends."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import invoke_with_tail, log_tail, runtime_server, ROOT, deploy, fc_client

FIXTURE_JAR = Path(os.environ.get("FC_EMULATOR_FIXTURES", ROOT.parent / "shared" / "fixtures")) / "java" / "java8-1.0.0.jar"
V1 = "/2016-08-15"

# One stream handler for every scenario: the event picks what it does.
ECHO = r'''package t;
import com.aliyun.fc.runtime.*;
import java.io.*;
public class Echo implements StreamRequestHandler {
    public void handleRequest(InputStream in, OutputStream out, Context ctx) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        for (int c; (c = in.read()) >= 0; ) buf.write(c);
        String s = new String(buf.toByteArray(), "UTF-8");
        FunctionComputeLogger log = ctx.getLogger();
        if (s.equals("log")) {
            log.trace("at trace"); log.debug("at debug"); log.info("at info"); log.warn("at warn"); log.error("at error");
            System.out.println("raw stdout"); System.err.println("raw stderr");
        } else if (s.equals("fail")) {
            throw new IOException("oops", new IllegalStateException("the root"));
        } else if (s.equals("sleep")) {
            try { Thread.sleep(5000); } catch (InterruptedException e) { }
        } else if (s.equals("ctx")) {
            FunctionParam p = ctx.getFunctionParam();
            s = ctx.getRequestId() + "|" + p.getFunctionName() + "|" + p.getFunctionHandler() + "|"
                + p.getMemoryLimitInMB() + "|" + p.getExecTimeLimitInMillis() + "|"
                + ctx.getExecutionCredentials().getAccessKeyId() + "|" + (Runtime.getRuntime().maxMemory() >> 20)
                + "|" + System.getenv("FC_FUNCTION_NAME") + "|" + System.getenv("ALIBABA_CLOUD_ACCESS_KEY_ID");
        }
        out.write(s.toUpperCase().getBytes("UTF-8"));
    }
}
'''

# A POJO handler (§12.4): setters and public fields, nested beans, lists, maps, nulls, unknown properties.
GREET = r'''package t;
import com.aliyun.fc.runtime.*;
import java.util.*;
public class Greet implements PojoRequestHandler<Greet.Req, Greet.Resp> {
    public static class Addr { public String city; public int zip; }
    public static class Req {
        private String firstName;
        public String lastName; public Addr addr; public List<Addr> past; public List<Integer> nums;
        public Map<String, Object> extra; public String missing;
        public void setFirstName(String v) { firstName = v; }
        public String getFirstName() { return firstName; }
    }
    public static class Resp {
        public String message; public Addr addr; public List<String> cities; public Object nothing;
        public int total; public Map<String, Object> extra; public boolean missingWasNull;
    }
    public Resp handleRequest(Req r, Context ctx) {
        Resp o = new Resp();
        o.message = "Hello " + r.getFirstName() + " " + r.lastName;
        o.addr = r.addr;
        o.cities = new ArrayList<String>();
        for (Addr a : r.past) o.cities.add(a.city);
        for (int n : r.nums) o.total += n;
        o.extra = r.extra;
        o.missingWasNull = r.missing == null;
        return o;
    }
}
'''


@pytest.fixture(scope="module")
def echo_classes(tmp_path_factory) -> Path:
    """t/Echo.class, compiled like a user would: against the fixture jar's fc-java-core 1.2.0."""
    javac = shutil.which("javac")
    assert javac, "javac is needed (scripts/test installs openjdk-17-jdk-headless)"
    d = tmp_path_factory.mktemp("java-src")
    (d / "t").mkdir()
    (d / "t" / "Echo.java").write_text(ECHO)
    (d / "t" / "Greet.java").write_text(GREET)
    out = d / "classes"
    subprocess.run([javac, "--release", "8", "-cp", str(FIXTURE_JAR), "-d", str(out), str(d / "t" / "Echo.java"),
                    str(d / "t" / "Greet.java")], check=True, capture_output=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def jserver(backend, tmp_path_factory):
    srv = runtime_server(backend, tmp_path_factory, "java")
    yield srv
    srv.stop()


@pytest.fixture
def jfc(jserver, account):
    return fc_client(jserver, account)


invoke = invoke_with_tail


def deploy_echo(client, tmp_path, classes: Path, runtime: str = "java11", **kwargs) -> None:
    files = {str(p.relative_to(classes)): p.read_bytes() for p in classes.rglob("*.class")}
    deploy(client, tmp_path, files, runtime=runtime, handler="t.Echo::handleRequest", **kwargs)


@pytest.mark.parametrize("runtime", ["java8", "java11"])
def test_fc_demo_fat_jar_keeps_one_handler_object(jfc, jserver, account, tmp_path, runtime):
    """The jar at the code root; initialize adds 1 and each call 2 to the same object's counter."""
    deploy(jfc, tmp_path, {"java8-1.0.0.jar": FIXTURE_JAR.read_bytes()}, runtime=runtime,
           handler="examples.Hello::handleRequest", initializer="examples.Hello::initialize")
    first = invoke(jserver, account, b"x")
    assert first.status_code == 200 and first.content == b"3", first.text
    second = invoke(jserver, account, b"x")
    assert second.content == b"5" and second.headers["X-Fc-Instance-Id"] == first.headers["X-Fc-Instance-Id"]
    tail = log_tail(first)
    assert "FC Initialize Start RequestId: " in tail and f"FC Invoke End RequestId: {first.headers['X-Fc-Request-Id']}" in tail


def test_stream_handler_from_classes_and_its_context(jfc, jserver, account, tmp_path, echo_classes):
    deploy_echo(jfc, tmp_path, echo_classes, memorySize=256, timeout=7)
    r = invoke(jserver, account, "héllo".encode())
    assert r.status_code == 200 and r.content.decode() == "HÉLLO", r.text
    r = invoke(jserver, account, b"ctx")
    rid, name, handler, mem, limit, ak, heap, env_name, env_ak = r.content.decode().split("|")
    assert (rid, name, handler, mem, limit, ak, env_name) == (
        r.headers["X-Fc-Request-Id"].upper(), "FN", "T.ECHO::HANDLEREQUEST", "256", "7000", env_ak, "FN")
    assert 180 <= int(heap) <= 230, heap  # -Xmx = 90 % of memorySize (§12.1)


def test_lib_jars_are_on_the_class_path(jfc, jserver, account, tmp_path, echo_classes):
    jar = tmp_path / "echo.jar"
    subprocess.run(["jar", "cf", str(jar), "-C", str(echo_classes), "."], check=True, timeout=120) \
        if shutil.which("jar") else pytest.fail("jar (the JDK's) is needed")
    deploy(jfc, tmp_path, {"lib/echo.jar": jar.read_bytes()}, runtime="java8", handler="t.Echo::handleRequest")
    r = invoke(jserver, account, b"abc")
    assert r.status_code == 200 and r.content == b"ABC", r.text


def test_exception_is_an_unhandled_error_with_fcs_error_json(jfc, jserver, account, tmp_path, echo_classes):
    deploy_echo(jfc, tmp_path, echo_classes)
    r = invoke(jserver, account, b"fail")
    assert r.status_code == 200 and r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert '"errorMessage" : "oops"' in r.text  # Jackson's pretty-printer layout (§12.8)
    err = r.json()
    assert (err["errorMessage"], err["errorType"], err["errorCause"]) == ("oops", "java.io.IOException", "the root")
    assert err["stackTrace"] and all(f.startswith("t.Echo.handleRequest(Echo.java:") for f in err["stackTrace"]), err
    assert "Error: Unhandled function error" in log_tail(r)
    missing = deploy(jfc, tmp_path, {"x.txt": b"x"}, name="nocls", runtime="java11", handler="t.Nope::handleRequest")
    r = invoke(jserver, account, b"", fn=missing)
    assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert r.json()["errorType"] == "java.lang.ClassNotFoundException" and r.json()["errorMessage"] == "t.Nope"


def test_logger_lines_and_raw_output(jfc, jserver, account, tmp_path, echo_classes):
    deploy_echo(jfc, tmp_path, echo_classes)
    r = invoke(jserver, account, b"log")
    rid = r.headers["X-Fc-Request-Id"]
    lines = log_tail(r).splitlines()
    for level in ("INFO", "WARN", "ERROR"):
        line = next(l for l in lines if l.endswith(f"at {level.lower()}"))
        stamp, who, tag, *_ = line.split(" ")
        assert stamp.endswith("Z") and "T" in stamp and who == rid and tag == f"[{level}]", line
    assert not any("at trace" in l or "at debug" in l for l in lines)  # default level INFO (§12.6)
    assert "raw stdout" in lines and "raw stderr" in lines


def test_timeout_kills_the_instance(jfc, jserver, account, tmp_path, echo_classes):
    deploy_echo(jfc, tmp_path, echo_classes, timeout=1)
    first = invoke(jserver, account, b"a")
    t0 = time.monotonic()
    r = invoke(jserver, account, b"sleep")
    assert time.monotonic() - t0 < 4.5
    assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert r.json()["errorMessage"].startswith("Function timed out after 1 seconds"), r.text
    again = invoke(jserver, account, b"b")
    assert again.content == b"B" and again.headers["X-Fc-Instance-Id"] != first.headers["X-Fc-Instance-Id"]


def test_pojo_handler_binds_json_both_ways(jfc, jserver, account, tmp_path, echo_classes):
    files = {str(p.relative_to(echo_classes)): p.read_bytes() for p in echo_classes.rglob("*.class")}
    deploy(jfc, tmp_path, files, runtime="java8", handler="t.Greet::handleRequest")
    event = {"firstName": "FC", "lastName": "aliyun", "addr": {"city": "Hangzhou", "zip": 310000},
             "past": [{"city": "A"}, {"city": "B", "zip": 1}], "nums": [1, 2, 3],
             "extra": {"k": [1, "x", None, 2.5], "b": True, "o": {}}, "missing": None, "unknown": 5}
    r = invoke(jserver, account, json.dumps(event).encode())
    assert r.status_code == 200 and "X-Fc-Error-Type" not in r.headers, r.text
    assert r.json() == {"message": "Hello FC aliyun", "addr": {"city": "Hangzhou", "zip": 310000},
                        "cities": ["A", "B"], "nothing": None, "total": 6, "missingWasNull": True,
                        "extra": {"k": [1, "x", None, 2.5], "b": True, "o": {}}}
    bad = invoke(jserver, account, b'{"firstName": ')
    assert bad.headers["X-Fc-Error-Type"] == "UnhandledInvocationError"
    assert bad.json()["errorType"] == "java.lang.IllegalArgumentException", bad.text
    assert "invalid JSON event" in bad.json()["errorMessage"]


# FC's HttpRequestHandler (fc-java-core 1.3+, §12.3) as a user's fat jar carries it: the fixture jar's
# fc-java-core 1.2.0 predates it.
HTTP_HANDLER_IFACE = r'''package com.aliyun.fc.runtime;
import java.io.IOException;
import javax.servlet.ServletException;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;
public interface HttpRequestHandler {
    void handleRequest(HttpServletRequest request, HttpServletResponse response, Context context)
            throws IOException, ServletException;
}
'''

# An HTTP handler (§12.5): what it saw goes back in response headers, the body comes back reversed.
WEB = r'''package t;
import com.aliyun.fc.runtime.*;
import javax.servlet.http.*;
import java.io.*;
import java.util.*;
public class Web implements HttpRequestHandler {
    public void handleRequest(HttpServletRequest req, HttpServletResponse resp, Context ctx) throws IOException {
        if ("/fail".equals(req.getPathInfo())) throw new IOException("web oops");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        InputStream in = req.getInputStream();
        for (int c; (c = in.read()) >= 0; ) buf.write(c);
        byte[] body = buf.toByteArray();
        resp.setStatus(Integer.parseInt(req.getParameter("status")));
        resp.setHeader("X-Method", req.getMethod());
        resp.setHeader("X-Path-Info", req.getPathInfo());
        resp.setHeader("X-Request-Uri", req.getRequestURI());
        resp.setHeader("X-Query", req.getQueryString());
        resp.setHeader("X-A", String.join(",", req.getParameterValues("a")));
        resp.setHeader("X-Custom", req.getHeader("x-custom") + "|" + req.getContentType() + "|" + req.getContentLength());
        resp.setHeader("X-Attrs", req.getAttribute("FC_REQUEST_PATH") + "|" + req.getAttribute("FC_REQUEST_URI")
            + "|" + req.getAttribute("FC_REQUEST_CLIENT_IP"));
        resp.setHeader("X-Request-Id", ctx.getRequestId());
        resp.addHeader("X-Multi", "one");
        resp.addHeader("x-multi", "two");
        Cookie c = new Cookie("a", "1"); c.setPath("/"); resp.addCookie(c);
        resp.addHeader("Set-Cookie", "b=2; Path=/");
        resp.setContentType("application/octet-stream");
        byte[] out = new byte[body.length];
        for (int i = 0; i < body.length; i++) out[i] = body[body.length - 1 - i];
        resp.getOutputStream().write(out);
    }
}
'''


@pytest.fixture(scope="module")
def web_code(tmp_path_factory) -> dict[str, bytes]:
    """t/Web.class compiled like a user would (fc-java-core 1.2.0 + HttpRequestHandler + the servlet API),
    packaged like a fat jar that bundles both: the agent's copies must win."""
    from emulator.execution import java_agent
    servlet = java_agent.servlet_jar()
    assert servlet, "the servlet API is needed (scripts/test installs libservlet-api-java)"
    d = tmp_path_factory.mktemp("java-web")
    for rel, text in (("com/aliyun/fc/runtime/HttpRequestHandler.java", HTTP_HANDLER_IFACE), ("t/Web.java", WEB)):
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(text)
    out = d / "classes"
    subprocess.run([shutil.which("javac") or "javac", "--release", "8", "-cp", f"{FIXTURE_JAR}:{servlet}", "-d",
                    str(out), str(d / "com/aliyun/fc/runtime/HttpRequestHandler.java"), str(d / "t/Web.java")],
                   check=True, capture_output=True, timeout=300)
    files = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*.class")}
    files["lib/javax.servlet-api.jar"] = servlet.read_bytes()
    return files


@pytest.mark.parametrize("runtime", ["java8", "java11"])
def test_http_handler_behind_an_http_trigger(jfc, jserver, account, tmp_path, web_code, runtime):
    deploy(jfc, tmp_path, web_code, runtime=runtime, handler="t.Web::handleRequest")
    jfc.create_trigger("svc", "fn", "web", "http", {"authType": "anonymous", "methods": ["GET", "POST", "PUT"]},
                       "", "")
    blob = bytes(range(256)) * 4 + b"\r\n\x00end"
    r = requests.put(f"{jserver.url}{V1}/proxy/svc/fn/a/b%20c?status=201&a=1&a=2&e=%C3%A9", data=blob,
                     headers={"X-Fc-Account-Id": account, "X-Custom": "mine", "Content-Type": "image/png"},
                     timeout=60, stream=True)
    body = r.raw.read()
    assert r.status_code == 201, body[:500]
    assert body == blob[::-1]  # binary-safe both ways
    h = r.headers
    assert (h["X-Method"], h["X-Path-Info"], h["X-A"]) == ("PUT", "/a/b c", "1,2")
    assert h["X-Request-Uri"] == f"{V1}/proxy/svc/fn/a/b%20c" and h["X-Query"] == "status=201&a=1&a=2&e=%C3%A9"
    assert h["X-Custom"] == f"mine|image/png|{len(blob)}"
    path, uri, ip = h["X-Attrs"].split("|")
    assert (path, uri, ip) == ("/a/b c", f"{V1}/proxy/svc/fn/a/b%20c?status=201&a=1&a=2&e=%C3%A9", "127.0.0.1")
    assert h["X-Request-Id"] == h["X-Fc-Request-Id"] and h["Content-Type"] == "application/octet-stream"
    assert r.raw.headers.getlist("X-Multi") == ["one", "two"]  # both values, under the first spelling
    assert r.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    big = os.urandom(5 << 20)
    r = requests.post(f"{jserver.url}{V1}/proxy/svc/fn/big?status=200&a=z", data=big,
                      headers={"X-Fc-Account-Id": account}, timeout=60)
    assert r.status_code == 200 and r.content == big[::-1] and r.headers["X-Method"] == "POST", r.text[:800]
    r = requests.get(f"{jserver.url}{V1}/proxy/svc/fn/fail", headers={"X-Fc-Account-Id": account}, timeout=60)
    assert r.status_code == 502 and r.json()["errorType"] == "java.io.IOException", r.text
    assert r.json()["errorMessage"] == "web oops" and r.json()["stackTrace"][0].startswith("t.Web.handleRequest(")
    # the same HTTP function through InvokeFunction: no servlet request to give it, a clear error
    r = invoke(jserver, account, b"x")
    assert r.headers["X-Fc-Error-Type"] == "UnhandledInvocationError" and "HttpRequestHandler" in r.text, r.text
