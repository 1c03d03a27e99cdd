package com.aliyun.fc.runtime;

public interface Credentials {
    String getAccessKeyId();

    String getAccessKeySecret();

    String getSecurityToken();
}
