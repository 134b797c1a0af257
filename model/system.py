"""The whole system: ``initial_states`` and ``successors`` over ``World`` values.

This is TLA+'s ``Init`` and ``Next``: ``Next`` is the disjunction of every row of the source table,
the destination table, the operator's commands and the fault injector. A row fires when its side's
process is alive, its side's status is one of the row's ``source`` statuses, and its guard holds;
the effect and the status change (``migrate_set_state``) then give the next world.

Three details are applied here, once, for every row:
* ``fails`` rows go to FAILING instead of FAILED on a source that has the ``failing`` status
  (11.1); the cleanup bottom half then moves FAILING to FAILED.
* a destination row to SETUP changes no status on a destination without it (7.2:
  ``Version.incoming_setup``; ``migrate-incoming`` still emits the event, ``model/events.py``).
* faults spend one unit of their kind's budget and one of the total.

``compile_rows`` keeps the rows that exist on the configuration's releases (``Row.since`` /
``Row.until``) and whose fault kind has a budget, and indexes them by status; ``successors`` is
the compiled search function, and ``enabled`` the rules every row obeys besides its guard.
``machines.py`` drives the same rows through ``transitions`` machines, and a test
proves both give the same successors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

from checker.spec import Component, Factoring
from model import destination, faults, management, source
from model.config import Config
from model.status import TERMINAL, MigrationStatus
from model.status import MigrationStatus as S
from model.table import Row
from model.world import (
    BQL_HELD,
    DL_ON,
    DM_IDLE,
    DM_LISTEN,
    LINK_UP,
    PC_DONE,
    World,
    initial,
)

B_TOTAL = faults.TOTAL


class Action(NamedTuple):
    """One step: who acted (``side/actor``), which row, and a refusal text if QMP refused."""

    actor: str
    name: str
    refused: str = ""

    def __str__(self) -> str:
        return f"{self.actor}: {self.name}" + (f" (refused: {self.refused})" if self.refused else "")


def all_rows() -> tuple[Row, ...]:
    """Every row, in the order successors are listed: the source's actors, the destination's,
    then the fault injector; each actor's rows in table order (``by_actor``)."""
    return by_actor(management.ROWS + source.ROWS + destination.ROWS + faults.ROWS)


# ---------------------------------------------------------------------------------------------
# The actors and what each can see and change.
#
# Each thread of each QEMU (and the operator's QMP commands to each side, and the fault
# injector) is one component of Next. A component's rows read and write only the fields below:
# the rest of the world is UNCHANGED by it, and its moves do not depend on it. The return-path
# thread, for instance, sees only its socket and the flags it sets; the listen thread never looks
# at the source. The compact search (checker/compact.py) relies on these footprints to compute a
# thread's moves once for every global state that agrees on them; tests/test_compact.py traces
# every guard and effect over every reachable state to prove them, and compares the two searches.

_SRC = "s_alive s_status h_pca"  # every source row: gated on the process and its status; apply()
_DST = "d_alive d_status"  # every destination row
ACTORS: tuple[tuple[str, str, str], ...] = (
    ("src", "qmp", f"{_SRC} s_run s_live s_pc s_start_postcopy s_rp s_error s_cancel d_status d_alive d_recover "
                   "link main rp part_main part_rp disk disk_broken"),
    ("src", "mig", f"{_SRC} s_run s_live s_pc s_start_postcopy s_cancel s_pending s_loaded s_acked s_rp d_status "
                   "d_main d_alive link main rp part_main part_rp disk disk_broken h_switched h_acted h_postcopy "
                   "h_fault"),
    ("src", "main", f"{_SRC} s_pc s_rp s_cancel d_status d_alive d_recover link main rp part_main part_rp"),
    ("src", "rp", f"{_SRC} s_loaded s_acked s_rp s_error link rp part_rp"),
    ("dst", "qmp", f"{_DST} s_status s_alive s_pc d_run d_main d_bh d_autostart d_rp d_recover h_dst_ran "
                   "link main rp part_main part_rp disk disk_broken"),
    ("dst", "main", f"{_DST} s_status s_alive s_pc d_pcs d_run d_main d_pkg d_bh d_autostart d_rp d_recover link "
                    "main rp part_main part_rp disk disk_broken h_dst_ran h_shut s_live"),
    ("dst", "listen", f"{_DST} d_pcs d_main d_pkg d_listen d_rp d_ferr d_recover link main rp part_main part_rp "
                      "disk h_shut"),
    ("env", "fault", "budget h_fault s_status s_alive s_pc s_cancel d_status d_alive d_run d_main d_pkg d_listen d_bh "
                     "d_autostart d_rp d_ferr link main rp part_main part_rp disk disk_broken h_devload h_shut "
                     "h_partition h_postcopy"),
)
# A killed QEMU's threads do nothing: the gate of each side's actors. The fault injector does
# nothing once the total budget is spent (``successors`` below): its gate is the budget.
_GATE = {"src": "s_alive", "dst": "d_alive", "env": "budget"}


