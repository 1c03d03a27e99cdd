<?php
/* A PSR-7 stream over a PHP string: binary-safe, seekable, writable (request and response bodies). */
namespace FcPhpRuntime\Psr7;

use Psr\Http\Message\StreamInterface;

class StringStream implements StreamInterface
{
    private $data;
    private $pos = 0;
    private $open = true;

    public function __construct($data = '')
    {
        $this->data = (string)$data;
    }

    public function __toString(): string
    {
        if (!$this->open) {
            return '';
        }
        $this->pos = strlen($this->data);
        return $this->data;
    }

    public function close(): void
    {
        $this->open = false;
        $this->data = '';
        $this->pos = 0;
    }

    public function detach()
    {
        $this->close();
        return null;
    }

    public function getSize(): ?int
    {
        return $this->open ? strlen($this->data) : null;
    }

    public function tell(): int
    {
        $this->check();
        return $this->pos;
    }

    public function eof(): bool
    {
        return !$this->open || $this->pos >= strlen($this->data);
    }

    public function isSeekable(): bool
    {
        return $this->open;
    }

    public function seek($offset, $whence = SEEK_SET): void
    {
        $this->check();
        $size = strlen($this->data);
        $to = $whence === SEEK_END ? $size + $offset : ($whence === SEEK_CUR ? $this->pos + $offset : $offset);
        if ($to < 0 || $to > $size) {
            throw new \RuntimeException('Unable to seek to stream position ' . $offset . ' with whence ' . var_export($whence, true));
        }
        $this->pos = (int)$to;
    }

    public function rewind(): void
    {
        $this->seek(0);
    }

    public function isWritable(): bool
    {
        return $this->open;
    }

    public function write($string): int
    {
        $this->check();
        $string = (string)$string;
        $n = strlen($string);
        if ($this->pos === strlen($this->data)) {
            $this->data .= $string;
        } else {
            $this->data = substr_replace($this->data, $string, $this->pos, $n);
        }
        $this->pos += $n;
        return $n;
    }

    public function isReadable(): bool
    {
        return $this->open;
    }

    public function read($length): string
    {
        $this->check();
        $chunk = (string)substr($this->data, $this->pos, (int)$length);
        $this->pos += strlen($chunk);
        return $chunk;
    }

    public function getContents(): string
    {
        $this->check();
        $rest = (string)substr($this->data, $this->pos);
        $this->pos = strlen($this->data);
        return $rest;
    }

    public function getMetadata($key = null)
    {
        $meta = array('seekable' => $this->open, 'mode' => 'r+b', 'uri' => 'php://memory');
        return $key === null ? $meta : (isset($meta[$key]) ? $meta[$key] : null);
    }

    private function check()
    {
        if (!$this->open) {
            throw new \RuntimeException('Stream is detached');
        }
    }
}
