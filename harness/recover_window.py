"""A stream error while the destination is in ``postcopy-recover``, on real QEMU.

``python -m harness.recover_window --src-qemu PATH --dst-qemu PATH --out-dir DIR [--runs N]``

The run is ``b_pause_recover`` (``harness/scenarios.py``) with the recovery connection made
through the fault proxy: ``migrate-pause`` on the source in postcopy-active, ``migrate-recover``
on the destination, then ``migrate resume=true`` on the source to the proxy. The proxy holds
everything the source sends on the new connection, so the destination never reads
``MIG_CMD_POSTCOPY_RESUME`` and stays in ``postcopy-recover`` (it got there on the connection's
arrival, ``migration.c:postcopy_try_recover``); 0.5 s after both sides report
``postcopy-recover`` the proxy resets the connection (RST, the trace's ``reset`` fault). The run
ends when both sides are at rest, a process is gone, or 15 s have passed.

What QEMU 7.2 does then is the question of docs/drift-7.2-recover.md: its
``savevm.c:postcopy_pause_incoming`` changes the status only from postcopy-active.

Exit codes: 0 every run recorded, 1 a run failed or timed out (its trace is still written),
2 bad input (a missing binary), 130 interrupted.
"""

from __future__ import annotations

import asyncio
import sys

from harness.proxy import FaultProxy
from harness.qmp import Line, is_migration
from harness.record import record_repeatedly
from harness.scenarios import (
    Scenario,
    Session,
    free_port,
)

NAME = "b3_reset_in_recover"
HOLD_S = 0.5


async def _b3_reset_in_recover(s: Session) -> None:
    """Pause, recover through the proxy with the source's bytes held, reset in postcopy-recover."""
    if not (await s.start_postcopy_after_active() and await s.wait_mig("src", "postcopy-active")):
        await s.until_rest()
        return
    await asyncio.sleep(0.3)
    await s.src.qmp.execute("migrate-pause")
    if await s.wait_mig("src", "postcopy-paused") is None or await s.wait_mig("dst", "postcopy-paused") is None:
        await s.until_rest()
        return
    await asyncio.sleep(0.2)
    port2 = free_port()
    ok, _ = await s.dst.qmp.execute("migrate-recover", {"uri": f"tcp:127.0.0.1:{port2}"})
    if not ok:
        await s.until_rest()
        return
    proxy = FaultProxy(port2)
    proxy.hold_main = True  # the destination reads nothing: no MIG_CMD_POSTCOPY_RESUME
    s.proxy = proxy  # closed by the session's teardown
    s.rec.meta["proxy"] = True
    target = await proxy.start()
    recovering: dict[str, bool] = {}
    both = asyncio.Event()

    def seen(line: Line) -> None:
        recovering[str(line["side"])] = True
        if len(recovering) == 2:
            both.set()

    s.rec.on_event(is_migration("src", "postcopy-recover"), seen)
    s.rec.on_event(is_migration("dst", "postcopy-recover"), seen)
    await asyncio.sleep(0.2)
    await s.src.qmp.execute("migrate", {"uri": f"tcp:127.0.0.1:{target}", "resume": True})
    try:
        await asyncio.wait_for(both.wait(), s.step_timeout)
    except TimeoutError:
        s.rec.add({"side": "harness", "note": "timeout waiting for both sides in postcopy-recover"})
        await s.until_rest()
        return
    await asyncio.sleep(HOLD_S)
    s.fault("reset", held_main_bytes=proxy.held_main_bytes)
    proxy.reset()
    await s.until_rest(timeout=15)


SCENARIO = Scenario(
    NAME,
    "as b_pause_recover, the resume connection through the proxy with the source's bytes held; "
    "RST 0.5 s after both sides are in postcopy-recover",
    _b3_reset_in_recover,
)


def main(argv: list[str]) -> int:
    return record_repeatedly("python -m harness.recover_window", (__doc__ or "").split("\n")[0], SCENARIO, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
