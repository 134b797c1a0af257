"""The compact search (checker/compact.py) is exactly the plain search, and the QEMU model's
footprints (model/system.py ACTORS) cover what every row reads and writes."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import numpy as np
import pytest

import checker.compact as compact
from checker.explore import Exploration, explore
from checker.spec import Component, Factoring
from model import config as C
from model.system import ACTORS, FOOTPRINT, MigrationModel, actor_of, apply, compile_rows, enabled
from model.world import World


def _same(a: Exploration, b: Exploration) -> None:
    assert a.fingerprint() == b.fingerprint()
    for name in ("edge_start", "edge_dst", "edge_act", "parent", "parent_edge", "depth"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.actions == b.actions
    assert a.init == b.init and a.max_depth == b.max_depth


def _budget(name: str, b: int) -> C.Config:
    faults = C.Faults(total=b, per_kind=b)  # every kind, the default-off ones too
    return dataclasses.replace(C.NAMED[name], name=f"{name}-budget-{b}", faults=faults)


CONFIGS = [*C.NAMED.values(), dataclasses.replace(C.NAMED["qemu-11.1-busy-guest"], name="deep", faults=C.DEEP)]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_compact_search_is_the_plain_search(config: C.Config) -> None:
    model = MigrationModel(config)
    packed = explore(model)
    assert packed.codec is not None, "the QEMU model offers a factoring"
    plain = explore(model, compact=False)
    assert plain.codec is None
    _same(packed, plain)
    assert packed.states == plain.states
    for i in (0, len(plain.states) // 2, len(plain.states) - 1):
        assert packed.index_of(plain.states[i]) == i
    assert packed.memo_misses < packed.state_count * 2


class _Tracer:
    """A World stand-in that records which fields are read."""

    __slots__ = ("_reads", "_w")

    def __init__(self, w: World, reads: set[str]) -> None:
        object.__setattr__(self, "_w", w)
        object.__setattr__(self, "_reads", reads)

    def __getattr__(self, name: str) -> Any:
        if name == "_replace":
            return lambda **changes: _Tracer(self._w._replace(**changes), self._reads)
        self._reads.add(name)
        return getattr(self._w, name)

    def __iter__(self) -> Any:
        self._reads.update(World._fields)
        return iter(self._w)

    def __getitem__(self, i: int) -> Any:
        self._reads.update(World._fields)
        return self._w[i]


def _traced(w: World, reads: set[str]) -> World:
    """``w`` as a row sees it (the tracer stands in for the World it wraps), recording its reads in ``reads``."""
    return cast(World, _Tracer(w, reads))


@pytest.mark.parametrize("config", [_budget("qemu-7.2", 2), _budget("qemu-10.0", 2),
                                    _budget("qemu-11.1-shared-disk", 2), _budget("qemu-10.2-bitmaps-only", 2)],
                         ids=lambda c: c.name)
def test_footprints_cover_what_rows_read_and_write(config: C.Config) -> None:
    """Every guard and effect that can fire, on every reachable state, reads and changes only
    fields of its actor's footprint (with apply(): the status, the budget, the history)."""
    comp = compile_rows(config)
    problems: set[str] = set()
    for w in cast("list[World]", explore(MigrationModel(config)).states):
        rows = [*(comp.src[w.s_status] if w.s_alive else ()), *(comp.dst[w.d_status] if w.d_alive else ()),
                *(entry for entry in comp.env)]
        for row, _action, dest in rows:
            if row.side == "src" and not enabled(row, w):
                continue  # the BQL is held by postcopy_start or a half-done migrate_cancel
            footprint = FOOTPRINT[actor_of(row)]
            reads: set[str] = set()
            if row.guard(config, _traced(w, reads)):
                row.effect(config, _traced(w, reads))
                after = apply(config, row, dest, w)
                reads |= {f for f in World._fields if getattr(after, f) != getattr(w, f)}
            for field in sorted(reads - footprint):
                problems.add(f"{row.name} ({'/'.join(actor_of(row))}) touches {field}")
    assert not problems, sorted(problems)


