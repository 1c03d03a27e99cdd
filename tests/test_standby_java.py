"""Standby instances of java8 / java11 (issue 13): a pre-started JVM that becomes a function's instance must be
indistinguishable from a fresh start: environment (also of the processes it starts), system properties,
working folder as java.io and java.nio see it, the function's class loader (code folder, its jars, layer jars),
JVM arguments and heap, memory limit, first log; functions never see each other's configuration; a function
that sets JVM options in its environment starts afresh; standbys are reclaimed at shutdown."""
from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
import requests

from tests.helpers import Server, deploy, fc_client, new_account
from tests.test_java import FIXTURE_JAR
from tests.test_standby import fresh_and_taken, left_standbys, same_instance_view, standbys_ready, wait_for

# A handler written as FC's docs write them (StreamRequestHandler + FunctionInitializer, compiled against
# fc-java-core), reporting what a function can see of its JVM.
PROBE = r'''package t;
import com.aliyun.fc.runtime.*;
import java.io.*;
import java.lang.management.ManagementFactory;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.*;
import java.util.*;

public class Probe implements StreamRequestHandler, FunctionInitializer {
    private String initDir;

    public void initialize(Context ctx) {
        initDir = System.getProperty("user.dir");
        ctx.getLogger().info("initialized");
    }

    public void handleRequest(InputStream in, OutputStream out, Context ctx) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        for (int c; (c = in.read()) >= 0; ) buf.write(c);
        if (buf.toString("UTF-8").equals("hold")) {
            try { Thread.sleep(2000); } catch (InterruptedException e) { }
            out.write("held".getBytes("UTF-8"));
            return;
        }
        ctx.getLogger().info("probing");
        System.out.println("stdout line");
        Map<String, Object> m = new TreeMap<String, Object>();
        m.put("env", new TreeMap<String, String>(System.getenv()));
        Map<String, String> props = new TreeMap<String, String>();
        for (String k : System.getProperties().stringPropertyNames()) props.put(k, System.getProperty(k));
        m.put("props", props);
        m.put("jvmArgs", ManagementFactory.getRuntimeMXBean().getInputArguments());
        m.put("heap", String.valueOf(Runtime.getRuntime().maxMemory()));
        m.put("initDir", initDir);
        m.put("ioAbsolute", new File("data.txt").getAbsolutePath());
        m.put("ioCanonical", new File(".").getCanonicalPath());
        m.put("nioAbsolute", Paths.get("data.txt").toAbsolutePath().toString());
        m.put("nioReal", Paths.get(".").toRealPath().toString());
        String[] files = new File(".").list();
        Arrays.sort(files);
        m.put("ioFiles", Arrays.asList(files));
        List<String> nioFiles = new ArrayList<String>();
        try (DirectoryStream<Path> d = Files.newDirectoryStream(Paths.get("."))) {
            for (Path p : d) nioFiles.add(p.toString());
        }
        Collections.sort(nioFiles);
        m.put("nioFiles", nioFiles);
        m.put("ioData", read(new FileInputStream("data.txt")));
        m.put("nioData", new String(Files.readAllBytes(Paths.get("data.txt")), "UTF-8"));
        m.put("resource", read(getClass().getResourceAsStream("/data.txt")));
        ClassLoader loader = getClass().getClassLoader();
        List<String> urls = new ArrayList<String>();
        for (URL u : ((URLClassLoader) loader).getURLs()) urls.add(u.toString());
        m.put("urls", urls);
        m.put("loader", loader.getClass().getName() + " < " + String.valueOf(loader.getParent()).replaceAll("@.*", ""));
        m.put("contextLoader", String.valueOf(Thread.currentThread().getContextClassLoader() == loader));
        m.put("fromLayer", load("layer.Lib", loader));
        m.put("fromJar", load("examples.Hello", loader));
        m.put("cgroup", cgroup());
        m.put("timezone", TimeZone.getDefault().getID());
        m.put("charset", java.nio.charset.Charset.defaultCharset().name());
        Process child = new ProcessBuilder("env").redirectErrorStream(true).start();
        Map<String, String> childEnv = new TreeMap<String, String>();
        for (String line : read(child.getInputStream()).split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) childEnv.put(line.substring(0, eq), line.substring(eq + 1));
        }
        m.put("childEnv", childEnv);
        m.put("childPwd", read(new ProcessBuilder("pwd").start().getInputStream()).trim());
        StringBuilder json = new StringBuilder();
        write(m, json);
        out.write(json.toString().getBytes("UTF-8"));
    }

    private static String load(String name, ClassLoader loader) {
        try {
            Class<?> c = Class.forName(name, true, loader);
            return c.getProtectionDomain().getCodeSource().getLocation().toString();
        } catch (ClassNotFoundException e) {
            return "missing";
        }
    }

    private static String cgroup() {
        for (String p : new String[]{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
            try { return read(new FileInputStream(p)).trim(); } catch (IOException e) { }
        }
        return null;
    }

    private static String read(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        byte[] chunk = new byte[8192];
        for (int n; (n = in.read(chunk)) > 0; ) b.write(chunk, 0, n);
        in.close();
        return b.toString("UTF-8");
    }

    private static void write(Object v, StringBuilder o) {
        if (v == null) {
            o.append("null");
        } else if (v instanceof Map) {
            o.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (!first) o.append(',');
                first = false;
                write(String.valueOf(e.getKey()), o);
                o.append(':');
                write(e.getValue(), o);
            }
            o.append('}');
        } else if (v instanceof List) {
            o.append('[');
            boolean first = true;
            for (Object x : (List<?>) v) {
                if (!first) o.append(',');
                first = false;
                write(x, o);
            }
            o.append(']');
        } else {
            o.append('"');
            for (char c : v.toString().toCharArray()) {
                if (c == '"' || c == '\\') o.append('\\').append(c);
                else if (c < 0x20) o.append(String.format("\\u%04x", (int) c));
                else o.append(c);
            }
            o.append('"');
        }
    }
}
'''