def _spent(budget: tuple[int, ...]) -> bool:
    return budget[B_TOTAL] <= 0


_IDLE = {"env": _spent}
FOOTPRINT: dict[tuple[str, str], frozenset[str]] = {(side, actor): frozenset(f.split()) for side, actor, f in ACTORS}


def actor_of(row: Row) -> tuple[str, str]:
    """The component a row belongs to: (side, thread), or the fault injector."""
    return ("env", "fault") if row.fault or row.side == "env" else (row.side, row.actor)


def by_actor(rows: Sequence[Row]) -> tuple[Row, ...]:
    """The rows grouped by actor in ``ACTORS`` order, each actor's rows in their given order."""
    rank = {(side, actor): i for i, (side, actor, _) in enumerate(ACTORS)}
    for row in rows:
        if actor_of(row) not in rank:
            raise ValueError(f"row {row.name!r}: actor {actor_of(row)} is not declared in ACTORS")
    return tuple(sorted(rows, key=lambda row: rank[actor_of(row)]))


@dataclass(frozen=True)
class Compiled:
    """The rows of one configuration, indexed by the status they fire from."""

    config: Config
    rows: tuple[Row, ...]
    src: dict[MigrationStatus, tuple[tuple[Row, Action, MigrationStatus | None], ...]]
    dst: dict[MigrationStatus, tuple[tuple[Row, Action, MigrationStatus | None], ...]]
    env: tuple[tuple[Row, Action, MigrationStatus | None], ...]


def effective_dest(config: Config, row: Row) -> MigrationStatus | None:
    """The status a row really moves to on this configuration: FAILING for a failing source
    that has it; no change for a destination that never has SETUP (7.2 listens with the status
    NONE: ``Version.incoming_setup``)."""
    if row.fails and row.dest is S.FAILED and config.src.failing:
        return S.FAILING
    if row.side == "dst" and row.dest is S.SETUP and not config.dst.incoming_setup:
        return None
    return row.dest


def action_of(row: Row) -> Action:
    actor = "fault" if row.fault else f"{row.side}/{row.actor}"
    return Action(actor, row.name, row.refusal)


def compile_rows(config: Config, rows: Sequence[Row] | None = None) -> Compiled:
    budget = faults.budget_vector(config.faults)
    rows = tuple(r for r in (all_rows() if rows is None else by_actor(rows))
                 if r.exists_on(config) and (not r.fault or budget[faults.SLOT[r.fault]] > 0))
    by: dict[str, dict[MigrationStatus, list[tuple[Row, Action, MigrationStatus | None]]]] = {
        "src": {s: [] for s in S}, "dst": {s: [] for s in S}}
    env: list[tuple[Row, Action, MigrationStatus | None]] = []
    for row in rows:
        entry = (row, action_of(row), effective_dest(config, row))
        if row.fault or row.side == "env":
            env.append(entry)
            continue
        for status in (row.source or frozenset(S)):
            by[row.side][status].append(entry)
    return Compiled(
        config=config,
        rows=rows,
        src={s: tuple(v) for s, v in by["src"].items()},
        dst={s: tuple(v) for s, v in by["dst"].items()},
        env=tuple(env),
    )


def apply(config: Config, row: Row, dest: MigrationStatus | None, w: World) -> World:
    """The effect of a row whose guard holds, then its status change and the budget."""
    new = row.effect(config, w)
    if dest is not None:
        if row.side == "src":
            new = new._replace(s_status=dest, h_pca=new.h_pca or dest is S.POSTCOPY_ACTIVE)
        else:
            new = new._replace(d_status=dest)
    if row.fault:
        new = new._replace(budget=faults.spend(new.budget, row.fault),
                           h_fault=new.h_fault or row.fault in faults.FAILURES)
    return new


_MAIN_LOOP = frozenset({"qmp", "main"})


def _main_loop_waits(row: Row, w: World) -> bool:
    """Someone else holds the source's BQL: ``postcopy_start`` (steps 3-19), or a
    ``migrate_cancel`` between its return-path shutdown and its compare-and-swap (only that
    CAS may run)."""
    return w.s_pc in BQL_HELD or (w.s_cancel and row.name not in management.CANCEL_CAS)


def enabled(row: Row, w: World) -> bool:
    """The rules every row obeys besides its guard (``successors`` applies the same ones through
    its status index): the row's process is alive and in one of the row's statuses; the
    source's main loop (QMP, bottom halves) waits while ``postcopy_start`` holds the BQL; a fault
    needs budget left for its kind and in total."""
    if row.fault and (w.budget[faults.SLOT[row.fault]] <= 0 or w.budget[B_TOTAL] <= 0):
        return False
    if row.side == "src":
        if not w.s_alive or (row.source and w.s_status not in row.source):
            return False
        return row.fault != "" or not (row.actor in _MAIN_LOOP and _main_loop_waits(row, w))
    if row.side == "dst":
        return w.d_alive and not (row.source and w.d_status not in row.source)
    return True


