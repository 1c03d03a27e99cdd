<?php
/* The $context array of a PHP handler (runtimes.md §13.4), from the request's x-fc-* headers. */
namespace FcPhpRuntime;

class Context
{
    public static function make(array $h, $rid)
    {
        $get = function ($name, $env = null) use ($h) {
            if (isset($h[$name])) {
                return $h[$name];
            }
            return $env !== null ? (string)getenv($env) : '';
        };
        $baggages = json_decode((string)base64_decode($get('x-fc-tracing-opentracing-span-baggages'), true), true);
        return array(
            'requestId' => $rid,
            'credentials' => array(
                'accessKeyId' => $get('x-fc-access-key-id', 'ALIBABA_CLOUD_ACCESS_KEY_ID'),
                'accessKeySecret' => $get('x-fc-access-key-secret', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET'),
                'securityToken' => $get('x-fc-security-token', 'ALIBABA_CLOUD_SECURITY_TOKEN'),
            ),
            'function' => array(
                'name' => $get('x-fc-function-name', 'FC_FUNCTION_NAME'),
                'handler' => $get('x-fc-function-handler', 'FC_FUNCTION_HANDLER'),
                'memory' => (int)$get('x-fc-function-memory', 'FC_FUNCTION_MEMORY_SIZE'),
                'timeout' => (int)$get('x-fc-function-timeout'),
                'initializer' => $get('x-fc-function-initializer'),
                'initializationTimeout' => (int)$get('x-fc-initialization-timeout'),
            ),
            'service' => array(
                'name' => $get('x-fc-service-name', 'FC_SERVICE_NAME'),
                'logProject' => $get('x-fc-service-logproject'),
                'logStore' => $get('x-fc-service-logstore'),
                'qualifier' => $get('x-fc-qualifier', 'FC_QUALIFIER'),
                'versionId' => $get('x-fc-version-id'),
            ),
            'region' => $get('x-fc-region', 'FC_REGION'),
            'accountId' => $get('x-fc-account-id', 'FC_ACCOUNT_ID'),
            'retryCount' => (int)$get('x-fc-retry-count'),
            'tracing' => array(
                'openTracingSpanContext' => $get('x-fc-tracing-opentracing-span-context'),
                'jaegerEndpoint' => $get('x-fc-tracing-jaeger-endpoint'),
                'openTracingSpanBaggages' => is_array($baggages) ? $baggages : array(),
            ),
        );
    }
}
