<?php
/*
 * An HTTP-trigger call of a PHP function (runtimes.md §13.5): the x-fc-http-params JSON and the raw body become
 * a PSR-7 ServerRequest; the handler's RingCentral\Psr7\Response becomes the answer body and the response
 * x-fc-http-params (base64 JSON {status, headersMap}).
 */
namespace FcPhpRuntime;

use FcPhpRuntime\Psr7\ServerRequest;

class HttpBridge
{
    /** @return array [body, base64 response params] */
    public static function call($fn, $encodedParams, $body, array $context)
    {
        $request = self::request(json_decode(base64_decode($encodedParams), true) ?: array(), $body, $context);
        Runtime::$inUser = true;
        try {
            $response = $fn($request, $context);
        } finally {
            Runtime::$inUser = false;
        }
        return self::answer($request->getMethod(), $response);
    }

    private static function request(array $p, $body, array $context)
    {
        $method = isset($p['method']) ? (string)$p['method'] : 'GET';
        $requestUri = isset($p['requestURI']) ? (string)$p['requestURI'] : '/';
        $clientIp = isset($p['clientIP']) ? (string)$p['clientIP'] : '';
        $headers = isset($p['headersMap']) ? (array)$p['headersMap'] : (isset($p['headers']) ? (array)$p['headers'] : array());
        $hasType = false;
        $host = '';
        $cookie = '';
        foreach ($headers as $name => $values) {
            $lower = strtolower($name);
            $hasType = $hasType || $lower === 'content-type';
            if ($lower === 'host') {
                $host = is_array($values) ? (string)reset($values) : (string)$values;
            } elseif ($lower === 'cookie') {
                $cookie = is_array($values) ? implode('; ', $values) : (string)$values;
            }
        }
        if (!$hasType) {
            $headers['Content-Type'] = array('application/octet-stream');  // FC's PHP 7 agent adds it
        }
        $query = '';
        $q = strpos($requestUri, '?');
        if ($q !== false) {
            $query = (string)substr($requestUri, $q + 1);
        }
        $now = microtime(true);
        $server = array(
            'SERVER_PROTOCOL' => 'HTTP/1.1',
            'SERVER_ADDR' => '127.0.0.1',
            'SERVER_PORT' => (string)(getenv('FC_SERVER_PORT') ?: '9000'),
            'REQUEST_METHOD' => $method,
            'REQUEST_TIME' => (int)$now,
            'REQUEST_TIME_FLOAT' => $now,
            'QUERY_STRING' => $query,
            'DOCUMENT_ROOT' => Agent::$shownCwd,
            'REQUEST_URI' => $requestUri,
            'REMOTE_ADDR' => $clientIp,
        );
        if ($host !== '') {
            $server['HTTP_HOST'] = $host;
        }
        // FC's agent builds the URI without a scheme (§13.5): PSR-7's parser then sees it all as a path
        $uri = $context['accountId'] . '.' . $context['region'] . '.fc.aliyuncs.com' . $requestUri;
        $request = new ServerRequest($method, $uri, $headers, $body, '1.1', $server);
        $params = array();
        foreach ((isset($p['queriesMap']) ? (array)$p['queriesMap'] : (isset($p['queries']) ? (array)$p['queries'] : array())) as $k => $v) {
            $params[$k] = is_array($v) && count($v) === 1 ? reset($v) : $v;  // one value: a string; several: a list
        }
        $request->fcInit($params, self::cookies($cookie), array(
            'path' => isset($p['path']) ? (string)$p['path'] : '/',
            'requestURI' => $requestUri,
            'clientIP' => $clientIp,
        ));
        return $request;
    }

    private static function cookies($header)
    {
        $out = array();
        foreach (explode(';', $header) as $pair) {
            $eq = strpos($pair, '=');
            if ($eq === false) {
                continue;
            }
            $name = trim(substr($pair, 0, $eq));
            if ($name !== '') {
                $out[$name] = urldecode(trim(substr($pair, $eq + 1)));
            }
        }
        return $out;
    }

    private static function answer($method, $response)
    {
        if (!is_object($response) || !method_exists($response, 'getStatusCode') || !method_exists($response, 'getHeaders')
            || !method_exists($response, 'getBody')) {
            throw new \TypeError('the HTTP handler must return a RingCentral\Psr7\Response, returned '
                . (is_object($response) ? get_class($response) : gettype($response)));
        }
        Runtime::$inUser = true;  // the response's own code (a user's PSR-7 copy, a stream) is user code
        try {
            $status = (int)$response->getStatusCode();
            $headers = array();
            $names = array();  // lower-case => name as given
            foreach ($response->getHeaders() as $name => $values) {
                $headers[$name] = array_map('strval', is_array($values) ? array_values($values) : array($values));
                $names[strtolower($name)] = $name;
            }
            $stream = $response->getBody();
            $body = $stream === null ? '' : (string)$stream;
        } finally {
            Runtime::$inUser = false;
        }
        if (!isset($names['x-powered-by'])) {
            $headers['X-Powered-By'] = array('fc/php-runtime');
        } elseif (implode('', $headers[$names['x-powered-by']]) === '') {
            unset($headers[$names['x-powered-by']]);  // an empty value removes it
        }
        if (!isset($names['date'])) {
            $headers['Date'] = array(gmdate('D, d M Y H:i:s') . ' GMT');
        }
        $noBody = ($status >= 100 && $status < 200) || $status === 204 || $status === 304;
        if (isset($names['content-length'])) {
            unset($headers[$names['content-length']]);
        }
        if ($noBody) {
            $body = '';
        }
        if (!(($status >= 100 && $status < 200) || $status === 204)) {
            $headers['Content-Length'] = array((string)strlen($body));  // a HEAD answer says what GET would send
        }
        if (strtoupper($method) === 'HEAD') {
            $body = '';
        }
        $meta = json_encode(array('status' => $status, 'headersMap' => (object)$headers),
                            JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE);
        return array($body, base64_encode($meta));
    }
}