LAYER_LIB = "package layer;\npublic class Lib { public static String name() { return \"layer\"; } }\n"

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def probe_classes(tmp_path_factory) -> dict[str, bytes]:
    """t/Probe.class compiled like a user would, against the fixture jar's fc-java-core; layer/Lib.class."""
    javac = shutil.which("javac")
    assert javac, "javac is needed (scripts/test installs openjdk-17-jdk-headless)"
    d = tmp_path_factory.mktemp("java-probe")
    (d / "t").mkdir()
    (d / "t" / "Probe.java").write_text(PROBE)
    (d / "layer").mkdir()
    (d / "layer" / "Lib.java").write_text(LAYER_LIB)
    out = d / "classes"
    subprocess.run([javac, "--release", "8", "-cp", str(FIXTURE_JAR), "-d", str(out), str(d / "t" / "Probe.java"),
                    str(d / "layer" / "Lib.java")], check=True, capture_output=True, timeout=300)
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*.class")}


def code_files(classes: dict[str, bytes], data: str = "the data") -> dict[str, bytes | str]:
    """The code package: the probe's classes at the root, FC's demo jar beside them, a data file."""
    files: dict[str, bytes | str] = {k: v for k, v in classes.items() if k.startswith("t/")}
    files["java8-1.0.0.jar"] = FIXTURE_JAR.read_bytes()
    files["data.txt"] = data
    return files


