// IFcContext and IFcLogger (runtimes.md §14.3), filled from the request's x-fc-* headers (§2.3).
using System;
using System.Globalization;
using System.IO;
using Aliyun.Serverless.Core;
using Microsoft.Extensions.Logging;

namespace Aliyun.Serverless.Runtime
{
    internal sealed class FcContext : IFcContext
    {
        public FcContext(Request req)
        {
            RequestId = req.Header("x-fc-request-id") ?? "";
            AccountId = Get(req, "x-fc-account-id", "FC_ACCOUNT_ID");
            Region = Get(req, "x-fc-region", "FC_REGION");
            FunctionParam = new FunctionParameter
            {
                FunctionName = Get(req, "x-fc-function-name", "FC_FUNCTION_NAME"),
                FunctionHandler = Get(req, "x-fc-function-handler", "FC_FUNCTION_HANDLER"),
                FunctionInitializer = Get(req, "x-fc-function-initializer", null),
                MemoryLimitInMB = Int(Get(req, "x-fc-function-memory", "FC_FUNCTION_MEMORY_SIZE")),
                FunctionTimeout = TimeSpan.FromSeconds(Int(Get(req, "x-fc-function-timeout", null))),
                InitializationTimeout = TimeSpan.FromSeconds(Int(Get(req, "x-fc-initialization-timeout", null))),
            };
            Credentials = new FcCredentials
            {
                AccessKeyId = Get(req, "x-fc-access-key-id", "ALIBABA_CLOUD_ACCESS_KEY_ID"),
                AccessKeySecret = Get(req, "x-fc-access-key-secret", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
                SecurityToken = Get(req, "x-fc-security-token", "ALIBABA_CLOUD_SECURITY_TOKEN"),
            };
            ServiceMeta = new FcServiceMeta
            {
                Name = Get(req, "x-fc-service-name", "FC_SERVICE_NAME"),
                LogProject = Get(req, "x-fc-service-logproject", null),
                LogStore = Get(req, "x-fc-service-logstore", null),
                Qualifier = Get(req, "x-fc-qualifier", "FC_QUALIFIER"),
                VersionId = Get(req, "x-fc-version-id", null),
            };
            Logger = new FcLogger(RequestId);
        }

        public string RequestId { get; private set; }
        public IFunctionParameter FunctionParam { get; private set; }
        public IFcLogger Logger { get; private set; }
        public ICredentials Credentials { get; private set; }
        public string AccountId { get; private set; }
        public string Region { get; private set; }
        public IServiceMeta ServiceMeta { get; private set; }

        private static string Get(Request req, string header, string env)
        {
            string v = req.Header(header);
            if (v == null && env != null)
            {
                v = Environment.GetEnvironmentVariable(env);
            }
            return v ?? "";
        }

        private static int Int(string s)
        {
            int n;
            return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out n) ? n : 0;
        }
    }

    internal sealed class FunctionParameter : IFunctionParameter
    {
        public string FunctionName { get; set; }
        public string FunctionHandler { get; set; }
        public string FunctionInitializer { get; set; }
        public int MemoryLimitInMB { get; set; }
        public TimeSpan FunctionTimeout { get; set; }
        public TimeSpan InitializationTimeout { get; set; }
    }

    internal sealed class FcCredentials : ICredentials
    {
        public string AccessKeyId { get; set; }
        public string AccessKeySecret { get; set; }
        public string SecurityToken { get; set; }
    }

    internal sealed class FcServiceMeta : IServiceMeta
    {
        public string Name { get; set; }
        public string LogProject { get; set; }
        public string LogStore { get; set; }
        public string Qualifier { get; set; }
        public string VersionId { get; set; }
    }

    /// <summary>context.Logger: `2022-10-09T07:20:31.024Z <requestId> [INFO] message` on stdout. The level is
    /// the instance's: set once (say in the initializer), it holds for later requests too.</summary>
    internal sealed class FcLogger : IFcLogger
    {
        private static LogLevel level = Initial();
        private readonly string requestId;

        public FcLogger(string requestId)
        {
            this.requestId = requestId;
        }

        public LogLevel EnabledLogLevel
        {
            get { return level; }
            set { level = value; }
        }

        public bool IsEnabled(LogLevel logLevel)
        {
            return logLevel != LogLevel.None && logLevel >= level;
        }

        public IDisposable BeginScope<TState>(TState state)
        {
            return NoScope.Instance;
        }

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception exception,
                                Func<TState, Exception, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }
            string message = formatter != null ? formatter(state, exception) : Convert.ToString(state, CultureInfo.InvariantCulture);
            if (exception != null)
            {
                message = string.IsNullOrEmpty(message) ? exception.ToString() : message + Environment.NewLine + exception;
            }
            Agent.Say(Line(requestId, Name(logLevel), message));
        }

        public static string Line(string requestId, string level, string message)
        {
            return DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) + " " + requestId
                   + " [" + level + "] " + message;
        }

        /// <summary>The level names of FC's .NET logger (Critical shows as ERROR).</summary>
        public static string Name(LogLevel logLevel)
        {
            switch (logLevel)
            {
                case LogLevel.Trace: return "TRACE";
                case LogLevel.Debug: return "DEBUG";
                case LogLevel.Information: return "INFO";
                case LogLevel.Warning: return "WARNING";
                case LogLevel.Error:
                case LogLevel.Critical: return "ERROR";
                default: return "UNKNOWN";
            }
        }

        private static LogLevel Initial()
        {
            // FC_SERVER_LOG_LEVEL, as the Python agent reads it; default Information
            string s = (Environment.GetEnvironmentVariable("FC_SERVER_LOG_LEVEL") ?? "").Trim().ToUpperInvariant();
            switch (s)
            {
                case "TRACE": return LogLevel.Trace;
                case "DEBUG": return LogLevel.Debug;
                case "WARNING":
                case "WARN": return LogLevel.Warning;
                case "ERROR": return LogLevel.Error;
                case "CRITICAL": return LogLevel.Critical;
                default: return LogLevel.Information;
            }
        }

        private sealed class NoScope : IDisposable
        {
            public static readonly NoScope Instance = new NoScope();

            public void Dispose()
            {
            }
        }
    }
}
