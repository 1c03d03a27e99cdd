package com.aliyun.fc.runtime;

/** fc-java-core 1.4.x's context: a superset of every released version, so code compiled against any works. */
public interface Context {
    String getRequestId();

    Credentials getExecutionCredentials();

    FunctionParam getFunctionParam();

    FunctionComputeLogger getLogger();

    Service getService();

    OpenTracing getTracing();

    int getRetryCount();
}
