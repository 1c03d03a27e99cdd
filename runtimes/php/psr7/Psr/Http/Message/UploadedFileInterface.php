<?php
// psr/http-message 1.0 (PSR-7), declared by the fc-emulator agent only when no other copy is loaded (a
// Composer copy in the code package is registered first and wins).
namespace Psr\Http\Message;

interface UploadedFileInterface
{
    public function getStream();
    public function moveTo($targetPath);
    public function getSize();
    public function getError();
    public function getClientFilename();
    public function getClientMediaType();
}
