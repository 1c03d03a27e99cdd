package aliyun.serverless.runtime;

import com.aliyun.fc.runtime.Context;
import com.aliyun.fc.runtime.PojoRequestHandler;

import java.lang.annotation.Annotation;
import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * PojoRequestHandler's JSON binding (runtimes.md §12.4), Jackson's bean rules without Jackson: the input
 * type from the class's PojoRequestHandler<I, O>; public fields or setters, names as declared or from
 * @JsonProperty; unknown properties ignored. The result is written as compact JSON (getters, public fields).
 */
final class Pojo {
    private Pojo() {
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    static byte[] call(PojoRequestHandler target, byte[] body, Context context) throws Exception {
        Type input = inputType(target.getClass());
        String text = new String(body, Agent.UTF8).trim();
        Object event = text.isEmpty() ? null : bind(new JsonReader(text).document(), input);
        Object result = target.handleRequest(event, context);
        StringBuilder out = new StringBuilder();
        write(result, out);
        return out.toString().getBytes(Agent.UTF8);
    }

    /** I of the PojoRequestHandler<I, O> the class (or a superclass) declares; Object when raw. */
    static Type inputType(Class<?> cls) {
        for (Class<?> c = cls; c != null && c != Object.class; c = c.getSuperclass()) {
            for (Type t : c.getGenericInterfaces()) {
                if (t instanceof ParameterizedType && ((ParameterizedType) t).getRawType() == PojoRequestHandler.class) {
                    Type arg = ((ParameterizedType) t).getActualTypeArguments()[0];
                    return arg instanceof TypeVariable ? Object.class : arg;
                }
            }
        }
        return Object.class;
    }

    // ---- binding JSON values (Map, List, String, Number, Boolean, null) to Java types

    static Object bind(Object value, Type type) throws Exception {
        Class<?> raw = rawClass(type);
        if (value == null) {
            return raw.isPrimitive() ? bind(raw == boolean.class ? Boolean.FALSE : (Object) 0, type) : null;
        }
        if (raw == Object.class) {
            return value;
        }
        if (raw == String.class) {
            if (value instanceof Map || value instanceof List) {
                throw new IllegalArgumentException("cannot bind a JSON " + (value instanceof Map ? "object" : "array")
                        + " to java.lang.String");
            }
            return value instanceof BigDecimal ? ((BigDecimal) value).toPlainString() : value.toString();
        }
        if (raw == boolean.class || raw == Boolean.class) {
            return value instanceof Boolean ? value : Boolean.valueOf(value.toString());
        }
        if (raw.isPrimitive() || Number.class.isAssignableFrom(raw) || raw == char.class || raw == Character.class) {
            return number(value, raw);
        }
        if (raw.isEnum()) {
            for (Object constant : raw.getEnumConstants()) {
                if (((Enum<?>) constant).name().equals(value.toString())) {
                    return constant;
                }
            }
            throw new IllegalArgumentException("'" + value + "' is not one of the values of " + raw.getName());
        }
        if (raw.isArray() || Collection.class.isAssignableFrom(raw)) {
            List<?> list = value instanceof List ? (List<?>) value : java.util.Collections.singletonList(value);
            Type item = itemType(type, raw);
            if (raw.isArray()) {
                Object array = Array.newInstance(rawClass(item), list.size());
                for (int i = 0; i < list.size(); i++) {
                    Array.set(array, i, bind(list.get(i), item));
                }
                return array;
            }
            Collection<Object> out = Set.class.isAssignableFrom(raw) ? new LinkedHashSet<Object>() : new ArrayList<Object>();
            for (Object v : list) {
                out.add(bind(v, item));
            }
            return out;
        }
        if (!(value instanceof Map)) {
            throw new IllegalArgumentException("cannot bind a JSON " + kind(value) + " to " + raw.getName());
        }
        Map<?, ?> obj = (Map<?, ?>) value;
        if (Map.class.isAssignableFrom(raw)) {
            Type valueType = type instanceof ParameterizedType ? ((ParameterizedType) type).getActualTypeArguments()[1]
                    : Object.class;
            Map<String, Object> out = new LinkedHashMap<String, Object>();
            for (Map.Entry<?, ?> e : obj.entrySet()) {
                out.put((String) e.getKey(), bind(e.getValue(), valueType));
            }
            return out;
        }
        return bean(obj, raw);
    }

    private static Object bean(Map<?, ?> obj, Class<?> raw) throws Exception {
        java.lang.reflect.Constructor<?> ctor = raw.getDeclaredConstructor();
        ctor.setAccessible(true);
        Object bean = ctor.newInstance();
        Map<String, Method> setters = new LinkedHashMap<String, Method>();
        for (Method m : raw.getMethods()) {
            if (m.getName().startsWith("set") && m.getName().length() > 3 && m.getParameterTypes().length == 1
                    && !Modifier.isStatic(m.getModifiers())) {
                String name = jsonName(m.getAnnotations(), decapitalize(m.getName().substring(3)));
                setters.put(name, m);
            }
        }
        Map<String, Field> fields = new LinkedHashMap<String, Field>();
        for (Class<?> c = raw; c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                String declared = jsonName(f.getAnnotations(), null);
                if (declared != null || (Modifier.isPublic(f.getModifiers()) && !Modifier.isStatic(f.getModifiers()))) {
                    f.setAccessible(true);
                    String name = declared == null ? f.getName() : declared;
                    if (!fields.containsKey(name)) {
                        fields.put(name, f);
                    }
                }
            }
        }
        for (Map.Entry<?, ?> e : obj.entrySet()) {
            String key = (String) e.getKey();
            Method setter = setters.get(key);
            if (setter != null) {
                setter.invoke(bean, bind(e.getValue(), setter.getGenericParameterTypes()[0]));
            } else if (fields.containsKey(key)) {
                Field f = fields.get(key);
                f.set(bean, bind(e.getValue(), f.getGenericType()));
            }  // unknown properties are ignored (§12.4)
        }
        return bean;
    }

