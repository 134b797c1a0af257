"""A TCP fault proxy between the migration source and destination (127.0.0.1 only).

The source connects to the proxy's port; the proxy connects to the destination's incoming port
and copies bytes both ways. It can inject two faults that a plain SIGKILL cannot produce:

* :meth:`FaultProxy.drop_dst_to_src` -- a silent one-way partition: every byte the destination
  sends back (the return path: PONGs, page requests, SHUT) is read and discarded, nothing is
  closed. This models a lost acknowledgement (the PONG 0x42 that moves an 11.1 source from
  ``postcopy-device`` to ``postcopy-active``).
* :meth:`FaultProxy.reset` -- close every connection with SO_LINGER 0, so both peers receive a
  TCP RST (``Connection reset by peer``), as after a network failure.

It also understands the return path. Everything the destination sends back on a migration
connection is a sequence of frames ``be16 type, be16 length, data`` (``MIG_RP_MSG_*``,
``migrate_send_rp_message`` in QEMU's ``migration/migration.c``; docs/protocol.md, section 3.3),
so the destination->source pump cuts the byte stream into frames, logs each one
(:attr:`FaultProxy.rp_log`) and applies the first matching :class:`FrameRule`:

* ``hold``  -- keep that frame, and everything after it (an orderly EOF included), until
  :meth:`FaultProxy.release`: the source sees a silent, still open return path, exactly as if the
  frame were slow on the wire (e.g. SHUT(0) held while a precopy source waits for it);
* ``drop``  -- discard that frame alone (a lost PONG 0x42), the rest flows;
* ``drop-from`` -- discard that frame and every later byte (a silent partition that starts with it);
* ``delay`` -- hold as ``hold``, and release by itself after ``delay_s`` seconds;
* ``pass``  -- forward it; only the rule's callback is wanted.

It can hold the whole main stream (:attr:`FaultProxy.hold_main`: the destination reads nothing);
if the source then closes or resets its connection, the held bytes are lost and the destination
gets a reset, as the model's broken connection loses what is in flight. A reset from either peer
reaches the other as a reset (behind held return-path frames, after them).

A rule fires once; its ``callback`` runs in the event loop right after the frame was dealt with
(for ``pass``: after it was handed to the source's socket).

The migration stream and its return path share one TCP connection (no postcopy-preempt), so one
connection is normally proxied; the proxy still handles any number (e.g. a recovery reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CHUNK = 256 * 1024

#: ``enum mig_rp_message_type`` (migration/migration.h): return-path frame types by number.
RP_TYPES = {0: "INVALID", 1: "SHUT", 2: "PONG", 3: "REQ_PAGES_ID", 4: "REQ_PAGES",
            5: "RECV_BITMAP", 6: "RESUME_ACK", 7: "SWITCHOVER_ACK"}
RP_NUMBERS = {name: number for number, name in RP_TYPES.items()}
ACTIONS = ("hold", "drop", "drop-from", "delay", "pass")


def rp_frame(kind: str, value: int | None = None) -> bytes:
    """The bytes of one return-path frame, e.g. ``rp_frame("PONG", 0x42)`` (a 4-byte value), as
    ``migrate_send_rp_message`` writes it."""
    data = b"" if value is None else struct.pack(">I", value)
    return struct.pack(">HH", RP_NUMBERS[kind], len(data)) + data


@dataclass
class FrameRule:
    """What to do with the first return-path frame of type ``kind`` (``"SHUT"``, ``"PONG"``...)
    whose 4-byte big-endian value is ``value`` (any value when None)."""

    kind: str
    action: str
    value: int | None = None
    delay_s: float = 0.0
    callback: Callable[[dict[str, Any]], None] | None = None
    fired: bool = False

    def __post_init__(self) -> None:
        if self.kind not in RP_NUMBERS:
            raise ValueError(f"unknown return-path message {self.kind!r} (known: {', '.join(RP_NUMBERS)})")
        if self.action not in ACTIONS:
            raise ValueError(f"unknown frame action {self.action!r} (known: {', '.join(ACTIONS)})")

    def matches(self, kind: str, value: int | None) -> bool:
        return not self.fired and kind == self.kind and (self.value is None or value == self.value)

    @property
    def label(self) -> str:
        return self.kind if self.value is None else f"{self.kind}({self.value:#x})"


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

    def __init__(self, dst_port: int, host: str = "127.0.0.1", *, parse_rp: bool = False) -> None:
        """``parse_rp``: cut the destination->source bytes into return-path frames (needed for
        :meth:`add_rule` and :attr:`rp_log`); off, the proxy copies bytes blindly."""
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("the fault proxy only runs on the loopback address")
        self.host = "127.0.0.1"
        self.dst_port = dst_port
        self.port = 0
        self.drop_back = False
        self.dropped_bytes = 0
        self.forwarded = {"src->dst": 0, "dst->src": 0}
        self.rules: list[FrameRule] = []
        #: Every return-path frame seen: ``{"t", "kind", "value", "len", "fate"}``, ``t`` on
        #: ``time.monotonic()``; ``fate`` is forwarded / held / dropped / released.
        self.rp_log: list[dict[str, Any]] = []
        self.holding = False
        self.drop_rest = False
        self.parse_rp = parse_rp
        #: While true, source->destination bytes are kept (not sent): the destination reads nothing.
        self.hold_main = False
        self.dropped_main_bytes = 0  # held source->destination bytes lost when the source closed
        self._main_held: list[tuple[asyncio.StreamWriter, bytes | None]] = []  # None: an EOF
        self._held: list[tuple[asyncio.StreamWriter, bytes | None]] = []
        self._held_rst: asyncio.StreamWriter | None = None  # a reset that waits behind held frames
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
        pair.tasks.append(asyncio.create_task(self._pump(src_reader, dst_writer, "src->dst", src_writer)))
        if self.parse_rp:
            pair.tasks.append(asyncio.create_task(self._rp_pump(dst_reader, src_writer, dst_writer)))
        else:
            pair.tasks.append(asyncio.create_task(self._pump(dst_reader, src_writer, "dst->src", dst_writer)))

    def add_rule(self, rule: FrameRule) -> FrameRule:
        """Apply ``rule`` to the first matching return-path frame from now on."""
        self.rules.append(rule)
        return rule

    def release(self) -> int:
        """Forward what a ``hold`` or ``delay`` kept (an EOF that came meanwhile too), in order;
        the return path flows freely again. Returns the number of bytes released."""
        self.holding = False
        n = 0
        for writer, data in self._held:
            with contextlib.suppress(OSError, RuntimeError):
                if data is None:
                    if writer.can_write_eof():
                        writer.write_eof()
                else:
                    writer.write(data)
                    n += len(data)
        self._held.clear()
        if self._held_rst is not None:
            _abort_with_rst(self._held_rst)
            self._held_rst = None
        for entry in self.rp_log:
            if entry["fate"] == "held":
                entry["fate"] = "released"
        return n

    def release_main(self) -> None:
        """Send the held source->destination bytes and stop holding the main stream."""
        self.hold_main = False
        for writer, data in self._main_held:
            with contextlib.suppress(OSError, RuntimeError):
                if data is None:
                    if writer.can_write_eof():
                        writer.write_eof()
                else:
                    writer.write(data)
        self._main_held.clear()

    @property
    def held_main_bytes(self) -> int:
        """Source->destination bytes held right now (:attr:`hold_main`)."""
        return sum(len(data) for _, data in self._main_held if data is not None)

    def frames(self, kind: str | None = None, value: int | None = None) -> list[dict[str, Any]]:
        """The logged frames of one type (and value)."""
        return [e for e in self.rp_log if (kind is None or e["kind"] == kind)
                and (value is None or e["value"] == value)]

    def _frame(self, writer: asyncio.StreamWriter, frame: bytes) -> str:
        """Deal with one complete return-path frame; returns its fate."""
        number, length = struct.unpack(">HH", frame[:4])
        kind = RP_TYPES.get(number, str(number))
        value = struct.unpack(">I", frame[4:8])[0] if length == 4 else None
        entry: dict[str, Any] = {"t": time.monotonic(), "kind": kind, "value": value, "len": length}
        rule = next((r for r in self.rules if r.matches(kind, value)), None)
        if rule is not None:
            rule.fired = True
            if rule.action in ("hold", "delay"):
                self.holding = True
                if rule.action == "delay":
                    asyncio.get_running_loop().call_later(rule.delay_s, self.release)
            elif rule.action == "drop-from":
                self.drop_rest = True
        if self.drop_rest or (rule is not None and rule.action == "drop"):
            fate = "dropped"
            self.dropped_bytes += len(frame)
        elif self.holding:
            fate = "held"
            self._held.append((writer, frame))
        else:
            fate = "forwarded"
            writer.write(frame)
            self.forwarded["dst->src"] += len(frame)
        entry["fate"] = fate
        self.rp_log.append(entry)
        if rule is not None and rule.callback is not None:
            rule.callback(entry)
        return fate

    async def _rp_pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       back: asyncio.StreamWriter | None = None) -> None:
        """destination -> source: cut the return path into frames (see the module docstring). A
        reset from the destination (a QEMU that exits or is killed with unread bytes in its socket
        sends an RST, not a FIN) resets the source's connection too, as a direct connection would;
        behind held frames it waits for them. Writing to a source that is gone resets the
        destination's connection (``back``)."""
        buf = b""
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                if self.drop_back:
                    self.dropped_bytes += len(data)
                    continue
                buf += data
                while len(buf) >= 4:
                    length = struct.unpack(">H", buf[2:4])[0]
                    if len(buf) < 4 + length:
                        break
                    frame, buf = buf[: 4 + length], buf[4 + length:]
                    self._frame(writer, frame)
                if not self.holding:
                    await writer.drain()
            if self.holding:
                self._held.append((writer, None))  # the EOF waits behind the held frames
                return
            with contextlib.suppress(OSError, RuntimeError):
                if writer.can_write_eof():
                    writer.write_eof()
        except (ConnectionError, OSError):
            if self.holding:
                self._held_rst = writer
            else:
                _abort_with_rst(writer)
            if back is not None:
                _abort_with_rst(back)
        except asyncio.CancelledError:
            pass

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str,
                    back: asyncio.StreamWriter | None = None) -> None:
        """Copy one direction. If writing fails because the peer is gone (a killed destination),
        the sender gets a TCP RST, as it would on a direct connection (``back`` is its socket); a
        reset read from the sender reaches the peer as a reset."""
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                if direction == "dst->src" and self.drop_back:
                    self.dropped_bytes += len(data)
                    continue
                if direction == "src->dst" and self.hold_main:
                    self._main_held.append((writer, data))
                    continue
                writer.write(data)
                self.forwarded[direction] += len(data)
                await writer.drain()
            if direction == "src->dst" and self.hold_main:
                self._close_held_main(writer)
                return
            # Orderly EOF: pass it on (half-close), as a direct connection would.
            with contextlib.suppress(OSError, RuntimeError):
                if writer.can_write_eof():
                    writer.write_eof()
        except (ConnectionError, OSError):
            if back is not None:
                _abort_with_rst(back)
            if direction == "src->dst" and self.hold_main:
                self._close_held_main(writer, reset=True)
            else:
                _abort_with_rst(writer)
        except asyncio.CancelledError:
            pass

    def _close_held_main(self, writer: asyncio.StreamWriter, reset: bool = False) -> None:
        """The source closed (or reset) its connection while the main stream is held: the held
        bytes are lost, as the model's broken connection loses what is in flight
        (``model/world.py``, ``break_link``), and the destination gets the close. A connection
        that loses bytes in flight is reset, not closed in order: an RST if bytes were held."""
        lost = sum(len(data) for w, data in self._main_held if w is writer and data is not None)
        self._main_held = [(w, data) for w, data in self._main_held if w is not writer]
        self.dropped_main_bytes += lost
        if reset or lost:
            _abort_with_rst(writer)
        else:
            with contextlib.suppress(OSError, RuntimeError):
                if writer.can_write_eof():
                    writer.write_eof()

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
        self._held.clear()
        self._main_held.clear()
        self.holding = False

    async def close(self) -> None:
        self._closed = True
        self.reset()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
