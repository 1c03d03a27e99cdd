package aliyun.serverless.runtime;

import com.aliyun.fc.runtime.HttpRequestHandler;

import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** An HTTP-trigger call (runtimes.md §12.5): x-fc-http-params in, a servlet request/response pair, meta out. */
final class HttpCall implements HttpBridge {
    @Override
    public byte[] call(Object handler, byte[] body, String params, FcContext context, String[] meta)
            throws Throwable {
        if (!(handler instanceof HttpRequestHandler)) {
            throw new NoSuchMethodException(handler.getClass().getName() + " does not implement "
                    + "com.aliyun.fc.runtime.HttpRequestHandler, which an HTTP trigger calls");
        }
        String json = new String(Base64.getDecoder().decode(params), Agent.UTF8);
        Map<?, ?> p = (Map<?, ?>) new Pojo.JsonReader(json).document();
        FcHttpRequest request = new FcHttpRequest(p, body);
        FcHttpResponse response = new FcHttpResponse();
        ((HttpRequestHandler) handler).handleRequest(request, response, context);
        byte[] out = response.body();
        Map<String, Object> m = new LinkedHashMap<String, Object>();
        m.put("status", response.getStatus());
        Map<String, List<String>> headers = new LinkedHashMap<String, List<String>>();
        for (FcHttpResponse.Header h : response.headers()) {
            headers.put(h.name, h.values);
        }
        m.put("headersMap", headers);
        StringBuilder b = new StringBuilder();
        Pojo.write(m, b);
        meta[0] = Base64.getEncoder().encodeToString(b.toString().getBytes(Agent.UTF8));
        return out;
    }
}
