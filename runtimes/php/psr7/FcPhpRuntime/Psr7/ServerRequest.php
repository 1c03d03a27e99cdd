<?php
/*
 * The PSR-7 ServerRequest an HTTP handler gets (runtimes.md §13.5): method, URI, headers, body, protocol 1.1,
 * server, query and cookie params, and the attributes path, requestURI and clientIP.
 */
namespace FcPhpRuntime\Psr7;

use Psr\Http\Message\RequestInterface;
use Psr\Http\Message\ServerRequestInterface;
use Psr\Http\Message\StreamInterface;
use Psr\Http\Message\UriInterface;

class ServerRequest implements ServerRequestInterface
{
    use MessageTrait;

    private $method;
    private $uri;
    private $requestTarget;
    private $serverParams;
    private $cookieParams = array();
    private $queryParams = array();
    private $uploadedFiles = array();
    private $parsedBody;
    private $attributes = array();

    public function __construct($method, $uri, array $headers = array(), $body = null, $version = '1.1',
                                array $serverParams = array())
    {
        $this->method = (string)$method;
        $this->uri = $uri instanceof UriInterface ? $uri : new Uri($uri);
        $this->setHeaders($headers);
        $this->stream = $body instanceof StreamInterface ? $body : new StringStream((string)$body);
        $this->protocol = (string)$version;
        $this->serverParams = $serverParams;
    }

    /** The agent's own setup of a fresh request (no clone per field). */
    public function fcInit(array $query, array $cookies, array $attributes)
    {
        $this->queryParams = $query;
        $this->cookieParams = $cookies;
        $this->attributes = $attributes;
    }

    public function getRequestTarget(): string
    {
        if ($this->requestTarget !== null) {
            return $this->requestTarget;
        }
        $target = $this->uri->getPath();
        if ($target === '') {
            $target = '/';
        }
        if ($this->uri->getQuery() !== '') {
            $target .= '?' . $this->uri->getQuery();
        }
        return $target;
    }

    public function withRequestTarget($requestTarget): RequestInterface
    {
        $new = clone $this;
        $new->requestTarget = (string)$requestTarget;
        return $new;
    }

    public function getMethod(): string
    {
        return $this->method;
    }

    public function withMethod($method): RequestInterface
    {
        $new = clone $this;
        $new->method = (string)$method;
        return $new;
    }

    public function getUri(): UriInterface
    {
        return $this->uri;
    }

    public function withUri(UriInterface $uri, $preserveHost = false): RequestInterface
    {
        $new = clone $this;
        $new->uri = $uri;
        if ($uri->getHost() !== '' && (!$preserveHost || !$new->hasHeader('Host'))) {
            $new->removeHeader('Host');
            $new->headerNames['host'] = 'Host';
            $new->headers = array('Host' => array($uri->getHost() . ($uri->getPort() ? ':' . $uri->getPort() : ''))) + $new->headers;
        }
        return $new;
    }

    public function getServerParams(): array { return $this->serverParams; }
    public function getCookieParams(): array { return $this->cookieParams; }
    public function getQueryParams(): array { return $this->queryParams; }
    public function getUploadedFiles(): array { return $this->uploadedFiles; }
    public function getParsedBody() { return $this->parsedBody; }
    public function getAttributes(): array { return $this->attributes; }

    public function getAttribute($name, $default = null)
    {
        return array_key_exists($name, $this->attributes) ? $this->attributes[$name] : $default;
    }

    public function withCookieParams(array $cookies): ServerRequestInterface { return $this->with('cookieParams', $cookies); }
    public function withQueryParams(array $query): ServerRequestInterface { return $this->with('queryParams', $query); }
    public function withUploadedFiles(array $uploadedFiles): ServerRequestInterface { return $this->with('uploadedFiles', $uploadedFiles); }
    public function withParsedBody($data): ServerRequestInterface { return $this->with('parsedBody', $data); }

    public function withAttribute($name, $value): ServerRequestInterface
    {
        $new = clone $this;
        $new->attributes[$name] = $value;
        return $new;
    }

    public function withoutAttribute($name): ServerRequestInterface
    {
        $new = clone $this;
        unset($new->attributes[$name]);
        return $new;
    }

    private function with($field, $value)
    {
        $new = clone $this;
        $new->$field = $value;
        return $new;
    }
}
