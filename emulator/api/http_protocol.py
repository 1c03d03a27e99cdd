"""uvicorn's httptools protocol (half the CPU per request of its h11 one), with the two things the
emulator needs from its HTTP layer: header values as h11 took them (llhttp's strict check refused a
control character in a value before the request reached FC's own checks), and FC's JSON error body,
not plain text, for a request that cannot be parsed at all."""
from __future__ import annotations

import json
import uuid

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from emulator.errors import FCError


class FCHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.parser.set_dangerous_leniencies(lenient_headers=True)

    def send_400_response(self, msg: str) -> None:
        request_id = str(uuid.uuid4())
        body = FCError(400, "InvalidArgument", f"the request is not valid HTTP/1.1: {msg}").body()
        body.update(RequestId=request_id, Code=body["ErrorCode"], Message=body["ErrorMessage"])
        data = json.dumps(body).encode()
        self.transport.write(b"".join([
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n",
            b"X-Fc-Request-Id: ", request_id.encode(), b"\r\n",
            b"content-length: ", str(len(data)).encode(), b"\r\nconnection: close\r\n\r\n", data]))
        self.transport.close()

    def on_headers_complete(self) -> None:
        cycle = self.cycle
        super().on_headers_complete()
        if self.cycle is not cycle and self.cycle is not None and self.scope["method"] != "HEAD":
            self.cycle.transport = _HeadHeld(self.transport)


class _HeadHeld:
    """The transport as a response (other than HEAD's) sees it. uvicorn writes the head on
    http.response.start and the body on each http.response.body, and every response sends at least one
    body message, so the head can wait for it: a small answer then leaves in one send() and wakes the
    client once (+11% warm throughput at c=32, bench/compare.py). A 1xx line goes at once: a client
    waiting on 100 Continue sends its body only then."""

    __slots__ = ("_transport", "_head")

    def __init__(self, transport):
        self._transport = transport
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif data[:9] == b"HTTP/1.1 " and data[9:10] != b"1":
            self._head = data
            return
        self._transport.write(data)

    def close(self) -> None:  # the app failed after starting its answer: what was started goes out
        if self._head is not None:
            self._transport.write(self._head)
            self._head = None
        self._transport.close()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)
