package com.aliyun.fc.runtime;

import java.io.IOException;

public interface PreFreezeHandler {
    void preFreeze(Context context) throws IOException;
}
