"""Live: QEMU's own migration tests on the built 10.2.2, recorded and checked against the model.

Selected with ``pytest -m qemu tests/live``. Runs the ``ci`` set of ``harness/qtest_scope.json``
(every ``cancel/src/after/<status>`` and ``postcopy/recovery/plain``) through ``migmodel qtest``:
each QEMU test must pass and its trace must be accepted by ``conform`` with the MIGRATION statuses
of the committed fixture (``tests/fixtures/traces/qemu-qtest/``); a known model gap of
``harness/qtest_scope.json`` must give a well-formed trace (conform exit 0 or 1).
Skipped with the reason when the 10.2 build (``harness/setup-qemu.sh --with-10.2``) is missing.
Each test takes 35-45 s on the 2-core machine under load, most of it the test guest booting under
TCG.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.qtest import DEFAULT_BUILD, load_scope, trace_name
from harness.traces import load

pytestmark = pytest.mark.qemu

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "traces" / "qemu-qtest"
SCOPE = load_scope()
CI = list(SCOPE.ci)


@pytest.mark.parametrize("test", CI, ids=[t.removeprefix("/x86_64/migration/") for t in CI])
def test_qemu_migration_test_conforms(test: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build = Path(os.environ.get("MIGMODEL_QTEST_BUILD", str(DEFAULT_BUILD)))
    for need in (build / "qemu-system-x86_64", build / "tests" / "qtest" / "migration-test"):
        if not os.access(need, os.X_OK):
            pytest.skip(f"{need} missing: run harness/setup-qemu.sh --with-10.2")
    from checker.cli import main as migmodel

    # A precopy-only test (cancel/src/after/*) has no return path, but the model of a precopy-only
    # recording does (docs/qemu-10.2.md: the model has no configuration without postcopy), so its
    # source completes only after the destination's SHUT(0). Under load the real source's
    # `completed` can come more than the 1 ms tolerance before the destination's: a known limit of
    # that approximation, seen in a live run here. Such a run is recorded once more; a second
    # rejection fails.
    for attempt in range(2):
        rc = migmodel(["qtest", "--test", test, "--build", str(build), "--out-dir", str(tmp_path),
                       "--no-conform"])
        out = capsys.readouterr().out
        assert rc == 0, out  # the QEMU test passed and its trace was written
        trace = tmp_path / trace_name(test)
        code = migmodel(["conform", str(trace)])
        verdict = capsys.readouterr().out
        if code == 0 or test in SCOPE.gaps or attempt == 1:
            break
    if test in SCOPE.gaps:
        # a known model gap: the run is recorded and checked (a well-formed trace: exit 0 or 1),
        # but its outcome may differ from the fixture's (cancel/src/after/setup: the destination
        # sometimes reaches `active` before the connection closes)
        assert code in (0, 1), verdict
        assert load(trace).migration_statuses("src"), "no source MIGRATION event recorded"
        return
    assert code == 0, verdict
    got, want = load(trace), load(FIXTURES / trace_name(test))
    for side in ("src", "dst"):
        assert got.migration_statuses(side) == want.migration_statuses(side), (side, out)
