"""The generic checker on toy models: exact graph sizes, shortest paths, and every property kind
both holding and failing.

The toys are defined here, not imported from ``model/``: the checker is judged on graphs whose
shape is known by hand.
"""

from __future__ import annotations

import gc
import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import networkx as nx
import numpy as np
import pytest

import checker.explore as explore_module
from checker.analysis import PropertyError, Verdict, check, judge, steps_to_json, verdict_to_json
from checker.explore import Exploration, StateLimitExceeded, Step, explore
from checker.spec import Action, Kind, Property, State

ROOT = Path(__file__).resolve().parent.parent

# -- toy models ----------------------------------------------------------------------------------

# A toy takes ``Any`` for states and actions, as model/system.py does: the checker's ``Model`` protocol
# passes any hashable value (a parameter cannot be narrower than the protocol's), and each toy knows
# its own state's shape; return types stay exact.


class Counter:
    """A counter ``0..top`` that steps up; a fault (budget ``faults``) resets a non-zero counter.

    State ``(value, faults_used)``. Every pair is reachable, so there are ``(top + 1) * (faults + 1)``
    states, ``top * (faults + 1)`` "inc" edges and ``top * faults`` "fault" edges.
    """

    def __init__(self, top: int, faults: int) -> None:
        self.top, self.faults = top, faults

    def init_states(self) -> Sequence[tuple[int, int]]:
        return [(0, 0)]

    def successors(self, state: Any) -> Sequence[tuple[str, tuple[int, int]]]:
        value, used = state
        out: list[tuple[str, tuple[int, int]]] = []
        if value < self.top:
            out.append(("inc", (value + 1, used)))
        if value and used < self.faults:
            out.append(("fault", (0, used + 1)))
        return out

    def is_final(self, state: Any) -> bool:
        value: int = state[0]
        return value == self.top

    def describe_action(self, action: Any) -> dict[str, Any]:
        return {"action": action, "actor": "env" if action == "fault" else "counter"}

    def describe_state(self, state: Any) -> dict[str, Any]:
        return {"value": state[0], "faults": state[1]}


class Table:
    """A model given as an explicit table: state -> [(action, successor), ...]."""

    def __init__(
        self,
        init: Sequence[str],
        table: Mapping[str, Sequence[tuple[str, str]]],
        final: frozenset[str] = frozenset(),
    ) -> None:
        self.init, self.table, self.final = list(init), table, final

    def init_states(self) -> Sequence[str]:
        return self.init

    def successors(self, state: Any) -> Sequence[tuple[str, str]]:
        return self.table.get(state, ())

    def is_final(self, state: Any) -> bool:
        return state in self.final

    def describe_action(self, action: Any) -> dict[str, Any]:
        return {"action": action, "actor": "fault" if is_fault(action) else "system"}

    def describe_state(self, state: Any) -> dict[str, Any]:
        return {"phase": state}


def is_fault(action: str) -> bool:
    return action in ("crash", "glitch")


def not_fault(action: str) -> bool:
    return not is_fault(action)


def pipeline(*, crash: bool = False, glitch: bool = False, stuck_polls: bool = True, pause: bool = False) -> Table:
    """idle -> active -> done, with optional faults out of ``active``:

    - ``crash`` leads to ``stuck``, which only polls itself (or, without ``stuck_polls``, is dead);
    - ``glitch`` leads to ``spin-a``, which ping-pongs with ``spin-b`` forever;
    - ``pause`` adds a paused <-> active cycle that can always be left by resuming and finishing.
    """
    active: list[tuple[str, str]] = [("finish", "done")]
    table: dict[str, list[tuple[str, str]]] = {"idle": [("start", "active")], "active": active}
    if crash:
        active.append(("crash", "stuck"))
        table["stuck"] = [("poll", "stuck")] if stuck_polls else []
    if glitch:
        active.append(("glitch", "spin-a"))
        table["spin-a"] = [("ping", "spin-b")]
        table["spin-b"] = [("pong", "spin-a")]
    if pause:
        active.append(("pause", "paused"))
        table["paused"] = [("resume", "active")]
    return Table(["idle"], table, final=frozenset({"done"}))


def is_done(state: str) -> bool:
    return state == "done"


def phases(steps: Sequence[Step]) -> list[tuple[Action | None, State]]:
    return [(step.action, step.state) for step in steps]


