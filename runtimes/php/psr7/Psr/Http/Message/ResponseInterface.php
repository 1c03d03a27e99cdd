<?php
// psr/http-message 1.0 (PSR-7), declared by the fc-emulator agent only when no other copy is loaded (a
// Composer copy in the code package is registered first and wins).
namespace Psr\Http\Message;

interface ResponseInterface extends MessageInterface
{
    public function getStatusCode();
    public function withStatus($code, $reasonPhrase = '');
    public function getReasonPhrase();
}
