"""The emulator's HTTP/1.1 framing, over a raw kept-alive connection: a response's head waits for its
body and leaves with it (api/http_protocol.py), so what must go out without a body still does:
HEAD answers, 100 Continue, and a sequence of mixed requests on one connection."""
from __future__ import annotations

import socket

from tests.helpers import deploy

ECHO = {"index.py": "def handler(event, context):\n    return b'got ' + event\n"}


def _read_response(sock: socket.socket, head_only: bool = False) -> tuple[bytes, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a whole head: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = 0 if head_only else int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a body"
        rest += chunk
    assert len(rest) == length, f"bytes beyond the answer: {rest[length:]!r}"
    return lines[0].encode(), headers, rest


def _request(method: str, path: str, account: str, body: bytes = b"", extra: str = "") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Fc-Account-Id: {account}\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def test_one_connection_carries_invocations_head_answers_and_errors(server, fc, account, tmp_path):
    deploy(fc, tmp_path, ECHO)
    invoke = "/2016-08-15/services/svc/functions/fn/invocations"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        for i in range(3):
            sock.sendall(_request("POST", invoke, account, b"x%d" % i))
            status, headers, body = _read_response(sock)
            assert status == b"HTTP/1.1 200 OK" and body == b"got x%d" % i and headers["x-fc-request-id"]

            # a HEAD answer has no body message to carry its head: it still arrives, alone
            sock.sendall(_request("HEAD", "/2016-08-15/services/svc", account))
            status, headers, body = _read_response(sock, head_only=True)
            assert status.startswith(b"HTTP/1.1 ") and headers["x-fc-request-id"] and body == b""

            sock.sendall(_request("GET", "/2016-08-15/services/nope", account))
            status, headers, body = _read_response(sock)
            assert status == b"HTTP/1.1 404 Not Found" and b'"ServiceNotFound"' in body


def test_100_continue_goes_out_before_the_body_is_sent(server, fc, account, tmp_path):
    deploy(fc, tmp_path, ECHO)
    request = _request("POST", "/2016-08-15/services/svc/functions/fn/invocations", account, b"",
                       "Expect: 100-continue\r\n").replace(b"Content-Length: 0", b"Content-Length: 4")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request)
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = sock.recv(65536)
            assert chunk, "closed while the client waits for 100 Continue"
            interim += chunk
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"late")
        status, _, body = _read_response(sock)
        assert status == b"HTTP/1.1 200 OK" and body == b"got late"
