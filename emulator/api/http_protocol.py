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
