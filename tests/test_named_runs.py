"""The report's named runs (properties/runs.py): real QEMU 11.1.3's outcomes after a silent
destination -> source partition are counterexamples of their own, with the named faults in them
(issue 12: "silent partition then reset -> both guests run (11.1, no shared disk); silent partition
then destination kill -> rollback, also with a shared disk")."""

from __future__ import annotations

import pytest

from checker.analysis import shortest_run
from checker.cli import load_suite
from checker.explore import explore
from properties.runs import RUNS, _only

SUITE = load_suite()
PROPS = {p.name: p for p in SUITE.properties()}


@pytest.mark.parametrize("run", RUNS, ids=lambda r: f"{r.config}:{r.prop}")
def test_each_named_run_is_a_counterexample_with_its_faults(run: object) -> None:
    from checker.spec import NamedRun

    assert isinstance(run, NamedRun)
    ex = explore(SUITE.build(SUITE.configs()[run.config]))
    prop = PROPS[run.prop]
    path = shortest_run(ex, prop, run.admit)
    assert path is not None
    assert not prop.predicate(path[-1].state)
    assert all(prop.predicate(step.state) for step in path[:-1])
    names = [str(step.action) for step in path[1:]]
    for want in run.must:
        assert any(step.action is not None and want(step.action) for step in path), names
    faults = [n for n in names if n.startswith("fault: ")]
    assert faults[0] == "fault: partition dst->src", names
    # Without the second fault, only the source's TCP giving up (pages still unacknowledged) ends
    # the partition's silence: never the run the issue names.
    alone = shortest_run(ex, prop, _only("partition dst->src"))
    assert alone is None or "src/mig: tcp: retransmission timeout" in [str(s.action) for s in alone]
    assert shortest_run(ex, prop, _only()) is None  # no fault at all: no such violation


def test_the_report_lists_them() -> None:
    assert {(r.config, r.prop) for r in RUNS} == {
        ("qemu-11.1", "no-split-brain-after-partition"), ("qemu-11.1", "no-rollback-after-partition"),
        ("qemu-11.1-shared-disk", "no-rollback-after-partition")}
    assert SUITE.runs is not None and tuple(SUITE.runs()) == RUNS
