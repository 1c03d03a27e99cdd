package aliyun.serverless.runtime;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UnsupportedEncodingException;
import java.net.URLDecoder;
import java.nio.charset.Charset;
import java.security.Principal;
import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TimeZone;
import javax.servlet.AsyncContext;
import javax.servlet.DispatcherType;
import javax.servlet.ReadListener;
import javax.servlet.RequestDispatcher;
import javax.servlet.ServletContext;
import javax.servlet.ServletInputStream;
import javax.servlet.ServletRequest;
import javax.servlet.ServletResponse;
import javax.servlet.http.Cookie;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;
import javax.servlet.http.HttpSession;
import javax.servlet.http.HttpUpgradeHandler;
import javax.servlet.http.Part;

/**
 * The HttpServletRequest an HttpRequestHandler gets (runtimes.md §12.5), built from x-fc-http-params:
 * getRequestURI() is the client's path (with /2016-08-15/proxy/svc/fn on the default endpoint),
 * getPathInfo() and the attribute FC_REQUEST_PATH the path after it. No sessions, no async.
 */
final class FcHttpRequest implements HttpServletRequest {
    private static final String ISO = "ISO-8859-1";

    private final String method;
    private final String path;
    private final String uri;  // FC_REQUEST_URI: with the query
    private final String clientIp;
    private final String host;
    private final Map<String, List<String>> headers = new LinkedHashMap<String, List<String>>();  // lower-cased
    private final List<String> headerNames = new ArrayList<String>();
    private final Map<String, List<String>> params = new LinkedHashMap<String, List<String>>();
    private final Map<String, Object> attributes = new LinkedHashMap<String, Object>();
    private final byte[] body;
    private boolean bodyUsed;  // by getInputStream/getReader: form fields are then no parameters (servlet 3.1 §3.1.1)
    private boolean formRead;
    private String encoding;

    FcHttpRequest(Map<?, ?> p, byte[] body) {
        this.method = str(p.get("method"), "GET");
        this.path = str(p.get("path"), "/");
        this.uri = str(p.get("requestURI"), path);
        this.clientIp = str(p.get("clientIP"), "");
        this.host = str(p.get("host"), "");
        this.body = body;
        Object hm = p.get("headersMap");
        if (hm instanceof Map) {
            for (Map.Entry<?, ?> e : ((Map<?, ?>) hm).entrySet()) {
                String name = String.valueOf(e.getKey());
                List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
                if (values == null) {
                    values = new ArrayList<String>();
                    headers.put(name.toLowerCase(Locale.ROOT), values);
                    headerNames.add(name);
                }
                values.addAll(strings(e.getValue()));
            }
        }
        Object qm = p.get("queriesMap");
        if (qm instanceof Map) {
            for (Map.Entry<?, ?> e : ((Map<?, ?>) qm).entrySet()) {
                param(String.valueOf(e.getKey())).addAll(strings(e.getValue()));
            }
        }
        attributes.put("FC_REQUEST_PATH", path);
        attributes.put("FC_REQUEST_URI", uri);
        attributes.put("FC_REQUEST_CLIENT_IP", clientIp);
    }

    private static String str(Object v, String dflt) {
        return v == null ? dflt : String.valueOf(v);
    }

    private static List<String> strings(Object v) {
        List<String> out = new ArrayList<String>();
        if (v instanceof List) {
            for (Object o : (List<?>) v) {
                out.add(String.valueOf(o));
            }
        } else if (v != null) {
            out.add(String.valueOf(v));
        }
        return out;
    }

    private List<String> param(String name) {
        List<String> values = params.get(name);
        if (values == null) {
            values = new ArrayList<String>();
            params.put(name, values);
        }
        return values;
    }

    /** Fields of a urlencoded form body join the query's parameters, unless the body was read first. */
    private Map<String, List<String>> parameters() {
        if (!formRead && !bodyUsed && body.length > 0 && "POST".equalsIgnoreCase(method)) {
            String type = getContentType();
            if (type != null && type.toLowerCase(Locale.ROOT).startsWith("application/x-www-form-urlencoded")) {
                String cs = getCharacterEncoding() == null ? ISO : getCharacterEncoding();
                try {
                    for (String pair : new String(body, ISO).split("&")) {
                        if (pair.isEmpty()) {
                            continue;
                        }
                        int eq = pair.indexOf('=');
                        String k = eq < 0 ? pair : pair.substring(0, eq);
                        String v = eq < 0 ? "" : pair.substring(eq + 1);
                        param(URLDecoder.decode(k, cs)).add(URLDecoder.decode(v, cs));
                    }
                } catch (UnsupportedEncodingException | IllegalArgumentException ignored) {
                    // a malformed form: the query's parameters only
                }
            }
        }
        formRead = true;
        return params;
    }

