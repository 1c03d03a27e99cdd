"""The emulator's side of the runtime protocol (docs/runtime-protocol.md): HTTP to an instance,
over kept-alive connections."""
from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDictProxy


class AgentGone(Exception):
    """The connection to the instance broke: the process exited or was killed."""


@dataclass
class AgentResponse:
    status: int
    headers: CIMultiDictProxy
    body: bytes


class AgentClient:
    def __init__(self):
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=3600, force_close=False,
                                             enable_cleanup_closed=True)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                                  skip_auto_headers=("User-Agent", "Accept-Encoding"),
                                                  timeout=aiohttp.ClientTimeout(total=None),
                                                  # HTTP-trigger answers carry up to 8 KB of the function's
                                                  # headers, base64-encoded in one x-fc-http-params line
                                                  max_line_size=65536, max_field_size=65536)
        return self._session

    async def request(self, method: str, host: str, port: int, path: str, headers: dict,
                      body: bytes = b"") -> AgentResponse:
        url = f"http://{host}:{port}{path}"
        try:
            async with self._client().request(method, url, headers=headers, data=body,
                                              allow_redirects=False) as r:
                return AgentResponse(r.status, r.headers, await r.read())
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise AgentGone(str(exc) or type(exc).__name__) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