    private static Object number(Object value, Class<?> raw) {
        if (value instanceof Boolean || value instanceof Map || value instanceof List) {
            throw new IllegalArgumentException("cannot bind a JSON " + kind(value) + " to " + raw.getName());
        }
        BigDecimal n = value instanceof BigDecimal ? (BigDecimal) value : new BigDecimal(value.toString().trim());
        if (raw == int.class || raw == Integer.class) return n.intValue();
        if (raw == long.class || raw == Long.class) return n.longValue();
        if (raw == double.class || raw == Double.class) return n.doubleValue();
        if (raw == float.class || raw == Float.class) return n.floatValue();
        if (raw == short.class || raw == Short.class) return n.shortValue();
        if (raw == byte.class || raw == Byte.class) return n.byteValue();
        if (raw == char.class || raw == Character.class) return (char) n.intValue();
        if (raw == BigInteger.class) return n.toBigInteger();
        return n;
    }

    private static String kind(Object v) {
        return v instanceof Map ? "object" : v instanceof List ? "array" : v instanceof String ? "string"
                : v instanceof Boolean ? "boolean" : "number";
    }

    static Class<?> rawClass(Type t) {
        if (t instanceof Class) return (Class<?>) t;
        if (t instanceof ParameterizedType) return (Class<?>) ((ParameterizedType) t).getRawType();
        if (t instanceof GenericArrayType) {
            return Array.newInstance(rawClass(((GenericArrayType) t).getGenericComponentType()), 0).getClass();
        }
        return Object.class;
    }

    private static Type itemType(Type t, Class<?> raw) {
        if (raw.isArray()) {
            return t instanceof GenericArrayType ? ((GenericArrayType) t).getGenericComponentType() : raw.getComponentType();
        }
        return t instanceof ParameterizedType ? ((ParameterizedType) t).getActualTypeArguments()[0] : Object.class;
    }

    /** @JsonProperty("name") of any Jackson on the user's class path, read without linking to it. */
    private static String jsonName(Annotation[] annotations, String dflt) {
        for (Annotation a : annotations) {
            if (a.annotationType().getSimpleName().equals("JsonProperty")) {
                try {
                    String v = (String) a.annotationType().getMethod("value").invoke(a);
                    return v == null || v.isEmpty() ? dflt : v;
                } catch (Exception ignored) {
                    return dflt;
                }
            }
        }
        return dflt;
    }

    private static String decapitalize(String s) {
        if (s.length() > 1 && Character.isUpperCase(s.charAt(1)) && Character.isUpperCase(s.charAt(0))) {
            return s;
        }
        return Character.toLowerCase(s.charAt(0)) + s.substring(1);
    }

    // ---- writing results

