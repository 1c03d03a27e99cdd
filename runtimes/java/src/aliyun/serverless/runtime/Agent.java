package aliyun.serverless.runtime;

import com.aliyun.fc.runtime.FunctionInitializer;
import com.aliyun.fc.runtime.PojoRequestHandler;
import com.aliyun.fc.runtime.StreamRequestHandler;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.Charset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * fc-emulator's Java agent: the push protocol of docs/runtime-protocol.md (served by AgentServer),
 * running `pkg.Class::method` handlers (runtimes.md §12). One handler object per class per instance.
 */
public final class Agent {
    static final Charset UTF8 = Charset.forName("UTF-8");
    static final Charset LATIN1 = Charset.forName("ISO-8859-1");
    static final String AGENT_PACKAGE = "aliyun.serverless.runtime.";
    static final PrintStream OUT = System.out;

    static final String STANDBY_FLAG = "FC_EMULATOR_STANDBY";

    // null in a standby instance until POST /assign gives it its function (docs/runtime-protocol.md)
    private volatile ClassLoader loader;
    private final Map<String, Object> objects = new ConcurrentHashMap<String, Object>();

    Agent(ClassLoader loader) {
        this.loader = loader;
    }

    /** What depends on the function, at start or at assignment: its class path (code folder, jars, layers). */
    static ClassLoader configure() throws Exception {
        return FunctionLoader.create(env("FC_FUNC_CODE_PATH", "/code"), env("FC_EMULATOR_OPT_DIR", "/opt"));
    }

    public static void main(String[] args) throws Exception {
        boolean standby = System.getenv(STANDBY_FLAG) != null && !System.getenv(STANDBY_FLAG).isEmpty();
        Agent agent = new Agent(standby ? null : configure());
        String host = env("FC_SERVER_HOST", "0.0.0.0");
        int port = Integer.parseInt(env("FC_SERVER_PORT", "9000"));
        new AgentServer(host, port, agent::serve).start();
        say("FunctionCompute " + env("FC_RUNTIME", "java8") + " runtime inited.");
        if (standby) {
            Thread prepare = new Thread(() -> {
                try {
                    Standby.prepare();
                } catch (Throwable e) {
                    // the assignment fails with it, and the emulator starts the function afresh
                }
            }, "fc-standby");
            prepare.setDaemon(true);
            prepare.start();
        }
    }

