"""``transitions`` machines built from the transition tables: one per side and configuration.

The rows in ``source.py``/``destination.py``/``management.py``/``faults.py`` are the model; this
module turns them into ``transitions.Machine`` objects (states = QAPI status strings, one trigger
per row, the row's guard as the condition, its effect as an ``after`` callback), so the tables can
be driven and drawn with the library. The checker's search uses the compiled tables in
``system.py`` instead (a machine step costs about 27 times more); ``successors_via_machines``
drives a world through the machines, and a test proves it gives exactly ``system.successors``.

The machine's own state is the side's status, moved by the machine itself; the rest of the world
rides on the model object (``Adapter.world``), and ``set_state`` restores the status before every
trigger, so the mutable machine never leaks into the immutable search.
"""

from __future__ import annotations

from typing import Any

from transitions import Machine

from model.config import Config
from model.status import MigrationStatus
from model.system import Action, Compiled, action_of, apply, compile_rows, effective_dest, enabled
from model.table import Row
from model.world import World


class Adapter:
    """The model object a machine drives: holds the world between a condition and its effect."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.world: World | None = None
        self.result: World | None = None
        self.state: str = MigrationStatus.NONE.value


def _condition(row: Row) -> Any:
    def cond(event: Any) -> bool:
        m: Adapter = event.model
        assert m.world is not None
        return row.guard(m.config, m.world)
    cond.__name__ = f"guard_{row.guard.__name__}"
    return cond


def _after(row: Row, dest: MigrationStatus | None) -> Any:
    def after(event: Any) -> None:
        m: Adapter = event.model
        assert m.world is not None
        m.result = apply(m.config, row, dest, m.world)
    return after


class SideMachines:
    """The source and destination machines of one configuration (faults ride on both)."""

    def __init__(self, config: Config, compiled: Compiled | None = None) -> None:
        self.config = config
        self.compiled = compiled or compile_rows(config)
        self.adapter = {side: Adapter(config) for side in ("src", "dst", "env")}
        self.machine: dict[str, Machine] = {}
        self.rows: dict[str, list[tuple[Row, MigrationStatus | None]]] = {"src": [], "dst": [], "env": []}
        for row in self.compiled.rows:
            side = "env" if (row.fault or row.side == "env") else row.side
            dest = self._dest(row)
            self.rows[side].append((row, dest))
        for side, rows in self.rows.items():
            transitions = []
            for row, dest in rows:
                src = [s.value for s in row.source] if row.source and side != "env" else "*"
                transitions.append({
                    "trigger": row.trigger,
                    "source": src,
                    "dest": dest.value if dest is not None and side != "env" else None,
                    "conditions": [_condition(row)],
                    "after": [_after(row, dest)],
                })
            self.machine[side] = Machine(
                model=self.adapter[side], states=[s.value for s in MigrationStatus], transitions=transitions,
                initial=MigrationStatus.NONE.value, auto_transitions=False, send_event=True,
                ignore_invalid_triggers=True,
            )

    def _dest(self, row: Row) -> MigrationStatus | None:
        return effective_dest(self.config, row)


def successors_via_machines(machines: SideMachines, w: World) -> list[tuple[Action, World]]:
    """Every enabled row fired through its ``transitions`` machine, in table order: the rules
    besides the guard are ``system.enabled``'s (the same ones ``system.successors`` applies)."""
    out: list[tuple[Action, World]] = []
    order: list[tuple[str, MigrationStatus | None]] = []
    if w.s_alive:
        order.append(("src", w.s_status))
    if w.d_alive:
        order.append(("dst", w.d_status))
    order.append(("env", None))
    for side, status in order:
        adapter = machines.adapter[side]
        machine = machines.machine[side]
        for row, _dest in machines.rows[side]:
            if not enabled(row, w):
                continue
            adapter.world, adapter.result = w, None
            machine.set_state(status.value if status is not None else MigrationStatus.NONE.value)
            if adapter.trigger(row.trigger) and adapter.result is not None:  # type: ignore[attr-defined]
                result = adapter.result
                if side != "env":  # the machine moved exactly as the row says
                    now = result.s_status if side == "src" else result.d_status
                    assert adapter.state == now.value, (row.name, adapter.state, now)
                out.append((action_of(row), result))
    return out