    static void write(Object v, StringBuilder out) throws Exception {
        if (v == null) {
            out.append("null");
        } else if (v instanceof CharSequence || v instanceof Character || v instanceof Enum) {
            out.append(Json.quote(v instanceof Enum ? ((Enum<?>) v).name() : v.toString()));
        } else if (v instanceof Boolean || v instanceof Integer || v instanceof Long || v instanceof Short
                || v instanceof Byte || v instanceof BigInteger) {
            out.append(v);
        } else if (v instanceof Number) {
            double d = ((Number) v).doubleValue();
            out.append(Double.isNaN(d) || Double.isInfinite(d) ? Json.quote(v.toString()) : v.toString());
        } else if (v instanceof Map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                out.append(first ? "" : ",").append(Json.quote(String.valueOf(e.getKey()))).append(':');
                write(e.getValue(), out);
                first = false;
            }
            out.append('}');
        } else if (v instanceof Collection || v.getClass().isArray()) {
            out.append('[');
            if (v instanceof Collection) {
                int i = 0;
                for (Object item : (Collection<?>) v) {
                    out.append(i++ == 0 ? "" : ",");
                    write(item, out);
                }
            } else {
                for (int i = 0; i < Array.getLength(v); i++) {
                    out.append(i == 0 ? "" : ",");
                    write(Array.get(v, i), out);
                }
            }
            out.append(']');
        } else {
            writeBean(v, out);
        }
    }

    private static void writeBean(Object bean, StringBuilder out) throws Exception {
        Map<String, Object> props = new LinkedHashMap<String, Object>();
        for (Class<?> c = bean.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                String declared = jsonName(f.getAnnotations(), null);
                if (!Modifier.isStatic(f.getModifiers()) && !f.isSynthetic()
                        && (declared != null || Modifier.isPublic(f.getModifiers()))) {
                    f.setAccessible(true);
                    props.put(declared == null ? f.getName() : declared, f.get(bean));
                }
            }
        }
        for (Method m : bean.getClass().getMethods()) {
            String n = m.getName();
            int skip = n.startsWith("get") && n.length() > 3 ? 3 : n.startsWith("is") && n.length() > 2
                    && (m.getReturnType() == boolean.class || m.getReturnType() == Boolean.class) ? 2 : 0;
            if (skip == 0 || m.getParameterTypes().length != 0 || Modifier.isStatic(m.getModifiers())
                    || m.getDeclaringClass() == Object.class || m.getReturnType() == void.class) {
                continue;
            }
            m.setAccessible(true);
            props.put(jsonName(m.getAnnotations(), decapitalize(n.substring(skip))), m.invoke(bean));
        }
        write(props, out);
    }

    /** A strict JSON reader: objects -> LinkedHashMap, arrays -> ArrayList, numbers -> BigDecimal. */
    static final class JsonReader {
        private final String s;
        private int i;

        JsonReader(String s) {
            this.s = s;
        }

        Object document() {
            Object v = value();
            skip();
            if (i != s.length()) {
                throw error("unexpected data after the JSON value");
            }
            return v;
        }

        private IllegalArgumentException error(String what) {
            return new IllegalArgumentException("invalid JSON event: " + what + " at offset " + i);
        }

        private void skip() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }

        private Object value() {
            skip();
            if (i >= s.length()) throw error("unexpected end");
            char c = s.charAt(i);
            if (c == '{') {
                Map<String, Object> m = new LinkedHashMap<String, Object>();
                i++;
                skip();
                if (peek('}')) return m;
                do {
                    skip();
                    if (i >= s.length() || s.charAt(i) != '"') throw error("expected a property name");
                    String key = string();
                    skip();
                    if (!peek(':')) throw error("expected ':'");
                    m.put(key, value());
                    skip();
                } while (peek(','));
                if (!peek('}')) throw error("expected ',' or '}'");
                return m;
            }
            if (c == '[') {
                List<Object> l = new ArrayList<Object>();
                i++;
                skip();
                if (peek(']')) return l;
                do {
                    l.add(value());
                    skip();
                } while (peek(','));
                if (!peek(']')) throw error("expected ',' or ']'");
                return l;
            }
            if (c == '"') return string();
            for (String word : new String[]{"true", "false", "null"}) {
                if (s.startsWith(word, i)) {
                    i += word.length();
                    return word.equals("null") ? null : Boolean.valueOf(word);
                }
            }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
            try {
                return new BigDecimal(s.substring(start, i));
            } catch (NumberFormatException e) {
                i = start;
                throw error("unexpected character '" + c + "'");
            }
        }

        private boolean peek(char c) {
            if (i < s.length() && s.charAt(i) == c) {
                i++;
                return true;
            }
            return false;
        }

        private String string() {
            StringBuilder b = new StringBuilder();
            i++;
            while (i < s.length()) {
                char c = s.charAt(i++);
                if (c == '"') return b.toString();
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                if (i >= s.length()) break;
                char e = s.charAt(i++);
                switch (e) {
                    case 'n': b.append('\n'); break;
                    case 't': b.append('\t'); break;
                    case 'r': b.append('\r'); break;
                    case 'b': b.append('\b'); break;
                    case 'f': b.append('\f'); break;
                    case 'u':
                        if (i + 4 > s.length()) throw error("bad \\u escape");
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                        break;
                    default: b.append(e);
                }
            }
            throw error("unterminated string");
        }
    }
}