    // ---- HttpServletRequest

    @Override public String getAuthType() { return null; }
    @Override public Cookie[] getCookies() {
        List<Cookie> out = new ArrayList<Cookie>();
        for (String line : headerList("cookie")) {
            for (String part : line.split(";")) {
                int eq = part.indexOf('=');
                if (eq > 0) {
                    try {
                        out.add(new Cookie(part.substring(0, eq).trim(), part.substring(eq + 1).trim()));
                    } catch (IllegalArgumentException ignored) {
                        // a name the servlet API refuses
                    }
                }
            }
        }
        return out.isEmpty() ? null : out.toArray(new Cookie[0]);
    }
    @Override public long getDateHeader(String name) {
        String v = getHeader(name);
        if (v == null) {
            return -1;
        }
        SimpleDateFormat f = new SimpleDateFormat("EEE, dd MMM yyyy HH:mm:ss zzz", Locale.US);
        f.setTimeZone(TimeZone.getTimeZone("GMT"));
        try {
            return f.parse(v).getTime();
        } catch (java.text.ParseException e) {
            throw new IllegalArgumentException("not a date: " + v);
        }
    }
    private List<String> headerList(String name) {
        List<String> v = headers.get(name.toLowerCase(Locale.ROOT));
        return v == null ? Collections.<String>emptyList() : v;
    }
    @Override public String getHeader(String name) {
        List<String> v = headerList(name);
        return v.isEmpty() ? null : v.get(0);
    }
    @Override public Enumeration<String> getHeaders(String name) { return Collections.enumeration(headerList(name)); }
    @Override public Enumeration<String> getHeaderNames() { return Collections.enumeration(headerNames); }
    @Override public int getIntHeader(String name) {
        String v = getHeader(name);
        return v == null ? -1 : Integer.parseInt(v.trim());
    }
    @Override public String getMethod() { return method; }
    @Override public String getPathInfo() { return path; }
    @Override public String getPathTranslated() { return null; }
    @Override public String getContextPath() { return ""; }
    @Override public String getQueryString() {
        int q = uri.indexOf('?');
        return q < 0 ? null : uri.substring(q + 1);
    }
    @Override public String getRemoteUser() { return null; }
    @Override public boolean isUserInRole(String role) { return false; }
    @Override public Principal getUserPrincipal() { return null; }
    @Override public String getRequestedSessionId() { return null; }
    @Override public String getRequestURI() {
        int q = uri.indexOf('?');
        return q < 0 ? uri : uri.substring(0, q);
    }
    @Override public StringBuffer getRequestURL() {
        return new StringBuffer("http://").append(host).append(getRequestURI());
    }
    @Override public String getServletPath() { return ""; }
    @Override public HttpSession getSession(boolean create) {
        if (create) {
            throw new UnsupportedOperationException("no HTTP sessions in Function Compute");
        }
        return null;
    }
    @Override public HttpSession getSession() { return getSession(true); }
    @Override public String changeSessionId() { throw new IllegalStateException("no session"); }
    @Override public boolean isRequestedSessionIdValid() { return false; }
    @Override public boolean isRequestedSessionIdFromCookie() { return false; }
    @Override public boolean isRequestedSessionIdFromURL() { return false; }
    @Override @Deprecated public boolean isRequestedSessionIdFromUrl() { return false; }
    @Override public boolean authenticate(HttpServletResponse response) { return false; }
    @Override public void login(String user, String password) throws javax.servlet.ServletException {
        throw new javax.servlet.ServletException("no login in Function Compute");
    }
    @Override public void logout() { }
    @Override public Collection<Part> getParts() throws javax.servlet.ServletException {
        throw new javax.servlet.ServletException("multipart parsing is not supported: read getInputStream()");
    }
    @Override public Part getPart(String name) throws javax.servlet.ServletException {
        throw new javax.servlet.ServletException("multipart parsing is not supported: read getInputStream()");
    }
    @Override public <T extends HttpUpgradeHandler> T upgrade(Class<T> cls) {
        throw new UnsupportedOperationException("no protocol upgrades in Function Compute");
    }

    // ---- ServletRequest