def publish_layer(srv: Server, account: str, classes: dict[str, bytes]) -> str:
    """A layer with a jar in java/lib (runtimes.md §12.2): its ARN."""
    jar = io.BytesIO()
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr("layer/Lib.class", classes["layer/Lib.class"])
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as z:
        z.writestr("java/lib/layerlib.jar", jar.getvalue())
    r = requests.post(f"{srv.url}/2016-08-15/layers/jlib/versions", headers={"X-Fc-Account-Id": account},
                      json={"code": {"zipFile": base64.b64encode(layer.getvalue()).decode()},
                            "compatibleRuntime": ["java8", "java11"]}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["arn"]


def probe(client, name: str) -> tuple[str, dict, list[str]]:
    """(instance id, what the function saw, its invocation's log without ids, times and durations)."""
    r = client.invoke_function("svc", name, payload=b"probe", headers={"x-fc-log-type": "Tail"})
    lines = base64.b64decode(r.headers["X-Fc-Log-Result"]).decode().splitlines()
    return (r.headers["X-Fc-Instance-Id"], json.loads(r.data),
            [UUID.sub("<id>", TIMESTAMP.sub("<time>", line)) for line in lines if not line.startswith("Duration: ")])


def view(seen: dict, instance: str) -> dict:
    """What the function saw, with what differs between any two instances (id, port, container name) named."""
    out = same_instance_view(seen, instance)
    for name in ("FC_SERVER_PORT", "FC_CUSTOM_LISTEN_PORT", "HOSTNAME"):
        if name in out["childEnv"]:
            out["childEnv"][name] = "<per instance>"
    return out


def start(backend: str, tmp_path: Path) -> Server:
    return Server(tmp_path / "fc", "--executor", backend, "--standby", "1").start()


@pytest.mark.parametrize("runtime", ["java8", "java11"])
def test_a_java_standby_is_a_fresh_start(backend, runtime, tmp_path, probe_classes):
    """The same function on a fresh JVM and on one taken from the standby pool sees the same."""
    srv = start(backend, tmp_path)
    try:
        account = new_account()
        client = fc_client(srv, account)
        arn = publish_layer(srv, account, probe_classes)
        deploy(client, tmp_path, code_files(probe_classes), runtime=runtime, handler="t.Probe::handleRequest",
               initializer="t.Probe::initialize", memorySize=256,
               environmentVariables={"MINE": "1", "GREETING": "héllo wörld"})
        r = requests.put(f"{srv.url}/2016-08-15/services/svc/functions/fn", json={"layers": [arn]},
                         headers={"X-Fc-Account-Id": account}, timeout=30)  # aliyun-fc2 has no layers
        assert r.status_code == 200, r.text
        (fresh_id, fresh, fresh_log), (standby_id, taken, taken_log) = fresh_and_taken(
            srv, client, probe=probe, ready_timeout=60)
        assert f"instance {standby_id} of svc/fn taken over from the standby pool" in srv.log()
        taken_view, fresh_view = view(taken, standby_id), view(fresh, fresh_id)
        if backend == "process":  # a JVM cannot change folders: the processes it starts begin in the standby's
            taken_pwd, fresh_pwd = taken_view.pop("childPwd"), fresh_view.pop("childPwd")  # own code folder
            assert fresh_pwd == fresh["props"]["user.dir"] and taken["childPwd"].endswith(f"{standby_id}/code")
            assert sorted(os.listdir(taken["childPwd"])) == sorted(os.listdir(fresh_pwd))  # hard links, same files
        for part in fresh_view:  # part by part first: a difference is easier to read
            assert taken_view[part] == fresh_view[part], part
        assert taken_view == fresh_view
        assert taken_log == fresh_log
        assert any(line.endswith("[INFO] initialized") for line in taken_log)
        assert taken["env"]["MINE"] == "1" and taken["env"]["GREETING"] == "héllo wörld"
        assert taken["childEnv"]["GREETING"] == "héllo wörld"
        assert "FC_EMULATOR_STANDBY" not in taken["env"] and "FC_EMULATOR_STANDBY" not in taken["childEnv"]
        assert taken["ioData"] == taken["nioData"] == taken["resource"] == "the data"
        assert taken["fromLayer"].endswith("/java/lib/layerlib.jar")
        assert taken["fromJar"].endswith("/java8-1.0.0.jar")
        code = taken["env"]["FC_FUNC_CODE_PATH"].rstrip("/")
        assert taken["props"]["user.dir"] == taken["initDir"] == taken["ioCanonical"] == taken["nioReal"]
        assert taken["ioAbsolute"] == taken["nioAbsolute"] == taken["props"]["user.dir"] + "/data.txt"
        assert Path(taken["props"]["user.dir"]) == Path(code).resolve() or code == "/code"
        assert f"-Xmx{256 // 10 * 9}m" in taken["jvmArgs"]
        if backend == "docker":
            assert taken["cgroup"] == str(256 * 1024 * 1024)
    finally:
        srv.stop()


def test_java_functions_never_see_each_others_configuration(backend, tmp_path, probe_classes):
    """Functions taking standbys one after another each get their own code, environment and memory: the heap
    size is in the JVM's command line, so a standby serves only functions of the same memorySize."""
    srv = start(backend, tmp_path)
    try:
        client = fc_client(srv, new_account())
        configs = {"a": ({"A_ONLY": "a"}, 256), "b": ({"B_ONLY": "b"}, 256), "c": ({}, 256),
                   "d": ({"D_ONLY": "d"}, 512), "e": ({"E_ONLY": "e"}, 512)}
        for name, (env, memory) in configs.items():
            deploy(client, tmp_path, code_files(probe_classes, data=name), name=name, runtime="java11",
                   handler="t.Probe::handleRequest", memorySize=memory, environmentVariables=env)
        used: set[int] = set()
        for name, (env, memory) in configs.items():
            takes = memory in used  # the first of each memory size starts afresh, the others take one
            if used:  # one standby per memory size used so far
                assert wait_for(lambda: standbys_ready(srv) == len(used), 60)
            used.add(memory)
            instance, seen, _ = probe(client, name)
            assert (f"instance {instance} of svc/{name} taken over" in srv.log()) == takes, name
            assert seen["ioData"] == seen["nioData"] == seen["resource"] == name
            assert set(seen["ioFiles"]) == {"t", "java8-1.0.0.jar", "data.txt"}
            assert seen["env"]["FC_FUNCTION_NAME"] == name
            assert seen["env"]["FC_FUNCTION_MEMORY_SIZE"] == str(memory)
            others = {k for n, (e, _) in configs.items() if n != name for k in e}
            assert env.items() <= seen["env"].items() and not others & set(seen["env"])
            assert not others & set(seen["childEnv"])
            assert f"-Xmx{memory // 10 * 9}m" in seen["jvmArgs"] and f"-Xms{memory // 10 * 3}m" in seen["jvmArgs"]
            if backend == "docker":
                assert seen["cgroup"] == str(memory * 1024 * 1024)
    finally:
        srv.stop()


def test_jvm_options_in_the_environment_start_afresh(backend, tmp_path, probe_classes):
    """JAVA_TOOL_OPTIONS is read by the JVM at start: such a function never takes a standby, and gets it."""
    srv = start(backend, tmp_path)
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, code_files(probe_classes), name="plain", runtime="java8",
               handler="t.Probe::handleRequest", memorySize=256)
        deploy(client, tmp_path, code_files(probe_classes), name="opts", runtime="java8",
               handler="t.Probe::handleRequest", memorySize=256,
               environmentVariables={"JAVA_TOOL_OPTIONS": "-Dfrom.tool.options=yes"})
        probe(client, "plain")
        assert wait_for(lambda: standbys_ready(srv) == 1, 60)
        instance, seen, _ = probe(client, "opts")
        assert f"instance {instance} of svc/opts taken over" not in srv.log()
        assert seen["props"].get("from.tool.options") == "yes"
        assert standbys_ready(srv) == 1  # still there for the next plain java8 function of 256 MB
    finally:
        srv.stop()


