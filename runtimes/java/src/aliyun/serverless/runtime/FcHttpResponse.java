package aliyun.serverless.runtime;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.UnsupportedEncodingException;
import java.nio.charset.Charset;
import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TimeZone;
import javax.servlet.ServletOutputStream;
import javax.servlet.WriteListener;
import javax.servlet.http.Cookie;
import javax.servlet.http.HttpServletResponse;

/** The HttpServletResponse an HttpRequestHandler fills (runtimes.md §12.5): buffered, returned whole. */
final class FcHttpResponse implements HttpServletResponse {
    static final class Header {
        final String name;
        final List<String> values = new ArrayList<String>();

        Header(String name) {
            this.name = name;
        }
    }

    private final Map<String, Header> headers = new LinkedHashMap<String, Header>();  // by lower-cased name
    private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    private int status = 200;
    private String encoding;
    private Locale locale = Locale.getDefault();
    private ServletOutputStream stream;
    private PrintWriter writer;

    byte[] body() {
        if (writer != null) {
            writer.flush();
        }
        return buffer.toByteArray();
    }

    Collection<Header> headers() {
        return headers.values();
    }

    private Header header(String name, boolean reset) {
        String key = name.toLowerCase(Locale.ROOT);
        Header h = headers.get(key);
        if (h == null || reset) {
            h = new Header(name);
            headers.put(key, h);
        }
        return h;
    }

    private static String date(long millis) {
        SimpleDateFormat f = new SimpleDateFormat("EEE, dd MMM yyyy HH:mm:ss 'GMT'", Locale.US);
        f.setTimeZone(TimeZone.getTimeZone("GMT"));
        return f.format(new Date(millis));
    }

    // ---- HttpServletResponse

    @Override public void addCookie(Cookie c) {
        StringBuilder b = new StringBuilder(c.getName()).append('=').append(c.getValue() == null ? "" : c.getValue());
        if (c.getPath() != null) b.append("; Path=").append(c.getPath());
        if (c.getDomain() != null) b.append("; Domain=").append(c.getDomain());
        if (c.getMaxAge() >= 0) {
            b.append("; Max-Age=").append(c.getMaxAge())
                    .append("; Expires=").append(date(System.currentTimeMillis() + c.getMaxAge() * 1000L));
        }
        if (c.getSecure()) b.append("; Secure");
        if (c.isHttpOnly()) b.append("; HttpOnly");
        addHeader("Set-Cookie", b.toString());
    }
    @Override public boolean containsHeader(String name) { return headers.containsKey(name.toLowerCase(Locale.ROOT)); }
    @Override public String encodeURL(String url) { return url; }
    @Override public String encodeRedirectURL(String url) { return url; }
    @Override @Deprecated public String encodeUrl(String url) { return url; }
    @Override @Deprecated public String encodeRedirectUrl(String url) { return url; }
    @Override public void sendError(int sc, String msg) {
        resetBuffer();
        status = sc;
        if (msg != null) {
            setContentType("text/plain;charset=UTF-8");
            buffer.write(msg.getBytes(Agent.UTF8), 0, msg.getBytes(Agent.UTF8).length);
        }
    }
    @Override public void sendError(int sc) { sendError(sc, null); }
    @Override public void sendRedirect(String location) {
        resetBuffer();
        status = SC_FOUND;
        setHeader("Location", location);
    }
    @Override public void setDateHeader(String name, long date) { setHeader(name, date(date)); }
    @Override public void addDateHeader(String name, long date) { addHeader(name, date(date)); }
    @Override public void setHeader(String name, String value) {
        if (value == null) {
            headers.remove(name.toLowerCase(Locale.ROOT));
        } else {
            header(name, true).values.add(value);
        }
    }
    @Override public void addHeader(String name, String value) {
        if (value != null) {
            header(name, false).values.add(value);
        }
    }
    @Override public void setIntHeader(String name, int value) { setHeader(name, Integer.toString(value)); }
    @Override public void addIntHeader(String name, int value) { addHeader(name, Integer.toString(value)); }
    @Override public void setStatus(int sc) { status = sc; }
    @Override @Deprecated public void setStatus(int sc, String sm) { status = sc; }
    @Override public int getStatus() { return status; }
    @Override public String getHeader(String name) {
        Header h = headers.get(name.toLowerCase(Locale.ROOT));
        return h == null || h.values.isEmpty() ? null : h.values.get(0);
    }
    @Override public Collection<String> getHeaders(String name) {
        Header h = headers.get(name.toLowerCase(Locale.ROOT));
        return h == null ? new ArrayList<String>() : new ArrayList<String>(h.values);
    }
    @Override public Collection<String> getHeaderNames() {
        List<String> out = new ArrayList<String>();
        for (Header h : headers.values()) {
            out.add(h.name);
        }
        return out;
    }

    // ---- ServletResponse

    @Override public String getCharacterEncoding() {
        if (encoding != null) {
            return encoding;
        }
        String type = getContentType();
        int at = type == null ? -1 : type.toLowerCase(Locale.ROOT).indexOf("charset=");
        return at < 0 ? "ISO-8859-1" : type.substring(at + 8).split(";")[0].trim().replace("\"", "");
    }
    @Override public String getContentType() { return getHeader("Content-Type"); }
    @Override public ServletOutputStream getOutputStream() {
        if (writer != null) {
            throw new IllegalStateException("getWriter() has already been called on this response");
        }
        if (stream == null) {
            stream = new ServletOutputStream() {
                @Override public void write(int b) { buffer.write(b); }
                @Override public void write(byte[] b, int off, int len) { buffer.write(b, off, len); }
                @Override public boolean isReady() { return true; }
                @Override public void setWriteListener(WriteListener listener) {
                    throw new IllegalStateException("the response is buffered: write it directly");
                }
            };
        }
        return stream;
    }
    @Override public PrintWriter getWriter() throws UnsupportedEncodingException {
        if (stream != null) {
            throw new IllegalStateException("getOutputStream() has already been called on this response");
        }
        if (writer == null) {
            writer = new PrintWriter(new OutputStreamWriter(buffer, getCharacterEncoding()));
        }
        return writer;
    }
    @Override public void setCharacterEncoding(String charset) {
        if (writer == null && charset != null && Charset.isSupported(charset)) {
            encoding = charset;
            String type = getContentType();
            if (type != null) {
                setHeader("Content-Type", type.split(";")[0].trim() + ";charset=" + charset);
            }
        }
    }
    @Override public void setContentLength(int len) { }  // the emulator sets Content-Length from the body
    @Override public void setContentLengthLong(long len) { }
    @Override public void setContentType(String type) {
        if (type == null) {
            headers.remove("content-type");
            return;
        }
        if (encoding != null && !type.toLowerCase(Locale.ROOT).contains("charset=")) {
            type = type + ";charset=" + encoding;
        }
        setHeader("Content-Type", type);
    }
    @Override public void setBufferSize(int size) { }
    @Override public int getBufferSize() { return buffer.size(); }
    @Override public void flushBuffer() throws IOException {
        if (writer != null) {
            writer.flush();
        }
    }
    @Override public void resetBuffer() {
        if (writer != null) {
            writer.flush();
        }
        buffer.reset();
    }
    @Override public boolean isCommitted() { return false; }
    @Override public void reset() {
        resetBuffer();
        headers.clear();
        status = 200;
    }
    @Override public void setLocale(Locale loc) { locale = loc; }
    @Override public Locale getLocale() { return locale; }
}