def only(verdicts: list[Verdict]) -> Verdict:
    (verdict,) = verdicts
    return verdict


# -- exploration ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("top", "faults"), [(0, 0), (3, 0), (3, 1), (5, 2), (40, 7)])
def test_counter_has_the_counted_states_and_edges(top: int, faults: int) -> None:
    ex = explore(Counter(top, faults))
    assert ex.state_count == (top + 1) * (faults + 1)
    assert ex.edge_count == top * (faults + 1) + top * faults
    assert len(ex.edge_src) == len(ex.edge_act) == ex.edge_count
    assert ex.max_depth == int(ex.depth.max())
    states = cast("list[tuple[int, int]]", ex.states)
    assert sorted(states) == sorted((v, f) for v in range(top + 1) for f in range(faults + 1))


def test_states_are_numbered_breadth_first_with_exact_depths() -> None:
    ex = explore(Counter(4, 2))
    assert ex.init == [0]
    assert ex.states[0] == (0, 0)
    assert np.all(np.diff(ex.depth) >= 0), "BFS numbering must never decrease in depth"
    distances = nx.single_source_shortest_path_length(ex.to_networkx(), 0)
    assert [distances[i] for i in range(ex.state_count)] == ex.depth.tolist()
    # (4, 0) needs four increments; (1, 2) needs inc, fault, inc, fault, inc.
    assert ex.depth[ex.index_of((4, 0))] == 4
    assert ex.depth[ex.index_of((1, 2))] == 5


def test_edges_are_grouped_by_source_in_successor_order() -> None:
    model = Counter(3, 1)
    ex = explore(model)
    for i, state in enumerate(ex.states):
        expected = [(action, ex.index_of(succ)) for action, succ in model.successors(state)]
        assert ex.successors_of(i) == expected
        lo, hi = ex.edge_start[i], ex.edge_start[i + 1]
        assert set(ex.edge_src[lo:hi].tolist()) <= {i}
    assert ex.actions == ["inc", "fault"], "actions are interned in order of first appearance"


def test_path_to_is_a_shortest_valid_path_for_every_state() -> None:
    model = Counter(4, 2)
    ex = explore(model)
    for i in range(ex.state_count):
        path = ex.path_to(i)
        assert path[0].action is None
        assert path[0].state in model.init_states()
        assert path[-1].state == ex.states[i]
        assert len(path) - 1 == ex.depth[i]
        for before, after in itertools.pairwise(path):
            assert (after.action, after.state) in model.successors(before.state)
    assert phases(ex.path_to(ex.index_of((0, 1)))) == [(None, (0, 0)), ("inc", (1, 0)), ("fault", (0, 1))]
    with pytest.raises(IndexError):
        ex.path_to(ex.state_count)


def test_duplicate_initial_states_are_one_state() -> None:
    model = Table(["a", "b", "a"], {"a": [("go", "b")], "b": [("go", "a")]})
    ex = explore(model)
    assert ex.init == [0, 1]
    assert ex.state_count == 2
    assert ex.edge_count == 2
    assert ex.parent.tolist() == [-1, -1]


def test_a_model_without_initial_states_has_an_empty_graph() -> None:
    ex = explore(Table([], {}))
    assert (ex.state_count, ex.edge_count, ex.max_depth) == (0, 0, 0)
    assert len(ex.fingerprint()) == 64
    verdicts = check(
        ex,
        [
            Property("inv", Kind.ALWAYS, "c", lambda s: False),
            Property("wit", Kind.SOMETIMES, "c", lambda s: True),
            Property("live", Kind.EVENTUALLY, "c", lambda s: False),
            Property("dl", Kind.DEADLOCK_FREE, "c"),
        ],
    )
    assert [v.holds for v in verdicts] == [True, False, True, True]


def test_to_networkx_keeps_every_action_between_a_pair() -> None:
    model = Table(["a"], {"a": [("x", "b"), ("y", "b"), ("z", "a")], "b": [("w", "a")]})
    ex = explore(model)
    graph = ex.to_networkx()
    assert ex.edge_count == 4
    assert graph.number_of_nodes() == 2
    assert graph.number_of_edges() == 3
    assert graph.nodes[0]["state"] == "a"
    assert graph.edges[0, 1]["action"] == "x"
    assert graph.edges[0, 1]["actions"] == ["x", "y"]
    assert graph.edges[0, 0]["actions"] == ["z"]
    assert graph.edges[1, 0]["action"] == "w"


