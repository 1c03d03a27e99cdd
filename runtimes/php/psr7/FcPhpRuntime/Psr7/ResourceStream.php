<?php
/* A PSR-7 stream over a PHP stream resource (a response body given as fopen(...)). */
namespace FcPhpRuntime\Psr7;

use Psr\Http\Message\StreamInterface;

class ResourceStream implements StreamInterface
{
    private $stream;

    public function __construct($stream)
    {
        if (!is_resource($stream)) {
            throw new \InvalidArgumentException('Stream must be a resource');
        }
        $this->stream = $stream;
    }

    public function __toString(): string
    {
        if (!$this->stream) {
            return '';
        }
        if ($this->isSeekable()) {
            $this->seek(0);
        }
        return (string)stream_get_contents($this->stream);
    }

    public function close(): void
    {
        if ($this->stream) {
            fclose($this->stream);
            $this->stream = null;
        }
    }

    public function detach()
    {
        $stream = $this->stream;
        $this->stream = null;
        return $stream;
    }

    public function getSize(): ?int
    {
        if (!$this->stream) {
            return null;
        }
        $stat = fstat($this->stream);
        return isset($stat['size']) ? (int)$stat['size'] : null;
    }

    public function tell(): int
    {
        $pos = $this->stream ? ftell($this->stream) : false;
        if ($pos === false) {
            throw new \RuntimeException('Unable to determine stream position');
        }
        return $pos;
    }

    public function eof(): bool
    {
        return !$this->stream || feof($this->stream);
    }

    public function isSeekable(): bool
    {
        return (bool)$this->getMetadata('seekable');
    }

    public function seek($offset, $whence = SEEK_SET): void
    {
        if (!$this->stream || fseek($this->stream, $offset, $whence) === -1) {
            throw new \RuntimeException('Unable to seek to stream position ' . $offset);
        }
    }

    public function rewind(): void
    {
        $this->seek(0);
    }

    public function isWritable(): bool
    {
        $mode = (string)$this->getMetadata('mode');
        return strpbrk($mode, 'waxc+') !== false;
    }

    public function write($string): int
    {
        $n = $this->stream ? fwrite($this->stream, (string)$string) : false;
        if ($n === false) {
            throw new \RuntimeException('Unable to write to stream');
        }
        return $n;
    }

    public function isReadable(): bool
    {
        $mode = (string)$this->getMetadata('mode');
        return strpbrk($mode, 'r+') !== false;
    }

    public function read($length): string
    {
        $data = $this->stream ? fread($this->stream, (int)$length) : false;
        if ($data === false) {
            throw new \RuntimeException('Unable to read from stream');
        }
        return $data;
    }

    public function getContents(): string
    {
        $data = $this->stream ? stream_get_contents($this->stream) : false;
        if ($data === false) {
            throw new \RuntimeException('Unable to read stream contents');
        }
        return $data;
    }

    public function getMetadata($key = null)
    {
        $meta = $this->stream ? stream_get_meta_data($this->stream) : array();
        return $key === null ? $meta : (isset($meta[$key]) ? $meta[$key] : null);
    }
}
