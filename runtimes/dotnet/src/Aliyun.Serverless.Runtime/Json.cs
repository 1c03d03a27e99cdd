// JSON: the agent's own small writer (error JSON, http params) and Json.NET, FC's default POCO serializer
// (runtimes.md §14.2), called by reflection so that the function's own Newtonsoft.Json (any version, its
// [JsonProperty] attributes) is the one used; the agent's copy only when the function ships none.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Runtime.Loader;
using System.Text;

namespace Aliyun.Serverless.Runtime
{
    internal static class Json
    {
        public static string Quote(string s)
        {
            var b = new StringBuilder(s.Length + 2).Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': b.Append("\\\""); break;
                    case '\\': b.Append("\\\\"); break;
                    case '\n': b.Append("\\n"); break;
                    case '\r': b.Append("\\r"); break;
                    case '\t': b.Append("\\t"); break;
                    default:
                        if (c < 0x20)
                        {
                            b.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            b.Append(c);
                        }
                        break;
                }
            }
            return b.Append('"').ToString();
        }

        public static string Object(string key, string value)
        {
            return "{" + Quote(key) + ": " + Quote(value) + "}";
        }

        /// <summary>{"errorMessage": ..., "errorType": ..., "stackTrace": [...]} (runtimes.md §14.6).</summary>
        public static string Error(string message, string type, IList<string> stack)
        {
            var b = new StringBuilder("{\"errorMessage\": ").Append(Quote(message ?? ""));
            if (type != null)
            {
                b.Append(", \"errorType\": ").Append(Quote(type));
            }
            if (stack != null)
            {
                b.Append(", \"stackTrace\": [");
                for (int i = 0; i < stack.Count; i++)
                {
                    b.Append(i == 0 ? "" : ", ").Append(Quote(stack[i]));
                }
                b.Append(']');
            }
            return b.Append('}').ToString();
        }
    }

    /// <summary>Json.NET's JsonConvert from the function's load context: default settings, so property
    /// names come out as declared and match case-insensitively going in.</summary>
    internal sealed class JsonNet
    {
        private static readonly object Lock = new object();
        private static JsonNet instance;
        private readonly MethodInfo deserialize;
        private readonly MethodInfo serialize;

        private JsonNet(Assembly newtonsoft)
        {
            Type convert = newtonsoft.GetType("Newtonsoft.Json.JsonConvert", true);
            deserialize = convert.GetMethod("DeserializeObject", new[] { typeof(string), typeof(Type) });
            serialize = convert.GetMethod("SerializeObject", new[] { typeof(object) });
        }

        public static JsonNet Get()
        {
            lock (Lock)
            {
                if (instance == null)
                {
                    AssemblyLoadContext context = AssemblyLoadContext.GetLoadContext(typeof(JsonNet).Assembly);
                    instance = new JsonNet(context.LoadFromAssemblyName(new AssemblyName("Newtonsoft.Json")));
                }
                return instance;
            }
        }

        public object Deserialize(byte[] body, Type type)
        {
            string text = Encoding.UTF8.GetString(body);
            try
            {
                return deserialize.Invoke(null, new object[] { text, type });
            }
            catch (TargetInvocationException e)
            {
                ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                throw;
            }
        }

        public byte[] Serialize(object value)
        {
            try
            {
                return Encoding.UTF8.GetBytes((string)serialize.Invoke(null, new[] { value }));
            }
            catch (TargetInvocationException e)
            {
                ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                throw;
            }
        }
    }
}