def test_java_standbys_are_reclaimed_at_shutdown(backend, tmp_path, probe_classes):
    data = tmp_path / "fc"
    srv = start(backend, tmp_path)
    try:
        client = fc_client(srv, new_account())
        deploy(client, tmp_path, code_files(probe_classes), runtime="java11", handler="t.Probe::handleRequest")
        probe(client, "fn")
        assert wait_for(lambda: standbys_ready(srv) == 1, 60)
        assert len(left_standbys(backend, data)) == 1
    finally:
        srv.stop()
    assert wait_for(lambda: not left_standbys(backend, data), 10), "a standby outlived the emulator"


def newer_jdk() -> Path | None:
    """A JDK 24 or newer on this host (sun.misc.Unsafe's memory access warns there), if any."""
    for java in sorted(Path("/usr/lib/jvm").glob("*/bin/java")):
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True).stderr
        m = re.search(r'version "(\d+)', out)
        if m and int(m.group(1)) >= 24:
            return java.parent
    return None


def test_no_java_standby_on_java_24_and_newer(tmp_path, probe_classes):
    """The process backend on a host whose `java` is 24 or newer keeps no Java standby (its setting of the
    environment would print a deprecation warning): functions start afresh, with clean logs."""
    jdk = newer_jdk()
    if jdk is None:
        pytest.skip("no JDK 24 or newer under /usr/lib/jvm")
    srv = Server(tmp_path / "fc", "--executor", "process", "--standby", "1",
                 env={"PATH": f"{jdk}:{os.environ['PATH']}"}).start()
    try:
        client = fc_client(srv, new_account())
        for name in ("a", "b"):
            deploy(client, tmp_path, code_files(probe_classes), name=name, runtime="java11",
                   handler="t.Probe::handleRequest", memorySize=256)
        probe(client, "a")
        time.sleep(2)
        assert standbys_ready(srv) == 0
        instance, seen, log = probe(client, "b")
        assert f"instance {instance} of svc/b taken over" not in srv.log()
        assert not any("WARNING" in line for line in log), log
        assert int(seen["props"]["java.specification.version"]) >= 24
    finally:
        srv.stop()
