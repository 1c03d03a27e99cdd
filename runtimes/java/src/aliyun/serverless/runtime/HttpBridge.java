package aliyun.serverless.runtime;

/**
 * The agent's way into HttpCall without linking to javax.servlet: HttpCall (and the servlet classes) are
 * compiled only when the emulator's host has the servlet API (emulator/execution/java_agent.py).
 */
interface HttpBridge {
    /** Runs an HttpRequestHandler on the request `params` (x-fc-http-params) describes; meta[0] = the answer's. */
    byte[] call(Object handler, byte[] body, String params, FcContext context, String[] meta) throws Throwable;
}
