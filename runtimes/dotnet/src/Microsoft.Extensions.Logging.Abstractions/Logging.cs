// The members of Microsoft.Extensions.Logging.Abstractions 2.1.1 that function code binds to: FC's
// IFcLogger extends its ILogger (runtimes.md §14.3), and NuGet is out of reach, so fc-emulator builds an
// assembly of that name and version from this source. A function's own copy in /code wins (the agent's
// load context prefers it), so only the members below must match the real package's.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Reflection;
using System.Text;

[assembly: AssemblyVersion("2.1.1.0")]
[assembly: AssemblyFileVersion("2.1.1.0")]
[assembly: AssemblyInformationalVersion("2.1.1 (fc-emulator)")]

namespace Microsoft.Extensions.Logging
{
    public enum LogLevel
    {
        Trace = 0,
        Debug = 1,
        Information = 2,
        Warning = 3,
        Error = 4,
        Critical = 5,
        None = 6,
    }

    public struct EventId
    {
        public EventId(int id, string name = null)
        {
            Id = id;
            Name = name;
        }

        public int Id { get; private set; }
        public string Name { get; private set; }

        public static implicit operator EventId(int i)
        {
            return new EventId(i);
        }

        public static bool operator ==(EventId left, EventId right)
        {
            return left.Equals(right);
        }

        public static bool operator !=(EventId left, EventId right)
        {
            return !left.Equals(right);
        }

        public bool Equals(EventId other)
        {
            return Id == other.Id;
        }

        public override bool Equals(object obj)
        {
            return obj is EventId && Equals((EventId)obj);
        }

        public override int GetHashCode()
        {
            return Id;
        }

        public override string ToString()
        {
            return Name ?? Id.ToString(CultureInfo.InvariantCulture);
        }
    }

    public interface ILogger
    {
        void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception exception,
                         Func<TState, Exception, string> formatter);

        bool IsEnabled(LogLevel logLevel);

