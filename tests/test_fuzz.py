"""``migmodel fuzz`` (checker/fuzz.py) against the exhaustive checker on every named configuration.

Profiles (env ``MIGMODEL_PROFILE``): ``ci`` (default) runs one seed per configuration; ``thorough``
runs the acceptance criterion in full (10 seeds per configuration, found in all 10, every shrunk
counterexample exactly as long as the BFS shortest one, median CPU time to find <= 5 s; the numbers
are measured by ``benchmarks/bench_fuzz.py``, this only checks them).
``-s`` shows the numbers.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
from functools import cache
from typing import Any

import pytest

from checker.analysis import check
from checker.cli import load_suite, main
from checker.explore import Exploration, Step, explore
from checker.fuzz import _Oracle, _Stats, fuzz, replay_script, shorten
from checker.simulate import run_script

PROP = "source-resumable-before-pong"
PROFILE = os.environ.get("MIGMODEL_PROFILE", "ci")
SEEDS = 10 if PROFILE == "thorough" else 1
EXAMPLES = 300
STEPS = 60
FIND_SECONDS = 5.0

SUITE = load_suite()
CONFIGS = SUITE.configs()


@cache
def _setup(name: str) -> tuple[Any, Any, Exploration, int | None]:
    model = SUITE.build(CONFIGS[name])
    prop = {p.name: p for p in SUITE.properties()}[PROP]
    exploration = explore(model)
    verdict = check(exploration, [prop])[0]
    shortest = None if verdict.holds else len(verdict.counterexample or []) - 1
    return model, prop, exploration, shortest


def _assert_real(model: Any, prop: Any, exploration: Exploration, steps: list[Step]) -> None:
    """A path of the model from its initial state, ending in a state the exhaustive checker
    reached, where the property's scope holds."""
    assert steps[0].action is None and steps[0].state == model.init_states()[0]
    for before, step in itertools.pairwise(steps):
        assert (step.action, step.state) in list(model.successors(before.state))
    last = steps[-1].state
    assert prop.where(last)
    assert exploration.index_of(last) >= 0


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fuzz_agrees_with_verify(name: str) -> None:
    model, prop, exploration, shortest = _setup(name)
    if shortest is None:
        result = fuzz(model, [prop], max_examples=EXAMPLES if PROFILE == "thorough" else 100, steps=STEPS, seed=0)
        assert not result.found, f"{name}: fuzz reports a violation the exhaustive checker does not"
        return
    lengths: list[int | None] = []
    finds: list[float] = []
    for seed in range(SEEDS):
        result = fuzz(model, [prop], max_examples=EXAMPLES, steps=STEPS, seed=seed)
        if not (result.found and result.counterexample):
            lengths.append(None)
            continue
        # every counterexample is real: a path of the model to a state the exhaustive checker knows
        _assert_real(model, prop, exploration, result.counterexample)
        lengths.append(len(result.counterexample) - 1)
        assert result.cpu_seconds_to_find is not None
        finds.append(result.cpu_seconds_to_find)
    found = [n for n in lengths if n is not None]
    print(f"{name}: found in {len(found)}/{SEEDS} seeds, shrunk lengths {lengths}, BFS shortest {shortest}, "
          f"CPU seconds to find {[round(t, 2) for t in finds]}")
    assert len(found) == SEEDS, f"{name}: found in {len(found)}/{SEEDS} seeds; lengths {lengths}"
    assert all(n == shortest for n in found), f"{name}: shrunk lengths {found}, BFS shortest {shortest}"
    if PROFILE == "thorough":
        assert statistics.median(finds) <= FIND_SECONDS, f"{name}: CPU seconds to find {finds}"


def test_seed_reproduces_the_run() -> None:
    # on a configuration where nothing is found, so the whole run is compared
    model, prop, _, _ = _setup("qemu-11.1-busy-guest")
    a = fuzz(model, [prop], max_examples=60, steps=STEPS, seed=7)
    b = fuzz(model, [prop], max_examples=60, steps=STEPS, seed=7)
    assert a.found == b.found
    assert a.counterexample == b.counterexample
    assert (a.examples, a.steps, a.walks) == (b.examples, b.steps, b.walks)
    assert a.visited_edges == b.visited_edges
    c = fuzz(model, [prop], max_examples=60, steps=STEPS, seed=8)
    assert c.visited_edges != a.visited_edges


def test_seed_reproduces_the_counterexample() -> None:
    model, prop, _, _ = _setup("qemu-11.1")
    a = fuzz(model, [prop], max_examples=EXAMPLES, steps=STEPS, seed=3)
    b = fuzz(model, [prop], max_examples=EXAMPLES, steps=STEPS, seed=3)
    assert a.found and a.counterexample == b.counterexample
    assert (a.examples_to_find, a.found_length) == (b.examples_to_find, b.found_length)


