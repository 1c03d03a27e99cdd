package com.aliyun.fc.runtime;

import java.util.Map;

public interface OpenTracing {
    String getSpanContext();

    Map<String, String> getSpanBaggages();

    String getJaegerEndpoint();
}
