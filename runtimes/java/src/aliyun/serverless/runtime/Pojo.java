package aliyun.serverless.runtime;

import com.aliyun.fc.runtime.Context;
import com.aliyun.fc.runtime.PojoRequestHandler;

/** PojoRequestHandler's JSON binding (runtimes.md §12.4). */
final class Pojo {
    private Pojo() {
    }

    static byte[] call(PojoRequestHandler<?, ?> target, byte[] body, Context context) {
        throw new UnsupportedOperationException("PojoRequestHandler is not supported by fc-emulator yet: "
                + "use StreamRequestHandler");
    }
}
