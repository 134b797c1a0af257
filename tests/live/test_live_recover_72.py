"""Live: a stream error while both QEMU 7.2 sides are in ``postcopy-recover``, on real QEMU.

Selected with ``pytest -m qemu tests/live``; one run of ``harness/recover_window.py`` (about 20 s:
the run waits 15 s for a change that does not come). The destination must die of SIGSEGV, the
source must still be in ``postcopy-recover`` at the end, and ``migmodel conform --config qemu-7.2``
must accept the trace (docs/drift-7.2-recover.md). Skipped, with the reason, when ``qemu.qmp`` or
the host's QEMU 7.2 is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.qemu

QEMU_72 = "/usr/bin/qemu-system-x86_64"


def test_7_2_destination_crashes_and_source_waits(tmp_path: Path) -> None:
    pytest.importorskip("qemu.qmp", reason="the qemu.qmp package is not installed")
    from checker.cli import main as migmodel
    from harness.recover_window import NAME, main
    from harness.scenarios import BinaryError, probe_binary
    from harness.traces import load

    try:
        found = probe_binary(QEMU_72).short
    except BinaryError as exc:
        pytest.skip(str(exc))
    if found != "7.2":
        pytest.skip(f"{QEMU_72} is QEMU {found}, not 7.2")
    assert main(["--src-qemu", QEMU_72, "--dst-qemu", QEMU_72, "--out-dir", str(tmp_path)]) == 0
    out = tmp_path / "7.2-to-7.2" / f"{NAME}.run1.jsonl"
    tr = load(out)
    exits = [ln["exit"] for ln in tr.lines if ln.get("side") == "dst" and "exit" in ln and not ln.get("teardown")]
    assert exits == [-11]
    assert tr.migration_statuses("src")[-1] == "postcopy-recover"
    assert tr.migration_statuses("dst")[-1] == "postcopy-recover"
    assert migmodel(["conform", "--config", "qemu-7.2", str(out)]) == 0
