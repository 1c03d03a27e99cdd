<?php
/*
 * Headers, protocol and body of a PSR-7 message, for the agent's request and RingCentral\Psr7\Response.
 * Untyped parameters and psr/http-message 2.0's return types: compatible with psr/http-message 1.0, 1.1
 * and 2.0, whichever copy a code package brings.
 */
namespace FcPhpRuntime\Psr7;

use Psr\Http\Message\MessageInterface;
use Psr\Http\Message\StreamInterface;

trait MessageTrait
{
    /** @var array name as given => list of values */
    private $headers = array();
    /** @var array lower-case name => name as given */
    private $headerNames = array();
    private $protocol = '1.1';
    /** @var StreamInterface|null */
    private $stream;

    public function getProtocolVersion(): string
    {
        return $this->protocol;
    }

    public function withProtocolVersion($version): MessageInterface
    {
        $new = clone $this;
        $new->protocol = (string)$version;
        return $new;
    }

    public function getHeaders(): array
    {
        return $this->headers;
    }

    public function hasHeader($name): bool
    {
        return isset($this->headerNames[strtolower($name)]);
    }

    public function getHeader($name): array
    {
        $lower = strtolower($name);
        return isset($this->headerNames[$lower]) ? $this->headers[$this->headerNames[$lower]] : array();
    }

    public function getHeaderLine($name): string
    {
        return implode(', ', $this->getHeader($name));
    }

    public function withHeader($name, $value): MessageInterface
    {
        $new = clone $this;
        $new->removeHeader($name);
        $new->headerNames[strtolower($name)] = $name;
        $new->headers[$name] = self::headerValues($value);
        return $new;
    }

    public function withAddedHeader($name, $value): MessageInterface
    {
        $new = clone $this;
        $lower = strtolower($name);
        if (isset($new->headerNames[$lower])) {
            $given = $new->headerNames[$lower];
            $new->headers[$given] = array_merge($new->headers[$given], self::headerValues($value));
        } else {
            $new->headerNames[$lower] = $name;
            $new->headers[$name] = self::headerValues($value);
        }
        return $new;
    }

    public function withoutHeader($name): MessageInterface
    {
        $new = clone $this;
        $new->removeHeader($name);
        return $new;
    }

    public function getBody(): StreamInterface
    {
        if ($this->stream === null) {
            $this->stream = new StringStream('');
        }
        return $this->stream;
    }

    public function withBody(StreamInterface $body): MessageInterface
    {
        $new = clone $this;
        $new->stream = $body;
        return $new;
    }

    private function setHeaders(array $headers)
    {
        $this->headers = $this->headerNames = array();
        foreach ($headers as $name => $value) {
            $name = (string)$name;
            $lower = strtolower($name);
            $values = self::headerValues($value);
            if (isset($this->headerNames[$lower])) {
                $given = $this->headerNames[$lower];
                $this->headers[$given] = array_merge($this->headers[$given], $values);
            } else {
                $this->headerNames[$lower] = $name;
                $this->headers[$name] = $values;
            }
        }
    }

    private function removeHeader($name)
    {
        $lower = strtolower($name);
        if (isset($this->headerNames[$lower])) {
            unset($this->headers[$this->headerNames[$lower]], $this->headerNames[$lower]);
        }
    }

    private static function headerValues($value)
    {
        if (!is_array($value)) {
            return array(trim((string)$value, " \t"));
        }
        $out = array();
        foreach ($value as $v) {
            $out[] = trim((string)$v, " \t");
        }
        return $out;
    }
}
