package aliyun.serverless.runtime;

import java.io.File;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.Charset;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A standby JVM (docs/runtime-protocol.md, "Standby instances"): started before its function is known, it
 * receives the function's environment with POST /assign. The JVM took its environment and working folder at
 * start, so this makes them what a fresh start would have had: System.getenv() (and the environment of the
 * processes it starts) gets the function's variables, and where the JVM was started in another folder than
 * the code folder (the process backend, whose standby runs in a folder that receives the code as hard
 * links), user.dir and the JDK's copies of it name the code folder. The JDK's own fields are reached through
 * sun.misc.Unsafe (jdk.unsupported), so no "illegal reflective access" warning reaches the function's log.
 */
final class Standby {
    private Standby() {
    }

    /** What the assignment needs that does not depend on the function, done while the standby waits. */
    static void prepare() {
        try {
            NativeEnvironment.prepare();
            FileSystems.getDefault();
            new Pojo.JsonReader("{\"env\": {\"A\": \"b\"}}").document();
            Class.forName(Agent.class.getName() + "$FunctionLoader");
        } catch (Throwable e) {
            // the assignment tries again and fails with it: the emulator starts the function afresh
        }
        warmUp();
    }

    /**
     * Loads the classes the first call of about any function needs (a jar on a class path, the log line's
     * date format, String.format, an error's JSON) that a fresh JVM loads during its first call: nothing is
     * printed and nothing the function can see changes.
     */
    private static void warmUp() {
        try {
            // the agent's own HTTP path, answered 400 as every call before the assignment
            int port = Integer.parseInt(Agent.env("FC_SERVER_PORT", "9000"));
            try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
                s.getOutputStream().write(("POST /warm-up HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                        + "application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
                        .getBytes(Agent.LATIN1));
                java.io.InputStream in = s.getInputStream();
                while (in.read(new byte[4096]) > 0) {
                    // the whole answer
                }
            }
            new FcContext(new java.util.HashMap<String, String>());
            new java.text.SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").format(new java.util.Date());
            String.format("%s %d %.2f%n", "x", 1, 1.0);
            Json.error(new IllegalStateException("x", new Exception("y")));
            String home = System.getProperty("java.home");
            for (String jar : new String[]{home + "/lib/jrt-fs.jar", home + "/lib/rt.jar"}) {
                if (new File(jar).isFile()) {
                    try (java.net.URLClassLoader l = new java.net.URLClassLoader(
                            new java.net.URL[]{new File(jar).toURI().toURL()}, null)) {
                        l.findResource("fc-emulator-warm-up");
                    }
                    break;
                }
            }
        } catch (Throwable e) {
            // only a warm-up
        }
    }

    /**
     * The environment of a fresh start: the process's own variables, minus the flag, plus the given ones, in
     * the C library's environment (what the processes the function starts inherit, and native getenv) and in
     * System.getenv().
     */
    @SuppressWarnings("unchecked")
    static void environment(Map<String, String> env, String flag) throws Exception {
        NativeEnvironment.replace(env, flag);
        Map<String, String> shown = System.getenv();  // Collections.unmodifiableMap(ProcessEnvironment's map)
        Map<String, String> live = (Map<String, String>) get(shown,
                Class.forName("java.util.Collections$UnmodifiableMap").getDeclaredField("m"));
        live.remove(flag);
        live.putAll(env);
    }

    /** The working folder the JVM would have had, started in `code`: user.dir and what the JDK derived from it. */
    static void workingFolder(String code) throws Exception {
        String dir = new File(code).getCanonicalPath();  // the JVM takes getcwd(): links resolved
        if (dir.equals(System.getProperty("user.dir"))) {
            return;  // Docker: the standby container runs in /code already
        }
        System.setProperty("user.dir", dir);
        // java.io (Java 11 and newer keep user.dir in the file system object; Java 8 reads the property)
        Field fsField = field(File.class, "fs", "FS");
        if (fsField != null) {
            Object fs = getStatic(fsField);
            Field userDir = field(fs.getClass(), "userDir");
            if (userDir != null) {
                put(fs, userDir, dir);
            }
        }
        // java.nio: resolve relative paths against the code folder, as when it is the process's folder
        FileSystem nio = FileSystems.getDefault();
        Field dflt = field(nio.getClass(), "defaultDirectory");
        if (dflt != null) {
            put(nio, dflt, dir.getBytes(System.getProperty("sun.jnu.encoding", "UTF-8")));
            Field resolve = field(nio.getClass(), "needToResolveAgainstDefaultDirectory");
            if (resolve != null) {
                unsafe("putBoolean", Object.class, long.class, boolean.class)
                        .invoke(UNSAFE, nio, offset(resolve), true);
            }
        }
    }

    // ---- sun.misc.Unsafe, by reflection (javac --release 8 does not expose it)

    private static final Object UNSAFE;
    private static final Class<?> UNSAFE_CLASS;

