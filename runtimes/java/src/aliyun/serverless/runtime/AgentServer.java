package aliyun.serverless.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The agent's HTTP/1.1 server: one thread per kept-alive connection, and each answer leaves in one write.
 * (The JDK's HttpServer hands every request from its dispatcher thread to a worker and flushes the head
 * before the body: two packets, so the emulator's event loop wakes twice per call.)
 */
final class AgentServer {
    interface Handler {
        Reply handle(String method, String path, Map<String, String> headers, byte[] body) throws Exception;
    }

    /** An answer: status, Content-Type, body, and extra header name/value pairs. */
    static final class Reply {
        final int status;
        final String type;
        final byte[] body;
        final List<String> extra = new ArrayList<String>();

        Reply(int status, String type, byte[] body) {
            this.status = status;
            this.type = type == null ? "application/octet-stream" : type;
            this.body = body;
        }

        Reply header(String name, String value) {
            extra.add(name);
            extra.add(value);
            return this;
        }
    }

    private static final int MAX_LINE = 1 << 20;  // x-fc-http-params carries up to 8 KB of headers, base64'd

    private final ServerSocket socket;
    private final Handler handler;
    private final ExecutorService pool = Executors.newCachedThreadPool();

    AgentServer(String host, int port, Handler handler) throws IOException {
        this.socket = new ServerSocket();
        this.socket.setReuseAddress(true);
        this.socket.bind(new InetSocketAddress(host, port), 128);
        this.handler = handler;
    }

    void start() {
        Thread accept = new Thread(() -> {
            while (true) {
                try {
                    final Socket s = socket.accept();
                    pool.execute(() -> serve(s));
                } catch (IOException e) {
                    if (socket.isClosed()) {
                        return;
                    }
                }
            }
        }, "fc-agent-accept");
        accept.start();  // not a daemon: it keeps the JVM alive
    }

    private void serve(Socket s) {
        try {
            s.setTcpNoDelay(true);  // the answer is one write: send it at once
            Input in = new Input(s.getInputStream());
            OutputStream out = s.getOutputStream();
            while (true) {
                String line = in.line();
                if (line == null) {
                    return;
                }
                if (line.isEmpty()) {
                    continue;  // a stray CRLF between requests
                }
                String[] parts = line.split(" ");
                if (parts.length < 2) {
                    return;
                }
                Map<String, String> headers = new HashMap<String, String>();
                for (String h; !(h = in.line()).isEmpty(); ) {
                    int colon = h.indexOf(':');
                    if (colon > 0) {
                        String name = h.substring(0, colon).trim().toLowerCase(Locale.ROOT);
                        if (!headers.containsKey(name)) {
                            headers.put(name, h.substring(colon + 1).trim());
                        }
                    }
                }
                byte[] body = "chunked".equalsIgnoreCase(headers.get("transfer-encoding")) ? in.chunked()
                        : in.exactly(Integer.parseInt(headers.getOrDefault("content-length", "0").trim()));
                boolean close = "close".equalsIgnoreCase(headers.get("connection"))
                        || (parts.length > 2 && "HTTP/1.0".equals(parts[2])
                            && !"keep-alive".equalsIgnoreCase(headers.get("connection")));
                int q = parts[1].indexOf('?');
                Reply reply;
                try {
                    reply = handler.handle(parts[0], q < 0 ? parts[1] : parts[1].substring(0, q), headers, body);
                } catch (Throwable t) {
                    t.printStackTrace();
                    reply = new Reply(500, "application/json",
                            Json.object("errorMessage", String.valueOf(t)).getBytes(Agent.UTF8));
                }
                write(out, reply, close);
                if (close) {
                    return;
                }
            }
        } catch (IOException | RuntimeException e) {
            // the emulator closed the connection, or sent something that is not HTTP: drop it
        } finally {
            try {
                s.close();
            } catch (IOException ignored) {
                // already gone
            }
        }
    }

    private static void write(OutputStream out, Reply r, boolean close) throws IOException {
        StringBuilder head = new StringBuilder(256).append("HTTP/1.1 ").append(r.status).append(' ')
                .append(r.status == 200 ? "OK" : r.status == 404 ? "Not Found" : "Error")
                .append("\r\nContent-Type: ").append(r.type)
                .append("\r\nContent-Length: ").append(r.body.length)
                .append("\r\nx-fc-max-memory-usage: ").append(Agent.maxMemoryMb()).append("\r\n");
        for (int i = 0; i + 1 < r.extra.size(); i += 2) {
            head.append(r.extra.get(i)).append(": ").append(r.extra.get(i + 1)).append("\r\n");
        }
        head.append(close ? "Connection: close\r\n\r\n" : "\r\n");
        byte[] h = head.toString().getBytes(Agent.LATIN1);
        if (r.body.length < 65536) {
            byte[] all = new byte[h.length + r.body.length];
            System.arraycopy(h, 0, all, 0, h.length);
            System.arraycopy(r.body, 0, all, h.length, r.body.length);
            out.write(all);
        } else {
            out.write(h);
            out.write(r.body);
        }
        out.flush();
    }

    /** A buffered reader of HTTP/1.1 requests: lines, fixed-length and chunked bodies. */
    private static final class Input {
        private final InputStream in;
        private final byte[] buf = new byte[65536];
        private int pos;
        private int lim;

        Input(InputStream in) {
            this.in = in;
        }

        private boolean fill() throws IOException {
            pos = 0;
            lim = Math.max(0, in.read(buf));
            return lim > 0;
        }

        /** A line without its CRLF; null at the end of the stream before any byte. */
        String line() throws IOException {
            StringBuilder b = null;
            while (true) {
                if (pos == lim && !fill()) {
                    if (b == null) {
                        return null;
                    }
                    throw new IOException("connection closed inside a line");
                }
                int start = pos;
                while (pos < lim && buf[pos] != '\n') {
                    pos++;
                }
                if (b == null) {
                    b = new StringBuilder(pos - start + 16);
                }
                for (int i = start; i < pos; i++) {
                    b.append((char) (buf[i] & 0xff));
                }
                if (b.length() > MAX_LINE) {
                    throw new IOException("line too long");
                }
                if (pos < lim) {
                    pos++;  // the LF
                    int n = b.length();
                    return n > 0 && b.charAt(n - 1) == '\r' ? b.substring(0, n - 1) : b.toString();
                }
            }
        }

        byte[] exactly(int n) throws IOException {
            byte[] out = new byte[n];
            for (int got = 0; got < n; ) {
                if (pos == lim && !fill()) {
                    throw new IOException("connection closed inside a body");
                }
                int k = Math.min(n - got, lim - pos);
                System.arraycopy(buf, pos, out, got, k);
                pos += k;
                got += k;
            }
            return out;
        }

        byte[] chunked() throws IOException {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            while (true) {
                String size = line();
                int n = Integer.parseInt(size.split(";")[0].trim(), 16);
                if (n == 0) {
                    for (String t = line(); t != null && !t.isEmpty(); t = line()) {
                        // trailers: ignored
                    }
                    return out.toByteArray();
                }
                out.write(exactly(n));
                line();  // the CRLF after the chunk
            }
        }
    }
}