def test_replay_script_reaches_the_violating_state() -> None:
    model, prop, exploration, shortest = _setup("qemu-10.2-bitmaps-only")
    result = fuzz(model, [prop], max_examples=EXAMPLES, steps=STEPS, seed=0)
    assert result.found and result.counterexample and shortest is not None
    replayed = run_script(model, replay_script(model, result.counterexample))
    assert replayed[-1].state == result.counterexample[-1].state
    assert prop.where(replayed[-1].state)
    # and the exhaustive checker agrees the state is a violation: no goal reachable from it
    verdict = check(exploration, [prop])[0]
    assert verdict.counterexample is not None
    assert exploration.index_of(replayed[-1].state) >= 0


def test_without_shrinking_the_run_is_as_found() -> None:
    model, prop, exploration, _ = _setup("qemu-11.1")
    raw = fuzz(model, [prop], max_examples=EXAMPLES, steps=STEPS, seed=1, shrink=False)
    short = fuzz(model, [prop], max_examples=EXAMPLES, steps=STEPS, seed=1)
    assert raw.counterexample and short.counterexample and raw.found_length is not None
    _assert_real(model, prop, exploration, raw.counterexample)
    assert len(raw.counterexample) - 1 <= raw.found_length
    assert len(short.counterexample) <= len(raw.counterexample)


class _Counter:
    """A toy model: a counter ``x`` (0..6) and an irrelevant bit ``y``; bad once ``x`` reaches 5."""

    def init_states(self) -> list[tuple[int, int]]:
        return [(0, 0)]

    def successors(self, state: Any) -> list[tuple[str, tuple[int, int]]]:
        x, y = state
        out = [("toggle", (x, 1 - y))]
        if x < 6:
            out.append(("inc", (x + 1, y)))
        if x > 0:
            out.append(("dec", (x - 1, y)))
        return out

    def is_final(self, state: Any) -> bool:
        return False

    def describe_action(self, action: Any) -> dict[str, Any]:
        return {"actor": "toy", "action": action}

    def describe_state(self, state: Any) -> dict[str, Any]:
        return {"x": state[0], "y": state[1]}


def test_shorten_removes_detours() -> None:
    from checker.spec import Kind, Property

    model = _Counter()
    prop = Property("below-five", Kind.ALWAYS, "x stays below 5", predicate=lambda s: s[0] < 5)
    state = model.init_states()[0]
    steps = [Step(None, state)]
    detour = ["inc", "toggle", "inc", "dec", "inc", "toggle", "inc", "inc", "toggle", "dec", "inc", "inc"]
    for action in detour:
        state = dict(model.successors(state))[action]
        steps.append(Step(action, state))
    assert state[0] == 5
    out = shorten(_Oracle(model, 1_000, _Stats()), prop, steps)
    assert [s.action for s in out[1:]] == ["inc"] * 5
    assert out[-1].state == (5, 0)


class _TwoRoads(_Counter):
    """The counter with a second road to harm: ``bump`` raises ``y`` (0..3), bad once it reaches 3."""

    def successors(self, state: Any) -> list[tuple[str, tuple[int, int]]]:
        x, y = state
        out = [a for a in super().successors(state) if a[0] != "toggle"]
        if y < 3:
            out.append(("bump", (x, y + 1)))
        return out


def test_shorten_finds_a_nearer_violation_than_the_runs() -> None:
    from checker.spec import Kind, Property

    model = _TwoRoads()
    prop = Property("safe", Kind.ALWAYS, "x below 5 and y below 3", predicate=lambda s: s[0] < 5 and s[1] < 3)
    steps = [Step(None, (0, 0))]
    for x in range(1, 6):  # the run found x == 5; y == 3 is nearer, and no local move leads there
        steps.append(Step("inc", (x, 0)))
    oracle = _Oracle(model, 1_000, _Stats())
    assert [s.action for s in shorten(oracle, prop, steps, depth=1, nearest=0)[1:]] == ["inc"] * 5
    out = shorten(oracle, prop, steps, depth=1)
    assert [s.action for s in out[1:]] == ["bump"] * 3 and out[-1].state == (0, 3)


def test_cli_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fuzz", "--config", "qemu-10.2-bitmaps-only", "--property", PROP, "--max-examples", "300",
                 "--steps", str(STEPS), "--seed", "0", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == (1 if out["found"] else 0)
    for key in ("config", "found", "property", "counterexample", "examples", "seconds", "coverage",
                "seconds_to_find", "cpu_seconds_to_find", "steps_per_second"):
        assert key in out
    assert set(out["coverage"]) == {"states", "edges", "states_total", "edges_total"}
    assert 0 < out["coverage"]["states"] <= out["coverage"]["states_total"]
    assert 0 < out["coverage"]["edges"] <= out["coverage"]["edges_total"]
    assert out["found"] and out["property"] == PROP
    assert out["replay"] and all(": " in line for line in out["replay"])
