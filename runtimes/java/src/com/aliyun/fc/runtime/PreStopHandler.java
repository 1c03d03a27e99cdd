package com.aliyun.fc.runtime;

import java.io.IOException;

public interface PreStopHandler {
    void preStop(Context context) throws IOException;
}
