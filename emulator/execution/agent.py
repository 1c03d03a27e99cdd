"""The emulator's side of the runtime protocol (docs/runtime-protocol.md): HTTP/1.1 to an instance,
over kept-alive connections.

This is on every invocation's path, so it is a small asyncio protocol with httptools' C parser rather
than a general HTTP client (aiohttp cost the warm path about 0.2 ms of CPU per call, this a third of it).
One request at a time per connection; idle connections are kept per instance address and reused.
"""
from __future__ import annotations

import asyncio
from collections import defaultdict

import httptools

MAX_HEADER_BYTES = 256 * 1024
_ONE_WRITE_BYTES = 256 * 1024  # HTTP-trigger answers carry the function's headers in one x-fc-http-params line


class AgentGone(Exception):
    """The connection to the instance broke: the process exited or was killed."""


class Headers:
    """A response's headers in their order and case, looked up case-insensitively."""

    __slots__ = ("_pairs", "_first")

    def __init__(self, pairs: list[tuple[str, str]]):
        self._pairs = pairs
        self._first: dict[str, str] = {}
        for k, v in pairs:
            self._first.setdefault(k.lower(), v)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._first.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._first[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def getall(self, name: str) -> list[str]:
        low = name.lower()
        return [v for k, v in self._pairs if k.lower() == low]


class AgentResponse:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: Headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


class _Connection(asyncio.Protocol):
    """One kept-alive connection; `exchange` sends a request and waits for the whole response."""

    def __init__(self):
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future | None = None
        self.head_request = False
        self._reset()

    def _reset(self) -> None:
        self._headers: list[tuple[str, str]] = []
        self._header_bytes = 0
        self._body: list[bytes] = []
        self._keep_alive = True

    # -- asyncio.Protocol --
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(AgentGone("the instance answered with a protocol upgrade"))
        except httptools.HttpParserError as exc:
            self._fail(AgentGone(f"the instance sent an invalid HTTP response: {exc}"))

    def eof_received(self) -> bool:
        try:  # a response without Content-Length ends with the connection
            self._parser.feed_data(b"")
        except httptools.HttpParserError:
            pass
        return False

    def connection_lost(self, exc) -> None:
        self.closed = True
        self._fail(AgentGone("the connection to the instance was closed"))

    # -- httptools callbacks --
    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > MAX_HEADER_BYTES:
            raise httptools.HttpParserError("response headers too large")
        self._headers.append((_text(name), _text(value)))

    def on_headers_complete(self) -> None:
        self._keep_alive = self._parser.should_keep_alive()
        if self.head_request and self._parser.get_status_code() >= 200:
            # httptools cannot be told that a HEAD answer has no body: end it here, and the connection
            # with it (the parser still expects Content-Length bytes)
            self._keep_alive = False
            self.on_message_complete()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # 100 Continue and the like: the answer follows
            self._reset()
            return
        response = AgentResponse(status, Headers(self._headers), b"".join(self._body))
        if not self._keep_alive:
            self.close()
        self._reset()
        waiter.set_result(response)

    # -- ours --
    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, request: bytes, body: bytes, head: bool) -> AgentResponse:
        self.head_request = head
        self._waiter = asyncio.get_running_loop().create_future()
        if len(body) <= _ONE_WRITE_BYTES:  # one send() for the usual small event
            self.transport.write(request + body)
        else:
            self.transport.writelines((request, body))
        try:
            return await self._waiter
        except BaseException:  # cancelled (timeout) or broken: the connection's state is unknown
            self.close()
            raise
        finally:
            self._waiter = None


class AgentClient:
    def __init__(self):
        self._idle: dict[tuple[str, int], list[_Connection]] = defaultdict(list)

    async def _connection(self, host: str, port: int) -> _Connection:
        idle = self._idle[(host, port)]
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        try:
            _, conn = await asyncio.get_running_loop().create_connection(_Connection, host, port)
        except OSError as exc:
            raise AgentGone(str(exc) or type(exc).__name__) from None
        return conn

    async def request(self, method: str, host: str, port: int, path: str,
                      headers: dict[str, str] | list[tuple[str, str]], body: bytes = b"") -> AgentResponse:
        """`headers` as a dict, or as pairs (an HTTP trigger's passthrough, which may name its own Host)."""
        pairs = headers.items() if isinstance(headers, dict) else headers
        head = [f"{method} {path} HTTP/1.1\r\nContent-Length: {len(body)}\r\n"]
        has_host = False
        for k, v in pairs:
            has_host = has_host or (len(k) == 4 and k.lower() == "host")
            if "\r" in v or "\n" in v:  # a client's header taken leniently: never a second line here
                v = v.replace("\r", " ").replace("\n", " ")
            head.append(f"{k}: {v}\r\n")
        if not has_host:
            head.append(f"Host: {host}:{port}\r\n")
        head.append("\r\n")
        request = "".join(head).encode("utf-8", "surrogateescape")
        conn = await self._connection(host, port)
        response = await conn.exchange(request, body, method == "HEAD")
        if not conn.closed:
            self._idle[(host, port)].append(conn)
        return response

    def forget(self, host: str, port: int) -> None:
        """Close the kept-alive connections to an instance that is gone."""
        for conn in self._idle.pop((host, port), []):
            conn.close()

    async def close(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
