package com.aliyun.fc.runtime;

public interface PojoRequestHandler<I, O> {
    O handleRequest(I input, Context context);
}