    static String env(String name, String dflt) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? dflt : v;
    }

    static void say(String line) {
        synchronized (OUT) {
            System.err.flush();
            OUT.println(line);
            OUT.flush();
        }
    }

    private AgentServer.Reply serve(String method, String path, Map<String, String> h, byte[] body)
            throws Exception {
        if (loader == null) {  // a standby: /assign is the only call it answers
            synchronized (this) {
                if (loader == null) {
                    if ("/assign".equals(path) && "POST".equals(method)) {
                        return assign(body);
                    }
                    return new AgentServer.Reply(400, "application/json",
                            Json.object("errorMessage", "this standby instance has no function yet").getBytes(UTF8));
                }
            }
        }
        String control = h.get("x-fc-control-path");
        boolean init = "/initialize".equals(path) || "/initialize".equals(control);
        boolean invoke = "/invoke".equals(path) || "/invoke".equals(control);
        if (!init && !invoke) {
            return new AgentServer.Reply(400, "application/json",
                    Json.object("errorMessage", "unknown path '" + path + "'").getBytes(UTF8));
        }
        return dispatch(h, body, init);
    }

    /**
     * A standby receives its function: the environment a fresh start would have had (the process's own
     * variables stay, the flag goes), the working folder a fresh start would have had, then the same set-up
     * as at start (the function's class loader).
     */
    @SuppressWarnings("unchecked")
    private AgentServer.Reply assign(byte[] body) throws Exception {
        Object doc = new Pojo.JsonReader(new String(body, UTF8)).document();
        Object env = doc instanceof Map ? ((Map<String, Object>) doc).get("env") : null;
        if (!(env instanceof Map)) {
            return new AgentServer.Reply(400, "application/json",
                    Json.object("errorMessage", "expected {\"env\": {...}}").getBytes(UTF8));
        }
        Map<String, String> vars = new java.util.LinkedHashMap<String, String>();
        for (Map.Entry<String, Object> e : ((Map<String, Object>) env).entrySet()) {
            vars.put(e.getKey(), String.valueOf(e.getValue()));
        }
        try {
            Standby.environment(vars, STANDBY_FLAG);
            Standby.workingFolder(env("FC_FUNC_CODE_PATH", "/code"));
            loader = configure();
        } catch (Throwable e) {  // the emulator starts the function afresh
            return new AgentServer.Reply(500, "application/json",
                    Json.object("errorMessage", "this standby cannot take a function: " + e).getBytes(UTF8));
        }
        return new AgentServer.Reply(200, "application/json", "{}".getBytes(UTF8));
    }

    private AgentServer.Reply dispatch(Map<String, String> h, byte[] body, boolean init) {
        String word = init ? "Initialize" : "Invoke";
        FcContext context = new FcContext(h);
        String id = context.getRequestId();
        String handler = h.get(init ? "x-fc-function-initializer" : "x-fc-function-handler");
        if (handler == null && !init) {
            handler = env("FC_FUNCTION_HANDLER", "");
        }
        say("FC " + word + " Start RequestId: " + id);
        String http = init ? null : h.get("x-fc-http-params");
        String[] meta = new String[1];
        byte[] result;
        try {
            result = call(handler == null ? "" : handler, init, body, context, http, meta);
        } catch (Throwable t) {
            Throwable cause = t instanceof java.lang.reflect.InvocationTargetException ? t.getCause() : t;
            if (cause instanceof ThreadDeath) {
                throw (ThreadDeath) cause;
            }
            String error = Json.error(cause);
            context.getLogger().error(error);  // FC logs the error, then the End marker
            say("FC " + word + " End RequestId: " + id + ", Error: Unhandled function error");
            return new AgentServer.Reply(404, "application/json", error.getBytes(UTF8));
        }
        say("FC " + word + " End RequestId: " + id);
        AgentServer.Reply reply = new AgentServer.Reply(200, null, result);
        return meta[0] == null ? reply : reply.header("x-fc-http-params", meta[0]);
    }

    /** Runs `Class::method` on the instance's object of that class: the event's result bytes. */
    private byte[] call(String handler, boolean init, byte[] body, FcContext context, String http, String[] meta)
            throws Throwable {
        int sep = handler.indexOf("::");
        if (sep <= 0 || sep + 2 >= handler.length()) {
            throw new IllegalArgumentException("invalid handler '" + handler + "': expected [package.]Class::method");
        }
        String className = handler.substring(0, sep);
        String method = handler.substring(sep + 2);
        Object target = object(className);
        if (init) {
            if (!(target instanceof FunctionInitializer) || !"initialize".equals(method)) {
                throw new NoSuchMethodException(className + "::" + method
                        + " (an initializer implements com.aliyun.fc.runtime.FunctionInitializer)");
            }
            ((FunctionInitializer) target).initialize(context);
            return new byte[0];
        }
        if (!"handleRequest".equals(method)) {
            throw new NoSuchMethodException(className + "::" + method + " (a handler implements "
                    + "com.aliyun.fc.runtime.StreamRequestHandler or PojoRequestHandler: method handleRequest)");
        }
        if (http != null) {
            return httpBridge().call(target, body, http, context, meta);
        }
        if (target instanceof StreamRequestHandler) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ((StreamRequestHandler) target).handleRequest(new ByteArrayInputStream(body), out, context);
            return out.toByteArray();
        }
        if (target instanceof PojoRequestHandler) {
            return Pojo.call((PojoRequestHandler<?, ?>) target, body, context);
        }
        throw new NoSuchMethodException(className + " implements neither com.aliyun.fc.runtime.StreamRequestHandler "
                + "nor PojoRequestHandler" + (isHttpHandler(target.getClass()) ? " (an HttpRequestHandler answers "
                + "HTTP triggers only)" : ""));
    }

    private static volatile HttpBridge bridge;

    /** HttpCall, compiled only where the emulator's host had the servlet API (java_agent.py). */
    private static HttpBridge httpBridge() throws Exception {
        HttpBridge b = bridge;
        if (b == null) {
            try {
                Class<?> cls = Class.forName(AGENT_PACKAGE + "HttpCall");
                java.lang.reflect.Constructor<?> init = cls.getDeclaredConstructor();
                init.setAccessible(true);
                b = (HttpBridge) init.newInstance();
            } catch (ClassNotFoundException e) {
                throw new ClassNotFoundException("javax.servlet: fc-emulator's Java agent was built without the "
                        + "servlet API, which HTTP triggers need (install Debian's libservlet-api-java on the "
                        + "emulator's host)");
            }
            bridge = b;
        }
        return b;
    }

    private static boolean isHttpHandler(Class<?> cls) {
        for (Class<?> c = cls; c != null; c = c.getSuperclass()) {
            for (Class<?> i : c.getInterfaces()) {
                if (i.getName().equals("com.aliyun.fc.runtime.HttpRequestHandler")) {
                    return true;
                }
            }
        }
        return false;
    }

    private Object object(String className) throws Exception {
        Object found = objects.get(className);
        if (found != null) {
            return found;
        }
        synchronized (objects) {  // one object per class per instance, also under concurrent first calls
            found = objects.get(className);
            if (found == null) {
                Class<?> cls = Class.forName(className, true, loader);
                Thread.currentThread().setContextClassLoader(loader);
                found = cls.getDeclaredConstructor().newInstance();
                objects.put(className, found);
            }
            return found;
        }
    }

    private static java.io.RandomAccessFile status;  // /proc/self/status, kept open: read once per answer
    private static final byte[] STATUS = new byte[16384];

    /** The process's peak resident size (VmHWM) in MB, two decimals. */
    static synchronized String maxMemoryMb() {
        try {
            if (status == null) {
                status = new java.io.RandomAccessFile("/proc/self/status", "r");
            }
            status.seek(0);  // procfs regenerates the text on a read from the start
            int n = Math.max(0, status.read(STATUS));
            String text = new String(STATUS, 0, n, LATIN1);
            int at = text.indexOf("VmHWM:");
            if (at >= 0) {
                long kb = 0;
                for (int i = at + 6; i < n && STATUS[i] != '\n'; i++) {
                    if (STATUS[i] >= '0' && STATUS[i] <= '9') {
                        kb = kb * 10 + (STATUS[i] - '0');
                    }
                }
                long hundredths = Math.round(kb * 100 / 1024.0);
                long frac = hundredths % 100;
                return (hundredths / 100) + (frac < 10 ? ".0" : ".") + frac;
            }
        } catch (java.io.IOException ignored) {
            // not Linux: no figure
        }
        return "0.00";
    }

    /** The function's class path (runtimes.md §12.2): the code dir, its jars, lib/*.jar, the layers' java/lib. */
    static final class FunctionLoader extends URLClassLoader {
        private final ClassLoader agent = Agent.class.getClassLoader();

        private FunctionLoader(URL[] urls, ClassLoader parent) {
            super(urls, parent);
        }

        static FunctionLoader create(String code, String opt) throws Exception {
            List<URL> urls = new ArrayList<URL>();
            urls.add(new File(code).toURI().toURL());
            for (String dir : new String[]{code, code + "/lib", opt + "/java/lib"}) {
                File[] jars = new File(dir).listFiles((d, name) -> name.endsWith(".jar"));
                if (jars != null) {
                    Arrays.sort(jars);
                    for (File jar : jars) {
                        urls.add(jar.toURI().toURL());
                    }
                }
            }
            // parent = the JDK's own classes only; fc-java-core's interfaces come from the agent (below)
            return new FunctionLoader(urls.toArray(new URL[0]), ClassLoader.getSystemClassLoader().getParent());
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            // one com.aliyun.fc.runtime (and javax.servlet) for agent and function, even when the user's jar
            // bundles its own copy
            if (name.startsWith("com.aliyun.fc.runtime.") && !name.startsWith("com.aliyun.fc.runtime.event")
                    || name.startsWith("javax.servlet.")) {
                try {
                    return agent.loadClass(name);
                } catch (ClassNotFoundException e) {
                    // a class of a newer fc-java-core than ours: the user's copy
                }
            }
            return super.loadClass(name, resolve);
        }
    }
}
