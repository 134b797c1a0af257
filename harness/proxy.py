"""A TCP fault proxy between the migration source and destination (127.0.0.1 only).

The source connects to the proxy's port; the proxy connects to the destination's incoming port
and copies bytes both ways. It can inject two faults that a plain SIGKILL cannot produce:

* :meth:`FaultProxy.drop_dst_to_src` -- a silent one-way partition: every byte the destination
  sends back (the return path: PONGs, page requests, SHUT) is read and discarded, nothing is
  closed. This models a lost acknowledgement (the PONG 0x42 that moves an 11.1 source from
  ``postcopy-device`` to ``postcopy-active``).
* :meth:`FaultProxy.reset` -- close every connection with SO_LINGER 0, so both peers receive a
  TCP RST (``Connection reset by peer``), as after a network failure.

The migration stream and its return path share one TCP connection (no postcopy-preempt), so one
connection is normally proxied; the proxy still handles any number (e.g. a recovery reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass, field

CHUNK = 256 * 1024


@dataclass
class _Pair:
    src_reader: asyncio.StreamReader
    src_writer: asyncio.StreamWriter
    dst_reader: asyncio.StreamReader
    dst_writer: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """Forward 127.0.0.1:<port> to 127.0.0.1:<dst_port>, with injectable faults."""

    def __init__(self, dst_port: int, host: str = "127.0.0.1") -> None:
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("the fault proxy only runs on the loopback address")
        self.host = "127.0.0.1"
        self.dst_port = dst_port
        self.port = 0
        self.drop_back = False
        self.dropped_bytes = 0
        self.forwarded = {"src->dst": 0, "dst->src": 0}
        self._server: asyncio.base_events.Server | None = None
        self._pairs: list[_Pair] = []
        self._closed = False

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def _handle(self, src_reader: asyncio.StreamReader, src_writer: asyncio.StreamWriter) -> None:
        if self._closed:
            _abort_with_rst(src_writer)
            return
        try:
            dst_reader, dst_writer = await asyncio.open_connection(self.host, self.dst_port)
        except OSError:
            _abort_with_rst(src_writer)
            return
        for w in (src_writer, dst_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = _Pair(src_reader, src_writer, dst_reader, dst_writer)
        self._pairs.append(pair)
        pair.tasks.append(asyncio.create_task(self._pump(src_reader, dst_writer, "src->dst")))
        pair.tasks.append(asyncio.create_task(self._pump(dst_reader, src_writer, "dst->src")))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str) -> None:
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                if direction == "dst->src" and self.drop_back:
                    self.dropped_bytes += len(data)
                    continue
                writer.write(data)
                self.forwarded[direction] += len(data)
                await writer.drain()
            # Orderly EOF: pass it on (half-close), as a direct connection would.
            with contextlib.suppress(OSError, RuntimeError):
                if writer.can_write_eof():
                    writer.write_eof()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass

    def drop_dst_to_src(self) -> None:
        """From now on, discard every byte from the destination to the source (no close)."""
        self.drop_back = True

    def reset(self) -> None:
        """RST every proxied connection, both towards the source and the destination."""
        for pair in self._pairs:
            for task in pair.tasks:
                task.cancel()
            _abort_with_rst(pair.src_writer)
            _abort_with_rst(pair.dst_writer)
        self._pairs.clear()

    async def close(self) -> None:
        self._closed = True
        self.reset()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
