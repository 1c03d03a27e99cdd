"""An instance's output descriptor (a pipe, a named pipe) read on the event loop into an asyncio.Protocol.

Not `loop.connect_read_pipe`: under uvloop, libuv closes the descriptor and then the file object's close()
closes the same number again; a thread that opened a file in between (scanning /proc, a Docker socket)
lost it (EBADF). Here the descriptor is ours alone and closed exactly once, on either event loop.
"""
from __future__ import annotations

import asyncio
import os

CHUNK_BYTES = 65536


def read_fd(loop: asyncio.AbstractEventLoop, fd: int, protocol: asyncio.Protocol) -> None:
    """Feed what arrives on `fd` (non-blocking, owned by the caller until now) to `protocol`; at end of file
    or a read error: stop, close `fd`, then `protocol.connection_lost(None)`. Call on the loop's thread."""
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            data = os.read(fd, CHUNK_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            protocol.data_received(data)
            return
        loop.remove_reader(fd)
        os.close(fd)
        protocol.connection_lost(None)

    loop.add_reader(fd, readable)