def test_state_limit_raises_with_the_numbers_reached() -> None:
    model = Counter(3, 1)  # 8 states
    assert explore(model, max_states=8).state_count == 8
    with pytest.raises(StateLimitExceeded) as caught:
        explore(model, max_states=5)
    error = caught.value
    assert error.states == 5
    assert 0 < error.edges < 9
    assert error.depth >= 1
    message = str(error)
    assert message.startswith("state limit of 5 reached after 5 states")
    assert "--max-states" in message
    assert "\n" not in message
    assert gc.isenabled(), "the garbage collector must be restored after an aborted search"


def test_state_limit_applies_to_initial_states() -> None:
    with pytest.raises(StateLimitExceeded):
        explore(Table(["a", "b"], {}), max_states=1)


def test_an_unbounded_model_stops_at_the_limit() -> None:
    class Forever:
        def init_states(self) -> Sequence[int]:
            return [0]

        def successors(self, state: Any) -> Sequence[tuple[str, int]]:
            return [("next", state + 1)]

        def is_final(self, state: Any) -> bool:
            return False

        def describe_action(self, action: Any) -> dict[str, Any]:
            return {"action": action, "actor": "x"}

        def describe_state(self, state: Any) -> dict[str, Any]:
            return {"n": state}

    with pytest.raises(StateLimitExceeded) as caught:
        explore(Forever(), max_states=1000)
    assert (caught.value.states, caught.value.edges, caught.value.depth) == (1000, 999, 999)


def test_progress_reports_during_and_at_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(explore_module, "PROGRESS_EVERY", 3)
    calls: list[tuple[int, int, int]] = []
    ex = explore(Counter(3, 1), progress=lambda *args: calls.append(args))
    assert [c[0] for c in calls] == [3, 6, 8]
    assert calls[-1] == (ex.state_count, ex.edge_count, ex.max_depth)
    assert all(a[1] <= b[1] and a[2] <= b[2] for a, b in itertools.pairwise(calls))


def test_gc_is_restored_and_left_alone_when_already_off() -> None:
    explore(Counter(2, 1))
    assert gc.isenabled()
    gc.disable()
    try:
        explore(Counter(2, 1))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_stored_arrays_are_read_only() -> None:
    ex = explore(Counter(3, 1))
    with pytest.raises(ValueError):
        ex.edge_dst[0] = 5


# -- fingerprint ---------------------------------------------------------------------------------


def test_fingerprint_is_stable_and_sensitive() -> None:
    first, second = explore(pipeline(crash=True)), explore(pipeline(crash=True))
    assert first.fingerprint() == second.fingerprint()
    assert len(first.fingerprint()) == 64
    assert explore(pipeline(glitch=True)).fingerprint() != first.fingerprint()
    assert explore(Counter(3, 1)).fingerprint() != explore(Counter(3, 2)).fingerprint()
    # Same states, same shape; only an edge's label or target differs.
    base = Table(["a"], {"a": [("x", "b"), ("y", "a")], "b": [("y", "a")]})
    relabelled = Table(["a"], {"a": [("y", "b"), ("x", "a")], "b": [("y", "a")]})
    retargeted = Table(["a"], {"a": [("x", "b"), ("y", "b")], "b": [("y", "a")]})
    prints = {explore(m).fingerprint() for m in (base, relabelled, retargeted)}
    assert len(prints) == 3


def test_fingerprint_does_not_depend_on_the_hash_seed() -> None:
    """String hashing changes with PYTHONHASHSEED; the fingerprint must not."""
    script = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        "from test_explore import pipeline\n"
        "from checker.explore import explore\n"
        "print(explore(pipeline(crash=True, glitch=True, pause=True)).fingerprint())\n"
    )
    prints = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-c", script, str(ROOT), str(ROOT / "tests")],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        prints.add(run.stdout.strip())
    expected = explore(pipeline(crash=True, glitch=True, pause=True)).fingerprint()
    assert prints == {expected}


# -- ALWAYS / SOMETIMES ----------------------------------------------------------------------------


def test_always_holds() -> None:
    verdict = only(check(Counter(3, 1), [Property("bound", Kind.ALWAYS, "c", lambda s: s[0] <= 3)]))
    assert verdict.holds
    assert verdict.counterexample is None
    assert "8 reachable states" in verdict.note


