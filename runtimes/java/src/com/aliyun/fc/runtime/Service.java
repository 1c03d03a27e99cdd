package com.aliyun.fc.runtime;

public interface Service {
    String getName();

    String getLogProject();

    String getLogStore();

    String getQualifier();

    String getVersionId();
}