    @Override public Object getAttribute(String name) { return attributes.get(name); }
    @Override public Enumeration<String> getAttributeNames() { return Collections.enumeration(attributes.keySet()); }
    @Override public String getCharacterEncoding() {
        if (encoding != null) {
            return encoding;
        }
        String type = getContentType();
        int at = type == null ? -1 : type.toLowerCase(Locale.ROOT).indexOf("charset=");
        return at < 0 ? null : type.substring(at + 8).split(";")[0].trim().replace("\"", "");
    }
    @Override public void setCharacterEncoding(String env) throws UnsupportedEncodingException {
        if (!Charset.isSupported(env)) {
            throw new UnsupportedEncodingException(env);
        }
        encoding = env;
    }
    @Override public int getContentLength() { return body.length; }
    @Override public long getContentLengthLong() { return body.length; }
    @Override public String getContentType() { return getHeader("content-type"); }
    @Override public ServletInputStream getInputStream() {
        bodyUsed = true;
        final ByteArrayInputStream in = new ByteArrayInputStream(body);
        return new ServletInputStream() {
            @Override public int read() { return in.read(); }
            @Override public int read(byte[] b, int off, int len) { return in.read(b, off, len); }
            @Override public int available() { return in.available(); }
            @Override public boolean isFinished() { return in.available() == 0; }
            @Override public boolean isReady() { return true; }
            @Override public void setReadListener(ReadListener listener) {
                throw new IllegalStateException("the body is already complete: read it directly");
            }
        };
    }
    @Override public BufferedReader getReader() throws UnsupportedEncodingException {
        String cs = getCharacterEncoding() == null ? ISO : getCharacterEncoding();
        return new BufferedReader(new InputStreamReader(getInputStream(), cs));
    }
    @Override public String getParameter(String name) {
        List<String> v = parameters().get(name);
        return v == null || v.isEmpty() ? null : v.get(0);
    }
    @Override public Enumeration<String> getParameterNames() { return Collections.enumeration(parameters().keySet()); }
    @Override public String[] getParameterValues(String name) {
        List<String> v = parameters().get(name);
        return v == null ? null : v.toArray(new String[0]);
    }
    @Override public Map<String, String[]> getParameterMap() {
        Map<String, String[]> out = new LinkedHashMap<String, String[]>();
        for (Map.Entry<String, List<String>> e : parameters().entrySet()) {
            out.put(e.getKey(), e.getValue().toArray(new String[0]));
        }
        return Collections.unmodifiableMap(out);
    }
    @Override public String getProtocol() { return "HTTP/1.1"; }
    @Override public String getScheme() { return "http"; }
    @Override public String getServerName() {
        int colon = host.lastIndexOf(':');
        return colon > 0 && host.indexOf(']', colon) < 0 ? host.substring(0, colon) : host;
    }
    @Override public int getServerPort() {
        int colon = host.lastIndexOf(':');
        try {
            return colon > 0 && host.indexOf(']', colon) < 0 ? Integer.parseInt(host.substring(colon + 1)) : 80;
        } catch (NumberFormatException e) {
            return 80;
        }
    }
    @Override public String getRemoteAddr() { return clientIp; }
    @Override public String getRemoteHost() { return clientIp; }
    @Override public void setAttribute(String name, Object o) {
        if (o == null) {
            attributes.remove(name);
        } else {
            attributes.put(name, o);
        }
    }
    @Override public void removeAttribute(String name) { attributes.remove(name); }
    @Override public Locale getLocale() { return Locale.getDefault(); }
    @Override public Enumeration<Locale> getLocales() { return Collections.enumeration(Collections.singletonList(getLocale())); }
    @Override public boolean isSecure() { return false; }
    @Override public RequestDispatcher getRequestDispatcher(String p) { return null; }
    @Override @Deprecated public String getRealPath(String p) { return null; }
    @Override public int getRemotePort() { return 0; }
    @Override public String getLocalName() { return getServerName(); }
    @Override public String getLocalAddr() { return "127.0.0.1"; }
    @Override public int getLocalPort() { return getServerPort(); }
    @Override public ServletContext getServletContext() { return null; }
    @Override public AsyncContext startAsync() { throw new IllegalStateException("no async requests in Function Compute"); }
    @Override public AsyncContext startAsync(ServletRequest rq, ServletResponse rs) { return startAsync(); }
    @Override public boolean isAsyncStarted() { return false; }
    @Override public boolean isAsyncSupported() { return false; }
    @Override public AsyncContext getAsyncContext() { throw new IllegalStateException("no async requests"); }
    @Override public DispatcherType getDispatcherType() { return DispatcherType.REQUEST; }
}