def test_always_fails_with_the_shortest_counterexample() -> None:
    prop = Property("below-3", Kind.ALWAYS, "The counter stays below 3.", lambda s: s[0] < 3)
    verdict = only(check(Counter(3, 1), [prop]))
    assert not verdict.holds
    assert verdict.counterexample is not None
    assert phases(verdict.counterexample) == [
        (None, (0, 0)),
        ("inc", (1, 0)),
        ("inc", (2, 0)),
        ("inc", (3, 0)),
    ]
    assert "fails in 2 of 8" in verdict.note  # (3, 0) and (3, 1)
    assert "3 steps" in verdict.note


def test_always_counterexample_is_the_nearest_violation() -> None:
    # (0, 1) is 2 steps away, (3, 0) is 3 steps away: the nearer one must be reported.
    prop = Property("no-fault-or-top", Kind.ALWAYS, "c", lambda s: s[1] == 0 and s[0] < 3)
    verdict = only(check(Counter(3, 1), [prop]))
    assert verdict.counterexample is not None
    assert phases(verdict.counterexample)[-1] == ("fault", (0, 1))
    assert len(verdict.counterexample) == 3


def test_sometimes_holds_with_the_shortest_witness() -> None:
    prop = Property("fault-seen", Kind.SOMETIMES, "A fault can happen.", lambda s: s[1] == 1)
    verdict = only(check(Counter(3, 1), [prop]))
    assert verdict.holds
    assert verdict.counterexample is None
    assert verdict.witness is not None
    assert phases(verdict.witness) == [(None, (0, 0)), ("inc", (1, 0)), ("fault", (0, 1))]


def test_sometimes_fails_when_nothing_satisfies_it() -> None:
    prop = Property("two-faults", Kind.SOMETIMES, "c", lambda s: s[1] == 2)
    verdict = only(check(Counter(3, 1), [prop]))
    assert not verdict.holds
    assert verdict.witness is None
    assert verdict.counterexample is None


# -- ALWAYS_POSSIBLE -----------------------------------------------------------------------------

DONE_POSSIBLE = Property("done-possible", Kind.ALWAYS_POSSIBLE, "c", is_done, via=not_fault)


def test_always_possible_holds_when_every_state_can_still_finish() -> None:
    verdict = only(check(pipeline(pause=True), [DONE_POSSIBLE]))
    assert verdict.holds, verdict.note


def test_always_possible_fails_from_a_trap() -> None:
    verdict = only(check(pipeline(crash=True, glitch=True), [DONE_POSSIBLE]))
    assert not verdict.holds
    assert verdict.counterexample is not None
    assert phases(verdict.counterexample) == [(None, "idle"), ("start", "active"), ("crash", "stuck")]
    assert "3 of 6" in verdict.note  # stuck, spin-a, spin-b


def test_always_possible_only_uses_via_edges() -> None:
    # "stuck" can leave by a fault, "repair", that leads back to active: not allowed as progress.
    model = Table(
        ["idle"],
        {
            "idle": [("start", "active")],
            "active": [("finish", "done"), ("crash", "stuck")],
            "stuck": [("glitch", "active")],
        },
    )
    verdict = only(check(model, [DONE_POSSIBLE]))
    assert not verdict.holds
    assert verdict.counterexample is not None
    assert verdict.counterexample[-1].state == "stuck"
    anything = Property("done-possible-any", Kind.ALWAYS_POSSIBLE, "c", is_done)
    assert only(check(model, [anything])).holds


def test_always_possible_only_judges_where_states() -> None:
    prop = Property(
        "done-possible-unless-crashed",
        Kind.ALWAYS_POSSIBLE,
        "c",
        is_done,
        where=lambda s: s != "stuck",
        via=not_fault,
    )
    assert only(check(pipeline(crash=True), [prop])).holds


# -- EVENTUALLY ----------------------------------------------------------------------------------

DONE_EVENTUALLY = Property("done-eventually", Kind.EVENTUALLY, "c", is_done, via=not_fault)


def test_eventually_holds_without_faults() -> None:
    verdict = only(check(pipeline(), [DONE_EVENTUALLY]))
    assert verdict.holds, verdict.note
    assert verdict.loop is None


def test_eventually_holds_through_a_cycle_that_can_be_left() -> None:
    """paused <-> active is a cycle, but not a bottom one: a fair run finishes."""
    assert only(check(pipeline(pause=True), [DONE_EVENTUALLY])).holds


