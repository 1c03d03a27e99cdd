<?php
/*
 * RingCentral\Psr7\Response as FC's PHP runtime provides it (runtimes.md §13.5): what an HTTP handler returns,
 * `new Response($status = 200, array $headers = [], $body = null)`, header values a string or a list.
 * Declared by the fc-emulator agent only when the code package brings no ringcentral/psr7 of its own.
 */
namespace RingCentral\Psr7;

use FcPhpRuntime\Psr7\MessageTrait;
use FcPhpRuntime\Psr7\ResourceStream;
use FcPhpRuntime\Psr7\StringStream;
use Psr\Http\Message\ResponseInterface;
use Psr\Http\Message\StreamInterface;

class Response implements ResponseInterface
{
    use MessageTrait;

    private static $phrases = array(
        100 => 'Continue', 101 => 'Switching Protocols', 102 => 'Processing',
        200 => 'OK', 201 => 'Created', 202 => 'Accepted', 203 => 'Non-Authoritative Information',
        204 => 'No Content', 205 => 'Reset Content', 206 => 'Partial Content', 207 => 'Multi-status',
        208 => 'Already Reported', 300 => 'Multiple Choices', 301 => 'Moved Permanently', 302 => 'Found',
        303 => 'See Other', 304 => 'Not Modified', 305 => 'Use Proxy', 306 => 'Switch Proxy',
        307 => 'Temporary Redirect', 308 => 'Permanent Redirect', 400 => 'Bad Request', 401 => 'Unauthorized',
        402 => 'Payment Required', 403 => 'Forbidden', 404 => 'Not Found', 405 => 'Method Not Allowed',
        406 => 'Not Acceptable', 407 => 'Proxy Authentication Required', 408 => 'Request Time-out',
        409 => 'Conflict', 410 => 'Gone', 411 => 'Length Required', 412 => 'Precondition Failed',
        413 => 'Request Entity Too Large', 414 => 'Request-URI Too Large', 415 => 'Unsupported Media Type',
        416 => 'Requested range not satisfiable', 417 => 'Expectation Failed', 418 => 'I\'m a teapot',
        422 => 'Unprocessable Entity', 423 => 'Locked', 424 => 'Failed Dependency', 425 => 'Unordered Collection',
        426 => 'Upgrade Required', 428 => 'Precondition Required', 429 => 'Too Many Requests',
        431 => 'Request Header Fields Too Large', 500 => 'Internal Server Error', 501 => 'Not Implemented',
        502 => 'Bad Gateway', 503 => 'Service Unavailable', 504 => 'Gateway Time-out',
        505 => 'HTTP Version not supported', 506 => 'Variant Also Negotiates', 507 => 'Insufficient Storage',
        508 => 'Loop Detected', 511 => 'Network Authentication Required',
    );

    private $statusCode;
    private $reasonPhrase;

    public function __construct($status = 200, array $headers = array(), $body = null, $version = '1.1', $reason = null)
    {
        $this->statusCode = (int)$status;
        if ($body !== null && $body !== '') {
            $this->stream = self::streamFor($body);
        }
        $this->setHeaders($headers);
        $this->reasonPhrase = ($reason === null || $reason === '') && isset(self::$phrases[$this->statusCode])
            ? self::$phrases[$this->statusCode] : (string)$reason;
        $this->protocol = (string)$version;
    }

    public function getStatusCode(): int
    {
        return $this->statusCode;
    }

    public function getReasonPhrase(): string
    {
        return $this->reasonPhrase;
    }

    public function withStatus($code, $reasonPhrase = ''): ResponseInterface
    {
        $new = clone $this;
        $new->statusCode = (int)$code;
        $new->reasonPhrase = ($reasonPhrase === null || $reasonPhrase === '') && isset(self::$phrases[$new->statusCode])
            ? self::$phrases[$new->statusCode] : (string)$reasonPhrase;
        return $new;
    }

    private static function streamFor($body)
    {
        if ($body instanceof StreamInterface) {
            return $body;
        }
        if (is_resource($body)) {
            return new ResourceStream($body);
        }
        if (is_scalar($body) || (is_object($body) && method_exists($body, '__toString'))) {
            return new StringStream((string)$body);
        }
        throw new \InvalidArgumentException('Invalid resource type: ' . gettype($body));
    }
}
