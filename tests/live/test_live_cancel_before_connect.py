"""Live: ``migrate_cancel`` before the source's TCP connect completed, on real QEMU.

Selected with ``pytest -m qemu tests/live``; one run of ``harness/cancel_before_connect.py`` per
pairing (about 3 s each, 27 s for the 11.1.3 source, which hangs until the teardown). 7.2 and
10.2.2 sources: the connect completes after the cancel, the destination goes ``active`` and
fails, and ``conform`` accepts the run. An 11.1.3 source stays ``cancelling`` with its QMP
monitor silent and the destination ``active`` (tests/test_cancel_before_connect.py: a finding the
model does not have yet). Skipped, with the reason, when ``qemu.qmp`` or a QEMU is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live.test_live_qemu import _binary
from tests.test_cancel_before_connect import assert_hangs

pytestmark = pytest.mark.qemu


def _run(src: str, dst: str, tmp_path: Path) -> Path:
    from harness.cancel_before_connect import NAME, main
    from harness.scenarios import probe_binary

    src_bin, dst_bin = _binary(src), _binary(dst)
    assert main(["--src-qemu", src_bin, "--dst-qemu", dst_bin, "--out-dir", str(tmp_path)]) == 0
    pairing = f"{probe_binary(src_bin).short}-to-{probe_binary(dst_bin).short}"
    return tmp_path / pairing / f"{NAME}.run1.jsonl"


@pytest.mark.parametrize(("src", "dst"), [("7.2", "7.2"), ("10.2", "10.2")])
def test_the_connect_outlives_the_cancel(src: str, dst: str, tmp_path: Path) -> None:
    from checker.cli import main as migmodel
    from harness.traces import load

    out = _run(src, dst, tmp_path)
    tr = load(out)
    assert tr.migration_statuses("src") == ["setup", "cancelling", "cancelled"]
    assert tr.migration_statuses("dst") == ["setup", "active", "failed"]
    assert migmodel(["conform", str(out)]) == 0


def test_an_11_1_source_hangs_in_cancelling(tmp_path: Path) -> None:
    from harness.traces import load

    assert_hangs(load(_run("11.1", "11.1", tmp_path)))