def test_eventually_treats_goal_states_as_absorbing() -> None:
    """done -> restart -> idle: the goal is in a cycle, and every state still leads to it."""
    cyclic = Table(
        ["idle"],
        {"idle": [("start", "active")], "active": [("finish", "done")], "done": [("restart", "idle")]},
    )
    verdict = only(check(cyclic, [DONE_EVENTUALLY]))
    assert verdict.holds, verdict.note


def test_eventually_judges_states_reached_after_the_goal_too() -> None:
    """Every reachable state is a possible start of the fault-free suffix, including states only
    reachable through the goal: from ``archived`` the goal never comes again, so it fails."""
    model = Table(
        ["idle"],
        {"idle": [("start", "active")], "active": [("finish", "done")], "done": [("archive", "archived")]},
    )
    verdict = only(check(model, [DONE_EVENTUALLY]))
    assert not verdict.holds
    assert verdict.counterexample is not None
    assert phases(verdict.counterexample)[-1] == ("archive", "archived")


def test_eventually_catches_a_cycle_without_the_goal() -> None:
    verdict = only(check(pipeline(glitch=True), [DONE_EVENTUALLY]))
    assert not verdict.holds
    assert verdict.counterexample is not None
    assert phases(verdict.counterexample) == [(None, "idle"), ("start", "active"), ("glitch", "spin-a")]
    assert verdict.loop is not None
    assert phases(verdict.loop) == [("ping", "spin-b"), ("pong", "spin-a")]
    assert "cycle through 2 states" in verdict.note


def test_eventually_catches_a_state_that_only_loops_on_itself() -> None:
    verdict = only(check(pipeline(crash=True, glitch=True), [DONE_EVENTUALLY]))
    assert not verdict.holds
    assert verdict.counterexample is not None
    assert verdict.counterexample[-1].state == "stuck", "the BFS-first bad component is reported"
    assert verdict.loop is not None
    assert phases(verdict.loop) == [("poll", "stuck")]
    assert "only loops on itself" in verdict.note
    assert "2 components (3 states)" in verdict.note


def test_eventually_catches_a_dead_state() -> None:
    verdict = only(check(pipeline(crash=True, stuck_polls=False), [DONE_EVENTUALLY]))
    assert not verdict.holds
    assert verdict.counterexample is not None
    assert verdict.counterexample[-1].state == "stuck"
    assert verdict.loop == []
    assert "dead state" in verdict.note


def test_eventually_ignores_fault_edges_out_of_a_trap() -> None:
    """A cycle that only a fault can leave is still a run that never finishes once faults stop."""
    model = Table(
        ["a"],
        {"a": [("ping", "b"), ("crash", "done")], "b": [("pong", "a")]},
    )
    verdict = only(check(model, [DONE_EVENTUALLY]))
    assert not verdict.holds
    everything = Property("done-eventually-any", Kind.EVENTUALLY, "c", is_done)
    assert only(check(model, [everything])).holds


# -- DEADLOCK_FREE -------------------------------------------------------------------------------

NO_DEADLOCK = Property("no-deadlock", Kind.DEADLOCK_FREE, "c", via=not_fault)


def test_deadlock_free_holds_when_only_final_states_stop() -> None:
    verdict = only(check(pipeline(glitch=True, pause=True), [NO_DEADLOCK]))
    assert verdict.holds, verdict.note
    assert "1 final state" in verdict.note


def test_a_self_loop_is_not_progress() -> None:
    verdict = only(check(pipeline(crash=True), [NO_DEADLOCK]))
    assert not verdict.holds
    assert verdict.counterexample is not None
    assert phases(verdict.counterexample) == [(None, "idle"), ("start", "active"), ("crash", "stuck")]


def test_a_stop_that_is_not_final_is_a_deadlock() -> None:
    model = Table(["idle"], {"idle": [("start", "active")], "active": [("finish", "done")]})
    verdict = only(check(model, [NO_DEADLOCK]))
    assert not verdict.holds
    assert verdict.counterexample is not None
    assert verdict.counterexample[-1].state == "done"


def test_deadlock_free_only_counts_via_successors() -> None:
    model = Table(["a"], {"a": [("crash", "b")], "b": [("glitch", "a")]})  # every move is a fault
    assert not only(check(model, [NO_DEADLOCK])).holds
    assert only(check(model, [Property("any-move", Kind.DEADLOCK_FREE, "c")])).holds


