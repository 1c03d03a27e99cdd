// Handler `Assembly::Namespace.Class::Method` (runtimes.md §14.2): found once per handler string, then
// called with the shapes FC accepts: (input[, IFcContext]) or (IFcContext), input a Stream or a POCO,
// returning void, a Stream, a POCO, Task or Task<T>; static, or on one object per class per instance.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Runtime.Loader;
using System.Threading.Tasks;
using Aliyun.Serverless.Core;

namespace Aliyun.Serverless.Runtime
{
    internal sealed class Target
    {
        public MethodInfo Method;
        public object Instance;
        public Kind[] Args;
        public Type InputType;  // the POCO parameter's type
        public Type ResultType;  // after Task<T>: T; null for void and Task
        public PropertyInfo TaskResult;  // Task<T>.Result
        public bool IsTask;
        public object Serializer;  // [FcSerializer]'s IFcSerializer, else Json.NET
        public MethodInfo SerializerIn;
        public MethodInfo SerializerOut;

        public enum Kind
        {
            Context,
            Stream,
            Poco,
        }
    }

    internal static class Invoker
    {
        private static readonly ConcurrentDictionary<string, Target> Targets = new ConcurrentDictionary<string, Target>();
        private static readonly Dictionary<Type, object> Objects = new Dictionary<Type, object>();
        private static readonly byte[] Empty = new byte[0];

        public static byte[] Invoke(string handler, bool isEvent, byte[] body, FcContext context)
        {
            Target t;
            string key = (isEvent ? "e:" : "i:") + handler;
            if (!Targets.TryGetValue(key, out t))
            {
                t = Targets.GetOrAdd(key, Find(handler, isEvent));
            }
            object[] args = new object[t.Args.Length];
            for (int i = 0; i < args.Length; i++)
            {
                switch (t.Args[i])
                {
                    case Target.Kind.Context: args[i] = context; break;
                    case Target.Kind.Stream: args[i] = new MemoryStream(body, false); break;
                    default: args[i] = Deserialize(t, body); break;
                }
            }
            object result;
            try
            {
                result = t.Method.Invoke(t.Instance, args);
            }
            catch (TargetInvocationException e)
            {
                ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                throw;
            }
            if (t.IsTask)
            {
                var task = (Task)result;
                if (task != null)
                {
                    task.GetAwaiter().GetResult();  // the handler's own exception, not an AggregateException
                }
                result = task == null || t.TaskResult == null ? null : t.TaskResult.GetValue(task);
            }
            if (t.ResultType == null)
            {
                return Empty;
            }
            if (typeof(Stream).IsAssignableFrom(t.ResultType))
            {
                return Drain((Stream)result);
            }
            return Serialize(t, result);
        }

        private static byte[] Drain(Stream s)
        {
            if (s == null)
            {
                return Empty;
            }
            using (s)
            {
                var copy = new MemoryStream();
                s.CopyTo(copy);  // from where the handler left it (FC's demo seeks to 0 first)
                return copy.ToArray();
            }
        }

        private static object Deserialize(Target t, byte[] body)
        {
            try
            {
                if (t.Serializer != null)
                {
                    return t.SerializerIn.Invoke(t.Serializer, new object[] { new MemoryStream(body, false) });
                }
                if (t.InputType == typeof(string) && (body.Length == 0 || body[0] != (byte)'"'))
                {
                    return System.Text.Encoding.UTF8.GetString(body);  // a plain-text event as it is
                }
                return JsonNet.Get().Deserialize(body, t.InputType);
            }
            catch (Exception e)
            {
                Exception cause = e is TargetInvocationException && e.InnerException != null ? e.InnerException : e;
                if (cause is JsonSerializerException)
                {
                    throw cause;
                }
                throw new JsonSerializerException("Error converting the request to type " + t.InputType.FullName + ": "
                                                  + cause.Message, cause);
            }
        }

        private static byte[] Serialize(Target t, object value)
        {
            try
            {
                if (t.Serializer != null)
                {
                    var output = new MemoryStream();
                    t.SerializerOut.Invoke(t.Serializer, new[] { value, output });
                    return output.ToArray();
                }
                return JsonNet.Get().Serialize(value);
            }
            catch (Exception e)
            {
                Exception cause = e is TargetInvocationException && e.InnerException != null ? e.InnerException : e;
                if (cause is JsonSerializerException)
                {
                    throw cause;
                }
                throw new JsonSerializerException("Error converting the result of type " + t.ResultType.FullName
                                                  + " to JSON: " + cause.Message, cause);
            }
        }