    static {
        try {
            String spec = System.getProperty("java.specification.version", "");
            if (!spec.startsWith("1.") && Integer.parseInt(spec.split("\\.")[0]) >= 24) {
                // its memory access would print a deprecation warning into the function's log: no standby
                throw new IllegalStateException("no standby on Java " + spec);
            }
            UNSAFE_CLASS = Class.forName("sun.misc.Unsafe");
            Field f = UNSAFE_CLASS.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            UNSAFE = f.get(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static Method unsafe(String name, Class<?>... types) throws NoSuchMethodException {
        return UNSAFE_CLASS.getMethod(name, types);
    }

    private static Field field(Class<?> cls, String... names) {
        for (Class<?> c = cls; c != null; c = c.getSuperclass()) {
            for (String name : names) {
                try {
                    return c.getDeclaredField(name);
                } catch (NoSuchFieldException e) {
                    // another JDK's name
                }
            }
        }
        return null;
    }

    private static long offset(Field f) throws Exception {
        return (Long) unsafe("objectFieldOffset", Field.class).invoke(UNSAFE, f);
    }

    private static Object get(Object o, Field f) throws Exception {
        return unsafe("getObject", Object.class, long.class).invoke(UNSAFE, o, offset(f));
    }

    private static Object getStatic(Field f) throws Exception {
        Object base = unsafe("staticFieldBase", Field.class).invoke(UNSAFE, f);
        long at = (Long) unsafe("staticFieldOffset", Field.class).invoke(UNSAFE, f);
        return unsafe("getObject", Object.class, long.class).invoke(UNSAFE, base, at);
    }

    private static void put(Object o, Field f, Object value) throws Exception {
        unsafe("putObject", Object.class, long.class, Object.class).invoke(UNSAFE, o, offset(f), value);
    }

    /**
     * The C library's `environ`: a JVM has no call to change it, and the processes it starts without an
     * environment of their own inherit it. It is the symbol `environ` / `__environ` of the executable (a copy
     * relocation) or of libc, found in their ELF symbol tables and /proc/self/maps; only the addresses whose
     * array is the one the process started with (its strings lie between env_start and env_end of
     * /proc/self/stat, as many as /proc/self/environ has) get the new array; none: the assignment fails and
     * the emulator starts the function afresh. Found while the standby waits (`prepare`), written at /assign.
     */
    static final class NativeEnvironment {
        private static final byte[][] NAMES = {"environ".getBytes(), "__environ".getBytes(), "_environ".getBytes()};
        private static List<Long> found;
        private static List<byte[]> first;  // the environment the process started with, in its order

        static synchronized void prepare() throws Exception {
            if (found != null) {
                return;
            }
            if ((Integer) UNSAFE_CLASS.getMethod("addressSize").invoke(UNSAFE) != 8) {
                throw new IllegalStateException("the standby's environment: not a 64-bit JVM");
            }
            first = split(Files.readAllBytes(Paths.get("/proc/self/environ")));
            String stat = new String(Files.readAllBytes(Paths.get("/proc/self/stat")), "ISO-8859-1");
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
            long envStart = Long.parseLong(f[47]);  // fields 50 and 51 (man 5 proc), counted after the name
            long envEnd = Long.parseLong(f[48]);
            List<Long> out = new ArrayList<Long>();
            for (long at : addresses()) {
                long array = getAddress(at);
                if (array != 0 && isFirst(array, envStart, envEnd) && !out.contains(at)) {
                    out.add(at);
                }
            }
            if (out.isEmpty()) {
                throw new IllegalStateException("the standby's environment: the C library's environ was not found");
            }
            found = out;
        }

        /** Does the char** at `array` hold the process's first environment, string after string? */
        private static boolean isFirst(long array, long envStart, long envEnd) throws Exception {
            long expect = envStart;
            for (int i = 0; i < first.size(); i++) {
                long str = getAddress(array + 8L * i);
                if (str != expect || str >= envEnd) {
                    return false;
                }
                expect += first.get(i).length + 1;
            }
            return getAddress(array + 8L * first.size()) == 0;
        }

        static void replace(Map<String, String> env, String flag) throws Exception {
            prepare();
            Charset cs = Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"));
            List<byte[]> next = new ArrayList<byte[]>();
            for (byte[] e : first) {  // the process's own, in their order, then the function's
                String name = new String(e, 0, Math.max(0, indexOf(e, (byte) '=')), cs);
                if (!name.equals(flag) && !env.containsKey(name)) {
                    next.add(e);
                }
            }
            for (Map.Entry<String, String> e : env.entrySet()) {
                next.add((e.getKey() + "=" + e.getValue()).getBytes(cs));
            }
            ByteArrayOutputStream strings = new ByteArrayOutputStream();
            for (byte[] e : next) {
                strings.write(e, 0, e.length);
                strings.write(0);
            }
            byte[] block = strings.toByteArray();
            Method allocate = UNSAFE_CLASS.getMethod("allocateMemory", long.class);
            long base = (Long) allocate.invoke(UNSAFE, (long) block.length);
            long arrayBase = (Integer) UNSAFE_CLASS.getMethod("arrayBaseOffset", Class.class).invoke(UNSAFE,
                    byte[].class);
            UNSAFE_CLASS.getMethod("copyMemory", Object.class, long.class, Object.class, long.class, long.class)
                    .invoke(UNSAFE, block, arrayBase, null, base, (long) block.length);
            long array = (Long) allocate.invoke(UNSAFE, 8L * (next.size() + 1));
            Method put = UNSAFE_CLASS.getMethod("putAddress", long.class, long.class);
            long str = base;
            for (int i = 0; i < next.size(); i++) {
                put.invoke(UNSAFE, array + 8L * i, str);
                str += next.get(i).length + 1;
            }
            put.invoke(UNSAFE, array + 8L * next.size(), 0L);
            for (long at : found) {  // never freed: another thread may still read the old array
                put.invoke(UNSAFE, at, array);
            }
        }

        private static long getAddress(long at) throws Exception {
            return (Long) UNSAFE_CLASS.getMethod("getAddress", long.class).invoke(UNSAFE, at);
        }

        private static List<byte[]> split(byte[] block) {
            List<byte[]> out = new ArrayList<byte[]>();
            int start = 0;
            for (int i = 0; i < block.length; i++) {
                if (block[i] == 0) {
                    out.add(Arrays.copyOfRange(block, start, i));
                    start = i + 1;
                }
            }
            return out;
        }

        private static int indexOf(byte[] a, byte b) {
            for (int i = 0; i < a.length; i++) {
                if (a[i] == b) {
                    return i;
                }
            }
            return -1;
        }

        /** Where `environ` may live: its definitions in the executable and in libc, at their mapped addresses. */
        private static List<Long> addresses() throws IOException {
            String exe = Paths.get("/proc/self/exe").toRealPath().toString();
            List<Long> out = new ArrayList<Long>();
            Set<String> done = new LinkedHashSet<String>();
            for (String line : Files.readAllLines(Paths.get("/proc/self/maps"), Charset.forName("ISO-8859-1"))) {
                String[] f = line.trim().split("\\s+", 6);
                if (f.length < 6 || Long.parseLong(f[2], 16) != 0 || !f[5].startsWith("/")) {
                    continue;
                }
                String path = f[5];
                String name = path.substring(path.lastIndexOf('/') + 1);
                boolean libc = name.startsWith("libc.so") || name.startsWith("libc-") && name.endsWith(".so");
                if ((libc || path.equals(exe)) && done.add(path)) {
                    long start = Long.parseUnsignedLong(f[0].substring(0, f[0].indexOf('-')), 16);
                    out.addAll(symbols(path, start));
                }
            }
            return out;
        }

        private static java.nio.ByteBuffer read(RandomAccessFile f, long at, long size) throws IOException {
            byte[] b = new byte[(int) size];
            f.seek(at);
            f.readFully(b);
            return java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        }

        /** The addresses of the defined symbols in NAMES of the ELF file `path` mapped (offset 0) at `start`. */
        private static List<Long> symbols(String path, long start) throws IOException {
            List<Long> out = new ArrayList<Long>();
            try (RandomAccessFile f = new RandomAccessFile(path, "r")) {
                java.nio.ByteBuffer h = read(f, 0, 64);
                if (h.getInt(0) != 0x464c457f || h.get(4) != 2 || h.get(5) != 1) {
                    return out;  // not a 64-bit little-endian ELF file
                }
                int phentsize = h.getShort(0x36) & 0xffff;
                int shentsize = h.getShort(0x3a) & 0xffff;
                java.nio.ByteBuffer ph = read(f, h.getLong(0x20), (long) phentsize * (h.getShort(0x38) & 0xffff));
                java.nio.ByteBuffer sh = read(f, h.getLong(0x28), (long) shentsize * (h.getShort(0x3c) & 0xffff));
                long bias = -1;
                for (int p = 0; p + phentsize <= ph.capacity(); p += phentsize) {
                    if (ph.getInt(p) == 1 && ph.getLong(p + 8) == 0) {  // PT_LOAD at file offset 0
                        bias = start - ph.getLong(p + 16);
                        break;
                    }
                }
                for (int s = 0; bias != -1 && s + shentsize <= sh.capacity(); s += shentsize) {
                    if (sh.getInt(s + 4) != 11) {  // SHT_DYNSYM
                        continue;
                    }
                    java.nio.ByteBuffer syms = read(f, sh.getLong(s + 24), sh.getLong(s + 32));
                    int str = sh.getInt(s + 40) * shentsize;
                    java.nio.ByteBuffer names = read(f, sh.getLong(str + 24), sh.getLong(str + 32));
                    for (int y = 0; y + 24 <= syms.capacity(); y += 24) {
                        if ((syms.getShort(y + 6) & 0xffff) != 0 && named(names, syms.getInt(y))) {  // defined here
                            out.add(bias + syms.getLong(y + 8));
                        }
                    }
                }
            }
            return out;
        }

        private static boolean named(java.nio.ByteBuffer names, int at) {
            for (byte[] n : NAMES) {
                if (at >= 0 && at + n.length < names.capacity() && names.get(at + n.length) == 0) {
                    int i = 0;
                    while (i < n.length && names.get(at + i) == n[i]) {
                        i++;
                    }
                    if (i == n.length) {
                        return true;
                    }
                }
            }
            return false;
        }
    }
}