# -- evaluation discipline -----------------------------------------------------------------------


def counting(fn: Callable[[Any], bool], calls: list[Any]) -> Callable[[Any], bool]:
    def wrapped(value: Any) -> bool:
        calls.append(value)
        return fn(value)

    return wrapped


def test_via_is_evaluated_once_per_distinct_action_and_predicates_once_per_state() -> None:
    ex = explore(Counter(6, 3))
    via_calls: list[Any] = []
    pred_calls: list[Any] = []
    via = counting(lambda a: a != "fault", via_calls)
    pred = counting(lambda s: s[0] == 6, pred_calls)
    verdicts = check(
        ex,
        [
            Property("p1", Kind.EVENTUALLY, "c", pred, via=via),
            Property("p2", Kind.ALWAYS_POSSIBLE, "c", pred, via=via),
            Property("p3", Kind.SOMETIMES, "c", pred),
            Property("p4", Kind.DEADLOCK_FREE, "c", via=via),
        ],
    )
    assert [v.holds for v in verdicts] == [True, True, True, True]
    assert sorted(via_calls) == sorted(cast("list[str]", ex.actions)) == ["fault", "inc"]
    assert len(pred_calls) == ex.state_count
    assert ex.edge_count > len(ex.actions)


def test_check_explores_a_model_or_reuses_an_exploration() -> None:
    prop = Property("below-3", Kind.ALWAYS, "c", lambda s: s[0] < 3)
    from_model = only(check(Counter(3, 1), [prop]))
    from_exploration = only(check(explore(Counter(3, 1)), [prop]))
    assert from_model == from_exploration
    assert judge(explore(Counter(3, 1)), prop) == from_model
    with pytest.raises(StateLimitExceeded):
        check(Counter(3, 1), [prop], max_states=4)


def test_a_property_setting_a_field_its_kind_ignores_is_rejected() -> None:
    prop = Property("inv", Kind.ALWAYS, "c", lambda s: True, via=not_fault)
    with pytest.raises(PropertyError, match="'inv' is always but sets `via`"):
        check(Counter(1, 0), [prop])
    with pytest.raises(PropertyError, match="sets `where`"):
        check(Counter(1, 0), [Property("live", Kind.EVENTUALLY, "c", is_done, where=is_done)])


def test_a_raising_predicate_names_the_property_and_the_state() -> None:
    def boom(state: tuple[int, int]) -> bool:
        if state == (2, 0):
            raise KeyError("oops")
        return True

    with pytest.raises(PropertyError, match=r"'fragile': `predicate` raised KeyError on state 2: \(2, 0\)"):
        check(Counter(3, 1), [Property("fragile", Kind.ALWAYS, "c", boom)])


# -- JSON ----------------------------------------------------------------------------------------


def test_steps_to_json_uses_the_model_descriptions() -> None:
    model = Counter(3, 1)
    ex = explore(model)
    steps = steps_to_json(model, ex.path_to(ex.index_of((0, 1))))
    assert steps == [
        {"step": 0, "action": "init", "state": {"value": 0, "faults": 0}},
        {"step": 1, "action": "inc", "actor": "counter", "state": {"value": 1, "faults": 0}},
        {"step": 2, "action": "fault", "actor": "env", "state": {"value": 0, "faults": 1}},
    ]


def test_verdict_to_json_numbers_the_loop_after_the_counterexample() -> None:
    model = pipeline(glitch=True)
    verdict = only(check(model, [DONE_EVENTUALLY]))
    data = verdict_to_json(model, verdict)
    assert data["property"] == "done-eventually"
    assert data["kind"] == "eventually"
    assert data["holds"] is False
    assert [s["step"] for s in data["counterexample"]] == [0, 1, 2]
    assert [(s["step"], s["action"]) for s in data["loop"]] == [(3, "ping"), (4, "pong")]
    assert "witness" not in data


def test_exploration_is_the_documented_dataclass() -> None:
    ex = explore(Counter(2, 0))
    assert isinstance(ex, Exploration)
    assert ex.model is not None
    assert ex.seconds >= 0
    assert ex.parent_edge.tolist() == [-1, 0, 1]
    assert ex.parent.tolist() == [-1, 0, 1]
