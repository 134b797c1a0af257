"""Runs the report shows besides each property's shortest counterexample.

The shortest counterexample of a property is one run among many of the same length or longer. Where
real QEMU showed a run of another shape, the report shows that one too: the shortest run that takes
only the migration's own steps, the three QMP commands that start a postcopy migration and the
named faults. Real QEMU 11.1.3 after a silent destination -> source partition
(docs/real-qemu.md, "The wait for PONG 0x42 when nothing is pending"): a reset ran both guests
(4 of 4), a destination kill rolled the guest back (4 of 4). The shortest counterexamples of
``no-split-brain-after-partition`` and ``no-rollback-after-partition`` on ``qemu-11.1`` end with the
destination's ``migrate-pause`` instead, which a real source would not see through the partition
(docs/faults.md, "Known limit").
"""

from __future__ import annotations

from collections.abc import Callable

from checker.spec import NamedRun
from model.system import Action

__all__ = ("RUNS",)

STARTS_POSTCOPY = ("migrate", "migrate-incoming", "migrate-start-postcopy")


def _only(*faults: str) -> Callable[[Action], bool]:
    """QEMU's own steps, the commands that start a postcopy migration, and the named faults."""

    def admit(a: Action) -> bool:
        if a.actor == "fault":
            return a.name in faults
        return not a.actor.endswith("qmp") or a.name in STARTS_POSTCOPY

    return admit


def _named(name: str) -> Callable[[Action], bool]:
    return lambda a: a.name == name


_THEN_RESET = "a silent partition (destination -> source), then a reset: both guests run"
_THEN_KILL = "a silent partition (destination -> source), then the destination is killed: the guest rolls back"

RUNS: tuple[NamedRun, ...] = (
    NamedRun(_THEN_RESET, "qemu-11.1", "no-split-brain-after-partition", _only("partition dst->src", "reset"),
             must=(_named("partition dst->src"), _named("reset"))),
    NamedRun(_THEN_KILL, "qemu-11.1", "no-rollback-after-partition", _only("partition dst->src", "dst-crash"),
             must=(_named("partition dst->src"), _named("dst-crash"))),
    NamedRun(_THEN_KILL, "qemu-11.1-shared-disk", "no-rollback-after-partition",
             _only("partition dst->src", "dst-crash"), must=(_named("partition dst->src"), _named("dst-crash"))),
)