def test_every_actor_is_declared_once() -> None:
    keys = [(side, actor) for side, actor, _ in ACTORS]
    assert len(keys) == len(set(keys))
    assert all(FOOTPRINT[k] <= set(World._fields) for k in keys)


def test_mutants_are_searched_the_plain_way() -> None:
    model = MigrationModel(C.NAMED["qemu-11.1"], rows=compile_rows(C.NAMED["qemu-11.1"]).rows)
    assert model.factoring() is None
    assert explore(model).codec is None


# --- the compact search on a toy model: generic, knows nothing of QEMU ---------------------------


class Toy(NamedTuple):
    a: int
    b: int
    flag: bool
    note: str


class ToyModel:
    """Two counters mod 5 and a flag: the 'a' component bumps a (and sets the flag at 3), the 'b'
    component bumps b while the flag is off. Footprints are honest unless told to lie."""

    def __init__(self, lie: bool = False) -> None:
        self.lie = lie

    def init_states(self) -> list[Toy]:
        return [Toy(0, 0, False, "x")]

    def _a(self, s: Toy) -> list[tuple[str, Toy]]:
        out = [("a+1", s._replace(a=(s.a + 1) % 5, flag=s.flag or s.a == 2))]
        if self.lie:
            out.append(("a-note", s._replace(note=s.note + "!") if len(s.note) < 3 else s))
        return out

    def _b(self, s: Toy) -> list[tuple[str, Toy]]:
        return [] if s.flag else [("b+1", s._replace(b=(s.b + 1) % 5)), ("b+2", s._replace(b=(s.b + 2) % 5))]

    def successors(self, s: Any) -> list[tuple[str, Toy]]:  # Any: the Model protocol's states are any value
        return self._a(s) + self._b(s)

    def is_final(self, s: Any) -> bool:
        return False

    def describe_action(self, action: Any) -> dict[str, Any]:
        return {"actor": "toy", "action": str(action)}

    def describe_state(self, state: Any) -> dict[str, Any]:
        return dict(state._asdict())

    def factoring(self) -> Factoring:
        def make(values: Sequence[Any]) -> Toy:
            return Toy(*values)

        return Factoring(Toy._fields, make, (
            Component("a", frozenset({"a", "flag"}), self._a),
            Component("b", frozenset({"b", "flag"}), self._b),
        ))


class GatedToy(ToyModel):
    """Declares 'flag' the gate of 'b' (no moves while it is off): a lie, 'b' moves exactly then."""

    def factoring(self) -> Factoring:
        base = super().factoring()
        a, b = base.components
        return Factoring(base.fields, base.make, (a, Component("b", b.footprint, b.successors, gate="flag")))


def test_a_gate_that_lies_is_caught() -> None:
    # 'b' moves exactly while the flag is off: declaring the flag its gate is a lie
    with pytest.raises(compact.FootprintError, match="component b moved while its gate flag was off"):
        explore(GatedToy())


def test_toy_compact_equals_plain() -> None:
    packed, plain = explore(ToyModel()), explore(ToyModel(), compact=False)
    assert packed.codec is not None and plain.codec is None
    _same(packed, plain)
    assert packed.state_count == plain.state_count > 10


def test_a_write_outside_the_footprint_is_caught() -> None:
    with pytest.raises(compact.FootprintError, match=r"component a changed note outside its footprint"):
        explore(ToyModel(lie=True))


def test_hash_collisions_fall_back_to_the_plain_search(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compact, "_hash", lambda rows: np.zeros(len(rows), dtype=np.uint64))
    result = explore(ToyModel())
    assert result.codec is None  # searched the plain way
    _same(result, explore(ToyModel(), compact=False))


def test_a_field_too_wide_for_its_slot_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compact, "WIDE", 2)  # 'a' and 'b' take 5 values: 2 bits are not enough
    result = explore(ToyModel())
    assert result.codec is None
    _same(result, explore(ToyModel(), compact=False))


def test_state_limit_in_the_compact_search() -> None:
    from checker.explore import StateLimitExceeded

    with pytest.raises(StateLimitExceeded, match="state limit of 7"):
        explore(ToyModel(), max_states=7)
