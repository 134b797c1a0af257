"""The shape of a transition-table row, shared by both sides, the operator and the fault injector.

A row is one thing a QEMU thread (or the operator, or the environment) can do: from which
statuses, under which guard, to which status, with which effect on the rest of the world, and the
QEMU function that does it. Rows are data; the ``transitions`` machines (``machines.py``) and the
compiled successor function (``system.py``) are both built from them.

``dest`` follows ``migrate_set_state``: a status change happens only from one of ``source``
(QEMU's compare-and-swap); ``dest=None`` is an internal transition (a flag, a message, a thread
position). A row with ``refusal`` is a QMP command QEMU answers with an error: a visible step
that changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from model.config import Config
from model.status import MigrationStatus
from model.world import World

Guard = Callable[[Config, World], bool]
Effect = Callable[[Config, World], World]


def always(c: Config, w: World) -> bool:
    return True


def unchanged(c: Config, w: World) -> World:
    return w


@dataclass(frozen=True)
class Row:
    """One transition. ``name`` is unique in its table and is what traces print."""

    side: str  # "src" | "dst" | "env"
    actor: str  # thread or agent: "mig", "rp", "main", "listen", "qmp", "fault"
    name: str
    source: frozenset[MigrationStatus]  # statuses of ``side`` it fires from; empty = any
    dest: MigrationStatus | None
    guard: Guard
    effect: Effect
    qemu: str  # "file:function" of the QEMU code that does this
    doc: str = ""
    refusal: str = ""  # QMP error text, for a refused command
    fails: bool = False  # a source error path: FAILED, or FAILING where the version has it
    fault: str = ""  # fault kind (budgeted, ``model/faults.py`` KINDS), for fault-injector rows
    since: tuple[int, ...] = ()  # the row exists from this release of its side's QEMU on ...
    until: tuple[int, ...] = ()  # ... and in releases before this one (empty: no bound)

    def exists_on(self, config: Config) -> bool:
        """Whether this row is QEMU code of ``config``'s release on the row's side (``since``
        inclusive, ``until`` exclusive; versions compare as ordered numbers)."""
        if not (self.since or self.until) or self.side not in ("src", "dst"):
            return True
        number = (config.src if self.side == "src" else config.dst).number
        return (not self.since or number >= self.since) and (not self.until or number < self.until)

    @property
    def trigger(self) -> str:
        """The ``transitions`` trigger: one per row, so a trace names exactly what happened."""
        return self.name


def statuses(*s: MigrationStatus) -> frozenset[MigrationStatus]:
    return frozenset(s)


ANY: frozenset[MigrationStatus] = frozenset()
