"""``migrate_cancel`` before the source's TCP connect completed, recorded on real QEMU by
``harness/cancel_before_connect.py`` (docs/qemu-qtest.md, "A cancel that completes before the
connect does").

* 7.2 -> 7.2, 10.2.2 -> 10.2.2 and 10.2.2 -> 11.1.3 (``tests/fixtures/traces/variants/``): the
  connect completes after the cancel, the destination goes ``active`` and fails; each run is a
  behaviour of the model (checked with every fixture by tests/test_conform.py, and here with its
  shape).
* An 11.1.3 source (``tests/gaps/``, a finding not yet in the model): it stays ``cancelling``, its
  QMP monitor answers nothing (``query-status``: no reply within 5 s), and the destination stays
  ``active``, until the destination is quit at the teardown. The model's 11.1 completes the
  cancel at once, so ``conform`` rejects these runs at the destination's ``active``; when the
  model learns the hang, this test fails: move the traces to the variants.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.cli import main as migmodel
from harness.traces import Trace, load

TESTS = Path(__file__).parent
VARIANTS = TESTS / "fixtures" / "traces" / "variants"
NAME = "c0_cancel_before_connect.jsonl"
MODELLED = ["7.2-to-7.2", "10.2-to-10.2", "10.2-to-11.1"]
HANGS = ["11.1-to-11.1", "11.1-to-10.2"]


@pytest.mark.parametrize("pairing", MODELLED)
def test_the_connect_outlives_the_cancel(pairing: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = VARIANTS / pairing / NAME
    tr = load(path)
    assert tr.migration_statuses("src") == ["setup", "cancelling", "cancelled"]
    assert tr.migration_statuses("dst") == ["setup", "active", "failed"]
    # the cancel came before the gate let the connect through
    lines = tr.lines
    cancel = next(i for i, ln in enumerate(lines) if ln.get("command") == "migrate_cancel")
    gate = next(i for i, ln in enumerate(lines) if "gate opened" in str(ln.get("note", "")))
    active = next(i for i, ln in enumerate(lines) if ln.get("side") == "dst" and ln.get("data") == {"status": "active"})
    assert cancel < gate < active
    assert migmodel(["conform", str(path)]) == 0, capsys.readouterr().out


def assert_hangs(tr: Trace) -> None:
    """Before the teardown: the source only got to ``cancelling``, the destination to ``active``,
    and every ``query-status`` the source was asked got no reply."""
    before = [ln for ln in tr.lines if not ln.get("teardown")]
    src = [str(ln["data"]["status"]) for ln in before if ln.get("side") == "src" and ln.get("event") == "MIGRATION"]
    dst = [str(ln["data"]["status"]) for ln in before if ln.get("side") == "dst" and ln.get("event") == "MIGRATION"]
    assert (src, dst) == (["setup", "cancelling"], ["setup", "active"])
    unanswered = [ln for ln in before if ln.get("side") == "src" and ln.get("command") == "query-status"]
    assert unanswered and all("no reply" in str(ln.get("error", {})) for ln in unanswered)


@pytest.mark.parametrize("pairing", HANGS)
def test_an_11_1_source_hangs_in_cancelling(pairing: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = TESTS / "gaps" / f"c0_cancel_before_connect.{pairing}.jsonl"
    assert_hangs(load(path))
    assert migmodel(["conform", str(path)]) == 1
    out = capsys.readouterr().out
    assert "rejected at dst observation #3" in out and "`MIGRATION active`" in out, out


@pytest.mark.parametrize("pairing", MODELLED)
def test_a_source_that_completed_the_cancel_does_not_count_as_hung(pairing: str) -> None:
    with pytest.raises(AssertionError):
        assert_hangs(load(VARIANTS / pairing / NAME))
