package com.aliyun.fc.runtime;

public interface FunctionParam {
    String getFunctionName();

    String getFunctionHandler();

    String getFunctionInitializer();

    int getExecTimeLimitInMillis();

    int getMemoryLimitInMB();
}
