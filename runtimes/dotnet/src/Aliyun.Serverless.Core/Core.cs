// FC's Aliyun.Serverless.Core (NuGet 1.0.1, runtimes.md §14.3): the interfaces function code receives.
// Same assembly name and identity as the package (not strong-named, no version attribute: 0.0.0.0), so code
// compiled against either binds to either. A function's own copy in /code is the one the agent implements.
using System;
using System.IO;
using Microsoft.Extensions.Logging;

namespace Aliyun.Serverless.Core
{
    public interface IFcContext
    {
        string RequestId { get; }

        IFunctionParameter FunctionParam { get; }

        IFcLogger Logger { get; }

        ICredentials Credentials { get; }

        string AccountId { get; }

        string Region { get; }

        IServiceMeta ServiceMeta { get; }
    }

    public interface IFunctionParameter
    {
        string FunctionName { get; }

        string FunctionHandler { get; }

        string FunctionInitializer { get; }

        int MemoryLimitInMB { get; }

        TimeSpan FunctionTimeout { get; }

        TimeSpan InitializationTimeout { get; }
    }

    public interface ICredentials
    {
        string AccessKeyId { get; }

        string AccessKeySecret { get; }

        string SecurityToken { get; }
    }

    public interface IServiceMeta
    {
        string Name { get; }

        string LogProject { get; }

        string LogStore { get; }

        string Qualifier { get; }

        string VersionId { get; }
    }

    /// <summary>context.Logger: lines below EnabledLogLevel are dropped.</summary>
    public interface IFcLogger : ILogger
    {
        LogLevel EnabledLogLevel { get; set; }
    }

    /// <summary>A function's own (de)serializer of POCO events and results, named by [FcSerializer].</summary>
    public interface IFcSerializer
    {
        T Deserialize<T>(Stream requestStream);

        void Serialize<T>(T response, Stream responseStream);
    }

    /// <summary>On a handler method (or the assembly): the IFcSerializer used instead of Json.NET.</summary>
    [AttributeUsage(AttributeTargets.Method | AttributeTargets.Assembly, AllowMultiple = false)]
    public sealed class FcSerializerAttribute : Attribute
    {
        public FcSerializerAttribute(Type serializerType)
        {
            SerializerType = serializerType;
        }

        public Type SerializerType { get; set; }
    }

    public class JsonSerializerException : Exception
    {
        public JsonSerializerException(string message, Exception exception) : base(message, exception)
        {
        }
    }
}
