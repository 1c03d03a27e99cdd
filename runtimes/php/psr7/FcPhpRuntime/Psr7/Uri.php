<?php
/* A PSR-7 URI, parsed with parse_url() as the PSR-7 packages FC's agents use do. */
namespace FcPhpRuntime\Psr7;

use Psr\Http\Message\UriInterface;

class Uri implements UriInterface
{
    private $scheme = '';
    private $userInfo = '';
    private $host = '';
    private $port;
    private $path = '';
    private $query = '';
    private $fragment = '';

    public function __construct($uri = '')
    {
        $uri = (string)$uri;
        if ($uri === '') {
            return;
        }
        $parts = parse_url($uri);
        if ($parts === false) {
            throw new \InvalidArgumentException('Unable to parse URI: ' . $uri);
        }
        $this->scheme = isset($parts['scheme']) ? strtolower($parts['scheme']) : '';
        $this->userInfo = isset($parts['user']) ? $parts['user'] . (isset($parts['pass']) ? ':' . $parts['pass'] : '') : '';
        $this->host = isset($parts['host']) ? strtolower($parts['host']) : '';
        $this->port = isset($parts['port']) ? (int)$parts['port'] : null;
        $this->path = isset($parts['path']) ? $parts['path'] : '';
        $this->query = isset($parts['query']) ? $parts['query'] : '';
        $this->fragment = isset($parts['fragment']) ? $parts['fragment'] : '';
    }

    public function getScheme(): string { return $this->scheme; }
    public function getUserInfo(): string { return $this->userInfo; }
    public function getHost(): string { return $this->host; }
    public function getPath(): string { return $this->path; }
    public function getQuery(): string { return $this->query; }
    public function getFragment(): string { return $this->fragment; }

    public function getPort(): ?int
    {
        $default = array('http' => 80, 'https' => 443);
        return isset($default[$this->scheme]) && $default[$this->scheme] === $this->port ? null : $this->port;
    }

    public function getAuthority(): string
    {
        if ($this->host === '') {
            return '';
        }
        $port = $this->getPort();
        return ($this->userInfo !== '' ? $this->userInfo . '@' : '') . $this->host . ($port !== null ? ':' . $port : '');
    }

    public function withScheme($scheme): UriInterface { return $this->with('scheme', strtolower((string)$scheme)); }
    public function withHost($host): UriInterface { return $this->with('host', strtolower((string)$host)); }
    public function withPort($port): UriInterface { return $this->with('port', $port === null ? null : (int)$port); }
    public function withPath($path): UriInterface { return $this->with('path', (string)$path); }
    public function withQuery($query): UriInterface { return $this->with('query', ltrim((string)$query, '?')); }
    public function withFragment($fragment): UriInterface { return $this->with('fragment', ltrim((string)$fragment, '#')); }

    public function withUserInfo($user, $password = null): UriInterface
    {
        $info = (string)$user;
        if ($info !== '' && $password !== null && $password !== '') {
            $info .= ':' . $password;
        }
        return $this->with('userInfo', $info);
    }

    public function __toString(): string
    {
        $uri = $this->scheme !== '' ? $this->scheme . ':' : '';
        $authority = $this->getAuthority();
        if ($authority !== '' || $this->scheme === 'file') {
            $uri .= '//' . $authority;
        }
        $path = $this->path;
        if ($authority !== '' && $path !== '' && $path[0] !== '/') {
            $path = '/' . $path;
        }
        $uri .= $path;
        if ($this->query !== '') {
            $uri .= '?' . $this->query;
        }
        if ($this->fragment !== '') {
            $uri .= '#' . $this->fragment;
        }
        return $uri;
    }

    private function with($field, $value)
    {
        $new = clone $this;
        $new->$field = $value;
        return $new;
    }
}