        private static Target Find(string handler, bool isEvent)
        {
            string[] parts = handler.Split(new[] { "::" }, StringSplitOptions.None);
            if (parts.Length != 3 || parts[0].Length == 0 || parts[1].Length == 0 || parts[2].Length == 0)
            {
                throw new ArgumentException("Invalid handler '" + handler + "': expected Assembly::Namespace.Class::Method");
            }
            Assembly asm = LoadAssembly(parts[0]);
            Type type = asm.GetType(parts[1], false);
            if (type == null)
            {
                throw new TypeLoadException("Could not find the type '" + parts[1] + "' in the assembly '" + parts[0] + "'");
            }
            Exception why = null;
            foreach (MethodInfo m in type.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance))
            {
                if (m.Name != parts[2] || m.IsGenericMethodDefinition)
                {
                    continue;
                }
                try
                {
                    return Plan(m, isEvent);
                }
                catch (ArgumentException e)
                {
                    why = why ?? e;
                }
            }
            if (why != null)
            {
                throw why;
            }
            throw new MissingMethodException("Could not find the method '" + parts[2] + "' in the type '" + parts[1] + "'");
        }

        private static Assembly LoadAssembly(string name)
        {
            AssemblyLoadContext context = AssemblyLoadContext.GetLoadContext(typeof(Invoker).Assembly);
            string code = Agent.CodeDir;
            string path = Path.Combine(code, name + ".dll");
            if (!File.Exists(path))
            {
                throw new FileNotFoundException("Could not find the assembly '" + name + "' of the handler: /code/"
                                                + name + ".dll does not exist");
            }
            foreach (Assembly loaded in context.Assemblies)
            {
                if (string.Equals(loaded.GetName().Name, name, StringComparison.OrdinalIgnoreCase))
                {
                    return loaded;
                }
            }
            return context.LoadFromAssemblyName(new AssemblyName(name));
        }

        private static Target Plan(MethodInfo m, bool isEvent)
        {
            var t = new Target { Method = m };
            ParameterInfo[] ps = m.GetParameters();
            t.Args = new Target.Kind[ps.Length];
            string shape = isEvent ? "(input), (input, IFcContext) or (IFcContext)" : "(IFcContext) or ()";
            int inputs = 0;
            for (int i = 0; i < ps.Length; i++)
            {
                Type p = ps[i].ParameterType;
                if (p == typeof(IFcContext))
                {
                    t.Args[i] = Target.Kind.Context;
                }
                else if (isEvent && p == typeof(Stream))
                {
                    t.Args[i] = Target.Kind.Stream;
                    inputs++;
                }
                else if (isEvent && !p.IsByRef && !p.IsPointer)
                {
                    t.Args[i] = Target.Kind.Poco;
                    t.InputType = p;
                    inputs++;
                }
                else
                {
                    throw new ArgumentException("The method '" + m.Name + "' of '" + m.DeclaringType.FullName
                                                + "' cannot be a handler here: it must take " + shape);
                }
            }
            if (inputs > 1 || ps.Length > 2)
            {
                throw new ArgumentException("The method '" + m.Name + "' of '" + m.DeclaringType.FullName
                                            + "' cannot be a handler: it must take " + shape);
            }
            Type r = m.ReturnType;
            if (typeof(Task).IsAssignableFrom(r))
            {
                t.IsTask = true;
                if (r.IsGenericType && r.GetGenericTypeDefinition() == typeof(Task<>))
                {
                    t.TaskResult = r.GetProperty("Result");
                    t.ResultType = r.GetGenericArguments()[0];
                }
            }
            else if (r != typeof(void))
            {
                t.ResultType = r;
            }
            var attr = (FcSerializerAttribute)(m.GetCustomAttribute(typeof(FcSerializerAttribute))
                                               ?? m.DeclaringType.Assembly.GetCustomAttribute(typeof(FcSerializerAttribute)));
            if (attr != null && (t.InputType != null || (t.ResultType != null && !typeof(Stream).IsAssignableFrom(t.ResultType))))
            {
                t.Serializer = Activator.CreateInstance(attr.SerializerType);
                if (!(t.Serializer is IFcSerializer))
                {
                    throw new ArgumentException("The serializer " + attr.SerializerType.FullName
                                                + " named by [FcSerializer] does not implement Aliyun.Serverless.Core.IFcSerializer");
                }
                if (t.InputType != null)
                {
                    t.SerializerIn = typeof(IFcSerializer).GetMethod("Deserialize").MakeGenericMethod(t.InputType);
                }
                if (t.ResultType != null)
                {
                    t.SerializerOut = typeof(IFcSerializer).GetMethod("Serialize").MakeGenericMethod(t.ResultType);
                }
            }
            t.Instance = m.IsStatic ? null : ObjectOf(m.DeclaringType);
            return t;
        }

        private static object ObjectOf(Type type)
        {
            lock (Objects)
            {
                object o;
                if (!Objects.TryGetValue(type, out o))
                {
                    try
                    {
                        o = Activator.CreateInstance(type);
                    }
                    catch (TargetInvocationException e)
                    {
                        ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                    }
                    Objects[type] = o;
                }
                return o;
            }
        }
    }
}