def successors(compiled: Compiled, w: World) -> list[tuple[Action, World]]:
    """Every enabled action and the world it leads to, in table order.

    The hot loop of the search: ``enabled`` unrolled; rows are pre-indexed by status, and the
    per-row checks that do not depend on the guard (the BQL, fault budgets) are plain comparisons.
    """
    c = compiled.config
    out: list[tuple[Action, World]] = []
    bql_held = w.s_pc in BQL_HELD
    cancel_held = w.s_cancel
    if w.s_alive:
        for row, action, dest in compiled.src[w.s_status]:
            if bql_held and row.actor in _MAIN_LOOP:
                continue
            if cancel_held and row.actor in _MAIN_LOOP and row.name not in management.CANCEL_CAS:
                continue
            if row.guard(c, w):
                out.append((action, apply(c, row, dest, w)))
    if w.d_alive:
        for row, action, dest in compiled.dst[w.d_status]:
            if row.guard(c, w):
                out.append((action, apply(c, row, dest, w)))
    budget = w.budget
    if budget[B_TOTAL] > 0:
        for row, action, dest in compiled.env:
            if budget[faults.SLOT[row.fault]] <= 0:
                continue
            if row.side == "dst" and (not w.d_alive or (row.source and w.d_status not in row.source)):
                continue
            if row.side == "src" and (not w.s_alive or (row.source and w.s_status not in row.source)):
                continue
            if row.guard(c, w):
                out.append((action, apply(c, row, dest, w)))
    return out


def initial_states(config: Config) -> list[World]:
    return [initial(config, faults.budget_vector(config.faults))]


def is_final(w: World) -> bool:
    """Both sides are where a migration is meant to end: the source's migration thread is done
    (or the process is gone) and the destination is terminal, gone, or was never connected to.
    The initial state is not final: the operator is expected to start the migration."""
    src_done = (not w.s_alive) or w.s_pc == PC_DONE
    dst_done = ((not w.d_alive) or (w.d_status in TERMINAL and w.d_listen != DL_ON and not w.d_bh)
                or (w.d_main in (DM_IDLE, DM_LISTEN) and w.link != LINK_UP))
    return src_done and dst_done


# ---------------------------------------------------------------------------------------------
# The checker's view (checker.spec.Model): the model of one configuration.


def _msg(m: object) -> str:
    if isinstance(m, tuple):
        return f"{m[0]}[{', '.join(m[1])}]"
    return str(m)


class MigrationModel:
    """One configuration of the QEMU model, as the generic checker sees it."""

    def __init__(self, config: Config, rows: Sequence[Row] | None = None) -> None:
        self.config = config
        self.compiled = compile_rows(config, rows)
        self.custom_rows = rows is not None

    def factoring(self) -> Factoring | None:
        """The actors as components of Next, for the compact search (see ``ACTORS``). Only for
        QEMU's own tables: the footprints are proven for them, not for a mutant's rows."""
        if self.custom_rows:
            return None
        components = []
        for side, actor, _ in ACTORS:
            rows = [r for r in self.compiled.rows if actor_of(r) == (side, actor)]
            if rows:
                components.append(Component(f"{side}/{actor}", FOOTPRINT[(side, actor)],
                                            partial(successors, compile_rows(self.config, rows)),
                                            gate=_GATE.get(side), idle=_IDLE.get(side)))
        return Factoring(World._fields, _make_world, tuple(components))

    def init_states(self) -> list[Any]:
        return list(initial_states(self.config))

    def successors(self, state: Any) -> list[tuple[Any, Any]]:
        return list(successors(self.compiled, state))

    def is_final(self, state: Any) -> bool:
        return is_final(state)

    def describe_action(self, action: Any) -> dict[str, Any]:
        d: dict[str, Any] = {"actor": action.actor, "action": action.name}
        if action.refused:
            # QEMU formats some errors with the status it found (qmp_migrate_continue:
            # "Migration not in expected state: %s"); the action does not carry it, the step's state does
            d["refused"] = action.refused.replace("%s", "<state>")
        return d

    def describe_state(self, state: Any) -> dict[str, Any]:
        return describe(state)


def _make_world(values: Sequence[Any]) -> World:
    return World._make(values)


def describe(w: World) -> dict[str, Any]:
    """What a reader of a counterexample needs at each step."""
    return {
        "src": w.s_status.value if w.s_alive else "(process gone)",
        "src_runstate": w.s_run.value if w.s_alive else "gone",
        "dst": w.d_status.value if w.d_alive else "(process gone)",
        "dst_runstate": w.d_run.value if w.d_alive else "gone",
        "link": w.link,
        "main": [_msg(m) for m in w.main],
        "rp": [_msg(m) for m in w.rp],
    }
