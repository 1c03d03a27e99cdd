package com.aliyun.fc.runtime;

import java.io.IOException;

public interface FunctionInitializer {
    void initialize(Context context) throws IOException;
}
