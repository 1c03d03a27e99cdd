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
            UNSAFE_CLASS = Class.forName("sun.misc.Unsafe");
            Field f = UNSAFE_CLASS.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            UNSAFE = f.get(null);
        } catch (ReflectiveOperationException e) {
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
     * The C library's `environ`: a JVM started with no command to change it (the processes it starts without
     * an environment of their own inherit it). Its address is that of the symbol `environ` / `__environ` in
     * the executable (a copy relocation) or in libc, read from their ELF symbol tables as mapped in
     * /proc/self/maps; the new array is written to every such address whose array is the process's
     * environment, and only then: otherwise nothing changes and the assignment fails (the emulator starts
     * the function afresh).
     */
    static final class NativeEnvironment {
        private static final Set<String> NAMES = new LinkedHashSet<String>(Arrays.asList("environ", "__environ",
                "_environ"));

        static void replace(Map<String, String> env, String flag) throws Exception {
            if ((Integer) unsafe("addressSize").invoke(UNSAFE) != 8) {
                throw new IllegalStateException("the standby's environment: not a 64-bit JVM");
            }
            Charset cs = Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"));
            List<byte[]> now = split(Files.readAllBytes(Paths.get("/proc/self/environ")));  // the start's
            List<Long> found = new ArrayList<Long>();
            for (long at : addresses()) {
                long array = address(at);
                if (array != 0 && same(entries(array), now) && !found.contains(at)) {
                    found.add(at);
                }
            }
            if (found.isEmpty()) {
                throw new IllegalStateException("the standby's environment: the C library's environ was not found");
            }
            List<byte[]> next = new ArrayList<byte[]>();
            for (byte[] e : now) {
                String name = new String(e, 0, Math.max(0, indexOf(e, (byte) '=')), cs);
                if (!name.equals(flag) && !env.containsKey(name)) {
                    next.add(e);
                }
            }
            for (Map.Entry<String, String> e : env.entrySet()) {
                next.add((e.getKey() + "=" + e.getValue()).getBytes(cs));
            }
            long array = (Long) unsafe("allocateMemory", long.class).invoke(UNSAFE, 8L * (next.size() + 1));
            for (int i = 0; i < next.size(); i++) {
                byte[] e = next.get(i);
                long str = (Long) unsafe("allocateMemory", long.class).invoke(UNSAFE, (long) e.length + 1);
                for (int j = 0; j < e.length; j++) {
                    unsafe("putByte", long.class, byte.class).invoke(UNSAFE, str + j, e[j]);
                }
                unsafe("putByte", long.class, byte.class).invoke(UNSAFE, str + e.length, (byte) 0);
                unsafe("putAddress", long.class, long.class).invoke(UNSAFE, array + 8L * i, str);
            }
            unsafe("putAddress", long.class, long.class).invoke(UNSAFE, array + 8L * next.size(), 0L);
            for (long at : found) {  // never freed: another thread may still read the old array
                unsafe("putAddress", long.class, long.class).invoke(UNSAFE, at, array);
            }
        }

        private static boolean same(List<byte[]> a, List<byte[]> b) {
            if (a == null || a.size() != b.size()) {
                return false;
            }
            for (int i = 0; i < a.size(); i++) {
                if (!Arrays.equals(a.get(i), b.get(i))) {
                    return false;
                }
            }
            return true;
        }

        private static long address(long at) throws Exception {
            return (Long) unsafe("getAddress", long.class).invoke(UNSAFE, at);
        }

        /** The strings of a char** array (null when it does not look like one). */
        private static List<byte[]> entries(long array) throws Exception {
            List<byte[]> out = new ArrayList<byte[]>();
            Method getByte = unsafe("getByte", long.class);
            for (int i = 0; i < 100000; i++) {
                long str = address(array + 8L * i);
                if (str == 0) {
                    return out;
                }
                ByteArrayOutputStream b = new ByteArrayOutputStream();
                for (long p = str; ; p++) {
                    byte c = (Byte) getByte.invoke(UNSAFE, p);
                    if (c == 0) {
                        break;
                    }
                    b.write(c);
                }
                out.add(b.toByteArray());
            }
            return null;
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

        /** The addresses of the defined symbols in NAMES of the ELF file `path` mapped (offset 0) at `start`. */
        private static List<Long> symbols(String path, long start) throws IOException {
            List<Long> out = new ArrayList<Long>();
            try (RandomAccessFile f = new RandomAccessFile(path, "r")) {
                byte[] data = new byte[(int) f.length()];
                f.readFully(data);
                java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(data).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                if (data.length < 64 || b.getInt(0) != 0x464c457f || data[4] != 2 || data[5] != 1) {
                    return out;  // not a 64-bit little-endian ELF file
                }
                long phoff = b.getLong(0x20);
                long shoff = b.getLong(0x28);
                int phentsize = b.getShort(0x36) & 0xffff;
                int phnum = b.getShort(0x38) & 0xffff;
                int shentsize = b.getShort(0x3a) & 0xffff;
                int shnum = b.getShort(0x3c) & 0xffff;
                long bias = -1;
                for (int i = 0; i < phnum; i++) {
                    int ph = (int) (phoff + (long) i * phentsize);
                    if (b.getInt(ph) == 1 && b.getLong(ph + 8) == 0) {  // PT_LOAD at file offset 0
                        bias = start - b.getLong(ph + 16);
                        break;
                    }
                }
                if (bias == -1) {
                    return out;
                }
                for (int i = 0; i < shnum; i++) {
                    int sh = (int) (shoff + (long) i * shentsize);
                    if (b.getInt(sh + 4) != 11) {  // SHT_DYNSYM
                        continue;
                    }
                    long symoff = b.getLong(sh + 24);
                    long symsize = b.getLong(sh + 32);
                    int strsh = (int) (shoff + (long) b.getInt(sh + 40) * shentsize);
                    long stroff = b.getLong(strsh + 24);
                    for (long s = symoff; s + 24 <= symoff + symsize; s += 24) {
                        int sym = (int) s;
                        int shndx = b.getShort(sym + 6) & 0xffff;
                        if (shndx == 0) {
                            continue;  // undefined here
                        }
                        int at = (int) (stroff + (b.getInt(sym) & 0xffffffffL));
                        int end = at;
                        while (end < data.length && data[end] != 0) {
                            end++;
                        }
                        if (NAMES.contains(new String(data, at, end - at, Charset.forName("ISO-8859-1")))) {
                            out.add(bias + b.getLong(sym + 8));
                        }
                    }
                }
            }
            return out;
        }
    }
}