        IDisposable BeginScope<TState>(TState state);
    }

    public interface ILogger<out TCategoryName> : ILogger
    {
    }

    public interface ILoggerProvider : IDisposable
    {
        ILogger CreateLogger(string categoryName);
    }

    public interface ILoggerFactory : IDisposable
    {
        ILogger CreateLogger(string categoryName);

        void AddProvider(ILoggerProvider provider);
    }

    public interface IExternalScopeProvider
    {
        void ForEachScope<TState>(Action<object, TState> callback, TState state);

        IDisposable Push(object state);
    }

    public interface ISupportExternalScope
    {
        void SetScopeProvider(IExternalScopeProvider scopeProvider);
    }

    /// <summary>The LogTrace ... LogCritical helpers (message templates with positional or named holes).</summary>
    public static class LoggerExtensions
    {
        private static readonly Func<Internal.FormattedLogValues, Exception, string> MessageFormatter =
            (state, error) => state.ToString();

        public static void LogDebug(this ILogger logger, EventId eventId, Exception exception, string message, params object[] args) { logger.Log(LogLevel.Debug, eventId, exception, message, args); }
        public static void LogDebug(this ILogger logger, EventId eventId, string message, params object[] args) { logger.Log(LogLevel.Debug, eventId, message, args); }
        public static void LogDebug(this ILogger logger, Exception exception, string message, params object[] args) { logger.Log(LogLevel.Debug, exception, message, args); }
        public static void LogDebug(this ILogger logger, string message, params object[] args) { logger.Log(LogLevel.Debug, message, args); }

        public static void LogTrace(this ILogger logger, EventId eventId, Exception exception, string message, params object[] args) { logger.Log(LogLevel.Trace, eventId, exception, message, args); }
        public static void LogTrace(this ILogger logger, EventId eventId, string message, params object[] args) { logger.Log(LogLevel.Trace, eventId, message, args); }
        public static void LogTrace(this ILogger logger, Exception exception, string message, params object[] args) { logger.Log(LogLevel.Trace, exception, message, args); }
        public static void LogTrace(this ILogger logger, string message, params object[] args) { logger.Log(LogLevel.Trace, message, args); }

        public static void LogInformation(this ILogger logger, EventId eventId, Exception exception, string message, params object[] args) { logger.Log(LogLevel.Information, eventId, exception, message, args); }
        public static void LogInformation(this ILogger logger, EventId eventId, string message, params object[] args) { logger.Log(LogLevel.Information, eventId, message, args); }
        public static void LogInformation(this ILogger logger, Exception exception, string message, params object[] args) { logger.Log(LogLevel.Information, exception, message, args); }
        public static void LogInformation(this ILogger logger, string message, params object[] args) { logger.Log(LogLevel.Information, message, args); }

        public static void LogWarning(this ILogger logger, EventId eventId, Exception exception, string message, params object[] args) { logger.Log(LogLevel.Warning, eventId, exception, message, args); }
        public static void LogWarning(this ILogger logger, EventId eventId, string message, params object[] args) { logger.Log(LogLevel.Warning, eventId, message, args); }
        public static void LogWarning(this ILogger logger, Exception exception, string message, params object[] args) { logger.Log(LogLevel.Warning, exception, message, args); }
        public static void LogWarning(this ILogger logger, string message, params object[] args) { logger.Log(LogLevel.Warning, message, args); }

        public static void LogError(this ILogger logger, EventId eventId, Exception exception, string message, params object[] args) { logger.Log(LogLevel.Error, eventId, exception, message, args); }
        public static void LogError(this ILogger logger, EventId eventId, string message, params object[] args) { logger.Log(LogLevel.Error, eventId, message, args); }
        public static void LogError(this ILogger logger, Exception exception, string message, params object[] args) { logger.Log(LogLevel.Error, exception, message, args); }
        public static void LogError(this ILogger logger, string message, params object[] args) { logger.Log(LogLevel.Error, message, args); }

        public static void LogCritical(this ILogger logger, EventId eventId, Exception exception, string message, params object[] args) { logger.Log(LogLevel.Critical, eventId, exception, message, args); }
        public static void LogCritical(this ILogger logger, EventId eventId, string message, params object[] args) { logger.Log(LogLevel.Critical, eventId, message, args); }
        public static void LogCritical(this ILogger logger, Exception exception, string message, params object[] args) { logger.Log(LogLevel.Critical, exception, message, args); }
        public static void LogCritical(this ILogger logger, string message, params object[] args) { logger.Log(LogLevel.Critical, message, args); }

        public static void Log(this ILogger logger, LogLevel logLevel, string message, params object[] args) { logger.Log(logLevel, 0, null, message, args); }
        public static void Log(this ILogger logger, LogLevel logLevel, EventId eventId, string message, params object[] args) { logger.Log(logLevel, eventId, null, message, args); }
        public static void Log(this ILogger logger, LogLevel logLevel, Exception exception, string message, params object[] args) { logger.Log(logLevel, 0, exception, message, args); }

        public static void Log(this ILogger logger, LogLevel logLevel, EventId eventId, Exception exception, string message,
                               params object[] args)
        {
            if (logger == null)
            {
                throw new ArgumentNullException("logger");
            }
            logger.Log(logLevel, eventId, new Internal.FormattedLogValues(message, args), exception, MessageFormatter);
        }

        public static IDisposable BeginScope(this ILogger logger, string messageFormat, params object[] args)
        {
            if (logger == null)
            {
                throw new ArgumentNullException("logger");
            }
            return logger.BeginScope(new Internal.FormattedLogValues(messageFormat, args));
        }
    }

    public static class LoggerFactoryExtensions
    {
        public static ILogger CreateLogger<T>(this ILoggerFactory factory)
        {
            return factory.CreateLogger(typeof(T).FullName);
        }

        public static ILogger CreateLogger(this ILoggerFactory factory, Type type)
        {
            return factory.CreateLogger(type.FullName);
        }
    }
}

namespace Microsoft.Extensions.Logging.Abstractions
{
    public class NullLogger : ILogger
    {
        public static NullLogger Instance { get; } = new NullLogger();

