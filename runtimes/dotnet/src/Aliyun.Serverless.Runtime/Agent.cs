// fc-emulator's .NET agent: the push protocol of docs/runtime-protocol.md (POST /invoke, /initialize, the
// lifecycle hooks), log markers, error JSON (runtimes.md §14.6), running inside the function's load context.
using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.Loader;
using System.Text;

namespace Aliyun.Serverless.Runtime
{
    public static class Agent
    {
        private static readonly TextWriter Out = Console.Out;
        private static readonly string[][] Kinds =
        {
            // path, marker word, handler header
            new[] { "/invoke", "Invoke", "x-fc-function-handler" },
            new[] { "/initialize", "Initialize", "x-fc-function-initializer" },
            new[] { "/pre-freeze", "PreFreeze", "x-fc-instance-lifecycle-pre-freeze-handler" },
            new[] { "/pre-stop", "PreStop", "x-fc-instance-lifecycle-pre-stop-handler" },
        };

        internal static string CodeDir = "/code";
        private static string runtime = "dotnetcore3.1";

        public static int Run(AssemblyLoadContext context, string code)
        {
            CodeDir = code.TrimEnd('/');
            runtime = Env("FC_RUNTIME", "dotnetcore3.1");
            var server = new Server(Env("FC_SERVER_HOST", "0.0.0.0"), int.Parse(Env("FC_SERVER_PORT", "9000")), Dispatch);
            server.Start();
            Version v = Environment.Version;
            if (runtime == "dotnetcore2.1" && v.Major != 2)
            {
                Say("fc-emulator: " + runtime + " runs on .NET Core " + v + " here (the nearest runtime at hand)");
            }
            Say("FunctionCompute " + runtime + " runtime inited.");
            server.Serve();
            return 0;
        }

        /// <summary>A standby host's function has come (POST /assign): the same set-up as Run, minus the
        /// listener and the banner the standby already has; returns what serves each of its connections.</summary>
        public static Action<System.Net.Sockets.Socket> Adopt(AssemblyLoadContext context, string code)
        {
            CodeDir = code.TrimEnd('/');
            runtime = Env("FC_RUNTIME", "dotnetcore3.1");
            return new Server(Dispatch).Connection;
        }

        private static string Env(string name, string fallback)
        {
            string v = Environment.GetEnvironmentVariable(name);
            return string.IsNullOrEmpty(v) ? fallback : v;
        }

        internal static void Say(string line)
        {
            Out.WriteLine(line);  // Console.Out: synchronized, flushed at each write
        }

        private static Reply Dispatch(Request req)
        {
            string control = req.Header("x-fc-control-path");
            string[] kind = null;
            foreach (string[] k in Kinds)
            {
                if (k[0] == req.Path || k[0] == control)
                {
                    kind = k;
                    break;
                }
            }
            if (kind == null)
            {
                return new Reply(400, "application/json", Encoding.UTF8.GetBytes(
                    Json.Object("errorMessage", "unknown path '" + req.Path + "'")));
            }
            bool isEvent = kind[1] == "Invoke";
            var context = new FcContext(req);
            string id = context.RequestId;
            string handler = req.Header(kind[2]) ?? (isEvent ? Env("FC_FUNCTION_HANDLER", "") : "");
            Say("FC " + kind[1] + " Start RequestId: " + id);
            byte[] result;
            try
            {
                if (isEvent && req.Header("x-fc-http-params") != null)
                {
                    throw new NotSupportedException("HTTP triggers of " + runtime + " functions need "
                        + "Aliyun.Serverless.Core.Http (FcHttpEntrypoint on ASP.NET Core), which fc-emulator does not "
                        + "provide: ASP.NET Core is not available offline. Invoke the function with an event instead");
                }
                result = Invoker.Invoke(handler, isEvent, req.Body, context);
            }
            catch (Exception e)
            {
                string error = Errors.ToJson(e);
                Say(FcLogger.Line(id, "ERROR", error));
                Say("FC " + kind[1] + " End RequestId: " + id + ", Error: Unhandled function error");
                return new Reply(404, "application/json", Encoding.UTF8.GetBytes(error));
            }
            Say("FC " + kind[1] + " End RequestId: " + id);
            return new Reply(200, null, result);
        }
    }

    internal static class Errors
    {
        private static readonly string[] Plumbing =
        {
            "at System.Runtime.CompilerServices.TaskAwaiter", "at System.Runtime.ExceptionServices.ExceptionDispatchInfo",
            "at System.RuntimeMethodHandle.", "at System.Reflection.", "at Aliyun.Serverless.Runtime.",
            "at System.Threading.Tasks.Task.", "at System.Runtime.CompilerServices.ConfiguredTaskAwaitable",
        };

        /// <summary>errorType = the exception's full type name, stackTrace = one string per frame (the
        /// function's, without the agent's and the async plumbing's); paths as the instance sees them.</summary>
        public static string ToJson(Exception e)
        {
            while (e is System.Reflection.TargetInvocationException && e.InnerException != null)
            {
                e = e.InnerException;
            }
            var aggregate = e as AggregateException;
            while (aggregate != null && aggregate.InnerExceptions.Count == 1)
            {
                e = aggregate.InnerExceptions[0];
                aggregate = e as AggregateException;
            }
            var frames = new List<string>();
            foreach (string raw in (e.StackTrace ?? "").Split('\n'))
            {
                string line = raw.Trim();
                if (line.Length == 0 || line.StartsWith("---", StringComparison.Ordinal) || IsPlumbing(line))
                {
                    continue;
                }
                frames.Add(Shown(line));
            }
            return Json.Error(Shown(e.Message), e.GetType().FullName, frames);
        }

        private static bool IsPlumbing(string frame)
        {
            foreach (string p in Plumbing)
            {
                if (frame.StartsWith(p, StringComparison.Ordinal))
                {
                    return true;
                }
            }
            return false;
        }

        private static string Shown(string text)
        {
            string code = Agent.CodeDir;
            return code == "/code" || string.IsNullOrEmpty(text) ? text : text.Replace(code + "/", "/code/");
        }
    }
}
