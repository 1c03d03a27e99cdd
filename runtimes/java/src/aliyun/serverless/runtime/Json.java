package aliyun.serverless.runtime;

import java.util.ArrayList;
import java.util.List;

/** FC's error JSON (runtimes.md §12.8), in Jackson's pretty-printer layout. */
final class Json {
    private Json() {
    }

    static String quote(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        return b.append('"').toString();
    }

    static String object(String key, String value) {
        return "{\n  " + quote(key) + " : " + quote(value) + "\n}";
    }

    static String error(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        List<String> frames = new ArrayList<String>();
        for (StackTraceElement e : t.getStackTrace()) {
            String cls = e.getClassName();
            if (cls.startsWith(Agent.AGENT_PACKAGE) || cls.startsWith("sun.reflect.")
                    || cls.startsWith("jdk.internal.reflect.") || cls.startsWith("java.lang.reflect.")) {
                break;  // only the user's frames, as FC's agent cuts them
            }
            frames.add(quote(e.toString()));
        }
        StringBuilder trace = new StringBuilder("[ ");
        for (int i = 0; i < frames.size(); i++) {
            trace.append(i == 0 ? "" : ", ").append(frames.get(i));
        }
        trace.append(frames.isEmpty() ? "]" : " ]");
        return "{\n  \"errorMessage\" : " + quote(t.getMessage())
                + ",\n  \"errorType\" : " + quote(t.getClass().getName())
                + ",\n  \"errorCause\" : " + quote(root.getMessage())
                + ",\n  \"stackTrace\" : " + trace + "\n}";
    }
}
