"""Live: QEMU's own migration tests on the built 10.2.2, recorded and checked against the model.

Selected with ``pytest -m qemu tests/live``. Runs the ``ci`` set of ``harness/qtest_scope.json``
(every ``cancel/src/after/<status>`` and ``postcopy/recovery/plain``) through ``migmodel qtest``:
each QEMU test must pass and its trace must be accepted by ``conform`` (for its own set-up and for
its named configuration, e.g. ``qemu-10.2-precopy``) with the MIGRATION statuses of the committed
fixture (``tests/fixtures/traces/qemu-qtest/``); a known model gap of ``harness/qtest_scope.json``
(none today) must give a well-formed trace (conform exit 0 or 1). No run is recorded twice: the
precopy-only tests are checked with the precopy-only model, whose source does not wait for the
destination's SHUT(0) (the postcopy-ram model used before did, so a loaded machine could order
the two `completed` events the other way).
Skipped with the reason when the 10.2 build (``harness/setup-qemu.sh --with-10.2``) is missing.
Each test takes 35-45 s on the 2-core machine under load, most of it the test guest booting under
TCG; the 9 took 334 s (5 min 34 s) with the load average about 9.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.qtest import DEFAULT_BUILD, PREFIX, load_scope, trace_name
from harness.traces import load

pytestmark = pytest.mark.qemu

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "traces" / "qemu-qtest"
SCOPE = load_scope()
CI = list(SCOPE.ci)
RACY_ACTIVE = {PREFIX + f"cancel/src/after/{s}" for s in ("setup", "cancelling", "cancelled")}
"""Cancelled right after ``migrate``: whether the destination read the channel magic (``active``,
then ``failed``) or not (``setup -> failed``, docs/qemu-qtest.md) depends on the timing; the model
allows both, the fixture holds one."""


def _header_lost_in_the_model(test: str, trace: Path, verdict: str) -> bool:
    """The one rejected shape that is a known model gap (seen once, CI of 04c0bbb): the source
    connected and went ``active``, ``migrate_cancel`` shut the stream down before the destination
    accepted it, and the destination still read the header (``active``, then ``failed``). The
    model's close drops what is in flight, so its destination fails without ``active``."""
    tr = load(trace)
    return (test == PREFIX + "cancel/src/after/active"
            and tr.migration_statuses("src") == ["setup", "active", "cancelling", "cancelled"]
            and tr.migration_statuses("dst") == ["setup", "active", "failed"]
            and "rejected at dst observation #3" in verdict and "`MIGRATION active`" in verdict)


@pytest.mark.parametrize("test", CI, ids=[t.removeprefix("/x86_64/migration/") for t in CI])
def test_qemu_migration_test_conforms(test: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build = Path(os.environ.get("MIGMODEL_QTEST_BUILD", str(DEFAULT_BUILD)))
    for need in (build / "qemu-system-x86_64", build / "tests" / "qtest" / "migration-test"):
        if not os.access(need, os.X_OK):
            pytest.skip(f"{need} missing: run harness/setup-qemu.sh --with-10.2")
    from checker.cli import main as migmodel

    rc = migmodel(["qtest", "--test", test, "--build", str(build), "--out-dir", str(tmp_path), "--no-conform"])
    out = capsys.readouterr().out
    assert rc == 0, out  # the QEMU test passed and its trace was written
    trace = tmp_path / trace_name(test)
    code = migmodel(["conform", str(trace)])
    verdict = capsys.readouterr().out
    if test in SCOPE.gaps:
        # a known model gap: the run is recorded and checked (a well-formed trace: exit 0 or 1)
        assert code in (0, 1), verdict
        assert load(trace).migration_statuses("src"), "no source MIGRATION event recorded"
        return
    if code == 1 and _header_lost_in_the_model(test, trace, verdict):
        pytest.xfail("known model gap: the model's close drops the header in flight, real QEMU delivers it "
                     "(docs/qemu-qtest.md, 'A cancel that completes before the connect does', the abstraction)")
    assert code == 0, verdict
    named = SCOPE.in_scope[test]["named"]
    if named is not None:
        assert migmodel(["conform", "--config", named, str(trace)]) == 0, capsys.readouterr().out
    got, want = load(trace), load(FIXTURES / trace_name(test))
    for side in ("src", "dst"):
        seen, fixed = got.migration_statuses(side), want.migration_statuses(side)
        if side == "dst" and test in RACY_ACTIVE:
            seen, fixed = [s for s in seen if s != "active"], [s for s in fixed if s != "active"]
        if side == "src" and test in RACY_ACTIVE:
            # migrate_cancel shuts the return path down before its compare-and-swap, so the
            # migration thread may fail in between (docs/replay-gaps.md): the run conformed above;
            # here only where the source ended is compared with the fixture
            seen, fixed = seen[-1:], fixed[-1:]
        assert seen == fixed, (side, out)
