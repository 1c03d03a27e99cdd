package com.aliyun.fc.runtime;

public interface FunctionComputeLogger {
    enum Level { TRACE, DEBUG, INFO, WARN, ERROR, FATAL }

    void trace(String string);

    void debug(String string);

    void info(String string);

    void warn(String string);

    void error(String string);

    void fatal(String string);

    void setLogLevel(Level level);
}
