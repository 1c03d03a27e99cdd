package aliyun.serverless.runtime;

import com.aliyun.fc.runtime.Context;
import com.aliyun.fc.runtime.Credentials;
import com.aliyun.fc.runtime.FunctionComputeLogger;
import com.aliyun.fc.runtime.FunctionParam;
import com.aliyun.fc.runtime.OpenTracing;
import com.aliyun.fc.runtime.Service;

import java.io.PrintStream;
import java.text.SimpleDateFormat;
import java.util.Collections;
import java.util.Date;
import java.util.HashMap;
import java.util.Map;
import java.util.TimeZone;

/** The context one invocation sees, from the request's x-fc-* headers (runtimes.md §2.3, §12.3). */
final class FcContext implements Context, Credentials, FunctionParam, Service, OpenTracing {
    private final Map<String, String> h;  // lower-cased request headers
    private final Logger logger;

    FcContext(Map<String, String> headers) {
        this.h = headers;
        this.logger = new Logger(get("x-fc-request-id"));
    }

    String get(String name) {
        String v = h.get(name);
        return v == null ? "" : v;
    }

    private int number(String name, int scale) {
        try {
            return (int) (Double.parseDouble(get(name)) * scale);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    public String getRequestId() { return get("x-fc-request-id"); }
    public Credentials getExecutionCredentials() { return this; }
    public FunctionParam getFunctionParam() { return this; }
    public FunctionComputeLogger getLogger() { return logger; }
    public Service getService() { return this; }
    public OpenTracing getTracing() { return this; }
    public int getRetryCount() { return number("x-fc-retry-count", 1); }

    public String getAccessKeyId() { return get("x-fc-access-key-id"); }
    public String getAccessKeySecret() { return get("x-fc-access-key-secret"); }
    public String getSecurityToken() { return get("x-fc-security-token"); }

    public String getFunctionName() { return get("x-fc-function-name"); }
    public String getFunctionHandler() { return get("x-fc-function-handler"); }
    public String getFunctionInitializer() { return get("x-fc-function-initializer"); }
    public int getExecTimeLimitInMillis() { return number("x-fc-function-timeout", 1000); }
    public int getMemoryLimitInMB() { return number("x-fc-function-memory", 1); }

    public String getName() { return get("x-fc-service-name"); }
    public String getLogProject() { return get("x-fc-service-logproject"); }
    public String getLogStore() { return get("x-fc-service-logstore"); }
    public String getQualifier() { return get("x-fc-qualifier"); }
    public String getVersionId() { return get("x-fc-version-id"); }

    public String getSpanContext() { return get("x-fc-tracing-opentracing-span-context"); }
    public String getJaegerEndpoint() { return get("x-fc-tracing-jaeger-endpoint"); }
    public Map<String, String> getSpanBaggages() {
        Map<String, String> out = new HashMap<String, String>();
        String raw = get("x-fc-tracing-opentracing-span-baggages");
        if (!raw.isEmpty()) {
            out.put("raw", raw);
        }
        return Collections.unmodifiableMap(out);
    }

    /** `2017-07-05T05:13:35.920Z <requestId> [INFO] message` (runtimes.md §12.6); one level per instance. */
    static final class Logger implements FunctionComputeLogger {
        static volatile Level threshold = Level.INFO;
        private static final ThreadLocal<SimpleDateFormat> TIME = new ThreadLocal<SimpleDateFormat>() {
            @Override
            protected SimpleDateFormat initialValue() {
                SimpleDateFormat f = new SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'");
                f.setTimeZone(TimeZone.getTimeZone("UTC"));
                return f;
            }
        };
        private final String requestId;

        Logger(String requestId) {
            this.requestId = requestId;
        }

        private void log(Level level, String message) {
            if (level.ordinal() < threshold.ordinal()) {
                return;
            }
            PrintStream out = System.out;
            synchronized (out) {
                out.println(TIME.get().format(new Date()) + " " + requestId + " [" + level + "] " + message);
                out.flush();
            }
        }

        public void trace(String s) { log(Level.TRACE, s); }
        public void debug(String s) { log(Level.DEBUG, s); }
        public void info(String s) { log(Level.INFO, s); }
        public void warn(String s) { log(Level.WARN, s); }
        public void error(String s) { log(Level.ERROR, s); }
        public void fatal(String s) { log(Level.FATAL, s); }
        public void setLogLevel(Level level) {
            if (level != null) {
                threshold = level;
            }
        }
    }
}
