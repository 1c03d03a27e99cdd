// fc-emulator's .NET host (FC's is Aliyun.Serverless.CA.dll too, runtimes.md §14.1). It only makes the
// function's load context and starts the agent inside it (lib/Aliyun.Serverless.Runtime.dll), so that the
// agent implements IFcContext/IFcLogger from the very Aliyun.Serverless.Core and Logging.Abstractions
// assemblies the function binds to: its own copies in /code when it ships them, else the agent's (§14.7).
using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.Loader;

namespace Aliyun.Serverless.CA
{
    public static class Program
    {
        public static int Main(string[] args)
        {
            string lib = Path.Combine(AppContext.BaseDirectory, "lib");
            if (Environment.GetEnvironmentVariable(Standby.Flag) == "1")
            {
                return Standby.Run(lib);  // waits for its function (docs/runtime-protocol.md, POST /assign)
            }
            FunctionLoadContext context;
            string code;
            MethodInfo run = LoadAgent(lib, out context, out code).GetMethod("Run");
            try
            {
                return (int)run.Invoke(null, new object[] { context, code });
            }
            catch (TargetInvocationException e)
            {
                Console.Error.WriteLine(e.InnerException);
                return 1;
            }
        }

        /// <summary>The function's load context (code folder, handler's assembly and its .deps.json, as the
        /// environment names them now) and the agent's type inside it.</summary>
        internal static Type LoadAgent(string lib, out FunctionLoadContext context, out string code)
        {
            code = Environment.GetEnvironmentVariable("FC_FUNC_CODE_PATH");
            if (string.IsNullOrEmpty(code))
            {
                code = "/code";
            }
            var ctx = context = new FunctionLoadContext(code, lib, Environment.GetEnvironmentVariable("FC_FUNCTION_HANDLER"));
            // Framework assemblies forward a few types to assemblies .NET Core 3.1 does not ship (Debian's
            // .NET Framework build of Json.NET needs System.Security.Permissions): the function's copy, else ours.
            AssemblyLoadContext.Default.Resolving += (_, name) =>
            {
                string path = ctx.Probe(name.Name);
                return path == null ? null : AssemblyLoadContext.Default.LoadFromAssemblyPath(path);
            };
            Assembly agent = context.LoadFromAssemblyPath(Path.Combine(lib, "Aliyun.Serverless.Runtime.dll"));
            return agent.GetType("Aliyun.Serverless.Runtime.Agent", true);
        }
    }

    /// <summary>Where the function's assemblies come from, first match wins: the framework (the shared
    /// Microsoft.NETCore.App), the function's .deps.json, the code folder, the agent's lib folder.</summary>
    public sealed class FunctionLoadContext : AssemblyLoadContext
    {
        private readonly string code;
        private readonly string lib;
        private readonly HashSet<string> framework = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        private readonly AssemblyDependencyResolver resolver;

        public FunctionLoadContext(string code, string lib, string handler)
        {
            this.code = code;
            this.lib = lib;
            string tpa = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? "";
            foreach (string path in tpa.Split(Path.PathSeparator))
            {
                if (path.Length > 0)
                {
                    framework.Add(Path.GetFileNameWithoutExtension(path));
                }
            }
            string asm = AssemblyOf(handler);
            string main = asm == null ? null : Path.Combine(code, asm + ".dll");
            if (main != null && File.Exists(Path.Combine(code, asm + ".deps.json")) && File.Exists(main))
            {
                try
                {
                    resolver = new AssemblyDependencyResolver(main);
                }
                catch (Exception)
                {
                    resolver = null;  // an unreadable .deps.json: the folder probe below still finds the DLLs
                }
            }
        }

        private static string AssemblyOf(string handler)
        {
            int sep = handler == null ? -1 : handler.IndexOf("::", StringComparison.Ordinal);
            return sep > 0 ? handler.Substring(0, sep) : null;
        }

        /// <summary>A DLL of that simple name in the code folder, else in the agent's lib folder.</summary>
        public string Probe(string name)
        {
            if (string.IsNullOrEmpty(name) || name.IndexOfAny(new[] { '/', '\\' }) >= 0)
            {
                return null;
            }
            foreach (string dir in new[] { code, lib })
            {
                string path = Path.Combine(dir, name + ".dll");
                if (File.Exists(path))
                {
                    return path;
                }
            }
            return null;
        }

        protected override Assembly Load(AssemblyName name)
        {
            if (framework.Contains(name.Name))
            {
                return null;  // one System.* for everyone: the framework's, as the real host picks
            }
            string path = null;
            if (resolver != null)
            {
                path = resolver.ResolveAssemblyToPath(name);
            }
            path = path ?? Probe(name.Name);
            return path == null ? null : LoadFromAssemblyPath(path);
        }

        protected override IntPtr LoadUnmanagedDll(string name)
        {
            string path = resolver == null ? null : resolver.ResolveUnmanagedDllToPath(name);
            if (path == null)
            {
                foreach (string candidate in new[] { name, "lib" + name + ".so", name + ".so" })
                {
                    string p = Path.Combine(code, "runtimes", "linux-x64", "native", candidate);
                    if (File.Exists(p))
                    {
                        path = p;
                        break;
                    }
                }
            }
            return path == null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
        }
    }
}