        public IDisposable BeginScope<TState>(TState state) { return NullScope.Instance; }
        public bool IsEnabled(LogLevel logLevel) { return false; }
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception exception,
                                Func<TState, Exception, string> formatter) { }
    }

    public class NullLogger<T> : ILogger<T>
    {
        public static readonly NullLogger<T> Instance = new NullLogger<T>();

        public IDisposable BeginScope<TState>(TState state) { return NullScope.Instance; }
        public bool IsEnabled(LogLevel logLevel) { return false; }
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception exception,
                                Func<TState, Exception, string> formatter) { }
    }

    public class NullLoggerProvider : ILoggerProvider
    {
        public static NullLoggerProvider Instance { get; } = new NullLoggerProvider();

        public ILogger CreateLogger(string categoryName) { return NullLogger.Instance; }
        public void Dispose() { }
    }

    public class NullLoggerFactory : ILoggerFactory
    {
        public static readonly NullLoggerFactory Instance = new NullLoggerFactory();

        public ILogger CreateLogger(string name) { return NullLogger.Instance; }
        public void AddProvider(ILoggerProvider provider) { }
        public void Dispose() { }
    }

    internal sealed class NullScope : IDisposable
    {
        public static readonly NullScope Instance = new NullScope();

        public void Dispose() { }
    }
}

namespace Microsoft.Extensions.Logging.Internal
{
    /// <summary>A message template and its values: named holes ({Name}) are filled in order, as the real
    /// LogValuesFormatter does; the pairs ({OriginalFormat} last) are what structured loggers read.</summary>
    public class FormattedLogValues : IReadOnlyList<KeyValuePair<string, object>>
    {
        private readonly string originalMessage;
        private readonly object[] values;
        private readonly string format;
        private readonly List<string> names = new List<string>();

        public FormattedLogValues(string format, params object[] values)
        {
            originalMessage = format ?? "[null]";
            this.values = values ?? new object[0];
            this.format = this.values.Length > 0 ? Positional(originalMessage, names) : null;
        }

        public KeyValuePair<string, object> this[int index]
        {
            get
            {
                if (index < 0 || index > Count - 1)
                {
                    throw new IndexOutOfRangeException("index");
                }
                if (index == Count - 1)
                {
                    return new KeyValuePair<string, object>("{OriginalFormat}", originalMessage);
                }
                return new KeyValuePair<string, object>(index < names.Count ? names[index] : index.ToString(), values[index]);
            }
        }

        public int Count
        {
            get { return values.Length + 1; }
        }

        public IEnumerator<KeyValuePair<string, object>> GetEnumerator()
        {
            for (int i = 0; i < Count; i++)
            {
                yield return this[i];
            }
        }

        IEnumerator IEnumerable.GetEnumerator()
        {
            return GetEnumerator();
        }

        public override string ToString()
        {
            if (format == null)
            {
                return originalMessage;
            }
            object[] shown = new object[values.Length];
            for (int i = 0; i < values.Length; i++)
            {
                shown[i] = Shown(values[i]);
            }
            try
            {
                return string.Format(CultureInfo.InvariantCulture, format, shown);
            }
            catch (FormatException)
            {
                return originalMessage;
            }
        }

        private static object Shown(object value)
        {
            if (value == null)
            {
                return "(null)";
            }
            if (value is string || !(value is IEnumerable))
            {
                return value;
            }
            var parts = new List<string>();
            foreach (object item in (IEnumerable)value)
            {
                parts.Add(item == null ? "(null)" : Convert.ToString(item, CultureInfo.InvariantCulture));
            }
            return string.Join(", ", parts);
        }

        /// <summary>"{Name,10:x}" -> "{0,10:x}" in order of appearance; "{{" and "}}" stay escapes.</summary>
        private static string Positional(string template, List<string> names)
        {
            var sb = new StringBuilder(template.Length);
            int i = 0;
            while (i < template.Length)
            {
                char c = template[i];
                if ((c == '{' || c == '}') && i + 1 < template.Length && template[i + 1] == c)
                {
                    sb.Append(c).Append(c);
                    i += 2;
                    continue;
                }
                if (c != '{')
                {
                    sb.Append(c);
                    i++;
                    continue;
                }
                int end = template.IndexOf('}', i + 1);
                if (end < 0)
                {
                    sb.Append(template, i, template.Length - i);
                    break;
                }
                string hole = template.Substring(i + 1, end - i - 1);
                int cut = hole.IndexOfAny(new[] { ',', ':' });
                string name = cut < 0 ? hole : hole.Substring(0, cut);
                int index = names.IndexOf(name);
                if (index < 0)
                {
                    names.Add(name);
                    index = names.Count - 1;
                }
                sb.Append('{').Append(index.ToString(CultureInfo.InvariantCulture));
                if (cut >= 0)
                {
                    sb.Append(hole, cut, hole.Length - cut);
                }
                sb.Append('}');
                i = end + 1;
            }
            return sb.ToString();
        }
    }
}
