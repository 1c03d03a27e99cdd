package com.aliyun.fc.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

public interface StreamRequestHandler {
    void handleRequest(InputStream input, OutputStream output, Context context) throws IOException;
}
