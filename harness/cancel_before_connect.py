"""``migrate_cancel`` while the source's TCP connect is still pending, on real QEMU.

``python -m harness.cancel_before_connect --src-qemu PATH --dst-qemu PATH --out-dir DIR [--runs N]``

The source connects through a gate: a listener whose accept queue is full (backlog 0, one
connection of the gate's own queued), so the kernel drops the source's SYN and its connect stays
pending until the SYN is sent again (about 1 s later). ``migrate_cancel`` goes out as soon as
``migrate`` returned; 0.2 s after the source reported the cancel, the gate drains its queue and
forwards the next connection to the destination. The run ends when both sides are at rest, a
process is gone, or 15 s have passed.

What QEMU does then is the subject of docs/qemu-qtest.md, "A cancel that completes before the
connect does": the connect is not stopped, the migration thread still sends the header, and
the destination goes ``active``. QEMU's own migration-test hits the same window by chance
(``cancel/src/after/*``); this makes it happen every time.

Exit codes: 0 every run recorded, 1 a run failed or timed out (its trace is still written),
2 bad input (a missing binary), 130 interrupted.
"""

from __future__ import annotations

import asyncio
import socket
import sys

from harness.proxy import FaultProxy
from harness.record import record_repeatedly
from harness.scenarios import (
    Scenario,
    Session,
)

NAME = "c0_cancel_before_connect"
OPEN_AFTER_S = 0.2


class GateProxy(FaultProxy):
    """A :class:`FaultProxy` that lets no connection in until :meth:`open_gate`."""

    _listener: socket.socket
    _filler: socket.socket

    async def start(self) -> int:
        self._listener = socket.socket()
        self._listener.bind((self.host, 0))
        self._listener.listen(0)
        self.port = int(self._listener.getsockname()[1])
        self._filler = socket.socket()
        self._filler.connect((self.host, self.port))  # the accept queue is full from now on
        return self.port

    async def open_gate(self) -> None:
        """Drain the queue; the source's next SYN is accepted and forwarded."""
        conn, _ = self._listener.accept()
        conn.close()
        self._filler.close()
        self._listener.setblocking(False)
        self._server = await asyncio.start_server(self._handle, sock=self._listener)


async def _c0_cancel_before_connect(s: Session) -> None:
    """``migrate_cancel`` right after ``migrate``, before the connect completed; then let it."""
    await s.src.qmp.execute("migrate_cancel")
    await s.wait_mig("src", "cancelling", "cancelled", timeout=5)
    await asyncio.sleep(OPEN_AFTER_S)
    if not isinstance(s.proxy, GateProxy):
        raise TypeError("the gate proxy was not installed")
    s.rec.add({"side": "harness", "note": "gate opened: the source's next SYN is accepted"})
    await s.proxy.open_gate()
    await s.until_rest(timeout=15)


SCENARIO = Scenario(
    NAME,
    "migrate_cancel right after migrate, while the source's TCP connect is held pending by a full "
    "accept queue; the connect then completes",
    _c0_cancel_before_connect,
    proxy=True,
    proxy_class=GateProxy,
)


def main(argv: list[str]) -> int:
    return record_repeatedly("python -m harness.cancel_before_connect", (__doc__ or "").split("\n")[0], SCENARIO, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
