// A standby host (docs/runtime-protocol.md, "Standby instances: POST /assign"): the .NET runtime started, the
// port listened on and the banner printed before the function is known. The first environment has no function
// in it, so the function's load context (its code folder, .deps.json, its own Aliyun.Serverless.Core) cannot be
// made yet: until POST /assign every call gets 400; /assign brings the environment a fresh start would have
// had, and the host then does what Main and agent.sh do at a fresh start (the code folder first on PATH and
// LD_LIBRARY_PATH, the code folder as working folder, the function's load context with the agent inside it)
// and hands the listener's connections to that agent.
using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace Aliyun.Serverless.CA
{
    internal static class Standby
    {
        internal const string Flag = "FC_EMULATOR_STANDBY";
        private const int MaxHead = 64 * 1024;
        private static readonly object Lock = new object();
        private static volatile Action<Socket> handler;
        private static bool assigned;
        private static string lib;

        public static int Run(string libDir)
        {
            lib = libDir;
            handler = Waiting;
            IPAddress address;
            if (!IPAddress.TryParse(Env("FC_SERVER_HOST", "0.0.0.0"), out address))
            {
                address = IPAddress.Any;
            }
            var listener = new TcpListener(address, int.Parse(Env("FC_SERVER_PORT", "9000")));
            listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Start(128);
            string runtime = Env("FC_RUNTIME", "dotnetcore3.1");  // the banner of Agent.Run, word for word
            if (runtime == "dotnetcore2.1" && Environment.Version.Major != 2)
            {
                Console.Out.WriteLine("fc-emulator: " + runtime + " runs on .NET Core " + Environment.Version
                                      + " here (the nearest runtime at hand)");
            }
            Console.Out.WriteLine("FunctionCompute " + runtime + " runtime inited.");
            while (true)
            {
                Socket s = listener.AcceptSocket();
                Action<Socket> h = handler;  // the agent's own connection handler once assigned
                var t = new Thread(() => h(s));
                t.IsBackground = true;
                t.Start();
            }
        }

        private static string Env(string name, string fallback)
        {
            string v = Environment.GetEnvironmentVariable(name);
            return string.IsNullOrEmpty(v) ? fallback : v;
        }

        /// <summary>A connection before the assignment: /assign once, 400 for anything else.</summary>
        private static void Waiting(Socket s)
        {
            try
            {
                s.NoDelay = true;
                string method, path;
                byte[] body = ReadRequest(s, out method, out path);
                if (body == null)
                {
                    s.Dispose();
                    return;
                }
                Action<Socket> agent = null;
                string error = null;
                lock (Lock)
                {
                    if (method == "POST" && path == "/assign" && !assigned)
                    {
                        try
                        {
                            agent = Assign(body);
                            assigned = true;
                        }
                        catch (Exception e)
                        {
                            Console.Error.WriteLine(e);
                            error = "the standby instance could not take its function: " + e.GetType().Name;
                        }
                    }
                }
                if (agent == null)
                {
                    Answer(s, error == null ? 400 : 500, error ?? (assigned ? "unknown path '" + path + "'"
                        : "this standby instance has no function yet"), true);
                    s.Dispose();
                    if (error != null)
                    {
                        Environment.Exit(1);
                    }
                    return;
                }
                handler = agent;
                Answer(s, 200, null, false);
                agent(s);  // the same connection goes on as any of the agent's
            }
            catch (Exception)
            {
                s.Dispose();  // the emulator closed the connection, or it spoke no HTTP
            }
        }

        /// <summary>Takes the environment of a fresh start and sets the function up as Main and agent.sh do.</summary>
        private static Action<Socket> Assign(byte[] body)
        {
            var doc = new Json(Encoding.UTF8.GetString(body)).Value() as Dictionary<string, object>;
            object envObj = null;
            if (doc == null || !doc.TryGetValue("env", out envObj) || !(envObj is Dictionary<string, object>))
            {
                throw new FormatException("POST /assign needs {\"env\": {...}}");
            }
            SetEnv(Flag, null);
            foreach (KeyValuePair<string, object> kv in (Dictionary<string, object>)envObj)
            {
                SetEnv(kv.Key, kv.Value as string);
            }
            // agent.sh: the code folder first on LD_LIBRARY_PATH and PATH (a standby's agent.sh left them alone)
            string code = Env("FC_FUNC_CODE_PATH", "/code");
            string ld = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH");
            SetEnv("LD_LIBRARY_PATH", code + ":" + code + "/lib:" + code + "/runtimes/linux-x64/native"
                                      + (string.IsNullOrEmpty(ld) ? "" : ":" + ld));
            SetEnv("PATH", code + ":" + Environment.GetEnvironmentVariable("PATH"));
            Directory.SetCurrentDirectory(code);
            if (Environment.GetEnvironmentVariable("PWD") != null)
            {
                SetEnv("PWD", code);  // agent.sh's shell exports the folder it starts in
            }
            FunctionLoadContext context;
            string codeDir;
            Type agent = Program.LoadAgent(lib, out context, out codeDir);
            return (Action<Socket>)agent.GetMethod("Adopt").Invoke(null, new object[] { context, codeDir });
        }

        [DllImport("libc.so.6", EntryPoint = "setenv")]
        private static extern int NativeSetEnv(string name, string value, int overwrite);

        [DllImport("libc.so.6", EntryPoint = "unsetenv")]
        private static extern int NativeUnsetEnv(string name);

        private static bool nativeEnv = true;
        private static readonly MethodInfo RuntimeSetEnv = typeof(object).Assembly.GetType("Interop+Kernel32")
            ?.GetMethod("SetEnvironmentVariable", BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Static,
                        null, new[] { typeof(string), typeof(string) }, null);

        /// <summary>Sets a variable in both views a fresh start has it in: the C library's (getenv in native
        /// code) and the runtime's own copy, made at start, which Environment.GetEnvironmentVariable(s) and child
        /// processes read. Environment.SetEnvironmentVariable cannot keep an empty value (it removes the
        /// variable): the runtime's setter it calls, when there is one, can.</summary>
        private static void SetEnv(string name, string value)
        {
            if (string.IsNullOrEmpty(name) || name.IndexOf('=') >= 0 || name.IndexOf('\0') >= 0)
            {
                return;
            }
            if (nativeEnv)
            {
                try
                {
                    if (value == null)
                    {
                        NativeUnsetEnv(name);
                    }
                    else
                    {
                        NativeSetEnv(name, value, 1);
                    }
                }
                catch (Exception)
                {
                    nativeEnv = false;  // no glibc: the runtime's view alone
                }
            }
            if (RuntimeSetEnv == null || !(bool)RuntimeSetEnv.Invoke(null, new object[] { name, value }))
            {
                Environment.SetEnvironmentVariable(name, value);
            }
        }

        private static void Answer(Socket s, int status, string error, bool close)
        {
            string body = error == null ? "{}" : "{\"errorMessage\": \"" + error.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"}";
            byte[] b = Encoding.UTF8.GetBytes(body);
            string head = "HTTP/1.1 " + status + (status == 200 ? " OK" : " Error") + "\r\nContent-Type: application/json"
                          + "\r\nContent-Length: " + b.Length + (close ? "\r\nConnection: close" : "") + "\r\n\r\n";
            byte[] h = Encoding.ASCII.GetBytes(head);
            byte[] all = new byte[h.Length + b.Length];
            Buffer.BlockCopy(h, 0, all, 0, h.Length);
            Buffer.BlockCopy(b, 0, all, h.Length, b.Length);
            s.Send(all);
        }

        /// <summary>One request: its head byte by byte (nothing read past it: the same connection goes on with
        /// the agent), then a Content-Length body. Null when the connection closed first.</summary>
        private static byte[] ReadRequest(Socket s, out string method, out string path)
        {
            method = path = null;
            var head = new List<byte>(512);
            var one = new byte[1];
            while (head.Count < 4 || head[head.Count - 1] != '\n' || head[head.Count - 2] != '\r'
                   || head[head.Count - 3] != '\n' || head[head.Count - 4] != '\r')
            {
                if (s.Receive(one) == 0)
                {
                    return null;
                }
                if (head.Count == 0 && (one[0] == '\r' || one[0] == '\n'))
                {
                    continue;  // a stray CRLF between requests
                }
                head.Add(one[0]);
                if (head.Count > MaxHead)
                {
                    throw new FormatException("request head too long");
                }
            }
            string[] lines = Encoding.ASCII.GetString(head.ToArray()).Split(new[] { "\r\n" }, StringSplitOptions.None);
            string[] parts = lines[0].Split(' ');
            if (parts.Length < 2)
            {
                throw new FormatException("not HTTP");
            }
            method = parts[0];
            int q = parts[1].IndexOf('?');
            path = q < 0 ? parts[1] : parts[1].Substring(0, q);
            int length = 0;
            foreach (string line in lines)
            {
                int colon = line.IndexOf(':');
                if (colon > 0 && line.Substring(0, colon).Trim().Equals("content-length", StringComparison.OrdinalIgnoreCase))
                {
                    length = int.Parse(line.Substring(colon + 1).Trim());
                }
            }
            var body = new byte[length];
            for (int got = 0; got < length;)
            {
                int n = s.Receive(body, got, length - got, SocketFlags.None);
                if (n == 0)
                {
                    return null;
                }
                got += n;
            }
            return body;
        }

        /// <summary>Just enough JSON for {"env": {...}}: objects, strings; other values are read and dropped.</summary>
        private sealed class Json
        {
            private readonly string s;
            private int i;

            public Json(string text)
            {
                s = text;
            }

            private void Space()
            {
                while (i < s.Length && char.IsWhiteSpace(s[i]))
                {
                    i++;
                }
            }

            private char Next()
            {
                if (i >= s.Length)
                {
                    throw new FormatException("truncated JSON");
                }
                return s[i++];
            }

            public object Value()
            {
                Space();
                char c = Next();
                if (c == '{')
                {
                    var o = new Dictionary<string, object>(StringComparer.Ordinal);
                    Space();
                    if (i < s.Length && s[i] == '}')
                    {
                        i++;
                        return o;
                    }
                    while (true)
                    {
                        Space();
                        if (Next() != '"')
                        {
                            throw new FormatException("a JSON key must be a string");
                        }
                        string key = Str();
                        Space();
                        if (Next() != ':')
                        {
                            throw new FormatException("':' expected");
                        }
                        o[key] = Value();
                        Space();
                        c = Next();
                        if (c == '}')
                        {
                            return o;
                        }
                        if (c != ',')
                        {
                            throw new FormatException("',' expected");
                        }
                    }
                }
                if (c == '[')
                {
                    Space();
                    if (i < s.Length && s[i] == ']')
                    {
                        i++;
                        return null;
                    }
                    while (true)
                    {
                        Value();
                        Space();
                        c = Next();
                        if (c == ']')
                        {
                            return null;
                        }
                        if (c != ',')
                        {
                            throw new FormatException("',' expected");
                        }
                    }
                }
                if (c == '"')
                {
                    return Str();
                }
                while (i < s.Length && ",}] \t\r\n".IndexOf(s[i]) < 0)
                {
                    i++;  // a number, true, false, null
                }
                return null;
            }

            private string Str()
            {
                var b = new StringBuilder();
                while (true)
                {
                    char c = Next();
                    if (c == '"')
                    {
                        return b.ToString();
                    }
                    if (c != '\\')
                    {
                        b.Append(c);
                        continue;
                    }
                    c = Next();
                    switch (c)
                    {
                        case 'b': b.Append('\b'); break;
                        case 'f': b.Append('\f'); break;
                        case 'n': b.Append('\n'); break;
                        case 'r': b.Append('\r'); break;
                        case 't': b.Append('\t'); break;
                        case 'u':
                            if (i + 4 > s.Length)
                            {
                                throw new FormatException("truncated JSON");
                            }
                            b.Append((char)Convert.ToInt32(s.Substring(i, 4), 16));  // surrogate pairs join up
                            i += 4;
                            break;
                        default: b.Append(c); break;
                    }
                }
            }
        }
    }
}
