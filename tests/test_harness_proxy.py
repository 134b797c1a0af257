"""The fault proxy on loopback, without QEMU: forwarding, dropping dst->src, RST on reset."""

from __future__ import annotations

import asyncio

import pytest

from harness.proxy import FaultProxy


async def _scenario() -> tuple[bytes, bytes, bytes, type[BaseException] | None]:
    received_at_dst: list[bytes] = []
    dst_conn: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    connected = asyncio.Event()

    async def dst_handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        dst_conn.append((r, w))
        connected.set()

    server = await asyncio.start_server(dst_handler, "127.0.0.1", 0)
    dst_port = server.sockets[0].getsockname()[1]
    proxy = FaultProxy(dst_port)
    port = await proxy.start()
    try:
        src_r, src_w = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.wait_for(connected.wait(), 5)
        dst_r, dst_w = dst_conn[0]
        # src -> dst is forwarded
        src_w.write(b"page data")
        await src_w.drain()
        received_at_dst.append(await asyncio.wait_for(dst_r.readexactly(9), 5))
        # dst -> src is forwarded until dropped
        dst_w.write(b"PONG1")
        await dst_w.drain()
        back = await asyncio.wait_for(src_r.readexactly(5), 5)
        proxy.drop_dst_to_src()
        dst_w.write(b"PONG2")
        await dst_w.drain()
        await asyncio.sleep(0.2)
        dropped = b"PONG2" if proxy.dropped_bytes == 5 else b""
        # reset: the source side sees a connection reset (or EOF on some kernels)
        proxy.reset()
        err: type[BaseException] | None = None
        try:
            data = await asyncio.wait_for(src_r.read(100), 5)
            if data:
                err = AssertionError
        except ConnectionResetError as exc:
            err = type(exc)
        src_w.close()
        dst_w.close()
        return received_at_dst[0], back, dropped, err
    finally:
        await proxy.close()
        server.close()


def test_proxy_forwards_drops_and_resets() -> None:
    fwd, back, dropped, err = asyncio.run(_scenario())
    assert fwd == b"page data"
    assert back == b"PONG1"
    assert dropped == b"PONG2"
    assert err is ConnectionResetError


def test_proxy_refuses_non_loopback() -> None:
    with pytest.raises(ValueError):
        FaultProxy(1234, host="0.0.0.0")
