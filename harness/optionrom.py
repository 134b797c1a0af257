"""A 512-byte x86 option ROM that keeps 96 pages of guest RAM dirty for ever (the "idle guest").

Why: the PONG 0x42 wait only blocks when the source has nothing left to send (pending == 0), and
a guest whose RAM is random data keeps pages pending. This ROM is the whole guest
(``-option-rom``, no disk, no RAM blob): SeaBIOS calls its init vector during boot and the code
never returns. It loops over the 96 pages at 0x20000-0x7ffff, incrementing one byte in each and
then executing ``invlpg`` on that page. Under TCG a write through a TLB entry that is already
marked dirty does not set the page's dirty bit again after migration cleared it; the ``invlpg``
drops the entry, so every round dirties all 96 pages again (docs/real-qemu.md, "The wait for PONG
0x42 when nothing is pending"). With a 512 KiB/s bandwidth limit precopy then never converges
(384 KiB dirty per round), the rest of RAM is zero, and once ``migrate-start-postcopy`` switches
over the 96 pages go in the first postcopy iteration: pending is 0 right after ``postcopy-device``.

The bytes are encoded here by hand, one instruction per line (16-bit real mode, as SeaBIOS calls
a legacy ROM's init vector at offset 3). Offsets 0x18-0x1b stay zero: no PCI data structure and
no PnP header, so SeaBIOS treats it as a legacy ROM. The last byte makes the sum of all 512 bytes
0 modulo 256, which SeaBIOS checks before it runs the ROM.
"""

from __future__ import annotations

import os
from pathlib import Path

SIZE = 512
FIRST_PAGE_SEGMENT = 0x2000  # 0x20000 >> 4
PAGES = 96  # 0x20000-0x7ffff
LOOP_AT = 0x20

#: (offset, bytes, assembly) -- the whole program.
PROGRAM: tuple[tuple[int, bytes, str], ...] = (
    (0x00, b"\x55\xaa", "ROM signature"),
    (0x02, b"\x01", "size in 512-byte blocks"),
    (0x03, b"\xeb" + bytes([LOOP_AT - 0x05]), "jmp short 0x20 (init vector)"),
    (0x20, b"\xfa", "cli"),
    (0x21, b"\xb8" + FIRST_PAGE_SEGMENT.to_bytes(2, "little"), "outer: mov ax, 0x2000"),
    (0x24, b"\xb9" + PAGES.to_bytes(2, "little"), "mov cx, 96"),
    (0x27, b"\x8e\xc0", "inner: mov es, ax"),
    (0x29, b"\x26\xfe\x06\x00\x00", "inc byte [es:0]"),
    (0x2E, b"\x26\x0f\x01\x3e\x00\x00", "invlpg [es:0]"),
    (0x34, b"\x05\x00\x01", "add ax, 0x100 (next 4 KiB page)"),
    (0x37, b"\xe2" + bytes([(0x27 - 0x39) & 0xFF]), "loop inner"),
    (0x39, b"\xeb" + bytes([(0x21 - 0x3B) & 0xFF]), "jmp outer"),
)


def image() -> bytes:
    """The 512 bytes of the ROM, checksum included."""
    rom = bytearray(SIZE)
    end = 0
    for offset, code, _asm in PROGRAM:
        if offset < end:
            raise AssertionError(f"overlapping code at {offset:#x}")
        rom[offset:offset + len(code)] = code
        end = offset + len(code)
    rom[SIZE - 1] = (-sum(rom[: SIZE - 1])) & 0xFF
    return bytes(rom)


def write(folder: Path) -> Path:
    """Write the ROM into ``folder`` (atomically, once) and return its path."""
    data = image()
    path = folder / "dirty96.rom"
    if path.is_file() and path.read_bytes() == data:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".dirty96.rom.{os.getpid()}"
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path
